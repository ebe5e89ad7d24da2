# SPDX-License-Identifier: MIT
"""Streaming exec through wrennd: live events, many concurrent streams,
cancel, disconnect, detached sessions with replay and loss accounting,
many attachers on a full buffer, backpressure (a stalled reader slows
nobody else), upstream faults; streams belong to their uid, per-uid and
total stream quotas, and the real memory cost of buffered events (issue
12 findings 4, 5, 7, 8)."""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PYTHON, Client, Env, Opened, Tap, Wrennd,  # noqa: E402
                     dig, instrumented, rss_kib, settle, wait_for)

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


def paced(n, tail=""):
    """A command printing n short lines, each its own write (so its own
    upstream message, mostly), then running the shell snippet tail."""
    code = ("import sys, time\n"
            "for i in range(%d):\n"
            "    sys.stdout.write('%%d\\n' %% i); sys.stdout.flush()\n"
            "    time.sleep(0.0003)\n" % n)
    return ["-c", "%s -c \"$0\"; %s" % (PYTHON, tail or "true"), code]




def unread_upstream_bytes(port):
    """Bytes the kernel holds unread on wrennd's TCP connections to the
    fake control plane (rx_queue in /proc/net/tcp; the side whose remote
    port is the fake's)."""
    best = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split()
            rem_port = int(p[2].split(":")[1], 16)
            rx = int(p[4].split(":")[1], 16)
            if rem_port == port:
                best = max(best, rx)
    return best


def running(cl):
    """The streams streams.list shows running or connecting."""
    return [s for s in cl.call("streams.list").get("result", [])
            if s.get("state") in ("running", "connecting")]


def listed_stream(cl, st):
    """st's streams.list entry, or {}."""
    for s in cl.call("streams.list").get("result", []):
        if s.get("stream_id") == st:
            return s
    return {}


def exited(cl, st):
    """st's streams.list entry once it has exited, else None."""
    s = listed_stream(cl, st)
    return s if s.get("state") == "exited" else None


def stop_streams():
    """Stop every stream wrennd lists, so the next case starts with
    none (a case that failed half way leaves its streams behind)."""
    cl = Client(env.sock)
    try:
        for s in cl.call("streams.list").get("result", []):
            cl.call("streams.stop", {"stream_id": s["stream_id"]})
    finally:
        cl.close()


def case(keep):
    """A case's own client; its streams stopped when the case ends."""
    keep.later(stop_streams)
    return keep(Client(env.sock))


