/* SPDX-License-Identifier: MIT */
/*
 * The one TLS verification policy of the daemon: system trust store plus an
 * optional extra CA bundle (--ca-file), peer and host name verification,
 * TLS 1.2 minimum. Applied to libcurl's SSL_CTX (CURLOPT_SSL_CTX_FUNCTION)
 * and used to build the WebSocket client's SSL objects, so REST and
 * WebSocket traffic are verified identically. Owns: an SSL_CTX for ws.c.
 */
#ifndef WRENND_TLSCTX_H
#define WRENND_TLSCTX_H

#include <stddef.h>

struct tlsctx;
typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

/* Build the policy; ca_file may be NULL. NULL and *reterr on failure. */
struct tlsctx *tlsctx_new(const char *ca_file, char *reterr, size_t errlen);
/* Free. NULL is a no-op. */
void tlsctx_free(struct tlsctx *t);

/*
 * Apply the policy to a context created by someone else (libcurl): verify
 * peers, TLS 1.2 minimum, and add the extra CA certificates (read once by
 * tlsctx_new) to its store. 0 or -errno.
 */
int tlsctx_apply(const struct tlsctx *t, SSL_CTX *ctx);

/*
 * Name the policy's trust store files to a libcurl easy handle
 * (CURLOPT_CAINFO, CURLOPT_CAPATH) instead of libcurl's compiled-in
 * defaults, which may not exist. 0, or -EPROTO if libcurl refuses.
 */
int tlsctx_apply_curl(const struct tlsctx *t, void *easy);

/*
 * Whether the policy trusts anything at all (a system bundle or directory,
 * or an extra CA file). 0, or -ENOENT with one line for the log in
 * *reterr naming the missing bundle and the package that provides it.
 */
int tlsctx_check_trust(const struct tlsctx *t, char *reterr, size_t errlen);

/*
 * A new client SSL for host (SNI + host name verification set), from the
 * policy's own SSL_CTX. Caller owns it. NULL on failure.
 */
SSL *tlsctx_new_ssl(const struct tlsctx *t, const char *host);

/* Drain OpenSSL's error queue into one string (borrowed static-free buf). */
void tlsctx_errors(char *buf, size_t len);
/* Drain OpenSSL's error queue into one warning: "what: errors". */
void tlsctx_log_errors(const char *what);
/* Whether the policy has an extra CA bundle on top of the system store. */
int tlsctx_has_extra_ca(const struct tlsctx *t);

#endif /* WRENND_TLSCTX_H */
