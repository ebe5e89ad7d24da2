/* SPDX-License-Identifier: MIT */
/*
 * libwrennctl calls: the table of calls in flight on a handle, request
 * encoding, matching replies and "$/stream" events to calls by id,
 * cancellation, and the blocking wrappers built on the asynchronous call.
 * Owns: every struct ctl_call (freed when its completion has run).
 * Called by: applications, transfer.c; conn.c through ctl_call_conn_ops
 * (each decoded message, the close).
 *
 * Every started call completes exactly once (reply, connection failure or
 * wrennctl_free), mirroring the protocol's "always a final reply" rule, so
 * callers can free their userdata in the reply callback.
 *
 * Calls that pass file descriptors first need the "fds" capability: the
 * first such call queues the library's own rpc.hello {"enable":["fds"]}
 * (an internal call, invisible to pending_calls and cancel) just before
 * itself; wrennd handles lines in order, so no round trip is waited for.
 */
#include "config.h"

#include "wrennctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl-call.h"
#include "ctl-conn.h"
#include "ctl.h"
#include "ctl-error.h"
#include "ctl-hello.h"
#include "ipc.h"

#define CTL_CALL_SYNC (1 << 2) /* userdata is a struct ctl_sync */

/* State of one blocking call, on the caller's stack. */
struct ctl_sync {
	int done;
	int status;		    /* WRENNCTL_E_* or 0 */
	char *result;		    /* owned until handed to the caller */
	struct ctl_error err;	    /* the call's error */
	wrennctl_event_fn on_event; /* the caller's, may be NULL */
	void *userdata;		    /* the caller's, for on_event */
};

static struct ctl_call *
ctl_call_find(struct wrennctl *h, uint64_t id)
{
	struct ctl_call *c;

	for (c = h->calls; c != NULL; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

/* Unlink c from h's table; the caller frees it. */
static void
ctl_call_unlink(struct wrennctl *h, struct ctl_call *c)
{
	struct ctl_call **pp;

	for (pp = &h->calls; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			c->next = NULL;
			h->n_calls--;
			return;
		}
	}
}

/*
 * Run c's completion with status (h->err describes an error). json_steal
 * is the result text, or a copy of the error text, or NULL; it is freed
 * here, so it stays valid for the whole callback even if the callback
 * makes another call that clears h->err.
 */
static void
ctl_call_complete(
    struct wrennctl *h, struct ctl_call *c, int status, char *json_steal)
{
	struct ctl_sync *sync;

	if (c->flags & CTL_CALL_SYNC) {
		sync = c->userdata;
		sync->done = 1;
		sync->status = status;
		if (status == 0) {
			sync->result = json_steal;
			json_steal = NULL;
		} else
			ctl_error_move(&sync->err, &h->err);
	} else if (c->on_reply != NULL && !(c->flags & CTL_CALL_ABANDONED)) {
		h->dispatching++;
		c->on_reply(h, c->id, status, json_steal, c->userdata);
		h->dispatching--;
	}
	free(json_steal);
	ctl_error_clear(&h->err);
	free(c);
}

/* A final reply arrived: exactly one of result, error is set. */
static void
ctl_call_reply(struct wrennctl *h, json_t *id, json_t *result, json_t *error)
{
	struct ctl_call *c;
	char *text = NULL;
	int status = 0;

	/* Replies to ids we never used (or string ids) are ignored. */
	if (!json_is_integer(id) || json_integer_value(id) <= 0)
		return;
	c = ctl_call_find(h, (uint64_t)json_integer_value(id));
	if (c == NULL)
		return;
	ctl_call_unlink(h, c);
	if (c->flags & CTL_CALL_ABANDONED) {
		free(c);
		return;
	}
	ctl_error_clear(&h->err);
	if (result != NULL) {
		text = json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY);
		if (text == NULL)
			status = ctl_fail(h, WRENNCTL_E_NOMEM, "out of memory");
	} else {
		status = ctl_error_remote(&h->err, error);
		if (h->err.json_text != NULL)
			text = strdup(h->err.json_text);
	}
	ctl_call_complete(h, c, status, text);
}

