/* SPDX-License-Identifier: MIT */
/* Minimal TAP producer for the C unit tests: ok(), diag(), done_testing(). */
#ifndef WRENND_TAP_H
#define WRENND_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_failed;

static void tap_vok(int cond, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void
tap_vok(int cond, const char *fmt, va_list ap)
{
	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
}

static int ok(int cond, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int __attribute__((unused)) ok(int cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vok(cond, fmt, ap);
	va_end(ap);
	return cond;
}

static void diag(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), unused));
static void
diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static int __attribute__((unused)) done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif /* WRENND_TAP_H */
