#!/usr/bin/env bash
# The local Kubernetes cluster (scripts/local-cluster.sh): its Debian
# packages and its four binaries, built once per version into the cache
# (about half an hour cold on 2 cores; nothing on a second run). The test
# stage scripts/test.d/80-cluster.sh starts it, runs the cluster tests and
# stops it.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec bash scripts/local-cluster.sh build
