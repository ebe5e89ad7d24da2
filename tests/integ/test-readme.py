#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""README.md's "Reach Jupyter in your sandbox" example, run exactly as it
is written: the shell block is taken from the README and run by /bin/sh
with wrennctl on PATH, against the fake control plane and a real Jupyter
Server (jupyterfix.py) that the fake's proxy sends port 8888 of every
sandbox to. The deployment has a template named code-runner-beta (made
here by snapshotting a sandbox, as a team would). Every "# -> EXPECTED"
comment of the block is one line the block prints, in order: "cl-..."
stands for a sandbox id, "..." and "[...]" for anything, and words after
": " explain. The figure saved by run-code -D is a real PNG."""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SRCDIR, WRENNCTL, Env, Tap, wrennctl  # noqa: E402
import jupyterfix  # noqa: E402

SECTION = "### Reach Jupyter in your sandbox"
TEMPLATE = "code-runner-beta"

have, why = jupyterfix.available()
if not have:
    print("1..0 # SKIP " + why)
    sys.exit(0)


def readme_block():
    """The first ```sh block after SECTION in README.md."""
    with open(os.path.join(SRCDIR, "README.md")) as f:
        text = f.read()
    at = text.index(SECTION)
    m = re.compile(r"^```sh\n(.*?)^```$", re.S | re.M).search(text, at)
    return m.group(1)


def expectations(block):
    """One regular expression per "# -> " comment, in order."""
    out = []
    for line in block.splitlines():
        i = line.find("# -> ")
        if i < 0:
            continue
        want = line[i + 5:].strip()
        if not want.startswith("{") and ": " in want:
            want = want[:want.index(": ")]
        rx = re.escape(want)
        rx = rx.replace(re.escape("cl-..."), "cl-[0-9a-z]+")
        rx = rx.replace(re.escape("[...]"), r"\[.*\]")
        rx = rx.replace(re.escape("..."), ".*")
        out.append((want, re.compile(rx)))
    return out


t = Tap()
env = Env()
jup = None
try:
    jup = jupyterfix.Jupyter(env.tmp)
    # Port 8888 of every sandbox is that Jupyter Server.
    env.fake.ctl("PUT", "proxy/ports/8888",
                 {"target": "127.0.0.1:%d" % jup.port})
    # The deployment's code-runner template: a team template of that name.
    rc, out, errt = wrennctl(env.sock, "sandbox", "create", "-q")
    base = out.decode().strip()
    rc, out, errt = wrennctl(env.sock, "snapshot", "create", "--name",
                             TEMPLATE, base)
    t.eq(rc, 0, "setup: the %s template exists (%s)" % (TEMPLATE,
                                                       errt.strip()))

    block = readme_block()
    want = expectations(block)
    t.ok(len(want) >= 3, "the README block says what it prints", block)
    work = tempfile.mkdtemp(prefix="readme.", dir=env.tmp)
    e = dict(os.environ)
    e.pop("WRENND_SOCKET", None)
    e.update(WRENND_SOCKET=env.sock,
             PATH=os.path.dirname(WRENNCTL) + os.pathsep + e["PATH"])

    with t.case("the README block runs"):
        p = subprocess.run(["/bin/sh", "-e", "-c", block], cwd=work, env=e,
                           capture_output=True, timeout=600)
        t.eq(p.returncode, 0, "the block exits 0 (stderr: %s)"
             % p.stderr.decode(errors="replace")[-2000:])
        got = p.stdout.decode(errors="replace").splitlines()
        t.eq(len(got), len(want), "one printed line per '# ->' comment "
             "(printed: %r)" % got)
        for i, (text, rx) in enumerate(want):
            line = got[i] if i < len(got) else ""
            t.ok(rx.fullmatch(line) is not None,
                 "line %d is what the README says: %s" % (i + 1, text),
                 "printed: %r" % line)

    with t.case("the figure and the JSON are real"):
        pngs = sorted(os.listdir(os.path.join(work, "plots")))
        t.eq(len(pngs), 1, "one image saved in plots/ (%r)" % pngs)
        with open(os.path.join(work, "plots", pngs[0]), "rb") as f:
            magic = f.read(8)
        t.eq(magic, b"\x89PNG\r\n\x1a\n", "the image is a PNG")
        last = got[-1] if got else "{}"
        t.eq(json.loads(last).get("text"), "2",
             "the raw call's result is JSON with text 2")
finally:
    if jup is not None:
        jup.stop()
    env.close(t)
sys.exit(t.done())
