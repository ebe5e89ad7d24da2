/* SPDX-License-Identifier: MIT */
/*
 * Jupyter kernels for sandbox.run_code (see kernel.h). Two halves:
 *
 * The pure half turns the kernel's messages into a CodeResult the way the
 * Python SDK's Capsule.run_code does: stream text into stdout and
 * stderr, execute_result and display_data into results, error into error,
 * status idle of the request ends it, and everything of other parents is
 * ignored. Output is bounded per call.
 *
 * The event half keeps one struct kernel per (sandbox, language):
 *
 *   CLOSED -> SPECS -> LIST -> START -> CONNECT -> NUDGE -> IDLE <-> BUSY
 *         \-> LOOKUP ----------------------/                ^        |
 *                                             its end seen  |        | timeout,
 *                                                         DRAIN <----+ cancel
 *                                                           | 10 s
 *                                                         RESTART
 *
 *   Any state -> CLOSED when the connection goes or the setup fails, and
 *   RESTART -> CLOSED once answered; a queued job starts the setup again.
 *
 * SPECS resolves the language to a kernelspec (GET /api/kernelspecs), LIST
 * finds a running kernel of that spec (GET /api/kernels), START starts one
 * (POST /api/kernels), LOOKUP checks that a kernel known from before still
 * exists (GET /api/kernels/{id}), CONNECT opens its channels WebSocket,
 * NUDGE asks for kernel_info until the iopub channel shows it works.
 * Every request goes through the control plane's proxy to port 8888 of the
 * sandbox with the proxy's credential (rest_proxy_auth: the API key on
 * the 172413e server, none on v0.1.5); answers of 5xx (nothing listening yet:
 * the proxy's 502) and transport failures are retried every 500 ms until the
 * setup deadline. In IDLE the first queued job is sent (BUSY) and answered
 * at its status idle. A job that times out or is cancelled is answered at
 * once; the kernel is interrupted and wrennd waits for that execution's
 * end (DRAIN) before sending the next one. Code goes with stop_on_error
 * false, so an error in one call never aborts the next (a reply without
 * the code run is kernel_aborted). An execution that ignores the
 * interrupt gets the kernel restarted (RESTART). A kernel that restarted
 * or died is noticed from the server's status messages, from a kernel id
 * that no longer exists, or from an execution_count that went backwards;
 * the next reply then says "kernel_restarted": true.
 */
#include "config.h"

#include "kernel.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>
#include <event2/util.h>
#include <jansson.h>

#include "call.h"
#include "conf.h"
#include "ipc.h"
#include "log.h"
#include "rest.h"
#include "upstream.h"
#include "url.h"
#include "wrennd.h"
#include "ws.h"

#define KERNEL_MARKER_FMT   "\n[wrennd: output truncated: over %zu bytes]\n"
#define KERNEL_MAX_REST	    (1024 * 1024) /* one Jupyter REST answer */
#define KERNEL_HANDSHAKE_MS 30000

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

/* The text of a shell request of type with content (stolen). */
static char *
kernel_msg_request(const char *type, const char *msg_id, const char *session,
    const char *date, json_t *content)
{
	json_t *m;
	char *s;

	m = json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:{}, s:{}, s:o, "
		      "s:[], s:s}",
	    "header", "msg_id", msg_id, "msg_type", type, "username", "wrennd",
	    "session", session, "date", date, "version", "5.3", "parent_header",
	    "metadata", "content", content, "buffers", "channel", "shell");
	if (m == NULL)
		return NULL;
	s = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	return s;
}

char *
kernel_msg_execute(const char *msg_id, const char *session, const char *date,
    const char *code, size_t code_len)
{
	return kernel_msg_request("execute_request", msg_id, session, date,
	    json_pack("{s:s%, s:b, s:b, s:{}, s:b, s:b}", "code", code,
		code_len, "silent", 0, "store_history", 1, "user_expressions",
		"allow_stdin", 0, "stop_on_error", 0));
}

char *
kernel_msg_kernel_info(
    const char *msg_id, const char *session, const char *date)
{
	return kernel_msg_request(
	    "kernel_info_request", msg_id, session, date, json_object());
}

