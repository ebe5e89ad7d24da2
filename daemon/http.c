/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.1 response head parser and body decoder (see http.h). The head is
 * copied byte by byte into one buffer of limits.max_head bytes; each
 * complete line is judged at its CRLF and split in place (names and values
 * NUL terminated), so the headers stay borrowed from that buffer. The body
 * decoder is a byte-level state machine for chunk framing that passes data
 * spans through without copying. Owns: the head buffer and the header
 * index. The request-head builder at the end shares the token rules.
 * Called by ws.c.
 */
#include "config.h"

#include "http.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_DEF_MAX_HEAD    (16 * 1024)
#define HTTP_DEF_MAX_LINE    (8 * 1024)
#define HTTP_DEF_MAX_HEADERS 100

/* RFC 9110 tchar: the bytes of a header name or a method. */
static const char http_tchar[] = "!#$%&'*+-.^_`|~0123456789"
				 "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

enum http_state {
	HTTP_S_HEAD,	   /* reading head lines */
	HTTP_S_BODY,	   /* head complete; body per mode */
	HTTP_S_CHUNK_SIZE, /* chunk-size digits */
	HTTP_S_CHUNK_SIZE_LF,
	HTTP_S_CHUNK_DATA,
	HTTP_S_CHUNK_DATA_CR,
	HTTP_S_CHUNK_DATA_LF,
	HTTP_S_TRAILER, /* after the last chunk: only CRLF allowed */
	HTTP_S_TRAILER_LF,
	HTTP_S_DONE,
	HTTP_S_ERROR,
};

struct http_field {
	const char *name, *value; /* borrowed from buf */
};

struct http {
	struct http_limits lim;
	enum http_state state;
	enum http_err err;
	char *buf; /* owned: the head, max_head + 1 bytes */
	size_t len;
	size_t line; /* offset of the current line's first byte */
	int cr;	     /* the previous byte was CR */
	int status;
	int request;	    /* parsing a request head */
	int no_body;	    /* a response to HEAD */
	const char *method; /* request: borrowed from buf */
	const char *target; /* request: borrowed from buf */
	int minor;	    /* request: the d of HTTP/1.d */
	int head_done;
	struct http_field *fields; /* owned: max_headers entries */
	size_t nfields;
	int64_t length; /* Content-Length or -1 */
	int chunked;
	int te_seen;
	enum http_body_mode mode;
	uint64_t left;	   /* LENGTH: bytes due; chunk data: bytes left */
	size_t chunk_line; /* bytes of the current chunk-size line */
	int digits;	   /* hex digits seen in it */
};

static const char *const http_errors[HTTP_E__MAX] = {
    [HTTP_OK] = "no error",
    [HTTP_E_HEAD_TOO_LARGE] = "head larger than the limit",
    [HTTP_E_LINE_TOO_LONG] = "line longer than the limit",
    [HTTP_E_TOO_MANY_HEADERS] = "too many header fields",
    [HTTP_E_STATUS_LINE] = "malformed status line",
    [HTTP_E_BARE_CR] = "CR not followed by LF",
    [HTTP_E_BARE_LF] = "LF without CR",
    [HTTP_E_CONTROL] = "control byte in the head",
    [HTTP_E_OBS_FOLD] = "folded header line (obs-fold)",
    [HTTP_E_HEADER_NAME] = "malformed header name",
    [HTTP_E_HEADER_COLON] = "header line without a colon",
    [HTTP_E_CONTENT_LENGTH] = "bad Content-Length",
    [HTTP_E_DUP_LENGTH] = "Content-Length given more than once",
    [HTTP_E_TRANSFER_ENCODING] = "unsupported Transfer-Encoding",
    [HTTP_E_LENGTH_AND_CHUNKED] = "both Content-Length and chunked",
    [HTTP_E_CHUNK_SIZE] = "malformed chunk size",
    [HTTP_E_CHUNK_OVERFLOW] = "chunk size too large",
    [HTTP_E_CHUNK_EXT] = "chunk extension",
    [HTTP_E_CHUNK_CRLF] = "chunk data not followed by CRLF",
    [HTTP_E_TRAILER] = "trailer field",
    [HTTP_E_NOMEM] = "out of memory",
    [HTTP_E_REQUEST_LINE] = "malformed request line",
};

