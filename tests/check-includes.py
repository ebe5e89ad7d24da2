#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Fail when a module include graph has a cycle (TAP).

A module is a file name without its extension: daemon/client.c and
daemon/client.h are the module "client"; api.h alone is the module "api".
Module A depends on module B when a file of A has #include "B.h" and B.h is
in the same directory. A file that defines main() is the program, not a
module: nothing includes it, so it is its own node. Each directory given
(default: daemon and libwrennctl under $top_srcdir) must form a graph
without cycles; a cycle is printed as a path.
"""
import os
import re
import sys

SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), ".."))
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
MAIN = re.compile(r"^main\s*\(", re.M)


def graph(directory):
    """{module: set(modules it includes)} for the .c/.h files there."""
    files = sorted(f for f in os.listdir(directory)
                   if f.endswith((".c", ".h")))
    headers = {f for f in files if f.endswith(".h")}
    deps = {}
    for f in files:
        with open(os.path.join(directory, f), errors="replace") as fh:
            text = fh.read()
        node = f[:-2]
        if f.endswith(".c") and MAIN.search(text):
            node = f + " (program)"
        edges = deps.setdefault(node, set())
        for inc in INCLUDE.findall(text):
            if inc in headers and inc[:-2] != node:
                edges.add(inc[:-2])
    for edges in list(deps.values()):
        for e in edges:
            deps.setdefault(e, set())
    return deps


def find_cycle(deps):
    """One cycle as a list of modules, or None (iterative DFS)."""
    state = {}
    for root in sorted(deps):
        if state.get(root):
            continue
        stack = [(root, iter(sorted(deps[root])))]
        path = [root]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
                continue
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(sorted(deps[nxt]))))
    return None


def main(argv):
    dirs = argv[1:] or [os.path.join(SRCDIR, d)
                        for d in ("daemon", "libwrennctl")]
    failed = 0
    for i, d in enumerate(dirs, 1):
        cycle = find_cycle(graph(d))
        name = os.path.relpath(d, SRCDIR)
        if cycle is None:
            print("ok %d - %s: module include graph has no cycle" % (i, name))
        else:
            failed += 1
            print("not ok %d - %s: include cycle %s" %
                  (i, name, " -> ".join(cycle)))
            print("#   expected: no cycle; got: %s" % " -> ".join(cycle))
    print("1..%d" % len(dirs))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
