#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Fail when a Python test assertion checks more than one condition (TAP).

Each assertion in tests/integ/*.py and tests/fakecp/test_*.py checks one
condition, so a failure says which fact broke and what it was. Flagged:

  - ok(a and b, ...), ok(not (a or b), ...) and `assert a and b`: an
    'and' at the top of the condition (or under a top-level 'or', as in
    ok(a and b or c)). A plain ok(a or b) passes: it fails only when
    every alternative fails, so its failure is not ambiguous;
  - eq((a, b), (c, d), ...) and eq([a, b], ...): several values packed
    into one literal on the "got" side;
  - ok(all([a, b]), ...) / any((a, b)): all() or any() over a literal list
    of different expressions (all() over a comprehension of one fact is
    one condition and passes).

ok/eq are recognised by name as methods (t.ok, self.tap.eq); assert is
the Python statement. Each file is one TAP test point; a finding is
printed as path:line: what. Files named on the command line are checked
instead of the patterns' files.
"""
import ast
import glob
import os
import sys

SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), ".."))
PATTERNS = ("tests/integ/*.py", "tests/fakecp/test_*.py")
OK_NAMES = {"ok"}
EQ_NAMES = {"eq"}


def joined(expr):
    """Why expr is several conditions, or None when it is one."""
    if isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.And):
        return "'and' joins %d conditions" % len(expr.values)
    if isinstance(expr, ast.BoolOp):
        for alt in expr.values:
            if joined(alt):
                return "an alternative of 'or': " + joined(alt)
    if (isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.Not)
            and isinstance(expr.operand, ast.BoolOp)
            and isinstance(expr.operand.op, ast.Or)):
        return "'not (... or ...)' joins %d conditions" % len(
            expr.operand.values)
    if (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name)
            and expr.func.id in ("all", "any") and len(expr.args) == 1
            and isinstance(expr.args[0], (ast.List, ast.Tuple, ast.Set))
            and len(expr.args[0].elts) > 1):
        return "%s() over %d different expressions" % (
            expr.func.id, len(expr.args[0].elts))
    return None


def method_name(call):
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def findings(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            why = joined(node.test)
            if why:
                yield node.lineno, "assert: " + why
        elif isinstance(node, ast.Call) and node.args:
            name = method_name(node)
            if name in OK_NAMES:
                why = joined(node.args[0])
                if why:
                    yield node.lineno, "%s(): %s" % (name, why)
            elif name in EQ_NAMES:
                got = node.args[0]
                if (isinstance(got, (ast.Tuple, ast.List))
                        and len(got.elts) > 1):
                    yield node.lineno, (
                        "%s(): %d values packed into one comparison" %
                        (name, len(got.elts)))


def files():
    out = []
    for pat in PATTERNS:
        out += sorted(glob.glob(os.path.join(SRCDIR, pat)))
    return out


def main(argv):
    paths = argv[1:] or files()
    n = failed = 0
    for path in paths:
        n += 1
        rel = os.path.relpath(path, SRCDIR)
        with open(path) as fh:
            tree = ast.parse(fh.read(), path)
        found = sorted(findings(tree))
        if found:
            failed += 1
            print("not ok %d - %s: one condition per assertion" % (n, rel))
            for line, what in found:
                print("#   %s:%d: %s" % (rel, line, what))
        else:
            print("ok %d - %s: one condition per assertion" % (n, rel))
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
