/* SPDX-License-Identifier: MIT */
/*
 * Standard base64 (see b64.h). One decoder for both callers: the strict
 * form checks the length and the padding, then both decode the run of
 * alphabet characters before the padding.
 */
#include "config.h"

#include "b64.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of one base64 character, or -1 (padding, whitespace, NUL, ...). */
static int
b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decode len alphabet characters; the bits of a partial byte are dropped. */
static unsigned char *
b64_decode_run(const char *s, size_t len, size_t *ret_len)
{
	unsigned char *out;
	unsigned int acc = 0;
	size_t i, n = 0;
	int bits = 0, v;

	/* 3 bytes for each 4 characters, 2 for the rest, 1 spare. */
	if ((out = malloc(len / 4 * 3 + 3)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if ((v = b64_val((unsigned char)s[i])) < 0) {
			free(out);
			errno = EINVAL;
			return NULL;
		}
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	*ret_len = n;
	return out;
}

unsigned char *
b64_decode(const char *s, size_t len, size_t *ret_len)
{
	size_t run = len;

	if (len % 4 != 0) {
		errno = EINVAL;
		return NULL;
	}
	if (run > 0 && s[run - 1] == '=')
		run--;
	if (run > 0 && s[run - 1] == '=')
		run--;
	return b64_decode_run(s, run, ret_len);
}

unsigned char *
b64_decode_loose(const char *s, size_t len, size_t *ret_len)
{
	while (len > 0 && s[len - 1] == '=')
		len--;
	return b64_decode_run(s, len, ret_len);
}

size_t
b64_decoded_max(size_t len)
{
	return len / 4 * 3;
}

char *
b64_encode(const void *p, size_t len, size_t *ret_len)
{
	const unsigned char *in = p;
	size_t i, n = 0;
	unsigned int v;
	char *out;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 2) {
		errno = ENOMEM;
		return NULL;
	}
	if ((out = malloc((len + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned int)in[i] << 16 | (unsigned int)in[i + 1] << 8 |
		    in[i + 2];
		out[n++] = b64_alphabet[v >> 18];
		out[n++] = b64_alphabet[(v >> 12) & 63];
		out[n++] = b64_alphabet[(v >> 6) & 63];
		out[n++] = b64_alphabet[v & 63];
	}
	if (i < len) {
		v = (unsigned int)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned int)in[i + 1] << 8;
		out[n++] = b64_alphabet[v >> 18];
		out[n++] = b64_alphabet[(v >> 12) & 63];
		out[n++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		out[n++] = '=';
	}
	out[n] = '\0';
	*ret_len = n;
	return out;
}
