#!/usr/bin/env bash
# bench/gpu/pipeline.sh — the whole sattva pipeline, for real, on the GPU machine.
#
# stories260K (testdata/stories260K/hf, MIT) gets a LoRA trained by the fallback
# trainer (scripts/train/sft_lora.py: transformers + peft; no bitsandbytes there,
# so plain LoRA) on 2,000 generated English numerology examples (birth dates
# 1950-2030), `sattva export` merges and converts it (q8_0, plus the base alone
# for comparison), and `sattva eval` answers 40 numerology questions about
# unseen dates (1900-1949, examples/default/numerology-eval.yaml) with the base
# and the fine-tune side by side. Then `sattva pipeline run` on the same project
# shows every stage skipped (inputs unchanged).
#
# Template: stories260K's 512-piece SentencePiece vocabulary has no chat tokens
# (<|start_header_id|> would be spelled out in ~20 byte pieces), so the project
# uses sattva's "plain" template: the question as raw text, the answer after it,
# then </s>. That is exactly what `sattva eval` sends a model without a chat
# template (evalrun.RawPrompt), so the eval asks in the training format.
#
# Writes $OUT/pipeline.md (loss curve, pass rates, stage times, the command
# lines) and $OUT/pipeline.log. Expected run time: about 1-2 minutes (Python
# imports ~15 s, training ~20-60 s, export ~1 s, eval 2 × 40 cases ~10 s).
#
# Needs: ./bin/sattva (cgo build), $SATTVA_BACKEND_DIR (CUDA/CPU ggml plugins),
# $OUT, python3 with torch, transformers, peft, safetensors (and PyYAML).
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${OUT:?set OUT to the results folder}"
SATTVA="${SATTVA:-./bin/sattva}"
EPOCHS="${EPOCHS:-8}"
LR="${LR:-2.0e-3}"
N="${N:-2000}"
mkdir -p "$OUT"
md="$OUT/pipeline.md"
log="$OUT/pipeline.log"
: >"$log"
work="$(mktemp -d /tmp/sattva-pipeline.XXXXXX)"
proj="$work/proj"
mkdir -p "$proj"
gpu="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || echo unknown)"
pyver="$(python3 -c 'import torch, transformers, peft; print(f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}, cuda {torch.cuda.is_available()}")' 2>>"$log" || echo "python3 cannot import torch/transformers/peft")"

fail() {
  {
    echo
    echo "**FAILED: $1** (exit $2). Last lines of $log:"
    echo
    echo '```text'
    tail -40 "$log"
    echo '```'
  } >>"$md"
  echo "pipeline.sh: $1 failed; see $md" >&2
  exit 1
}

# step NAME CMD...: run a command, its output to the log, its wall time to
# $work/NAME.wall. Exit code 1 is accepted for eval steps (ALLOW1=1): sattva
# eval says 1 when a case the base passed fails after fine-tuning.
step() {
  local name="$1"; shift
  local t0 t1 rc=0
  echo "\$ $*" >>"$log"
  t0=$(date +%s.%N)
  "$@" >>"$log" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1-$t0:.1f}')" >"$work/$name.wall"
  echo "$rc" >"$work/$name.rc"
  if [ "$rc" -ne 0 ] && ! { [ "$rc" -eq 1 ] && [ "${ALLOW1:-0}" = 1 ]; }; then
    fail "$name ($*)" "$rc"
  fi
}

{
  echo "## sattva pipeline on stories260K — $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $gpu, $(nproc) CPU cores; $pyver; sattva $("$SATTVA" version 2>/dev/null | head -1)."
  echo "Command: \`bench/gpu/pipeline.sh\` (EPOCHS=$EPOCHS N=$N LR=$LR)."
  echo
} >"$md"

cp -r testdata/stories260K/hf "$proj/base"
cp examples/default/numerology-eval.yaml "$proj/numerology-eval.yaml"
cat >"$proj/sattva.yaml" <<EOF
# bench/gpu/pipeline.sh's project: stories260K + a LoRA for the five numbers.
name: sattva-stories260k
base: base
template: plain
output: out
data:
  train: [numerology.jsonl]
train:
  trainer: fallback
  lora_rank: 16
  lora_alpha: 32
  lora_dropout: 0.0
  lora_target: all
  epochs: $EPOCHS
  learning_rate: $LR
  batch_size: 32
  gradient_accumulation: 1
  cutoff_len: 256
  quantization_bit: 0
  lr_scheduler: cosine
  warmup_ratio: 0.05
  logging_steps: 10
  save_steps: 100000
  bf16: false
  gradient_checkpointing: false
  seed: 42
export:
  adapter: merge
  types: [q8_0]
  outtype: f16
ollama:
  parameters: {temperature: 0, repeat_penalty: 1, num_ctx: 512}
eval:
  suite: numerology-eval.yaml
  pass_bar: 0
  type: q8_0
  compare_base: true
EOF

step gen "$SATTVA" data gen numerology -n "$N" --seed 1 --lang-ratio 0 --from 01.01.1950 --to 31.12.2030 -o "$proj/numerology.jsonl"
step validate "$SATTVA" data validate "$proj/numerology.jsonl" --quiet
step train "$SATTVA" train "$proj/sattva.yaml" --trainer fallback --verbose
step export "$SATTVA" export "$proj/sattva.yaml" --quiet
# The base alone, converted the same way, for the side-by-side eval.
step base "$SATTVA" convert "$proj/base" --outtype q8_0 -o "$proj/out/export/base-q8_0.gguf" --quiet
ALLOW1=1 step eval "$SATTVA" eval "$proj/numerology-eval.yaml" --model "$proj/out/export/sattva-stories260k-q8_0.gguf" \
  --compare-with "$proj/out/export/base-q8_0.gguf" --out "$proj/out/eval-side-by-side" --quiet
