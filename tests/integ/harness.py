# SPDX-License-Identifier: MIT
"""Integration test harness: starts the fake control plane and wrennd for
real, on temporary sockets and ports, and gives tests a TAP reporter, a
raw wrenn-ipc/1 client and a wrennctl runner.

Environment:
  top_srcdir / top_builddir  set by `make check`
  WRENND_TEST_SOCKET         use an already running wrennd (e.g. under gdb)
  WRENND_VALGRIND=1          run wrennd under valgrind (errors fail the test);
                             every wait multiplies by TIME_FACTOR
  WRENND_TIME_FACTOR=N       that factor (default 10 under valgrind, else 1)
"""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDDIR = os.environ.get("top_builddir") or SRCDIR
PYTHON = "/usr/bin/python3"
WRENND = os.path.join(BUILDDIR, "daemon", "wrennd")
WRENNCTL = os.path.join(BUILDDIR, "cli", "wrennctl")
FAKECP = os.path.join(SRCDIR, "tests", "fakecp", "fakecp.py")
MKCERT = os.path.join(SRCDIR, "tests", "fakecp", "mkcert.sh")

VALGRIND = os.environ.get("WRENND_VALGRIND") == "1"
# One factor for every wait on wrennd: wait_for(), settle(), a Client's
# socket timeouts (set through settimeout() too), wrennctl runs and
# stopping wrennd. Waits are upper bounds for something that must
# happen, so a larger factor only makes a failing run slower.
TIME_FACTOR = float(os.environ.get("WRENND_TIME_FACTOR") or
                    (10 if VALGRIND else 1))


def scaled(seconds):
    """A wait on wrennd, in seconds, times TIME_FACTOR (None stays None)."""
    return None if seconds is None else seconds * TIME_FACTOR


def valgrind_prefix():
    """The command in front of wrennd: valgrind (by its absolute path, for
    an exec that does not search PATH) under WRENND_VALGRIND=1, else
    nothing."""
    if not VALGRIND:
        return []
    return [shutil.which("valgrind") or "valgrind", "-q",
            "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite", "--track-fds=no"]


def skip_slow_under_valgrind(tap, name, covered_by):
    """Under valgrind, report the load case `name` as skipped, saying
    which smaller case covers the same path, and return True; else
    return False. Only for load (many clients, many megabytes), never
    to hide a failure."""
    if not VALGRIND:
        return False
    tap.ok(True, "%s # SKIP too slow under valgrind (load); the same "
           "path runs in %s" % (name, covered_by))
    return True


