# SPDX-License-Identifier: MIT
"""Go's mime.ParseMediaType and mime/multipart.Reader, incremental.

The file upload handlers of the real control plane parse multipart bodies
with Go's mime/multipart (Go 1.25): r.ParseMultipartForm for files/write,
a hand-written NextPart loop for files/stream/write.  Python's parsers
accept and reject different inputs, so this module follows the Go code:

  parse_media_type  mime.ParseMediaType: lower-cased type, token or
                    quoted-string parameters, trailing ";" allowed,
                    conflicting duplicates rejected, RFC 2231 "name*"
                    and "name*0" continuations.
  Reader            multipart.NewReader over an async read(n) callable:
                    preamble lines skipped, "\\n"-only line endings
                    accepted when the first boundary line uses them,
                    4096-byte boundary-line limit ("bufio: buffer full"),
                    part headers parsed like net/textproto (continuation
                    lines, "malformed MIME header" errors), and the Go
                    quirk that a body ending inside a part's header block
                    is a normal end of parts (NextPart returns io.EOF).
  Part.read         partReader.Read: data up to "\\r\\n--boundary" followed
                    by "--", space, tab, CR or LF; a missing boundary at
                    EOF is "unexpected EOF".

Not reproduced: Content-Transfer-Encoding: quoted-printable decoding.
Errors of the byte source (too large, client gone, broken body) propagate
unchanged so the caller can map them as the Go handler does.
Used by api_files.py; pure parsing apart from awaiting the source.
"""

import re
import unicodedata

PEEK = 4096                   # bufio size of multipart.NewReader
READ_SIZE = 256 << 10         # bytes asked from the source per fill
MAX_HEADER_BYTES = 10 << 20   # maxMIMEHeaderSize
MAX_HEADERS = 10000           # multipartmaxheaders default

_TSPECIALS = set('()<>@,;:\\"/[]?=')


class MediaTypeError(ValueError):
    """mime.ParseMediaType failed; str() is Go's error text."""


class MultipartError(Exception):
    """NextPart failed (anything but the normal end of parts)."""


class PartReadError(Exception):
    """Part.Read failed, e.g. "unexpected EOF" before the boundary."""


# --------------------------------------------------------------------------
# mime.ParseMediaType

def _go_isspace(ch):
    if ch < "\u0100":
        return ch in "\t\n\v\f\r \x85\xa0"
    return unicodedata.category(ch) in ("Zs", "Zl", "Zp")


def _lstrip(s):
    i = 0
    while i < len(s) and _go_isspace(s[i]):
        i += 1
    return s[i:]


def _is_token_char(ch):
    return "\x20" < ch < "\x7f" and ch not in _TSPECIALS


def _consume_token(v):
    i = 0
    while i < len(v) and _is_token_char(v[i]):
        i += 1
    return v[:i], v[i:]


def _consume_value(v):
    if not v:
        return "", ""
    if v[0] != '"':
        return _consume_token(v)
    out = []
    i = 1
    while i < len(v):
        ch = v[i]
        if ch == '"':
            return "".join(out), v[i + 1:]
        if ch == "\\" and i + 1 < len(v) and v[i + 1] in _TSPECIALS:
            out.append(v[i + 1])
            i += 2
            continue
        if ch in "\r\n":
            return "", v
        out.append(ch)
        i += 1
    return "", v


def _consume_param(v):
    rest = _lstrip(v)
    if not rest.startswith(";"):
        return "", "", v
    rest = _lstrip(rest[1:])
    param, rest = _consume_token(rest)
    param = param.lower()
    if not param:
        return "", "", v
    rest = _lstrip(rest)
    if not rest.startswith("="):
        return "", "", v
    rest = _lstrip(rest[1:])
    value, rest2 = _consume_value(rest)
    if value == "" and rest2 == rest:
        return "", "", v
    return param, value, rest2


def _check_disposition(s):
    typ, rest = _consume_token(s)
    if not typ:
        raise MediaTypeError("mime: no media type")
    if not rest:
        return
    if not rest.startswith("/"):
        raise MediaTypeError("mime: expected slash after first token")
    sub, rest = _consume_token(rest[1:])
    if not sub:
        raise MediaTypeError("mime: expected token after slash")
    if rest:
        raise MediaTypeError("mime: unexpected content after media subtype")


