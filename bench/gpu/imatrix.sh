#!/usr/bin/env bash
# bench/gpu/imatrix.sh — sattva imatrix and quantize --imatrix on the GPU machine.
#
# Needs $MODEL_8B_F16 (the `prep` part makes /tmp/l8b/f16.gguf: Llama-3.1-8B
# shape, synthetic weights, llama31-tiny's tokenizer), ./bin/sattva and
# ./bin/llamacpp.test (cgo builds, staged by bench/gpu/stage.sh), $OUT.
#   1. GPU test: TestCollectIMatrixGPU — the collector's device-side column
#      sums and its host-copy path against the raw MUL_MAT inputs and
#      llama-imatrix's formula (stories260K on CUDA, 1e-4 relative).
#   2. Anchor: `sattva bench -p 512 -n 0 -r 100` on the F16 model (llama-bench's
#      pp512: 100 forward passes of 512 tokens after a warm-up).
#   3. `sattva imatrix` over 100 chunks of 512 tokens of text (the repository's
#      docs and Go sources, repeated), F16 model on the GPU. Goal: mean time
#      per chunk (after the first) within 1.1x of the pp512 pass. The imatrix
#      pass asks for every position's logits (as llama-imatrix does, so the
#      last layer sees every token), then stops before the output layer, so
#      neither the logits nor their copy are computed.
#   4. (unless IMX_QUANT=0) quantize F16 -> Q4_K_M with the Go quantizer, without and with the
#      imatrix of step 3 (all cores). Goal: with <= 1.2x without. Then the
#      same with --engine llamacpp, cmp'd with the Go file: llama.cpp's own
#      imatrix path costs more (its Q4_K search is longer with weights; about
#      1.8x per row in BenchmarkQuantizeRows), which is the reference.
# Appends a markdown table to $OUT/imatrix.md; logs and JSON beside it.
# Expected run time: about 5-6 minutes (three 75-130 s quantizations, the rest < 1 min).
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${OUT:?set OUT to the results folder}"
SATTVA="${SATTVA:-./bin/sattva}"
TESTBIN="${TESTBIN:-./bin/llamacpp.test}"
F16="${MODEL_8B_F16:-/tmp/l8b/f16.gguf}"
DIR="${IMX_DIR:-/tmp/imx}"
CHUNKS="${IMX_CHUNKS:-100}" CTX="${IMX_CTX:-512}" # smaller for a dry run on a small model
mkdir -p "$OUT" "$DIR"
md="$OUT/imatrix.md"
log="$OUT/imatrix.log"
: >"$log"
gpu="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || echo unknown)"
[ -f "$F16" ] || { echo "imatrix.sh: $F16 missing (run the prep part first)" | tee -a "$log"; exit 1; }
status=0

# 1. GPU test
gputest="not run"
if [ -x "$TESTBIN" ]; then
  if SATTVA_GPU_TEST=1 "$TESTBIN" -test.v -test.count=1 -test.run 'TestCollectIMatrix(GPU|MatchesFormula|CancelKeepsChunks)' >"$OUT/imatrix-gputest.txt" 2>&1; then
    gputest="PASS"
  else
    gputest="FAIL"; status=1
  fi
  grep -E '^\s+imatrix_test.go|^--- ' "$OUT/imatrix-gputest.txt" | tee -a "$log"
fi

# Text: at least 100 chunks of 512 tokens (about 4 bytes a token).
data="$DIR/text.txt"
: >"$data"
while [ "$(stat -c %s "$data")" -lt 900000 ]; do
  cat README.md docs/*.md */*.go >>"$data" 2>/dev/null
done

# 2. pp512 anchor
"$SATTVA" bench "$F16" -p "$CTX" -n 0 -r "$CHUNKS" --json >"$OUT/imatrix-bench.json" 2>>"$log" || status=1
pp_ms=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); t=[x for x in r["tests"] if x["name"].startswith("pp")][0]; print("%.2f" % (sum(t["samples_ns"])/len(t["samples_ns"])/1e6))' "$OUT/imatrix-bench.json" 2>>"$log" || echo "")

# 3. imatrix
t0=$(date +%s.%N)
"$SATTVA" imatrix "$F16" --data "$data" -c "$CTX" --chunks "$CHUNKS" -o "$DIR/imatrix.gguf" --json >"$OUT/imatrix-run.json" 2>>"$log" || status=1
t1=$(date +%s.%N)
im_ms=$(python3 -c 'import json,sys; print("%.2f" % json.load(open(sys.argv[1]))["chunk_ms"])' "$OUT/imatrix-run.json" 2>>"$log" || echo "")
im_chunks=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["chunks"])' "$OUT/imatrix-run.json" 2>>"$log" || echo "")
im_wall=$(python3 -c "print('%.1f' % ($t1 - $t0))")