class Tap:
    """TAP producer: ok(), eq(), done()."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        if not cond:
            self.failed += 1
        print("%sok %d - %s" % ("" if cond else "not ", self.n, name))
        if not cond and diag is not None:
            for line in str(diag).splitlines()[:40]:
                print("#   " + line)
        sys.stdout.flush()
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name,
                       "got:  %r\nwant: %r" % (got, want))

    def has(self, container, item, name):
        """item in container (a substring, a list member, a dict key)."""
        try:
            cond = item in container
        except TypeError:
            cond = False
        return self.ok(cond, name, "want: %r in\ngot:  %r" %
                       (item, container))

    def case(self, name):
        """An independent test case: `with t.case("name"):`. An exception
        inside it (a KeyError on an unexpected reply, a timeout) is
        reported as one failed test with its traceback, and the file goes
        on with the next case instead of ending with a missing plan."""
        return _Case(self, name)

    def diag(self, msg):
        for line in str(msg).splitlines():
            print("# " + line)
        sys.stdout.flush()

    def done(self):
        _check_reports(self)
        print("1..%d" % self.n)
        sys.stdout.flush()
        return 1 if self.failed else 0


class _Case:
    def __init__(self, tap, name):
        self.tap = tap
        self.name = name

    def __enter__(self):
        return self.tap

    def __exit__(self, etype, exc, tb):
        if etype is None or not issubclass(etype, Exception):
            return False
        import traceback
        self.tap.ok(False, "%s: raised %s" % (self.name, etype.__name__),
                    "".join(traceback.format_exception(etype, exc, tb))[-3000:])
        return True


class Opened:
    """What a case opens (clients, daemons, fault rules), undone when the
    case ends, failed or not, so the next case starts clean:

        with t.case("x"), Opened() as keep:
            cl = keep(Client(sock))       # closed at the end
            keep.later(fake.clear_faults)  # called at the end

    keep(obj) returns obj and calls its stop(), else its close(), at the
    end, last opened first."""

    def __init__(self):
        self._undo = []

    def __call__(self, obj):
        self._undo.append(getattr(obj, "stop", None) or obj.close)
        return obj

    def later(self, fn, *args):
        self._undo.append(lambda: fn(*args))

    def __enter__(self):
        return self

    def __exit__(self, etype, exc, tb):
        first = None
        for fn in reversed(self._undo):
            try:
                fn()
            except Exception as e:  # noqa: BLE001
                first = first or e
        self._undo = []
        # A failure inside the case is the one to report; a failed
        # clean-up after a passing case is reported by the case instead.
        if first is not None and etype is None:
            raise first
        return False


def dig(obj, *keys):
    """obj[k1][k2]...: None where a level is missing or not a container,
    so one assertion on a wrong reply fails alone instead of raising."""
    for k in keys:
        try:
            obj = obj[k]
        except (KeyError, IndexError, TypeError):
            return None
    return obj


def wait_for(pred, timeout=10.0, step=0.02, what="condition"):
    """Poll pred() until it is true; timeout is scaled()."""
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise TimeoutError("timed out waiting for " + what)


def settle(fn, want, timeout=10.0, step=0.05):
    """Poll fn() until it returns want or timeout passes; return the last
    value, for an assertion that shows what it was instead of a timeout
    traceback. timeout is scaled()."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        v = fn()
        if v == want or time.monotonic() >= deadline:
            return v
        time.sleep(step)


DIALECTS = ("sandboxes", "capsules")


def test_dialect():
    """The dialect the fake speaks unless a test asks for one:
    WRENND_TEST_DIALECT (sandboxes, the default, or capsules)."""
    d = os.environ.get("WRENND_TEST_DIALECT") or "sandboxes"
    if d not in DIALECTS:
        raise ValueError("WRENND_TEST_DIALECT=%r: expected one of %s"
                         % (d, ", ".join(DIALECTS)))
    return d