try:
    sock = env.sock
    # The sandbox every case runs its commands in (one that changes a
    # sandbox's state makes its own).
    c = env.client()
    sid = c.call("sandboxes.create", {})["result"]["id"]
    c.close()

    with t.case("exec_stream: events and exit code"), Opened() as keep:
        c = case(keep)
        r, ev = stream(c, sid, "/bin/sh",
                       ["-c", "echo one; echo two >&2; echo three; exit 4"])
        t.eq(r.get("result"), {"exit_code": 4},
             "exec_stream final reply carries the exit code")
        kinds = [e["event"] for e in ev]
        t.eq(kinds[:1], ["start"], "events start with start")
        t.eq(kinds[-1:], ["exit"], "events end with exit")
        t.eq(type(dig(ev, 0, "pid")), int, "the start event carries a pid")
        t.eq([e["seq"] for e in ev], list(range(len(ev))),
             "events carry contiguous per-stream seq numbers")
        t.eq(text_of(ev), "one\nthree\n", "stdout arrives in order")
        t.eq(text_of(ev, "stderr"), "two\n", "stderr arrives separately")
        t.eq(dig(ev, -1, "exit_code"), 4, "exit event has exit_code")

    with t.case("exec_stream: lossy UTF-8"), Opened() as keep:
        c = case(keep)
        # invalid UTF-8 is turned into U+FFFD by the control plane
        r, ev = stream(c, sid, "printf", ["a\\377b"])
        t.eq(text_of(ev), "a\ufffdb", "lossy UTF-8 is passed through as sent")

    with t.case("exec_stream: errors before the upgrade"), Opened() as keep:
        c = case(keep)
        r, ev = stream(c, "cl-" + "0" * 25, "true")
        t.eq(dig(r, "error", "data", "code"), "not_found",
             "unknown sandbox -> not_found 404 (code)")
        t.eq(dig(r, "error", "data", "status"), 404,
             "unknown sandbox -> not_found 404 (status)")
        r, ev = stream(c, sid, "true", bogus=1)
        t.eq(dig(r, "error", "code"), -32602, "unknown param -> -32602")

    with t.case("200 concurrent streams"), Opened() as keep:
        keep.later(stop_streams)
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
                    want = "".join("%s %d\n" % (tag, j)
                                   for j in range(1, 201))
                    if r.get("result") != {"exit_code": 0}:
                        errors.append((tag, r))
                    elif text_of(ev) != want:
                        errors.append((tag, text_of(ev)[:200]))
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
        t.eq(errors[:3], [], "200 concurrent streams across 20 clients: "
             "complete, in-order output")
        t.diag("200 streams took %.2f s" % (time.monotonic() - t0))

    with t.case("$/cancel"), Opened() as keep:
        c = case(keep)
        path = "%s/%s/exec/stream" % (env.fake.sandboxes_path, sid)

        def statuses():
            """The stream's requests in the fake's log: status None while
            its WebSocket session runs, 101 once the session is over."""
            return [e["status"] for e in env.fake.requests()
                    if e["path"] == path]
        env.fake.clear_requests()
        # sleep 600 outlives the waits below (also scaled for valgrind),
        # so only the cancel can end the call with -32800 and the session
        # within them; the fake ends the process when it stops.
        cid = c.call_async("sandbox.exec_stream",
                           {"sandbox_id": sid, "cmd": "sleep",
                            "args": ["600"]})
        wait_for(lambda: statuses() == [None], 20,
                 what="the upstream WebSocket session")
        c.cancel(cid)
        r = c.wait_reply(cid)
        t.eq(dig(r, "error", "code"), -32800,
             "$/cancel ends the call with -32800 (request cancelled)")
        t.eq(dig(r, "error", "data", "code"), "cancelled",
             "$/cancel: data.code cancelled")
        t.eq(settle(statuses, [101], 20), [101],
             "$/cancel ends the upstream request: the control plane saw "
             "the stream's WebSocket session end")
        t.eq(settle(lambda: running(c), []), [],
             "a cancelled stream is gone from streams.list")

    with t.case("disconnect without detach stops the stream"), \
            Opened() as keep:
        c = case(keep)
        d = Client(sock)
        d.call_async("sandbox.exec_stream",
                     {"sandbox_id": sid, "cmd": "sleep", "args": ["30"]})
        t.eq(settle(lambda: len(c.call("streams.list")["result"]), 1), 1,
             "a running stream is listed")
        d.close()
        t.eq(settle(lambda: c.call("streams.list")["result"], []), [],
             "client disconnect stops its (attached) stream")

    with t.case("detach and attach with replay"), Opened() as keep:
        c = case(keep)
        r = c.call("sandbox.exec_stream", {
            "sandbox_id": sid, "cmd": "/bin/sh", "detach": True,
            "args": ["-c", 'for i in $(seq 1 50); do echo "d $i"; '
                     'sleep 0.01; done; sleep 1; echo late; exit 7']})
        res = r.get("result", {})
        st = res.get("stream_id", "")
        t.ok(st.startswith("st-"), "detach returns a stream id", r)
        t.eq(res.get("detached"), True,
             "detach returns a stream id (detached)")
        t.eq(type(res.get("pid")), int, "detach returns the pid")
        # until at least 12 events exist
        wait_for(lambda: listed_stream(c, st).get("next_seq", 0) > 12, 10,
                 what="12 events")
        a1, a2 = keep(Client(sock)), keep(Client(sock))
        i1 = a1.call_async("streams.attach", {"stream_id": st})
        i2 = a2.call_async("streams.attach", {"stream_id": st,
                                              "from_seq": 10})
        e1, e2 = [], []
        r1 = a1.wait_reply(i1, events=e1)
        r2 = a2.wait_reply(i2, events=e2)
        want = "".join("d %d\n" % j for j in range(1, 51)) + "late\n"
        t.eq(r1.get("result"), {"exit_code": 7},
             "attach from 0 replays everything and follows live (result)")
        t.eq(text_of(e1), want,
             "attach from 0 replays everything and follows live")
        t.eq(dig(e2, 0, "seq"), 10,
             "a second attacher with from_seq starts there (seq)")
        t.eq(r2.get("result"), {"exit_code": 7},
             "a second attacher with from_seq starts there (result)")
        t.eq([e["seq"] for e in e1], list(range(len(e1))),
             "attached events keep the stream's seq")
        e3 = []
        r3 = a1.call("streams.attach", {"stream_id": st}, events=e3)
        t.eq(r3.get("result"), {"exit_code": 7},
             "an ended detached stream can still be replayed (result)")
        t.eq(text_of(e3), want,
             "an ended detached stream can still be replayed")
        info = listed_stream(c, st)
        t.eq(info.get("state"), "exited", "streams.list shows it exited")
        t.eq(info.get("exit_code"), 7, "streams.list shows its exit code")
        r = c.call("streams.stop", {"stream_id": st})
        t.has(r, "result", "streams.stop of an ended stream answers")
        t.eq(listed_stream(c, st), {},
             "streams.stop discards an ended stream")
        r = c.call("streams.attach", {"stream_id": st})
        t.eq(dig(r, "error", "data", "code"), "not_found",
             "attach to an unknown stream -> not_found")

    with t.case("loss accounting"), Opened() as keep:
        c = case(keep)
        # 64 KiB replay buffer, ~600 KiB of output
        line = "x" * 99
        r = c.call("sandbox.exec_stream", {
            "sandbox_id": sid, "cmd": "/bin/sh", "detach": True,
            "args": ["-c", 'i=0; while [ $i -lt 6000 ]; do echo %s; '
                     'i=$((i+1)); done' % line]})
        st = r["result"]["stream_id"]
        info = wait_for(lambda: exited(c, st), 30, 0.1, "the stream's exit")
        t.ok(info.get("lost_bytes", 0) > 0,
             "the replay buffer dropped data and counted it (lost_bytes)",
             info.get("lost_bytes"))
        t.eq(info.get("output_bytes"), 600000,
             "the replay buffer dropped data and counted it (output_bytes)")
        ev = []
        r = c.call("streams.attach", {"stream_id": st}, events=ev)
        lost = [e for e in ev if e["event"] == "lost"]
        got = len(text_of(ev))
        t.eq(len(lost), 1, "the attacher is told it lost data once")
        first = lost[0] if lost else {}
        t.eq(first.get("from_seq"), 0,
             "the attacher is told it lost data (from_seq)")
        t.ok(first.get("exact"), "the attacher is told it lost data (exact)",
             lost)
        t.eq(first.get("bytes", 0) + got, 600000,
             "lost bytes + received bytes == bytes produced (%s + %d)"
             % (first.get("bytes"), got))
        t.eq(first.get("events"), first.get("to_seq", -2) + 1,
             "lost event counts the missed events")
        t.eq(r.get("result"), {"exit_code": 0},
             "and the stream result follows")

    # issue 12 finding 7: many attachers on a full buffer. 300 followers
    # of one detached stream whose replay buffer is full and which then
    # waits; each gets the replay, then the live tail and the result.
    with t.case("many attachers on a full buffer"), Opened() as keep:
        c = case(keep)
        # The stream waits (up to 10 minutes) until the test has seen all
        # 300 attaches, however long a loaded machine takes for them.
        r = c.call("sandbox.exec_stream", {
            "sandbox_id": sid, "cmd": "/bin/sh", "detach": True,
            "args": paced(3000, "n=0; while [ ! -e attach-go ] && "
                          "[ $n -lt 12000 ]; do sleep 0.05; n=$((n+1)); "
                          "done; echo the-end")})
        st = r["result"]["stream_id"]
        wait_for(lambda: {s["stream_id"]: s for s in
                          c.call("streams.list")["result"]}[st]
                 ["lost_events"] > 0, 60, 0.1, "a full replay buffer")
        attachers = [Client(sock, timeout=600) for _ in range(5)]
        ids = [[a.call_async("streams.attach", {"stream_id": st})
                for _ in range(60)] for a in attachers]
        # Each attacher reads all the time (a thread per client), so no
        # client stalls past stall-timeout while the 300 attaches go on.
        results = [[] for _ in attachers]

        def drain(k):
            for i in ids[k]:
                ev = []
                try:
                    r = attachers[k].wait_reply(i, events=ev)
                except (OSError, EOFError, ValueError) as e:
                    r = {"error": repr(e)}
                results[k].append((r, ev))

        readers = [threading.Thread(target=drain, args=(k,), daemon=True)
                   for k in range(len(attachers))]
        for th in readers:
            th.start()
        last = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            last = {s["stream_id"]: s for s in
                    c.call("streams.list")["result"]}[st]
            if last["followers"] == 300:
                break
            time.sleep(0.1)
        t.eq(last["followers"], 300, "300 followers of one stream")
        t0 = time.monotonic()
        c.call("streams.list")
        t.diag("another client's call beside 300 followers: %.3f s"
               % (time.monotonic() - t0))
        c.call("sandbox.exec", {"sandbox_id": sid, "cmd": "touch",
                                "args": ["attach-go"]})
        for th in readers:
            th.join(600)
        done = 0
        for res in results:
            for r, ev in res:
                if r.get("result") == {"exit_code": 0} and ev and \
                        text_of(ev).endswith("the-end\n") and \
                        ev[0]["event"] == "lost":
                    done += 1
        for a in attachers:
            a.close()
        t.eq(done, 300, "300 attachers of a full buffer each get lost, "
             "the replay, the live tail and the result")
        c.call("streams.stop", {"stream_id": st})

    with t.case("backpressure: a stalled reader pauses only its stream"), \
            Opened() as keep:
        c = case(keep)
        pid = env.wrennd.proc.pid
        rss0 = rss_kib(pid)
        stuck = keep(Client(sock))
        sid_big = stuck.call_async("sandbox.exec_stream", {
            "sandbox_id": sid, "cmd": "/bin/sh",
            "args": ["-c", "head -c 200000000 /dev/zero | tr '\\0' a | "
                     "fold -w 1000"]})
        # until its WebSocket is paused for it
        paused = settle(lambda: len([s for s in
                                     c.call("streams.list")["result"]
                                     if s["paused"]]), 1, 60, 0.1)
        t.eq(paused, 1, "the stalled reader's stream is paused "
             "(WebSocket no longer read)")
        # Seen from the connection, not the daemon's flag: the kernel holds
        # bytes wrennd does not read on its upstream socket, and still does
        # a moment later (TCP backpressure reaches the control plane).
        unread1 = unread_upstream_bytes(env.fake.port)
        time.sleep(0.5)
        unread2 = unread_upstream_bytes(env.fake.port)
        t.ok(unread1 > 0, "wrennd leaves upstream bytes unread in the "
             "kernel (rx_queue %d)" % unread1)
        t.ok(unread2 > 0, "and still does 0.5 s later (rx_queue %d)"
             % unread2)
        t0 = time.monotonic()
        r, ev = stream(c, sid, "/bin/sh",
                       ["-c", 'for i in $(seq 1 2000); do echo "fast $i"; '
                        'done'])
        dt = time.monotonic() - t0
        t.eq(r.get("result"), {"exit_code": 0},
             "another client's stream completes while one reader is "
             "stalled (result)")
        t.eq(text_of(ev).count("\n"), 2000,
             "another client's stream completes while one reader is stalled")
        t.diag("stream next to a stalled reader: %.2f s" % dt)
        lst = {s["stream_id"]: s for s in c.call("streams.list")["result"]}
        busy = [s for s in lst.values() if s["state"] == "running"]
        buffered = dig(busy, 0, "buffered_bytes")
        t.ok(buffered is not None,
             "the stalled stream's buffer stays bounded (listed with "
             "buffered_bytes)", lst)
        t.ok((buffered or 0) <= 2 * 1024 * 1024,
             "the stalled stream's buffer stays bounded (buffered_bytes)",
             buffered)
        grow = rss_kib(pid) - rss0
        if not instrumented():
            t.ok(grow < 32 * 1024, "wrennd RSS grew by %d KiB only" % grow)
        else:
            t.ok(True, "RSS growth %d KiB (instrumented build, not judged)"
                 % grow)
        # the stalled reader is cancelled after stall-timeout (3 s)
        settle(lambda: running(c), [], 60, 0.1)
        stuck.s.settimeout(30)
        r = stuck.wait_reply(sid_big, events=[])
        t.eq(dig(r, "error", "data", "code"), "slow_consumer",
             "a reader stuck past stall-timeout gets slow_consumer")

    with t.case("upstream cut mid-stream"), Opened() as keep:
        c = case(keep)
        keep.later(env.fake.clear_faults)
        env.fake.fault(path="/exec/stream$", count=1,
                       stream={"action": "cut", "after_bytes": 5000})
        r, ev = stream(c, sid, "/bin/sh",
                       ["-c", 'for i in $(seq 1 5000); do echo "cut $i"; '
                        'done'])
        t.eq(dig(r, "error", "data", "code"), "upstream_unreachable",
             "a cut WebSocket ends the call with a clear error (code)")
        t.has(dig(r, "error", "message") or "", "before the command exited",
              "a cut WebSocket ends the call with a clear error (message)")
        t.ok(len(text_of(ev)) > 0, "some output arrived before the cut",
             len(text_of(ev)))
        t.ok(len(text_of(ev)) < 5000 * 10, "not all of it: the cut ended it",
             len(text_of(ev)))

    with t.case("a paused sandbox: the pre-upgrade 409"), Opened() as keep:
        c = case(keep)
        # its own sandbox: the pause would stop the others' commands
        psid = c.call("sandboxes.create", {})["result"]["id"]
        c.call("sandbox.pause", {"sandbox_id": psid})
        r, ev = stream(c, psid, "true")
        t.eq(dig(r, "error", "data", "code"), "invalid_state",
             "stream on a paused sandbox -> invalid_state 409 (code)")
        t.eq(dig(r, "error", "data", "status"), 409,
             "stream on a paused sandbox -> invalid_state 409 (status)")

    with t.case("issue 10: a wrong API key on the stream"), \
            Opened() as keep:
        # 172413e refuses the upgrade with 401; v0.1.5 upgrades and then
        # sends "authentication failed": the same typed error either way.
        bad = keep(Wrennd(env.tmp, env.fake.url, api_key="wrn_" + "0" * 32))
        b = keep(Client(bad.sock))
        r, ev = stream(b, sid, "true")
        t.eq(dig(r, "error", "data", "code"), "unauthorized",
             "exec_stream with a wrong API key -> unauthorized (code)")
        t.eq(dig(r, "error", "data", "status"), 401,
             "exec_stream with a wrong API key -> unauthorized (status)")
        t.eq([e.get("event") for e in ev if e.get("event") != "error"], [],
             "exec_stream with a wrong API key: no start, no output")
