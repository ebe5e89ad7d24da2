# SPDX-License-Identifier: MIT
"""Durable exec streams (sandbox.exec_stream durable: true) on a v0.1.5
control plane (the capsules fake): the command runs in the background and
its process stream is re-attached by pid after a cut (a fault rule, the
session cap), with a "lost" event {exact: false} for the gap; the reply
has the real exit code, also when the process ended during the gap;
repeated cuts are bounded; detach + streams.attach; streams.stop and
$/cancel stop the process; against the 172413e fake: unsupported_by_server
with nothing sent."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Client, Env, Opened, Tap, dig, scaled,  # noqa: E402
                     wait_for)

t = Tap()
env = Env(dialect="capsules")
cap = Env(dialect="capsules", fake_args=["--stream-timeout",
                                         str(scaled(1.0))])
old = Env(dialect="sandboxes")

STREAM = r"/processes/[0-9]+/stream$"


def text_of(events, kind="stdout"):
    return "".join(e.get("data", "") for e in events if e["event"] == kind)


def names(events):
    return [e["event"] for e in events]


def sh(cl, sid, script):
    return cl.call("sandbox.exec", {"sandbox_id": sid, "cmd": "/bin/sh",
                                    "args": ["-c", script]}).get("result")


def durable(sid, script, **kw):
    p = {"sandbox_id": sid, "cmd": "/bin/sh", "args": ["-c", script],
         "durable": True}
    p.update(kw)
    return p


def stream_gets(fake):
    return [q for q in fake.requests()
            if q["method"] == "GET" and q["path"].endswith("/stream")]


def ticker(n):
    """Prints 0..n-1, one a twentieth of a second, then exits 7."""
    return ("i=0; while [ $i -lt %d ]; do echo $i; sleep 0.05; "
            "i=$((i+1)); done; exit 7" % n)


def listed_stream(cl, pid):
    s = [x for x in cl.call("streams.list")["result"] if x.get("pid") == pid]
    return s[0] if s else {}


def kill_all(cl, sid):
    for p in dig(cl.call("sandbox.processes", {"sandbox_id": sid}),
                 "result", "processes") or []:
        cl.call("sandbox.kill", {"sandbox_id": sid, "selector": p["pid"]})


try:
    c = env.client()
    sid = c.call("sandboxes.create", {})["result"]["id"]

    with t.case("a cut is re-attached; lost exact false; exit code"), \
            Opened() as keep:
        keep.later(env.fake.clear_faults)
        env.fake.fault(path=STREAM, count=1,
                       stream={"action": "cut", "after_bytes": 4})
        ev = []
        r = c.call("sandbox.exec_stream", durable(sid, ticker(40)),
                   events=ev)
        t.eq(r.get("result"), {"exit_code": 7},
             "the reply has the command's exit code")
        t.eq(names(ev)[0], "start", "events start with start")
        t.ok(isinstance(dig(ev, 0, "pid"), int), "start carries the pid",
             ev[:1])
        lost = [e for e in ev if e["event"] == "lost"]
        t.eq(len(lost), 1, "one lost event for the one cut")
        t.eq(dig(lost, 0, "exact"), False, "the gap's lost: exact false")
        t.ok(bool(dig(lost, 0, "reason")), "the gap's lost: a reason",
             lost)
        at = names(ev).index("lost") if lost else len(ev)
        t.ok(text_of(ev[at:]) != "", "output arrives after the re-attach",
             ev[at:])
        t.has(text_of(ev[at:]), "39\n", "the last line after the re-attach")
        t.eq(names(ev)[-1], "exit", "the last event is exit")
        t.eq(dig(ev, -1, "exit_code"), 7, "exit event: the exit code")
        t.eq(len(stream_gets(env.fake)) >= 2, True,
             "the process stream was opened again")
        t.eq(len(env.fake.requests()) > 0 and [
            q["body"] for q in env.fake.requests()
            if q["path"].endswith("/files/remove")] != [], True,
            "the status file is removed at the end")

    with t.case("the process ends during the gap"), Opened() as keep:
        keep.later(env.fake.clear_faults)
        sh(c, sid, "rm -f gapfifo; mkfifo gapfifo")
        env.fake.fault(path=STREAM, count=1,
                       stream={"action": "cut", "after_messages": 1})
        env.fake.fault(path=STREAM, count=2, status=503,
                       code="host_unavailable")
        cl = keep(Client(env.sock))
        i = cl.call_async("sandbox.exec_stream",
                          durable(sid, "read x < gapfifo; echo late; "
                                  "exit 9"))
        wait_for(lambda: len(stream_gets(env.fake)) >= 1, timeout=30,
                 what="the first process stream")
        sh(c, sid, "echo go > gapfifo")
        ev = []
        r = cl.wait_reply(i, events=ev)
        t.eq(r.get("result"), {"exit_code": 9},
             "an exit during the gap: the real exit code")
        t.eq(names(ev)[-1], "exit", "an exit during the gap: exit event")
        t.has(names(ev), "lost", "an exit during the gap: the gap's lost")
        reads = [q for q in env.fake.requests()
                 if q["path"].endswith("/files/read")]
        t.eq(len(reads) >= 1, True,
             "an exit during the gap: the status file was read")
        left = sh(c, sid, "ls -a | grep -c '^\\.wrennd-' || true")
        t.eq((left or {}).get("stdout"), "0\n",
             "an exit during the gap: no status file is left")

    with t.case("the session cap: re-attached, goes on"), Opened():
        cc = cap.client()
        csid = cc.call("sandboxes.create", {})["result"]["id"]
        ev = []
        r = cc.call("sandbox.exec_stream", durable(csid, ticker(
            int(scaled(1.0) * 20 * 2.5))), events=ev)
        t.eq(r.get("result"), {"exit_code": 7},
             "past the cap: the exit code")
        lost = [e for e in ev if e["event"] == "lost"]
        t.ok(len(lost) >= 1, "past the cap: a lost event per cut", len(lost))
        t.eq(dig(lost, 0, "exact"), False, "past the cap: exact false")
        t.has(dig(lost, 0, "reason") or "", "Client.Timeout",
              "past the cap: the reason is the server's error")
        at = names(ev).index("lost") if lost else len(ev)
        t.ok(text_of(ev[at:]) != "", "past the cap: output arrives after "
             "the re-attach", ev[at:])
        cc.close()

    with t.case("repeated cuts are bounded"), Opened() as keep:
        keep.later(env.fake.clear_faults)
        keep.later(kill_all, c, sid)
        # Every process stream is cut before its start: the process
        # runs on, its status file never appears.
        env.fake.fault(path=STREAM, stream={"action": "cut",
                                            "after_messages": 0})
        ev = []
        r = c.call("sandbox.exec_stream", durable(sid, "sleep 60"),
                   events=ev)
        t.eq(dig(r, "error", "data", "code"), "stream_lost",
             "after the bound: stream_lost")
        t.has(dig(r, "error", "message") or "", "re-attaches",
              "after the bound: the message says what was tried")
        t.eq(dig(r, "error", "data", "reattaches"), 5,
             "after the bound: data.reattaches")
        t.eq(names(ev)[-1], "error", "after the bound: an error event last")

    with t.case("detach and streams.attach"), Opened() as keep:
        keep.later(env.fake.clear_faults)
        sh(c, sid, "rm -f dfifo; mkfifo dfifo")
        r = c.call("sandbox.exec_stream",
                   durable(sid, "echo one; read x < dfifo; echo two; "
                           "exit 3", detach=True))
        st = dig(r, "result", "stream_id") or ""
        t.ok(st.startswith("st-"), "detach answers with a stream id", r)
        pid = dig(r, "result", "pid")
        wait_for(lambda: listed_stream(c, pid).get("durable") is True,
                 timeout=30, what="listed")
        t.eq(listed_stream(c, pid).get("reattaches"), 0,
             "streams.list: durable, no re-attach yet")
        env.fake.fault(path=STREAM, count=1,
                       stream={"action": "cut", "after_messages": 1})
        cl = keep(Client(env.sock))
        i = cl.call_async("streams.attach", {"stream_id": st})
        sh(c, sid, "echo go > dfifo")
        ev = []
        r = cl.wait_reply(i, events=ev)
        t.eq(r.get("result"), {"exit_code": 3},
             "streams.attach: the exit code")
        t.eq(names(ev)[0], "start", "streams.attach replays start")

    with t.case("streams.stop and $/cancel stop the process"), \
            Opened() as keep:
        cl = keep(Client(env.sock))
        i = cl.call_async("sandbox.exec_stream",
                          durable(sid, "echo up; while :; do sleep 0.05; "
                                  "done"))

        def procs():
            return dig(c.call("sandbox.processes", {"sandbox_id": sid}),
                       "result", "processes") or []
        wait_for(lambda: listed_stream(c, dig(procs(), 0, "pid")) != {},
                 timeout=30, what="running")
        cl.cancel(i)
        wait_for(lambda: procs() == [], timeout=30, what="gone")
        t.eq(procs(), [], "$/cancel: the process is gone")
        kills = [q for q in env.fake.requests() if q["method"] == "DELETE"]
        t.eq(dig(kills, -1, "query"), "signal=SIGTERM",
             "$/cancel: SIGTERM to the process")
        r = c.call("sandbox.exec_stream",
                   durable(sid, "while :; do sleep 0.05; done",
                           detach=True))
        st = dig(r, "result", "stream_id")
        r = c.call("streams.stop", {"stream_id": st})
        t.eq(r.get("result"), {}, "streams.stop -> {}")
        wait_for(lambda: procs() == [], timeout=30, what="gone")
        t.eq(procs(), [], "streams.stop: the process is gone")

    with t.case("172413e: unsupported_by_server, nothing sent"), Opened():
        o = old.client()
        osid = o.call("sandboxes.create", {})["result"]["id"]
        old.fake.clear_requests()
        r = o.call("sandbox.exec_stream", durable(osid, "true"))
        t.eq(dig(r, "error", "data", "code"), "unsupported_by_server",
             "durable on 172413e: unsupported_by_server")
        t.eq(dig(r, "error", "data", "needs"), "v0.1.5 (/v1/capsules)",
             "durable on 172413e: data.needs names the server")
        t.eq(old.fake.requests(), [], "durable on 172413e: nothing sent")
        o.close()
    c.close()
finally:
    env.close(t)
    cap.close(t)
    old.close(t)
sys.exit(t.done())
