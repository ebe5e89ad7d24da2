# SPDX-License-Identifier: MIT
"""A real Jupyter Server for the run_code tests, started the way the
code-runner template's recipe starts it (jupyter server on port 8888): no token, no
password, no XSRF check, any Origin, no browser, here on a free loopback
port chosen by the kernel (port 0; the port is read back from /proc, so
there is no race for it), with a scratch root, runtime, config and data
directory, and its own IPython and matplotlib directories. Its kernels
abort the requests that arrive within STOP_ON_ERROR_WINDOW seconds of an
error in a request sent with stop_on_error (ipykernel's
stop_on_error_timeout, 0 by default): what a slow machine does by chance,
made certain.

    jup = Jupyter(tmp)               # waits until GET /api answers
    jup.port, jup.url                # 127.0.0.1:<port>
    jup.map_into(fake, sandbox_id)   # the fake proxy sends that
                                     # sandbox's port 8888 here (fake:
                                     # harness.FakeCP or anything with
                                     # its ctl(method, path, body))
    jup.kernel_pids()                # {kernel id: pid}
    jup.kill_kernel(kernel_id)       # SIGKILL it (a crashed kernel)
    jup.stop()                       # kernels, then the server, cleanly

stop() shuts every kernel down through the REST API, asks the server to
exit (POST /api/shutdown), and then kills by pid whatever of this server
is still alive: the server's process group and the kernels, which
jupyter_client starts in sessions of their own and which are found by
their connection files in this server's runtime directory.  Nothing else
on the machine is touched.

available() says whether Debian's python3-jupyter-server and
python3-ipykernel are installed, for a test to SKIP when they are not.
Standard library only (python3 from Debian).
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import urllib.error
import urllib.request

from harness import PYTHON, wait_for

STOP_ON_ERROR_WINDOW = 5.0  # seconds; see Jupyter.__init__

START_TIMEOUT = 90.0       # seconds: a cold start on a loaded machine
STOP_TIMEOUT = 15.0        # seconds for a clean shutdown before kills
SANDBOX_PORT = 8888        # where the recipe's server listens


def available(python=PYTHON):
    """(True, "") if a Jupyter Server with ipykernel can run, else
    (False, why)."""
    try:
        p = subprocess.run([python, "-c",
                            "import jupyter_server, ipykernel"],
                           capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, "cannot run %s: %s" % (python, e)
    if p.returncode != 0:
        return False, ("python3-jupyter-server / python3-ipykernel not "
                       "installed (scripts/deps.sh)")
    return True, ""


def _listening_ports(pid):
    """TCP ports in LISTEN state on sockets that pid holds open."""
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return []
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[3] == "0A" and cols[9] in inodes:
                        ports.append(int(cols[1].rsplit(":", 1)[1], 16))
        except OSError:
            continue
    return ports


class Jupyter:
    """One Jupyter Server process and its kernels."""

    def __init__(self, tmp, python=PYTHON, extra=()):
        self.dir = tempfile.mkdtemp(prefix="jupyter.", dir=tmp)
        self.root = self._mkdir("root")        # the notebook root
        self.runtime = self._mkdir("runtime")  # connection files
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("JUPYTER_", "IPYTHON", "MPL"))}
        ipython = self._mkdir("ipython")
        # After an error in a request sent with stop_on_error, ipykernel
        # aborts every request that arrives within stop_on_error_timeout
        # (0 s by default, which a slow machine stretches by chance):
        # a wide window makes that quirk certain instead of rare.
        os.makedirs(os.path.join(ipython, "profile_default"))
        with open(os.path.join(ipython, "profile_default",
                               "ipython_kernel_config.py"), "w") as f:
            f.write("c.Kernel.stop_on_error_timeout = %r\n"
                    % STOP_ON_ERROR_WINDOW)
        env.update(JUPYTER_RUNTIME_DIR=self.runtime,
                   JUPYTER_CONFIG_DIR=self._mkdir("config"),
                   JUPYTER_DATA_DIR=self._mkdir("data"),
                   IPYTHONDIR=ipython,
                   MPLCONFIGDIR=self._mkdir("matplotlib"),
                   PYTHONDONTWRITEBYTECODE="1")
        cmd = [python, "-m", "jupyter_server",
               "--ServerApp.ip=127.0.0.1", "--ServerApp.port=0",
               "--ServerApp.port_retries=0",
               "--ServerApp.token=", "--ServerApp.password=",
               "--ServerApp.allow_origin=*",
               "--ServerApp.disable_check_xsrf=True",
               "--ServerApp.open_browser=False",
               "--ServerApp.allow_root=True",   # CI runs as root
               "--ServerApp.root_dir=" + self.root] + list(extra)
        self.logpath = os.path.join(self.dir, "server.log")
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen(cmd, env=env, cwd=self.root,
                                     stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        try:
            self.port = wait_for(self._port, START_TIMEOUT, step=0.1,
                                 what="Jupyter Server listening")
            self.url = "http://127.0.0.1:%d" % self.port
            wait_for(self._api_ready, START_TIMEOUT, step=0.1,
                     what="Jupyter Server GET /api")
        except BaseException:
            self.stop()
            raise

    def _mkdir(self, name):
        path = os.path.join(self.dir, name)
        os.makedirs(path)
        return path

    def _exited(self):
        if self.proc.poll() is not None:
            raise RuntimeError("jupyter server exited with %s:\n%s" % (
                self.proc.returncode, self.server_log()[-3000:]))

    def _port(self):
        self._exited()
        ports = _listening_ports(self.proc.pid)
        return ports[0] if ports else None

    def _api_ready(self):
        self._exited()
        try:
            return "version" in self.api("GET", "/api")
        except (OSError, ValueError):
            return False

    def server_log(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def api(self, method, path, body=None, timeout=30):
        """A REST call straight to the server; the decoded JSON or None.
        Raises urllib.error.HTTPError for an error status."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data,
                                     method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=timeout) as r:
            text = r.read()
        return json.loads(text) if text.strip() else None

    def map_into(self, fake, sandbox_id, port=SANDBOX_PORT):
        """Make the fake proxy send sandbox_id's port to this server."""
        fake.ctl("PUT", "sandboxes/%s/ports/%d" % (sandbox_id, port),
                 {"target": "127.0.0.1:%d" % self.port})

    def kernel_pids(self):
        """{kernel id: pid} of this server's live kernel processes."""
        out = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            for a in argv:
                a = a.decode("utf-8", "replace")
                base = os.path.basename(a)
                if os.path.dirname(a) == self.runtime and \
                        base.startswith("kernel-") and base.endswith(".json"):
                    out[base[len("kernel-"):-len(".json")]] = int(pid)
        return out

    def kill_kernel(self, kernel_id, sig=signal.SIGKILL):
        """Kill one kernel process (as a crash would); True if found."""
        pid = self.kernel_pids().get(kernel_id)
        if pid is None:
            return False
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return False
        return True

    def stop(self):
        """Shut down kernels and server; kill what is left, by pid."""
        if self.proc.poll() is None and getattr(self, "url", None):
            try:
                for k in self.api("GET", "/api/kernels", timeout=10) or ():
                    self.api("DELETE", "/api/kernels/" + k["id"],
                             timeout=10)
                self.api("POST", "/api/shutdown", timeout=10)
            except (OSError, ValueError, urllib.error.HTTPError):
                pass
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(5)
                    break
                except subprocess.TimeoutExpired:
                    continue
        for pid in self.kernel_pids().values():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not self.log.closed:
            self.log.close()
        if os.environ.get("WRENND_KEEP_TMP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode
