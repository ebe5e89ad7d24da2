/* SPDX-License-Identifier: MIT */
/*
 * Credential store (see creds.h). Secrets live in one mlock'ed allocation
 * per credential, are validated so they can never inject a header line, and
 * are wiped before free. Environment copies are scrubbed after reading so
 * no child process or /proc/PID/environ reader can find them later.
 */
#include "config.h"

#include "creds.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "conf.h"

#define CREDS_MAX 8192 /* bytes of one credential */
/* The latest exp claim taken: 9999-12-31T23:59:59Z, Unix seconds. */
#define CREDS_EXP_MAX 253402300799LL

struct creds_secret {
	char *buf;	    /* owned, mlock'ed, NUL terminated; NULL if unset */
	size_t len;	    /* bytes of the secret */
	const char *source; /* "env", "file", "credentials" (static) */
	struct stat st;	    /* of the file it came from */
	struct stat seen;   /* the file as the watch last judged it: st, or
			     * what a failed reload found (change detection) */
};

struct creds {
	struct creds_secret s[CREDS__MAX];
	time_t jwt_exp; /* exp claim or 0 */
	int jwt_admin;	/* is_admin claim */
};

void
creds_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

static void
creds_secret_clear(struct creds_secret *s)
{
	if (s->buf != NULL) {
		creds_wipe(s->buf, s->len + 1);
		(void)munlock(s->buf, s->len + 1);
		free(s->buf);
	}
	memset(s, 0, sizeof(*s));
}

void
creds_free(struct creds *c)
{
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < CREDS__MAX; i++)
		creds_secret_clear(&c->s[i]);
	free(c);
}

/*
 * Store text[0..len) as a secret after trimming surrounding whitespace and
 * checking that it is printable ASCII without spaces (a header value that
 * cannot break the request). Returns 0 or -EINVAL with err set.
 */