class FakeCP:
    """The fake control plane, really started.  dialect: "sandboxes"
    (172413e) or "capsules" (v0.1.5); None = test_dialect()."""

    def __init__(self, tmp, tls=False, extra=(), dialect=None):
        self.tmp = tmp
        self.tls = tls
        self.dialect = dialect or test_dialect()
        # The sandbox routes' prefix in this dialect, for raw requests.
        self.sandboxes_path = "/v1/" + ("capsules" if self.dialect ==
                                        "capsules" else "sandboxes")
        self.dir = tempfile.mkdtemp(prefix="fakecp.", dir=tmp)
        port_file = os.path.join(self.dir, "port")
        self.seed_file = os.path.join(self.dir, "seed.json")
        args = [PYTHON, FAKECP, "--listen", "127.0.0.1:0",
                "--port-file", port_file, "--seed-out", self.seed_file,
                "--state-dir", os.path.join(self.dir, "state"),
                "--dialect", self.dialect]
        if tls:
            self.certdir = os.path.join(self.dir, "certs")
            os.makedirs(self.certdir)
            subprocess.run(["sh", MKCERT, self.certdir], check=True,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            args += ["--tls-cert", os.path.join(self.certdir, "server.pem"),
                     "--tls-key", os.path.join(self.certdir, "server.key"),
                     "--tls-mint-ca", self.certdir]
            self.ca = os.path.join(self.certdir, "ca.pem")
        args += list(extra)
        self.log = open(os.path.join(self.dir, "fakecp.log"), "w")
        self.proc = subprocess.Popen(args, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.port = int(wait_for(lambda: self._read(port_file), 20,
                                 what="fakecp port"))
        self.seed = json.loads(wait_for(lambda: self._read(self.seed_file),
                                        5, what="fakecp seed"))
        # A numeric address: the host may not resolve "localhost" (see
        # localhost_resolves() for the tests that check host names).
        scheme = "https" if tls else "http"
        self.url = "%s://127.0.0.1:%d" % (scheme, self.port)
        self.ctl_url = "http://127.0.0.1:%d" % self.port if not tls else None

    @staticmethod
    def _read(path):
        try:
            with open(path) as f:
                s = f.read()
            return s.strip() or None
        except FileNotFoundError:
            return None

    def _ctl(self, method, path, body=None):
        import ssl
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data,
                                     method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        ctx = None
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.ca)
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            text = r.read()
        return json.loads(text) if text.strip() else None

    def requests(self):
        return self._ctl("GET", "/_fake/requests")

    def clear_requests(self):
        self._ctl("DELETE", "/_fake/requests")

    def fault(self, **kw):
        self._ctl("POST", "/_fake/faults", kw)

    def clear_faults(self):
        self._ctl("DELETE", "/_fake/faults")

    def ctl(self, method, path, body=None):
        """Any /_fake/ control endpoint."""
        return self._ctl(method, "/_fake/" + path, body)

    def force_status(self, sandbox_id, status, after_ms=None):
        body = {"status": status}
        if after_ms is not None:
            body["after_ms"] = after_ms
        self._ctl("POST", "/_fake/sandboxes/%s/status" % sandbox_id, body)

    def map_port(self, sandbox_id, port, target):
        """Send the sandbox proxy's (sandbox_id, port) to target
        ("HOST:PORT") instead of 127.0.0.1:port."""
        self.ctl("PUT", "sandboxes/%s/ports/%d" % (sandbox_id, port),
                 {"target": target})

    def proxied_requests(self):
        """The request log entries that came to the sandbox proxy (each
        with has_api_key/api_key and its "proxy" object)."""
        return [e for e in self.requests() if e.get("proxy")]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def localhost_resolves():
    """Whether "localhost" resolves to 127.0.0.1 here (a minimal root may
    have no /etc/hosts); host-name checks SKIP when it does not."""
    try:
        infos = socket.getaddrinfo("localhost", None, socket.AF_INET)
    except OSError:
        return False
    return any(i[4][0] == "127.0.0.1" for i in infos)


# Every wrennd started, so one a failed case left running is still
# stopped when the test file ends.
_started = []


def _stop_leftovers():
    for w in _started:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()


atexit.register(_stop_leftovers)


class Wrennd:
    """wrennd, really started on a temporary socket. wrap is a command
    prefix (e.g. unshare) run in front of wrennd (and valgrind)."""

    def __init__(self, tmp, base_url, api_key=None, token=None, args=(),
                 env=None, wait=True, socket_path=None, wrap=()):
        self.tmp = tmp
        self.sock = socket_path or os.path.join(
            tempfile.mkdtemp(prefix="w.", dir=tmp), "w.sock")
        self.errpath = os.path.join(tmp, "wrennd.%d.log" % id(self))
        e = dict(os.environ)
        for k in ("WRENN_API_KEY", "WRENN_TOKEN", "WRENN_BASE_URL",
                  "CREDENTIALS_DIRECTORY", "LISTEN_FDS", "LISTEN_PID"):
            e.pop(k, None)
        e["WRENN_BASE_URL"] = base_url
        if api_key is not None:
            e["WRENN_API_KEY"] = api_key
        if token is not None:
            e["WRENN_TOKEN"] = token
        if env:
            e.update(env)
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.args = list(args)
        self.final_stderr = None  # the log as stop() found it
        # Under valgrind a first TLS handshake can outlast the default
        # connect-timeout (10 s): it grows by TIME_FACTOR unless the test
        # sets its own (a later --set wins).
        slow = (["--set", "connect-timeout=%d" % min(600000,
                                                     10000 * TIME_FACTOR)]
                if VALGRIND else [])
        cmd = list(wrap) + valgrind_prefix() + [
            WRENND, "--socket", self.sock] + slow + self.args
        self.err = open(self.errpath, "w")
        self.proc = subprocess.Popen(cmd, env=e, stdout=self.err,
                                     stderr=subprocess.STDOUT)
        _started.append(self)
        if wait:
            # Until the socket answers or wrennd exits (_alive raises):
            # the bound (600 s under valgrind, where start-up on a
            # loaded machine takes minutes) only stops a wrennd that
            # hangs alive.
            wait_for(self._alive, 60, step=0.1, what="wrennd socket")
            # The api-dialect probe at start is done (found or not), so
            # its GET /health is not in a test's request log.
            wait_for(self._dialect_logged, 60, step=0.1,
                     what="wrennd api-dialect line")

    def _running(self):
        """Raise if wrennd has exited (a start-up wait ends at once)."""
        if self.proc.poll() is not None:
            raise RuntimeError("wrennd exited with %s:\n%s" % (
                self.proc.returncode, self.stderr()))

    def _dialect_logged(self):
        self._running()
        return "api-dialect: " in self.stderr()

    def _alive(self):
        self._running()
        if not os.path.exists(self.sock):
            return False
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.sock)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def stderr(self):
        if not self.err.closed:
            self.err.flush()
        with open(self.errpath, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stop and return (exit code, stderr text)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(scaled(timeout))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()
        self.final_stderr = self.stderr()
        return self.proc.returncode, self.final_stderr


def rss_kib(pid, field="VmRSS"):
    """A memory figure of a process from /proc (KiB)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def instrumented():
    """Whether wrennd runs under ASan or valgrind (memory is not comparable)."""
    if os.environ.get("WRENND_VALGRIND") == "1":
        return True
    try:
        out = subprocess.run(["ldd", WRENND], capture_output=True,
                             text=True).stdout
    except OSError:
        return False
    return "libasan" in out


def sanitizer_clean(text):
    """Whether wrennd's stderr shows no sanitizer or valgrind report."""
    bad = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
           "runtime error:", "== Invalid", "definitely lost",
           "== Conditional jump", "== Use of uninitialised",
           "== Syscall param", "== Mismatched free", "== Source and "
           "destination overlap", "== Process terminating")
    return not any(b in text for b in bad)


