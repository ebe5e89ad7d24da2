#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Self-test of the fake's sandbox proxy (proxy.py, CONTRACT 9); prints TAP.

Starts one fakecp.py child and, in this process, small aiohttp apps that
stand for servers inside sandboxes (an echo of the request as the app sees
it, a streaming up/download, a gzip answer, a WebSocket echo).  Requests
go to the fake with a {port}-{sandbox_id}.localhost Host header, over raw
sockets where the exact bytes matter.  Covers every CONTRACT 9.3 error and
its order, X-API-Key reaching the app, hop-by-hop headers, X-Forwarded-For,
path cleaning, the target cache quirk and its control endpoint, port
mapping, 100 MiB bodies streamed both ways, WebSocket pass-through, fault
rules on proxied requests and the request log.  The Jupyter fixture
(tests/integ/jupyterfix.py) executing code through the proxy is in
test_fakecp_jupyter.py.

FAKECP_PROXY_BIG_BYTES shrinks the 100 MiB transfers for quick runs.
aiohttp is needed in this process: without it the script re-executes
itself with FAKECP_PYTHON (default /usr/bin/python3).
"""

import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_fakecp import Fake, require_aiohttp, run  # noqa: E402

require_aiohttp(__file__)
import aiohttp  # noqa: E402
import asyncio  # noqa: E402
import gzip  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import traceback  # noqa: E402

from aiohttp import web  # noqa: E402

MiB = 1 << 20
BIG = int(os.environ.get("FAKECP_PROXY_BIG_BYTES", 100 * MiB))
WS = aiohttp.WSMsgType


async def case(t, name, coro):
    """Run one independent case; an exception is one failed test."""
    try:
        await coro
    except Exception as e:
        t.ok(False, "%s: raised %s" % (name, type(e).__name__),
             traceback.format_exc()[-3000:])


# --------------------------------------------------------------------------
# The apps "inside the sandbox"

def pattern(n):
    """n deterministic bytes (a 1 MiB block repeated)."""
    block = hashlib.sha256(b"seed").digest() * (MiB // 32)
    while n > 0:
        yield block[:min(n, MiB)]
        n -= MiB


def pattern_sha(n):
    h = hashlib.sha256()
    for b in pattern(n):
        h.update(b)
    return h.hexdigest()


APP_EVENTS = {"down_aborted": 0}   # downloads whose client went away


async def app_handler(request):
    """/_down/N streams N bytes; /_gzip answers gzip when asked; /_ws
    echoes WebSocket frames; /_status/N answers N; anything else echoes
    the request as received (raw path, raw headers, body digest)."""
    path = request.raw_path
    if path.startswith("/_down/"):
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            for b in pattern(int(path.split("/")[2])):
                await resp.write(b)
        except ConnectionError:
            APP_EVENTS["down_aborted"] += 1
            return resp
        await resp.write_eof()
        return resp
    if path == "/_gzip":
        body = b"compressed hello\n" * 100
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            return web.Response(body=gzip.compress(body), headers={
                "Content-Encoding": "gzip", "Content-Type": "text/plain"})
        return web.Response(body=body, content_type="text/plain")
    if path == "/_ws":
        ws = web.WebSocketResponse(protocols=("echo.v1",))
        await ws.prepare(request)
        async for m in ws:
            if m.type == WS.TEXT and m.data.startswith("close "):
                await ws.close(code=int(m.data.split()[1]))
            elif m.type == WS.TEXT:
                await ws.send_str(m.data)
            elif m.type == WS.BINARY:
                await ws.send_bytes(m.data)
        return ws
    if path.startswith("/_status/"):
        code = int(path.split("/")[2])
        if code == 204:
            return web.Response(status=204)
        return web.Response(status=code, text="app says %d" % code)
    h = hashlib.sha256()
    n = 0
    async for chunk in request.content.iter_any():
        h.update(chunk)
        n += len(chunk)
    return web.json_response({
        "method": request.method, "raw_path": request.raw_path,
        "headers": [[k.decode("latin-1"), v.decode("latin-1")]
                    for k, v in request.raw_headers],
        "body_bytes": n, "body_sha256": h.hexdigest()})


async def start_app():
    """An app server on a free loopback port; returns (runner, port)."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", app_handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


