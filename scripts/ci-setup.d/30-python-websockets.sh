#!/usr/bin/env bash
# Python's websockets library for TestPythonWebSocketsThroughProxy
# (internal/egress): a third-party WebSocket client through the proxy.
# Debian's package for /usr/bin/python3; apt runs only when it is missing.
set -euo pipefail
if /usr/bin/python3 -c 'import websockets' 2>/dev/null; then
	echo "30-python-websockets: python3-websockets already installed"
	exit 0
fi
echo "30-python-websockets: installing python3-websockets"
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-websockets
