#!/bin/sh
# SPDX-License-Identifier: MIT
# The whole test suite, as CI runs it, from a clean clone on Debian 12:
# dependencies, a warning-free build, `make check`, the same suite under
# AddressSanitizer+UBSan, a clang build, the unit tests under valgrind,
# the benchmarks (reported only), `make distcheck`.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

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

echo "== build and test (release)"
run_build release
(cd _build/release && make -j"$jobs" && make -j"$jobs" check) ||
	{ show_logs _build/release; exit 1; }

echo "== build and test (AddressSanitizer + UBSan)"
run_build asan --enable-asan
(cd _build/asan && make -j"$jobs" &&
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	make -j"$jobs" check) || { show_logs _build/asan; exit 1; }

echo "== build with clang (warnings are errors), including the test programs"
run_build clang CC=clang
(cd _build/clang && make -j"$jobs" && make -j"$jobs" check TESTS=) || exit 1

echo "== unit tests under valgrind"
(cd _build/release && for t in tests/unit/test-*; do
	case $t in *.c|*.o|*.log|*.trs) continue ;; esac
	[ -x "$t" ] || continue
	./libtool --mode=execute valgrind -q --error-exitcode=99 \
		--leak-check=full --errors-for-leak-kinds=definite \
		"./$t" >"$t.valgrind.log" 2>&1 ||
		{ echo "valgrind: $t failed"; tail -n 60 "$t.valgrind.log"; exit 1; }
done)

echo "== benchmarks (reported, not asserted)"
(cd _build/release && make bench BENCH_ARGS="--file-mib 1024 --stream-mib 64" &&
	cat tests/bench/results.txt) || echo "benchmarks failed (not fatal)"

echo "== distcheck"
(cd _build/release && make -j"$jobs" distcheck) || exit 1

# One closing line for whoever reads the log: TAP results of both suites.
pass=$(cat _build/release/tests/*/*.trs _build/asan/tests/*/*.trs 2>/dev/null |
	grep -c '^:test-result: PASS' || true)
fail=$(cat _build/release/tests/*/*.trs _build/asan/tests/*/*.trs 2>/dev/null |
	grep -c '^:test-result: \(FAIL\|XPASS\|ERROR\)' || true)
skip=$(cat _build/release/tests/*/*.trs _build/asan/tests/*/*.trs 2>/dev/null |
	grep -c '^:test-result: SKIP' || true)
echo "all checks passed"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
