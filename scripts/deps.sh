#!/bin/sh
# SPDX-License-Identifier: MIT
# Install the Debian 12 packages wrennd needs to build and to be tested.
set -eu
PKGS="build-essential autoconf automake libtool pkg-config
libevent-dev libssl-dev libjansson-dev libsystemd-dev libcurl4-openssl-dev
libwslay-dev python3 python3-aiohttp openssl ca-certificates curl valgrind clang
clang-format python3-fuse fuse3
python3-jupyter-server python3-ipykernel python3-matplotlib
python3-cryptography nginx wrk tmux"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "installing:$missing"
$SUDO apt-get update -qq
# nginx (the forward benchmark's app, run by tests/bench/bench.py with a
# config of its own) must not start as a service on port 80: a root
# without a policy-rc.d (a fresh debootstrap root) gets one that refuses
# every start for the length of the install.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	trap '$SUDO rm -f "$policy"' EXIT
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
