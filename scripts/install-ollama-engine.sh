#!/usr/bin/env bash
# Builds Ollama at the module version sattva's engine pins (github.com/ollama/ollama v0.24.0,
# llama.cpp ec98e2002) into <repo>/.tools/ollama-engine/ollama, beside the integration tests'
# Ollama v0.6.5 (scripts/install-ollama.sh), so both can serve the same prompts.
#
# The module zip of v0.24.0 lacks llama.cpp's vendor/ folder, whose headers its cgo packages
# include: nlohmann/json.hpp (common/, llama/sampling_ext.cpp), stb/stb_image.h and
# miniaudio/miniaudio.h (tools/mtmd). This script supplies them from
#   - Debian's nlohmann-json3-dev and libstb-dev (apt-get install -y nlohmann-json3-dev libstb-dev),
#   - the miniaudio.h that the Go module github.com/gen2brain/malgo carries (no Debian package),
# through a temporary include folder named in CGO_CPPFLAGS for this build only.
# Takes several minutes on 2 cores (it compiles llama.cpp with cgo); runs under nice.
#
#   scripts/install-ollama-engine.sh
set -euo pipefail
cd "$(dirname "$0")/.."
version="${OLLAMA_ENGINE_VERSION:-v0.24.0}"
malgo="${MALGO_VERSION:-v0.11.24}"
tools="$PWD/.tools/ollama-engine"
mkdir -p "$tools"
if [ -x "$tools/ollama" ] && "$tools/ollama" --version 2>/dev/null | grep -q "${version#v}"; then
  echo "ollama ${version} already at $tools/ollama"
  exit 0
fi
for h in /usr/include/nlohmann/json.hpp /usr/include/stb/stb_image.h; do
  [ -f "$h" ] || { echo "missing $h: apt-get install -y nlohmann-json3-dev libstb-dev" >&2; exit 1; }
done
mdir=$(go mod download -json "github.com/gen2brain/malgo@${malgo}" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
[ -f "$mdir/miniaudio.h" ] || { echo "no miniaudio.h in github.com/gen2brain/malgo@${malgo} ($mdir)" >&2; exit 1; }
vendor=$(mktemp -d)
trap 'rm -rf "$vendor"' EXIT
mkdir -p "$vendor/miniaudio"
cp "$mdir/miniaudio.h" "$vendor/miniaudio/"
echo "building github.com/ollama/ollama@${version} into $tools (vendor headers: Debian + malgo ${malgo})"
GOBIN="$tools" CGO_ENABLED=1 CGO_CPPFLAGS="-I$vendor" GOFLAGS="${GOFLAGS:-} -mod=mod" nice -n 10 go install \
  -ldflags "-X github.com/ollama/ollama/version.Version=${version#v}" \
  "github.com/ollama/ollama@${version}"
"$tools/ollama" --version || true
echo "ollama installed: $tools/ollama"
