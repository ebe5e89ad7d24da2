# SPDX-License-Identifier: MIT
"""The fake envd's /files endpoint: sandbox paths, reads and writes.

Path mapping.  envd resolves a path as user root (home /root): "~" and
"~/x" expand to /root, a relative path is joined to /root and cleaned, an
absolute path is used as given; "~user/x" fails ("cannot expand
user-specific home dir").  The fake maps the resulting sandbox path into
the sandbox's scratch directory S (which stands in for /root):

    /root, /root/x, ~, ~/x, x   ->  S, S/x
    /tmp/x, /etc/y (any other)  ->  S/tmp/x, S/etc/y
    "..", "." and "//"          are resolved lexically first, so nothing
                                   leaves S (/root/../../z -> S/z)

so /x and /root/x are the same file in the fake.  A path whose real
location (symlinks followed) leaves S is refused with EACCES ("permission
denied"), so tests never touch files outside --state-dir.

Error texts are envd's, with sandbox paths (never host paths) in them, and
EnvdError carries envd's HTTP status and JSON body so the handlers can wrap
them as the host agent and CP do.  Used by api_files.py.
"""

import errno
import os
import shutil
import stat

import gojson

HOME = "/root"
USER = "root"


class EnvdError(Exception):
    """An envd /files failure: HTTP status + jsonError body."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self):
        """jsonError's body: {"code":N,"message":"..."} + "\\n" (str)."""
        return gojson.dumps({"code": self.status,
                             "message": self.message}).decode("utf-8")


class ExpandError(Exception):
    pass


def go_clean(p):
    """path/filepath.Clean."""
    if p == "":
        return "."
    rooted = p.startswith("/")
    out = []
    for seg in p.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(seg)
    s = "/".join(out)
    if rooted:
        return "/" + s
    return s or "."


def go_dir(p):
    """filepath.Dir."""
    i = p.rfind("/")
    return go_clean(p[:i + 1])


def expand_and_resolve(path):
    """permissions.ExpandAndResolve for user root; ExpandError."""
    if path.startswith("~"):
        if len(path) > 1 and path[1] not in "/\\":
            raise ExpandError("failed to expand path '%s' for user '%s': "
                              "cannot expand user-specific home dir"
                              % (path, USER))
        path = go_clean(HOME + "/" + path[1:])
    if path.startswith("/"):
        return path
    return go_clean(HOME + "/" + path)


def errtext(e):
    """Go's syscall.Errno text for an OSError (lower-case strerror)."""
    if isinstance(e, ValueError):          # embedded NUL byte
        return "invalid argument"
    if e.errno is None:
        return str(e)
    s = os.strerror(e.errno)
    return s[:1].lower() + s[1:]


