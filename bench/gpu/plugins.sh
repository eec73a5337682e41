#!/usr/bin/env bash
# bench/gpu/plugins.sh — builds ggml's CUDA and CPU plugins ON the GPU machine
# from the pinned module's staged sources, with the audited options
# (scripts/llamacpp/ggml-options.sh, the same list `make backends` passes;
# table in docs/llamacpp.md), for sm_90a with Ninja -j$JOBS, and times it.
#
# Sources: $GGML_SRC, else .gpu/ggml-src.tar.xz (bench/gpu/stage.sh packs the
# staged tree there), else build/ggml-src. Output: $DEST (default
# /tmp/sattva-gpu/plugins-audited; kept while the machine stays warm, so a
# second call skips the build unless FORCE=1). EXTRA: more -D options (an A/B
# build, e.g. EXTRA=-DGGML_CUDA_FORCE_CUBLAS=ON DEST=/tmp/sattva-gpu/plugins-cublas
# TARGETS=ggml-cuda: without the CPU variants).
# Writes $OUT/plugins.md (time, options, the CPU plugin's features) and the
# CMake/Ninja log to $OUT/plugins-build.log. About 4 minutes on 16 cores.
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${OUT:?set OUT}"
mkdir -p "$OUT"
DEST="${DEST:-/tmp/sattva-gpu/plugins-audited}"
JOBS="${JOBS:-$(nproc)}"
ARCHS="${ARCHS:-90a}"
md="$OUT/plugins.md"; log="$OUT/plugins-build.log"
if [ -f "$DEST/libggml-cuda.so" ] && [ "${FORCE:-0}" != 1 ]; then
  echo "plugins: already built in $DEST" | tee -a "$md"; exit 0
fi
src="${GGML_SRC:-}"
if [ -z "$src" ] && [ -f .gpu/ggml-src.tar.xz ]; then
  src=/tmp/sattva-ggml-src; rm -rf "$src"; mkdir -p "$src"
  tar -C "$src" -xJf .gpu/ggml-src.tar.xz
fi
[ -z "$src" ] && [ -f build/ggml-src/CMakeLists.txt ] && src=build/ggml-src
[ -n "$src" ] && [ -f "$src/CMakeLists.txt" ] || { echo "plugins: no staged ggml sources (stage with bench/gpu/stage.sh)"; exit 1; }
opts="$(sh scripts/llamacpp/ggml-options.sh) ${EXTRA:-}"
bdir="/tmp/sattva-plugin-build-$(basename "$DEST")"
rm -rf "$bdir"
t0=$(date +%s)
echo "cmake: $(cmake --version | head -1); nvcc: $(nvcc --version 2>/dev/null | tail -1); ninja $(ninja --version)" >"$log"
# shellcheck disable=SC2086
if cmake -S "$src" -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="$ARCHS" \
     -DCMAKE_BUILD_RPATH='$ORIGIN' $opts >>"$log" 2>&1 &&
   cmake --build "$bdir" -j "$JOBS" --target ${TARGETS:-ggml-cuda ggml-cpu} >>"$log" 2>&1; then
  secs=$(( $(date +%s) - t0 ))
  mkdir -p "$DEST" && cp -a "$bdir/lib/ollama/"*.so* "$DEST/"
  [ -f "$DEST/libggml-cpu-x64.so" ] || echo "(no CPU plugins in $DEST: TARGETS=${TARGETS:-})" >>"$log"
  repack="$(ninja -C "$bdir" -t commands ggml-cpu-x64 2>/dev/null | grep -c -- '-DGGML_USE_CPU_REPACK' || true)"
  graphs="$(ninja -C "$bdir" -t commands ggml-cuda 2>/dev/null | grep -m1 -o -- '-DGGML_CUDA_USE_GRAPHS' || echo none)"
  {
    echo "## ggml plugins built on the GPU machine ($(date -u +%FT%TZ))"
    echo
    echo "- $(head -1 "$log")"
    echo "- $(nproc) cores, -j $JOBS, CUDA architectures $ARCHS: **$secs s** (cmake configure + ninja ggml-cuda ggml-cpu)"
    echo "- options: \`$opts\`"
    echo "- compile lines with -DGGML_USE_CPU_REPACK in ggml-cpu-x64: $repack; ggml-cuda defines $graphs"
    echo "- into $DEST: $(cd "$DEST" && ls *.so | tr '\n' ' ')"
    echo
  } | tee -a "$md"
else
  echo "plugins: BUILD FAILED after $(( $(date +%s) - t0 )) s (see $log)" | tee -a "$md"
  tail -20 "$log"
  exit 1
fi
