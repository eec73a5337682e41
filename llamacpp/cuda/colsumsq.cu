// colsumsq.cu: the importance-matrix collector's one CUDA kernel, built into
// libsattva-cuda.so beside ggml's CUDA plugin (scripts/llamacpp/build-cuda-kernels.sh)
// and loaded by llamacpp/imatrix.cpp when present.
//
// It adds to acc[c], for each column c of a row-major float matrix x of
// rows × cols (an activation: one row per token), the sum of x[r][c]² over
// the rows, reading x once. ggml has no kernel that does this in one read
// (its path squares, transposes and sums rows: three passes and two
// intermediates). Each thread sums every 16th row of one column in float,
// the block then adds its 16 partial sums in a fixed order and adds that to
// acc[c]: the result is deterministic, and differs from a row-by-row float
// sum only in the order of the additions.
//
// Ordering is the caller's: the kernel runs on a stream of this library,
// after the event `after` (recorded by ggml on the graph's stream once x is
// computed), and records `done` when it has finished (the graph's stream
// waits for it before x's memory is reused).
#include <cuda_runtime.h>
#include <mutex>
#include <stdint.h>

namespace {

constexpr int kCols = 32; // columns per block: one warp reads 128 contiguous bytes of a row
constexpr int kLanes = 16; // row lanes per column

__global__ void colsumsq(const float * __restrict__ x, float * __restrict__ acc, int64_t cols, int64_t rows) {
	__shared__ float part[kLanes][kCols + 1];
	const int64_t c = (int64_t) blockIdx.x * kCols + threadIdx.x;
	float s = 0.0f;
	if (c < cols) {
#pragma unroll 8
		for (int64_t r = threadIdx.y; r < rows; r += kLanes) {
			const float v = x[r * cols + c];
			s += v * v;
		}
	}
	part[threadIdx.y][threadIdx.x] = s;
	__syncthreads();
	if (threadIdx.y == 0 && c < cols) {
		float t = 0.0f;
		for (int k = 0; k < kLanes; k++) t += part[k][threadIdx.x];
		acc[c] += t;
	}
}

constexpr int kMaxDevices = 64;
std::mutex mu;
cudaStream_t streams[kMaxDevices];

} // namespace

// sattva_cuda_colsumsq queues the kernel on device's stream of this library
// between the two events (cudaEvent_t). It returns 0, or the CUDA error.
extern "C" int sattva_cuda_colsumsq(int device, void * after, void * done, const float * x, float * acc, int64_t cols,
		int64_t rows) {
	if (device < 0 || device >= kMaxDevices || cols <= 0 || rows <= 0) return (int) cudaErrorInvalidValue;
	std::lock_guard<std::mutex> lock(mu);
	int prev = -1;
	cudaGetDevice(&prev);
	cudaError_t e = cudaSetDevice(device);
	if (e == cudaSuccess && streams[device] == nullptr) e = cudaStreamCreateWithFlags(&streams[device], cudaStreamNonBlocking);
	cudaStream_t st = streams[device];
	if (e == cudaSuccess) e = cudaStreamWaitEvent(st, (cudaEvent_t) after, 0);
	if (e == cudaSuccess) {
		colsumsq<<<dim3((unsigned) ((cols + kCols - 1) / kCols)), dim3(kCols, kLanes), 0, st>>>(x, acc, cols, rows);
		e = cudaGetLastError();
	}
	if (e == cudaSuccess) e = cudaEventRecord((cudaEvent_t) done, st);
	if (prev >= 0 && prev != device) cudaSetDevice(prev);
	return (int) e;
}
