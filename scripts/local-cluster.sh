#!/usr/bin/env bash
# A single-node Kubernetes cluster on loopback, built offline:
#
#   local-cluster.sh build   install the Debian packages it needs and build
#                            (once per version) kube-apiserver,
#                            kube-controller-manager, kube-scheduler, kubelet
#                            and the pause image into the cache
#   local-cluster.sh up      build if needed, start etcd, apiserver,
#                            controller-manager, scheduler, containerd, kubelet
#   local-cluster.sh down    stop them (pidfiles under the state dir)
#   local-cluster.sh env     print `export KUBECONFIG=...`
#   local-cluster.sh import IMAGE...  copy images from Docker into the node
#
# The Kubernetes binaries come from a build module of our own
# (scripts/local-cluster/go.mod.in): k8s.io/kubernetes cannot be
# go-installed because its go.mod replaces each k8s.io/* staging module with
# a local path, so we require it and pin each staging module to the matching
# v0.x.y. etcd, containerd, runc and the CNI plugins are Debian's. Binaries
# are cached by version under $BOT_BOTTLE_CACHE/k8s/<version>/bin: a second
# run builds nothing. Builds run under `nice`, $BOT_BOTTLE_BUILD_JOBS packages
# at a time (default 2, the cores here).
# Every listener is bound to 127.0.0.1.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.34.4}
cache=${BOT_BOTTLE_CACHE:-/var/cache/bot-bottle}
here=$(cd "$(dirname "$0")" && pwd)
build=$cache/k8s/build-$KUBE_VERSION
bin=$cache/k8s/$KUBE_VERSION/bin
state=${BOT_BOTTLE_CLUSTER_STATE:-/var/lib/bot-bottle/cluster}
binaries="kube-apiserver kube-controller-manager kube-scheduler kubelet"
# The node is named localhost: the kubelet refuses a loopback --node-ip,
# so the API server reaches it by the node's Hostname address, which must
# resolve to the loopback address the kubelet listens on.
node=localhost
apiport=${BOT_BOTTLE_CLUSTER_PORT:-16443}
etcdport=${BOT_BOTTLE_ETCD_PORT:-12379}
pause_image=bot-bottle-pause:local
# The wall init container's image (internal/backend/kubernetes
# DefaultWallImage): the sidecar base plus Debian's iptables.
wall_image=bot-bottle-wall:latest
wall_base=${BOT_BOTTLE_WALL_BASE:-bot-bottle/base-sidecar:bookworm}
wall_debs="iptables libip4tc2 libip6tc2 libxtables12 libnftnl11 libnetfilter-conntrack3 libnfnetlink0 libmnl0"

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

# version_ldflags stamps the version the binaries report (without it the
# node says v0.0.0-master+$Format:%H$: the module zip has no git data).
version_ldflags() {
	local v=k8s.io/component-base/version minor=${KUBE_VERSION#v1.}
	echo "-X $v.gitVersion=$KUBE_VERSION -X $v.gitMajor=1 -X $v.gitMinor=${minor%%.*} -X $v.gitTreeState=clean"
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
			go build -p "${BOT_BOTTLE_BUILD_JOBS:-2}" -ldflags="-s -w $(version_ldflags)" -o "$bin/$b.tmp" "k8s.io/kubernetes/cmd/$b")
		mv "$bin/$b.tmp" "$bin/$b"
		log "built $b in $((SECONDS - t0)) s"
	done
	if [ ! -x "$bin/pause" ]; then
		(cd "$here/local-cluster" && CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false" \
			go build -ldflags="-s -w" -o "$bin/pause" pause.go)
	fi
}

pidfile() { echo "$state/run/$1.pid"; }

# start runs one daemon in the background, its log and pidfile in $state.
start() {
	local name=$1
	shift
	if [ -f "$(pidfile "$name")" ] && kill -0 "$(cat "$(pidfile "$name")")" 2>/dev/null; then return; fi
	"$@" >"$state/log/$name.log" 2>&1 &
	echo $! >"$(pidfile "$name")"
	log "$name started (log $state/log/$name.log)"
}

need() {
	local missing=()
	command -v etcd >/dev/null || missing+=(etcd-server)
	[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
	command -v openssl >/dev/null || missing+=(openssl)
	if [ ${#missing[@]} -gt 0 ]; then
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
	fi
}

# pki makes a CA of our own, the API server's serving cert, the admin's and
# the components' client certs, and the service-account key pair.
pki() {
	local d=$state/pki
	[ -f "$d/.ready" ] && return
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=bot-bottle-local-ca" -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
	cert apiserver "/CN=kube-apiserver" "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc"
	cert admin "/O=system:masters/CN=admin"
	cert controller-manager "/CN=system:kube-controller-manager"
	cert scheduler "/CN=system:kube-scheduler"
	cert kubelet "/O=system:nodes/CN=system:node:$node" "subjectAltName=IP:127.0.0.1,DNS:$node,DNS:localhost"
	cert apiserver-kubelet "/O=system:masters/CN=kube-apiserver-kubelet-client"
	openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
	openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
	touch "$d/.ready"
}

cert() {
	local d=$state/pki name=$1 subj=$2 ext=${3:-}
	openssl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$d/$name.key" -out "$d/$name.csr" 2>/dev/null
	openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 3650 \
		${ext:+-extfile <(echo "$ext")} -out "$d/$name.crt" 2>/dev/null
}

kubeconfig() {
	local who=$1 d=$state/pki
	cat >"$state/$who.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:$apiport", certificate-authority: "$d/ca.crt"}
users:
- name: $who
  user: {client-certificate: "$d/$who.crt", client-key: "$d/$who.key"}
contexts:
- name: bot-bottle-local
  context: {cluster: local, user: $who, namespace: default}
current-context: bot-bottle-local
KC
}

configs() {
	mkdir -p "$state/cni" "$state/containerd"
	# No default route: pods reach the node's bridge address and each other,
	# nothing else (no traffic leaves the machine). A default route would
	# make attestation refuse every bottle (docs/kubernetes.md, Status).
	cat >"$state/cni/10-bot-bottle.conflist" <<CNI
{"cniVersion": "1.0.0", "name": "bot-bottle", "plugins": [
 {"type": "bridge", "bridge": "bbk8s0", "isGateway": true, "ipMasq": false,
  "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24"}]]}},
 {"type": "loopback"}]}