const char *
http_strerror(enum http_err err)
{
	if ((unsigned)err >= HTTP_E__MAX)
		return "unknown error";
	return http_errors[err];
}

struct http *
http_new(const struct http_limits *limits)
{
	struct http *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	if (limits != NULL)
		h->lim = *limits;
	if (h->lim.max_head == 0)
		h->lim.max_head = HTTP_DEF_MAX_HEAD;
	if (h->lim.max_line == 0)
		h->lim.max_line = HTTP_DEF_MAX_LINE;
	if (h->lim.max_headers == 0)
		h->lim.max_headers = HTTP_DEF_MAX_HEADERS;
	h->length = -1;
	h->buf = malloc(h->lim.max_head + 1);
	h->fields = calloc(h->lim.max_headers, sizeof(*h->fields));
	if (h->buf == NULL || h->fields == NULL) {
		http_free(h);
		return NULL;
	}
	return h;
}

struct http *
http_new_request(const struct http_limits *limits)
{
	struct http *h;

	if ((h = http_new(limits)) != NULL)
		h->request = 1;
	return h;
}

const char *
http_method(const struct http *h)
{
	return h->head_done ? h->method : NULL;
}

const char *
http_target(const struct http *h)
{
	return h->head_done ? h->target : NULL;
}

int
http_minor(const struct http *h)
{
	return h->head_done && h->method != NULL ? h->minor : -1;
}

void
http_set_no_body(struct http *h)
{
	h->no_body = 1;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	free(h->buf);
	free(h->fields);
	free(h);
}

enum http_err
http_error(const struct http *h)
{
	return h->err;
}

/* Stop with err; returns -1 for the caller to pass on. */
static ssize_t
http_fail(struct http *h, enum http_err err)
{
	h->state = HTTP_S_ERROR;
	h->err = err;
	return -1;
}

/* "HTTP/1.d ddd" then end or SP and a reason of SP/HTAB/VCHAR/obs-text. */
static enum http_err
http_status_line(struct http *h, const char *l, size_t n)
{
	if (n < 12 || strncmp(l, "HTTP/1.", 7) != 0 || l[7] < '0' ||
	    l[7] > '9' || l[8] != ' ' || l[9] < '1' || l[9] > '9' ||
	    l[10] < '0' || l[10] > '9' || l[11] < '0' || l[11] > '9' ||
	    (n > 12 && l[12] != ' '))
		return HTTP_E_STATUS_LINE;
	h->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	return HTTP_OK;
}

/*
 * "METHOD SP request-target SP HTTP/1.d" (l writable): the method a
 * token, the target visible bytes (the control bytes are refused before).
 */
static enum http_err
http_request_line(struct http *h, char *l, size_t n)
{
	size_t m, t;

	l[n] = '\0';
	m = strspn(l, http_tchar);
	if (m == 0 || l[m] != ' ')
		return HTTP_E_REQUEST_LINE;
	t = strcspn(l + m + 1, " \t");
	if (t == 0 || m + 1 + t + 9 != n ||
	    strncmp(l + m + 1 + t, " HTTP/1.", 8) != 0 || l[n - 1] < '0' ||
	    l[n - 1] > '9')
		return HTTP_E_REQUEST_LINE;
	l[m] = '\0';
	l[m + 1 + t] = '\0';
	h->method = l;
	h->target = l + m + 1;
	h->minor = l[n - 1] - '0';
	return HTTP_OK;
}

/* Framing fields: Content-Length and Transfer-Encoding. */
static enum http_err
http_framing(struct http *h, const char *name, const char *v)
{
	size_t n = strlen(v);

	if (strcasecmp(name, "Content-Length") == 0) {
		if (n == 0 || n > 18 || strspn(v, "0123456789") != n)
			return HTTP_E_CONTENT_LENGTH;
		if (h->length != -1)
			return HTTP_E_DUP_LENGTH;
		h->length = strtoll(v, NULL, 10);
	} else if (strcasecmp(name, "Transfer-Encoding") == 0) {
		if (h->te_seen || strcasecmp(v, "chunked") != 0)
			return HTTP_E_TRANSFER_ENCODING;
		h->te_seen = 1;
		h->chunked = 1;
	}
	return HTTP_OK;
}

