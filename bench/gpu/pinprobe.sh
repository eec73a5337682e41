#!/usr/bin/env bash
# bench/gpu/pinprobe.sh — is the tg128 loss after a pp test a host-memory
# effect? On a Llama-3.2-1B-shaped q4_K_M (real Llama 3 vocabulary, so 0.5 MB
# of logits per token as on the 8B), sattva pp512+tg128 against tg128 alone
# and tgbench, with llama.cpp's buffer lines from `-v`, and again under each
# VAR=VALUE of $PIN_ENVS (default GGML_CUDA_NO_PINNED=1). Writes $OUT/pinprobe.md.
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${OUT:?}" "${SATTVA_BACKEND_DIR:?}" "${TOK:?}"
G="${G:-/tmp/sattva-gpu}"; S="$G/bin/sattva"; T="$G/bin/tgbench"
m=/tmp/l1b/q4_k_m.gguf
if [ ! -f $m ]; then
  rm -rf /tmp/l1b && mkdir -p /tmp/l1b
  "$S" synth --shape llama3.2-1b --dtype bf16 --seed 1 -q --tokenizer "$TOK" /tmp/l1b/hf
  "$S" convert /tmp/l1b/hf --outtype f16 -q -o /tmp/l1b/f16.gguf
  "$S" quantize /tmp/l1b/f16.gguf $m Q4_K_M -q
fi
md="$OUT/pinprobe.md"
{
  echo "## pinprobe ($(date -u +%FT%TZ)), Llama-3.2-1B shape q4_K_M, FA on, 16 threads"
  echo
  for a in "-p 512 -n 128" "-p 0 -n 128"; do
    for e in "" ${PIN_ENVS:-GGML_CUDA_NO_PINNED=1}; do
      env $e "$S" bench $m --fa on -t 16 -r 5 $a -v >"$OUT/pin.out" 2>"$OUT/pin.err"
      echo "### sattva bench $a ${e:+($e)}"
      grep -E ' (pp|tg)[0-9]' "$OUT/pin.out" | sed 's/^/    /'
      sed 's/^time=[^ ]* //' "$OUT/pin.err" | grep -iE 'pinned|host|output buffer|compute buffer|KV buffer|splits' | sed 's/^/    /'
      echo
    done
  done
  echo "### tgbench"
  "$T" $m "$SATTVA_BACKEND_DIR" --fa on -t 16 -r 5 -p 512 -n 128 --free 1 2>/dev/null | sed 's/^/    /'
  "$T" $m "$SATTVA_BACKEND_DIR" --fa on -t 16 -r 5 -p 0 -n 128 2>/dev/null | sed 's/^/    /'
  for v in "--clear-data 1" "--explicit 1" "--clear-data 1 --explicit 1"; do
    echo "### tgbench --free 1 $v"
    "$T" $m "$SATTVA_BACKEND_DIR" --fa on -t 16 -r 5 -p 512 -n 128 --free 1 $v 2>/dev/null | sed 's/^/    /'
  done
} >"$md"
cat "$md"
