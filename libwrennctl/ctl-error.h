/* SPDX-License-Identifier: MIT */
/*
 * libwrennctl errors (error.c): building, copying and mapping struct
 * ctl_error values, and recording a handle's last error. The bottom layer:
 * it needs only the shared types of ctl.h.
 */
#ifndef WRENND_CTL_ERROR_H
#define WRENND_CTL_ERROR_H

#include <jansson.h>

#include "ctl.h"

void ctl_error_clear(struct ctl_error *e);
void ctl_error_move(struct ctl_error *dst, struct ctl_error *src);
int ctl_error_copy(struct ctl_error *dst, const struct ctl_error *src);
int ctl_error_local(struct ctl_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int ctl_error_remote(struct ctl_error *e, json_t *error);
int ctl_error_map(const char *data_code, int http_status, int rpc_code);
int ctl_fail(struct wrennctl *h, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* WRENND_CTL_ERROR_H */
