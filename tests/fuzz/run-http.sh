#!/bin/sh
# SPDX-License-Identifier: MIT
# Replay the HTTP corpus with mutations through tests/fuzz/fuzz-http.
exec "${top_builddir:-.}/tests/fuzz/fuzz-http" "${top_srcdir:-.}/tests/fuzz/corpus/http"
