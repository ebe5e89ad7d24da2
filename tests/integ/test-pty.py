# SPDX-License-Identifier: MIT
"""PTY sessions through wrennd on a v0.1.5 control plane (the capsules
fake): sandbox.pty starts a shell on a terminal, streams.input types
into it, streams.resize changes its size (stty size), the exit code ends
the call; the session outlives its client and is re-attached by
stream_id (with replay) and, after streams.stop detached it, by tag,
with the shell's state; the server's pings are answered and never shown;
input is bounded in size and rate; a tag that is gone fails not_found
instead of waiting forever, also when the PTY exits between wrennd's
check of the process list and the connect; on 172413e sandbox.pty is
unsupported_by_server with nothing sent."""
import base64
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Client, Env, Opened, Tap, dig, scaled,  # noqa: E402
                     wait_for)
from ptyfix import Session, check_input_resize, typed  # noqa: E402

t = Tap()
env = Env(dialect="capsules", fake_args=["--pty-ping-interval", "0.2"])
old = Env(dialect="sandboxes")

SH = {"cmd": "/bin/sh"}


def stream_row(cl, stream_id):
    rows = [s for s in cl.call("streams.list")["result"]
            if s["stream_id"] == stream_id]
    return rows[0] if rows else None


def code_of(r):
    return dig(r, "error", "data", "code")


