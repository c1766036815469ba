#!/usr/bin/env bash
# Egress benchmark: bot-bottle's proxy vs mitmproxy vs a direct connection,
# in one run on this machine. Needs Go and Debian's mitmproxy package
# (apt-get install mitmproxy); without mitmdump the mitmproxy rows are
# skipped. Prints Markdown tables for docs/benchmarks.md.
#
#   bench/egress/run.sh                 5 s per scenario
#   DURATION=10s bench/egress/run.sh
#   GOMEMLIMIT_BOT_BOTTLE=off bench/egress/run.sh   (GOMEMLIMIT for the proxy; unset: its own 32 MiB soft limit)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/bot-bottle" ./cmd/bot-bottle
go build -o "$out/egress-bench" ./bench/egress
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3), $(mitmdump --version 2>/dev/null | head -1 || echo 'no mitmproxy')"
"$out/egress-bench" -bot-bottle "$out/bot-bottle" -duration "${DURATION:-5s}" -c "${CONCURRENCY:-8}" -gomemlimit "${GOMEMLIMIT_BOT_BOTTLE:-}"
echo
echo "go test -bench (in-process, DLP on):"
go test -run '^$' -bench . -benchtime "${BENCHTIME:-2s}" ./internal/egress/ | grep -E '^(Benchmark|ok)'
