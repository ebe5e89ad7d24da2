# SPDX-License-Identifier: MIT
"""Streams of the platform team's sandboxes on a v0.1.5 control plane
(the capsules fake, CONTRACT 11.2 and 11.2.1): admin.exec_stream,
admin.attach_process and admin.pty with the JWT of a platform admin
(events, exit codes, PTY input, resize, detach and attach), admin.processes
and admin.kill, admin.upload and admin.download; their WebSockets carry no credential header and send the
auth message first; the JWT never appears in wrennd's debug log; a JWT
that is not an admin's is unauthorized (WebSockets) or forbidden (REST)
upstream, no JWT is unauthorized locally with nothing sent; on 172413e
every one is unsupported_by_server with nothing sent."""
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Env, Opened, Tap, Wrennd, dig  # noqa: E402
from ptyfix import (Session, b64, check_input_resize,  # noqa: E402
                    output_of, typed)

t = Tap()
env = Env(dialect="capsules", cred="admin", wrennd_args=["-v"])
old = Env(dialect="sandboxes", cred="admin")
JWT = env.seed["jwt_admin"]


def admin_calls(sandbox_id):
    """Each new admin method with valid params."""
    return [("admin.exec_stream", {"sandbox_id": sandbox_id, "cmd": "true"}),
            ("admin.attach_process", {"sandbox_id": sandbox_id,
                                      "selector": "x"}),
            ("admin.pty", {"sandbox_id": sandbox_id}),
            ("admin.processes", {"sandbox_id": sandbox_id}),
            ("admin.upload", {"sandbox_id": sandbox_id, "path": "f",
                              "data": ""}),
            ("admin.download", {"sandbox_id": sandbox_id, "path": "f"}),
            ("admin.kill", {"sandbox_id": sandbox_id, "selector": "x"})]


def code_of(r):
    return dig(r, "error", "data", "code")


def upstream_entries(suffix):
    """The fake's log entries of the platform sandbox route suffix."""
    return [e for e in env.fake.requests()
            if e["path"] == "/v1/admin/capsules/%s%s" % (asid, suffix)]


def check_ws_auth(suffix, what):
    """The WebSocket of suffix went without a credential header and
    authenticated with its first message."""
    got = upstream_entries(suffix)
    t.eq(len(got), 1, "%s: one upstream WebSocket" % what)
    e = got[-1] if got else {}
    t.eq(e.get("has_api_key"), False, "%s: no X-API-Key" % what)
    t.eq(e.get("has_authorization"), False, "%s: no Authorization" % what)
    t.eq(json.loads(e.get("ws_first") or "null"),
         {"type": "auth", "token": JWT},
         "%s: the first message is the auth message" % what)


