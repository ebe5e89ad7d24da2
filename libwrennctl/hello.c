/* SPDX-License-Identifier: MIT */
/*
 * libwrennctl greeting: checks and keeps the "wrennd.hello" notification
 * that wrennd sends first on every connection, and answers the accessors
 * for the server version, limits, methods, capabilities and peer role.
 * Owns: the greeting's params object and its text (fields of the handle).
 * Called by: conn.c when the first line arrives; applications.
 */
#include "config.h"

#include "wrennctl.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl-conn.h"
#include "ctl.h"
#include "ctl-hello.h"
#include "ipc.h"

/*
 * Take the greeting's params (borrowed). Returns 0, or a negative code
 * after closing the connection when the greeting is unusable.
 */
int
ctl_hello_take(struct wrennctl *h, json_t *params)
{
	json_t *v;

	if (!json_is_object(params)) {
		ctl_close(h, WRENNCTL_E_PROTOCOL,
		    "the wrennd.hello greeting has no params object");
		return h->close_err.code;
	}
	v = json_object_get(params, "protocol");
	if (v != NULL &&
	    (!json_is_integer(v) ||
		json_integer_value(v) != IPC_PROTOCOL_VERSION)) {
		ctl_close(h, WRENNCTL_E_PROTOCOL,
		    "wrennd speaks protocol %lld, libwrennctl speaks %d",
		    json_is_integer(v) ? (long long)json_integer_value(v)
				       : -1LL,
		    IPC_PROTOCOL_VERSION);
		return h->close_err.code;
	}
	json_decref(h->hello);
	free(h->hello_text);
	h->hello = json_incref(params);
	/* Without the text only wrennctl_hello_json() degrades (NULL). */
	h->hello_text = json_dumps(params, JSON_COMPACT);
	return 0;
}

const char *
wrennctl_hello_json(const struct wrennctl *h)
{
	return h != NULL ? h->hello_text : NULL;
}

const char *
wrennctl_server_version(const struct wrennctl *h)
{
	json_t *v;

	if (h == NULL)
		return NULL;
	v = json_object_get(h->hello, "version");
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int64_t
wrennctl_server_limit(const struct wrennctl *h, const char *name)
{
	json_t *v;

	if (h == NULL || name == NULL)
		return -1;
	v = json_object_get(json_object_get(h->hello, "limits"), name);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	return (int64_t)json_integer_value(v);
}

/* The i-th string of the greeting's array member key, or NULL. */
static const char *
ctl_hello_string_at(const struct wrennctl *h, const char *key, size_t i)
{
	json_t *v;

	v = json_array_get(json_object_get(h->hello, key), i);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Whether the greeting's array member key lists s. */
static int
ctl_hello_lists(const struct wrennctl *h, const char *key, const char *s)
{
	json_t *a, *v;
	size_t i;

	a = json_object_get(h->hello, key);
	json_array_foreach(a, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return 1;
	}
	return 0;
}

const char *
wrennctl_server_method(const struct wrennctl *h, size_t i)
{
	if (h == NULL)
		return NULL;
	return ctl_hello_string_at(h, "methods", i);
}

int
wrennctl_server_has_method(const struct wrennctl *h, const char *method)
{
	if (h == NULL || method == NULL)
		return 0;
	return ctl_hello_lists(h, "methods", method);
}

int
wrennctl_server_has_capability(const struct wrennctl *h, const char *name)
{
	if (h == NULL || name == NULL)
		return 0;
	return ctl_hello_lists(h, "capabilities", name);
}

const char *
wrennctl_peer_role(const struct wrennctl *h)
{
	json_t *v;

	if (h == NULL)
		return NULL;
	v = json_object_get(json_object_get(h->hello, "peer"), "role");
	return json_is_string(v) ? json_string_value(v) : NULL;
}
