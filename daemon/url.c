/* SPDX-License-Identifier: MIT */
/*
 * URL parsing and joining on libcurl's CURLU (see url.h). The raw text is
 * checked first for what CURLU is lenient about (scheme spelling, bytes,
 * userinfo, fragments, an empty port); CURLU then splits it, and each part
 * is checked again. Called by conf.c, upstream.c, stream.c and ws.c.
 */
#include "config.h"

#include "url.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#define URL_MAX_HOST 253 /* bytes of a host name (RFC 1035) */

static const struct {
	const char *name;
	unsigned port;
	int tls;
} url_schemes[URL_SCHEME__MAX] = {
    [URL_HTTP] = {"http", 80, 0},
    [URL_HTTPS] = {"https", 443, 1},
    [URL_WS] = {"ws", 80, 0},
    [URL_WSS] = {"wss", 443, 1},
};

const char *
url_scheme_name(enum url_scheme scheme)
{
	if ((unsigned)scheme >= URL_SCHEME__MAX)
		return "unknown";
	return url_schemes[scheme].name;
}

void
url_free(struct url *u)
{
	if (u == NULL)
		return;
	free(u->host);
	free(u->hostport);
	free(u->path);
	free(u->query);
	free(u);
}

/* The scheme before "://", or URL_SCHEME__MAX. *rest: after "://". */
static enum url_scheme
url_raw_scheme(const char *text, const char **rest)
{
	size_t n = strcspn(text, ":");
	unsigned i;

	if (strncmp(text + n, "://", 3) != 0)
		return URL_SCHEME__MAX;
	for (i = 0; i < URL_SCHEME__MAX; i++)
		if (strlen(url_schemes[i].name) == n &&
		    strncasecmp(text, url_schemes[i].name, n) == 0) {
			*rest = text + n + 3;
			return (enum url_scheme)i;
		}
	return URL_SCHEME__MAX;
}

/*
 * What CURLU accepts but we do not, judged on the raw text. NULL if fine.
 * auth is the authority (after "://"), alen its length.
 */