/* A "$/stream" notification arrived; params is borrowed. */
static void
ctl_call_event(struct wrennctl *h, json_t *params)
{
	struct ctl_call *c;
	const char *event;
	json_t *id, *v;
	char *text;

	id = json_object_get(params, "id");
	if (!json_is_integer(id) || json_integer_value(id) <= 0)
		return;
	c = ctl_call_find(h, (uint64_t)json_integer_value(id));
	if (c == NULL || c->on_event == NULL || (c->flags & CTL_CALL_ABANDONED))
		return;
	v = json_object_get(params, "event");
	event = json_is_string(v) ? json_string_value(v) : "";
	/* An event that cannot be delivered under OOM is dropped. */
	if ((text = json_dumps(params, JSON_COMPACT)) == NULL)
		return;
	h->dispatching++;
	c->on_event(h, c->id, event, text, c->userdata);
	h->dispatching--;
	free(text);
}

/* Complete every call in flight with why (connection gone or freed). */
static void
ctl_call_fail_all(struct wrennctl *h, const struct ctl_error *why)
{
	struct ctl_call *c;

	while ((c = h->calls) != NULL) {
		ctl_call_unlink(h, c);
		if (c->flags & CTL_CALL_ABANDONED) {
			free(c);
			continue;
		}
		if (ctl_error_copy(&h->err, why) < 0)
			h->err.code = why->code;
		ctl_call_complete(h, c, why->code, NULL);
	}
}

/*
 * One decoded message from the server (borrowed): the greeting or a
 * refusal first, then "$/stream" events and replies to calls in flight.
 */
static void
ctl_call_message(struct wrennctl *h, json_t *msg)
{
	json_t *method, *id, *result, *error;
	struct ctl_error why;

	method = json_object_get(msg, "method");
	id = json_object_get(msg, "id");
	if (h->state == CTL_STATE_GREETING) {
		/* A refusal instead of the greeting (too_many_clients, ...). */
		if (method == NULL && json_is_null(id) &&
		    json_is_object(json_object_get(msg, "error"))) {
			memset(&why, 0, sizeof(why));
			(void)ctl_error_remote(
			    &why, json_object_get(msg, "error"));
			ctl_close_with(h, &why);
			return;
		}
		if (!json_is_string(method) ||
		    strcmp(json_string_value(method), "wrennd.hello") != 0 ||
		    id != NULL) {
			ctl_close(h, WRENNCTL_E_PROTOCOL,
			    "expected the wrennd.hello greeting first");
			return;
		}
		if (ctl_hello_take(h, json_object_get(msg, "params")) == 0)
			h->state = CTL_STATE_READY;
		return;
	}
	if (method != NULL) {
		/* Notifications; unknown ones are future extensions. */
		if (json_is_string(method) && id == NULL &&
		    strcmp(json_string_value(method), "$/stream") == 0)
			ctl_call_event(h, json_object_get(msg, "params"));
		return;
	}
	result = json_object_get(msg, "result");
	error = json_object_get(msg, "error");
	if (id == NULL || (result == NULL && !json_is_object(error))) {
		ctl_close(h, WRENNCTL_E_PROTOCOL,
		    "wrennd sent a message that is neither a reply nor a "
		    "notification");
		return;
	}
	if (json_is_null(id)) {
		/* An error about the connection itself: wrennd will close. */
		memset(&why, 0, sizeof(why));
		(void)ctl_error_remote(&why, error);
		ctl_close_with(h, &why);
		return;
	}
	ctl_call_reply(h, id, result, error);
}

/* How conn hands its messages and its close to the call layer. */
const struct ctl_conn_ops ctl_call_conn_ops = {
    .message = ctl_call_message,
    .closed = ctl_call_fail_all,
};