finally:
    env.close(t)

# A client running as another uid: runs calls given as [method, params]
# over its own connection and prints the replies (events counted).
AS_UID = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(60)
s.connect(sys.argv[1])
f = s.makefile("rb")
f.readline()
out = []
for n, (method, params) in enumerate(json.loads(sys.argv[2]), 1):
    s.sendall(json.dumps({"jsonrpc": "2.0", "id": n, "method": method,
                          "params": params}).encode() + b"\n")
    events = 0
    while True:
        m = json.loads(f.readline())
        if m.get("id") == n:
            m["events"] = events
            out.append(m)
            break
        events += 1
print(json.dumps(out))
"""
NOBODY = 65534


def as_nobody(sock, calls):
    p = subprocess.run(["setpriv", "--reuid=%d" % NOBODY,
                        "--regid=%d" % NOBODY, "--clear-groups",
                        PYTHON, "-c", AS_UID, sock, json.dumps(calls)],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("client as uid %d failed: %s" % (NOBODY, p.stderr))
    return json.loads(p.stdout)


def reachable(env):
    """Let other uids reach the socket (socket-mode=0666 does the rest)."""
    os.chmod(env.tmp, 0o711)
    os.chmod(os.path.dirname(env.sock), 0o711)


def err_code(r):
    return r.get("error", {}).get("data", {}).get("code")


def can_switch_uid():
    try:
        return subprocess.run(["setpriv", "--reuid=%d" % NOBODY,
                               "--regid=%d" % NOBODY, "--clear-groups",
                               "true"]).returncode == 0
    except OSError:
        return False


# Issue 12 findings 5 and 4: streams belong to the uid that started them;
# one uid cannot take every stream slot.
if os.geteuid() != 0 or not can_switch_uid():
    t.ok(True, "# SKIP stream ownership: needs root and setpriv")
else:
    env = Env(wrennd_args=["--set", "socket-mode=0666",
                           "--set", "allow-users=%d" % NOBODY,
                           "--set", "max-streams-per-uid=2"])
    try:
        reachable(env)
        c = env.client()
        sid = c.call("sandboxes.create", {})["result"]["id"]
        sleeper = {"sandbox_id": sid, "cmd": "sleep", "args": ["30"],
                   "detach": True}
        root_st = c.call("sandbox.exec_stream", sleeper)["result"]["stream_id"]
        with t.case("streams belong to their uid: list"):
            r = as_nobody(env.sock, [["streams.list", {}]])[0]
            t.eq([s["stream_id"] for s in r["result"]], [],
                 "uid 65534 does not see root's stream in streams.list")
        with t.case("streams belong to their uid: attach and stop"):
            ghost = "st-" + "0" * 16
            r = as_nobody(env.sock, [
                ["streams.attach", {"stream_id": root_st}],
                ["streams.stop", {"stream_id": root_st}],
                ["streams.attach", {"stream_id": ghost}]])
            t.eq(err_code(r[0]), "not_found",
                 "attach to another uid's stream -> not_found")
            t.eq(r[0].get("events"), 0,
                 "and not one event of it is sent")
            t.eq(err_code(r[1]), "not_found",
                 "stop of another uid's stream -> not_found")
            t.eq(r[0]["error"]["message"].replace(root_st, "ID"),
                 r[2]["error"]["message"].replace(ghost, "ID"),
                 "the answer is the one for a stream that does not exist")
            lst = {s["stream_id"]: s for s in c.call("streams.list")["result"]}
            t.eq(lst.get(root_st, {}).get("state"), "running",
                 "root's stream is still running after the foreign stop")
            t.eq(lst.get(root_st, {}).get("uid"), 0,
                 "streams.list shows the owner's uid")
        with t.case("streams belong to their uid: own streams"):
            r = as_nobody(env.sock, [
                ["sandbox.exec_stream", sleeper], ["streams.list", {}]])
            mine = r[0].get("result", {}).get("stream_id")
            t.ok(mine is not None, "uid 65534 starts its own stream", r[0])
            t.eq([(s["stream_id"], s["uid"]) for s in r[1]["result"]],
                 [(mine, NOBODY)], "and lists exactly that one")
            ids = [s["stream_id"] for s in c.call("streams.list")["result"]]
            t.has(ids, root_st, "root (admin) lists both uids' streams")
            t.has(ids, mine, "root (admin) lists both uids' streams")
        with t.case("per-uid stream cap"):
            r = as_nobody(env.sock, [
                ["sandbox.exec_stream", sleeper],
                ["sandbox.exec_stream", sleeper]])
            t.ok("result" in r[0], "uid 65534's second stream starts", r[0])
            t.eq(err_code(r[1]), "too_many_streams",
                 "its third is refused (max-streams-per-uid=2)")
            t.ok("max-streams-per-uid" in
                 r[1].get("error", {}).get("message", ""),
                 "the error names max-streams-per-uid", r[1])
            r = c.call("sandbox.exec_stream", sleeper)
            t.ok("result" in r, "root still starts its second stream", r)
        for s in c.call("streams.list")["result"]:
            c.call("streams.stop", {"stream_id": s["stream_id"]})
        c.close()
    finally:
        env.close(t)

# Issue 12 finding 8: events are charged what they cost, and the buffers
# of all streams together are capped (max-stream-memory).
NSTREAMS, BUF = 16, 65536
env = Env(wrennd_args=["--set", "detach-buffer=%d" % BUF,
                       "--set", "stream-buffer=%d" % BUF,
                       "--set", "max-stream-memory=%d" % (NSTREAMS * BUF)])
try:
    c = env.client()
    sid = c.call("sandboxes.create", {})["result"]["id"]
    r, ev = stream(c, sid, "/bin/sh", paced(200))  # warm the code paths
    pid = env.wrennd.proc.pid
    rss0 = rss_kib(pid)
    ids = []
    with t.case("stream memory: many detached streams of small events"):
        # one at a time, so that each line is mostly its own message;
        # enough lines to overflow the buffer even when a loaded machine
        # batches several lines into one message
        for _ in range(NSTREAMS):
            r = c.call("sandbox.exec_stream", {
                "sandbox_id": sid, "cmd": "/bin/sh", "detach": True,
                "args": paced(6000)})
            ids.append(r["result"]["stream_id"])
            wait_for(lambda: exited(c, ids[-1]), 120, 0.1,
                     "the stream's exit")
        lst = c.call("streams.list")["result"]
        small = sum(s["output_bytes"] for s in lst) / \
            max(1, sum(s["next_seq"] for s in lst))
        t.diag("%d events, %.1f output bytes per event on average" %
               (sum(s["next_seq"] for s in lst), small))
        t.ok(all(s["lost_events"] > 0 for s in lst),
             "every stream overflowed its %d-byte replay buffer" % BUF,
             [(s["stream_id"], s["next_seq"]) for s in lst])
        t.ok(all(s["buffered_bytes"] <= BUF for s in lst),
             "each stream's charge stays within detach-buffer",
             [s["buffered_bytes"] for s in lst])
        grow = rss_kib(pid) - rss0
        bound = (NSTREAMS * (BUF + 16384)) // 1024 + 3072
        if not instrumented():
            t.ok(grow <= bound, "wrennd RSS grew by %d KiB for %d full "
                 "detached streams (bound: streams x (detach-buffer + 16 "
                 "KiB) + 3 MiB = %d KiB)" % (grow, NSTREAMS, bound))
        else:
            t.ok(True, "RSS growth %d KiB (instrumented build, not judged)"
                 % grow)
    with t.case("stream memory: the total cap"):
        r = c.call("sandbox.exec_stream", {
            "sandbox_id": sid, "cmd": "true", "detach": True})
        t.eq(err_code(r), "stream_memory_full",
             "a stream past max-stream-memory is refused")
        t.ok("max-stream-memory" in r.get("error", {}).get("message", ""),
             "the error names max-stream-memory", r)
        c.call("streams.stop", {"stream_id": ids.pop()})
        r = c.call("sandbox.exec_stream", {
            "sandbox_id": sid, "cmd": "true", "detach": True})
        t.has(r, "result", "once one is collected a new one fits")
        c.call("streams.stop", {"stream_id": dig(r, "result", "stream_id")})
    with t.case("lost exact:false (a replay from a seq long dropped)"):
        # its own stream, in the room of one of the full ones
        if ids:
            c.call("streams.stop", {"stream_id": ids.pop()})
        r = c.call("sandbox.exec_stream", {
            "sandbox_id": sid, "cmd": "/bin/sh", "detach": True,
            "args": paced(16000)})
        st = r["result"]["stream_id"]
        info = wait_for(lambda: exited(c, st), 120, 0.1, "the stream's exit")
        t.ok(info["first_seq"] > 1 + 1024, "more than 1024 events after "
             "seq 1 were dropped", info)
        ev = []
        r = c.call("streams.attach", {"stream_id": st, "from_seq": 1},
                   events=ev)
        lost = ev[0] if ev else {}
        t.eq(lost.get("event"), "lost", "the replay from seq 1 starts with "
             "lost")
        t.eq(lost.get("exact"), False, "lost.exact is false: the offset of "
             "seq 1 is no longer known")
        t.eq(lost.get("from_seq"), 1, "lost.from_seq is the seq asked for")
        t.eq(lost.get("events"), info["first_seq"] - 1,
             "lost.events counts the missed events")
        t.eq(lost.get("bytes"), info["lost_bytes"],
             "lost.bytes is the upper bound: all output before the oldest "
             "kept event")
        t.eq(r.get("result"), {"exit_code": 0}, "and the result follows")
    c.close()
finally:
    env.close(t)
sys.exit(t.done())
