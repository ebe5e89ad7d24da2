/* SPDX-License-Identifier: MIT */
/*
 * Minimal TAP producer for the C unit tests: ok(), diag(), done_testing(),
 * and typed checks that each test one condition and, on failure, print
 * what they got and what they wanted as TAP diagnostic lines:
 *   ok_int(got, want, name...)     long long equality
 *   ok_size(got, want, name...)    size_t equality
 *   ok_str(got, want, name...)     string equality; a NULL got fails
 *   ok_strstr(hay, needle, name...) hay contains needle; NULL hay fails
 *   ok_mem(got, glen, want, wlen, name...) the same bytes; NULL got fails
 *   ok_null(p, name...) / ok_nonnull(p, name...)
 */
#ifndef WRENND_TAP_H
#define WRENND_TAP_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

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

#define TAP_OKV(cond, fmt)                                                     \
	do {                                                                   \
		va_list ap_;                                                   \
		va_start(ap_, fmt);                                            \
		tap_vok(cond, fmt, ap_);                                       \
		va_end(ap_);                                                   \
	} while (0)

static int ok_int(long long got, long long want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), unused));
static int
ok_int(long long got, long long want, const char *fmt, ...)
{
	int cond = got == want;

	TAP_OKV(cond, fmt);
	if (!cond)
		diag("  got %lld, want %lld", got, want);
	return cond;
}

static int ok_size(size_t got, size_t want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), unused));
static int
ok_size(size_t got, size_t want, const char *fmt, ...)
{
	int cond = got == want;

	TAP_OKV(cond, fmt);
	if (!cond)
		diag("  got %zu, want %zu", got, want);
	return cond;
}

static int ok_str(const char *got, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), unused));
static int
ok_str(const char *got, const char *want, const char *fmt, ...)
{
	int cond = got != NULL && want != NULL && strcmp(got, want) == 0;

	TAP_OKV(cond, fmt);
	if (!cond)
		diag("  got '%s', want '%s'", got ? got : "(null)",
		    want ? want : "(null)");
	return cond;
}

static int ok_strstr(const char *hay, const char *needle, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), unused));
static int
ok_strstr(const char *hay, const char *needle, const char *fmt, ...)
{
	int cond = hay != NULL && needle != NULL && strstr(hay, needle) != NULL;

	TAP_OKV(cond, fmt);
	if (!cond)
		diag("  got '%s', want it to contain '%s'",
		    hay ? hay : "(null)", needle ? needle : "(null)");
	return cond;
}

/* Bytes for a diagnostic line: printable ASCII as it is, the rest \xNN. */
static void __attribute__((unused))
tap_show(const char *what, const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i;

	printf("#   %s (%zu bytes): '", what, len);
	for (i = 0; i < len && i < 200; i++) {
		if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\\')
			putchar(b[i]);
		else
			printf("\\x%02x", b[i]);
	}
	printf("'%s\n", len > 200 ? "..." : "");
	fflush(stdout);
}

static int ok_mem(const void *got, size_t glen, const void *want, size_t wlen,
    const char *fmt, ...) __attribute__((format(printf, 5, 6), unused));
static int
ok_mem(const void *got, size_t glen, const void *want, size_t wlen,
    const char *fmt, ...)
{
	int cond = got != NULL && want != NULL && glen == wlen &&
	    memcmp(got, want, glen) == 0;

	TAP_OKV(cond, fmt);
	if (!cond) {
		if (got == NULL)
			diag("  got NULL");
		else
			tap_show("got", got, glen);
		if (want != NULL)
			tap_show("want", want, wlen);
	}
	return cond;
}

static int ok_null(const void *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), unused));
static int
ok_null(const void *p, const char *fmt, ...)
{
	int cond = p == NULL;

	TAP_OKV(cond, fmt);
	if (!cond)
		diag("  got %p, want NULL", p);
	return cond;
}

static int ok_nonnull(const void *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), unused));
static int
ok_nonnull(const void *p, const char *fmt, ...)
{
	int cond = p != NULL;

	TAP_OKV(cond, fmt);
	if (!cond)
		diag("  got NULL, want non-NULL");
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
