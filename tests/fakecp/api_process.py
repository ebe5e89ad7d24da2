# SPDX-License-Identifier: MIT
"""Background processes (CONTRACT 11.3), capsules dialect only.

  POST   /v1/capsules/{id}/exec with "background": true   (api_exec calls
         start_background): 202 {sandbox_id, cmd, pid, tag}; tag defaults
         to proc-<8hex>; envs and cwd are honoured (only here), timeout_sec
         is ignored; the process really runs and outlives its request.
  GET    /v1/capsules/{id}/processes: 200 {"processes":[{pid, tag?, cmd,
         args?}]}, every process the fake envd tracks (background execs
         now; PTYs register in the same table).
  DELETE /v1/capsules/{id}/processes/{selector}[?signal=SIGTERM]: a
         numeric selector is a pid, anything else a tag; signal=SIGTERM
         sends SIGTERM, any other or no value SIGKILL; 204, unknown 404.
  WS     /v1/capsules/{id}/processes/{selector}/stream: {"type":"start",
         "pid":N} at once, then live stdout/stderr (lossy UTF-8 as exec
         streams), exit {exit_code} or error {data}.  No replay: output
         from before the attach is not delivered.  Client messages are
         read and ignored (they only tell a disconnect).  Closed as in
         CONTRACT 7.5 (no close frame).  --stream-timeout and the
         "stream" part of fault rules (streamfault.py) apply as on
         exec/stream, so tests can cut a process stream mid-way.

The process table is per sandbox and general: an entry is any process
envd tracks (kind "exec" or "pty"), with the output fan-out to every
attached stream.  A process leaves the table when it has exited and its
pipes are drained (or given up PIPE_GRACE after the exit, as exec.Cmd.Wait
does, when a child of the process still holds them).  Pause SIGSTOPs it and
destroy kills it with the rest of
the sandbox's process groups (agent.pgids).

Registered by routes.py through register_capsules (routes.EXTENSIONS).
"""

import asyncio
import contextlib
import os
import secrets
import signal
import time

import agent as agent_mod
import api_stream
import gojson
import httpio
import resources
import sandboxfs
import state as st
from api_sandboxes import invalid_sandbox_id, sandbox_id_param
from httpio import error, json_response

LISTENER_QUEUE = 256      # output chunks queued per attached stream
UINT32_MAX = 2 ** 32 - 1


class Process:
    """One process envd tracks."""

    def __init__(self, sb, pid, tag, cmd, args, kind="exec"):
        self.sandbox_id = sb.id
        self.pid = pid
        self.tag = tag
        self.cmd = cmd
        self.args = list(args)
        self.kind = kind
        self.backend = None         # a PTY's api_pty.Pty
        self.listeners = set()      # asyncio.Queue per attached stream
        self.exit_code = None

    def to_json(self):
        out = gojson.GoMap()
        out["pid"] = self.pid
        if self.tag:
            out["tag"] = self.tag
        out["cmd"] = self.cmd
        if self.args:
            out["args"] = self.args
        return out

    def subscribe(self):
        q = asyncio.Queue(LISTENER_QUEUE)
        self.listeners.add(q)
        return q

    def unsubscribe(self, q):
        self.listeners.discard(q)

    def publish(self, item):
        """Give one event to every listener; a full queue loses its
        listener (it is told with an "overflow" item)."""
        for q in list(self.listeners):
            try:
                q.put_nowait(item)
            except asyncio.QueueFull:
                self.listeners.discard(q)
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()
                q.put_nowait(("overflow", None))


class Table:
    """Every tracked process, per sandbox."""

    def __init__(self):
        self.by_sandbox = {}       # sandbox id -> {pid: Process}

    def add(self, p):
        self.by_sandbox.setdefault(p.sandbox_id, {})[p.pid] = p

    def remove(self, p):
        procs = self.by_sandbox.get(p.sandbox_id, {})
        if procs.get(p.pid) is p:
            del procs[p.pid]

    def list(self, sandbox_id):
        return sorted(self.by_sandbox.get(sandbox_id, {}).values(),
                      key=lambda p: p.pid)

    def find(self, sandbox_id, selector, kind=None):
        """envd's selector: a uint32 pid if numeric, else a tag; with
        kind, only a process of that kind."""
        procs = self.by_sandbox.get(sandbox_id, {})
        if selector.isdigit() and selector.isascii():
            pid = int(selector)
            p = procs.get(pid) if pid <= UINT32_MAX else None
        else:
            p = next((p for p in procs.values() if p.tag == selector), None)
        return p if p is not None and kind in (None, p.kind) else None

    def tag_taken(self, sandbox_id, tag):
        return any(p.tag == tag
                   for p in self.by_sandbox.get(sandbox_id, {}).values())


