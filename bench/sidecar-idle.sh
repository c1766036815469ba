#!/usr/bin/env bash
# Idle memory of the sidecar bundle outside a container: build bot-bottle,
# run `bot-bottle sidecar` on loopback with the daemons given (default: every
# daemon this binary has and that needs no upstream: egress, supervise, dns),
# wait until it is ready, let it settle, and print its resident memory.
#
#   bench/sidecar-idle.sh [DAEMONS]      e.g. bench/sidecar-idle.sh supervise,dns
set -euo pipefail
daemons=${1:-egress,supervise,dns}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
pid=

CGO_ENABLED=0 go build -o "$work/bot-bottle" "$here/cmd/bot-bottle"
mkdir -p "$work"/{config,egress,ca,ssh,queue,logs}
printf '{"slug":"bench-aaaaa","daemons":["egress","supervise","dns"],"aliases":["egress","supervise"]}\n' >"$work/config/sidecar.json"
printf 'egress:\n  routes:\n    - host: example.com\n' >"$work/egress/policy.yaml"
# The bottle CA, as the host makes it at first start (ECDSA P-256).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=bench CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
  -keyout "$work/ca/ca-key.pem" -out "$work/ca/ca.pem" 2>/dev/null

BOT_BOTTLE_SIDECAR_DAEMONS=$daemons SUPERVISE_BOTTLE_SLUG=bench-aaaaa SUPERVISE_QUEUE_DIR="$work/queue" \
  "$work/bot-bottle" sidecar --config "$work/config/sidecar.json" --root "$work" --data-dir "$work/data" \
  --listen egress=127.0.0.1:0 --listen supervise=127.0.0.1:0 --listen dns=127.0.0.1:0 \
  >"$work/stdout" 2>"$work/stderr" &
pid=$!
for _ in $(seq 200); do
  grep -q 'sidecar ready' "$work/stdout" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/stderr"; exit 1; }
  sleep 0.05
done
grep -q 'sidecar ready' "$work/stdout" || { echo "not ready"; cat "$work/stderr"; exit 1; }
sleep 2
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
echo "daemons=$daemons rss_kib=$rss peak_rss_kib=$hwm"
kill -TERM "$pid"
wait "$pid"