class Sandbox:
    """The file system of one sandbox, rooted at its scratch directory."""

    def __init__(self, scratch):
        self.scratch = os.path.abspath(scratch)

    def host(self, sandbox_path):
        """The host path (bytes) standing for an absolute sandbox path."""
        c = go_clean(sandbox_path)
        if c == HOME or c.startswith(HOME + "/"):
            c = c[len(HOME):]
        return os.fsencode(self.scratch + (c if c != "/" else ""))

    def _check(self, host, op, spath):
        """Refuse paths whose real location leaves the scratch directory."""
        real = os.path.realpath(host)
        root = os.path.realpath(os.fsencode(self.scratch))
        if real != root and not real.startswith(root + b"/"):
            raise _PathError(op, spath, errno.EACCES)

    # ---- GET /files ------------------------------------------------------

    def open_read(self, user_path):
        """envd GetFiles up to os.Open: (raw file object, size); EnvdError."""
        try:
            spath = expand_and_resolve(user_path)
        except ExpandError as e:
            raise EnvdError(400, "error expanding and resolving path '%s': "
                            "%s" % (user_path, e))
        os.makedirs(self.scratch, exist_ok=True)
        host = self.host(spath)
        try:
            self._check(host, "stat", spath)
            st = os.stat(host)
        except FileNotFoundError:
            raise EnvdError(404, "path '%s' does not exist" % spath)
        except _PathError as e:
            raise EnvdError(500, "error checking if path exists '%s': %s"
                            % (spath, e))
        except (OSError, ValueError) as e:
            raise EnvdError(500, "error checking if path exists '%s': "
                            "stat %s: %s" % (spath, spath, errtext(e)))
        if stat.S_ISDIR(st.st_mode):
            raise EnvdError(400, "path '%s' is a directory" % spath)
        try:
            f = open(host, "rb", buffering=0)
        except (OSError, ValueError) as e:
            raise EnvdError(500, "error opening file '%s': open %s: %s"
                            % (spath, spath, errtext(e)))
        return f, st.st_size

    # ---- POST /files -------------------------------------------------------

    def open_write(self, user_path):
        """envd processFile up to os.OpenFile(O_WRONLY|O_CREATE|O_TRUNC).

        Returns (raw file object, sandbox path); EnvdError.
        """
        try:
            spath = expand_and_resolve(user_path)
        except ExpandError as e:
            raise EnvdError(400, "error resolving path: %s" % e)
        os.makedirs(self.scratch, exist_ok=True)
        self._ensure_dirs(go_dir(spath))
        host = self.host(spath)
        try:
            self._check(host, "stat", spath)
            st = os.stat(host)
        except FileNotFoundError:
            st = None
        except _PathError as e:
            raise EnvdError(500, "error getting file info: %s" % e)
        except (OSError, ValueError) as e:
            raise EnvdError(500, "error getting file info: stat %s: %s"
                            % (spath, errtext(e)))
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise EnvdError(400, "path is a directory: %s" % spath)
        try:
            fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        except OSError as e:
            if e.errno == errno.ENOSPC:
                raise EnvdError(507, "not enough inodes available: open %s: "
                                "%s" % (spath, errtext(e)))
            raise EnvdError(500, "error opening file: open %s: %s"
                            % (spath, errtext(e)))
        except ValueError as e:
            raise EnvdError(500, "error opening file: open %s: %s"
                            % (spath, errtext(e)))
        return os.fdopen(fd, "wb", buffering=0), spath

    def _ensure_dirs(self, sdir):
        """permissions.EnsureDirs (the chown is a no-op in the fake)."""
        subs = [sdir]
        while subs[-1] != "/":
            parent = go_dir(subs[-1])
            if parent == "/":
                break
            subs.append(parent)
        for sub in reversed(subs):
            host = self.host(sub)
            try:
                self._check(host, "stat", sub)
                st = os.stat(host)
            except FileNotFoundError:
                try:
                    os.mkdir(host, 0o755)
                except (OSError, ValueError) as e:
                    raise EnvdError(500, "error ensuring directories: failed "
                                    "to create directory: mkdir %s: %s"
                                    % (sub, errtext(e)))
                continue
            except _PathError as e:
                raise EnvdError(500, "error ensuring directories: failed to "
                                "stat directory: %s" % e)
            except (OSError, ValueError) as e:
                raise EnvdError(500, "error ensuring directories: failed to "
                                "stat directory: stat %s: %s"
                                % (sub, errtext(e)))
            if not stat.S_ISDIR(st.st_mode):
                raise EnvdError(500, "error ensuring directories: path is a "
                                "file: %s" % sub)


def write_error(e, spath, content_length=0):
    """envd's answer to a failed file.ReadFrom(part)."""
    if isinstance(e, OSError) and e.errno == errno.ENOSPC:
        msg = "not enough disk space available"
        if content_length > 0:
            msg = "attempted to write %d bytes: %s" % (content_length, msg)
        return EnvdError(507, msg)
    return EnvdError(500, "error writing file: write %s: %s"
                     % (spath, errtext(e)))


class _PathError(Exception):
    """An *fs.PathError with a sandbox path: "op path: text"."""

    def __init__(self, op, spath, err):
        super().__init__("%s %s: %s" % (op, spath, errtext(
            OSError(err, os.strerror(err)))))


# --------------------------------------------------------------------------
# envd-rs's filesystem RPCs at f5a23c1 (ListDir, MakeDir, Remove)

class RpcError(Exception):
    """A Connect error from envd-rs: code ("not_found", ...) + message."""

    def __init__(self, code, message):
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message


def rust_errtext(e):
    """Rust's io::Error Display: "No such file or directory (os error 2)"."""
    if isinstance(e, ValueError):
        return "file name contained an unexpected NUL byte"
    if e.errno is None:
        return str(e)
    return "%s (os error %d)" % (os.strerror(e.errno), e.errno)


def _perm_string(mode):
    """format_permissions: type letter + rwx triplets (no setuid bits)."""
    kinds = {stat.S_IFDIR: "d", stat.S_IFLNK: "L", stat.S_IFREG: "-",
             stat.S_IFBLK: "b", stat.S_IFCHR: "c", stat.S_IFIFO: "p",
             stat.S_IFSOCK: "S"}
    out = [kinds.get(stat.S_IFMT(mode), "?")]
    for shift in (6, 3, 0):
        bits = (mode >> shift) & 7
        out.append(("r" if bits & 4 else "-") + ("w" if bits & 2 else "-")
                   + ("x" if bits & 1 else "-"))
    return "".join(out)


def _kind(st_mode):
    if stat.S_ISREG(st_mode):
        return "file"
    if stat.S_ISDIR(st_mode):
        return "directory"
    return "unknown"


