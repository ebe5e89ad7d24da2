#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Self-test of the fake's data-plane routes; prints TAP.

Covers GET /v1/sandboxes/{id}/exec/stream (WebSocket, with aiohttp's
client and a raw socket for frame-level checks), the four file routes,
the "stream" fault actions and bounded-memory large transfers.  Starts
two fakecp.py children (one with a 1 s --stream-timeout) and kills them
in a finally block.  Runs in about 15 s.

aiohttp is needed in this process too: if the interpreter running the test
lacks it, the script re-executes itself with FAKECP_PYTHON (default
/usr/bin/python3, Debian's, which has python3-aiohttp).
"""

import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_fakecp import Fake, err, require_aiohttp, run  # noqa: E402

require_aiohttp(__file__)
import aiohttp  # noqa: E402
import asyncio  # noqa: E402
import base64  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import time  # noqa: E402

WS = aiohttp.WSMsgType
MiB = 1 << 20


class DataFake(Fake):
    """A fakecp.py child with the data-plane helpers these tests use."""

    def __init__(self, tmp, name, extra=()):
        super().__init__(tmp, name, extra=extra)
        self.base = "http://127.0.0.1:%d" % self.port
        self.key = {"X-API-Key": self.seed["api_key"]}


class Api:
    """Small helpers around one aiohttp session and one fake."""

    def __init__(self, session, fake):
        self.s = session
        self.fake = fake

    def url(self, path):
        return self.fake.base + path

    async def req(self, method, path, key=True, **kw):
        headers = dict(kw.pop("headers", {}))
        if key:
            headers.update(self.fake.key)
        async with self.s.request(method, self.url(path), headers=headers,
                                  **kw) as r:
            body = await r.read()
            return r.status, r.headers, body

    async def json(self, method, path, **kw):
        status, _, body = await self.req(method, path, **kw)
        try:
            return status, json.loads(body) if body.strip() else None
        except ValueError:
            return status, body

    async def sandbox(self):
        status, sb = await self.json("POST", "/v1/sandboxes", json={})
        assert status == 201, (status, sb)
        _, info = await self.json("GET", "/_fake/sandboxes/" + sb["id"],
                                  key=False)
        return sb["id"], info["workdir"]

    async def ws(self, sid, **kw):
        return await self.s.ws_connect(
            self.url("/v1/sandboxes/%s/exec/stream" % sid),
            headers=self.fake.key, autoping=False, **kw)

    async def fault(self, spec):
        status, body = await self.json("POST", "/_fake/faults", key=False,
                                       json=spec)
        assert status == 201, body
        return body["id"]


async def collect(ws, timeout=20):
    """All messages until the connection ends: ([raw texts], end msg)."""
    texts = []
    while True:
        m = await ws.receive(timeout=timeout)
        if m.type in (WS.TEXT, WS.BINARY):
            texts.append(m.data if m.type == WS.TEXT else m.data.decode())
            continue
        return texts, m


def run_start(cmd, *args):
    return json.dumps({"type": "start", "cmd": cmd, "args": list(args)})


def multipart(fields, boundary="XyZb0und4ry"):
    """fields: [(name, value bytes, filename or None)] -> (body, type)."""
    out = []
    for name, value, filename in fields:
        disp = 'form-data; name="%s"' % name
        if filename is not None:
            disp += '; filename="%s"' % filename
        out.append(b"--" + boundary.encode() + b"\r\nContent-Disposition: "
                   + disp.encode() + b"\r\n\r\n" + value + b"\r\n")
    out.append(b"--" + boundary.encode() + b"--\r\n")
    return b"".join(out), "multipart/form-data; boundary=" + boundary


# --------------------------------------------------------------------------
# Raw WebSocket client (frame-level checks)

def ws_frame(op, payload):
    """A masked client frame."""
    mask = os.urandom(4)
    n = len(payload)
    h = bytes([0x80 | op])
    h += bytes([0x80 | n]) if n < 126 else \
        bytes([0x80 | 126]) + struct.pack("!H", n)
    return h + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def raw_ws(port, path, key, frames, pipelined=False):
    """Handshake, send masked frames, read until EOF: (head, [(op, data)]).

    pipelined: send the frames with the request, before the 101."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    k = base64.b64encode(os.urandom(16)).decode()
    early = b"".join(ws_frame(op, p) for op, p in frames) if pipelined \
        else b""
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\nX-API-Key: %s\r\n\r\n"
               % (path, k, key)).encode() + early)
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(65536)
        if not c:
            break
        buf += c
    head, _, data = buf.partition(b"\r\n\r\n")
    if not pipelined:
        for op, payload in frames:
            s.sendall(ws_frame(op, payload))
    while True:
        c = s.recv(65536)
        if not c:
            break
        data += c
    s.close()
    out = []
    i = 0
    while i + 2 <= len(data):
        b0, b1 = data[i], data[i + 1]
        n, j = b1 & 0x7f, i + 2
        if n == 126:
            n, j = struct.unpack("!H", data[j:j + 2])[0], j + 2
        elif n == 127:
            n, j = struct.unpack("!Q", data[j:j + 8])[0], j + 8
        out.append((b0 & 0x0f, data[j:j + n], b0 >> 7))
        i = j + n
    return head.decode("latin-1"), out


