#!/usr/bin/env bash
# bench/gpu/llamacpp.sh — the llamacpp engine on the GPU machine.
#
# (1) Plugins: uses $SATTVA_BACKEND_DIR when it holds libggml-cuda.so, else
#     builds ggml-cuda and the CPU variants with CMake from the pinned module's
#     sources ($GGML_SRC, default build/ggml-src or .bundle/ggml-src; `make
#     backend-src` stages them) for sm_90a with Ninja -j16 (~3.6 min).
# (2) GPU tests: runs the llamacpp test binary built on the dev machine
#     (`go test -c -o bin/llamacpp.test ./llamacpp`; there is no Go here) with
#     SATTVA_GPU_TEST=1: TestBackends (a plugin device must load), TestGPU
#     (GPU named; stories260K logits GPU vs CPU < 1e-2), and the stories260K
#     greedy/logits references (CPU) in the same process. Needs the shared
#     testdata: $SATTVA_TESTDATA, else ../shared/testdata, shared/testdata or
#     bin/testdata (`make gpu-test-bin` copies the stories260K files there).
# (3) Benchmark: `sattva bench` pp512/tg128 (5 repetitions after a warm-up,
#     llama-bench's method) on $MODEL_8B_Q4KM (Llama-3.1-8B shape, q4_K_M),
#     with flash attention on and off (and on with 4 CPU threads); then batched
#     decoding throughput with
#     --parallel 32 (what the eval runner does).
# Appends a markdown table to $OUT/llamacpp.md; raw JSON and logs beside it.
# About 1.5 minutes with prebuilt plugins (+3.6 min when it builds them).
#
# Needs: ./bin/sattva and ./bin/llamacpp.test (cgo builds), $OUT, $MODEL_8B_Q4KM.
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${OUT:?set OUT to the results folder}"
SATTVA="${SATTVA:-./bin/sattva}"
TESTBIN="${TESTBIN:-./bin/llamacpp.test}"
mkdir -p "$OUT"
md="$OUT/llamacpp.md"
log="$OUT/llamacpp.log"
: >"$log"
gpu="$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1 || echo unknown)"
status=0
note() { echo "$*" | tee -a "$log"; }

# (1) plugins
if [ -n "${SATTVA_BACKEND_DIR:-}" ] && [ -f "$SATTVA_BACKEND_DIR/libggml-cuda.so" ]; then
  note "plugins: prebuilt in $SATTVA_BACKEND_DIR"
  plugins="prebuilt ($SATTVA_BACKEND_DIR)"
else
  src="${GGML_SRC:-}"
  for d in build/ggml-src .bundle/ggml-src ggml-src; do
    [ -z "$src" ] && [ -f "$d/CMakeLists.txt" ] && src="$d"
  done
  if [ -z "$src" ] && command -v go >/dev/null; then
    src=build/ggml-src
    ./scripts/llamacpp/stage-ggml-src.sh "$(go list -m -f '{{.Dir}}' github.com/ollama/ollama)" "$src" >>"$log" 2>&1
  fi
  [ -n "$src" ] || { note "no ggml sources (set GGML_SRC or SATTVA_BACKEND_DIR)"; exit 1; }
  bdir=/tmp/sattva-backends
  t0=$(date +%s)
  note "plugins: building from $src into $bdir"
  if cmake -S "$src" -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a \
       -DCMAKE_BUILD_RPATH='$ORIGIN' >>"$log" 2>&1 &&
     cmake --build "$bdir" -j 16 --target ggml-cuda ggml-cpu >>"$log" 2>&1; then
    export SATTVA_BACKEND_DIR="$bdir/lib/ollama"
    plugins="built here in $(( $(date +%s) - t0 )) s"
    note "plugins: $plugins"
  else
    note "plugin build FAILED (see $log)"; exit 1
  fi
fi
export SATTVA_BACKEND_DIR

# (2) GPU tests
if [ -z "${SATTVA_TESTDATA:-}" ]; then
  for d in ../shared/testdata shared/testdata bin/testdata; do
    [ -z "${SATTVA_TESTDATA:-}" ] && [ -f "$d/stories260K/ref/greedy.json" ] && SATTVA_TESTDATA="$(cd "$d" && pwd)"
  done
