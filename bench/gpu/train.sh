#!/usr/bin/env bash
# bench/gpu/train.sh — the native trainer (sattva train --trainer llamacpp:
# sattva's ggml training graph, AdamW, on CUDA) beside the fallback Python
# trainer (scripts/train/sft_lora.py: torch + peft LoRA on the same GPU), on
# the 1B-shaped synthetic model (sattva synth --shape llama3.2-1b, the
# llama31-tiny tokenizer in $TOK) and the same 400 generated numerology
# examples rendered with the llama3 template. Both run 50 optimizer steps:
# native = 50 windows of up to 512 tokens of whole examples (the graph engine;
# capped at 50 steps), fallback = 1 epoch of the 400 examples in batches of 8.
#
# Tokens per second: native = the examples' tokens its steps trained on / its
# training time (from llamacpp.Train); fallback = the examples' tokens (one
# epoch, no padding counted) / its train_runtime. Model loads are outside
# both; the wall times of the whole commands are in the table too.
#
# Writes $OUT/train.md and $OUT/train.log. Expected: about 3-4 minutes (synth
# ~20 s, the native trainer's F32 conversion ~30 s, native training ~30-60 s,
# Python imports and model load ~30 s, LoRA training ~20-40 s).
#
# ENGINE (train.native.engine: auto, graph, llama-opt; default auto) picks the
# native trainer's engine.
#
# Needs: ./bin/sattva (cgo build), $SATTVA_BACKEND_DIR (CUDA plugin), $TOK, $OUT,
# python3 with torch, transformers, peft, safetensors, PyYAML.
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${OUT:?set OUT to the results folder}" "${TOK:?set TOK to the llama31-tiny tokenizer folder}"
SATTVA="${SATTVA:-./bin/sattva}"
N="${N:-400}"
STEPS="${STEPS:-50}"
SHAPE="${SHAPE:-llama3.2-1b}"
FALLBACK="${FALLBACK:-1}"
mkdir -p "$OUT"
md="$OUT/train.md"
log="$OUT/train.log"
: >"$log"
work="$(mktemp -d /tmp/sattva-train.XXXXXX)"
gpu="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || echo unknown)"
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
fail() {
  { echo; echo "**FAILED: $1** (exit $2). Last lines of $log:"; echo; echo '```text'; tail -40 "$log"; echo '```'; } >>"$md"
  exit 1
}
{
  echo "# Native trainer vs the fallback trainer, 1B-shaped synthetic model"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $gpu, bench/gpu/train.sh (N=$N examples, $STEPS steps)"
  echo
} >"$md"

t0=$(now)
"$SATTVA" synth --shape "$SHAPE" --dtype bf16 --seed 1 -q --tokenizer "$TOK" "$work/hf" >>"$log" 2>&1 || fail "synth" $?
"$SATTVA" data gen numerology -n "$N" --seed 1 --lang-ratio 0 --from 01.01.1950 --to 31.12.2030 -o "$work/data.jsonl" >>"$log" 2>&1 || fail "data gen" $?
echo "synth + data: $(secs "$t0" "$(now)") s" >>"$log"

# One project, two trainers. template llama3: the llama31-tiny tokenizer has its tokens.
write_project() { # write_project DIR
  cat >"$1/sattva.yaml" <<EOF
name: t1b
base: $work/hf
template: llama3
output: $1/out
data:
  train: [$work/data.jsonl]
train:
  lora_rank: 16
  lora_target: all
  epochs: 1
  learning_rate: 1.0e-4
  batch_size: 8
  gradient_accumulation: 1
  cutoff_len: 512
  quantization_bit: 0
  lr_scheduler: constant
  logging_steps: 10
  bf16: true
  gradient_checkpointing: false
  native:
    learning_rate: 1.0e-5
    epochs: 1
    max_steps: $STEPS
    context: 512
    engine: ${ENGINE:-auto}
export:
  types: [f16]
EOF
}
mkdir -p "$work/native" "$work/fallback"
write_project "$work/native"
write_project "$work/fallback"

t1=$(now)
"$SATTVA" train --trainer llamacpp --json "$work/native/sattva.yaml" >"$work/native.json" 2>>"$log" || fail "native training" $?
t2=$(now)
t3=$(now)
if [ "$FALLBACK" = 1 ]; then
  "$SATTVA" train --trainer fallback --json "$work/fallback/sattva.yaml" >"$work/fallback.json" 2>>"$log" || fail "fallback training" $?
else
  echo '{"trainer": "fallback", "skipped": true, "seconds": 0}' >"$work/fallback.json"
fi
t4=$(now)

python3 - "$work" "$(secs "$t1" "$t2")" "$(secs "$t3" "$t4")" "$md" <<'PY' >>"$log" 2>&1 || fail "summary" $?
import json, sys
work, nwall, fwall, md = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
nat = json.load(open(work + "/native.json"))
fb = json.load(open(work + "/fallback.json"))
nr = nat.get("native") or {}
# The fallback trains every example once: count their tokens as the native
# run packed them (same rendering and tokenizer).
tokens = nr.get("stream_tokens", 0)
losses = lambda r: (r["losses"][0]["loss"], r["losses"][-1]["loss"]) if r.get("losses") else (float("nan"), float("nan"))
n0, n1 = losses(nat)
f0, f1 = losses(fb)
with open(md, "a") as f:
    f.write("| trainer | what trains | steps | tokens | train s | tokens/s | loss first → last | command wall s |\n")
    f.write("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
    nsec = nr.get("tokens", 0) / nr["tokens_per_second"] if nr.get("tokens_per_second") else float("nan")
    f.write("| native (%s) | %s params (list below), AdamW | %d | %d | %.1f | %.0f | %.3f → %.3f | %.1f |\n" % (
        nr.get("engine", "?"), "{:,}".format(nr.get("trainable_params", 0)), nat.get("steps", 0), nr.get("tokens", 0), nsec, nr.get("tokens_per_second", 0), n0, n1, nwall))
    fsec = fb.get("train_seconds") or fb.get("seconds", 0)
    f.write("| fallback (torch + peft LoRA r16) | LoRA on every linear layer | %d | %d | %.1f | %.0f | %.3f → %.3f | %.1f |\n" % (
        fb.get("steps", 0), tokens, fsec, tokens / fsec if fsec else 0, f0, f1, fwall))
    f.write("\nTokens: the examples' own (no padding), those the native steps covered and the %d examples of the fallback's one epoch. "
            "Train s is each training loop's own time: llamacpp.Train's (model load and the F32 conversion are outside it) and "
            "transformers' train_runtime (%s); the command wall time adds model load and saving (and the fallback's Python imports). "
            "Native losses are per step, the fallback's means over 10 steps.\n" % (
                nr.get("sequences", 0), "reported" if fb.get("train_seconds") else "not reported: the whole process instead"))
    tt = nr.get("trained_tensors") or []
    f.write("\nNative device: %s; %d tensors trained (%s … %s)\n" % (nr.get("device", "?"), len(tt), tt[0] if tt else "", tt[-1] if tt else ""))
    if nr.get("frozen_tensors"):
        f.write("\nFrozen on this device: %s (%s)\n" % (", ".join(nr["frozen_tensors"]), nr.get("frozen_why", "")))
PY
echo "train.sh: wrote $md"
