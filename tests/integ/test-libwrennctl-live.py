# SPDX-License-Identifier: MIT
"""Runs tests/integ/ctl-live (a libwrennctl program) against a real wrennd
and the fake control plane, and passes its TAP through."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUILDDIR, Client, Env, Tap  # noqa: E402

t = Tap()
env = Env(start_wrennd=False)
try:
    env.start_wrennd(cred="admin", env={"WRENN_API_KEY":
                                        env.seed["api_key"]})
    c = Client(env.sock)
    host = env.fake.ctl("POST", "hosts", {"type": "regular"})["id"]
    busy = c.call("sandboxes.create", {})["result"]["id"]
    env.fake.ctl("POST", "sandboxes/%s/host" % busy, {"host_id": host})
    c.close()
    e = dict(os.environ, WRENND_SOCKET=env.sock)
    p = subprocess.run([os.path.join(BUILDDIR, "tests", "integ", "ctl-live"),
                        host, busy], env=e, capture_output=True, text=True,
                       timeout=300)
    for line in p.stdout.splitlines():
        if line.startswith("ok ") or line.startswith("not ok "):
            t.ok(line.startswith("ok "), line.split(" - ", 1)[-1])
        elif line.startswith("#"):
            print(line)
    t.ok(p.returncode == 0, "ctl-live exits 0", p.stderr[-2000:])
finally:
    env.close(t)
sys.exit(t.done())
