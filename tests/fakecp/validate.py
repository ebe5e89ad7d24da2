# SPDX-License-Identifier: MIT
"""internal/validate plus the bits of Go's fmt the error messages rely on.

safe_name() returns the exact error text of validate.SafeName (which quotes
the name with %q), or None when the name is acceptable.  Pure module.
"""

import re

NAME_RE_TEXT = "^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$"
_NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}\Z")

_QUOTE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n",
                  "\r": "\\r", "\t": "\\t", "\v": "\\v", "\\": "\\\\",
                  '"': '\\"'}


def go_quote(s):
    """strconv.Quote / fmt %q for a string."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[ch])
        elif 0xDC80 <= o <= 0xDCFF:        # an invalid byte (surrogateescape)
            out.append("\\x%02x" % (o - 0xDC00))
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\ufffd")
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02x" % o)
        elif ch == " " or ch.isprintable():
            out.append(ch)
        elif o < 0x10000:
            out.append("\\u%04x" % o)
        else:
            out.append("\\U%08x" % o)
    out.append('"')
    return "".join(out)


def safe_name(name):
    """validate.SafeName: None if valid, else the error message."""
    if name == "":
        return "name must not be empty"
    if not _NAME_RE.match(name):
        return ("name %s contains invalid characters or is too long "
                "(max 64, must match %s)" % (go_quote(name), NAME_RE_TEXT))
    return None


# unicode.IsSpace: what strings.TrimSpace strips.
_GO_SPACE = ("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
             "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f"
             "\u205f\u3000")


def trim_space(s):
    """strings.TrimSpace."""
    return s.strip(_GO_SPACE)
