/* SPDX-License-Identifier: MIT */
/*
 * protocol/b64.c: the RFC 4648 vectors both ways, every byte value round
 * trip, what the strict decoder refuses and what the loose one accepts.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "tap.h"

/* The RFC 4648 section 10 test vectors. */
static const struct {
	const char *plain, *encoded;
} vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

/* Check that decode(s) gives want (a string) with its length. */
static void
check_decodes(unsigned char *(*decode)(const char *, size_t, size_t *),
    const char *s, const char *want, const char *what)
{
	size_t n = (size_t)-1;
	unsigned char *got = decode(s, strlen(s), &n);

	if (!ok_nonnull(got, "%s '%s' decodes", what, s))
		return;
	ok_size(n, strlen(want), "%s '%s' decodes to %zu bytes", what, s,
	    strlen(want));
	got[n] = '\0'; /* the spare byte */
	ok_str(
	    (const char *)got, want, "%s '%s' decodes to '%s'", what, s, want);
	free(got);
}

/* Check that decode(s, len) fails with EINVAL. */
static void
check_refuses(unsigned char *(*decode)(const char *, size_t, size_t *),
    const char *s, size_t len, const char *what, const char *why)
{
	size_t n = 0;
	unsigned char *got;

	errno = 0;
	got = decode(s, len, &n);
	ok_null(got, "%s refuses %s", what, why);
	ok_int(errno, EINVAL, "%s sets EINVAL for %s", what, why);
	free(got);
}

static void
test_vectors(void)
{
	size_t i, n;
	char *enc;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		n = (size_t)-1;
		enc =
		    b64_encode(vectors[i].plain, strlen(vectors[i].plain), &n);
		ok_str(enc, vectors[i].encoded, "'%s' encodes to '%s'",
		    vectors[i].plain, vectors[i].encoded);
		ok_size(n, strlen(vectors[i].encoded),
		    "'%s' encodes to %zu characters", vectors[i].plain,
		    strlen(vectors[i].encoded));
		free(enc);
		check_decodes(
		    b64_decode, vectors[i].encoded, vectors[i].plain, "strict");
		check_decodes(b64_decode_loose, vectors[i].encoded,
		    vectors[i].plain, "loose");
	}
}

static void
test_every_byte(void)
{
	unsigned char all[256], *dec;
	size_t i, n, m = 0;
	char *enc;

	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)i;
	enc = b64_encode(all, sizeof(all), &n);
	if (!ok_nonnull(enc, "all 256 byte values encode"))
		return;
	ok_size(n, 344, "256 bytes encode to 344 characters");
	dec = b64_decode(enc, n, &m);
	if (ok_nonnull(dec, "their encoding decodes")) {
		ok_size(m, sizeof(all), "it decodes to 256 bytes");
		ok_int(memcmp(dec, all, sizeof(all)), 0,
		    "it decodes to the same bytes");
	}
	ok_size(b64_decoded_max(n), 258, "decoded_max of 344 characters");
	free(dec);
	free(enc);
}

static void
test_strict_refuses(void)
{
	check_refuses(b64_decode, "Zg", 2, "strict", "missing padding");
	check_refuses(b64_decode, "Zm9vY", 5, "strict", "a length of 5");
	check_refuses(b64_decode, "Z===", 4, "strict", "three '='");
	check_refuses(b64_decode, "====", 4, "strict", "only padding");
	check_refuses(b64_decode, "Zg=A", 4, "strict", "'=' inside");
	check_refuses(b64_decode, "Zm 9", 4, "strict", "a space");
	check_refuses(b64_decode, "Zm9\n", 4, "strict", "a newline");
	check_refuses(b64_decode, "Zm-_", 4, "strict", "the URL alphabet");
	check_refuses(b64_decode, "Zm\0v", 4, "strict", "a NUL");
}

static void
test_loose(void)
{
	check_decodes(b64_decode_loose, "Zg", "f", "loose");
	check_decodes(b64_decode_loose, "Zm8", "fo", "loose");
	check_decodes(b64_decode_loose, "Zg=====", "f", "loose");
	check_refuses(b64_decode_loose, "Zm 9v", 5, "loose", "a space");
	check_refuses(b64_decode_loose, "Zg=A", 4, "loose", "'=' inside");
	check_refuses(b64_decode_loose, "Zm\0v", 4, "loose", "a NUL");
}

int
main(void)
{
	test_vectors();
	test_every_byte();
	test_strict_refuses();
	test_loose();
	return done_testing();
}
