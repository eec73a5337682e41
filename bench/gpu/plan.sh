#!/usr/bin/env bash
# bench/gpu/plan.sh — `sattva plan` estimates against what really gets allocated.
#
# (1) Inference: `sattva plan run --measure` loads the Llama-3.1-8B-shaped GGUF
#     ($MODEL_8B_Q4KM, $MODEL_8B_F16) through llama.cpp at context 2k, 8k and 32k
#     tokens per sequence with 1 and 8 parallel sequences (12 loads), decodes one
#     512-token batch, and reports llama.cpp's own buffer sizes (model, KV,
#     compute) beside the estimate; while it holds the model, nvidia-smi's
#     memory.used minus the idle baseline gives the whole process (CUDA runtime
#     included). About 90-150 s (the F16 file is 16 GB: keep it on /tmp).
# (2) Training: bench/gpu/plan_train.py runs five configurations of the
#     fallback trainer's LoRA step (1B/3B/8B shapes, ranks 8-64, cutoffs
#     512-4096, batch 1-4, checkpointing on/off) against
#     torch.cuda.max_memory_allocated. About 90-150 s.
# Appends markdown tables to $OUT/plan.md; raw JSON in $OUT/plan-run-*.json.
#
# Needs: ./bin/sattva (cgo build), $SATTVA_BACKEND_DIR, $MODEL_8B_Q4KM,
# $MODEL_8B_F16, $OUT, python3 with torch, transformers, peft, nvidia-smi.
# PLAN_SKIP_RUN=1 or PLAN_SKIP_TRAIN=1 skips a part.
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${OUT:?set OUT to the results folder}"
SATTVA="${SATTVA:-./bin/sattva}"
mkdir -p "$OUT"
md="$OUT/plan.md"
log="$OUT/plan.log"
: >"$log"
work="$(mktemp -d /tmp/sattva-plan-bench.XXXXXX)"
gpu="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || echo unknown)"

used_mib() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 2>/dev/null | head -1 | tr -d ' '; }

if [ "${PLAN_SKIP_RUN:-0}" != 1 ]; then
  : "${MODEL_8B_Q4KM:?set MODEL_8B_Q4KM}"
  : "${MODEL_8B_F16:?set MODEL_8B_F16}"
  rows="$work/rows.tsv"
  : >"$rows"
  for model in "$MODEL_8B_Q4KM" "$MODEL_8B_F16"; do
    for ctx in 2048 8192 32768; do
      for par in 1 8; do
        tag="$(basename "$model" .gguf)-c$ctx-p$par"
        json="$OUT/plan-run-$tag.json"
        base="$(used_mib)"
        t0=$(date +%s)
        "$SATTVA" plan run "$model" --ctx "$ctx" --parallel "$par" --measure --hold 3s --json >"$json" 2>>"$log" &
        pid=$!
        # wait for the JSON (printed once everything is allocated), then sample
        peak=""
        for _ in $(seq 1 600); do
          if [ -s "$json" ] && python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$json" 2>/dev/null; then
            sleep 1
            peak="$(used_mib)"
            break
          fi
          kill -0 "$pid" 2>/dev/null || break
          sleep 0.2
        done
        wait "$pid"; rc=$?
        echo "$tag: exit $rc, $(( $(date +%s) - t0 )) s, nvidia-smi ${base} -> ${peak} MiB" | tee -a "$log"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(basename "$model")" "$ctx" "$par" "$rc" "$base" "$peak" "$json" >>"$rows"
      done
    done
  done
  python3 - "$rows" "$md" "$gpu" <<'PY'
import json, sys, time
rows, md, gpu = sys.argv[1:4]
MiB = 1 << 20
out = ["", "### plan run vs llama.cpp's allocations", "",
       "%s, %s; `sattva plan run MODEL --ctx N --parallel P --measure` (all layers on the GPU, f16 KV, flash attention auto, n_ubatch 512); "
       "llama.cpp buffers = the model, KV and compute buffer sizes llama.cpp logs for the GPU; nvidia-smi = memory.used while loaded minus idle."
       % (gpu, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())), "",
       "| model | ctx/seq | seqs | estimate: weights / KV / compute MiB | llama.cpp: weights / KV / compute MiB | buffers est. | buffers meas. | error | est. + 512 MiB runtime | nvidia-smi | error |",
       "|---|---|---|---|---|---|---|---|---|---|---|"]
for line in open(rows):
    model, ctx, par, rc, base, peak, path = line.rstrip("\n").split("\t")
    try:
        d = json.load(open(path))
    except Exception as e:
        out.append("| %s | %s | %s | failed (exit %s) | | | | | | | |" % (model, ctx, par, rc))
        continue
    e, m = d["estimate"], d.get("measured") or {}
    b = m.get("buffers_mib", {})
    def meas(kind):
        return sum(v for k, v in b.items() if k.endswith(" " + kind) and "CPU" not in k and "Host" not in k)
    bm = m.get("gpu_buffer_bytes", 0) / MiB
    be = e["buffers_gpu_bytes"] / MiB
    te = e["total_gpu_bytes"] / MiB
    smi = (float(peak) - float(base)) if peak and base else float("nan")
    out.append("| %s | %s | %s | %.0f / %.0f / %.1f | %.0f / %.0f / %.1f | %.0f | %.0f | %+.1f%% | %.0f | %.0f | %+.1f%% |" % (
        model, ctx, par, e["weights_gpu_bytes"] / MiB, e["kv_gpu_bytes"] / MiB, e["compute_gpu_bytes"] / MiB,
        meas("model"), meas("KV"), meas("compute"), be, bm, 100 * (be - bm) / bm if bm else float("nan"),
        te, smi, 100 * (te - smi) / smi if smi == smi and smi > 0 else float("nan")))
open(md, "a").write("\n".join(out) + "\n")
PY
fi

if [ "${PLAN_SKIP_TRAIN:-0}" != 1 ]; then
  t0=$(date +%s)
  python3 bench/gpu/plan_train.py "$SATTVA" "$md" "$work" 2>>"$log" || echo "plan_train.py failed: see $log" | tee -a "$md"
  echo "training part: $(( $(date +%s) - t0 )) s" | tee -a "$log"
fi
rm -rf "$work"
cat "$md"
