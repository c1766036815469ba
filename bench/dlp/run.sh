#!/bin/sh
# DLP benchmarks: our detectors against gitleaks' own detector on the same
# input, one core. Usage: bench/dlp/run.sh [benchtime]   (default 2s)
#
# Reports MB/s (wall clock) and cpu-MB/s (bytes per CPU-second of the
# process): on a shared machine the second is the per-core figure.
set -eu
cd "$(dirname "$0")/../.."
bt=${1:-2s}
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "go: $(go version | cut -d' ' -f3)"
go test -run '^$' -bench . -benchtime "$bt" -cpu 1 ./internal/dlp/ | grep -E '^(Benchmark|ok|FAIL)'
echo "--- dense corpus (prompt lines crowded with secret words), gitleaks for comparison:"
DLP_BENCH_DENSE=1 go test -run '^$' -bench 'GitleaksDetector' -benchtime "$bt" -cpu 1 ./internal/dlp/ | grep -E '^Benchmark'
