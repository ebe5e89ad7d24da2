#!/bin/sh
# SPDX-License-Identifier: MIT
# libwrennctl ABI guard (TAP): the functions declared WRENNCTL_EXPORT in
# wrennctl.h, the names in libwrennctl.sym and the dynamic symbols of the
# built libwrennctl.so must be the same three lists; nothing else may be
# exported; every export carries a LIBWRENNCTL_* version; the public
# header stands alone as C89 (and C++ when a compiler is there).
# Run by make check with top_srcdir and top_builddir in the environment.
set -u

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${top_builddir:-$srcdir}
hdr=$srcdir/libwrennctl/wrennctl.h
sym=$srcdir/libwrennctl/libwrennctl.sym
so=$builddir/libwrennctl/.libs/libwrennctl.so
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-exports.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

n=0
fails=0
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fails=$((fails + 1))
	fi
}
skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}
# Show the difference of two sorted lists as TAP diagnostics.
showdiff() {
	diff "$1" "$2" | sed -n 's/^\([<>]\)/# \1/p'
}

sed -n 's/^WRENNCTL_EXPORT[^(]*[ *]\(wrennctl_[a-z0-9_]*\)(.*/\1/p' "$hdr" |
    LC_ALL=C sort >"$tmp/header"
sed -n 's/^[[:space:]]*\(wrennctl_[a-z0-9_]*\);.*/\1/p' "$sym" |
    LC_ALL=C sort >"$tmp/sym"

[ -s "$tmp/header" ]
ok $? "wrennctl.h declares exported functions ($(wc -l <"$tmp/header"))"

cmp -s "$tmp/header" "$tmp/sym"
r=$?
ok $r "wrennctl.h WRENNCTL_EXPORT functions == libwrennctl.sym"
[ $r -eq 0 ] || showdiff "$tmp/header" "$tmp/sym"

LC_ALL=C sort -u "$tmp/sym" | cmp -s - "$tmp/sym"
ok $? "libwrennctl.sym lists each symbol once"

grep -q '^[[:space:]]*local:[[:space:]]*$' "$sym" &&
    grep -q '^[[:space:]]*\*;' "$sym"
ok $? "libwrennctl.sym hides everything else (local: *;)"

if [ ! -f "$so" ] || ! command -v nm >/dev/null 2>&1; then
	skip "libwrennctl.so exports == libwrennctl.sym" "no shared library or nm"
	skip "libwrennctl.so exports nothing else" "no shared library or nm"
	skip "every export is versioned LIBWRENNCTL_*" "no shared library or nm"
else
	nm -D --defined-only "$so" | awk 'NF == 3 && $2 != "A" { print $3 }' \
	    >"$tmp/nm-raw"
	sed 's/@.*//' "$tmp/nm-raw" | LC_ALL=C sort -u >"$tmp/nm"
	grep '^wrennctl_' "$tmp/nm" >"$tmp/nm-api"
	cmp -s "$tmp/sym" "$tmp/nm-api"
	r=$?
	ok $r "libwrennctl.so exports == libwrennctl.sym"
	[ $r -eq 0 ] || showdiff "$tmp/sym" "$tmp/nm-api"
	grep -v '^wrennctl_' "$tmp/nm" >"$tmp/nm-other"
	[ ! -s "$tmp/nm-other" ]
	r=$?
	ok $r "libwrennctl.so exports nothing else"
	[ $r -eq 0 ] || sed 's/^/# leaked: /' "$tmp/nm-other"
	grep -v '@@*LIBWRENNCTL_[0-9.]*$' "$tmp/nm-raw" >"$tmp/unversioned"
	[ ! -s "$tmp/unversioned" ]
	r=$?
	ok $r "every export is versioned LIBWRENNCTL_*"
	[ $r -eq 0 ] || sed 's/^/# unversioned: /' "$tmp/unversioned"
fi

cc=${CC:-cc}
if command -v "$cc" >/dev/null 2>&1; then
	printf '#include "wrennctl.h"\nint wrennctl_check_exports_dummy;\n' \
	    >"$tmp/c89.c"
	"$cc" -std=c89 -pedantic -Wall -Wextra -Werror -fsyntax-only \
	    -I"$srcdir/libwrennctl" "$tmp/c89.c" 2>"$tmp/c89.err"
	r=$?
	ok $r "wrennctl.h compiles alone as C89 -pedantic"
	[ $r -eq 0 ] || sed 's/^/# /' "$tmp/c89.err"
else
	skip "wrennctl.h compiles alone as C89 -pedantic" "no C compiler"
fi
cxx=${CXX:-c++}
if command -v "$cxx" >/dev/null 2>&1; then
	printf '#include "wrennctl.h"\nint f(struct wrennctl *h) { return wrennctl_get_fd(h); }\n' \
	    >"$tmp/cxx.cc"
	"$cxx" -Wall -Wextra -Werror -fsyntax-only \
	    -I"$srcdir/libwrennctl" "$tmp/cxx.cc" 2>"$tmp/cxx.err"
	r=$?
	ok $r "wrennctl.h compiles as C++"
	[ $r -eq 0 ] || sed 's/^/# /' "$tmp/cxx.err"
else
	skip "wrennctl.h compiles as C++" "no C++ compiler"
fi

echo "1..$n"
[ $fails -eq 0 ]
