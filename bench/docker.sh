#!/usr/bin/env bash
# bench/docker.sh: the Docker backend's figures for docs/benchmarks.md.
#   1. seeding the base image from Debian packages (cold: --force)
#   2. time from a headless start to the agent's first command, images
#      cached, and the sidecar's idle memory (BenchmarkStartHeadless)
#   3. warm headless and interactive starts, before and after a change,
#      with --timings' breakdown (bench/start.sh; BEFORE=REV)
# Needs root (debootstrap) and a Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== seed base image (cold)"
/usr/bin/time -f "%e s wall, %M KiB max RSS" scripts/seed-base-image.sh --force
echo "== seed base image (up to date)"
/usr/bin/time -f "%e s wall" scripts/seed-base-image.sh
echo "== seed the sidecar's base (cold), image sizes"
/usr/bin/time -f "%e s wall, %M KiB max RSS" scripts/seed-base-image.sh --sidecar --force
docker image inspect -f '{{index .RepoTags 0}} {{.Size}}' bot-bottle/base:bookworm bot-bottle/base-sidecar:bookworm
echo "== start --headless to first command, sidecar idle memory"
go test -run '^$' -bench StartHeadless -benchtime "${BENCHTIME:-5x}" ./test/e2e/
echo "== warm starts before and after, headless and interactive (bench/start.sh)"
bench/start.sh ${BEFORE:-}
