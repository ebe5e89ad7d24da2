# SPDX-License-Identifier: MIT
"""A FUSE file system that misbehaves, for the file-transfer tests
(Debian's python3-fuse). Run as

    /usr/bin/python3 fusefix.py MOUNTPOINT

It stays in the foreground and serves four regular files of 1 MiB:

  block.bin    reads never answer
  blockw.bin   writes never answer
  eagain.bin   reads fail with EAGAIN
  eagainw.bin  writes fail with EAGAIN

Looking up the name "release" (stat MOUNTPOINT/release) releases every
blocked call (it then fails with EIO) and makes later ones fail at once,
so a test can free the threads stuck in them.
Unmount with `fusermount -u -z MOUNTPOINT`, then SIGTERM.

Used through Fixture() below: Fixture(dir).start() returns None when it
is mounted, else the reason it cannot be (no /dev/fuse, no fusermount,
mount refused), which the tests print as their SKIP reason.
"""
import errno
import os
import stat
import subprocess
import sys
import threading
import time

SIZE = 1 << 20
FILES = ("block.bin", "blockw.bin", "eagain.bin", "eagainw.bin")


def serve(mnt):
    import fuse
    fuse.fuse_python_api = (0, 2)
    released = threading.Event()

    class Misbehaving(fuse.Fuse):
        def getattr(self, path):
            st = fuse.Stat()
            if path == "/":
                st.st_mode = stat.S_IFDIR | 0o755
                st.st_nlink = 2
                return st
            if path == "/release":
                released.set()
            if path[1:] not in FILES:
                return -errno.ENOENT
            st.st_mode = stat.S_IFREG | 0o666
            st.st_nlink = 1
            st.st_size = SIZE
            return st

        def readdir(self, path, offset):
            for name in (".", "..") + FILES:
                yield fuse.Direntry(name)

        def open(self, path, flags):
            return 0 if path[1:] in FILES else -errno.ENOENT

        def truncate(self, path, size):
            return 0

        def _misbehave(self, path):
            if path.startswith("/eagain"):
                return -errno.EAGAIN
            released.wait()
            return -errno.EIO

        def read(self, path, size, offset):
            return self._misbehave(path)

        def write(self, path, buf, offset):
            return self._misbehave(path)

    fs = Misbehaving(usage="fusefix", dash_s_do="setsingle")
    fs.multithreaded = True
    fs.parse(args=[mnt, "-f"], errex=1)
    fs.main()


class Fixture:
    """The file system mounted on DIR/fuse, run by this interpreter."""

    def __init__(self, tmp):
        self.mnt = os.path.join(tmp, "fuse")
        self.proc = None
        self.log = os.path.join(tmp, "fusefix.log")

    def path(self, name):
        return os.path.join(self.mnt, name)

    def start(self):
        """None once mounted, else why not."""
        if not os.path.exists("/dev/fuse"):
            return "/dev/fuse is missing"
        if not any(os.access(os.path.join(d, "fusermount"), os.X_OK)
                   for d in ("/usr/bin", "/bin")):
            return "fusermount is not installed"
        try:
            import fuse  # noqa: F401
        except ImportError:
            return "python3-fuse is not installed"
        os.makedirs(self.mnt, exist_ok=True)
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                ["/usr/bin/python3", os.path.abspath(__file__), self.mnt],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                with open(self.log) as f:
                    why = f.read().strip().splitlines()
                return "mounting FUSE failed: %s" % (
                    why[-1] if why else "exit %d" % self.proc.returncode)
            if os.path.ismount(self.mnt):
                return None
            time.sleep(0.05)
        self.stop()
        return "mounting FUSE timed out"

    def release(self):
        """Fail every blocked call with EIO from now on."""
        if self.proc is not None and self.proc.poll() is None:
            os.path.exists(self.path("release"))

    def stop(self):
        if self.proc is None:
            return
        self.release()
        subprocess.run(["fusermount", "-u", "-z", self.mnt],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


if __name__ == "__main__":
    serve(sys.argv[1])
