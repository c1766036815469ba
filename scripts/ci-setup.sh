#!/usr/bin/env bash
# Installs what the test suite needs on a Debian machine. Idempotent, and
# quick when everything is already there: apt runs only for what is missing.
# Parts add their packages to the list below.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib-stage.sh

# command  debian-package
needs=(
	"gcc gcc"   # go test -race needs cgo
	"git git"
	"curl curl"                 # egress tests drive curl through the proxy
	"sshd openssh-server"       # git-gate's upstream in tests
	"ssh openssh-client"
	"tmux tmux"                 # the supervise UI's end-to-end test
	"debootstrap debootstrap"   # scripts/seed-base-image.sh (no registry here)
	"unshare util-linux"        # dnsguard's network-namespace test
	"ip iproute2"
	"openssl openssl"           # bench/sidecar-idle.sh
)

install_missing() {
missing=()
for pair in "${needs[@]}"; do
	read -r cmd pkg <<<"$pair"
	if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then
		missing+=("$pkg")
	fi
done

if [ ${#missing[@]} -gt 0 ]; then
	echo "ci-setup: installing ${missing[*]}"
	sudo=""
	if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

}
stage "setup: debian packages" install_missing

command -v go >/dev/null 2>&1 || { echo "ci-setup: go is not installed (need Go $(sed -n 's/^go //p' go.mod))" >&2; exit 2; }

# The Docker images the end-to-end tests run: seeded from Debian packages
# (there is no registry). Quick when they are up to date.
seed_images() {
	scripts/seed-base-image.sh
	scripts/seed-base-image.sh --sidecar
	scripts/seed-base-image.sh --tag bot-bottle/e2e-upstream:bookworm --extra openssh-server
}
if docker info >/dev/null 2>&1; then
	stage "setup: base images" seed_images
else
	echo "ci-setup: no Docker engine answers; the end-to-end tests will say so" >&2
fi

# Further setup stages (runtimes, engines, a cluster): scripts/ci-setup.d.
for f in scripts/ci-setup.d/*.sh; do
	[ -e "$f" ] || continue
	stage "setup: $(basename "$f" .sh)" bash "$f"
done
stage_summary