int
kernel_msg_is_iopub(const json_t *msg)
{
	const char *ch = json_string_value(json_object_get(msg, "channel"));

	return ch != NULL && strcmp(ch, "iopub") == 0;
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

/* ---- Event half: the registry, the queues, the connections ------------ */

enum kernel_state {
	KERNEL_CLOSED,	/* no connection (a kernel id may be remembered) */
	KERNEL_SPECS,	/* GET /api/kernelspecs */
	KERNEL_LOOKUP,	/* GET /api/kernels/{id}: is it still there? */
	KERNEL_LIST,	/* GET /api/kernels: one of our spec running? */
	KERNEL_START,	/* POST /api/kernels */
	KERNEL_CONNECT, /* the channels WebSocket handshake */
	KERNEL_NUDGE,	/* connected: waiting for the first iopub message */
	KERNEL_IDLE,	/* connected, nothing running */
	KERNEL_BUSY,	/* the first job's execute_request is out */
	KERNEL_DRAIN,	/* waiting for an abandoned execution to end */
	KERNEL_RESTART, /* POST /api/kernels/{id}/restart */
	KERNEL__MAX
};

static const char *kernel_state_names[KERNEL__MAX] = {"closed", "specs",
    "lookup", "list", "start", "connect", "nudge", "idle", "busy", "drain",
    "restart"};

#define KERNEL_TO(s) (1u << (s))
/* Legal transitions: kernel_transitions[from] has bit `to` set. */
static const unsigned kernel_transitions[KERNEL__MAX] = {
    [KERNEL_CLOSED] = KERNEL_TO(KERNEL_SPECS) | KERNEL_TO(KERNEL_LOOKUP) |
	KERNEL_TO(KERNEL_LIST),
    [KERNEL_SPECS] = KERNEL_TO(KERNEL_LIST) | KERNEL_TO(KERNEL_CLOSED),
    [KERNEL_LOOKUP] = KERNEL_TO(KERNEL_CONNECT) | KERNEL_TO(KERNEL_LIST) |
	KERNEL_TO(KERNEL_CLOSED),
    [KERNEL_LIST] = KERNEL_TO(KERNEL_CONNECT) | KERNEL_TO(KERNEL_START) |
	KERNEL_TO(KERNEL_CLOSED),
    [KERNEL_START] = KERNEL_TO(KERNEL_CONNECT) | KERNEL_TO(KERNEL_CLOSED),
    [KERNEL_CONNECT] = KERNEL_TO(KERNEL_NUDGE) | KERNEL_TO(KERNEL_LIST) |
	KERNEL_TO(KERNEL_CLOSED),
    [KERNEL_NUDGE] = KERNEL_TO(KERNEL_IDLE) | KERNEL_TO(KERNEL_CLOSED),
    [KERNEL_IDLE] = KERNEL_TO(KERNEL_BUSY) | KERNEL_TO(KERNEL_CLOSED),
    [KERNEL_BUSY] = KERNEL_TO(KERNEL_IDLE) | KERNEL_TO(KERNEL_DRAIN) |
	KERNEL_TO(KERNEL_CLOSED),
    [KERNEL_DRAIN] = KERNEL_TO(KERNEL_IDLE) | KERNEL_TO(KERNEL_RESTART) |
	KERNEL_TO(KERNEL_CLOSED),
    [KERNEL_RESTART] = KERNEL_TO(KERNEL_CLOSED),
};

/* One sandbox.run_code call waiting for or running on a kernel. */
struct kernel_job {
	TAILQ_ENTRY(kernel_job) entry; /* in k->jobs, in call order */
	struct kernel *k;	       /* borrowed owner */
	struct call *call;	       /* borrowed; answered exactly once */
	char *code;		       /* owned */
	size_t code_len;
	int timeout_sec;
	int stream;		  /* send $/stream events */
	struct kernel_exec *x;	  /* owned once sent */
	struct event *ev_timeout; /* owned: the execution's deadline */
};

TAILQ_HEAD(kernel_job_list, kernel_job);

struct kernel {
	TAILQ_ENTRY(kernel) entry; /* in set->all, least recently used first */
	struct kernel_set *set;	   /* borrowed owner */
	struct wrennd *wd;	   /* borrowed */
	char *sandbox_id;	   /* owned: the key, with language */
	char *language;		   /* owned */
	char label[80];		   /* "8888-{sandbox_id}": the proxy's host */
	char *spec;		   /* owned kernelspec name, once resolved */
	char *id;		   /* owned Jupyter kernel id, once known */
	char session[40];	   /* our Jupyter session id */
	enum kernel_state state;
	struct upstream_req *req;    /* owned: the REST step in flight */
	struct upstream_req *ireq;   /* owned: an interrupt in flight */
	struct ws *ws;		     /* owned while connecting or connected */
	struct event *ev_timer;	     /* owned: retry or drain deadline */
	long long deadline_ms;	     /* of the setup, monotonic */
	long long nudge_ms;	     /* end of the nudge, monotonic */
	char last_err[256];	     /* the last transient failure seen */
	struct kernel_job_list jobs; /* owned; the first runs in BUSY */
	unsigned njobs;
	struct kernel_exec *drain; /* owned: the abandoned execution */
	long long last_count;	   /* highest execution_count seen, -1 */
	int restarted;		   /* state lost since the last answer */
	int found;		   /* wrennd used a kernel here before */
	int paused;		   /* WebSocket reading paused for a client */
};

TAILQ_HEAD(kernel_list, kernel);

struct kernel_set {
	struct kernel_list all; /* owned */
	unsigned n;
};

static void kernel_pump(struct kernel *k);
static void kernel_nudge(struct kernel *k);
static void kernel_step(struct kernel *k);
static void kernel_close(struct kernel *k);

/* Milliseconds on the monotonic clock. */
static long long
kernel_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A random UUID (version 4) in buf (at least 37 bytes). */
static void
kernel_uuid(char *buf, size_t len)
{
	unsigned char r[16];

	evutil_secure_rng_get_bytes(r, sizeof(r));
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(buf, len,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
	    r[11], r[12], r[13], r[14], r[15]);
}

/* Now as a Jupyter header date (ISO 8601, UTC). */
static void
kernel_date(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

/* Move k to state `to` (a move to the same state is ignored); illegal
 * moves are bugs. */
static void
kernel_set_state(struct kernel *k, enum kernel_state to)
{
	if (k->state == to)
		return;
	assert(kernel_transitions[k->state] & KERNEL_TO(to));
	log_debug("kernel %s/%s: %s -> %s", k->sandbox_id, k->language,
	    kernel_state_names[k->state], kernel_state_names[to]);
	k->state = to;
}

struct kernel_set *
kernel_set_new(void)
{
	struct kernel_set *set;

	if ((set = calloc(1, sizeof(*set))) == NULL)
		return NULL;
	TAILQ_INIT(&set->all);
	return set;
}

unsigned
kernel_count(const struct kernel_set *set)
{
	return set != NULL ? set->n : 0;
}

unsigned
kernel_connected(const struct kernel_set *set)
{
	const struct kernel *k;
	unsigned n = 0;

	if (set == NULL)
		return 0;
	TAILQ_FOREACH(k, &set->all, entry)
		if (k->state >= KERNEL_IDLE)
			n++;
	return n;
}

/* Take job off its kernel's queue and free it (its call is left alone). */
static void
kernel_job_free(struct kernel_job *job)
{
	struct kernel *k = job->k;

	call_set_cancel(job->call, NULL, NULL);
	call_set_drain(job->call, NULL, NULL);
	TAILQ_REMOVE(&k->jobs, job, entry);
	k->njobs--;
	if (job->ev_timeout != NULL)
		event_free(job->ev_timeout);
	kernel_exec_free(job->x);
	free(job->code);
	free(job);
}

/* The job whose code is running (BUSY), or NULL. */
static struct kernel_job *
kernel_running(const struct kernel *k)
{
	return k->state == KERNEL_BUSY ? TAILQ_FIRST(&k->jobs) : NULL;
}

/* Stop reading the WebSocket for a congested client, or resume. */
static void
kernel_pause(struct kernel *k, int paused)
{
	if (k->paused == paused)
		return;
	k->paused = paused;
	if (k->ws != NULL)
		ws_pause_read(k->ws, paused);
}

/* The partial CodeResult of job as error data, with more members. */
static json_t *
kernel_job_partial(struct kernel_job *job)
{
	json_t *d = job->x != NULL ? kernel_exec_result(job->x) : json_object();

	if (d != NULL)
		json_object_set_new(
		    d, "kernel_restarted", json_boolean(job->k->restarted));
	return d;
}

/* Free k and its jobs' memory (their calls are gone or answered). */
static void
kernel_free(struct kernel *k)
{
	while (!TAILQ_EMPTY(&k->jobs))
		kernel_job_free(TAILQ_FIRST(&k->jobs));
	TAILQ_REMOVE(&k->set->all, k, entry);
	k->set->n--;
	upstream_req_cancel(k->req);
	upstream_req_cancel(k->ireq);
	ws_free(k->ws);
	if (k->ev_timer != NULL)
		event_free(k->ev_timer);
	kernel_exec_free(k->drain);
	free(k->sandbox_id);
	free(k->language);
	free(k->spec);
	free(k->id);
	free(k);
}

void
kernel_set_free(struct kernel_set *set)
{
	if (set == NULL)
		return;
	while (!TAILQ_EMPTY(&set->all))
		kernel_free(TAILQ_FIRST(&set->all));
	free(set);
}

/*
 * Answer every queued job with the error object err (stolen) and close
 * the connection. A kernel that never got an id is forgotten (nothing
 * about it is worth keeping); k may be freed.
 */
static void
kernel_fail_all(struct kernel *k, json_t *err)
{
	struct kernel_job *job;
	struct call *call;

	kernel_close(k);
	while ((job = TAILQ_FIRST(&k->jobs)) != NULL) {
		call = job->call;
		kernel_job_free(job);
		if (err != NULL)
			call_fail_obj(call, err);
		else
			call_fail_oom(call);
	}
	json_decref(err);
	if (k->id == NULL)
		kernel_free(k);
}

/*
 * The error for an HTTP error answer on the way to the kernel: the
 * control plane's own (its envelope, or the proxy's text/plain refusals:
 * call_http_error), or the Jupyter Server's JSON {"message", "reason"}.
 */
static json_t *
kernel_http_error(struct kernel *k, long status, const char *ctype,
    const char *body, size_t len)
{
	json_t *doc = NULL, *err;
	const char *msg;
	char q[256];

	if (ctype != NULL && strncasecmp(ctype, "application/json", 16) == 0)
		doc = json_loadb(body, len, 0, NULL);
	msg = json_string_value(json_object_get(doc, "message"));
	if (msg == NULL || json_object_get(doc, "error") != NULL) {
		json_decref(doc);
		return call_http_error(status, body, len);
	}
	err = call_error_obj(IPC_ERR_APPLICATION, "jupyter_error",
	    json_pack("{s:I}", "status", (json_int_t)status),
	    "the Jupyter Server in sandbox %s answered HTTP %ld: %s",
	    k->sandbox_id, status, log_quote_str(q, sizeof(q), msg));
	json_decref(doc);
	return err;
}

static void
kernel_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kernel *k = arg;

	if (k->state == KERNEL_NUDGE) {
		kernel_nudge(k);
		return;
	}
	if (k->state == KERNEL_DRAIN) {
		/* The code ignored the interrupt: restart the kernel. */
		kernel_set_state(k, KERNEL_RESTART);
		log_info("kernel %s/%s: the interrupted code did not stop in "
			 "%d s; restarting the kernel",
		    k->sandbox_id, k->language, KERNEL_DRAIN_MS / 1000);
	}
	kernel_step(k);
}

/* Arm k's timer for ms. */
static void
kernel_timer(struct kernel *k, long ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(k->ev_timer, &tv);
}

/*
 * A transient failure of a setup step (nothing listening yet, 5xx, a cut
 * connection): try the step again soon, or give up at the deadline.
 */
static void kernel_retry(struct kernel *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
kernel_retry(struct kernel *k, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(k->last_err, sizeof(k->last_err), fmt, ap);
	va_end(ap);
	if (kernel_now_ms() + KERNEL_RETRY_MS <= k->deadline_ms) {
		kernel_timer(k, KERNEL_RETRY_MS);
		return;
	}
	kernel_fail_all(k,
	    call_error_obj(IPC_ERR_APPLICATION, "jupyter_unavailable",
		json_pack("{s:s, s:i}", "last_error", k->last_err, "port",
		    KERNEL_PORT),
		"no kernel in sandbox %s within %d s: the Jupyter Server on "
		"port %d did not answer (last: %s)",
		k->sandbox_id, KERNEL_SETUP_MS / 1000, KERNEL_PORT,
		k->last_err));
}

static void kernel_rest_done_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg);

/* Start one REST request of the current step (path escaped, body JSON or
 * NULL); its answer comes to kernel_rest_done_cb. */
static void
kernel_rest(
    struct kernel *k, const char *verb, const char *path, const json_t *body)
{
	struct upstream_req *req;
	long long left;

	req = rest_req_new_proxy(k->wd, k->label, verb, path, body);
	if (req == NULL) {
		kernel_fail_all(k, NULL);
		return;
	}
	upstream_req_set_max_response(req, KERNEL_MAX_REST);
	/* A setup step answers within what is left of the setup time. */
	left = k->deadline_ms - kernel_now_ms();
	if (k->state != KERNEL_RESTART && left < k->wd->cfg->request_timeout_ms)
		upstream_req_set_timeout(req, left > 1000 ? (long)left : 1000);
	if (upstream_req_start(req, kernel_rest_done_cb, k) != 0) {
		kernel_fail_all(k, NULL);
		return;
	}
	k->req = req;
}

/* "/api/kernels/{escaped id}{suffix}" (caller frees), NULL on OOM. */
static char *
kernel_path(const struct kernel *k, const char *suffix)
{
	char *esc, *out;

	if ((esc = upstream_escape(k->id, strlen(k->id))) == NULL)
		return NULL;
	if (asprintf(&out, "/api/kernels/%s%s", esc, suffix) == -1)
		out = NULL;
	free(esc);
	return out;
}

static void kernel_ws_open_cb(struct ws *ws, void *arg);
static void kernel_ws_message_cb(struct ws *ws, enum ws_msg_type type,
    const unsigned char *data, size_t len, void *arg);
static void kernel_ws_close_cb(
    struct ws *ws, const struct ws_close_info *info, void *arg);

/*
 * Open the kernel's channels WebSocket through the proxy: the URL names
 * the proxy host (Host, SNI, certificate), the connection goes to the base
 * URL's address, with the proxy's credential (rest_proxy_auth).
 */
static void
kernel_connect(struct kernel *k)
{
	struct wrennd *wd = k->wd;
	char *host = NULL, *path = NULL, *url = NULL;
	struct url *base = NULL;
	const char *why = NULL;
	struct ws_opts o;
	int r = -ENOMEM;

	if (url_parse(upstream_base_url(wd->up), &base, &why) != 0)
		goto done;
	if ((host = upstream_proxy_host(wd->up, k->label)) == NULL) {
		r = errno == EINVAL ? -EINVAL : -ENOMEM;
		goto done;
	}
	if ((path = kernel_path(k, "/channels")) == NULL ||
	    asprintf(&url, "%s://%s%s?session_id=%s", base->tls ? "wss" : "ws",
		host, path, k->session) == -1) {
		url = NULL;
		goto done;
	}
	memset(&o, 0, sizeof(o));
	o.url = url;
	o.connect_host = base->host;
	o.connect_port = base->port;
	o.handshake_timeout_ms = KERNEL_HANDSHAKE_MS;
	o.max_msg = KERNEL_MAX_MSG;
	o.on_open = kernel_ws_open_cb;
	o.on_message = kernel_ws_message_cb;
	o.on_close = kernel_ws_close_cb;
	o.arg = k;
	r = rest_ws_connect(wd, rest_proxy_auth(wd), &o, &k->ws);
done:
	free(url);
	free(path);
	free(host);
	url_free(base);
	if (r == 0)
		return;
	kernel_fail_all(k,
	    call_error_obj(IPC_ERR_INTERNAL, "internal", NULL,
		"cannot open the kernel connection: %s", strerror(-r)));
}

/* Run the current state's step (again, after a transient failure). */
static void
kernel_step(struct kernel *k)
{
	json_t *body;
	char *path;

	switch (k->state) {
	case KERNEL_SPECS:
		kernel_rest(k, "GET", "/api/kernelspecs", NULL);
		return;
	case KERNEL_LIST:
		kernel_rest(k, "GET", "/api/kernels", NULL);
		return;
	case KERNEL_START:
		if ((body = json_pack("{s:s}", "name", k->spec)) == NULL) {
			kernel_fail_all(k, NULL);
			return;
		}
		kernel_rest(k, "POST", "/api/kernels", body);
		json_decref(body);
		return;
	case KERNEL_LOOKUP:
	case KERNEL_RESTART:
		path =
		    kernel_path(k, k->state == KERNEL_LOOKUP ? "" : "/restart");
		if (path == NULL) {
			kernel_fail_all(k, NULL);
			return;
		}
		kernel_rest(
		    k, k->state == KERNEL_LOOKUP ? "GET" : "POST", path, NULL);
		free(path);
		return;
	case KERNEL_CONNECT:
		kernel_connect(k);
		return;
	case KERNEL_CLOSED:
	case KERNEL_NUDGE:
	case KERNEL_IDLE:
	case KERNEL_BUSY:
	case KERNEL_DRAIN:
	case KERNEL__MAX:
		break;
	}
}

/* Drop the connection and every step in flight; state CLOSED. */
static void
kernel_close(struct kernel *k)
{
	upstream_req_cancel(k->req);
	k->req = NULL;
	ws_free(k->ws);
	k->ws = NULL;
	k->paused = 0;
	evtimer_del(k->ev_timer);
	kernel_exec_free(k->drain);
	k->drain = NULL;
	kernel_set_state(k, KERNEL_CLOSED);
}

/* Closed with jobs waiting: find the kernel again (or resolve, start). */
static void
kernel_kick(struct kernel *k)
{
	if (k->state != KERNEL_CLOSED || TAILQ_EMPTY(&k->jobs))
		return;
	k->deadline_ms = kernel_now_ms() + KERNEL_SETUP_MS;
	snprintf(k->last_err, sizeof(k->last_err), "no answer yet");
	kernel_set_state(k,
	    k->spec == NULL	? KERNEL_SPECS
		: k->id != NULL ? KERNEL_LOOKUP
				: KERNEL_LIST);
	kernel_step(k);
}

/* The kernel (id) is gone: the next one starts without its state. */
static void
kernel_lost(struct kernel *k)
{
	free(k->id);
	k->id = NULL;
	if (k->found)
		k->restarted = 1;
	k->last_count = -1;
}

/* Adopt the kernel id (copied) and connect to it. */
static void
kernel_adopt(struct kernel *k, const char *id)
{
	char *copy;

	if ((copy = strdup(id)) == NULL) {
		kernel_fail_all(k, NULL);
		return;
	}
	free(k->id);
	k->id = copy;
	kernel_set_state(k, KERNEL_CONNECT);
	kernel_step(k);
}

/* GET /api/kernelspecs answered: resolve the language or refuse it. */
static void
kernel_specs_done(struct kernel *k, json_t *doc)
{
	json_t *offered = NULL;
	const char *spec;
	char *list;

	spec = kernel_spec_pick(doc, k->language, &offered);
	if (spec != NULL) {
		if ((k->spec = strdup(spec)) == NULL) {
			kernel_fail_all(k, NULL);
			return;
		}
		kernel_set_state(k, KERNEL_LIST);
		kernel_step(k);
		return;
	}
	if (offered == NULL) {
		kernel_fail_all(k,
		    call_error_obj(IPC_ERR_APPLICATION, "upstream_protocol",
			NULL,
			"the Jupyter Server in sandbox %s answered GET "
			"/api/kernelspecs with something that is not a list "
			"of kernelspecs",
			k->sandbox_id));
		return;
	}
	list = json_dumps(offered, JSON_COMPACT);
	kernel_fail_all(k,
	    call_error_obj(IPC_ERR_INVALID_PARAMS, "invalid_params",
		json_pack("{s:s, s:o}", "language", k->language, "languages",
		    offered),
		"no kernel for language '%s' in sandbox %s; its Jupyter "
		"Server offers %s",
		k->language, k->sandbox_id, list != NULL ? list : "?"));
	free(list);
}

/* A REST step answered. */
static void
kernel_rest_done_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct kernel *k = arg;
	const char *id;
	json_t *doc = NULL;
	char q[128];

	k->req = NULL;
	if (res->outcome != UPSTREAM_OK) {
		kernel_retry(k, "%s", res->errmsg);
		return;
	}
	if (res->status >= 500) {
		/* The proxy's 502 while nothing listens yet, a 503 of a
		 * sandbox being resumed, the server's own 5xx. */
		kernel_retry(k, "HTTP %ld: %s", res->status,
		    log_quote(q, sizeof(q), res->body,
			strcspn(res->body, "\r\n") < 100
			    ? strcspn(res->body, "\r\n")
			    : 100));
		return;
	}
	if (k->state == KERNEL_LOOKUP && res->status == 404) {
		/* Shut down or the server restarted: state is gone. */
		kernel_lost(k);
		kernel_set_state(k, KERNEL_LIST);
		kernel_step(k);
		return;
	}
	if (res->status < 200 || res->status >= 300) {
		kernel_fail_all(k,
		    kernel_http_error(k, res->status, res->content_type,
			res->body, res->body_len));
		return;
	}
	doc = json_loadb(res->body, res->body_len, 0, NULL);
	switch (k->state) {
	case KERNEL_SPECS:
		kernel_specs_done(k, doc);
		break;
	case KERNEL_LOOKUP:
		kernel_set_state(k, KERNEL_CONNECT);
		kernel_step(k);
		break;
	case KERNEL_LIST:
		if ((id = kernel_list_pick(doc, k->spec)) != NULL) {
			kernel_adopt(k, id);
			break;
		}
		kernel_set_state(k, KERNEL_START);
		kernel_step(k);
		break;
	case KERNEL_START:
		id = json_string_value(json_object_get(doc, "id"));
		if (id == NULL || *id == '\0' || strlen(id) > 128) {
			kernel_fail_all(k,
			    call_error_obj(IPC_ERR_APPLICATION,
				"upstream_protocol", NULL,
				"the Jupyter Server in sandbox %s started a "
				"kernel without saying its id",
				k->sandbox_id));
			break;
		}
		kernel_adopt(k, id);
		break;
	case KERNEL_RESTART:
		/* A fresh kernel under the same id: reconnect to it. */
		k->restarted = 1;
		k->last_count = -1;
		kernel_close(k);
		kernel_kick(k);
		break;
	default:
		/* kernel_step makes REST requests in the states above only */
		break;
	}
	json_decref(doc);
}

