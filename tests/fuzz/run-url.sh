#!/bin/sh
# SPDX-License-Identifier: MIT
# Replay the URL corpus with mutations through tests/fuzz/fuzz-url.
exec "${top_builddir:-.}/tests/fuzz/fuzz-url" "${top_srcdir:-.}/tests/fuzz/corpus/url"