# The same project through the one command: every stage should be skipped
# except eval, whose compare_base model the pipeline makes itself.
ALLOW1=1 step pipeline "$SATTVA" pipeline run "$proj/sattva.yaml" --trainer fallback --quiet
ALLOW1=1 step pipeline2 "$SATTVA" pipeline run "$proj/sattva.yaml" --trainer fallback --quiet

python3 - "$proj" "$work" >>"$md" 2>>"$log" <<'PY'
import json, os, sys
proj, work = sys.argv[1], sys.argv[2]
out = os.path.join(proj, "out")
wall = lambda n: open(os.path.join(work, n + ".wall")).read().strip()
tr = json.load(open(os.path.join(out, "train", "result.json")))
print("### Stage times (wall, seconds)\n")
print("| stage | command | seconds |")
print("| --- | --- | ---: |")
for n, c in [("gen", "sattva data gen numerology -n N --lang-ratio 0 --from 01.01.1950"),
             ("validate", "sattva data validate"),
             ("train", "sattva train --trainer fallback (sft_lora.py: load, %d steps, save)" % tr.get("steps", 0)),
             ("export", "sattva export (merge LoRA, convert, q8_0, Modelfile, manifest)"),
             ("base", "sattva convert base --outtype q8_0"),
             ("eval", "sattva eval 40 cases × (base, fine-tune)"),
             ("pipeline", "sattva pipeline run (1st: no state yet, so data, train, export (with the base for comparison) and eval all run)"),
             ("pipeline2", "sattva pipeline run (2nd: every stage skipped)")]:
    print(f"| {n} | {c} | {wall(n)} |")
print()
print(f"Trainer: `{tr.get('command','')}`, {tr.get('seconds',0):.1f} s inside sattva train.\n")
print("### Loss curve (answer tokens only)\n")
print("| step | epoch | loss |")
print("| ---: | ---: | ---: |")
for p in tr.get("losses", []):
    print(f"| {p['step']} | {p['epoch']} | {p['loss']:.4f} |")
print()
d = json.load(open(os.path.join(out, "eval-side-by-side", "report.json")))
run, base = d.get("run") or {}, d.get("baseline") or {}
def s(r):
    x = r.get("summary", {})
    return f"{x.get('passed',0)}/{x.get('total',0)} ({100*x.get('pass_rate',0):.1f}%)"
def right(r):
    # the numerology check's graded score: the share of the five numbers right
    sc = [ch.get("score") or 0 for c in r.get("cases", []) for ch in c.get("checks", []) if ch.get("check") == "numerology"]
    return f"{5*sum(sc)/len(sc):.2f} of 5" if sc else "-"
def fmt_ok(r):
    # answers in the trained form: five labelled numbers or a list of five
    import re
    n = sum(1 for c in r.get("cases", []) if len(re.findall(r"\d", c.get("answer") or "")) == 5)
    return f"{n}/{len(r.get('cases', []))}"
print("### Eval: 40 numerology questions about unseen birth dates (greedy, 48 new tokens)\n")
print("| model | passed (all five right) | numbers right, mean | answers with exactly five digits |")
print("| --- | ---: | ---: | ---: |")
print(f"| base stories260K q8_0 | {s(base)} | {right(base)} | {fmt_ok(base)} |")
print(f"| fine-tune (LoRA merged) q8_0 | {s(run)} | {right(run)} | {fmt_ok(run)} |")
print()
cases = {c["id"]: c for c in run.get("cases", [])}
bcases = {c["id"]: c for c in base.get("cases", [])}
print("First five cases, side by side:\n")
print("| case | question | base | fine-tune | fine-tune check |")
print("| --- | --- | --- | --- | --- |")
esc = lambda t: (t or "").strip().replace("\n", " ⏎ ").replace("|", "\\|")[:90]
for cid in list(cases)[:5]:
    chk = "; ".join(ch.get("detail", "") for ch in cases[cid].get("checks", []))
    print(f"| {cid} | {esc(cases[cid].get('prompt'))} | {esc(bcases.get(cid,{}).get('answer'))} | {esc(cases[cid].get('answer'))} | {esc(chk)} |")
print()
st = json.load(open(os.path.join(out, "state.json")))
print("`sattva pipeline run` stages (state.json after the 2nd run):\n")
print("| stage | status | seconds | detail |")
print("| --- | --- | ---: | --- |")
for k in ["data", "train", "export", "eval"]:
    r = st["stages"].get(k, {})
    print(f"| {k} | {r.get('status','')} | {r.get('seconds',0):.1f} | {esc(r.get('detail',''))} |")
PY
rc=$?
[ "$rc" -eq 0 ] || fail "writing the summary" "$rc"
{
  echo
  echo "Output of the 2nd \`sattva pipeline run\`:"
  echo
  echo '```text'
  "$SATTVA" pipeline run "$proj/sattva.yaml" --trainer fallback --quiet 2>&1 | tail -12
  echo '```'
} >>"$md"
cp "$proj/out/eval-side-by-side/report.md" "$OUT/pipeline-eval-report.md" 2>/dev/null || true
echo "pipeline.sh: done; $md"
