/* SPDX-License-Identifier: MIT */
/*
 * An HTTP/1.1 exchange on a bufferevent (see httpio.h): the glue between
 * an evbuffer and http.c's pure parser. The parser is fed the input
 * buffer's first contiguous span at a time and only what it consumed is
 * drained. Owns: the request (until the output buffer takes it), the
 * parser and the kept body. Called by ws.c.
 */
#include "config.h"

#include "httpio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/crypto.h>

#include "http.h"

struct httpio {
	char *req; /* owned until queued; may hold a secret: wiped */
	size_t reqlen;
	int sent;
	struct http *http; /* owned: the answer's parser */
	size_t max_body;
	char *body; /* owned: max_body + 1 bytes, from the first byte */
	size_t body_len;
};

struct httpio *
httpio_new(
    char *req, size_t reqlen, const struct http_limits *limits, size_t max_body)
{
	struct httpio *x;

	if ((x = calloc(1, sizeof(*x))) == NULL) {
		OPENSSL_cleanse(req, reqlen);
		free(req);
		return NULL;
	}
	x->req = req;
	x->reqlen = reqlen;
	x->max_body = max_body;
	if ((x->http = http_new(limits)) == NULL) {
		httpio_free(x);
		return NULL;
	}
	return x;
}

void
httpio_free(struct httpio *x)
{
	if (x == NULL)
		return;
	if (x->req != NULL) {
		OPENSSL_cleanse(x->req, x->reqlen);
		free(x->req);
	}
	http_free(x->http);
	free(x->body);
	free(x);
}

/* evbuffer cleanup for the referenced request: wipe once written. */
static void
httpio_req_cleanup_cb(const void *data, size_t len, void *extra)
{
	(void)data;
	OPENSSL_cleanse(extra, len);
	free(extra);
}

int
httpio_send(struct httpio *x, struct bufferevent *bev)
{
	if (x->sent)
		return -EALREADY;
	if (evbuffer_add_reference(bufferevent_get_output(bev), x->req,
		x->reqlen, httpio_req_cleanup_cb, x->req) == -1)
		return -ENOMEM;
	/* The output buffer owns it now (httpio_req_cleanup_cb). */
	x->req = NULL;
	x->reqlen = 0;
	x->sent = 1;
	return 0;
}

/* The first contiguous input bytes (NULL, 0 when empty). */
static size_t
httpio_peek(struct evbuffer *in, const char **data)
{
	struct evbuffer_iovec v;

	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0) {
		*data = "";
		return 0;
	}
	*data = v.iov_base;
	return v.iov_len;
}

int
httpio_head(struct httpio *x, struct evbuffer *in)
{
	const char *data;
	ssize_t r;
	size_t n;
	int done = 0;

	while (!done && (n = httpio_peek(in, &data)) > 0) {
		if ((r = http_head_feed(x->http, data, n, &done)) < 0)
			return -1;
		(void)evbuffer_drain(in, (size_t)r);
	}
	return done;
}

/* Keep up to max_body bytes of the body, drop the rest. */
static void
httpio_body_cb(const char *data, size_t len, void *arg)
{
	struct httpio *x = arg;
	size_t keep = x->max_body - x->body_len;

	if (x->body == NULL && (x->body = malloc(x->max_body + 1)) == NULL)
		return;
	if (keep > len)
		keep = len;
	memcpy(x->body + x->body_len, data, keep);
	x->body_len += keep;
	x->body[x->body_len] = '\0';
}

int
httpio_body(struct httpio *x, struct evbuffer *in, int eof)
{
	const char *data;
	ssize_t r;
	size_t n;
	int done = 0;

	do {
		n = httpio_peek(in, &data);
		r = http_body_feed(x->http, data, n, httpio_body_cb, x, &done);
		if (r < 0)
			return -1;
		(void)evbuffer_drain(in, (size_t)r);
	} while (!done && n > 0 && x->body_len < x->max_body);
	return done || eof || x->body_len >= x->max_body;
}

const struct http *
httpio_parser(const struct httpio *x)
{
	return x->http;
}

const char *
httpio_error(const struct httpio *x)
{
	return http_strerror(http_error(x->http));
}

const char *
httpio_kept(const struct httpio *x, size_t *len)
{
	*len = x->body != NULL ? x->body_len : 0;
	return x->body != NULL ? x->body : "";
}
