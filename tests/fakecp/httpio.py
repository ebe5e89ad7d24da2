# SPDX-License-Identifier: MIT
"""HTTP plumbing shared by all handlers: request context and Go-shaped replies.

Ctx wraps one aiohttp request with what a Go handler sees: the route path
chi matches on (RawPath when the client's escaping is not Go's canonical
one), url.Values-style query access, URL params filled by chimux, the auth
context stamped by a middleware, and a body reader that sends
"100 Continue" only when the handler actually reads (net/http behaviour) and
copies the first 4 KiB into the request log.

The response helpers reproduce net/http + writeJSON/writeError byte for
byte where a client could notice: no Server header, JSON bodies ending in
one newline, Content-Length up to 2048 bytes and chunked transfer encoding
above that (net/http's bufferBeforeChunkingSize), chi's plain-text 404 and
its empty 405 with Allow headers.

Used by chimux, the middlewares, every handler module and the control API.
"""

import asyncio
import contextlib
import socket
import struct

from aiohttp import web

import gojson

LOG_BODY_MAX = 4096           # bytes of each request body kept in the log
JSON_BODY_MAX = 64 << 20      # bytes read before decoding a JSON body
GO_CHUNKING_THRESHOLD = 2048  # net/http bufferBeforeChunkingSize
DISCONNECT_POLL = 0.2         # seconds between client liveness checks

# The methods chi knows (methodMap); anything else is a bare 405.
CHI_METHODS = ("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH",
               "POST", "PUT", "TRACE")


class BadRequestURI(Exception):
    """net/http could not parse the request target: plain 400, close."""


class ClientGone(Exception):
    """The client disconnected; Go would cancel r.Context().  No reply."""


class GoResponse(web.Response):
    """A web.Response without the headers Go would not send."""

    _omit_content_type = False

    async def _write_headers(self):
        self._headers.popall("Server", None)
        if self._omit_content_type:
            self._headers.popall("Content-Type", None)
        await super()._write_headers()


def body_response(status, body, content_type=None, headers=None):
    """One Write() of body by a Go handler, as net/http frames it."""
    r = GoResponse(status=status, body=body)
    if content_type is None:
        r._omit_content_type = True
    else:
        r.headers["Content-Type"] = content_type
    for k, v in (headers or ()):
        r.headers.add(k, v)
    if len(body) > GO_CHUNKING_THRESHOLD:
        r.enable_chunked_encoding()
    return r


def json_response(status, obj):
    """writeJSON(w, status, obj)."""
    return body_response(status, gojson.dumps(obj), "application/json")


def error(status, code, message):
    """writeError(w, status, code, message): the error envelope."""
    return json_response(status, {"error": {"code": code,
                                            "message": message}})


def no_content():
    """w.WriteHeader(http.StatusNoContent)."""
    return body_response(204, b"")


def http_error(status, text):
    """http.Error(w, text, status): text/plain with nosniff."""
    return body_response(status, (text + "\n").encode("utf-8"),
                         "text/plain; charset=utf-8",
                         [("X-Content-Type-Options", "nosniff")])


def chi_not_found():
    return http_error(404, "404 page not found")


def chi_method_not_allowed(allowed=()):
    """chi's methodNotAllowedHandler: one Allow header per method found."""
    return body_response(405, b"", None, [("Allow", m) for m in allowed])


def bad_request_uri():
    """net/http's reply to an unparsable request line."""
    r = body_response(400, b"400 Bad Request", "text/plain; charset=utf-8")
    r.force_close()
    return r


def close_transport(transport, rst):
    """Close a connection: FIN after what is buffered, or an RST at once
    (SO_LINGER 0, buffered data dropped).  None is ignored."""
    if transport is None:
        return
    if rst:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()


def drop_connection(request, rst):
    """Close (FIN) or reset (RST) the request's connection."""
    close_transport(request.transport, rst)


NO_SERVERS = "no servers available \u2014 try again later"


def service_error(ctx, msg):
    """serviceErrToHTTP for a plain (non-Connect) service error message.

    At f5a23c1 (capsules) the messages are generic (CONTRACT 11.8) and host
    shortages are 503 no_hosts_available."""
    if ctx.dialect == "capsules":
        return error(*_service_generic(msg))
    if "not found" in msg:
        return error(404, "not_found", msg)
    if "not running" in msg or "not paused" in msg:
        return error(409, "invalid_state", msg)
    if "conflict:" in msg:
        return error(409, "conflict", msg)
    if "forbidden" in msg:
        return error(403, "forbidden", msg)
    if "invalid or expired" in msg:
        return error(401, "unauthorized", msg)
    if "invalid" in msg:
        return error(400, "invalid_request", msg)
    return error(500, "internal_error", msg)


def _service_generic(msg):
    if "not found" in msg:
        return 404, "not_found", "resource not found"
    if "not running" in msg:
        return 409, "invalid_state", "resource is not running"
    if "not paused" in msg:
        return 409, "invalid_state", "resource is not paused"
    if "conflict:" in msg:
        cut = msg.startswith("conflict: ")
        return 409, "conflict", msg[len("conflict: "):] if cut else msg
    if "forbidden" in msg:
        return 403, "forbidden", "forbidden"
    if "invalid or expired" in msg:
        return 401, "unauthorized", "invalid or expired credentials"
    if ("no online" in msg and "hosts available" in msg) or \
            "no host has sufficient resources" in msg:
        return 503, "no_hosts_available", NO_SERVERS
    if "invalid" in msg:
        return 400, "invalid_request", "invalid request"
    return 500, "internal_error", "an internal error occurred"


