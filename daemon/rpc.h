/* SPDX-License-Identifier: MIT */
/*
 * The dispatcher between a connection (client.c) and the methods: it
 * greets a new connection, gives it its role, and for every request does
 * admission (duplicate id, draining, method known, role, params, fds),
 * chooses the upstream credential once (stored in the call), creates the
 * call and runs the row's handler or the REST pass-through. It also owns
 * rpc.hello and $/cancel. wrennd.c installs rpc_client_ops as
 * wd->client_ops.
 */
#ifndef WRENND_RPC_H
#define WRENND_RPC_H

#include "client.h"

/* The dispatcher's hooks for client.c. */
extern const struct client_ops rpc_client_ops;

#endif /* WRENND_RPC_H */
