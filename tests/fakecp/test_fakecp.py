#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Self-test of the fake control plane; prints TAP.

Starts fakecp.py on port 0 (plain HTTP, then HTTPS with mkcert.sh
certificates) and checks a handful of contract behaviours with http.client:
auth precedence and messages, chi's 404/405, Go JSON shape, real exec
output and the base64 rule, the pause/resume/destroy state machine, team
scoping, the ID-overflow connection drop, snapshots, the request log, fault
injection and forced status changes.  Children are killed in a finally
block.  Runs in a few seconds.

Environment: FAKECP_PYTHON overrides the interpreter for the fake
(default /usr/bin/python3, which has python3-aiohttp).
"""

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE_PYTHON = os.environ.get("FAKECP_PYTHON", "/usr/bin/python3")


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, desc, diag=None):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, desc))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, desc))
            if diag is not None:
                for line in str(diag).splitlines() or [""]:
                    print("#   " + line)
        sys.stdout.flush()
        return cond

    def eq(self, got, want, desc):
        return self.ok(got == want, desc, "got:  %r\nwant: %r" % (got, want))

    def has(self, container, item, desc):
        """item in container, showing both on failure."""
        return self.ok(item in container, desc, "want: %r in\ngot:  %r"
                       % (item, container))


class Fake:
    """One fakecp.py child process."""

    def __init__(self, tmp, name, tls=None, extra=()):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        port_file = os.path.join(self.dir, "port")
        seed_file = os.path.join(self.dir, "seed.json")
        argv = [FAKE_PYTHON, "-B", os.path.join(HERE, "fakecp.py"),
                "--listen", "127.0.0.1:0", "--port-file", port_file,
                "--seed-out", seed_file,
                "--state-dir", os.path.join(self.dir, "state")]
        if tls:
            argv += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        argv += list(extra)
        self.stderr = open(os.path.join(self.dir, "stderr"), "w+")
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                     stderr=self.stderr)
        deadline = time.time() + 15
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stderr.seek(0)
                raise RuntimeError("fakecp did not start:\n"
                                   + self.stderr.read())
            time.sleep(0.05)
        with open(port_file) as f:
            self.port = int(f.read())
        with open(seed_file) as f:
            self.seed = json.load(f)

    def ctl(self, method, path, body=None):
        """A /_fake/ control call (plain HTTP fakes): JSON reply or None."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request(method, "/_fake/" + path, body=None if body is None
                      else json.dumps(body))
            r = c.getresponse()
            data = r.read()
        finally:
            c.close()
        if r.status >= 400:
            raise RuntimeError("%s /_fake/%s: %d %r" % (method, path,
                                                        r.status, data))
        return json.loads(data) if data.strip() else None

    def peak_rss_kib(self):
        """The fake's peak resident set (VmHWM) so far, in KiB."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()
        return self.proc.returncode


class Client:
    def __init__(self, port, ssl_ctx=None):
        self.port = port
        self.ssl_ctx = ssl_ctx

    def request(self, method, path, body=None, headers=None, key=None,
                jwt=None, timeout=10):
        """Returns (status, headers message, body bytes)."""
        h = dict(headers or {})
        if key is not None:
            h["X-API-Key"] = key
        if jwt is not None:
            h["Authorization"] = "Bearer " + jwt
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if self.ssl_ctx:
            c = http.client.HTTPSConnection("127.0.0.1", self.port,
                                            timeout=timeout,
                                            context=self.ssl_ctx)
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port,
                                           timeout=timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, r.headers, r.read()
        finally:
            c.close()

    def json(self, method, path, body=None, **kw):
        status, _, data = self.request(method, path, body, **kw)
        try:
            return status, json.loads(data) if data.strip() else None
        except ValueError:
            return status, data


def err(code, message):
    return {"error": {"code": code, "message": message}}


def test_plain(t, fake):
    c = Client(fake.port)
    seed = fake.seed
    key, key_b = seed["api_key"], seed["api_key_b"]
    jwt = seed["jwt_owner"]

    t.eq(c.json("GET", "/_fake/health")[0], 200, "control health answers")

    # Auth (CONTRACT 2.2) and Go's JSON framing.
    status, hdrs, body = c.request("GET", "/v1/sandboxes")
    t.eq(status, 401, "no credentials: 401")
    t.eq(hdrs.get("Content-Type"), "application/json",
         "JSON content type without charset")
    t.ok(body.endswith(b"}\n"), "body ends with one newline and escapes < >",
         body)
    t.has(body, b"\\u003ctoken\\u003e",
          "body ends with one newline and escapes < >")
    t.eq(c.json("GET", "/v1/sandboxes", key="wrn_bad", jwt=jwt),
         (401, err("unauthorized", "invalid API key")),
         "invalid X-API-Key wins over a valid Bearer token")
    t.eq(c.json("GET", "/v1/sandboxes", jwt=seed["jwt_expired"]),
         (401, err("unauthorized", "invalid or expired token")),
         "expired JWT rejected")
    t.eq(c.json("GET", "/v1/sandboxes", jwt=seed["jwt_host"])[0], 401,
         "host token rejected as user token")
    t.eq(c.json("GET", "/v1/sandboxes", jwt=jwt), (200, []),
         "valid JWT lists an empty team")

    # chi routing.
    t.eq(c.request("GET", "/v1/sandboxes/cl-x/nope")[0], 401,
         "unknown path under auth prefix: 401 without credentials")
    status, hdrs, body = c.request("GET", "/v1/sandboxes/cl-x/nope", key=key)
    t.eq(status, 404, "unknown path with credentials: chi 404 text")
    t.eq(body, b"404 page not found\n",
         "unknown path with credentials: chi 404 text")
    status, hdrs, body = c.request("PUT", "/v1/sandboxes", key=key)
    t.eq(status, 405, "wrong method: 405, empty, Allow")
    t.eq(body, b"", "wrong method: 405, empty, Allow")
    t.eq(sorted(hdrs.get_all("Allow") or []), ["GET", "POST"],
         "wrong method: 405, empty, Allow")

    # Create.
    t.eq(c.json("POST", "/v1/sandboxes", key=key),
         (400, err("invalid_request", "invalid JSON body")),
         "empty body is invalid JSON")
    status, sb = c.json("POST", "/v1/sandboxes", {"TEMPLATE": "minimal",
                                                   "junk": 1}, key=key)
    t.eq(status, 201, "create: 201 running with defaults")
    t.eq(sb.get("status"), "running",
         "create: 201 running with defaults (status)")
    t.eq(sb.get("vcpus"), 1, "create: 201 running with defaults (vcpus)")
    t.eq(sb.get("memory_mb"), 512,
         "create: 201 running with defaults (memory_mb)")
    t.has(sb, "host_ip", "create: 201 running with defaults")
    t.has(sb, "started_at", "create: 201 running with defaults")
    t.ok(sb.get("id", "").startswith("cl-"), "create: 201 running with defaults",
         (status, sb))
    sid = sb["id"]
    t.eq(c.json("POST", "/v1/sandboxes", {"vcpus": "2"}, key=key)[0], 400,
         "type mismatch is invalid JSON")

    # Exec.
    status, r = c.json("POST", "/v1/sandboxes/%s/exec" % sid,
                       {"cmd": "/bin/sh", "args": ["-c",
                        "echo out; echo err >&2; pwd; exit 3"]}, key=key)
    t.eq(status, 200, "exec runs for real in the sandbox directory")
    t.ok(r.get("stdout", "").startswith("out\n"),
         "exec runs for real in the sandbox directory", (status, r))
    t.eq(r.get("stderr"), "err\n",
         "exec runs for real in the sandbox directory (stderr)")
    t.eq(r.get("exit_code"), 3,
         "exec runs for real in the sandbox directory (exit_code)")
    t.eq(r.get("encoding"), "utf-8",
         "exec runs for real in the sandbox directory (encoding)")
    t.has(r.get("stdout"), sid,
          "exec runs for real in the sandbox directory (stdout)")
    t.eq(list(r),
         ["sandbox_id", "cmd", "stdout", "stderr", "exit_code", "duration_ms", "encoding"],
         "exec runs for real in the sandbox directory")
    status, r = c.json("POST", "/v1/sandboxes/%s/exec" % sid,
                       {"cmd": "printf", "args": ["\\377"]}, key=key)
    t.eq(status, 200, "non-UTF-8 output: both streams base64")
    t.eq(r.get("encoding"), "base64",
         "non-UTF-8 output: both streams base64 (encoding)")
    t.eq(base64.b64decode(r.get("stdout")), b"\xff",
         "non-UTF-8 output: both streams base64")
    t.eq(r.get("stderr"), "", "non-UTF-8 output: both streams base64 (stderr)")
    status, r = c.json("POST", "/v1/sandboxes/%s/exec" % sid,
                       {"cmd": "no-such-binary-x"}, key=key)
    t.eq(status, 200, "missing binary: exit 127, nice message")
    t.eq(r.get("exit_code"), 127,
         "missing binary: exit 127, nice message (exit_code)")
    t.has(r.get("stderr"),
          "nice: 'no-such-binary-x': No such file or directory",
          "missing binary: exit 127, nice message (stderr)")
    t.eq(c.json("POST", "/v1/sandboxes/%s/exec" % sid,
                {"cmd": "true", "timeout_sec": 1.5}, key=key)[0], 400,
         "float timeout_sec is invalid JSON")
    t0 = time.time()
    t.eq(c.json("POST", "/v1/sandboxes/%s/exec" % sid,
                {"cmd": "sleep", "args": ["10"], "timeout_sec": 1}, key=key),
         (502, err("agent_error", "internal: exec: stream error: "
                   "deadline_exceeded: context deadline exceeded")),
         "exec timeout: 502 agent_error")
    t.ok(time.time() - t0 < 4, "timeout honoured (~1 s)")
    status, hdrs, body = c.request(
        "POST", "/v1/sandboxes/%s/exec" % sid,
        json.dumps({"cmd": "head", "args": ["-c", "3000", "/dev/zero"]}),
        key=key)
    t.eq(status, 200, "bodies over 2048 bytes are chunked like net/http")
    t.eq(hdrs.get("Transfer-Encoding"), "chunked",
         "bodies over 2048 bytes are chunked like net/http "
         "(Transfer-Encoding)")

    # State machine (CONTRACT 6.2) and scoping.
    base = "/v1/sandboxes/" + sid
    t.eq(c.json("POST", base + "/pause", key=key)[1]["status"], "paused",
         "pause -> paused")
    t.eq(c.json("POST", base + "/pause", key=key),
         (409, err("invalid_state",
                   "sandbox is not running (status: paused)")),
         "pause twice: 409")
    t.eq(c.json("POST", base + "/exec", "not json", key=key)[0], 409,
         "exec on paused: 409 before body decode")
    t.eq(c.json("POST", base + "/resume", key=key)[1]["status"], "running",
         "resume -> running")
    t.eq(c.json("POST", base + "/resume", key=key),
         (409, err("invalid_state",
                   "sandbox is not paused (status: running)")),
         "resume running: 409")
    t.eq(c.request("POST", base + "/ping", key=key)[0], 204, "ping: 204")
    t.eq(c.json("GET", base, key=key_b),
         (404, err("not_found", "sandbox not found")),
         "other team's sandbox is 404")
    t.eq(c.request("DELETE", base, key=key)[0], 204, "destroy: 204")
    t.eq(c.request("DELETE", base, key=key)[0], 204, "destroy again: 204")
    t.eq(c.json("GET", base, key=key)[1]["status"], "stopped",
         "GET shows stopped")
    t.eq(c.json("GET", "/v1/sandboxes", key=key), (200, []),
         "list hides stopped")
    t.eq(c.json("GET", "/v1/sandboxes/cl-abc", key=key),
         (400, err("invalid_request", "invalid sandbox ID")), "bad ID: 400")
    dropped = False
    try:
        c.request("GET", "/v1/sandboxes/cl-" + "z" * 25, key=key)
    except (http.client.HTTPException, ConnectionError):
        dropped = True
    t.ok(dropped, "ID above 2^128-1 drops the connection")

    # Snapshots.
    _, sb = c.json("POST", "/v1/sandboxes", {"vcpus": 2}, key=key)
    status, tmpl = c.json("POST", "/v1/snapshots",
                          {"sandbox_id": sb["id"], "name": "snap1"}, key=key)
    t.eq(status, 201, "snapshot: 201 Template")
    t.eq(tmpl.get("type"), "snapshot", "snapshot: 201 Template (type)")
    t.eq(tmpl.get("vcpus"), 2, "snapshot: 201 Template (vcpus)")
    t.ok(tmpl.get("platform") is False, "snapshot: 201 Template (platform)",
         tmpl.get("platform"))
    t.eq(c.json("GET", "/v1/sandboxes/" + sb["id"], key=key)[1]["status"],
         "paused", "snapshot leaves the sandbox paused")
    t.eq(c.json("POST", "/v1/snapshots", {"sandbox_id": sb["id"],
                                          "name": "minimal"}, key=key)[1],
         err("name_reserved", "template name is reserved by a global "
             "template"), "platform name is reserved")
    status, sb2 = c.json("POST", "/v1/sandboxes",
                         {"template": "snap1", "vcpus": 8}, key=key)
    t.eq(status, 201, "snapshot template pins vcpus")
    t.eq(sb2.get("vcpus"), 2, "snapshot template pins vcpus (vcpus)")

    # Request log.
    c.request("DELETE", "/_fake/requests")
    c.request("GET", "/v1/sandboxes", key=key_b)
    c.request("GET", "/v1/sandboxes", jwt=jwt)
    _, entries = c.json("GET", "/_fake/requests")
    t.eq(len(entries), 2,
         "request log records credentials and status (length)")
    t.eq(entries[0].get("api_key"), key_b,
         "request log records credentials and status (api_key)")
    t.eq(entries[1].get("bearer"), jwt,
         "request log records credentials and status (bearer)")
    t.ok(not entries[1].get("has_api_key"),
         "request log records credentials and status (has_api_key)", entries)
    t.eq(entries[0].get("status"), 200,
         "request log records credentials and status (status)")

    # Faults.
    c.request("POST", "/_fake/faults", json.dumps(
        {"path": "^/v1/sandboxes$", "method": "GET", "status": 503,
         "count": 1}))
    t.eq(c.request("GET", "/v1/sandboxes", key=key)[0], 503,
         "fault: injected 503")
    t.eq(c.request("GET", "/v1/sandboxes", key=key)[0], 200,
         "fault: count exhausted")
    c.request("POST", "/_fake/faults", json.dumps(
        {"path": "/stats$", "reset": True, "count": 1}))
    reset = False
    try:
        c.request("GET", "/v1/sandboxes/stats", key=key)
    except (http.client.HTTPException, ConnectionError, socket.error):
        reset = True
    t.ok(reset, "fault: connection reset without response")
    c.request("POST", "/_fake/faults", json.dumps(
        {"path": "/stats$", "delay_ms": 300}))
    t0 = time.time()
    status = c.request("GET", "/v1/sandboxes/stats", key=key)[0]
    t.eq(status, 200, "fault: delay")
    t.ok(time.time() - t0 >= 0.3, "fault: delay", time.time() - t0)
    c.request("DELETE", "/_fake/faults")

    # Forced status for polling waiters.
    c.request("POST", "/_fake/sandboxes/%s/status" % sb2["id"],
              json.dumps({"status": "pending"}))
    c.request("POST", "/_fake/sandboxes/%s/status" % sb2["id"],
              json.dumps({"status": "running", "after_ms": 300}))
    first = c.json("GET", "/v1/sandboxes/" + sb2["id"], key=key)[1]["status"]
    time.sleep(0.5)
    later = c.json("GET", "/v1/sandboxes/" + sb2["id"], key=key)[1]["status"]
    t.eq(first, "pending", "forced status + after_ms")
    t.eq(later, "running", "forced status + after_ms")


def test_tls(t, tmp):
    if shutil.which("openssl") is None:
        t.ok(True, "TLS # SKIP openssl not installed")
        return
    certs = os.path.join(tmp, "certs")
    subprocess.run(["sh", os.path.join(HERE, "mkcert.sh"), certs],
                   check=True)
    fake = Fake(tmp, "tls", (os.path.join(certs, "server.pem"),
                             os.path.join(certs, "server.key")))
    try:
        ctx = ssl.create_default_context(cafile=os.path.join(certs,
                                                             "ca.pem"))
        c = Client(fake.port, ctx)
        t.eq(c.json("GET", "/v1/sandboxes", key=fake.seed["api_key"]),
             (200, []), "HTTPS with the test CA")
        t.ok(fake.seed["base_url"].startswith("https://127.0.0.1:"),
             "seed base_url is https", fake.seed["base_url"])
    finally:
        t.eq(fake.stop(), 0, "SIGTERM: clean exit")


def require_aiohttp(script):
    """Make sure aiohttp imports here: else re-execute script with
    FAKE_PYTHON (once), else print a TAP skip and exit."""
    try:
        import aiohttp  # noqa: F401
        return
    except ImportError:
        pass
    if os.environ.get("FAKECP_REEXEC") != "1" and \
            os.access(FAKE_PYTHON, os.X_OK):
        os.environ["FAKECP_REEXEC"] = "1"
        os.execv(FAKE_PYTHON, [FAKE_PYTHON, "-B", os.path.abspath(script)]
                 + sys.argv[1:])
    print("1..0 # SKIP aiohttp is not available")
    sys.exit(0)


def run(prefix, body):
    """A self-test's main: body(t, tmp, fakes) runs the cases in a fresh
    temporary directory; an exception escaping it is one failed test (with
    its traceback); every Fake put in fakes is stopped and the directory
    removed.  Prints the plan; returns the exit status."""
    t = Tap()
    tmp = tempfile.mkdtemp(prefix=prefix)
    fakes = []
    try:
        body(t, tmp, fakes)
    except Exception as e:   # report, do not hide, a harness failure
        for line in traceback.format_exc().splitlines():
            print("# " + line)
        t.ok(False, "harness: %s: %s" % (type(e).__name__, e))
    finally:
        for f in fakes:
            f.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("1..%d" % t.n)
    return 1 if t.failed else 0


def _main_body(t, tmp, fakes):
    fake = Fake(tmp, "plain")
    fakes.append(fake)
    test_plain(t, fake)
    test_tls(t, tmp)


def main():
    return run("test-fakecp-", _main_body)


if __name__ == "__main__":
    sys.exit(main())
