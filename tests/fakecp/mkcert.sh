#!/bin/sh
# SPDX-License-Identifier: MIT
# mkcert.sh DIR: make a throwaway test CA and a server certificate for the
# fake control plane.  Writes DIR/ca.pem, DIR/ca.key, DIR/server.pem and
# DIR/server.key (EC P-256, valid 30 days, SAN IP:127.0.0.1, IP:::1,
# DNS:localhost).  Needs only the openssl CLI; takes well under a second.
# fakecp.py --tls-mint-ca DIR mints the sandbox proxy's host names from
# this CA on demand (certmint.py), as no wildcard can cover them here.
set -eu

dir=${1:?usage: mkcert.sh DIR}
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

cat >"$tmp/ca.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = wrennd test CA
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
EOF

cat >"$tmp/server.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = localhost
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,IP:::1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
EOF

serial() { echo "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"; }

umask 077
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$dir/ca.key" 2>/dev/null
openssl req -x509 -new -config "$tmp/ca.cnf" -extensions v3_ca \
    -key "$dir/ca.key" -sha256 -days 30 -set_serial "$(serial)" \
    -out "$dir/ca.pem"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$dir/server.key" 2>/dev/null
openssl req -new -config "$tmp/server.cnf" -key "$dir/server.key" \
    -out "$tmp/server.csr"
openssl x509 -req -in "$tmp/server.csr" -CA "$dir/ca.pem" \
    -CAkey "$dir/ca.key" -set_serial "$(serial)" \
    -days 30 -sha256 -extfile "$tmp/server.cnf" -extensions v3_server \
    -out "$dir/server.pem" 2>/dev/null
chmod 644 "$dir/ca.pem" "$dir/server.pem"
