/* SPDX-License-Identifier: MIT */
/*
 * The daemon's one TLS verification policy (see tlsctx.h): the system trust
 * store plus the certificates of an optional extra CA bundle, peer and host
 * name verification, TLS 1.2 minimum. The extra CA file is read once, in
 * tlsctx_new, and its certificates are added to every store the policy is
 * applied to, so a file that changes on disk is only picked up by a new
 * policy (a reload), never half-way through a connection pool's life.
 * The system trust store is resolved once too ($SSL_CERT_FILE and
 * $SSL_CERT_DIR, else libcurl's built-in bundle and directory, else
 * OpenSSL's), and only what exists is handed to libcurl and OpenSSL: a
 * missing system bundle never fails a connection that --ca-file covers.
 * Owns: an SSL_CTX for ws.c, the parsed extra CA certificates and the
 * resolved trust store paths.
 * Called by: wrennd.c (build), upstream.c (libcurl's SSL_CTX callback),
 * ws.c (client SSL objects).
 */
#include "config.h"

#include "tlsctx.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "log.h"

struct tlsctx {
	SSL_CTX *ctx;	       /* owned; the policy's own context (ws.c) */
	STACK_OF(X509) *extra; /* owned; certificates of the extra CA file,
				* NULL without one */
	char *ca_file;	       /* owned; the extra CA file's path or NULL */
	char *sys_file;	       /* owned; the system bundle, NULL if missing */
	char *sys_dir;	       /* owned; the system hashed-certificate
				* directory, NULL if missing or empty */
	char *sys_wanted;      /* owned; the bundle path looked for */
};

/* ALPN list for the WebSocket path: HTTP/1.1 only (wire format). */
static const unsigned char tlsctx_alpn[] = "\x08http/1.1";

void
tlsctx_errors(char *buf, size_t len)
{
	char one[256];
	unsigned long e;
	size_t used = 0;
	int n;

	if (buf == NULL || len == 0) {
		ERR_clear_error();
		return;
	}
	buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, one, sizeof(one));
		if (used + 1 >= len)
			continue; /* keep draining */
		n = snprintf(
		    buf + used, len - used, "%s%s", used > 0 ? "; " : "", one);
		if (n < 0)
			break;
		used += (size_t)n;
		if (used >= len)
			used = len - 1;
	}
}

void
tlsctx_log_errors(const char *what)
{
	char buf[512];

	tlsctx_errors(buf, sizeof(buf));
	log_warnx("%s: %s", what, buf[0] != '\0' ? buf : "no TLS error detail");
}

/*
 * Read every certificate of the PEM bundle at path. Returns the stack, or
 * NULL with err filled (unreadable file, bad PEM, or no certificate).
 */
static STACK_OF(X509) *
tlsctx_read_bundle(const char *path, char *err, size_t errlen)
{
	STACK_OF(X509_INFO) *infos = NULL;
	STACK_OF(X509) *certs = NULL;
	char detail[256];
	X509_INFO *xi;
	BIO *bio;
	int i;

	if ((bio = BIO_new_file(path, "r")) == NULL) {
		tlsctx_errors(detail, sizeof(detail));
		snprintf(err, errlen, "CA file '%s': cannot open: %s", path,
		    errno != 0 ? strerror(errno) : detail);
		return NULL;
	}
	infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (infos == NULL) {
		tlsctx_errors(detail, sizeof(detail));
		snprintf(err, errlen, "CA file '%s': cannot parse: %s", path,
		    detail);
		return NULL;
	}
	if ((certs = sk_X509_new_null()) == NULL)
		goto oom;
	for (i = 0; i < sk_X509_INFO_num(infos); i++) {
		xi = sk_X509_INFO_value(infos, i);
		if (xi->x509 == NULL)
			continue;
		if (!sk_X509_push(certs, xi->x509))
			goto oom;
		xi->x509 = NULL; /* moved into certs */
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	if (sk_X509_num(certs) == 0) {
		sk_X509_free(certs);
		snprintf(
		    err, errlen, "CA file '%s': no certificate found", path);
		return NULL;
	}
	return certs;
oom:
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	sk_X509_pop_free(certs, X509_free);
	snprintf(err, errlen, "CA file '%s': out of memory", path);
	return NULL;
}

/* Add the extra CA certificates to store; duplicates are fine. */
static int
tlsctx_add_extra(const struct tlsctx *t, X509_STORE *store)
{
	unsigned long e;
	int i;

	if (t->extra == NULL)
		return 0;
	if (store == NULL)
		return -EINVAL;
	for (i = 0; i < sk_X509_num(t->extra); i++) {
		if (X509_STORE_add_cert(store, sk_X509_value(t->extra, i)) == 1)
			continue;
		/* OpenSSL < 1.1.1 reports a duplicate as an error. */
		e = ERR_peek_last_error();
		if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
		    ERR_GET_REASON(e) == X509_R_CERT_ALREADY_IN_HASH_TABLE) {
			ERR_clear_error();
			continue;
		}
		return -EPROTO;
	}
	return 0;
}

