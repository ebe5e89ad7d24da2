/* SPDX-License-Identifier: MIT */
/*
 * The one URL parser of the daemon, built on libcurl's CURLU: the control
 * plane's base URL (conf.c validates it, upstream.c builds request URLs
 * from it) and the WebSocket connect target (ws.c) all go through
 * url_parse(), so they agree at the edges. Pure: no I/O, no logging.
 *
 * Accepted: scheme http, https, ws or wss (any case), "://", a host (a
 * name of letters, digits, '-', '.', '_', or a bracketed IPv6 literal), an
 * optional port 1..65535, an optional path and query. Refused: userinfo,
 * fragments, empty or non-ASCII hosts, IPv6 zone ids, spaces and control
 * or 8-bit bytes anywhere.
 */
#ifndef WRENND_URL_H
#define WRENND_URL_H

enum url_scheme { URL_HTTP, URL_HTTPS, URL_WS, URL_WSS, URL_SCHEME__MAX };

struct url {
	enum url_scheme scheme;
	int tls;	/* https or wss */
	char *host;	/* owned: as written, no [] around IPv6 */
	unsigned port;	/* the explicit port, else the scheme's default */
	char *hostport; /* owned: for a Host header: host, [v6], with
			 * ":port" only when not the default */
	char *path;	/* owned: the path as written, "/" if none (no
			 * dot-segment removal, percent-encoding kept) */
	char *query;	/* owned: after '?', NULL when there is no '?' */
};

/*
 * Parse text. Returns 0 and an owned struct in *ret (free with
 * url_free()), -EINVAL with a fixed message in *reterr (it never quotes
 * the input, which may hold a password), or -ENOMEM.
 */
int url_parse(const char *text, struct url **ret, const char **reterr);

/* NULL is a no-op. */
void url_free(struct url *u);

/* The scheme's lower-case name ("https"). */
const char *url_scheme_name(enum url_scheme scheme);

/* How url_join() spells the scheme. */
enum url_join_as {
	URL_AS_IS, /* keep the base URL's scheme */
	URL_AS_WS, /* http -> ws, https -> wss (ws, wss kept) */
};

/*
 * base's scheme (per as), host[:port] and path prefix (its trailing
 * slashes dropped), then path_query joined with exactly one slash
 * ("https://h/api" + "v1/x" or "/v1/x" ->
 * ".../api/v1/x"). base's own query is dropped. Returns 0 and a string the
 * caller frees in *ret, -EINVAL, -ENOMEM.
 */
int url_join(const struct url *base, enum url_join_as as,
    const char *path_query, char **ret);

/* url_parse(base_text) then url_join(); *reterr as in url_parse(). */
int url_join_text(const char *base_text, enum url_join_as as,
    const char *path_query, char **ret, const char **reterr);

#endif /* WRENND_URL_H */
