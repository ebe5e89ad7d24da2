# SPDX-License-Identifier: MIT
"""The sandbox reverse proxy (CONTRACT 9): handler_sandbox_proxy.go at
172413e plus the host agent's /proxy/ handler and Go's
httputil.ReverseProxy at both hops.

fakecp.py asks match_host() about every request before anything else (the
real proxy wraps the whole router); a Host of the form
{port}-{sandbox_id}.{anything}[:port] comes here instead of the API.
Processing order and replies, exactly as the CP:

  1. port not 1..65535          400 text/plain "invalid port"
  2. X-API-Key only             401 JSON envelope "X-API-Key header
                                required" / "invalid API key" (last_used
                                is not updated; a Bearer token is ignored).
                                With --dialect capsules (f5a23c1, CONTRACT
                                9.5) no credential is checked at all: the
                                sandbox is looked up by its ID alone.
  3. sandbox ID unparseable     400 text/plain "invalid sandbox ID" (the
                                >2^128 ID quirk drops the connection)
  4. target lookup, cached per (sandbox, team) for cache_ttl seconds
     (120 by default), the DB read only on a miss:
       unknown for the key's team, or its host row gone (an inner JOIN)
                                404 text/plain "sandbox not found"
       status != running        409 "sandbox is not running (status: X)"
       host without address     503 "host agent has no address"
  5. the host agent: a sandbox whose VM is not up (paused, destroyed;
     reachable through a cached target) gets 503 "sandbox is not
     available"; otherwise the request goes to the sandbox port, which is
     127.0.0.1:PORT unless a control endpoint mapped it elsewhere.  Nothing
     listening: 502 "proxy error: dial tcp 127.0.0.1:P: connect: connection
     refused".  A broken or malformed response: 502 "proxy error: ...".
     Anything the app answers is passed through.

What the app sees (two ReverseProxy hops): the path as
path.Clean("/" + decoded path) re-escaped the way Go escapes paths (so the
trailing slash goes, // and .. collapse, %2F becomes /), the raw query
(re-encoded by url.Values.Encode when it holds ';' or a bad % escape),
Host = the target address, header names canonicalised and sorted,
hop-by-hop headers (and those named in Connection) removed, X-Forwarded-For
with the client's and the CP's address appended, every other header
including X-API-Key, Accept-Encoding: gzip added when the client sent none
(and a gzip answer then decompressed for the client, as Go's Transport
does).  Bodies stream both ways with bounded buffers.  An Upgrade request
answered with 101 becomes a byte pipe in both directions until either side
closes.

Every proxied request is in the request log with a "proxy" object (see
README.md).  Fault rules with "proxy": true apply here (fakecp.py).
The /_fake/proxy and /_fake/sandboxes/{id}/ports control endpoints are
registered by register_control().
"""

import asyncio
import contextlib
import errno
import os
import re
import time
import zlib

from aiohttp import web

import httpio
import ids
import state as st
import streamfault
from httpio import error, http_error

CACHE_TTL = 120.0                 # seconds, proxyCacheTTL
MAX_RESPONSE_HEAD = 10 << 20      # Go Transport MaxResponseHeaderBytes
LINE_MAX = 1 << 20                # longest response line read at once
COPY_CHUNK = 64 << 10             # bytes per read when relaying
PIPE_HIGH = 1 << 20               # upgraded pipe: pause the client above
MAX_PORT_MAPS = 10000             # control endpoint entries kept

_HOST_RE = re.compile(r"^([0-9]+)-(cl-[0-9a-z]+)\.")
_HOP_BY_HOP = frozenset(("connection", "proxy-connection", "keep-alive",
                         "proxy-authenticate", "proxy-authorization", "te",
                         "trailer", "transfer-encoding", "upgrade"))
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_QUERY_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        b"0123456789-_.~")
_NO_BODY_LENGTH_METHODS = ("GET", "HEAD")