def _check_reports(tap):
    """At the end of a file: one failure for every wrennd that exited with
    a sanitizer or valgrind report, whether or not its case stopped it
    through Env.close(tap), else one passing line saying none did."""
    dirty = 0
    for w in _started:
        if w.proc.poll() is None:
            continue  # still running: its case checks it, or none can
        text = w.final_stderr
        if text is None:
            try:
                text = w.stderr()
            except OSError:
                continue  # its directory is gone with its Env
        if not sanitizer_clean(text):
            dirty += 1
            tap.ok(False, "wrennd %s ran without a sanitizer or valgrind "
                   "report" % " ".join(w.args), text[-3000:])
    if not dirty:
        tap.ok(True, "no wrennd of this file exited with a sanitizer or "
               "valgrind report (%d started)" % len(_started))


class _ScaledSocket(socket.socket):
    """A socket whose settimeout() is scaled(), so a test's
    `c.s.settimeout(10)` waits long enough under valgrind too."""

    def settimeout(self, value):
        super().settimeout(scaled(value))


class Client:
    """A raw wrenn-ipc/1 client over the Unix socket."""

    def __init__(self, path, timeout=30):
        self.s = _ScaledSocket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""
        self.pending = []  # messages read but not yet consumed
        self.next_id = 1
        self.hello = self.read_msg()

    def send_raw(self, data):
        self.s.sendall(data)

    def send(self, obj):
        self.s.sendall(json.dumps(obj).encode() + b"\n")

    def read_line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                if self.buf:
                    raise EOFError("partial line at EOF")
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def read_msg(self):
        if self.pending:
            return self.pending.pop(0)
        line = self.read_line()
        return None if line is None else json.loads(line)

    def call_async_fds(self, method, params, fds, id=None):
        """A request whose first byte carries fds (SCM_RIGHTS)."""
        if id is None:
            id = self.next_id
            self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": id, "method": method,
               "params": params}
        data = json.dumps(msg).encode() + b"\n"
        n = socket.send_fds(self.s, [data], list(fds))
        if n < len(data):
            self.s.sendall(data[n:])
        return id

    def enable_fds(self):
        r = self.call("rpc.hello", {"enable": ["fds"]})
        return "fds" in r.get("result", {}).get("enabled", [])

    def call_async(self, method, params=None, id=None):
        if id is None:
            id = self.next_id
            self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return id

    def wait_reply(self, id, events=None):
        """Read until the final reply for id; other messages are kept."""
        kept = []
        try:
            while True:
                m = self.pending.pop(0) if self.pending else None
                if m is None:
                    line = self.read_line()
                    if line is None:
                        raise EOFError("connection closed")
                    m = json.loads(line)
                if m.get("id") == id and ("result" in m or "error" in m):
                    return m
                if (events is not None and m.get("method") == "$/stream"
                        and m["params"].get("id") == id):
                    events.append(m["params"])
                    continue
                kept.append(m)
        finally:
            self.pending = kept + self.pending

    def call(self, method, params=None, events=None):
        return self.wait_reply(self.call_async(method, params), events)

    def cancel(self, id):
        self.send({"jsonrpc": "2.0", "method": "$/cancel",
                   "params": {"id": id}})

    def closed(self, timeout=5):
        """Whether the server closed the connection (EOF) within timeout."""
        self.s.settimeout(timeout)
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.s.close()


