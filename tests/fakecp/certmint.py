# SPDX-License-Identifier: MIT
"""Certificates per TLS server name for the fake's HTTPS listener.

The real front serves the sandbox proxy's names ({port}-{sandbox_id}.
{domain}) with a wildcard certificate.  A test has no such domain: the
base URL's host is 127.0.0.1 or localhost, and OpenSSL's host name check
refuses a wildcard over a single label ("*.localhost") or over an IP
address.  So the fake mints, from a test CA (mkcert.sh), one certificate
per server name a client asks for (SNI), when it first asks: the client's
verification is the real one, with the real name.

Minter(ca_cert, ca_key, dir).sni_callback is an SSLContext.sni_callback:
a name that is not a proxy host (or no SNI) keeps the listener's own
certificate; a proxy host gets its own context.  Contexts are cached, at
most MAX_NAMES (a peer picks the names; the oldest goes first).  Needs
python3-cryptography.
"""

import collections
import datetime
import os
import re
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MAX_NAMES = 256            # contexts kept
VALID_DAYS = 30
# A proxy host (proxy.py's pattern) made of DNS labels, at most 253 bytes.
_PROXY_NAME_RE = re.compile(r"^[0-9]+-cl-[0-9a-z]+(\.[0-9A-Za-z-]{1,63})+$")


class Minter:
    def __init__(self, ca_cert, ca_key, directory):
        with open(ca_cert, "rb") as f:
            self.ca = x509.load_pem_x509_certificate(f.read())
        with open(ca_key, "rb") as f:
            self.ca_key = serialization.load_pem_private_key(f.read(), None)
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        # One key for every minted certificate: only the names differ.
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.key_path = os.path.join(directory, "minted.key")
        fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()))
        self.contexts = collections.OrderedDict()
        self.seq = 0

    def _cert(self, name):
        now = datetime.datetime.now(datetime.timezone.utc)
        ski = self.ca.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier).value
        return (x509.CertificateBuilder()
                .subject_name(x509.Name([
                    x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                .issuer_name(self.ca.subject)
                .public_key(self.key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
                .add_extension(x509.BasicConstraints(ca=False,
                                                     path_length=None),
                               critical=True)
                .add_extension(x509.KeyUsage(
                    digital_signature=True, content_commitment=False,
                    key_encipherment=False, data_encipherment=False,
                    key_agreement=False, key_cert_sign=False,
                    crl_sign=False, encipher_only=False,
                    decipher_only=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.SubjectAlternativeName(
                    [x509.DNSName(name)]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier
                               .from_issuer_subject_key_identifier(ski),
                               critical=False)
                .sign(self.ca_key, hashes.SHA256()))

    def context(self, name):
        """The server context for name (minted on first use)."""
        ctx = self.contexts.get(name)
        if ctx is not None:
            self.contexts.move_to_end(name)
            return ctx
        self.seq += 1
        path = os.path.join(self.dir, "minted-%d.pem" % self.seq)
        with open(path, "wb") as f:
            f.write(self._cert(name).public_bytes(serialization.Encoding.PEM))
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(path, self.key_path)
        os.unlink(path)
        self.contexts[name] = ctx
        while len(self.contexts) > MAX_NAMES:
            self.contexts.popitem(last=False)
        return ctx

    def sni_callback(self, sslobj, name, _ctx):
        if name is None or len(name) > 253 or \
                not _PROXY_NAME_RE.match(name):
            return None
        sslobj.context = self.context(name.lower())
        return None
