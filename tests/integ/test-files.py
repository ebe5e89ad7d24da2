# SPDX-License-Identifier: MIT
"""File transfer through wrennd: small files as base64, files of any size
streamed through passed file descriptors (files and pipes) with no
buffering in the daemon, SHA-256 verification against the sandbox, and the
control plane's silent-loss quirks caught by verify."""
import base64
import hashlib
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Env, Tap, instrumented, rss_kib  # noqa: E402

BIG = int(os.environ.get("WRENND_TEST_BIG_BYTES", 1 << 30))

t = Tap()
env = Env(wrennd_args=["--set", "max-line=160000000"])


def make_file(path, size, seed=1):
    """A file of size pseudo-random bytes; returns its SHA-256."""
    h = hashlib.sha256()
    block = hashlib.sha256(str(seed).encode()).digest() * 32768  # 1 MiB
    with open(path, "wb") as f:
        left = size
        i = 0
        while left > 0:
            chunk = block[i % 7:] + block[:i % 7]
            chunk = chunk[:min(left, len(chunk))]
            f.write(chunk)
            h.update(chunk)
            left -= len(chunk)
            i += 1
    return h.hexdigest()


def sha_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


try:
    c = env.client()
    sid = c.call("sandboxes.create", {})["result"]["id"]
    tmp = env.tmp

    # small files, binary exact
    blob = bytes(range(256)) * 40
    r = c.call("sandbox.upload", {"sandbox_id": sid, "path": "dir/small.bin",
                                  "data": base64.b64encode(blob).decode()})
    t.eq(r.get("result"), {}, "sandbox.upload -> {}")
    r = c.call("sandbox.download", {"sandbox_id": sid,
                                    "path": "dir/small.bin"})
    res = r.get("result", {})
    t.eq(base64.b64decode(res.get("data", "")), blob,
         "sandbox.download returns the exact bytes")
    t.eq(res.get("size"), len(blob),
         "sandbox.download returns the exact bytes (size)")
    r = c.call("sandbox.upload", {"sandbox_id": sid, "path": "e.bin",
                                  "data": ""})
    r = c.call("sandbox.download", {"sandbox_id": sid, "path": "e.bin"})
    t.eq(r.get("result"), {"data": "", "size": 0}, "empty file round trip")
    r = c.call("sandbox.upload", {"sandbox_id": sid, "path": "x",
                                  "data": "not base64!"})
    t.eq(r.get("error", {}).get("code"), -32602, "bad base64 -> -32602")
    r = c.call("sandbox.download", {"sandbox_id": sid, "path": "nope"})
    t.eq(r.get("error", {}).get("data", {}).get("code"), "agent_error",
         "missing file on download -> agent_error 502 as upstream says (code)")
    t.eq(r.get("error", {}).get("data", {}).get("status"), 502,
         "missing file on download -> agent_error 502 as upstream says "
         "(status)")

    # over 100 MiB fails locally, before anything is sent
    env.fake.clear_requests()
    c.s.settimeout(900)  # a 140 MB line takes a while under valgrind
    big = base64.b64encode(b"\0" * (100 * 1024 * 1024 + 1)).decode()
    r = c.call("sandbox.upload", {"sandbox_id": sid, "path": "big",
                                  "data": big})
    del big
    t.eq(r.get("error", {}).get("data", {}).get("code"), "too_large",
         "upload over 100 MiB -> too_large")
    t.eq([q["path"] for q in env.fake.requests()], [],
         "and the control plane saw nothing")

    # fd passing needs the capability
    rd, wr = os.pipe()
    i = c.call_async_fds("sandbox.stream_upload",
                         {"sandbox_id": sid, "path": "p", "fd": {"$fd": 0}},
                         [rd])
    r = c.wait_reply(i)
    t.eq(r.get("error", {}).get("data", {}).get("code"), "unexpected_fds",
         "fds without rpc.hello enable fds -> unexpected_fds")
    os.close(rd)
    os.close(wr)
    t.ok(c.enable_fds(), "rpc.hello enables fds")

    # stream upload from a pipe, download into a pipe, binary exact
    payload = os.urandom(3 * 1024 * 1024 + 17)
    rd, wr = os.pipe()

    def feed():
        with os.fdopen(wr, "wb") as f:
            f.write(payload)

    th = threading.Thread(target=feed)
    th.start()
    ev = []
    i = c.call_async_fds("sandbox.stream_upload",
                         {"sandbox_id": sid, "path": "pipe.bin",
                          "fd": {"$fd": 0}, "verify": True}, [rd])
    os.close(rd)
    r = c.wait_reply(i, events=ev)
    th.join()
    want = hashlib.sha256(payload).hexdigest()
    t.eq(r.get("result", {}).get("sha256"), want,
         "stream_upload from a pipe, verified (sha256)")
    t.eq(r.get("result", {}).get("size"), len(payload),
         "stream_upload from a pipe, verified (size)")
    t.ok(r.get("result", {}).get("verified") is True,
         "stream_upload from a pipe, verified (verified)",
         r.get("result", {}).get("verified"))
    t.ok(any(e["event"] == "progress" for e in ev), "progress events sent")

    rd, wr = os.pipe()
    got = bytearray()

    def drain():
        with os.fdopen(rd, "rb") as f:
            while True:
                b = f.read(65536)
                if not b:
                    break
                got.extend(b)

    th = threading.Thread(target=drain)
    th.start()
    i = c.call_async_fds("sandbox.stream_download",
                         {"sandbox_id": sid, "path": "pipe.bin",
                          "fd": {"$fd": 0}, "verify": True}, [wr])
    os.close(wr)
    r = c.wait_reply(i)
    th.join()
    t.eq(bytes(got), payload,
         "stream_download into a pipe is byte-exact and verified")
    t.ok(r.get("result", {}).get("verified"),
         "stream_download into a pipe is byte-exact and verified (verified)",
         r)

    # fds on a line sent right behind another one (the kernel may hand
    # both lines over in one chunk) still reach the right request
    rd, wr = os.pipe()
    os.write(wr, b"behind")
    os.close(wr)
    first = c.call_async("rpc.describe", {"method": "sandbox.exec"})
    i = c.call_async_fds("sandbox.stream_upload",
                         {"sandbox_id": sid, "path": "behind.txt",
                          "fd": {"$fd": 0}}, [rd])
    os.close(rd)
    r1 = c.wait_reply(first)
    r = c.wait_reply(i, events=[])
    t.has(r1, "result",
          "fds sent right after another request belong to the right line")
    t.eq(r.get("result", {}).get("size"), 6,
         "fds sent right after another request belong to the right line "
         "(size)")

    # missing file: upstream says 200 + empty; verify turns it into an error
    fpath = os.path.join(tmp, "missing.out")
    fd = os.open(fpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    i = c.call_async_fds("sandbox.stream_download",
                         {"sandbox_id": sid, "path": "no/such/file",
                          "fd": {"$fd": 0}}, [fd])
    r = c.wait_reply(i)
    t.eq(r.get("result", {}).get("size"), 0,
         "without verify a missing file looks like an empty one (upstream "
         "quirk) (size)")
    t.ok(r.get("result", {}).get("verified") is False,
         "without verify a missing file looks like an empty one (upstream "
         "quirk) (verified)", r.get("result", {}).get("verified"))
    t.has(r.get("result", {}).get("warning", ""), "empty body",
          "issue 7: an unverified empty download carries a warning (warning)")
    t.has(r.get("result", {}).get("warning"), sid + ":no/such/file",
          "issue 7: an unverified empty download carries a warning (warning)")
    i = c.call_async_fds("sandbox.stream_download",
                         {"sandbox_id": sid, "path": "no/such/file",
                          "fd": {"$fd": 0}, "verify": True}, [fd])
    os.close(fd)
    r = c.wait_reply(i)
    t.eq(r.get("error", {}).get("data", {}).get("code"), "integrity",
         "with verify a missing file is an integrity error")
    t.eq(r.get("error", {}).get("message"),
         "%s:no/such/file does not exist" % sid,
         "issue 7: verify says the file does not exist")
    t.eq(r.get("error", {}).get("data", {}).get("reason"), "not_found",
         "issue 7: data.reason is not_found")

    with t.case("issue 7: verify of a directory says so"):
        r = c.call("sandbox.upload", {"sandbox_id": sid,
                                      "path": "adir/inner.bin",
                                      "data": ""})
        fd = os.open(fpath, os.O_WRONLY | os.O_TRUNC)
        i = c.call_async_fds("sandbox.stream_download",
                             {"sandbox_id": sid, "path": "adir",
                              "fd": {"$fd": 0}, "verify": True}, [fd])
        os.close(fd)
        r = c.wait_reply(i)
        t.eq(r.get("error", {}).get("message"),
             "%s:adir is a directory" % sid,
             "verify says the path is a directory")
        t.eq(r.get("error", {}).get("data", {}).get("reason"),
             "is_a_directory", "data.reason is is_a_directory")
        t.eq(r.get("error", {}).get("data", {}).get("code"), "integrity",
             "data.code stays integrity")

    with t.case("issue 11: verify catches a same-size corruption"):
        env.fake.fault(path="/files/stream/read$",
                       stream={"action": "corrupt", "after_bytes": 4321},
                       count=1)
        got = bytearray()
        rd, wr = os.pipe()
        th = threading.Thread(target=lambda: got.extend(
            os.fdopen(rd, "rb").read()))
        th.start()
        i = c.call_async_fds("sandbox.stream_download",
                             {"sandbox_id": sid, "path": "pipe.bin",
                              "fd": {"$fd": 0}, "verify": True}, [wr])
        os.close(wr)
        r = c.wait_reply(i)
        th.join()
        env.fake.clear_faults()
        e = r.get("error", {}).get("data", {})
        t.eq(len(got), len(payload), "the corrupted body keeps its size")
        t.eq(e.get("code"), "integrity", "a same-size corruption is an "
             "integrity error")
        t.eq(e.get("size"), e.get("sandbox_size"),
             "sizes match: only the content differs")
        t.eq(e.get("reason"), "mismatch", "data.reason is mismatch")
        t.ok(e.get("sha256") != e.get("sandbox_sha256"),
             "the SHA-256 values differ", r)

    with t.case("issue 12.9: sandbox.download of 50 MiB"):
        src50 = os.path.join(tmp, "fifty.src")
        want50 = make_file(src50, 50 << 20, seed=50)
        fd = os.open(src50, os.O_RDONLY)
        r = c.wait_reply(c.call_async_fds(
            "sandbox.stream_upload", {"sandbox_id": sid, "path": "50.bin",
                                      "fd": {"$fd": 0}}, [fd]), events=[])
        os.close(fd)
        t.eq(r.get("result", {}).get("size"), 50 << 20,
             "50 MiB in the sandbox")
        c.s.settimeout(900)
        r = c.call("sandbox.download", {"sandbox_id": sid,
                                        "path": "50.bin"})
        res = r.get("result", {})
        t.eq(res.get("size"), 50 << 20, "sandbox.download answers 50 MiB")
        t.eq(hashlib.sha256(base64.b64decode(res.get("data", "")))
             .hexdigest(), want50, "and the bytes are exact")
        del res, r
        os.unlink(src50)

    # truncated download body detected by verify
    env.fake.fault(path="/files/stream/read$",
                   stream={"action": "truncate", "after_bytes": 100000},
                   count=1)
    fd = os.open(fpath, os.O_WRONLY | os.O_TRUNC)
    i = c.call_async_fds("sandbox.stream_download",
                         {"sandbox_id": sid, "path": "pipe.bin",
                          "fd": {"$fd": 0}, "verify": True}, [fd])
    os.close(fd)
    r = c.wait_reply(i)
    e = r.get("error", {})
    t.eq(e.get("data", {}).get("code"), "integrity",
         "a truncated download is caught by verify (code)")
    t.eq(e.get("data", {}).get("size"), 100000,
         "a truncated download is caught by verify (size)")
    t.eq(e.get("data", {}).get("sandbox_size"), len(payload),
         "a truncated download is caught by verify (sandbox_size)")
    env.fake.clear_faults()

    # a download cut mid-body is an error even without verify
    env.fake.fault(path="/files/stream/read$",
                   stream={"action": "cut", "after_bytes": 200000},
                   count=1)
    fd = os.open(fpath, os.O_WRONLY | os.O_TRUNC)
    i = c.call_async_fds("sandbox.stream_download",
                         {"sandbox_id": sid, "path": "pipe.bin",
                          "fd": {"$fd": 0}}, [fd])
    os.close(fd)
    r = c.wait_reply(i)
    t.ok(r.get("error", {}).get("data", {}).get("code") ==
         "upstream_unreachable", "a download cut mid-body is an error, "
         "not a short success", r)
    env.fake.clear_faults()
    # an upload the control plane drops is an error too
    env.fake.fault(path="/files/stream/write$", reset=True, count=2)
    fd = os.open(fpath, os.O_RDONLY)
    i = c.call_async_fds("sandbox.stream_upload",
                         {"sandbox_id": sid, "path": "dropped.bin",
                          "fd": {"$fd": 0}}, [fd])
    os.close(fd)
    r = c.wait_reply(i)
    t.ok(r.get("error", {}).get("data", {}).get("code") ==
         "upstream_unreachable", "a dropped upload is an error", r)
    env.fake.clear_faults()

    # 1 GiB each way through files, RSS bounded
    pid = env.wrennd.proc.pid
    src = os.path.join(tmp, "big.src")
    dst = os.path.join(tmp, "big.dst")
    want = make_file(src, BIG)
    rss0 = rss_kib(pid)
    fd = os.open(src, os.O_RDONLY)
    t0 = time.monotonic()
    i = c.call_async_fds("sandbox.stream_upload",
                         {"sandbox_id": sid, "path": "big.bin",
                          "fd": {"$fd": 0}, "verify": True}, [fd])
    os.close(fd)
    c.s.settimeout(900)
    r = c.wait_reply(i, events=[])
    up_s = time.monotonic() - t0
    t.eq(r.get("result", {}).get("sha256"), want,
         "%d MiB upload through an fd, SHA-256 verified (sha256)"
         % (BIG >> 20))
    t.eq(r.get("result", {}).get("size"), BIG,
         "%d MiB upload through an fd, SHA-256 verified (size)" % (BIG >> 20))
    t.ok(r.get("result", {}).get("verified"),
         "%d MiB upload through an fd, SHA-256 verified (verified)"
         % (BIG >> 20),
         r)
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    t0 = time.monotonic()
    i = c.call_async_fds("sandbox.stream_download",
                         {"sandbox_id": sid, "path": "big.bin",
                          "fd": {"$fd": 0}, "verify": True}, [fd])
    os.close(fd)
    r = c.wait_reply(i, events=[])
    down_s = time.monotonic() - t0
    t.eq(r.get("result", {}).get("sha256"), want,
         "%d MiB download through an fd, SHA-256 matches (sha256)"
         % (BIG >> 20))
    t.eq(sha_file(dst), want,
         "%d MiB download through an fd, SHA-256 matches" % (BIG >> 20))
    grow = rss_kib(pid) - rss0
    t.diag("upload %.1f s, download %.1f s, RSS growth %d KiB"
           % (up_s, down_s, grow))
    if instrumented():
        t.ok(True, "RSS growth %d KiB (instrumented build, not judged)"
             % grow)
    else:
        t.ok(grow < 16 * 1024, "wrennd RSS grew by under 16 MiB (%d KiB)"
             % grow)
    os.unlink(src)
    os.unlink(dst)
    c.close()
finally:
    env.close(t)
sys.exit(t.done())
