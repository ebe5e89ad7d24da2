/* SPDX-License-Identifier: MIT */
/*
 * creds.c without a daemon: credential files (trimming, header injection,
 * size, FIFOs and symbolic links: audit 13), JWT claims (exp range: audit
 * 12, run under valgrind in CI), the change watch and the JWT hint.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "conf.h"
#include "creds.h"
#include "tap.h"

static char dir[64];

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL) {
		perror(path);
		exit(99);
	}
	fputs(text, fp);
	fclose(fp);
}

/* A configuration whose token-file (or api-key-file) is path. */
static struct conf *
conf_with(const char *key, const char *path)
{
	struct conf *cfg = conf_new();
	char err[256];

	if (cfg == NULL || conf_set(cfg, key, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "conf_set: %s\n", err);
		exit(99);
	}
	return cfg;
}

/* "h.<base64url(payload)>.s": an unsigned JWT carrying payload. */
static void
make_jwt(const char *payload, char *out, size_t len)
{
	unsigned char b64[4096];
	int n, i, o = 0;

	n = EVP_EncodeBlock(
	    b64, (const unsigned char *)payload, (int)strlen(payload));
	o = snprintf(out, len, "eyJhbGciOiJIUzI1NiJ9.");
	for (i = 0; i < n && (size_t)o + 1 < len; i++) {
		if (b64[i] == '=')
			break;
		out[o++] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	}
	snprintf(out + o, len - (size_t)o, ".c2ln\n");
}

/* Load a token file holding a JWT with payload; NULL on refusal. */
static struct creds *
load_jwt(const char *payload, char *err, size_t errlen)
{
	char path[128], tok[4200];
	struct conf *cfg;
	struct creds *c;

	snprintf(path, sizeof(path), "%s/jwt", dir);
	make_jwt(payload, tok, sizeof(tok));
	write_file(path, tok);
	cfg = conf_with("token-file", path);
	c = creds_load(cfg, err, errlen);
	conf_unref(cfg);
	return c;
}

static void
test_claims(void)
{
	static const struct {
		const char *payload;
		time_t want;
		const char *what;
	} cases[] = {
	    {"{\"exp\":1800000000}", 1800000000, "an integer exp"},
	    {"{\"exp\":1800000000.75}", 1800000000, "a real exp"},
	    {"{\"exp\":253402300799}", 253402300799, "exp at 9999-12-31"},
	    /* audit 12: each of these reached gmtime_r or a cast with
	     * undefined behaviour */
	    {"{\"exp\":9000000000000000000}", 0, "exp past year 9999"},
	    {"{\"exp\":1e300}", 0, "a real exp past time_t"},
	    {"{\"exp\":-1e300}", 0, "a hugely negative real exp"},
	    {"{\"exp\":-5}", 0, "a negative exp"},
	    {"{\"exp\":0}", 0, "exp 0"},
	    {"{\"exp\":\"1800000000\"}", 0, "a string exp"},
	    {"{\"sub\":\"x\"}", 0, "no exp"},
	    {"[1,2]", 0, "claims that are not an object"},
	    {"not json", 0, "claims that are not JSON"},
	};
	char err[256], ts[32];
	struct creds *c;
	size_t i;
	int r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = load_jwt(cases[i].payload, err, sizeof(err));
		ok(c != NULL, "%s: the token loads (%s)", cases[i].what,
		    c == NULL ? err : "ok");
		ok(creds_jwt_expiry(c) == cases[i].want,
		    "%s: expiry want %lld, got %lld", cases[i].what,
		    (long long)cases[i].want, (long long)creds_jwt_expiry(c));
		memset(ts, 'x', sizeof(ts));
		r = creds_jwt_expiry_text(c, ts, sizeof(ts));
		ok(cases[i].want == 0 ? r == -ENOENT : r == 0,
		    "%s: expiry text result %d", cases[i].what, r);
		creds_free(c);
	}
	c = load_jwt(
	    "{\"exp\":253402300799,\"is_admin\":true}", err, sizeof(err));
	r = creds_jwt_expiry_text(c, ts, sizeof(ts));
	ok_int(r, 0, "the latest exp formats");
	ok_str(r == 0 ? ts : NULL, "9999-12-31T23:59:59Z",
	    "the latest exp's text");
	ok(creds_jwt_is_admin(c), "is_admin read");
	r = creds_jwt_expiry_text(c, ts, 8);
	ok(r == -ERANGE, "a short buffer: -ERANGE (got %d)", r);
	creds_free(c);
}

