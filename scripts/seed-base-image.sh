#!/usr/bin/env bash
# seed-base-image.sh: build bot-bottle's base image from Debian packages, with
# no image registry: debootstrap a minimal Debian into a folder, install the
# packages every bot-bottle image needs, `docker import` it and tag it with the
# name images/*/Dockerfile use in FROM.
#
# It is idempotent: when TAG exists and carries the same seed hash (suite,
# mirror, package list) nothing is done. Needs root (debootstrap) and a Docker
# engine; the Debian mirror defaults to the one apt uses on this machine.
#
# usage: scripts/seed-base-image.sh [--tag TAG] [--suite SUITE] [--mirror URL]
#                                   [--extra "PKG ..."] [--apt "PKG ..."]
#                                   [--sidecar] [--force]
#   --tag     image to produce (default $BOT_BOTTLE_BASE_IMAGE or bot-bottle/base:bookworm)
#   --suite   Debian suite (default bookworm)
#   --mirror  Debian mirror (default: from /etc/apt/sources.list*, else deb.debian.org)
#   --extra   packages on top of the base set (the e2e upstream image adds openssh-server)
#   --apt     packages installed with apt-get inside the new tree after debootstrap:
#             for large dependency graphs (npm, a JDK) debootstrap cannot order
#   --sidecar seed the sidecar's smaller base instead (default tag
#             $BOT_BOTTLE_SIDECAR_BASE_IMAGE or bot-bottle/base-sidecar:bookworm)
#   --force   rebuild even when the tag is up to date
set -euo pipefail

tag=""
suite="bookworm"
mirror="${BOT_BOTTLE_DEBIAN_MIRROR:-}"
extra=""
apt_packages=""
force=0

# The packages the images need: the sidecar uses git and ssh; the shell agent
# is a plain Debian shell with git and curl. Keep this list short: it is in
# every image.
base_packages="bash ca-certificates curl git less netbase openssh-client procps"
# The sidecar runs only the static bot-bottle, git (git-gate's http-backend,
# receive-pack, fetch) and ssh (git-gate's upstream): no curl, less or procps.
sidecar_packages="ca-certificates git netbase openssh-client"
sidecar=0

die() { echo "seed-base-image: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
	case "$1" in
	--tag) tag="${2:?--tag needs a value}"; shift 2 ;;
	--suite) suite="${2:?--suite needs a value}"; shift 2 ;;
	--mirror) mirror="${2:?--mirror needs a value}"; shift 2 ;;
	--extra) extra="${2:?--extra needs a value}"; shift 2 ;;
	--apt) apt_packages="${2:?--apt needs a value}"; shift 2 ;;
	--sidecar) sidecar=1; shift ;;
	--force) force=1; shift ;;
	-h|--help) sed -n '2,20p' "$0"; exit 0 ;;
	*) die "unknown argument: $1" ;;
	esac
done

if [ "$sidecar" = 1 ]; then
	base_packages="$sidecar_packages"
	tag="${tag:-${BOT_BOTTLE_SIDECAR_BASE_IMAGE:-bot-bottle/base-sidecar:bookworm}}"
fi
tag="${tag:-${BOT_BOTTLE_BASE_IMAGE:-bot-bottle/base:bookworm}}"

command -v docker >/dev/null || die "docker not found"

# apt_mirror prints the first Debian URI that apt on this machine uses for
# $suite, from one-line (.list) or deb822 (.sources) files.
apt_mirror() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		awk -v s="$suite" '$1=="deb" { for (i=2;i<=NF;i++) if ($i ~ /^(https?|file):/ && $(i+1)==s) { print $i; exit } }' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		# deb822 stanzas are separated by blank lines.
		awk -v s="$suite" 'BEGIN{RS=""} {
			uri=""; ok=0; n=split($0, l, "\n")
			for (i=1;i<=n;i++) {
				if (l[i] ~ /^URIs:/) { split(l[i], u, " "); uri=u[2] }
				if (l[i] ~ /^Suites:/) { m=split(l[i], w, " "); for (j=2;j<=m;j++) if (w[j]==s) ok=1 }
			}
			if (ok && uri != "") { print uri; exit }
		}' "$f"
	done
}

if [ -z "$mirror" ]; then
	mirror="$(apt_mirror | head -n1)"
	mirror="${mirror:-http://deb.debian.org/debian}"
