# SPDX-License-Identifier: MIT
"""Go encoding/json details the exec WebSocket needs, byte for byte.

  scan_value(b, i)      the end of the first JSON value, with Go's scanner
                        error texts ("invalid character 'x' looking for
                        beginning of value", "unexpected EOF", ...)
  decode_start(b)       conn.ReadJSON(&wsStartMsg): json.Decoder semantics
                        (first value only, trailing bytes ignored), Go's
                        UnmarshalTypeError texts, case-insensitive keys
  is_stop(b)            json.Unmarshal(msg, &struct{Type string}) == nil &&
                        Type == "stop" (the whole message must be valid)
  bytes_to_json(b)      how json.Encoder writes string(rawBytes): every byte
                        that is not part of valid UTF-8 becomes the escape
                        \\ufffd, <>& and U+2028/9 are escaped

Raises GoJSONError(text) with Go's error text.  Pure functions, used by
api_stream.py.
"""

import json
import re

import gojson


class GoJSONError(Exception):
    pass


_WS = frozenset(b" \t\r\n")
_DIGITS = frozenset(b"0123456789")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_STR_STOP = re.compile(rb'["\\\x00-\x1f]')
MAX_DEPTH = 10000


def quote_char(c):
    """encoding/json quoteChar."""
    if c == 0x27:
        return "'\\''"
    if c == 0x22:
        return "'\"'"
    named = {0x07: "\\a", 0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n",
             0x0D: "\\r", 0x09: "\\t", 0x0B: "\\v", 0x5C: "\\\\"}
    if c in named:
        return "'%s'" % named[c]
    if 0x20 <= c < 0x7f:
        return "'%s'" % chr(c)
    return "'\\x%02x'" % c


def _bad(c, context):
    raise GoJSONError("invalid character %s %s" % (quote_char(c), context))


def _eof():
    raise GoJSONError("unexpected EOF")


def _scan_string(b, i):
    """b[i-1] is the opening quote; return the index after the closing one."""
    n = len(b)
    while True:
        m = _STR_STOP.search(b, i)
        if m is None:
            _eof()
        j = m.start()
        c = b[j]
        if c == 0x22:
            return j + 1
        if c < 0x20:
            _bad(c, "in string literal")
        # backslash
        if j + 1 >= n:
            _eof()
        e = b[j + 1]
        if e in b'"\\/bfnrt':
            i = j + 2
            continue
        if e != 0x75:   # 'u'
            _bad(e, "in string escape code")
        for k in range(j + 2, j + 6):
            if k >= n:
                _eof()
            if b[k] not in _HEX:
                _bad(b[k], "in \\u hexadecimal character escape")
        i = j + 6


def _scan_number(b, i):
    n = len(b)
    if b[i] == 0x2D:
        i += 1
        if i >= n:
            _eof()
        if b[i] not in _DIGITS:
            _bad(b[i], "in numeric literal")
    if b[i] == 0x30:
        i += 1
    else:
        while i < n and b[i] in _DIGITS:
            i += 1
    if i < n and b[i] == 0x2E:
        i += 1
        if i >= n:
            _eof()
        if b[i] not in _DIGITS:
            _bad(b[i], "after decimal point in numeric literal")
        while i < n and b[i] in _DIGITS:
            i += 1
    if i < n and b[i] in b"eE":
        i += 1
        if i < n and b[i] in b"+-":
            i += 1
        if i >= n:
            _eof()
        if b[i] not in _DIGITS:
            _bad(b[i], "in exponent of numeric literal")
        while i < n and b[i] in _DIGITS:
            i += 1
    return i


def _scan_literal(b, i, word):
    n = len(b)
    for k in range(1, len(word)):
        if i + k >= n:
            _eof()
        if b[i + k] != word[k]:
            _bad(b[i + k], "in literal %s (expecting %s)"
                 % (word.decode(), quote_char(word[k])))
    return i + len(word)


def scan_value(b, i=0):
    """Index just past the first JSON value in b[i:] (json.Decoder rules)."""
    n = len(b)
    stack = []                 # "k" key expected/read, "v" value, "a" array
    state = "begin"            # begin | begin_or_close | key | key_or_close
    while True:                # | end
        if state == "end":
            if not stack:
                return i
            while i < n and b[i] in _WS:
                i += 1
            if i >= n:
                _eof()
            c = b[i]
            top = stack[-1]
            if top == "k":
                if c != 0x3A:
                    _bad(c, "after object key")
                stack[-1] = "v"
                state = "begin"
            elif top == "v":
                if c == 0x2C:
                    stack[-1] = "k"
                    state = "key"
                elif c == 0x7D:
                    stack.pop()
                else:
                    _bad(c, "after object key:value pair")
            else:
                if c == 0x2C:
                    state = "begin"
                elif c == 0x5D:
                    stack.pop()
                else:
                    _bad(c, "after array element")
            i += 1
            continue
        while i < n and b[i] in _WS:
            i += 1
        if i >= n:
            _eof()
        c = b[i]
        if state in ("key", "key_or_close"):
            if state == "key_or_close" and c == 0x7D:
                stack.pop()
                i += 1
                state = "end"
                continue
            if c != 0x22:
                _bad(c, "looking for beginning of object key string")
            i = _scan_string(b, i + 1)
            state = "end"
            continue
        if state == "begin_or_close" and c == 0x5D:
            stack.pop()
            i += 1
            state = "end"
            continue
        if c == 0x7B or c == 0x5B:
            stack.append("k" if c == 0x7B else "a")
            if len(stack) > MAX_DEPTH:
                _bad(c, "exceeded max depth")
            i += 1
            state = "key_or_close" if c == 0x7B else "begin_or_close"
            continue
        if c == 0x22:
            i = _scan_string(b, i + 1)
        elif c == 0x2D or c in _DIGITS:
            i = _scan_number(b, i)
        elif c == 0x74:
            i = _scan_literal(b, i, b"true")
        elif c == 0x66:
            i = _scan_literal(b, i, b"false")
        elif c == 0x6E:
            i = _scan_literal(b, i, b"null")
        else:
            _bad(c, "looking for beginning of value")
        state = "end"


