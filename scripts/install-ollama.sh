#!/usr/bin/env bash
# Installs the pinned Ollama (github.com/ollama/ollama@v0.6.5) into <repo>/.tools/ollama
# with `go install`, for the pipeline's Ollama integration test and `sattva ollama create`.
# Takes about 4 minutes on 2 cores (it builds Ollama's cgo llama runner). Idempotent: does
# nothing when .tools/ollama already reports the pinned version.
#
#   scripts/install-ollama.sh            # install
#   OLLAMA_VERSION=v0.6.5 scripts/install-ollama.sh
set -euo pipefail
cd "$(dirname "$0")/.."
version="${OLLAMA_VERSION:-v0.6.5}"
tools="$PWD/.tools"
mkdir -p "$tools"
if [ -x "$tools/ollama" ] && "$tools/ollama" --version 2>/dev/null | grep -q "${version#v}"; then
  echo "ollama ${version} already at $tools/ollama"
  exit 0
fi
echo "installing github.com/ollama/ollama@${version} into $tools (takes a few minutes)"
# -ldflags sets the version string `ollama --version` prints (the module leaves it at 0.0.0).
GOBIN="$tools" CGO_ENABLED=1 GOFLAGS="${GOFLAGS:-} -mod=mod" go install \
  -ldflags "-X github.com/ollama/ollama/version.Version=${version#v}" \
  "github.com/ollama/ollama@${version}"
"$tools/ollama" --version || true
echo "ollama installed: $tools/ollama"
