#!/usr/bin/env bash
# bench/fleet-both.sh: the fleet figure of docs/benchmarks.md, both halves
# in one run: N bottles (default 20) started at once on Docker
# (bench/fleet.sh), then on the local Kubernetes cluster
# (bench/fleet-k8s.sh, which brings the cluster up and takes it down).
# Each half removes everything it made, however it ends.
#
#   bench/fleet-both.sh       N=20
set -uo pipefail
cd "$(dirname "$0")/.."
echo "== fleet, $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD), N=${N:-20}"
echo "=== Docker (load before: $(cut -d' ' -f1-3 /proc/loadavg))"
bench/fleet.sh
d=$?
echo "=== Docker done: exit $d (load after: $(cut -d' ' -f1-3 /proc/loadavg))"
# Let the Docker fleet's load fall (1-minute average under 2, at most
# 3 minutes) so both halves start from alike loads.
for _ in $(seq 36); do awk '{ exit !($1 < 2) }' /proc/loadavg && break; sleep 5; done
echo "=== Kubernetes (load before: $(cut -d' ' -f1-3 /proc/loadavg))"
bench/fleet-k8s.sh
c=$?
echo "=== Kubernetes done: exit $c (load after: $(cut -d' ' -f1-3 /proc/loadavg))"
[ "$d" = 0 ] && [ "$c" = 0 ]