_PCT = re.compile(r"%([0-9A-Fa-f]{2})")


def _percent_unescape(s):
    if re.search(r"%(?![0-9A-Fa-f]{2})", s):
        raise ValueError("mime: bogus characters after %")
    raw = _PCT.sub(lambda m: chr(int(m.group(1), 16)), s)
    return raw.encode("latin-1", "surrogateescape").decode(
        "utf-8", "surrogateescape")


def _decode_2231(v):
    parts = v.split("'", 2)
    if len(parts) != 3:
        return None
    charset = parts[0].lower()
    if charset not in ("us-ascii", "utf-8"):
        return None
    try:
        return _percent_unescape(parts[2])
    except ValueError:
        return None


def parse_media_type(v):
    """(mediatype, params) like mime.ParseMediaType; MediaTypeError."""
    base = v.split(";", 1)[0]
    mediatype = base.lower().strip(" \t\n\r\v\f")
    _check_disposition(mediatype)
    params = {}
    continuation = {}
    v = v[len(base):]
    while v:
        v = _lstrip(v)
        if not v:
            break
        key, value, rest = _consume_param(v)
        if not key:
            if rest.strip() == ";":
                break
            raise MediaTypeError("mime: invalid media parameter")
        pmap = params
        if "*" in key:
            pmap = continuation.setdefault(key.split("*", 1)[0], {})
        if key in pmap and pmap[key] != value:
            raise MediaTypeError("mime: duplicate parameter name")
        pmap[key] = value
        v = rest
    for key, pieces in continuation.items():
        single = key + "*"
        if single in pieces:
            dec = _decode_2231(pieces[single])
            if dec is not None:
                params[key] = dec
            continue
        buf = []
        valid = False
        n = 0
        while True:
            simple = "%s*%d" % (key, n)
            if simple in pieces:
                valid = True
                buf.append(pieces[simple])
                n += 1
                continue
            enc = pieces.get(simple + "*")
            if enc is None:
                break
            valid = True
            if n == 0:
                dec = _decode_2231(enc)
                if dec is not None:
                    buf.append(dec)
            else:
                try:
                    buf.append(_percent_unescape(enc))
                except ValueError:
                    pass
            n += 1
        if valid:
            params[key] = "".join(buf)
    return mediatype, params


# --------------------------------------------------------------------------
# net/textproto header block

_FIELD_BYTES = frozenset(b"!#$%&'*+-.^_`|~0123456789"
                         b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         b"abcdefghijklmnopqrstuvwxyz")


def _canonical_key(k):
    """canonicalMIMEHeaderKey: (key, ok)."""
    if not k:
        return None
    no_canon = False
    for c in k:
        if c in _FIELD_BYTES:
            continue
        if c == 0x20:
            no_canon = True
            continue
        return None
    s = k.decode("latin-1")
    if no_canon:
        return s
    out = []
    upper = True
    for ch in s:
        out.append(ch.upper() if upper else ch.lower())
        upper = ch == "-"
    return "".join(out)


def _valid_value(v):
    for c in v:
        if c < 0x20 and c != 0x09 or c == 0x7f:
            return False
    return True


def _trim(b):
    return b.strip(b" \t\r\n")