CNI
	cat >"$state/containerd/config.toml" <<CT
version = 2
root = "$state/containerd/root"
state = "$state/containerd/state"
[grpc]
  address = "$state/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  # The kubelet gives pod sandboxes oom_score_adj -998; lowering it needs
  # CAP_SYS_RESOURCE, which a root without it (this machine) lacks, and
  # runc then fails "can't get final child's PID from pipe". Clamp instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$state/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
CT
	cat >"$state/kubelet.yaml" <<KL
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
healthzBindAddress: 127.0.0.1
cgroupDriver: cgroupfs
failSwapOn: false
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: "$state/pki/ca.crt"}
authorization: {mode: AlwaysAllow}
tlsCertFile: "$state/pki/kubelet.crt"
tlsPrivateKeyFile: "$state/pki/kubelet.key"
containerRuntimeEndpoint: "unix://$state/containerd.sock"
resolvConf: /etc/resolv.conf
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
KL
}

# forward_guard: pods talk to each other over their bridge (the
# bridge's frames pass the FORWARD chain, whose policy Docker sets to
# DROP), and, should a pod get a route out all the same, nothing from the
# bridge is forwarded out of it. A Docker restart may flush these; `up`
# puts them back.
guard_accept=(FORWARD -i bbk8s0 -o bbk8s0 -j ACCEPT)
guard_drop=(FORWARD -i bbk8s0 ! -o bbk8s0 -j DROP)
forward_guard() {
	iptables -C "${guard_drop[@]}" 2>/dev/null || iptables -I "${guard_drop[@]}"
	iptables -C "${guard_accept[@]}" 2>/dev/null || iptables -I "${guard_accept[@]}"
}

ctr_() { ctr -a "$state/containerd.sock" -n k8s.io "$@"; }

# pause_import builds the pod sandbox image from pause.go (no registry).
pause_import() {
	ctr_ images ls -q | grep -qx "docker.io/library/$pause_image" && return
	local t
	t=$(mktemp -d)
	cp "$bin/pause" "$t/pause"
	tar -C "$t" -c pause | docker import -c 'ENTRYPOINT ["/pause"]' - "$pause_image" >/dev/null
	docker save "$pause_image" | ctr_ images import - >/dev/null
	rm -rf "$t"
}

# wall_build makes the wall image from the sidecar base and iptables'
# packages, fetched once by apt into the cache (no registry), and imports it.
# wall_debs_fetch downloads the wall image's packages once (build does it,
# so bringing the cluster up needs no network).
wall_debs_fetch() {
	local debs=$cache/k8s/wall-debs
	[ -f "$debs/.ready" ] && return
	mkdir -p "$debs"
	# shellcheck disable=SC2086 # a list of package names
	(cd "$debs" && apt-get download $wall_debs)
	touch "$debs/.ready"
}