class _Num:
    pass


_PARSER = json.JSONDecoder(object_pairs_hook=lambda pairs: ("obj", pairs),
                           parse_int=lambda s: _Num(),
                           parse_float=lambda s: _Num(),
                           parse_constant=lambda s: _Num())


def _parse(b):
    try:
        return _PARSER.decode(b.decode("utf-8", "surrogateescape"))
    except RecursionError:
        return ("deep", None)


def _kind(v):
    if isinstance(v, tuple):
        return "object" if v[0] == "obj" else "array"
    if isinstance(v, list):
        return "array"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "bool"
    if v is None:
        return "null"
    return "number"


_SURR = re.compile("[\udc80-\udcff\ud800-\udfff]")


def _go_str(s):
    return _SURR.sub("\ufffd", s)


START_MSG = gojson.Struct(type=gojson.STRING, cmd=gojson.STRING,
                          args=gojson.ListOf(gojson.STRING))
STOP_MSG = gojson.Struct(type=gojson.STRING)


def _first_value(b):
    i = 0
    while i < len(b) and b[i] in _WS:
        i += 1
    if i >= len(b):
        _eof()
    return b[i:scan_value(b, i)]


def decode_start(b):
    """conn.ReadJSON(&wsStartMsg) -> {"type","cmd","args"}; GoJSONError."""
    v = _parse(_first_value(b))
    out = {"type": "", "cmd": "", "args": None}
    if v is None:
        return out
    if not (isinstance(v, tuple) and v[0] == "obj"):
        raise GoJSONError("json: cannot unmarshal %s into Go value of type "
                          "api.wsStartMsg" % _kind(v))
    err = None

    def type_error(value, field, gotype):
        return ("json: cannot unmarshal %s into Go struct field "
                "wsStartMsg.%s of type %s" % (_kind(value), field, gotype))

    for key, x in v[1]:
        name = START_MSG.field_for(_go_str(key))
        if name is None or x is None:
            if name == "args":
                out["args"] = None
            continue
        if name in ("type", "cmd"):
            if isinstance(x, str):
                out[name] = _go_str(x)
            else:
                err = err or type_error(x, name, "string")
        elif isinstance(x, list):
            args = []
            for e in x:
                if isinstance(e, str):
                    args.append(_go_str(e))
                else:
                    if e is not None:
                        err = err or type_error(e, "args", "string")
                    args.append("")
            out["args"] = args
        else:
            err = err or type_error(x, "args", "[]string")
    if err:
        raise GoJSONError(err)
    return out


def is_stop(b):
    """True if json.Unmarshal into struct{Type string} succeeds with "stop"."""
    try:
        i = 0
        while i < len(b) and b[i] in _WS:
            i += 1
        if i >= len(b):
            return False
        end = scan_value(b, i)
        if b[end:].strip(b" \t\r\n"):
            return False
        v = _parse(b[i:end])
    except GoJSONError:
        return False
    if v is None:
        return False
    if not (isinstance(v, tuple) and v[0] == "obj"):
        return False
    typ = ""
    for key, x in v[1]:
        if STOP_MSG.field_for(_go_str(key)) is None or x is None:
            continue
        if not isinstance(x, str):
            return False
        typ = _go_str(x)
    return typ == "stop"


# --------------------------------------------------------------------------
# Encoding raw bytes as a Go JSON string

_INVALID = re.compile("[\udc80-\udcff]")
_HTML = re.compile("[<>&\u2028\u2029]")
_HTML_ESC = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
             "\u2028": "\\u2028", "\u2029": "\\u2029"}


def bytes_to_json(b):
    """The JSON text (with quotes) Go writes for string(b)."""
    s = b.decode("utf-8", "surrogateescape")
    out = json.dumps(s, ensure_ascii=False)
    if _HTML.search(out):
        out = _HTML.sub(lambda m: _HTML_ESC[m.group()], out)
    if _INVALID.search(out):
        out = _INVALID.sub("\\\\ufffd", out)
    return out
