#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The sandbox proxy over real TLS: the fake control plane serves HTTPS
(tests/fakecp/mkcert.sh's test CA) and mints a certificate for each proxy
host name a client asks for by SNI ({port}-{sandbox_id}.127.0.0.1), so
wrennd's own verification (--ca-file, the host name check) is what
passes. sandbox.http_request, sandbox.port_forward (HTTP keep-alive and a
WebSocket echo) and sandbox.run_code (a real Jupyter Server) over TLS;
the credential each server's proxy gets (172413e: wrennd's X-API-Key;
v0.1.5: none, and a JWT alone is enough); a proxy name whose certificate
comes from another CA fails with a TLS error, never silently, while the
API routes still work."""
import asyncio
import base64
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile

import aiohttp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import MKCERT, Client, Env, Tap, Wrennd  # noqa: E402
import jupyterfix  # noqa: E402
import proxyapp  # noqa: E402

t = Tap()


APP = proxyapp.App()
APP_PORT = APP.port


def err(r):
    return r.get("error", {}).get("data", {})


def echo_headers(r):
    """The header fields the app saw, lower-case names, from an
    http_request result."""
    body = base64.b64decode(r.get("result", {}).get("body", "")) or b"{}"
    return {k.lower(): v for k, v in json.loads(body).get("headers", [])}


def proxied(fake):
    return fake.proxied_requests()


async def ws_echo(addr):
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect("http://%s/ws" % addr) as ws:
            await ws.send_str("hello over tls")
            a = await ws.receive(timeout=30)
            await ws.send_bytes(bytes(range(256)))
            b = await ws.receive(timeout=30)
            return a.data, b.data


def forward_checks(c, sb, fake, keyed, what):
    """port_forward over TLS: two requests on one connection, then a
    WebSocket echo."""
    r = c.call("sandbox.port_forward", {"sandbox_id": sb, "port": 8000})
    fw = r.get("result", {})
    t.ok(fw.get("id", "").startswith("pf-"), "%s: the forward opens" % what,
         r)
    addr = fw.get("address", "127.0.0.1:1")
    host, _, port = addr.rpartition(":")
    fake.clear_requests()
    cn = http.client.HTTPConnection(host, int(port), timeout=30)
    seen = []
    for i in range(2):
        cn.request("GET", "/echo?n=%d" % i)
        resp = cn.getresponse()
        body = json.loads(resp.read() or b"{}")
        seen.append((resp.status, body.get("path")))
    sock_reused = cn.sock is not None
    cn.close()
    t.eq(seen, [(200, "/echo?n=0"), (200, "/echo?n=1")],
         "%s: two requests through the TLS forward" % what)
    t.ok(sock_reused, "%s: on one kept-alive connection" % what)
    a, b = asyncio.run(ws_echo(addr))
    t.eq(a, "hello over tls", "%s: a WebSocket text frame echoed" % what)
    t.eq(b, bytes(range(256)), "%s: a binary frame echoed" % what)
    keys = sorted({e.get("has_api_key") for e in proxied(fake)})
    t.eq(keys, [keyed], "%s: X-API-Key on the proxied requests: %s"
         % (what, keyed))
    c.call("port_forwards.close", {"id": fw.get("id")})


def dialect_cases(dialect):
    """http_request and port_forward over TLS on one server's proxy."""
    # The dialect is configured, not probed: what is tested is the
    # proxy's credential on each server (a probe over TLS under valgrind
    # on a loaded machine may outlast its deadline).
    pin = ("--set", "api-dialect=" + dialect)
    env = Env(tls=True, dialect=dialect, wrennd_args=pin)
    keyed = dialect == "sandboxes"
    try:
        c = env.client()
        r = c.call("sandboxes.create", {})
        sb = r.get("result", {}).get("id", "")
        t.ok(sb.startswith("cl-"), "%s: a sandbox over https" % dialect, r)
        env.fake.map_port(sb, 8000, "127.0.0.1:%d" % APP_PORT)

        with t.case("%s: http_request over TLS" % dialect):
            env.fake.clear_requests()
            r = c.call("sandbox.http_request",
                       {"sandbox_id": sb, "port": 8000, "method": "GET",
                        "path": "/echo"})
            t.eq(r.get("result", {}).get("status"), 200,
                 "%s: the app answers through https" % dialect)
            sent = echo_headers(r)
            t.eq("x-api-key" in sent, keyed,
                 "%s: X-API-Key reached the app: %s" % (dialect, keyed))
            hosts = [e.get("host") for e in proxied(env.fake)]
            t.eq(hosts, ["8000-%s.127.0.0.1:%d" % (sb, env.fake.port)],
                 "%s: Host (and SNI) name the proxy" % dialect)

        with t.case("%s: port_forward over TLS" % dialect):
            forward_checks(c, sb, env.fake, keyed, dialect)

        with t.case("%s: JWT only" % dialect):
            w = Wrennd(env.tmp, env.fake.url, token=env.seed["jwt_owner"],
                       args=("--ca-file", env.fake.ca) + pin)
            cj = Client(w.sock)
            env.fake.clear_requests()
            r = cj.call("sandbox.http_request",
                        {"sandbox_id": sb, "port": 8000, "method": "GET",
                         "path": "/echo"})
            if keyed:
                t.eq(err(r).get("code"), "unauthorized",
                     "172413e, JWT only: unauthorized")
                t.eq(err(r).get("needs"), "api_key",
                     "172413e, JWT only: needs api_key")
                t.eq(proxied(env.fake), [],
                     "172413e, JWT only: nothing reached the proxy")
            else:
                t.eq(r.get("result", {}).get("status"), 200,
                     "v0.1.5, JWT only: http_request answers")
                t.ok("x-api-key" not in echo_headers(r),
                     "v0.1.5, JWT only: no X-API-Key reached the app")
                forward_checks(cj, sb, env.fake, False, "v0.1.5, JWT only")
            cj.close()
            rc, _ = w.stop()
            t.eq(rc, 0, "%s, JWT only: wrennd exits cleanly" % dialect)
    finally:
        env.close(t)


