# SPDX-License-Identifier: MIT
"""Streaming exec: GET /v1/sandboxes/{id}/exec/stream (WebSocket).

Mirrors handlers_exec_stream.go at 172413e with gorilla/websocket v1.5.3
and the host agent / envd behind it (CONTRACT 7):

  * Before the upgrade, normal JSON errors: bad ID 400, unknown 404, not
    running 409 "sandbox is not running (status: X)".  Then gorilla's
    checks (Connection: upgrade, Upgrade: websocket, Sec-WebSocket-Version
    13, a 16-byte base64 key); a failure is 400 text/plain "Bad Request\\n"
    with Sec-Websocket-Version: 13.  Origin is not checked; no
    subprotocols, no compression; the 101 carries only Upgrade, Connection
    and Sec-WebSocket-Accept.  Data sent before the 101 (a start frame
    pipelined with the request) makes gorilla close the connection
    without a response.
  * The first data frame (text or binary) must be {"type":"start","cmd":..,
    "args":[..]}; a JSON error yields {"type":"error","data":"failed to
    read start message: <Go decoder error>"}, a wrong type or empty cmd
    "first message must be type 'start' with a 'cmd' field", a sandbox
    whose host is missing or has no address "sandbox host is not
    reachable".
  * The command runs like sync exec (agent.py: nice, no shell, cwd = the
    scratch directory, stdin /dev/null).  Messages are text frames holding
    one JSON object + "\\n": start {pid}, stdout/stderr {data} with at most
    32 KiB of output each (Go's lossy UTF-8: every invalid byte, including
    a multi-byte character split by a chunk boundary, becomes \\ufffd),
    exit {exit_code} (-1 if killed by a signal) once both pipes hit EOF and
    the process was reaped.  Then the TCP connection is closed without a
    close frame.
  * {"type":"stop"} (exact json.Unmarshal semantics) or a disconnect only
    detaches: no exit, no error, and the fake stops reading the process's
    pipes (as a stuck envd does), so a chatty detached process blocks
    while a quiet one runs to completion.  Other messages are ignored; a
    client close frame is echoed with its code; pings get pongs while the
    server is reading; the server never pings.
  * Backpressure: each output chunk is awaited through the WebSocket
    writer (drain) before the pipe is read again, so a client that stops
    reading stops the process once the buffers fill.
  * The host agent's inactivity clock is refreshed at start; the DB's
    last_active_at when the session ends (as the Go handler does).
  * Session limit --stream-timeout (default 600 s, the CP->agent client
    timeout), then an error message.  Pause/destroy of the sandbox ends the
    session with an error message.
  * Fault rules with a "stream" part (streamfault.py) cut, stall or inject
    an error mid-stream.

In the capsules dialect (f5a23c1, CONTRACT 11.2.1) only the ID check
(400) comes before the upgrade, which is then unconditional; a session
without header credentials (authmw.optional_api_key_or_jwt), and every
admin WS session, must first send {"type":"auth","token":JWT} within
--ws-auth-timeout seconds (default 5); the sandbox lookup follows; their
failures are error messages after the 101 ("authentication failed",
"sandbox not found", "sandbox is not running (status: X)").  ws_admit()
does this for any capsules WS route (the PTY and process streams too),
and records the message it read as "ws_first" in the request log entry
(null when none came in time), so tests see what authenticated.

Registered by routes.py.
"""

import asyncio
import base64
import contextlib
import hashlib
import os
import struct
import time

from aiohttp import EofStream, WebSocketError, WSMsgType, web
from multidict import CIMultiDict

import agent as agent_mod
import authmw
import goscan
import gojson
import httpio
import ids
import resources
import state as st
import streamfault
from api_sandboxes import invalid_sandbox_id, sandbox_id_param
from httpio import error

CHUNK = 32 << 10             # envd stdChunkSize: bytes per output message
DEFAULT_TIMEOUT = 600.0      # seconds, CP -> host agent http.Client
CLOSE_GRACE = 30.0           # seconds to flush before aborting on close
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TIMEOUT_TEXT = ("unavailable: net/http: request canceled (Client.Timeout or "
                "context cancellation while reading body)")


# --------------------------------------------------------------------------
# gorilla's handshake checks

