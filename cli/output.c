/* SPDX-License-Identifier: MIT */
/*
 * wrennctl output: JSON for scripts, aligned "key: value" blocks and tables
 * for people, and the one place errors are printed (human text, or the
 * error JSON on stderr in --json mode and for "call").
 * Owns: the cells of a struct output_table.
 * Called by: wrennctl.c and the cmd-*.c command files.
 */
#include "config.h"

#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "wrennctl.h"

/* Print v as JSON on stdout: indented for a terminal, else one line. */
void
output_result(const json_t *v)
{
	output_json(v, isatty(STDOUT_FILENO));
}

int
output_event(const struct cli *cli, const char *event, const json_t *ev)
{
	const json_t *data = json_object_get(ev, "data");
	FILE *f;

	if (cli->json) {
		output_json(ev, 0);
		(void)fflush(stdout);
		return 1;
	}
	if (!json_is_string(data) ||
	    (strcmp(event, "stdout") != 0 && strcmp(event, "stderr") != 0))
		return 0;
	f = strcmp(event, "stdout") == 0 ? stdout : stderr;
	/* stdout first, so the two keep their order on a terminal. */
	(void)fflush(stdout);
	(void)fwrite(json_string_value(data), 1, json_string_length(data), f);
	(void)fflush(f);
	return 1;
}

void
output_json(const json_t *v, int pretty)
{
	size_t flags = JSON_ENCODE_ANY;

	flags |= pretty ? JSON_INDENT(2) : JSON_COMPACT;
	(void)json_dumpf(v, stdout, flags);
	putchar('\n');
}

static char *output_vformat(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));

/* printf into a malloc'd string (NULL on failure). */
static char *
output_vformat(const char *fmt, va_list ap)
{
	char *s;

	return vasprintf(&s, fmt, ap) == -1 ? NULL : s;
}

/* An error without wire details, as JSON or as "wrennctl: message". */
void
output_error_local(struct cli *cli, const char *code, const char *fmt, ...)
{
	va_list ap;
	json_t *err;
	char *msg;

	va_start(ap, fmt);
	msg = output_vformat(fmt, ap);
	va_end(ap);
	if (cli->json) {
		err = json_pack("{s:s, s:{s:s, s:s}}", "message",
		    msg != NULL ? msg : "out of memory", "data", "code", code,
		    "source", "wrennctl");
		if (err != NULL) {
			(void)json_dumpf(err, stderr, JSON_COMPACT);
			fputc('\n', stderr);
		}
		json_decref(err);
	} else
		fprintf(stderr, "wrennctl: %s\n",
		    msg != NULL ? msg : "out of memory");
	free(msg);
}

/*
 * The error in people's words when the CLI knows better than the control
 * plane's text (which names database rows and Go contexts): what was not
 * found, that a command hit its timeout, what is wrong with a file.
 * Returns a malloc'd sentence, or NULL to show wrennd's message.
 */
static char *
output_human(const struct cli *cli, const char *code, const char *msg)
{
	const char *obj = cli->object;
	int file = strchr(obj, ' ') == NULL; /* "cl-...:PATH", not "noun id" */
	char *s = NULL;
	int n = -1;

	if (code == NULL || *obj == '\0')
		return NULL;
	if (strcmp(code, "not_found") == 0 && file &&
	    strstr(msg, "sandbox not found") != NULL)
		/* The sandbox of "cl-...:PATH" is what is missing. */
		n = asprintf(
		    &s, "sandbox %.*s not found", (int)strcspn(obj, ":"), obj);
	else if (strcmp(code, "not_found") == 0)
		n = asprintf(
		    &s, file ? "%s does not exist" : "%s not found", obj);
	else if (strcmp(code, "is_a_directory") == 0 && file)
		n = asprintf(&s, "%s is a directory", obj);
	else if (cli->method != NULL &&
	    strcmp(cli->method, "sandbox.exec") == 0 &&
	    (strcmp(code, "timeout") == 0 ||
		/* What a control plane without the mapping sends. */
		(strcmp(code, "agent_error") == 0 &&
		    strstr(msg, "deadline exceeded") != NULL)))
		n = asprintf(&s,
		    "the command in %s did not finish within %ld s "
		    "(raise --timeout, or use --stream)",
		    obj, cli->exec_timeout > 0 ? cli->exec_timeout : 30L);
	return n < 0 ? NULL : s;
}

