# SPDX-License-Identifier: MIT
"""wrennd as a process: configuration and --check, credentials (API key,
JWT, files, $CREDENTIALS_DIRECTORY) and which one goes upstream, TLS with
a test CA, socket creation/stale/active cases, socket activation, drain on
SIGTERM, and that no secret leaks into replies, logs or the environment."""
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (WRENND, Client, Env, Tap, Wrennd, ctl_json,  # noqa
                     localhost_resolves, sanitizer_clean, scaled, wait_for)

t = Tap()


def run_wrennd(*args, env=None):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("WRENN")}
    e.update(env or {})
    return subprocess.run([WRENND] + list(args), capture_output=True,
                          text=True, env=e, timeout=30)


def cred_used(fake, path_prefix=None):
    prefix = path_prefix or fake.sandboxes_path
    reqs = [q for q in fake.requests() if q["path"].startswith(prefix)]
    return reqs[-1] if reqs else {}


def stopped(w):
    """Stop a wrennd a case started; (exit code, stderr)."""
    return w.stop() if w is not None else (None, "")


def hidden_system_bundle():
    """A command prefix that runs wrennd in a private mount namespace where
    the system CA directory (and so libcurl's built-in bundle) is an empty
    tmpfs: a machine without the ca-certificates package. None when this
    cannot be done (not root, no unshare)."""
    if os.geteuid() != 0 or not os.path.exists("/usr/bin/unshare"):
        return None
    d = "/etc/ssl/certs"
    if not os.path.isdir(d):
        return None
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         "mount -t tmpfs tmpfs %s && test ! -e %s/ca-certificates.crt"
         % (d, d)], capture_output=True)
    if probe.returncode != 0:
        return None
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount -t tmpfs tmpfs %s && exec "$0" "$@"' % d]