def match_host(host):
    """(port text, sandbox ID text) if the Host is a proxy host, else None.

    The port suffix is stripped at the last ':' (even without a port)."""
    i = host.rfind(":")
    if i != -1:
        host = host[:i]
    m = _HOST_RE.match(host)
    return (m.group(1), m.group(2)) if m else None


# --------------------------------------------------------------------------
# Go's URL and header rules

def go_clean(p):
    """path.Clean on a rooted path (latin-1 text, one char per byte)."""
    parts = []
    for seg in p.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts:
                parts.pop()
            continue
        parts.append(seg)
    return "/" + "/".join(parts)


def app_path(raw_path):
    """The path the app receives for the client's raw request path."""
    decoded = httpio.unescape(raw_path, False).decode("latin-1")
    return httpio.escape_path(go_clean("/" + decoded).encode("latin-1"))


def _query_escape(b):
    return "".join(chr(c) if c in _QUERY_SAFE else
                   "+" if c == 0x20 else "%%%02X" % c for c in b)


def app_query(raw_query):
    """ReverseProxy's cleanQueryParams: re-encode only a query holding ';'
    or a malformed % escape (url.ParseQuery, then Values.Encode)."""
    bad = ";" in raw_query or re.search(r"%(?![0-9A-Fa-f]{2})", raw_query)
    if not bad:
        return raw_query
    values = httpio.parse_query(raw_query)
    out = []
    for k in sorted(values, key=lambda s: s.encode("utf-8",
                                                    "surrogateescape")):
        ek = _query_escape(k.encode("utf-8", "surrogateescape"))
        for v in values[k]:
            out.append(ek + "=" + _query_escape(
                v.encode("utf-8", "surrogateescape")))
    return "&".join(out)


def canonical_key(name):
    """textproto.CanonicalMIMEHeaderKey."""
    if not name or any(c not in _TOKEN for c in name):
        return name
    out = []
    upper = True
    for c in name:
        if upper and "a" <= c <= "z":
            c = c.upper()
        elif not upper and "A" <= c <= "Z":
            c = c.lower()
        out.append(c)
        upper = c == "-"
    return "".join(out)


def _tokens(values):
    for v in values:
        for t in v.split(","):
            t = t.strip(" \t")
            if t:
                yield t


def _header_list(raw_headers):
    """[(canonical name, value)] from raw (bytes, bytes) pairs."""
    return [(canonical_key(k.decode("latin-1")), v.decode("latin-1"))
            for k, v in raw_headers]


def _values(headers, name):
    return [v for k, v in headers if k == name]


def _strip_hop_by_hop(headers):
    """removeHopByHopHeaders: the fixed list and what Connection names."""
    named = {t.lower() for t in _tokens(_values(headers, "Connection"))}
    return [(k, v) for k, v in headers
            if k.lower() not in _HOP_BY_HOP and k.lower() not in named]


def upgrade_type(headers):
    """ReverseProxy's upgradeType: Upgrade if Connection lists upgrade."""
    if any(t.lower() == "upgrade"
           for t in _tokens(_values(headers, "Connection"))):
        up = _values(headers, "Upgrade")
        return up[0] if up else ""
    return ""


def _dial_error(host, port, e):
    """The text of Go's net.Dial error for an OSError."""
    addr = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host,
                                                                  port)
    if isinstance(e, OSError) and e.errno is not None and \
            e.errno in errno.errorcode:
        text = os.strerror(e.errno)
        return "dial tcp %s: connect: %s" % (addr, text[:1].lower()
                                              + text[1:])
    return "dial tcp: lookup %s: no such host" % host


def _read_error(writer, e):
    """Go's text for a failed read on the app connection."""
    def addr(a):
        return ("[%s]:%d" if ":" in a[0] else "%s:%d") % a[:2]
    sock = writer.get_extra_info("sockname") or ("127.0.0.1", 0)
    peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
    text = os.strerror(e.errno) if e.errno else str(e)
    return "read tcp %s->%s: read: %s" % (addr(sock), addr(peer),
                                          text[:1].lower() + text[1:])


