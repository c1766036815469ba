#!/usr/bin/env bash
# bench/attest.sh: what bypass attestation adds to every start (copy the
# probe binary in, run every probe, remove it), on one running shell bottle
# with the full sidecar. Needs a Docker engine and the seeded base image.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== attestation of a running bottle (BenchmarkAttestation)"
go test -run '^$' -bench Attestation -benchtime "${BENCHTIME:-5x}" ./test/e2e/
