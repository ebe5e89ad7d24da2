# SPDX-License-Identifier: MIT
"""Drain on SIGTERM: calls in flight finish within drain-timeout, the ones
still running then fail with shutting_down (their upstream requests
aborted), streams end with a last `error` event, new connections and new
calls are refused, a big streamed upload is either complete on the
control plane or a clear error (never a truncated success),
lease-on-shutdown keep and destroy, the sd_notify messages, a second
signal, and exit status 0 each time."""
import os
import signal
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Client, Env, Opened, Tap, dig,  # noqa: E402
                     sanitizer_clean, wait_for)

# Bytes of the big uploads (hundreds of MiB; the fake is local).
BIG = int(os.environ.get("WRENND_TEST_DRAIN_BYTES", 512 << 20))
MIB = 1 << 20

t = Tap()
env = Env(start_wrennd=False)


def start(keep, *args, extra_env=None):
    """A wrennd on the shared fake, stopped when the case ends."""
    w = env.start_wrennd(args=list(args), env=extra_env)
    keep(w)
    return w


def exited(w, timeout=60):
    """Wait for wrennd to exit by itself; (exit code, log)."""
    w.proc.wait(timeout)
    return w.proc.returncode, w.stderr()


def closes_and_exits(c, w):
    """The connection is closed, then wrennd exits 0 with a clean log."""
    t.ok(c.closed(30), "then the connection is closed")
    rc, log = exited(w)
    t.eq(rc, 0, "wrennd exits 0 after the drain")
    t.ok(sanitizer_clean(log), "no sanitizer report", log[-2000:])


def draining(w):
    """Wait until wrennd logged the start of its drain."""
    wait_for(lambda: "draining" in w.stderr(), 30, 0.02, "drain start")


def inflight(sock, n):
    """Wait until n calls are in flight (the probe's own included)."""
    probe = Client(sock)
    try:
        wait_for(lambda: dig(probe.call("daemon.status"), "result",
                             "counts", "calls_inflight") >= n + 1,
                 30, 0.02, "%d call(s) in flight" % n)
    finally:
        probe.close()


def new_sandbox(sock):
    c = Client(sock)
    try:
        return c.call("sandboxes.create", {})["result"]["id"]
    finally:
        c.close()


def sleeping(keep, w, seconds):
    """A sandbox.exec of `sleep seconds` in flight on a client of its own,
    then SIGTERM; (client, call id)."""
    sid = new_sandbox(w.sock)
    c = keep(Client(w.sock))
    i = c.call_async("sandbox.exec", {"sandbox_id": sid, "cmd": "sleep",
                                      "args": [str(seconds)]})
    inflight(w.sock, 1)
    w.proc.send_signal(signal.SIGTERM)
    return c, i


def code_of(reply):
    return dig(reply, "error", "data", "code")


def fake_file_size(sid, name):
    """The size of the file called name in the fake's sandbox, or None."""
    root = env.fake.ctl("GET", "sandboxes/" + sid)["workdir"]
    for d, _, files in os.walk(root):
        if name in files:
            return os.path.getsize(os.path.join(d, name))
    return None


def upload_requests():
    """The fake's log entries of the stream writes."""
    return [e for e in env.fake.requests()
            if e["path"].endswith("/files/stream/write")]


def leased_then_stopped(keep, mode):
    """A wrennd with lease-on-shutdown mode and a state directory, a
    sandbox leased to a live connection, then SIGTERM (exit 0 asserted);
    (sandbox id, statuses of the DELETEs of it the fake saw)."""
    state = os.path.join(env.tmp, "state-" + mode)
    w = start(keep, "--set", "state-dir=" + state,
              "--set", "lease-on-shutdown=" + mode)
    h = keep(Client(w.sock))
    sid = dig(h.call("sandboxes.create", {"lease": "connection"}),
              "result", "id")
    env.fake.clear_requests()
    rc, log = w.stop()
    t.eq(rc, 0, "wrennd exits 0 (lease-on-shutdown %s)" % mode)
    return sid, [e["status"] for e in env.fake.requests()
                 if e["method"] == "DELETE" and e["path"].endswith(sid)]


class Feeder:
    """Writes n bytes into a pipe in 1 MiB blocks from a thread; with
    hold, keeps the pipe open afterwards until released (an upload that
    cannot end by itself). first: bytes after which `half` is set."""

    def __init__(self, n, first, hold=False):
        self.rd, self.wr = os.pipe()
        self.n = n
        self.first = first
        self.hold = hold
        self.half = threading.Event()
        self.release = threading.Event()
        self.written = 0
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        block = b"\xa5" * MIB
        try:
            while self.written < self.n:
                k = min(MIB, self.n - self.written)
                os.write(self.wr, block[:k])
                self.written += k
                if self.written >= self.first:
                    self.half.set()
            if self.hold:
                self.release.wait(120)
        except OSError:
            pass  # wrennd closed its end: the upload ended
        finally:
            self.half.set()
            os.close(self.wr)

    def close(self):
        self.release.set()
        self.th.join(30)


