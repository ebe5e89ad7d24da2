# SPDX-License-Identifier: MIT
"""The "sandboxed" app the proxy tests reach through the fake's sandbox
proxy: an aiohttp app on a loopback port of its own, in a thread, with
an echo of the request (/echo) and a WebSocket echo (/ws), plus whatever
routes a test adds; and free_port() for a port nothing listens on."""
import asyncio
import socket
import threading

import aiohttp
from aiohttp import web


def free_port():
    """A loopback port nothing listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


async def echo(request):
    """The request as JSON: method, path with query, header fields, the
    body's length."""
    body = await request.read()
    return web.json_response({
        "method": request.method, "path": request.path_qs,
        "headers": [[k, v] for k, v in request.headers.items()],
        "len": len(body)})


async def wsecho(request):
    """Every text and binary message sent back as it came."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type == aiohttp.WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


class App:
    """The app, started: .port is where it listens; stop() ends it.
    routes: (method, path, handler) added to /echo and /ws."""

    def __init__(self, routes=(), client_max_size=1 << 20):
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self._routes = routes
        self._max = client_max_size
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,),
                         daemon=True).start()
        if not ready.wait(20):
            raise RuntimeError("the test app did not start")

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)
        a = web.Application(client_max_size=self._max)
        a.router.add_route("*", "/echo", echo)
        a.router.add_get("/ws", wsecho)
        for method, path, handler in self._routes:
            a.router.add_route(method, path, handler)
        runner = web.AppRunner(a)
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(
            web.TCPSite(runner, "127.0.0.1", self.port).start())
        ready.set()
        self.loop.run_forever()

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
