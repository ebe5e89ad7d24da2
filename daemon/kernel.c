/* SPDX-License-Identifier: MIT */
/*
 * Jupyter kernels for sandbox.run_code (see kernel.h). Two halves:
 *
 * The pure half turns the kernel's messages into a CodeResult the way the
 * Python SDK does (CONTRACT.md section 12.2): stream text into stdout and
 * stderr, execute_result and display_data into results, error into error,
 * status idle of the request ends it, and everything of other parents is
 * ignored. Output is bounded per call.
 *
 * The event half keeps one struct kernel per (sandbox, language):
 *
 *   CLOSED --job--> SPECS --> LIST --> START --> CONNECT --> IDLE <--> BUSY
 *      ^  \--------------------> LOOKUP --/ \-----^              |
 *      |                                    DRAIN <--timeout/cancel
 *      +------ connection lost / failure      | (no end)
 *                                          RESTART --> IDLE
 *
 * SPECS resolves the language to a kernelspec (GET /api/kernelspecs), LIST
 * finds a running kernel of that spec (GET /api/kernels), START starts one
 * (POST /api/kernels), LOOKUP checks that a kernel known from before still
 * exists (GET /api/kernels/{id}), CONNECT opens its channels WebSocket.
 * Every request goes through the control plane's proxy to port 8888 of the
 * sandbox with the API key; answers of 5xx (nothing listening yet: the
 * proxy's 502) and transport failures are retried every 500 ms until the
 * setup deadline. In IDLE the first queued job is sent (BUSY) and answered
 * at its status idle. A job that times out or is cancelled is answered at
 * once; the kernel is interrupted and wrennd waits for that execution's
 * end (DRAIN) before sending the next one, so the next job is not aborted
 * by the kernel's stop_on_error; an execution that ignores the interrupt
 * gets the kernel restarted (RESTART). A kernel that restarted or died is
 * noticed from the server's status messages, from a kernel id that no
 * longer exists, or from an execution_count that went backwards; the next
 * reply then says "kernel_restarted": true.
 */
#include "config.h"

#include "kernel.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#define KERNEL_MARKER_FMT "\n[wrennd: output truncated: over %zu bytes]\n"

/* ---- Pure half: assembling one execution ------------------------------ */

/* A growable byte string. */
struct kernel_buf {
	char *p;
	size_t len, cap;
};

struct kernel_exec {
	char *msg_id;	       /* owned: the execute_request's id */
	size_t max, used;      /* output budget and bytes kept */
	int truncated;	       /* output was dropped */
	struct kernel_buf out; /* owned: stdout text */
	struct kernel_buf err; /* owned: stderr text */
	json_t *results;       /* owned array of result objects */
	json_t *error;	       /* owned object or NULL */
	long long count;       /* execute_result's execution_count, -1 */
	long long input_count; /* execute_input's execution_count, -1 */
	int done;	       /* status idle seen: nothing more is taken */
};

