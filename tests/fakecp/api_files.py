# SPDX-License-Identifier: MIT
"""File routes: POST /v1/sandboxes/{id}/files/{write,read,stream/write,
stream/read} (handlers_files.go, handlers_files_stream.go at 172413e).

Common order: bad ID 400, unknown 404 "sandbox not found", not running 409
invalid_state "sandbox is not running" (no status suffix), body parsing,
503 host_unavailable "sandbox host is not reachable" (resources.py host
lookup), then the "RPC" to the fake envd (sandboxfs.py: path mapping into the
scratch directory, envd's error texts).  File operations do not touch
last_active_at or the inactivity clock.

  files/write         multipart (Go's ParseMultipartForm): fields path +
                      file in any order, a ?path= query parameter wins over
                      the form field (an empty one too), whole body <=
                      104857600 bytes else 413 too_large with Connection:
                      close (Content-Length checked first, then counted);
                      the file part is spooled to a temporary file, so
                      memory stays bounded.  envd failures are 502
                      "internal: write file: write file P: status N: {json}".
  files/read          JSON {"path"}; 200 application/octet-stream; like
                      net/http a body over 2048 bytes is one chunk of the
                      whole file (the CP buffers it), streamed from disk.
                      Missing file / directory: 502 "internal: read file:
                      read file P: status N: {json}\\n".
  files/stream/write  Go's multipart.Reader loop: only the boundary is
                      checked; "path" must precede "file" (otherwise the
                      file part is drained and an EMPTY file written, 204);
                      the file is written as it arrives (1 MiB writes in a
                      worker thread), no size limit.  envd failures: 502
                      "internal: envd write: status N: {json}".  A broken
                      body mid-file: 500 read_error, partial file kept.
  files/stream/read   JSON {"path"}; 200 application/octet-stream, chunked,
                      <= 64 KiB per chunk, read from disk 1 MiB at a time;
                      any envd failure (missing file, directory) is 200
                      with an empty body (Content-Length: 0).  Fault rules
                      with a "stream" part truncate, cut or stall it; the
                      body also ends (normally) at --stream-timeout.

Registered by routes.py.
"""

import asyncio
import tempfile
import time

from aiohttp import web

import gojson
import gomultipart
import httpio
import resources
import sandboxfs
import state as st
import streamfault
from api_sandboxes import invalid_sandbox_id, sandbox_id_param
from httpio import error

WRITE_LIMIT = 100 << 20        # files/write: http.MaxBytesReader
MAX_PARTS = 1000               # ReadForm's multipartmaxparts
IO_BLOCK = 1 << 20             # disk reads/writes per worker-thread hop
STREAM_CHUNK = 64 << 10        # files/stream/read chunk size
GO_CHUNKING_THRESHOLD = 2048
DEFAULT_TIMEOUT = 600.0
READ_REQUEST = gojson.Struct(path=gojson.STRING)


class TooLarge(Exception):
    """http.MaxBytesError."""


class BodyError(Exception):
    """The request body could not be read (broken framing)."""


class FormError(Exception):
    """multipart.ErrMessageTooLarge and friends."""


class BodySource:
    """r.Body for the multipart readers: 100-continue, limit, log."""

    def __init__(self, ctx, limit=None):
        self.ctx = ctx
        self.limit = limit
        self.total = 0
        self.head = bytearray()
        self.started = False

    async def read(self, n):
        ctx = self.ctx
        req = ctx.request
        if not self.started:
            self.started = True
            ctx.body_consumed = True
            if req.version >= (1, 1) and \
                    req.headers.get("Expect", "").lower() == "100-continue":
                await req.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            data = await req.content.read(n)
        except ConnectionError:
            raise httpio.ClientGone()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - aiohttp payload errors
            raise BodyError(str(e))
        self.total += len(data)
        if ctx.log is not None:
            if len(self.head) < httpio.LOG_BODY_MAX and data:
                self.head += data[:httpio.LOG_BODY_MAX - len(self.head)]
                ctx.log["body"] = bytes(self.head).decode("utf-8", "replace")
            ctx.log["body_bytes"] = self.total
            ctx.log["body_truncated"] = self.total > httpio.LOG_BODY_MAX
        if self.limit is not None and self.total > self.limit:
            raise TooLarge()
        return data