def background(sandbox_id, tag, script):
    """A background process in a platform sandbox, started on the
    server's route directly (admin.exec has no background param)."""
    req = urllib.request.Request(
        "%s/v1/admin/capsules/%s/exec" % (env.fake.url, sandbox_id),
        data=json.dumps({"cmd": "/bin/sh", "args": ["-c", script],
                         "background": True, "tag": tag}).encode(),
        headers={"Authorization": "Bearer " + JWT,
                 "Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status


try:
    c = env.client()
    asid = dig(c.call("admin.create_sandbox", {}), "result", "id")

    with t.case("admin.exec_stream: events, exit code, auth message"), \
            Opened():
        env.fake.clear_requests()
        ev = []
        r = c.call("admin.exec_stream", {
            "sandbox_id": asid, "cmd": "/bin/sh",
            "args": ["-c", "echo out; echo err >&2; exit 3"]}, events=ev)
        t.eq(r.get("result"), {"exit_code": 3}, "the command's exit code")
        names = [e.get("event") for e in ev]
        t.eq(names[:1], ["start"], "the first event is start")
        t.eq(names[-1:], ["exit"], "the last event is exit")
        t.has([e.get("data") for e in ev if e.get("event") == "stdout"],
              "out\n", "stdout event")
        t.has([e.get("data") for e in ev if e.get("event") == "stderr"],
              "err\n", "stderr event")
        check_ws_auth("/exec/stream", "admin.exec_stream")

    with t.case("admin.upload and admin.download"), Opened():
        env.fake.clear_requests()
        r = c.call("admin.upload", {"sandbox_id": asid, "path": "up.txt",
                                    "data": b64("platform file\n")})
        t.eq(r.get("result"), {}, "admin.upload answers {}")
        r = c.call("admin.exec", {"sandbox_id": asid, "cmd": "cat",
                                  "args": ["up.txt"]})
        t.eq(dig(r, "result", "stdout"), "platform file\n",
             "the file is in the platform sandbox")
        r = c.call("admin.download", {"sandbox_id": asid, "path": "up.txt"})
        t.eq(dig(r, "result", "data"), b64("platform file\n"),
             "admin.download reads it back")
        for suffix in ("/files/write", "/files/read"):
            got = upstream_entries(suffix)
            t.eq([e.get("bearer") == JWT for e in got], [True],
                 "%s: the platform route, with the admin JWT" % suffix)
        r = c.call("sandbox.download", {"sandbox_id": asid,
                                        "path": "up.txt"})
        t.eq(code_of(r), "not_found",
             "the team's sandbox.download does not reach it")

    with t.case("admin.attach_process, admin.processes, admin.kill"), \
            Opened() as keep:
        t.eq(background(asid, "ticker",
                        "while :; do echo tick; sleep 0.2; done"), 202,
             "a background process in the platform sandbox")
        keep.later(c.call, "admin.kill",
                   {"sandbox_id": asid, "selector": "ticker"})
        r = c.call("admin.processes", {"sandbox_id": asid})
        t.has([p.get("tag") for p in dig(r, "result", "processes") or []],
              "ticker", "admin.processes lists it")
        env.fake.clear_requests()
        cl = keep(Client(env.sock))
        s = Session(cl, "admin.attach_process",
                    {"sandbox_id": asid, "selector": "ticker"})
        s.until(lambda x: any(e["event"] == "stdout" and "tick" in
                              e.get("data", "") for e in x.events),
                "tick")
        t.eq(dig(s.events, 0, "event"), "start", "the first event is start")
        check_ws_auth("/processes/ticker/stream", "admin.attach_process")
        r = c.call("admin.kill", {"sandbox_id": asid, "selector": "ticker",
                                  "signal": "SIGKILL"})
        t.eq(r.get("result"), {}, "admin.kill answers {}")
        t.eq(dig(s.until_final(), "result", "exit_code"), -1,
             "the followed process was killed: exit_code -1")
        r = c.call("admin.kill", {"sandbox_id": asid, "selector": "ticker"})
        t.eq(code_of(r), "not_found", "admin.kill of a gone process")

    with t.case("admin.pty: input, resize, detach, attach"), \
            Opened() as keep:
        env.fake.clear_requests()
        a = keep(Client(env.sock))
        s = Session(a, "admin.pty", {"sandbox_id": asid, "cmd": "/bin/sh",
                                     "cols": 100, "rows": 30})
        st = s.started()
        t.ok(st.get("tag", "").startswith("pty-"), "started: the tag", st)
        keep.later(c.call, "admin.kill",
                   {"sandbox_id": asid, "selector": st.get("tag")})
        check_ws_auth("/pty", "admin.pty")
        check_input_resize(t, c, s, st["stream_id"])
        typed(c, st["stream_id"], "X=7; echo set-$X\n")
        s.until_output(r"set-7", "the variable set")
        b = keep(Client(env.sock))
        s2 = Session(b, "streams.attach", {"stream_id": st["stream_id"]})
        t.ok(s2.until_output(r"set-7", "replay"),
             "streams.attach replays the session")
        r = c.call("streams.stop", {"stream_id": st["stream_id"]})
        t.eq(r.get("result"), {}, "streams.stop answers {}")
        t.eq(s.until_final().get("result"),
             {"detached": True, "tag": st["tag"]},
             "streams.stop detaches the session")
        r = c.call("sandbox.pty", {"sandbox_id": asid, "tag": st["tag"]})
        t.eq(code_of(r), "not_found",
             "the team's sandbox.pty does not reach the platform PTY")
        env.fake.clear_requests()
        d = keep(Client(env.sock))
        s3 = Session(d, "admin.pty", {"sandbox_id": asid, "tag": st["tag"]})
        st3 = s3.started()
        t.eq(st3.get("pid"), st["pid"], "admin.pty {tag}: the same PTY")
        check_ws_auth("/pty", "admin.pty {tag}")
        lists = upstream_entries("/processes")
        t.eq([e.get("bearer") == JWT for e in lists], [True, True],
             "the process list read before and after the connect, with "
             "the JWT as a header")
        typed(c, st3["stream_id"], "echo again=$X; exit 5\n")
        t.ok(s3.until_output(r"again=7", "state"),
             "re-attached by tag, the shell kept its variable")
        t.eq(s3.until_final().get("result"), {"exit_code": 5},
             "the shell's exit code")
        t.ok(JWT not in output_of(s3.events), "no JWT in the events",
             s3.events)

    with t.case("the JWT is never in wrennd's log or replies"), Opened():
        text = env.wrennd.stderr()
        t.ok("stream st-" in text, "the log is at debug level",
             text[-500:])
        t.ok(JWT not in text, "the admin JWT is not in the debug log",
             len(text))
        listed = json.dumps(c.call("streams.list"))
        t.ok(JWT not in listed, "nor in streams.list", listed[:500])

    with t.case("a JWT that is not a platform admin's"), Opened() as keep:
        w = keep(Wrennd(env.tmp, env.fake.url, token=env.seed["jwt_owner"]))
        o = keep(Client(w.sock))
        r = o.call("admin.exec_stream", {"sandbox_id": asid, "cmd": "true"})
        t.eq(code_of(r), "unauthorized",
             "admin.exec_stream: authentication failed is unauthorized")
        t.eq(dig(r, "error", "data", "status"), 401,
             "admin.exec_stream: data.status 401")
        r = o.call("admin.pty", {"sandbox_id": asid, "cmd": "/bin/sh"})
        t.eq(code_of(r), "unauthorized", "admin.pty: unauthorized")
        r = o.call("admin.processes", {"sandbox_id": asid})
        t.eq(code_of(r), "forbidden", "admin.processes: forbidden (403)")
        o.close()
        code, out = w.stop()
        t.eq(code, 0, "that wrennd exits cleanly")

    with t.case("no JWT: unauthorized, nothing sent"), Opened() as keep:
        w = keep(Wrennd(env.tmp, env.fake.url, api_key=env.seed["api_key"]))
        k = keep(Client(w.sock))
        env.fake.clear_requests()
        for m, params in admin_calls(asid):
            r = k.call(m, params)
            t.eq(code_of(r), "unauthorized", "%s without a JWT" % m)
        t.eq(env.fake.requests(), [], "nothing sent without a JWT")
        k.close()
        code, out = w.stop()
        t.eq(code, 0, "that wrennd exits cleanly")

    with t.case("172413e: unsupported_by_server, nothing sent"), Opened():
        o = old.client()
        old.fake.clear_requests()
        for m, params in admin_calls("cl-x"):
            r = o.call(m, params)
            t.eq(code_of(r), "unsupported_by_server",
                 "%s on 172413e" % m)
        t.eq(old.fake.requests(), [],
             "unsupported_by_server: the request log is empty")
        o.close()
    c.close()
finally:
    env.close(t)
    old.close(t)
sys.exit(t.done())
