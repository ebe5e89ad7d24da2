#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Self-test of the Jupyter fixture (tests/integ/jupyterfix.py) behind the
fake's sandbox proxy; prints TAP.

Starts a fakecp.py child and a real Jupyter Server (Debian's
python3-jupyter-server and python3-ipykernel), maps a sandbox's port 8888
to it, and then does what the SDK's run_code does (CONTRACT 12.2), through
the proxy with the sandbox's X-API-Key: GET /api, the kernelspecs, POST
/api/kernels, and execute_request messages on the kernel's WebSocket
channel: 1+1, state kept between calls, stdout and stderr, an error with
its traceback, rich display data (image/png from matplotlib when Debian's
python3-matplotlib is installed).  Then a killed kernel, and stop()
leaving no kernel process behind.  SKIPs when Jupyter is not installed.
"""

import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integ"))
from test_fakecp import Fake, require_aiohttp, run  # noqa: E402

require_aiohttp(__file__)
import aiohttp  # noqa: E402

import asyncio  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

import jupyterfix  # noqa: E402
from harness import wait_for  # noqa: E402

WS = aiohttp.WSMsgType
EXEC_DEADLINE = 120.0     # seconds for one execution on a loaded machine


def execute_request(code):
    """The SDK's execute_request frame (CONTRACT 12.2)."""
    return {"header": {"msg_id": uuid.uuid4().hex,
                       "msg_type": "execute_request",
                       "username": "wrenn-sdk", "session": uuid.uuid4().hex,
                       "date": time.strftime("%Y-%m-%dT%H:%M:%S.000Z",
                                             time.gmtime()),
                       "version": "5.3"},
            "parent_header": {}, "metadata": {},
            "content": {"code": code, "silent": False, "store_history": True,
                        "user_expressions": {}, "allow_stdin": False,
                        # as wrennd sends it: the fixture's kernels abort
                        # what follows an error with stop_on_error
                        "stop_on_error": False},
            "buffers": [], "channel": "shell"}


async def run_code(ws, code):
    """Send code, collect the replies to it until status idle:
    {"stdout", "stderr", "results": [data bundles], "error"}."""
    req = execute_request(code)
    await ws.send_str(json.dumps(req))
    out = {"stdout": "", "stderr": "", "results": [], "error": None}
    deadline = time.monotonic() + EXEC_DEADLINE
    while True:
        m = await ws.receive(timeout=max(0.1, deadline - time.monotonic()))
        if m.type != WS.TEXT:
            raise RuntimeError("kernel channel ended: %r" % (m,))
        msg = json.loads(m.data)
        if msg.get("parent_header", {}).get("msg_id") != \
                req["header"]["msg_id"]:
            continue
        typ = msg.get("msg_type") or msg["header"]["msg_type"]
        c = msg["content"]
        if typ == "stream":
            out["stdout" if c["name"] == "stdout" else "stderr"] += c["text"]
        elif typ in ("execute_result", "display_data"):
            out["results"].append(c["data"])
        elif typ == "error":
            out["error"] = (c["ename"], c["evalue"], "\n".join(
                c["traceback"]))
        elif typ == "status" and c["execution_state"] == "idle":
            return out


class Proxied:
    """HTTP and WebSocket to port 8888 of one sandbox, through the fake."""

    def __init__(self, session, fake, sandbox_id):
        self.s = session
        self.base = "http://127.0.0.1:%d" % fake.port
        self.headers = {"Host": "8888-%s.localhost:%d" % (sandbox_id,
                                                          fake.port),
                        "X-API-Key": fake.seed["api_key"]}

    async def json(self, method, path):
        async with self.s.request(method, self.base + path,
                                  headers=self.headers) as r:
            return r.status, await r.json(content_type=None)

    async def channel(self, kernel_id):
        return await self.s.ws_connect(
            self.base + "/api/kernels/%s/channels" % kernel_id,
            headers=self.headers, max_msg_size=0)


async def create_sandbox(session, fake):
    async with session.post("http://127.0.0.1:%d/v1/sandboxes" % fake.port,
                            json={}, headers={
                                "X-API-Key": fake.seed["api_key"]}) as r:
        assert r.status == 201, r.status
        return (await r.json())["id"]