class GoStream(web.StreamResponse):
    """A streamed net/http response (no Server header; can be cut)."""

    aborted = False

    async def _write_headers(self):
        self._headers.popall("Server", None)
        await super()._write_headers()

    async def write_eof(self, data=b""):
        if not self.aborted:
            await super().write_eof(data)


class RawBody(GoStream):
    """A response whose body framing the handler writes itself."""

    _length_check = False


def _write_all(f, data):
    view = memoryview(data)
    while view:
        n = f.write(view)
        view = view[n:]


class WriteBehind:
    """Writes blocks to a file in a worker thread while the caller reads
    the next ones; at most DEPTH blocks wait.  The first OSError is kept
    in .error and later blocks are dropped (envd stops writing)."""

    DEPTH = 4

    def __init__(self, f):
        self.f = f
        self.error = None
        self.queue = asyncio.Queue(self.DEPTH)
        self.task = asyncio.ensure_future(self._run())

    async def _run(self):
        while True:
            data = await self.queue.get()
            if data is None:
                return
            if self.error is None:
                try:
                    await asyncio.to_thread(_write_all, self.f, data)
                except OSError as e:
                    self.error = e

    async def write(self, data):
        if self.error is None:
            await self.queue.put(data)

    async def close(self):
        """Wait for the queued writes; the file stays open."""
        if not self.task.done():
            await self.queue.put(None)
            await self.task

    def cancel(self):
        self.task.cancel()


async def _flush(request, limit=5.0):
    """Wait (a little) until the transport has sent what it buffered."""
    deadline = time.monotonic() + limit
    t = request.transport
    while t is not None and not t.is_closing() and \
            t.get_write_buffer_size() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


def precheck(ctx):
    """(sandbox, None) or (None, error response)."""
    sid = sandbox_id_param(ctx)
    if sid is None:
        return None, invalid_sandbox_id()
    sb = ctx.state.sandbox_by_team(sid, ctx.auth.team_id)
    if sb is None:
        return None, error(404, "not_found", "sandbox not found")
    if sb.status != st.RUNNING:
        return None, error(409, "invalid_state", "sandbox is not running")
    return sb, None


def not_on_host(sb):
    """The host agent's GetClient failure, or None."""
    if sb.run_started is None:
        return "sandbox %s is not running (status: paused)" % sb.id
    return None


def no_host(ctx, sb):
    """agentForHost: 503 if the sandbox's host is missing or unaddressed."""
    if resources.host_for_agent(ctx.state, sb) is not None:
        return error(503, "host_unavailable", "sandbox host is not reachable")
    return None


def _bad(message):
    return error(400, "invalid_request", message)


def _too_large():
    r = error(413, "too_large", "file exceeds 100 MB limit")
    r.force_close()   # requestTooLarge(): Connection: close
    return r


def _query_error(raw_query):
    """Would url.ParseQuery(r.URL.RawQuery) return an error?"""
    for seg in raw_query.split("&"):
        if ";" in seg:
            return True
        i = seg.find("%")
        while i >= 0:
            h = seg[i + 1:i + 3]
            if len(h) != 2 or any(c not in "0123456789abcdefABCDEF"
                                  for c in h):
                return True
            i = seg.find("%", i + 3)
    return False


def _form_boundary(content_type):
    """r.multipartReader(false): the boundary, or None (ErrNotMultipart)."""
    if not content_type:
        return None
    try:
        mt, params = gomultipart.parse_media_type(content_type)
    except gomultipart.MediaTypeError:
        return None
    if mt != "multipart/form-data" or "boundary" not in params:
        return None
    return params["boundary"]


