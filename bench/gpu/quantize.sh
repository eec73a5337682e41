#!/usr/bin/env bash
# bench/gpu/quantize.sh — sattva quantize on the GPU machine's CPUs (no GPU used).
#
# Needs /tmp/l8b/f16.gguf and /tmp/l8b/hf from bench/gpu/convert.sh (run it
# first, in the same session). Times, at the same thread count (all cores):
#   1. sattva quantize F16 -> Q4_K_M with the pure-Go quantizer,
#   2. the same with --engine llamacpp (llama.cpp's llama_model_quantize),
#   3. cmp of the two files (they must be byte-identical),
#   4. one-pass sattva convert HF -> Q4_K_M (no F16 file), cmp with 1.
# Anchors: llama-quantize F16 -> Q4_K_M about 75 s on this machine; llama.cpp's
# two steps (convert_hf_to_gguf.py 69 s + llama-quantize 75 s) about 144 s.
# Goals: Go <= 1.2x the C path; one-pass >= 2x faster than 144 s (<= 72 s).
# Leaves /tmp/l8b/q4_k_m.gguf (the Go output) for later steps; removes the
# other outputs. Appends a markdown table to $OUT/quantize.md.
# Expected run time: 4-7 minutes (three ~75 s quantizations, two 5 GB cmps).
#
# Run from the repository root: bash bench/gpu/quantize.sh
set -euo pipefail

OUT=${OUT:-/tmp/bench-out}
mkdir -p "$OUT"
BIN=${BIN:-./bin/sattva}
DIR=${DIR:-/tmp/l8b}
HF=$DIR/hf
F16=$DIR/f16.gguf
GO_OUT=$DIR/q4_k_m.gguf
C_OUT=$DIR/q4_k_m.llamacpp.gguf
ONE_OUT=$DIR/q4_k_m.onepass.gguf
TYPE=${TYPE:-Q4_K_M}
NCPU=$(nproc)
THREADS=${THREADS:-$NCPU}
REPORT=$OUT/quantize.md

for f in "$F16" "$HF/config.json" "$BIN"; do
  if [ ! -e "$f" ]; then
    echo "quantize.sh: $f missing (run bench/gpu/convert.sh first)" >&2
    exit 1
  fi
done

# shellcheck source=measure.sh
source "$(dirname "$0")/measure.sh"

# Same starting point for both engines: the F16 file in the page cache.
cat "$F16" > /dev/null
F16_BYTES=$(stat -c %s "$F16")

measure go "$BIN" quantize -q --threads "$THREADS" "$F16" "$GO_OUT" "$TYPE"
GO_WALL=$WALL GO_RSS=$RSS
sync
measure llamacpp "$BIN" quantize -q --engine llamacpp --threads "$THREADS" "$F16" "$C_OUT" "$TYPE"
C_WALL=$WALL C_RSS=$RSS
sync
OUT_BYTES=$(stat -c %s "$GO_OUT")
if cmp -s "$GO_OUT" "$C_OUT"; then SAME="yes"; else SAME="NO ($(cmp "$GO_OUT" "$C_OUT" 2>&1 | head -1 || true))"; fi
rm -f "$C_OUT"

# One pass from the HF folder (BF16 safetensors, in the page cache after convert.sh).
cat "$HF"/*.safetensors > /dev/null
measure onepass "$BIN" convert "$HF" --outtype "$TYPE" --threads "$THREADS" -q -o "$ONE_OUT"
ONE_WALL=$WALL ONE_RSS=$RSS
if cmp -s "$GO_OUT" "$ONE_OUT"; then ONE_SAME="yes"; else ONE_SAME="NO ($(cmp "$GO_OUT" "$ONE_OUT" 2>&1 | head -1 || true))"; fi
rm -f "$ONE_OUT"

py() { python3 -c "print($1)"; }
mib() { echo $(( $1 / 1024 )); }

{
  echo
  echo "## sattva quantize: F16 -> $TYPE, $(basename "$DIR") ($(date -u +%Y-%m-%dT%H:%MZ), $NCPU CPUs, --threads $THREADS, $(uname -r))"
  echo
  echo "Input $F16 ($F16_BYTES bytes, in the page cache); output $OUT_BYTES bytes."
  echo "Anchors on this machine: llama-quantize F16 -> Q4_K_M about 75 s; llama.cpp's two steps (convert 69 s + quantize 75 s) about 144 s."
  echo
  echo "| step | wall s | peak RSS MiB | vs llama.cpp in this run | vs anchor |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  echo "| sattva quantize (Go) | $GO_WALL | $(mib "$GO_RSS") | $(py "f'{$GO_WALL/$C_WALL:.2f}x time'") | $(py "f'{75/$GO_WALL:.2f}x faster than 75 s'") |"
  echo "| sattva quantize --engine llamacpp (llama_model_quantize) | $C_WALL | $(mib "$C_RSS") | 1.00x | $(py "f'{75/$C_WALL:.2f}x faster than 75 s'") |"
  echo "| one pass: sattva convert HF --outtype $TYPE | $ONE_WALL | $(mib "$ONE_RSS") | | $(py "f'{144/$ONE_WALL:.2f}x faster than 144 s'") |"
  echo
  echo "Go output byte-identical to llama.cpp's: $SAME. One-pass output identical to convert+quantize: $ONE_SAME."
  echo "Goals: Go <= 1.2x the C path (ratio above); one pass >= 2x faster than 144 s (<= 72 s). Left: $GO_OUT."
} >> "$REPORT"
tail -n 12 "$REPORT"
