/* SPDX-License-Identifier: MIT */
/*
 * Logging: stderr with sd-daemon priority prefixes, one line per message.
 * libevent's own log callback is routed here by wrennd.c.
 */
#include "config.h"

#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int log_level; /* the daemon's only mutable global */

void
log_init(int verbosity)
{
	log_level = verbosity;
}

int
log_verbosity(void)
{
	return log_level;
}

/* Write one line: "<prio>wrennd: message[: strerror]". */
static void log_vwrite(int prio, const char *errstr, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));
static void
log_vwrite(int prio, const char *errstr, const char *fmt, va_list ap)
{
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errstr != NULL)
		fprintf(stderr, "<%d>wrennd: %s: %s\n", prio, msg, errstr);
	else
		fprintf(stderr, "<%d>wrennd: %s\n", prio, msg);
	fflush(stderr);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vwrite(4, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(4, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(6, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_level < 1)
		return;
	va_start(ap, fmt);
	log_vwrite(7, NULL, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vwrite(2, strerror(saved), fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(2, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

char *
log_quote(char *buf, size_t bufsz, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;
	unsigned char c;

	if (bufsz == 0)
		return buf;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (o + 8 >= bufsz) {
			if (bufsz > 4) {
				o = o > bufsz - 4 ? bufsz - 4 : o;
				memcpy(buf + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
			buf[o++] = '\\';
			if (c == '\n')
				buf[o++] = 'n';
			else if (c == '"' || c == '\\')
				buf[o++] = (char)c;
			else {
				buf[o++] = 'x';
				buf[o++] = hex[c >> 4];
				buf[o++] = hex[c & 15];
			}
		} else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}