static int
kernel_buf_add(struct kernel_buf *b, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (n == 0)
		return 0;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap > 0 ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

struct kernel_exec *
kernel_exec_new(const char *msg_id, size_t max_output)
{
	struct kernel_exec *x;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	x->max = max_output;
	x->count = -1;
	x->input_count = -1;
	if ((x->msg_id = strdup(msg_id)) == NULL ||
	    (x->results = json_array()) == NULL) {
		kernel_exec_free(x);
		return NULL;
	}
	return x;
}

void
kernel_exec_free(struct kernel_exec *x)
{
	if (x == NULL)
		return;
	free(x->msg_id);
	free(x->out.p);
	free(x->err.p);
	json_decref(x->results);
	json_decref(x->error);
	free(x);
}

const char *
kernel_exec_msg_id(const struct kernel_exec *x)
{
	return x->msg_id;
}

long long
kernel_exec_input_count(const struct kernel_exec *x)
{
	return x->input_count;
}

/* The message type: top-level msg_type, else header.msg_type (SDK). */
static const char *
kernel_msg_type(const json_t *msg)
{
	const char *t = json_string_value(json_object_get(msg, "msg_type"));

	if (t == NULL)
		t = json_string_value(json_object_get(
		    json_object_get(msg, "header"), "msg_type"));
	return t;
}

/* parent_header.msg_id, or NULL. */
static const char *
kernel_msg_parent(const json_t *msg)
{
	return json_string_value(
	    json_object_get(json_object_get(msg, "parent_header"), "msg_id"));
}

enum kernel_life
kernel_msg_life(const json_t *msg)
{
	const char *t = kernel_msg_type(msg), *state;
	json_t *content = json_object_get(msg, "content");

	if (t == NULL || !json_is_object(content))
		return KERNEL_LIFE_SAME;
	if (strcmp(t, "status") == 0) {
		state = json_string_value(
		    json_object_get(content, "execution_state"));
		if (state != NULL && strcmp(state, "restarting") == 0)
			return KERNEL_LIFE_RESTARTED;
		if (state != NULL && strcmp(state, "dead") == 0)
			return KERNEL_LIFE_DEAD;
		return KERNEL_LIFE_SAME;
	}
	if (strcmp(t, "shutdown_reply") == 0)
		return json_is_true(json_object_get(content, "restart"))
		    ? KERNEL_LIFE_RESTARTED
		    : KERNEL_LIFE_DEAD;
	return KERNEL_LIFE_SAME;
}

/* How many of n bytes at s fit in what is left of the budget, cut back
 * to a UTF-8 character boundary; sets truncated when not all fit. */
static size_t
kernel_exec_fit(struct kernel_exec *x, const char *s, size_t n)
{
	size_t room = x->max - x->used;

	if (n <= room)
		return n;
	x->truncated = 1;
	while (room > 0 && ((unsigned char)s[room] & 0xc0) == 0x80)
		room--;
	return room;
}

/* The marker line that says output was dropped (once per execution). */
static void
kernel_exec_marker(const struct kernel_exec *x, char *buf, size_t len)
{
	snprintf(buf, len, KERNEL_MARKER_FMT, x->max);
}

/*
 * Append stream text to stdout or stderr within the budget. Returns the
 * event fields ({"data": kept text [+ marker]}), NULL when nothing is
 * left to say (already truncated) or on OOM.
 */
static json_t *
kernel_exec_stream(struct kernel_exec *x, const json_t *content)
{
	const char *name = json_string_value(json_object_get(content, "name"));
	json_t *text = json_object_get(content, "text");
	struct kernel_buf *b, t = {NULL, 0, 0};
	char marker[96];
	size_t n, keep;
	json_t *f;

	if (!json_is_string(text) || x->truncated)
		return NULL;
	b = name != NULL && strcmp(name, "stderr") == 0 ? &x->err : &x->out;
	n = json_string_length(text);
	keep = kernel_exec_fit(x, json_string_value(text), n);
	if (kernel_buf_add(b, json_string_value(text), keep) != 0)
		return NULL;
	x->used += keep;
	if (keep == n)
		return json_pack("{s:O}", "data", text);
	kernel_exec_marker(x, marker, sizeof(marker));
	if (kernel_buf_add(b, marker, strlen(marker)) != 0 ||
	    kernel_buf_add(&t, json_string_value(text), keep) != 0 ||
	    kernel_buf_add(&t, marker, strlen(marker)) != 0) {
		free(t.p);
		return NULL;
	}
	f = json_pack("{s:s%}", "data", t.p, t.len);
	free(t.p);
	return f;
}

/* The bytes a value costs against the budget: string length, or its
 * compact JSON length for anything else. */
static size_t
kernel_value_size(const json_t *v)
{
	if (json_is_string(v))
		return json_string_length(v);
	return json_dumpb(v, NULL, 0, JSON_COMPACT);
}

/*
 * Note that output was dropped: the marker goes once to stdout. Returns
 * the stdout event fields for it, or NULL when it was said already.
 */
static json_t *
kernel_exec_drop(struct kernel_exec *x)
{
	char marker[96];

	if (x->truncated)
		return NULL;
	x->truncated = 1;
	kernel_exec_marker(x, marker, sizeof(marker));
	if (kernel_buf_add(&x->out, marker, strlen(marker)) != 0)
		return NULL;
	return json_pack("{s:s}", "data", marker);
}

/*
 * execute_result (main) or display_data: a result {"is_main_result", every
 * MIME key of content.data}. Returns the event, or NULL (dropped, OOM).
 */
static json_t *
kernel_exec_bundle(
    struct kernel_exec *x, const json_t *content, int main, const char **event)
{
	json_t *data = json_object_get(content, "data"), *r, *v;
	const char *mime;
	size_t size = 0;

	if (!json_is_object(data))
		return NULL;
	json_object_foreach(data, mime, v)
		size += strlen(mime) + kernel_value_size(v);
	if (x->truncated || size > x->max - x->used) {
		*event = "stdout";
		return kernel_exec_drop(x);
	}
	if ((r = json_deep_copy(data)) == NULL)
		return NULL;
	if (json_object_set_new(r, "is_main_result", json_boolean(main)) != 0 ||
	    json_array_append(x->results, r) != 0) {
		json_decref(r);
		return NULL;
	}
	x->used += size;
	if (main) {
		v = json_object_get(content, "execution_count");
		if (json_is_integer(v))
			x->count = json_integer_value(v);
	}
	*event = "result";
	return json_pack("{s:o}", "bundle", r);
}

/*
 * error: {"name": ename, "value": evalue, "traceback": lines joined by
 * "\n"} (ANSI colours kept), the traceback cut to the budget. Returns the
 * event fields, or NULL on OOM.
 */
static json_t *
kernel_exec_error(struct kernel_exec *x, const json_t *content)
{
	const char *name, *value, *line;
	json_t *tb = json_object_get(content, "traceback"), *v, *e;
	struct kernel_buf b = {NULL, 0, 0};
	char marker[96];
	size_t i, n, keep, base;

	name = json_string_value(json_object_get(content, "ename"));
	value = json_string_value(json_object_get(content, "evalue"));
	if (name == NULL)
		return NULL;
	value = value != NULL ? value : "";
	json_array_foreach(tb, i, v) {
		if ((line = json_string_value(v)) == NULL)
			continue;
		if ((i > 0 && kernel_buf_add(&b, "\n", 1) != 0) ||
		    kernel_buf_add(&b, line, json_string_length(v)) != 0) {
			free(b.p);
			return NULL;
		}
	}
	base = strlen(name) + strlen(value);
	if (x->truncated || base > x->max - x->used) {
		free(b.p);
		/* Over the budget: keep only the name, which still says what
		 * went wrong. */
		x->truncated = 1;
		e = json_pack("{s:s, s:s, s:s}", "name", name, "value", "",
		    "traceback", "");
		goto set;
	}
	x->used += base;
	n = b.len;
	keep = b.p != NULL ? kernel_exec_fit(x, b.p, n) : 0;
	x->used += keep;
	if (keep < n) {
		b.len = keep;
		kernel_exec_marker(x, marker, sizeof(marker));
		if (kernel_buf_add(&b, marker, strlen(marker)) != 0) {
			free(b.p);
			return NULL;
		}
	}
	e = json_pack("{s:s, s:s, s:s%}", "name", name, "value", value,
	    "traceback", b.p != NULL ? b.p : "", b.len);
	free(b.p);
set:
	if (e == NULL)
		return NULL;
	json_decref(x->error);
	x->error = json_incref(e);
	return e;
}

enum kernel_step
kernel_exec_feed(struct kernel_exec *x, const json_t *msg, const char **event,
    json_t **fields)
{
	const char *type, *parent, *state;
	json_t *content, *v, *f = NULL;

	*event = NULL;
	*fields = NULL;
	parent = kernel_msg_parent(msg);
	type = kernel_msg_type(msg);
	content = json_object_get(msg, "content");
	if (x->done || parent == NULL || strcmp(parent, x->msg_id) != 0 ||
	    type == NULL || !json_is_object(content))
		return KERNEL_STEP_NONE;
	if (strcmp(type, "status") == 0) {
		state = json_string_value(
		    json_object_get(content, "execution_state"));
		if (state == NULL || strcmp(state, "idle") != 0)
			return KERNEL_STEP_NONE;
		x->done = 1;
		return KERNEL_STEP_DONE;
	}
	if (strcmp(type, "execute_input") == 0) {
		v = json_object_get(content, "execution_count");
		if (json_is_integer(v))
			x->input_count = json_integer_value(v);
		return KERNEL_STEP_NONE;
	}
	if (strcmp(type, "stream") == 0) {
		v = json_object_get(content, "name");
		*event = json_is_string(v) &&
			strcmp(json_string_value(v), "stderr") == 0
		    ? "stderr"
		    : "stdout";
		f = kernel_exec_stream(x, content);
	} else if (strcmp(type, "execute_result") == 0)
		f = kernel_exec_bundle(x, content, 1, event);
	else if (strcmp(type, "display_data") == 0)
		f = kernel_exec_bundle(x, content, 0, event);
	else if (strcmp(type, "error") == 0) {
		*event = "error";
		f = kernel_exec_error(x, content);
	}
	if (f == NULL) {
		*event = NULL;
		return KERNEL_STEP_NONE;
	}
	*fields = f;
	return KERNEL_STEP_EVENT;
}

/* The SDK's Execution.text: text/plain of the first main result, its
 * outer quotes stripped when it starts and ends with the same one. */
static json_t *
kernel_exec_text(const struct kernel_exec *x)
{
	json_t *r, *t;
	const char *s;
	size_t i, n;

	json_array_foreach(x->results, i, r) {
		if (!json_is_true(json_object_get(r, "is_main_result")))
			continue;
		t = json_object_get(r, "text/plain");
		if (!json_is_string(t))
			return json_null();
		s = json_string_value(t);
		n = json_string_length(t);
		if (n >= 2 && (s[0] == '\'' || s[0] == '"') && s[n - 1] == s[0])
			return json_stringn(s + 1, n - 2);
		return json_incref(t);
	}
	return json_null();
}

json_t *
kernel_exec_result(const struct kernel_exec *x)
{
	return json_pack("{s:o, s:s%, s:s%, s:O, s:o, s:o, s:b}", "text",
	    kernel_exec_text(x), "stdout", x->out.p != NULL ? x->out.p : "",
	    x->out.len, "stderr", x->err.p != NULL ? x->err.p : "", x->err.len,
	    "error", x->error != NULL ? x->error : json_null(), "results",
	    json_copy(x->results), "execution_count",
	    x->count >= 0 ? json_integer(x->count) : json_null(), "truncated",
	    x->truncated);
}

char *
kernel_msg_execute(const char *msg_id, const char *session, const char *date,
    const char *code, size_t code_len)
{
	json_t *m;
	char *s;

	m = json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:{}, s:{}, "
		      "s:{s:s%, s:b, s:b, s:{}, s:b, s:b}, s:[], s:s}",
	    "header", "msg_id", msg_id, "msg_type", "execute_request",
	    "username", "wrennd", "session", session, "date", date, "version",
	    "5.3", "parent_header", "metadata", "content", "code", code,
	    code_len, "silent", 0, "store_history", 1, "user_expressions",
	    "allow_stdin", 0, "stop_on_error", 1, "buffers", "channel",
	    "shell");
	if (m == NULL)
		return NULL;
	s = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	return s;
}

