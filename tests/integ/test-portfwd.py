#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""sandbox.port_forward, port_forwards.list and port_forwards.close
through the fake control plane's sandbox proxy (tests/fakecp/proxy.py),
against apps that really listen on loopback ports: python3 -m http.server
and an aiohttp app of this test (echo, streamed bodies both ways,
WebSocket echo). curl through the forwarded port, keep-alive, pipelining,
big bodies with matching SHA-256, 100 connections at once, credential
fields of the client removed and the key on every proxied request, a
Unix-socket listener, close and lease, refused listen addresses, JWT
only; wrennctl port-forward in the foreground (Ctrl-C, SIGTERM, wrennd
going away), port-forward ls and rm."""
import asyncio
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import re
import signal
import tempfile
import threading
import urllib.request

import aiohttp
from aiohttp import web

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PYTHON, WRENNCTL, Client, Env, Tap, Wrennd,  # noqa
                     wait_for, wrennctl)
import proxyapp  # noqa: E402
from proxyapp import free_port  # noqa: E402

BIG = min(100 << 20, int(os.environ.get("WRENND_TEST_BIG_BYTES", 100 << 20)))
CHUNK = bytes(range(256)) * 256  # 64 KiB, every byte value

t = Tap()
env = Env()
seed = env.seed
KEY = seed["api_key"]
KEYLESS = env.fake.dialect == "capsules"


def pattern(n):
    """n bytes of CHUNK repeated, as 64 KiB pieces."""
    while n > 0:
        k = min(n, len(CHUNK))
        yield CHUNK[:k]
        n -= k


def pattern_sha(n):
    h = hashlib.sha256()
    for p in pattern(n):
        h.update(p)
    return h.hexdigest()


# The aiohttp app: echo of the request and WebSocket echo (proxyapp.py),
# streamed upload and download.
async def upload(request):
    h = hashlib.sha256()
    n = 0
    async for data in request.content.iter_any():
        h.update(data)
        n += len(data)
    return web.json_response({"len": n, "sha256": h.hexdigest()})


async def download(request):
    n = int(request.query["n"])
    resp = web.StreamResponse()
    resp.content_type = "application/octet-stream"
    await resp.prepare(request)
    for p in pattern(n):
        await resp.write(p)
    await resp.write_eof()
    return resp


async def lookalike(request):
    """The bytes of the proxy's own 404, sent by the app itself."""
    return web.Response(status=404, body=b"sandbox not found\n", headers={
        "Content-Type": "text/plain; charset=utf-8",
        "X-Content-Type-Options": "nosniff"})


APP = proxyapp.App(routes=(("POST", "/upload", upload),
                           ("GET", "/download", download),
                           ("GET", "/lookalike", lookalike)),
                   client_max_size=1 << 40)
APP_PORT = APP.port

www = tempfile.mkdtemp(prefix="www.", dir=env.tmp)
with open(os.path.join(www, "index.txt"), "wb") as f:
    f.write(b"hello from the sandbox\n")
