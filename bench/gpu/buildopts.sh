#!/usr/bin/env bash
# bench/gpu/buildopts.sh — pp512/tg128 after the build-options audit, on the
# 8B-shaped q4_K_M and F16 (`prep` makes them), beside the C++ anchor and the
# figures of 2026-11-27 (tg128 246.7–249.9, pp512 8,984–9,137 tok/s on an H200).
#
# Runners, alternated over ROUNDS (default 2), flash attention on, 16 threads,
# 5 repetitions after a warm-up (llama-bench's method):
#   sattva, audited plugins     $AUDITED (bench/gpu/plugins.sh built them here
#                               with scripts/llamacpp/ggml-options.sh)
#   tgbench, audited plugins    the C++ anchor (bench/anchor) on the same plugins
#   sattva, earlier plugins     $EARLIER (the prebuilt .device/plugins-xz that the
#                               2026-11-27 figures used), when carried: the
#                               difference to the audited row is the options' share
# Then, on the q4_K_M with the audited plugins, the options that might move tg128,
# one at a time: CUDA graphs off (GGML_CUDA_DISABLE_GRAPHS=1), flash attention
# off, ggml-cuda's graph optimisation on (GGML_CUDA_GRAPH_OPT=1), op fusion off
# (GGML_CUDA_DISABLE_FUSION=1); and plugins built with -DGGML_CUDA_FORCE_CUBLAS=ON
# or -DGGML_CUDA_FORCE_MMQ=ON where `run.sh plugins-ab` built them (those two
# options choose the kernels of batched products, pp512; tg128's one-token
# products take the mat-vec kernels either way).
#
# What this can and cannot say: llama.cpp's newest release measured 264 tok/s
# tg128 on the same card type; its sources may not be brought in here, so the
# rows can only show how much the build options move the pinned llama.cpp
# (ec98e2002); the rest of the gap is the version (and the machine).
# Writes $OUT/buildopts.md. About 4–5 minutes (needs prep's models).
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${OUT:?}" "${MODEL_8B_Q4KM:?}"
G="${G:-/tmp/sattva-gpu}"
AUDITED="${AUDITED:-$G/plugins-audited}"
EARLIER="${EARLIER:-$G/plugins}"
ROUNDS="${ROUNDS:-2}"
S="${SATTVA:-$G/bin/sattva}"; T="${TGBENCH:-$G/bin/tgbench}"
md="$OUT/buildopts.md"; log="$OUT/buildopts.log"; : >"$log"
[ -f "$AUDITED/libggml-cuda.so" ] || { echo "no audited plugins in $AUDITED: run the plugins part first" | tee "$md"; exit 1; }
gpu="$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"
rows=""
row() { rows+="| $1 | $2 | $3 | $4 | $5 | $6 |"$'\n'; }
# sat MODEL LABEL PLUGINS ENV... -- ARGS
sat() {
  local model=$1 label=$2 dir=$3; shift 3
  local envs=(); while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  local j
  j="$(env "${envs[@]}" "$S" bench "$model" --backend-dir "$dir" -t 16 -r 5 -p 512 -n 128 --fa on "$@" --json 2>>"$log")" ||
    { row "$(basename "$model")" "$label" "$dir" "${envs[*]:-} $*" FAILED ""; return; }
  echo "$j" >>"$log"
  local pp tg
  pp="$(echo "$j" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(" ".join(f"{t["avg_ts"]:.1f} ± {t["stddev_ts"]:.1f}" for t in r["tests"] if t["name"].startswith("pp")))')"
  tg="$(echo "$j" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(" ".join(f"{t["avg_ts"]:.1f} ± {t["stddev_ts"]:.1f}" for t in r["tests"] if t["name"].startswith("tg")))')"
  row "$(basename "$model")" "$label" "$(basename "$dir")" "${envs[*]:-} $*" "$pp" "$tg"
}
anc() { # MODEL LABEL PLUGINS ARGS
  local model=$1 label=$2 dir=$3; shift 3
  [ -x "$T" ] || { row "$(basename "$model")" "$label" "" "" "no tgbench staged (bench/gpu/stage.sh builds it)" ""; return; }
  local o; o="$("$T" "$model" "$dir" --fa on -t 16 -r 5 -p 512 -n 128 "$@" 2>>"$log")" ||
    { row "$(basename "$model")" "$label" "$dir" "$*" FAILED ""; return; }
  echo "$o" >>"$log"
  local pp tg
  pp="$(echo "$o" | python3 -c 'import json,sys; print(" ".join(f"{r["avg_ts"]:.1f} ± {r["stddev_ts"]:.1f}" for r in map(json.loads, sys.stdin) if r["name"].startswith("pp")))')"
  tg="$(echo "$o" | python3 -c 'import json,sys; print(" ".join(f"{r["avg_ts"]:.1f} ± {r["stddev_ts"]:.1f}" for r in map(json.loads, sys.stdin) if r["name"].startswith("tg")))')"
  row "$(basename "$model")" "$label" "$(basename "$dir")" "$*" "$pp" "$tg"
}
have_earlier=0
if [ -f "$EARLIER/libggml-cuda.so" ] && ! cmp -s "$EARLIER/libggml-cuda.so" "$AUDITED/libggml-cuda.so"; then have_earlier=1; fi
models=("$MODEL_8B_Q4KM")
[ -n "${MODEL_8B_F16:-}" ] && [ -f "$MODEL_8B_F16" ] && models+=("$MODEL_8B_F16")
for r in $(seq 1 "$ROUNDS"); do
  for m in "${models[@]}"; do
    if [ $((r % 2)) = 1 ]; then
      sat "$m" "sattva (round $r)" "$AUDITED" --
      anc "$m" "tgbench C++ (round $r)" "$AUDITED"
      [ $have_earlier = 1 ] && sat "$m" "sattva, earlier plugins (round $r)" "$EARLIER" --
    else
      [ $have_earlier = 1 ] && sat "$m" "sattva, earlier plugins (round $r)" "$EARLIER" --
      anc "$m" "tgbench C++ (round $r)" "$AUDITED"
      sat "$m" "sattva (round $r)" "$AUDITED" --
    fi
  done