/* Verify peers, TLS 1.2 or later; never lowers a stricter minimum. */
static int
tlsctx_apply_common(SSL_CTX *ctx)
{
	long min = SSL_CTX_get_min_proto_version(ctx);

	if ((min == 0 || min < TLS1_2_VERSION) &&
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		return -EPROTO;
	SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx) | SSL_VERIFY_PEER,
	    SSL_CTX_get_verify_callback(ctx));
	return 0;
}

/* Whether path is a readable regular file (a symlink is followed). */
static int
tlsctx_file_exists(const char *path)
{
	struct stat st;

	return path != NULL && *path != '\0' && stat(path, &st) == 0 &&
	    S_ISREG(st.st_mode) && access(path, R_OK) == 0;
}

/* Whether dir holds at least one OpenSSL hash link ("1a2b3c4d.0"). */
static int
tlsctx_dir_has_certs(const char *dir)
{
	struct dirent *de;
	DIR *d;
	size_t i;
	int found = 0;

	if (dir == NULL || *dir == '\0' || (d = opendir(dir)) == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		for (i = 0; i < 8; i++)
			if (!isxdigit((unsigned char)de->d_name[i]))
				break;
		found = i == 8 && de->d_name[8] == '.' &&
		    isdigit((unsigned char)de->d_name[9]);
	}
	closedir(d);
	return found;
}

/*
 * The system trust store: $SSL_CERT_FILE / $SSL_CERT_DIR when set (an
 * explicit choice, never second-guessed), else libcurl's built-in paths,
 * else OpenSSL's. Only paths that exist are kept. 0 or -ENOMEM.
 */
static int
tlsctx_find_system(struct tlsctx *t)
{
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	const char *file, *dir;

	if ((file = getenv(X509_get_default_cert_file_env())) == NULL) {
		file = cv != NULL && cv->cainfo != NULL
		    ? cv->cainfo
		    : X509_get_default_cert_file();
	}
	if ((dir = getenv(X509_get_default_cert_dir_env())) == NULL) {
		dir = cv != NULL && cv->capath != NULL
		    ? cv->capath
		    : X509_get_default_cert_dir();
	}
	if ((t->sys_wanted = strdup(file)) == NULL)
		return -ENOMEM;
	if (tlsctx_file_exists(file) && (t->sys_file = strdup(file)) == NULL)
		return -ENOMEM;
	if (tlsctx_dir_has_certs(dir) && (t->sys_dir = strdup(dir)) == NULL)
		return -ENOMEM;
	return 0;
}

struct tlsctx *
tlsctx_new(const char *ca_file, char *reterr, size_t errlen)
{
	struct tlsctx *t;
	char detail[256];

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(reterr, errlen, "out of memory");
		return NULL;
	}
	ERR_clear_error();
	if ((t->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tlsctx_errors(detail, sizeof(detail));
		snprintf(
		    reterr, errlen, "cannot create TLS context: %s", detail);
		goto fail;
	}
	if (tlsctx_apply_common(t->ctx) != 0) {
		tlsctx_errors(detail, sizeof(detail));
		snprintf(
		    reterr, errlen, "cannot set TLS 1.2 minimum: %s", detail);
		goto fail;
	}
	if (tlsctx_find_system(t) != 0 ||
	    (ca_file != NULL && (t->ca_file = strdup(ca_file)) == NULL)) {
		snprintf(reterr, errlen, "out of memory");
		goto fail;
	}
	if ((t->sys_file != NULL || t->sys_dir != NULL) &&
	    SSL_CTX_load_verify_locations(t->ctx, t->sys_file, t->sys_dir) !=
		1) {
		tlsctx_errors(detail, sizeof(detail));
		snprintf(reterr, errlen,
		    "cannot load the system trust store '%s': %s",
		    t->sys_file != NULL ? t->sys_file : t->sys_dir, detail);
		goto fail;
	}
	if (ca_file != NULL) {
		errno = 0;
		if ((t->extra = tlsctx_read_bundle(ca_file, reterr, errlen)) ==
		    NULL)
			goto fail;
		if (tlsctx_add_extra(t, SSL_CTX_get_cert_store(t->ctx)) != 0) {
			tlsctx_errors(detail, sizeof(detail));
			snprintf(reterr, errlen, "CA file '%s': %s", ca_file,
			    detail);
			goto fail;
		}
	}
	return t;
fail:
	tlsctx_free(t);
	return NULL;
}

