/* SPDX-License-Identifier: MIT */
/*
 * Long calls that Ctrl-C can stop (exec --stream, attach, cp). They run on
 * libwrennctl's event-loop API (get_fd / get_events / process) with our
 * own ppoll(), so that SIGINT, blocked everywhere else, is only taken
 * while waiting: the first Ctrl-C sends "$/cancel" and keeps waiting for
 * the call's final reply, a second one gives up at once. Either way the
 * command exits 130.
 * Owns: the SIGINT counter (the one mutable global of wrennctl: a signal
 * handler has nowhere else to write).
 * run_hold() waits with nothing in flight while a command holds something
 * in wrennd (port-forward's leased forward): Ctrl-C or SIGTERM ends it.
 * Called by: cmd-exec.c, cmd-stream.c, cmd-cp.c, cmd-code.c,
 * cmd-portfwd.c.
 */
#include "config.h"

#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wrennctl.h"

static volatile sig_atomic_t run_sigints; /* Ctrl-C presses so far */

/* One call in flight: what its callbacks found out. */
struct run_call {
	struct cli *cli;		  /* borrowed */
	run_event_fn on_event;		  /* may be NULL */
	wrennctl_progress_fn on_progress; /* transfers; may be NULL */
	void *userdata; /* the caller's, for on_event/on_progress */
	uint64_t id;
	int done;
	int status;	/* 0 or WRENNCTL_E_* */
	json_t *result; /* owned until handed out */
	json_t *error;	/* owned until handed out: the wire error */
	int cancel_sent;
	int abandoned; /* the caller gave up: the reply callback frees it */
};

static void
run_sigint_handler(int sig)
{
	(void)sig;
	run_sigints++;
}

/* Count sig in run_sigints instead of dying, and keep it blocked. */
static void
run_count_signal(int sig)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = run_sigint_handler;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(sig, &sa, NULL);
	(void)sigemptyset(&set);
	(void)sigaddset(&set, sig);
	(void)sigprocmask(SIG_BLOCK, &set, NULL);
}

/*
 * Count Ctrl-C instead of dying, and keep SIGINT blocked except inside
 * run_wait()'s ppoll(), so a press is never lost between checks.
 */
void
run_sigint_install(void)
{
	run_count_signal(SIGINT);
}

/* Whether Ctrl-C was pressed. */
int
run_interrupted(void)
{
	return run_sigints > 0;
}

/* Whether Ctrl-C was pressed twice: the user wants out at once. */
int
run_abandoned(void)
{
	return run_sigints > 1;
}

static void
run_event_cb(struct wrennctl *h, uint64_t id, const char *event,
    const char *json, void *userdata)
{
	struct run_call *rc = userdata;
	json_t *ev;

	if (rc->on_event == NULL)
		return;
	if ((ev = json_loads(json, JSON_ALLOW_NUL, NULL)) == NULL)
		return;
	rc->on_event(rc->cli, event, ev, rc->userdata);
	json_decref(ev);
}

static void
run_progress_cb(struct wrennctl *h, uint64_t id, uint64_t bytes, int64_t total,
    void *userdata)
{
	struct run_call *rc = userdata;

	if (rc->on_progress != NULL && !rc->abandoned)
		rc->on_progress(h, id, bytes, total, rc->userdata);
}

/*
 * The final reply. The error accessors describe this call only now, so
 * the error is printed (unless it is our own cancel) and kept here.
 */
static void
run_reply_cb(struct wrennctl *h, uint64_t id, int status, const char *json,
    void *userdata)
{
	struct run_call *rc = userdata;
	const char *err;

	if (rc->abandoned) {
		free(rc);
		return;
	}
	rc->done = 1;
	rc->status = status;
	if (status == 0) {
		rc->result =
		    json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		return;
	}
	if ((err = wrennctl_err_json(h)) != NULL)
		rc->error = json_loads(err, 0, NULL);
	if (!(run_interrupted() && status == WRENNCTL_E_CANCELLED))
		output_error(rc->cli, status);
}

/* Wait for rc's reply, cancelling on the first Ctrl-C. */
static int
run_wait(struct run_call *rc)
{
	struct wrennctl *h = rc->cli->h;
	struct pollfd pfd;
	sigset_t unblocked;
	int r;

	(void)sigprocmask(SIG_SETMASK, NULL, &unblocked);
	(void)sigdelset(&unblocked, SIGINT);
	while (!rc->done) {
		if (run_sigints > 1)
			return CLI_EXIT_SIGINT; /* the second Ctrl-C */
		if (run_sigints == 1 && !rc->cancel_sent) {
			rc->cancel_sent = 1;
			fprintf(stderr,
			    "wrennctl: cancelling (Ctrl-C again to "
			    "quit at once)\n");
			(void)wrennctl_cancel(h, rc->id);
		}
		if ((r = wrennctl_process(h)) < 0)
			break; /* the reply callback has run */
		if (r > 0 || rc->done)
			continue;
		pfd.fd = wrennctl_get_fd(h);
		pfd.events = (short)wrennctl_get_events(h);
		pfd.revents = 0;
		if (ppoll(&pfd, 1, NULL, &unblocked) < 0 && errno != EINTR)
			break;
	}
	if (run_interrupted())
		return CLI_EXIT_SIGINT;
	return cli_exit_code(rc->status);
}

