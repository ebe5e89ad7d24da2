/* SPDX-License-Identifier: MIT */
/*
 * Standard base64 (RFC 4648 section 4, with padding, no line breaks) for
 * the methods that carry bytes in JSON strings: sandbox.upload and
 * sandbox.download (api-files.c), sandbox.http_request (api-proxy.c).
 * Pure: no I/O, no logging.
 */
#ifndef WRENND_B64_H
#define WRENND_B64_H

#include <stddef.h>

/*
 * Decode the len bytes of s (NUL-terminated after them). Returns the bytes
 * (malloc'd, one spare byte, caller frees) with their count in *ret_len, or
 * NULL with errno EINVAL (not standard padded base64: wrong length, other
 * characters, whitespace) or ENOMEM.
 */
unsigned char *b64_decode(const char *s, size_t len, size_t *ret_len);

/* The decoded size of len base64 characters, at most (for limits). */
size_t b64_decoded_max(size_t len);

/*
 * Encode len bytes of p. Returns a NUL-terminated string (caller frees)
 * with its length in *ret_len, or NULL on OOM or a len over INT_MAX.
 */
char *b64_encode(const void *p, size_t len, size_t *ret_len);

#endif /* WRENND_B64_H */
