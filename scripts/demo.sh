#!/usr/bin/env bash
# make demo: the main job on the built-in default — the whole sattva pipeline on
# stories260K (testdata/stories260K/hf, MIT), on the CPU:
#   0. build bin/sattva (the first build compiles llama.cpp: minutes)
#   1. a small generated numerology dataset (sattva data gen numerology)
#   2. sattva data validate on it
#   3. sattva pipeline run examples/default/sattva.yaml:
#        train (LLaMA-Factory or the fallback LoRA trainer when installed, else
#        the native trainer: full-parameter training inside sattva through
#        sattva's own ggml training graph for a Llama) → export (GGUF, Modelfile, manifest.json)
#        → eval (40 numerology questions on unseen dates, base vs fine-tune)
#   4. the summary table, the loss curve, the report paths and how to serve it.
# Run it twice: the second run skips every stage whose inputs did not change.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-bin/sattva}"
PROJECT=examples/default/sattva.yaml
DATA=out/default/data/numerology.jsonl
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

echo "== 0. build $BIN"
echo "   (the first build compiles llama.cpp's C/C++ through cgo: several minutes on a"
echo "    small machine, silent while the compiler runs; later builds take seconds)"
t0=$(now)
go build -o "$BIN" ./cmd/sattva
t1=$(now)
echo "   built in $(secs "$t0" "$t1") s"

echo
echo "== 1. dataset: 400 generated English numerology examples -> $DATA"
mkdir -p "$(dirname "$DATA")"
"$BIN" data gen numerology -n 400 --seed 1 --lang-ratio 0 --from 01.01.1950 --to 31.12.2030 -o "$DATA"
head -2 "$DATA"

echo
echo "== 2. sattva data validate $DATA"
"$BIN" data validate "$DATA"

echo
echo "== 3. sattva pipeline run $PROJECT"
# --threads 1: a 260K-parameter model gains nothing from more threads, and
# llama.cpp's spinning thread pool slows to a crawl on a busy machine.
t2=$(now)
"$BIN" pipeline run "$PROJECT" --quiet --threads 1
t3=$(now)
echo "pipeline: $(secs "$t2" "$t3") s (build not counted)"

echo
echo "== 4. out/default/export/Modelfile"
cat out/default/export/Modelfile
echo
echo "HTML report: out/default/eval/report.html   (Markdown: out/default/eval/report.md)"
if command -v ollama >/dev/null 2>&1 || [ -x .tools/ollama ]; then
  echo "Serve it: sattva ollama create -p $PROJECT   (with ollama serve running), then: ollama run sattva-stories260k"
else
  echo "Serve it with Ollama (https://ollama.com, or scripts/install-ollama.sh): ollama serve, then"
  echo "  sattva ollama create -p $PROJECT && ollama run sattva-stories260k"
fi
