# SPDX-License-Identifier: MIT
"""Interactive terminals: WS /v1/capsules/{id}/pty (CONTRACT 11.3) and
the platform team's WS /v1/admin/capsules/{id}/pty (11.2), capsules
dialect only.

  * Admission as every capsules WebSocket (api_stream.ws_admit: ID check
    before the upgrade, then the optional auth message, then the sandbox),
    but the errors carry "fatal": true.
  * First client message: {"type":"start", "cmd"?, "args"?, "cols"?,
    "rows"?, "envs"?, "cwd"?, "user"?} (zero or absent values take
    /bin/bash, 80x24; user is accepted and ignored) or {"type":"connect",
    "tag":...}.  Fatal errors: "failed to read first message: ...",
    "connect requires a 'tag' field", "first message must be type 'start'
    or 'connect'", "failed to start pty: ...".
  * start runs the command on a real pseudo-terminal (Python's pty module,
    the PTY its controlling terminal, a session of its own) in the
    sandbox's directory; it is registered in the process table
    (api_process, kind "pty", tag pty-<8hex>) so GET .../processes lists
    it and DELETE .../processes/{selector} signals it.  The server sends
    {"type":"started","tag","pid"} (only after start, not after connect),
    {"type":"output","data":<standard base64 of raw PTY bytes>},
    {"type":"exit","exit_code":N} (-1 when killed by a signal) and
    {"type":"ping"} every --pty-ping-interval seconds (default 30).
  * Client messages after start/connect: input {data: base64} (invalid
    base64 silently dropped; inputs queued one after another are written
    as one), resize {cols, rows} (ignored unless both > 0), kill (SIGKILL);
    invalid JSON and unknown types are ignored.  The session's inbound
    queue holds PTY_QUEUE messages; overflow is dropped.
  * The PTY outlives the WebSocket: a disconnect only detaches, and
    connect {tag} attaches again (no replay: output while nobody was
    attached is lost).  After exit the server stops reading the PTY but
    keeps the socket until the client closes it or sends another frame.
    A connect to a tag that is gone (or is not a PTY) produces no message
    at all until the client closes.  The server closes without a Close
    frame (CONTRACT 7.5).
  * Test view (not Wrenn): GET /_fake/ptys lists the live PTYs with the
    WebSockets attached to each and the client message types ignored
    (e.g. the "pong" a client answers a ping with).

Registered by routes.py through register_capsules (routes.EXTENSIONS).
"""

import asyncio
import base64
import binascii
import contextlib
import fcntl
import json
import os
import signal
import struct
import termios
import time

import agent as agent_mod
import api_process
import api_stream
import gojson
import sandboxfs
from api_sandboxes import invalid_sandbox_id, sandbox_id_param
from httpio import json_response

PTY_QUEUE = 64            # inbound messages queued per session
READ_CHUNK = 32 << 10     # bytes read from the PTY at a time
DEFAULT_PING = 30.0       # seconds between {"type":"ping"}
DEFAULT_CMD = "/bin/bash"


def _msg(typ, **fields):
    return api_stream._msg(typ, **{k: gojson.encode(v)
                                   for k, v in fields.items()})


def fatal_msg(text):
    return _msg("error", data=text, fatal=True)


def _winsize(fd, cols, rows):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _uint16(v, default):
    """A start message's cols/rows: zero or absent is the default."""
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        return default
    return min(v, 0xffff)


class Pty:
    """One PTY process: the master side, its reader, its exit."""

    def __init__(self, app, sb, proc, master, p):
        self.app = app
        self.sb = sb
        self.proc = proc
        self.master = master       # owned, blocking; closed after the exit
        self.p = p                 # its api_process.Process (kind "pty")
        self.write_lock = asyncio.Lock()
        self.sessions = 0          # WebSockets attached now
        self.ignored = {}          # client message types ignored -> count

    def resize(self, cols, rows):
        with contextlib.suppress(OSError):
            _winsize(self.master, cols, rows)

    def kill(self):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.proc.pid, signal.SIGKILL)

    async def write(self, data):
        """Write all of data (in a thread: a shell that does not read
        blocks the write, not the fake)."""
        loop = asyncio.get_running_loop()
        async with self.write_lock:
            while data:
                try:
                    n = await loop.run_in_executor(None, os.write,
                                                   self.master, data)
                except OSError:
                    return
                data = data[n:]

    async def run(self):
        """Fan the PTY's output out until it closes, then the exit."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def readable():
            try:
                data = os.read(self.master, READ_CHUNK)
            except OSError:
                data = b""          # EIO: every slave side is closed
            if data:
                self.p.publish(("output", data))
            elif not done.done():
                loop.remove_reader(self.master)
                done.set_result(None)

        loop.add_reader(self.master, readable)
        try:
            code = await self.proc.wait()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(done),
                                       agent_mod.PIPE_GRACE)
        finally:
            loop.remove_reader(self.master)
            os.close(self.master)
        self.p.exit_code = -1 if code < 0 else code
        api_process.table(self.app).remove(self.p)
        self.app.agent._forget_group(self.sb, self.proc.pid)
        self.p.publish(("exit", self.p.exit_code))


def _preexec():
    """In the child: the PTY (fd 0) becomes the controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