STATIC_PORT = free_port()
static = subprocess.Popen(
    [PYTHON, "-m", "http.server", "--bind", "127.0.0.1", "--directory", www,
     str(STATIC_PORT)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def static_up():
    try:
        socket.create_connection(("127.0.0.1", STATIC_PORT), 1).close()
        return True
    except OSError:
        return False


wait_for(static_up, 20, what="http.server")

c = env.client()


def call(method, params=None, client=None):
    return (client or c).call(method, params or {})


def err(r):
    return r.get("error", {}).get("data", {})


sb = call("sandboxes.create")["result"]["id"]
for port, target in ((8000, APP_PORT), (8080, STATIC_PORT)):
    env.fake.map_port(sb, port, "127.0.0.1:%d" % target)


def forward(port, **kw):
    p = {"sandbox_id": sb, "port": port}
    p.update(kw)
    r = call("sandbox.port_forward", p)
    return r.get("result") or {}, r


def hostport(addr):
    h, _, p = addr.rpartition(":")
    return h, int(p)


def conn(addr, timeout=60):
    h, p = hostport(addr)
    return http.client.HTTPConnection(h, p, timeout=timeout)


def get_json(cn, path, headers=None):
    cn.request("GET", path, headers=headers or {})
    r = cn.getresponse()
    return r.status, json.loads(r.read() or b"null")


def listening(addr):
    try:
        if addr.startswith("/"):
            s = socket.socket(socket.AF_UNIX)
            s.connect(addr)
        else:
            s = socket.create_connection(hostport(addr), 2)
        s.close()
        return True
    except OSError:
        return False


app_fw, r = forward(8000)
static_fw, _ = forward(8080)

with t.case("port_forward result"):
    t.ok(app_fw.get("id", "").startswith("pf-"), "the id is pf-...", r)
    t.ok(app_fw.get("address", "").startswith("127.0.0.1:"),
         "the default address is on 127.0.0.1", r)

with t.case("curl through the forward"):
    out = subprocess.run(
        ["curl", "-sS", "http://%s/index.txt" % static_fw["address"]],
        capture_output=True, timeout=60)
    t.eq(out.stdout, b"hello from the sandbox\n",
         "curl gets http.server's file through the forward")

with t.case("keep-alive"):
    cn = conn(app_fw["address"])
    st1, _ = get_json(cn, "/echo?n=1")
    sock1 = cn.sock
    st2, body = get_json(cn, "/echo?n=2")
    t.eq(st1, 200, "the first request answered")
    t.eq(st2, 200, "the second request answered")
    t.ok(cn.sock is sock1, "the second request reused the connection")
    t.eq(body.get("path"), "/echo?n=2", "the query string arrives")
    cn.close()

with t.case("pipelining"):
    h, p = hostport(app_fw["address"])
    s = socket.create_connection((h, p), 30)
    reqs = b"".join(
        b"GET /echo?i=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(5))
    reqs += b"HEAD /echo?i=head HTTP/1.1\r\nHost: x\r\n\r\n"
    reqs += b"POST /echo?i=post HTTP/1.1\r\nHost: x\r\nContent-Length: 3" \
            b"\r\n\r\nabc"
    s.sendall(reqs)
    f = s.makefile("rb")
    paths = []
    for i in range(7):
        status = f.readline()
        length = 0
        while True:
            line = f.readline()
            if line in (b"\r\n", b""):
                break
            k, _, v = line.decode().partition(":")
            if k.lower() == "content-length":
                length = int(v)
        if i == 5:
            paths.append(status.split()[1].decode())
        else:
            paths.append(json.loads(f.read(length))["path"])
    t.eq(paths, ["/echo?i=%d" % i for i in range(5)] + ["200",
                                                         "/echo?i=post"],
         "pipelined answers come in order, HEAD's without a body")
    s.close()

with t.case("credential fields of the client are removed"):
    cn = conn(app_fw["address"])
    _, body = get_json(cn, "/echo", {"X-API-Key": "wrn_stolen",
                                     "Authorization": "Bearer nope"})
    hdrs = dict((k.lower(), v) for k, v in body.get("headers", []))
    # v0.1.5's proxy takes no credential: wrennd sends none there.
    t.eq(hdrs.get("x-api-key"), None if KEYLESS else KEY,
         "the app sees wrennd's key (none on v0.1.5), not the client's")
    t.eq(hdrs.get("authorization"), None, "Authorization is not forwarded")
    cn.close()

with t.case("every proxied request carries the key (none on v0.1.5)"):
    log = env.fake.proxied_requests()
    t.ok(len(log) > 0, "requests reached the proxy")
    bad = [e for e in log if e.get("api_key") != (None if KEYLESS else KEY)]
    t.eq(bad, [], "no proxied request without wrennd's key (v0.1.5: with "
         "any key)")

with t.case("streamed upload"):
    cn = conn(app_fw["address"], timeout=600)
    cn.request("POST", "/upload", body=pattern(BIG), encode_chunked=True,
               headers={"Transfer-Encoding": "chunked"})
    r = cn.getresponse()
    body = json.loads(r.read())
    t.eq(body.get("len"), BIG, "the app received every byte")
    t.eq(body.get("sha256"), pattern_sha(BIG), "SHA-256 matches")
    cn.close()

with t.case("streamed download"):
    cn = conn(app_fw["address"], timeout=600)
    cn.request("GET", "/download?n=%d" % BIG)
    r = cn.getresponse()
    h = hashlib.sha256()
    n = 0
    while True:
        d = r.read(1 << 16)
        if not d:
            break
        h.update(d)
        n += len(d)
    t.eq(n, BIG, "every byte came back")
    t.eq(h.hexdigest(), pattern_sha(BIG), "SHA-256 matches")
    cn.close()


async def ws_echo(addr):
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect("http://%s/ws" % addr) as ws:
            await ws.send_str("hello, sandbox")
            text = await ws.receive()
            blob = bytes(range(256)) * 300
            await ws.send_bytes(blob)
            binary = await ws.receive()
            return text.data, binary.data == blob


with t.case("an HTTP/1.0 client gets an answer it can read"):
    h, p = hostport(app_fw["address"])
    s = socket.create_connection((h, p), 60)
    s.sendall(b"GET /download?n=100000 HTTP/1.0\r\nHost: x\r\n\r\n")
    data = b""
    while True:  # a 1.0 answer without a length ends with the connection
        d = s.recv(1 << 16)
        if not d:
            break
        data += d
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    t.ok(b"chunked" not in head.lower(), "no chunked encoding to 1.0",
         head)
    t.eq(len(body), 100000, "the whole body, ended by the close")
    t.eq(body, b"".join(pattern(100000)), "byte for byte")

with t.case("WebSocket echo"):
    text, same = asyncio.run(ws_echo(app_fw["address"]))
    t.eq(text, "hello, sandbox", "a text frame echoed")
    t.ok(same, "a binary frame echoed byte for byte")

with t.case("100 connections at once"):
    results = []
    lock = threading.Lock()

    def one(i):
        try:
            cn = conn(app_fw["address"], timeout=120)
            st, body = get_json(cn, "/echo?c=%d" % i)
            cn.close()
            ok = st == 200 and body.get("path") == "/echo?c=%d" % i
        except Exception as e:  # noqa: BLE001 (counted as a failure)
            ok = repr(e)
        with lock:
            results.append(ok)

    ths = [threading.Thread(target=one, args=(i,)) for i in range(100)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    t.eq([x for x in results if x is not True], [],
         "all 100 answered correctly")

with t.case("port_forwards.list"):
    lst = call("port_forwards.list").get("result", [])
    mine = [x for x in lst if x.get("id") == app_fw.get("id")]
    t.eq(len(mine), 1, "the forward is listed")
    if mine:
        m = mine[0]
        t.eq(m.get("sandbox_id"), sb, "its sandbox")
        t.eq(m.get("port"), 8000, "its port")
        t.eq(m.get("address"), app_fw["address"], "its address")
        t.ok(m.get("bytes_out", 0) >= BIG, "bytes_out counts the upload", m)
        t.ok(m.get("bytes_in", 0) >= BIG, "bytes_in counts the download", m)
        t.ok(isinstance(m.get("connections"), int), "connections counted")

with t.case("Unix socket listener"):
    path = os.path.join(tempfile.mkdtemp(prefix="pf.", dir=env.tmp), "s")
    fw, r = forward(8080, listen=path)
    t.eq(fw.get("address"), path, "the address is the socket path")
    out = subprocess.run(
        ["curl", "-sS", "--unix-socket", path, "http://x/index.txt"],
        capture_output=True, timeout=60)
    t.eq(out.stdout, b"hello from the sandbox\n", "curl over the socket")
    call("port_forwards.close", {"id": fw.get("id")})
    t.ok(not os.path.exists(path), "close removes the socket file")

with t.case("close ends the listener"):
    fw, _ = forward(8080)
    t.ok(listening(fw["address"]), "listening before close")
    r = call("port_forwards.close", {"id": fw["id"]})
    t.eq(r.get("result"), {}, "close answers {}")
    t.ok(not listening(fw["address"]), "nothing listens after close")
    r = call("port_forwards.close", {"id": fw["id"]})
    t.eq(err(r).get("code"), "not_found", "a second close: not_found")

with t.case("lease: connection"):
    c2 = env.client()
    r = call("sandbox.port_forward",
             {"sandbox_id": sb, "port": 8080, "lease": "connection"}, c2)
    addr = r.get("result", {}).get("address", "")
    t.ok(listening(addr), "listening while the client is connected", r)
    c2.close()
    wait_for(lambda: not listening(addr), 20,
             what="the leased listener to close")
    ids = [x["id"] for x in call("port_forwards.list").get("result", [])]
    t.ok(r.get("result", {}).get("id") not in ids,
         "the leased forward is gone from the list")

with t.case("listen on a non-loopback address refused"):
    _, r = forward(8080, listen="0.0.0.0:0")
    t.eq(err(r).get("code"), "invalid_params", "0.0.0.0 refused")
    _, r = forward(8080, listen="not an address")
    t.eq(err(r).get("code"), "invalid_params", "garbage refused")

with t.case("a bad sandbox id refused"):
    r = call("sandbox.port_forward", {"sandbox_id": "x/../y", "port": 80})
    t.eq(err(r).get("code"), "invalid_params", "invalid_params")

def pf_cli(*args, sock=None, cwd=None):
    """wrennctl port-forward ARGS in the background: (process, its first
    line of output, "" if it exited first)."""
    p = subprocess.Popen([WRENNCTL, "--socket", sock or env.sock,
                          "port-forward"] + list(args), cwd=cwd,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p, p.stdout.readline().decode()


def pf_end(p, sig):
    """Send sig to a port-forward process: (exit code, stderr)."""
    p.send_signal(sig)
    _, e = p.communicate(timeout=60)
    return p.returncode, e.decode(errors="replace")


def listed():
    return dict((x["id"], x) for x in call("port_forwards.list")["result"])


FWD_LINE = re.compile(r"^Forwarding from (127\.0\.0\.1:\d+) -> 8080\n$")

with t.case("wrennctl port-forward: Ctrl-C closes it"):
    p, line = pf_cli(sb, "8080")
    m = FWD_LINE.match(line)
    t.ok(m is not None, "prints Forwarding from ADDR -> PORT", line)
    addr = m.group(1) if m else "127.0.0.1:1"
    out = subprocess.run(["curl", "-sS", "http://%s/index.txt" % addr],
                         capture_output=True, timeout=60)
    t.eq(out.stdout, b"hello from the sandbox\n", "curl through it")
    mine = [x for x in listed().values() if x["address"] == addr]
    t.eq([x.get("lease") for x in mine], ["connection"],
         "listed once, leased to wrennctl's connection")
    rc, table, _ = wrennctl(env.sock, "port-forward", "ls")
    rows = table.decode().splitlines()
    t.eq(rows[0].split() if rows else [],
         ["ID", "SANDBOX", "PORT", "ADDRESS", "CONNS", "IN", "OUT", "AGE"],
         "port-forward ls: the table's columns")
    row = [r.split() for r in rows if addr in r]
    t.eq([r[1:3] for r in row], [[sb, "8080"]],
         "port-forward ls: its sandbox and port")
    t.ok((row or [[""]])[0][-1].endswith("ago"),
         "port-forward ls: the age", rows)
    rc, js, _ = wrennctl(env.sock, "--json", "port-forward", "ls")
    got = [x for x in json.loads(js) if x.get("address") == addr]
    t.eq(len(got), 1, "port-forward ls --json: the forward, once")
    one = (got or [{}])[0]
    t.ok(one.get("bytes_in", 0) > 0,
         "port-forward ls --json: the object with its counters", one)
    t.ok(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$",
                  one.get("created_at", "")),
         "created_at is an RFC 3339 UTC time", one)
    rc, e = pf_end(p, signal.SIGINT)
    t.eq(rc, 0, "Ctrl-C: exit 0 (%s)" % e)
    t.eq([x for x in listed().values() if x["address"] == addr], [],
         "Ctrl-C: the forward is closed when wrennctl has exited")
    t.ok(not listening(addr), "Ctrl-C: nothing listens")

with t.case("wrennctl port-forward LOCAL port: SIGTERM closes it"):
    lp = free_port()
    p, line = pf_cli(sb, "8080", str(lp))
    t.eq(line, "Forwarding from 127.0.0.1:%d -> 8080\n" % lp,
         "LOCAL PORT is on 127.0.0.1")
    t.ok(listening("127.0.0.1:%d" % lp), "listening there")
    rc, e = pf_end(p, signal.SIGTERM)
    t.eq(rc, 0, "SIGTERM: exit 0 (%s)" % e)
    t.ok(not listening("127.0.0.1:%d" % lp), "SIGTERM: nothing listens")

with t.case("wrennctl port-forward LOCAL ADDR:PORT and a bad LOCAL"):
    lp = free_port()
    p, line = pf_cli(sb, "8080", "127.0.0.2:%d" % lp)
    t.eq(line, "Forwarding from 127.0.0.2:%d -> 8080\n" % lp,
         "ADDR:PORT as given")
    rc, e = pf_end(p, signal.SIGINT)
    t.eq(rc, 0, "exit 0 (%s)" % e)
    rc, out, e = wrennctl(env.sock, "port-forward", sb, "8080", "0.0.0.0:0")
    t.eq(rc, 1, "a non-loopback address: exit 1")
    t.ok("loopback" in e, "the message says loopback only", e)
    rc, out, e = wrennctl(env.sock, "port-forward", sb, "99999")
    t.eq(rc, 2, "a bad PORT: usage error")

with t.case("wrennctl port-forward LOCAL socket path"):
    d = tempfile.mkdtemp(prefix="pfc.", dir=env.tmp)
    p, line = pf_cli(sb, "8080", "./pf.sock", cwd=d)
    path = os.path.join(d, "pf.sock")
    t.eq(line, "Forwarding from %s -> 8080\n" % path,
         "a relative path is made absolute")
    out = subprocess.run(
        ["curl", "-sS", "--unix-socket", path, "http://x/index.txt"],
        capture_output=True, timeout=60)
    t.eq(out.stdout, b"hello from the sandbox\n", "curl over the socket")
    rc, e = pf_end(p, signal.SIGINT)
    t.eq(rc, 0, "exit 0 (%s)" % e)
    t.ok(not os.path.exists(path), "the socket file is removed")

with t.case("wrennctl port-forward rm"):
    fw1, _ = forward(8080)
    fw2, _ = forward(8000)
    rc, out, e = wrennctl(env.sock, "port-forward", "rm", fw1["id"],
                          fw2["id"])
    t.eq(rc, 0, "rm of two: exit 0 (%s)" % e)
    t.eq(out.decode().splitlines(), ["Closed port forward %s" % fw1["id"],
                                     "Closed port forward %s" % fw2["id"]],
         "rm says what it closed")
    ids = listed()
    t.eq([i for i in (fw1["id"], fw2["id"]) if i in ids], [],
         "both are gone from the list")
    rc, out, e = wrennctl(env.sock, "port-forward", "rm", fw1["id"])
    t.eq(rc, 1, "rm of a closed one: exit 1")

with t.case("wrennctl port-forward: completion"):
    rc, out, _ = wrennctl(env.sock, "__complete", "--", "port-forward", "")
    words = out.decode().split()
    t.has(words, "ls", "ls offered")
    t.has(words, "rm", "rm offered")
    t.ok(sb in words, "and the sandboxes", words)

with t.case("wrennctl port-forward: wrennd going away exits 3"):
    w2 = Wrennd(env.tmp, env.fake.url, api_key=KEY)
    p, line = pf_cli(sb, "8080", sock=w2.sock)
    t.ok(FWD_LINE.match(line) is not None, "forwarding", line)
    w2.stop()
    _, e = p.communicate(timeout=60)
    t.eq(p.returncode, 3, "exit 3 when wrennd exits")
    t.ok("connection to wrennd ended" in e.decode(),
         "a clear message", e.decode())

with t.case("a forward ends with its sandbox"):
    sb2 = call("sandboxes.create")["result"]["id"]
    env.fake.map_port(sb2, 8080, "127.0.0.1:%d" % STATIC_PORT)
    fw2, _ = forward(8080, sandbox_id=sb2)
    other, _ = forward(8080)
    cn = conn(fw2["address"])
    cn.request("GET", "/index.txt")
    r = cn.getresponse()
    t.eq(r.read(), b"hello from the sandbox\n", "a live connection works")
    r = call("sandboxes.destroy", {"sandbox_id": sb2})
    t.ok("result" in r, "sandboxes.destroy succeeds", r)
    ids = listed()
    t.ok(fw2["id"] not in ids, "its forward is gone from the list", ids)
    t.ok(not listening(fw2["address"]), "nothing listens on its address")
    t.eq(cn.sock.recv(1), b"", "its live connection is ended")
    cn.close()
    t.ok(other["id"] in ids, "another sandbox's forward stays", ids)
    call("port_forwards.close", {"id": other["id"]})



def fake_destroy(sandbox_id):
    """Destroy a sandbox in the fake directly (its own API, not wrennd),
    then empty the proxy's target cache so its next lookup sees it."""
    req = urllib.request.Request(
        env.fake.url + env.fake.sandboxes_path + "/" + sandbox_id,
        method="DELETE", headers={"X-API-Key": KEY})
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()
    env.fake.ctl("DELETE", "proxy/cache")


with t.case("a forward ends when the proxy says its sandbox is gone"):
    sb3 = call("sandboxes.create")["result"]["id"]
    env.fake.map_port(sb3, 8080, "127.0.0.1:%d" % STATIC_PORT)
    fw3, _ = forward(8080, sandbox_id=sb3)
    idle = conn(fw3["address"])
    idle.request("GET", "/index.txt")
    t.eq(idle.getresponse().read(), b"hello from the sandbox\n",
         "a live connection works")
    fake_destroy(sb3)
    cn = conn(fw3["address"])
    cn.request("GET", "/index.txt")
    r = cn.getresponse()
    t.eq(r.status, 409, "the proxy's answer reaches the client")
    t.eq(r.read(), b"sandbox is not running (status: stopped)\n",
         "its text as the proxy wrote it")
    wait_for(lambda: fw3["id"] not in listed(), 30,
             what="the forward to leave the list")
    t.ok(not listening(fw3["address"]), "nothing listens on its address")
    t.eq(idle.sock.recv(1), b"", "its other live connection is ended")
    idle.close()
    cn.close()

with t.case("the app's own 404 in the proxy's words leaves the forward"):
    env.fake.clear_requests()
    cn = conn(app_fw["address"])
    cn.request("GET", "/lookalike")
    r = cn.getresponse()
    t.eq(r.status, 404, "the app's 404 is passed on")
    t.eq(r.read(), b"sandbox not found\n", "with its body")
    # The forward reads the sandbox's record, which says running.
    wait_for(lambda: any(e.get("method") == "GET" and
                         e.get("path", "").endswith("/" + sb)
                         for e in env.fake.requests()), 30,
             what="the record read")
    status, body = get_json(cn, "/echo")
    t.eq(status, 200, "the connection still forwards")
    t.ok(app_fw["id"] in listed(), "the forward stays listed")
    cn.close()

with t.case("JWT only"):
    w = Wrennd(env.tmp, env.fake.url, token=seed["jwt_owner"])
    cj = Client(w.sock)
    env.fake.clear_requests()
    r = cj.call("sandbox.port_forward", {"sandbox_id": sb, "port": 8080})
    if env.fake.dialect == "capsules":
        # v0.1.5's proxy takes no credential: a JWT is enough.
        t.ok(r.get("result", {}).get("id", "").startswith("pf-"),
             "capsules, JWT only: the forward opens", r)
    else:
        t.eq(err(r).get("code"), "unauthorized", "data.code unauthorized")
        t.ok("API key" in r.get("error", {}).get("message", ""),
             "the message says an API key is needed", r)
        t.eq(env.fake.requests(), [], "nothing was sent upstream")
    cj.close()
    w.stop()

c.close()
static.terminate()
static.wait()
APP.stop()
env.close(t)
sys.exit(t.done())