def wrennctl(sock, *args, input=None, timeout=60, env=None, text=True):
    """Run wrennctl; returns (exit code, stdout bytes, stderr text, or
    stderr bytes with text=False)."""
    e = dict(os.environ)
    e.pop("WRENND_SOCKET", None)
    if env:
        e.update(env)
    p = subprocess.run([WRENNCTL, "--socket", sock] + list(args),
                       input=input, capture_output=True,
                       timeout=scaled(timeout),
                       env=e)
    if not text:
        return p.returncode, p.stdout, p.stderr
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def ctl_json(sock, method, params=None):
    """wrennctl call METHOD PARAMS -> (exit code, parsed out or err)."""
    args = ["call", method]
    if params is not None:
        args.append(json.dumps(params))
    rc, out, err = wrennctl(sock, *args)
    if rc == 0:
        return rc, json.loads(out)
    try:
        e = json.loads(err)
    except ValueError:
        return rc, err
    # wrennctl prints the JSON-RPC error object; tests read it as
    # {"error": {...}} like a raw reply.
    return rc, {"error": e}


class CtlClient:
    """Calls through `wrennctl call` (so through libwrennctl), with the
    replies shaped like raw ones: {"result": ...} or {"error": {...}}."""

    def __init__(self, sock):
        self.sock = sock

    def call(self, method, params=None):
        rc, out = ctl_json(self.sock, method, params)
        if rc == 0:
            return {"result": out}
        if isinstance(out, dict) and "error" in out:
            return out
        return {"error": {"code": None, "message": str(out),
                          "data": {"code": "wrennctl_exit_%d" % rc}}}

    def close(self):
        pass