/* Parse the caller's params text: NULL or blank means "no params". */
static int
ctl_call_params(struct wrennctl *h, const char *params_json, json_t **ret)
{
	json_error_t jerr;
	const char *p;
	json_t *params;

	*ret = NULL;
	if (params_json == NULL)
		return 0;
	for (p = params_json;
	     *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'; p++)
		;
	if (*p == '\0')
		return 0;
	params = json_loads(
	    params_json, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (params == NULL)
		return ctl_fail(h, WRENNCTL_E_INVAL,
		    "params are not valid JSON (line %d column %d): %s",
		    jerr.line, jerr.column, jerr.text);
	if (!json_is_object(params)) {
		json_decref(params);
		return ctl_fail(
		    h, WRENNCTL_E_INVAL, "params must be a JSON object");
	}
	*ret = params;
	return 0;
}

/*
 * Count the {"$fd":N} references in v into seen[0..n_fds-1]. Returns 0, or
 * -1 when one is out of range.
 */
static int
ctl_fds_refs(const json_t *v, size_t n_fds, unsigned *seen)
{
	const char *k;
	json_t *e, *fd;
	size_t i;

	if (json_is_object(v)) {
		fd = json_object_get(v, "$fd");
		if (fd != NULL && json_object_size(v) == 1) {
			if (!json_is_integer(fd) ||
			    json_integer_value(fd) < 0 ||
			    (json_int_t)n_fds <= json_integer_value(fd))
				return -1;
			seen[json_integer_value(fd)]++;
			return 0;
		}
		json_object_foreach((json_t *)v, k, e) {
			if (ctl_fds_refs(e, n_fds, seen) < 0)
				return -1;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e) {
			if (ctl_fds_refs(e, n_fds, seen) < 0)
				return -1;
		}
	}
	return 0;
}

/* Check fds and their references in params before anything is queued. */
static int
ctl_fds_check(
    struct wrennctl *h, const json_t *params, const int *fds, size_t n_fds)
{
	unsigned seen[CTL_MAX_FDS];
	int64_t limit;
	size_t i;

	if (n_fds > CTL_MAX_FDS || fds == NULL)
		return ctl_fail(h, WRENNCTL_E_INVAL,
		    "at most %d file descriptors per call", CTL_MAX_FDS);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < n_fds; i++)
		if (fds[i] < 0)
			return ctl_fail(h, WRENNCTL_E_INVAL,
			    "fds[%zu] is not a file descriptor", i);
	if (ctl_fds_refs(params, n_fds, seen) < 0)
		return ctl_fail(h, WRENNCTL_E_INVAL,
		    "params refer to a {\"$fd\":N} outside 0..%zu", n_fds - 1);
	for (i = 0; i < n_fds; i++)
		if (seen[i] != 1)
			return ctl_fail(h, WRENNCTL_E_INVAL,
			    "fds[%zu] is referenced %u times in params "
			    "({\"$fd\":%zu} must appear once)",
			    i, seen[i], i);
	limit = wrennctl_server_limit(h, "max_fds");
	if (h->hello != NULL && wrennctl_server_has_capability(h, "fds") &&
	    limit >= 0 && (int64_t)n_fds > limit)
		return ctl_fail(h, WRENNCTL_E_INVAL,
		    "wrennd takes at most %lld file descriptors per call",
		    (long long)limit);
	return 0;
}

/* Completion of the library's rpc.hello: is "fds" enabled now? */
static void
ctl_fds_hello_cb(struct wrennctl *h, uint64_t id, int status, const char *json,
    void *userdata)
{
	json_t *res, *v;
	size_t i;

	h->fds = CTL_FDS_REFUSED;
	if (status < 0 || (res = json_loads(json, 0, NULL)) == NULL)
		return;
	json_array_foreach(json_object_get(res, "enabled"), i, v) {
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), "fds") == 0)
			h->fds = CTL_FDS_ON;
	}
	json_decref(res);
}

/*
 * Make sure the "fds" capability is on or asked for: queue rpc.hello
 * {"enable":["fds"]} once. WRENNCTL_E_UNSUPPORTED when wrennd does not
 * offer it (as far as we know yet).
 */
int
ctl_fds_request(struct wrennctl *h)
{
	char client[64];
	json_t *params;
	uint64_t id;
	int r;

	if (h->fds == CTL_FDS_ON || h->fds == CTL_FDS_ASKED)
		return 0;
	if (h->fds == CTL_FDS_REFUSED ||
	    (h->hello != NULL && !wrennctl_server_has_capability(h, "fds"))) {
		h->fds = CTL_FDS_REFUSED;
		return ctl_fail(h, WRENNCTL_E_UNSUPPORTED,
		    "wrennd does not offer file descriptor passing (the "
		    "\"fds\" capability)");
	}
	snprintf(client, sizeof(client), "libwrennctl/%s", wrennctl_version());
	params = json_pack("{s:s, s:i, s:[s]}", "client", client, "protocol",
	    IPC_PROTOCOL_VERSION, "enable", "fds");
	if (params == NULL)
		return ctl_fail(h, WRENNCTL_E_NOMEM, "out of memory");
	r = ctl_call_start(h, "rpc.hello", params, NULL, 0, NULL,
	    ctl_fds_hello_cb, NULL, CTL_CALL_INTERNAL, &id);
	if (r == 0)
		h->fds = CTL_FDS_ASKED;
	return r;
}