void
tlsctx_free(struct tlsctx *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	sk_X509_pop_free(t->extra, X509_free);
	free(t->ca_file);
	free(t->sys_file);
	free(t->sys_dir);
	free(t->sys_wanted);
	free(t);
}

int
tlsctx_check_trust(const struct tlsctx *t, char *reterr, size_t errlen)
{
	if (t == NULL)
		return -EINVAL;
	if (t->sys_file != NULL || t->sys_dir != NULL || t->extra != NULL)
		return 0;
	snprintf(reterr, errlen,
	    "no trusted CA certificates: the system bundle '%s' is missing "
	    "(install the ca-certificates package) and no ca-file is "
	    "configured",
	    t->sys_wanted != NULL ? t->sys_wanted : "(unknown)");
	return -ENOENT;
}

/*
 * libcurl's own defaults are compiled in and fail the handshake when the
 * bundle is missing, even with our SSL_CTX callback in place: name the
 * files explicitly, the system bundle when it exists, else the extra CA
 * file, so what libcurl loads is what the policy trusts.
 */
int
tlsctx_apply_curl(const struct tlsctx *t, void *easy)
{
	const char *file;

	if (t == NULL || easy == NULL)
		return -EINVAL;
	file = t->sys_file != NULL ? t->sys_file : t->ca_file;
	if (curl_easy_setopt(easy, CURLOPT_CAINFO, file) != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_CAPATH, t->sys_dir) != CURLE_OK)
		return -EPROTO;
	return 0;
}

/*
 * libcurl has already loaded the files named by tlsctx_apply_curl (or
 * will, right after this callback) into the store of ctx; only the extra
 * CA is added here, so --ca-file extends the system trust instead of
 * replacing it.
 */
int
tlsctx_apply(const struct tlsctx *t, SSL_CTX *ctx)
{
	int r;

	if (t == NULL || ctx == NULL)
		return -EINVAL;
	if ((r = tlsctx_apply_common(ctx)) != 0)
		return r;
	return tlsctx_add_extra(t, SSL_CTX_get_cert_store(ctx));
}

int
tlsctx_has_extra_ca(const struct tlsctx *t)
{
	return t != NULL && t->extra != NULL;
}

/* Whether host is an IPv4 or IPv6 literal; the bare address goes to ip. */
static int
tlsctx_ip_literal(const char *host, char *ip, size_t iplen)
{
	unsigned char addr[sizeof(struct in6_addr)];
	size_t n = strlen(host);

	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (n == 0 || n >= iplen)
		return 0;
	memcpy(ip, host, n);
	ip[n] = '\0';
	return inet_pton(AF_INET, ip, addr) == 1 ||
	    inet_pton(AF_INET6, ip, addr) == 1;
}

SSL *
tlsctx_new_ssl(const struct tlsctx *t, const char *host)
{
	char ip[INET6_ADDRSTRLEN + 1];
	SSL *ssl;

	if (t == NULL || host == NULL || *host == '\0')
		return NULL;
	if ((ssl = SSL_new(t->ctx)) == NULL)
		return NULL;
	if (tlsctx_ip_literal(host, ip, sizeof(ip))) {
		/* No SNI for addresses (RFC 6066 section 3). */
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip) != 1)
			goto fail;
	} else {
		if (SSL_set_tlsext_host_name(ssl, host) != 1)
			goto fail;
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set1_host(ssl, host) != 1)
			goto fail;
	}
	/* SSL_set_alpn_protos returns 0 on success. */
	if (SSL_set_alpn_protos(ssl, tlsctx_alpn, sizeof(tlsctx_alpn) - 1) != 0)
		goto fail;
	SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	return ssl;
fail:
	SSL_free(ssl);
	return NULL;
}