def _agent_multipart_len(n):
    """ContentLength of the host agent's envd upload of n bytes."""
    head = ('--' + 'x' * 60 + '\r\nContent-Disposition: form-data; '
            'name="file"; filename="upload"\r\nContent-Type: '
            'application/octet-stream\r\n\r\n')
    return len(head) + n + len('\r\n--' + 'x' * 60 + '--\r\n')


# --------------------------------------------------------------------------
# POST files/write

async def _read_form(ctx, src, boundary):
    """mr.ReadForm: (values, spooled first "file" part or None, size)."""
    mr = gomultipart.Reader(src.read, boundary)
    values = {}
    spool = None
    size = 0
    parts = 0
    try:
        while True:
            part = await mr.next_part()
            if part is None:
                break
            if parts >= MAX_PARTS:
                raise FormError("multipart: message too large")
            parts += 1
            name = part.form_name()
            if not name:
                continue
            if not part.file_name():
                data = bytearray()
                while True:
                    chunk = await part.read()
                    if not chunk:
                        break
                    data += chunk
                values.setdefault(name, []).append(
                    bytes(data).decode("utf-8", "surrogateescape"))
                continue
            if name == "file" and spool is None:
                spool = tempfile.TemporaryFile(dir=ctx.app.agent.state_dir)
                writer = WriteBehind(spool)
                try:
                    while True:
                        chunk = await part.read(IO_BLOCK)
                        if not chunk:
                            break
                        await writer.write(chunk)
                        size += len(chunk)
                    await writer.close()
                finally:
                    writer.cancel()
                if writer.error is not None:
                    raise writer.error
            else:
                while await part.read(IO_BLOCK):
                    pass
    except BaseException:
        if spool is not None:
            spool.close()
        raise
    return values, spool, size


def _copy_into(spool, f):
    spool.seek(0)
    while True:
        data = spool.read(IO_BLOCK)
        if not data:
            return
        _write_all(f, data)


async def write(ctx):
    """POST /v1/sandboxes/{id}/files/write"""
    sb, resp = precheck(ctx)
    if resp is not None:
        return resp
    boundary = _form_boundary(ctx.header("Content-Type"))
    if boundary is None:
        return _bad("expected multipart/form-data")
    cl = ctx.request.content_length
    if cl is not None and cl > WRITE_LIMIT:
        return _too_large()
    src = BodySource(ctx, WRITE_LIMIT)
    try:
        values, spool, size = await _read_form(ctx, src, boundary)
    except TooLarge:
        return _too_large()
    except (gomultipart.MultipartError, gomultipart.PartReadError,
            BodyError, FormError, OSError):
        return _bad("expected multipart/form-data")
    try:
        if _query_error(ctx.raw_query):
            return _bad("expected multipart/form-data")
        paths = ctx.query.get("path", []) + values.get("path", [])
        path = paths[0] if paths else ""
        if path == "":
            return _bad("path field is required")
        if spool is None:
            return _bad("file field is required")
        resp = no_host(ctx, sb)
        if resp is not None:
            return resp
        gone = not_on_host(sb)
        if gone:
            return httpio.agent_error(ctx, "not_found", gone)
        fs = sandboxfs.Sandbox(sb.workdir)
        try:
            f, spath = await asyncio.to_thread(fs.open_write, path)
            try:
                await asyncio.to_thread(_copy_into, spool, f)
            except OSError as e:
                raise sandboxfs.write_error(e, spath,
                                            _agent_multipart_len(size))
            finally:
                f.close()
        except sandboxfs.EnvdError as e:
            return httpio.agent_error(
                ctx, "internal", "write file: write file %s: status %d: %s"
                % (path, e.status, e.body()))
    finally:
        if spool is not None:
            spool.close()
    return httpio.no_content()


# --------------------------------------------------------------------------
# POST files/read