# --------------------------------------------------------------------------
# Client side

class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers      # [(name, value)] as received
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)


async def read_response(reader, method="GET"):
    """Parse one HTTP/1.1 response from reader (no 1xx expected)."""
    line = await reader.readline()
    if not line:
        return None
    status = int(line.split()[1])
    headers = []
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        k, _, v = line.decode("latin-1").partition(":")
        headers.append((k, v.strip()))
    r = Resp(status, headers, b"")
    if method == "HEAD" or status in (101, 204, 304):
        return r
    if (r.header("Transfer-Encoding") or "").lower() == "chunked":
        out = bytearray()
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                break
            out += await reader.readexactly(size)
            await reader.readline()
        r.body = bytes(out)
    elif r.header("Content-Length") is not None:
        r.body = await reader.readexactly(int(r.header("Content-Length")))
    else:
        r.body = await reader.read()
    return r


class Client:
    """Raw HTTP/1.1 to the fake, Host header of our choosing."""

    def __init__(self, fake):
        self.fake = fake
        self.port = fake.port
        self.key = fake.seed["api_key"]

    def host(self, sid, port):
        return "%s-%s.localhost:%d" % (port, sid, self.port)

    async def raw(self, head, body=b""):
        """Send head (text, CRLF added) + body; one response back."""
        reader, writer = await asyncio.open_connection("127.0.0.1",
                                                       self.port)
        try:
            writer.write(head.encode("latin-1") + body)
            await writer.drain()
            method = head.split(" ", 1)[0]
            try:
                return await read_response(reader, method)
            except ConnectionResetError:
                return None
        finally:
            writer.close()

    async def get(self, host, path="/", key=True, headers=(),
                  method="GET", body=b""):
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: " + host]
        if key is True:
            lines.append("X-API-Key: " + self.key)
        elif key:
            lines.append("X-API-Key: " + key)
        lines += ["%s: %s" % kv for kv in headers]
        if body:
            lines.append("Content-Length: %d" % len(body))
        lines.append("Connection: close")
        return await self.raw("\r\n".join(lines) + "\r\n\r\n", body)

    async def ctl(self, method, path, body=None):
        """The fake's /_fake control API: (status, JSON or None)."""
        data = b"" if body is None else json.dumps(body).encode()
        r = await self.raw("%s /_fake/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Content-Length: %d\r\nConnection: close\r\n\r\n"
                           % (method, path, len(data)), data)
        return r.status, (json.loads(r.body) if r.body.strip() else None)

    async def api(self, method, path, body=None, key=None):
        data = b"" if body is None else json.dumps(body).encode()
        r = await self.raw("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: "
                           "%s\r\nContent-Length: %d\r\nConnection: close"
                           "\r\n\r\n" % (method, path, key or self.key,
                                         len(data)), data)
        return r.status, (json.loads(r.body) if r.body.strip() else None)

    async def sandbox(self, key=None):
        status, sb = await self.api("POST", "/v1/sandboxes", {}, key)
        assert status == 201, (status, sb)
        return sb["id"]

    async def log(self):
        return (await self.ctl("GET", "requests"))[1]


def text_error(status, text):
    return (status, "text/plain; charset=utf-8", text.encode() + b"\n")


def shape(r):
    return (r.status, r.header("Content-Type"), r.body)


def envelope(message):
    return (401, "application/json", json.dumps(
        {"error": {"code": "unauthorized", "message": message}},
        separators=(",", ":")).encode() + b"\n")


# --------------------------------------------------------------------------
# Cases