/* An interrupt was answered; nothing waits for it but the log. */
static void
kernel_interrupt_done_cb(
    struct upstream_req *req, const struct upstream_result *res, void *arg)
{
	struct kernel *k = arg;

	k->ireq = NULL;
	if (!rest_ok(res))
		log_debug("kernel %s/%s: interrupt failed: %s (HTTP %ld)",
		    k->sandbox_id, k->language, res->errmsg, res->status);
}

/*
 * The running job was answered (timeout) or abandoned (cancel): keep its
 * assembly to see the end of its execution, interrupt the kernel, and wait
 * in DRAIN before the next job goes out.
 */
static void
kernel_abandon(struct kernel *k, struct kernel_job *job)
{
	char *path;

	assert(job == kernel_running(k));
	k->drain = job->x;
	job->x = NULL;
	kernel_job_free(job);
	kernel_pause(k, 0);
	kernel_set_state(k, KERNEL_DRAIN);
	kernel_timer(k, KERNEL_DRAIN_MS);
	if (k->ireq != NULL || (path = kernel_path(k, "/interrupt")) == NULL)
		return;
	k->ireq = rest_req_new_proxy(k->wd, k->label, "POST", path, NULL);
	free(path);
	if (k->ireq != NULL &&
	    upstream_req_start(k->ireq, kernel_interrupt_done_cb, k) != 0)
		k->ireq = NULL;
}

