#!/bin/sh
# SPDX-License-Identifier: MIT
# The whole test suite, as CI runs it, from a clean clone on Debian 12:
# dependencies, a warning-free build, `make check`, its integration suite
# once more against the fake's v0.1.5 dialect, the same suite under
# AddressSanitizer+UBSan, a clang build, the unit tests under valgrind,
# the benchmarks (reported only), `make distcheck`, and under CI the
# README's two commands in a freshly bootstrapped Debian 12 root
# (scripts/fresh-root.sh).
#
# usage: check-all.sh [all|release]
#   all      everything above (the default)
#   release  dependencies, the release build, its `make check` and the
#            integration suite against the v0.1.5 dialect only
# WRENND_FRESH_ROOT=1 forces the fresh-root stage on, =0 off; by default it
# runs when CI=true.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)
stage=${1:-all}
case $stage in
all | release) ;;
*)
	echo "usage: check-all.sh [all|release]" >&2
	exit 2
	;;
esac
case ${WRENND_FRESH_ROOT:-} in
1) fresh_root=1 ;;
0) fresh_root=0 ;;
"") [ "${CI:-}" = true ] && fresh_root=1 || fresh_root=0 ;;
*)
	echo "WRENND_FRESH_ROOT must be 1 or 0" >&2
	exit 2
	;;
esac
[ "$stage" = all ] || fresh_root=0

. scripts/lib.sh
require_unconfigured_tree check-all.sh

sh scripts/deps.sh
./autogen.sh

run_build() { # name, configure flags...
	name=$1
	shift
	rm -rf "_build/$name"
	mkdir -p "_build/$name"
	(cd "_build/$name" && "$top/configure" --enable-werror "$@" >configure.log)
}

show_logs() {
	find "$1" -name '*.log' -path '*tests*' | while read -r f; do
		if grep -q '^not ok\|^ERROR\|^FAIL' "$f" 2>/dev/null; then
			echo "---- $f"; tail -n 80 "$f"
		fi
	done
}

# TAP results of the trees that ran `make check`: every .trs file of their
# test directories (tests/*.trs too: check-format, check-exports).
suites=""
count() { # pattern
	for b in $suites; do
		find "_build/$b/tests" -name '*.trs' -exec cat {} +
	done 2>/dev/null | grep -c "^:test-result: $1" || true
}

echo "== build and test (release)"
run_build release
(cd _build/release && make -j"$jobs" && make -j"$jobs" check) ||
	{ show_logs _build/release; exit 1; }
suites="release"

# The integration suite once more against the fake's v0.1.5 dialect
# (/v1/capsules), on this build only (it adds about a quarter of the
# release pass). make check-capsules rewrites tests/integ's results, so
# the first pass's are kept beside them (renamed) for the closing count.
echo "== integration tests against the v0.1.5 control plane (release)"
first=_build/release/tests/integ-sandboxes
rm -rf "$first"
mkdir -p "$first"
for f in _build/release/tests/integ/*.trs _build/release/tests/integ/*.log; do
	[ -e "$f" ] && cp "$f" "$first/sandboxes-${f##*/}"
done
(cd _build/release && make -j"$jobs" check-capsules) ||
	{ show_logs _build/release; exit 1; }

if [ "$stage" = all ]; then
	echo "== build and test (AddressSanitizer + UBSan)"
	run_build asan --enable-asan
	(cd _build/asan && make -j"$jobs" &&
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		make -j"$jobs" check) || { show_logs _build/asan; exit 1; }
	suites="release asan"

	echo "== build with clang (warnings are errors), including the test programs"
	run_build clang CC=clang
	(cd _build/clang && make -j"$jobs" && make -j"$jobs" check TESTS=) || exit 1

	echo "== unit tests under valgrind"
	# The data-driven suites find their cases under $top_srcdir, as in
	# make check.
	(cd _build/release && export top_srcdir="$top" PYTHON3=/usr/bin/python3 &&
	for t in tests/unit/test-*; do
		case $t in *.c|*.o|*.log|*.trs) continue ;; esac
		[ -x "$t" ] || continue
		./libtool --mode=execute valgrind -q --error-exitcode=99 \
			--leak-check=full --errors-for-leak-kinds=definite \
			"./$t" >"$t.valgrind.log" 2>&1 ||
			{ echo "valgrind: $t failed"; tail -n 60 "$t.valgrind.log"; exit 1; }
	done)

	echo "== benchmarks (reported, not asserted)"
	(cd _build/release &&
		make bench BENCH_ARGS="--file-mib 1024 --stream-mib 64") ||
		echo "benchmarks failed (not fatal)"

	# distcheck proves the tarball builds and tests from a read-only
	# source tree; the integration suite already ran twice above, so
	# there it runs one integration test beside every other check.
	echo "== distcheck"
	(cd _build/release && make -j"$jobs" distcheck \
		INTEG_RUN=tests/integ/test-sandbox.py) || exit 1
fi

if [ "$fresh_root" = 1 ]; then
	echo "== the README's commands in a fresh Debian 12 root"
	sh scripts/fresh-root.sh || exit 1
fi

# One closing line for whoever reads the log: TAP results of the suites.
pass=$(count PASS)
fail=$(count '\(FAIL\|XPASS\|ERROR\)')
skip=$(count SKIP)
echo "$pass passed, $fail failed, $skip skipped ($suites)"
if [ "$fail" -ne 0 ] || [ "$pass" -eq 0 ]; then
	echo "checks FAILED"
	exit 1
fi
echo "all checks passed"
