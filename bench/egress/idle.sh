#!/usr/bin/env bash
# Parked-connection benchmark: opens 1,000 and 10,000 idle connections of
# each kind (silent, keep-alive, TLS tunnels, slow-body POSTs) against a
# real `bot-bottle egress serve` on loopback, and prints the proxy's RSS
# and the latency of a normal HTTPS request beside them; then a pass with
# short timeouts that counts the connections the proxy closed itself.
# Prints Markdown tables for docs/benchmarks.md.
#
#   bench/egress/idle.sh
#   N=1000 KINDS=tls,slowbody SHORT=0 bench/egress/idle.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
# 10,000 connections are 10,000 descriptors in the proxy and as many here.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt 10100 ] && [[ "${N:-1000,10000}" == *10000* ]]; then
	echo "idle.sh: ulimit -n is $(ulimit -n) (hard limit); 10,000 connections need more" >&2
	exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/bot-bottle" ./cmd/bot-bottle
go build -o "$out/egress-bench" ./bench/egress
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3), ulimit -n $(ulimit -n)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
"$out/egress-bench" idle -bot-bottle "$out/bot-bottle" -n "${N:-1000,10000}" -kinds "${KINDS:-silent,keepalive,tls,tls-used,slowbody}" -short "${SHORT:-10s}"
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