# --------------------------------------------------------------------------

async def test_ws(t, a):
    fake = a.fake
    sid, workdir = await a.sandbox()
    base = "/v1/sandboxes/%s/exec/stream" % sid

    # Pre-upgrade checks are plain JSON errors.
    t.eq(await a.json("GET", base, key=False),
         (401, err("unauthorized",
                   "X-API-Key or Authorization: Bearer <token> required")),
         "ws: 401 before the upgrade")
    t.eq(await a.json("GET", "/v1/sandboxes/cl-abc/exec/stream"),
         (400, err("invalid_request", "invalid sandbox ID")),
         "ws: bad ID 400")
    t.eq(await a.json("GET", "/v1/sandboxes/cl-%s/exec/stream" % ("0" * 25)),
         (404, err("not_found", "sandbox not found")), "ws: unknown 404")
    status, hdrs, body = await a.req("GET", base)
    t.eq(status, 400, "ws: non-upgrade GET gets gorilla's 400")
    t.eq(body, b"Bad Request\n", "ws: non-upgrade GET gets gorilla's 400")
    t.eq(hdrs.get("Content-Type"), "text/plain; charset=utf-8",
         "ws: non-upgrade GET gets gorilla's 400 (Content-Type)")
    t.eq(hdrs.get("Sec-Websocket-Version"), "13",
         "ws: non-upgrade GET gets gorilla's 400 (Sec-Websocket-Version)")

    # A session: start, output, exit, then no close frame.
    _, before = await a.json("GET", "/v1/sandboxes/" + sid)
    await asyncio.sleep(1.02 - time.time() % 1.0)   # RFC 3339 seconds
    ws = await a.ws(sid)
    await ws.send_str(run_start("/bin/sh", "-c", "echo out; echo err >&2; "
                                "pwd; exit 3"))
    texts, end = await collect(ws)
    msgs = [json.loads(x) for x in texts]
    t.ok(all(x.endswith("}\n") and x.count("\n") == 1 for x in texts),
         "ws: one JSON object + newline per text frame", texts)
    t.eq(msgs[0].get("type"), "start",
         "ws: start, stdout/stderr, exit; cwd is the scratch directory (type)")
    t.ok(isinstance(msgs[0].get("pid"), int),
         "ws: start, stdout/stderr, exit; cwd is the scratch directory", msgs)
    t.eq(msgs[-1], {"type": "exit", "exit_code": 3},
         "ws: start, stdout/stderr, exit; cwd is the scratch directory")
    t.eq("".join(m.get("data", "") for m in msgs if m.get("type") == "stdout"),
         "out\n%s\n" % workdir,
         "ws: start, stdout/stderr, exit; cwd is the scratch directory")
    t.has(msgs, {"type": "stderr", "data": "err\n"},
          "ws: start, stdout/stderr, exit; cwd is the scratch directory")
    t.eq(end.type, WS.CLOSED,
         "ws: connection closed without a close frame (client sees 1006)")
    t.eq(ws.close_code, 1006,
         "ws: connection closed without a close frame (client sees 1006)")
    _, after = await a.json("GET", "/v1/sandboxes/" + sid)
    t.ok(after["last_active_at"] != before["last_active_at"],
         "ws: last_active_at refreshed", (before, after))

    head, frames = await asyncio.to_thread(
        raw_ws, fake.port, base, fake.seed["api_key"],
        [(9, b"hello"), (1, run_start("sh", "-c", "printf x").encode())])
    t.ok(head.startswith("HTTP/1.1 101 "), "ws: gorilla-like 101 response",
         head)
    t.ok("Server:" not in head, "ws: gorilla-like 101 response", head)
    t.has(head, "Sec-WebSocket-Accept:", "ws: gorilla-like 101 response")
    ops = [op for op, _, _ in frames]
    t.eq(frames[0][:2], (10, b"hello"),
         "ws: pong, text frames only, exit last, then TCP EOF (no close)")
    t.eq(ops[1:], [1, 1, 1],
         "ws: pong, text frames only, exit last, then TCP EOF (no close)")
    t.ok(all(fin for _, _, fin in frames),
         "ws: pong, text frames only, exit last, then TCP EOF (no close)",
         frames)
    t.eq(frames[-1][1], b'{"type":"exit","exit_code":0}\n',
         "ws: pong, text frames only, exit last, then TCP EOF (no close)")

    head, frames = await asyncio.to_thread(
        raw_ws, fake.port, base, fake.seed["api_key"],
        [(1, run_start("true").encode())], True)
    t.eq(head, "",
         "ws: a start frame sent before the 101 gets the connection closed")
    t.eq(frames, [],
         "ws: a start frame sent before the 101 gets the connection closed")

    # Lossy UTF-8, not base64.
    ws = await a.ws(sid)
    await ws.send_str(run_start("printf", "\\377a\\342\\202<&\\342\\202\\254"))
    texts, _ = await collect(ws)
    t.ok(texts[1] == '{"type":"stdout","data":"\\ufffda\\ufffd\\ufffd'
         '\\u003c\\u0026\u20ac"}\n',
         "ws: invalid UTF-8 bytes become \\ufffd escapes, <>& escaped",
         texts)

    # Output chunks of at most 32 KiB.
    ws = await a.ws(sid)
    await ws.send_str(run_start("head", "-c", "100000", "/dev/zero"))
    texts, _ = await collect(ws)
    sizes = [len(json.loads(x)["data"]) for x in texts
             if json.loads(x)["type"] == "stdout"]
    t.eq(sum(sizes), 100000, "ws: output split into <= 32 KiB messages")
    t.ok(max(sizes) <= 32768, "ws: output split into <= 32 KiB messages",
         max(sizes))
    t.ok(len(sizes) >= 4, "ws: output split into <= 32 KiB messages (length)",
         len(sizes))

    # Binary start frame; trailing data after the JSON value is ignored.
    ws = await a.ws(sid)
    await ws.send_bytes(run_start("true").encode() + b" trailing junk")
    texts, _ = await collect(ws)
    t.eq([json.loads(x)["type"] for x in texts], ["start", "exit"],
         "ws: binary start frame accepted, trailing bytes ignored")

    # Start message errors.
    for payload, want in [
            ("hello", "failed to read start message: invalid character 'h' "
                      "looking for beginning of value"),
            ('{"type":"start"', "failed to read start message: "
                                "unexpected EOF"),
            ('{"type":"start","cmd":5}', "failed to read start message: "
             "json: cannot unmarshal number into Go struct field "
             "wsStartMsg.cmd of type string"),
            ('{"type":"exec","cmd":"ls"}', "first message must be type "
             "'start' with a 'cmd' field"),
            ('{"TYPE":"start","Cmd":""}', "first message must be type "
             "'start' with a 'cmd' field")]:
        ws = await a.ws(sid)
        await ws.send_str(payload)
        texts, end = await collect(ws)
        t.eq(texts,
             [json.dumps({"type": "error", "data": want}, separators=(",", ":")).replace("'", "'") + "\n"],
             "ws: start error for %r" % payload)
        t.eq(ws.close_code, 1006, "ws: start error for %r" % payload)

    # Ping/pong while waiting for start; a client close is echoed.
    ws = await a.ws(sid)
    await ws.ping(b"p1")
    m = await ws.receive(timeout=5)
    t.eq(m.type, WS.PONG, "ws: ping answered")
    t.eq(m.data, b"p1", "ws: ping answered")
    await ws.close(code=4001)
    t.eq(ws.close_code, 4001, "ws: client close frame echoed with its code")

    # stop detaches: no exit, no error, the process keeps running.
    marker = os.path.join(workdir, "stopped.txt")
    ws = await a.ws(sid)
    await ws.send_str(run_start("sh", "-c", "sleep 0.4; echo done > "
                                "stopped.txt"))
    first = await ws.receive(timeout=5)
    await ws.send_str('{"type":"unknown"}')
    await ws.send_str('{"type": "stop"}')
    texts, end = await collect(ws)
    t.eq(json.loads(first.data).get("type"), "start",
         "ws: stop ends the session without exit or error (type)")
    t.eq(texts, [], "ws: stop ends the session without exit or error")
    t.eq(end.type, WS.CLOSED,
         "ws: stop ends the session without exit or error")
    t.eq(ws.close_code, 1006,
         "ws: stop ends the session without exit or error")
    await asyncio.sleep(0.8)
    t.ok(os.path.exists(marker), "ws: the stopped process kept running")

    # Pause mid-stream ends the session with an error.
    ws = await a.ws(sid)
    await ws.send_str(run_start("sleep", "5"))
    await ws.receive(timeout=5)
    await a.req("POST", "/v1/sandboxes/%s/pause" % sid)
    texts, _ = await collect(ws)
    t.eq([json.loads(x) for x in texts],
         [{"type": "error", "data": "unavailable: sandbox was paused"}],
         "ws: pause mid-stream sends an error")
    t.eq(await a.json("GET", base),
         (409, err("invalid_state",
                   "sandbox is not running (status: paused)")),
         "ws: 409 on a paused sandbox, before the upgrade")
    await a.req("POST", "/v1/sandboxes/%s/resume" % sid)


