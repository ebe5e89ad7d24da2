# SPDX-License-Identifier: MIT
"""Resource identifiers exactly as internal/id/id.go renders and parses them.

An ID is prefix + 25 lowercase base36 characters of a 128-bit UUID
(CONTRACT.md 1.1).  Parsing mirrors the Go quirk: a well-formed 25-character
string whose value does not fit in 128 bits makes the Go decoder panic, which
net/http turns into a dropped connection.  parse() raises GoPanic for that
case; httpio catches it and closes the socket without a response.

Pure module, used by the state, the auth middlewares and every handler.
"""

import secrets
import uuid

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
ID_LEN = 25
_MAX = 2**128 - 1
_INDEX = {c: i for i, c in enumerate(ALPHABET)}

SANDBOX = "cl-"
USER = "usr-"
TEAM = "team-"
API_KEY = "key-"
HOST = "host-"
HOST_TOKEN = "htok-"
REFRESH_TOKEN = "hrt-"
AUDIT_LOG = "log-"
BUILD = "bld-"
CHANNEL = "ch-"


class GoPanic(Exception):
    """The Go server would panic here: drop the connection, no response."""


def to_base36(n):
    """Encode a 128-bit integer as exactly 25 base36 characters."""
    out = []
    for _ in range(ID_LEN):
        n, r = divmod(n, 36)
        out.append(ALPHABET[r])
    return "".join(reversed(out))


def format_id(prefix, n):
    return prefix + to_base36(n)


def new(prefix):
    """A fresh random (v4 UUID) ID with the given prefix."""
    return format_id(prefix, uuid.uuid4().int)


def zero(prefix):
    """The all-zeros ID, e.g. the platform team."""
    return format_id(prefix, 0)


def parse(prefix, s):
    """Return s if it is a valid ID with that prefix, else None.

    Raises GoPanic for the > 2^128-1 overflow quirk.
    """
    if not isinstance(s, str) or not s.startswith(prefix):
        return None
    rest = s[len(prefix):]
    if len(rest.encode("utf-8", "surrogatepass")) != ID_LEN:
        return None
    n = 0
    for c in rest:
        d = _INDEX.get(c)
        if d is None:
            return None
        n = n * 36 + d
    if n > _MAX:
        raise GoPanic("base36ToUUID: %r overflows 16 bytes" % s)
    return s


def hex8():
    return secrets.token_hex(4)


def snapshot_name():
    """Default snapshot name: template- + 8 lowercase hex."""
    return "template-" + hex8()


def team_slug():
    b = secrets.token_hex(6)
    return b[:6] + "-" + b[6:]


def hex_token():
    """64 lowercase hex chars (registration / refresh tokens, secrets)."""
    return secrets.token_hex(32)
