/* SPDX-License-Identifier: MIT */
/*
 * libwrennctl calls (call.c): the table of calls in flight, their replies
 * and events, fd-passing negotiation, and ctl_call_conn_ops, which routes
 * what conn decodes (greeting, events, replies). Above conn and hello.
 */
#ifndef WRENND_CTL_CALL_H
#define WRENND_CTL_CALL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ctl-conn.h"
#include "ctl.h"

extern const struct ctl_conn_ops ctl_call_conn_ops;

int ctl_call_start(struct wrennctl *h, const char *method, json_t *params_steal,
    const int *fds, size_t n_fds, wrennctl_event_fn on_event,
    wrennctl_reply_fn on_reply, void *userdata, int flags, uint64_t *ret_id);
int ctl_call_blocking(struct wrennctl *h, const char *method,
    json_t *params_steal, const int *fds, size_t n_fds,
    wrennctl_event_fn on_event, void *userdata, char **ret_result);
int ctl_fds_request(struct wrennctl *h);

#endif /* WRENND_CTL_CALL_H */
