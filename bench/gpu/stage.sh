#!/usr/bin/env bash
# bench/gpu/stage.sh — run HERE (the dev machine) before a GPU call. Builds the
# cgo sattva binary and the llamacpp test binary (stripped), and packs them with
# the shared fixtures the GPU scripts need into .gpu/ (ignored by git; name it
# in the device call's `carry`, beside .device/plugins-xz when the GPU machine
# is fresh). The device tool carries at most 64 MiB, so everything is xz'd.
# The cgo flags come from scripts/llamacpp/cgoflags.sh like every build's, with
# SATTVA_CPU=x86-64-v3 (AVX2, FMA, F16C: any GPU host's CPU) unless set: these
# binaries run on another machine, so not this one's -march=native. Also packed:
# the C++ anchor tgbench (same flags) and the module's ggml sources, staged,
# for bench/gpu/plugins.sh (the `plugins` part builds the plugins there).
set -euo pipefail
cd "$(dirname "$0")/../.."
TD="${SATTVA_TESTDATA:-../shared/testdata}"
export SATTVA_CPU="${SATTVA_CPU:-x86-64-v3}"
eval "$(scripts/llamacpp/cgoflags.sh)"
ldx="$(scripts/llamacpp/cgoflags.sh ldflags)"
rm -rf .gpu && mkdir -p .gpu
go build -ldflags="-s -w $ldx" -o .gpu/sattva ./cmd/sattva
go test -c -ldflags="-s -w $ldx" -o .gpu/llamacpp.test ./llamacpp
CGO_ENABLED=0 go build -ldflags='-s -w' -o .gpu/serveload ./bench/serveload
go build -ldflags="-s -w $ldx" -o .gpu/servetg ./bench/servetg # serve.sh: tg vs serve in one process
# STAGE_ANCHOR=0 leaves out the anchor (another whole compile of llama.cpp
# here) and STAGE_GGML_SRC=0 the plugin sources, for calls that run neither
# buildopts, probe nor plugins: the carry limit then leaves room for
# .device/plugins-xz beside .gpu.
if [ "${STAGE_ANCHOR:-1}" != 0 ]; then
  bash bench/anchor/build.sh .gpu # the C++ anchor (tgprobe.sh, buildopts.sh)
fi
if [ "${STAGE_GGML_SRC:-1}" != 0 ]; then
  scripts/llamacpp/stage-ggml-src.sh "$(go list -m -f '{{.Dir}}' github.com/ollama/ollama)" .gpu/ggml-src >/dev/null
  tar -C .gpu/ggml-src -cJf .gpu/ggml-src.tar.xz . && rm -rf .gpu/ggml-src
fi
if [ "${STAGE_PROBE:-}" = o3 ]; then # and the builds with CMake's Release flags
  O3="-O3 -DNDEBUG"
  CGO_CFLAGS="$O3" CGO_CXXFLAGS="$O3" go build -ldflags='-s -w' -o .gpu/sattva-o3 ./cmd/sattva
  mkdir -p .gpu/o3 && ANCHOR_CFLAGS="$O3" bash bench/anchor/build.sh .gpu/o3 && mv .gpu/o3/tgbench .gpu/tgbench-o3 && rmdir .gpu/o3
fi
xz -T2 -6 .gpu/sattva .gpu/llamacpp.test
for f in sattva-o3 tgbench tgbench-o3 serveload servetg; do if [ -f .gpu/$f ]; then xz -T2 -6 .gpu/$f; fi; done
tar -C "$TD" -cJf .gpu/testdata.tar.xz \
  stories260K/ref stories260K/llama2c/published_greedy.txt \
  llama31-tiny/hf/config.json llama31-tiny/hf/generation_config.json \
  llama31-tiny/hf/special_tokens_map.json llama31-tiny/hf/tokenizer.json \
  llama31-tiny/hf/tokenizer_config.json
date -u +%s > .gpu/stamp
du -sh .gpu/* .device/plugins-xz 2>/dev/null
