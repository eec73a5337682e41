#!/usr/bin/env bash
# make demo: the main job on the built-in default — the whole sattva pipeline on
# stories260K (testdata/stories260K/hf, MIT), on the CPU:
#   1. a small generated numerology dataset (sattva data gen numerology)
#   2. sattva pipeline run examples/default/sattva.yaml:
#        data validate → train (LLaMA-Factory or the fallback trainer; skipped, and
#        said so, when neither is installed) → export (GGUF, q8_0, Modelfile,
#        manifest.json) → eval (40 numerology questions on unseen dates)
#   3. the Modelfile, and how to serve it with Ollama.
# Run it twice: the second run skips every stage whose inputs did not change.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-bin/sattva}"
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/sattva
PROJECT=examples/default/sattva.yaml
DATA=out/default/data/numerology.jsonl

echo "== 1. dataset: 400 generated English numerology examples -> $DATA"
mkdir -p "$(dirname "$DATA")"
"$BIN" data gen numerology -n 400 --seed 1 --lang-ratio 0 --from 01.01.1950 --to 31.12.2030 -o "$DATA"
head -2 "$DATA"

echo
echo "== 2. sattva pipeline run $PROJECT"
# --threads 1: a 260K-parameter model gains nothing from more threads, and
# llama.cpp's spinning thread pool slows to a crawl on a busy machine.
"$BIN" pipeline run "$PROJECT" --quiet --threads 1

echo
echo "== 3. out/default/export/Modelfile"
cat out/default/export/Modelfile
echo
if command -v ollama >/dev/null 2>&1 || [ -x .tools/ollama ]; then
  echo "Serve it: sattva ollama create -p $PROJECT   (with ollama serve running), then: ollama run sattva-stories260k"
else
  echo "Serve it with Ollama (https://ollama.com, or scripts/install-ollama.sh): ollama serve, then"
  echo "  sattva ollama create -p $PROJECT && ollama run sattva-stories260k"
fi
echo "Train for real: install LLaMA-Factory (pip install llamafactory) or torch+transformers+peft, then run make demo again."