async def test_no_host(t, a):
    sid, _ = await a.sandbox()
    status, host = await a.json("POST", "/_fake/hosts", key=False,
                                json={"status": "pending"})
    status2, _ = await a.json("POST", "/_fake/sandboxes/%s/host" % sid,
                              key=False, json={"host_id": host["id"]})
    if status != 201 or status2 >= 300:
        t.ok(True, "no-host paths # SKIP no /_fake/hosts (%s, %s)"
             % (status, status2))
        return
    ws = await a.ws(sid)
    await ws.send_str(run_start("true"))
    texts, _ = await collect(ws)
    t.eq([json.loads(x) for x in texts],
         [{"type": "error", "data": "sandbox host is not reachable"}],
         "ws: host without address is an error message after start")
    t.eq(await a.json("POST", "/v1/sandboxes/%s/files/stream/read" % sid,
                      json={"path": "/x"}),
         (503, err("host_unavailable", "sandbox host is not reachable")),
         "files: host without address is 503 after body parsing")


async def test_backpressure(t, a):
    sid, workdir = await a.sandbox()
    total = 40 * MiB
    ws = await a.ws(sid, max_msg_size=0)
    await ws.send_str(run_start(
        "sh", "-c", "yes abcdefghijklmnopqrstuvwxyz | head -c %d; "
        "echo done > bp.txt" % total))
    await asyncio.sleep(1.5)
    blocked = not os.path.exists(os.path.join(workdir, "bp.txt"))
    got = 0
    last = None
    while True:
        m = await ws.receive(timeout=30)
        if m.type != WS.TEXT:
            break
        msg = json.loads(m.data)
        if msg["type"] == "stdout":
            got += len(msg["data"])
        last = msg
    t.ok(blocked, "ws: a client that does not read stops the process")
    t.eq(got, total, "ws: all output delivered once the client reads")
    t.eq(last, {"type": "exit", "exit_code": 0},
         "ws: all output delivered once the client reads")
    t.ok(os.path.exists(os.path.join(workdir, "bp.txt")),
         "ws: all output delivered once the client reads", (got, last))


