#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Small HTTP/1.1 (optionally TLS) server for tests/unit/test-upstream.

Standard library only. Listens on 127.0.0.1 port 0 and prints "PORT <n>"
on stdout once ready. Routes are matched on the part of the path from
"/v1/" on, so any base path prefix works; /stats counts TCP connections.

  /v1/echo             the request as JSON (method, path, body, headers)
  /v1/status/<n>       answer HTTP <n> with a JSON error envelope
  /v1/slow?ms=<n>      sleep, then echo
  /v1/reset            promise 100000 bytes, send 1000, then TCP RST
  /v1/drop?tag=T[&times=N]   the first N (default 1) requests tagged T are
                       read whole, then the connection is reset without an
                       answer byte; later ones echo
  /v1/big?n=<n>[&chunked=1]   n bytes, byte i is i % 251
  /v1/upload           multipart/form-data: the parts, in wire order
  /v1/text             a text/plain answer
  /v1/fields?pad=<n>   a 103 with a Link field, then 200 with fields X-A,
                       X-Rep twice, a folded X-Fold, X-Pad of n bytes, and a
                       chunked body "ok" with a trailer X-Trailer
  /v1/sandboxes/<id>   a small sandbox record (GET; tests/bench pool runs)
  .../stats            {"connections": accepted, "requests": served,
                        "hits": {tag: requests seen by /v1/drop}}
  anything else        404

