/* SPDX-License-Identifier: MIT */
/*
 * Credentials: the API key and the user JWT, loaded from the environment,
 * files or $CREDENTIALS_DIRECTORY, kept in locked memory, wiped on free, and
 * never handed out except as a ready-made request header to upstream.c and
 * ws.c. Owns the secret bytes. Called by wrennd.c (load, reload), upstream.c
 * and ws.c (headers), api-daemon.c (metadata only).
 */
#ifndef WRENND_CREDS_H
#define WRENND_CREDS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct creds;
struct conf;

enum creds_kind { CREDS_APIKEY, CREDS_JWT, CREDS__MAX };

/* Load from cfg and the environment. NULL with *reterr set on bad input. */
struct creds *creds_load(const struct conf *cfg, char *reterr, size_t errlen);
/*
 * Re-read the file-backed credentials of cfg into a new store; secrets that
 * came from the environment or $CREDENTIALS_DIRECTORY are copied from old.
 * NULL with *reterr set on failure (old stays valid either way).
 */
struct creds *creds_reload(const struct creds *old, const struct conf *cfg,
    char *reterr, size_t errlen);

/*
 * Whether a credential file of cfg changed since it was read or last
 * noted by creds_files_seen (lstat: inode, mode, size, mtime).
 */
int creds_files_changed(const struct creds *c, const struct conf *cfg);
/*
 * Note the credential files of cfg as they are now, after a reload that
 * refused them, so the watch retries only once they change again.
 */
void creds_files_seen(struct creds *c, const struct conf *cfg);

/* Wipe and free. NULL is a no-op. */
void creds_free(struct creds *c);

/* Whether a credential of this kind is configured. */
int creds_have(const struct creds *c, enum creds_kind kind);

/*
 * Write the HTTP header line for kind ("X-API-Key: ..." or
 * "Authorization: Bearer ...") into buf, NUL terminated. Returns the length,
 * -ENOENT if that credential is absent, -ENOSPC if buf is too small. The
 * caller wipes buf with creds_wipe() when done.
 */
int creds_header(
    const struct creds *c, enum creds_kind kind, char *buf, size_t len);

/*
 * Write the first message of a control plane WebSocket that authenticates
 * in-band ({"type":"auth","token":"<JWT>"}, the v0.1.5 admin stream
 * routes) into buf, NUL terminated. Returns the length, -ENOENT without a
 * JWT, -ENOSPC if buf is too small. The caller wipes buf with
 * creds_wipe() when done.
 */
int creds_ws_auth(const struct creds *c, char *buf, size_t len);

/*
 * Whether the kind's secret occurs in the len bytes at buf (a peer that
 * echoes a request header would hand it out): 0 if not (*ret_copy NULL),
 * 1 with *ret_copy a NUL-terminated copy of buf (caller frees) in which
 * every occurrence is overwritten with '*' (same length), -ENOMEM.
 */
int creds_redact(const struct creds *c, enum creds_kind kind, const char *buf,
    size_t len, char **ret_copy);

/* Wipe len bytes at p in a way the compiler cannot elide. */
void creds_wipe(void *p, size_t len);

/*
 * JWT expiry (exp claim, Unix seconds) or 0 if unknown, absent or out of
 * range (not within 1970..9999).
 */
time_t creds_jwt_expiry(const struct creds *c);
/*
 * The JWT expiry as "YYYY-MM-DDTHH:MM:SSZ" in buf (32 bytes suffice).
 * 0, -ENOENT without a known expiry, -ERANGE if it cannot be formatted.
 */
int creds_jwt_expiry_text(const struct creds *c, char *buf, size_t len);
/*
 * How to replace an expired or refused JWT given where it came from and
 * whether a configuration file can be reloaded: one clause for an error
 * message, borrowed static text.
 */
const char *creds_jwt_hint(const struct creds *c, const struct conf *cfg);
/* Whether the JWT claims is_admin (informational). */
int creds_jwt_is_admin(const struct creds *c);
/* Where the JWT came from: "env", "file" or NULL. */
const char *creds_source(const struct creds *c, enum creds_kind kind);

#endif /* WRENND_CREDS_H */
