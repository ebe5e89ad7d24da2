/* SPDX-License-Identifier: MIT */
/*
 * libwrennctl file transfer: the one-call forms of sandbox.stream_upload
 * and sandbox.stream_download, which pass a local fd to wrennd (fds
 * capability, SCM_RIGHTS) and turn the calls' "progress" events into
 * wrennctl_progress_fn calls.
 * Owns: the small adapter (struct ctl_xfer) of an asynchronous transfer,
 * freed by its completion.
 * Called by: applications.
 */
#include "config.h"

#include "wrennctl.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl-call.h"
#include "ctl-conn.h"
#include "ctl.h"
#include "ctl-error.h"

/* What a transfer's event and reply callbacks need. */
struct ctl_xfer {
	wrennctl_progress_fn on_progress; /* may be NULL */
	wrennctl_reply_fn on_reply;	  /* may be NULL (async only) */
	void *userdata;			  /* the caller's, passed through */
};

/* A "progress" event becomes an on_progress call; others are ignored. */
static void
ctl_xfer_event_cb(struct wrennctl *h, uint64_t id, const char *event,
    const char *json, void *userdata)
{
	struct ctl_xfer *x = userdata;
	json_t *ev, *bytes, *total;

	if (x->on_progress == NULL || strcmp(event, "progress") != 0)
		return;
	if ((ev = json_loads(json, 0, NULL)) == NULL)
		return;
	bytes = json_object_get(ev, "bytes");
	total = json_object_get(ev, "total");
	if (json_is_integer(bytes) && json_integer_value(bytes) >= 0)
		x->on_progress(h, id, (uint64_t)json_integer_value(bytes),
		    json_is_integer(total) ? (int64_t)json_integer_value(total)
					   : -1,
		    x->userdata);
	json_decref(ev);
}

/* Completion of an asynchronous transfer: forward, then free the adapter. */
static void
ctl_xfer_reply_cb(struct wrennctl *h, uint64_t id, int status, const char *json,
    void *userdata)
{
	struct ctl_xfer *x = userdata;

	if (x->on_reply != NULL)
		x->on_reply(h, id, status, json, x->userdata);
	free(x);
}

/* The params of a transfer call, or NULL (h's error says why). */
static json_t *
ctl_xfer_params(struct wrennctl *h, const char *sandbox_id, const char *path,
    int fd, unsigned int flags)
{
	json_t *params;

	if (sandbox_id == NULL || *sandbox_id == '\0' || path == NULL ||
	    *path == '\0' || fd < 0 || (flags & ~WRENNCTL_VERIFY) != 0) {
		(void)ctl_fail(h, WRENNCTL_E_INVAL,
		    "a transfer needs a sandbox id, a path, a file descriptor "
		    "and known flags");
		return NULL;
	}
	params = json_pack("{s:s, s:s, s:{s:i}, s:b}", "sandbox_id", sandbox_id,
	    "path", path, "fd", "$fd", 0, "verify",
	    (flags & WRENNCTL_VERIFY) != 0);
	if (params == NULL)
		(void)ctl_fail(h, WRENNCTL_E_NOMEM, "out of memory");
	return params;
}

/* Blocking transfer through method. */
static int
ctl_xfer_run(struct wrennctl *h, const char *method, const char *sandbox_id,
    const char *path, int fd, unsigned int flags,
    wrennctl_progress_fn on_progress, void *userdata, char **ret_result)
{
	struct ctl_xfer x;
	json_t *params;
	int r;

	if ((r = ctl_api_enter(h, 0)) < 0)
		return r;
	if ((params = ctl_xfer_params(h, sandbox_id, path, fd, flags)) == NULL)
		return h->err.code;
	memset(&x, 0, sizeof(x));
	x.on_progress = on_progress;
	x.userdata = userdata;
	r = ctl_call_blocking(
	    h, method, params, &fd, 1, ctl_xfer_event_cb, &x, ret_result);
	return ctl_api_leave(h, r);
}

/* Asynchronous transfer through method. */
static int
ctl_xfer_start(struct wrennctl *h, const char *method, const char *sandbox_id,
    const char *path, int fd, unsigned int flags,
    wrennctl_progress_fn on_progress, wrennctl_reply_fn on_reply,
    void *userdata, uint64_t *ret_id)
{
	struct ctl_xfer *x;
	json_t *params;
	uint64_t id;
	int r;

	if ((r = ctl_api_enter(h, 1)) < 0)
		return r;
	if ((params = ctl_xfer_params(h, sandbox_id, path, fd, flags)) == NULL)
		return h->err.code;
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		json_decref(params);
		return ctl_fail(h, WRENNCTL_E_NOMEM, "out of memory");
	}
	x->on_progress = on_progress;
	x->on_reply = on_reply;
	x->userdata = userdata;
	r = ctl_call_start(h, method, params, &fd, 1, ctl_xfer_event_cb,
	    ctl_xfer_reply_cb, x, 0, &id);
	if (r < 0) {
		free(x);
		return r;
	}
	if (ret_id != NULL)
		*ret_id = id;
	return 0;
}

int
wrennctl_stream_upload(struct wrennctl *h, const char *sandbox_id,
    const char *path, int fd, unsigned int flags,
    wrennctl_progress_fn on_progress, void *userdata, char **ret_result)
{
	return ctl_xfer_run(h, "sandbox.stream_upload", sandbox_id, path, fd,
	    flags, on_progress, userdata, ret_result);
}

int
wrennctl_stream_download(struct wrennctl *h, const char *sandbox_id,
    const char *path, int fd, unsigned int flags,
    wrennctl_progress_fn on_progress, void *userdata, char **ret_result)
{
	return ctl_xfer_run(h, "sandbox.stream_download", sandbox_id, path, fd,
	    flags, on_progress, userdata, ret_result);
}

int
wrennctl_stream_upload_async(struct wrennctl *h, const char *sandbox_id,
    const char *path, int fd, unsigned int flags,
    wrennctl_progress_fn on_progress, wrennctl_reply_fn on_reply,
    void *userdata, uint64_t *ret_id)
{
	return ctl_xfer_start(h, "sandbox.stream_upload", sandbox_id, path, fd,
	    flags, on_progress, on_reply, userdata, ret_id);
}

int
wrennctl_stream_download_async(struct wrennctl *h, const char *sandbox_id,
    const char *path, int fd, unsigned int flags,
    wrennctl_progress_fn on_progress, wrennctl_reply_fn on_reply,
    void *userdata, uint64_t *ret_id)
{
	return ctl_xfer_start(h, "sandbox.stream_download", sandbox_id, path,
	    fd, flags, on_progress, on_reply, userdata, ret_id);
}
