# SPDX-License-Identifier: MIT
"""wrennd benchmarks: numbers are written to a results file, never
asserted.

  exec-stream throughput: MB/s of command output read through wrennd
      (sandbox.exec_stream) vs read from the fake control plane's exec
      WebSocket directly (aiohttp client), same command.
  file throughput: MB/s of sandbox.stream_upload / stream_download through
      wrennd with passed fds vs curl against the same fake routes.
  memory: wrennd's RSS growth (VmHWM) over 1 GiB transfers each way.

Usage: bench.py [--out FILE] [--file-mib N] [--stream-mib N]
Run from a build directory (or set top_builddir); `make bench` does it.
"""
import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integ"))
from harness import Env, instrumented, rss_kib  # noqa: E402


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/bench/results.txt")
    ap.add_argument("--file-mib", type=int, default=1024)
    ap.add_argument("--stream-mib", type=int, default=64)
    a = ap.parse_args()
    env = Env()
    lines = []
    try:
        c = env.client()
        sid = c.call("sandboxes.create", {})["result"]["id"]
        c.close()
        mib = a.stream_mib
        got_w, dt_w = bench_stream_wrennd(env, sid, mib)
        got_d, dt_d = bench_stream_direct(env, sid, mib)
        lines.append("exec_stream_through_wrennd_MBps %.1f  (%d bytes, "
                     "%.2f s)" % (got_w / dt_w / 1e6, got_w, dt_w))
        lines.append("exec_stream_direct_websocket_MBps %.1f  (%d bytes, "
                     "%.2f s)" % (got_d / dt_d / 1e6, got_d, dt_d))
        src = os.path.join(env.tmp, "bench.src")
        dst = os.path.join(env.tmp, "bench.dst")
        make_file(src, a.file_mib)
        size = a.file_mib << 20
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
