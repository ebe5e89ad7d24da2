# SPDX-License-Identifier: MIT
"""The fake host agent + envd: what the control plane talks to over RPC.

A sandbox "VM" is a scratch directory under --state-dir plus the process
groups started in it.  Commands really run: envd's wrapper ends in
`exec /usr/bin/nice -n 0 <cmd> <args...>` (no shell, PATH lookup by nice,
missing binary = exit 127 with nice's message), cwd = the scratch
directory, stdin /dev/null, env PATH/HOME/USER/LOGNAME only.

VM lifecycle mapping:
  pause    SIGSTOP every process group of the sandbox, fail in-flight execs
  resume   SIGCONT them (processes survive a pause/resume, as in a VM)
  destroy  SIGKILL them and delete the scratch directory
  snapshot copy the scratch directory; new sandboxes from the template
           start with a copy of it
Metrics are synthesised deterministically from the time the current run
started (the agent's ring buffers restart with each VM).

Failures are raised as AgentError(connect_code, text); handlers turn them
into HTTP with httpio.agent_error, as agentErrToHTTP does.

Owns: the TTL reaper task, the per-run bookkeeping of exec children.
Called by api_sandboxes, api_exec and api_snapshots.
"""

import asyncio
import contextlib
import os
import shutil
import signal
import time
import zlib

import httpio
import state as st

NICE = "/usr/bin/nice"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_EXEC_TIMEOUT = 30        # seconds, host agent default
CP_CLIENT_TIMEOUT = 600          # seconds, CP -> agent http.Client timeout
PIPE_GRACE = 0.1                 # seconds to drain pipes after exit
REAPER_TICK = 2.0                # seconds, as the real host agent

# Metric tiers: sample period (s) and ring slots; range -> (tier, cutoff s).
TIERS = {"10m": (0.5, 1200), "2h": (30.0, 240), "24h": (300.0, 288)}
RANGE_TIER = {"5m": ("10m", 300), "10m": ("10m", 600), "1h": ("2h", 3600),
              "2h": ("2h", 7200), "6h": ("24h", 21600),
              "12h": ("24h", 43200), "24h": ("24h", 86400)}


class AgentError(Exception):
    """A Connect error from the host agent: code + text."""

    def __init__(self, code, text):
        super().__init__("%s: %s" % (code, text))
        self.code = code
        self.text = text


class ExecResult:
    def __init__(self, stdout, stderr, exit_code):
        self.stdout = stdout
        self.stderr = stderr
        self.exit_code = exit_code


class _Run:
    """One in-flight sync exec."""

    def __init__(self, proc):
        self.proc = proc
        self.abort = asyncio.get_running_loop().create_future()


