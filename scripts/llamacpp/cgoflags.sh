#!/usr/bin/env bash
# scripts/llamacpp/cgoflags.sh [NAME] — the ONE place that chooses the C/C++
# flags with which cgo compiles llama.cpp and ggml (the pinned ollama module's
# llama/llama.cpp/src and ml/backend/ggml/ggml/src/... packages). Every build
# path uses it: the Makefile (build, test, demo, gpu-test-bin), .ci/run (through
# make), bench/gpu/stage.sh, bench/anchor/build.sh and bench/cpu/repack.sh.
#
# The flags are llama.cpp's default CMake build for the CPU code (see
# docs/llamacpp.md, "Build options"):
#   -O3 -DNDEBUG            CMAKE_BUILD_TYPE=Release (cgo's default is -g -O2)
#   -ffp-contract=off       llama.cpp's CMake puts -march only on ggml-cpu; ggml-base
#                           (ggml-quants.c: the reference quantizers that
#                           llama_model_quantize runs) gets none, so it never
#                           fuses a*b+c into one FMA. cgo's flags reach every
#                           package, and gcc fuses by default wherever -march
#                           has FMA, which changes quantized bytes (Q4_K,
#                           IQ4_NL …) from llama.cpp's and from Go's. Off keeps
#                           them equal on every machine; the SIMD kernels call
#                           their FMA intrinsics explicitly and are unaffected.
#   -DGGML_USE_CPU_REPACK   GGML_CPU_REPACK=ON: Q4_0/Q4_K/IQ4_NL weights are
#                           repacked into the interleaved layouts (q4_K_8x8 …)
#                           that the fast x86/ARM kernels read (the module's
#                           ggml-cpu/cpu.go defines only GGML_USE_LLAMAFILE)
#   instruction set         GGML_NATIVE=ON: -march=native, chosen by SATTVA_CPU:
#     native     (default)  this machine's instruction set (gcc's -march=native)
#     x86-64-v3, x86-64-v4  …  a named level (-march=LEVEL), for a binary that
#                           runs on another machine (bench/gpu/stage.sh: v3)
#     portable              no -march: the compiler's baseline (x86-64: SSE2)
# SATTVA_CGO_EXTRA adds flags to C and C++ (e.g. "-g").
#
# A change of these flags recompiles all of llama.cpp and ggml (minutes). With
# SATTVA_CPU=native the expanded instruction set is hashed into a define
# (SATTVA_CPU_ID) so that a Go build cache shared between machines of
# different CPUs never hands one machine the other's objects.
#
# NAME: CGO_CFLAGS, CGO_CXXFLAGS, CGO_CPPFLAGS (one value), summary (one line
# recorded into the binary), ldflags (the -X that records it: go build
# -ldflags "$(cgoflags.sh ldflags)"), or none: `export` lines (the three and
# SATTVA_CGO_SUMMARY) for eval in a shell:
#   eval "$(scripts/llamacpp/cgoflags.sh)"
# The output depends only on SATTVA_CPU, SATTVA_CGO_EXTRA, CC and the machine,
# never on CGO_* in the environment, so nested makes and scripts agree.
set -euo pipefail
cpu="${SATTVA_CPU:-native}"
cc="${CC:-gcc}"
extra="${SATTVA_CGO_EXTRA:-}"
arch=""
id=""
case "$cpu" in
native)
  arch="-march=native"
  # gcc's expansion of -march=native (every -m feature flag it turns on)
  exp="$("$cc" -march=native -E -v - </dev/null 2>&1 | grep -m1 -E '(^| )-march=[a-z]' | grep -v COLLECT_GCC_OPTIONS || true)"
  feats="$(printf '%s\n' $exp | grep -E '^-m' | sort || true)"
  [ -z "$feats" ] || id="$(printf '%s' "$feats" | cksum | cut -d' ' -f1)"
  ;;
portable) ;;
*[!a-z0-9.+_-]* | "") echo "cgoflags.sh: SATTVA_CPU=$cpu: want native, portable or a -march level (x86-64-v3 …)" >&2; exit 2 ;;
*) arch="-march=$cpu" ;;
esac
# The module's cgo package leaves out ggml-cpu/amx/ (not a Go package), but
# ggml-cpu.cpp calls into it when the compiler says AMX (__AMX_INT8__): on a
# CPU with AMX (Sapphire Rapids and later), -march=native would not link.
if [ -n "$arch" ] && "$cc" $arch -dM -E - </dev/null 2>/dev/null | grep -q __AMX_INT8__; then
  arch="$arch -mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
fi
cflags="-O3 -ffp-contract=off${arch:+ $arch}${extra:+ $extra}"
cppflags="-DNDEBUG -DGGML_USE_CPU_REPACK${id:+ -DSATTVA_CPU_ID=$id}"
summary="SATTVA_CPU=$cpu; CGO_CFLAGS=CGO_CXXFLAGS=$cflags; CGO_CPPFLAGS=$cppflags"
case "${1:-}" in
CGO_CFLAGS | CGO_CXXFLAGS) echo "$cflags" ;;
CGO_CPPFLAGS) echo "$cppflags" ;;
summary) echo "$summary" ;;
ldflags) echo "-X 'github.com/sattva/sattva/llamacpp.cgoFlags=$summary'" ;;
"")
  printf "export CGO_CFLAGS='%s'\nexport CGO_CXXFLAGS='%s'\nexport CGO_CPPFLAGS='%s'\n" "$cflags" "$cflags" "$cppflags"
  printf "export SATTVA_CGO_SUMMARY='%s'\n" "$summary"
  ;;
*) echo "cgoflags.sh: unknown name $1" >&2; exit 2 ;;
esac
