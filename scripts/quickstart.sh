#!/bin/sh
# SPDX-License-Identifier: MIT
# Quick start on a fresh Debian 12 machine: install the dependencies, build,
# start the fake control plane (tests/fakecp) and wrennd, then create a
# sandbox and run a command in it through wrennctl. Everything it starts is
# stopped on exit; nothing is installed outside the build directory.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

. scripts/lib.sh
require_unconfigured_tree quickstart.sh
sh scripts/deps.sh
[ -x configure ] || ./autogen.sh >/dev/null
mkdir -p _build/quickstart
cd _build/quickstart
[ -f Makefile ] || "$top/configure" --quiet
make -s -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

tmp=$(mktemp -d)
fake_pid=""
wrennd_pid=""
cleanup() {
	[ -n "$wrennd_pid" ] && kill "$wrennd_pid" 2>/dev/null && wait "$wrennd_pid" 2>/dev/null
	[ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null && wait "$fake_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

echo "== starting the fake control plane"
/usr/bin/python3 "$top/tests/fakecp/fakecp.py" --listen 127.0.0.1:0 \
	--port-file "$tmp/port" --seed-out "$tmp/seed.json" \
	--state-dir "$tmp/state" >"$tmp/fakecp.log" 2>&1 &
fake_pid=$!
i=0
while [ ! -s "$tmp/port" ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "fake control plane did not start"; cat "$tmp/fakecp.log"; exit 1; }
	sleep 0.1
done
port=$(cat "$tmp/port")
# The API key goes to wrennd in a file (mode 0600), never on a command line.
/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_key"])' \
	"$tmp/seed.json" >"$tmp/api-key"
chmod 600 "$tmp/api-key"

echo "== starting wrennd"
daemon/wrennd --socket "$tmp/wrennd.sock" --base-url "http://127.0.0.1:$port" \
	--api-key-file "$tmp/api-key" 2>"$tmp/wrennd.log" &
wrennd_pid=$!
i=0
while [ ! -S "$tmp/wrennd.sock" ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "wrennd did not start"; cat "$tmp/wrennd.log"; exit 1; }
	sleep 0.1
done
export WRENND_SOCKET="$tmp/wrennd.sock"

set -x
cli/wrennctl status
sb=$(cli/wrennctl -q sandbox create)
cli/wrennctl sandbox wait "$sb"
cli/wrennctl sandbox list
cli/wrennctl exec "$sb" -- /bin/sh -c 'echo "hello from $(uname -s), exit code 3 follows"; exit 3' || echo "exit code: $?"
cli/wrennctl sandbox rm "$sb"
set +x
echo "== done: the fake control plane and wrennd are stopped on exit"