async def start_pty(ctx, sb, msg):
    """A new PTY for a start message: (Pty, None) or (None, error text)."""
    app = ctx.app
    cmd = msg.get("cmd")
    if not isinstance(cmd, str) or cmd == "":
        cmd = DEFAULT_CMD
    args = msg.get("args")
    args = [a for a in args if isinstance(a, str)] \
        if isinstance(args, list) else []
    cols = _uint16(msg.get("cols"), 80)
    rows = _uint16(msg.get("rows"), 24)
    os.makedirs(sb.workdir, exist_ok=True)
    cwd = msg.get("cwd") if isinstance(msg.get("cwd"), str) else ""
    cwd, why = api_process._cwd(sb, cwd)
    if cwd is None:
        return None, "failed to start pty: " + why
    env = {"PATH": os.environ.get("PATH", agent_mod.DEFAULT_PATH),
           "HOME": sb.workdir, "USER": "root", "LOGNAME": "root",
           "TERM": "xterm-256color"}
    envs = msg.get("envs")
    if isinstance(envs, dict):
        env.update({k: v for k, v in envs.items() if isinstance(v, str)})
    master, slave = os.openpty()
    try:
        _winsize(slave, cols, rows)
        proc = await asyncio.create_subprocess_exec(
            cmd, *args, stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
            env=env, start_new_session=True, preexec_fn=_preexec)
    except (OSError, ValueError, RuntimeError) as e:
        os.close(master)
        return None, "failed to start pty: %s" % sandboxfs.errtext(e)
    finally:
        os.close(slave)
    sb.agent_last_active = time.monotonic()
    app.agent.pgids.setdefault(sb.id, set()).add(proc.pid)
    p = api_process.Process(sb, proc.pid, api_process.new_tag("pty"), cmd,
                            args, kind="pty")
    api_process.table(app).add(p)
    pt = p.backend = Pty(app, sb, proc, master, p)
    task = asyncio.ensure_future(pt.run())
    task.add_done_callback(lambda f: f.cancelled() or f.exception())
    return pt, None


