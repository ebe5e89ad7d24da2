#!/bin/sh
# SPDX-License-Identifier: MIT
# Install the Debian 12 packages wrennd needs to build and to be tested.
set -eu
PKGS="build-essential autoconf automake libtool pkg-config
libevent-dev libssl-dev libjansson-dev libsystemd-dev libcurl4-openssl-dev
libwslay-dev python3 python3-aiohttp openssl ca-certificates curl valgrind clang
clang-format python3-fuse fuse3
python3-jupyter-server python3-ipykernel python3-matplotlib
python3-cryptography"
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
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