/* Whether a call may start: method, connection, fds and their capability. */
static int
ctl_call_admit(struct wrennctl *h, const char *method, const json_t *params,
    const int *fds, size_t n_fds)
{
	int r;

	if (method == NULL || *method == '\0')
		return ctl_fail(h, WRENNCTL_E_INVAL, "method name is empty");
	if (h->state == CTL_STATE_CLOSED)
		return ctl_closed_error(h);
	if (n_fds == 0)
		return 0;
	if ((r = ctl_fds_check(h, params, fds, n_fds)) < 0)
		return r;
	return ctl_fds_request(h);
}

/*
 * Queue the request (params taken over, NULL for none; with n_fds
 * descriptors) and add the call to the table.
 */
int
ctl_call_start(struct wrennctl *h, const char *method, json_t *params_steal,
    const int *fds, size_t n_fds, wrennctl_event_fn on_event,
    wrennctl_reply_fn on_reply, void *userdata, int flags, uint64_t *ret_id)
{
	struct ctl_call *c = NULL;
	json_t *id, *msg;
	int r;

	r = ctl_call_admit(h, method, params_steal, fds, n_fds);
	if (r == 0 && (c = calloc(1, sizeof(*c))) == NULL)
		r = ctl_fail(h, WRENNCTL_E_NOMEM, "out of memory");
	if (r < 0) {
		json_decref(params_steal);
		return r;
	}
	if (h->next_id > (uint64_t)IPC_MAX_ID_INT)
		h->next_id = 1;
	c->id = h->next_id;
	c->on_event = on_event;
	c->on_reply = on_reply;
	c->userdata = userdata;
	c->flags = flags;
	id = json_integer((json_int_t)c->id);
	msg = id != NULL ? ipc_make_request(id, method, params_steal) : NULL;
	if (id == NULL)
		json_decref(params_steal);
	json_decref(id);
	if (msg == NULL) {
		free(c);
		return ctl_fail(h, WRENNCTL_E_NOMEM, "out of memory");
	}
	r = ctl_queue_fds(h, msg, fds, n_fds);
	json_decref(msg);
	if (r < 0) {
		free(c);
		return r;
	}
	h->next_id++;
	c->next = h->calls;
	h->calls = c;
	h->n_calls++;
	/* Write now if the socket takes it; errors surface in process(). */
	(void)ctl_try_write(h);
	*ret_id = c->id;
	return 0;
}

int
wrennctl_call_async(struct wrennctl *h, const char *method,
    const char *params_json, wrennctl_event_fn on_event,
    wrennctl_reply_fn on_reply, void *userdata, uint64_t *ret_id)
{
	return wrennctl_call_async_fds(h, method, params_json, NULL, 0,
	    on_event, on_reply, userdata, ret_id);
}

int
wrennctl_call_async_fds(struct wrennctl *h, const char *method,
    const char *params_json, const int *fds, size_t n_fds,
    wrennctl_event_fn on_event, wrennctl_reply_fn on_reply, void *userdata,
    uint64_t *ret_id)
{
	json_t *params;
	uint64_t id;
	int r;

	if ((r = ctl_api_enter(h, 1)) < 0)
		return r;
	if ((r = ctl_call_params(h, params_json, &params)) < 0)
		return r;
	r = ctl_call_start(h, method, params, fds, n_fds, on_event, on_reply,
	    userdata, 0, &id);
	if (r < 0)
		return r;
	if (ret_id != NULL)
		*ret_id = id;
	return 0;
}

/* Queue "$/cancel" for c unless already sent. */
static int
ctl_call_cancel(struct wrennctl *h, struct ctl_call *c)
{
	json_t *msg;
	int r;

	if (c->flags & CTL_CALL_CANCELLED)
		return 0;
	msg = ipc_make_notification(
	    "$/cancel", json_pack("{s:I}", "id", (json_int_t)c->id));
	if (msg == NULL)
		return ctl_fail(h, WRENNCTL_E_NOMEM, "out of memory");
	r = ctl_queue(h, msg);
	json_decref(msg);
	if (r < 0)
		return r;
	c->flags |= CTL_CALL_CANCELLED;
	(void)ctl_try_write(h);
	return 0;
}