/* A job's execution passed timeout_sec: answer it, interrupt the kernel. */
static void
kernel_job_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kernel_job *job = arg;
	struct kernel *k = job->k;
	struct call *call = job->call;
	json_t *data = kernel_job_partial(job);
	int sec = job->timeout_sec;

	if (data != NULL)
		json_object_set_new(data, "timeout_sec", json_integer(sec));
	k->restarted = 0;
	/* The job goes (its hooks cleared) before the call is answered. */
	kernel_abandon(k, job);
	call_fail(call, IPC_ERR_APPLICATION, "timeout", data,
	    "the code did not finish within %d s (timeout_sec); the kernel "
	    "was interrupted and keeps its state, output so far is in data",
	    sec);
	kernel_pump(k);
}

/* The caller cancelled or left: dequeue, or interrupt running code. */
static void
kernel_job_cancel_cb(struct call *call, void *arg)
{
	struct kernel_job *job = arg;
	struct kernel *k = job->k;

	if (job == kernel_running(k)) {
		kernel_abandon(k, job);
		kernel_pump(k);
		return;
	}
	kernel_job_free(job);
}

/* The client of the running job read its output: read the kernel again. */
static void
kernel_job_drain_cb(struct call *call, void *arg)
{
	struct kernel_job *job = arg;

	call_set_drain(call, NULL, NULL);
	kernel_pause(job->k, 0);
}

