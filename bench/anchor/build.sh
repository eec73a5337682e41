#!/usr/bin/env bash
# bench/anchor/build.sh OUTDIR — builds tgbench (the C++ anchor for `sattva
# bench`) HERE, for the GPU machine: the Go c-archive of the pinned llama.cpp
# and ggml cgo packages (the objects sattva links) plus tgbench.cpp. With
# ANCHOR_CFLAGS set (e.g. "-O3 -DNDEBUG") the cgo sources are compiled with
# those flags instead of cgo's default "-g -O2", as CGO_CFLAGS/CGO_CXXFLAGS.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:?usage: build.sh OUTDIR}"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if [ -n "${ANCHOR_CFLAGS:-}" ]; then
  export CGO_CFLAGS="$ANCHOR_CFLAGS" CGO_CXXFLAGS="$ANCHOR_CFLAGS"
fi
go build -buildmode=c-archive -o "$tmp/libanchor.a" ./bench/anchor/lib
gcc -O2 -c -Ithird_party/llama.cpp/include llamacpp/freeorder.c -o "$tmp/freeorder.o"
g++ -O3 -DNDEBUG -std=c++17 -Ithird_party/llama.cpp/include bench/anchor/tgbench.cpp "$tmp/freeorder.o" "$tmp/libanchor.a" \
  -o "$out/tgbench" -Wl,--wrap=ggml_backend_free -lpthread -ldl -lm
strip "$out/tgbench"