class Part:
    """One multipart part: headers and an incremental body reader."""

    def __init__(self, reader, headers):
        self.mr = reader
        self.headers = headers          # canonical key -> [values]
        self.n = 0                      # data bytes known to be ready
        self.total = 0
        self.err = None                 # "EOF" or an error text
        self.read_err = None            # source hit EOF ("unexpected EOF")
        self._disp = None

    def header(self, key):
        v = self.headers.get(key)
        return v[0] if v else ""

    def _disposition(self):
        if self._disp is None:
            raw = self.header("Content-Disposition").encode(
                "latin-1").decode("utf-8", "surrogateescape")
            try:
                self._disp = parse_media_type(raw)
            except MediaTypeError:
                self._disp = (raw.split(";", 1)[0].strip().lower(), {})
        return self._disp

    def form_name(self):
        disp, params = self._disposition()
        return params.get("name", "") if disp == "form-data" else ""

    def file_name(self):
        name = self._disposition()[1].get("filename", "")
        if not name:
            return ""
        base = name.rstrip("/")
        return base.rsplit("/", 1)[-1] if base else "/"

    async def read(self, max_n=1 << 20):
        """Up to max_n body bytes; b"" at the end; PartReadError."""
        mr = self.mr
        while self.n == 0 and self.err is None:
            self.n, self.err = _scan_until_boundary(
                mr.buf, mr.dash_boundary, mr.nl_dash_boundary, self.total,
                self.read_err)
            if self.n == 0 and self.err is None:
                if not await mr.fill():
                    self.read_err = "unexpected EOF"
        if self.n == 0:
            if self.err == "EOF":
                return b""
            raise PartReadError(self.err)
        k = min(max_n, self.n)
        data = bytes(mr.buf[:k])
        del mr.buf[:k]
        self.total += k
        self.n -= k
        return data

    async def read_all(self):
        """io.ReadAll(part) with the error ignored (as the Go code does)."""
        chunks = []
        try:
            while True:
                data = await self.read()
                if not data:
                    break
                chunks.append(data)
        except PartReadError:
            pass
        return b"".join(chunks)

    async def drain(self):
        """Part.Close: discard the rest, ignoring read errors."""
        try:
            while await self.read():
                pass
        except PartReadError:
            pass


def _match_after_prefix(buf, start, plen, read_err):
    """matchAfterPrefix for buf[start:] which begins with the prefix."""
    end = start + plen
    if len(buf) == end:
        return 1 if read_err is not None else 0
    c = buf[end]
    if c in b" \t\r\n":
        return 1
    if c == 0x2D:   # '-'
        if len(buf) == end + 1:
            return -1 if read_err is not None else 0
        if buf[end + 1] == 0x2D:
            return 1
    return -1


def _scan_until_boundary(buf, dash_boundary, nl_dash_boundary, total,
                         read_err):
    """scanUntilBoundary: (data bytes available, error once consumed)."""
    if total == 0:
        if buf.startswith(dash_boundary):
            m = _match_after_prefix(buf, 0, len(dash_boundary), read_err)
            if m == -1:
                return len(dash_boundary), None
            if m == 0:
                return 0, None
            return 0, "EOF"
        if dash_boundary.startswith(buf):
            return 0, read_err
    i = buf.find(nl_dash_boundary)
    if i >= 0:
        m = _match_after_prefix(buf, i, len(nl_dash_boundary), read_err)
        if m == -1:
            return i + len(nl_dash_boundary), None
        if m == 0:
            return i, None
        return i, "EOF"
    if nl_dash_boundary.startswith(buf):
        return 0, read_err
    i = buf.rfind(nl_dash_boundary[:1])
    if i >= 0 and nl_dash_boundary.startswith(buf[i:]):
        return i, None
    return len(buf), read_err


