#!/usr/bin/env bash
# Runs sattva's catalogue of hostile input files (internal/hostile/hostilegen)
# through the sattva binary, each in a child shell under `ulimit -v` (2 GB by
# default) and a time limit. A case passes when sattva exits 3 (invalid
# input), or 1 for a dataset whose report names the rule (an issue kind), with
# no signal, no crash report (gdb backtrace, GGML_ASSERT, Go panic) and no
# file left behind. Prints one line per failure and a summary table.
#
#   scripts/hostile.sh [OUT_DIR]     (needs a cgo build: go build -o bin/sattva ./cmd/sattva)
set -u
OUT=${1:-/tmp/sattva-hostile}
SATTVA=${SATTVA:-bin/sattva}
LIMIT_KB=${LIMIT_KB:-2000000}
TIMEOUT=${TIMEOUT:-120}
[ -x "$SATTVA" ] || { echo "hostile.sh: build $SATTVA first (go build -o bin/sattva ./cmd/sattva)" >&2; exit 2; }
SATTVA=$(cd "$(dirname "$SATTVA")" && pwd)/$(basename "$SATTVA")
if [ "${REUSE:-0}" != 1 ] || [ ! -f "$OUT/manifest.tsv" ]; then
  rm -rf "$OUT" && go run ./internal/hostile/hostilegen -o "$OUT" >/dev/null || exit 2
fi
cd "$OUT" || exit 2
tiny=$PWD/tiny.gguf
pass=0 fail=0
declare -A kpass kfail
while IFS=$'\t' read -r kind name rel; do
  work=$(mktemp -d)
  in=$PWD/$rel
  case $kind in
    gguf-model) cmd=("$SATTVA" run "$in" -p hi -n 1 --ngl 0); ok="3" ;;
    gguf-lora)  cmd=("$SATTVA" run "$tiny" --lora "$in" -p hi -n 1 --ngl 0); ok="3" ;;
    hf)         cmd=("$SATTVA" convert "$in" -o "$work/out.gguf" -q); ok="3" ;;
    jsonl)      cmd=("$SATTVA" data validate -q "$in"); ok="1 3" ;;
    yaml)       cmd=("$SATTVA" eval "$in" --model "$tiny" -o "$work/report" -q); ok="3" ;;
  esac
  out=$( cd "$work" && (ulimit -v "$LIMIT_KB"; timeout -s KILL "$TIMEOUT" "${cmd[@]}" </dev/null 2>&1); echo "rc=$?" )
  rc=${out##*rc=}
  why=""
  case " $ok " in *" $rc "*) ;; *) why="exit $rc" ;; esac
  [ "$rc" -ge 128 ] && why="signal $((rc - 128))"
  if grep -qE 'GGML_ASSERT|GGML_ABORT|libthread_db|^#[0-9]+ |panic:|goroutine [0-9]+ \[|SIGSEGV|terminate called|AddressSanitizer' <<<"$out"; then why="${why:+$why, }crash report in output"; fi
  if [ "$kind" = jsonl ] && [ "$rc" = 1 ] && ! grep -qE '[a-z-]+ +error +[0-9]+' <<<"$out"; then why="${why:+$why, }exit 1 without a rule"; fi
  left=$(find "$work" -mindepth 1 | head -3)
  [ -n "$left" ] && why="${why:+$why, }left $left"
  if [ -z "$why" ]; then pass=$((pass+1)); kpass[$kind]=$(( ${kpass[$kind]:-0} + 1 ));
  else fail=$((fail+1)); kfail[$kind]=$(( ${kfail[$kind]:-0} + 1 )); echo "FAIL $kind $name: $why"; echo "$out" | tail -3 | sed 's/^/    /'; fi
  rm -rf "$work"
done < manifest.tsv
echo
echo "| kind | files | pass | fail |"
echo "| --- | ---: | ---: | ---: |"
for k in gguf-model gguf-lora hf jsonl yaml; do
  echo "| $k | $(( ${kpass[$k]:-0} + ${kfail[$k]:-0} )) | ${kpass[$k]:-0} | ${kfail[$k]:-0} |"
done
echo "| total | $((pass + fail)) | $pass | $fail |"
[ "$fail" -eq 0 ]