/* A header line l[0..n) (CRLF excluded, writable): split and record it. */
static enum http_err
http_field_line(struct http *h, char *l, size_t n)
{
	char *colon, *v, *e;
	size_t nlen;

	if (l[0] == ' ' || l[0] == '\t')
		return HTTP_E_OBS_FOLD;
	l[n] = '\0';
	if ((colon = memchr(l, ':', n)) == NULL)
		return HTTP_E_HEADER_COLON;
	nlen = (size_t)(colon - l);
	if (nlen == 0 || strspn(l, http_tchar) != nlen)
		return HTTP_E_HEADER_NAME;
	if (h->nfields == h->lim.max_headers)
		return HTTP_E_TOO_MANY_HEADERS;
	*colon = '\0';
	v = colon + 1;
	v += strspn(v, " \t");
	e = l + n;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	h->fields[h->nfields].name = l;
	h->fields[h->nfields].value = v;
	h->nfields++;
	return http_framing(h, l, v);
}

/* The blank line: judge the framing and choose the body mode. */
static enum http_err
http_head_end(struct http *h)
{
	if (h->chunked && h->length != -1)
		return HTTP_E_LENGTH_AND_CHUNKED;
	h->head_done = 1;
	if (!h->request &&
	    (h->no_body || h->status < 200 || h->status == 204 ||
		h->status == 304))
		h->mode = HTTP_BODY_NONE;
	else if (h->chunked) {
		h->mode = HTTP_BODY_CHUNKED;
		h->state = HTTP_S_CHUNK_SIZE;
		return HTTP_OK;
	} else if (h->length >= 0) {
		h->mode = HTTP_BODY_LENGTH;
		h->left = (uint64_t)h->length;
	} else
		h->mode = h->request ? HTTP_BODY_NONE : HTTP_BODY_EOF;
	h->state = HTTP_S_BODY;
	return HTTP_OK;
}

/* One complete line (at its LF). */
static enum http_err
http_line(struct http *h, int *done)
{
	char *l = h->buf + h->line;
	size_t n = h->len - h->line - 2; /* without CRLF */
	enum http_err e;

	if (h->line == 0)
		e = h->request ? http_request_line(h, l, n)
			       : http_status_line(h, l, n);
	else if (n == 0) {
		*done = 1;
		e = http_head_end(h);
	} else
		e = http_field_line(h, l, n);
	h->line = h->len;
	return e;
}

ssize_t
http_head_feed(struct http *h, const char *data, size_t len, int *done)
{
	unsigned char c;
	enum http_err e;
	size_t i;

	*done = 0;
	if (h->state == HTTP_S_ERROR)
		return -1;
	if (h->state != HTTP_S_HEAD) {
		*done = 1;
		return 0;
	}
	for (i = 0; i < len; i++) {
		c = (unsigned char)data[i];
		if (h->len == h->lim.max_head)
			return http_fail(h, HTTP_E_HEAD_TOO_LARGE);
		if (h->cr && c != '\n')
			return http_fail(h, HTTP_E_BARE_CR);
		if (c == '\n' && !h->cr)
			return http_fail(h, HTTP_E_BARE_LF);
		if ((c < ' ' && c != '\t' && c != '\r' && c != '\n') ||
		    c == 0x7f)
			return http_fail(h, HTTP_E_CONTROL);
		h->buf[h->len++] = (char)c;
		h->cr = c == '\r';
		if (c != '\n') {
			if (h->len - h->line > h->lim.max_line + 1)
				return http_fail(h, HTTP_E_LINE_TOO_LONG);
			continue;
		}
		if ((e = http_line(h, done)) != HTTP_OK) {
			*done = 0;
			return http_fail(h, e);
		}
		if (*done)
			return (ssize_t)(i + 1);
	}
	return (ssize_t)len;
}