async def test_errors(t, c, app_port):
    """Every CONTRACT 9.3 reply, and the order of the checks."""
    sid = await c.sandbox()
    h = c.host(sid, app_port)
    t.eq(shape(await c.get("0-%s.localhost" % sid)),
         text_error(400, "invalid port"), "port 0: 400 invalid port")
    t.eq(shape(await c.get("65536-%s.x" % sid, key=False)),
         text_error(400, "invalid port"),
         "port 65536 without a key: invalid port comes first")
    t.eq(shape(await c.get("9" * 30 + "-%s.x" % sid)),
         text_error(400, "invalid port"), "a 30-digit port: invalid port")
    t.eq(shape(await c.get(h, key=False)),
         envelope("X-API-Key header required"),
         "no key: 401 JSON envelope")
    t.eq(shape(await c.get(h, key=False, headers=[
        ("Authorization", "Bearer " + c.fake.seed["jwt_owner"])])),
         envelope("X-API-Key header required"),
         "a valid Bearer JWT is not accepted by the proxy")
    t.eq(shape(await c.get(h, key="wrn_nope")),
         envelope("invalid API key"), "unknown key: 401 invalid API key")
    t.eq(shape(await c.get("%d-cl-abc.localhost" % app_port, key=False)),
         envelope("X-API-Key header required"),
         "bad sandbox ID without a key: the key is checked first")
    t.eq(shape(await c.get("%d-cl-abc.localhost" % app_port)),
         text_error(400, "invalid sandbox ID"), "short ID: 400")
    t.eq(shape(await c.get(c.host("cl-" + "0" * 25, app_port))),
         text_error(404, "sandbox not found"), "unknown sandbox: 404")
    t.eq(shape(await c.get(h, key=c.fake.seed["api_key_b"])),
         text_error(404, "sandbox not found"),
         "another team's key: 404, never 403")
    r = await c.get(c.host("cl-z" + "0" * 24, app_port))
    t.eq(r, None, "ID above 2^128: connection dropped without a reply")

    paused = await c.sandbox()
    st, _ = await c.api("POST", "/v1/sandboxes/%s/pause" % paused)
    t.eq(st, 200, "pause a fresh sandbox")
    t.eq(shape(await c.get(c.host(paused, app_port))),
         text_error(409, "sandbox is not running (status: paused)"),
         "paused sandbox never proxied before: 409 with the status")

    st, host = await c.ctl("POST", "hosts", {"address": ""})
    t.eq(st, 201, "control: add a host without address")
    noaddr = await c.sandbox()
    await c.ctl("POST", "sandboxes/%s/host" % noaddr, {"host_id": host["id"]})
    t.eq(shape(await c.get(c.host(noaddr, app_port))),
         text_error(503, "host agent has no address"),
         "host without address: 503")

    free = await free_port()
    r = await c.get(c.host(sid, free))
    t.eq(shape(r), text_error(502, "proxy error: dial tcp 127.0.0.1:%d: "
                              "connect: connection refused" % free),
         "nothing listening: the agent's 502 dial error")
    r = await c.get(h, "/_status/404")
    t.eq(r.status, 404, "the app's own 404 is passed through unchanged")
    t.eq(r.body, b"app says 404",
         "the app's own 404 is passed through unchanged")
    log = await c.log()
    by = [e["proxy"]["answered_by"] for e in log if e["proxy"]
          and e["status"] == 404]
    t.eq(by[-2:], ["cp", "app"], "the log tells the proxy's 404 from the "
         "app's (proxy.answered_by)")


