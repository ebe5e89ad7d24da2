/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.1 response head parser and body decoder (RFC 9112), pure: no I/O,
 * no logging, no libevent. It is fed bytes as they arrive and says how many
 * it consumed and whether the head (or body) is complete; bytes after the
 * head are left to the caller. Strict: every deviation below is refused
 * with its own error, and every size a peer controls has a limit.
 * Also parses request heads (http_new_request(), for portfwd.c, which
 * reads what local clients send) and builds them (http_request_build()).
 * Called by ws.c for the upgrade request and its answer, and by portfwd.c
 * for both directions of a forwarded connection.
 *
 * Use: http_new(), http_head_feed() until *done, read the status and
 * headers, then http_body_feed() until *done (or the transport ends, for
 * HTTP_BODY_EOF). After an error the parser only reports that error.
 */
#ifndef WRENND_HTTP_H
#define WRENND_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Why input was refused. Numbers are stable; add new ones at the end. */
enum http_err {
	HTTP_OK,
	HTTP_E_HEAD_TOO_LARGE,	   /* head over limits.max_head bytes */
	HTTP_E_LINE_TOO_LONG,	   /* a line over limits.max_line bytes */
	HTTP_E_TOO_MANY_HEADERS,   /* over limits.max_headers fields */
	HTTP_E_STATUS_LINE,	   /* not "HTTP/1.d ddd[ reason]" */
	HTTP_E_BARE_CR,		   /* CR not followed by LF */
	HTTP_E_BARE_LF,		   /* LF without CR before it */
	HTTP_E_CONTROL,		   /* NUL or another control byte */
	HTTP_E_OBS_FOLD,	   /* a header line starting with SP/HTAB */
	HTTP_E_HEADER_NAME,	   /* empty name or a non-token byte in it */
	HTTP_E_HEADER_COLON,	   /* a header line without ':' */
	HTTP_E_CONTENT_LENGTH,	   /* Content-Length not 1..18 digits */
	HTTP_E_DUP_LENGTH,	   /* Content-Length more than once */
	HTTP_E_TRANSFER_ENCODING,  /* anything but one "chunked" */
	HTTP_E_LENGTH_AND_CHUNKED, /* both framings at once */
	HTTP_E_CHUNK_SIZE,	   /* chunk-size not hex digits */
	HTTP_E_CHUNK_OVERFLOW,	   /* chunk-size over HTTP_MAX_CHUNK */
	HTTP_E_CHUNK_EXT,	   /* a chunk extension (or space) */
	HTTP_E_CHUNK_CRLF,	   /* chunk data not followed by CRLF */
	HTTP_E_TRAILER,		   /* a trailer field after the last chunk */
	HTTP_E_NOMEM,		   /* allocation failure */
	HTTP_E_REQUEST_LINE,	   /* not "METHOD target HTTP/1.d" */
	HTTP_E__MAX
};

#define HTTP_MAX_CHUNK ((uint64_t)1 << 40) /* bytes of one chunk */

struct http_limits {
	size_t max_head;    /* bytes of the whole head; 0: 16 KiB */
	size_t max_line;    /* bytes of one line without CRLF; 0: 8 KiB */
	size_t max_headers; /* header fields; 0: 100 */
};

/* How the body is delimited (a request without framing has none). */
enum http_body_mode {
	HTTP_BODY_NONE,	   /* 1xx, 204, 304: no body */
	HTTP_BODY_LENGTH,  /* Content-Length */
	HTTP_BODY_CHUNKED, /* Transfer-Encoding: chunked */
	HTTP_BODY_EOF,	   /* until the server closes */
};

struct http;

/* A parser with the given limits (NULL: defaults); NULL on OOM. */
struct http *http_new(const struct http_limits *limits);
/* NULL is a no-op. */
void http_free(struct http *h);
/*
 * A parser for a request head: "METHOD request-target HTTP/1.d" (the
 * method a token, the target without SP or control bytes), then fields
 * as for a response. Its body is Content-Length or chunked, else none.
 */
struct http *http_new_request(const struct http_limits *limits);
/* After a request head: the method and the request target (borrowed). */
const char *http_method(const struct http *h);
const char *http_target(const struct http *h);
/* A request head's minor version (0 for HTTP/1.0, 1 for HTTP/1.1), -1
 * before its head is complete. */
int http_minor(const struct http *h);
/*
 * Before the head of a response is complete: it answers a HEAD request,
 * so whatever its fields say it has no body.
 */
void http_set_no_body(struct http *h);

/*
 * Feed head bytes. Returns how many of len were consumed (never past the
 * head's blank line) and sets *done once the head is complete, or -1 on
 * an error (http_error() says which).
 */
ssize_t http_head_feed(struct http *h, const char *data, size_t len, int *done);

/* The error that stopped the parser, HTTP_OK if none. */
enum http_err http_error(const struct http *h);
/* A fixed lower-case text for err; never NULL. */
const char *http_strerror(enum http_err err);

/* After the head: the status code (100..999), 0 before. */
int http_status(const struct http *h);
/* Header fields in order; name and value are borrowed from h (NUL
 * terminated, value without surrounding white space). */
size_t http_header_count(const struct http *h);
void http_header_at(
    const struct http *h, size_t i, const char **name, const char **value);
/* The first value of the named field (any case), or NULL. */
const char *http_header(const struct http *h, const char *name);
/* Whether any field `name` lists `token` (comma-separated, any case). */
int http_header_has_token(
    const struct http *h, const char *name, const char *token);
/* Whether field `name` appears more than once. */
int http_header_repeated(const struct http *h, const char *name);

/* After the head: how the body is delimited; Content-Length or -1. */
enum http_body_mode http_body_mode(const struct http *h);
int64_t http_content_length(const struct http *h);

/* Decoded body bytes; borrowed for the call. */
typedef void (*http_data_cb)(const char *data, size_t len, void *arg);

/*
 * Feed body bytes after a complete head: decoded data goes to cb (may be
 * NULL). Returns how many of len were consumed and sets *done at the end
 * of the body (never for HTTP_BODY_EOF), or -1 on an error.
 */
ssize_t http_body_feed(struct http *h, const char *data, size_t len,
    http_data_cb cb, void *arg, int *done);

/*
 * Whether line is one header field line without CRLF: "Name: value", the
 * name a token (RFC 9110 tchar), the value free of CR, LF, NUL and other
 * control bytes but HTAB.
 */
int http_field_ok(const char *line);

/* A request head to build; every pointer is borrowed for the call. */
struct http_request {
	const char *method;	   /* a token: "GET" */
	const char *path;	   /* origin-form: starts with '/', no SP,
				    * no control bytes */
	const char *query;	   /* after '?' (same bytes), NULL for none */
	const char *host;	   /* the Host value: host[:port], no SP, no
				    * control bytes */
	const char *const *fields; /* field lines (http_field_ok()), NULL
				    * terminated, may be NULL; may hold
				    * secrets (see below) */
	int http10;		   /* "HTTP/1.0" instead of "HTTP/1.1" */
};

/*
 * "METHOD path[?query] HTTP/1.1" (1.0 with http10), "Host: host", each
 * field line, then the
 * blank line, all CRLF terminated. Written straight into one allocation
 * of exactly the right size, so a secret in a field line has no other
 * copy than *ret: the caller wipes it. Returns 0 with *ret (owned, not NUL
 * terminated) and *retlen; -EINVAL, allocating nothing, when a part is
 * malformed; -ENOMEM.
 */
int http_request_build(
    const struct http_request *rq, char **ret, size_t *retlen);

#endif /* WRENND_HTTP_H */