env = Env(tls=True, start_wrennd=False)
tmp = env.tmp
sid = None
try:
    # --check and bad configuration
    cfg = os.path.join(tmp, "wrennd.conf")
    with t.case("--check"):
        with open(cfg, "w") as f:
            f.write("# test\nbase-url \"https://example.invalid/api\"\n"
                    "max-clients 10\n")
        p = run_wrennd("--config", cfg, "--check")
        t.eq(p.returncode, 0, "--check exits 0 on a good file")
        t.has(p.stdout, "configuration OK",
              "--check validates and prints the effective config")
        t.has(p.stdout, 'base-url "https://example.invalid/api"',
              "--check validates and prints the effective config")
        p = run_wrennd("--config", cfg, "--base-url", "http://flag:1",
                       "--check", env={"WRENN_BASE_URL": "http://env:1"})
        t.ok('base-url "http://flag:1"' in p.stdout, "flag wins over file",
             p.stdout)
        p = run_wrennd("--config", cfg, "--check",
                       env={"WRENN_BASE_URL": "http://env:1"})
        t.ok('base-url "https://example.invalid/api"' in p.stdout,
             "file wins over env", p.stdout)
        p = run_wrennd("--check", env={"WRENN_BASE_URL": "http://env:1"})
        t.ok('base-url "http://env:1"' in p.stdout, "env over default",
             p.stdout)
    with t.case("bad configuration"):
        with open(cfg, "w") as f:
            f.write("max-clients 10\nmax-inflight lots\n")
        p = run_wrennd("--config", cfg, "--check")
        t.ok(p.returncode != 0, "bad config: one line with file:line:col",
             p.returncode)
        t.eq(p.stderr.count("\n"), 1,
             "bad config: one line with file:line:col")
        t.has(p.stderr, cfg + ":2:1:",
              "bad config: one line with file:line:col")
        for args, what in ((["--base-url", "ftp://x"], "bad URL scheme"),
                           (["--base-url", "http://user:pw@h"],
                            "URL with creds"),
                           (["--frob"], "unknown flag"),
                           (["--api-key-file", "/nonexistent"],
                            "missing key"),
                           (["--socket", "/" + "x" * 200],
                            "long socket path")):
            p = run_wrennd(*args, "--check")
            t.ok(p.returncode != 0,
                 "bad configuration (%s) exits non-zero with a reason" % what,
                 p.returncode)
            t.ok(p.stderr.strip(),
                 "bad configuration (%s) exits non-zero with a reason" % what,
                 p.stderr)
            t.ok(len(p.stderr.strip().splitlines()) <= 4,
                 "bad configuration (%s) exits non-zero with a reason "
                 "(length)" % what, len(p.stderr.strip().splitlines()))
    # issue 7: "--socket $XDG_RUNTIME_DIR/wrennd/wrennd.sock" with the
    # variable unset must not create /wrennd at the filesystem root
    with t.case("socket path from an empty variable"):
        top = "/wrennd-test-%d" % os.getpid()
        for path, what in ((top + "/wrennd.sock", "a new directory at /"),
                           ("/wrennd-test.sock", "a socket in /"),
                           ("wrennd/wrennd.sock", "a relative path")):
            p = run_wrennd("--socket", path, "--check")
            t.ok(p.returncode != 0, "socket path %s is refused" % what,
                 p.stdout)
            t.has(p.stderr, path,
                  "and the reason names the path and the likely cause")
            t.has(p.stderr, "unset variable",
                  "and the reason names the path and the likely cause")
        t.ok(not os.path.exists(top), "nothing is created at /")
        e = {"XDG_RUNTIME_DIR": tmp}
        p = run_wrennd("--check", env=e)
        t.ok('socket "%s/wrennd/wrennd.sock"' % tmp in p.stdout,
             "the default path follows $XDG_RUNTIME_DIR", p.stdout)
        p = run_wrennd("--check", env={"XDG_RUNTIME_DIR": ""})
        t.ok('socket "/run/wrennd/wrennd.sock"' in p.stdout,
             "an empty $XDG_RUNTIME_DIR falls back to /run/wrennd",
             p.stdout)
    with t.case("header injection"):
        kf = os.path.join(tmp, "bad.key")
        with open(kf, "w") as f:
            f.write("wrn_abc\r\nX-Injected: yes\n")
        p = run_wrennd("--api-key-file", kf, "--check")
        t.ok(p.returncode != 0, "a key that could inject a header is "
             "refused", p.stderr)
        t.ok("X-Injected" not in p.stderr, "and not echoed", p.stderr)

    # TLS: the test CA is required; without it the upstream is unreachable
    with t.case("TLS with --ca-file"):
        w = env.start_wrennd(cred="api_key")
        try:
            rc, sb = ctl_json(w.sock, "sandboxes.create")
            t.eq(rc, 0, "HTTPS upstream verified with --ca-file (exit status)")
            t.eq(sb.get("status"), "running",
                 "HTTPS upstream verified with --ca-file (status)")
            sid = sb["id"]
            t.eq(cred_used(env.fake).get("api_key"), env.seed["api_key"],
                 "API key sent as X-API-Key")
            cl = Client(w.sock)
            ev = []
            r = cl.call("sandbox.exec_stream",
                        {"sandbox_id": sid, "cmd": "echo",
                         "args": ["over wss"]}, events=ev)
            t.eq(r.get("result"), {"exit_code": 0},
                 "exec stream over wss:// verified with the same CA (result)")
            t.ok(any(e.get("data") == "over wss\n" for e in ev),
                 "exec stream over wss:// verified with the same CA", r)
            cl.close()
        finally:
            code, text = stopped(w)
        t.eq(code, 0, "clean exit on SIGTERM (exit status)")
        t.ok(sanitizer_clean(text), "clean exit on SIGTERM", text[-2000:])
    with t.case("TLS with an unknown CA"):
        w = Wrennd(tmp, env.fake.url, api_key=env.seed["api_key"])
        try:
            cl = Client(w.sock)
            r = cl.call("sandbox.exec_stream",
                        {"sandbox_id": sid or "cl-none", "cmd": "true"})
            cl.close()
            err = r.get("error", {})
            t.eq(err.get("data", {}).get("code"), "upstream_unreachable",
                 "wss:// with an unknown CA is refused")
            t.ok("certificate" in err.get("message", "").lower(),
                 "and the reason names the certificate", r)
            rc, err = ctl_json(w.sock, "sandboxes.list")
            t.ok(rc != 0, "unknown CA -> upstream_unreachable (exit status)",
                 rc)
            t.eq(err.get("error", {}).get("data", {}).get("code"),
                 "upstream_unreachable",
                 "unknown CA -> upstream_unreachable (code)")
            t.ok(env.seed["api_key"] not in json.dumps(err),
                 "error does not carry the key")
        finally:
            stopped(w)

    # issue 7: a machine without the ca-certificates package
    with t.case("no system CA bundle, --ca-file given"):
        wrap = hidden_system_bundle()
        if wrap is None:
            t.ok(True, "REST and wss:// work without a system CA bundle "
                 "# SKIP needs root and unshare(1)")
        else:
            w = env.start_wrennd(cred="api_key", wrap=wrap)
            try:
                rc, lst = ctl_json(w.sock, "sandboxes.list")
                t.eq(rc, 0,
                     "REST over https works without a system CA bundle (issue "
                     "7) (exit status)")
                t.ok(isinstance(lst, list),
                     "REST over https works without a system CA bundle (issue "
                     "7)", lst)
                cl = Client(w.sock)
                ev = []
                r = cl.call("sandbox.exec_stream",
                            {"sandbox_id": sid or "cl-none", "cmd": "echo",
                             "args": ["no bundle"]}, events=ev)
                cl.close()
                t.eq(r.get("result"), {"exit_code": 0}, "and so does an "
                     "exec stream over wss://")
            finally:
                stopped(w)
    with t.case("no system CA bundle and no --ca-file"):
        e = {"SSL_CERT_FILE": os.path.join(tmp, "missing-bundle.crt"),
             "SSL_CERT_DIR": os.path.join(tmp, "missing-dir")}
        p = run_wrennd("--base-url", env.fake.url, "--check", env=e)
        t.ok(p.returncode != 0, "an https control plane with nothing to "
             "trust fails at start", p.stdout)
        lines = p.stderr.strip().splitlines()
        t.eq(len(lines), 1, "with one line")
        t.has(p.stderr, e.get("SSL_CERT_FILE"),
              "naming the missing bundle and the package")
        t.has(p.stderr, "ca-certificates",
              "naming the missing bundle and the package")
        p = run_wrennd("--base-url", env.fake.url, "--ca-file", env.fake.ca,
                       "--check", env=e)
        t.eq(p.returncode, 0, "--ca-file alone is enough to start")
        p = run_wrennd("--base-url", "http://127.0.0.1:1", "--check", env=e)
        t.eq(p.returncode, 0, "a plain http control plane needs no bundle")
    with t.case("TLS host name verification"):
        if not localhost_resolves():
            t.ok(True, "https://localhost verified by host name "
                 "# SKIP localhost does not resolve to 127.0.0.1 here")
        else:
            url = env.fake.url.replace("127.0.0.1", "localhost")
            w = Wrennd(tmp, url, api_key=env.seed["api_key"],
                       args=["--ca-file", env.fake.ca])
            try:
                rc, lst = ctl_json(w.sock, "sandboxes.list")
                t.eq(rc, 0,
                     "https://localhost verified by host name (exit status)")
                t.ok(isinstance(lst, list),
                     "https://localhost verified by host name", lst)
            finally:
                stopped(w)

    # JWT only: sandbox routes accept Bearer
    with t.case("JWT only"):
        w = env.start_wrennd(cred="jwt")
        try:
            rc, got = ctl_json(w.sock, "sandboxes.get",
                               {"sandbox_id": sid})
            t.eq(rc, 0, "JWT-only daemon works (exit status)")
            t.eq(got.get("id"), sid, "JWT-only daemon works (id)")
            a = cred_used(env.fake)
            t.eq(a.get("bearer"), env.seed.get("jwt_owner"),
                 "JWT sent as Authorization: Bearer (bearer)")
            t.ok(not a.get("api_key"),
                 "JWT sent as Authorization: Bearer (api_key)", a)
            rc, st = ctl_json(w.sock, "daemon.status")
            jwt = st.get("auth", {}).get("jwt", {})
            t.eq(rc, 0, "daemon.status shows the JWT expiry (exit status)")
            t.ok(jwt.get("configured"),
                 "daemon.status shows the JWT expiry (configured)",
                 st.get("auth"))
            t.ok(4 * 3600 < jwt.get("expires_in_sec", 0) <= 6 * 3600,
                 "daemon.status shows the JWT expiry", st.get("auth"))
            t.ok(jwt.get("expires_at", "").endswith("Z"),
                 "daemon.status shows the JWT expiry", st.get("auth"))
            t.ok(env.seed["jwt_owner"] not in json.dumps(st),
                 "no token in status")
        finally:
            stopped(w)

    # both: API key preferred on routes that take either
    with t.case("API key and JWT"):
        w = env.start_wrennd(cred="both")
        try:
            ctl_json(w.sock, "sandboxes.get", {"sandbox_id": sid})
            a = cred_used(env.fake)
            t.eq(a.get("api_key"), env.seed.get("api_key"),
                 "with both, the API key is used on sandbox routes (api_key)")
            t.ok(not a.get("bearer"),
                 "with both, the API key is used on sandbox routes (bearer)",
                 a)
        finally:
            stopped(w)

    # no credential: fails locally, nothing sent upstream
    with t.case("no credential"):
        w = Wrennd(tmp, env.fake.url, args=["--ca-file", env.fake.ca])
        try:
            env.fake.clear_requests()
            rc, err = ctl_json(w.sock, "sandboxes.list")
            t.ok(rc != 0,
                 "no credential -> local unauthorized with a hint (exit "
                 "status)", rc)
            t.eq(err.get("error", {}).get("data", {}).get("code"),
                 "unauthorized",
                 "no credential -> local unauthorized with a hint (code)")
            t.has(err.get("error", {}).get("message"), "WRENN_API_KEY",
                  "no credential -> local unauthorized with a hint (message)")
            t.eq(env.fake.requests(), [],
                 "and nothing reached the control plane")
        finally:
            stopped(w)

    # key from a file and from $CREDENTIALS_DIRECTORY
    with t.case("--api-key-file"):
        kf = os.path.join(tmp, "api.key")
        with open(kf, "w") as f:
            f.write(env.seed["api_key"] + "\n")
        os.chmod(kf, 0o600)
        w = Wrennd(tmp, env.fake.url, args=["--api-key-file", kf,
                                            "--ca-file", env.fake.ca])
        try:
            rc, _ = ctl_json(w.sock, "sandboxes.list")
            t.eq(rc, 0, "--api-key-file: the call succeeds")
            t.eq(cred_used(env.fake).get("api_key"), env.seed["api_key"],
                 "--api-key-file: its key is sent")
        finally:
            stopped(w)
    with t.case("$CREDENTIALS_DIRECTORY"):
        cd = os.path.join(tmp, "creds")
        os.mkdir(cd)
        with open(os.path.join(cd, "wrenn-api-key"), "w") as f:
            f.write(env.seed["api_key"])
        w = Wrennd(tmp, env.fake.url, args=["--ca-file", env.fake.ca],
                   env={"CREDENTIALS_DIRECTORY": cd})
        try:
            rc, _ = ctl_json(w.sock, "sandboxes.list")
            t.eq(rc, 0, "$CREDENTIALS_DIRECTORY: the call succeeds")
            t.eq(cred_used(env.fake).get("api_key"), env.seed["api_key"],
                 "$CREDENTIALS_DIRECTORY/wrenn-api-key is sent")
        finally:
            stopped(w)

    # secrets are scrubbed from the process environment, no core dumps
    with t.case("process hygiene and the socket file"):
        w = env.start_wrennd(cred="both")
        try:
            with open("/proc/%d/environ" % w.proc.pid, "rb") as f:
                environ = f.read()
            if os.environ.get("WRENND_VALGRIND") == "1":
                # /proc/PID/environ is valgrind's own copy, not wrennd's
                t.ok(True, "credentials are scrubbed from /proc/PID/environ "
                     "# SKIP under valgrind")
            else:
                t.ok(env.seed.get("api_key").encode() not in environ,
                     "credentials are scrubbed from /proc/PID/environ",
                     environ)
                t.ok(env.seed.get("jwt_owner").encode() not in environ,
                     "credentials are scrubbed from /proc/PID/environ",
                     environ)
            with open("/proc/%d/limits" % w.proc.pid) as f:
                lim = [ln for ln in f if ln.startswith("Max core file size")]
            t.eq(len(lim), 1, "core dumps disabled (the limit is listed)")
            t.eq(lim[0].split()[4] if lim else None, "0",
                 "core dumps disabled")

            # socket file: mode 0600; a second daemon on the same path
            # refuses
            mode = stat.S_IMODE(os.stat(w.sock).st_mode)
            t.eq(oct(mode), oct(0o600), "socket is created with mode 0600")
            w2 = Wrennd(tmp, env.fake.url, socket_path=w.sock, wait=False)
            w2.proc.wait(20)
            t.ok(w2.proc.returncode != 0,
                 "a second wrennd does not steal a live socket",
                 w2.proc.returncode)
            t.has(w2.stderr(), "already listening",
                  "a second wrennd does not steal a live socket")
            w2.err.close()
            t.ok(os.path.exists(w.sock), "and the live socket is untouched")
        finally:
            code, text = stopped(w)
        t.ok(not os.path.exists(w.sock), "socket removed on exit")
        t.ok(env.seed.get("api_key") not in text, "no secret in the log", text)
        t.ok(env.seed.get("jwt_owner") not in text, "no secret in the log",
             text)

    # stale socket file is replaced
    with t.case("stale socket and drain"):
        stale = os.path.join(tmp, "stale.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(stale)
        s.close()
        w = Wrennd(tmp, env.fake.url, socket_path=stale,
                   args=["--ca-file", env.fake.ca, "--set",
                         "drain-timeout=%d" % scaled(5000)],
                   api_key=env.seed["api_key"])
        try:
            rc, _ = ctl_json(w.sock, "sandboxes.list")
            t.eq(rc, 0, "stale socket replaced")
            # drain: a call in flight finishes after SIGTERM
            cl = Client(w.sock)
            # Long enough for the status polls below to see it in flight
            # (each is slow under valgrind: one probe over TLS).
            cid = cl.call_async("sandbox.exec",
                                {"sandbox_id": sid, "cmd": "sleep",
                                 "args": ["%g" % scaled(1)]})
            probe = Client(w.sock)
            wait_for(lambda: probe.call("daemon.status")["result"]["counts"]
                     ["calls_inflight"] >= 2, 10, 0.02,
                     "the exec call in flight")
            probe.close()
            w.proc.terminate()
            r = cl.wait_reply(cid)
            t.eq(r.get("result", {}).get("exit_code"), 0,
                 "SIGTERM lets the call in flight finish")
            w.proc.wait(20)
            t.eq(w.proc.returncode, 0, "then wrennd exits 0")
            cl.close()
        finally:
            stopped(w)

    # audit 17: --set KEY=VALUE is not cut at 512 bytes
    with t.case("--set with a long value"):
        url = "http://127.0.0.1:1/" + "p" * 1000
        p = run_wrennd("--set", "base-url=" + url, "--check")
        t.eq(p.returncode, 0, "--set with a 1019-byte value is accepted")
        t.ok('base-url "%s"\n' % url in p.stdout, "and kept whole",
             p.stdout[-300:])
        p = run_wrennd("--set", "max-inflight", "--check")
        t.ok(p.returncode != 0, "--set without '=' is refused", p.returncode)
        t.has(p.stderr, "KEY=VALUE", "--set without '=' is refused")

    # audit 13: a FIFO as the token file blocks nothing
    fifo = os.path.join(tmp, "token.fifo")
    with t.case("a FIFO token file at start"):
        os.mkfifo(fifo, 0o600)
        p = run_wrennd("--token-file", fifo, "--check")
        t.ok(p.returncode != 0, "wrennd refuses a FIFO token file "
             "(instead of blocking in open)", p.stdout)
        t.ok("not a regular file" in p.stderr, "as not a regular file",
             p.stderr)
        link = os.path.join(tmp, "token.link")
        os.symlink(fifo, link)
        p = run_wrennd("--token-file", link, "--check")
        t.ok(p.returncode != 0, "a symbolic link is refused too", p.returncode)
        t.has(p.stderr, "symbolic link", "a symbolic link is refused too")
    with t.case("a FIFO swapped in for the token file"):
        tf = os.path.join(tmp, "token.jwt")
        with open(tf, "w") as f:
            f.write(env.seed["jwt_owner"] + "\n")
        w = Wrennd(tmp, env.fake.url, args=["--token-file", tf,
                                            "--ca-file", env.fake.ca])
        try:
            swap = os.path.join(tmp, "token.swap")
            os.mkfifo(swap, 0o600)
            os.rename(swap, tf)
            wait_for(lambda: "keeping current credentials" in w.stderr(),
                     20, 0.1, "the refused reload in the log")
            t.ok("not a regular file" in w.stderr(),
                 "the watch refuses the FIFO", w.stderr()[-1000:])
            c = Client(w.sock, timeout=10)
            st = c.call("daemon.status")
            c.close()
            t.eq(st.get("result", {}).get("auth", {}).get("jwt", {})
                 .get("configured"), True,
                 "wrennd still answers and keeps the old token")
        finally:
            stopped(w)

    # audit 12: JWT claims out of range are treated as absent
    with t.case("out-of-range JWT exp"):
        import base64
        for exp, what in (("1e300", "a real exp past time_t"),
                          ("9000000000000000000", "exp past year 9999"),
                          ("-1e300", "a hugely negative exp")):
            body = base64.urlsafe_b64encode(
                ('{"sub":"u","exp":%s}' % exp).encode()).decode()
            tok = "eyJhbGciOiJIUzI1NiJ9.%s.c2ln" % body.rstrip("=")
            w = Wrennd(tmp, env.fake.url, token=tok,
                       args=["--ca-file", env.fake.ca])
            try:
                c = Client(w.sock, timeout=10)
                st = c.call("daemon.status")["result"]["auth"]["jwt"]
                c.close()
                t.ok(st.get("configured"),
                     "%s: no expiry is reported (configured)" % what, st)
                t.ok("expires_at" not in st,
                     "%s: no expiry is reported" % what, st)
            finally:
                code, text = stopped(w)
            t.eq(code, 0,
                 "%s: clean exit (no sanitizer or valgrind report) (exit "
                 "status)" % what)
            t.ok(sanitizer_clean(text),
                 "%s: clean exit (no sanitizer or valgrind report)" % what,
                 text[-2000:])

    # the expired-JWT hint says what actually works
    with t.case("expired JWT hint"):
        w = Wrennd(tmp, env.fake.url, token=env.seed["jwt_expired"],
                   args=["--ca-file", env.fake.ca])
        try:
            rc, err = ctl_json(w.sock, "teams.list")
            msg = err.get("error", {}).get("message", "") \
                if isinstance(err, dict) else str(err)
            t.ok(rc != 0, "an expired JWT is refused (exit status)", rc)
            t.has(msg, "expired", "an expired JWT is refused")
            t.has(msg, "restart", "from WRENN_TOKEN the hint says to restart")
            t.ok("token file" not in msg,
                 "from WRENN_TOKEN the hint says to restart", msg)
        finally:
            stopped(w)
        tf = os.path.join(tmp, "expired.jwt")
        with open(tf, "w") as f:
            f.write(env.seed["jwt_expired"])
        w = Wrennd(tmp, env.fake.url, args=["--token-file", tf,
                                            "--ca-file", env.fake.ca])
        try:
            rc, err = ctl_json(w.sock, "teams.list")
            msg = err.get("error", {}).get("message", "") \
                if isinstance(err, dict) else str(err)
            t.has(msg, "token file",
                  "from a token file the hint says to rewrite it")
            t.ok("restart" not in msg,
                 "from a token file the hint says to rewrite it", msg)
        finally:
            stopped(w)

    # architecture 6: SIGHUP reloads the configuration file too
    with t.case("SIGHUP reloads the configuration"):
        rc_file = os.path.join(tmp, "reload.conf")
        tf = os.path.join(tmp, "later.jwt")

        def write_conf(text):
            with open(rc_file, "w") as f:
                f.write(text)

        write_conf("max-inflight 3\n")
        w = Wrennd(tmp, env.fake.url, api_key=env.seed["api_key"],
                   args=["--config", rc_file, "--ca-file", env.fake.ca])
        try:
            old = Client(w.sock)
            t.eq(old.hello["params"]["limits"]["max_inflight"], 3,
                 "max-inflight from the file")

            def reloads(n):
                w.proc.send_signal(signal.SIGHUP)
                wait_for(lambda: w.stderr().count("SIGHUP:") >= n, 20, 0.05,
                         "reload %d in the log" % n)

            write_conf("max-inflight 5\ntoken-file \"%s\"\n" % tf)
            with open(tf, "w") as f:
                f.write(env.seed["jwt_owner"])
            reloads(1)
            new = Client(w.sock)
            t.eq(new.hello["params"]["limits"]["max_inflight"], 5,
                 "a new client gets the reloaded max-inflight")
            st = new.call("daemon.status")["result"]
            t.eq(st["auth"]["jwt"].get("source"), "file",
                 "a token-file named by the reloaded file is read")
            t.ok(old.call("daemon.status").get("result") is not None,
                 "the old client stays connected")
            new.close()

            write_conf("max-inflight lots\n")
            reloads(2)
            t.ok("keeping current configuration" in w.stderr(),
                 "a bad file is refused with a log line",
                 w.stderr()[-1000:])
            new = Client(w.sock)
            t.eq(new.hello["params"]["limits"]["max_inflight"], 5,
                 "and the running configuration is kept")
            new.close()

            write_conf("max-inflight 6\nbase-url \"http://127.0.0.1:1\"\n"
                       "token-file \"%s\"\n" % tf)
            reloads(3)
            t.ok("base-url: changed only by a restart" in w.stderr(),
                 "a restart-only option is named in the log",
                 w.stderr()[-1000:])
            new = Client(w.sock)
            st = new.call("daemon.status")["result"]
            t.eq(st["upstream"]["base_url"], env.fake.url,
                 "and keeps its running value")
            t.eq(new.hello["params"]["limits"]["max_inflight"], 6,
                 "while the rest of the file applies")
            rc, lst = ctl_json(w.sock, "sandboxes.list")
            t.eq(rc, 0, "the upstream still works")
            new.close()
            old.close()
        finally:
            code, text = stopped(w)
        t.eq(code, 0, "clean exit after reloads (exit status)")
        t.ok(sanitizer_clean(text), "clean exit after reloads", text[-2000:])

    # socket activation: fd 3 passed, never unlinked
    with t.case("socket activation"):
        act = os.path.join(tmp, "act.sock")
        ls = socket.socket(socket.AF_UNIX)
        ls.bind(act)
        ls.listen(16)
        e = {k: v for k, v in os.environ.items()
             if not k.startswith("WRENN")}
        e.update({"WRENN_API_KEY": env.seed["api_key"],
                  "WRENN_BASE_URL": env.fake.url, "LISTEN_FDS": "1"})
        logf = open(os.path.join(tmp, "act.log"), "w")
        proc = subprocess.Popen(
            ["sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@" 3<&%d' % ls.fileno(),
             WRENND, "--ca-file", env.fake.ca],
            env=e, pass_fds=(ls.fileno(),), stdout=logf, stderr=logf)
        ls.close()
        try:
            def serves():
                rc, lst = ctl_json(act, "sandboxes.list")
                return (rc, lst) if rc == 0 else None
            rc, lst = wait_for(serves, 20, 0.05, "the activated socket")
            t.ok(isinstance(lst, list), "socket activation serves", lst)
        finally:
            proc.terminate()
            proc.wait(20)
            logf.close()
        t.ok(os.path.exists(act), "an inherited socket is never unlinked")
finally:
    env.close()
sys.exit(t.done())