/* Wait, then hand out the result and error (or free them). */
static int
run_finish(struct run_call *rc, json_t **ret_result, json_t **ret_error)
{
	int r = run_wait(rc);

	if (!rc->done) {
		/* wrennctl_free() completes the call later, and frees rc. */
		rc->abandoned = 1;
		return r;
	}
	if (r == 0 && rc->result == NULL) {
		output_error_local(
		    rc->cli, "protocol", "cannot parse the result from wrennd");
		r = CLI_EXIT_ERROR;
	}
	if (ret_result != NULL && r == 0) {
		*ret_result = rc->result;
		rc->result = NULL;
	}
	if (ret_error != NULL) {
		*ret_error = rc->error;
		rc->error = NULL;
	}
	json_decref(rc->result);
	json_decref(rc->error);
	free(rc);
	return r;
}

/* Start failures: print and map to an exit code. */
static int
run_start_failed(struct cli *cli, int r)
{
	output_error(cli, r);
	return cli_exit_code(r);
}

/*
 * Call method with params (taken over), passing its stream events
 * to on_event, until the final reply or Ctrl-C. Returns 0 with the result
 * in *ret_result (may be NULL), or an exit code (errors are printed; the
 * wire error, if any, goes to *ret_error when that is not NULL).
 */
int
run_stream(struct cli *cli, const char *method, json_t *params_steal,
    run_event_fn on_event, void *userdata, json_t **ret_result,
    json_t **ret_error)
{
	struct run_call *rc;
	char *text;
	int r;

	if ((r = cli_connect(cli)) != 0) {
		json_decref(params_steal);
		return r;
	}
	cli_set_object(cli, method, params_steal);
	text = json_dumps(params_steal, JSON_COMPACT);
	json_decref(params_steal);
	/* Heap: if a second Ctrl-C abandons it, the reply may still come. */
	if (text == NULL || (rc = calloc(1, sizeof(*rc))) == NULL) {
		free(text);
		output_error_local(cli, "nomem", "out of memory");
		return CLI_EXIT_ERROR;
	}
	rc->cli = cli;
	rc->on_event = on_event;
	rc->userdata = userdata;
	r = wrennctl_call_async(
	    cli->h, method, text, run_event_cb, run_reply_cb, rc, &rc->id);
	free(text);
	if (r < 0) {
		free(rc);
		return run_start_failed(cli, r);
	}
	return run_finish(rc, ret_result, ret_error);
}

/*
 * A file transfer (upload: fd -> sandbox path, else sandbox path -> fd)
 * through libwrennctl's transfer calls; errors call the file what
 * ("SANDBOX:PATH" as the user gave it); as run_stream() otherwise.
 */
int
run_transfer(struct cli *cli, int upload, const char *sandbox, const char *path,
    const char *what, int fd, unsigned int flags,
    wrennctl_progress_fn on_progress, void *userdata, json_t **ret_result,
    json_t **ret_error)
{
	struct run_call *rc;
	int r;

	if ((r = cli_connect(cli)) != 0)
		return r;
	if ((rc = calloc(1, sizeof(*rc))) == NULL) {
		output_error_local(cli, "nomem", "out of memory");
		return CLI_EXIT_ERROR;
	}
	cli->method =
	    upload ? "sandbox.stream_upload" : "sandbox.stream_download";
	snprintf(cli->object, sizeof(cli->object), "%s", what);
	rc->cli = cli;
	rc->on_progress = on_progress;
	rc->userdata = userdata;
	if (upload)
		r = wrennctl_stream_upload_async(cli->h, sandbox, path, fd,
		    flags, run_progress_cb, run_reply_cb, rc, &rc->id);
	else
		r = wrennctl_stream_download_async(cli->h, sandbox, path, fd,
		    flags, run_progress_cb, run_reply_cb, rc, &rc->id);
	if (r < 0) {
		free(rc);
		return run_start_failed(cli, r);
	}
	return run_finish(rc, ret_result, ret_error);
}

/*
 * Count SIGTERM like Ctrl-C too, both blocked but inside run_hold()'s
 * wait; before the call that makes what is held, so no signal is lost.
 */
void
run_hold_install(void)
{
	run_count_signal(SIGINT);
	run_count_signal(SIGTERM);
}

/*
 * After run_hold_install(): wait until Ctrl-C or SIGTERM (returns 0) or
 * until the connection to wrennd ends (says so and what that ended,
 * returns CLI_EXIT_CONNECT).
 */
int
run_hold(struct cli *cli, const char *what)
{
	struct pollfd pfd;
	sigset_t unblocked;
	int r;

	if ((r = cli_connect(cli)) != 0)
		return r;
	(void)sigprocmask(SIG_SETMASK, NULL, &unblocked);
	(void)sigdelset(&unblocked, SIGINT);
	(void)sigdelset(&unblocked, SIGTERM);
	while (run_sigints == 0) {
		if ((r = wrennctl_process(cli->h)) < 0) {
			output_error_local(cli, "connect",
			    "the connection to wrennd ended (wrennd exited or "
			    "restarted): %s",
			    what);
			return CLI_EXIT_CONNECT;
		}
		if (r > 0)
			continue;
		pfd.fd = wrennctl_get_fd(cli->h);
		pfd.events = (short)wrennctl_get_events(cli->h);
		pfd.revents = 0;
		if (ppoll(&pfd, 1, NULL, &unblocked) < 0 && errno != EINTR)
			return CLI_EXIT_CONNECT;
	}
	return 0;
}
