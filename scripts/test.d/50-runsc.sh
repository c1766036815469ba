#!/usr/bin/env bash
# The walls e2e suite with the agent under gVisor: runsc is registered with
# the Docker engine for this stage only (SIGHUP, no restart) and taken away
# at the end, whatever happens. start picks runsc by itself when the engine
# has it; TestAgentRuntime proves it did.
set -euo pipefail
cd "$(dirname "$0")/../.."

setup=scripts/ci-setup.d/50-runsc.sh
missing() {
	echo "runsc stage: $1; skipped"
	if [ "${BOT_BOTTLE_REQUIRE_ALL:-}" = 1 ]; then exit 1; fi
	exit 0
}
docker info >/dev/null 2>&1 || missing "no Docker engine answers"
command -v runsc >/dev/null 2>&1 || missing "runsc is not installed (scripts/ci-setup.d/50-runsc.sh)"

trap 'bash "$setup" restore' EXIT
bash "$setup" register

# The walls: attestation probes and a host listener, DNS, the token the
# agent never holds and push scanning (TestBottleEndToEnd), the stand-in
# internet, commit and resume, and the runtime itself.
walls='^(TestAgentRuntime|TestAttestationSealedBottle|TestAttestationRefusesAHole|TestDoctor|TestStartCommandAttests|TestDNSOnlyThroughTheSidecar|TestSidecarReachesTheInternetTheAgentDoesNot|TestBottleEndToEnd|TestCommitThenResume)$'
BOT_BOTTLE_E2E_RUNTIME=runsc go test -count=1 -run "$walls" ./test/e2e/