fi
# The security archive sits beside the main one on Debian's mirrors.
security_mirror="${BOT_BOTTLE_DEBIAN_SECURITY_MIRROR:-${mirror%/debian}/debian-security}"

packages="$(printf '%s\n' $base_packages $extra | sort -u | tr '\n' ' ')"
packages="${packages% }"
# The sidecar's trimmed tree hashes apart; the shared base's hash is as before.
variant=""
[ "$sidecar" = 1 ] && variant="sidecar-trim"
seed_hash="$(printf 'v1\n%s\n%s\n%s\n%s\n' "$suite" "$mirror" "$security_mirror" "$packages" | { cat; [ -z "$variant" ] || printf '%s\n' "$variant"; [ -z "$apt_packages" ] || printf 'apt %s\n' "$apt_packages"; } | sha256sum | cut -c1-16)"

have="$(docker image inspect -f '{{index .Config.Labels "bot-bottle.seed-hash"}}' "$tag" 2>/dev/null || true)"
if [ "$force" = 0 ] && [ "$have" = "$seed_hash" ]; then
	echo "seed-base-image: $tag is up to date (seed $seed_hash)"
	exit 0
fi

[ "$(id -u)" = 0 ] || die "debootstrap needs root: run as root (or with sudo)"
if ! command -v debootstrap >/dev/null; then
	# bot-bottle start seeds both bases at once: the second install waits
	# for the first's dpkg lock instead of failing.
	command -v apt-get >/dev/null || die "debootstrap not found: install it"
	echo "seed-base-image: installing debootstrap (apt-get install debootstrap)"
	apt-get -o DPkg::Lock::Timeout=300 update -qq &&
		apt-get -o DPkg::Lock::Timeout=300 install -y -qq debootstrap >/dev/null ||
		die "could not install debootstrap: apt-get install debootstrap"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/bot-bottle-seed.XXXXXX")"
cleanup() {
	# A failed chroot step can leave /proc mounted inside the tree.
	umount "$work/rootfs/proc" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
cache="${BOT_BOTTLE_SEED_CACHE:-/var/cache/bot-bottle/debootstrap}"
mkdir -p "$cache"

echo "seed-base-image: debootstrap $suite from $mirror with: $packages"
start=$(date +%s)
debootstrap --variant=minbase --cache-dir="$cache" \
	--include="$(echo "$packages" | tr ' ' ',')" \
	"$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
	{ tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }

# Pick up security updates published since the point release.
cat >"$work/rootfs/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
EOF
echo "seed-base-image: applying $suite updates"
mount -t proc proc "$work/rootfs/proc"
chroot "$work/rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
	sh -c "apt-get -qq update && apt-get -qq -y upgrade && { [ -z '$apt_packages' ] || apt-get -qq -y --no-install-recommends install $apt_packages; } && apt-get clean" >"$work/upgrade.log" 2>&1 ||
	{ tail -n 30 "$work/upgrade.log" >&2; die "apt-get upgrade in the new tree failed (log above)"; }
umount "$work/rootfs/proc"

# Leave no package lists, caches or host identity in the image.
rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/"*.bin \
	"$work/rootfs/var/log/"*.log "$work/rootfs/var/log/apt/"* "$work/rootfs/tmp/"*
if [ "$sidecar" = 1 ]; then
	# Nobody reads manuals or translations in the sidecar (git falls back to
	# English); keep each package's copyright file.
	rm -rf "$work/rootfs/usr/share/man" "$work/rootfs/usr/share/info" "$work/rootfs/usr/share/locale"
	find "$work/rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
fi
: >"$work/rootfs/etc/hostname"
: >"$work/rootfs/etc/resolv.conf"

echo "seed-base-image: importing as $tag"
tar -C "$work/rootfs" --numeric-owner -c . |
	docker import \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENV LANG=C.UTF-8' \
		--change 'CMD ["/bin/bash"]' \
		--change "LABEL bot-bottle.seed-hash=$seed_hash" \
		--change "LABEL bot-bottle.seed-packages=\"$packages\"" \
		--change "LABEL bot-bottle.seed-suite=$suite" \
		- "$tag" >/dev/null
echo "seed-base-image: $tag ready (seed $seed_hash) in $(( $(date +%s) - start ))s"
