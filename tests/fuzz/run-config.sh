#!/bin/sh
# SPDX-License-Identifier: MIT
# Replay the config corpus with mutations through tests/fuzz/fuzz-config.
exec "${top_builddir:-.}/tests/fuzz/fuzz-config" "${top_srcdir:-.}/tests/fuzz/corpus/config"
