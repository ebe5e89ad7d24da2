/* SPDX-License-Identifier: MIT */
/*
 * wrenn-ipc/1 framing and envelope: the pure half of the local protocol.
 * Called by daemon/client.c and libwrennctl; never logs, never does I/O.
 */
#include "config.h"

#include "ipc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static void
ipc_seterr(struct ipc_error *err, int line, int column, const char *text)
{
	if (err == NULL)
		return;
	err->line = line;
	err->column = column;
	snprintf(err->text, sizeof(err->text), "%s", text);
}

int
ipc_line_find(const char *buf, size_t len, size_t max_line, size_t *ret_linelen)
{
	const char *lf;
	size_t scan;

	scan = len < max_line + 1 ? len : max_line + 1;
	lf = memchr(buf, '\n', scan);
	if (lf != NULL) {
		*ret_linelen = (size_t)(lf - buf);
		return 1;
	}
	if (len > max_line)
		return -EMSGSIZE;
	return 0;
}

int
ipc_id_valid(const json_t *id)
{
	json_int_t v;

	if (json_is_integer(id)) {
		v = json_integer_value(id);
		return v >= -IPC_MAX_ID_INT && v <= IPC_MAX_ID_INT;
	}
	if (json_is_string(id))
		return json_string_length(id) <= IPC_MAX_ID_STRING;
	return 0;
}

int
ipc_id_equal(const json_t *a, const json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b))
		return json_integer_value(a) == json_integer_value(b);
	if (json_is_string(a) && json_is_string(b))
		return json_string_length(a) == json_string_length(b) &&
		    memcmp(json_string_value(a), json_string_value(b),
			json_string_length(a)) == 0;
	return 0;
}

void
ipc_msg_clear(struct ipc_msg *msg)
{
	if (msg == NULL)
		return;
	json_decref(msg->root);
	memset(msg, 0, sizeof(*msg));
}

/* Classify a decoded JSON value as one of the envelope kinds. */
static int
ipc_classify(struct ipc_msg *m, struct ipc_error *reterr)
{
	json_t *root = m->root, *v, *method;
	int has_id;

	if (!json_is_object(root)) {
		ipc_seterr(reterr, 0, 0,
		    json_is_array(root) ? "batches are not supported"
					: "message must be a JSON object");
		return IPC_ERR_INVALID_REQUEST;
	}
	v = json_object_get(root, "id");
	has_id = v != NULL;
	if (has_id && (json_is_null(v) || ipc_id_valid(v)))
		m->id = v;
	v = json_object_get(root, "jsonrpc");
	if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0) {
		ipc_seterr(reterr, 0, 0, "\"jsonrpc\" must be \"2.0\"");
		return IPC_ERR_INVALID_REQUEST;
	}
	if (has_id && !json_is_null(json_object_get(root, "id")) &&
	    m->id == NULL) {
		ipc_seterr(reterr, 0, 0,
		    "\"id\" must be an integer (|id| < 2^53) or a string of at "
		    "most 64 bytes");
		return IPC_ERR_INVALID_REQUEST;
	}
	method = json_object_get(root, "method");
	if (method != NULL) {
		if (!json_is_string(method) ||
		    json_string_length(method) == 0 ||
		    json_string_length(method) > 128 ||
		    strlen(json_string_value(method)) !=
			json_string_length(method)) {
			ipc_seterr(reterr, 0, 0,
			    "\"method\" must be a non-empty string");
			return IPC_ERR_INVALID_REQUEST;
		}
		m->method = json_string_value(method);
		m->params = json_object_get(root, "params");
		if (m->params != NULL && json_is_null(m->params))
			m->params = NULL;
		if (m->params != NULL && !json_is_object(m->params)) {
			ipc_seterr(reterr, 0, 0,
			    "\"params\" must be an object (by-name "
			    "parameters)");
			return IPC_ERR_INVALID_REQUEST;
		}
		if (m->params != NULL &&
		    json_object_size(m->params) > IPC_MAX_MEMBERS) {
			ipc_seterr(reterr, 0, 0, "too many parameters");
			return IPC_ERR_INVALID_REQUEST;
		}
		if (!has_id) {
			m->kind = IPC_KIND_NOTIFICATION;
			return 0;
		}
		if (m->id == NULL) {
			ipc_seterr(reterr, 0, 0, "\"id\" must not be null");
			return IPC_ERR_INVALID_REQUEST;
		}
		m->kind = IPC_KIND_REQUEST;
		return 0;
	}
	if (!has_id) {
		ipc_seterr(reterr, 0, 0, "missing \"method\"");
		return IPC_ERR_INVALID_REQUEST;
	}
	if ((v = json_object_get(root, "result")) != NULL) {
		m->result = v;
		m->kind = IPC_KIND_RESULT;
		return 0;
	}
	if ((v = json_object_get(root, "error")) != NULL && json_is_object(v) &&
	    json_is_integer(json_object_get(v, "code")) &&
	    json_is_string(json_object_get(v, "message"))) {
		m->error = v;
		m->kind = IPC_KIND_ERROR;
		return 0;
	}
	ipc_seterr(reterr, 0, 0, "missing \"method\", \"result\" or \"error\"");
	return IPC_ERR_INVALID_REQUEST;
}

