#!/usr/bin/env bash
# A stand-in Debian mirror for the capability build e2e test
# (test/e2e/capability_build_test.go): jq and the libraries it needs that
# the base image lacks, as Debian's own .debs (apt-get download: setup may
# use the network, the test never does), with Packages and Release files
# for the three suites the base image's sources name. The test serves the
# tree as deb.debian.org on a network of its own. Release files are not
# signed: the test's first approved line marks the sources trusted=yes.
# Cached under $BOT_BOTTLE_CACHE/e2e-apt-mirror; built once per package list.
set -euo pipefail
cache="${BOT_BOTTLE_CACHE:-/var/cache/bot-bottle}/e2e-apt-mirror"
pkgs="jq libjq1 libonig5"
arch="$(dpkg --print-architecture)"
stamp="v1 $arch $pkgs"
if [ -f "$cache/.done" ] && [ "$(cat "$cache/.done")" = "$stamp" ]; then
	echo "70-e2e-apt-mirror: $cache already holds $pkgs"
	exit 0
fi
echo "70-e2e-apt-mirror: downloading $pkgs into $cache"
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
pool="$tmp/debian/pool/main"
mkdir -p "$pool"
# apt-get download writes as the calling user into the current directory.
( cd "$pool" && { apt-get download -qq $pkgs 2>/dev/null || { $sudo apt-get update -qq && apt-get download -qq $pkgs; }; } )

# index ROOT SUITE [DEB...]: Packages and Release of one suite.
index() {
	local root=$1 suite=$2 dir
	shift 2
	dir="$root/dists/$suite/main/binary-$arch"
	mkdir -p "$dir"
	: >"$dir/Packages"
	for f in "$@"; do
		dpkg-deb -f "$f" >>"$dir/Packages"
		{
			echo "Filename: ${f#"$root"/}"
			echo "Size: $(stat -c %s "$f")"
			echo "SHA256: $(sha256sum "$f" | cut -d' ' -f1)"
			echo
		} >>"$dir/Packages"
	done
	{
		echo "Origin: bot-bottle e2e"
		echo "Label: bot-bottle e2e"
		echo "Suite: $suite"
		echo "Codename: $suite"
		echo "Architectures: $arch"
		echo "Components: main"
		echo "Date: $(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
		echo "SHA256:"
		echo " $(sha256sum "$dir/Packages" | cut -d' ' -f1) $(stat -c %s "$dir/Packages") main/binary-$arch/Packages"
	} >"$root/dists/$suite/Release"
}
index "$tmp/debian" bookworm "$pool"/*.deb
index "$tmp/debian" bookworm-updates
index "$tmp/debian-security" bookworm-security
echo "$stamp" >"$tmp/.done"
$sudo mkdir -p "$(dirname "$cache")"
$sudo rm -rf "$cache"
$sudo cp -r "$tmp" "$cache"
$sudo chmod -R a+rX "$cache"
echo "70-e2e-apt-mirror: ready ($(ls "$cache/debian/pool/main" | tr '\n' ' '))"