_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _token_list_contains(request, name, value):
    """gorilla's tokenListContainsValue."""
    for s in request.headers.getall(name, ()):
        while True:
            s = s.lstrip(" \t")
            i = 0
            while i < len(s) and s[i] in _TOKEN:
                i += 1
            t, s = s[:i], s[i:].lstrip(" \t")
            if not t or (s and s[0] != ","):
                break
            if t.lower() == value.lower():
                return True
            if not s:
                break
            s = s[1:]
    return False


def _valid_key(key):
    if not key:
        return False
    try:
        return len(base64.b64decode(key.replace("\r", "").replace("\n", ""),
                                    validate=True)) == 16
    except ValueError:
        return False


def _upgrade_error(ctx):
    """None if gorilla would upgrade, else its 400 reply."""
    r = ctx.request
    if _token_list_contains(r, "Connection", "upgrade") and \
            _token_list_contains(r, "Upgrade", "websocket") and \
            _token_list_contains(r, "Sec-Websocket-Version", "13") and \
            _valid_key(ctx.header("Sec-Websocket-Key")):
        return None
    return httpio.body_response(
        400, b"Bad Request\n", "text/plain; charset=utf-8",
        [("Sec-Websocket-Version", "13"),
         ("X-Content-Type-Options", "nosniff")])


class GorillaWS(web.WebSocketResponse):
    """aiohttp's WebSocket plumbing with gorilla's handshake and no
    automatic close frames (the session closes the TCP connection)."""

    def __init__(self):
        super().__init__(autoclose=False, autoping=False, compress=False,
                         max_msg_size=0, protocols=())

    def _handshake(self, request):
        key = request.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID)
                                  .digest()).decode()
        headers = CIMultiDict([("Upgrade", "websocket"),
                               ("Connection", "Upgrade"),
                               ("Sec-WebSocket-Accept", accept)])
        return headers, None, 0, False

    async def _write_headers(self):
        for name in ("Server", "Date", "Content-Type"):
            self._headers.popall(name, None)
        await super()._write_headers()

    async def write_eof(self):
        self._eof_sent = True     # never a close frame from aiohttp


# --------------------------------------------------------------------------
# Messages

def _msg(typ, **fields):
    parts = ['{"type":' + gojson.encode(typ)]
    for k, v in fields.items():
        parts.append(gojson.encode(k) + ":" + v)
    return ",".join(parts) + "}\n"


def start_msg(pid):
    return _msg("start", pid=str(pid)) if pid else _msg("start")


def output_msg(kind, data):
    return _msg(kind, data=goscan.bytes_to_json(data))


def exit_msg(code):
    return _msg("exit", exit_code=str(code))


def error_msg(text):
    if not text:
        return _msg("error")
    return _msg("error", data=gojson.encode(text))


# --------------------------------------------------------------------------
# WebSocket admission at f5a23c1 (helpers_ws.go)

AUTH_MSG = gojson.Struct(type=gojson.STRING, token=gojson.STRING)
AUTH_FAILED = "authentication failed"


def _ws_user(ctx, data):
    """wsAuthenticate[Admin]'s checks on the first message: AuthContext or
    None (any failure is the same "authentication failed" to the client)."""
    try:
        msg = gojson.decode_first(data, AUTH_MSG)
    except (gojson.DecodeError, ValueError, TypeError):
        return None
    if msg["type"] != "auth" or msg["token"] == "":
        return None
    ac, _ = authmw.auth_from_jwt(ctx, msg["token"])
    if ac is None:
        return None
    ac.is_admin = False
    if ctx.admin_ws:
        user = ctx.state.users.get(ac.user_id)
        if user is None or not user.is_admin:
            return None
        ac.team_id = st.PLATFORM_TEAM_ID
    return ac