async def _read_request(ctx):
    """What files/read and files/stream/read check, in their order:
    (sandbox, path, None), or (None, None, the error reply) from
    precheck(), the {path} body or no_host()."""
    sb, resp = precheck(ctx)
    if resp is not None:
        return None, None, resp
    try:
        req = await ctx.decode(READ_REQUEST)
    except gojson.DecodeError:
        return None, None, _bad("invalid JSON body")
    if req["path"] == "":
        return None, None, _bad("path is required")
    resp = no_host(ctx, sb)
    if resp is not None:
        return None, None, resp
    return sb, req["path"], None


async def read(ctx):
    """POST /v1/sandboxes/{id}/files/read"""
    sb, path, resp = await _read_request(ctx)
    if resp is not None:
        return resp
    gone = not_on_host(sb)
    if gone:
        return httpio.agent_error(ctx, "not_found", gone)
    try:
        f, size = await asyncio.to_thread(
            sandboxfs.Sandbox(sb.workdir).open_read, path)
    except sandboxfs.EnvdError as e:
        return httpio.agent_error(
            ctx, "internal", "read file: read file %s: status %d: %s"
            % (path, e.status, e.body()))
    with f:
        if size <= GO_CHUNKING_THRESHOLD:
            data = await asyncio.to_thread(f.read)
            if len(data) <= GO_CHUNKING_THRESHOLD:
                return httpio.body_response(200, data,
                                            "application/octet-stream")
            size = len(data)
            first = data
        else:
            first = b""
        # w.Write(content) of more than 2048 bytes: one chunk, whole file.
        resp = RawBody(status=200)
        resp.headers["Content-Type"] = "application/octet-stream"
        resp.headers["Transfer-Encoding"] = "chunked"
        try:
            await resp.prepare(ctx.request)
            await resp.write(b"%x\r\n" % size)
            left = size
            if first:
                await resp.write(first)
                left = 0
            while left:
                data = await asyncio.to_thread(f.read, min(IO_BLOCK, left))
                if not data:
                    # The file shrank under us: the promised chunk cannot be
                    # completed (the real CP had it in memory).
                    resp.aborted = True
                    httpio.drop_connection(ctx.request, False)
                    return resp
                await resp.write(data)
                left -= len(data)
            await resp.write(b"\r\n0\r\n\r\n")
        except ConnectionError:
            raise httpio.ClientGone()
    return resp


# --------------------------------------------------------------------------
# POST files/stream/write

async def stream_write(ctx):
    """POST /v1/sandboxes/{id}/files/stream/write"""
    sb, resp = precheck(ctx)
    if resp is not None:
        return resp
    try:
        _, params = gomultipart.parse_media_type(ctx.header("Content-Type"))
    except gomultipart.MediaTypeError:
        params = {}
    boundary = params.get("boundary", "")
    if not boundary:
        return _bad("expected multipart/form-data with boundary")
    mr = gomultipart.Reader(BodySource(ctx).read, boundary)
    file_path = ""
    file_part = None
    try:
        while True:
            part = await mr.next_part()
            if part is None:
                break
            name = part.form_name()
            if name == "path":
                file_path = (await part.read_all()).decode(
                    "utf-8", "surrogateescape")
            elif name == "file":
                file_part = part
            if file_path and file_part is not None:
                break
    except (gomultipart.MultipartError, BodyError):
        return _bad("failed to parse multipart")
    if file_path == "":
        return _bad("path field is required")
    if file_part is None:
        return _bad("file field is required")
    resp = no_host(ctx, sb)
    if resp is not None:
        return resp

    # The host agent opens envd's upload; envd truncates the target and
    # then copies the part as it arrives.  An envd failure is only seen
    # when the CP closes its stream, i.e. after the whole part was sent.
    gone = not_on_host(sb)
    envd_err = None
    f = None
    spath = file_path
    if not gone:
        try:
            f, spath = await asyncio.to_thread(
                sandboxfs.Sandbox(sb.workdir).open_write, file_path)
        except sandboxfs.EnvdError as e:
            envd_err = e
    writer = WriteBehind(f) if f is not None else None
    buf = bytearray()
    try:
        while True:
            try:
                data = await file_part.read(IO_BLOCK)
            except (gomultipart.PartReadError, BodyError):
                if writer is not None and buf:
                    await writer.write(bytes(buf))
                return error(500, "read_error", "failed to read uploaded "
                             "file")
            if not data:
                break
            if writer is not None:
                buf += data
                if len(buf) >= IO_BLOCK:
                    await writer.write(bytes(buf))
                    buf.clear()
        if writer is not None and buf:
            await writer.write(bytes(buf))
    finally:
        if writer is not None:
            try:
                await writer.close()
            finally:
                writer.cancel()
                f.close()
    if writer is not None and writer.error is not None:
        envd_err = sandboxfs.write_error(writer.error, spath)
    if gone:
        return httpio.agent_error(ctx, "not_found", gone)
    if envd_err is not None:
        return httpio.agent_error(ctx, "internal", "envd write: status %d: %s"
                                  % (envd_err.status, envd_err.body()))
    return httpio.no_content()