/*
 * Ask for kernel_info until an iopub message comes back. The server
 * skips its own such nudge for a kernel it last saw busy (one that crashed
 * while running and was restarted), and an iopub subscription made while
 * the kernel starts loses what the kernel publishes first, the status
 * idle that ends an execution among it. After KERNEL_NUDGE_MS (a kernel
 * busy with another client's silent code) wrennd goes on anyway.
 */
static void
kernel_nudge(struct kernel *k)
{
	char msg_id[40], date[32], *text;

	if (kernel_now_ms() >= k->nudge_ms) {
		kernel_set_state(k, KERNEL_IDLE);
		kernel_pump(k);
		return;
	}
	kernel_uuid(msg_id, sizeof(msg_id));
	kernel_date(date, sizeof(date));
	if ((text = kernel_msg_kernel_info(msg_id, k->session, date)) != NULL) {
		(void)ws_send_text(k->ws, text, strlen(text));
		free(text);
	}
	kernel_timer(k, KERNEL_RETRY_MS);
}

/* Send the first queued job's code. */
static void
kernel_send(struct kernel *k)
{
	struct kernel_job *job = TAILQ_FIRST(&k->jobs);
	struct call *call = job->call;
	char msg_id[40], date[32], *text;
	struct timeval tv = {job->timeout_sec, 0};
	int r = -ENOMEM;

	kernel_uuid(msg_id, sizeof(msg_id));
	kernel_date(date, sizeof(date));
	if ((job->x = kernel_exec_new(msg_id, KERNEL_MAX_OUTPUT)) == NULL ||
	    (job->ev_timeout = evtimer_new(
		 k->wd->base, kernel_job_timeout_cb, job)) == NULL)
		goto fail;
	text = kernel_msg_execute(
	    msg_id, k->session, date, job->code, job->code_len);
	if (text == NULL)
		goto fail;
	r = ws_send_text(k->ws, text, strlen(text));
	free(text);
	if (r != 0)
		goto fail;
	free(job->code);
	job->code = NULL;
	evtimer_add(job->ev_timeout, &tv);
	kernel_set_state(k, KERNEL_BUSY);
	return;
fail:
	kernel_job_free(job);
	call_fail(call, IPC_ERR_INTERNAL, "internal", NULL,
	    "cannot send the code to the kernel: %s", strerror(-r));
}

