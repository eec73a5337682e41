#!/usr/bin/env bash
# scripts/llamacpp/build-cuda-kernels.sh DIR — builds DIR/libsattva-cuda.so,
# sattva's own CUDA kernel (llamacpp/cuda/colsumsq.cu: the importance-matrix
# collector's column sums of squares), beside ggml's CUDA plugin in DIR.
# Needs nvcc; it links the shared CUDA runtime, as ggml's plugin does, so the
# process has one. NVCC_ARCH chooses the GPU code (default: native, this
# machine's GPU; "all-major" for a library that runs on any recent one).
# Without the library `sattva imatrix` still runs on a GPU, with ggml's
# kernels (a little slower: docs/quantize.md).
set -euo pipefail
dir="${1:?usage: build-cuda-kernels.sh DIR}"
cd "$(dirname "$0")/../.."
command -v nvcc >/dev/null || { echo "build-cuda-kernels.sh: no nvcc" >&2; exit 1; }
mkdir -p "$dir"
tmp="$dir/.libsattva-cuda.so.tmp"
nvcc -O3 -std=c++17 -shared -Xcompiler -fPIC --cudart shared -arch="${NVCC_ARCH:-native}" \
  -o "$tmp" llamacpp/cuda/colsumsq.cu
mv -f "$tmp" "$dir/libsattva-cuda.so"
echo "built $dir/libsattva-cuda.so"
