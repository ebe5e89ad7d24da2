#!/bin/sh
# SPDX-License-Identifier: MIT
# Replay the proto corpus with mutations through tests/fuzz/fuzz-proto.
exec "${top_builddir:-.}/tests/fuzz/fuzz-proto" "${top_srcdir:-.}/tests/fuzz/corpus/proto"