int
http_status(const struct http *h)
{
	return h->head_done ? h->status : 0;
}

size_t
http_header_count(const struct http *h)
{
	return h->nfields;
}

void
http_header_at(
    const struct http *h, size_t i, const char **name, const char **value)
{
	*name = i < h->nfields ? h->fields[i].name : NULL;
	*value = i < h->nfields ? h->fields[i].value : NULL;
}

const char *
http_header(const struct http *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->nfields; i++)
		if (strcasecmp(h->fields[i].name, name) == 0)
			return h->fields[i].value;
	return NULL;
}

int
http_header_repeated(const struct http *h, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < h->nfields; i++)
		if (strcasecmp(h->fields[i].name, name) == 0)
			n++;
	return n > 1;
}

/* Whether the comma-separated list v holds tok (any case). */
static int
http_list_has(const char *v, const char *tok)
{
	size_t n = strlen(tok), len;

	while (*v != '\0') {
		v += strspn(v, " \t,");
		len = strcspn(v, " \t,;");
		if (len == n && strncasecmp(v, tok, n) == 0)
			return 1;
		v += strcspn(v, ",");
	}
	return 0;
}

int
http_header_has_token(const struct http *h, const char *name, const char *token)
{
	size_t i;

	for (i = 0; i < h->nfields; i++)
		if (strcasecmp(h->fields[i].name, name) == 0 &&
		    http_list_has(h->fields[i].value, token))
			return 1;
	return 0;
}

enum http_body_mode
http_body_mode(const struct http *h)
{
	return h->mode;
}

int64_t
http_content_length(const struct http *h)
{
	return h->length;
}

/* One byte of chunk framing (not data). */
static enum http_err
http_chunk_byte(struct http *h, unsigned char c)
{
	int d;

	switch (h->state) {
	case HTTP_S_CHUNK_SIZE:
		if (c == '\r') {
			if (h->digits == 0)
				return HTTP_E_CHUNK_SIZE;
			h->state = HTTP_S_CHUNK_SIZE_LF;
			return HTTP_OK;
		}
		if (c == ';' || c == ' ' || c == '\t')
			return HTTP_E_CHUNK_EXT;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			return HTTP_E_CHUNK_SIZE;
		if (++h->chunk_line > h->lim.max_line)
			return HTTP_E_LINE_TOO_LONG;
		h->digits++;
		h->left = h->left << 4 | (uint64_t)d;
		if (h->left > HTTP_MAX_CHUNK)
			return HTTP_E_CHUNK_OVERFLOW;
		return HTTP_OK;
	case HTTP_S_CHUNK_SIZE_LF:
		if (c != '\n')
			return HTTP_E_BARE_CR;
		h->state = h->left > 0 ? HTTP_S_CHUNK_DATA : HTTP_S_TRAILER;
		return HTTP_OK;
	case HTTP_S_CHUNK_DATA_CR:
		if (c != '\r')
			return HTTP_E_CHUNK_CRLF;
		h->state = HTTP_S_CHUNK_DATA_LF;
		return HTTP_OK;
	case HTTP_S_CHUNK_DATA_LF:
		if (c != '\n')
			return HTTP_E_CHUNK_CRLF;
		h->state = HTTP_S_CHUNK_SIZE;
		h->chunk_line = 0;
		h->digits = 0;
		h->left = 0;
		return HTTP_OK;
	case HTTP_S_TRAILER:
		if (c != '\r')
			return HTTP_E_TRAILER;
		h->state = HTTP_S_TRAILER_LF;
		return HTTP_OK;
	case HTTP_S_TRAILER_LF:
		if (c != '\n')
			return HTTP_E_BARE_CR;
		h->state = HTTP_S_DONE;
		return HTTP_OK;
	default:
		return HTTP_OK;
	}
}

/* Pass up to len bytes of data (h->left of them due) to cb. */
static size_t
http_take(
    struct http *h, const char *data, size_t len, http_data_cb cb, void *arg)
{
	size_t n = len;

