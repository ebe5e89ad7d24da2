# SPDX-License-Identifier: MIT
"""wrennd benchmarks: numbers are written to a results file, never
asserted.

  exec-stream throughput: MB/s of command output read through wrennd
      (sandbox.exec_stream) vs read from the fake control plane's exec
      WebSocket directly (aiohttp client), same command.
  file throughput: MB/s of sandbox.stream_upload / stream_download through
      wrennd with passed fds vs curl against the same fake routes.
  memory: wrennd's RSS growth (VmHWM) over 1 GiB transfers each way.
  upstream pool: 64 local clients doing warm sandboxes.get calls through
      wrennd against a small loopback server (tests/unit/httpd-helper.py,
      plain and TLS) at max-host-connections 8 and 64: calls/s, p99, the
      upstream connections the server accepted, wrennd's RSS; and the same
      clients straight to the server with keep-alive.
  forwarded HTTP: nginx behind the fake's sandbox proxy, reached through
      sandbox.port_forward, through the proxy straight (its Host header
      and the key) and straight to nginx, all with wrk: requests/s and
      p50/p99 of small keep-alive GETs from N connections, MB/s of a
      large body each way (GET of a file, WebDAV PUT), the ratios, and
      the RSS of the wrennd that forwards.

Usage: bench.py [--out FILE] [--file-mib N] [--stream-mib N]
                [--only stream|files|pool|forward] [--pool-calls N]
                [--forward-clients N] [--forward-seconds S]
                [--forward-big-mib N]
Run from a build directory (or set top_builddir); `make bench` does it.
"""
import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integ"))
from harness import (MKCERT, PYTHON, SRCDIR, Client, Env,  # noqa: E402
                     Wrennd, instrumented, rss_kib, wait_for)

HELPER = os.path.join(SRCDIR, "tests", "unit", "httpd-helper.py")
POOL_CLIENTS = 64


def stream_cmd(mib):
    return ["-c", "head -c %d /dev/zero | tr '\\0' a | fold -w 8191"
            % (mib << 20)]


def bench_stream_wrennd(env, sid, mib):
    c = env.client()
    c.s.settimeout(600)
    i = c.call_async("sandbox.exec_stream",
                     {"sandbox_id": sid, "cmd": "/bin/sh",
                      "args": stream_cmd(mib)})
    got = 0
    t0 = time.monotonic()
    f = c.s.makefile("rb")  # buffered C reader, like aiohttp's on the
    while True:             # direct side
        line = f.readline()
        m = json.loads(line)
        if m.get("method") == "$/stream":
            got += len(m["params"].get("data", ""))
            continue
        if m.get("id") == i:
            break
    dt = time.monotonic() - t0
    c.close()
    return got, dt


async def _direct(url, key, sid, mib):
    import aiohttp
    got = 0
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(url + "/v1/sandboxes/%s/exec/stream" % sid,
                                headers={"X-API-Key": key},
                                max_msg_size=0) as ws:
            await ws.send_str(json.dumps({"type": "start", "cmd": "/bin/sh",
                                          "args": stream_cmd(mib)}))
            t0 = time.monotonic()
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                m = json.loads(msg.data)
                if m["type"] in ("stdout", "stderr"):
                    got += len(m.get("data", ""))
                if m["type"] in ("exit", "error"):
                    break
            return got, time.monotonic() - t0


def bench_stream_direct(env, sid, mib):
    return asyncio.run(_direct(env.fake.url.replace("http", "ws", 1),
                               env.seed["api_key"], sid, mib))


def make_file(path, mib):
    block = os.urandom(1 << 20)
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(block)
            h.update(block)
    return h.hexdigest()


def bench_files_wrennd(env, sid, src, dst):
    c = env.client()
    c.s.settimeout(1800)
    c.enable_fds()
    pid = env.wrennd.proc.pid
    hwm0 = rss_kib(pid, "VmHWM")
    rss0 = rss_kib(pid)
    fd = os.open(src, os.O_RDONLY)
    t0 = time.monotonic()
    i = c.call_async_fds("sandbox.stream_upload",
                         {"sandbox_id": sid, "path": "bench.bin",
                          "fd": {"$fd": 0}}, [fd])
    os.close(fd)
    up = c.wait_reply(i, events=[])
    t_up = time.monotonic() - t0
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    t0 = time.monotonic()
    i = c.call_async_fds("sandbox.stream_download",
                         {"sandbox_id": sid, "path": "bench.bin",
                          "fd": {"$fd": 0}}, [fd])
    os.close(fd)
    down = c.wait_reply(i, events=[])
    t_down = time.monotonic() - t0
    c.close()
    return {"upload_s": t_up, "download_s": t_down,
            "upload_ok": "result" in up, "download_ok": "result" in down,
            "rss_growth_kib": rss_kib(pid) - rss0,
            "hwm_growth_kib": rss_kib(pid, "VmHWM") - hwm0}


