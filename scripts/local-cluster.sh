#!/usr/bin/env bash
# A single-node Kubernetes cluster on loopback, built offline:
#
#   local-cluster.sh build   build (once per version) kube-apiserver,
#                            kube-controller-manager, kube-scheduler, kubelet
#                            and the pause image into the cache
#   local-cluster.sh up      build if needed, start etcd, apiserver,
#                            controller-manager, scheduler, containerd, kubelet
#   local-cluster.sh down    stop them (pidfiles under the state dir)
#   local-cluster.sh env     print `export KUBECONFIG=...`
#
# The Kubernetes binaries come from a build module of our own
# (scripts/local-cluster/go.mod.in): k8s.io/kubernetes cannot be
# go-installed because its go.mod replaces each k8s.io/* staging module with
# a local path, so we require it and pin each staging module to the matching
# v0.x.y. etcd, containerd, runc and the CNI plugins are Debian's. Binaries
# are cached by version under $BOT_BOTTLE_CACHE/k8s/<version>/bin: a second
# run builds nothing. Builds run one at a time under `nice` (shared 2 cores).
# Every listener is bound to 127.0.0.1.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.34.4}
cache=${BOT_BOTTLE_CACHE:-/var/cache/bot-bottle}
here=$(cd "$(dirname "$0")" && pwd)
build=$cache/k8s/build-$KUBE_VERSION
bin=$cache/k8s/$KUBE_VERSION/bin
state=${BOT_BOTTLE_CLUSTER_STATE:-/var/lib/bot-bottle/cluster}
binaries="kube-apiserver kube-controller-manager kube-scheduler kubelet"

log() { echo "local-cluster: $*" >&2; }

# staging_version maps v1.34.4 to v0.34.4.
staging_version() { echo "v0.${KUBE_VERSION#v1.}"; }

build_module() {
	mkdir -p "$build"
	if [ -f "$build/.ready" ]; then return; fi
	sed "s/@KUBE_VERSION@/$KUBE_VERSION/" "$here/local-cluster/go.mod.in" >"$build/go.mod"
	local kmod sv
	kmod=$(cd "$build" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p')
	[ -f "$kmod" ] || { log "cannot read k8s.io/kubernetes@$KUBE_VERSION go.mod"; exit 1; }
	sv=$(staging_version)
	# Each `k8s.io/x => ./staging/src/k8s.io/x` becomes `k8s.io/x => k8s.io/x v0.y.z`.
	sed -n 's#^\s*\(k8s.io/[^ ]*\) => ./staging/src/.*#\1#p' "$kmod" | while read -r m; do
		echo "replace $m => $m $sv"
	done >>"$build/go.mod"
	grep -q '^replace k8s.io/api ' "$build/go.mod" || { log "no staging replace lines found in $kmod"; exit 1; }
	(cd "$build" && for b in $binaries; do go get "k8s.io/kubernetes/cmd/$b@$KUBE_VERSION"; done)
	touch "$build/.ready"
}

build_binaries() {
	mkdir -p "$bin"
	local b
	for b in $binaries; do
		[ -x "$bin/$b" ] && continue
		build_module
		log "building $b $KUBE_VERSION (cold: several minutes)"
		local t0=$SECONDS
		(cd "$build" && CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false" nice -n 10 \
			go build -p 1 -ldflags="-s -w" -o "$bin/$b.tmp" "k8s.io/kubernetes/cmd/$b")
		mv "$bin/$b.tmp" "$bin/$b"
		log "built $b in $((SECONDS - t0)) s"
	done
	if [ ! -x "$bin/pause" ]; then
		(cd "$here/local-cluster" && CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false" \
			go build -ldflags="-s -w" -o "$bin/pause" pause.go)
	fi
}

case "${1:-}" in
build) build_binaries ;;
*)
	echo "usage: $0 build|up|down|env" >&2
	exit 2
	;;
esac
