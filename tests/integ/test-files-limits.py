# SPDX-License-Identifier: MIT
"""Streaming transfers never block the loop and never starve the pool
(issue 12, findings 1 and 2): descriptors on a FUSE mount that never
answers or answers EAGAIN (tests/integ/fusefix.py), pipes nobody writes
against the upstream pool, the low-speed limit and the overall deadline.
The limits are set short so the stalled transfers end quickly."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Env, Tap, settle  # noqa: E402
import fusefix  # noqa: E402

LIMITS = ["--set", "transfer-low-speed=1024",
          "--set", "transfer-low-speed-time=2000",
          "--set", "max-host-connections=8",
          "--set", "max-transfers=6",
          "--set", "max-peer-transfers=16"]

t = Tap()
env = Env(wrennd_args=LIMITS)
fz = None


def code(r):
    return r.get("error", {}).get("data", {}).get("code")


def served(name):
    """Another client still gets its greeting and a sandboxes.list
    answer (the socket timeout only guards against a hang)."""
    other = Client(env.sock, timeout=20)
    t.ok(other.hello is not None, "%s: another client gets its greeting"
         % name)
    r = other.call("sandboxes.list", {})
    t.ok(isinstance(r.get("result"), list), "%s: another client's "
         "sandboxes.list is answered" % name, r)
    other.close()


def transfers_active():
    r = Client(env.sock, timeout=20)
    try:
        st = r.call("daemon.status", {})
    finally:
        r.close()
    return st.get("result", {}).get("counts", {}).get("transfers_active")


def pool_idle(name):
    """The transfers of the cases before have all returned (a cancelled
    or released worker leaves the pool a moment after its reply), so
    this case has the whole of max-transfers."""
    t.eq(settle(transfers_active, 0), 0, "%s: the pool is idle first "
         "(daemon.status transfers_active)" % name)


def alive(name):
    t.ok(env.wrennd.proc.poll() is None, "%s: wrennd is still running"
         % name, env.wrennd.proc.returncode)


try:
    c = env.client()
    c.enable_fds()
    sid = c.call("sandboxes.create", {})["result"]["id"]
    src = os.path.join(env.tmp, "one.src")
    with open(src, "wb") as f:
        f.write(os.urandom(1 << 20))
    fd = os.open(src, os.O_RDONLY)
    up = c.wait_reply(c.call_async_fds(
        "sandbox.stream_upload", {"sandbox_id": sid, "path": "one.bin",
                                  "fd": {"$fd": 0}}, [fd]))
    os.close(fd)
    t.eq(up.get("result", {}).get("size"), 1 << 20,
         "a 1 MiB file in the sandbox to download")

    fz = fusefix.Fixture(env.tmp)
    why = fz.start()
    fuse_cases = [
        ("issue 12.1: upload from a FUSE file whose reads block",
         "sandbox.stream_upload", "block.bin", os.O_RDONLY, "timeout"),
        ("issue 12.1: download into a FUSE file whose writes block",
         "sandbox.stream_download", "blockw.bin", os.O_WRONLY, "timeout"),
        ("issue 12.1: upload from a FUSE file answering EAGAIN",
         "sandbox.stream_upload", "eagain.bin", os.O_RDONLY, "io_error"),
        ("issue 12.1: download into a FUSE file answering EAGAIN",
         "sandbox.stream_download", "eagainw.bin", os.O_WRONLY, "io_error"),
    ]
    for name, method, fname, mode, want in fuse_cases:
        with t.case(name):
            if why is not None:
                t.ok(True, "%s # SKIP %s" % (name, why))
                continue
            fd = os.open(fz.path(fname), mode)
            i = c.call_async_fds(method, {"sandbox_id": sid,
                                          "path": "one.bin" if "down" in
                                          method else "fuse.bin",
                                          "fd": {"$fd": 0}}, [fd])
            os.close(fd)
            if want == "timeout":
                # in flight, stuck in the kernel: the loop goes on
                served(name)
            r = c.wait_reply(i)
            t.eq(code(r), want, "%s: the transfer ends with %s"
                 % (name, want))
            if want == "io_error":
                t.ok("Resource temporarily unavailable" in
                     r.get("error", {}).get("message", ""),
                     "%s: the message names EAGAIN" % name, r)
                served(name)
            alive(name)

    with t.case("issue 12.1: a worker stuck in FUSE counts until it "
                "returns"):
        if why is not None:
            t.ok(True, "stuck workers # SKIP %s" % why)
        else:
            # The workers of block.bin and blockw.bin are still blocked
            # in FUSE: with them, four more transfers reach max-transfers.
            pipes = [os.pipe() for _ in range(5)]
            ids = []
            for n, (rd, wr) in enumerate(pipes):
                ids.append(c.call_async_fds(
                    "sandbox.stream_upload",
                    {"sandbox_id": sid, "path": "z%d.bin" % n,
                     "fd": {"$fd": 0}}, [rd]))
                os.close(rd)
            t.eq(settle(transfers_active, 6), 6, "the two stuck workers "
                 "and four pipes are counted (daemon.status)")
            r = c.wait_reply(ids[4])
            t.eq(code(r), "too_many_transfers", "stuck workers count "
                 "toward max-transfers")
            t.eq(r.get("error", {}).get("data", {}).get("active"), 6,
                 "data.active counts the two stuck workers")
            for i in ids[:4]:
                c.cancel(i)
                c.wait_reply(i)
            for rd, wr in pipes:
                os.close(wr)
            # Released, they return and are dropped.
            fz.release()
            fd = os.open(fz.path("block.bin"), os.O_RDONLY)
            i = c.call_async_fds("sandbox.stream_upload",
                                 {"sandbox_id": sid, "path": "after.bin",
                                  "fd": {"$fd": 0}}, [fd])
            os.close(fd)
            r = c.wait_reply(i)
            t.eq(code(r), "io_error", "a released FUSE read fails the "
                 "transfer with io_error")
            alive("released workers")

    # eight uploads from pipes nobody writes against a pool of eight
    with t.case("issue 12.2: stalled pipes do not starve the pool"):
        pool_idle("eight stalled pipes")
        pipes = [os.pipe() for _ in range(8)]
        ids = []
        for n, (rd, wr) in enumerate(pipes):
            ids.append(c.call_async_fds(
                "sandbox.stream_upload",
                {"sandbox_id": sid, "path": "stall%d.bin" % n,
                 "fd": {"$fd": 0}}, [rd]))
            os.close(rd)
        # the share of the pool (max-transfers 6 of 8) is kept
        refused = []
        replies = {}
        for i in ids[6:]:
            replies[i] = c.wait_reply(i)
            refused.append(code(replies[i]))
        t.eq(refused, ["too_many_transfers"] * 2,
             "uploads past max-transfers are refused at once")
        served("eight stalled pipes")
        got = [code(c.wait_reply(i)) for i in ids[:6]]
        t.eq(got, ["timeout"] * 6, "the stalled uploads end with timeout "
             "(transfer-low-speed)")
        for rd, wr in pipes:
            os.close(wr)
        served("after the stalled pipes")

    with t.case("issue 12.2: a download into a pipe nobody reads times "
                "out"):
        rd, wr = os.pipe()
        i = c.call_async_fds("sandbox.stream_download",
                             {"sandbox_id": sid, "path": "one.bin",
                              "fd": {"$fd": 0}}, [wr])
        os.close(wr)
        served("a pipe nobody reads")
        r = c.wait_reply(i)
        t.eq(code(r), "timeout", "the download ends with timeout")
        os.close(rd)

    # a trickle beats the low-speed limit but not the overall deadline
    env.wrennd.stop()
    env.start_wrennd(args=LIMITS + ["--set", "transfer-timeout=3000",
                                    "--set", "max-peer-transfers=2"])
    c = env.client()
    c.enable_fds()
    with t.case("issue 12.2: transfer-timeout ends a slow trickle"):
        rd, wr = os.pipe()
        stop = threading.Event()

        def trickle():
            while not stop.is_set():
                try:
                    os.write(wr, b"x" * 4096)
                except OSError:
                    return
                time.sleep(0.1)

        th = threading.Thread(target=trickle)
        th.start()
        i = c.call_async_fds("sandbox.stream_upload",
                             {"sandbox_id": sid, "path": "trickle.bin",
                              "fd": {"$fd": 0}}, [rd])
        os.close(rd)
        r = c.wait_reply(i)
        stop.set()
        th.join()
        os.close(wr)
        t.eq(code(r), "timeout", "the trickle ends with timeout")
        t.eq(r.get("error", {}).get("data", {}).get("timeout_ms"), 3000,
             "data.timeout_ms names transfer-timeout")

    with t.case("issue 12.2: max-peer-transfers caps one uid"):
        pipes = [os.pipe() for _ in range(3)]
        ids = []
        for n, (rd, wr) in enumerate(pipes):
            ids.append(c.call_async_fds(
                "sandbox.stream_upload",
                {"sandbox_id": sid, "path": "peer%d.bin" % n,
                 "fd": {"$fd": 0}}, [rd]))
            os.close(rd)
        r = c.wait_reply(ids[2])
        t.eq(code(r), "too_many_transfers", "the third transfer of one "
             "uid is refused")
        t.eq(r.get("error", {}).get("data", {}).get("max"), 2,
             "data.max is max-peer-transfers")
        for i in ids[:2]:
            c.cancel(i)
            c.wait_reply(i)
        for rd, wr in pipes:
            os.close(wr)
        served("after the capped uploads")
    c.close()
finally:
    if fz is not None:
        fz.stop()
    env.close(t)
sys.exit(t.done())
