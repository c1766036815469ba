#!/usr/bin/env bash
# Egress benchmark: bot-bottle's proxy vs mitmproxy vs a direct connection,
# in one run on this machine. Needs Go and Debian's mitmproxy package
# (apt-get install mitmproxy); without mitmdump the mitmproxy rows are
# skipped. Prints Markdown tables for docs/benchmarks.md.
#
#   bench/egress/run.sh                 5 s per scenario
#   DURATION=10s bench/egress/run.sh
#   GOMEMLIMIT_BOT_BOTTLE=off bench/egress/run.sh   (GOMEMLIMIT for the proxy; unset: its own 32 MiB soft limit)
#   PROFILE_DIR=/tmp/p bench/egress/run.sh   (egress serve's cpu.pprof and mem.pprof, and the binary, kept there)
#   SKIP_GOTEST=1 bench/egress/run.sh        (no go test -bench at the end)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/bot-bottle" ./cmd/bot-bottle
go build -o "$out/egress-bench" ./bench/egress
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3), $(mitmdump --version 2>/dev/null | head -1 || echo 'no mitmproxy')"
echo "load: $(uptime | sed 's/.*load average/load average/')"
if [ -n "${PROFILE_DIR:-}" ]; then
  mkdir -p "$PROFILE_DIR"
  cp "$out/bot-bottle" "$PROFILE_DIR/bot-bottle"
fi
"$out/egress-bench" -bot-bottle "$out/bot-bottle" -duration "${DURATION:-5s}" -c "${CONCURRENCY:-8}" \
  -gomemlimit "${GOMEMLIMIT_BOT_BOTTLE:-}" -profile-dir "${PROFILE_DIR:-}" -only "${ONLY:-}"
echo "load: $(uptime | sed 's/.*load average/load average/')"
if [ -n "${PROFILE_DIR:-}" ]; then
  echo "profiles: go tool pprof -top $PROFILE_DIR/bot-bottle $PROFILE_DIR/cpu.pprof"
fi
[ -n "${SKIP_GOTEST:-}" ] && exit 0
echo
echo "go test -bench (in-process, DLP on):"
go test -run '^$' -bench 'SmallKeepAlive|POST64KiB|Response1MiB|Scan64KiB' -benchmem -benchtime "${BENCHTIME:-2s}" ./internal/egress/ | grep -E '^(Benchmark|ok)'
