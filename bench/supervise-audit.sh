#!/bin/sh
# Audit log costs: one append to a 1000-line log (flock, read, write, fsync,
# checkpoint) and a --verify of a 10,000-line log. Figures: docs/benchmarks.md.
set -eu
cd "$(dirname "$0")/.."
go test ./internal/supervise/audit/ -run '^$' -bench . -benchtime "${BENCHTIME:-100x}" -count "${COUNT:-3}"