class Env:
    """A temporary directory with a fake control plane and a wrennd."""

    def __init__(self, tls=False, cred="api_key", wrennd_args=(),
                 fake_args=(), start_wrennd=True, dialect=None):
        self.tmp = tempfile.mkdtemp(prefix="wrennd-test.")
        self.fake = None
        self.wrennd = None
        self.fake = FakeCP(self.tmp, tls=tls, extra=fake_args,
                           dialect=dialect)
        self.seed = self.fake.seed
        if start_wrennd:
            self.start_wrennd(cred=cred, args=wrennd_args)

    def start_wrennd(self, cred="api_key", args=(), **kw):
        api_key = token = None
        if cred in ("api_key", "both"):
            api_key = self.seed["api_key"]
        if cred in ("jwt", "both"):
            token = self.seed["jwt_owner"]
        if cred == "admin":
            token = self.seed["jwt_admin"]
        a = list(args)
        if self.fake.tls:
            a += ["--ca-file", self.fake.ca]
        self.wrennd = Wrennd(self.tmp, self.fake.url, api_key=api_key,
                             token=token, args=a, **kw)
        self.sock = self.wrennd.sock
        return self.wrennd

    def client(self):
        return Client(self.sock)

    def close(self, tap=None):
        rc, text = (None, "")
        if self.wrennd is not None:
            rc, text = self.wrennd.stop()
            if tap is not None:
                tap.eq(rc, 0,
                       "wrennd exits cleanly (no sanitizer report) (exit "
                       "status)")
                tap.ok(sanitizer_clean(text),
                       "wrennd exits cleanly (no sanitizer report)",
                       "exit %s\n%s" % (rc, text[-3000:]))
        if self.fake is not None:
            self.fake.stop()
        if os.environ.get("WRENND_KEEP_TMP") != "1":
            # Keep the logs of the wrennds that ended here for done().
            for w in _started:
                if (w.final_stderr is None and w.proc.poll() is not None
                        and w.errpath.startswith(self.tmp + os.sep)):
                    w.final_stderr = w.stderr()
            shutil.rmtree(self.tmp, ignore_errors=True)
        return rc, text

# The client peer_calls() runs as another user: connects, reads the first
# line (the greeting or the refusal), makes the calls and prints
# {"first", "calls", "eof"}.  argv[3] "together": every call is sent
# before a reply is read (they are in flight at once); else one at a time.
PEER_CLIENT = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(120)
s.connect(sys.argv[1])
f = s.makefile("rwb")
first = f.readline()
out = {"first": json.loads(first) if first else {}, "calls": []}
calls = json.loads(sys.argv[2]) if "error" not in out["first"] else []


def send(i, m, p):
    f.write(json.dumps({"jsonrpc": "2.0", "id": i, "method": m,
                        "params": p}).encode() + b"\n")


if sys.argv[3] == "together":
    for i, (m, p) in enumerate(calls):
        send(i, m, p)
    f.flush()
    got = {}
    while len(got) < len(calls):
        msg = json.loads(f.readline())
        if "id" in msg:
            got[msg["id"]] = msg
    out["calls"] = [got[i] for i in range(len(calls))]
else:
    for i, (m, p) in enumerate(calls):
        send(i, m, p)
        f.flush()
        line = f.readline()
        out["calls"].append(json.loads(line) if line else None)
if "error" in out["first"]:
    out["eof"] = f.readline() == b""
print(json.dumps(out))
"""


def peer_calls(who, sock, calls=(), together=False, timeout=120):
    """Make calls ([method, params] each) on sock from a client run as
    another user: who is setpriv's options for it (["--reuid=65531",
    "--regid=65531", "--clear-groups"]); together sends them all before
    reading a reply.  Returns {"first": the greeting or the refusal,
    "calls": the replies in call order, "eof": after a refusal, whether
    wrennd closed the connection}; RuntimeError when the client fails."""
    p = subprocess.run(["setpriv"] + list(who) +
                       [PYTHON, "-c", PEER_CLIENT, sock, json.dumps(calls),
                        "together" if together else "one"],
                       capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("peer %s failed: %s" % (" ".join(who), p.stderr))
    return json.loads(p.stdout)