async def ws_admit(ctx, read_data, send_error):
    """After the upgrade: the auth message if needed, then the sandbox.

    read_data() -> the next data frame's bytes, or None once the client
    closed or went away (the caller answers pings meanwhile);
    send_error(text) sends the route's error message (PTY: fatal).
    Returns the running sandbox, or None after sending the error."""
    if ctx.auth is None or ctx.admin_ws:
        timeout = ctx.app.opts.ws_auth_timeout
        try:
            data = await asyncio.wait_for(read_data(), timeout)
        except asyncio.TimeoutError:
            data = None
        if ctx.log is not None:
            # the test's view: the first message, as the server read it
            ctx.log["ws_first"] = None if data is None else \
                data.decode("utf-8", "replace")
        ac = None if data is None else _ws_user(ctx, data)
        if ac is None:
            await send_error(AUTH_FAILED)
            return None
        ctx.auth = ac
    sid = sandbox_id_param(ctx)
    sb = ctx.state.sandbox_by_team(sid, ctx.auth.team_id)
    if sb is None:
        await send_error("sandbox not found")
        return None
    if sb.status != st.RUNNING:
        await send_error("sandbox is not running (status: %s)" % sb.status)
        return None
    return sb


class _End(Exception):
    """A fault ended the session (its action is already done)."""


class _StreamRun:
    """Registered in agent.runs so pause/destroy can end the session."""

    def __init__(self, proc):
        self.proc = proc
        self.abort = asyncio.get_running_loop().create_future()


# --------------------------------------------------------------------------
# The session

