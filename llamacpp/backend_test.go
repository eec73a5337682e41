//go:build cgo

package llamacpp

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/sattva/sattva/internal/fixture"
)

// gpuTestEnv turns on the GPU checks (bench/gpu/llamacpp.sh sets it).
const gpuTestEnv = "SATTVA_GPU_TEST"

// TestBackends reports the devices found. With SATTVA_BACKEND_DIR set, a
// plugin device must have loaded.
func TestBackends(t *testing.T) {
	devs, err := InitBackends("", testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) == 0 {
		t.Fatal("no devices")
	}
	plugin := false
	for _, d := range devs {
		t.Logf("device %s (%s) kind %s builtin %v free %d/%d MiB features %v", d.Name, d.Description, d.Kind, d.Builtin, d.FreeBytes>>20, d.TotalBytes>>20, d.Features)
		plugin = plugin || !d.Builtin
	}
	t.Logf("system info: %s", SystemInfo())
	if os.Getenv(BackendDirEnv) != "" && !plugin {
		t.Errorf("%s=%s but no plugin device loaded", BackendDirEnv, os.Getenv(BackendDirEnv))
	}
}

// TestGPU runs with SATTVA_GPU_TEST=1 on a machine with a GPU backend: it
// reports the GPU and compares stories260K's logits with every layer on the
// GPU against the CPU's (CPUOnly: no GPU device at all), along the three
// matrix-product paths ggml-cuda takes for F32 weights (ggml_cuda_mul_mat in
// ggml-cuda.cu of the pinned module):
//
//   - 1 token per ubatch: mmvf.cu (up to 3 columns), FP32 multiply-adds;
//   - the 16-token reference prompt in one ubatch: mmf.cu (4 to 16
//     columns), tensor-core MMA in TF32 (mma.cuh: mma.sync...tf32), a 10-bit
//     mantissa, whatever the environment says;
//   - a 256-token ubatch: cuBLAS SGEMM on a handle whose math mode is
//     CUBLAS_TF32_TENSOR_OP_MATH (common.cuh), so TF32 too, unless the
//     process runs with NVIDIA_TF32_OVERRIDE=0, which makes cuBLAS use FP32.
//
// FP32 paths must agree with the CPU to < 1e-2; TF32 paths are reported and
// held to < 5e-2, the size of TF32 rounding on these logits (0.02-0.03 seen
// on an H200), not to 1e-2.
func TestGPU(t *testing.T) {
	if os.Getenv(gpuTestEnv) == "" {
		t.Skip("set " + gpuTestEnv + "=1 (and " + BackendDirEnv + ") to run the GPU checks")
	}
	devs, _ := InitBackends("", testLogger(t))
	var gpu *BackendInfo
	for i, d := range devs {
		if d.Kind == "GPU" {
			gpu = &devs[i]
			break
		}
	}
	if gpu == nil {
		t.Fatalf("%s set but no GPU device: %+v", gpuTestEnv, devs)
	}
	t.Logf("GPU device: %s (%s), %d MiB total, features %v", gpu.Name, gpu.Description, gpu.TotalBytes>>20, gpu.Features)
	ref := readGreedy(t)
	want := readF32(t, fixture.Path(t, storiesLogits), 512)
	logits := func(o ModelOptions, toks []int32, ubatch int) ([][]float32, BackendInfo) {
		m := loadStories(t, o)
		defer m.Close()
		// F32 KV cache and no flash attention on both sides, as in
		// TestStoriesLogits: an F16 cache rounds K and V differently per
		// backend (0.027 apart on an H200), which is not what this compares.
		c, err := m.NewContext(ContextOptions{Threads: 1, ContextSize: 512, UBatchSize: ubatch, KVCacheType: "f32", FlashAttention: FlashAttentionOff})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		l, err := c.Logits(toks)
		if err != nil {
			t.Fatal(err)
		}
		return l, m.Device()
	}
	short := ref.GreedyIDs[:len(want)]
	long := ref.GreedyIDs // BOS and the 255 greedy tokens
	cublas := struct {
		name  string
		limit float64
	}{"256-token ubatch (cuBLAS, TF32 math mode)", 5e-2}
	if os.Getenv("NVIDIA_TF32_OVERRIDE") == "0" {
		cublas.name, cublas.limit = "256-token ubatch (cuBLAS, FP32: NVIDIA_TF32_OVERRIDE=0)", 1e-2
	}
	for _, tc := range []struct {
		name   string
		toks   []int32
		ubatch int
		limit  float64
	}{
		{"1 token per ubatch (FP32 mat-vec)", short, 1, 1e-2},
		{"16-token ubatch (mmf, TF32 tensor cores)", short, 512, 5e-2},
		{cublas.name, long, 512, cublas.limit},
	} {
		onGPU, dev := logits(ModelOptions{}, tc.toks, tc.ubatch)
		onCPU, cdev := logits(ModelOptions{CPUOnly: true}, tc.toks, tc.ubatch)
		if dev.Kind != "GPU" {
			t.Errorf("default load runs on %s (%s), want the GPU", dev.Name, dev.Kind)
		}
		d := maxAbsDiff(onGPU, onCPU)
		extra := ""
		if len(tc.toks) == len(want) {
			extra = fmt.Sprintf("; GPU vs transformers %.3g", maxAbsDiff(onGPU, want))
		}
		t.Logf("stories260K logits, %s, %d positions: GPU (%s) vs CPU (%s) max abs diff %.3g (limit %g)%s",
			tc.name, len(tc.toks), dev.Description, cdev.Description, d, tc.limit, extra)
		if d >= tc.limit {
			t.Errorf("%s: GPU vs CPU logits: max abs diff %.3g >= %g", tc.name, d, tc.limit)
		}
	}
	// Greedy from BOS on the GPU, reported (F16 KV cache on the GPU may
	// legitimately flip a near tie).
	m := loadStories(t, ModelOptions{})
	c, err := m.NewContext(ContextOptions{Threads: 1, ContextSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	same := 0
	i := 1
	for tok, err := range c.Generate(t.Context(), []int32{m.BOS()}, GenerateOptions{MaxTokens: 255}) {
		if err != nil {
			t.Fatal(err)
		}
		if i < len(ref.GreedyIDs) && tok.ID == ref.GreedyIDs[i] && same == i-1 {
			same++
		}
		i++
	}
	t.Logf("stories260K greedy on the GPU: first %d of 255 tokens equal the reference", same)
}

// TestInitBackendsOtherDir: plugins load once per process, and a later
// InitBackends naming another folder says so instead of being ignored (a
// Load before any InitBackends initialises with the default folder).
func TestInitBackendsOtherDir(t *testing.T) {
	if _, err := InitBackends("", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := InitBackends(t.TempDir(), nil); !errors.Is(err, ErrBackendDir) {
		t.Errorf("InitBackends(another folder) = %v, want ErrBackendDir", err)
	}
	if _, err := InitBackends("", nil); err != nil {
		t.Errorf("InitBackends(\"\") after init: %v", err)
	}
}