def upload(sock, keep, sid, name, feeder):
    """Start a stream upload of feeder's pipe; (client, call id)."""
    c = keep(Client(sock, timeout=300))
    c.enable_fds()
    i = c.call_async_fds("sandbox.stream_upload",
                         {"sandbox_id": sid, "path": name,
                          "fd": {"$fd": 0}}, [feeder.rd])
    os.close(feeder.rd)
    return c, i


try:
    with t.case("a slow call finishes within drain-timeout"), \
            Opened() as keep:
        w = start(keep, "--set", "drain-timeout=30000")
        c, i = sleeping(keep, w, 1)
        r = c.wait_reply(i)
        t.eq(dig(r, "result", "exit_code"), 0,
             "the exec in flight finishes after SIGTERM")
        closes_and_exits(c, w)

    with t.case("a call past drain-timeout fails with shutting_down"), \
            Opened() as keep:
        w = start(keep, "--set", "drain-timeout=500")
        c, i = sleeping(keep, w, 60)
        r = c.wait_reply(i)
        t.eq(code_of(r), "shutting_down",
             "the exec still running at the deadline -> shutting_down")
        t.eq(dig(r, "error", "code"), -32000, "shutting_down is -32000")
        t.eq(dig(r, "error", "data", "drain_timeout_ms"), 500,
             "data.drain_timeout_ms says how long it had")
        t.has(dig(r, "error", "message") or "", "drain-timeout",
              "the message names drain-timeout")
        closes_and_exits(c, w)

    with t.case("a live exec stream ends with a final error event"), \
            Opened() as keep:
        w = start(keep, "--set", "drain-timeout=500")
        sid = new_sandbox(w.sock)
        c = keep(Client(w.sock))
        ev = []
        i = c.call_async("sandbox.exec_stream",
                         {"sandbox_id": sid, "cmd": "sh",
                          "args": ["-c", "echo up; sleep 60"]})
        # The stream runs once its output arrived.
        while not any(e["event"] == "stdout" for e in ev):
            m = c.read_msg()
            if m.get("method") == "$/stream":
                ev.append(m["params"])
        w.proc.send_signal(signal.SIGTERM)
        r = c.wait_reply(i, events=ev)
        last = ev[-1] if ev else {}
        t.eq(last.get("event"), "error", "the last event is error")
        t.eq(last.get("code"), "shutting_down",
             "the error event's code is shutting_down")
        seqs = [e["seq"] for e in ev]
        t.eq(seqs, sorted(set(seqs)), "the events' seq numbers increase")
        t.eq(code_of(r), "shutting_down",
             "the stream's final reply is shutting_down")
        closes_and_exits(c, w)

    with t.case("new connections and new calls are refused while "
                "draining"), Opened() as keep:
        w = start(keep, "--set", "drain-timeout=60000")
        idle = keep(Client(w.sock))
        c, i = sleeping(keep, w, 3)
        draining(w)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(w.sock)
            refused = None
        except OSError as e:
            refused = e
        finally:
            s.close()
        t.ok(refused is not None, "a new connection is refused",
             "connect succeeded")
        t.ok(not os.path.exists(w.sock), "the socket file is gone")
        r = c.call("daemon.status")
        t.eq(code_of(r), "shutting_down",
             "a new call on a live connection -> shutting_down")
        r = c.call("no.such.method")
        t.eq(code_of(r), "shutting_down",
             "whatever it names (an unknown method too)")
        t.eq(dig(r, "error", "message"), "wrennd is shutting down",
             "with the same message as every refusal of the drain")
        t.ok(idle.closed(30), "a connection with no call is closed")
        r = c.wait_reply(i)
        t.eq(dig(r, "result", "exit_code"), 0,
             "the call in flight still finishes")
        rc, log = exited(w)
        t.eq(rc, 0, "wrennd exits 0")

    with t.case("an upload cut by the deadline fails, never done"), \
            Opened() as keep:
        w = start(keep, "--set", "drain-timeout=1000")
        sid = new_sandbox(w.sock)
        env.fake.clear_requests()
        f = keep(Feeder(BIG // 2, BIG // 2, hold=True))
        c, i = upload(w.sock, keep, sid, "cut.bin", f)
        f.half.wait(300)
        w.proc.send_signal(signal.SIGTERM)
        ev = []
        r = c.wait_reply(i, events=ev)
        t.eq(code_of(r), "shutting_down",
             "the unfinished upload -> shutting_down")
        t.ok("result" not in r, "no result for the cut upload", r)
        t.eq(dig(ev, -1, "event"), "error", "its last event is error")
        rc, log = exited(w)
        t.eq(rc, 0, "wrennd exits 0")
        st = [e["status"] for e in upload_requests()]
        t.ok(204 not in st, "the control plane never answered the "
             "upload as complete", st)

    with t.case("an upload that ends within the drain succeeds whole"), \
            Opened() as keep:
        w = start(keep, "--set", "drain-timeout=600000")
        sid = new_sandbox(w.sock)
        f = keep(Feeder(BIG, BIG // 4))
        c, i = upload(w.sock, keep, sid, "whole.bin", f)
        f.half.wait(300)
        w.proc.send_signal(signal.SIGTERM)
        r = c.wait_reply(i)
        t.eq(dig(r, "result", "size"), BIG,
             "the upload finished during the drain (size)")
        rc, log = exited(w, 300)
        t.eq(rc, 0, "wrennd exits 0")
        t.eq(fake_file_size(sid, "whole.bin"), BIG,
             "the control plane has the whole file")

    with t.case("SIGTERM mid-upload: the whole file or a clear error"), \
            Opened() as keep:
        w = start(keep, "--set", "drain-timeout=2000")
        sid = new_sandbox(w.sock)
        f = keep(Feeder(2 * BIG, BIG // 2))
        c, i = upload(w.sock, keep, sid, "race.bin", f)
        f.half.wait(300)
        w.proc.send_signal(signal.SIGTERM)
        r = c.wait_reply(i)
        rc, log = exited(w, 300)
        t.eq(rc, 0, "wrennd exits 0")
        if "result" in r:
            t.eq(dig(r, "result", "size"), 2 * BIG,
                 "a success reports every byte")
            t.eq(fake_file_size(sid, "race.bin"), 2 * BIG,
                 "and the control plane has every byte")
        else:
            t.eq(code_of(r), "shutting_down",
                 "a failure is shutting_down")

    with t.case("lease-on-shutdown keep (default) keeps the sandbox"), \
            Opened() as keep:
        sid, deletes = leased_then_stopped(keep, "keep")
        t.eq(deletes, [], "no DELETE for the leased sandbox")
        t.eq(dig(env.fake.ctl("GET", "sandboxes/" + sid), "status"),
             "running", "the sandbox still runs")

    with t.case("lease-on-shutdown destroy destroys it during the drain"), \
            Opened() as keep:
        sid, deletes = leased_then_stopped(keep, "destroy")
        t.eq(deletes, [204], "one DELETE, answered before the exit")

    with t.case("STOPPING=1, then a STATUS= line saying draining"), \
            Opened() as keep:
        path = os.path.join(env.tmp, "notify")
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(path)
        keep(ns)
        keep.later(os.unlink, path)
        w = start(keep, "--set", "drain-timeout=30000",
                  extra_env={"NOTIFY_SOCKET": path})
        ns.settimeout(30)
        got = [ns.recv(4096).decode()]
        t.ok(got[0].startswith("READY=1\n"), "READY=1 at start", got)
        c, i = sleeping(keep, w, 2)
        while not got[-1].startswith("STOPPING"):
            got.append(ns.recv(4096).decode())
        t.eq(got[-1], "STOPPING=1", "STOPPING=1 at the start of the drain")
        nxt = ns.recv(4096).decode()
        t.ok(nxt.startswith("STATUS=draining, auth api_key, "),
             "the next message is STATUS= saying draining", nxt)
        t.eq(dig(c.wait_reply(i), "result", "exit_code"), 0,
             "the call finishes")
        rc, log = exited(w)
        t.eq(rc, 0, "wrennd exits 0")
        ns.settimeout(0.5)
        rest = []
        try:
            while True:
                rest.append(ns.recv(4096).decode())
        except socket.timeout:
            pass
        t.eq([m for m in got + rest if m.startswith("STOPPING")],
             ["STOPPING=1"], "STOPPING=1 is sent once")

    with t.case("a second SIGTERM during the drain exits at once"), \
            Opened() as keep:
        w = start(keep, "--set", "drain-timeout=600000")
        c, i = sleeping(keep, w, 600)
        draining(w)
        w.proc.send_signal(signal.SIGTERM)
        # far below the 600 s drain-timeout
        rc, log = exited(w, 60)
        t.eq(rc, 0, "wrennd exits 0 on the second signal")
        r = c.wait_reply(i)
        t.eq(code_of(r), "shutting_down",
             "the call in flight gets shutting_down")
        t.ok(sanitizer_clean(log), "no sanitizer report", log[-2000:])
finally:
    env.close()

sys.exit(t.done())