Exits when its parent process goes away.
"""
import http.server
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
import zlib

PATTERN = bytes(range(251))

stats_lock = threading.Lock()
stats = {"connections": 0, "requests": 0, "hits": {}}


def pattern(n):
    reps = n // len(PATTERN) + 1
    return (PATTERN * reps)[:n]


def parse_multipart(ctype, body):
    boundary = None
    for item in ctype.split(";"):
        item = item.strip()
        if item.startswith("boundary="):
            boundary = item[len("boundary="):].strip('"')
    if boundary is None:
        return None
    delim = b"--" + boundary.encode()
    parts = []
    chunks = body.split(delim)
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        head, _, content = chunk.partition(b"\r\n\r\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        part = {"len": len(content), "crc32": zlib.crc32(content) & 0xFFFFFFFF}
        for line in head.decode("latin-1").split("\r\n"):
            key, _, value = line.partition(":")
            if key.strip().lower() == "content-disposition":
                for attr in value.split(";"):
                    attr = attr.strip()
                    for name in ("name", "filename"):
                        if attr.startswith(name + "="):
                            part[name] = attr[len(name) + 1:].strip('"')
            elif key.strip().lower() == "content-type":
                part["content_type"] = value.strip()
        if "filename" not in part:
            part["value"] = content.decode("utf-8", "replace")
        parts.append(part)
    return parts


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "httpd-helper"
    sys_version = ""

    def setup(self):
        # Headers and body go out in separate writes: without NODELAY,
        # Nagle holds the body until the client's delayed ACK (40 ms).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ctx = self.server.tls
        if ctx is not None:
            self.request = ctx.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_message(self, fmt, *args):
        if os.environ.get("HTTPD_HELPER_VERBOSE"):
            sys.stderr.write("httpd-helper: " + (fmt % args) + "\n")

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if te == "chunked":
            out = bytearray()
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out), True
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return (self.rfile.read(n) if n > 0 else b""), False

    def send(self, status, body, ctype="application/json", chunked=False):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            step = 16384
            for i in range(0, len(body), step):
                piece = body[i:i + step]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    def echo(self, body, chunked):
        h = self.headers
        return {
            "method": self.command,
            "path": self.path,
            # NUL would stop jansson; body_len and body_crc32 are exact.
            "body": body.decode("utf-8", "replace").replace("\0", "\ufffd"),
            "chunked": chunked,
            "content_type": h.get("Content-Type"),
            "content_length": h.get("Content-Length"),
            "x_api_key": h.get("X-API-Key"),
            "authorization": h.get("Authorization"),
            "user_agent": h.get("User-Agent"),
            "host": h.get("Host"),
            "expect": h.get("Expect"),
            "fields": [[k, v] for k, v in h.items()],
            "body_len": len(body),
            "body_crc32": zlib.crc32(body) & 0xFFFFFFFF,
        }

    def rst(self):
        """Close the connection with a TCP RST."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
        self.rfile.close()
        self.connection.close()
        self.close_connection = True

    def drop(self, query, body, chunked):
        tag = query.get("tag", "")
        with stats_lock:
            n = stats["hits"][tag] = stats["hits"].get(tag, 0) + 1
        if n <= int(query.get("times", "1")):
            return self.rst()
        return self.send(200, self.echo(body, chunked))

    def reset(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(pattern(1000))
        time.sleep(0.05)
        self.rst()

    def fields(self, query):
        pad = b"p" * int(query.get("pad", "0"))
        self.wfile.write(b"HTTP/1.1 103 Early Hints\r\n"
                         b"Link: </x.css>; rel=preload\r\n\r\n")
        self.wfile.write(b"HTTP/1.1 200 OK\r\n"
                         b"Content-Type: text/plain\r\n"
                         b"X-A:  1 \r\n"
                         b"X-Rep: one\r\n"
                         b"X-Rep: two\r\n"
                         b"X-Fold: a\r\n  b\r\n"
                         b"X-Pad: " + pad + b"\r\n"
                         b"Transfer-Encoding: chunked\r\n"
                         b"Trailer: X-Trailer\r\n\r\n"
                         b"2\r\nok\r\n0\r\nX-Trailer: t\r\n\r\n")
        self.wfile.flush()

    def route(self):
        with stats_lock:
            stats["requests"] += 1
        body, chunked = self.read_body()
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        path = url.path
        if path.endswith("/stats"):
            with stats_lock:
                snap = json.loads(json.dumps(stats))
            return self.send(200, snap)
        i = path.find("/v1/")
        if i < 0:
            return self.send(404, {"error": {"code": "not_found",
                                             "message": "no route"}})
        route = path[i + 3:]
        if route == "/echo":
            return self.send(200, self.echo(body, chunked))
        if route.startswith("/status/"):
            code = int(route[len("/status/"):])
            return self.send(code, {"error": {"code": "status_%d" % code,
                                              "message": "as asked"}})
        if route == "/slow":
            time.sleep(int(query.get("ms", "1000")) / 1000.0)
            return self.send(200, self.echo(body, chunked))
        if route == "/reset":
            return self.reset()
        if route == "/drop":
            return self.drop(query, body, chunked)
        if route == "/big":
            return self.send(200, pattern(int(query.get("n", "0"))),
                             "application/octet-stream",
                             query.get("chunked") == "1")
        if route == "/upload":
            parts = parse_multipart(self.headers.get("Content-Type") or "",
                                    body)
            return self.send(200, {"parts": parts, "chunked": chunked,
                                   "len": len(body)})
        if route.startswith("/sandboxes/") and self.command == "GET":
            return self.send(200, {"id": route[len("/sandboxes/"):],
                                   "status": "running",
                                   "template": "minimal"})
        if route == "/fields":
            return self.fields(query)
        if route == "/text":
            return self.send(200, b"plain text\n", "text/plain; charset=utf-8")
        return self.send(404, {"error": {"code": "not_found",
                                         "message": "no route"}})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = route


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    tls = None
    # socketserver's default backlog of 5 drops the SYNs of a burst of
    # connections on a loaded machine; real servers listen with hundreds.
    request_queue_size = 256

    def process_request(self, request, client_address):
        with stats_lock:
            stats["connections"] += 1
        super().process_request(request, client_address)

    def handle_error(self, request, client_address):
        if os.environ.get("HTTPD_HELPER_VERBOSE"):
            super().handle_error(request, client_address)


def watch_parent(ppid):
    while True:
        time.sleep(0.5)
        if os.getppid() != ppid:
            os._exit(0)


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    if len(sys.argv) == 4 and sys.argv[1] == "--tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        ctx.set_alpn_protocols(["http/1.1"])
        srv.tls = ctx
    threading.Thread(target=watch_parent, args=(os.getppid(),),
                     daemon=True).start()
    sys.stdout.write("PORT %d\n" % srv.server_address[1])
    sys.stdout.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
