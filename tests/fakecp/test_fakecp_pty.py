#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Self-test of the fake's PTY WebSocket (CONTRACT 11.3); TAP.

Against fakecp.py --dialect capsules: start (started, base64 output, the
default size, input, resize, the PTY in the process list, exit and the
socket kept until the client acts), invalid base64 dropped, kill, the PTY
outliving its WebSocket and connect by tag, a connect to a gone tag that
produces nothing, the fatal first-message and auth errors, the
application ping, and no PTY route in the sandboxes dialect.  Each case
makes the sandboxes it needs.
"""

import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_fakecp import require_aiohttp, run  # noqa: E402

require_aiohttp(__file__)
import asyncio  # noqa: E402
import base64  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402

import aiohttp  # noqa: E402
from test_fakecp_capsules import Api, DFake, case  # noqa: E402

WS = aiohttp.WSMsgType
SH = {"type": "start", "cmd": "/bin/sh", "envs": {"PS1": "$ "}}


async def open_pty(api, sid, headers=None):
    return await api.ws(sid, headers=api.fake.key if headers is None
                        else headers, path="/v1/capsules/%s/pty" % sid)


async def receive(ws, timeout=20):
    """The next text message as JSON, or the frame type's name."""
    m = await ws.receive(timeout=timeout)
    if m.type == WS.TEXT:
        return json.loads(m.data)
    return m.type.name


async def send(ws, **msg):
    await ws.send_str(json.dumps(msg))


async def type_in(ws, text):
    await send(ws, type="input",
               data=base64.b64encode(text.encode()).decode())


async def until_output(ws, pattern):
    """Read output until its text matches pattern: (match, messages)."""
    text, msgs = "", []
    while True:
        m = await receive(ws)
        msgs.append(m)
        if not isinstance(m, dict):
            return None, msgs
        if m.get("type") == "output":
            text += base64.b64decode(m["data"]).decode("utf-8", "replace")
            found = re.search(pattern, text)
            if found:
                return found, msgs
        elif m.get("type") in ("exit", "error"):
            return None, msgs


async def until_type(ws, typ):
    """Skip messages up to the first of type typ (returned, or None)."""
    while True:
        m = await receive(ws)
        if not isinstance(m, dict):
            return None
        if m.get("type") == typ:
            return m


async def procs(api, sid):
    status, body = await api.json("GET", "/v1/capsules/%s/processes" % sid)
    assert status == 200, (status, body)
    return body["processes"]


async def test_session(t, api):
    sid = await api.sandbox()
    ws = await open_pty(api, sid)
    await send(ws, **SH)
    started = await receive(ws)
    t.eq(sorted(started), ["pid", "tag", "type"], "started: fields")
    t.eq(started["type"], "started", "started: first message")
    t.ok(re.fullmatch(r"pty-[0-9a-f]{8}", started["tag"]) is not None,
         "started: tag is pty-<8hex>", started["tag"])
    await type_in(ws, "stty size; echo E\"ND\"\n")
    found, msgs = await until_output(ws, r"(\d+) (\d+)\r\nEND")
    t.ok(found is not None, "default size printed", msgs[-3:])
    t.eq(found.groups() if found else None, ("24", "80"),
         "default size is 24x80")
    await send(ws, type="resize", cols=132, rows=50)
    await send(ws, type="resize", cols=0, rows=10)
    await type_in(ws, "stty size; echo R\"SZ\"\n")
    found, msgs = await until_output(ws, r"(\d+) (\d+)\r\nRSZ")
    t.eq(found.groups() if found else msgs[-3:], ("50", "132"),
         "resize applied, a zero size ignored")
    listed = await procs(api, sid)
    t.eq([(p["pid"], p.get("tag"), p["cmd"]) for p in listed],
         [(started["pid"], started["tag"], "/bin/sh")],
         "the PTY is in the process list")
    await type_in(ws, "exit 3\n")
    t.eq(await until_type(ws, "exit"), {"type": "exit", "exit_code": 3},
         "exit code of the shell")
    await ws.send_str("{}")
    t.eq(await receive(ws), "CLOSED",
         "after exit a client frame ends the connection")
    t.eq(await procs(api, sid), [], "the PTY left the process list")


async def test_input(t, api):
    sid = await api.sandbox()
    ws = await open_pty(api, sid)
    await send(ws, **SH)
    await until_type(ws, "started")
    await send(ws, type="input", data="!!not base64!!")
    await ws.send_str("not json")
    await send(ws, type="nosuch")
    for part in ("echo A", "\"B\"", "C\n"):
        await type_in(ws, part)
    # The shell may print its prompt only after the terminal has echoed
    # the typed line (a slow start), so the output line can begin with
    # "$ "; quotes only ever appear in the echo.
    found, msgs = await until_output(ws, r"\n(?:\$ )*(A[^\s\"]*C)\r\n")
    t.eq(found.group(1) if found else msgs[-3:], "ABC",
         "split inputs arrive in order; bad ones dropped")
    await send(ws, type="kill")
    t.eq(await until_type(ws, "exit"), {"type": "exit", "exit_code": -1},
         "kill: exit -1")
    await ws.close()


