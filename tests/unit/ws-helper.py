#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""WebSocket peer for tests/unit/test-ws.c (stdlib only).

Usage: ws-helper.py DIR [CERT KEY]

Listens on 127.0.0.1 port 0 and writes the port to DIR/port (with CERT and
KEY it also serves TLS on a second port, written to DIR/tls-port). Exits when
stdin reaches EOF, so the test only has to close the pipe (it also kills it
by pid). Behaviour is chosen by the request path; files written to DIR let
the test see what the server observed:

  /echo             echo data messages; record the client's close code in
                    DIR/echo.close
  /headers          send the request head back as one text message
  /messages?n=N     send N text messages "msg I", then close TCP without a
                    close frame (the Wrenn exec stream ending)
  /burst?total=T&size=S
                    small send buffer; send T bytes as S-byte text messages
                    "%08d" seq + filler, publishing the bytes written so far
                    in DIR/burst.sent; then a close frame 1000 "done"
  /notfound         404 JSON error envelope (Content-Length), stays open
  /badrequest       gorilla's 400 "Bad Request\\n" text, stays open
  /chunked          409 JSON envelope in chunked coding, stays open
  /chunkext         409 chunked, the second chunk has an extension
  /eofbody          502 body delimited by closing the connection
  /badaccept        101 with a wrong Sec-WebSocket-Accept
  /noupgrade        101 without Upgrade / Connection headers
  /bighead          answer head larger than 16 KiB
  /noanswer         read the request, never answer
  /hangup           read the request, close without answering
  /idle             101, then silence
  /ping             send a ping, expect the pong, report "pong-ok"/"pong-bad"
  /close            send a close frame 4001 "bye"; record the client's reply
                    code in DIR/close.reply
  /huge?size=N      one text message of N bytes
  /badframe         a masked frame (servers must not mask); records the
                    client's close code in DIR/badframe.close
  /badutf8          a text message that is not UTF-8
  /badctrl?kind=K   a fragmented (frag) or 200-byte (big) ping; records
                    the client's close code in DIR/badctrl.close
  /early            101 and a first message in one write, then a message
                    in three fragments with a ping between them, then
                    "end" and TCP close
