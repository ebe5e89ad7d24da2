/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the HTTP/1.1 head parser and body decoder, fed the input
 * whole and again in pieces whose size comes from the first byte.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feed in pieces of step bytes (0: all at once). */
static void
fuzz_feed(const char *in, size_t len, size_t step)
{
	struct http *h = http_new(NULL);
	size_t off = 0, n;
	ssize_t r;
	int done = 0;

	if (h == NULL)
		return;
	while (!done && off < len) {
		n = step == 0 || len - off < step ? len - off : step;
		if ((r = http_head_feed(h, in + off, n, &done)) < 0)
			goto out;
		off += (size_t)r;
	}
	if (!done)
		goto out;
	(void)http_status(h);
	(void)http_header_has_token(h, "Connection", "upgrade");
	(void)http_header(h, "Content-Type");
	done = 0;
	while (!done && off < len) {
		n = step == 0 || len - off < step ? len - off : step;
		if ((r = http_body_feed(h, in + off, n, NULL, NULL, &done)) < 0)
			goto out;
		off += (size_t)r;
	}
out:
	http_free(h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_feed((const char *)data, size, 0);
	if (size > 0)
		fuzz_feed((const char *)data, size, 1 + data[0] % 16);
	return 0;
}