# --------------------------------------------------------------------------
# POST files/stream/read

class _Stop(Exception):
    pass


def _empty_ok():
    """200 with nothing written: net/http sends Content-Length: 0."""
    return httpio.body_response(200, b"", "application/octet-stream")


async def stream_read(ctx):
    """POST /v1/sandboxes/{id}/files/stream/read"""
    sb, path, resp = await _read_request(ctx)
    if resp is not None:
        return resp
    if not_on_host(sb):
        return _empty_ok()
    try:
        f, _ = await asyncio.to_thread(
            sandboxfs.Sandbox(sb.workdir).open_read, path)
    except sandboxfs.EnvdError:
        return _empty_ok()
    fault = streamfault.of(ctx)
    timeout = getattr(ctx.app.opts, "stream_timeout", DEFAULT_TIMEOUT)
    deadline = time.monotonic() + timeout
    resp = GoStream(status=200)
    resp.headers["Content-Type"] = "application/octet-stream"
    resp.enable_chunked_encoding()
    sent = 0
    fired = fault is None
    gone = None

    corrupt = False

    async def fire():
        nonlocal fired, gone, corrupt
        fired = True
        if fault.action == "corrupt":
            corrupt = True
            return
        if fault.action == "stall":
            if gone is None:
                gone = ctx.watch_disconnect()
            await streamfault.stall(fault, gone)
            return
        if fault.action == "cut":
            await _flush(ctx.request)
            resp.aborted = True
            httpio.drop_connection(ctx.request, fault.rst)
        raise _Stop()

    try:
        with f:
            while time.monotonic() < deadline:
                data = await asyncio.to_thread(f.read, IO_BLOCK)
                if not data:
                    break
                view = memoryview(data)
                while view:
                    if not fired and sent >= (fault.after_bytes or 0):
                        await fire()
                    n = min(len(view), STREAM_CHUNK)
                    if not fired:
                        n = min(n, (fault.after_bytes or 0) - sent)
                    if not resp.prepared:
                        await resp.prepare(ctx.request)
                    chunk = bytes(view[:n])
                    if corrupt and chunk:
                        chunk = bytes([chunk[0] ^ 0xff]) + chunk[1:]
                        corrupt = False
                    await resp.write(chunk)
                    sent += n
                    view = view[n:]
            if not fired and sent >= (fault.after_bytes or 0) and \
                    fault.action in ("cut", "stall"):
                await fire()
    except _Stop:
        pass
    except ConnectionError:
        raise httpio.ClientGone()
    finally:
        if gone is not None:
            gone.cancel()
    if resp.aborted:
        if ctx.log is not None:
            ctx.log["dropped"] = True
        return resp
    if not resp.prepared:
        return _empty_ok()
    return resp
