# SPDX-License-Identifier: MIT
"""wrennd under systemd, with this file playing systemd's part (the test
machine's PID 1 need not be systemd): it binds the sockets itself and
starts wrennd with LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES, reads the exact
sd_notify messages on a datagram NOTIFY_SOCKET, sets WATCHDOG_USEC and
$CREDENTIALS_DIRECTORY. Checks READY=1 with STATUS=, STATUS= following the
counts, RELOADING=1 with MONOTONIC_USEC= then READY=1 around SIGHUP,
STOPPING=1, WATCHDOG=1 pings, a client queued on the socket before wrennd
accepts, credentials from the credentials directory, and a reload under
load (50 clients streaming while SIGHUP swaps the token and a limit)."""
import fcntl
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PYTHON, WRENND, Client, Env, Opened, Tap, dig,  # noqa: E402
                     sanitizer_clean, valgrind_prefix, wait_for)

t = Tap()
env = Env(start_wrennd=False)

STATUS_IDLE = ("auth api_key, upstream not contacted yet, 0 clients, "
               "0 sandboxes, 0 streams, 0 leases")


# Run in the child between fork and wrennd, as systemd does: the sockets
# moved to 3, 4, ... and LISTEN_PID set to the pid wrennd will have.
EXEC_ACTIVATED = """
import os, sys
fds = [int(x) for x in sys.argv[1].split(",")]
for i, fd in enumerate(fds):
    os.dup2(fd, 3 + i)
    os.close(fd)
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[2], sys.argv[2:])
"""


def monotonic_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