class Session:
    def __init__(self, ctx, sb, ws):
        self.ctx = ctx
        self.sb = sb
        self.ws = ws
        self.fault = streamfault.of(ctx)
        self.fired = False
        self.lock = asyncio.Lock()
        self.msgs = 0               # server messages sent
        self.out_bytes = 0          # process output bytes sent
        self.detached = asyncio.get_running_loop().create_future()
        self.tcp_closed = False
        self.tasks = []

    # ---- low level -------------------------------------------------------

    @property
    def transport(self):
        return self.ctx.request.transport

    async def _frame(self):
        """The next frame: (kind, payload)."""
        try:
            msg = await self.ws._reader.read()
        except EofStream:
            return "eof", None
        except WebSocketError as e:
            return "protocol", e
        except Exception as e:  # noqa: BLE001 - connection lost etc.
            return "eof", e
        if msg.type == WSMsgType.TEXT:
            return "data", msg.data.encode("utf-8")
        if msg.type == WSMsgType.BINARY:
            return "data", bytes(msg.data)
        if msg.type == WSMsgType.PING:
            return "ping", msg.data
        if msg.type == WSMsgType.CLOSE:
            return "close", msg.data
        if msg.type == WSMsgType.PONG:
            return "pong", None
        return "eof", None

    async def _control(self, opcode, payload):
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws._writer._send_frame(payload, opcode)

    async def _handle_control(self, kind, payload):
        """Ping -> pong; close -> echo.  True if reading must stop."""
        if kind == "ping":
            await self._control(WSMsgType.PONG, payload)
            return False
        if kind == "pong":
            return False
        if kind == "close":
            code = payload or 0
            await self._control(WSMsgType.CLOSE,
                                struct.pack("!H", code) if code else b"")
            self.ws._writer._closing = True
            return True
        if kind == "protocol":
            text = str(payload).encode("utf-8")[:123]
            await self._control(WSMsgType.CLOSE, struct.pack("!H", 1002)
                                + text)
            self.ws._writer._closing = True
            return True
        return kind == "eof"

    async def _send(self, text):
        await self.ws.send_str(text)
        self.msgs += 1

    async def _send_quiet(self, text):
        """WriteJSON whose error is only logged by the Go code."""
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self._send(text)

    async def _flush(self, limit=5.0):
        deadline = time.monotonic() + limit
        t = self.transport
        while t is not None and not t.is_closing() and \
                t.get_write_buffer_size() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    def _close_tcp(self, rst=False):
        """conn.Close(): no close frame, just the TCP connection."""
        if self.tcp_closed:
            return
        self.tcp_closed = True
        t = self.transport
        if t is None:
            return
        httpio.close_transport(t, rst)    # FIN flushes what is buffered
        if rst:
            return
        asyncio.get_running_loop().call_later(CLOSE_GRACE, t.abort)

    # ---- faults ------------------------------------------------------------

    def _due(self, kind):
        f = self.fault
        if f is None or self.fired:
            return False
        if f.after_messages is not None:
            return self.msgs >= f.after_messages
        if kind == "start":
            return False
        return self.out_bytes >= (f.after_bytes or 0)

    async def _fire(self):
        f = self.fault
        self.fired = True
        if f.action == "stall":
            await streamfault.stall(f, self.detached)
            return
        if f.action == "error":
            await self._send(error_msg(f.data))
            raise _End()
        await self._flush()
        self._close_tcp(rst=f.rst)
        raise _End()

    def _room(self):
        f = self.fault
        if f is None or self.fired or f.after_messages is not None:
            return None
        return (f.after_bytes or 0) - self.out_bytes

    # ---- emitting ----------------------------------------------------------

    async def emit_start(self, pid):
        async with self.lock:
            if self._due("start"):
                await self._fire()
            await self._send(start_msg(pid))

    async def emit_output(self, kind, data):
        async with self.lock:
            while data:
                if self._due("output"):
                    await self._fire()
                room = self._room()
                n = len(data) if room is None else min(len(data), room)
                await self._send(output_msg(kind, data[:n]))
                self.out_bytes += n
                data = data[n:]

    async def emit_exit(self, code):
        async with self.lock:
            if self._due("exit"):
                await self._fire()
            await self._send(exit_msg(code))

    # ---- phases ------------------------------------------------------------

    async def _read_start(self):
        """conn.ReadJSON's message: bytes, or None if the session is over."""
        while True:
            kind, payload = await self._frame()
            if kind == "data":
                return payload
            if kind == "eof":
                # gorilla: "websocket: close 1006 (abnormal closure):
                # unexpected EOF"; the write reaches a half-closed client.
                await self._send_quiet(error_msg(
                    "failed to read start message: websocket: close 1006 "
                    "(abnormal closure): unexpected EOF"))
                return None
            if await self._handle_control(kind, payload):
                return None

    async def read_data(self):
        """The next data frame (pings answered), None once closed."""
        while True:
            kind, payload = await self._frame()
            if kind == "data":
                return payload
            if await self._handle_control(kind, payload):
                return None

    async def admit(self):
        """ws_admit for this session; False if it is over."""
        self.sb = await ws_admit(self.ctx, self.read_data,
                                 lambda text: self._send_quiet(
                                     error_msg(text)))
        return self.sb is not None

    async def _read_loop(self):
        """The goroutine watching for "stop" and disconnects."""
        try:
            while True:
                kind, payload = await self._frame()
                if kind == "data":
                    if goscan.is_stop(payload):
                        break
                    continue
                if await self._handle_control(kind, payload):
                    break
        finally:
            if not self.detached.done():
                self.detached.set_result(True)

    async def _pipe(self, stream, kind):
        while True:
            data = await stream.read(CHUNK)
            if not data:
                return
            await self.emit_output(kind, data)

    async def _pump(self, proc):
        """envd's event stream: start, output, exit."""
        await self.emit_start(proc.pid)
        pipes = [asyncio.ensure_future(self._pipe(proc.stdout, "stdout")),
                 asyncio.ensure_future(self._pipe(proc.stderr, "stderr"))]
        try:
            while pipes:
                done, _ = await asyncio.wait(
                    pipes, return_when=asyncio.FIRST_COMPLETED)
                for d in done:
                    pipes.remove(d)
                    d.result()
        finally:
            for p in pipes:
                p.cancel()
        code = await proc.wait()
        await self.emit_exit(-1 if code < 0 else code)

    async def _spawn(self):
        agent = self.ctx.app.agent
        sb = self.sb
        os.makedirs(sb.workdir, exist_ok=True)
        env = {"PATH": os.environ.get("PATH", agent_mod.DEFAULT_PATH),
               "HOME": sb.workdir, "USER": "root", "LOGNAME": "root"}
        cmd, args = self.start["cmd"], self.start["args"] or []
        if agent.nice:
            argv, exe = ["nice", "-n", "0", cmd] + args, agent.nice
        else:
            argv, exe = [cmd] + args, None
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, executable=exe, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, cwd=sb.workdir, env=env,
                start_new_session=True, limit=CHUNK)
        except (OSError, ValueError):
            return None       # envd's start failure: the stream just ends
        agent.pgids.setdefault(sb.id, set()).add(proc.pid)
        return proc

    def _reap_later(self, proc):
        """The process lives on after a detach; reap it when it exits."""
        agent = self.ctx.app.agent
        sb = self.sb

        async def reap():
            with contextlib.suppress(Exception):
                await proc.wait()
            agent._forget_group(sb, proc.pid)

        t = asyncio.ensure_future(reap())
        t.add_done_callback(lambda f: f.cancelled() or f.exception())

    async def run(self):
        try:
            await self._run()
        except _End:
            self._close_tcp()
        finally:
            for t in self.tasks:
                t.cancel()
            self._close_tcp()

    async def _run(self):
        if self.sb is None and not await self.admit():
            return
        data = await self._read_start()
        if data is None:
            return
        try:
            self.start = goscan.decode_start(data)
        except goscan.GoJSONError as e:
            await self._send_quiet(error_msg("failed to read start message: "
                                             + str(e)))
            return
        if self.start["type"] != "start" or self.start["cmd"] == "":
            await self._send_quiet(error_msg(
                "first message must be type 'start' with a 'cmd' field"))
            return
        if resources.host_for_agent(self.ctx.state, self.sb) is not None:
            await self._send_quiet(error_msg("sandbox host is not reachable"))
            return
        # The host agent stream is open from here on.
        reader = asyncio.ensure_future(self._read_loop())
        self.tasks.append(reader)
        try:
            await self._stream()
        finally:
            # UpdateLastActive after the stream, whatever happened.
            self.sb.last_active_at = self.sb.last_updated = time.time()

    async def _stream(self):
        sb = self.sb
        agent = self.ctx.app.agent
        if sb.run_started is None or sb.status != st.RUNNING:
            await self._send_quiet(error_msg(
                "internal: exec stream: sandbox %s is not running (status: "
                "paused)" % sb.id))
            return
        sb.agent_last_active = time.monotonic()
        proc = await self._spawn()
        if proc is None:
            return
        run = _StreamRun(proc)
        agent.runs.setdefault(sb.id, set()).add(run)
        pump = asyncio.ensure_future(self._pump(proc))
        timeout = getattr(self.ctx.app.opts, "stream_timeout",
                          DEFAULT_TIMEOUT)
        try:
            done, _ = await asyncio.wait(
                {pump, self.detached, run.abort}, timeout=timeout,
                return_when=asyncio.FIRST_COMPLETED)
        finally:
            agent.runs.get(sb.id, set()).discard(run)
            if not pump.done():
                pump.cancel()
                with contextlib.suppress(BaseException):
                    await pump
        if pump in done and not pump.cancelled():
            exc = pump.exception()
            if isinstance(exc, _End):
                self._reap_later(proc)
                raise exc
            if exc is None:
                agent._forget_group(sb, proc.pid)
                return            # exit sent
            self._reap_later(proc)
            return                # the client went away mid-write
        self._reap_later(proc)
        if self.detached.done() and not run.abort.done():
            return                # stop or disconnect: silent detach
        if run.abort.done():
            text = run.abort.result().split("stream error: ", 1)[-1]
        else:
            text = TIMEOUT_TEXT
        await self._send_quiet(error_msg(text))