async def test_reconnect(t, api):
    sid = await api.sandbox()
    ws = await open_pty(api, sid)
    await send(ws, **SH)
    started = await until_type(ws, "started")
    await type_in(ws, "V=kept; echo S\"ET\"\n")
    found, _ = await until_output(ws, r"SET")
    t.ok(found is not None, "variable set")
    await ws.close()
    listed = await procs(api, sid)
    t.eq([p["pid"] for p in listed], [started["pid"]],
         "the PTY outlives its WebSocket")
    ws = await open_pty(api, sid)
    await send(ws, type="connect", tag=started["tag"])
    await type_in(ws, "echo \"<$V>\"\n")
    found, msgs = await until_output(ws, r"\n(?:\$ )*<(\w+)>")
    t.eq(found.group(1) if found else msgs[:3], "kept",
         "connect by tag: same shell, no started message first")
    t.ok(all(m.get("type") != "started" for m in msgs
             if isinstance(m, dict)), "no started after connect", msgs[:3])
    await send(ws, type="kill")
    await until_type(ws, "exit")
    await ws.close()
    ws = await open_pty(api, sid)
    await send(ws, type="connect", tag=started["tag"])
    await ws.ping(b"probe")
    t.eq(await receive(ws), "PONG",
         "connect to a gone tag: no message (only the pong)")
    await ws.close()


async def fatal_of(api, sid, *frames, headers=None):
    ws = await open_pty(api, sid, headers=headers)
    for f in frames:
        await ws.send_str(f)
    m = await receive(ws)
    await ws.close()
    return m


async def test_errors(t, api):
    sid = await api.sandbox()
    t.eq(await fatal_of(api, sid, "{"),
         {"type": "error", "fatal": True,
          "data": "failed to read first message: Expecting property name "
                  "enclosed in double quotes: line 1 column 2 (char 1)"},
         "bad first message")
    t.eq(await fatal_of(api, sid, '{"type":"input"}'),
         {"type": "error", "fatal": True,
          "data": "first message must be type 'start' or 'connect'"},
         "wrong first message type")
    t.eq(await fatal_of(api, sid, '{"type":"connect"}'),
         {"type": "error", "fatal": True,
          "data": "connect requires a 'tag' field"},
         "connect without a tag")
    t.eq(await fatal_of(api, sid, '{"type":"auth","token":"bad"}',
                        headers={}),
         {"type": "error", "fatal": True, "data": "authentication failed"},
         "auth message refused")
    t.eq(await fatal_of(api, "cl-" + "0" * 25, json.dumps(SH)),
         {"type": "error", "fatal": True, "data": "sandbox not found"},
         "unknown sandbox after the upgrade")
    t.eq(await fatal_of(api, sid, json.dumps(dict(SH, cwd="/nowhere"))),
         {"type": "error", "fatal": True,
          "data": "failed to start pty: chdir /nowhere: no such file or "
                  "directory"},
         "a missing cwd")


async def test_ping(t, api):
    sid = await api.sandbox()
    ws = await open_pty(api, sid)
    await send(ws, **SH)
    t.eq(await until_type(ws, "ping"), {"type": "ping"},
         "application ping")
    await send(ws, type="kill")
    await until_type(ws, "exit")
    await ws.close()


async def test_old_dialect(t, api):
    sid = await api.sandbox()
    status, _, _ = await api.req("GET", "/v1/sandboxes/%s/pty" % sid)
    t.eq(status, 404, "sandboxes dialect: no PTY route")


async def amain(t, tmp, fakes):
    caps = DFake(tmp, "caps", "capsules")
    fakes.append(caps)
    pinging = DFake(tmp, "ping", "capsules",
                    extra=("--pty-ping-interval", "0.2"))
    fakes.append(pinging)
    old = DFake(tmp, "old", "sandboxes")
    fakes.append(old)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as s:
        c = Api(s, caps)
        await case(t, "session", test_session(t, c))
        await case(t, "input", test_input(t, c))
        await case(t, "reconnect", test_reconnect(t, c))
        await case(t, "errors", test_errors(t, c))
        await case(t, "ping", test_ping(t, Api(s, pinging)))
        await case(t, "old dialect", test_old_dialect(t, Api(s, old)))


def _main_body(t, tmp, fakes):
    asyncio.run(amain(t, tmp, fakes))


def main():
    return run("test-fakecp-pty-", _main_body)


if __name__ == "__main__":
    sys.exit(main())
