#!/bin/sh
# SPDX-License-Identifier: MIT
# systemd-analyze verify on the built units (system and user instance):
# each set must load with no message at all (verify exits 0 even after
# "Invalid syntax, ignoring"). ExecStart= is pointed at the built wrennd,
# which verify requires to exist. Also prints the offline
# `systemd-analyze security` exposure of wrennd.service (reported, not
# asserted; README records it). SKIPs where systemd-analyze is missing.
set -u
b=${top_builddir:-.}
sa=$(command -v systemd-analyze 2>/dev/null || true)
if test -z "$sa"; then
	echo "1..0 # SKIP systemd-analyze not found (systemd not installed)"
	exit 0
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/system" "$tmp/user" "$tmp/run"
n=0
fail=0
copy() { # unit-file dest-dir
	sed "s|^ExecStart=.*/wrennd\\( .*\\)\\{0,1\\}\$|ExecStart=$b/daemon/wrennd\\1|" \
	    "$1" > "$2/$(basename "$1")" || exit 1
}
check() { # name, then the command
	name=$1
	shift
	n=$((n + 1))
	out=$("$@" 2>&1)
	rc=$?
	if test "$rc" = 0 && test -z "$out"; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name (exit $rc)"
		printf '%s\n' "$out" | sed 's/^/#   /'
		fail=1
	fi
}
for u in wrennd.service wrennd.socket wrennd-tool.socket; do
	copy "$b/systemd/$u" "$tmp/system"
done
for u in wrennd.service wrennd.socket; do
	copy "$b/systemd/user/$u" "$tmp/user"
done
cd "$tmp/system" || exit 1
check "systemd-analyze verify: the system units" \
    "$sa" verify --man=no ./wrennd.service ./wrennd.socket ./wrennd-tool.socket
cd "$tmp/user" || exit 1
check "systemd-analyze --user verify: the user units" \
    env XDG_RUNTIME_DIR="$tmp/run" "$sa" --user verify --man=no \
    ./wrennd.service ./wrennd.socket
cd "$tmp/system" || exit 1
score=$("$sa" security --offline=yes ./wrennd.service 2>/dev/null |
    sed -n 's/.*Overall exposure level for wrennd.service: //p')
echo "# systemd-analyze security --offline=yes wrennd.service: ${score:-(not reported)}"
echo "1..$n"
exit $fail