_AGENT_CODES = {"not_found": (404, "not_found"),
                "invalid_argument": (400, "invalid_request"),
                "failed_precondition": (409, "conflict")}
# f5a23c1 adds these (CONTRACT 11.8); unavailable also hides the text.
_AGENT_CODES_HEAD = dict(_AGENT_CODES,
                         already_exists=(409, "conflict"),
                         permission_denied=(403, "forbidden"),
                         unavailable=(503, "no_hosts_available"),
                         unimplemented=(501, "agent_error"))


def agent_error(ctx, connect_code, text):
    """agentErrToHTTP for a Connect error "<code>: <text>"."""
    head = ctx.dialect == "capsules"
    table = _AGENT_CODES_HEAD if head else _AGENT_CODES
    status, code = table.get(connect_code, (502, "agent_error"))
    if head and connect_code == "unavailable":
        return error(status, code, NO_SERVERS)
    return error(status, code, "%s: %s" % (connect_code, text))


# --------------------------------------------------------------------------
# Request target parsing (net/url rules)

_HEX = "0123456789abcdefABCDEF"
# Bytes encodePath leaves alone: unreserved plus $&+,/:;=@
_PATH_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                       b"0123456789-_.~$&+,/:;=@")


def unescape(s, plus_is_space):
    """url.unescape: every % must start a valid escape, else ValueError."""
    b = s.encode("utf-8", "surrogateescape")
    out = bytearray()
    i = 0
    while i < len(b):
        c = b[i]
        if c == 0x25:  # '%'
            h = b[i + 1:i + 3].decode("latin-1")
            if len(h) != 2 or h[0] not in _HEX or h[1] not in _HEX:
                raise ValueError("invalid URL escape")
            out.append(int(h, 16))
            i += 3
            continue
        out.append(0x20 if plus_is_space and c == 0x2B else c)
        i += 1
    return bytes(out)


def escape_path(b):
    return "".join(chr(c) if c in _PATH_SAFE else "%%%02X" % c for c in b)


def route_path(raw_path):
    """The path chi routes on: r.URL.RawPath if set, else r.URL.Path."""
    try:
        decoded = unescape(raw_path, False)
    except ValueError:
        raise BadRequestURI(raw_path)
    if escape_path(decoded) != raw_path:
        return raw_path
    return decoded.decode("utf-8", "surrogateescape")


def parse_query(raw_query):
    """url.ParseQuery as r.URL.Query() uses it (bad pairs are dropped)."""
    out = {}
    for part in raw_query.split("&"):
        if not part or ";" in part:
            continue
        k, _, v = part.partition("=")
        try:
            k = unescape(k, True).decode("utf-8", "surrogateescape")
            v = unescape(v, True).decode("utf-8", "surrogateescape")
        except ValueError:
            continue
        out.setdefault(k, []).append(v)
    return out


# --------------------------------------------------------------------------
# Per-request context

class Ctx:
    """One API request as the Go handlers see it."""

    def __init__(self, app, request, raw_path, raw_query, log_entry):
        self.app = app                  # fakecp.FakeCP (borrowed)
        self.state = app.state
        self.request = request
        self.method = request.method
        self.raw_path = raw_path
        self.raw_query = raw_query
        self.path = route_path(raw_path)
        self.query = parse_query(raw_query)
        self.params = {}                # chi URL params
        self.auth = None                # authmw.AuthContext once stamped
        self.dialect = app.dialect      # "sandboxes" (172413e) | "capsules"
        self.admin_ws = False           # authmw.admin_ws (capsules)
        self.log = log_entry            # request log entry or None
        self.body_consumed = False
        self._body = None

    def header(self, name):
        """r.Header.Get(name): first value, or ""."""
        return self.request.headers.get(name, "")

    def q(self, name):
        """r.URL.Query().Get(name)."""
        v = self.query.get(name)
        return v[0] if v else ""

    async def read_body(self, limit=JSON_BODY_MAX):
        """Read (up to limit bytes of) the request body, once."""
        if self._body is not None:
            return self._body
        self.body_consumed = True
        req = self.request
        if req.version >= (1, 1) and \
                req.headers.get("Expect", "").lower() == "100-continue":
            await req.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        chunks = []
        total = 0
        while total <= limit:
            chunk = await req.content.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        self._body = b"".join(chunks)[:limit]
        self.note_body(self._body, total > limit)
        return self._body

    def note_body(self, body, truncated=False):
        """Copy the start of the body into the request log entry."""
        if self.log is None:
            return
        self.log["body"] = body[:LOG_BODY_MAX].decode("utf-8", "replace")
        self.log["body_bytes"] = len(body)
        self.log["body_truncated"] = truncated or len(body) > LOG_BODY_MAX

    def watch_disconnect(self):
        """A task that finishes when the client connection goes away.

        aiohttp does not cancel handlers on disconnect, but Go cancels the
        request context; long operations wait on this too.  The caller
        cancels the task when done.
        """
        async def poll():
            while True:
                t = self.request.transport
                if t is None or t.is_closing():
                    return
                await asyncio.sleep(DISCONNECT_POLL)
        return asyncio.ensure_future(poll())

    async def decode(self, struct):
        """json.NewDecoder(r.Body).Decode(&req); raises gojson.DecodeError."""
        return gojson.decode_first(await self.read_body(), struct)


def route_matches(path_prefix, path):
    """True if path is path_prefix or below it."""
    return path == path_prefix or path.startswith(path_prefix + "/")
