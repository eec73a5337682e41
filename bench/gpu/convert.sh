#!/usr/bin/env bash
# bench/gpu/convert.sh — sattva convert on the GPU machine's CPUs (no GPU used).
#
# Writes a random-weight Llama-3.1-8B-shaped checkpoint (BF16, 4 shards, ~16 GB)
# with `sattva synth`, converts it to F16 GGUF with `sattva convert`, timing wall
# clock and peak RSS of each step, beside a plain copy of one shard, and
# compares with the anchor: llama.cpp's convert_hf_to_gguf.py on this checkpoint
# shape, about 69 s wall and 4.2 GB peak on an H200 host (goal: >=5x faster,
# <1 GB peak). Leaves /tmp/l8b/hf and /tmp/l8b/f16.gguf for later steps.
# Appends a markdown table to $OUT/convert.md. Expected run time: 1-3 minutes.
#
# Run from the repository root: bash bench/gpu/convert.sh
# Local smoke test: SHAPE=tiny DIR=/tmp/x OUT=/tmp/x/out NO_DROP=1 bash bench/gpu/convert.sh
set -euo pipefail
# Disk: at most ~32 GB at once under $DIR (the BF16 checkpoint and one copy or GGUF).

OUT=${OUT:-/tmp/bench-out}
mkdir -p "$OUT"
BIN=./bin/sattva
SHAPE=${SHAPE:-llama3.1-8b}   # tiny for a local smoke test of this script
DIR=${DIR:-/tmp/l8b}
HF=$DIR/hf
GGUF=$DIR/f16.gguf
mkdir -p "$DIR"
NCPU=$(nproc)
REPORT=$OUT/convert.md

# shellcheck source=measure.sh
source "$(dirname "$0")/measure.sh"

drop_caches() {
  sync
  if [ -n "${NO_DROP:-}" ]; then echo "kept (NO_DROP set)"; return; fi
  if [ -w /proc/sys/vm/drop_caches ]; then
    echo 3 > /proc/sys/vm/drop_caches && echo "dropped" && return
  fi
  echo "not dropped (no permission)"
}

# The real Llama 3 tokenizer when the shared test data is there, else synth's
# minimal built-in one.
TOK=${TOK:-../shared/testdata/llama31-tiny/hf}
TOKARG=()
if [ -f "$TOK/tokenizer.json" ]; then TOKARG=(--tokenizer "$TOK"); fi

mbps() { python3 -c "print(f'{$1/1e6/$2:.0f}')"; }
ratio() { python3 -c "print(f'{69/$1:.1f}x')"; }
mib() { echo $(( $1 / 1024 )); }
row() { echo "$*" >> "$REPORT"; }

# The table is written row by row, so a step that runs out of time still
# leaves the rows before it.
{
  echo
  echo "## sattva convert: $SHAPE shape, BF16 -> F16 ($(date -u +%Y-%m-%dT%H:%MZ), $NCPU CPUs, $(uname -r))"
  echo
  echo "Anchor: llama.cpp convert_hf_to_gguf.py --outtype f16 on the Llama-3.1-8B shape, about 69 s wall and 4.2 GB peak RSS (H200 host)."
  echo "Goal: >=5x faster than the anchor (<=13.8 s) and <1 GB peak RSS. MB/s are of the BF16 source bytes."
  echo
  echo "| step | wall s | peak RSS MiB | MB/s | vs anchor wall |"
  echo "| --- | ---: | ---: | ---: | ---: |"
} >> "$REPORT"

rm -rf "$HF" "$GGUF"
measure synth "$BIN" synth --shape "$SHAPE" --dtype bf16 --seed 1 -q ${TOKARG[@]+"${TOKARG[@]}"} "$HF"
SRC_BYTES=$(du -cb "$HF"/*.safetensors | tail -1 | cut -f1)
NSHARDS=$(ls "$HF"/*.safetensors | wc -l)
row "| sattva synth ($SRC_BYTES bytes of BF16 in $NSHARDS shards) | $WALL | $(mib "$RSS") | $(mbps "$SRC_BYTES" "$WALL") | |"

# Conversion with the source in the page cache (it was just written).
measure convert-warm "$BIN" convert "$HF" --outtype f16 -q -o "$GGUF"
OUT_BYTES=$(stat -c %s "$GGUF")
row "| sattva convert --outtype f16, source in page cache ($OUT_BYTES bytes out, fsynced) | $WALL | $(mib "$RSS") | $(mbps "$SRC_BYTES" "$WALL") | $(ratio "$WALL") |"
row "| llama.cpp convert_hf_to_gguf.py (anchor) | 69 | 4200 | $(mbps "$SRC_BYTES" 69) | 1.0x |"

# Plain copy of the first shard (read + write + sync) as the I/O floor.
FIRST=$(ls "$HF"/*.safetensors | head -1)
FIRST_BYTES=$(stat -c %s "$FIRST")
measure copy bash -c "cat '$FIRST' > '$DIR/copy.bin' && sync"
rm -f "$DIR/copy.bin"
row "| plain copy of one shard ($FIRST_BYTES bytes; cat > file; sync) | $WALL | | $(mbps "$FIRST_BYTES" "$WALL") | |"

# Conversion after dropping the page cache, when permitted. The first output
# is removed first so that the disk never holds two 16 GB GGUFs at once.
rm -f "$GGUF"
CACHE=$(drop_caches)
measure convert-cold "$BIN" convert "$HF" --outtype f16 -q -o "$GGUF"
row "| sattva convert --outtype f16, page cache $CACHE | $WALL | $(mib "$RSS") | $(mbps "$SRC_BYTES" "$WALL") | $(ratio "$WALL") |"
row ""
row "Left for later steps: $HF, $GGUF."
tail -n 16 "$REPORT"
