/* SPDX-License-Identifier: MIT */
/*
 * Jupyter kernels inside sandboxes, for sandbox.run_code: a registry of
 * kernels keyed by (sandbox, language), each found or started through the
 * Jupyter Server REST API on port 8888 behind the control plane's proxy
 * and reached over one kernel WebSocket that every local client shares;
 * a queue of executions per kernel (one in flight at a time, so the
 * kernel's state carries from call to call and from client to client);
 * and the assembly of a CodeResult (protocol/PROTOCOL.md, "Kernels") from
 * the kernel's messages.
 *
 * The assembly (kernel_exec_*) and the other kernel_msg_* / kernel_spec_*
 * helpers are pure: no I/O, no loop, no logging, so they are unit-tested
 * with recorded message sequences (tests/unit/test-kernel.c). The rest
 * runs on the daemon's loop; it is used by api-code.c (the sandbox.run_code
 * handler) and by wrennd.c (shutdown).
 */
#ifndef WRENND_KERNEL_H
#define WRENND_KERNEL_H

#include <stddef.h>

#include <jansson.h>

#define KERNEL_PORT 8888 /* the Jupyter Server's port in the sandbox */

/* Limits (protocol/PROTOCOL.md, "Kernels"). */
#define KERNEL_MAX_QUEUE  64		     /* executions per kernel */
#define KERNEL_MAX	  256		     /* kernels known to wrennd */
#define KERNEL_MAX_MSG	  (32 * 1024 * 1024) /* one kernel message */
#define KERNEL_MAX_OUTPUT (16 * 1024 * 1024) /* output kept per call */

/* Times in ms: finding or starting a kernel; between tries while the
 * server starts; a new connection's first iopub message; an interrupted
 * execution's end before the kernel is restarted. */
#define KERNEL_SETUP_MS 30000
#define KERNEL_RETRY_MS 500
#define KERNEL_NUDGE_MS 10000
#define KERNEL_DRAIN_MS 10000

struct call;
struct kernel_set;

/* What sandbox.run_code asks for (api-code.c checked it; borrowed). */
struct kernel_run_args {
	const char *sandbox_id; /* cl-... */
	const char *language;	/* kernelspec language or name */
	const char *code;	/* UTF-8 */
	size_t code_len;
	int timeout_sec; /* of the execution itself, once sent */
	int stream;	 /* send $/stream events as output arrives */
};

/* kernel.c's state (struct wrennd's kernels); NULL on OOM. */
struct kernel_set *kernel_set_new(void);
/* At exit, after every call is gone: close every kernel connection (the
 * kernels keep running in their sandboxes) and free. NULL is a no-op. */
void kernel_set_free(struct kernel_set *set);

/*
 * Queue call (sandbox.run_code) on the kernel of the sandbox and
 * language, finding or starting that kernel first. The call is answered
 * later, with the CodeResult or an error. Cancelling it takes it off the
 * queue, or interrupts the kernel when its code is running.
 */
void kernel_run(struct call *call, const struct kernel_run_args *a);

/* Kernels wrennd knows (connected or not), and those connected. */
unsigned kernel_count(const struct kernel_set *set);
unsigned kernel_connected(const struct kernel_set *set);

/* ---- Pure helpers ---------------------------------------------------- */

/* One execution being assembled from the kernel's messages. */
struct kernel_exec;

/*
 * A new assembly for the execute_request msg_id (copied), keeping at most
 * max_output bytes of output (stream text, result bundles, traceback).
 * NULL on OOM.
 */
struct kernel_exec *kernel_exec_new(const char *msg_id, size_t max_output);
/* NULL is a no-op. */
void kernel_exec_free(struct kernel_exec *x);

/* The execute_request message id this assembly waits for. */
const char *kernel_exec_msg_id(const struct kernel_exec *x);

enum kernel_step {
	KERNEL_STEP_NONE,  /* nothing for the caller (not ours, ignored) */
	KERNEL_STEP_EVENT, /* output: *event and *fields describe it */
	KERNEL_STEP_DONE,  /* status idle: the execution is complete */
	KERNEL_STEP__MAX
};

/*
 * Feed one kernel message, a JSON object in the Jupyter Server's JSON
 * WebSocket format (header, parent_header, content, channel; msg_type at
 * the top level or in the header). Messages of other parents are ignored,
 * as the SDK does. For KERNEL_STEP_EVENT, *event is the $/stream event
 * name ("stdout", "stderr", "result", "error"; static) and *fields its
 * members (a new reference for the caller). Output past the max_output
 * budget is dropped: the text that still fits is kept, followed once by a
 * marker line, and the result says "truncated": true.
 */
enum kernel_step kernel_exec_feed(struct kernel_exec *x, const json_t *msg,
    const char **event, json_t **fields);

/*
 * The CodeResult so far (a new reference; NULL on OOM): {"text",
 * "stdout", "stderr", "error", "results", "execution_count",
 * "truncated"}, as the Python SDK's Capsule.run_code assembles it.
 */
json_t *kernel_exec_result(const struct kernel_exec *x);

/* execution_count of the execute_input seen for this request, or -1. */
long long kernel_exec_input_count(const struct kernel_exec *x);

/* What a message says about the kernel as a whole. */
enum kernel_life {
	KERNEL_LIFE_SAME,      /* nothing about the kernel's life */
	KERNEL_LIFE_RESTARTED, /* it restarted (or is restarting): state
				* lost */
	KERNEL_LIFE_DEAD,      /* it is shutting down or died for good */
	KERNEL_LIFE__MAX
};

/*
 * Classify a message of any parent: status "restarting" (the server's
 * auto-restarter after a crash) or shutdown_reply with restart true is
 * RESTARTED; status "dead" or shutdown_reply without restart is DEAD.
 */
enum kernel_life kernel_msg_life(const json_t *msg);

/*
 * The text of an execute_request message (compact JSON; caller frees) for
 * code, with msg_id, session and date (ISO 8601 UTC) in its header,
 * channel "shell", as the SDK sends it. NULL on OOM.
 */
char *kernel_msg_execute(const char *msg_id, const char *session,
    const char *date, const char *code, size_t code_len);

/* The text of a kernel_info_request, as kernel_msg_execute. */
char *kernel_msg_kernel_info(
    const char *msg_id, const char *session, const char *date);

/* Whether a message came on the iopub channel. */
int kernel_msg_is_iopub(const json_t *msg);

/*
 * Pick the kernelspec for language from a GET /api/kernelspecs answer:
 * the default spec if its language matches (case-insensitively), else the
 * first (by name) whose language or name matches. Returns the spec name
 * (borrowed from specs), or NULL with *offered set to a new array of the
 * languages the server offers (sorted, unique; NULL on OOM or a malformed
 * answer).
 */
const char *kernel_spec_pick(
    const json_t *specs, const char *language, json_t **offered);

/*
 * The id of a running kernel of spec name in a GET /api/kernels answer
 * (the first listed), borrowed; NULL when there is none.
 */
const char *kernel_list_pick(const json_t *list, const char *spec);

#endif /* WRENND_KERNEL_H */