int
ipc_parse(
    const char *line, size_t len, struct ipc_msg *ret, struct ipc_error *reterr)
{
	json_error_t jerr;
	size_t i;

	memset(ret, 0, sizeof(*ret));
	if (len >= 3 && (unsigned char)line[0] == 0xef &&
	    (unsigned char)line[1] == 0xbb && (unsigned char)line[2] == 0xbf) {
		ipc_seterr(reterr, 1, 1, "byte order mark is not allowed");
		return IPC_ERR_PARSE;
	}
	for (i = 0; i < len; i++) {
		if (line[i] == '\r' || line[i] == '\0') {
			ipc_seterr(reterr, 1, (int)i + 1,
			    line[i] == '\r' ? "CR is not allowed (lines end "
					      "with LF)"
					    : "NUL byte in message");
			return IPC_ERR_PARSE;
		}
	}
	ret->root = json_loadb(line, len,
	    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (ret->root == NULL) {
		ipc_seterr(reterr, jerr.line, jerr.column, jerr.text);
		return IPC_ERR_PARSE;
	}
	return ipc_classify(ret, reterr);
}

char *
ipc_encode(const json_t *msg, size_t *ret_len)
{
	size_t n, m;
	char *buf;

	n = json_dumpb(msg, NULL, 0, JSON_COMPACT);
	if (n == 0)
		return NULL;
	if ((buf = malloc(n + 1)) == NULL)
		return NULL;
	m = json_dumpb(msg, buf, n, JSON_COMPACT);
	if (m != n) {
		free(buf);
		return NULL;
	}
	buf[n] = '\n';
	*ret_len = n + 1;
	return buf;
}

/*
 * Envelope o (NULL: it could not be made) with params_steal, when not
 * NULL, as its "params"; NULL on OOM, params_steal consumed either way.
 */
static json_t *
ipc_with_params(json_t *o, json_t *params_steal)
{
	if (o == NULL) {
		json_decref(params_steal);
		return NULL;
	}
	if (params_steal != NULL &&
	    json_object_set_new(o, "params", params_steal) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
ipc_make_request(const json_t *id, const char *method, json_t *params_steal)
{
	json_t *o;

	o = json_pack(
	    "{s:s, s:O, s:s}", "jsonrpc", "2.0", "id", id, "method", method);
	return ipc_with_params(o, params_steal);
}

json_t *
ipc_make_notification(const char *method, json_t *params_steal)
{
	json_t *o;

	o = json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
	return ipc_with_params(o, params_steal);
}

json_t *
ipc_make_result(const json_t *id, json_t *result_steal)
{
	if (result_steal == NULL)
		return NULL;
	return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id",
	    id != NULL ? id : json_null(), "result", result_steal);
}

json_t *
ipc_make_error(
    const json_t *id, int code, const char *message, json_t *data_steal)
{
	json_t *err;

	err = json_pack("{s:i, s:s}", "code", code, "message", message);
	if (err == NULL) {
		json_decref(data_steal);
		return NULL;
	}
	if (data_steal != NULL &&
	    json_object_set_new(err, "data", data_steal) != 0) {
		json_decref(err);
		return NULL;
	}
	return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id",
	    id != NULL ? id : json_null(), "error", err);
}

json_t *
ipc_make_error_code(const json_t *id, int code, const char *message,
    const char *data_code, json_t *extra_steal)
{
	json_t *data;

	data = json_object();
	if (data == NULL) {
		json_decref(extra_steal);
		return NULL;
	}
	if (extra_steal != NULL) {
		if (json_object_update(data, extra_steal) != 0) {
			json_decref(extra_steal);
			json_decref(data);
			return NULL;
		}
		json_decref(extra_steal);
	}
	if (json_object_set_new(data, "code", json_string(data_code)) != 0) {
		json_decref(data);
		return NULL;
	}
	return ipc_make_error(id, code, message, data);
}
