/* SPDX-License-Identifier: MIT */
/*
 * Standard base64 (see b64.h) on OpenSSL's block codec, which decodes
 * without checking the alphabet or the padding: that is checked here.
 */
#include "config.h"

#include "b64.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

unsigned char *
b64_decode(const char *s, size_t len, size_t *ret_len)
{
	unsigned char *out;
	size_t pad = 0;
	int n;

	if (len % 4 != 0 || len > INT_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if (len > 0 && s[len - 1] == '=')
		pad++;
	if (len > 1 && s[len - 2] == '=')
		pad++;
	if (strspn(s,
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789+/") != len - pad) {
		errno = EINVAL;
		return NULL;
	}
	if ((out = malloc(len / 4 * 3 + 1)) == NULL)
		return NULL;
	n = len == 0 ? 0
		     : EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
	if (n < 0) {
		free(out);
		errno = EINVAL;
		return NULL;
	}
	/* EVP_DecodeBlock counts the padding as bytes. */
	*ret_len = (size_t)n - pad;
	return out;
}

size_t
b64_decoded_max(size_t len)
{
	return len / 4 * 3;
}

char *
b64_encode(const void *p, size_t len, size_t *ret_len)
{
	char *out;
	int n;

	if (len > (size_t)INT_MAX / 4 * 3 - 3)
		return NULL;
	if ((out = malloc((len + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	n = EVP_EncodeBlock((unsigned char *)out, p, (int)len);
	*ret_len = (size_t)n;
	return out;
}