def bench_files_curl(env, sid, src, dst):
    key = env.seed["api_key"]
    base = env.fake.url + "/v1/sandboxes/%s/files/stream/" % sid
    t0 = time.monotonic()
    subprocess.run(["curl", "-sS", "-f", "-o", "/dev/null", "-H",
                    "X-API-Key: " + key, "-F", "path=curl.bin",
                    "-F", "file=@%s;filename=upload.bin" % src,
                    base + "write"], check=True)
    t_up = time.monotonic() - t0
    t0 = time.monotonic()
    subprocess.run(["curl", "-sS", "-f", "-o", dst, "-H",
                    "X-API-Key: " + key, "-H",
                    "Content-Type: application/json", "--data",
                    json.dumps({"path": "curl.bin"}), base + "read"],
                   check=True)
    return {"upload_s": t_up, "download_s": time.monotonic() - t0}


def bench_stream(env, sid, mib):
    """Lines for the exec-stream benchmark."""
    lines = []
    got_w, dt_w = bench_stream_wrennd(env, sid, mib)
    got_d, dt_d = bench_stream_direct(env, sid, mib)
    lines.append("exec_stream_through_wrennd_MBps %.1f  (%d bytes, "
                 "%.2f s)" % (got_w / dt_w / 1e6, got_w, dt_w))
    lines.append("exec_stream_direct_websocket_MBps %.1f  (%d bytes, "
                 "%.2f s)" % (got_d / dt_d / 1e6, got_d, dt_d))
    return lines


def bench_files(env, sid, mib):
    """Lines for the file-transfer and memory benchmark."""
    lines = []
    src = os.path.join(env.tmp, "bench.src")
    dst = os.path.join(env.tmp, "bench.dst")
    make_file(src, mib)
    size = mib << 20
    w = bench_files_wrennd(env, sid, src, dst)
    cu = bench_files_curl(env, sid, src, dst)
    lines.append("file_upload_through_wrennd_MBps %.1f" %
                 (size / w["upload_s"] / 1e6))
    lines.append("file_upload_curl_direct_MBps %.1f" %
                 (size / cu["upload_s"] / 1e6))
    lines.append("file_download_through_wrennd_MBps %.1f" %
                 (size / w["download_s"] / 1e6))
    lines.append("file_download_curl_direct_MBps %.1f" %
                 (size / cu["download_s"] / 1e6))
    lines.append("file_transfer_bytes %d (each way; ok: %s/%s)" %
                 (size, w["upload_ok"], w["download_ok"]))
    lines.append("wrennd_rss_growth_kib %d" % w["rss_growth_kib"])
    lines.append("wrennd_peak_rss_growth_kib %d%s" % (
        w["hwm_growth_kib"],
        " (instrumented build)" if instrumented() else ""))
    return lines


def pool_helper(tmp, tls):
    """Start the loopback server; returns (process, base URL, CA file)."""
    args = [PYTHON, HELPER]
    ca = None
    if tls:
        d = os.path.join(tmp, "poolcerts")
        subprocess.run(["sh", MKCERT, d], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        args += ["--tls", os.path.join(d, "server.pem"),
                 os.path.join(d, "server.key")]
        ca = os.path.join(d, "ca.pem")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE)
    port = int(proc.stdout.readline().split()[1])
    scheme = "https" if tls else "http"
    return proc, "%s://127.0.0.1:%d" % (scheme, port), ca


def pool_connections(url, ca):
    """Connections the server accepted (this query opens one more)."""
    import ssl
    ctx = ssl.create_default_context(cafile=ca) if ca else None
    with urllib.request.urlopen(url + "/v1/stats", timeout=10,
                                context=ctx) as r:
        return json.loads(r.read())["connections"]


def pool_clients(calls, one_call_factory):
    """POOL_CLIENTS threads, each making calls with its own connection;
    returns (wall seconds, sorted latencies, failures)."""
    lat = []
    bad = [0]
    lock = threading.Lock()
    ready = threading.Barrier(POOL_CLIENTS + 1)

    def run(n):
        call = one_call_factory(n)
        mine = []
        fails = 0
        ready.wait()
        for _ in range(calls):
            t0 = time.monotonic()
            if not call():
                fails += 1
            mine.append(time.monotonic() - t0)
        with lock:
            lat.extend(mine)
            bad[0] += fails

    ts = [threading.Thread(target=run, args=(n,))
          for n in range(POOL_CLIENTS)]
    for th in ts:
        th.start()
    ready.wait()
    t0 = time.monotonic()
    for th in ts:
        th.join()
    return time.monotonic() - t0, sorted(lat), bad[0]


