# SPDX-License-Identifier: MIT
"""Streaming exec through wrennd: live events, many concurrent streams,
cancel, disconnect, detached sessions with replay and loss accounting,
backpressure (a stalled reader slows nobody else), and upstream faults."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Env, Tap, instrumented, rss_kib  # noqa: E402

t = Tap()
env = Env(wrennd_args=["--set", "detach-buffer=65536",
                       "--set", "stall-timeout=3000",
                       "--set", "max-inflight=64"])


def stream(cl, sid, cmd, args=None, **kw):
    p = {"sandbox_id": sid, "cmd": cmd}
    if args is not None:
        p["args"] = args
    p.update(kw)
    ev = []
    r = cl.call("sandbox.exec_stream", p, events=ev)
    return r, ev


def text_of(events, kind="stdout"):
    return "".join(e.get("data", "") for e in events if e["event"] == kind)


try:
    sock = env.sock
    c = env.client()
    sid = c.call("sandboxes.create", {})["result"]["id"]

    r, ev = stream(c, sid, "/bin/sh",
                   ["-c", "echo one; echo two >&2; echo three; exit 4"])
    t.ok(r.get("result") == {"exit_code": 4},
         "exec_stream final reply carries the exit code", r)
    kinds = [e["event"] for e in ev]
    t.ok(kinds[0] == "start" and kinds[-1] == "exit" and
         isinstance(ev[0].get("pid"), int),
         "events start with start{pid} and end with exit", kinds)
    t.eq([e["seq"] for e in ev], list(range(len(ev))),
         "events carry contiguous per-stream seq numbers")
    t.eq(text_of(ev), "one\nthree\n", "stdout arrives in order")
    t.eq(text_of(ev, "stderr"), "two\n", "stderr arrives separately")
    t.eq(ev[-1].get("exit_code"), 4, "exit event has exit_code")

    # invalid UTF-8 is turned into U+FFFD by the control plane
    r, ev = stream(c, sid, "printf", ["a\\377b"])
    t.eq(text_of(ev), "a\ufffdb", "lossy UTF-8 is passed through as sent")

    # errors before the upgrade are typed
    r, ev = stream(c, "cl-" + "0" * 25, "true")
    t.ok(r.get("error", {}).get("data", {}).get("code") == "not_found" and
         r["error"]["data"].get("status") == 404,
         "unknown sandbox -> not_found 404", r)
    r, ev = stream(c, sid, "true", bogus=1)
    t.ok(r.get("error", {}).get("code") == -32602,
         "unknown param -> -32602", r)

    # 200 concurrent streams over 20 clients, complete and in order
    errors = []
    N_CLIENTS, PER = 20, 10

    def worker(n):
        try:
            cl = Client(sock, timeout=120)
            ids = {}
            for k in range(PER):
                tag = "c%d-s%d" % (n, k)
                i = cl.call_async("sandbox.exec_stream", {
                    "sandbox_id": sid, "cmd": "/bin/sh",
                    "args": ["-c", 'for i in $(seq 1 200); do '
                             'echo "%s $i"; done' % tag]})
                ids[i] = tag
            for i, tag in ids.items():
                ev = []
                r = cl.wait_reply(i, events=ev)
                want = "".join("%s %d\n" % (tag, j) for j in range(1, 201))
                if r.get("result") != {"exit_code": 0} or \
                        text_of(ev) != want:
                    errors.append((tag, r, text_of(ev)[:200]))
            cl.close()
        except Exception as ex:  # noqa: BLE001
            errors.append(repr(ex))

    t0 = time.monotonic()
    ths = [threading.Thread(target=worker, args=(n,))
           for n in range(N_CLIENTS)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(300)
    t.ok(not errors, "200 concurrent streams across 20 clients: complete, "
         "in-order output", errors[:3])
    t.diag("200 streams took %.2f s" % (time.monotonic() - t0))

    # cancel: the call gets -32800 quickly
    cid = c.call_async("sandbox.exec_stream",
                       {"sandbox_id": sid, "cmd": "sleep", "args": ["30"]})
    time.sleep(0.5)
    t0 = time.monotonic()
    c.cancel(cid)
    r = c.wait_reply(cid)
    t.ok(r.get("error", {}).get("code") == -32800 and
         time.monotonic() - t0 < 3, "$/cancel ends the stream", r)
    lst = c.call("streams.list")["result"]
    t.eq([s for s in lst if s["state"] in ("running", "connecting")], [],
         "a cancelled stream is gone from streams.list")

    # disconnect without detach stops the stream
    d = Client(sock)
    d.call_async("sandbox.exec_stream",
                 {"sandbox_id": sid, "cmd": "sleep", "args": ["30"]})
    for _ in range(100):
        if len(c.call("streams.list")["result"]) == 1:
            break
        time.sleep(0.05)
    t.eq(len(c.call("streams.list")["result"]), 1,
         "a running stream is listed")
    d.close()
    for _ in range(100):
        if not c.call("streams.list")["result"]:
            break
        time.sleep(0.05)
    t.eq(c.call("streams.list")["result"], [],
         "client disconnect stops its (attached) stream")

    # detach / attach with replay
    r = c.call("sandbox.exec_stream", {
        "sandbox_id": sid, "cmd": "/bin/sh", "detach": True,
        "args": ["-c", 'for i in $(seq 1 50); do echo "d $i"; sleep 0.01; '
                 'done; sleep 1; echo late; exit 7']})
    res = r.get("result", {})
    st = res.get("stream_id", "")
    t.ok(st.startswith("st-") and res.get("detached") is True and
         isinstance(res.get("pid"), int), "detach returns a stream id", r)
    for _ in range(200):  # wait until at least 12 events exist
        lst = {x["stream_id"]: x for x in c.call("streams.list")["result"]}
        if lst[st]["next_seq"] > 12:
            break
        time.sleep(0.05)
    a1, a2 = Client(sock), Client(sock)
    i1 = a1.call_async("streams.attach", {"stream_id": st})
    i2 = a2.call_async("streams.attach", {"stream_id": st, "from_seq": 10})
    e1, e2 = [], []
    r1 = a1.wait_reply(i1, events=e1)
    r2 = a2.wait_reply(i2, events=e2)
    want = "".join("d %d\n" % j for j in range(1, 51)) + "late\n"
    t.ok(r1.get("result") == {"exit_code": 7} and text_of(e1) == want,
         "attach from 0 replays everything and follows live", (r1,
                                                               text_of(e1)))
    t.ok(e2 and e2[0]["seq"] == 10 and r2.get("result") == {"exit_code": 7},
         "a second attacher with from_seq starts there", e2[:2])
    t.eq([e["seq"] for e in e1], list(range(len(e1))),
         "attached events keep the stream's seq")
    r3, e3 = [], []
    r3 = a1.call("streams.attach", {"stream_id": st}, events=e3)
    t.ok(r3.get("result") == {"exit_code": 7} and text_of(e3) == want,
         "an ended detached stream can still be replayed", r3)
    lst = c.call("streams.list")["result"]
    t.ok(any(s["stream_id"] == st and s["state"] == "exited" and
             s["exit_code"] == 7 for s in lst), "streams.list shows it", lst)
    r = c.call("streams.stop", {"stream_id": st})
    t.ok("result" in r and not any(s["stream_id"] == st for s in
                                   c.call("streams.list")["result"]),
         "streams.stop discards an ended stream", r)
    r = c.call("streams.attach", {"stream_id": st})
    t.eq(r.get("error", {}).get("data", {}).get("code"), "not_found",
         "attach to an unknown stream -> not_found")
    a1.close()
    a2.close()

    # loss accounting: 64 KiB replay buffer, ~600 KiB of output
    line = "x" * 99
    r = c.call("sandbox.exec_stream", {
        "sandbox_id": sid, "cmd": "/bin/sh", "detach": True,
        "args": ["-c", 'i=0; while [ $i -lt 6000 ]; do echo %s; '
                 'i=$((i+1)); done' % line]})
    st = r["result"]["stream_id"]
    for _ in range(100):
        lst = {s["stream_id"]: s for s in c.call("streams.list")["result"]}
        if lst[st]["state"] == "exited":
            break
        time.sleep(0.1)
    info = lst[st]
    t.ok(info["lost_bytes"] > 0 and info["output_bytes"] == 600000,
         "the replay buffer dropped data and counted it", info)
    ev = []
    r = c.call("streams.attach", {"stream_id": st}, events=ev)
    lost = [e for e in ev if e["event"] == "lost"]
    got = len(text_of(ev))
    t.ok(len(lost) == 1 and lost[0]["from_seq"] == 0 and lost[0]["exact"],
         "the attacher is told it lost data", lost)
    t.ok(lost and lost[0]["bytes"] + got == 600000,
         "lost bytes + received bytes == bytes produced (%s + %d)"
         % (lost[0]["bytes"] if lost else None, got))
    t.ok(lost and lost[0]["events"] == lost[0]["to_seq"] + 1,
         "lost event counts the missed events", lost)
    t.eq(r.get("result"), {"exit_code": 0}, "and the stream result follows")
    c.call("streams.stop", {"stream_id": st})

    # backpressure: a reader that does not read pauses only its stream
    pid = env.wrennd.proc.pid
    rss0 = rss_kib(pid)
    stuck = Client(sock)
    sid_big = stuck.call_async("sandbox.exec_stream", {
        "sandbox_id": sid, "cmd": "/bin/sh",
        "args": ["-c", "head -c 200000000 /dev/zero | tr '\\0' a | "
                 "fold -w 1000"]})
    for _ in range(600):  # until its WebSocket is paused for it
        lst = c.call("streams.list")["result"]
        if any(s["paused"] for s in lst):
            break
        time.sleep(0.1)
    t.ok(any(s["paused"] for s in lst), "the stalled reader's stream is "
         "paused (WebSocket no longer read)", lst)
    t0 = time.monotonic()
    r, ev = stream(c, sid, "/bin/sh",
                   ["-c", 'for i in $(seq 1 2000); do echo "fast $i"; done'])
    dt = time.monotonic() - t0
    t.ok(r.get("result") == {"exit_code": 0} and
         text_of(ev).count("\n") == 2000,
         "another client's stream completes while one reader is stalled")
    t.diag("stream next to a stalled reader: %.2f s" % dt)
    lst = {s["stream_id"]: s for s in c.call("streams.list")["result"]}
    busy = [s for s in lst.values() if s["state"] == "running"]
    t.ok(busy and busy[0]["buffered_bytes"] <= 2 * 1024 * 1024,
         "the stalled stream's buffer stays bounded", busy)
    grow = rss_kib(pid) - rss0
    if not instrumented():
        t.ok(grow < 32 * 1024, "wrennd RSS grew by %d KiB only" % grow)
    else:
        t.ok(True, "RSS growth %d KiB (instrumented build, not judged)"
             % grow)
    # the stalled reader is cancelled after stall-timeout (3 s)
    for _ in range(600):
        if not [s for s in c.call("streams.list")["result"]
                if s["state"] == "running"]:
            break
        time.sleep(0.1)
    stuck.s.settimeout(30)
    r = stuck.wait_reply(sid_big, events=[])
    t.eq(r.get("error", {}).get("data", {}).get("code"), "slow_consumer",
         "a reader stuck past stall-timeout gets slow_consumer")
    stuck.close()

    # upstream cut mid-stream -> clear error
    env.fake.fault(path="/exec/stream$", count=1,
                   stream={"action": "cut", "after_bytes": 5000})
    r, ev = stream(c, sid, "/bin/sh",
                   ["-c", 'for i in $(seq 1 5000); do echo "cut $i"; done'])
    e = r.get("error", {})
    t.ok(e.get("data", {}).get("code") == "upstream_unreachable" and
         "before the command exited" in e.get("message", ""),
         "a cut WebSocket ends the call with a clear error", r)
    t.ok(0 < len(text_of(ev)) < 5000 * 10, "some output arrived before the "
         "cut")
    env.fake.clear_faults()

    # a paused sandbox: the pre-upgrade 409 is typed
    c.call("sandbox.pause", {"sandbox_id": sid})
    r, ev = stream(c, sid, "true")
    t.ok(r.get("error", {}).get("data", {}).get("code") == "invalid_state"
         and r["error"]["data"].get("status") == 409,
         "stream on a paused sandbox -> invalid_state 409", r)
    c.close()
finally:
    env.close(t)
sys.exit(t.done())
