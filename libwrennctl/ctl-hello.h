/* SPDX-License-Identifier: MIT */
/*
 * libwrennctl greeting (hello.c): checks and keeps "wrennd.hello". Above
 * conn (it closes a connection whose greeting is unusable).
 */
#ifndef WRENND_CTL_HELLO_H
#define WRENND_CTL_HELLO_H

#include <jansson.h>

#include "ctl.h"

int ctl_hello_take(struct wrennctl *h, json_t *params);

#endif /* WRENND_CTL_HELLO_H */
