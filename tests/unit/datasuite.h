/* SPDX-License-Identifier: MIT */
/*
 * Test cases as data (the jansson test/suites pattern): every directory
 * under $top_srcdir/tests/unit/data/<suite>/ is one case with a file
 * `input` and a file `expected`. The suite's function turns the input into
 * text; the case passes when that text equals `expected` byte for byte.
 * Adding a regression test means adding a directory.
 */
#ifndef WRENND_DATASUITE_H
#define WRENND_DATASUITE_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#define DATASUITE_MAX (1 << 20) /* bytes of one input or expected file */

/* Growable output text of one case. */
struct ds_out {
	char *buf;
	size_t len, cap;
};

static void ds_printf(struct ds_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), unused));
static void
ds_printf(struct ds_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		o->cap = o->cap * 2 + (size_t)n + 64;
		if ((o->buf = realloc(o->buf, o->cap)) == NULL)
			abort();
	}
}

/* Read a whole file (NUL added, not counted). NULL if unreadable. */
static char *
ds_read(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;

	if (fp == NULL)
		return NULL;
	if ((buf = malloc(DATASUITE_MAX + 1)) == NULL)
		abort();
	*len = fread(buf, 1, DATASUITE_MAX, fp);
	buf[*len] = '\0';
	fclose(fp);
	return buf;
}

typedef void (*ds_case_fn)(const char *input, size_t len, struct ds_out *o);

static int
ds_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run every case of suite through fn, in name order. */
static void __attribute__((unused))
datasuite_run(const char *suite, ds_case_fn fn)
{
	const char *top = getenv("top_srcdir");
	char dir[4096], path[4200], *names[1024], *in, *want;
	struct ds_out o;
	struct dirent *de;
	size_t n = 0, i, inlen, wantlen;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/tests/unit/data/%s",
	    top != NULL && *top != '\0' ? top : ".", suite);
	if ((d = opendir(dir)) == NULL) {
		ok(0, "%s: suite directory %s exists", suite, dir);
		return;
	}
	while ((de = readdir(d)) != NULL && n < 1024)
		if (de->d_name[0] != '.' && (names[n] = strdup(de->d_name)))
			n++;
	closedir(d);
	qsort(names, n, sizeof(names[0]), ds_name_cmp);
	ok(n > 0, "%s: %zu cases found", suite, n);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s/input", dir, names[i]);
		in = ds_read(path, &inlen);
		snprintf(path, sizeof(path), "%s/%s/expected", dir, names[i]);
		want = ds_read(path, &wantlen);
		if (in == NULL || want == NULL) {
			ok(0, "%s/%s: input and expected readable", suite,
			    names[i]);
		} else {
			memset(&o, 0, sizeof(o));
			ds_printf(&o, "%s", "");
			fn(in, inlen, &o);
			if (!ok(o.len == wantlen &&
				    memcmp(o.buf, want, wantlen) == 0,
				"%s/%s", suite, names[i]))
				diag("expected:\n%s# got:\n%s", want, o.buf);
			free(o.buf);
		}
		free(in);
		free(want);
		free(names[i]);
	}
}

#endif /* WRENND_DATASUITE_H */
