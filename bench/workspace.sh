#!/usr/bin/env bash
# bench/workspace.sh: start --cwd's copy-in figures for docs/benchmarks.md.
#   1. list + tar of 2,000 files of 8 KiB on the host (BenchmarkListPack)
#   2. the whole copy-in into a running bottle: tar, engine unpack,
#      snapshot in the agent (BenchmarkCopyIn; needs Docker and the seeded
#      base image)
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== list + pack on the host"
go test -run '^$' -bench ListPack -benchtime "${BENCHTIME:-20x}" ./internal/workspace/
echo "== copy-in into a bottle"
go test -run '^$' -bench CopyIn -benchtime "${BENCHTIME:-5x}" ./test/e2e/
