#!/usr/bin/env bash
# bench/gpu/verify.sh — `sattva verify` on a Llama-3.1-8B-shaped export on the GPU machine.
#
# The export is the prep part's synthetic 8B model (random weights, the real Llama 3 tokenizer
# and chat template): $MODEL_8B_F16 as the float reference, $MODEL_8B_Q4KM as the served and
# measured quantization, with the Modelfile `sattva export` writes for template llama3 and the
# default sampler (num_ctx 512 here, so the generation check's three greedy runs of a model
# that never ends a turn stay short). 200 held-out examples come from `sattva data gen
# numerology` (RU and EN). One timed `sattva verify` run measures: template parity, EOT/BOS,
# sampling, the generation check, and the KL divergence of q4_K_M against F16 over the
# answers of the 200 examples. Writes $OUT/verify.md (wall time, every check, KL figures).
# Expected: about 1-2 minutes in all (the verify run itself should take under a minute).
#
# Needs: ./bin/sattva, $SATTVA_BACKEND_DIR, $MODEL_8B_F16, $MODEL_8B_Q4KM, /tmp/l8b/hf (prep),
# $OUT, python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${MODEL_8B_F16:?set MODEL_8B_F16}" "${MODEL_8B_Q4KM:?set MODEL_8B_Q4KM}" "${OUT:?set OUT}"
SATTVA="${SATTVA:-./bin/sattva}"
HF="${HF_8B:-/tmp/l8b/hf}"
N="${VERIFY_EXAMPLES:-200}"
mkdir -p "$OUT"
work="$(mktemp -d /tmp/sattva-verify.XXXXXX)"
"$SATTVA" data gen numerology -n "$N" --seed 7 --lang-ratio 0.5 -o "$work/held.jsonl"
{
  printf 'FROM %s\n\n' "$MODEL_8B_Q4KM"
  cat <<'MF'
TEMPLATE """{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>

{{ .Content }}<|eot_id|>
{{- end }}<|start_header_id|>assistant<|end_header_id|>

"""

PARAMETER stop "<|start_header_id|>"
PARAMETER stop "<|end_header_id|>"
PARAMETER stop "<|eot_id|>"
PARAMETER min_p 0
PARAMETER num_ctx 512
PARAMETER repeat_last_n 64
PARAMETER repeat_penalty 1
PARAMETER seed -1
PARAMETER temperature 0.7
PARAMETER top_k 40
PARAMETER top_p 0.9

SYSTEM """You are SatTva."""
MF
} >"$work/Modelfile"
gpu="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || echo unknown)"
t0=$(date +%s.%N)
rc=0
"$SATTVA" verify -f "$work/Modelfile" --ref "$MODEL_8B_F16" --quant "q4_K_M=$MODEL_8B_Q4KM" \
  --data "$work/held.jsonl" -n "$N" --hf-dir "$HF" --train-template llama3 -v -o "$work/report" \
  >"$work/verify.txt" 2>"$work/verify.err" || rc=$?
t1=$(date +%s.%N)
wall=$(python3 -c "print(f'{$t1-$t0:.1f}')")
cp "$work/report/verify.json" "$OUT/verify.json" 2>/dev/null || true
cp "$work/report/verify.html" "$OUT/verify.html" 2>/dev/null || true
python3 - "$work/report/verify.json" "$wall" "$rc" "$gpu" "$N" >"$OUT/verify.md" <<'PY'
import json, sys, datetime
path, wall, rc, gpu, n = sys.argv[1:]
print(f"## sattva verify, 8B-shaped export ({gpu}, {datetime.date.today()})\n")
print(f"`sattva verify -f Modelfile --ref f16.gguf --quant q4_K_M=q4_k_m.gguf --data held.jsonl -n {n}`: "
      f"wall {wall} s (process start to exit, model loads included), exit {rc}\n")
try:
    r = json.load(open(path))
except Exception as e:
    print(f"no report: {e}")
    sys.exit(0)
print("| status | gate | check | detail |\n| --- | --- | --- | --- |")
for c in r["checks"]:
    print(f"| {c['status']} | {c['gate']} | {c['name']} | {c['detail'][:200].replace('|', chr(92)+'|')} |")
print("\n| model | tokens | mean KLD | p99 KLD | max KLD | top-1 | PPL ratio | ru mean KLD | en mean KLD |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for k in r.get("kl") or []:
    s = k["stats"]; b = s.get("by_label") or {}
    g = lambda l: f"{b[l]['mean_kld']:.5f}" if l in b else "-"
    print(f"| {k['name']} | {s['tokens']} | {s['mean_kld']:.5f} | {s['p99_kld']:.5f} | {s['max_kld']:.4f} | {100*s['top1']:.2f}% | {s['ppl_ratio']:.4f} | {g('ru')} | {g('en')} |")
ph = ", ".join(f"{k} {v:.1f} s" for k, v in (r.get("phase_seconds") or {}).items())
print(f"\nverify took {r.get('seconds', 0):.1f} s inside the process ({ph}); examples: {r.get('examples')}")
PY
cat "$work/verify.txt" | tail -25
tail -5 "$work/verify.err"
