#!/usr/bin/env bash
# The CA matrix's image (test/e2e/catrust_test.go): the base plus every
# toolchain Debian packages whose trust of the bottle CA the matrix proves.
# seed-base-image.sh is idempotent (a seed hash on the tag), so a second run
# on the machine does nothing. Keep the list in step with ToolchainPackages.
set -euo pipefail
cd "$(dirname "$0")/../.."
packages=$(sed -n 's/^const ToolchainPackages = "\(.*\)"$/\1/p' test/e2e/catrust_test.go)
[ -n "$packages" ] || { echo "40-toolchains: no ToolchainPackages in test/e2e/catrust_test.go" >&2; exit 1; }
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo -E"; fi
$sudo scripts/seed-base-image.sh --tag bot-bottle/test-toolchains:bookworm --apt "$packages"