done
q="$MODEL_8B_Q4KM"
sat "$q" "A/B: CUDA graphs off" "$AUDITED" GGML_CUDA_DISABLE_GRAPHS=1 --
sat "$q" "A/B: flash attention off" "$AUDITED" -- --fa off
sat "$q" "A/B: ggml-cuda graph optimisation on" "$AUDITED" GGML_CUDA_GRAPH_OPT=1 --
sat "$q" "A/B: op fusion off" "$AUDITED" GGML_CUDA_DISABLE_FUSION=1 --
for ab in cublas mmq; do
  d="$G/plugins-$ab"
  [ -f "$d/libggml-cuda.so" ] && sat "$q" "A/B: built with GGML_CUDA_FORCE_${ab^^}=ON" "$d" --
done
sat "$q" "sattva (after the A/B rows)" "$AUDITED" --
{
  echo "## pp512/tg128 after the build-options audit on $gpu ($(date -u +%FT%TZ))"
  echo
  echo "Command: \`bash bench/gpu/run.sh buildopts\` (bench/gpu/buildopts.sh). Flash attention on unless the row says, 16 threads,"
  echo "5 repetitions after a warm-up. 2026-11-27 (H200, earlier plugins): tg128 246.7–249.9, pp512 8,984–9,137;"
  echo "llama.cpp's newest release: tg128 264 (not buildable here: only the build options' share can be measured)."
  echo
  echo "- audited plugins: $(SATTVA_BACKEND_DIR="$AUDITED" "$S" version 2>/dev/null | grep -E '^device (CUDA|CPU)' | head -3 | tr '\n' ';')"
  [ $have_earlier = 1 ] && echo "- earlier plugins: $(SATTVA_BACKEND_DIR="$EARLIER" "$S" version 2>/dev/null | grep -E '^device (CUDA|CPU)' | head -3 | tr '\n' ';')"
  [ $have_earlier = 1 ] || echo "- earlier plugins: not carried (.device/plugins-xz), so no same-call comparison with them"
  echo "- sattva: $("$S" version 2>/dev/null | grep '^cgo build')"
  echo
  echo "| model | runner | plugins | env / flags | pp512 t/s | tg128 t/s |"
  echo "| --- | --- | --- | --- | ---: | ---: |"
  printf '%s' "$rows"
} >"$md"
cat "$md"