async def test_ws_faults(t, a):
    sid, _ = await a.sandbox()
    path = "/exec/stream$"
    await a.fault({"path": path, "count": 1,
                   "stream": {"action": "cut", "after_bytes": 10}})
    ws = await a.ws(sid)
    await ws.send_str(run_start("head", "-c", "100", "/dev/zero"))
    texts, end = await collect(ws)
    msgs = [json.loads(x) for x in texts]
    t.eq(msgs[0].get("type"), "start",
         "fault: cut after 10 bytes, no exit/error (type)")
    t.eq(sum(len(m.get("data", "")) for m in msgs), 10,
         "fault: cut after 10 bytes, no exit/error")
    t.ok(all(m.get("type") in ("start", "stdout") for m in msgs),
         "fault: cut after 10 bytes, no exit/error", msgs)
    t.eq(ws.close_code, 1006, "fault: cut after 10 bytes, no exit/error")

    await a.fault({"path": path, "count": 1,
                   "stream": {"action": "error", "after_messages": 1,
                              "data": "boom"}})
    ws = await a.ws(sid)
    await ws.send_str(run_start("echo", "hi"))
    texts, _ = await collect(ws)
    t.eq([json.loads(x)["type"] for x in texts] + [json.loads(texts[-1])],
         ["start", "error", {"type": "error", "data": "boom"}],
         "fault: error message mid-stream, then closed")

    await a.fault({"path": path, "count": 1,
                   "stream": {"action": "stall", "after_messages": 1,
                              "stall_ms": 600}})
    ws = await a.ws(sid)
    await ws.send_str(run_start("echo", "hi"))
    await ws.receive(timeout=5)
    t0 = time.monotonic()
    texts, _ = await collect(ws)
    t.ok(time.monotonic() - t0 >= 0.55,
         "fault: stall 600 ms, then the stream goes on", time.monotonic() - t0)
    t.eq(json.loads(texts[-1]).get("type"), "exit",
         "fault: stall 600 ms, then the stream goes on (type)")