/* Send the next job when the kernel is free, or find the kernel. */
static void
kernel_pump(struct kernel *k)
{
	while (k->state == KERNEL_IDLE && !TAILQ_EMPTY(&k->jobs))
		kernel_send(k);
	kernel_kick(k);
}

/* The running job's execution ended (status idle): answer it. */
static void
kernel_job_done(struct kernel *k, struct kernel_job *job)
{
	struct call *call = job->call;
	long long n = kernel_exec_input_count(job->x);
	json_t *res;

	/*
	 * No execute_input: the kernel answered without running the code
	 * (it aborts its queue after an error in a request that asked it
	 * to; wrennd's never do, but another client of the server may).
	 */
	if (n < 0) {
		kernel_job_free(job);
		kernel_pause(k, 0);
		kernel_set_state(k, KERNEL_IDLE);
		call_fail(call, IPC_ERR_APPLICATION, "kernel_aborted", NULL,
		    "the kernel did not run the code: it aborted the request "
		    "after an error in an earlier one");
		kernel_pump(k);
		return;
	}
	/* A count that went back means a fresh kernel ran this code. */
	if (k->last_count >= 0 && n <= k->last_count)
		k->restarted = 1;
	k->last_count = n;
	res = kernel_exec_result(job->x);
	if (res != NULL)
		json_object_set_new(
		    res, "kernel_restarted", json_boolean(k->restarted));
	k->restarted = 0;
	kernel_job_free(job);
	kernel_pause(k, 0);
	kernel_set_state(k, KERNEL_IDLE);
	if (res != NULL)
		call_reply(call, res);
	else
		call_fail_oom(call);
	kernel_pump(k);
}

