#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""fakecp: a fake Wrenn control plane (172413e, or f5a23c1 with --dialect
capsules) for wrennd's tests.

Entry point and request pipeline.  FakeCP owns the state, the fake host
agent, the stats sampler, the request log and the fault table, and routes
each aiohttp request:

  Host {port}-{sandbox_id}.{domain}
              -> logged; the first matching "proxy" fault rule may delay,
                 answer or reset; then proxy.py (the sandbox proxy wraps
                 the whole router in the real CP, so it comes first)
  /_fake/...  -> control.py (no auth, no faults, not logged)
  anything    -> logged; on /v1 paths the first matching fault rule may
                 delay, answer or reset; then routes.py's chi look-alike.

A handler that raises ids.GoPanic (or any unexpected exception, since the
real server has no recovery middleware) gets its connection closed without
a response, as net/http does after a panic.

Run with Debian's interpreter (/usr/bin/python3, python3-aiohttp):
  fakecp.py --listen 127.0.0.1:0 --port-file F --seed-out S [--tls-cert C
            --tls-key K] [--state-dir D] [--jwt-secret X]
  fakecp.py mint-jwt --jwt-secret X --sub usr-... --team-id team-... [...]
See README.md.
"""

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True   # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from aiohttp import web  # noqa: E402

import agent as agent_mod  # noqa: E402
import auditlog  # noqa: E402
import control  # noqa: E402
import httpio  # noqa: E402
import ids  # noqa: E402
import proxy  # noqa: E402
import routes  # noqa: E402
import state as st  # noqa: E402
import stats  # noqa: E402
import tokens  # noqa: E402

log = logging.getLogger("fakecp")


class DropConnection(Exception):
    """Close the client connection without any response."""

    def __init__(self, rst):
        super().__init__("reset" if rst else "close")
        self.rst = rst


async def _no_expect(request):
    """Do not answer Expect: 100-continue up front (Ctx.read_body does)."""
    return None


class FakeCP:
    """One fake control plane: state, agent, sampler, log, faults, routes."""

    def __init__(self, opts, state_dir):
        self.opts = opts
        self.dialect = opts.dialect
        self.state = st.State(opts.jwt_secret.encode("utf-8"))
        self.seed = self.state.seed(opts.api_key)
        self.seed["dialect"] = opts.dialect
        self.agent = agent_mod.Agent(self.state, state_dir,
                                     opts.max_exec_output,
                                     opts.create_delay_ms / 1000.0)
        self.sampler = stats.Sampler(self.state, opts.stats_interval)
        self.log = control.RequestLog(opts.max_log)
        self.faults = control.FaultTable()
        self.proxy = proxy.Proxy(self.state, self.agent,
                                 opts.proxy_cache_ttl, opts.dialect)
        self.api = routes.build(opts.dialect)
        self.control = control.build()

    # ---- request pipeline ------------------------------------------------

    async def handle(self, request):
        """The single aiohttp handler: every request enters here."""
        raw_path, _, raw_query = request.raw_path.partition("?")
        proxied = proxy.match_host(request.headers.get("Host", ""))
        is_control = proxied is None and httpio.route_matches("/_fake",
                                                              raw_path)
        entry = None if is_control else self.log.start(request, raw_path,
                                                       raw_query)
        try:
            ctx = httpio.Ctx(self, request, raw_path, raw_query, entry)
        except httpio.BadRequestURI:
            resp = httpio.bad_request_uri()
            if entry is not None:
                entry["status"] = resp.status
            return resp
        try:
            if proxied is not None:
                resp = await self._serve_proxy(ctx, proxied)
            elif is_control:
                resp = await self.control.serve(ctx)
            else:
                resp = await self._serve_api(ctx)
        except httpio.ClientGone:
            if entry is not None:
                entry["client_gone"] = True
            return web.Response()
        except (ids.GoPanic, DropConnection) as e:
            if entry is not None:
                entry["dropped"] = True
            httpio.drop_connection(request, isinstance(e, DropConnection) and e.rst)
            return web.Response()
        except asyncio.CancelledError:
            raise
        except Exception:
            # No recovery middleware in the real CP: a panic drops the
            # connection.  Show the bug in the fake on stderr.
            traceback.print_exc()
            if entry is not None:
                entry["dropped"] = True
            httpio.drop_connection(request, False)
            return web.Response()
        if entry is not None and not isinstance(resp, proxy.SentResponse):
            entry["status"] = resp.status
        if log.isEnabledFor(logging.INFO):
            log.info("%s %s -> %d", request.method, request.raw_path,
                     resp.status)
        # Send the reply now, then (for the log) peek at a body the handler
        # never read, without delaying the client.
        try:
            await resp.prepare(request)
            await resp.write_eof()
        except ConnectionError:
            if entry is not None:
                entry["client_gone"] = True
            return resp
        if entry is not None and not ctx.body_consumed:
            await self._log_unread_body(ctx)
        return resp

    async def _serve_api(self, ctx):
        """Apply the first matching fault rule (/v1 and /health), then
        route."""
        if httpio.route_matches("/v1", ctx.raw_path) or \
                ctx.raw_path == "/health":
            resp = await self._apply_fault(ctx, proxy=False)
            if resp is not None:
                return resp
        return await self.api.serve(ctx)

    async def _serve_proxy(self, ctx, proxied):
        """Apply the first matching proxy fault rule, then proxy."""
        resp = await self._apply_fault(ctx, proxy=True)
        if resp is not None:
            return resp
        return await self.proxy.serve(ctx, *proxied)

    async def _apply_fault(self, ctx, proxy):
        """The first live rule for this request: delay, then reset (raises
        DropConnection) or answer (returns the response); None = go on."""
        fault = self.faults.match(ctx.method, ctx.raw_path, proxy)
        if fault is None:
            return None
        ctx.log["fault"] = fault.id
        ctx.fault = fault   # mid-stream actions (streamfault.py)
        if fault.delay_ms:
            await asyncio.sleep(fault.delay_ms / 1000.0)
        if fault.reset:
            raise DropConnection(rst=True)
        return fault.response() if fault.status else None

    async def _log_unread_body(self, ctx):
        """Log the start of a body the handler ignored (best effort)."""
        req = ctx.request
        if not req.body_exists or "Expect" in req.headers:
            return
        with contextlib.suppress(Exception):
            data = await asyncio.wait_for(
                req.content.read(httpio.LOG_BODY_MAX + 1), 0.5)
            ctx.note_body(data, len(data) > httpio.LOG_BODY_MAX)

    # ---- background work -------------------------------------------------

    def on_auto_pause(self, sb):
        """The host monitor learns about a TTL auto-pause."""
        self.state.set_status(sb, st.PAUSED)
        auditlog.sandbox_auto_pause(self.state, sb.team_id, sb.id)

    def start_background(self):
        self.sampler.start()
        self.agent.start_reaper(self.on_auto_pause)

    async def stop_background(self):
        await self.sampler.stop()
        await self.agent.shutdown()


# --------------------------------------------------------------------------
# Start-up

def parse_listen(text):
    """HOST:PORT or [V6]:PORT -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT, got %r" % text)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "127.0.0.1", int(port)


