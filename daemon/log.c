/* SPDX-License-Identifier: MIT */
/*
 * Logging: stderr with sd-daemon priority prefixes, one line per message:
 * control bytes in a formatted message are escaped whatever the caller
 * passed, so peer text can never start a line (with a forged priority) of
 * its own. libevent's own log callback is routed here by wrennd.c.
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

/* Write byte c escaped (\n, \t, \", \\ or \xNN) to out (room for 4
 * bytes); returns the bytes written. */
static size_t
log_escape_byte(char *out, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	out[0] = '\\';
	switch (c) {
	case '\n':
		out[1] = 'n';
		return 2;
	case '\t':
		out[1] = 't';
		return 2;
	case '"':
	case '\\':
		out[1] = (char)c;
		return 2;
	default:
		out[1] = 'x';
		out[2] = hex[c >> 4];
		out[3] = hex[c & 15];
		return 4;
	}
}

/*
 * Copy msg into out (size outsz >= 5) with every control byte escaped, so
 * that whatever peer text a message carries it stays one line and no
 * "<N>" priority can start a line of its own.
 */
static void
log_escape(char *out, size_t outsz, const char *msg)
{
	const unsigned char *p = (const unsigned char *)msg;
	size_t o = 0;

	for (; *p != '\0' && o + 5 < outsz; p++) {
		if (*p < 0x20 || *p == 0x7f)
			o += log_escape_byte(out + o, *p);
		else
			out[o++] = (char)*p;
	}
	out[o] = '\0';
}

/* Write one line: "<prio>wrennd: message[: strerror]". */
static void log_vwrite(int prio, const char *errstr, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));
static void
log_vwrite(int prio, const char *errstr, const char *fmt, va_list ap)
{
	char msg[2048], line[4 * sizeof(msg) + 1];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_escape(line, sizeof(line), msg);
	if (errstr != NULL)
		fprintf(stderr, "<%d>wrennd: %s: %s\n", prio, line, errstr);
	else
		fprintf(stderr, "<%d>wrennd: %s\n", prio, line);
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
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			o += log_escape_byte(buf + o, c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

char *
log_quote_str(char *buf, size_t bufsz, const char *s)
{
	return log_quote(
	    buf, bufsz, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}
