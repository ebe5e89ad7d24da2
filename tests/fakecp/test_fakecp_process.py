#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Self-test of the fake's background processes (CONTRACT 11.3); TAP.

Against fakecp.py --dialect capsules: background exec (202 body, the
default tag, envs and cwd, the process outliving its request), the process
list, kill by pid and by tag with SIGTERM and SIGKILL, unknown selectors,
the process stream (start at once, live output, exit, no replay, client
messages ignored, an unknown process) and a fault rule cutting it; and that
the sandboxes dialect has none of it.  Each case is independent: it makes
the sandboxes it needs.  Runs in a few seconds.
"""

import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_fakecp import err, require_aiohttp, run  # noqa: E402

require_aiohttp(__file__)
import asyncio  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402

import aiohttp  # noqa: E402
from test_fakecp_capsules import NOT_FOUND, Api, DFake, case  # noqa: E402

WS = aiohttp.WSMsgType


def code(body):
    """The error code of an error envelope, or None."""
    try:
        return body["error"]["code"]
    except (KeyError, TypeError):
        return None


async def bg(api, sid, cmd, *args, **fields):
    body = {"cmd": cmd, "args": list(args), "background": True}
    body.update(fields)
    return await api.json("POST", "/v1/capsules/%s/exec" % sid, json=body)


async def procs(api, sid):
    status, body = await api.json("GET", "/v1/capsules/%s/processes" % sid)
    assert status == 200, (status, body)
    return body["processes"]


async def wait_gone(api, sid, pid):
    """Wait until pid has left the process list (it exited)."""
    for _ in range(400):
        if all(p["pid"] != pid for p in await procs(api, sid)):
            return True
        await asyncio.sleep(0.05)
    return False


async def attach(api, sid, selector):
    return await api.ws(sid, headers=api.fake.key,
                        path="/v1/capsules/%s/processes/%s/stream"
                        % (sid, selector))


async def receive(ws, timeout=20):
    m = await ws.receive(timeout=timeout)
    return json.loads(m.data) if m.type == WS.TEXT else None


async def test_background(t, api):
    sid = await api.sandbox()
    status, body = await bg(api, sid, "sleep", "30")
    t.eq(status, 202, "background exec: status")
    t.eq(sorted(body), ["cmd", "pid", "sandbox_id", "tag"],
         "background exec: fields")
    t.eq(body["sandbox_id"], sid, "background exec: sandbox_id")
    t.eq(body["cmd"], "sleep", "background exec: cmd")
    t.ok(re.fullmatch(r"proc-[0-9a-f]{8}", body["tag"]) is not None,
         "background exec: default tag is proc-<8hex>", body["tag"])
    listed = await procs(api, sid)
    t.eq(listed, [{"pid": body["pid"], "tag": body["tag"], "cmd": "sleep",
                   "args": ["30"]}], "process list after the request")
    status, body2 = await bg(api, sid, "sleep", "30", tag="mine")
    t.eq(status, 202, "background exec: tag")
    t.eq(body2.get("tag"), "mine", "background exec: tag (tag)")


async def sh(api, sid, script):
    """A foreground exec of /bin/sh -c script: (status, body)."""
    return await api.json("POST", "/v1/capsules/%s/exec" % sid,
                          json={"cmd": "/bin/sh", "args": ["-c", script]})


async def until(api, sid, script):
    """Wait until script succeeds in the sandbox."""
    for _ in range(400):
        status, body = await sh(api, sid, script)
        if status == 200 and body["exit_code"] == 0:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_envs_cwd(t, api):
    sid = await api.sandbox()
    status, _ = await sh(api, sid, "mkdir -p sub")
    t.eq(status, 200, "envs/cwd: made a directory")
    status, body = await bg(api, sid, "/bin/sh", "-c",
                            'echo "$GREETING" > out; pwd > where',
                            envs={"GREETING": "hello"}, cwd="/root/sub")
    t.eq(status, 202, "envs/cwd: status")
    t.ok(await wait_gone(api, sid, body["pid"]), "envs/cwd: process ended")
    status, body = await sh(api, sid, "cat sub/out")
    t.eq(status, 200,
         "envs honoured in background (and cwd: the file is in sub)")
    t.eq(body.get("stdout"), "hello\n",
         "envs honoured in background (and cwd: the file is in sub) (stdout)")
    status, body = await bg(api, sid, "true", cwd="/nowhere")
    t.eq(status, 502, "a missing cwd is the agent's error")
    t.eq(code(body), "agent_error", "a missing cwd is the agent's error")
    status, body = await api.json("POST", "/v1/capsules/%s/exec" % sid,
                                  json={"cmd": "/bin/sh", "args": [
                                      "-c", 'echo "[$GREETING]"'],
                                      "envs": {"GREETING": "x"}})
    t.eq(status, 200, "envs ignored for a foreground exec")
    t.eq(body.get("stdout"), "[]\n",
         "envs ignored for a foreground exec (stdout)")


async def test_kill(t, api):
    sid = await api.sandbox()
    _, a = await bg(api, sid, "sleep", "60")
    _, b = await bg(api, sid, "/bin/sh", "-c",
                    "trap 'echo term; exit 7' TERM; touch ready; "
                    "while :; do sleep 0.05; done", tag="trapper")
    t.ok(await until(api, sid, "test -e ready"), "kill: the trap is set")
    ws = await attach(api, sid, "trapper")
    t.eq((await receive(ws))["type"], "start", "kill: attached")
    status, _, body = await api.req(
        "DELETE", "/v1/capsules/%s/processes/trapper?signal=SIGTERM" % sid)
    t.eq(status, 204, "kill by tag with SIGTERM: 204")
    t.eq(body, b"", "kill by tag with SIGTERM: 204")
    got = [await receive(ws), await receive(ws)]
    t.eq(got, [{"type": "stdout", "data": "term\n"},
               {"type": "exit", "exit_code": 7}],
         "SIGTERM reached the process (its trap ran)")
    status, _, _ = await api.req(
        "DELETE", "/v1/capsules/%s/processes/%d?signal=SIGHUP" % (sid,
                                                                  a["pid"]))
    t.eq(status, 204, "kill by pid with another signal value: 204")
    t.ok(await wait_gone(api, sid, a["pid"]), "that was SIGKILL: gone")
    for sel in ("nosuch", "99999999", b["tag"]):
        status, body = await api.json(
            "DELETE", "/v1/capsules/%s/processes/%s" % (sid, sel))
        t.eq(status, 404, "kill of an unknown process %r: 404" % sel)
        t.eq(code(body), "not_found",
             "kill of an unknown process %r: 404" % sel)
    await ws.close()


async def until_end(ws):
    got = []
    while True:
        m = await receive(ws)
        if m is None:
            return got
        got.append(m)


async def test_stream(t, api):
    sid = await api.sandbox()
    # Two fifos: with one, the second read could open it while the first
    # writer still holds it and read its end of file at once.
    status, _ = await sh(api, sid, "mkfifo fifo1 fifo2")
    t.eq(status, 200, "stream: made the fifo")
    _, p = await bg(api, sid, "/bin/sh", "-c",
                    "read x < fifo1; echo early; read x < fifo2; echo late; "
                    "echo err >&2; exit 3", tag="talker")
    first = await attach(api, sid, p["pid"])
    t.eq(await receive(first), {"type": "start", "pid": p["pid"]},
         "stream: start with the pid at once")
    await first.send_str('{"type":"stop"}')       # ignored by the server
    status, _ = await sh(api, sid, "echo go > fifo1")
    t.eq(status, 200, "stream: released the process once")
    t.eq(await receive(first), {"type": "stdout", "data": "early\n"},
         "stream: live output")
    second = await attach(api, sid, "talker")
    t.eq(await receive(second), {"type": "start", "pid": p["pid"]},
         "stream: second attach by tag")
    status, _ = await sh(api, sid, "echo go > fifo2")
    t.eq(status, 200, "stream: released the process again")
    for name, w in (("first", first), ("second", second)):
        got = await until_end(w)
        out = [m for m in got if m["type"] == "stdout"]
        t.eq(out, [{"type": "stdout", "data": "late\n"}],
             "stream %s: the rest of the output (no replay of 'early')"
             % name)
        t.has(got, {"type": "stderr", "data": "err\n"},
              "stream %s: stderr" % name)
        t.eq(got[-1], {"type": "exit", "exit_code": 3},
             "stream %s: ends with the exit code" % name)
    ws = await attach(api, sid, "talker")
    t.eq(await until_end(ws), [{"type": "error", "data":
                                "failed to connect to process: not_found: "
                                "process not found: talker"}],
         "stream of an exited process: one error message")


async def test_stream_cut(t, api):
    sid = await api.sandbox()
    _, p = await bg(api, sid, "/bin/sh", "-c",
                    "while :; do echo tick; sleep 0.05; done")
    status, _ = await api.json(
        "POST", "/_fake/faults", key=False,
        json={"path": "/processes/%d/stream$" % p["pid"], "count": 1,
              "stream": {"action": "cut", "after_messages": 2}})
    t.eq(status, 201, "cut: fault rule added")
    ws = await attach(api, sid, p["pid"])
    got = await until_end(ws)
    t.eq([m["type"] for m in got], ["start", "stdout"],
         "cut after two messages, no exit or error")
    t.ok(any(q["pid"] == p["pid"] for q in await procs(api, sid)),
         "the process survives the cut")
    ws = await attach(api, sid, p["pid"])
    t.eq((await receive(ws))["type"], "start", "re-attach by pid after a cut")
    t.eq((await receive(ws))["type"], "stdout", "re-attach: output goes on")
    await ws.close()


async def test_not_in_old_dialect(t, old):
    sid = await old.sandbox()
    status, _, body = await old.req("GET", "/v1/sandboxes/%s/processes" % sid)
    t.eq(status, 404, "sandboxes dialect: no processes")
    t.eq(body, NOT_FOUND, "sandboxes dialect: no processes")
    status, body = await old.json("POST", "/v1/sandboxes/%s/exec" % sid,
                                  json={"cmd": "true", "background": True})
    t.eq(status, 200,
         "sandboxes dialect: background is ignored (a foreground exec)")
    t.eq(sorted(body),
         ["cmd", "duration_ms", "encoding", "exit_code", "sandbox_id", "stderr", "stdout"],
         "sandboxes dialect: background is ignored (a foreground exec)")


async def test_errors(t, api):
    status, body = await api.json("GET", "/v1/capsules/cl-bad/processes")
    t.eq(status, 400, "processes: malformed id")
    t.eq(body, err("invalid_request", "invalid sandbox ID"),
         "processes: malformed id")
    status, body = await api.json(
        "GET", "/v1/capsules/cl-0000000000000000000000000/processes")
    t.eq(status, 404, "processes: unknown sandbox")
    t.eq(code(body), "not_found", "processes: unknown sandbox")
    sid = await api.sandbox()
    status, _ = await api.json("POST", "/v1/capsules/%s/pause" % sid)
    t.eq(status, 200, "errors: paused the sandbox")
    status, body = await api.json("GET", "/v1/capsules/%s/processes" % sid)
    t.eq(status, 409, "processes: a paused sandbox is 409")
    t.eq(code(body), "invalid_state", "processes: a paused sandbox is 409")
    ws = await attach(api, sid, "x")
    t.eq(await receive(ws), {"type": "error", "data":
                             "sandbox is not running (status: paused)"},
         "process stream: a paused sandbox is a message after the 101")


async def amain(t, tmp, fakes):
    caps = DFake(tmp, "caps", "capsules")
    fakes.append(caps)
    old = DFake(tmp, "old", "sandboxes")
    fakes.append(old)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as s:
        c, o = Api(s, caps), Api(s, old)
        await case(t, "background", test_background(t, c))
        await case(t, "envs and cwd", test_envs_cwd(t, c))
        await case(t, "kill", test_kill(t, c))
        await case(t, "stream", test_stream(t, c))
        await case(t, "stream cut", test_stream_cut(t, c))
        await case(t, "old dialect", test_not_in_old_dialect(t, o))
        await case(t, "errors", test_errors(t, c))


def _main_body(t, tmp, fakes):
    asyncio.run(amain(t, tmp, fakes))


def main():
    return run("test-fakecp-process-", _main_body)


if __name__ == "__main__":
    sys.exit(main())
