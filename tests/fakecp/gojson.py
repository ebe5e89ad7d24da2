# SPDX-License-Identifier: MIT
"""Go encoding/json look-alike for the fake control plane.

The real control plane writes every JSON body with Go's json.Encoder and
reads request bodies with json.NewDecoder(r.Body).Decode(&req).  A client
that only works against Python's json module would break against Go, so this
module reproduces the observable differences (CONTRACT.md 1.3):

  encode   compact, struct field order = dict insertion order (GoMap sorts
           keys like a Go map), '<' '>' '&' U+2028 U+2029 escaped as \\uXXXX,
           floats formatted like strconv 'f'/-1 with Go's exponent rules,
           invalid UTF-8 (lone surrogates) replaced by U+FFFD.
  decode   first JSON value only (trailing bytes ignored), empty body is an
           error, unknown fields ignored, case-insensitive field names,
           strict types (a float literal does not fit an int field, a string
           never fits a number), null leaves scalars untouched.

Used by every handler module (through httpio) and by tokens.py for JWT
claims.  Pure: no I/O, no logging.
"""

import json
import math
import re
from decimal import Decimal

__all__ = [
    "DecodeError", "GoMap", "Struct", "ListOf", "MapOf",
    "STRING", "BOOL", "INT32", "INT64", "UINT32", "FLOAT64", "ANY",
    "NUMERIC_DATE", "CLAIM_STRINGS",
    "encode", "dumps", "marshal", "decode_first", "unmarshal",
]


class DecodeError(Exception):
    """The body would make Go's decoder return an error."""


class GoMap(dict):
    """A dict encoded like a Go map: keys sorted bytewise."""


# --------------------------------------------------------------------------
# Encoding

_SURROGATES = re.compile("[\ud800-\udfff]")
_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                 "\u2028": "\\u2028", "\u2029": "\\u2029"}
_HTML_RE = re.compile("[<>&\u2028\u2029]")
_EXP_RE = re.compile(r"^(-?[0-9.]+)e([+-])([0-9]+)$")


def _encode_string(s):
    if _SURROGATES.search(s):
        s = _SURROGATES.sub("\ufffd", s)
    out = json.dumps(s, ensure_ascii=False)
    return _HTML_RE.sub(lambda m: _HTML_ESCAPES[m.group()], out)


def _encode_float(f):
    """strconv.FormatFloat(f, 'f' or 'e', -1, 64) as encoding/json uses it."""
    if math.isnan(f) or math.isinf(f):
        raise ValueError("json: unsupported value: %r" % f)
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        m = _EXP_RE.match(repr(f))
        if m is None:
            raise ValueError("cannot format float %r" % f)
        mant, sign, exp = m.groups()
        exp = exp.lstrip("0").rjust(2, "0")
        if sign == "-" and exp[0] == "0":
            exp = exp[1:]   # Go cleans up e-07 to e-7
        return "%se%s%s" % (mant, sign, exp)
    return format(Decimal(repr(f)).normalize(), "f")


def encode(v):
    """Return the compact Go JSON text of v (no trailing newline)."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _encode_float(v)
    if isinstance(v, str):
        return _encode_string(v)
    if isinstance(v, dict):
        items = v.items()
        if isinstance(v, GoMap):
            items = sorted(items, key=lambda kv: kv[0].encode("utf-8",
                                                              "surrogatepass"))
        return "{" + ",".join(_encode_string(str(k)) + ":" + encode(x)
                              for k, x in items) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(encode(x) for x in v) + "]"
    raise TypeError("cannot encode %s" % type(v).__name__)


def dumps(v):
    """Bytes exactly as json.NewEncoder(w).Encode(v) writes them."""
    return (encode(v) + "\n").encode("utf-8")


def marshal(v):
    """Bytes as json.Marshal(v) returns them (no newline)."""
    return encode(v).encode("utf-8")


# --------------------------------------------------------------------------
# Decoding: target types

class _Scalar:
    def __init__(self, name, zero, lo=None, hi=None):
        self.name, self.zero, self.lo, self.hi = name, zero, lo, hi

    def __repr__(self):
        return self.name


STRING = _Scalar("string", "")
BOOL = _Scalar("bool", False)
INT32 = _Scalar("int32", 0, -2**31, 2**31 - 1)
INT64 = _Scalar("int64", 0, -2**63, 2**63 - 1)
UINT32 = _Scalar("uint32", 0, 0, 2**32 - 1)
FLOAT64 = _Scalar("float64", 0.0)
ANY = _Scalar("any", None)
# golang-jwt types: NumericDate accepts a number or a numeric string,
# ClaimStrings a string or an array of strings.
NUMERIC_DATE = _Scalar("numericdate", None)
CLAIM_STRINGS = _Scalar("claimstrings", None)


class ListOf:
    """A Go slice; null or absent decodes to None (nil)."""

    def __init__(self, elem):
        self.elem = elem

    def __repr__(self):
        return "[]%r" % (self.elem,)


class MapOf:
    """A Go map[string]elem; null or absent decodes to None (nil)."""

    def __init__(self, elem):
        self.elem = elem

    def __repr__(self):
        return "map[string]%r" % (self.elem,)


class Struct:
    """A Go struct: ordered json tag name -> type."""

    def __init__(self, **fields):
        self.fields = fields
        self.folded = {}
        for name in fields:
            self.folded.setdefault(_fold(name), name)

    def __repr__(self):
        return "struct{%s}" % ", ".join(self.fields)

    def zero(self):
        return {name: _zero(t) for name, t in self.fields.items()}

    def field_for(self, key):
        """Exact tag match first, then Go's case-folded match."""
        if key in self.fields:
            return key
        return self.folded.get(_fold(key))


