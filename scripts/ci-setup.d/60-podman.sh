#!/usr/bin/env bash
# Podman for the walls suite on a second engine: Debian's podman with the
# CNI network backend's plugins (the backend refuses netavark: its internal
# networks' bridges hold a host address, docs/runtimes.md) and dnsname
# (names on the egress network; Podman never puts it on an internal
# network), catatonit for
# --init, and netavark itself so a test proves the refusal on a real engine;
# and the user rootless Podman runs as.
# And runsc as Podman runs it (runsc-podman beside this script, installed
# beside 50-runsc.sh's wrapper, which it calls): the agent's network
# sysctls applied before gVisor copies its interfaces (docs/runtimes.md).
# Nothing is configured system-wide: the tests start their own `podman
# system service` with their own containers.conf (CONTAINERS_CONF), which
# registers runsc as that wrapper. Quick when installed. The seeded base images are copied from Docker into
# Podman's store by the tests, once per image ID (kept in
# /var/lib/containers between runs).
set -euo pipefail

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

packages="podman containernetworking-plugins golang-github-containernetworking-plugin-dnsname catatonit netavark aardvark-dns uidmap slirp4netns"
installed() {
	local p
	for p in $packages; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || return 1
	done
}
if ! installed; then
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $packages >/dev/null
fi
# The user rootless Podman runs as (podmantest.RootlessUser); useradd
# gives it subordinate uid and gid ranges.
user=bot-bottle-podman
if ! id "$user" >/dev/null 2>&1; then
	$sudo useradd --create-home --shell /usr/sbin/nologin "$user"
fi
grep -q "^$user:" /etc/subuid || echo "podman: $user has no /etc/subuid range" >&2
wrapper=/usr/local/lib/bot-bottle/runsc-podman
if ! cmp -s "$(dirname "$0")/runsc-podman" "$wrapper"; then
	$sudo install -D -m 0755 "$(dirname "$0")/runsc-podman" "$wrapper"
fi
podman --version
