# SPDX-License-Identifier: MIT
# Shell helpers shared by the scripts in this directory (sourced, never run).

# Refuse a source tree configured in place: an in-tree ./configure makes
# every out-of-tree (VPATH) build of the same checkout fail with "source
# directory already configured". Run from the top of the source tree.
require_unconfigured_tree() { # script name
	[ -f config.status ] || return 0
	echo "$1: this source tree was configured in place (./configure);" \
		"run 'make distclean' here first, then build out of tree as" \
		"README.md shows" >&2
	exit 1
}