def write_atomic(path, text):
    """Write text to path via a temporary file and rename."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fakecp-", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def make_socket(host, port):
    info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                              flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(info[0], socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(info[4])
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve(opts):
    own_state_dir = opts.state_dir is None
    state_dir = opts.state_dir or tempfile.mkdtemp(prefix="fakecp-")
    os.makedirs(state_dir, exist_ok=True)
    fake = FakeCP(opts, state_dir)

    app = web.Application(client_max_size=256 << 20)
    app.router.add_route("*", "/{tail:.*}", fake.handle,
                         expect_handler=_no_expect)
    ssl_ctx = None
    if opts.tls_cert:
        ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_ctx.load_cert_chain(opts.tls_cert, opts.tls_key)
        if opts.tls_mint_ca:
            import certmint
            minter = certmint.Minter(
                os.path.join(opts.tls_mint_ca, "ca.pem"),
                os.path.join(opts.tls_mint_ca, "ca.key"),
                os.path.join(state_dir, "minted-certs"))
            ssl_ctx.sni_callback = minter.sni_callback

    host, port = opts.listen
    sock = make_socket(host, port)
    # Go's net/http never decompresses a request body; neither do we.
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           auto_decompress=False)
    await runner.setup()
    site = web.SockSite(runner, sock, ssl_context=ssl_ctx,
                        shutdown_timeout=1.0)
    await site.start()

    port = sock.getsockname()[1]
    url_host = "[%s]" % host if ":" in host else host
    fake.seed.update(base_url="%s://%s:%d" % ("https" if ssl_ctx else "http",
                                               url_host, port),
                     port=port, tls=ssl_ctx is not None)
    if opts.seed_out:
        write_atomic(opts.seed_out, json.dumps(fake.seed, indent=1) + "\n")
    if opts.port_file:
        write_atomic(opts.port_file, "%d\n" % port)
    fake.start_background()
    log.warning("fakecp listening on %s (state in %s)", fake.seed["base_url"],
                state_dir)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await fake.stop_background()
        await runner.cleanup()
        if own_state_dir:
            shutil.rmtree(state_dir, ignore_errors=True)
    log.warning("fakecp stopped")


def mint_jwt_main(argv):
    p = argparse.ArgumentParser(prog="fakecp.py mint-jwt",
                                description="Print a signed user JWT.")
    p.add_argument("--jwt-secret", required=True)
    p.add_argument("--sub", required=True, help="user ID (usr-...)")
    p.add_argument("--team-id", required=True, help="team ID (team-...)")
    p.add_argument("--role", default="owner")
    p.add_argument("--email", default="user@example.test")
    p.add_argument("--name", default="Test User")
    p.add_argument("--admin", action="store_true", help="is_admin claim")
    p.add_argument("--ttl", type=int, default=tokens.USER_JWT_TTL,
                   help="seconds until exp; negative = already expired")
    p.add_argument("--typ", help='e.g. "host" (rejected as a user token)')
    p.add_argument("--alg", default="HS256", choices=sorted(tokens.HMAC_ALGS))
    a = p.parse_args(argv)
    now = int(time.time())
    claims = tokens.user_claims(a.sub, a.team_id, a.role, a.email, a.name,
                                a.admin, iat=now, exp=now + a.ttl, typ=a.typ)
    print(tokens.sign(a.jwt_secret.encode("utf-8"), claims, a.alg))
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["mint-jwt"]:
        return mint_jwt_main(argv[1:])
    p = argparse.ArgumentParser(
        prog="fakecp.py",
        description="Fake Wrenn control plane (172413e, or v0.1.5 with --dialect capsules) for tests.")
    p.add_argument("--listen", type=parse_listen,
                   default=parse_listen("127.0.0.1:0"),
                   help="HOST:PORT to listen on; port 0 picks a free one "
                        "(default 127.0.0.1:0)")
    p.add_argument("--port-file", help="write the bound port here "
                   "(atomically) once listening")
    p.add_argument("--seed-out", help="write the seed credentials JSON here "
                   "(atomically, before --port-file)")
    p.add_argument("--tls-cert", help="serve HTTPS with this PEM chain")
    p.add_argument("--tls-key", help="private key for --tls-cert")
    p.add_argument("--tls-mint-ca", metavar="DIR",
                   help="with --tls-cert: a sandbox proxy host name asked "
                   "for by SNI gets a certificate of its own, minted from "
                   "DIR/ca.pem and DIR/ca.key (mkcert.sh's test CA)")
    p.add_argument("--state-dir", help="per-sandbox scratch directories "
                   "(default: a temporary directory removed at exit)")
    p.add_argument("--jwt-secret", help="HS256 secret (default: random)")
    p.add_argument("--api-key", help="use this plaintext as team A's seed "
                   "API key instead of a random one")
    p.add_argument("--create-delay-ms", type=int, default=0,
                   help="time a new sandbox stays 'pending' (default 0)")
    p.add_argument("--stats-interval", type=float, default=10.0,
                   help="seconds between stats samples (default 10)")
    p.add_argument("--max-exec-output", type=int, default=64 << 20,
                   help="bytes kept per exec output stream (default 64 MiB)")
    p.add_argument("--build-step-ms", type=int, default=0,
                   help="simulate admin template builds, one step every N "
                   "ms (default 0: builds stay pending)")
    p.add_argument("--max-log", type=int, default=5000,
                   help="request log entries kept (default 5000)")
    p.add_argument("--stream-timeout", type=float, default=600.0,
                   help="seconds before exec/stream and files/stream/read "
                   "sessions end, the CP->agent timeout (default 600)")
    p.add_argument("--proxy-cache-ttl", type=float, default=proxy.CACHE_TTL,
                   help="seconds the sandbox proxy caches a target "
                   "(default 120, as the real CP)")
    p.add_argument("--dialect", choices=routes.DIALECTS,
                   default=routes.SANDBOXES,
                   help="sandboxes: the API at 172413e (default); capsules: "
                   "v0.1.5 at f5a23c1 (/v1/capsules, /health)")
    p.add_argument("--ws-auth-timeout", type=float, default=5.0,
                   help="capsules: seconds a WebSocket without header "
                   "credentials has for its auth message (default 5)")
    p.add_argument("--pty-ping-interval", type=float, default=30.0,
                   help="capsules: seconds between the PTY WebSocket's "
                   '{"type":"ping"} messages (default 30)')
    p.add_argument("-v", "--verbose", action="store_true",
                   help="log every request to stderr")
    opts = p.parse_args(argv)
    if bool(opts.tls_cert) != bool(opts.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if opts.tls_mint_ca and not opts.tls_cert:
        p.error("--tls-mint-ca needs --tls-cert")
    if opts.jwt_secret is None:
        opts.jwt_secret = secrets.token_hex(32)
    logging.basicConfig(level=logging.INFO if opts.verbose else
                        logging.WARNING,
                        format="fakecp: %(message)s", stream=sys.stderr)
    asyncio.run(serve(opts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