async def amain(t, tmp, fakes, jups):
    fake = Fake(tmp, "main")
    fakes.append(fake)
    jup = await asyncio.to_thread(jupyterfix.Jupyter, tmp)
    jups.append(jup)
    t.ok(jup.port > 0, "the fixture reports the port it listens on")
    direct = await asyncio.to_thread(jup.api, "GET", "/api")
    t.ok("version" in direct, "GET /api answers directly", direct)
    async with aiohttp.ClientSession() as s:
        sid = await create_sandbox(s, fake)
        jup.map_into(fake, sid)
        p = Proxied(s, fake, sid)
        st, body = await p.json("GET", "/api")
        t.eq(st, 200, "GET /api through the proxy")
        t.has(body, "version", "GET /api through the proxy")
        st, specs = await p.json("GET", "/api/kernelspecs")
        t.eq(st, 200, "kernelspecs through the proxy list python3")
        t.has(specs.get("kernelspecs", {}), "python3",
             "kernelspecs through the proxy list python3")
        st, kernels = await p.json("GET", "/api/kernels")
        t.eq(st, 200, "no kernel yet")
        t.eq(kernels, [], "no kernel yet")
        st, k = await p.json("POST", "/api/kernels")
        t.eq(st, 201, "POST /api/kernels through the proxy starts a kernel")
        t.eq(isinstance(k, dict) and "id" in k, True,
             "POST /api/kernels through the proxy starts a kernel")
        kid = k["id"]
        ws = await p.channel(kid)
        r = await run_code(ws, "1+1")
        t.eq([b.get("text/plain") for b in r["results"]], ["2"],
             "1+1 executed over the kernel WebSocket through the proxy")
        await run_code(ws, "x = 41")
        await ws.close()
        ws = await p.channel(kid)
        r = await run_code(ws, "x + 1")
        t.eq([b.get("text/plain") for b in r["results"]], ["42"],
             "state is kept across calls and channel connections")
        r = await run_code(ws, "import sys\nprint('out')\n"
                           "print('err', file=sys.stderr)")
        t.eq(r.get("stdout"), "out\n",
             "stdout and stderr stream messages (stdout)")
        t.eq(r.get("stderr"), "err\n",
             "stdout and stderr stream messages (stderr)")
        r = await run_code(ws, "1/0")
        err = r["error"] or ("", "", "")
        t.eq(err[:2], ("ZeroDivisionError", "division by zero"),
             "an error message with its name and value")
        t.ok("Traceback" in err[2], "...and its traceback", err[2])
        has_mpl = await asyncio.to_thread(
            lambda: os.system("/usr/bin/python3 -c 'import matplotlib' "
                              ">/dev/null 2>&1") == 0)
        if has_mpl:
            r = await run_code(ws, "import matplotlib.pyplot as plt\n"
                               "plt.plot([1, 2, 3])\nplt.show()")
            t.ok(any("image/png" in b for b in r["results"]),
                 "matplotlib draws an image/png display_data",
                 [list(b) for b in r["results"]])
        else:
            r = await run_code(ws, "from IPython.display import HTML, "
                               "display\ndisplay(HTML('<b>hi</b>'))")
            t.ok(any("text/html" in b for b in r["results"]),
                 "IPython.display gives a text/html display_data", r)
        await ws.close()
        pids = jup.kernel_pids()
        t.eq(list(pids), [kid], "kernel_pids finds the kernel process")
        t.ok(jup.kill_kernel(kid), "kill_kernel kills it")
        new = await asyncio.to_thread(
            wait_for, lambda: jup.kernel_pids().get(kid) not in
            (None, pids[kid]), 60, 0.2, "the kernel's restart")
        t.ok(new, "the server restarts a killed kernel under the same id")
    rc = await asyncio.to_thread(jup.stop)
    jups.remove(jup)
    t.eq(rc, 0, "stop(): the server exits cleanly")
    t.eq(jup.kernel_pids(), {}, "stop(): no kernel process is left")


def _main_body(t, tmp, fakes):
    ok, why = jupyterfix.available()
    if not ok:
        print("1..0 # SKIP " + why)
        sys.exit(0)
    jups = []
    try:
        asyncio.run(amain(t, tmp, fakes, jups))
    finally:
        for j in jups:
            j.stop()


def main():
    return run("test-fakecp-jupyter-", _main_body)


if __name__ == "__main__":
    sys.exit(main())