/*
 * The kernel restarted or died (its server said so): the running job's
 * code is lost with the state. Answer it, and reconnect for the next job
 * (after a restart the server may have moved the kernel's channels).
 */
static void
kernel_died(struct kernel *k, enum kernel_life life)
{
	struct kernel_job *job = kernel_running(k);
	struct call *call;
	json_t *data;

	log_info("kernel %s/%s: the kernel %s; its state is lost",
	    k->sandbox_id, k->language,
	    life == KERNEL_LIFE_DEAD ? "shut down" : "restarted");
	k->restarted = 1;
	k->last_count = -1;
	if (job != NULL) {
		call = job->call;
		data = kernel_job_partial(job);
		kernel_job_free(job);
		call_fail(call, IPC_ERR_APPLICATION, "kernel_died", data,
		    "the kernel %s while the code ran; its state is lost "
		    "(output so far is in data)",
		    life == KERNEL_LIFE_DEAD ? "shut down"
					     : "died and was "
					       "restarted");
	}
	kernel_close(k);
	kernel_kick(k);
}

static void
kernel_ws_open_cb(struct ws *ws, void *arg)
{
	struct kernel *k = arg;

	k->found = 1;
	log_debug("kernel %s/%s: connected to kernel %s", k->sandbox_id,
	    k->language, k->id);
	kernel_set_state(k, KERNEL_NUDGE);
	k->nudge_ms = kernel_now_ms() + KERNEL_NUDGE_MS;
	kernel_nudge(k);
}

static void
kernel_ws_message_cb(struct ws *ws, enum ws_msg_type type,
    const unsigned char *data, size_t len, void *arg)
{
	struct kernel *k = arg;
	struct kernel_job *job;
	enum kernel_life life;
	const char *event;
	json_t *msg, *fields;
	int r;

	/* Binary frames carry buffers (widgets); run_code has none. */
	if (type != WS_MSG_TEXT ||
	    (msg = json_loadb((const char *)data, len, 0, NULL)) == NULL)
		return;
	life = kernel_msg_life(msg);
	if (life != KERNEL_LIFE_SAME && k->state != KERNEL_RESTART) {
		json_decref(msg);
		kernel_died(k, life);
		return;
	}
	if (k->state == KERNEL_NUDGE) {
		if (kernel_msg_is_iopub(msg)) {
			evtimer_del(k->ev_timer);
			kernel_set_state(k, KERNEL_IDLE);
			kernel_pump(k);
		}
		json_decref(msg);
		return;
	}
	if (k->state == KERNEL_DRAIN) {
		if (kernel_exec_feed(k->drain, msg, &event, &fields) ==
		    KERNEL_STEP_DONE) {
			kernel_exec_free(k->drain);
			k->drain = NULL;
			evtimer_del(k->ev_timer);
			kernel_set_state(k, KERNEL_IDLE);
			kernel_pump(k);
		}
		json_decref(fields);
		json_decref(msg);
		return;
	}
	if ((job = kernel_running(k)) == NULL) {
		json_decref(msg);
		return;
	}
	switch (kernel_exec_feed(job->x, msg, &event, &fields)) {
	case KERNEL_STEP_EVENT:
		if (!job->stream) {
			json_decref(fields);
			break;
		}
		r = call_event(job->call, event, fields);
		if (r == 1) {
			/* Slow reader: let TCP slow the kernel down. */
			kernel_pause(k, 1);
			call_set_drain(job->call, kernel_job_drain_cb, job);
		}
		break;
	case KERNEL_STEP_DONE:
		kernel_job_done(k, job);
		break;
	case KERNEL_STEP_NONE:
	case KERNEL_STEP__MAX:
		break;
	}
	json_decref(msg);
}

