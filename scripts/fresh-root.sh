#!/bin/sh
# SPDX-License-Identifier: MIT
# The README's promise, checked: in a freshly bootstrapped minimal Debian 12
# root (debootstrap --variant=minbase from this machine's apt mirror, nothing
# else installed), a clean `git archive` of this tree runs
#   sh scripts/quickstart.sh
#   sh scripts/check-all.sh release      (release build + make check)
#   make install to /usr/local, then wrennctl runs without a manual ldconfig
# so a missing install step fails CI instead of a new user. Nothing is
# cached across runs: the root is bootstrapped afresh and deleted after.
#
# Needs root (chroot, mounts). Run by scripts/check-all.sh under CI (see
# HACKING.md); by hand: sudo sh scripts/fresh-root.sh. The tree archived is
# HEAD plus uncommitted changes to tracked files. WRENND_FRESH_MIRROR
# overrides the mirror read from the apt configuration.
set -eu
cd "$(dirname "$0")/.."
suite=bookworm

if [ "$(id -u)" != 0 ]; then
	echo "fresh-root.sh: needs root (debootstrap, chroot, mounts)" >&2
	exit 1
fi
# Every mount below lives in a private mount namespace: even if this script
# is killed, none of them outlives it or shows on the host.
if [ -z "${WRENND_FRESH_NS:-}" ]; then
	WRENND_FRESH_NS=1 exec unshare --mount --propagation private \
		sh "$0" "$@"
fi
git rev-parse --git-dir >/dev/null 2>&1 || {
	echo "fresh-root.sh: not a git checkout (it archives the tree with git)" >&2
	exit 1
}

# The Debian mirror of this machine's apt configuration: the first URI of a
# deb source for $suite (deb822 .sources files, then one-line .list files).
apt_mirror() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v suite="$suite" '
			function flush() {
				if (deb && hit && uri != "") { print uri; found = 1; exit }
				deb = hit = 0; uri = ""
			}
			/^[ \t]*$/ { flush(); next }
			/^Types:/ { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
			/^URIs:/ { uri = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) hit = 1 }
			END { if (!found) flush() }
		' "$f"
	done
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk -v suite="$suite" '$1 == "deb" {
			i = 2
			if ($i ~ /^\[/) while ($i !~ /\]$/) i++
			if ($i ~ /^\[/ || $i ~ /\]$/) i++
			if ($(i + 1) == suite) print $i
		}'
}
mirror=${WRENND_FRESH_MIRROR:-$(apt_mirror | head -n 1)}
if [ -z "$mirror" ]; then
	echo "fresh-root.sh: no deb source for $suite in /etc/apt (set" \
		"WRENND_FRESH_MIRROR)" >&2
	exit 1
fi

if ! command -v debootstrap >/dev/null 2>&1; then
	echo "== installing debootstrap"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends debootstrap
fi

root=$(mktemp -d /var/tmp/wrennd-fresh.XXXXXX)
chmod 755 "$root" # apt downloads as _apt
mounts=""
cleanup() {
	for m in $mounts; do
		umount -R "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	# Delete only once nothing is mounted on or below the root any more.
	if grep -q " $root[/ ]" /proc/self/mounts; then
		echo "fresh-root.sh: $root still has mounts; not deleted" >&2
	else
		rm -rf --one-file-system "$root"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$(date +%s)
step() {
	echo "== fresh root: $1 ($(($(date +%s) - t0)) s so far)"
}

step "debootstrap --variant=minbase $suite from $mirror"
debootstrap --variant=minbase "$suite" "$root" "$mirror" \
	>"$root.debootstrap.log" 2>&1 || {
	tail -n 40 "$root.debootstrap.log"
	rm -f "$root.debootstrap.log"
	exit 1
}
rm -f "$root.debootstrap.log"

# The root is a mount point of its own, so tests inside can make private
# mount namespaces (unshare(1) fails in a chroot whose / is not one).
mount --bind "$root" "$root"
mounts="$root"
mount -t proc proc "$root/proc"
mounts="$root/proc $mounts"
for d in dev sys; do
	mount --rbind "/$d" "$root/$d"
	mount --make-rslave "$root/$d"
	mounts="$root/$d $mounts"
done

step "copying a clean git archive of the tree"
rev=$(git stash create 2>/dev/null || true)
# Not under /root (mode 0700): test-cli.py runs wrennctl as another uid.
mkdir -p "$root/srv/wrennd"
git archive --format=tar "${rev:-HEAD}" | tar -x -C "$root/srv/wrennd"

in_root() { # shell command
	chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/sh -c "cd /srv/wrennd && $1"
}

step "sh scripts/quickstart.sh"
in_root "sh scripts/quickstart.sh"
# The 1 GiB transfers of test-files.py run on the host; here 64 MiB
# prove the same paths in a fraction of the time.
step "sh scripts/check-all.sh release"
in_root "WRENND_TEST_BIG_BYTES=67108864 sh scripts/check-all.sh release"
step "make install, then wrennctl from /usr/local"
in_root "cd _build/release && make -s install >/dev/null && \
	wrennctl --version && wrennctl help >/dev/null"
step "done"
