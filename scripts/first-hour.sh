#!/usr/bin/env bash
# scripts/first-hour.sh — walks docs/first-hour.md line for line on a fresh
# folder and checks every step's exit code and the words it must print. The
# download is replaced by `sattva synth --shape mini` (a 67M-parameter
# Llama-3.1-shaped checkpoint with the real Llama 3 tokenizer from
# $SATTVA_TESTDATA/llama31-tiny/hf, random weights, rows every quantized type
# takes); nothing else differs from what a user types.
#
#   scripts/first-hour.sh [path/to/sattva]     (default: bin/sattva, built if missing)
#
# The list of steps below must equal the commands of the guide's sh blocks,
# in order: the script fails when the guide and the walk drift apart.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SATTVA=${1:-$REPO/bin/sattva}
TD=$(cd "${SATTVA_TESTDATA:-../shared/testdata}" && pwd) || { echo "no test data at ${SATTVA_TESTDATA:-../shared/testdata}"; exit 1; }
GUIDE=$REPO/docs/first-hour.md
if [ ! -x "$SATTVA" ]; then
  go build -o "$SATTVA" ./cmd/sattva || exit 1
fi
# The walk runs in a folder of its own: a relative path (.ci/run passes
# bin/sattva) is made absolute first.
SATTVA=$(cd "$(dirname "$SATTVA")" && pwd)/$(basename "$SATTVA")

# expected exit codes (| separated) | text the output must hold ("" none) | command as in the guide
steps=(
  "0||sattva version"
  "0|1|local inference|sattva doctor"
  "0|huggingface-cli download meta-llama/Llama-3.1-8B|sattva init my-sattva"
  "0||cd my-sattva"
  "0|Karma: 5|sattva numerology 29.01.1988 --lang en"
  "0||sattva data gen numerology -n 200 --seed 1 -o data/private/datasets/more.jsonl"
  "0||sattva data validate data/private/datasets/sattva_instruct_v1.jsonl"
  "0|base model not downloaded yet|sattva train --print-config"
  "0|llama3.1-8b|sattva plan train --vram 12GB"
  "1|needs: the base model: huggingface-cli download meta-llama/Llama-3.1-8B|sattva pipeline run --dry-run"
  "3|huggingface-cli download meta-llama/Llama-3.1-8B --local-dir|sattva export"
  "0||huggingface-cli download meta-llama/Llama-3.1-8B --local-dir models/llama-3.1-8b"
  "0||sattva data validate data/private/datasets/sattva_instruct_v1.jsonl --tokenizer models/llama-3.1-8b --cutoff 2048"
  "0|would:|sattva pipeline run --dry-run"
  "0|1|train|sattva train"
  "0||sattva convert models/llama-3.1-8b -o out/base.f16.gguf"
  "0|general.architecture|sattva gguf inspect out/base.f16.gguf"
  "0||sattva run out/base.f16.gguf -p \"Compute the five numbers for 05.11.2004\" -n 16"
  "0|Modelfile|sattva export"
  "0|passed|sattva eval data/private/eval/control.yaml -m out/export/sattva-llama31-8b-q8_0.gguf -n 16 -o out/eval-first"
  "0|1|eval|sattva pipeline run"
)

# The guide's commands: lines of its sh blocks, comments cut.
mapfile -t guide < <(awk '/^```sh$/{b=1;next} /^```$/{b=0} b && NF' "$GUIDE" | sed -E 's/[[:space:]]+#.*$//; s/[[:space:]]+$//')
mine=()
for s in "${steps[@]}"; do mine+=("${s##*|}"); done
if [ "${#guide[@]}" -ne "${#mine[@]}" ]; then
  echo "FAIL: the guide has ${#guide[@]} commands, this walk ${#mine[@]}"; printf '  guide: %s\n' "${guide[@]}"; exit 1
fi
for i in "${!guide[@]}"; do
  if [ "${guide[$i]}" != "${mine[$i]}" ]; then
    echo "FAIL: step $((i+1)): the guide says '${guide[$i]}', the walk runs '${mine[$i]}'"; exit 1
  fi
done

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
export HF_HUB_CACHE="$W/hf-cache" # no models from the user's own cache
pass=0 fail=0
for s in "${steps[@]}"; do
  cmd=${s##*|}
  rest=${s%|*}
  want=${rest%|*}
  text=${rest##*|}
  [ "$want" = "$rest" ] && text=""
  case "$cmd" in
    cd\ *) eval "$cmd"; continue ;;
    huggingface-cli\ *) # the stand-in for the download
      "$SATTVA" synth --shape mini --seed 1 -q --tokenizer "$TD/llama31-tiny/hf" models/llama-3.1-8b || exit 1
      continue ;;
  esac
  out=$(eval "\"$SATTVA\" ${cmd#sattva }" 2>&1 </dev/null)
  code=$?
  ok=1
  [[ "|$want|" == *"|$code|"* ]] || ok=0
  if [ -n "$text" ] && [[ "$out" != *"$text"* ]]; then ok=0; fi
  if [ $ok = 1 ]; then
    pass=$((pass+1)); echo "ok    exit $code  $cmd"
  else
    fail=$((fail+1)); echo "FAIL  exit $code (want $want${text:+, output with \"$text\"})  $cmd"
    echo "$out" | tail -n 15 | sed 's/^/      /'
  fi
done
echo "first hour: $pass passed, $fail failed"
[ $fail = 0 ]
