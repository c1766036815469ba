#!/usr/bin/env bash
# scripts/release.sh [VERSION]: build the release binaries into dist/ with
# SHA256SUMS. Every binary is static (CGO_ENABLED=0): the Linux ones are also
# the sidecar the bottle images carry; the darwin ones run the CLI side only
# (a bottle's sidecar is always a Linux binary: set BOT_BOTTLE_SIDECAR_BINARY
# to the linux one for the engine's architecture).
#
#   scripts/release.sh v0.3.0    # dist/bot-bottle-v0.3.0-linux-amd64, ...
#
# DIST=DIR puts them elsewhere; TARGETS="linux/amd64 darwin/arm64" builds
# only those (the test builds two).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${1:-$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)}"
dist="${DIST:-$root/dist}"
mkdir -p "$dist"
cd "$root"

built=()
for target in ${TARGETS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64}; do
	os="${target%/*}" arch="${target#*/}"
	name="bot-bottle-$version-$os-$arch"
	echo "release: building $name" >&2
	CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" go build -trimpath -ldflags "-s -w -X github.com/bot-bottle/bot-bottle/internal/cli.releaseVersion=$version" -o "$dist/$name" ./cmd/bot-bottle
	built+=("$name")
done
(cd "$dist" && sha256sum "${built[@]}" >SHA256SUMS)
echo "release: $dist/SHA256SUMS" >&2
cat "$dist/SHA256SUMS"
