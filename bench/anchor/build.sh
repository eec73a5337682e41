#!/usr/bin/env bash
# bench/anchor/build.sh OUTDIR — builds tgbench (the C++ anchor for `sattva
# bench`) HERE: the Go c-archive of the pinned llama.cpp and ggml cgo packages
# (the objects sattva links) plus tgbench.cpp. The cgo sources are compiled
# with the flags sattva's build uses (scripts/llamacpp/cgoflags.sh; SATTVA_CPU
# picks the instruction set: x86-64-v3 for the GPU machine). With
# ANCHOR_CFLAGS set, CGO_CFLAGS/CGO_CXXFLAGS are those instead (a probe).
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:?usage: build.sh OUTDIR}"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
eval "$(scripts/llamacpp/cgoflags.sh)"
if [ -n "${ANCHOR_CFLAGS:-}" ]; then
  export CGO_CFLAGS="$ANCHOR_CFLAGS" CGO_CXXFLAGS="$ANCHOR_CFLAGS"
fi
go build -buildmode=c-archive -o "$tmp/libanchor.a" ./bench/anchor/lib
gcc -O2 -c -Ithird_party/llama.cpp/include llamacpp/freeorder.c -o "$tmp/freeorder.o"
g++ -O3 -DNDEBUG -std=c++17 -Ithird_party/llama.cpp/include bench/anchor/tgbench.cpp "$tmp/freeorder.o" "$tmp/libanchor.a" \
  -o "$out/tgbench" -Wl,--wrap=ggml_backend_free -lpthread -ldl -lm
strip "$out/tgbench"