class Systemd:
    """One wrennd started the way systemd starts a Type=notify service
    with socket activation. names: the FileDescriptorName= of each
    socket, bound here before wrennd runs (fds 3, 4, ... in order)."""

    def __init__(self, tmp, base_url, names=("control",), api_key=None,
                 creds_dir=None, watchdog_usec=None, extra_env=None,
                 args=(), before_start=None):
        self.dir = tempfile.mkdtemp(prefix="sd.", dir=tmp)
        self.paths = {}
        self.messages = []  # (monotonic usec, text), in arrival order
        self.lock = threading.Lock()
        self.notify_path = os.path.join(self.dir, "notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        listeners = []
        for name in names:
            path = os.path.join(self.dir, name + ".sock")
            ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            ls.bind(path)
            ls.listen(128)
            listeners.append(ls)
            self.paths[name] = path
        if before_start is not None:
            before_start(self)
        # High descriptors, so moving them to 3, 4, ... cannot clobber one
        # another in the shell below.
        high = [fcntl.fcntl(ls.fileno(), fcntl.F_DUPFD, 100 + i)
                for i, ls in enumerate(listeners)]
        e = {k: v for k, v in os.environ.items()
             if not k.startswith(("WRENN", "LISTEN_", "WATCHDOG_"))
             and k not in ("NOTIFY_SOCKET", "CREDENTIALS_DIRECTORY")}
        e.update({"WRENN_BASE_URL": base_url,
                  "NOTIFY_SOCKET": self.notify_path,
                  "LISTEN_FDS": str(len(names)),
                  "LISTEN_FDNAMES": ":".join(names)})
        if api_key is not None:
            e["WRENN_API_KEY"] = api_key
        if creds_dir is not None:
            e["CREDENTIALS_DIRECTORY"] = creds_dir
        if watchdog_usec is not None:
            e["WATCHDOG_USEC"] = str(watchdog_usec)
        e.update(extra_env or {})
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        cmd = valgrind_prefix() + [WRENND] + list(args)
        self.errpath = os.path.join(self.dir, "wrennd.log")
        self.err = open(self.errpath, "w")
        self.proc = subprocess.Popen(
            [PYTHON, "-c", EXEC_ACTIVATED, ",".join(map(str, high))] + cmd,
            env=e, pass_fds=high, stdout=self.err, stderr=subprocess.STDOUT)
        for fd in high:
            os.close(fd)
        for ls in listeners:
            ls.close()

    def _read(self):
        # Each datagram is taken off the socket and recorded under the
        # lock, so _drained() under the lock knows every one sent so far
        # is in self.messages.
        while True:
            try:
                r, _, _ = select.select([self.notify], [], [], 0.5)
            except (OSError, ValueError):
                return
            if not r:
                continue
            with self.lock:
                try:
                    data = self.notify.recv(65536, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    continue
                except OSError:
                    return
                self.messages.append(
                    (monotonic_usec(), data.decode(errors="replace")))

    def _drained(self):
        """True when no sent message waits unread on the socket."""
        with self.lock:
            try:
                r, _, _ = select.select([self.notify], [], [], 0)
            except (OSError, ValueError):
                return True
            return not r

    def texts(self, skip_watchdog=True):
        with self.lock:
            return [m for _, m in self.messages
                    if not (skip_watchdog and m == "WATCHDOG=1")]

    def wait_msg(self, pred, what, start=0, timeout=60):
        """Index (in texts()) of the first message from start on for
        which pred holds."""
        def find():
            # A message sent just before wrennd exited may still be
            # unread: give up only once the socket is drained.
            if self.proc.poll() is not None and self._drained() and not any(
                    pred(m) for m in self.texts()[start:]):
                raise RuntimeError("wrennd exited with %s:\n%s" % (
                    self.proc.returncode, self.stderr()[-3000:]))
            for i, m in enumerate(self.texts()):
                if i >= start and pred(m):
                    return i + 1
            return None
        return wait_for(find, timeout, what=what) - 1

    def wait_ready(self):
        return self.wait_msg(lambda m: m.startswith("READY=1"), "READY=1")

    @property
    def sock(self):
        return self.paths["control"]

    def stderr(self):
        if not self.err.closed:
            self.err.flush()
        with open(self.errpath, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.notify.close()
        self.err.close()
        return self.proc.returncode, self.stderr()


def status_lines(sd):
    """Every STATUS= value sent, in order (READY=1 lines included)."""
    out = []
    for m in sd.texts():
        for line in m.split("\n"):
            if line.startswith("STATUS="):
                out.append(line[len("STATUS="):])
    return out


def start(keep, **kw):
    kw.setdefault("api_key", env.seed["api_key"])
    sd = keep(Systemd(env.tmp, kw.pop("base_url", env.fake.url), **kw))
    sd.wait_ready()
    return sd


def last_request(prefix):
    reqs = [q for q in env.fake.requests() if q["path"].startswith(prefix)]
    return reqs[-1] if reqs else {}


try:
    with t.case("READY=1 with STATUS= once listening"), Opened() as keep:
        sd = start(keep)
        texts = sd.texts()
        t.eq(texts[0], "READY=1\nSTATUS=" + STATUS_IDLE,
             "the first message is READY=1 with the STATUS= line")
        cl = keep(Client(sd.sock))
        t.eq(dig(cl.hello, "method"), "wrennd.hello",
             "after READY=1 the activated socket serves")
        code, text = sd.stop()
        t.eq(code, 0, "exit code after SIGTERM")
        t.ok(sanitizer_clean(text), "no sanitizer report", text[-2000:])

    with t.case("a client queued before wrennd accepts"), Opened() as keep:
        queued = {}

        def connect_early(sd):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(60)
            s.connect(sd.paths["control"])
            s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"sandboxes.list"}'
                      b'\n')
            queued["s"] = s
        sd = start(keep, before_start=connect_early)
        s = queued["s"]
        keep.later(s.close)
        f = s.makefile("rb")
        hello = f.readline()
        reply = f.readline()
        t.has(hello.decode(), '"wrennd.hello"',
              "the queued client gets the greeting")
        t.has(reply.decode(), '"result":[', "and its call's result")

    with t.case("both named sockets (LISTEN_FDNAMES control:tool): each "
                "gets its role"), Opened() as keep:
        sd = start(keep, names=("control", "tool"))
        ctl = keep(Client(sd.paths["control"]))
        tool = keep(Client(sd.paths["tool"]))
        t.eq(dig(ctl.hello, "params", "peer", "role"), "admin",
             "root on the fd named control is admin")
        t.eq(dig(tool.hello, "params", "peer", "role"), "tool",
             "root on the fd named tool is a tool")
        t.eq(dig(tool.call("api_keys.list"), "error", "data", "code"),
             "permission_denied", "the tool socket's peer is held to the "
             "tool role")
        t.eq(dig(ctl.call("daemon.status"), "result", "tool_socket"),
             "(socket activation)",
             "daemon.status says the tool socket came from systemd")

    with t.case("STATUS= follows the counts, only when it changes"), \
            Opened() as keep:
        sd = start(keep)
        a = keep(Client(sd.sock))
        b = keep(Client(sd.sock))
        r = a.call("sandboxes.list")
        t.ok("result" in r, "a call reaches the control plane", r)
        want = ("auth api_key, upstream reachable, 2 clients, 0 sandboxes, "
                "0 streams, 0 leases")
        sd.wait_msg(lambda m: m == "STATUS=" + want, "STATUS with 2 clients")
        t.has(status_lines(sd), want, "STATUS= counts the clients and "
              "shows the upstream reachable")
        a.close()
        b.close()
        idle = want.replace("2 clients", "0 clients")
        sd.wait_msg(lambda m: m == "STATUS=" + idle, "STATUS with 0 clients")
        lines = status_lines(sd)
        repeats = [x for x, y in zip(lines, lines[1:]) if x == y]
        t.eq(repeats, [], "no STATUS= repeats the one before it")

    with t.case("STATUS= tells an unreachable upstream"), Opened() as keep:
        sd = start(keep, base_url="http://127.0.0.1:1")
        cl = keep(Client(sd.sock))
        r = cl.call("sandboxes.list")
        t.eq(dig(r, "error", "data", "code"), "upstream_unreachable",
             "the call fails as unreachable")
        want = ("auth api_key, upstream unreachable, 1 client, "
                "0 sandboxes, 0 streams, 0 leases")
        sd.wait_msg(lambda m: m == "STATUS=" + want, "unreachable STATUS")
        t.has(status_lines(sd), want, "STATUS= says unreachable")

    with t.case("SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1"), \
            Opened() as keep:
        sd = start(keep)
        n = len(sd.texts())
        before = monotonic_usec()
        sd.proc.send_signal(signal.SIGHUP)
        i = sd.wait_msg(lambda m: m.startswith("RELOADING=1"), "RELOADING",
                        start=n)
        j = sd.wait_msg(lambda m: m.startswith("READY=1"), "READY after "
                        "RELOADING", start=i)
        after = monotonic_usec()
        texts = sd.texts()
        head, _, usec = texts[i].partition("\nMONOTONIC_USEC=")
        t.eq(head, "RELOADING=1", "RELOADING=1 comes first")
        t.ok(usec.isdigit(), "MONOTONIC_USEC is the time of the reload",
             "got %r, want %d..%d" % (usec, before, after))
        t.ok(before <= (int(usec) if usec.isdigit() else -1) <= after,
             "MONOTONIC_USEC is the time of the reload",
             "got %r, want %d..%d" % (usec, before, after))
        t.eq(j, i + 1, "READY=1 is the next message")
        t.ok(texts[j].startswith("READY=1\nSTATUS=auth api_key, "),
             "READY=1 again carries the STATUS= line", texts[j])

    with t.case("STOPPING=1 at the start of shutdown"), Opened() as keep:
        sd = start(keep)
        cl = keep(Client(sd.sock))
        n = len(sd.texts())
        sd.proc.send_signal(signal.SIGTERM)
        i = sd.wait_msg(lambda m: m.startswith("STOPPING"), "STOPPING",
                        start=n)
        t.eq(sd.texts()[i], "STOPPING=1", "STOPPING=1 exactly")
        t.ok(cl.closed(60), "the client is closed by the drain")
        code, text = sd.stop()
        t.eq(code, 0, "exit code after the drain")

    with t.case("WATCHDOG=1 at half of WATCHDOG_USEC"), Opened() as keep:
        sd = start(keep, watchdog_usec=200000)

        def pings():
            n = sum(1 for m in sd.texts(skip_watchdog=False)
                    if m == "WATCHDOG=1")
            return n if n >= 10 else None
        t.ok(wait_for(pings, 60, what="10 watchdog pings") >= 10,
             "WATCHDOG=1 pings keep coming")
        t.has(sd.stderr(), "watchdog: WATCHDOG=1 every 100 ms",
              "the interval is half of WATCHDOG_USEC")

    with t.case("WATCHDOG_PID of another process: no watchdog"), \
            Opened() as keep:
        sd = start(keep, watchdog_usec=200000,
                   extra_env={"WATCHDOG_PID": "1"})
        t.ok("watchdog:" not in sd.stderr(),
             "no watchdog is started for another process's WATCHDOG_PID",
             sd.stderr()[-1000:])

    with t.case("$CREDENTIALS_DIRECTORY: API key and token"), \
            Opened() as keep:
        cd = tempfile.mkdtemp(prefix="creds.", dir=env.tmp)
        with open(os.path.join(cd, "wrenn-api-key"), "w") as f:
            f.write(env.seed["api_key"] + "\n")
        with open(os.path.join(cd, "wrenn-token"), "w") as f:
            f.write(env.seed["jwt_owner"] + "\n")
        sd = start(keep, api_key=None, creds_dir=cd)
        t.ok(sd.texts()[0].startswith("READY=1\nSTATUS=auth api_key+jwt,"),
             "READY=1 once both credentials are loaded", sd.texts()[0])
        cl = keep(Client(sd.sock))
        r = cl.call("sandboxes.list")
        t.ok("result" in r, "an API key route works", r)
        t.eq(last_request(env.fake.sandboxes_path).get("api_key"),
             env.seed["api_key"], "wrenn-api-key is sent as the API key")
        r = cl.call("teams.list")
        t.ok("result" in r, "a JWT route works", r)
        t.eq(last_request("/v1/teams").get("bearer"), env.seed["jwt_owner"],
             "wrenn-token is sent as the bearer token")

    for blank, what in (("\n", "the units' SetCredential= default"),
                        ("", "an empty file")):
        with t.case("a blank credential is none: " + what), \
                Opened() as keep:
            cd = tempfile.mkdtemp(prefix="creds.", dir=env.tmp)
            with open(os.path.join(cd, "wrenn-api-key"), "w") as f:
                f.write(env.seed["api_key"])
            with open(os.path.join(cd, "wrenn-token"), "w") as f:
                f.write(blank)
            sd = start(keep, api_key=None, creds_dir=cd)
            t.ok(sd.texts()[0].startswith("READY=1\nSTATUS=auth api_key,"),
                 "a blank wrenn-token (%s) is no token" % what,
                 sd.texts()[0])

    with t.case("reload under load: 50 streams, token and limit swapped"), \
            Opened() as keep:
        N, LINES = 50, 200
        d = tempfile.mkdtemp(prefix="load.", dir=env.tmp)
        go = os.path.join(d, "go")
        tok = os.path.join(d, "token")
        conf = os.path.join(d, "wrennd.conf")
        with open(tok, "w") as f:
            f.write(env.seed["jwt_owner"])
        with open(conf, "w") as f:
            f.write('max-inflight 64\ntoken-file "%s"\n' % tok)
        sd = start(keep, args=["--config", conf])
        # Each stream prints half its lines, waits for the go file (made
        # after the reload), then prints the rest: every stream is in
        # flight across the reload, whatever the machine's speed.
        script = ('for i in $(seq 1 %d); do echo "$0 $i"; done; '
                  'while [ ! -e "$1" ]; do sleep 0.05; done; '
                  'for i in $(seq %d %d); do echo "$0 $i"; done'
                  % (LINES // 2, LINES // 2 + 1, LINES))
        sid = keep(Client(sd.sock)).call("sandboxes.create", {})
        sid = dig(sid, "result", "id")
        results = [None] * N
        halfway = threading.Semaphore(0)

        def worker(k):
            tag = "s%d" % k
            got, seen_half = [], False
            try:
                cl = Client(sd.sock, timeout=300)
                try:
                    i = cl.call_async("sandbox.exec_stream", {
                        "sandbox_id": sid, "cmd": "/bin/sh",
                        "args": ["-c", script, tag, go]})
                    while True:
                        m = cl.read_msg()
                        if m is None:
                            raise EOFError("connection closed")
                        if m.get("id") == i:
                            results[k] = (m, "".join(got))
                            break
                        p = m.get("params", {})
                        if m.get("method") == "$/stream" and \
                                p.get("event") == "stdout":
                            got.append(p.get("data", ""))
                            if not seen_half and ("%s %d\n" % (
                                    tag, LINES // 2)) in "".join(got):
                                seen_half = True
                                halfway.release()
                finally:
                    cl.close()
            except Exception as e:  # noqa: BLE001
                results[k] = ({"exception": repr(e)}, "".join(got))
            if not seen_half:
                halfway.release()
        threads = [threading.Thread(target=worker, args=(k,), daemon=True)
                   for k in range(N)]
        keep.later(lambda: open(go, "w").close())
        for th in threads:
            th.start()
        for _ in range(N):
            halfway.acquire(timeout=300)
        # Every stream is halfway and waiting: swap the token and a limit.
        with open(tok + ".new", "w") as f:
            f.write(env.seed["jwt_admin"])
        os.rename(tok + ".new", tok)
        with open(conf, "w") as f:
            f.write('max-inflight 32\ntoken-file "%s"\n' % tok)
        n = len(sd.texts())
        sd.proc.send_signal(signal.SIGHUP)
        i = sd.wait_msg(lambda m: m.startswith("RELOADING=1"), "RELOADING",
                        start=n)
        sd.wait_msg(lambda m: m.startswith("READY=1"), "READY", start=i)
        open(go, "w").close()
        for th in threads:
            th.join(300)
        bad = []
        for k, res in enumerate(results):
            want = "".join("s%d %d\n" % (k, j) for j in range(1, LINES + 1))
            if res is None or dig(res[0], "result", "exit_code") != 0 or \
                    res[1] != want:
                bad.append((k, res and res[0],
                            res and len(res[1]), len(want)))
        t.eq(bad, [], "every stream completes with all its bytes")
        cl = keep(Client(sd.sock))
        t.eq(dig(cl.hello, "params", "limits", "max_inflight"), 32,
             "the new limit applies to a new client")
        r = cl.call("teams.list")
        t.ok("result" in r, "a JWT route works after the reload", r)
        t.eq(last_request("/v1/teams").get("bearer"), env.seed["jwt_admin"],
             "the swapped token is sent")
        code, text = sd.stop()
        t.eq(code, 0, "exit code after the load")
        t.ok(sanitizer_clean(text), "no sanitizer report", text[-2000:])
finally:
    env.close()
sys.exit(t.done())
