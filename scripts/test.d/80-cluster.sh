#!/usr/bin/env bash
# The Kubernetes backend on a real cluster: scripts/local-cluster.sh up,
# the cluster tests (conformance, attestation, a token through a route and
# supervise approving live, start/diff/export/cleanup through the binary,
# the sidecar's DNS), then down, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/../.."

missing() {
	echo "cluster stage: $1; skipped"
	if [ "${BOT_BOTTLE_REQUIRE_ALL:-}" = 1 ]; then exit 1; fi
	exit 0
}
docker info >/dev/null 2>&1 || missing "no Docker engine answers (the images are imported from it)"
[ "$(id -u)" = 0 ] || missing "the cluster runs as root"
bin="${BOT_BOTTLE_CACHE:-/var/cache/bot-bottle}/k8s/${KUBE_VERSION:-v1.34.4}/bin"
[ -x "$bin/kubelet" ] || missing "the cluster's binaries are not built (scripts/ci-setup.d/80-cluster.sh)"

trap 'bash scripts/local-cluster.sh down' EXIT
bash scripts/local-cluster.sh up
kubeconfig=$(bash scripts/local-cluster.sh env | sed 's/^export KUBECONFIG=//')
BOT_BOTTLE_KUBECONFIG=$kubeconfig go test -count=1 -run '^(TestCluster|TestStopLeavesNothing|TestSidecarResolves)' ./internal/backend/kubernetes/