async def free_port():
    """A loopback port nobody listens on (bound, then released)."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


async def test_headers(t, c, app_port):
    """What reaches the app: key, hop-by-hop removal, XFF, Host."""
    sid = await c.sandbox()
    r = await c.get(c.host(sid, app_port), "/h?x=1", headers=[
        ("x-custom-thing", "a"), ("Connection", "close, X-Drop-Me"),
        ("X-Drop-Me", "1"), ("Keep-Alive", "timeout=5"),
        ("Proxy-Authorization", "Basic Zm9vOmJhcg=="), ("Te", "trailers"),
        ("X-Forwarded-For", "192.0.2.7"),
        ("Authorization", "Bearer abc")])
    got = r.json()
    hdr = dict((k, v) for k, v in got["headers"])
    names = [k for k, _ in got["headers"]]
    t.eq(hdr.get("X-Api-Key"), c.key,
         "X-API-Key reaches the app (the proxy does not strip it)")
    t.eq(hdr.get("Authorization"), "Bearer abc",
         "Authorization reaches the app")
    t.eq(hdr.get("Host"), "127.0.0.1:%d" % app_port,
         "Host is the target address")
    t.eq(hdr.get("X-Forwarded-For"), "192.0.2.7, 127.0.0.1, 127.0.0.1",
         "X-Forwarded-For: the client's and the CP's address appended")
    dropped = [n for n in ("X-Drop-Me", "Keep-Alive", "Proxy-Authorization",
                           "Connection") if n in hdr]
    t.eq(dropped, [], "hop-by-hop headers and those named in Connection "
         "are dropped")
    t.eq(hdr.get("Te"), "trailers", "Te: trailers is kept")
    t.eq(hdr.get("X-Custom-Thing"), "a", "header names are canonicalised")
    t.eq(hdr.get("Accept-Encoding"), "gzip",
         "Accept-Encoding: gzip added when the client sent none")
    t.eq(names[0], "Host", "Host goes first")
    t.eq(got["raw_path"], "/h?x=1", "query string kept")
    log = (await c.log())[-1]
    t.eq(log.get("has_api_key"), True,
         "request log: the key the proxied request carried, its target "
         "(has_api_key)")
    t.eq(log.get("api_key"), c.key,
         "request log: the key the proxied request carried, its target "
         "(api_key)")
    t.eq(log.get("proxy", {}).get("target"), "127.0.0.1:%d" % app_port,
         "request log: the key the proxied request carried, its target "
         "(target)")


async def test_paths(t, c, app_port):
    """path.Clean("/" + decoded path), re-escaped like Go."""
    sid = await c.sandbox()
    h = c.host(sid, app_port)
    cases = [("/", "/"), ("/a/b/", "/a/b"), ("//x//y", "/x/y"),
             ("/a/../../b", "/b"), ("/a/./b", "/a/b"), ("/a%2Fb", "/a/b"),
             ("/sp%20ace", "/sp%20ace"), ("/%41%42", "/AB"),
             ("/a%2F..%2Fb", "/b"), ("/caf%C3%A9", "/caf%C3%A9"),
             ("/x?q=1&r=%41", "/x?q=1&r=%41"),
             ("/x?b=2;c=3&a=1", "/x?a=1"),
             ("/x/?z=%zz&y=1", "/x?y=1")]
    for sent, want in cases:
        r = await c.get(h, sent)
        t.eq(r.json()["raw_path"] if r.status == 200 else r.status, want,
             "path %s reaches the app as %s" % (sent, want))
    r = await c.get(h, "/bad%zzescape")
    t.eq(r.status, 400, "an invalid %-escape is net/http's 400 before the "
         "proxy")


async def test_cache(t, c, app_port):
    """A paused sandbox still cached: forwarded, the agent's 503."""
    sid = await c.sandbox()
    h = c.host(sid, app_port)
    t.eq((await c.get(h, "/warm")).status, 200, "cache: first request")
    st, _ = await c.api("POST", "/v1/sandboxes/%s/pause" % sid)
    t.eq(st, 200, "cache: pause after proxying")
    t.eq(shape(await c.get(h)), text_error(503, "sandbox is not available"),
         "paused within the cache TTL: the agent's 503")
    log = (await c.log())[-1]["proxy"]
    t.eq(log.get("cache_hit"), True,
         "log: a cache hit answered by the agent (cache_hit)")
    t.eq(log.get("answered_by"), "agent",
         "log: a cache hit answered by the agent (answered_by)")
    st, body = await c.ctl("GET", "proxy")
    t.eq(st, 200, "control: GET /_fake/proxy shows the 120 s TTL")
    t.eq(body.get("cache_ttl_ms"), 120000,
         "control: GET /_fake/proxy shows the 120 s TTL (cache_ttl_ms)")
    t.has([e["sandbox_id"] for e in body["cache"]], sid,
          "control: ...and the cached entry")
    st, _ = await c.ctl("DELETE", "proxy/cache")
    t.eq(st, 204, "control: flush the cache")
    t.eq(shape(await c.get(h)),
         text_error(409, "sandbox is not running (status: paused)"),
         "after the flush the DB is read again: 409")
    st, _ = await c.api("POST", "/v1/sandboxes/%s/resume" % sid)
    t.eq((await c.get(h)).status, 200, "resumed: proxied again")
    st, body = await c.ctl("PUT", "proxy", {"cache_ttl_ms": 0})
    t.eq(st, 200, "control: TTL set to 0")
    t.eq(body.get("cache_ttl_ms"), 0, "control: TTL set to 0 (cache_ttl_ms)")
    await c.api("POST", "/v1/sandboxes/%s/pause" % sid)
    t.eq(shape(await c.get(h)),
         text_error(409, "sandbox is not running (status: paused)"),
         "TTL 0: no caching, the pause is seen at once")
    await c.ctl("PUT", "proxy", {"cache_ttl_ms": 120000})
    st, _ = await c.ctl("PUT", "proxy", {"cache_ttl_ms": -1})
    t.eq(st, 400, "control: a negative TTL is refused")


