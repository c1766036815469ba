#!/usr/bin/env bash
# bench/start.sh: warm start to the agent's first command, headless and
# interactive, for two builds side by side (before and after a change), with
# the machine's load. The agent's first command prints the container's
# clock (host and container share it); the figure is that time minus the
# moment the start was launched. Images are cached by a warm-up run of each
# build first. Everything runs with --rm in a temporary HOME: nothing stays.
#
#   bench/start.sh [BEFORE_REV]    (default: the merge base with main)
#   RUNS=5 bench/start.sh main
#   MODES=interactive bench/start.sh
#
# With the "after" build, --timings' breakdown of the last run of each mode
# is printed too. Needs a Docker engine with the seeded base images, and
# python3 for the interactive runs (bench/tty-start.py).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
before=${1:-$(git merge-base HEAD main)}
work=$(mktemp -d)
. bench/lib-bottles.sh
# However it ends, nothing it started stays.
trap 'remove_ours; rm -rf "$work"' EXIT

echo "== building: before = $(git rev-parse --short "$before"), after = the working tree"
mkdir -p "$work/src-before" "$work/before" "$work/after"
git archive "$before" | tar -x -C "$work/src-before"
(cd "$work/src-before" && CGO_ENABLED=0 go build -trimpath -o "$work/before/bot-bottle" ./cmd/bot-bottle)
CGO_ENABLED=0 go build -trimpath -o "$work/after/bot-bottle" ./cmd/bot-bottle
# Only now: the builds keep the user's Go caches.
export HOME=$work/home
mkdir -p "$HOME"

now() { date +%s.%N; }

# headless BIN [FLAGS...]: seconds from launch to the agent's first command.
headless() {
  local bin=$1
  shift
  local t0 out
  t0=$(now)
  out=$("$bin" start --rm --headless "$@" --prompt 'date +%s.%N' 2>"$work/stderr") || {
    cat "$work/stderr" >&2
    return 1
  }
  awk -v a="$out" -v b="$t0" 'BEGIN { printf "%.2f", a - b }'
}

# interactive BIN [FLAGS...]: the same on a terminal: bench/tty-start.py
# runs the start on a pseudo-terminal that answers the terminal queries a
# real one answers (script(1) does not, and every bot-bottle process waits
# 5 s for them) and types the command at the agent's prompt once it shows.
interactive() {
  local bin=$1
  shift
  local t0 got
  t0=$(now)
  got=$(STDERR_FILE=$work/stderr bench/tty-start.py "$bin" "$@") || {
    cat "$work/stderr" >&2
    return 1
  }
  awk -v a="$got" -v b="$t0" 'BEGIN { printf "%.2f", a - b }'
}

mean() { awk '{ s += $1; n++ } END { if (n) printf "%.2f", s / n }'; }

for b in before after; do
  echo "== warm-up ($b): builds the images it needs"
  headless "$work/$b/bot-bottle" >/dev/null
done

for mode in ${MODES:-headless interactive}; do
  : >"$work/before.$mode"
  : >"$work/after.$mode"
  for i in $(seq "$runs"); do
    for b in before after; do
      load=$(cut -d' ' -f1 /proc/loadavg)
      t=$($mode "$work/$b/bot-bottle")
      echo "$t" >>"$work/$b.$mode"
      echo "$mode run $i $b: ${t} s (load $load)"
    done
  done
  echo "$mode: before mean $(mean <"$work/before.$mode") s, after mean $(mean <"$work/after.$mode") s over $runs runs each"
  t=$($mode "$work/after/bot-bottle" --timings)
  echo "$mode with --timings (after): ${t} s; its breakdown:"
  sed -n '/^timings/,$p' "$work/stderr"
done
uptime