class BadResponse(Exception):
    """The app's answer is not HTTP: the Transport's error text."""


class ResponseHead:
    """A parsed response head from the app."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers        # [(canonical name, value)]
        self.raw = raw                # the head bytes as received


async def read_head(reader):
    """Read one response head; 1xx other than 101 are skipped."""
    while True:
        raw = bytearray()
        lines = []
        while True:
            try:
                line = await reader.readline()
            except (ValueError, asyncio.LimitOverrunError):
                raise BadResponse("net/http: server response headers "
                                  "exceeded %d bytes; aborted"
                                  % MAX_RESPONSE_HEAD)
            if not line:
                raise BadResponse("EOF" if not raw else "unexpected EOF")
            raw += line
            if len(raw) > MAX_RESPONSE_HEAD:
                raise BadResponse("net/http: server response headers "
                                  "exceeded %d bytes; aborted"
                                  % MAX_RESPONSE_HEAD)
            text = line.rstrip(b"\r\n")
            if not text and lines:
                break
            lines.append(text.decode("latin-1"))
        first = lines[0]
        proto, _, rest = first.partition(" ")
        code = rest[:3]
        if not proto.startswith("HTTP/") or len(code) != 3 or \
                not code.isdigit() or (rest[3:4] not in ("", " ")):
            raise BadResponse("malformed HTTP response %s"
                              % _go_quote(first))
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip(" \t"):
                raise BadResponse("malformed MIME header line: %s" % line)
            headers.append((canonical_key(name), value.strip(" \t")))
        status = int(code)
        if 100 <= status < 200 and status != 101:
            continue
        return ResponseHead(status, headers, bytes(raw))


def _go_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------
# Response body framing (the app's side)

async def _body_chunks(reader, head, method):
    """Yield the app's response body, de-framed."""
    if method == "HEAD" or head.status in (204, 304) or head.status < 200:
        return
    te = [t.lower() for t in _tokens(_values(head.headers,
                                             "Transfer-Encoding"))]
    if te and te[-1] == "chunked":
        async for data in _chunked(reader):
            yield data
        return
    cl = _values(head.headers, "Content-Length")
    if cl and not te:
        try:
            left = int(cl[0])
        except ValueError:
            raise BadResponse("bad Content-Length %s" % _go_quote(cl[0]))
        async for data in _exactly(reader, left):
            yield data
        return
    while True:
        data = await reader.read(COPY_CHUNK)
        if not data:
            return
        yield data


async def _exactly(reader, n):
    """Yield the next n bytes in pieces; a short read is a BadResponse."""
    while n > 0:
        data = await reader.read(min(n, COPY_CHUNK))
        if not data:
            raise BadResponse("unexpected EOF")
        n -= len(data)
        yield data


async def _chunked(reader):
    while True:
        try:
            line = await reader.readline()
        except (ValueError, asyncio.LimitOverrunError):
            raise BadResponse("http chunk length too large")
        if not line.endswith(b"\n"):
            raise BadResponse("unexpected EOF")
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadResponse("invalid byte in chunk length")
        if size == 0:
            while True:               # trailers are dropped
                t = await reader.readline()
                if not t.endswith(b"\n"):
                    raise BadResponse("unexpected EOF")
                if not t.strip():
                    return
        async for data in _exactly(reader, size):
            yield data
        if (await reader.readline()).strip():
            raise BadResponse("malformed chunked encoding")


class _Gunzip:
    """Transport's transparent gzip decoding (multi-member)."""

    def __init__(self):
        self.z = zlib.decompressobj(wbits=31)

    def feed(self, data):
        out = []
        while data:
            out.append(self.z.decompress(data))
            data = self.z.unused_data
            if data:
                self.z = zlib.decompressobj(wbits=31)
        return b"".join(out)

    def end(self):
        if not self.z.eof and self.z.unconsumed_tail == b"":
            tail = self.z.flush()
            if not self.z.eof:
                raise BadResponse("unexpected EOF")
            return tail
        return self.z.flush()


