#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A connection accepted by sandbox.port_forward has TCP_NODELAY: wrennd
writes an answer as it comes (a head, then its body), and with Nagle on
the second write waited for the client's delayed ACK, 40 ms per
keep-alive request (tests/bench/bench.py --only forward measured 23
requests/s for one client). The socket option is read from wrennd's own
socket, fetched with pidfd_getfd(2), so the test asserts no timing."""
import ctypes
import errno
import http.client
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Env, Tap, wait_for  # noqa: E402

SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture

t = Tap()
env = Env()
c = env.client()


def tcp_inode(local_port, remote_port):
    """The inode of the IPv4 TCP socket 127.0.0.1:local_port connected to
    127.0.0.1:remote_port (None while there is none)."""
    want = ("0100007F:%04X" % local_port, "0100007F:%04X" % remote_port)
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            col = line.split()
            if (col[1], col[2]) == want and col[3] == "01":  # ESTABLISHED
                return col[9]
    return None


def fd_of(pid, inode):
    """wrennd's descriptor number for the socket with this inode."""
    d = "/proc/%d/fd" % pid
    for name in os.listdir(d):
        try:
            if os.readlink(os.path.join(d, name)) == "socket:[%s]" % inode:
                return int(name)
        except OSError:
            continue
    return None


def nodelay_of(pid, fd):
    """TCP_NODELAY of another process's socket; raises OSError (ENOSYS,
    EPERM) where pidfd_getfd is not available."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        mine = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        if mine < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
    finally:
        os.close(pidfd)
    s = socket.socket(fileno=mine)
    try:
        return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        s.close()


with t.case("a forwarded connection's local socket has TCP_NODELAY"):
    sb = c.call("sandboxes.create")["result"]["id"]
    r = c.call("sandbox.port_forward", {"sandbox_id": sb, "port": 8000})
    addr = r.get("result", {}).get("address", "")
    t.ok(addr.startswith("127.0.0.1:"), "the forward listens on loopback",
         r)
    fw_port = int(addr.rpartition(":")[2])
    cn = http.client.HTTPConnection("127.0.0.1", fw_port, timeout=30)
    # One request and its answer (the proxy's 502: nothing listens on
    # port 8000 of the sandbox): the connection is accepted and in use.
    cn.request("GET", "/")
    cn.getresponse().read()
    my_port = cn.sock.getsockname()[1]
    pid = env.wrennd.proc.pid
    inode = wait_for(lambda: tcp_inode(fw_port, my_port), 10,
                     what="wrennd's end of the connection")
    fd = fd_of(pid, inode)
    t.ok(fd is not None, "wrennd holds the accepted socket",
         "inode %s not among /proc/%d/fd" % (inode, pid))
    try:
        got = nodelay_of(pid, fd)
    except OSError as e:
        if e.errno not in (errno.ENOSYS, errno.EPERM, errno.EACCES):
            raise
        t.ok(True, "TCP_NODELAY # SKIP pidfd_getfd: %s" % e.strerror)
    else:
        t.ok(got != 0, "TCP_NODELAY is set on the accepted socket",
             "getsockopt(TCP_NODELAY) = %r" % got)
    cn.close()

c.close()
env.close(t)
sys.exit(t.done())