class Agent:
    def __init__(self, state, state_dir, max_output, create_delay=0.0):
        self.state = state
        self.state_dir = state_dir
        self.max_output = max_output      # bytes kept per stream per exec
        self.create_delay = create_delay  # seconds a create stays pending
        self.pgids = {}                   # sandbox id -> set of pgids
        self.runs = {}                    # sandbox id -> set of _Run
        self.nice = NICE if os.access(NICE, os.X_OK) else None
        self._reaper = None

    # ---- directories ---------------------------------------------------

    def workdir(self, sandbox_id):
        return os.path.join(self.state_dir, "sandboxes", sandbox_id)

    def template_dir(self, template_id):
        return os.path.join(self.state_dir, "templates", template_id)

    async def remove_tree(self, path):
        if path:
            await asyncio.to_thread(shutil.rmtree, path, True)

    # ---- VM lifecycle --------------------------------------------------

    async def create(self, sb, template, gone=None):
        """CreateSandbox: prepare the disk, boot; returns the VM IP.

        Raises httpio.ClientGone if gone completes during the boot delay.
        """
        if template is not None and template.files_dir and \
                os.path.isdir(template.files_dir):
            await self.remove_tree(sb.workdir)
            await asyncio.to_thread(shutil.copytree, template.files_dir,
                                    sb.workdir, symlinks=True)
        else:
            os.makedirs(sb.workdir, exist_ok=True)
        if self.create_delay > 0:
            boot = asyncio.ensure_future(asyncio.sleep(self.create_delay))
            waits = {boot} | ({gone} if gone is not None else set())
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            if not boot.done():
                boot.cancel()
                raise httpio.ClientGone()
        self._start_run(sb)
        return self.state.next_host_ip()

    def _start_run(self, sb):
        sb.agent_last_active = time.monotonic()
        sb.run_started = time.time()

    def _signal_groups(self, sb, sig):
        for pgid in list(self.pgids.get(sb.id, ())):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                self.pgids[sb.id].discard(pgid)
            except PermissionError:
                pass

    def _forget_group(self, sb, pgid):
        """Stop tracking a process group once nothing is left in it."""
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            self.pgids.get(sb.id, set()).discard(pgid)
        except PermissionError:
            pass

    def _abort_runs(self, sb, text):
        for run in list(self.runs.get(sb.id, ())):
            if not run.abort.done():
                run.abort.set_result(text)

    def flush_metrics(self, sb):
        """FlushSandboxMetrics + persist: copy live tiers into sb.points."""
        now = time.time()
        for tier, (_, slots) in TIERS.items():
            store = sb.points.setdefault(tier, {})
            for p in self.live_points(sb, tier, now):
                store.setdefault(p.ts, p)   # ON CONFLICT DO NOTHING
            for ts in sorted(store)[:-4 * slots]:
                del store[ts]

    async def pause(self, sb):
        """PauseSandbox: freeze the VM's processes."""
        self._abort_runs(sb, "exec: stream error: unavailable: "
                         "sandbox was paused")
        self._signal_groups(sb, signal.SIGSTOP)
        sb.run_started = None

    async def resume(self, sb):
        """ResumeSandbox: thaw; returns the (new) VM IP."""
        os.makedirs(sb.workdir, exist_ok=True)
        self._signal_groups(sb, signal.SIGCONT)
        self._start_run(sb)
        return self.state.next_host_ip()

    async def destroy(self, sb):
        """DestroySandbox: kill everything, drop the disk."""
        self._abort_runs(sb, "exec: stream error: unavailable: "
                         "sandbox was destroyed")
        self._signal_groups(sb, signal.SIGCONT)
        self._signal_groups(sb, signal.SIGKILL)
        self.pgids.pop(sb.id, None)
        sb.run_started = None
        await self.remove_tree(sb.workdir)

    def ping(self, sb):
        """PingSandbox: reset the inactivity clock."""
        sb.agent_last_active = time.monotonic()

    async def snapshot(self, sb, template_id, was_running):
        """CreateSnapshot: pause if running, copy the disk.

        Returns (template files directory, size in bytes).
        """
        if was_running:
            await self.pause(sb)
        dest = self.template_dir(template_id)
        await self.remove_tree(dest)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if os.path.isdir(sb.workdir):
            await asyncio.to_thread(shutil.copytree, sb.workdir, dest,
                                    symlinks=True)
        else:
            os.makedirs(dest, exist_ok=True)
        disk = await asyncio.to_thread(_tree_size, dest)
        return dest, sb.memory_mb * (1 << 20) // 4 + disk

    # ---- exec ------------------------------------------------------------

    async def exec(self, sb, cmd, args, timeout_sec, gone=None):
        """Exec: run to completion; ExecResult or AgentError.

        gone, if given, is a future that completes when the HTTP client
        disconnects: the command is killed and httpio.ClientGone raised.
        """
        timeout = timeout_sec if timeout_sec > 0 else DEFAULT_EXEC_TIMEOUT
        timeout = min(timeout, CP_CLIENT_TIMEOUT)
        sb.agent_last_active = time.monotonic()
        os.makedirs(sb.workdir, exist_ok=True)
        env = {"PATH": os.environ.get("PATH", DEFAULT_PATH),
               "HOME": sb.workdir, "USER": "root", "LOGNAME": "root"}
        if self.nice:
            argv, exe = ["nice", "-n", "0", cmd] + list(args), self.nice
        else:
            argv, exe = [cmd] + list(args), None
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, executable=exe, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, cwd=sb.workdir, env=env,
                start_new_session=True)
        except FileNotFoundError:
            return ExecResult(b"", ("nice: '%s': No such file or directory\n"
                                    % cmd).encode(), 127)
        except PermissionError:
            return ExecResult(b"", ("nice: '%s': Permission denied\n"
                                    % cmd).encode(), 126)
        except (OSError, ValueError) as e:
            raise AgentError("internal", "exec: start process: internal: "
                             "fork/exec /bin/sh: %s" % e)
        self.pgids.setdefault(sb.id, set()).add(proc.pid)
        run = _Run(proc)
        self.runs.setdefault(sb.id, set()).add(run)
        io = asyncio.ensure_future(self._collect(proc))
        io.add_done_callback(_consume)
        waits = {io, run.abort} | ({gone} if gone is not None else set())
        try:
            done, _ = await asyncio.wait(waits, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            _killpg(proc.pid)
            raise
        finally:
            self.runs.get(sb.id, set()).discard(run)
        if io in done:
            self._forget_group(sb, proc.pid)
            return io.result()
        if run.abort in done:
            raise AgentError("internal", run.abort.result())
        if gone is not None and gone in done:
            # The RPC context is cancelled and envd kills the command.
            _killpg(proc.pid)
            raise httpio.ClientGone()
        _killpg(proc.pid)
        raise AgentError("internal", "exec: stream error: deadline_exceeded: "
                         "context deadline exceeded")

    async def _collect(self, proc):
        out, err = bytearray(), bytearray()

        async def drain(stream, buf):
            while True:
                chunk = await stream.read(65536)
                if not chunk:
                    return
                room = self.max_output - len(buf)
                if room > 0:
                    buf += chunk[:room]

        drains = [asyncio.ensure_future(drain(proc.stdout, out)),
                  asyncio.ensure_future(drain(proc.stderr, err))]
        try:
            await proc.wait()
            # Like exec.Cmd.Wait: pipes are closed soon after the exit even
            # if a grandchild still holds them.
            await asyncio.wait(drains, timeout=PIPE_GRACE)
        finally:
            for d in drains:
                d.cancel()
        code = proc.returncode
        return ExecResult(bytes(out), bytes(err), -1 if code < 0 else code)

    # ---- metrics ---------------------------------------------------------

    def live_points(self, sb, tier, now=None):
        """The agent's ring buffer for one tier of the current run."""
        if sb.run_started is None:
            return []
        now = time.time() if now is None else now
        step, slots = TIERS[tier]
        n = int((now - sb.run_started) / step)
        first = max(1, n - slots + 1)
        return [_point(sb, sb.run_started + k * step)
                for k in range(first, n + 1)]

    def metrics(self, sb, range_, live):
        """GetSandboxMetrics (live) or the persisted points (paused)."""
        tier, cutoff = RANGE_TIER[range_]
        now = time.time()
        since = int(now - cutoff)
        if live:
            pts = self.live_points(sb, tier, now)
        else:
            pts = sorted(sb.points.get(tier, {}).values(),
                         key=lambda p: p.ts)
        return [p for p in pts if p.ts >= since]

    # ---- TTL reaper --------------------------------------------------------

    def start_reaper(self, on_auto_pause):
        self._reaper = asyncio.ensure_future(self._reap(on_auto_pause))

    async def _reap(self, on_auto_pause):
        while True:
            await asyncio.sleep(REAPER_TICK)
            now = time.monotonic()
            for sb in list(self.state.sandboxes.values()):
                if sb.status == st.RUNNING and sb.timeout_sec > 0 and \
                        sb.run_started is not None and \
                        now - sb.agent_last_active > sb.timeout_sec:
                    await self.pause(sb)
                    on_auto_pause(sb)

    async def shutdown(self):
        """Stop the reaper and kill every process we started."""
        if self._reaper:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        for sid, groups in self.pgids.items():
            for pgid in groups:
                for sig in (signal.SIGCONT, signal.SIGKILL):
                    with contextlib.suppress(OSError):
                        os.killpg(pgid, sig)
        self.pgids.clear()


def _killpg(pgid):
    with contextlib.suppress(OSError):
        os.killpg(pgid, signal.SIGKILL)


def _consume(fut):
    if not fut.cancelled():
        fut.exception()


def _point(sb, t):
    h = zlib.crc32(("%s:%.1f" % (sb.id, t)).encode())
    return st.MetricPoint(ts=int(t), cpu_pct=(h % 2500) / 100.0,
                          mem_bytes=sb.memory_mb * (1 << 20)
                          * (25 + h % 20) // 100,
                          disk_bytes=(160 << 20) + (h % 4096) * 4096)


def _tree_size(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, f)).st_size
    return total
