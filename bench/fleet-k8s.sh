#!/usr/bin/env bash
# bench/fleet-k8s.sh: bench/fleet.sh's measure on the local Kubernetes
# cluster. Brings the cluster up (scripts/local-cluster.sh up), imports the
# images this binary's plan names (bot-bottle/agent-shell:latest and
# bot-bottle/sidecar:latest, built on Docker by a warm-up start there),
# starts N bottles (default 20) at once with BOT_BOTTLE_BACKEND=kubernetes
# in a namespace of its own (a copy of the admin kubeconfig names it),
# then reads each pod's memory as cgroup v1 `total_rss`: the pod's cgroup
# (kubepods/<qos>/pod<uid>) and each container's under it, named by the
# pod's container statuses.
#
#   bench/fleet-k8s.sh        N=20
#   N=5 bench/fleet-k8s.sh
#
# However it ends it deletes every labelled pod, Secret and ConfigMap in
# its namespace through the API (and says how many are left: 0), then
# the namespace (a new one each run), removes its Docker warm-up, and takes the cluster down.
# Needs root (the cluster), Docker with the seeded base images, cgroup v1.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-20}
ns=${FLEET_NAMESPACE:-bot-bottle-fleet-$(date +%s)} # a run's own
work=$(mktemp -d)
bin=$work/bot-bottle
cluster=scripts/local-cluster.sh
images="bot-bottle/agent-shell:latest bot-bottle/sidecar:latest"
admin=
unset BOT_BOTTLE_BACKEND # the warm-up is on Docker

. bench/lib-bottles.sh
. bench/fleet-lib.sh
k() { kubectl --kubeconfig "$admin" -n "$ns" "$@"; }
labelled() { k get pods,secrets,configmaps -l bot-bottle.slug -o name 2>/dev/null; }
cleanup() {
  set +e
  if [ -n "$admin" ]; then
    k delete pods,secrets,configmaps -l bot-bottle.slug --grace-period=0 --force --wait=true --timeout=60s >/dev/null 2>&1
    echo "cluster: $(labelled | wc -l) labelled objects left in namespace $ns"
    kubectl --kubeconfig "$admin" delete namespace "$ns" --wait=true --timeout=60s >/dev/null 2>&1
    echo "cluster: fleet namespaces left: $(kubectl --kubeconfig "$admin" get namespaces -o name 2>/dev/null | grep -c bot-bottle-fleet)"
  fi
  remove_ours
  echo "docker: $( (ours; ours network) 2>/dev/null | wc -l) containers and networks left"
  bash "$cluster" down
  rm -rf "$work"
}
trap cleanup EXIT

fleet_binary
for i in $images; do echo "  $i $(docker image inspect -f '{{.Id}}' "$i")"; done

echo "== cluster up (load before: $(cut -d' ' -f1-3 /proc/loadavg))"
t=$SECONDS
bash "$cluster" up
admin=$(bash "$cluster" env | sed 's/^export KUBECONFIG=//')
# shellcheck disable=SC2086 # one word per image
bash "$cluster" import $images
echo "cluster up and images imported in $((SECONDS - t)) s; pods already on the node: $(kubectl --kubeconfig "$admin" get pods -A --no-headers 2>/dev/null | wc -l)"
kubectl --kubeconfig "$admin" create namespace "$ns" >/dev/null
# A pod needs the namespace's default service account, which the
# controller manager makes a moment after the namespace.
for _ in $(seq 60); do k get serviceaccount default >/dev/null 2>&1 && break; sleep 1; done
export KUBECONFIG=$work/kubeconfig BOT_BOTTLE_BACKEND=kubernetes
sed "s/namespace: default/namespace: $ns/" "$admin" >"$KUBECONFIG"
grep -q "namespace: $ns" "$KUBECONFIG" || {
  echo "the kubeconfig copy names no namespace $ns" >&2
  exit 1
}

echo "== warm-up on the cluster"
"$bin" start --rm --headless --prompt true 2>"$work/warm.err" || {
  cat "$work/warm.err"
  exit 1
}

fleet_start "$bin" start --keep --headless --prompt true
k get pods -l bot-bottle.slug --no-headers | awk '{ c[$3]++ } END { for (s in c) printf "pods %s: %d\n", s, c[s] }'

sleep 5 # let the sidecars settle
rss() { [ -f "$1/memory.stat" ] && awk '$1 == "total_rss" { print $2 }' "$1/memory.stat"; }
: >"$work/mem"
k get pods -l bot-bottle.slug -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.uid}{range .status.initContainerStatuses[*]} {.name}={.containerID}{end}{range .status.containerStatuses[*]} {.name}={.containerID}{end}{"\n"}{end}' |
  while read -r pod uid containers; do
    dir=$(find /sys/fs/cgroup/memory/kubepods -maxdepth 2 -type d -name "pod$uid" | head -1)
    [ -n "$dir" ] || continue
    echo "$pod pod $(rss "$dir")"
    for c in $containers; do
      m=$(rss "$dir/${c#*=containerd://}") || continue # the wall has exited
      echo "$pod ${c%%=*} $m"
    done
  done >>"$work/mem"
fleet_memory <"$work/mem"
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
