#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""sandbox.get_url and sandbox.http_request through the fake control
plane's sandbox proxy (tests/fakecp/proxy.py), against apps that really
listen on loopback ports: python3 -m http.server and a small app of this
test. get_url for base URLs with and without port and path; the API-key
rule (172413e, JWT only: refused locally, nothing sent; v0.1.5: no key
sent, a JWT is enough); GET and POST with binary
bodies; the app's answers (a 404, even one shaped like the proxy's)
against the proxy's own (404, 409, 503, 502); client credential headers
removed, the key masked in answers; body limits both ways; wrennctl url
and http."""
import base64
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PYTHON, Client, Env, Tap, Wrennd,  # noqa
                     sanitizer_clean, wait_for, wrennctl)
from proxyapp import free_port  # noqa: E402

t = Tap()
env = Env(wrennd_args=("--set", "proxy-max-body=65536"))
seed = env.seed
KEY = seed["api_key"]
# v0.1.5's proxy takes no credential, so wrennd sends none there.
KEYLESS = env.fake.dialect == "capsules"
BLOB = bytes(range(256)) * 64 + os.urandom(4096)  # every byte value


class App(http.server.BaseHTTPRequestHandler):
    """The "sandboxed" app: echoes requests, sends bytes, mimics the
    proxy's own 404."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, status, body, ctype, extra=()):
        self.send_response(status)
        if ctype is not None:
            self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def route(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        path = self.path.split("?")[0]
        if path == "/echo":
            out = json.dumps({
                "method": self.command, "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "len": len(body),
                "sha256": hashlib.sha256(body).hexdigest()}).encode()
            return self.answer(200, out, "application/json",
                               [("X-Rep", "one"), ("X-Rep", "two"),
                                ("X-Seen-Key",
                                 self.headers.get("X-Api-Key") or "")])
        if path == "/raw":
            return self.answer(201, body, "application/octet-stream")
        if path == "/blob":
            n = int(self.path.partition("n=")[2] or len(BLOB))
            return self.answer(200, (BLOB * (n // len(BLOB) + 1))[:n],
                               "application/octet-stream")
        if path == "/mimic":
            return self.answer(404, b"sandbox not found\n",
                               "text/plain; charset=utf-8",
                               [("X-Content-Type-Options", "nosniff")])
        return self.answer(404, b"no such page\n", "text/plain")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = route


class AppServer(http.server.ThreadingHTTPServer):
    daemon_threads = True


app = AppServer(("127.0.0.1", 0), App)
threading.Thread(target=app.serve_forever, daemon=True).start()
APP = "127.0.0.1:%d" % app.server_address[1]

# A static file server (python3 -m http.server) on a port of its own.
www = os.path.join(env.tmp, "www")
os.makedirs(www)
with open(os.path.join(www, "blob.bin"), "wb") as f:
    f.write(BLOB)
static = subprocess.Popen([PYTHON, "-u", "-m", "http.server", "0", "--bind",
                           "127.0.0.1", "--directory", www],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
line = static.stdout.readline().decode()
STATIC = "127.0.0.1:%s" % line.split(" port ")[1].split()[0]


c = env.client()


def call(method, params, client=None):
    return (client or c).call(method, params)


def new_sandbox():
    sb = call("sandboxes.create", {})["result"]["id"]
    # Sandbox ports 8000 (the app), 8080 (http.server), 9 (nothing).
    for port, target in ((8000, APP), (8080, STATIC),
                         (9, "127.0.0.1:%d" % free_port())):
        env.fake.ctl("PUT", "sandboxes/%s/ports/%d" % (sb, port),
                     {"target": target})
    return sb


def req(sb, port, method, path, **kw):
    p = {"sandbox_id": sb, "port": port, "method": method, "path": path}
    p.update(kw)
    return call("sandbox.http_request", p)


def err(r):
    return r.get("error", {}).get("data", {})


def proxy_log():
    return [e for e in env.fake.requests() if e.get("proxy")]


sb = new_sandbox()

with t.case("get_url"):
    r = call("sandbox.get_url", {"sandbox_id": sb, "port": 8888})
    t.eq(r.get("result"),
         {"url": "http://8888-%s.127.0.0.1:%d" % (sb, env.fake.port)},
         "get_url: base URL with a port")
    for base, want in (("https://api.example.test/api/",
                        "http://3000-%s.api.example.test" % sb),
                       ("http://example.test:8080/v/x",
                        "http://3000-%s.example.test:8080" % sb),
                       ("https://api.example.test:8443",
                        "http://3000-%s.api.example.test:8443" % sb)):
        w = Wrennd(env.tmp, base, api_key=KEY)
        try:
            c2 = Client(w.sock)
            r = call("sandbox.get_url", {"sandbox_id": sb, "port": 3000}, c2)
            t.eq(r.get("result", {}).get("url"), want,
                 "get_url: base URL %s (path dropped)" % base)
            c2.close()
        finally:
            w.stop()
    w = Wrennd(env.tmp, "http://[::1]:8080", api_key=KEY)
    try:
        c2 = Client(w.sock)
        r = call("sandbox.get_url", {"sandbox_id": sb, "port": 3000}, c2)
        t.eq(err(r).get("code"), "unsupported",
             "get_url: an IPv6 base URL has no name for the proxy")
        c2.close()
    finally:
        w.stop()
    r = call("sandbox.get_url", {"sandbox_id": "not-an-id", "port": 80})
    t.eq(err(r).get("code"), "invalid_params",
         "get_url: an id the proxy cannot route is refused")
    r = call("sandbox.get_url", {"sandbox_id": sb, "port": 65536})
    t.eq(err(r).get("code"), "invalid_params", "get_url: port 65536 refused")

with t.case("JWT only"):
    w = Wrennd(env.tmp, env.fake.url, token=seed["jwt_owner"])
    try:
        c2 = Client(w.sock)
        env.fake.clear_requests()
        if KEYLESS:
            # v0.1.5's proxy takes no credential: a JWT is enough.
            r = call("sandbox.http_request",
                     {"sandbox_id": sb, "port": 8000, "method": "GET",
                      "path": "/echo"}, c2)
            t.eq(r.get("result", {}).get("status"), 200,
                 "capsules, JWT only: http_request answers")
            t.eq([e["has_api_key"] for e in proxy_log()], [False],
                 "capsules, JWT only: no X-API-Key reached the proxy")
        else:
            for m, p in (("sandbox.get_url",
                          {"sandbox_id": sb, "port": 8000}),
                         ("sandbox.http_request",
                          {"sandbox_id": sb, "port": 8000, "method": "GET",
                           "path": "/echo"})):
                r = call(m, p, c2)
                t.eq(err(r).get("code"), "unauthorized",
                     "%s: unauthorized" % m)
                t.eq(err(r).get("needs"), "api_key",
                     "%s: needs api_key" % m)
                t.ok("API key" in r.get("error", {}).get("message", ""),
                     "%s: the message says an API key is needed" % m, r)
            t.eq(env.fake.requests(), [],
                 "JWT only: the request log is empty")
        c2.close()
    finally:
        w.stop()

with t.case("GET from python3 -m http.server"):
    r = req(sb, 8080, "GET", "/blob.bin")
    res = r.get("result", {})
    t.eq(res.get("status"), 200, "GET: status 200")
    t.ok(base64.b64decode(res.get("body", "")) == BLOB,
         "GET: the binary body arrives byte for byte", r)
    t.eq(res.get("headers", {}).get("content-length"), str(len(BLOB)),
         "GET: header fields in lower case")
    r = req(sb, 8080, "HEAD", "/blob.bin")
    t.eq(r.get("result", {}).get("status"), 200,
         "HEAD: status and an empty body (status)")
    t.eq(r.get("result", {}).get("body"), "",
         "HEAD: status and an empty body (body)")
    r = req(sb, 8080, "GET", "/missing.txt")
    t.eq(r.get("result", {}).get("status"), 404,
         "a 404 of the app is a result")

with t.case("POST a binary body"):
    r = req(sb, 8000, "POST", "/echo?x=1",
            headers={"Content-Type": "application/x-blob",
                     "X-Many": ["a", "b"]},
            body=base64.b64encode(BLOB).decode())
    res = r.get("result", {})
    echo = json.loads(base64.b64decode(res.get("body", "")) or b"{}")
    t.eq(echo.get("len"), len(BLOB),
         "POST: the app got the body byte for byte (len)")
    t.eq(echo.get("sha256"), hashlib.sha256(BLOB).hexdigest(),
         "POST: the app got the body byte for byte (sha256)")
    t.eq(echo.get("path"), "/echo?x=1", "POST: path and query kept")
    fields = {}
    for k, v in echo.get("headers", []):
        fields.setdefault(k.lower(), []).append(v)
    t.eq(fields.get("content-type"), ["application/x-blob"],
         "POST: the caller's Content-Type")
    t.ok(fields.get("x-many") in (["a", "b"], ["a, b"]),
         "POST: a repeated field arrives", fields)
    t.eq(res.get("headers", {}).get("x-rep"), ["one", "two"],
         "an answer field sent twice is an array in order")
    r = req(sb, 8000, "PUT", "/raw", body=base64.b64encode(b"\0\1").decode())
    t.eq(r.get("result", {}).get("status"), 201,
         "PUT: the app's status and bytes come back (status)")
    t.eq(base64.b64decode(r.get("result", {}).get("body")), b"\0\1",
         "PUT: the app's status and bytes come back")

with t.case("credential headers are not forwarded; the key is masked"):
    env.fake.clear_requests()
    r = req(sb, 8000, "GET", "/echo",
            headers={"X-API-Key": "wrn_forged", "authorization": "Bearer x"})
    res = r.get("result", {})
    echo = json.loads(base64.b64decode(res.get("body", "")) or b"{}")
    sent = {k.lower(): v for k, v in echo.get("headers", [])}
    t.ok("authorization" not in sent, "no Authorization reached the app",
         sent)
    log = proxy_log()
    if KEYLESS:
        t.ok("x-api-key" not in sent,
             "capsules: no X-API-Key reached the app", sent)
        t.eq([(e["has_api_key"], e["has_authorization"]) for e in log],
             [(False, False)], "capsules: the proxy got no credential")
    else:
        t.eq(sent.get("x-api-key"), "*" * len(KEY),
             "the app got wrennd's key (masked in the answer), not the "
             "forged one")
        t.eq(res.get("headers", {}).get("x-seen-key"), "*" * len(KEY),
             "the key is masked in answer header fields too")
        t.eq([(e["api_key"], e["has_authorization"]) for e in log],
             [(KEY, False)],
             "the proxy got wrennd's key and no Authorization")
    for h in ("Host", "Transfer-Encoding", "Connection", "Expect"):
        r = req(sb, 8000, "GET", "/echo", headers={h: "x"})
        t.eq(err(r).get("code"), "invalid_params", "field %s refused" % h)
    r = req(sb, 8000, "GET", "/echo", headers={"X-A": "a\r\nX-B: b"})
    t.eq(err(r).get("code"), "invalid_params", "a CR LF in a value refused")

with t.case("404 of the app vs 404 of the proxy"):
    r = req(sb, 8000, "GET", "/mimic")
    t.eq(r.get("result", {}).get("status"), 404,
         "an app mimicking the proxy's 404 still answers (record: running)")
    t.eq(base64.b64decode(r["result"]["body"]), b"sandbox not found\n",
         "its body is passed through")
    r = req("cl-" + "0" * 25, 8000, "GET", "/echo")
    d = err(r)
    t.eq(d.get("code"), "not_found",
         "an unknown sandbox: the proxy's 404 (code)")
    t.eq(d.get("status"), 404, "an unknown sandbox: the proxy's 404 (status)")
    t.eq(d.get("source"), "proxy",
         "an unknown sandbox: the proxy's 404 (source)")
    t.eq(d.get("proxy_message"), "sandbox not found",
         "the proxy's words are kept")

with t.case("nothing listening: 502"):
    r = req(sb, 9, "GET", "/")
    d = err(r)
    t.eq(d.get("code"), "proxy_error",
         "nothing listening: proxy_error 502 (code)")
    t.eq(d.get("status"), 502, "nothing listening: proxy_error 502 (status)")
    t.eq(d.get("source"), "proxy",
         "nothing listening: proxy_error 502 (source)")
    t.ok(d.get("proxy_message", "").startswith("proxy error: dial tcp"),
         "the dial error is in data", d)

with t.case("a sandbox that is not running"):
    sb2 = new_sandbox()
    t.eq(req(sb2, 8000, "GET", "/echo").get("result", {}).get("status"), 200,
         "running: the app answers (and the proxy caches the target)")
    call("sandbox.pause", {"sandbox_id": sb2})
    d = err(req(sb2, 8000, "GET", "/echo"))
    t.eq(d.get("code"), "invalid_state",
         "paused, target cached: the agent's 503 is invalid_state (code)")
    t.eq(d.get("status"), 503,
         "paused, target cached: the agent's 503 is invalid_state (status)")
    t.eq(d.get("sandbox_status"), "paused",
         "paused, target cached: the agent's 503 is invalid_state "
         "(sandbox_status)")
    env.fake.ctl("DELETE", "proxy/cache")
    d = err(req(sb2, 8000, "GET", "/echo"))
    t.eq(d.get("code"), "invalid_state", "paused: the proxy's 409 (code)")
    t.eq(d.get("status"), 409, "paused: the proxy's 409 (status)")
    t.eq(d.get("sandbox_status"), "paused",
         "paused: the proxy's 409 (sandbox_status)")
    t.ok(d.get("proxy_message", "").startswith("sandbox is not running"),
         "409: the proxy's words", d)

with t.case("body limits both ways"):
    env.fake.clear_requests()
    big = base64.b64encode(b"x" * 65537).decode()
    d = err(req(sb, 8000, "POST", "/raw", body=big))
    t.eq(d.get("code"), "too_large",
         "a request body over proxy-max-body: too_large (code)")
    t.eq(d.get("max"), 65536,
         "a request body over proxy-max-body: too_large (max)")
    t.eq(proxy_log(), [], "...and nothing was sent")
    r = req(sb, 8000, "POST", "/raw",
            body=base64.b64encode(b"x" * 65536).decode())
    t.eq(r.get("result", {}).get("status"), 201,
         "a body of exactly proxy-max-body goes")
    d = err(req(sb, 8000, "GET", "/blob?n=65537"))
    t.eq(d.get("code"), "too_large",
         "an answer over proxy-max-body: too_large (code)")
    t.eq(d.get("max"), 65536, "an answer over proxy-max-body: too_large (max)")
    r = req(sb, 8000, "GET", "/blob?n=65536")
    t.eq(len(base64.b64decode(r.get("result", {}).get("body", ""))), 65536,
         "an answer of exactly proxy-max-body arrives")

with t.case("bad params"):
    for p, what in (({"method": "get"}, "a lower-case method"),
                    ({"method": "CONNECT"}, "CONNECT"),
                    ({"path": "echo"}, "a path without '/'"),
                    ({"path": "/a b"}, "a space in the path"),
                    ({"path": "/a#b"}, "a fragment"),
                    ({"body": "not base64!"}, "a body that is not base64"),
                    ({"method": "HEAD", "body": "AA=="}, "HEAD with a body"),
                    ({"headers": {"X": 1}}, "a header value not a string")):
        q = {"method": "GET", "path": "/echo"}
        q.update(p)
        r = req(sb, 8000, q.pop("method"), q.pop("path"), **q)
        t.eq(err(r).get("code"), "invalid_params", "refused: " + what)

with t.case("wrennctl url and http"):
    rc, out, e = wrennctl(env.sock, "url", sb, "8888")
    t.eq(rc, 0, "wrennctl url prints the URL (exit status)")
    t.eq(out.decode().strip(),
         "http://8888-%s.127.0.0.1:%d" % (sb, env.fake.port),
         "wrennctl url prints the URL")
    rc, out, e = wrennctl(env.sock, "http", sb, "8080", "/blob.bin")
    t.eq(rc, 0, "wrennctl http writes the body raw (exit status)")
    t.eq(out, BLOB, "wrennctl http writes the body raw (stdout)")
    rc, out, e = wrennctl(env.sock, "http", "-v", sb, "8080", "/blob.bin")
    t.eq(rc, 0, "wrennctl http -v: status and fields on stderr (exit status)")
    t.has(e, "< HTTP 200", "wrennctl http -v: status and fields on stderr")
    t.has(e, "< content-length: ",
          "wrennctl http -v: status and fields on stderr")
    rc, out, e = wrennctl(env.sock, "http", "-d", "-", "-H", "X-A: 1", sb,
                          "8000", "/echo", input=b"\0hello")
    echo = json.loads(out or b"{}")
    t.eq(rc, 0,
         "wrennctl http -d - -H: a POST with stdin as the body (exit status)")
    t.eq(echo.get("method"), "POST",
         "wrennctl http -d - -H: a POST with stdin as the body (method)")
    t.eq(echo.get("len"), 6,
         "wrennctl http -d - -H: a POST with stdin as the body (len)")
    t.has(echo.get("headers", []), ["X-A", "1"],
          "wrennctl http -d - -H: a POST with stdin as the body (headers)")
    rc, out, e = wrennctl(env.sock, "http", "-f", sb, "8000", "GET", "/nope")
    t.eq(rc, 1, "wrennctl http -f: exit 1 for the app's 404")
    rc, out, e = wrennctl(env.sock, "http", sb, "8000", "GET", "/nope")
    t.eq(rc, 0, "wrennctl http: exit 0 for any answer without -f")
    rc, out, e = wrennctl(env.sock, "http", sb, "9", "/")
    t.eq(rc, 1, "wrennctl http: a proxy error is an error (exit status)")
    t.has(e, "proxy error", "wrennctl http: a proxy error is an error")

c.close()
app.shutdown()
static.terminate()
static.wait()
env.close(t)
sys.exit(t.done())