fi
tests="not run"
if [ ! -x "$TESTBIN" ]; then
  tests="MISSING $TESTBIN (build it with: go test -c -o bin/llamacpp.test ./llamacpp)"; status=1
elif [ -z "${SATTVA_TESTDATA:-}" ]; then
  tests="NOT RUN: no shared testdata (set SATTVA_TESTDATA)"; status=1
else
  export SATTVA_TESTDATA
  if SATTVA_GPU_TEST=1 CI=true "$TESTBIN" -test.v -test.count=1 -test.run 'TestBackends|TestGPU|TestStories|TestGenerateBatch|TestErrors' \
       >"$OUT/llamacpp-gputest.txt" 2>&1; then
    tests="PASS"
  else
    tests="FAIL"; status=1
  fi
  grep -E -- '^(=== RUN|--- |PASS|FAIL|ok)|GPU device|GPU \(|max abs diff|device CUDA' "$OUT/llamacpp-gputest.txt" | tee -a "$log"
fi
gpuline="$(grep -o 'GPU device: .*' "$OUT/llamacpp-gputest.txt" 2>/dev/null | head -1)"
diffline="$(grep -o 'stories260K logits GPU .*' "$OUT/llamacpp-gputest.txt" 2>/dev/null | head -1)"

# (3) benchmark
rows=""
if [ -n "${MODEL_8B_Q4KM:-}" ] && [ -f "$MODEL_8B_Q4KM" ]; then
  # Flash attention on and off at the default threads (all CPUs), and fa on
  # with 4 CPU threads (with every layer on the GPU the CPU threads only poll).
  n=0
  for cfg in "--fa on" "--fa off" "--fa on -t 4"; do
    n=$((n+1))
    j="$OUT/llamacpp-bench-$n.json"
    if "$SATTVA" bench "$MODEL_8B_Q4KM" -p 512 -n 128 -r 5 $cfg ${BENCH_ARGS:-} --json >"$j" 2>>"$log"; then
      rows+="$(python3 - "$j" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
anchor = {"pp512": 9150.0, "tg128": 264.0}
for t in r["tests"]:
    a = anchor.get(t["name"])
    pct = f'{100*t["avg_ts"]/a:.1f}%' if a else ""
    print(f'| {r["description"]} | {r["backend"]["name"]} {r["backend"]["description"]} | {r["n_gpu_layers"]} | {r["flash_attn"]} | {r["n_threads"]} | {r["n_batch"]}/{r["n_ubatch"]} | {t["name"]} | {t["avg_ts"]:.2f} ± {t["stddev_ts"]:.2f} | {a or ""} | {pct} |')
PY
)"$'\n'
    else
      rows+="| bench $cfg FAILED (see llamacpp.log) | | | | | | | | | |"$'\n'; status=1
    fi
  done
  if "$SATTVA" bench --help 2>/dev/null | grep -q -- '--parallel'; then
    j="$OUT/llamacpp-bench-parallel.json"
    if "$SATTVA" bench "$MODEL_8B_Q4KM" -p 128 -n 128 -r 3 --parallel 32 ${BENCH_ARGS:-} --json >"$j" 2>>"$log"; then
      rows+="$(python3 - "$j" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for t in r["tests"]:
    print(f'| {r["description"]} | {r["backend"]["name"]} | {r["n_gpu_layers"]} | {r["flash_attn"]} | {r["n_threads"]} | {r["n_batch"]}/{r["n_ubatch"]} | {t["name"]} | {t["avg_ts"]:.2f} ± {t["stddev_ts"]:.2f} | | |')
PY
)"$'\n'
    else
      rows+="| parallel bench FAILED (see llamacpp.log) | | | | | | | | | |"$'\n'; status=1
    fi
  fi
else
  rows="| MODEL_8B_Q4KM not set or missing: no benchmark | | | | | | | | | |"$'\n'; status=1
fi

{
  echo "## llamacpp engine on $gpu ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "- plugins: $plugins"
  echo "- GPU tests ($TESTBIN, SATTVA_GPU_TEST=1): **$tests**"
  [ -n "$gpuline" ] && echo "- $gpuline"
  [ -n "$diffline" ] && echo "- $diffline"
  echo
  echo "| model | backend | ngl | fa | threads | batch/ubatch | test | t/s | llama-bench anchor (H200) | of anchor |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  printf '%s' "$rows"
  echo
} | tee -a "$md"
exit $status