wall_build() {
	if ! docker image inspect "$wall_image" >/dev/null 2>&1; then
		local debs=$cache/k8s/wall-debs t
		wall_debs_fetch
		t=$(mktemp -d)
		cp "$debs"/*.deb "$t/"
		printf 'FROM %s\nCOPY *.deb /tmp/debs/\nRUN dpkg -i /tmp/debs/*.deb && rm -rf /tmp/debs && iptables-restore --version\n' \
			"$wall_base" >"$t/Dockerfile"
		docker build -q -t "$wall_image" "$t" >/dev/null
		rm -rf "$t"
		log "built $wall_image"
	fi
	ctr_ images ls -q | grep -qx "docker.io/library/$wall_image" || import_images "$wall_image"
}

# import_images copies images from the Docker engine into the node.
import_images() {
	local i
	for i in "$@"; do
		docker save "$i" | ctr_ images import - >/dev/null
		log "imported $i"
	done
}

wait_for() {
	local what=$1
	shift
	for _ in $(seq 120); do
		if "$@" >/dev/null 2>&1; then return; fi
		sleep 1
	done
	log "$what did not come up (logs under $state/log)"
	exit 1
}

# api GETs path from the API server as the admin.
api() {
	local p=$state/pki
	curl -sf --cacert "$p/ca.crt" --cert "$p/admin.crt" --key "$p/admin.key" "https://127.0.0.1:$apiport$1"
}

node_ready() { api "/api/v1/nodes/$node" | grep -q '"reason": "KubeletReady"'; }

up() {
	need
	build_binaries
	mkdir -p "$state/run" "$state/log" "$state/etcd"
	pki
	for w in admin controller-manager scheduler kubelet; do kubeconfig "$w"; done
	configs
	forward_guard
	start etcd etcd --data-dir "$state/etcd" --listen-client-urls "http://127.0.0.1:$etcdport" \
		--advertise-client-urls "http://127.0.0.1:$etcdport" --listen-peer-urls "http://127.0.0.1:$((etcdport + 1))"
	start containerd containerd --config "$state/containerd/config.toml"
	wait_for containerd test -S "$state/containerd.sock"
	local p=$state/pki
	start kube-apiserver "$bin/kube-apiserver" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
		--secure-port "$apiport" --etcd-servers "http://127.0.0.1:$etcdport" \
		--client-ca-file "$p/ca.crt" --tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" \
		--kubelet-client-certificate "$p/apiserver-kubelet.crt" --kubelet-client-key "$p/apiserver-kubelet.key" \
		--kubelet-certificate-authority "$p/ca.crt" --kubelet-preferred-address-types Hostname \
		--service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
		--service-account-issuer https://kubernetes.default.svc --service-cluster-ip-range 10.96.0.0/24 \
		--authorization-mode Node,RBAC
	wait_for kube-apiserver api /readyz
	start kube-controller-manager "$bin/kube-controller-manager" --kubeconfig "$state/controller-manager.kubeconfig" \
		--bind-address 127.0.0.1 --service-account-private-key-file "$p/sa.key" --root-ca-file "$p/ca.crt" \
		--cluster-signing-cert-file "$p/ca.crt" --cluster-signing-key-file "$p/ca.key" --use-service-account-credentials
	start kube-scheduler "$bin/kube-scheduler" --kubeconfig "$state/scheduler.kubeconfig" --bind-address 127.0.0.1
	start kubelet "$bin/kubelet" --kubeconfig "$state/kubelet.kubeconfig" --config "$state/kubelet.yaml" \
		--hostname-override "$node" --root-dir "$state/kubelet"
	wait_for containerd-cri ctr_ version
	pause_import
	wall_build
	wait_for "the node" node_ready
	log "up: $(env_line)"
}

down() {
	local n f
	for n in kubelet kube-scheduler kube-controller-manager kube-apiserver containerd etcd; do
		f=$(pidfile "$n")
		[ -f "$f" ] || continue
		# The pods' shims outlive containerd: kill every task first.
		[ "$n" = containerd ] && kill_tasks
		kill "$(cat "$f")" 2>/dev/null || true
		rm -f "$f"
		log "$n stopped"
	done
	iptables -D "${guard_accept[@]}" 2>/dev/null || true
	iptables -D "${guard_drop[@]}" 2>/dev/null || true
	# The kubelet bind-mounts its root and the pods' volumes under it.
	{ grep -o " $state/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
	# Pods killed with the node never had their network torn down: drop
	# their bridge and their address leases (CNI network "bot-bottle").
	ip link delete bbk8s0 2>/dev/null || true
	rm -rf /var/lib/cni/networks/bot-bottle
}

# kill_tasks kills and deletes every container of the node.
kill_tasks() {
	local id
	for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s KILL "$id" 2>/dev/null || true; done
	sleep 1
	for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true; done
}

env_line() { echo "export KUBECONFIG=$state/admin.kubeconfig"; }

case "${1:-}" in
build)
	need
	build_binaries
	wall_debs_fetch
	;;
up) up ;;
down) down ;;
env) env_line ;;
import)
	shift
	import_images "$@"
	;;
*)
	echo "usage: $0 build|up|down|env|import IMAGE..." >&2
	exit 2
	;;
esac