"""

import base64
import hashlib
import os
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import urllib.parse

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
DIR = sys.argv[1]


def publish(name, value):
    tmp = os.path.join(DIR, name + ".tmp")
    with open(tmp, "w") as f:
        f.write(str(value))
    os.rename(tmp, os.path.join(DIR, name))


def frame(opcode, payload=b"", fin=True, mask=False):
    b0 = (0x80 if fin else 0) | opcode
    m = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        hdr = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, m | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, m | 127, n)
    if mask:
        key = os.urandom(4)
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        hdr += key
    return hdr + payload


def close_frame(code, reason=b""):
    return frame(0x8, struct.pack("!H", code) + reason)


class Closed(Exception):
    pass


class Handler(socketserver.StreamRequestHandler):
    def setup(self):
        super().setup()
        self.request.settimeout(30)

    # -- client frames -------------------------------------------------
    def read_exact(self, n):
        data = self.rfile.read(n)
        if len(data) != n:
            raise Closed()
        return data

    def read_frame(self):
        """One frame: (fin, opcode, payload); clients must mask."""
        b0, b1 = self.read_exact(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.read_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.read_exact(8))[0]
        if not b1 & 0x80:
            self.send(close_frame(1002, b"unmasked"))
            raise Closed()
        key = self.read_exact(4)
        data = self.read_exact(n)
        data = bytes(b ^ key[i % 4] for i, b in enumerate(data))
        return bool(b0 & 0x80), b0 & 0x0F, data

    def read_message(self):
        """A data message (opcode, payload), answering pings; a close
        frame comes back as (8, payload)."""
        op, parts = None, []
        while True:
            fin, opcode, data = self.read_frame()
            if opcode == 0x9:
                self.send(frame(0xA, data))
                continue
            if opcode == 0xA:
                continue
            if opcode == 0x8:
                return 8, data
            if opcode != 0:
                op = opcode
            parts.append(data)
            if fin:
                return op, b"".join(parts)

    def send(self, data):
        self.request.sendall(data)

    def drain(self):
        """Read until the client closes; return its close code or None."""
        try:
            while True:
                op, data = self.read_message()
                if op == 8:
                    code = struct.unpack("!H", data[:2])[0] if data else 1005
                    self.send(frame(0x8, data[:2]))
                    return code
        except (Closed, OSError):
            return None

    def upgrade(self, accept=None, extra=b""):
        key = self.headers.get("sec-websocket-key", "").encode()
        if accept is None:
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        self.send(b"HTTP/1.1 101 Switching Protocols\r\n"
                  b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + extra)

    def answer(self, status, ctype, body, extra=b""):
        self.send(b"HTTP/1.1 " + status + b"\r\nContent-Type: " + ctype +
                  b"\r\nContent-Length: " + str(len(body)).encode() +
                  b"\r\n" + extra + b"\r\n" + body)

    # -- request ---------------------------------------------------------
    def handle(self):
        if isinstance(self.request, ssl.SSLSocket):
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError):
                return  # e.g. the client rejected our certificate
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = self.rfile.readline(65536)
            if not line:
                return
            head += line
        self.head = head
        lines = head.decode("latin-1").split("\r\n")
        _, target, _ = lines[0].split(" ", 2)
        self.headers = {}
        for l in lines[1:]:
            if ":" in l:
                k, v = l.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()
        url = urllib.parse.urlsplit(target)
        self.query = dict(urllib.parse.parse_qsl(url.query))
        route = getattr(self, "route_" + url.path.strip("/"), None)
        try:
            if route is None:
                self.answer(b"404 Not Found", b"text/plain",
                            b"404 page not found\n")
            else:
                route()
        except (Closed, OSError):
            pass

    def hold(self):
        """Stay connected until the client goes away."""
        try:
            while self.request.recv(65536):
                pass
        except OSError:
            pass

    def hangup(self):
        """Close TCP without a close frame (what gorilla's Close does)."""
        try:
            self.request.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.hold()

    # -- routes ----------------------------------------------------------
    def route_echo(self):
        self.upgrade()
        while True:
            op, data = self.read_message()
            if op == 8:
                code = struct.unpack("!H", data[:2])[0] if data else 1005
                publish("echo.close", code)
                self.send(frame(0x8, data[:2]))
                return
            self.send(frame(op, data))

    def route_headers(self):
        self.upgrade()
        self.send(frame(0x1, self.head))
        self.drain()

    def route_messages(self):
        self.upgrade()
        n = int(self.query.get("n", "3"))
        self.send(b"".join(frame(0x1, b"msg %d" % i) for i in range(n)))
        self.hangup()

    def route_burst(self):
        total = int(self.query.get("total", str(8 << 20)))
        size = int(self.query.get("size", "65536"))
        self.request.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        self.upgrade()
        sent, seq, stop = 0, 0, threading.Event()

        def progress():
            while not stop.wait(0.05):
                publish("burst.sent", sent)

        t = threading.Thread(target=progress, daemon=True)
        t.start()
        try:
            while sent < total:
                n = min(size, total - sent)
                fill = bytes([ord("a") + seq % 26]) * (n - 8)
                self.send(frame(0x1, b"%08d" % seq + fill))
                sent += n
                seq += 1
        finally:
            stop.set()
            t.join()
            publish("burst.sent", sent)
        self.send(close_frame(1000, b"done"))
        self.drain()

    def route_notfound(self):
        self.answer(b"404 Not Found", b"application/json",
                    b'{"error":{"code":"not_found",'
                    b'"message":"sandbox not found"}}\n')
        self.hold()

    def route_badrequest(self):
        self.answer(b"400 Bad Request", b"text/plain; charset=utf-8",
                    b"Bad Request\n", b"Sec-Websocket-Version: 13\r\n")
        self.hold()

    def route_chunked(self):
        body = (b'{"error":{"code":"invalid_state",'
                b'"message":"sandbox is not running (status: paused)"}}\n')
        a, b = body[:20], body[20:]
        self.send(b"HTTP/1.1 409 Conflict\r\n"
                  b"Content-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n" +
                  b"%x\r\n" % len(a) + a + b"\r\n" +
                  b"%X\r\n" % len(b) + b + b"\r\n" +
                  b"0\r\n\r\n")
        self.hold()

    def route_chunkext(self):
        body = b'{"error":{"code":"invalid_state"}}\n'
        a, b = body[:20], body[20:]
        self.send(b"HTTP/1.1 409 Conflict\r\n"
                  b"Content-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n" +
                  b"%x\r\n" % len(a) + a + b"\r\n" +
                  b"%X;ext=1\r\n" % len(b) + b + b"\r\n0\r\n\r\n")
        self.hold()

    def route_eofbody(self):
        self.send(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain"
                  b"\r\nConnection: close\r\n\r\nupstream went away\n")

    def route_badaccept(self):
        self.upgrade(accept=base64.b64encode(hashlib.sha1(
            b"dGhlIHNhbXBsZSBub25jZQ==" + GUID).digest()))
        self.hold()

    def route_noupgrade(self):
        self.send(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
        self.hold()

    def route_bighead(self):
        pad = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 1000)
                       for i in range(20))
        self.send(b"HTTP/1.1 101 Switching Protocols\r\n" + pad + b"\r\n")
        self.hold()

    def route_noanswer(self):
        self.hold()

    def route_hangup(self):
        pass

    def route_idle(self):
        """Upgrade, then silence: no data, no pong; count the pings."""
        self.upgrade()
        pings = 0
        try:
            while True:
                fin, opcode, data = self.read_frame()
                if opcode == 0x9:
                    pings += 1
                    publish("idle.pings", pings)
        except (Closed, OSError):
            pass

    def route_pinged(self):
        """Upgrade, then send nothing but pongs; count the pings."""
        self.upgrade()
        pings = 0
        try:
            while True:
                fin, opcode, data = self.read_frame()
                if opcode == 0x9:
                    pings += 1
                    self.send(frame(0xA, data))
                    publish("pinged.pings", pings)
                elif opcode == 0x8:
                    self.send(frame(0x8, data[:2]))
                    return
        except (Closed, OSError):
            pass

    def route_ping(self):
        self.upgrade()
        self.send(frame(0x9, b"hello-ping"))
        while True:
            fin, opcode, data = self.read_frame()
            if opcode == 0xA:
                break
        ok = data == b"hello-ping"
        self.send(frame(0x1, b"pong-ok" if ok else b"pong-bad: " + data))
        self.drain()

    def route_close(self):
        self.upgrade()
        self.send(close_frame(4001, b"bye"))
        try:
            while True:
                op, data = self.read_message()
                if op == 8:
                    code = struct.unpack("!H", data[:2])[0] if data else 1005
                    publish("close.reply", code)
                    break
        finally:
            self.request.close()

    def route_huge(self):
        self.upgrade()
        self.send(frame(0x1, b"x" * int(self.query.get("size", "4096"))))
        self.hold()

    def route_badframe(self):
        self.upgrade()
        self.send(frame(0x1, b"masked!", mask=True))
        code = self.drain()
        publish("badframe.close", code)

    def route_badctrl(self):
        # A control frame that breaks RFC 6455 section 5.5: ?kind=frag is a
        # fragmented ping, ?kind=big a ping with 200 payload bytes.
        self.upgrade()
        if self.query.get("kind") == "frag":
            self.send(frame(0x9, b"p", fin=False))
        else:
            self.send(frame(0x9, b"p" * 200))
        code = self.drain()
        publish("badctrl.close", code)

    def route_badutf8(self):
        self.upgrade()
        self.send(frame(0x1, b"bad \xff\xfe utf-8"))
        self.drain()

    def route_early(self):
        self.upgrade(extra=frame(0x1, b"first"))
        self.send(frame(0x1, b"frag-", fin=False) + frame(0x9, b"p") +
                  frame(0x0, b"ment-", fin=False) + frame(0x0, b"ed") +
                  frame(0x2, b"\x00\x01bin") + frame(0x1, b"end"))
        self.hangup()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # socketserver's 5 drops SYNs of a burst


class TLSServer(Server):
    def __init__(self, addr, handler, cert, key):
        super().__init__(addr, handler)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)

    def get_request(self):
        sock, addr = super().get_request()
        # The handshake runs in the handler thread (Handler.handle).
        return self.ctx.wrap_socket(sock, server_side=True,
                                    do_handshake_on_connect=False), addr


def serve(srv, name):
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    publish(name, srv.server_address[1])


def main():
    serve(Server(("127.0.0.1", 0), Handler), "port")
    if len(sys.argv) >= 4:
        serve(TLSServer(("127.0.0.1", 0), Handler, sys.argv[2],
                        sys.argv[3]), "tls-port")
    sys.stdin.buffer.read()  # until the test closes the pipe
    os._exit(0)


if __name__ == "__main__":
    main()