/* wrennd's own words for the error: "message (code, HTTP 404)". */
static void
output_wire_message(
    FILE *f, const char *msg, const char *code, int status, int rpc)
{
	fprintf(f, "%s", msg);
	if (rpc != 0 && code != NULL && status != 0)
		fprintf(f, " (%s, HTTP %d)", code, status);
	else if (rpc != 0 && code != NULL)
		fprintf(f, " (%s)", code);
	fputc('\n', f);
}

/* The last error of cli->h (status r), for people or as JSON. */
void
output_error(struct cli *cli, int r)
{
	const char *msg, *code, *json, *id;
	char *human;
	int status, rpc;
	size_t i;

	msg = wrennctl_errmsg(cli->h);
	if (*msg == '\0')
		msg = wrennctl_strerror(r);
	code = wrennctl_err_data_code(cli->h);
	status = wrennctl_err_http_status(cli->h);
	rpc = wrennctl_err_rpc_code(cli->h);
	if (cli->json) {
		json = wrennctl_err_json(cli->h);
		if (json != NULL)
			fprintf(stderr, "%s\n", json);
		else
			output_error_local(
			    cli, code != NULL ? code : "error", "%s", msg);
		return;
	}
	if (r == WRENNCTL_E_CONNECT && rpc == 0) {
		/* We were connected (cli_connect reports failures to). */
		fprintf(
		    stderr, "wrennctl: connection to wrennd lost: %s\n", msg);
		return;
	}
	human = rpc != 0 ? output_human(cli, code, msg) : NULL;
	fprintf(stderr, "wrennctl: ");
	if (human != NULL) {
		fprintf(stderr, "%s\n", human);
		if (cli->verbose) {
			fprintf(stderr, "wrennctl:   wrennd said: ");
			output_wire_message(stderr, msg, code, status, rpc);
		}
		free(human);
	} else {
		if (cli->subject != NULL)
			fprintf(stderr, "%s: ", cli->subject);
		if (rpc != 0)
			output_wire_message(stderr, msg, code, status, rpc);
		else if (strcmp(msg, wrennctl_strerror(r)) == 0)
			fprintf(stderr, "%s\n", msg);
		else
			fprintf(stderr, "%s: %s\n", wrennctl_strerror(r), msg);
	}
	for (i = 0; (id = wrennctl_err_sandbox_id(cli->h, i)) != NULL; i++)
		fprintf(stderr, "wrennctl:   active sandbox %s\n", id);
}

/* A scalar as display text (malloc'd); arrays of scalars are joined. */
char *
output_scalar(const json_t *v)
{
	char buf[64];
	json_t *e;
	size_t i, len = 0;
	char *s, *p, *out;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return strdup(json_string_value(v));
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return strdup(buf);
	case JSON_REAL:
		snprintf(buf, sizeof(buf), "%g", json_real_value(v));
		return strdup(buf);
	case JSON_TRUE:
		return strdup("true");
	case JSON_FALSE:
		return strdup("false");
	case JSON_NULL:
		return strdup("-");
	case JSON_ARRAY:
		if (json_array_size(v) == 0)
			return strdup("-");
		if ((out = strdup("")) == NULL)
			return NULL;
		json_array_foreach(v, i, e) {
			if ((s = output_scalar(e)) == NULL)
				break;
			p = realloc(out, len + strlen(s) + 3);
			if (p == NULL) {
				free(s);
				break;
			}
			out = p;
			len += (size_t)sprintf(
			    out + len, "%s%s", i > 0 ? ", " : "", s);
			free(s);
		}
		return out;
	default:
		return json_dumps(v, JSON_COMPACT);
	}
}

struct output_kv_list {
	char **keys; /* owned */
	char **vals; /* owned */
	size_t n, cap;
};

static void
output_kv_add(struct output_kv_list *l, const char *key, const json_t *v)
{
	char **k, **w;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap != 0 ? l->cap * 2 : 16;
		k = realloc(l->keys, cap * sizeof(*k));
		if (k == NULL)
			return;
		l->keys = k;
		w = realloc(l->vals, cap * sizeof(*w));
		if (w == NULL)
			return;
		l->vals = w;
		l->cap = cap;
	}
	l->keys[l->n] = strdup(key);
	l->vals[l->n] = output_scalar(v);
	if (l->keys[l->n] == NULL || l->vals[l->n] == NULL) {
		free(l->keys[l->n]);
		free(l->vals[l->n]);
		return;
	}
	l->n++;
}