class PassResponse(web.StreamResponse):
    """The app's response: its headers only, no aiohttp additions."""

    def __init__(self, status, headers):
        super().__init__(status=status)
        self._keep = {k.lower() for k, _ in headers}
        for k, v in headers:
            self.headers.add(k, v)

    async def _write_headers(self):
        for name in ("Server", "Content-Type"):
            if name.lower() not in self._keep:
                self._headers.popall(name, None)
        await super()._write_headers()


class SentResponse(web.StreamResponse):
    """Stands for a reply already written on the raw transport (a 101)."""

    def __init__(self, status):
        super().__init__(status=status)
        self.force_close()

    async def prepare(self, request):
        return None

    async def write_eof(self, data=b""):
        return None


# --------------------------------------------------------------------------
# Fault actions on the bytes going to the client

class FaultedSink:
    """Applies a rule's "stream" action to the app->client bytes: cut
    (truncate and error are cuts here), stall, corrupt."""

    def __init__(self, fault, request):
        self.fault = fault
        self.request = request
        self.sent = 0                 # bytes passed so far
        self.armed = fault is not None

    async def write(self, data, out):
        """Send data with the coroutine out(); False if the stream ended
        here (the connection is already closed)."""
        f = self.fault
        at = (f.after_bytes or 0) if self.armed else 0
        if not self.armed or self.sent + len(data) < at:
            self.sent += len(data)
            await out(data)
            return True
        if f.action == "corrupt":
            if self.sent <= at < self.sent + len(data):
                i = at - self.sent
                data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
                self.armed = False
            self.sent += len(data)
            await out(data)
            return True
        head, rest = data[:at - self.sent], data[at - self.sent:]
        if head:
            await out(head)
        self.sent = at
        self.armed = False
        if f.action == "stall":
            await streamfault.stall(f)
            if rest:
                await out(rest)
            return True
        httpio.drop_connection(self.request, f.rst)
        return False


# --------------------------------------------------------------------------
# The proxy