class FsRpc(Sandbox):
    """ListDir, MakeDir and Remove of envd-rs on the mapped paths.

    Entries have the host agent's FileEntry shape.  Quirks kept: a symlink
    reports its target's type and mode ("unknown" and 0 when dangling; so
    "symlink" never appears), its own lstat size, permissions from lstat
    ("Lrwxrwxrwx") and symlink_target = the canonical target; mode is only
    the permission bits (& 0o7777).  Owner and group are always "root"
    (the sandbox user; the fake's files belong to whoever runs it)."""

    def resolve(self, user_path):
        try:
            return expand_and_resolve(user_path)
        except ExpandError as e:
            raise RpcError("invalid_argument", str(e))

    def _sandbox_of(self, host):
        """A host path under the scratch directory as a sandbox path."""
        root = os.path.realpath(os.fsencode(self.scratch))
        rel = host[len(root):] if host.startswith(root) else b""
        return HOME + os.fsdecode(rel)

    def entry(self, host, spath):
        """build_entry_info -> FileEntry dict; RpcError."""
        try:
            lst = os.lstat(host)
        except FileNotFoundError as e:
            raise RpcError("not_found", "file not found: " + rust_errtext(e))
        except OSError as e:
            raise RpcError("internal", "error getting file info: "
                           + rust_errtext(e))
        target = None
        if stat.S_ISLNK(lst.st_mode):
            real = os.path.realpath(host)
            target = self._sandbox_of(real) if os.path.exists(real) \
                else spath
            try:
                tst = os.stat(host)
                kind, mode = _kind(tst.st_mode), tst.st_mode & 0o7777
            except OSError:
                kind, mode = "unknown", 0
        else:
            kind, mode = _kind(lst.st_mode), lst.st_mode & 0o7777
        d = {"name": spath.rstrip("/").rsplit("/", 1)[-1],
             "path": spath, "type": kind, "size": lst.st_size, "mode": mode,
             "permissions": _perm_string(lst.st_mode), "owner": USER,
             "group": USER, "modified_at": int(lst.st_mtime)}
        if target is not None:
            d["symlink_target"] = target
        return d

    def list_dir(self, user_path, depth):
        spath = self.resolve(user_path)
        depth = depth or 1
        os.makedirs(self.scratch, exist_ok=True)
        host = self.host(spath)
        try:
            self._check(host, "stat", spath)
            real = os.path.realpath(host, strict=True)
        except FileNotFoundError as e:
            raise RpcError("not_found", "path not found: " + rust_errtext(e))
        except _PathError:
            raise RpcError("internal", "error resolving path: "
                           + rust_errtext(OSError(errno.EACCES, "")))
        if not os.path.isdir(real):
            raise RpcError("invalid_argument",
                           "path is not a directory: " + spath)
        out = []
        self._walk(real, spath, depth, out)
        return out

    def _walk(self, hdir, sdir, depth, out):
        """walkdir, min depth 1, no symlinks followed, pre-order; names
        sorted (envd-rs gives readdir order)."""
        try:
            names = sorted(os.listdir(hdir))
        except FileNotFoundError:
            return
        except OSError as e:
            raise RpcError("internal", "error reading directory: "
                           + rust_errtext(e))
        for name in names:
            h = os.path.join(hdir, name)
            s = sdir.rstrip("/") + "/" + os.fsdecode(name)
            try:
                out.append(self.entry(h, s))
            except RpcError as e:
                if e.code == "not_found":
                    continue
                raise
            if depth > 1 and os.path.isdir(h) and not os.path.islink(h):
                self._walk(h, s, depth - 1, out)

    def make_dir(self, user_path):
        spath = self.resolve(user_path)
        os.makedirs(self.scratch, exist_ok=True)
        host = self.host(spath)
        try:
            self._check(host, "stat", spath)
            st = os.stat(host)
        except FileNotFoundError:
            st = None
        except (_PathError, OSError) as e:
            raise RpcError("internal", "error getting file info: %s"
                           % (e if isinstance(e, _PathError)
                              else rust_errtext(e)))
        if st is not None:
            if stat.S_ISDIR(st.st_mode):
                raise RpcError("already_exists",
                               "directory already exists: " + spath)
            raise RpcError("invalid_argument",
                           "path exists but is not a directory: " + spath)
        try:
            self._ensure_dirs(spath)
        except EnvdError as e:
            raise RpcError("internal", e.message)
        return self.entry(host, spath)

    def remove(self, user_path):
        spath = self.resolve(user_path)
        host = self.host(spath)
        try:
            self._check(host, "stat", spath)
        except _PathError:
            text = rust_errtext(OSError(errno.EACCES, ""))
            raise RpcError("internal", "error removing: %s; also tried as "
                           "file: %s" % (text, text))
        if os.path.isdir(host) and not os.path.islink(host):
            shutil.rmtree(host)
            return
        try:
            os.unlink(host)
        except OSError as e:
            first = e if not os.path.lexists(host) else \
                OSError(errno.ENOTDIR, "")
            raise RpcError("internal", "error removing: %s; also tried as "
                           "file: %s" % (rust_errtext(first),
                                         rust_errtext(e)))