async def test_files(t, a):
    sid, workdir = await a.sandbox()
    base = "/v1/sandboxes/%s/files/" % sid

    def at(*p):
        return os.path.join(workdir, *p)

    def content(p):
        with open(at(p), "rb") as f:
            return f.read()

    # files/write and the path mapping.
    blob = os.urandom(5000)
    for path, where in [("/root/a.bin", "a.bin"), ("~/b.bin", "b.bin"),
                        ("rel/c.bin", "rel/c.bin"),
                        ("/tmp/d/e.bin", "tmp/d/e.bin")]:
        body, ctype = multipart([("path", path.encode(), None),
                                 ("file", blob, "ignored.txt")])
        status, _, _ = await a.req("POST", base + "write", data=body,
                                   headers={"Content-Type": ctype})
        t.eq(status, 204,
             "files/write %s lands in <scratch>/%s" % (path, where))
        t.eq(content(where), blob,
             "files/write %s lands in <scratch>/%s" % (path, where))
    body, ctype = multipart([("file", b"first", "f"), ("path", b"/o.txt",
                                                       None)])
    status, _, _ = await a.req("POST", base + "write", data=body,
                               headers={"Content-Type": ctype})
    t.eq(status, 204, "files/write: field order does not matter")
    t.eq(content("o.txt"), b"first",
         "files/write: field order does not matter")
    body, ctype = multipart([("path", b"/form.txt", None),
                             ("file", b"q", "f")])
    status, _, _ = await a.req("POST", base + "write?path=/query.txt",
                               data=body, headers={"Content-Type": ctype})
    t.eq(status, 204, "files/write: ?path= wins over the form field")
    t.eq(content("query.txt"), b"q",
         "files/write: ?path= wins over the form field")
    t.ok(not os.path.exists(at("form.txt")),
         "files/write: ?path= wins over the form field",
         os.path.exists(at("form.txt")))
    for fields, want in [([("file", b"x", "f")], "path field is required"),
                         ([("path", b"/x", None)], "file field is required"),
                         ([("path", b"/x", None), ("file", b"x", None)],
                          "file field is required")]:
        body, ctype = multipart(fields)
        t.eq(await a.json("POST", base + "write", data=body,
                          headers={"Content-Type": ctype}),
             (400, err("invalid_request", want)), "files/write: " + want)
    t.eq(await a.json("POST", base + "write", data=b"{}",
                      headers={"Content-Type": "application/json"}),
         (400, err("invalid_request", "expected multipart/form-data")),
         "files/write: not multipart")
    os.makedirs(at("dir"))
    body, ctype = multipart([("path", b"/root/dir", None),
                             ("file", b"x", "f")])
    t.eq(await a.json("POST", base + "write", data=body,
                      headers={"Content-Type": ctype}),
         (502, err("agent_error", "internal: write file: write file "
                   "/root/dir: status 400: {\"code\":400,\"message\":\"path "
                   "is a directory: /root/dir\"}\n")),
         "files/write: directory target is 502 agent_error")

    # 413: announced by Content-Length, or counted on a chunked body.
    status, hdrs, body = await a.req(
        "POST", base + "write", data=b"",
        headers={"Content-Type": ctype, "Content-Length": "104857601"})
    t.eq(status, 413, "files/write: Content-Length over 100 MiB is 413")
    t.eq(json.loads(body), err( "too_large", "file exceeds 100 MB limit"),
         "files/write: Content-Length over 100 MiB is 413")
    t.eq(hdrs.get("Connection"), "close",
         "files/write: Content-Length over 100 MiB is 413 (Connection)")

    async def big():
        yield b"--XyZb0und4ry\r\nContent-Disposition: form-data; " \
              b"name=\"file\"; filename=\"f\"\r\n\r\n"
        chunk = b"z" * MiB
        for _ in range(101):
            yield chunk
    try:
        status, _, body = await a.req(
            "POST", base + "write", data=big(),
            headers={"Content-Type": ctype})
        t.eq(status, 413, "files/write: chunked body over 100 MiB is 413")
        t.has(body, b"too_large",
              "files/write: chunked body over 100 MiB is 413")
    except aiohttp.ClientError as e:
        t.ok(False, "files/write: chunked body over 100 MiB is 413", e)

    # files/read.
    status, hdrs, body = await a.req("POST", base + "read",
                                     json={"path": "/root/a.bin"})
    t.eq(status, 200, "files/read: raw bytes, chunked above 2048 bytes")
    t.eq(body, blob, "files/read: raw bytes, chunked above 2048 bytes")
    t.eq(hdrs.get("Content-Type"), "application/octet-stream",
         "files/read: raw bytes, chunked above 2048 bytes (Content-Type)")
    t.eq(hdrs.get("Transfer-Encoding"), "chunked",
         "files/read: raw bytes, chunked above 2048 bytes (Transfer-Encoding)")
    status, hdrs, body = await a.req("POST", base + "read",
                                     json={"path": "/o.txt"})
    t.eq(status, 200, "files/read: small file has a Content-Length")
    t.eq(body, b"first", "files/read: small file has a Content-Length")
    t.eq(hdrs.get("Content-Length"), "5",
         "files/read: small file has a Content-Length (Content-Length)")
    t.eq(await a.json("POST", base + "read", json={"path": "/nope"}),
         (502, err("agent_error", "internal: read file: read file /nope: "
                   "status 404: {\"code\":404,\"message\":\"path '/nope' "
                   "does not exist\"}\n")), "files/read: missing file 502")
    t.eq(await a.json("POST", base + "read", json={"path": "dir"}),
         (502, err("agent_error", "internal: read file: read file dir: "
                   "status 400: {\"code\":400,\"message\":\"path "
                   "'/root/dir' is a directory\"}\n")),
         "files/read: directory 502")
    t.eq(await a.json("POST", base + "read", data=b"nope"),
         (400, err("invalid_request", "invalid JSON body")),
         "files/read: invalid JSON")
    t.eq(await a.json("POST", base + "read", json={"x": 1}),
         (400, err("invalid_request", "path is required")),
         "files/read: path is required")

    # files/stream/write.
    sw = base + "stream/write"
    body, ctype = multipart([("junk", b"j", None), ("path", b"/s.bin", None),
                             ("file", blob, "f")])
    status, _, _ = await a.req("POST", sw, data=body,
                               headers={"Content-Type": ctype})
    t.eq(status, 204, "files/stream/write: 204, unknown parts skipped")
    t.eq(content("s.bin"), blob,
         "files/stream/write: 204, unknown parts skipped")
    body, ctype = multipart([("file", blob, "f"), ("path", b"/s.bin", None)])
    status, _, _ = await a.req("POST", sw, data=body,
                               headers={"Content-Type": ctype})
    t.eq(status, 204,
         "files/stream/write: file before path writes an EMPTY file, 204")
    t.eq(content("s.bin"), b"",
         "files/stream/write: file before path writes an EMPTY file, 204")
    t.eq(await a.json("POST", sw, data=body,
                      headers={"Content-Type": "multipart/form-data"}),
         (400, err("invalid_request",
                   "expected multipart/form-data with boundary")),
         "files/stream/write: boundary required")
    t.eq(await a.json("POST", sw, data=b"garbage",
                      headers={"Content-Type": "text/plain; boundary=b"}),
         (400, err("invalid_request", "failed to parse multipart")),
         "files/stream/write: malformed multipart")
    body, ctype = multipart([("path", b"/root/dir", None),
                             ("file", b"x", "f")])
    t.eq(await a.json("POST", sw, data=body, headers={"Content-Type": ctype}),
         (502, err("agent_error", "internal: envd write: status 400: "
                   "{\"code\":400,\"message\":\"path is a directory: "
                   "/root/dir\"}\n")), "files/stream/write: directory 502")

    # files/stream/read.
    sr = base + "stream/read"
    status, hdrs, body = await a.req("POST", sr, json={"path": "a.bin"})
    t.eq(status, 200, "files/stream/read: chunked raw bytes")
    t.eq(body, blob, "files/stream/read: chunked raw bytes")
    t.eq(hdrs.get("Transfer-Encoding"), "chunked",
         "files/stream/read: chunked raw bytes (Transfer-Encoding)")
    t.eq(hdrs.get("Content-Type"), "application/octet-stream",
         "files/stream/read: chunked raw bytes (Content-Type)")
    for p in ("/nope", "/root/dir"):
        status, hdrs, body = await a.req("POST", sr, json={"path": p})
        t.eq(status, 200,
             "files/stream/read: %s is 200 with an empty body" % p)
        t.eq(body, b"", "files/stream/read: %s is 200 with an empty body" % p)
        t.eq(hdrs.get("Content-Length"), "0",
             "files/stream/read: %s is 200 with an empty body "
             "(Content-Length)" % p)
    t.eq(await a.json("POST", sr, json={"path": ""}),
         (400, err("invalid_request", "path is required")),
         "files/stream/read: path is required")

    # Faults on downloads.
    await a.fault({"path": "/files/stream/read$", "count": 1,
                   "stream": {"action": "truncate", "after_bytes": 1000}})
    status, hdrs, body = await a.req("POST", sr, json={"path": "a.bin"})
    t.eq(status, 200,
         "fault: stream/read truncated after 1000 bytes, body ends cleanly")
    t.eq(body, blob[:1000],
         "fault: stream/read truncated after 1000 bytes, body ends cleanly")
    await a.fault({"path": "/files/stream/read$", "count": 1,
                   "stream": {"action": "cut", "after_bytes": 1000}})
    try:
        await a.req("POST", sr, json={"path": "a.bin"})
        t.ok(False, "fault: stream/read cut leaves the body unterminated")
    except aiohttp.ClientError:
        t.ok(True, "fault: stream/read cut leaves the body unterminated")
    await a.fault({"path": "/files/stream/read$", "count": 1,
                   "stream": {"action": "stall", "after_bytes": 100,
                              "stall_ms": 400}})
    t0 = time.monotonic()
    status, _, body = await a.req("POST", sr, json={"path": "a.bin"})
    t.eq(status, 200, "fault: stream/read stalls, then completes")
    t.eq(body, blob, "fault: stream/read stalls, then completes")
    t.ok(time.monotonic() - t0 >= 0.35,
         "fault: stream/read stalls, then completes", time.monotonic() - t0)

    # Files do not refresh last_active_at; 409 on a paused sandbox.
    _, before = await a.json("GET", "/v1/sandboxes/" + sid)
    await a.req("POST", base + "read", json={"path": "/o.txt"})
    _, after = await a.json("GET", "/v1/sandboxes/" + sid)
    t.eq(after["last_active_at"], before["last_active_at"],
         "files: last_active_at untouched")
    await a.req("POST", "/v1/sandboxes/%s/pause" % sid)
    t.eq(await a.json("POST", sr, json={"path": "/o.txt"}),
         (409, err("invalid_state", "sandbox is not running")),
         "files: 409 without status suffix")