/* Whether every element of array a is a scalar. */
static int
output_flat_array(const json_t *a)
{
	json_t *e;
	size_t i;

	json_array_foreach(a, i, e) {
		if (json_is_object(e) || json_is_array(e))
			return 0;
	}
	return 1;
}

/* Flatten v under key prefix into l ("a.b", "a[0].c"). */
static void
output_kv_flatten(struct output_kv_list *l, const char *prefix, const json_t *v)
{
	const char *k;
	char key[256];
	json_t *e;
	size_t i;

	if (json_is_object(v) && json_object_size(v) > 0) {
		json_object_foreach((json_t *)v, k, e) {
			snprintf(key, sizeof(key), "%s%s%s", prefix,
			    *prefix != '\0' ? "." : "", k);
			output_kv_flatten(l, key, e);
		}
	} else if (json_is_array(v) && !output_flat_array(v)) {
		json_array_foreach(v, i, e) {
			snprintf(key, sizeof(key), "%s[%zu]", prefix, i);
			output_kv_flatten(l, key, e);
		}
	} else
		output_kv_add(l, *prefix != '\0' ? prefix : "value", v);
}

/*
 * Print obj as aligned "key: value" lines, flattening nested members; the
 * keys listed in first (NULL-terminated, may be NULL) come first.
 */
void
output_kv(const json_t *obj, const char *const *first)
{
	struct output_kv_list l;
	const char *k;
	json_t *rest, *v;
	size_t i, w = 0;

	memset(&l, 0, sizeof(l));
	rest = json_is_object(obj) ? json_copy((json_t *)obj) : NULL;
	for (i = 0; rest != NULL && first != NULL && first[i] != NULL; i++) {
		if ((v = json_object_get(rest, first[i])) != NULL) {
			output_kv_flatten(&l, first[i], v);
			(void)json_object_del(rest, first[i]);
		}
	}
	if (rest != NULL) {
		json_object_foreach(rest, k, v)
			output_kv_flatten(&l, k, v);
	} else
		output_kv_flatten(&l, "", obj);
	json_decref(rest);
	for (i = 0; i < l.n; i++)
		if (strlen(l.keys[i]) > w)
			w = strlen(l.keys[i]);
	for (i = 0; i < l.n; i++) {
		printf("%s:%*s %s\n", l.keys[i], (int)(w - strlen(l.keys[i])),
		    "", l.vals[i]);
		free(l.keys[i]);
		free(l.vals[i]);
	}
	free(l.keys);
	free(l.vals);
}

/*
 * The member at a dotted path ("host.id") of v, or NULL. Borrowed from v.
 */
const json_t *
output_path(const json_t *v, const char *path)
{
	const char *dot;
	char key[128];

	while (v != NULL && (dot = strchr(path, '.')) != NULL) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		v = json_object_get(v, key);
		path = dot + 1;
	}
	return v != NULL ? json_object_get(v, path) : NULL;
}

/* The member at path as display text (malloc'd), "-" when absent. */
char *
output_field(const json_t *obj, const char *path)
{
	const json_t *v = output_path(obj, path);

	return v != NULL ? output_scalar(v) : strdup("-");
}

/*
 * Seconds since the epoch of an RFC 3339 time ("2026-12-01T21:03:04Z",
 * fractions and numeric offsets allowed); -1 if s is not one.
 */
static long long
output_rfc3339(const char *s)
{
	int oh, om, n = 0;
	struct tm tm;
	const char *p;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
		&tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    n != 19 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon--;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	p = s + n;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == 'Z' && p[1] == '\0')
		return (long long)t;
	if ((*p == '+' || *p == '-') &&
	    sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) == 2 && n == 5 &&
	    p[6] == '\0')
		return (long long)t -
		    (*p == '+' ? 1 : -1) * (oh * 3600LL + om * 60);
	return -1;
}

/* Whether the member named key holds a time (created_at, last_used). */
static int
output_is_time_key(const char *key)
{
	size_t n = strlen(key);

	return (n > 3 && strcmp(key + n - 3, "_at") == 0) ||
	    strcmp(key, "last_used") == 0 || strcmp(key, "last_updated") == 0;
}

