#!/usr/bin/env bash
# The backend conformance suite and the walls e2e tests on rootful Podman
# (CNI network backend), each test on a `podman system service` it starts
# on a socket of its own and stops; and the refusal of a netavark engine.
# Then the walls again with the agent under gVisor: created by a second
# service whose default runtime is runsc (runsc-podman, installed by
# scripts/ci-setup.d/60-podman.sh), on the same store (docs/runtimes.md).
set -euo pipefail
cd "$(dirname "$0")/../.."

missing() {
	echo "podman stage: $1; skipped"
	if [ "${BOT_BOTTLE_REQUIRE_ALL:-}" = 1 ]; then exit 1; fi
	exit 0
}
command -v podman >/dev/null 2>&1 || missing "podman is not installed (scripts/ci-setup.d/60-podman.sh)"
[ -x /usr/lib/cni/bridge ] || missing "the CNI plugins are not installed (scripts/ci-setup.d/60-podman.sh)"
[ "$(id -u)" = 0 ] || missing "the rootful Podman tests need root"
docker info >/dev/null 2>&1 || missing "no Docker engine answers (the seeded base images are copied from it)"

# TestWallsGVisor skips without the runsc wrapper (fails under
# BOT_BOTTLE_REQUIRE_ALL=1).
BOT_BOTTLE_PODMAN=1 go test -count=1 -v -run '^(TestConformance|TestRefusesNetavark|TestOpenAllSeesPodmanBottles|TestOpenFindsTheGVisorService|TestRootless|TestPodmanIgnoresTheRuntime|TestWalls.*)$' ./internal/backend/podman/ |
	grep -E '^(=== RUN|--- |\s+--- |ok|FAIL|PASS|panic)|\.go:[0-9]+:'

# The walls e2e tests, on Podman: token never seen, every auth placement,
# git-gate's push scan, the agent reaching nothing the sidecar does, the
# attestation probes closed, DNS only through the sidecar.
walls='^(TestBottleEndToEnd|TestSidecarReachesTheInternetTheAgentDoesNot|TestAttestationSealedBottle|TestDNSOnlyThroughTheSidecar)$'
BOT_BOTTLE_PODMAN=1 BOT_BOTTLE_E2E_BACKEND=podman go test -count=1 -v -run "$walls" ./test/e2e/ |
	grep -E '^(=== RUN|--- |\s+--- |ok|FAIL|PASS|panic)|\.go:[0-9]+:'

# The same with the agent under runsc.
if ! command -v runsc >/dev/null 2>&1 || [ ! -x /usr/local/lib/bot-bottle/runsc ] || [ ! -x /usr/local/lib/bot-bottle/runsc-podman ]; then
	echo "podman stage: runsc or its wrappers are not installed (scripts/ci-setup.d/50-runsc.sh, 60-podman.sh); the walls under gVisor skipped"
	if [ "${BOT_BOTTLE_REQUIRE_ALL:-}" = 1 ]; then exit 1; fi
	exit 0
fi
BOT_BOTTLE_PODMAN=1 BOT_BOTTLE_E2E_BACKEND=podman BOT_BOTTLE_E2E_RUNTIME=runsc go test -count=1 -v -run "$walls" ./test/e2e/ |
	grep -E '^(=== RUN|--- |\s+--- |ok|FAIL|PASS|panic)|\.go:[0-9]+:'
