#!/bin/sh
# bot-bottle logs: read, redact, merge and format a 10,000-line egress log
# and a 10,000-line dns log (4.6 MB). Figures: docs/benchmarks.md.
set -eu
cd "$(dirname "$0")/.."
go test ./internal/logview/ -run '^$' -bench ReadFormat -benchtime "${BENCHTIME:-5x}" -count "${COUNT:-3}" -cpuprofile "${TMPDIR:-/tmp}/logview-cpu.out"
