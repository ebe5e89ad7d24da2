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
from harness import (Client, Env, Opened, Tap, dig,  # noqa: E402
                     instrumented, rss_kib)

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


def fds_client(keep, timeout=30):
    """A case's own client, fds enabled with rpc.hello."""
    cl = keep(Client(env.sock, timeout=timeout))
    if not cl.enable_fds():
        raise RuntimeError("rpc.hello did not enable fds")
    return cl


def local_file(name, data=b""):
    """A file under the test's directory holding data; its path."""
    path = os.path.join(env.tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def transfer_fd(cl, method, path, fd, **kw):
    """sandbox.stream_download of path into fd, or stream_upload from fd
    to path (method), with the other params kw; fd is closed here."""
    p = {"sandbox_id": sid, "path": path, "fd": {"$fd": 0}}
    p.update(kw)
    i = cl.call_async_fds(method, p, [fd])
    os.close(fd)
    return cl.wait_reply(i, events=[])


def download_fd(cl, path, fd, **kw):
    return transfer_fd(cl, "sandbox.stream_download", path, fd, **kw)


def download_to(cl, path, dest, **kw):
    """sandbox.stream_download of path into the local file dest."""
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return download_fd(cl, path, fd, **kw)


def download_pipe(cl, path, **kw):
    """sandbox.stream_download of path into a pipe: (reply, bytes)."""
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
    r = download_fd(cl, path, wr, **kw)
    th.join()
    return r, bytes(got)


def upload_fd(cl, path, fd, **kw):
    return transfer_fd(cl, "sandbox.stream_upload", path, fd, **kw)


try:
    # The fixture every case shares: one sandbox, and a 3 MiB file in it
    # (put there through sandbox.upload) for the download cases.
    c = env.client()
    sid = c.call("sandboxes.create", {})["result"]["id"]
    tmp = env.tmp
    payload = os.urandom(3 * 1024 * 1024 + 17)
    r = c.call("sandbox.upload", {"sandbox_id": sid, "path": "pipe.bin",
                                  "data": base64.b64encode(payload).decode()})
    if r.get("result") != {}:
        raise RuntimeError("the fixture's upload failed: %r" % r)
    c.close()

    with t.case("small files as base64"), Opened() as keep:
        c = keep(Client(env.sock))
        blob = bytes(range(256)) * 40
        r = c.call("sandbox.upload", {"sandbox_id": sid,
                                      "path": "dir/small.bin",
                                      "data": base64.b64encode(blob).decode()})
        t.eq(r.get("result"), {}, "sandbox.upload -> {}")
        r = c.call("sandbox.download", {"sandbox_id": sid,
                                        "path": "dir/small.bin"})
        res = r.get("result", {})
        t.eq(base64.b64decode(res.get("data", "")), blob,
             "sandbox.download returns the exact bytes")
        t.eq(res.get("size"), len(blob),
             "sandbox.download returns the exact bytes (size)")

    with t.case("an empty file as base64"), Opened() as keep:
        c = keep(Client(env.sock))
        r = c.call("sandbox.upload", {"sandbox_id": sid, "path": "e.bin",
                                      "data": ""})
        t.eq(r.get("result"), {}, "upload of an empty file -> {}")
        r = c.call("sandbox.download", {"sandbox_id": sid, "path": "e.bin"})
        t.eq(r.get("result"), {"data": "", "size": 0},
             "empty file round trip")

    with t.case("base64 errors"), Opened() as keep:
        c = keep(Client(env.sock))
        r = c.call("sandbox.upload", {"sandbox_id": sid, "path": "x",
                                      "data": "not base64!"})
        t.eq(dig(r, "error", "code"), -32602, "bad base64 -> -32602")
        r = c.call("sandbox.download", {"sandbox_id": sid, "path": "nope"})
        t.eq(dig(r, "error", "data", "code"), "agent_error",
             "missing file on download -> agent_error 502 as upstream says "
             "(code)")
        t.eq(dig(r, "error", "data", "status"), 502,
             "missing file on download -> agent_error 502 as upstream says "
             "(status)")

    with t.case("an upload over 100 MiB fails locally"), Opened() as keep:
        # a 140 MB line takes a while under valgrind
        c = keep(Client(env.sock, timeout=900))
        env.fake.clear_requests()
        big = base64.b64encode(b"\0" * (100 * 1024 * 1024 + 1)).decode()
        r = c.call("sandbox.upload", {"sandbox_id": sid, "path": "big",
                                      "data": big})
        del big
        t.eq(dig(r, "error", "data", "code"), "too_large",
             "upload over 100 MiB -> too_large")
        t.eq([q["path"] for q in env.fake.requests()], [],
             "and the control plane saw nothing")

    with t.case("fd passing needs the capability"), Opened() as keep:
        c = keep(Client(env.sock))
        rd, wr = os.pipe()
        keep.later(os.close, wr)
        i = c.call_async_fds("sandbox.stream_upload",
                             {"sandbox_id": sid, "path": "p",
                              "fd": {"$fd": 0}}, [rd])
        os.close(rd)
        r = c.wait_reply(i)
        t.eq(dig(r, "error", "data", "code"), "unexpected_fds",
             "fds without rpc.hello enable fds -> unexpected_fds")
        t.ok(c.enable_fds(), "rpc.hello enables fds")

    with t.case("stream_upload from a pipe, verified"), Opened() as keep:
        c = fds_client(keep)
        rd, wr = os.pipe()

        def feed():
            with os.fdopen(wr, "wb") as f:
                f.write(payload)

        th = threading.Thread(target=feed)
        th.start()
        ev = []
        i = c.call_async_fds("sandbox.stream_upload",
                             {"sandbox_id": sid, "path": "up-pipe.bin",
                              "fd": {"$fd": 0}, "verify": True}, [rd])
        os.close(rd)
        r = c.wait_reply(i, events=ev)
        th.join()
        want = hashlib.sha256(payload).hexdigest()
        t.eq(dig(r, "result", "sha256"), want,
             "stream_upload from a pipe, verified (sha256)")
        t.eq(dig(r, "result", "size"), len(payload),
             "stream_upload from a pipe, verified (size)")
        t.eq(dig(r, "result", "verified"), True,
             "stream_upload from a pipe, verified (verified)")
        t.ok(any(e["event"] == "progress" for e in ev),
             "progress events sent")
        r = c.call("sandbox.download", {"sandbox_id": sid,
                                        "path": "up-pipe.bin"})
        t.ok(base64.b64decode(dig(r, "result", "data") or "") == payload,
             "the sandbox holds the exact bytes", dig(r, "result", "size"))

    with t.case("stream_download into a pipe, verified"), Opened() as keep:
        c = fds_client(keep)
        r, got = download_pipe(c, "pipe.bin", verify=True)
        t.ok(got == payload, "stream_download into a pipe is byte-exact",
             "got %d bytes, want %d" % (len(got), len(payload)))
        t.eq(dig(r, "result", "verified"), True,
             "stream_download into a pipe is verified (verified)")

    with t.case("fds on a line right behind another"), Opened() as keep:
        c = fds_client(keep)
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
              "fds sent right after another request belong to the right "
              "line")
        t.eq(dig(r, "result", "size"), 6,
             "fds sent right after another request belong to the right "
             "line (size)")

    with t.case("a missing file without verify"), Opened() as keep:
        c = fds_client(keep)
        # upstream says 200 + empty
        r = download_to(c, "no/such/file", local_file("missing.out"))
        t.eq(dig(r, "result", "size"), 0,
             "without verify a missing file looks like an empty one "
             "(upstream quirk) (size)")
        t.eq(dig(r, "result", "verified"), False,
             "without verify a missing file looks like an empty one "
             "(upstream quirk) (verified)")
        t.has(dig(r, "result", "warning") or "", "empty body",
              "issue 7: an unverified empty download carries a warning "
              "(warning)")
        t.has(dig(r, "result", "warning") or "", sid + ":no/such/file",
              "issue 7: the warning names the file")

    with t.case("a missing file with verify"), Opened() as keep:
        c = fds_client(keep)
        # verify turns the 200 + empty into an error
        r = download_to(c, "no/such/file", local_file("missing.out"),
                        verify=True)
        t.eq(dig(r, "error", "data", "code"), "integrity",
             "with verify a missing file is an integrity error")
        t.eq(dig(r, "error", "message"),
             "%s:no/such/file does not exist" % sid,
             "issue 7: verify says the file does not exist")
        t.eq(dig(r, "error", "data", "reason"), "not_found",
             "issue 7: data.reason is not_found")

    with t.case("issue 7: verify of a directory says so"), Opened() as keep:
        c = fds_client(keep)
        r = c.call("sandbox.upload", {"sandbox_id": sid,
                                      "path": "adir/inner.bin",
                                      "data": ""})
        r = download_to(c, "adir", local_file("adir.out"), verify=True)
        t.eq(dig(r, "error", "message"), "%s:adir is a directory" % sid,
             "verify says the path is a directory")
        t.eq(dig(r, "error", "data", "reason"), "is_a_directory",
             "data.reason is is_a_directory")
        t.eq(dig(r, "error", "data", "code"), "integrity",
             "data.code stays integrity")

    with t.case("issue 11: verify catches a same-size corruption"), \
            Opened() as keep:
        c = fds_client(keep)
        keep.later(env.fake.clear_faults)
        env.fake.fault(path="/files/stream/read$",
                       stream={"action": "corrupt", "after_bytes": 4321},
                       count=1)
        r, got = download_pipe(c, "pipe.bin", verify=True)
        e = dig(r, "error", "data") or {}
        t.eq(len(got), len(payload), "the corrupted body keeps its size")
        t.eq(e.get("code"), "integrity", "a same-size corruption is an "
             "integrity error")
        t.eq(e.get("size"), e.get("sandbox_size"),
             "sizes match: only the content differs")
        t.eq(e.get("reason"), "mismatch", "data.reason is mismatch")
        t.ok(e.get("sha256") != e.get("sandbox_sha256"),
             "the SHA-256 values differ", r)

    with t.case("issue 12.9: sandbox.download of 50 MiB"), Opened() as keep:
        c = fds_client(keep, timeout=900)
        src50 = os.path.join(tmp, "fifty.src")
        keep.later(os.unlink, src50)
        want50 = make_file(src50, 50 << 20, seed=50)
        r = upload_fd(c, "50.bin", os.open(src50, os.O_RDONLY))
        t.eq(dig(r, "result", "size"), 50 << 20, "50 MiB in the sandbox")
        r = c.call("sandbox.download", {"sandbox_id": sid,
                                        "path": "50.bin"})
        res = r.get("result", {})
        t.eq(res.get("size"), 50 << 20, "sandbox.download answers 50 MiB")
        t.eq(hashlib.sha256(base64.b64decode(res.get("data", "")))
             .hexdigest(), want50, "and the bytes are exact")
        del res, r

    with t.case("a truncated download is caught by verify"), \
            Opened() as keep:
        c = fds_client(keep)
        keep.later(env.fake.clear_faults)
        env.fake.fault(path="/files/stream/read$",
                       stream={"action": "truncate", "after_bytes": 100000},
                       count=1)
        r = download_to(c, "pipe.bin", local_file("truncated.out"),
                        verify=True)
        e = dig(r, "error", "data") or {}
        t.eq(e.get("code"), "integrity",
             "a truncated download is caught by verify (code)")
        t.eq(e.get("size"), 100000,
             "a truncated download is caught by verify (size)")
        t.eq(e.get("sandbox_size"), len(payload),
             "a truncated download is caught by verify (sandbox_size)")

    with t.case("a download cut mid-body"), Opened() as keep:
        c = fds_client(keep)
        keep.later(env.fake.clear_faults)
        # an error even without verify
        env.fake.fault(path="/files/stream/read$",
                       stream={"action": "cut", "after_bytes": 200000},
                       count=1)
        r = download_to(c, "pipe.bin", local_file("cut.out"))
        t.eq(dig(r, "error", "data", "code"), "upstream_unreachable",
             "a download cut mid-body is an error, not a short success")

    with t.case("an upload the control plane drops"), Opened() as keep:
        c = fds_client(keep)
        keep.later(env.fake.clear_faults)
        env.fake.fault(path="/files/stream/write$", reset=True, count=2)
        src = local_file("dropped.src", b"dropped\n")
        r = upload_fd(c, "dropped.bin", os.open(src, os.O_RDONLY))
        t.eq(dig(r, "error", "data", "code"), "upstream_unreachable",
             "a dropped upload is an error")

    with t.case("%d MiB each way through files" % (BIG >> 20)), \
            Opened() as keep:
        c = fds_client(keep, timeout=900)
        # RSS bounded
        pid = env.wrennd.proc.pid
        src = os.path.join(tmp, "big.src")
        dst = os.path.join(tmp, "big.dst")
        keep.later(os.unlink, src)
        want = make_file(src, BIG)
        rss0 = rss_kib(pid)
        t0 = time.monotonic()
        r = upload_fd(c, "big.bin", os.open(src, os.O_RDONLY), verify=True)
        up_s = time.monotonic() - t0
        t.eq(dig(r, "result", "sha256"), want,
             "%d MiB upload through an fd, SHA-256 verified (sha256)"
             % (BIG >> 20))
        t.eq(dig(r, "result", "size"), BIG,
             "%d MiB upload through an fd, SHA-256 verified (size)"
             % (BIG >> 20))
        t.eq(dig(r, "result", "verified"), True,
             "%d MiB upload through an fd, SHA-256 verified (verified)"
             % (BIG >> 20))
        keep.later(lambda: os.path.exists(dst) and os.unlink(dst))
        t0 = time.monotonic()
        r = download_to(c, "big.bin", dst, verify=True)
        down_s = time.monotonic() - t0
        t.eq(dig(r, "result", "sha256"), want,
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
finally:
    env.close(t)
sys.exit(t.done())