def _decode_input(data):
    """An input message's bytes, or None (invalid base64 is dropped)."""
    if not isinstance(data, str):
        return None
    try:
        return base64.b64decode(data.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


class PtySession(api_stream.Session):
    """One WebSocket attached to a PTY."""

    def __init__(self, ctx, ws):
        super().__init__(ctx, None, ws)
        self.queue = asyncio.Queue(PTY_QUEUE)
        self.exited = False

    async def fatal(self, text):
        await self._send_quiet(fatal_msg(text))

    async def _reader(self):
        """Client frames into the bounded queue; ends the session on a
        close, a disconnect or, after exit, any frame."""
        try:
            while True:
                kind, payload = await self._frame()
                if kind == "data":
                    if self.exited:
                        break
                    with contextlib.suppress(asyncio.QueueFull):
                        self.queue.put_nowait(payload)
                    continue
                if await self._handle_control(kind, payload):
                    break
                if self.exited:
                    break
        finally:
            if not self.detached.done():
                self.detached.set_result(True)

    def _parse(self, payload):
        try:
            m = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            return None
        return m if isinstance(m, dict) else None

    async def _writer(self, pt):
        """The queue to the PTY: consecutive inputs coalesced."""
        pending = None
        while True:
            if pending is None:
                pending = self._parse(await self.queue.get())
            m, pending = pending, None
            if m is None:
                continue
            t = m.get("type")
            if t == "input":
                data = _decode_input(m.get("data"))
                chunks = [data] if data is not None else []
                while not self.queue.empty():
                    nxt = self._parse(self.queue.get_nowait())
                    if nxt is None or nxt.get("type") != "input":
                        pending = nxt
                        break
                    data = _decode_input(nxt.get("data"))
                    if data is not None:
                        chunks.append(data)
                if chunks and pt is not None:
                    await pt.write(b"".join(chunks))
            elif t == "resize":
                cols, rows = m.get("cols"), m.get("rows")
                if all(isinstance(v, int) and not isinstance(v, bool)
                       and 0 < v <= 0xffff for v in (cols, rows)) \
                        and pt is not None:
                    pt.resize(cols, rows)
            elif t == "kill" and pt is not None:
                pt.kill()
            elif pt is not None and isinstance(t, str):
                # ignored, as the server does; counted for /_fake/ptys
                pt.ignored[t[:32]] = pt.ignored.get(t[:32], 0) + 1

    async def _pinger(self):
        interval = getattr(self.ctx.app.opts, "pty_ping_interval",
                           DEFAULT_PING)
        while True:
            await asyncio.sleep(interval)
            await self._send_quiet(_msg("ping"))

    async def _forward(self, q):
        """PTY events to the client until exit or overflow."""
        while True:
            kind, data = await q.get()
            if kind == "output":
                await self._send_quiet(_msg(
                    "output", data=base64.b64encode(data).decode("ascii")))
            elif kind == "exit":
                self.exited = True
                await self._send_quiet(_msg("exit", exit_code=data))
                return
            elif kind == "overflow":
                await self._send_quiet(_msg(
                    "error", data="pty stream failed: client too slow"))
                return

    async def attach(self, pt):
        """Follow pt (None: a gone tag, nothing is sent) until the client
        leaves or, after exit, closes or sends a frame."""
        q = pt.p.subscribe() if pt is not None else None
        if pt is not None:
            pt.sessions += 1
        self.tasks = [asyncio.ensure_future(self._reader()),
                      asyncio.ensure_future(self._writer(pt)),
                      asyncio.ensure_future(self._pinger())]
        try:
            if pt is not None and pt.p.exit_code is not None:
                q = None            # exited between lookup and attach
            if q is not None:
                fwd = asyncio.ensure_future(self._forward(q))
                await asyncio.wait({fwd, self.detached},
                                   return_when=asyncio.FIRST_COMPLETED)
                if not fwd.done():
                    fwd.cancel()
            await self.detached     # after exit: until the client acts
        finally:
            if q is not None:
                pt.p.unsubscribe(q)
            if pt is not None:
                pt.sessions -= 1
            for t in self.tasks:
                t.cancel()


async def first_message(session):
    """The start/connect message as a dict, or None after the fatal
    error (or the client's close)."""
    kind, payload = "eof", None
    while True:
        kind, payload = await session._frame()
        if kind == "data":
            break
        if kind == "eof":
            await session.fatal("failed to read first message: websocket: "
                                "close 1006 (abnormal closure): unexpected "
                                "EOF")
            return None
        if await session._handle_control(kind, payload):
            return None
    try:
        m = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as e:
        await session.fatal("failed to read first message: %s" % e)
        return None
    if not isinstance(m, dict):
        await session.fatal("failed to read first message: json: cannot "
                            "unmarshal into Go value of type "
                            "main.wsPtyMsg")
        return None
    return m


async def pty(ctx):
    """GET (WS) /v1/capsules/{id}/pty"""
    if sandbox_id_param(ctx) is None:
        return invalid_sandbox_id()
    ws, bad = await api_stream.upgrade(ctx)
    if bad is not None:
        return bad
    session = PtySession(ctx, ws)
    try:
        session.sb = await api_stream.ws_admit(ctx, session.read_data,
                                               session.fatal)
        if session.sb is None:
            return ws
        m = await first_message(session)
        if m is None:
            return ws
        t = m.get("type")
        if t == "start":
            pt, why = await start_pty(ctx, session.sb, m)
            if pt is None:
                await session.fatal(why)
                return ws
            await session._send_quiet(_msg("started", tag=pt.p.tag,
                                           pid=pt.p.pid))
            await session.attach(pt)
        elif t == "connect":
            tag = m.get("tag")
            if not isinstance(tag, str) or tag == "":
                await session.fatal("connect requires a 'tag' field")
                return ws
            p = api_process.table(ctx.app).find(session.sb.id, tag,
                                                kind="pty")
            await session.attach(p.backend if p is not None else None)
        else:
            await session.fatal("first message must be type 'start' or "
                                "'connect'")
    finally:
        session._close_tcp()
    return ws


async def control_ptys(ctx):
    """GET /_fake/ptys: the live PTYs with their attached WebSockets and
    the client message types the server ignored (a test's view)."""
    out = []
    for procs in api_process.table(ctx.app).by_sandbox.values():
        for p in procs.values():
            if p.backend is not None:
                out.append({"sandbox_id": p.sandbox_id, "tag": p.tag,
                            "pid": p.pid, "sessions": p.backend.sessions,
                            "ignored": p.backend.ignored})
    return json_response(200, out)


def register_control(r):
    """Add GET /ptys to the /_fake sub-router r."""
    r.get("/ptys", control_ptys)


def register_capsules(group, r):
    """Route rows for routes.build (capsules dialect)."""
    if group in ("capsule_ws", "admin_capsule_ws"):
        r.get("/pty", pty)
