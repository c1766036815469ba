#!/usr/bin/env bash
# bench/fleet.sh: N bottles (default 20) started at once on the Docker
# engine, as docs/kubernetes.md's fleet figure was taken on the local
# cluster: N background `bot-bottle start --headless --keep --prompt true`,
# `wait`, then each bottle's memory as cgroup v1 `total_rss` (the
# containers' memory.stat), sidecar and agent apart.
#
#   bench/fleet.sh            N=20
#   N=5 bench/fleet.sh
#
# Prints the time until every start returned (each attested and ran its
# command), each start's own time, the memory per bottle (mean, max), the
# sidecar's, the agent's, and the fleet's total, with the load average
# before and after. Everything it makes (containers, networks, state) is
# removed when it ends, however it ends: the bottles live under a HOME of
# its own and are found by their state-dir label. Needs a Docker engine
# with the seeded base images and cgroup v1 (Engine 20.10 here).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-20}
work=$(mktemp -d)
bin=$work/bot-bottle

. bench/lib-bottles.sh
cleanup() {
  set +e
  remove_ours
  rm -rf "$work"
  left=$( (ours; ours network) 2>/dev/null | wc -l)
  echo "cleaned up ($left left)"
}
trap cleanup EXIT

CGO_ENABLED=0 go build -o "$bin" ./cmd/bot-bottle
export HOME=$work/home # after the build: the Go caches stay the user's
mkdir -p "$HOME"

echo "== warm-up: builds the images this binary needs"
"$bin" start --rm --headless --prompt true 2>"$work/warm.err" || {
  cat "$work/warm.err"
  exit 1
}

echo "== $n starts at once (load before: $(cut -d' ' -f1-3 /proc/loadavg))"
t0=$(date +%s.%N)
pids=()
for i in $(seq "$n"); do
  (
    s=$(date +%s.%N)
    "$bin" start --keep --headless --prompt true >"$work/out.$i" 2>"$work/err.$i"
    echo "$s $(date +%s.%N)" >"$work/time.$i"
  ) &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
t1=$(date +%s.%N)
echo "all $n returned in $(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.1f", a - b }') s; $failed failed (load after: $(cut -d' ' -f1-3 /proc/loadavg))"
if [ "$failed" -gt 0 ]; then
  for i in $(seq "$n"); do [ -s "$work/err.$i" ] && tail -3 "$work/err.$i"; done | sort | uniq -c | head
fi
cat "$work"/time.* | awk '{ d = $2 - $1; s += d; if (d > m) m = d } END { printf "each start: %.1f s mean, %.1f s max\n", s / NR, m }'
grep -h "probes stayed closed" "$work"/err.* | sed 's/.*: all/all/; s/;.*//' | sort | uniq -c

sleep 5 # let the sidecars settle
# total_rss (bytes) of a container's memory cgroup, cgroup v1.
rss() { awk '$1 == "total_rss" { print $2 }' "/sys/fs/cgroup/memory/docker/$1/memory.stat"; }
: >"$work/mem"
for id in $(ours); do
  role=$(docker inspect -f '{{index .Config.Labels "bot-bottle.role"}}' "$id")
  slug=$(docker inspect -f '{{index .Config.Labels "bot-bottle.slug"}}' "$id")
  echo "$slug $role $(rss "$id")" >>"$work/mem"
done
awk -v n="$n" '
  { b[$1] += $3; r[$2] += $3; c[$2]++ }
  END {
    for (s in b) { t += b[s]; k++; if (b[s] > m) m = b[s] }
    mib = 1048576
    printf "bottles measured: %d of %d\n", k, n
    printf "memory per bottle (total_rss): %.1f MiB mean, %.1f MiB max\n", t / k / mib, m / mib
    printf "  sidecar %.1f MiB mean, agent %.1f MiB mean\n", r["sidecar"] / c["sidecar"] / mib, r["agent"] / c["agent"] / mib
    printf "fleet total: %.1f MiB\n", t / mib
  }' "$work/mem"
