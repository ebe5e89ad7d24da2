/* SPDX-License-Identifier: MIT */
/*
 * libwrennctl connection (conn.c): the handle's socket, buffers, line
 * framing, close, and the blocking loop. It knows nothing of calls or of
 * the greeting: each decoded message and the close go up through the
 * struct ctl_conn_ops the handle was made with (call.c provides it).
 */
#ifndef WRENND_CTL_CONN_H
#define WRENND_CTL_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ctl.h"

/* What the layer above does with what the connection delivers. */
struct ctl_conn_ops {
	/* One decoded JSON object from wrennd (borrowed). */
	void (*message)(struct wrennctl *h, json_t *msg);
	/* The connection closed or is being freed: complete the calls. */
	void (*closed)(struct wrennctl *h, const struct ctl_error *why);
};

typedef int (*ctl_until_fn)(const struct wrennctl *h, const void *arg);

int ctl_conn_new(int fd, const struct ctl_conn_ops *ops, struct wrennctl **ret);
void ctl_conn_destroy(struct wrennctl *h);
int ctl_api_enter(struct wrennctl *h, int in_callback_ok);
int ctl_api_leave(struct wrennctl *h, int r);
int ctl_closed_error(struct wrennctl *h);
void ctl_close(struct wrennctl *h, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ctl_close_with(struct wrennctl *h, struct ctl_error *why);
int ctl_queue(struct wrennctl *h, json_t *msg);
int ctl_queue_fds(
    struct wrennctl *h, json_t *msg, const int *fds, size_t n_fds);
int ctl_try_write(struct wrennctl *h);
int ctl_run(struct wrennctl *h, ctl_until_fn until, const void *arg,
    uint64_t deadline_ms);
uint64_t ctl_deadline(uint64_t timeout_ms);

#endif /* WRENND_CTL_CONN_H */
