# bench/fleet-lib.sh: sourced by bench/fleet.sh (Docker) and
# bench/fleet-k8s.sh (the local cluster), so both halves of the fleet
# figure are measured the same way. Needs $n and $work.

# fleet_binary builds $bin, moves HOME under $work (after the build: the
# Go caches stay the user's) and warms the engine up with one throwaway
# start, which builds the images this binary needs.
fleet_binary() {
  CGO_ENABLED=0 go build -o "$bin" ./cmd/bot-bottle
  export HOME=$work/home
  mkdir -p "$HOME"
  echo "== warm-up on Docker: builds the images this binary needs"
  "$bin" start --rm --headless --prompt true 2>"$work/warm.err" || {
    cat "$work/warm.err"
    exit 1
  }
}

# fleet_start CMD...: runs $n copies of CMD at once in the background,
# waits for all, and prints the time until every one returned, how many
# failed (with their last lines), each one's own time, and the
# attestation lines, with the load average before and after.
fleet_start() {
  echo "== $n starts at once (load before: $(cut -d' ' -f1-3 /proc/loadavg))"
  local t0 t1 i p failed=0 pids=()
  t0=$(date +%s.%N)
  for i in $(seq "$n"); do
    (
      s=$(date +%s.%N)
      rc=0
      "$@" >"$work/out.$i" 2>"$work/err.$i" || rc=$?
      echo "$s $(date +%s.%N)" >"$work/time.$i"
      exit "$rc"
    ) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
  t1=$(date +%s.%N)
  echo "all $n returned in $(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.1f", a - b }') s; $failed failed (load after: $(cut -d' ' -f1-3 /proc/loadavg))"
  if [ "$failed" -gt 0 ]; then
    for i in $(seq "$n"); do [ -s "$work/err.$i" ] && tail -3 "$work/err.$i"; done | sort | uniq -c | head
  fi
  cat "$work"/time.* | awk '{ d = $2 - $1; s += d; if (d > m) m = d } END { printf "each start: %.1f s mean, %.1f s max\n", s / NR, m }'
  cat "$work"/out.* "$work"/err.* | { grep -h "probes stayed closed" || true; } | sed 's/.*: all/all/; s/;.*//' | sort | uniq -c
}

# fleet_memory reads lines "BOTTLE ROLE BYTES" (cgroup v1 total_rss) on
# stdin and prints the memory per bottle (mean, max), each role's mean
# and the fleet's total. A bottle's figure is its line of role "pod" (the
# pod's own cgroup: every container of it and the pause) when it has
# one, else the sum of its containers.
fleet_memory() {
  awk -v n="$n" '
    $2 == "pod" { p[$1] = $3; next }
    { b[$1] += $3; r[$2] += $3; c[$2]++ }
    END {
      for (s in p) b[s] = p[s]
      for (s in b) { t += b[s]; k++; if (b[s] > m) m = b[s] }
      mib = 1048576
      printf "bottles measured: %d of %d\n", k, n
      if (k == 0) exit 1
      printf "memory per bottle (total_rss%s): %.1f MiB mean, %.1f MiB max\n", length(p) ? ", the pod cgroup" : "", t / k / mib, m / mib
      for (x in r) printf "  %s %.1f MiB mean (%d measured)\n", x, r[x] / c[x] / mib, c[x]
      printf "fleet total: %.1f MiB\n", t / mib
    }'
}