/* Load the API key file at path; NULL on refusal with err set. */
static struct creds *
load_key(const char *path, char *err, size_t errlen)
{
	struct conf *cfg = conf_with("api-key-file", path);
	struct creds *c;

	err[0] = '\0';
	c = creds_load(cfg, err, errlen);
	conf_unref(cfg);
	return c;
}

static void
test_files(void)
{
	char path[128], link[128], big[9000], err[256], hdr[128];
	struct creds *c;
	int n;

	snprintf(path, sizeof(path), "%s/key", dir);
	write_file(path, "  wrn_abc123 \r\n");
	c = load_key(path, err, sizeof(err));
	n = creds_header(c, CREDS_APIKEY, hdr, sizeof(hdr));
	ok_int(n > 0, 1, "a key file gives a header (n=%d, %s)", n, err);
	ok_str(n > 0 ? hdr : NULL, "X-API-Key: wrn_abc123",
	    "a key file is trimmed");
	ok_str(
	    creds_source(c, CREDS_APIKEY), "file", "and its source is 'file'");
	creds_wipe(hdr, sizeof(hdr));
	creds_free(c);

	write_file(path, "wrn_abc\r\nX-Injected: yes\n");
	c = load_key(path, err, sizeof(err));
	ok(c == NULL, "a key that could inject a header is refused");
	ok(strstr(err, "X-Injected") == NULL, "and not echoed (got '%s')", err);

	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file(path, big);
	c = load_key(path, err, sizeof(err));
	ok_null(c, "a 9000-byte key is refused");
	ok_strstr(err, "longer than", "a 9000-byte key: the reason");

	write_file(path, "\n\n");
	c = load_key(path, err, sizeof(err));
	ok_null(c, "an empty key file is refused");
	ok_strstr(err, "empty", "an empty key file: the reason");

	/* audit 13: a FIFO must be refused, not block in open() (the
	 * alarm turns a hang into a failure) */
	snprintf(path, sizeof(path), "%s/fifo", dir);
	if (mkfifo(path, 0600) != 0) {
		ok(0, "mkfifo: %s", strerror(errno));
		return;
	}
	alarm(20);
	c = load_key(path, err, sizeof(err));
	alarm(0);
	ok(c == NULL, "a FIFO key file is refused without blocking");
	ok(strstr(err, "not a regular file") != NULL,
	    "as not a regular file (got '%s')", err);

	snprintf(path, sizeof(path), "%s/real-key", dir);
	snprintf(link, sizeof(link), "%s/link-key", dir);
	write_file(path, "wrn_abc\n");
	if (symlink(path, link) != 0) {
		ok(0, "symlink: %s", strerror(errno));
		return;
	}
	c = load_key(link, err, sizeof(err));
	ok_null(c, "a symbolic link is refused");
	ok_strstr(err, "symbolic link", "a symbolic link: the reason");

	snprintf(path, sizeof(path), "%s/missing", dir);
	c = load_key(path, err, sizeof(err));
	ok_null(c, "a missing file is refused");
	ok_strstr(err, path, "a missing file is named");
}