/*
 * A time as its age for tables ("3m ago", "in 2h"), malloc'd; anything
 * else as output_scalar() shows it. --json keeps the absolute times.
 */
char *
output_age(const json_t *v)
{
	static const struct {
		long long secs;
		char unit;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
	long long t, d;
	size_t i;
	char *s;

	if (!json_is_string(v) ||
	    (t = output_rfc3339(json_string_value(v))) < 0)
		return output_scalar(v);
	d = (long long)time(NULL) - t;
	for (i = 0; i + 1 < sizeof(units) / sizeof(units[0]); i++)
		if ((d < 0 ? -d : d) >= units[i].secs)
			break;
	if (asprintf(&s, d < 0 ? "in %lld%c" : "%lld%c ago",
		(d < 0 ? -d : d) / units[i].secs, units[i].unit) < 0)
		return NULL;
	return s;
}

/*
 * An array of objects as a table: one column per key (a dotted path) with
 * the given headings; times show as ages.
 */
void
output_table_json(const json_t *rows, size_t ncols, const char *const *heads,
    const char *const *keys)
{
	struct output_table *t;
	const char *cells[16];
	char *own[16];
	const json_t *row;
	size_t i, k;

	if (ncols > 16 || (t = output_table_new(ncols, heads)) == NULL)
		return;
	json_array_foreach(rows, i, row) {
		for (k = 0; k < ncols; k++)
			cells[k] = own[k] = output_is_time_key(keys[k]) &&
				output_path(row, keys[k]) != NULL
			    ? output_age(output_path(row, keys[k]))
			    : output_field(row, keys[k]);
		(void)output_table_add(t, cells);
		for (k = 0; k < ncols; k++)
			free(own[k]);
	}
	output_table_print(t);
	output_table_free(t);
}

/* Human-readable byte count ("512.0 MiB"). */
void
output_bytes(char *buf, size_t size, double bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	size_t u = 0;

	while (bytes >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		bytes /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%.0f B", bytes);
	else
		snprintf(buf, size, "%.1f %s", bytes, units[u]);
}

struct output_table {
	size_t ncols;
	const char *const *heads; /* borrowed, static */
	char **cells;		  /* owned: nrows * ncols strings */
	size_t nrows, cap;
};

struct output_table *
output_table_new(size_t ncols, const char *const *heads)
{
	struct output_table *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->ncols = ncols;
	t->heads = heads;
	return t;
}

/* Add a row of ncols cells (copied; NULL shows as "-"). */
int
output_table_add(struct output_table *t, const char *const *cells)
{
	char **p;
	size_t cap, i;

	if (t->nrows == t->cap) {
		cap = t->cap != 0 ? t->cap * 2 : 16;
		p = realloc(t->cells, cap * t->ncols * sizeof(*p));
		if (p == NULL)
			return -1;
		t->cells = p;
		t->cap = cap;
	}
	for (i = 0; i < t->ncols; i++) {
		t->cells[t->nrows * t->ncols + i] =
		    strdup(cells[i] != NULL ? cells[i] : "-");
		if (t->cells[t->nrows * t->ncols + i] == NULL) {
			while (i-- > 0)
				free(t->cells[t->nrows * t->ncols + i]);
			return -1;
		}
	}
	t->nrows++;
	return 0;
}

/* One padded row; the last column is not padded. */
static void
output_table_row(
    const struct output_table *t, const char *const *cells, const size_t *w)
{
	size_t c;

	for (c = 0; c < t->ncols && c < 16; c++) {
		if (c + 1 < t->ncols && c + 1 < 16)
			printf("%-*s  ", (int)w[c], cells[c]);
		else
			printf("%s\n", cells[c]);
	}
}

void
output_table_print(const struct output_table *t)
{
	size_t w[16], r, c, len;

	/* Columns past 16 are not printed; no table here comes close. */
	for (c = 0; c < t->ncols && c < 16; c++)
		w[c] = strlen(t->heads[c]);
	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols && c < 16; c++) {
			len = strlen(t->cells[r * t->ncols + c]);
			if (len > w[c])
				w[c] = len;
		}
	output_table_row(t, t->heads, w);
	for (r = 0; r < t->nrows; r++)
		output_table_row(
		    t, (const char *const *)t->cells + r * t->ncols, w);
}

void
output_table_free(struct output_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