# 4. quantize without and with the imatrix (IMX_QUANT=0: the timing of 1-3 only),
# IMX_QREPS times, alternating; with IMX_SCALAR=1 also the scalar search
# (SATTVA_QUANTIZE_SCALAR=1, the path without AVX2), in the same rounds.
q() { local t0 t1; t0=$(date +%s.%N); "$SATTVA" quantize -q "$@" >>"$log" 2>&1 || status=1; t1=$(date +%s.%N); python3 -c "print('%.1f' % ($t1 - $t0))"; }
qs() { SATTVA_QUANTIZE_SCALAR=1 q "$@"; }
mean() { python3 -c "import sys; v=[float(a) for a in sys.argv[1:]]; print('%.1f' % (sum(v)/len(v)) if v else '')" "$@"; }
q_plain="" q_im="" q_cim="" keys="not run" same="not run" scalar_rows=""
if [ "${IMX_QUANT:-1}" != 0 ]; then
  cat "$F16" >/dev/null
  plains=() ims=() splains=() sims=()
  for rep in $(seq 1 "${IMX_QREPS:-1}"); do
    plains+=("$(q "$F16" "$DIR/q4.gguf" Q4_K_M)")
    ims+=("$(q --imatrix "$DIR/imatrix.gguf" "$F16" "$DIR/q4im.gguf" Q4_K_M)")
    if [ "${IMX_SCALAR:-0}" = 1 ]; then
      splains+=("$(qs "$F16" "$DIR/q4scalar.gguf" Q4_K_M)")
      sims+=("$(qs --imatrix "$DIR/imatrix.gguf" "$F16" "$DIR/q4imscalar.gguf" Q4_K_M)")
    fi
  done
  q_plain=$(mean "${plains[@]}") q_im=$(mean "${ims[@]}")
  echo "quantize rounds: plain ${plains[*]} s, imatrix ${ims[*]} s" | tee -a "$log"
  keys=$("$SATTVA" gguf inspect "$DIR/q4im.gguf" 2>/dev/null | grep -c 'quantize.imatrix' || true)
  if [ "${IMX_SCALAR:-0}" = 1 ]; then
    pc="SATTVA_QUANTIZE_SCALAR=1"
    if cmp -s "$DIR/q4.gguf" "$DIR/q4scalar.gguf" && cmp -s "$DIR/q4im.gguf" "$DIR/q4imscalar.gguf"; then ssame=yes; else ssame=NO; status=1; fi
    scalar_rows="| quantize Q4_K_M, $pc (same rounds), no imatrix / --imatrix | ${splains[*]} / ${sims[*]} s | the scalar search |
| files of the scalar and the AVX2 search identical (both types) | $ssame | yes |"
  fi
  rm -f "$DIR/q4.gguf" "$DIR/q4scalar.gguf" "$DIR/q4imscalar.gguf"
  # llama.cpp's own cost of the imatrix path (its Q4_K search is longer with weights);
  # IMX_CIM=0 leaves it out (a short device budget).
  if [ "${IMX_CIM:-1}" != 0 ]; then
    q_cim=$(q --engine llamacpp --imatrix "$DIR/imatrix.gguf" "$F16" "$DIR/q4cim.gguf" Q4_K_M)
    if cmp -s "$DIR/q4im.gguf" "$DIR/q4cim.gguf"; then same="yes"; else same="NO"; status=1; fi
  fi
  rm -f "$DIR/q4im.gguf" "$DIR/q4cim.gguf"
fi

ratio() { python3 -c "import sys; a,b=sys.argv[1],sys.argv[2]; print('%.2fx' % (float(a)/float(b)) if a and b else 'n/a')" "$1" "$2"; }
{
  echo "### imatrix on $gpu ($(date -u +%Y-%m-%d), 8B-shaped F16, $(nproc) CPUs)"
  echo
  echo "| measurement | value | goal |"
  echo "|---|---|---|"
  echo "| TestCollectIMatrix (GPU device sums and host copies vs formula) | $gputest | pass |"
  echo "| sattva bench pp$CTX, mean of $CHUNKS passes | ${pp_ms:-?} ms | anchor |"
  echo "| sattva imatrix, $im_chunks chunks of $CTX, mean per chunk after the first | ${im_ms:-?} ms ($(ratio "$im_ms" "$pp_ms") of pp$CTX) | <= 1.1x |"
  echo "| sattva imatrix, whole command (load, tokenize, $im_chunks chunks, write) | ${im_wall} s | |"
  echo "| activations reduced on the device / MUL_MATs sharing one | $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%s / %s" % (r.get("device_reduced","?"), r.get("shared_reduced","?")))' "$OUT/imatrix-run.json" 2>/dev/null || echo "?") | |"
  echo "| quantize Q4_K_M (Go), no imatrix, mean of ${IMX_QREPS:-1} | ${q_plain} s (${plains[*]:-}) | anchor |"
  echo "| quantize Q4_K_M (Go), --imatrix, mean of ${IMX_QREPS:-1} | ${q_im} s (${ims[*]:-}; $(ratio "$q_im" "$q_plain")) | <= 1.2x |"
  if [ -n "$scalar_rows" ]; then echo "$scalar_rows"; fi
  echo "| quantize Q4_K_M --engine llamacpp --imatrix | ${q_cim} s ($(ratio "$q_cim" "$q_plain") of Go without) | reference |"
  echo "| Go and llama.cpp files with the imatrix identical | $same | yes |"
  echo "| quantize.imatrix.* keys in the output | $keys | 4 |"
  echo
} >>"$md"
cat "$md"
exit $status
