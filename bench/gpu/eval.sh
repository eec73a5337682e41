#!/usr/bin/env bash
# bench/gpu/eval.sh — throughput of `sattva eval` on the GPU machine.
#
# The 30-case starter suite (evals/sattva-control.yaml) at exactly 256 new
# tokens per case (--max-tokens 256 --ignore-eos) on a Llama-3.1-8B-shaped
# q4_K_M GGUF with random weights ($MODEL_8B_Q4KM: the text is garbage, the
# token throughput is real), measured two ways with the same binary:
#   (a) our llama.cpp runner, all 30 cases in parallel sequences of one context
#   (b) our llama.cpp runner, one case at a time (--parallel 1)
# (c) Ollama on the same GGUF is not measured: there is no CUDA build of
#     Ollama on the GPU machine and no network to fetch one.
# Appends a markdown table to $OUT/eval.md. Expected run time: about 3 minutes
# (three model loads of ~5 GB, (b) ≈ 30-60 s, (a) ≈ 5-10 s).
#
# Needs: ./bin/sattva (cgo build), $SATTVA_BACKEND_DIR (CUDA/CPU ggml plugins),
# $MODEL_8B_Q4KM, $OUT, python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${MODEL_8B_Q4KM:?set MODEL_8B_Q4KM to the Llama-3.1-8B-shaped q4_K_M GGUF}"
: "${OUT:?set OUT to the results folder}"
SATTVA="${SATTVA:-./bin/sattva}"
SUITE="${SUITE:-evals/sattva-control.yaml}"
NEW_TOKENS="${NEW_TOKENS:-256}"
mkdir -p "$OUT"
work="$(mktemp -d /tmp/sattva-eval-bench.XXXXXX)"
log="$OUT/eval-bench.log"
: >"$log"

gpu="$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1 || echo unknown)"

# run LABEL ARGS...: one eval; the JSON report goes to $work/LABEL.json and the
# process wall time (model load included) to $work/LABEL.wall.
run() {
  local label="$1"; shift
  local t0 t1 rc=0
  t0=$(date +%s.%N)
  "$SATTVA" eval "$SUITE" --model "$MODEL_8B_Q4KM" --quiet --json --out "$work/$label" "$@" \
    >"$work/$label.json" 2>>"$log" || rc=$?
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1-$t0:.2f}')" >"$work/$label.wall"
  echo "$label: exit $rc, $(cat "$work/$label.wall") s" | tee -a "$log"
  return 0
}

# Warm-up (CUDA init, page cache), not reported.
run warmup --max-tokens 8
run parallel --max-tokens "$NEW_TOKENS" --ignore-eos
run serial --max-tokens "$NEW_TOKENS" --ignore-eos --parallel 1

python3 - "$work" "$OUT/eval.md" "$gpu" "$MODEL_8B_Q4KM" "$NEW_TOKENS" <<'PY'
import json, os, sys, datetime
work, md, gpu, model, new_tokens = sys.argv[1:6]
rows = []
res = {}
for label, desc in [("parallel", "(a) sattva eval, 30 parallel sequences"), ("serial", "(b) sattva eval, one case at a time")]:
    path = os.path.join(work, label + ".json")
    wall = open(os.path.join(work, label + ".wall")).read().strip()
    try:
        doc = json.load(open(path))
        run = doc["run"]
        toks = run["throughput"]["generated_tokens"]
        secs = run["wall_seconds"]
        tps = run["throughput"]["tokens_per_second"]
        cases = len(run["cases"])
        short = sum(1 for c in run["cases"] if c["tokens"] != int(new_tokens))
        errs = run["summary"]["errors"]
        res[label] = tps
        rows.append(f"| {desc} | {cases} | {toks} | {short} | {errs} | {secs:.2f} | {wall} | {tps:.1f} | {tps/cases:.1f} |")
    except Exception as e:
        rows.append(f"| {desc} | failed: {e} | | | | | {wall} | | |")
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
out = []
out.append(f"\n## sattva eval throughput ({now})\n")
out.append(f"GPU: {gpu}. Model: `{os.path.basename(model)}` (Llama-3.1-8B shape, q4_K_M, random weights). "
           f"Suite: evals/sattva-control.yaml, 30 cases, {new_tokens} new tokens per case forced with --ignore-eos, greedy.\n")
out.append("| run | cases | generated tokens | cases short of the target | errors | generation wall s | process wall s (load included) | aggregate tok/s | tok/s per sequence |")
out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
out += rows
if "parallel" in res and "serial" in res and res["serial"] > 0:
    a, b = res["parallel"], res["serial"]
    out.append("")
    out.append(f"(a)/(b) = {a/b:.2f}x (goal ≥ 5x). (a) vs transformers BF16 batch 30 anchor 236 tok/s on an H200 = {a/236:.2f}x (goal ≥ 5x). "
               f"(b) vs llama.cpp single-stream anchor 264 tok/s on an H200 = {b/264:.2f}x.")
out.append("")
out.append("(c) Ollama on the same GGUF: not run — the GPU machine has no CUDA build of Ollama and no network to fetch one.")
with open(md, "a") as f:
    f.write("\n".join(out) + "\n")
print("\n".join(out))
PY
rm -rf "$work"