static void
test_watch(void)
{
	char path[128], fifo[128], err[256];
	struct conf *cfg;
	struct creds *c, *fresh;

	snprintf(path, sizeof(path), "%s/watched", dir);
	write_file(path, "wrn_one\n");
	cfg = conf_with("api-key-file", path);
	c = creds_load(cfg, err, sizeof(err));
	ok(c != NULL, "watched key loads (%s)", c == NULL ? err : "ok");
	if (c == NULL) {
		conf_unref(cfg);
		return;
	}
	ok(!creds_files_changed(c, cfg), "unchanged right after loading");
	write_file(path, "wrn_two_longer\n");
	ok(creds_files_changed(c, cfg), "a rewrite is seen");
	fresh = creds_reload(c, cfg, err, sizeof(err));
	ok_nonnull(fresh, "a reload takes it (%s)", fresh == NULL ? err : "ok");
	ok_int(fresh != NULL ? creds_files_changed(fresh, cfg) : -1, 0,
	    "and the reloaded files count as seen");
	creds_free(c);
	c = fresh;

	/* a FIFO swapped in: seen once, refused, then not retried until
	 * it changes again */
	snprintf(fifo, sizeof(fifo), "%s/watched.fifo", dir);
	if (mkfifo(fifo, 0600) != 0 || rename(fifo, path) != 0) {
		ok(0, "mkfifo/rename: %s", strerror(errno));
		creds_free(c);
		conf_unref(cfg);
		return;
	}
	ok(creds_files_changed(c, cfg), "a FIFO swapped in is seen");
	alarm(20);
	fresh = creds_reload(c, cfg, err, sizeof(err));
	alarm(0);
	ok_null(fresh, "and refused without blocking");
	ok_strstr(err, "not a regular file", "the FIFO: the reason");
	creds_free(fresh);
	creds_files_seen(c, cfg);
	ok(!creds_files_changed(c, cfg),
	    "after creds_files_seen the same FIFO is not retried");
	ok(creds_have(c, CREDS_APIKEY), "the old key is kept");
	(void)unlink(path);
	write_file(path, "wrn_three\n");
	ok(creds_files_changed(c, cfg), "a real file again is seen");
	creds_free(c);
	conf_unref(cfg);
}

static void
test_hint(void)
{
	char path[128], err[256];
	struct conf *cfg;
	struct creds *c;

	c = load_jwt("{\"exp\":1000}", err, sizeof(err));
	snprintf(path, sizeof(path), "%s/jwt", dir);
	cfg = conf_with("token-file", path);
	ok(strstr(creds_jwt_hint(c, cfg), "token file") != NULL,
	    "a JWT from a file: rewrite the file (got '%s')",
	    creds_jwt_hint(c, cfg));
	creds_free(c);
	conf_unref(cfg);

	cfg = conf_new();
	setenv("WRENN_TOKEN", "a.eyJleHAiOjEwMDB9.c", 1);
	c = creds_load(cfg, err, sizeof(err));
	ok(getenv("WRENN_TOKEN") == NULL, "WRENN_TOKEN is scrubbed");
	ok_strstr(creds_jwt_hint(c, cfg), "restart",
	    "from the environment, no config file: restart");
	ok_int(strstr(creds_jwt_hint(c, cfg), "SIGHUP") != NULL, 0,
	    "from the environment, no config file: no SIGHUP (got '%s')",
	    creds_jwt_hint(c, cfg));
	cfg->conf_file = strdup("/etc/wrennd/wrennd.conf");
	ok(strstr(creds_jwt_hint(c, cfg), "SIGHUP") != NULL,
	    "with a config file: a token-file and SIGHUP (got '%s')",
	    creds_jwt_hint(c, cfg));
	creds_free(c);
	conf_unref(cfg);
}

int
main(void)
{
	int r;

	snprintf(dir, sizeof(dir), "/tmp/test-creds.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		printf("1..0 # SKIP mkdtemp: %s\n", strerror(errno));
		return 0;
	}
	(void)unsetenv("WRENN_API_KEY");
	(void)unsetenv("WRENN_TOKEN");
	(void)unsetenv("CREDENTIALS_DIRECTORY");
	test_claims();
	test_files();
	test_watch();
	test_hint();
	r = done_testing();
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			diag("could not remove %s", dir);
	}
	return r;
}
