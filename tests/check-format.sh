#!/bin/sh
# SPDX-License-Identifier: MIT
# The C sources follow .clang-format (clang-format 14); drift fails the
# check. `make format` rewrites them. Skipped without clang-format 14.
srcdir=${top_srcdir:-$(dirname "$0")/..}
cd "$srcdir" || exit 1
if ! command -v clang-format >/dev/null 2>&1 ||
	! clang-format --version | grep -q 'version 14\.'; then
	echo "1..0 # SKIP clang-format 14 not available"
	exit 0
fi
n=0
fail=0
for f in $(find daemon protocol libwrennctl cli tests/unit tests/integ \
	-name '*.[ch]' | sort); do
	n=$((n + 1))
	if clang-format --style=file "$f" | cmp -s "$f" -; then
		echo "ok $n - $f"
	else
		echo "not ok $n - $f differs from clang-format (run make format)"
		fail=1
	fi
done
echo "1..$n"
exit $fail
