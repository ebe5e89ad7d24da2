/* SPDX-License-Identifier: MIT */
/*
 * The one logging API of the daemon. Messages go to stderr with sd-daemon
 * "<N>" priority prefixes so journald keeps the levels, one line each: the
 * writer escapes every control byte of the formatted message (newlines
 * included). Callers still put peer-supplied text through log_quote() and
 * in quotes, so a reader can tell it from the daemon's own words. The only
 * mutable global of the daemon is the log state kept here.
 */
#ifndef WRENND_LOG_H
#define WRENND_LOG_H

#include <stddef.h>

/* verbosity: 0 info, 1 debug, 2 more debug (libevent/libcurl chatter). */
void log_init(int verbosity);
int log_verbosity(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Copy at most len bytes of untrusted s into buf (size bufsz), escaping
 * control bytes, non-ASCII bytes, quotes and backslashes, truncating with
 * "..." so the result always fits and is plain ASCII (safe for logs and
 * JSON). Returns buf.
 */
char *log_quote(char *buf, size_t bufsz, const char *s, size_t len);
/* log_quote of a NUL-terminated string; NULL gives "". Returns buf. */
char *log_quote_str(char *buf, size_t bufsz, const char *s);

#endif /* WRENND_LOG_H */
