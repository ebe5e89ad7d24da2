/* SPDX-License-Identifier: MIT */
/*
 * Standard base64 (RFC 4648 section 4, no line breaks) for the bytes that
 * travel in JSON strings, shared by the daemon (sandbox.upload,
 * sandbox.download, sandbox.http_request, the exec route's output) and the
 * command-line client (exec output, http bodies, Jupyter images). Encoded
 * with padding. Pure: no I/O, no logging.
 */
#ifndef WRENN_B64_H
#define WRENN_B64_H

#include <stddef.h>

/*
 * Decode the len bytes of s, which must be standard padded base64: a
 * length that is a multiple of 4, at most two '=' and only at the end, no
 * other characters (no whitespace, no NUL). Returns the bytes (malloc'd,
 * with one spare byte after them, caller frees) with their count in
 * *ret_len, or NULL with errno EINVAL (not padded base64) or ENOMEM.
 */
unsigned char *b64_decode(const char *s, size_t len, size_t *ret_len);

/*
 * As b64_decode, but the padding is optional: any number of '=' at the
 * end is dropped and the length need not be a multiple of 4 (the bits of
 * an incomplete last byte are dropped). Other characters still fail.
 */
unsigned char *b64_decode_loose(const char *s, size_t len, size_t *ret_len);

/* The decoded size of len base64 characters, at most (for limits). */
size_t b64_decoded_max(size_t len);

/*
 * Encode len bytes of p, with padding. Returns a NUL-terminated string
 * (caller frees) with its length in *ret_len, or NULL with errno ENOMEM
 * (no memory, or a len whose encoding would not fit in a size_t).
 */
char *b64_encode(const void *p, size_t len, size_t *ret_len);

#endif /* WRENN_B64_H */