async def test_ports(t, c, app_port, app2_port):
    """Two sandboxes, both "8888", each mapped to its own server."""
    a = await c.sandbox()
    b = await c.sandbox()
    for sid, port in ((a, app_port), (b, app2_port)):
        st, body = await c.ctl("PUT", "sandboxes/%s/ports/8888" % sid,
                               {"target": "127.0.0.1:%d" % port})
        t.eq(st, 200, "control: map %s:8888" % sid[:8])
        t.eq(body.get("target"), "127.0.0.1:%d" % port,
             "control: map %s:8888 (target)" % sid[:8])
    ra = (await c.get(c.host(a, 8888), "/who")).json()
    rb = (await c.get(c.host(b, 8888), "/who")).json()
    hosts = [dict(r["headers"])["Host"] for r in (ra, rb)]
    t.eq(hosts, ["127.0.0.1:%d" % app_port, "127.0.0.1:%d" % app2_port],
         "each sandbox's 8888 reaches its own server")
    st, lst = await c.ctl("GET", "sandboxes/%s/ports" % a)
    t.eq(lst, [{"sandbox_id": a, "port": 8888,
                "target": "127.0.0.1:%d" % app_port}],
         "control: list a sandbox's mappings")
    st, _ = await c.ctl("DELETE", "sandboxes/%s/ports/8888" % a)
    t.eq(st, 204, "control: unmap")
    st, body = await c.ctl("PUT", "sandboxes/%s/ports/8888" % a,
                           {"target": "nope"})
    t.eq(st, 400, "control: a bad target is refused")


async def test_any_port(t, c, app_port, app2_port):
    """A port mapped for every sandbox; a sandbox's own mapping wins."""
    a = await c.sandbox()
    b = await c.sandbox()
    st, body = await c.ctl("PUT", "proxy/ports/7777",
                           {"target": "127.0.0.1:%d" % app_port})
    t.eq(st, 200, "control: map 7777 of every sandbox")
    t.eq(body, {"port": 7777, "target": "127.0.0.1:%d" % app_port},
         "control: map 7777 of every sandbox (answer)")
    st, _ = await c.ctl("PUT", "sandboxes/%s/ports/7777" % b,
                        {"target": "127.0.0.1:%d" % app2_port})
    ra = (await c.get(c.host(a, 7777), "/who")).json()
    rb = (await c.get(c.host(b, 7777), "/who")).json()
    hosts = [dict(r["headers"])["Host"] for r in (ra, rb)]
    t.eq(hosts, ["127.0.0.1:%d" % app_port, "127.0.0.1:%d" % app2_port],
         "every sandbox's 7777 reaches the server, but one mapped itself")
    st, _ = await c.ctl("PUT", "proxy/ports/0", {"target": "127.0.0.1:1"})
    t.eq(st, 400, "control: port 0 is refused")