static const char *
url_raw_check(const char *text, const char *auth, size_t alen)
{
	const char *p, *colon;

	for (p = text; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return "URL must not contain spaces, control or "
			       "non-ASCII characters";
	if (strchr(text, '#') != NULL)
		return "URL must not contain a fragment";
	if (memchr(auth, '@', alen) != NULL)
		return "URL must not carry credentials";
	if (alen == 0 || *auth == ':')
		return "URL has no host";
	p = auth;
	if (*p == '[' && (p = memchr(auth, ']', alen)) == NULL)
		return "URL has a malformed IPv6 address";
	colon = memchr(p, ':', alen - (size_t)(p - auth));
	if (colon != NULL && colon == auth + alen - 1)
		return "URL has an empty port";
	return NULL;
}

/* A host as CURLU returned it: a name or "[v6]". NULL if fine. */
static const char *
url_host_check(const char *host)
{
	size_t n = strlen(host);

	if (n == 0)
		return "URL has no host";
	if (host[0] == '[') {
		if (n < 3 || host[n - 1] != ']' ||
		    strspn(host + 1, "0123456789abcdefABCDEF:.") != n - 2)
			return "URL has a malformed IPv6 address";
		return NULL;
	}
	if (n > URL_MAX_HOST)
		return "URL host name is too long";
	if (strspn(host,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"0123456789.-_") != n)
		return "URL host must be an ASCII name or an IP address";
	return NULL;
}

/* Fill u from the CURLU handle. 0, -EINVAL with *why, -ENOMEM. */
static int
url_from_curlu(CURLU *cu, const char *text, struct url *u, const char **why)
{
	char *part = NULL, *end;
	unsigned long port;
	CURLUcode rc;
	size_t n;
	int r = -EINVAL;

	if (curl_url_get(cu, CURLUPART_USER, &part, 0) == CURLUE_OK ||
	    curl_url_get(cu, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK ||
	    curl_url_get(cu, CURLUPART_OPTIONS, &part, 0) == CURLUE_OK) {
		*why = "URL must not carry credentials";
		goto out;
	}
	if (curl_url_get(cu, CURLUPART_ZONEID, &part, 0) == CURLUE_OK) {
		*why = "URL must not carry an IPv6 zone id";
		goto out;
	}
	if (curl_url_get(cu, CURLUPART_HOST, &part, 0) != CURLUE_OK) {
		*why = "URL has no host";
		goto out;
	}
	if ((*why = url_host_check(part)) != NULL)
		goto out;
	n = strlen(part);
	r = -ENOMEM;
	if (part[0] == '[')
		u->host = strndup(part + 1, n - 2);
	else
		u->host = strdup(part);
	if (u->host == NULL)
		goto out;
	curl_free(part);
	part = NULL;

	r = -EINVAL;
	u->port = url_schemes[u->scheme].port;
	rc = curl_url_get(cu, CURLUPART_PORT, &part, 0);
	if (rc == CURLUE_OK) {
		port = strtoul(part, &end, 10);
		if (*end != '\0' || port == 0 || port > 65535) {
			*why = "URL has a bad port";
			goto out;
		}
		u->port = (unsigned)port;
	} else if (rc != CURLUE_NO_PORT) {
		*why = "URL has a bad port";
		goto out;
	}
	curl_free(part);
	part = NULL;

	r = -ENOMEM;
	if (curl_url_get(cu, CURLUPART_PATH, &part, 0) != CURLUE_OK)
		goto out;
	if ((u->path = strdup(part)) == NULL)
		goto out;
	curl_free(part);
	part = NULL;

	rc = curl_url_get(cu, CURLUPART_QUERY, &part, 0);
	if (rc == CURLUE_OK)
		u->query = strdup(part);
	else if (strchr(text, '?') != NULL)
		u->query = strdup(""); /* a bare '?' */
	if ((rc == CURLUE_OK || strchr(text, '?') != NULL) && u->query == NULL)
		goto out;
	r = 0;
out:
	curl_free(part);
	return r;
}

/* The Host header form of u: host or [v6], ":port" unless the default. */
static int
url_make_hostport(struct url *u)
{
	int v6 = strchr(u->host, ':') != NULL;
	char port[8] = "";
	size_t n;

	if (u->port != url_schemes[u->scheme].port)
		(void)snprintf(port, sizeof(port), ":%u", u->port);
	n = strlen(u->host) + 2 + strlen(port) + 1;
	if ((u->hostport = malloc(n)) == NULL)
		return -ENOMEM;
	(void)snprintf(u->hostport, n, "%s%s%s%s", v6 ? "[" : "", u->host,
	    v6 ? "]" : "", port);
	return 0;
}

/* Our words for CURLU's refusals. */
static const char *
url_curlu_error(CURLUcode rc)
{
	switch (rc) {
	case CURLUE_BAD_PORT_NUMBER:
		return "URL has a bad port";
#if LIBCURL_VERSION_NUM >= 0x074e00
	case CURLUE_BAD_HOSTNAME:
	case CURLUE_BAD_IPV6:
		return "URL host must be an ASCII name or an IP address";
	case CURLUE_NO_HOST:
		return "URL has no host";
#endif
	default:
		return "not a valid URL";
	}
}

int
url_parse(const char *text, struct url **ret, const char **reterr)
{
	const char *why = NULL, *auth = NULL;
	enum url_scheme scheme;
	struct url *u = NULL;
	CURLU *cu = NULL;
	CURLUcode rc;
	int r = -EINVAL;

	if (text == NULL || ret == NULL || reterr == NULL) {
		if (reterr != NULL)
			*reterr = "no URL";
		return -EINVAL;
	}
	scheme = url_raw_scheme(text, &auth);
	if (scheme == URL_SCHEME__MAX) {
		why = "URL must start with http://, https://, ws:// or wss://";
		goto out;
	}
	if ((why = url_raw_check(text, auth, strcspn(auth, "/?"))) != NULL)
		goto out;
	r = -ENOMEM;
	if ((cu = curl_url()) == NULL || (u = calloc(1, sizeof(*u))) == NULL)
		goto out;
	u->scheme = scheme;
	u->tls = url_schemes[scheme].tls;
	/* ws/wss are unknown to a curl built without WebSockets. */
	rc = curl_url_set(cu, CURLUPART_URL, text,
	    CURLU_NON_SUPPORT_SCHEME | CURLU_PATH_AS_IS);
	if (rc == CURLUE_OUT_OF_MEMORY)
		goto out;
	r = -EINVAL;
	if (rc != CURLUE_OK) {
		why = url_curlu_error(rc);
		goto out;
	}
	if ((r = url_from_curlu(cu, text, u, &why)) < 0)
		goto out;
	if ((r = url_make_hostport(u)) < 0)
		goto out;
	*ret = u;
	u = NULL;
out:
	curl_url_cleanup(cu);
	url_free(u);
	if (r == -ENOMEM)
		why = "out of memory";
	if (r < 0)
		*reterr = why != NULL ? why : "not a valid URL";
	return r;
}

int
url_join(const struct url *base, enum url_join_as as, const char *path_query,
    char **ret)
{
	enum url_scheme scheme;
	size_t n, plen;
	char *s;

	if (base == NULL || path_query == NULL || ret == NULL)
		return -EINVAL;
	scheme = base->scheme;
	if (as == URL_AS_WS && scheme == URL_HTTP)
		scheme = URL_WS;
	else if (as == URL_AS_WS && scheme == URL_HTTPS)
		scheme = URL_WSS;
	while (*path_query == '/')
		path_query++;
	plen = strlen(base->path);
	while (plen > 0 && base->path[plen - 1] == '/')
		plen--;
	n = strlen(url_schemes[scheme].name) + 3 + strlen(base->hostport) +
	    plen + 1 + strlen(path_query) + 1;
	if ((s = malloc(n)) == NULL)
		return -ENOMEM;
	(void)snprintf(s, n, "%s://%s%.*s/%s", url_schemes[scheme].name,
	    base->hostport, (int)plen, base->path, path_query);
	*ret = s;
	return 0;
}

int
url_join_text(const char *base_text, enum url_join_as as,
    const char *path_query, char **ret, const char **reterr)
{
	struct url *u;
	int r;

	if ((r = url_parse(base_text, &u, reterr)) < 0)
		return r;
	r = url_join(u, as, path_query, ret);
	if (r < 0)
		*reterr = r == -ENOMEM ? "out of memory" : "cannot join";
	url_free(u);
	return r;
}