async def test_large(t, a):
    sid, workdir = await a.sandbox()
    size = 512 * MiB
    block = os.urandom(MiB)

    async def gen():
        yield b"--B\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\n" \
              b"/big.bin\r\n--B\r\nContent-Disposition: form-data; " \
              b"name=\"file\"; filename=\"big\"\r\n\r\n"
        for _ in range(size // MiB):
            yield block
        yield b"\r\n--B--\r\n"
    t0 = time.monotonic()
    status, _, _ = await a.req(
        "POST", "/v1/sandboxes/%s/files/stream/write" % sid, data=gen(),
        headers={"Content-Type": "multipart/form-data; boundary=B"})
    up = time.monotonic() - t0
    ok = status == 204 and os.path.getsize(os.path.join(workdir,
                                                        "big.bin")) == size
    t0 = time.monotonic()
    got = 0
    same = True
    async with a.s.post(a.url("/v1/sandboxes/%s/files/stream/read" % sid),
                        json={"path": "/big.bin"},
                        headers=a.fake.key) as r:
        buf = b""
        async for chunk in r.content.iter_any():
            buf += chunk
            while len(buf) >= MiB:
                same = same and buf[:MiB] == block
                buf = buf[MiB:]
                got += MiB
        got += len(buf)
    down = time.monotonic() - t0
    rss = a.fake.peak_rss_kib()
    t.ok(ok,
         "512 MiB stream/write + stream/read round trip (%.1f s up, %.1f s "
         "down)" % (up, down), (status, got))
    t.eq(got, size,
         "512 MiB stream/write + stream/read round trip (%.1f s up, %.1f s "
         "down)" % (up, down))
    t.ok(same,
         "512 MiB stream/write + stream/read round trip (%.1f s up, %.1f s "
         "down)" % (up, down), (status, got))
    t.ok(rss < 200 * 1024, "fake peak RSS stays bounded (%d MiB)"
         % (rss // 1024))


async def test_timeout(t, a):
    sid, _ = await a.sandbox()
    ws = await a.ws(sid)
    await ws.send_str(run_start("sleep", "5"))
    t0 = time.monotonic()
    texts, _ = await collect(ws)
    t.eq([json.loads(x).get("type") for x in texts], ["start", "error"],
         "ws: --stream-timeout ends the session with an error")
    t.has(json.loads(texts[-1]).get("data"), "Client.Timeout",
          "ws: --stream-timeout ends the session with an error (data)")
    t.ok(time.monotonic() - t0 < 3,
         "ws: --stream-timeout ends the session with an error",
         time.monotonic() - t0)


async def amain(t, tmp, fakes):
    fake = DataFake(tmp, "main")
    fakes.append(fake)
    short = DataFake(tmp, "short", extra=("--stream-timeout", "1"))
    fakes.append(short)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as s:
        a = Api(s, fake)
        await test_ws(t, a)
        await test_ws_faults(t, a)
        await test_no_host(t, a)
        await test_backpressure(t, a)
        await test_files(t, a)
        await test_large(t, a)
        await test_timeout(t, Api(s, short))


def _main_body(t, tmp, fakes):
    asyncio.run(amain(t, tmp, fakes))


def main():
    return run("test-fakecp-data-", _main_body)


if __name__ == "__main__":
    sys.exit(main())
