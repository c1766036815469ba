#!/usr/bin/env bash
# The release script as a release runs it (one Linux and one darwin
# target): static binaries, their checksums, the version they say. Its own
# stage because cross-compiling takes minutes (cached on a second run).
set -euo pipefail
cd "$(dirname "$0")/../.."
BOT_BOTTLE_RELEASE_TEST=1 go test -count=1 -run '^TestReleaseScript$' ./scripts/