def pool_line(key, calls, dt, lat, bad, extra=""):
    p99 = lat[int(len(lat) * 0.99) - 1] * 1000 if lat else 0
    return ("%s %.0f  (%d calls, %d clients, p99 %.1f ms, %d failed%s)"
            % (key, calls / dt, calls, POOL_CLIENTS, p99, bad, extra))


def bench_pool_wrennd(tmp, url, ca, maxconn, calls):
    args = ["--set", "max-host-connections=%d" % maxconn]
    if ca:
        args += ["--ca-file", ca]
    w = Wrennd(tmp, url, api_key="wrn_" + "0123456789abcdef" * 2, args=args)
    try:
        def factory(n):
            c = Client(w.sock)
            params = {"sandbox_id": "cl-bench%d" % n}
            return lambda: "result" in c.call("sandboxes.get", params)

        # Warm the pool first, as the audit measured warm calls.
        pool_clients(2, factory)
        c0 = pool_connections(url, ca)
        dt, lat, bad = pool_clients(calls, factory)
        conns = pool_connections(url, ca) - c0 - 1
        rss = rss_kib(w.proc.pid) / 1024
    finally:
        w.stop()
    return dt, lat, bad, conns, rss


def bench_pool_direct(url, ca, calls):
    import http.client
    import ssl
    host, port = url.split("//", 1)[1].split(":")

    def factory(n):
        if ca:
            conn = http.client.HTTPSConnection(
                host, int(port), context=ssl.create_default_context(cafile=ca))
        else:
            conn = http.client.HTTPConnection(host, int(port))

        def call():
            conn.request("GET", "/v1/sandboxes/cl-bench%d" % n)
            r = conn.getresponse()
            r.read()
            return r.status == 200
        return call

    return pool_clients(calls, factory)


def bench_pool(tmp, calls):
    """Lines for the upstream pool benchmark, plain and TLS."""
    lines = []
    total = calls * POOL_CLIENTS
    for tls in (False, True):
        proc, url, ca = pool_helper(tmp, tls)
        scheme = "https" if tls else "http"
        try:
            dt, lat, bad = bench_pool_direct(url, ca, calls)
            lines.append(pool_line("pool_%s_direct_calls_per_s" % scheme,
                                   total, dt, lat, bad))
            for maxconn in (8, 64):
                dt, lat, bad, conns, rss = bench_pool_wrennd(
                    tmp, url, ca, maxconn, calls)
                lines.append(pool_line(
                    "pool_%s_maxconn%d_calls_per_s" % (scheme, maxconn),
                    total, dt, lat, bad,
                    ", %d new upstream connections, RSS %.0f MiB" % (
                        conns, rss)))
        finally:
            proc.terminate()
            proc.wait()
    return lines


# --------------------------------------------------------------------------
# Forwarded HTTP: nginx behind the fake's sandbox proxy, driven by wrk.

