#!/usr/bin/env bash
# gVisor for the walls suite: installs Debian's runsc (setup stage, no
# argument) and, for the test stage only, registers it with the running
# Docker engine and takes it away again:
#
#   50-runsc.sh            install runsc (quick when it is there)
#   50-runsc.sh register   add runtimes.runsc to the daemon config, reload
#   50-runsc.sh restore    put the daemon config back as it was, reload
#
# The engine reloads its `runtimes` on SIGHUP: no restart, no running
# container is touched (other users of the engine go on). The registration
# lasts only for scripts/test.d/50-runsc.sh, so the main suite keeps running
# the agent under runc (start picks runsc whenever the engine has it).
# A config that already had runsc is left alone. A run that died between
# register and restore left its backup in the cache: the next register or
# restore puts that back first, so a second run on the machine starts
# from the original.
set -euo pipefail

cache=${BOT_BOTTLE_CACHE:-/var/cache/bot-bottle}
backup=$cache/daemon.json.before-runsc
# wrapper is what the engine runs as runsc: runsc-netns beside this script,
# installed outside the clone (the engine outlives it).
wrapper=/usr/local/lib/bot-bottle/runsc
absent=$cache/daemon.json.was-absent

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

install_runsc() {
	if ! command -v runsc >/dev/null 2>&1; then
		$sudo apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends runsc jq
	fi
	command -v jq >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends jq
	if ! cmp -s "$(dirname "$0")/runsc-netns" "$wrapper"; then
		$sudo install -D -m 0755 "$(dirname "$0")/runsc-netns" "$wrapper"
	fi
	"$wrapper" --version | sed -n 1p # sed reads it all: head would SIGPIPE runsc under pipefail
}

# config is the file the running dockerd reads (--config-file, else the
# default).
config() {
	local pid args
	pid=$(pgrep -o -x dockerd || true)
	if [ -n "$pid" ]; then
		args=$(tr '\0' '\n' <"/proc/$pid/cmdline")
		if grep -q -- '^--config-file' <<<"$args"; then
			grep -A1 -- '^--config-file' <<<"$args" | sed -n 's/^--config-file=//p; 2p' | sed -n 1p
			return
		fi
	fi
	echo /etc/docker/daemon.json
}

reload() {
	local pid
	pid=$(pgrep -o -x dockerd) || { echo "runsc: no dockerd runs here" >&2; return 1; }
	$sudo kill -HUP "$pid"
}

# wait_runtime WANT: until docker info lists runsc (WANT=yes) or not (no).
wait_runtime() {
	local want=$1 has
	for _ in $(seq 1 50); do
		has=no
		if docker info --format '{{json .Runtimes}}' | jq -e 'has("runsc")' >/dev/null; then has=yes; fi
		[ "$has" = "$want" ] && return 0
		sleep 0.2
	done
	echo "runsc: the engine did not reload its runtimes (want runsc: $want)" >&2
	return 1
}

# put_back restores the saved config and reloads. The engine keeps the
# runtimes it has when the file names none, so it first loads the original
# with an empty `runtimes`, then gets the original file back as it was.
put_back() {
	local cfg=$1 orig tmp
	if [ -f "$backup" ]; then
		orig=$backup
	elif [ -f "$absent" ]; then
		orig=/dev/null
	else
		return 1
	fi
	tmp=$(mktemp)
	{ [ -s "$orig" ] && cat "$orig" || echo '{}'; } | jq '.runtimes //= {}' >"$tmp"
	$sudo install -m 0644 "$tmp" "$cfg"
	rm -f "$tmp"
	reload
	wait_runtime no
	if [ -f "$backup" ]; then
		$sudo cp "$backup" "$cfg"
		$sudo rm -f "$backup"
	else
		$sudo rm -f "$cfg" "$absent"
	fi
}

register() {
	local cfg tmp
	install_runsc >/dev/null
	cfg=$(config)
	put_back "$cfg" || true # a run that died left its change behind
	if [ -f "$cfg" ] && jq -e '.runtimes.runsc' "$cfg" >/dev/null; then
		echo "runsc: $cfg already has runsc; kept as it is"
	else
		$sudo mkdir -p "$cache" "$(dirname "$cfg")"
		if [ -f "$cfg" ]; then $sudo cp "$cfg" "$backup"; else $sudo touch "$absent"; fi
		tmp=$(mktemp)
		{ [ -f "$cfg" ] && cat "$cfg" || echo '{}'; } |
			jq --arg path "$wrapper" '.runtimes.runsc = {path: $path}' >"$tmp"
		$sudo install -m 0644 "$tmp" "$cfg"
		rm -f "$tmp"
	fi
	reload
	wait_runtime yes
	echo "runsc: registered with the engine ($cfg)"
}

restore() {
	local cfg
	cfg=$(config)
	if put_back "$cfg"; then
		echo "runsc: $cfg restored"
	fi
}

case "${1:-install}" in
install) install_runsc ;;
register) register ;;
restore) restore ;;
*) echo "usage: $0 [install|register|restore]" >&2; exit 2 ;;
esac