static int
kernel_strcmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The language of kernelspec entry v ({"name", "spec": {"language"}}). */
static const char *
kernel_spec_language(const json_t *v)
{
	return json_string_value(
	    json_object_get(json_object_get(v, "spec"), "language"));
}

/* Whether kernelspec name (entry v) serves language. */
static int
kernel_spec_matches(const char *name, const json_t *v, const char *language)
{
	const char *l = kernel_spec_language(v);

	return (l != NULL && strcasecmp(l, language) == 0) ||
	    strcasecmp(name, language) == 0;
}

const char *
kernel_spec_pick(const json_t *specs, const char *language, json_t **offered)
{
	json_t *all = json_object_get(specs, "kernelspecs"), *v, *langs;
	const char *def, *name, *l, **names;
	size_t n, i;

	*offered = NULL;
	if (!json_is_object(all))
		return NULL;
	def = json_string_value(json_object_get(specs, "default"));
	json_object_foreach(all, name, v)
		if (def != NULL && strcmp(name, def) == 0 &&
		    kernel_spec_matches(name, v, language))
			return name;
	n = json_object_size(all);
	if ((names = calloc(n + 1, sizeof(*names))) == NULL)
		return NULL;
	i = 0;
	json_object_foreach(all, name, v)
		names[i++] = name;
	qsort(names, n, sizeof(*names), kernel_strcmp);
	for (i = 0; i < n; i++)
		if (kernel_spec_matches(
			names[i], json_object_get(all, names[i]), language)) {
			name = names[i];
			free(names);
			return name;
		}
	/* Not offered: the sorted, unique languages that are. */
	for (i = 0; i < n; i++) {
		l = kernel_spec_language(json_object_get(all, names[i]));
		names[i] = l != NULL ? l : names[i];
	}
	qsort(names, n, sizeof(*names), kernel_strcmp);
	if ((langs = json_array()) != NULL)
		for (i = 0; i < n; i++)
			if (i == 0 || strcmp(names[i], names[i - 1]) != 0)
				json_array_append_new(
				    langs, json_string(names[i]));
	free(names);
	*offered = langs;
	return NULL;
}

const char *
kernel_list_pick(const json_t *list, const char *spec)
{
	const char *name, *id;
	json_t *v;
	size_t i;

	json_array_foreach(list, i, v) {
		name = json_string_value(json_object_get(v, "name"));
		id = json_string_value(json_object_get(v, "id"));
		if (name != NULL && id != NULL && strcmp(name, spec) == 0 &&
		    *id != '\0' && strlen(id) <= 128)
			return id;
	}
	return NULL;
}