class Proxy:
    """The CP's proxy wrapper, its target cache and the port map."""

    def __init__(self, state, agent, cache_ttl=CACHE_TTL,
                 dialect="sandboxes"):
        self.state = state
        self.agent = agent
        self.cache_ttl = cache_ttl   # seconds
        # f5a23c1 checks no credential: IDs are taken as unguessable.
        self.keyless = dialect == "capsules"
        self.cache = {}              # (sandbox, team) -> (stamp, address)
        self.ports = {}              # (sandbox, port) -> (host, port)
        self.any_ports = {}          # port -> (host, port), every sandbox

    # ---- CP side ---------------------------------------------------------

    def _lookup(self, sandbox_id, team_id, info):
        """proxyTarget: (host address, None) or (None, response)."""
        key = (sandbox_id, team_id)
        hit = self.cache.get(key)
        now = time.monotonic()
        if hit is not None and now < hit[0] + self.cache_ttl:
            info["cache_hit"] = True
            return hit[1], None
        sb = self.state.sandboxes.get(sandbox_id) if self.keyless else \
            self.state.sandbox_by_team(sandbox_id, team_id)
        host = self.state.hosts.get(sb.host_id) if sb is not None else None
        if host is None:
            return None, http_error(404, "sandbox not found")
        if sb.status != st.RUNNING:
            return None, http_error(409, "sandbox is not running (status: "
                                    "%s)" % sb.status)
        if host.address == "":
            return None, http_error(503, "host agent has no address")
        self.cache[key] = (now, host.address)
        return host.address, None

    async def serve(self, ctx, port_text, sandbox_text):
        """One proxied request; returns the (possibly sent) response."""
        info = {"sandbox_id": sandbox_text, "port": None, "team_id": None,
                "target": None, "path": None, "query": None,
                "answered_by": "cp", "error": None, "upgraded": False,
                "bytes_in": 0, "bytes_out": 0, "cache_hit": False}
        if ctx.log is not None:
            ctx.log["proxy"] = info
        try:
            port = int(port_text)
        except ValueError:
            port = 0
        if not 1 <= port <= 65535:
            return self._fail(info, http_error(400, "invalid port"))
        info["port"] = port
        team_id = None
        if not self.keyless:
            key = ctx.header("X-API-Key")
            if not key:
                return self._fail(info, error(401, "unauthorized",
                                              "X-API-Key header required"))
            rec = self.state.api_key_by_plaintext(key)
            if rec is None:
                return self._fail(info, error(401, "unauthorized",
                                              "invalid API key"))
            team_id = info["team_id"] = rec.team_id
        if ids.parse(ids.SANDBOX, sandbox_text) is None:
            return self._fail(info, http_error(400, "invalid sandbox ID"))
        _, resp = self._lookup(sandbox_text, team_id, info)
        if resp is not None:
            return self._fail(info, resp)
        return await self._agent(ctx, info, sandbox_text, port)

    def _fail(self, info, resp):
        info["error"] = resp.body.decode("utf-8", "replace").rstrip("\n")
        return resp

    # ---- host agent side -------------------------------------------------

    async def _agent(self, ctx, info, sandbox_id, port):
        """The host agent's ProxyHandler, then ReverseProxy to the app."""
        info["answered_by"] = "agent"
        sb = self.state.sandboxes.get(sandbox_id)
        if sb is None or sb.run_started is None:
            return self._fail(info, http_error(503,
                                               "sandbox is not available"))
        host, tport = self.ports.get((sandbox_id, port)) or \
            self.any_ports.get(port, ("127.0.0.1", port))
        info["target"] = "%s:%d" % (host, tport) if ":" not in host else \
            "[%s]:%d" % (host, tport)
        info["path"] = app_path(ctx.raw_path)
        info["query"] = app_query(ctx.raw_query)
        return await Forward(ctx, info, host, tport).run()

    # ---- control -----------------------------------------------------------

    def describe(self):
        now = time.monotonic()
        cache = []
        for (sid, team), (stamp, addr) in sorted(self.cache.items()):
            left = stamp + self.cache_ttl - now
            if left > 0:
                cache.append({"sandbox_id": sid, "team_id": team,
                              "host_address": addr,
                              "expires_in_ms": int(left * 1000)})
        return {"cache_ttl_ms": int(self.cache_ttl * 1000), "cache": cache,
                "ports": self.port_list()}

    def port_list(self, sandbox_id=None):
        return [{"sandbox_id": sid, "port": p, "target": "%s:%d" % t}
                for (sid, p), t in sorted(self.ports.items())
                if sandbox_id is None or sid == sandbox_id]