static void
kernel_ws_close_cb(struct ws *ws, const struct ws_close_info *info, void *arg)
{
	struct kernel *k = arg;
	struct kernel_job *job = kernel_running(k);
	struct call *call;
	json_t *data;

	if (k->state == KERNEL_CONNECT) {
		ws_free(k->ws);
		k->ws = NULL;
		if (info->reason == WS_REASON_HANDSHAKE &&
		    info->status == 404) {
			/* No such kernel any more: find or start one. */
			kernel_lost(k);
			kernel_set_state(k, KERNEL_LIST);
			kernel_step(k);
		} else if (info->reason == WS_REASON_HANDSHAKE &&
		    info->status >= 400 && info->status < 500)
			kernel_fail_all(k,
			    kernel_http_error(k, info->status,
				info->content_type, info->body,
				info->body_len));
		else
			kernel_retry(k, "kernel WebSocket: %s", info->errmsg);
		return;
	}
	log_debug("kernel %s/%s: connection closed: %s", k->sandbox_id,
	    k->language, info->errmsg);
	if (k->state == KERNEL_RESTART)
		k->restarted = 1; /* asked for; whether it happened or not */
	if (job != NULL) {
		call = job->call;
		data = kernel_job_partial(job);
		if (data != NULL)
			json_object_set_new(data, "reason",
			    json_string(ws_reason_name(info->reason)));
		kernel_job_free(job);
		if (info->reason == WS_REASON_TOO_LARGE)
			call_fail(call, IPC_ERR_APPLICATION, "too_large", data,
			    "the kernel sent a message over %d MiB; the "
			    "connection to it was closed",
			    KERNEL_MAX_MSG >> 20);
		else
			call_fail(call, IPC_ERR_APPLICATION,
			    "upstream_unreachable", data,
			    "the connection to the kernel closed while the "
			    "code ran (%s); it may still be running",
			    info->errmsg);
	}
	kernel_close(k);
	kernel_kick(k);
}

/* The kernel for (sandbox_id, language), made if new; NULL on OOM, or
 * with errno ENOSPC when KERNEL_MAX kernels with work are known. */
static struct kernel *
kernel_get(struct wrennd *wd, const char *sandbox_id, const char *language)
{
	struct kernel_set *set = wd->kernels;
	struct kernel *k, *old;

	TAILQ_FOREACH(k, &set->all, entry)
		if (strcmp(k->sandbox_id, sandbox_id) == 0 &&
		    strcmp(k->language, language) == 0) {
			/* Most recently used last. */
			TAILQ_REMOVE(&set->all, k, entry);
			TAILQ_INSERT_TAIL(&set->all, k, entry);
			return k;
		}
	if (set->n >= KERNEL_MAX) {
		/* Forget the least recently used idle one, if any. */
		TAILQ_FOREACH(old, &set->all, entry)
			if (TAILQ_EMPTY(&old->jobs))
				break;
		if (old == NULL) {
			errno = ENOSPC;
			return NULL;
		}
		kernel_free(old);
	}
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	k->set = set;
	k->wd = wd;
	k->last_count = -1;
	TAILQ_INIT(&k->jobs);
	TAILQ_INSERT_TAIL(&set->all, k, entry);
	set->n++;
	kernel_uuid(k->session, sizeof(k->session));
	snprintf(k->label, sizeof(k->label), "%d-%s", KERNEL_PORT, sandbox_id);
	k->sandbox_id = strdup(sandbox_id);
	k->language = strdup(language);
	k->ev_timer = evtimer_new(wd->base, kernel_timer_cb, k);
	if (k->sandbox_id == NULL || k->language == NULL ||
	    k->ev_timer == NULL) {
		kernel_free(k);
		return NULL;
	}
	return k;
}

void
kernel_run(struct call *call, const struct kernel_run_args *a)
{
	struct kernel_job *job;
	struct kernel *k;

	if ((k = kernel_get(call_wd(call), a->sandbox_id, a->language)) ==
	    NULL) {
		if (errno == ENOSPC)
			call_fail(call, IPC_ERR_APPLICATION, "too_many_kernels",
			    json_pack("{s:i}", "limit", KERNEL_MAX),
			    "wrennd has %d kernels with calls queued",
			    KERNEL_MAX);
		else
			call_fail_oom(call);
		return;
	}
	if (k->njobs >= KERNEL_MAX_QUEUE) {
		call_fail(call, IPC_ERR_APPLICATION, "queue_full",
		    json_pack("{s:i}", "limit", KERNEL_MAX_QUEUE),
		    "%d calls are queued on the %s kernel of sandbox %s",
		    KERNEL_MAX_QUEUE, a->language, a->sandbox_id);
		return;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL ||
	    (job->code = malloc(a->code_len + 1)) == NULL) {
		free(job);
		call_fail_oom(call);
		if (TAILQ_EMPTY(&k->jobs) && k->id == NULL &&
		    k->state == KERNEL_CLOSED)
			kernel_free(k);
		return;
	}
	memcpy(job->code, a->code, a->code_len);
	job->code[a->code_len] = '\0';
	job->code_len = a->code_len;
	job->k = k;
	job->call = call;
	job->timeout_sec = a->timeout_sec;
	job->stream = a->stream;
	TAILQ_INSERT_TAIL(&k->jobs, job, entry);
	k->njobs++;
	call_set_cancel(call, kernel_job_cancel_cb, job);
	kernel_pump(k);
}