def _fold(s):
    # Go's foldName: ASCII case-insensitive, plus the two non-ASCII runes that
    # simple-fold onto ASCII letters (KELVIN SIGN, LONG S).
    return s.replace("\u212a", "k").replace("\u017f", "s").translate(_LOWER)


_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def _zero(t):
    if isinstance(t, Struct):
        return t.zero()
    if isinstance(t, (ListOf, MapOf)):
        return None
    return t.zero


# --------------------------------------------------------------------------
# Decoding: parsing

class _Obj(list):
    """A JSON object as an ordered list of (key, value) pairs."""


class _FloatLit:
    """A JSON number written with a fraction or exponent."""
    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text


def _no_constant(name):
    raise ValueError("invalid literal %s" % name)


_DECODER = json.JSONDecoder(object_pairs_hook=_Obj, parse_float=_FloatLit,
                            parse_constant=_no_constant, strict=True)
_WS = " \t\r\n"
_NUMBER_RE = re.compile(
    r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?\Z")


def _parse(data, whole):
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode("utf-8", "surrogateescape")
    i = 0
    n = len(data)
    while i < n and data[i] in _WS:
        i += 1
    if i == n:
        raise DecodeError("EOF")
    try:
        value, end = _DECODER.raw_decode(data, i)
    except (ValueError, RecursionError) as e:
        raise DecodeError(str(e))
    if whole and data[end:].strip(_WS):
        raise DecodeError("invalid character after top-level value")
    return value


def decode_first(data, t):
    """Like json.NewDecoder(body).Decode(&v): first value, rest ignored."""
    return _convert(_parse(data, False), t, None)


def unmarshal(data, t):
    """Like json.Unmarshal(data, &v): the whole input must be one value."""
    return _convert(_parse(data, True), t, None)


def _fix_str(s):
    return _SURROGATES.sub("\ufffd", s) if _SURROGATES.search(s) else s


def _plain(v):
    if isinstance(v, _Obj):
        out = {}
        for k, x in v:
            out[_fix_str(k)] = _plain(x)
        return out
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, _FloatLit):
        return float(v.text)
    if isinstance(v, str):
        return _fix_str(v)
    return v


def _type_error(v, t):
    return DecodeError("json: cannot unmarshal %s into Go value of type %r"
                       % (type(v).__name__, t))


def _convert(v, t, current):
    """Decode JSON value v into Go type t; current is the existing value."""
    if t is ANY:
        return _plain(v)
    if v is None:
        # null: nil for slices/maps, no-op for everything else.
        if isinstance(t, (ListOf, MapOf)):
            return None
        return _zero(t) if current is None else current
    if isinstance(t, Struct):
        if not isinstance(v, _Obj):
            raise _type_error(v, t)
        out = current if current is not None else t.zero()
        for key, x in v:
            name = t.field_for(key)
            if name is not None:
                out[name] = _convert(x, t.fields[name], out[name])
        return out
    if isinstance(t, ListOf):
        if isinstance(v, _Obj) or not isinstance(v, list):
            raise _type_error(v, t)
        return [_convert(x, t.elem, None) for x in v]
    if isinstance(t, MapOf):
        if not isinstance(v, _Obj):
            raise _type_error(v, t)
        out = {}
        for key, x in v:
            out[_fix_str(key)] = _convert(x, t.elem, None)
        return out
    if t is STRING:
        if not isinstance(v, str):
            raise _type_error(v, t)
        return _fix_str(v)
    if t is BOOL:
        if not isinstance(v, bool):
            raise _type_error(v, t)
        return v
    if t is FLOAT64:
        if isinstance(v, bool) or not isinstance(v, (int, _FloatLit)):
            raise _type_error(v, t)
        try:
            f = float(v.text if isinstance(v, _FloatLit) else v)
        except OverflowError:
            raise _type_error(v, t)
        if math.isinf(f):
            raise _type_error(v, t)
        return f
    if t is NUMERIC_DATE:
        if isinstance(v, str) and _NUMBER_RE.match(v):
            v = _FloatLit(v)
        return _convert(v, FLOAT64, None)
    if t is CLAIM_STRINGS:
        if isinstance(v, str):
            return [_fix_str(v)]
        if isinstance(v, list) and not isinstance(v, _Obj) and \
                all(isinstance(x, str) for x in v):
            return [_fix_str(x) for x in v]
        raise _type_error(v, t)
    # Integer kinds: only an integral literal in range fits.
    if isinstance(v, bool) or not isinstance(v, int):
        raise _type_error(v, t)
    if not t.lo <= v <= t.hi:
        raise _type_error(v, t)
    return v