static int
creds_secret_set(struct creds_secret *s, const char *text, size_t len,
    const char *what, const char *source, char *err, size_t errlen)
{
	size_t i;

	while (len > 0 &&
	    (text[len - 1] == '\n' || text[len - 1] == '\r' ||
		text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	while (len > 0 && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	if (len == 0) {
		snprintf(err, errlen, "%s is empty", what);
		return -EINVAL;
	}
	if (len > CREDS_MAX) {
		snprintf(
		    err, errlen, "%s is longer than %d bytes", what, CREDS_MAX);
		return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)text[i] <= 0x20 ||
		    (unsigned char)text[i] >= 0x7f) {
			snprintf(err, errlen,
			    "%s contains a space, control or non-ASCII byte "
			    "at offset %zu",
			    what, i);
			return -EINVAL;
		}
	}
	if ((s->buf = malloc(len + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(s->buf, text, len);
	s->buf[len] = '\0';
	(void)mlock(s->buf, len + 1);
	s->len = len;
	s->source = source;
	return 0;
}

/* Read a small secret file into s. */
static int
creds_read_file(struct creds_secret *s, const char *path, const char *what,
    const char *source, char *err, size_t errlen)
{
	char buf[CREDS_MAX + 64];
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd, r;

	memset(buf, 0, sizeof(buf));
	/* O_NONBLOCK: a FIFO or device swapped in for the file must not
	 * block the event loop in open(); it is refused by the fstat check
	 * before any read. O_NOFOLLOW: the file itself, never a link. */
	fd = open(
	    path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
	if (fd == -1) {
		r = -errno;
		if (errno == ELOOP)
			snprintf(err, errlen,
			    "%s '%s': is a symbolic link; name the file itself",
			    what, path);
		else
			snprintf(err, errlen, "%s '%s': %s", what, path,
			    strerror(errno));
		return r;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(
		    err, errlen, "%s '%s': not a regular file", what, path);
		close(fd);
		return -EINVAL;
	}
	while (got < sizeof(buf)) {
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			/* a regular file never answers EAGAIN */
			snprintf(err, errlen, "%s '%s': %s", what, path,
			    strerror(errno));
			close(fd);
			creds_wipe(buf, sizeof(buf));
			return -EIO;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got == sizeof(buf)) {
		creds_wipe(buf, sizeof(buf));
		snprintf(err, errlen, "%s '%s': longer than %d bytes", what,
		    path, CREDS_MAX);
		return -EINVAL;
	}
	r = creds_secret_set(s, buf, got, what, source, err, errlen);
	creds_wipe(buf, sizeof(buf));
	if (r == 0)
		s->st = s->seen = st;
	return r;
}

/* Take a secret from the environment and scrub the variable. */
static int
creds_from_env(
    struct creds_secret *s, const char *name, char *err, size_t errlen)
{
	char *v;
	int r;

	if ((v = getenv(name)) == NULL)
		return 0;
	r = creds_secret_set(s, v, strlen(v), name, "env", err, errlen);
	creds_wipe(v, strlen(v));
	(void)unsetenv(name);
	return r;
}

/*
 * Decode the JWT payload (base64url, unpadded) and read exp / is_admin. An
 * exp outside 1..CREDS_EXP_MAX (or not a number) counts as absent: the
 * control plane judges such a token, and no caller ever formats a time
 * gmtime_r cannot represent or casts a real that does not fit time_t.
 */
static void
creds_jwt_claims(struct creds *c)
{
	const char *tok = c->s[CREDS_JWT].buf, *p1, *p2;
	unsigned char *raw = NULL;
	char *b64 = NULL;
	json_t *claims, *v;
	size_t n, i, padded;
	int out;

	c->jwt_exp = 0;
	c->jwt_admin = 0;
	if (tok == NULL || (p1 = strchr(tok, '.')) == NULL ||
	    (p2 = strchr(p1 + 1, '.')) == NULL)
		return;
	n = (size_t)(p2 - p1 - 1);
	if (n == 0 || n > CREDS_MAX)
		return;
	padded = (n + 3) / 4 * 4;
	if ((b64 = malloc(padded + 1)) == NULL ||
	    (raw = malloc(padded)) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		char ch = p1[1 + i];
		b64[i] = ch == '-' ? '+' : ch == '_' ? '/' : ch;
	}
	for (; i < padded; i++)
		b64[i] = '=';
	b64[padded] = '\0';
	out = EVP_DecodeBlock(raw, (unsigned char *)b64, (int)padded);
	if (out <= 0)
		goto out;
	out -= (int)(padded - n); /* EVP_DecodeBlock counts padding */
	if (out <= 0)
		goto out;
	claims = json_loadb((const char *)raw, (size_t)out, 0, NULL);
	if (claims != NULL) {
		v = json_object_get(claims, "exp");
		if (json_is_integer(v) && json_integer_value(v) >= 1 &&
		    json_integer_value(v) <= CREDS_EXP_MAX)
			c->jwt_exp = (time_t)json_integer_value(v);
		else if (json_is_real(v) && json_real_value(v) >= 1.0 &&
		    json_real_value(v) <= (double)CREDS_EXP_MAX)
			c->jwt_exp = (time_t)json_real_value(v);
		c->jwt_admin =
		    json_is_true(json_object_get(claims, "is_admin"));
		json_decref(claims);
	}
out:
	if (b64 != NULL) {
		creds_wipe(b64, padded + 1);
		free(b64);
	}
	if (raw != NULL) {
		creds_wipe(raw, padded);
		free(raw);
	}
}

/* Copy a secret from another store. */
static int
creds_secret_copy(struct creds_secret *dst, const struct creds_secret *src,
    char *err, size_t errlen)
{
	if (src->buf == NULL)
		return 0;
	return creds_secret_set(
	    dst, src->buf, src->len, "credential", src->source, err, errlen);
}

/* Whether path is a regular file of at most a few bytes, all white space. */
static int
creds_blank_file(const char *path, const struct stat *st)
{
	char buf[8];
	ssize_t n, i;
	int fd;

	if (!S_ISREG(st->st_mode) || st->st_size > (off_t)sizeof(buf))
		return 0;
	fd = open(
	    path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
	if (fd == -1)
		return 0;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	for (i = 0; i < n; i++)
		if (buf[i] != '\n' && buf[i] != '\r' && buf[i] != ' ' &&
		    buf[i] != '\t')
			return 0;
	return n >= 0;
}

/*
 * A systemd credential ($CREDENTIALS_DIRECTORY/name), read at start and,
 * on a reload, again when the running value came from there (prev). A
 * missing or blank file is none (the units' SetCredential= default, a
 * newline, for a LoadCredential= whose file does not exist): 1, s
 * untouched.
 */
static int
creds_get_credential(struct creds_secret *s, const char *name,
    const struct creds_secret *prev, const char *what, char *err, size_t errlen)
{
	const char *d = getenv("CREDENTIALS_DIRECTORY");
	char path[PATH_MAX];
	struct stat st;

	if (d == NULL || *d != '/' ||
	    (prev != NULL &&
		(prev->source == NULL ||
		    strcmp(prev->source, "credentials") != 0)))
		return 1;
	snprintf(path, sizeof(path), "%s/%s", d, name);
	if (lstat(path, &st) == -1 || creds_blank_file(path, &st))
		return 1;
	return creds_read_file(s, path, what, "credentials", err, errlen);
}

/*
 * The API key: the configured file; else, at start, WRENN_API_KEY, else
 * systemd's $CREDENTIALS_DIRECTORY/wrenn-api-key. On a reload (old set)
 * the credentials directory is read again and an environment value kept.
 */
static int
creds_get_apikey(struct creds *c, const struct conf *cfg,
    const struct creds *old, char *err, size_t errlen)
{
	const struct creds_secret *prev =
	    old != NULL ? &old->s[CREDS_APIKEY] : NULL;
	int r;

	if (cfg->api_key_file != NULL)
		return creds_read_file(&c->s[CREDS_APIKEY], cfg->api_key_file,
		    "API key file", "file", err, errlen);
	if (old == NULL && getenv("WRENN_API_KEY") != NULL)
		return creds_from_env(
		    &c->s[CREDS_APIKEY], "WRENN_API_KEY", err, errlen);
	if ((r = creds_get_credential(&c->s[CREDS_APIKEY], "wrenn-api-key",
		 prev, "API key credential", err, errlen)) <= 0)
		return r;
	return prev != NULL
	    ? creds_secret_copy(&c->s[CREDS_APIKEY], prev, err, errlen)
	    : 0;
}

/*
 * The JWT: the configured file; else, at start, WRENN_TOKEN, else
 * $CREDENTIALS_DIRECTORY/wrenn-token; as the API key on a reload.
 */
static int
creds_get_jwt(struct creds *c, const struct conf *cfg, const struct creds *old,
    char *err, size_t errlen)
{
	const struct creds_secret *prev =
	    old != NULL ? &old->s[CREDS_JWT] : NULL;
	int r;

	if (cfg->token_file != NULL)
		return creds_read_file(&c->s[CREDS_JWT], cfg->token_file,
		    "token file", "file", err, errlen);
	if (old == NULL && getenv("WRENN_TOKEN") != NULL)
		return creds_from_env(
		    &c->s[CREDS_JWT], "WRENN_TOKEN", err, errlen);
	if ((r = creds_get_credential(&c->s[CREDS_JWT], "wrenn-token", prev,
		 "token credential", err, errlen)) <= 0)
		return r;
	return prev != NULL
	    ? creds_secret_copy(&c->s[CREDS_JWT], prev, err, errlen)
	    : 0;
}

/* Scrub a variable nobody may inherit. */
static void
creds_scrub_env(const char *name)
{
	char *v;

	if ((v = getenv(name)) != NULL) {
		creds_wipe(v, strlen(v));
		(void)unsetenv(name);
	}
}

/* Load (old NULL) or reload the store. */
static struct creds *
creds_build(
    const struct conf *cfg, const struct creds *old, char *err, size_t errlen)
{
	struct creds *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (creds_get_apikey(c, cfg, old, err, errlen) != 0 ||
	    creds_get_jwt(c, cfg, old, err, errlen) != 0) {
		creds_free(c);
		return NULL;
	}
	creds_jwt_claims(c);
	return c;
}

struct creds *
creds_load(const struct conf *cfg, char *err, size_t errlen)
{
	struct creds *c = creds_build(cfg, NULL, err, errlen);

	/* Unused or not, these never reach a child or /proc/PID/environ. */
	creds_scrub_env("WRENN_API_KEY");
	creds_scrub_env("WRENN_TOKEN");
	return c;
}

struct creds *
creds_reload(
    const struct creds *old, const struct conf *cfg, char *err, size_t errlen)
{
	return creds_build(cfg, old, err, errlen);
}
/* Whether path now differs from the file s was read from. */
static int
creds_file_changed(const struct creds_secret *s, const char *path)
{
	struct stat st;

	if (path == NULL || s->buf == NULL || lstat(path, &st) == -1)
		return 0;
	return st.st_ino != s->seen.st_ino || st.st_dev != s->seen.st_dev ||
	    st.st_mode != s->seen.st_mode || st.st_size != s->seen.st_size ||
	    st.st_mtim.tv_sec != s->seen.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != s->seen.st_mtim.tv_nsec;
}

int
creds_files_changed(const struct creds *c, const struct conf *cfg)
{
	return creds_file_changed(&c->s[CREDS_APIKEY], cfg->api_key_file) ||
	    creds_file_changed(&c->s[CREDS_JWT], cfg->token_file);
}

/* Record what path is now, if s came from a file. */
static void
creds_file_seen(struct creds_secret *s, const char *path)
{
	struct stat st;

	if (path != NULL && s->buf != NULL && lstat(path, &st) == 0)
		s->seen = st;
}

void
creds_files_seen(struct creds *c, const struct conf *cfg)
{
	creds_file_seen(&c->s[CREDS_APIKEY], cfg->api_key_file);
	creds_file_seen(&c->s[CREDS_JWT], cfg->token_file);
}

int
creds_have(const struct creds *c, enum creds_kind kind)
{
	return c != NULL && kind < CREDS__MAX && c->s[kind].buf != NULL;
}

int
creds_header(const struct creds *c, enum creds_kind kind, char *buf, size_t len)
{
	int n;

	if (!creds_have(c, kind))
		return -ENOENT;
	if (kind == CREDS_APIKEY)
		n = snprintf(buf, len, "X-API-Key: %s", c->s[kind].buf);
	else
		n = snprintf(
		    buf, len, "Authorization: Bearer %s", c->s[kind].buf);
	if (n < 0 || (size_t)n >= len) {
		creds_wipe(buf, len);
		return -ENOSPC;
	}
	return n;
}

int
creds_ws_auth(const struct creds *c, char *buf, size_t len)
{
	static const char head[] = "{\"type\":\"auth\",\"token\":\"";
	const struct creds_secret *sec;
	size_t n = sizeof(head) - 1, i;

	if (!creds_have(c, CREDS_JWT))
		return -ENOENT;
	sec = &c->s[CREDS_JWT];
	if (len < n)
		goto nospc;
	memcpy(buf, head, n);
	/* Printable ASCII (creds_secret_set): only '"' and '\\' need an
	 * escape in a JSON string. */
	for (i = 0; i < sec->len; i++) {
		if (n + 2 >= len)
			goto nospc;
		if (sec->buf[i] == '"' || sec->buf[i] == '\\')
			buf[n++] = '\\';
		buf[n++] = sec->buf[i];
	}
	if (n + 3 > len)
		goto nospc;
	memcpy(buf + n, "\"}", 3);
	return (int)(n + 2);
nospc:
	creds_wipe(buf, len);
	return -ENOSPC;
}

int
creds_redact(const struct creds *c, enum creds_kind kind, const char *buf,
    size_t len, char **ret_copy)
{
	const struct creds_secret *sec;
	char *copy, *p, *end;

	*ret_copy = NULL;
	if (!creds_have(c, kind))
		return 0;
	sec = &c->s[kind];
	if (memmem(buf, len, sec->buf, sec->len) == NULL)
		return 0;
	if ((copy = malloc(len + 1)) == NULL)
		return -ENOMEM;
	memcpy(copy, buf, len);
	copy[len] = '\0';
	end = copy + len;
	for (p = copy;
	     (p = memmem(p, (size_t)(end - p), sec->buf, sec->len)) != NULL;
	     p += sec->len)
		memset(p, '*', sec->len);
	*ret_copy = copy;
	return 1;
}

time_t
creds_jwt_expiry(const struct creds *c)
{
	return c != NULL ? c->jwt_exp : 0;
}

int
creds_jwt_expiry_text(const struct creds *c, char *buf, size_t len)
{
	struct tm tm;
	time_t exp = creds_jwt_expiry(c);

	if (exp <= 0)
		return -ENOENT;
	if (gmtime_r(&exp, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -ERANGE;
	return 0;
}

const char *
creds_jwt_hint(const struct creds *c, const struct conf *cfg)
{
	if (creds_source(c, CREDS_JWT) != NULL &&
	    strcmp(creds_source(c, CREDS_JWT), "file") == 0)
		return "write a fresh token to the token file: wrennd re-reads "
		       "it when it changes (or on SIGHUP)";
	if (cfg != NULL && cfg->conf_file != NULL)
		return "name a token-file in the configuration file and send "
		       "SIGHUP (WRENN_TOKEN is only read at start), or restart "
		       "wrennd with a fresh WRENN_TOKEN";
	return "restart wrennd with a fresh WRENN_TOKEN or a --token-file "
	       "(WRENN_TOKEN is only read at start)";
}

int
creds_jwt_is_admin(const struct creds *c)
{
	return c != NULL && c->jwt_admin;
}

const char *
creds_source(const struct creds *c, enum creds_kind kind)
{
	if (!creds_have(c, kind))
		return NULL;
	return c->s[kind].source;
}