def table(app):
    """The app's process table (made on first use)."""
    t = getattr(app, "processes", None)
    if t is None:
        t = app.processes = Table()
    return t


def new_tag(prefix):
    return "%s-%s" % (prefix, secrets.token_hex(4))


# --------------------------------------------------------------------------
# Starting a background process

async def _pipe(p, stream, kind):
    while True:
        data = await stream.read(api_stream.CHUNK)
        if not data:
            return
        p.publish((kind, data))


async def _reader(fd):
    """A StreamReader on the read end of a pipe (owned from here on)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=api_stream.CHUNK)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0))
    return reader


async def _run(app, sb, p, proc, outs):
    """envd's reader of one process: fan output out, then the exit.

    The pipes are the fake's own (not asyncio's), so proc.wait() returns
    when the process exits even if a child of it still holds them."""
    pipes = [asyncio.ensure_future(_pipe(p, await _reader(fd), kind))
             for fd, kind in outs]
    try:
        code = await proc.wait()
        # As exec.Cmd.Wait: the pipes are given up soon after the exit
        # if a child of the process still holds them.
        await asyncio.wait(pipes, timeout=agent_mod.PIPE_GRACE)
    finally:
        for t in pipes:
            t.cancel()
    p.exit_code = -1 if code < 0 else code
    table(app).remove(p)
    app.agent._forget_group(sb, proc.pid)
    p.publish(("exit", p.exit_code))


def _cwd(sb, cwd):
    """The host directory for a sandbox cwd ("" = the home directory)."""
    if cwd == "":
        return sb.workdir, None
    try:
        spath = sandboxfs.expand_and_resolve(cwd)
    except sandboxfs.ExpandError as e:
        return None, str(e)
    host = os.fsdecode(sandboxfs.Sandbox(sb.workdir).host(spath))
    if not os.path.isdir(host):
        return None, "chdir %s: no such file or directory" % spath
    return host, None


async def start_background(ctx, sb, req):
    """The background branch of POST .../exec (after api_exec's checks):
    202 {sandbox_id, cmd, pid, tag} or the agent's error."""
    app = ctx.app
    agent = app.agent
    procs = table(app)
    tag = req.get("tag") or new_tag("proc")
    if procs.tag_taken(sb.id, tag):
        return httpio.agent_error(ctx, "already_exists",
                                  "process with tag %s already exists"
                                  % tag)
    os.makedirs(sb.workdir, exist_ok=True)
    cwd, why = _cwd(sb, req.get("cwd") or "")
    if cwd is None:
        return httpio.agent_error(ctx, "internal",
                                  "failed to start process: " + why)
    env = {"PATH": os.environ.get("PATH", agent_mod.DEFAULT_PATH),
           "HOME": sb.workdir, "USER": "root", "LOGNAME": "root"}
    env.update(req.get("envs") or {})
    cmd, args = req["cmd"], list(req.get("args") or [])
    if agent.nice:
        argv, exe = ["nice", "-n", "0", cmd] + args, agent.nice
    else:
        argv, exe = [cmd] + args, None
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, executable=exe, stdin=asyncio.subprocess.DEVNULL,
            stdout=out_w, stderr=err_w, cwd=cwd, env=env,
            start_new_session=True)
    except (OSError, ValueError) as e:
        for fd in (out_r, err_r):
            os.close(fd)
        return httpio.agent_error(ctx, "internal",
                                  "failed to start process: %s"
                                  % sandboxfs.errtext(e))
    finally:
        os.close(out_w)
        os.close(err_w)
    sb.agent_last_active = time.monotonic()
    agent.pgids.setdefault(sb.id, set()).add(proc.pid)
    p = Process(sb, proc.pid, tag, cmd, args)
    procs.add(p)
    task = asyncio.ensure_future(_run(app, sb, p, proc, ((out_r, "stdout"),
                                                         (err_r, "stderr"))))
    task.add_done_callback(lambda f: f.cancelled() or f.exception())
    return json_response(202, {"sandbox_id": ctx.params["id"], "cmd": cmd,
                               "pid": proc.pid, "tag": tag})