try:
    c = env.client()
    sid = c.call("sandboxes.create", {})["result"]["id"]

    with t.case("shell: input, output, resize, exit code"), Opened() as keep:
        cl = keep(Client(env.sock))
        p = dict(SH, sandbox_id=sid, cols=100, rows=30)
        s = Session(cl, "sandbox.pty", p)
        st = s.started()
        t.ok(st.get("stream_id", "").startswith("st-"),
             "started: a stream_id", st)
        t.ok(re.fullmatch(r"pty-[0-9a-f]{8}", st.get("tag", "")),
             "started: the server's tag", st)
        t.ok(isinstance(st.get("pid"), int), "started: a pid", st)
        check_input_resize(t, c, s, st["stream_id"])
        typed(c, st["stream_id"], "exit 3\n")
        r = s.until_final()
        t.eq(r.get("result"), {"exit_code": 3},
             "the call ends with the shell's exit code")
        t.eq([e["event"] for e in s.events][-1], "exit",
             "the last event is exit")
        t.eq([e["event"] for e in s.events if e["event"] == "ping"], [],
             "no ping reaches the client")
        t.eq(dig(stream_row(c, st["stream_id"]), "state"), None,
             "the ended session is gone from streams.list")
        r = typed(c, st["stream_id"], "x")
        t.eq(code_of(r), "not_found", "input to the ended session")

    with t.case("re-attach by stream_id with replay"), Opened() as keep:
        a = keep(Client(env.sock))
        s = Session(a, "sandbox.pty", dict(SH, sandbox_id=sid))
        st = s.started()
        typed(c, st["stream_id"], "X=4$((1+1)); echo set-$X\n")
        s.until_output(r"set-42", "the variable set")
        a.close()       # the client leaves; the PTY stays in wrennd
        row = wait_for(lambda: (stream_row(c, st["stream_id"]) or {})
                       .get("detached") and stream_row(c, st["stream_id"]),
                       timeout=30, what="detached")
        t.eq(row.get("state"), "running", "the session outlives its client")
        t.eq(row.get("kind"), "pty", "streams.list: kind pty")
        t.eq(row.get("tag"), st["tag"], "streams.list: the tag")
        b = keep(Client(env.sock))
        s2 = Session(b, "streams.attach", {"stream_id": st["stream_id"]})
        t.ok(s2.until_output(r"set-42", "replay"),
             "the replay has what the shell printed before")
        t.eq(dig(s2.events, 0, "event"), "started",
             "the replay starts with started")
        typed(c, st["stream_id"], "echo val=$X\n")
        t.ok(s2.until_output(r"val=42", "state"),
             "the re-attached shell kept its variable")
        r = c.call("streams.stop", {"stream_id": st["stream_id"]})
        t.eq(r.get("result"), {}, "streams.stop answers {}")
        r = s2.until_final()
        t.eq(r.get("result"), {"detached": True, "tag": st["tag"]},
             "streams.stop ends the session's calls: detached, its tag")
        listed = c.call("sandbox.processes", {"sandbox_id": sid})
        t.has([x.get("tag") for x in
               dig(listed, "result", "processes") or []], st["tag"],
              "after streams.stop the PTY still runs in the sandbox")
        keep.later(c.call, "sandbox.kill",
                   {"sandbox_id": sid, "selector": st["tag"]})

        # and by tag: a new upstream connect to the same shell
        d = keep(Client(env.sock))
        s3 = Session(d, "sandbox.pty", {"sandbox_id": sid, "tag": st["tag"]})
        st3 = s3.started()
        t.eq(st3.get("tag"), st["tag"], "re-attach by tag: started.tag")
        t.eq(st3.get("pid"), st["pid"],
             "re-attach by tag: started.pid from the process list")
        t.ok(st3.get("stream_id") != st["stream_id"],
             "re-attach by tag after stop: a new stream", st3)
        typed(c, st3["stream_id"], "echo again=$X\n")
        t.ok(s3.until_output(r"again=42", "state by tag"),
             "re-attached by tag, the shell kept its variable")
        typed(c, st3["stream_id"], "exit 0\n")
        t.eq(s3.until_final().get("result"), {"exit_code": 0},
             "the re-attached shell's exit code")

    with t.case("tag of a session wrennd holds: joined"), Opened() as keep:
        r = c.call("sandbox.pty", dict(SH, sandbox_id=sid, detach=True))
        res = r.get("result") or {}
        t.ok(res.get("stream_id", "").startswith("st-"),
             "detach: answers with a stream_id", r)
        t.ok(res.get("tag", "").startswith("pty-"), "detach: and the tag", r)
        keep.later(c.call, "streams.stop", {"stream_id": res.get("stream_id")})
        keep.later(c.call, "sandbox.kill",
                   {"sandbox_id": sid, "selector": res.get("tag")})
        typed(c, res["stream_id"], "echo one-$((2+3))\n")
        j = keep(Client(env.sock))
        s = Session(j, "sandbox.pty", {"sandbox_id": sid,
                                       "tag": res["tag"]})
        t.eq(s.started().get("stream_id"), res["stream_id"],
             "sandbox.pty {tag} joins the session wrennd holds")
        t.ok(s.until_output(r"one-5", "replay by tag"),
             "joining by tag replays the earlier output")
        rows = [x for x in env.fake.ctl("GET", "ptys")
                if x["tag"] == res["tag"]]
        t.eq([x["sessions"] for x in rows], [1],
             "joining opened no second WebSocket to the PTY")

    with t.case("pings answered"), Opened() as keep:
        cl = keep(Client(env.sock))
        s = Session(cl, "sandbox.pty", dict(SH, sandbox_id=sid))
        st = s.started()
        keep.later(c.call, "sandbox.kill",
                   {"sandbox_id": sid, "selector": st["tag"]})

        def pongs():
            rows = [p for p in env.fake.ctl("GET", "ptys")
                    if p["tag"] == st["tag"]]
            return rows and rows[0]["ignored"].get("pong", 0) >= 2
        t.ok(wait_for(pongs, timeout=30, what="two pongs"),
             "wrennd answers the server's pings with pong")
        typed(c, st["stream_id"], "echo alive\n")
        s.until_output(r"alive\r\n", "alive")
        t.eq([e["event"] for e in s.events if e["event"] not in
              ("started", "output")], [],
             "the pings are not shown as events")

    with t.case("input limits"), Opened() as keep:
        r = c.call("sandbox.pty", {"sandbox_id": sid, "cmd": "/bin/sleep",
                                   "args": ["600"], "detach": True})
        res = r.get("result") or {}
        keep.later(c.call, "sandbox.kill",
                   {"sandbox_id": sid, "selector": res.get("tag")})
        keep.later(c.call, "streams.stop", {"stream_id": res.get("stream_id")})
        big = base64.b64encode(b"x" * (64 * 1024 + 1)).decode()
        r = c.call("streams.input", {"stream_id": res["stream_id"],
                                     "data": big})
        t.eq(dig(r, "error", "code"), -32602, "input over 64 KiB: -32602")
        t.eq(dig(r, "error", "data", "max_bytes"), 65536,
             "input over 64 KiB: data.max_bytes")
        r = c.call("streams.input", {"stream_id": res["stream_id"],
                                     "data": "!!not base64"})
        t.eq(dig(r, "error", "code"), -32602, "bad base64: -32602")
        chunk = base64.b64encode(b"y" * (64 * 1024)).decode()
        n = 48       # 3 MiB: three times the burst wrennd allows
        ids = list(range(1000, 1000 + n))
        c.send_raw(b"".join(json.dumps(
            {"jsonrpc": "2.0", "id": i, "method": "streams.input",
             "params": {"stream_id": res["stream_id"], "data": chunk}}
        ).encode() + b"\n" for i in ids))
        replies = [c.wait_reply(i) for i in ids]
        codes = [code_of(x) for x in replies]
        t.ok("rate_limited" in codes, "a burst over the allowance is "
             "refused with rate_limited", codes)
        t.ok(any("result" in x for x in replies),
             "the input within the allowance is taken", codes)
        for cols, rows in ((0, 24), (1001, 24), (80, 0)):
            r = c.call("streams.resize", {"stream_id": res["stream_id"],
                                          "cols": cols, "rows": rows})
            t.eq(dig(r, "error", "code"), -32602,
                 "resize %dx%d: -32602" % (cols, rows))
        env.fake.clear_requests()
        r = c.call("sandbox.pty", dict(SH, sandbox_id=sid, cols=5000))
        t.eq(dig(r, "error", "code"), -32602, "sandbox.pty cols 5000: -32602")
        r = c.call("sandbox.pty", {"sandbox_id": sid, "tag": res["tag"],
                                   "cmd": "/bin/sh"})
        t.eq(dig(r, "error", "code"), -32602, "tag with cmd: -32602")
        t.eq(env.fake.requests(), [], "refused params: nothing sent")

    with t.case("input to an exec stream: not_a_pty"), Opened() as keep:
        r = c.call("sandbox.exec_stream", {"sandbox_id": sid,
                                           "cmd": "sleep", "args": ["30"],
                                           "detach": True})
        stid = dig(r, "result", "stream_id")
        keep.later(c.call, "streams.stop", {"stream_id": stid})
        r = typed(c, stid, "x")
        t.eq(code_of(r), "not_a_pty", "streams.input on an exec stream")

    with t.case("gone tag: not_found, not a wait"), Opened() as keep:
        r = c.call("sandbox.pty", dict(SH, sandbox_id=sid, detach=True))
        tag = dig(r, "result", "tag")
        c.call("streams.stop", {"stream_id": dig(r, "result", "stream_id")})
        c.call("sandbox.kill", {"sandbox_id": sid, "selector": tag})
        wait_for(lambda: not env.fake.ctl("GET", "ptys"),
                 timeout=30, what="the PTY gone")
        r = c.call("sandbox.pty", {"sandbox_id": sid, "tag": tag})
        t.eq(code_of(r), "not_found", "connect to an exited PTY: not_found")
        r = c.call("sandbox.pty", {"sandbox_id": sid,
                                   "tag": "pty-00000000"})
        t.eq(code_of(r), "not_found", "connect to an unknown tag: not_found")
        c.call("sandbox.exec", {"sandbox_id": sid, "cmd": "sleep",
                                "args": ["30"], "background": True,
                                "tag": "worker"})
        keep.later(c.call, "sandbox.kill",
                   {"sandbox_id": sid, "selector": "worker"})
        r = c.call("sandbox.pty", {"sandbox_id": sid, "tag": "worker"})
        t.eq(code_of(r), "not_found",
             "connect to a background exec's tag: not_found")

    with t.case("PTY gone between the check and the connect: not_found"), \
            Opened() as keep:
        r = c.call("sandbox.pty", dict(SH, sandbox_id=sid, detach=True))
        tag = dig(r, "result", "tag")
        c.call("streams.stop", {"stream_id": dig(r, "result", "stream_id")})
        # Hold the connect's upgrade while the PTY goes: the list checked
        # before it still had the PTY; the server then says nothing. The
        # hold stays under wrennd's 30 s upgrade deadline (not scaled).
        env.fake.fault(path=r"/pty$", method="GET", count=1,
                       delay_ms=int(min(scaled(6), 20) * 1000))
        keep.later(env.fake.clear_faults)
        cl = keep(Client(env.sock))
        s = Session(cl, "sandbox.pty", {"sandbox_id": sid, "tag": tag})
        wait_for(lambda: any(e["path"].endswith("/pty") for e in
                             env.fake.requests()),
                 timeout=30, what="the connect's upgrade held")
        c.call("sandbox.kill", {"sandbox_id": sid, "selector": tag})
        wait_for(lambda: not env.fake.ctl("GET", "ptys"),
                 timeout=30, what="the PTY gone")
        s.until(lambda x: x.final is not None, "the connect's answer")
        t.eq(code_of(s.final), "not_found",
             "a PTY that exited after the check: not_found")
        t.eq([e["event"] for e in s.events], [],
             "no started event for the gone PTY")
        paths = [e["path"] for e in env.fake.requests()
                 if e["method"] == "GET"]
        t.eq(paths[-1:], ["/v1/capsules/%s/processes" % sid],
             "the process list is read again after the connect")

    with t.case("old dialect: unsupported_by_server"), Opened():
        o = old.client()
        osid = o.call("sandboxes.create", {})["result"]["id"]
        old.fake.clear_requests()
        for params in (dict(SH, sandbox_id=osid),
                       {"sandbox_id": osid, "tag": "pty-00000000"}):
            r = o.call("sandbox.pty", params)
            t.eq(code_of(r), "unsupported_by_server",
                 "sandbox.pty %s on 172413e: unsupported_by_server"
                 % sorted(params))
        t.eq(old.fake.requests(), [],
             "unsupported_by_server: the request log is empty")
        o.close()
    c.close()
finally:
    env.close(t)
    old.close(t)
sys.exit(t.done())