FORWARD_PORT = 8000          # the sandbox port the forward asks for
SMALL_BODY = b"wrennd forward benchmark: a small answer of 64 bytes........\n"
NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
%(user)s
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    types { text/plain txt; application/octet-stream bin; }
    server {
        listen 127.0.0.1:%(port)d;
        root %(dir)s/www;
        location /up/ {
            dav_methods PUT;
            client_max_body_size 0;
        }
    }
}
"""
# wrk's result, one line from done() (times in microseconds).
WRK_SCRIPT = """%(setup)s
function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("WRKRESULT %%d %%d %%d %%d %%d %%d\\n",
        summary.requests, summary.duration, summary.bytes,
        latency:percentile(50), latency:percentile(99),
        e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def forward_tools():
    """The programs the forward benchmark needs that are missing."""
    import shutil
    return [p for p in ("nginx", "wrk") if shutil.which(p) is None]


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def nginx_start(tmp, big):
    """nginx serving /small.txt, /big.bin (big bytes) and PUT under /up/;
    returns (process, port)."""
    import socket
    d = os.path.join(tmp, "nginx")
    os.makedirs(os.path.join(d, "www", "up"))
    with open(os.path.join(d, "www", "small.txt"), "wb") as f:
        f.write(SMALL_BODY)
    block = os.urandom(1 << 20)
    with open(os.path.join(d, "www", "big.bin"), "wb") as f:
        for _ in range(big >> 20):
            f.write(block)
    port = free_port()
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        # As root nginx would switch to nobody, who cannot read tmp.
        f.write(NGINX_CONF % {"dir": d, "port": port,
                              "user": "user root;" if os.geteuid() == 0
                              else ""})
    log = open(os.path.join(d, "stderr.log"), "w")
    proc = subprocess.Popen(["nginx", "-p", d, "-e", d + "/error.log",
                             "-c", conf], stdout=log, stderr=log)
    log.close()

    def up():
        if proc.poll() is not None:
            with open(os.path.join(d, "error.log")) as f:
                raise RuntimeError("nginx exited: " + f.read()[-2000:])
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return True
        except OSError:
            return False
    wait_for(up, 20, step=0.05, what="nginx")
    return proc, port


def wrk(tmp, url, headers, seconds, conns, body=None):
    """One wrk run against url (keep-alive, conns connections, PUT of the
    file body when given); returns a dict of its figures. Headers (the
    key among them) go in a 0600 script, never on a command line."""
    setup = ["wrk.headers[%s] = %s" % (json.dumps(k), json.dumps(v))
             for k, v in headers.items()]
    if body:
        setup += ["wrk.method = \"PUT\"",
                  "local f = assert(io.open(%s, \"rb\"))" % json.dumps(body),
                  "wrk.body = f:read(\"*a\")", "f:close()"]
    script = os.path.join(tmp, "wrk-%d.lua" % time.monotonic_ns())
    fd = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(WRK_SCRIPT % {"setup": "\n".join(setup)})
    try:
        out = subprocess.run(
            ["wrk", "-t", str(min(2, conns)), "-c", str(conns),
             "-d", "%gs" % seconds, "--timeout", "30s", "-s", script, url],
            capture_output=True, text=True, timeout=seconds + 120).stdout
    finally:
        os.unlink(script)
    for line in out.splitlines():
        if line.startswith("WRKRESULT "):
            n, us, nbytes, p50, p99, errs = map(int, line.split()[1:])
            return {"requests": n, "seconds": us / 1e6, "bytes": nbytes,
                    "p50_ms": p50 / 1e3, "p99_ms": p99 / 1e3,
                    "errors": errs}
    raise RuntimeError("wrk printed no result:\n" + out[-2000:])


def check_get(url, headers):
    """One GET of /small.txt (a forward that does not work is a failed
    benchmark, not a fast one)."""
    req = urllib.request.Request(url + "/small.txt", headers=headers)
    with urllib.request.urlopen(req, timeout=30) as r:
        got = r.read()
    if got != SMALL_BODY:
        raise RuntimeError("GET %s/small.txt answered %r" % (url, got[:200]))


class RssSampler:
    """wrennd's VmRSS sampled every 50 ms while the forward runs."""

    def __init__(self, pid):
        self.pid = pid
        self.start = rss_kib(pid)
        self.peak = self.start
        self.stop_ev = threading.Event()
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        while not self.stop_ev.wait(0.05):
            self.peak = max(self.peak, rss_kib(self.pid))

    def stop(self):
        self.stop_ev.set()
        self.th.join()
        return {"start": self.start, "peak": self.peak,
                "end": rss_kib(self.pid),
                "hwm": rss_kib(self.pid, "VmHWM")}


def forward_rate(r):
    """Requests/s for small GETs, bytes/s for large bodies."""
    return r.get("moved", r["requests"]) / r["seconds"]


def forward_lines(kind, got, paths, clients):
    """One line per path for one kind of run, then the ratios."""
    lines = []
    for name in paths:
        r = got[kind, name]
        if kind == "small_get":
            v = "%.0f" % forward_rate(r)
            unit = "rps"
            detail = "%d connections, keep-alive, p50 %.2f ms, p99 %.2f ms" \
                % (clients, r["p50_ms"], r["p99_ms"])
        else:
            v = "%.1f" % (forward_rate(r) / 1e6)
            unit = "MBps"
            detail = "1 connection, bodies of %d MiB" % (r["body"] >> 20)
        lines.append("forward_%s_%s_%s %s  (%s, %d requests in %.1f s, "
                     "%d errors)" % (kind, name, unit, v, detail,
                                     r["requests"], r["seconds"],
                                     r["errors"]))
    w, p, a = (got[kind, n] for n in ("through_wrennd", "proxy_direct",
                                      "app_direct"))
    extra = ""
    if kind == "small_get":
        extra = ", p50 %.2fx and p99 %.2fx the proxy's" % (
            ratio(w["p50_ms"], p["p50_ms"]), ratio(w["p99_ms"], p["p99_ms"]))
    lines.append("forward_%s_ratio_wrennd_to_proxy %.2f  (wrennd/app %.3f, "
                 "proxy/app %.3f%s)" % (
                     kind, ratio(forward_rate(w), forward_rate(p)),
                     ratio(forward_rate(w), forward_rate(a)),
                     ratio(forward_rate(p), forward_rate(a)), extra))
    return lines


def ratio(a, b):
    return a / b if b else 0.0


def bench_forward(env, sid, clients, seconds, big_mib):
    """Lines for the forwarded HTTP benchmark."""
    missing = forward_tools()
    if missing:
        return ["forward_skipped (not installed: %s; scripts/deps.sh "
                "installs them)" % ", ".join(missing)]
    tmp = env.tmp
    big = big_mib << 20
    nginx, app_port = nginx_start(tmp, big)
    # A wrennd of its own, so its RSS is the forward's alone.
    w = Wrennd(tmp, env.fake.url, api_key=env.seed["api_key"])
    lines = []
    try:
        env.fake.map_port(sid, FORWARD_PORT, "127.0.0.1:%d" % app_port)
        c = Client(w.sock)
        r = c.call("sandbox.port_forward",
                   {"sandbox_id": sid, "port": FORWARD_PORT})
        c.close()
        if "result" not in r:
            raise RuntimeError("sandbox.port_forward: %r" % r)
        fake_host = env.fake.url.split("//", 1)[1]
        paths = {
            "through_wrennd": ("http://" + r["result"]["address"], {}),
            "proxy_direct": (env.fake.url, {
                "Host": "%d-%s.%s" % (FORWARD_PORT, sid, fake_host),
                "X-API-Key": env.seed["api_key"]}),
            "app_direct": ("http://127.0.0.1:%d" % app_port, {}),
        }
        for url, headers in paths.values():
            check_get(url, headers)
        body = os.path.join(tmp, "nginx", "www", "big.bin")
        got = {}
        sampler = RssSampler(w.proc.pid)
        try:
            # One kind at a time over the three paths, so the figures
            # compared are taken close together on a loaded machine.
            for name, (url, headers) in paths.items():
                got["small_get", name] = wrk(tmp, url + "/small.txt",
                                             headers, seconds, clients)
            for name, (url, headers) in paths.items():
                d = wrk(tmp, url + "/big.bin", headers, seconds, 1)
                d.update(moved=d["bytes"], body=big)
                got["download", name] = d
            for name, (url, headers) in paths.items():
                u = wrk(tmp, url + "/up/put.bin", headers, seconds, 1,
                        body=body)
                u.update(moved=u["requests"] * big, body=big)
                got["upload", name] = u
        finally:
            rss = sampler.stop()
        for kind in ("small_get", "download", "upload"):
            lines += forward_lines(kind, got, paths, clients)
        lines.append("forward_wrennd_rss_kib %d  (peak sampled every 50 ms "
                     "during the runs; %d before, %d after, VmHWM %d%s)" % (
                         rss["peak"], rss["start"], rss["end"], rss["hwm"],
                         ", instrumented build" if instrumented() else ""))
    finally:
        w.stop()
        nginx.terminate()
        nginx.wait()
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/bench/results.txt")
    ap.add_argument("--file-mib", type=int, default=1024)
    ap.add_argument("--stream-mib", type=int, default=64)
    ap.add_argument("--only", choices=("stream", "files", "pool", "forward"))
    ap.add_argument("--pool-calls", type=int, default=100,
                    help="warm calls per client in the pool benchmark")
    ap.add_argument("--forward-clients", type=int, default=16,
                    help="keep-alive connections for the small GETs")
    ap.add_argument("--forward-seconds", type=float, default=3,
                    help="seconds of each wrk run (9 runs)")
    ap.add_argument("--forward-big-mib", type=int, default=16,
                    help="size of the large body each way")
    a = ap.parse_args()
    env = Env()
    lines = []
    try:
        if a.only in (None, "pool"):
            lines += bench_pool(env.tmp, a.pool_calls)
        if a.only != "pool":
            c = env.client()
            sid = c.call("sandboxes.create", {})["result"]["id"]
            c.close()
        if a.only in (None, "stream"):
            lines += bench_stream(env, sid, a.stream_mib)
        if a.only in (None, "files"):
            lines += bench_files(env, sid, a.file_mib)
        if a.only in (None, "forward"):
            lines += bench_forward(env, sid, a.forward_clients,
                                   a.forward_seconds, a.forward_big_mib)
    finally:
        env.close()
    head = "# wrennd benchmarks %s, %d cores\n" % (
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), os.cpu_count())
    text = head + "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