class Forward:
    """One request forwarded to the app, and its response relayed."""

    def __init__(self, ctx, info, host, port):
        self.ctx = ctx
        self.request = ctx.request
        self.info = info
        self.host = host
        self.port = port
        self.headers = _header_list(ctx.request.raw_headers)
        self.up_type = upgrade_type(self.headers)
        self.added_gzip = False
        self.fault = FaultedSink(streamfault.of(ctx), ctx.request)

    def _head(self):
        """The request head the app receives."""
        req = self.request
        h = _strip_hop_by_hop(self.headers)
        if any(t.lower() == "trailers" for t in
               _tokens(_values(self.headers, "Te"))):
            h.append(("Te", "trailers"))
        if self.up_type:
            h += [("Connection", "Upgrade"), ("Upgrade", self.up_type)]
        xff = _values(h, "X-Forwarded-For")
        client = (req.transport.get_extra_info("peername") or
                  ("127.0.0.1",))[0]
        chain = xff + [client, "127.0.0.1"]     # the CP hop, then the agent
        h = [(k, v) for k, v in h if k not in ("X-Forwarded-For", "Host",
                                               "Content-Length")]
        h.append(("X-Forwarded-For", ", ".join(chain)))
        if not _values(h, "Accept-Encoding") and not _values(h, "Range") \
                and req.method != "HEAD":
            self.added_gzip = True
        ua = _values(h, "User-Agent")
        h = [(k, v) for k, v in h if k != "User-Agent"]
        target = self.info["path"] + ("?" + self.info["query"]
                                      if self.info["query"] else "")
        lines = ["%s %s HTTP/1.1" % (req.method, target),
                 "Host: " + self.info["target"]]
        if ua and ua[0]:
            lines.append("User-Agent: " + ua[0])
        if self.chunked:
            lines.append("Transfer-Encoding: chunked")
        elif self.length > 0 or req.method not in _NO_BODY_LENGTH_METHODS:
            lines.append("Content-Length: %d" % self.length)
        for k in sorted({k for k, _ in h}):
            for v in _values(h, k):
                lines.append("%s: %s" % (k, v))
        if self.added_gzip:
            lines.append("Accept-Encoding: gzip")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def run(self):
        req = self.request
        self.chunked = req.headers.get("Transfer-Encoding", "").lower() \
            .endswith("chunked")
        self.length = 0 if self.chunked else (req.content_length or 0)
        self.ctx.body_consumed = True
        try:
            reader, writer = await asyncio.open_connection(
                self.host, self.port, limit=LINE_MAX)
        except OSError as e:
            return self._bad_gateway(_dial_error(self.host, self.port, e))
        try:
            return await self._exchange(reader, writer)
        finally:
            writer.transport.abort()

    def _bad_gateway(self, text):
        resp = http_error(502, "proxy error: " + text)
        self.info["error"] = "proxy error: " + text
        if self.ctx.log is not None:
            self.ctx.log["status"] = 502
        return resp

    async def _exchange(self, reader, writer):
        writer.write(self._head())
        pump = None
        if self.chunked or self.length > 0:
            pump = asyncio.ensure_future(self._send_body(writer))
        gone = self.ctx.watch_disconnect()
        head_task = asyncio.ensure_future(read_head(reader))
        try:
            waits = {head_task, gone} | ({pump} if pump else set())
            while not head_task.done():
                done, _ = await asyncio.wait(
                    waits, return_when=asyncio.FIRST_COMPLETED)
                if gone in done or (pump in done and pump.result()):
                    self._client_gone()
                    return SentResponse(499)
                waits -= done
            try:
                head = head_task.result()
            except BadResponse as e:
                return self._bad_gateway(str(e))
            except OSError as e:
                return self._bad_gateway(_read_error(writer, e))
            if head.status == 101:
                return await self._upgrade(head, reader, writer)
            return await self._relay(head, reader)
        finally:
            gone.cancel()
            head_task.cancel()
            if pump is not None:
                pump.cancel()

    def _client_gone(self):
        if self.ctx.log is not None:
            self.ctx.log["client_gone"] = True

    async def _send_body(self, writer):
        """Client body -> app; True if the client went away mid-body."""
        req = self.request
        if req.version >= (1, 1) and \
                req.headers.get("Expect", "").lower() == "100-continue":
            with contextlib.suppress(ConnectionError):
                await req.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        log = self.ctx.log
        kept = bytearray()
        while True:
            try:
                data = await req.content.readany()
            except Exception:
                return True
            if not data:
                break
            self.info["bytes_in"] += len(data)
            if log is not None and len(kept) <= httpio.LOG_BODY_MAX:
                kept += data[:httpio.LOG_BODY_MAX + 1 - len(kept)]
                log["body"] = bytes(kept[:httpio.LOG_BODY_MAX]).decode(
                    "utf-8", "replace")
                log["body_truncated"] = len(kept) > httpio.LOG_BODY_MAX
            if log is not None:
                log["body_bytes"] = self.info["bytes_in"]
            try:
                if self.chunked:
                    writer.write(b"%x\r\n" % len(data))
                    writer.write(data)
                    writer.write(b"\r\n")
                else:
                    writer.write(data)
                await writer.drain()
            except OSError:
                return False          # the app stopped reading: its answer
        if self.chunked:
            with contextlib.suppress(OSError):
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        return False

    async def _relay(self, head, reader):
        """Stream the app's response to the client."""
        headers = _strip_hop_by_hop(head.headers)
        gunzip = None
        if self.added_gzip and any(v.lower() == "gzip" for v in _values(
                head.headers, "Content-Encoding")) and \
                self.request.method != "HEAD" and \
                head.status not in (204, 304):
            gunzip = _Gunzip()
            headers = [(k, v) for k, v in headers
                       if k not in ("Content-Encoding", "Content-Length")]
        resp = PassResponse(head.status, headers)
        self.info["answered_by"] = "app"
        if self.ctx.log is not None:
            self.ctx.log["status"] = head.status
        try:
            await resp.prepare(self.request)
            async for data in _body_chunks(reader, head,
                                           self.request.method):
                if gunzip is not None:
                    data = gunzip.feed(data)
                if not await self._send(resp, data):
                    return resp
            if gunzip is not None and not await self._send(resp,
                                                           gunzip.end()):
                return resp
            await resp.write_eof()
        except (BadResponse, OSError, zlib.error):
            # Go's ReverseProxy aborts the handler: the client's
            # connection closes with the body unfinished.
            if self.request.transport is not None:
                self.request.transport.close()
        return resp

    async def _send(self, resp, data):
        """Write to the client through the fault rule; False = ended."""
        async def out(b):
            await resp.write(b)
            self.info["bytes_out"] += len(b)
        return await self.fault.write(data, out) if data else True

    async def _upgrade(self, head, reader, writer):
        """handleUpgradeResponse: check, send the 101, pipe the bytes."""
        res_type = (_values(head.headers, "Upgrade") or [""])[0]
        if not self.up_type or res_type.lower() != self.up_type.lower():
            return self._bad_gateway(
                "backend tried to switch protocol %s when %s was requested"
                % (_go_quote(res_type), _go_quote(self.up_type)))
        req = self.request
        protocol, transport = req.protocol, req.transport
        if transport is None or protocol._payload_parser is not None:
            return self._bad_gateway("can't switch protocols using "
                                     "non-Hijacker ResponseWriter type")
        self.info.update(answered_by="app", upgraded=True)
        if self.ctx.log is not None:
            self.ctx.log["status"] = 101
        lines = ["HTTP/1.1 101 Switching Protocols"]
        for k in sorted({k for k, _ in head.headers}):
            for v in _values(head.headers, k):
                lines.append("%s: %s" % (k, v))
        transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        pipe = _Pipe(self, protocol, transport, writer)
        protocol.set_parser(pipe)     # client bytes now go to the app
        await pipe.run(reader)
        return SentResponse(101)


