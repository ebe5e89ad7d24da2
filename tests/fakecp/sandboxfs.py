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