class Reader:
    """multipart.Reader over `read(n) -> bytes` (b"" at EOF)."""

    def __init__(self, read, boundary):
        if isinstance(boundary, str):
            boundary = boundary.encode("utf-8", "surrogateescape")
        b = b"\r\n--" + boundary + b"--"
        self._read = read
        self.nl = b[:2]
        self.nl_dash_boundary = b[:-2]
        self.dash_boundary_dash = b[2:]
        self.dash_boundary = b[2:-2]
        self.buf = bytearray()
        self.eof = False
        self.current = None
        self.parts_read = 0

    async def fill(self):
        """Append more source bytes to the buffer; False at EOF."""
        if self.eof:
            return False
        data = await self._read(READ_SIZE)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    async def _read_slice(self):
        """bufio.ReadSlice('\\n') on a 4096-byte buffer: (line, err)."""
        start = 0
        while True:
            i = self.buf.find(b"\n", start, PEEK)
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line, None
            if len(self.buf) >= PEEK:
                line = bytes(self.buf[:PEEK])
                del self.buf[:PEEK]
                return line, "bufio: buffer full"
            start = len(self.buf)
            if not await self.fill():
                line = bytes(self.buf)
                self.buf.clear()
                return line, "EOF"

    def _is_final(self, line):
        if not line.startswith(self.dash_boundary_dash):
            return False
        rest = line[len(self.dash_boundary_dash):].lstrip(b" \t")
        return not rest or rest == self.nl

    def _is_delimiter(self, line):
        if not line.startswith(self.dash_boundary):
            return False
        rest = line[len(self.dash_boundary):].lstrip(b" \t")
        if self.parts_read == 0 and rest == b"\n":
            self.nl = b"\n"
            self.nl_dash_boundary = self.nl_dash_boundary[1:]
        return rest == self.nl

    async def next_part(self):
        """The next Part, or None at the end (io.EOF); MultipartError."""
        if self.current is not None:
            await self.current.drain()
            self.current = None
        if self.dash_boundary == b"--":
            raise MultipartError("multipart: boundary is empty")
        expect_new = False
        while True:
            line, err = await self._read_slice()
            if err == "EOF" and self._is_final(line):
                return None
            if err is not None:
                raise MultipartError("multipart: NextPart: " + err)
            if self._is_delimiter(line):
                self.parts_read += 1
                headers = await self._read_headers()
                if headers is None:
                    return None   # body ended inside the headers: io.EOF
                self.current = Part(self, headers)
                return self.current
            if self._is_final(line):
                return None
            if expect_new:
                raise MultipartError("multipart: expecting a new Part; got "
                                     "line %s" % _go_quote(line))
            if self.parts_read == 0:
                continue
            if line == self.nl:
                expect_new = True
                continue
            raise MultipartError("multipart: unexpected line in Next(): %s"
                                 % _go_quote(line))

    # ---- net/textproto -------------------------------------------------

    async def _text_line(self, budget):
        """readLineSlice: a line without its \\r\\n / \\n; None at EOF."""
        start = 0
        while True:
            i = self.buf.find(b"\n", start)
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 1]
                return line[:-1] if line.endswith(b"\r") else line
            if len(self.buf) > budget:
                raise MultipartError("multipart: message too large")
            start = len(self.buf)
            if not await self.fill():
                if not self.buf:
                    return None
                line = bytes(self.buf)
                self.buf.clear()
                return line

    async def _peek(self, n):
        while len(self.buf) < n and await self.fill():
            pass
        return bytes(self.buf[:n])

    async def _read_headers(self):
        """readMIMEHeader; None when the body ends inside the block."""
        headers = {}
        budget = MAX_HEADER_BYTES
        count = 0
        first = await self._peek(1)
        if first in (b" ", b"\t"):
            line = await self._text_line(budget)
            raise MultipartError("malformed MIME header initial line: "
                                 + (line or b"")[:80].decode("latin-1"))
        while True:
            line = await self._text_line(budget)
            if line is None:
                return None
            if not line:
                return headers
            if b":" not in line:
                raise MultipartError("malformed MIME header: missing colon: "
                                     + _go_quote(line))
            kv = _trim(line)
            while True:
                nxt = await self._peek(1)
                if nxt not in (b" ", b"\t"):
                    break
                while self.buf[:1] in (b" ", b"\t"):
                    del self.buf[:1]
                    if not self.buf:
                        await self.fill()
                cont = await self._text_line(budget)
                if cont is None:
                    break
                kv += b" " + _trim(cont)
            budget -= len(kv)
            if budget < 0:
                raise MultipartError("multipart: message too large")
            k, _, v = kv.partition(b":")
            key = _canonical_key(k)
            if key is None or not _valid_value(v):
                raise MultipartError("malformed MIME header line: "
                                     + kv.decode("latin-1"))
            count += 1
            if count > MAX_HEADERS:
                raise MultipartError("multipart: message too large")
            headers.setdefault(key, []).append(
                v.lstrip(b" \t").decode("latin-1"))


def _go_quote(b):
    """strconv.Quote-ish rendering of bytes for error messages."""
    out = ['"']
    for c in b:
        ch = chr(c)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif 0x20 <= c < 0x7f:
            out.append(ch)
        else:
            out.append("\\x%02x" % c)
    out.append('"')
    return "".join(out)
