/* SPDX-License-Identifier: MIT */
/*
 * url.c: the data suite tests/unit/data/url/<case>/{input,expected} (input
 * is one URL; expected is the parse or the error, and the join of
 * "/v1/x") plus the API edges. No daemon, no network.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "datasuite.h"
#include "url.h"

/* One case: parse the first line of input, print the parts and joins. */
static void
url_case(const char *input, size_t len, struct ds_out *o)
{
	const char *err = NULL;
	struct url *u = NULL;
	char *text, *j1 = NULL, *j2 = NULL;
	int r;

	if (len > 0 && input[len - 1] == '\n')
		len--;
	if ((text = strndup(input, len)) == NULL)
		abort();
	r = url_parse(text, &u, &err);
	if (r < 0) {
		ds_printf(o, "error: %s\n", err);
		free(text);
		return;
	}
	if (url_join(u, URL_AS_IS, "/v1/x", &j1) < 0 ||
	    url_join(u, URL_AS_WS, "/v1/x", &j2) < 0)
		abort();
	ds_printf(o,
	    "scheme: %s\nhost: %s\nport: %u\nhostport: %s\npath: %s\n"
	    "query: %s\njoin: %s\njoin-ws: %s\n",
	    url_scheme_name(u->scheme), u->host, u->port, u->hostport, u->path,
	    u->query != NULL ? u->query : "(none)", j1, j2);
	free(j1);
	free(j2);
	url_free(u);
	free(text);
}

/* url_join_text(base, as, path) gives want. */
static void
join_case(
    const char *base, enum url_join_as as, const char *path, const char *want)
{
	const char *err = "";
	char *s = NULL;
	int r = url_join_text(base, as, path, &s, &err);

	ok_int(r, 0, "join '%s' + '%s': succeeds (%s)", base, path,
	    r < 0 ? err : "");
	ok_str(s, want, "join '%s' + '%s': the URL", base, path);
	free(s);
}

static void
test_api(void)
{
	const char *err = NULL;
	struct url *u = NULL;
	char *s = NULL;
	int r;

	join_case("https://h/api", URL_AS_WS, "/v1/sandboxes/ID/exec/stream",
	    "wss://h/api/v1/sandboxes/ID/exec/stream");
	join_case("http://127.0.0.1:8080/", URL_AS_WS, "v1/x",
	    "ws://127.0.0.1:8080/v1/x");
	join_case("HTTPS://h/", URL_AS_WS, "/v1/x", "wss://h/v1/x");
	join_case("https://h/api//", URL_AS_IS, "//v1/x?a=b",
	    "https://h/api/v1/x?a=b");
	join_case("wss://h:8443", URL_AS_WS, "x", "wss://h:8443/x");
	join_case("http://[::1]:80/p", URL_AS_IS, "", "http://[::1]/p/");

	r = url_join_text("ftp://h", URL_AS_WS, "/x", &s, &err);
	ok(r == -EINVAL, "join: other schemes: want %d, got %d", -EINVAL, r);
	ok(s == NULL, "join: *ret untouched on failure");
	ok_strstr(err, "http://", "join: the error names the schemes");

	err = NULL;
	r = url_parse("https://user:secret@h/", &u, &err);
	ok_int(r, -EINVAL, "userinfo refused");
	ok_null(u, "userinfo: no URL returned");
	ok_nonnull(err, "userinfo: an error is given");
	ok_int(err != NULL && strstr(err, "secret") != NULL, 0,
	    "the error never quotes the URL (%s)", err ? err : "(null)");
	r = url_parse(NULL, &u, &err);
	ok(r == -EINVAL, "NULL text: want %d, got %d", -EINVAL, r);
	ok(url_join(NULL, URL_AS_IS, "x", &s) == -EINVAL,
	    "url_join(NULL base) is -EINVAL");
	ok(strcmp(url_scheme_name(URL_SCHEME__MAX), "unknown") == 0,
	    "scheme name out of range: unknown");
	url_free(NULL);
	ok(1, "url_free(NULL) is a no-op");
}

int
main(void)
{
	datasuite_run("url", url_case);
	test_api();
	return done_testing();
}