	if (n > h->left)
		n = (size_t)h->left;
	if (n > 0 && cb != NULL)
		cb(data, n, arg);
	h->left -= n;
	return n;
}

ssize_t
http_body_feed(struct http *h, const char *data, size_t len, http_data_cb cb,
    void *arg, int *done)
{
	enum http_err e;
	size_t i = 0;

	*done = 0;
	if (h->state == HTTP_S_ERROR || h->state == HTTP_S_HEAD)
		return -1;
	if (h->state == HTTP_S_BODY) {
		switch (h->mode) {
		case HTTP_BODY_NONE:
			h->state = HTTP_S_DONE;
			break;
		case HTTP_BODY_LENGTH:
			i = http_take(h, data, len, cb, arg);
			if (h->left == 0)
				h->state = HTTP_S_DONE;
			break;
		case HTTP_BODY_EOF:
			if (len > 0 && cb != NULL)
				cb(data, len, arg);
			return (ssize_t)len;
		case HTTP_BODY_CHUNKED:
			break;
		}
	}
	while (i < len && h->state != HTTP_S_DONE) {
		if (h->state == HTTP_S_CHUNK_DATA) {
			i += http_take(h, data + i, len - i, cb, arg);
			if (h->left == 0)
				h->state = HTTP_S_CHUNK_DATA_CR;
			continue;
		}
		if ((e = http_chunk_byte(h, (unsigned char)data[i])) != HTTP_OK)
			return http_fail(h, e);
		i++;
	}
	*done = h->state == HTTP_S_DONE;
	return (ssize_t)i;
}

/* Whether s is non-empty and free of SP, DEL and control bytes. */
static int
http_visible(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return 0;
	return 1;
}

int
http_field_ok(const char *line)
{
	size_t nlen = strspn(line, http_tchar);
	const char *p;

	if (nlen == 0 || line[nlen] != ':')
		return 0;
	for (p = line + nlen + 1; *p != '\0'; p++)
		if (((unsigned char)*p < ' ' && *p != '\t') || *p == 0x7f)
			return 0;
	return 1;
}

/* Append s at *pp. */
static void
http_put(char **pp, const char *s)
{
	size_t n = strlen(s);

	memcpy(*pp, s, n);
	*pp += n;
}

int
http_request_build(const struct http_request *rq, char **ret, size_t *retlen)
{
	const char *const *f;
	size_t len;
	char *buf, *p;

	if (rq->method[0] == '\0' ||
	    strspn(rq->method, http_tchar) != strlen(rq->method) ||
	    rq->path[0] != '/' || !http_visible(rq->path) ||
	    (rq->query != NULL && rq->query[0] != '\0' &&
		!http_visible(rq->query)) ||
	    !http_visible(rq->host))
		return -EINVAL;
	/* "M P?Q HTTP/1.1\r\n" "Host: H\r\n" fields "\r\n" */
	len = strlen(rq->method) + 1 + strlen(rq->path) +
	    (rq->query != NULL ? 1 + strlen(rq->query) : 0) + 11 + 6 +
	    strlen(rq->host) + 2 + 2;
	for (f = rq->fields; f != NULL && *f != NULL; f++) {
		if (!http_field_ok(*f))
			return -EINVAL;
		len += strlen(*f) + 2;
	}
	if ((buf = malloc(len)) == NULL)
		return -ENOMEM;
	p = buf;
	http_put(&p, rq->method);
	http_put(&p, " ");
	http_put(&p, rq->path);
	if (rq->query != NULL) {
		http_put(&p, "?");
		http_put(&p, rq->query);
	}
	http_put(
	    &p, rq->http10 ? " HTTP/1.0\r\nHost: " : " HTTP/1.1\r\nHost: ");
	http_put(&p, rq->host);
	http_put(&p, "\r\n");
	for (f = rq->fields; f != NULL && *f != NULL; f++) {
		http_put(&p, *f);
		http_put(&p, "\r\n");
	}
	http_put(&p, "\r\n");
	assert((size_t)(p - buf) == len);
	*ret = buf;
	*retlen = len;
	return 0;
}