class _Pipe:
    """Both directions of an upgraded connection.  Installed as aiohttp's
    payload parser (as WebSocketResponse does), so the client's bytes
    arrive in feed_data(); the app's are read in run()."""

    def __init__(self, fwd, protocol, transport, up_writer):
        self.fwd = fwd
        self.protocol = protocol
        self.transport = transport
        self.up = up_writer
        self.done = asyncio.get_running_loop().create_future()
        self.paused = False

    def feed_data(self, data):
        if self.done.done():
            return False, b""
        self.fwd.info["bytes_in"] += len(data)
        try:
            self.up.write(data)
        except OSError:
            self._end()
            return False, b""
        if not self.paused and \
                self.up.transport.get_write_buffer_size() > PIPE_HIGH:
            self.paused = True
            self.transport.pause_reading()
            asyncio.ensure_future(self._drain_up())
        return False, b""

    async def _drain_up(self):
        try:
            await self.up.drain()
        except OSError:
            self._end()
            return
        self.paused = False
        if not self.done.done() and not self.transport.is_closing():
            self.transport.resume_reading()

    def feed_eof(self):
        self._end()

    def _end(self):
        if not self.done.done():
            self.done.set_result(None)

    async def run(self, reader):
        """Copy app -> client until either side ends; then close both."""
        copy = asyncio.ensure_future(self._copy_down(reader))
        try:
            await asyncio.wait({copy, self.done},
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            copy.cancel()
            self.up.transport.abort()
            if not self.transport.is_closing():
                self.transport.close()

    async def _copy_down(self, reader):
        async def out(b):
            self.transport.write(b)
            self.fwd.info["bytes_out"] += len(b)
            await self.protocol._drain_helper()

        while True:
            try:
                data = await reader.read(COPY_CHUNK)
                if not data or self.transport.is_closing() or \
                        not await self.fwd.fault.write(data, out):
                    return
            except ConnectionError:
                return


# --------------------------------------------------------------------------
# Control endpoints (registered from control.build())

async def _get_proxy(ctx):
    import control
    return control._json(200, ctx.app.proxy.describe())


async def _put_proxy(ctx):
    import control
    try:
        body = await control._body(ctx)
        ttl = control._opt_int(body, "cache_ttl_ms",
                               int(ctx.app.proxy.cache_ttl * 1000))
    except ValueError as e:
        return control._fail(400, str(e))
    ctx.app.proxy.cache_ttl = ttl / 1000.0
    return control._json(200, ctx.app.proxy.describe())


async def _flush_cache(ctx):
    ctx.app.proxy.cache.clear()
    return httpio.no_content()


def _port_param(ctx):
    p = ctx.params.get("port", "")
    if not p.isdigit() or not 1 <= int(p) <= 65535:
        raise ValueError("port must be 1..65535")
    return int(p)


async def _list_ports(ctx):
    import control
    return control._json(200, ctx.app.proxy.port_list(ctx.params["id"]))


async def _target_param(ctx):
    """(port, (host, port)) of a PUT .../ports/{port} {"target":
    "HOST:PORT"}; ValueError when either is bad."""
    import control
    port = _port_param(ctx)
    body = await control._body(ctx)
    target = body.get("target")
    if not isinstance(target, str):
        raise ValueError('"target" must be "HOST:PORT"')
    host, sep, tport = target.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not tport.isdigit() or \
            not 1 <= int(tport) <= 65535:
        raise ValueError('"target" must be "HOST:PORT"')
    return port, (host, int(tport))


async def _put_port(ctx):
    """Map (sandbox, port) to {"target": "HOST:PORT"}."""
    import control
    proxy = ctx.app.proxy
    try:
        port, target = await _target_param(ctx)
        key = (ctx.params["id"], port)
        if key not in proxy.ports and len(proxy.ports) >= MAX_PORT_MAPS:
            raise ValueError("too many port mappings")
    except ValueError as e:
        return control._fail(400, str(e))
    proxy.ports[key] = target
    return control._json(200, {"sandbox_id": key[0], "port": port,
                               "target": "%s:%d" % proxy.ports[key]})


async def _put_any_port(ctx):
    """Map port of every sandbox (one without its own mapping) to
    {"target": "HOST:PORT"}: a server "in every sandbox"."""
    import control
    proxy = ctx.app.proxy
    try:
        port, target = await _target_param(ctx)
    except ValueError as e:
        return control._fail(400, str(e))
    proxy.any_ports[port] = target
    return control._json(200, {"port": port,
                               "target": "%s:%d" % target})


async def _delete_port(ctx):
    import control
    try:
        port = _port_param(ctx)
    except ValueError as e:
        return control._fail(400, str(e))
    if ctx.app.proxy.ports.pop((ctx.params["id"], port), None) is None:
        return control._fail(404, "no such port mapping")
    return httpio.no_content()


def register_control(r):
    """Add the proxy's routes to the /_fake sub-router r."""
    r.get("/proxy", _get_proxy)
    r.put("/proxy", _put_proxy)
    r.delete("/proxy/cache", _flush_cache)
    r.put("/proxy/ports/{port}", _put_any_port)
    r.get("/sandboxes/{id}/ports", _list_ports)
    r.put("/sandboxes/{id}/ports/{port}", _put_port)
    r.delete("/sandboxes/{id}/ports/{port}", _delete_port)
