# SPDX-License-Identifier: MIT
"""Credentials: HS256 user/host JWTs (golang-jwt v5 semantics) and API keys.

Signing produces byte-for-byte what internal/auth/jwt.go produces (header
{"alg":"HS256","typ":"JWT"}, claims in Go struct order, integer dates).
Verification follows jwt.ParseWithClaims as used by VerifyJWT/VerifyHostJWT:
three segments, unpadded base64url, any HMAC alg, claims decoded with Go's
(case-insensitive, type-strict) rules, exp/nbf checked without leeway, iat
not checked, and "typ":"host" rejected for user tokens.

API keys are wrn_ + 32 hex; only the SHA-256 hex is stored.

Pure module; the auth middlewares and the state use it.
"""

import base64
import binascii
import hashlib
import hmac
import math
import re
import secrets
import time

import gojson

HMAC_ALGS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384,
             "HS512": hashlib.sha512}
# Algorithms golang-jwt knows but which fail the HMAC keyfunc check.
_OTHER_ALGS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
               "ES256", "ES384", "ES512", "EdDSA", "none"}

USER_JWT_TTL = 6 * 3600
HOST_JWT_TTL = 7 * 24 * 3600

_REGISTERED = dict(iss=gojson.STRING, sub=gojson.STRING,
                   aud=gojson.CLAIM_STRINGS, exp=gojson.NUMERIC_DATE,
                   nbf=gojson.NUMERIC_DATE, iat=gojson.NUMERIC_DATE,
                   jti=gojson.STRING)
USER_CLAIMS = gojson.Struct(typ=gojson.STRING, team_id=gojson.STRING,
                            role=gojson.STRING, email=gojson.STRING,
                            name=gojson.STRING, is_admin=gojson.BOOL,
                            **_REGISTERED)
HOST_CLAIMS = gojson.Struct(typ=gojson.STRING, host_id=gojson.STRING,
                            **_REGISTERED)


class TokenError(Exception):
    """The token does not verify; the message is for logs only."""


def _b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*\Z")


def _b64url_decode(seg):
    """base64.RawURLEncoding.DecodeString (non-strict): no padding allowed."""
    seg = seg.replace("\r", "").replace("\n", "")
    if not _B64URL_RE.match(seg) or len(seg) % 4 == 1:
        raise TokenError("illegal base64 data")
    try:
        return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("illegal base64 data")


def sign(secret, claims, alg="HS256"):
    """Sign a claims dict (already in the desired key order)."""
    header = gojson.marshal(gojson.GoMap(alg=alg, typ="JWT"))
    signing_input = _b64url(header) + "." + _b64url(gojson.marshal(claims))
    mac = hmac.new(secret, signing_input.encode("ascii"), HMAC_ALGS[alg])
    return signing_input + "." + _b64url(mac.digest())


def user_claims(user_id, team_id, role, email, name, is_admin=False,
                iat=None, exp=None, typ=None):
    """Claims of auth.SignJWT in Go field order (omitempty applied)."""
    now = int(time.time()) if iat is None else int(iat)
    c = {}
    if typ:
        c["typ"] = typ
    c.update(team_id=team_id, role=role, email=email, name=name)
    if is_admin:
        c["is_admin"] = True
    c["sub"] = user_id
    c["exp"] = now + USER_JWT_TTL if exp is None else int(exp)
    c["iat"] = now
    return c


def host_claims(host_id, iat=None, exp=None):
    """Claims of auth.SignHostJWT."""
    now = int(time.time()) if iat is None else int(iat)
    return {"typ": "host", "host_id": host_id, "sub": host_id,
            "exp": now + HOST_JWT_TTL if exp is None else int(exp),
            "iat": now}


def _parse_and_verify(secret, token, schema, now):
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("token contains an invalid number of segments")
    try:
        header = gojson.unmarshal(_b64url_decode(parts[0]), gojson.ANY)
        claims = gojson.unmarshal(_b64url_decode(parts[1]), schema)
    except gojson.DecodeError as e:
        raise TokenError("malformed token: %s" % e)
    alg = header.get("alg") if isinstance(header, dict) else None
    if not isinstance(alg, str):
        raise TokenError("signing method (alg) is unspecified")
    if alg not in HMAC_ALGS:
        if alg in _OTHER_ALGS:
            raise TokenError("unexpected signing method: %s" % alg)
        raise TokenError("signing method (alg) is unavailable")
    sig = _b64url_decode(parts[2])
    mac = hmac.new(secret, (parts[0] + "." + parts[1]).encode("utf-8",
                   "surrogateescape"), HMAC_ALGS[alg]).digest()
    if not hmac.compare_digest(mac, sig):
        raise TokenError("signature is invalid")
    now = time.time() if now is None else now
    exp, nbf = claims["exp"], claims["nbf"]
    if exp is not None and not now < math.floor(exp):
        raise TokenError("token is expired")
    if nbf is not None and now < math.floor(nbf):
        raise TokenError("token is not valid yet")
    return claims


def verify_user(secret, token, now=None):
    """auth.VerifyJWT: returns the claims dict or raises TokenError."""
    claims = _parse_and_verify(secret, token, USER_CLAIMS, now)
    if claims["typ"] == "host":
        raise TokenError("host token cannot be used as user token")
    return claims


def verify_host(secret, token, now=None):
    """auth.VerifyHostJWT: returns the claims dict or raises TokenError."""
    claims = _parse_and_verify(secret, token, HOST_CLAIMS, now)
    if claims["typ"] != "host":
        raise TokenError("invalid token type: expected host")
    return claims


def new_api_key():
    """wrn_ + 32 lowercase hex chars."""
    return "wrn_" + secrets.token_hex(16)


def hash_api_key(key):
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def api_key_prefix(key):
    return key[:10] if len(key) > 10 else key