async def upgrade(ctx):
    """gorilla's Upgrade: (GorillaWS, None) or (None, its 400 reply)."""
    bad = _upgrade_error(ctx)
    if bad is not None:
        return None, bad
    if getattr(ctx.request.protocol, "_message_tail", b""):
        # Bytes after the request (e.g. a start frame sent before the 101):
        # gorilla closes the hijacked connection without any response
        # ("client sent data before handshake is complete").
        raise ids.GoPanic()
    ws = GorillaWS()
    await ws.prepare(ctx.request)
    return ws, None


async def exec_stream(ctx):
    """GET /v1/sandboxes/{id}/exec/stream (capsules: /v1/capsules/...)"""
    sid = sandbox_id_param(ctx)
    if sid is None:
        return invalid_sandbox_id()
    if ctx.dialect == "capsules":
        ws, bad = await upgrade(ctx)
        if bad is not None:
            return bad
        await Session(ctx, None, ws).run()
        return ws
    sb = ctx.state.sandbox_by_team(sid, ctx.auth.team_id)
    if sb is None:
        return error(404, "not_found", "sandbox not found")
    if sb.status != st.RUNNING:
        return error(409, "invalid_state",
                     "sandbox is not running (status: %s)" % sb.status)
    ws, bad = await upgrade(ctx)
    if bad is not None:
        return bad
    await Session(ctx, sb, ws).run()
    return ws
