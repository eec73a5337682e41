#!/usr/bin/env bash
# Short runs of every fuzz target, for CI. Long runs: go test -fuzz=NAME -fuzztime=10m ./PKG
set -euo pipefail
cd "$(dirname "$0")/.."
t="${FUZZTIME:-10s}"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $f ($t)"
    go test -run='^$' -fuzz="^${f}\$" -fuzztime="$t" "$pkg"
  done
done
