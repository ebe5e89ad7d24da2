/* SPDX-License-Identifier: MIT */
/*
 * REST pass-through: turns a method row plus validated params into one
 * upstream request (path template, query, JSON body, credential) and its
 * answer into the call's reply. Also the shared helpers handlers use to
 * build upstream requests the same way.
 */
#ifndef WRENND_REST_H
#define WRENND_REST_H

#include <jansson.h>

#include "upstream.h"

struct call;
struct method;

/* Run call as a pass-through of its method row. Returns 0 (the call is
 * answered now or later). */
int rest_passthrough(struct call *call);

/*
 * The credential the daemon would use for cred, or -1 when it has none;
 * in that case the call has been failed with data.code "unauthorized" and
 * an actionable message.
 */
int rest_pick_auth(struct call *call, int cred, enum upstream_auth *ret);

/*
 * "/v1/sandboxes/<escaped id><suffix>" (suffix may be ""), malloc'd; NULL
 * with errno EINVAL when the id is "", "." or "..", ENOMEM on allocation
 * failure.
 */
char *rest_sandbox_path(const char *sandbox_id, const char *suffix);

/*
 * Expand a path template ("/v1/sandboxes/{sandbox_id}") from params,
 * escaping each value, and append the PIN_QUERY params present. Returns a
 * malloc'd string or NULL with err set.
 */
char *rest_build_path(const struct method *m, const char *tmpl, json_t *params,
    char *err, size_t errlen);

#endif /* WRENND_REST_H */