int
wrennctl_cancel(struct wrennctl *h, uint64_t id)
{
	struct ctl_call *c;
	int r;

	if ((r = ctl_api_enter(h, 1)) < 0)
		return r;
	c = ctl_call_find(h, id);
	if (c == NULL || (c->flags & (CTL_CALL_ABANDONED | CTL_CALL_INTERNAL)))
		return ctl_fail(h, WRENNCTL_E_INVAL, "no call %llu in flight",
		    (unsigned long long)id);
	return ctl_call_cancel(h, c);
}

int
wrennctl_pending_calls(const struct wrennctl *h)
{
	const struct ctl_call *c;
	int n = 0;

	if (h == NULL)
		return WRENNCTL_E_INVAL;
	for (c = h->calls; c != NULL; c = c->next)
		if (!(c->flags & (CTL_CALL_ABANDONED | CTL_CALL_INTERNAL)))
			n++;
	return n;
}

/* Forward a blocking call's events to the caller's callback. */
static void
ctl_sync_event_cb(struct wrennctl *h, uint64_t id, const char *event,
    const char *json, void *userdata)
{
	struct ctl_sync *sync = userdata;

	sync->on_event(h, id, event, json, sync->userdata);
}

static int
ctl_until_sync_done(const struct wrennctl *h, const void *arg)
{
	const struct ctl_sync *sync = arg;

	return sync->done;
}

/*
 * The blocking call (params taken over): start, run the loop until the
 * reply, hand it out.
 */
int
ctl_call_blocking(struct wrennctl *h, const char *method, json_t *params_steal,
    const int *fds, size_t n_fds, wrennctl_event_fn on_event, void *userdata,
    char **ret_result)
{
	struct ctl_sync sync;
	struct ctl_call *c;
	uint64_t id;
	int r;

	memset(&sync, 0, sizeof(sync));
	sync.on_event = on_event;
	sync.userdata = userdata;
	r = ctl_call_start(h, method, params_steal, fds, n_fds,
	    on_event != NULL ? ctl_sync_event_cb : NULL, NULL, &sync,
	    CTL_CALL_SYNC, &id);
	if (r < 0)
		return r;
	r = ctl_run(h, ctl_until_sync_done, &sync, ctl_deadline(h->timeout_ms));
	if (!sync.done) {
		/* Timed out or freed: the late reply must not touch sync. */
		c = ctl_call_find(h, id);
		if (c != NULL) {
			c->flags |= CTL_CALL_ABANDONED;
			c->flags &= ~CTL_CALL_SYNC;
			if (h->state != CTL_STATE_CLOSED)
				(void)ctl_call_cancel(h, c);
		}
		if (r == WRENNCTL_E_TIMEOUT)
			(void)ctl_fail(h, r, "no reply to %s within %llu ms",
			    method, (unsigned long long)h->timeout_ms);
		return r < 0 ? r : WRENNCTL_E_CANCELLED;
	}
	if (sync.status < 0) {
		ctl_error_move(&h->err, &sync.err);
		free(sync.result);
		return sync.status;
	}
	ctl_error_clear(&h->err);
	if (ret_result != NULL)
		*ret_result = sync.result;
	else
		free(sync.result);
	return 0;
}

/* The public blocking calls: parse the params text, then block. */
static int
ctl_call_text(struct wrennctl *h, const char *method, const char *params_json,
    const int *fds, size_t n_fds, wrennctl_event_fn on_event, void *userdata,
    char **ret_result)
{
	json_t *params;
	int r;

	if ((r = ctl_api_enter(h, 0)) < 0)
		return r;
	if ((r = ctl_call_params(h, params_json, &params)) < 0)
		return r;
	r = ctl_call_blocking(
	    h, method, params, fds, n_fds, on_event, userdata, ret_result);
	return ctl_api_leave(h, r);
}

int
wrennctl_call(struct wrennctl *h, const char *method, const char *params_json,
    char **ret_result)
{
	return ctl_call_text(
	    h, method, params_json, NULL, 0, NULL, NULL, ret_result);
}

int
wrennctl_call_stream(struct wrennctl *h, const char *method,
    const char *params_json, wrennctl_event_fn on_event, void *userdata,
    char **ret_result)
{
	return ctl_call_text(
	    h, method, params_json, NULL, 0, on_event, userdata, ret_result);
}

int
wrennctl_call_fds(struct wrennctl *h, const char *method,
    const char *params_json, const int *fds, size_t n_fds,
    wrennctl_event_fn on_event, void *userdata, char **ret_result)
{
	return ctl_call_text(
	    h, method, params_json, fds, n_fds, on_event, userdata, ret_result);
}
