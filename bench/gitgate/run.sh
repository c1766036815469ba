#!/usr/bin/env bash
# Time a push through git-gate against a plain SSH push to the same
# upstream (a real sshd on loopback), for 1,000 small commits and for one
# 50 MB commit (Go source, random base64 text, random binary). Each push goes to a fresh, empty bare
# repo, so both sides transfer and (for the gate) scan everything.
#
#   bench/gitgate/run.sh            # RUNS=3 by default; prints a Markdown table
#   CASES="small bigtext" bench/gitgate/run.sh   # only these cases
#   BIN=/path/to/bot-bottle bench/gitgate/run.sh  # that binary, not a fresh build
#
# Needs: go, git, ssh, ssh-keygen, sshd (Debian: openssh-server), python3.
set -euo pipefail

RUNS=${RUNS:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() {
	for _ in $(seq 200); do
		(echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "nothing listens on $1" >&2
	exit 1
}

export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

if [ -n "${BIN:-}" ]; then
	cp "$BIN" "$W/bot-bottle"
else
	echo "building bot-bottle" >&2
	(cd "$ROOT" && go build -o "$W/bot-bottle" ./cmd/bot-bottle)
fi

# A throwaway sshd as the upstream.
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
ssh-keygen -q -t ed25519 -N "" -f "$W/host_key"
ssh-keygen -q -t ed25519 -N "" -f "$W/client_key"
cp "$W/client_key.pub" "$W/authorized_keys"
[ "$(id -u)" = 0 ] && mkdir -p /run/sshd
SPORT=$(free_port)
USER_NAME=$(id -un)
cat >"$W/sshd_config" <<EOF
Port $SPORT
ListenAddress 127.0.0.1
HostKey $W/host_key
AuthorizedKeysFile $W/authorized_keys
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
AllowUsers $USER_NAME
PidFile $W/sshd.pid
LogLevel ERROR
EOF
"$SSHD" -D -e -f "$W/sshd_config" 2>"$W/sshd.log" &
PIDS+=($!)
wait_port "$SPORT"
echo "[127.0.0.1]:$SPORT $(cut -d' ' -f1,2 "$W/host_key.pub")" >"$W/known_hosts"
PLAIN_SSH="ssh -F /dev/null -i $W/client_key -o IdentitiesOnly=yes -o IdentityAgent=none -o UserKnownHostsFile=$W/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes"
upstream_url() { echo "ssh://$USER_NAME@127.0.0.1:$SPORT$W/up/$1.git"; }

# Source repositories.
echo "making the source repositories" >&2
git init -q -b main "$W/small"
python3 - "$W/small" <<'EOF' | git -C "$W/small" fast-import --quiet
import sys
for i in range(1000):
    body = f"line {i}\n" * 5
    msg = f"commit {i}\n"
    print("commit refs/heads/main")
    print(f"committer bench <bench@example.com> {1700000000 + i} +0000")
    print(f"data {len(msg)}\n{msg}", end="")
    print(f"M 644 inline src/f{i % 50}.txt")
    print(f"data {len(body)}\n{body}")
EOF
git init -q -b main "$W/bigtext"
head -c 37748736 /dev/urandom | base64 -w 76 >"$W/bigtext/data.txt" # 50 MiB of text
git -C "$W/bigtext" add data.txt && git -C "$W/bigtext" commit -q -m "50 MB of text"
git init -q -b main "$W/bigcode"
( # 50 MiB of Go source
	set +o pipefail
	# Tests, test data and crypto carry test keys gitleaks (rightly) finds.
	find "$(go env GOROOT)/src" -type f -name '*.go' -not -name '*_test.go' -not -path '*/testdata/*' \
		-not -path '*crypto*' -not -path '*/tls/*' -print0 | xargs -0 cat 2>/dev/null | head -c 52428800 >"$W/bigcode/all.go"
)
git -C "$W/bigcode" add all.go && git -C "$W/bigcode" commit -q -m "50 MB of source code"
git init -q -b main "$W/bigbin"
head -c 52428800 /dev/urandom >"$W/bigbin/data.bin"
git -C "$W/bigbin" add data.bin && git -C "$W/bigbin" commit -q -m "50 MB binary"

CASES=${CASES:-small bigcode bigtext bigbin}
mkdir -p "$W/up"
for c in $CASES; do
	for r in $(seq "$RUNS"); do
		git init -q --bare -b main "$W/up/plain-$c-$r.git"
		git init -q --bare -b main "$W/up/gate-$c-$r.git"
	done
done

# The gate serves every gate-* upstream.
{
	echo "git-gate:"
	echo "  repos:"
	for c in $CASES; do
		for r in $(seq "$RUNS"); do
			echo "    gate-$c-$r:"
			echo "      url: $(upstream_url "gate-$c-$r")"
			echo "      host_key: $(cut -d' ' -f1,2 "$W/host_key.pub")"
			echo "      key: {provider: static, path: $W/client_key}"
		done
	done
} >"$W/gate.yaml"
GPORT=$(free_port)
"$W/bot-bottle" gate serve --config "$W/gate.yaml" --listen "127.0.0.1:$GPORT" --state-dir "$W/state" 2>"$W/gate.log" &
GATE_PID=$!
PIDS+=($GATE_PID)
wait_port "$GPORT"

seconds() { python3 -c 'import time;print(time.time())'; }
timed() { # prints elapsed seconds of "$@"; a failed gate refusal is marked
	local t0 t1 rc=0
	t0=$(seconds)
	"$@" >"$W/out.log" 2>&1 || rc=$?
	t1=$(seconds)
	if [ $rc != 0 ]; then
		if grep -q "git-gate: push refused: gitleaks found" "$W/out.log"; then
			grep "git-gate: push refused" "$W/out.log" >&2
			python3 -c "print(f'{$t1 - $t0:.2f}(refused)')"
			return
		fi
		cat "$W/out.log" >&2
		echo "FAILED: $*" >&2
		exit 1
	fi
	python3 -c "print(f'{$t1 - $t0:.2f}')"
}

# CPU seconds the gate's reaped children (http-backend, receive-pack, the
# hook and its git commands) have used: the gate's cost, whatever the load.
child_cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($16 + $17) / hz}' "/proc/$GATE_PID/stat"; }

declare -A PLAIN GATE CPU
for c in $CASES; do
	for r in $(seq "$RUNS"); do
		echo "case $c run $r" >&2
		p=$(GIT_SSH_COMMAND="$PLAIN_SSH" timed git -C "$W/$c" push -q "$(upstream_url "plain-$c-$r")" main)
		c0=$(child_cpu)
		g=$(timed git -C "$W/$c" push -q "http://127.0.0.1:$GPORT/gate-$c-$r.git" main)
		c1=$(child_cpu)
		CPU[$c]+="$(python3 -c "print(f'{$c1 - $c0:.1f}')") "
		case $g in *refused*) ;; *)
			[ "$(git -C "$W/up/gate-$c-$r.git" rev-parse main)" = "$(git -C "$W/$c" rev-parse main)" ] || { echo "gate push did not land" >&2; exit 1; } ;;
		esac
		PLAIN[$c]+="$p "
		GATE[$c]+="$g "
	done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# A "(refused)" time is a push the gate refused after scanning everything.
echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, git $(git --version | cut -d' ' -f3)"
echo
echo "| push | plain SSH (s) | through git-gate (s) | gate CPU (s) | runs |"
echo "|---|---|---|---|---|"
for c in $CASES; do
	label=$c
	case $c in
	small) label="1,000 small commits" ;;
	bigcode) label="one 50 MB commit (Go source)" ;;
	bigtext) label="one 50 MB commit (base64 text)" ;;
	bigbin) label="one 50 MB commit (binary)" ;;
	esac
	echo "| $label | $(echo "${PLAIN[$c]}" | median) | $(echo "${GATE[$c]}" | median) | $(echo "${CPU[$c]}" | median) | plain: ${PLAIN[$c]}/ gate: ${GATE[$c]}/ cpu: ${CPU[$c]}|"
done