async def test_bodies(t, c, app_port):
    """100 MiB up (Content-Length and chunked) and down, streamed."""
    sid = await c.sandbox()
    h = c.host(sid, app_port)
    base_rss = c.fake.peak_rss_kib()
    want = pattern_sha(BIG)
    for chunked in (False, True):
        reader, writer = await asyncio.open_connection("127.0.0.1", c.port)
        frame = "Transfer-Encoding: chunked" if chunked else \
            "Content-Length: %d" % BIG
        writer.write(("PUT /upload HTTP/1.1\r\nHost: %s\r\nX-API-Key: %s\r\n"
                      "%s\r\nConnection: close\r\n\r\n" % (h, c.key, frame))
                     .encode())
        for b in pattern(BIG):
            writer.write(b"%x\r\n%s\r\n" % (len(b), b) if chunked else b)
            await writer.drain()
        if chunked:
            writer.write(b"0\r\n\r\n")
        r = await read_response(reader)
        writer.close()
        got = r.json()
        t.eq(got.get("body_bytes"), BIG,
             "%d MiB %s upload reaches the app intact (body_bytes)" % ( BIG // MiB, "chunked" if chunked else "Content-Length"))
        t.eq(got.get("body_sha256"), want,
             "%d MiB %s upload reaches the app intact (body_sha256)" % ( BIG // MiB, "chunked" if chunked else "Content-Length"))
    reader, writer = await asyncio.open_connection("127.0.0.1", c.port)
    writer.write(("GET /_down/%d HTTP/1.1\r\nHost: %s\r\nX-API-Key: %s\r\n"
                  "Connection: close\r\n\r\n" % (BIG, h, c.key)).encode())
    r = await read_response_streaming(reader)
    writer.close()
    t.eq(r, (200, BIG, want), "%d MiB streamed download intact"
         % (BIG // MiB))
    grown = c.fake.peak_rss_kib() - base_rss
    t.ok(grown < 64 * 1024, "the fake streams: peak RSS grew %d MiB"
         % (grown // 1024))


async def read_response_streaming(reader):
    """(status, body bytes, sha256) of a chunked response, streamed."""
    status = int((await reader.readline()).split()[1])
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    h = hashlib.sha256()
    n = 0
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        if size == 0:
            break
        while size:
            b = await reader.read(min(size, MiB))
            h.update(b)
            n += len(b)
            size -= len(b)
        await reader.readline()
    return status, n, h.hexdigest()


async def test_gzip(t, c, app_port):
    sid = await c.sandbox()
    h = c.host(sid, app_port)
    r = await c.get(h, "/_gzip")
    t.eq(r.status, 200,
         "no Accept-Encoding: the gzip the proxy asked for is decoded")
    t.eq(r.header("Content-Encoding"), None,
         "no Accept-Encoding: the gzip the proxy asked for is decoded")
    t.eq(r.body, b"compressed hello\n" * 100,
         "no Accept-Encoding: the gzip the proxy asked for is decoded")
    r = await c.get(h, "/_gzip", headers=[("Accept-Encoding", "gzip")])
    t.eq(r.header("Content-Encoding"), "gzip",
         "client asked for gzip: passed through compressed")
    t.eq(gzip.decompress(r.body), b"compressed hello\n" * 100,
         "client asked for gzip: passed through compressed")


async def test_ws(t, c, app_port, session):
    """A WebSocket echo through the proxy, frames untouched."""
    sid = await c.sandbox()
    url = "http://127.0.0.1:%d/_ws" % c.port
    ws = await session.ws_connect(url, protocols=("echo.v1",), headers={
        "Host": c.host(sid, app_port), "X-API-Key": c.key})
    t.eq(ws.protocol, "echo.v1", "ws: the app's subprotocol comes through")
    await ws.send_str("hello \u00e9")
    m = await ws.receive(timeout=10)
    t.eq(m.type, WS.TEXT, "ws: text echo")
    t.eq(m.data, "hello é", "ws: text echo")
    blob = bytes(range(256)) * 1000
    await ws.send_bytes(blob)
    m = await ws.receive(timeout=10)
    t.eq(m.type, WS.BINARY, "ws: 256000-byte binary echo")
    t.eq(m.data == blob, True, "ws: 256000-byte binary echo")
    await ws.send_str("close 4001")
    m = await ws.receive(timeout=10)
    t.eq(m.type, WS.CLOSE, "ws: the app's close frame and code pass through")
    t.eq(m.data, 4001, "ws: the app's close frame and code pass through")
    await ws.close()
    log = [e for e in await c.log() if e["path"] == "/_ws"][-1]
    t.eq(log.get("status"), 101,
         "ws: logged as an upgraded request (status 101) (status)")
    t.eq(log.get("proxy", {}).get("upgraded"), True,
         "ws: logged as an upgraded request (status 101) (upgraded)")
    t.ok(min(log["proxy"]["bytes_in"], log["proxy"]["bytes_out"]) > 256000,
         "ws: the log counts the pipe's bytes both ways", log["proxy"])
    r = await c.get(c.host(sid, app_port), "/_status/400", headers=[
        ("Connection", "Upgrade"), ("Upgrade", "websocket")])
    t.eq(r.status, 400, "an upgrade the app refuses is a normal answer")


async def test_faults(t, c, app_port):
    sid = await c.sandbox()
    h = c.host(sid, app_port)
    st, _ = await c.ctl("POST", "faults", {"path": "^/boom$", "proxy": True,
                                          "reset": True, "count": 1})
    t.eq(st, 201, "fault: add a proxy reset rule")
    t.eq(await c.get(h, "/boom"), None, "fault: reset drops the proxied "
         "request")
    t.eq((await c.get(h, "/boom")).status, 200, "fault: count 1 used up")
    await c.ctl("POST", "faults", {"path": "^/boom$", "count": 1,
                                   "reset": True})
    t.eq((await c.get(h, "/boom")).status, 200,
         "fault: a rule without proxy:true leaves proxied requests alone")
    await c.ctl("DELETE", "faults")
    await c.ctl("POST", "faults", {"path": "^/t$", "proxy": True,
                                   "status": 503, "text": "busy",
                                   "count": 1})
    r = await c.get(h, "/t")
    t.eq(r.status, 503, "fault: a status answer")
    t.eq(r.body, b"busy", "fault: a status answer")
    await c.ctl("POST", "faults", {"path": "^/_down/", "proxy": True,
                                   "count": 1,
                                   "stream": {"action": "cut",
                                              "after_bytes": 1000}})
    reader, writer = await asyncio.open_connection("127.0.0.1", c.port)
    writer.write(("GET /_down/100000 HTTP/1.1\r\nHost: %s\r\nX-API-Key: %s"
                  "\r\n\r\n" % (h, c.key)).encode())
    data = await reader.read()
    writer.close()
    body = data.split(b"\r\n\r\n", 1)[1]
    t.ok(body.startswith(b"3e8\r\n"),
         "fault: stream cut after 1000 body bytes, body unterminated",
         len(body))
    t.eq(len(body), 1000 + 7,
         "fault: stream cut after 1000 body bytes, body unterminated (length)")
    t.ok(not body.endswith(b"0\r\n\r\n"),
         "fault: stream cut after 1000 body bytes, body unterminated",
         len(body))
    await c.ctl("DELETE", "faults")


def ws_client_frame(text):
    """A masked text frame (a client's), FIN set, payload < 126 bytes."""
    payload = text.encode()
    mask = b"\x01\x02\x03\x04"
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(payload))


async def test_connection(t, c, app_port):
    """Keep-alive, HEAD, 204, pipelining, Expect, then an upgrade, all on
    one client connection."""
    sid = await c.sandbox()
    h = c.host(sid, app_port)
    reader, writer = await asyncio.open_connection("127.0.0.1", c.port)

    def req(method, path, extra=""):
        return ("%s %s HTTP/1.1\r\nHost: %s\r\nX-API-Key: %s\r\n%s\r\n"
                % (method, path, h, c.key, extra)).encode()

    try:
        writer.write(req("GET", "/one"))
        r = await read_response(reader)
        t.eq(r.status, 200, "keep-alive: first request")
        t.eq(r.json().get("raw_path"), "/one",
             "keep-alive: first request (raw_path)")
        writer.write(req("HEAD", "/two"))
        r = await read_response(reader, "HEAD")
        t.eq(r.status, 200, "keep-alive: HEAD keeps the app's Content-Length")
        t.eq(r.header("Content-Length") is not None, True,
             "keep-alive: HEAD keeps the app's Content-Length")
        writer.write(req("GET", "/_status/204"))
        r = await read_response(reader)
        t.eq(r.status, 204, "keep-alive: a 204")
        t.eq(r.body, b"", "keep-alive: a 204")
        writer.write(req("POST", "/three", "Content-Length: 3\r\n") + b"xyz"
                     + req("GET", "/four") + req("GET", "/five"))
        got = []
        for method in ("POST", "GET", "GET"):
            r = await read_response(reader, method)
            got.append((r.json()["method"], r.json()["raw_path"],
                        r.json()["body_bytes"]))
        t.eq(got, [("POST", "/three", 3), ("GET", "/four", 0),
                   ("GET", "/five", 0)],
             "pipelined requests answered in order")
        writer.write(req("PUT", "/six", "Content-Length: 4\r\n"
                         "Expect: 100-continue\r\n"))
        interim = await reader.readline()
        await reader.readline()
        writer.write(b"abcd")
        r = await read_response(reader, "PUT")
        t.eq(interim, b"HTTP/1.1 100 Continue\r\n",
             "Expect: 100-continue is answered, then the body goes through")
        t.eq(r.json().get("body_bytes"), 4,
             "Expect: 100-continue is answered, then the body goes through "
             "(body_bytes)")
        writer.write(req("GET", "/_ws", "Connection: Upgrade\r\n"
                         "Upgrade: websocket\r\nSec-WebSocket-Version: 13"
                         "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
                         "\r\n") + ws_client_frame("after requests"))
        r = await read_response(reader)
        t.eq(r.status, 101,
             "an upgrade after requests on the same connection: 101")
        t.eq(r.header("Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
             "an upgrade after requests on the same connection: 101")
        frame = await reader.readexactly(2 + len("after requests"))
        t.eq(frame, b"\x81\x0eafter requests",
             "a frame sent right behind the upgrade request is echoed")
    finally:
        writer.close()


async def test_concurrent(t, c, app_port):
    sid = await c.sandbox()
    h = c.host(sid, app_port)
    rs = await asyncio.gather(*(c.get(h, "/c%d" % i) for i in range(100)))
    got = sorted(r.json()["raw_path"] for r in rs if r and r.status == 200)
    t.eq(got, sorted("/c%d" % i for i in range(100)),
         "100 concurrent proxied requests all answered")


async def test_client_gone(t, c, app_port):
    """A client leaving mid-download closes the app's connection too."""
    sid = await c.sandbox()
    h = c.host(sid, app_port)
    before = APP_EVENTS["down_aborted"]
    reader, writer = await asyncio.open_connection("127.0.0.1", c.port)
    writer.write(("GET /_down/%d HTTP/1.1\r\nHost: %s\r\nX-API-Key: %s"
                  "\r\n\r\n" % (1 << 30, h, c.key)).encode())
    await reader.readexactly(MiB)
    writer.transport.abort()
    for _ in range(600):
        if APP_EVENTS["down_aborted"] > before:
            break
        await asyncio.sleep(0.05)
    t.eq(APP_EVENTS["down_aborted"], before + 1,
         "the app's download fails once the client is gone")
    t.eq((await c.get(h, "/after")).status, 200,
         "the proxy serves the next request")


async def amain(t, tmp, fakes):
    fake = Fake(tmp, "main")
    fakes.append(fake)
    runner, app_port = await start_app()
    runner2, app2_port = await start_app()
    c = Client(fake)
    try:
        async with aiohttp.ClientSession() as session:
            for name, coro in (
                    ("errors", test_errors(t, c, app_port)),
                    ("headers", test_headers(t, c, app_port)),
                    ("paths", test_paths(t, c, app_port)),
                    ("cache", test_cache(t, c, app_port)),
                    ("ports", test_ports(t, c, app_port, app2_port)),
                    ("any port", test_any_port(t, c, app_port, app2_port)),
                    ("gzip", test_gzip(t, c, app_port)),
                    ("ws", test_ws(t, c, app_port, session)),
                    ("faults", test_faults(t, c, app_port)),
                    ("connection", test_connection(t, c, app_port)),
                    ("concurrent", test_concurrent(t, c, app_port)),
                    ("client gone", test_client_gone(t, c, app_port)),
                    ("bodies", test_bodies(t, c, app_port))):
                await case(t, name, coro)
    finally:
        await runner.cleanup()
        await runner2.cleanup()


def _main_body(t, tmp, fakes):
    asyncio.run(amain(t, tmp, fakes))


def main():
    return run("test-fakecp-proxy-", _main_body)


if __name__ == "__main__":
    sys.exit(main())
