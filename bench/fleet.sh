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
# Shares its measure with bench/fleet-k8s.sh (bench/fleet-lib.sh);
# bench/fleet-both.sh runs both in one go. Prints the time until every
# start returned (each attested and ran its command), each start's own
# time, the memory per bottle (mean, max), the sidecar's, the agent's,
# and the fleet's total, with the load average before and after. Everything it makes (containers, networks, state) is
# removed when it ends, however it ends: the bottles live under a HOME of
# its own and are found by their state-dir label. Needs a Docker engine
# with the seeded base images and cgroup v1 (Engine 20.10 here).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-20}
work=$(mktemp -d)
bin=$work/bot-bottle

. bench/lib-bottles.sh
. bench/fleet-lib.sh
cleanup() {
  set +e
  remove_ours
  rm -rf "$work"
  left=$( (ours; ours network) 2>/dev/null | wc -l)
  echo "cleaned up ($left left)"
}
trap cleanup EXIT

fleet_binary

fleet_start "$bin" start --keep --headless --prompt true

sleep 5 # let the sidecars settle
# total_rss (bytes) of a container's memory cgroup, cgroup v1.
rss() { awk '$1 == "total_rss" { print $2 }' "/sys/fs/cgroup/memory/docker/$1/memory.stat"; }
: >"$work/mem"
for id in $(ours); do
  role=$(docker inspect -f '{{index .Config.Labels "bot-bottle.role"}}' "$id")
  slug=$(docker inspect -f '{{index .Config.Labels "bot-bottle.slug"}}' "$id")
  echo "$slug $role $(rss "$id")" >>"$work/mem"
done
fleet_memory <"$work/mem"