def wrong_ca_cases():
    """Proxy names certified by another CA than the one wrennd trusts:
    every proxy path fails with a TLS error; the API still answers."""
    other = tempfile.mkdtemp(prefix="other-ca.")
    subprocess.run(["sh", MKCERT, other], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The fake's proxy names come from the other CA (the last
    # --tls-mint-ca wins); its API name from the CA wrennd trusts.
    env = Env(tls=True, fake_args=("--tls-mint-ca", other))
    try:
        c = env.client()
        r = c.call("sandboxes.create", {})
        sb = r.get("result", {}).get("id", "")
        t.ok(sb.startswith("cl-"), "wrong CA: the API routes still work", r)
        env.fake.map_port(sb, 8000, "127.0.0.1:%d" % APP_PORT)

        with t.case("wrong CA: http_request"):
            env.fake.clear_requests()
            r = c.call("sandbox.http_request",
                       {"sandbox_id": sb, "port": 8000, "method": "GET",
                        "path": "/echo"})
            t.eq(err(r).get("code"), "upstream_unreachable",
                 "wrong CA: http_request fails (code)")
            t.ok("certificate" in r.get("error", {}).get("message", ""),
                 "wrong CA: the message names the certificate", r)
            t.eq(proxied(env.fake), [],
                 "wrong CA: no request reached the proxy")

        with t.case("wrong CA: port_forward"):
            r = c.call("sandbox.port_forward",
                       {"sandbox_id": sb, "port": 8000})
            addr = r.get("result", {}).get("address", "127.0.0.1:1")
            host, _, port = addr.rpartition(":")
            cn = http.client.HTTPConnection(host, int(port), timeout=30)
            cn.request("GET", "/echo")
            resp = cn.getresponse()
            text = resp.read().decode("utf-8", "replace")
            cn.close()
            t.eq(resp.status, 502, "wrong CA: the forward answers 502")
            t.ok("certificate" in text,
                 "wrong CA: its body names the certificate", text)
            t.eq(proxied(env.fake), [],
                 "wrong CA: no forwarded request reached the proxy")
        c.close()
    finally:
        env.close(t)
        shutil.rmtree(other, ignore_errors=True)


def run_code_cases():
    have, why = jupyterfix.available()
    if not have:
        t.diag("run_code over TLS not run: %s" % why)
        return
    env = Env(tls=True)
    jup = None
    try:
        jup = jupyterfix.Jupyter(env.tmp)
        c = env.client()
        c.s.settimeout(300)
        r = c.call("sandboxes.create", {})
        sb = r.get("result", {}).get("id", "")
        t.ok(sb.startswith("cl-"), "run_code: a sandbox over https", r)
        jup.map_into(env.fake, sb)
        with t.case("run_code over TLS"):
            env.fake.clear_requests()
            r = c.call("sandbox.run_code",
                       {"sandbox_id": sb, "code": "print('tls')\n6 * 7"})
            res = r.get("result", {})
            t.eq(res.get("text"), "42", "run_code: the result over TLS")
            t.eq(res.get("stdout"), "tls\n", "run_code: stdout over TLS")
            keys = sorted({e.get("has_api_key") for e in proxied(env.fake)})
            t.eq(keys, [env.fake.dialect == "sandboxes"],
                 "run_code: X-API-Key only where the proxy takes one")
    finally:
        if jup is not None:
            jup.stop()
        env.close(t)


for d in ("sandboxes", "capsules"):
    dialect_cases(d)
wrong_ca_cases()
run_code_cases()
APP.stop()
sys.exit(t.done())