# --------------------------------------------------------------------------
# List and kill

def _running_sandbox(ctx):
    """(sandbox, None) or (None, the error reply): 400, 404, 409."""
    sid = sandbox_id_param(ctx)
    if sid is None:
        return None, invalid_sandbox_id()
    sb = ctx.state.sandbox_by_team(sid, ctx.auth.team_id)
    if sb is None:
        return None, error(404, "not_found", "sandbox not found")
    if sb.status != st.RUNNING:
        return None, error(409, "invalid_state",
                           "sandbox is not running (status: %s)" % sb.status)
    if resources.host_for_agent(ctx.state, sb) is not None:
        return None, error(503, "host_unavailable",
                           "sandbox host is not reachable")
    return sb, None


async def list_(ctx):
    """GET /v1/capsules/{id}/processes"""
    sb, bad = _running_sandbox(ctx)
    if bad is not None:
        return bad
    return json_response(200, {"processes": [
        p.to_json() for p in table(ctx.app).list(sb.id)]})


async def kill(ctx):
    """DELETE /v1/capsules/{id}/processes/{selector}[?signal=SIGTERM]"""
    sb, bad = _running_sandbox(ctx)
    if bad is not None:
        return bad
    p = table(ctx.app).find(sb.id, ctx.params["selector"])
    if p is None:
        return httpio.agent_error(ctx, "not_found",
                                  "process not found: %s"
                                  % ctx.params["selector"])
    sig = signal.SIGTERM if ctx.q("signal") == "SIGTERM" else signal.SIGKILL
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(p.pid, sig)
    return httpio.no_content()


# --------------------------------------------------------------------------
# The process stream

class ProcessSession(api_stream.Session):
    """A WebSocket following one process (exec-stream message shapes)."""

    async def _ignore_loop(self):
        """Read and drop client messages until a disconnect or close."""
        try:
            while True:
                kind, payload = await self._frame()
                if kind == "data":
                    continue
                if await self._handle_control(kind, payload):
                    break
        finally:
            if not self.detached.done():
                self.detached.set_result(True)

    async def follow(self, p):
        try:
            await self._follow(p)
        except api_stream._End:
            pass
        finally:
            for t in self.tasks:
                t.cancel()
            self._close_tcp()

    async def _follow(self, p):
        q = p.subscribe()
        try:
            self.tasks.append(asyncio.ensure_future(self._ignore_loop()))
            await self.emit_start(p.pid)
            timeout = getattr(self.ctx.app.opts, "stream_timeout",
                              api_stream.DEFAULT_TIMEOUT)
            deadline = time.monotonic() + timeout
            while True:
                get = asyncio.ensure_future(q.get())
                done, _ = await asyncio.wait(
                    {get, self.detached}, return_when=asyncio.FIRST_COMPLETED,
                    timeout=max(0.0, deadline - time.monotonic()))
                if get not in done:
                    get.cancel()
                    if self.detached.done():
                        return          # the client went away
                    await self._send_quiet(api_stream.error_msg(
                        api_stream.TIMEOUT_TEXT))
                    return
                kind, data = get.result()
                if kind == "exit":
                    await self.emit_exit(data)
                    return
                if kind == "overflow":
                    await self._send_quiet(api_stream.error_msg(
                        "process stream failed: client too slow"))
                    return
                await self.emit_output(kind, data)
        finally:
            p.unsubscribe(q)


async def stream(ctx):
    """GET (WS) /v1/capsules/{id}/processes/{selector}/stream"""
    if sandbox_id_param(ctx) is None:
        return invalid_sandbox_id()
    ws, bad = await api_stream.upgrade(ctx)
    if bad is not None:
        return bad
    session = ProcessSession(ctx, None, ws)
    try:
        if not await session.admit():
            return ws
        p = table(ctx.app).find(session.sb.id, ctx.params["selector"])
        if p is None:
            await session._send_quiet(api_stream.error_msg(
                "failed to connect to process: not_found: process not "
                "found: %s" % ctx.params["selector"]))
            return ws
        await session.follow(p)
    finally:
        session._close_tcp()
    return ws


def register_capsules(group, r):
    """Route rows for routes.build (capsules dialect)."""
    if group in ("capsule", "admin_capsule"):
        r.get("/processes", list_)
        r.delete("/processes/{selector}", kill)
    elif group in ("capsule_ws", "admin_capsule_ws"):
        r.get("/processes/{selector}/stream", stream)
