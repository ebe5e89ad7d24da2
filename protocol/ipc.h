/* SPDX-License-Identifier: MIT */
/*
 * wrenn-ipc/1 wire helpers: line framing, the JSON-RPC 2.0 envelope, limits.
 * Pure code (no I/O, no logging), shared by wrennd and libwrennctl and fuzzed
 * on its own. PROTOCOL.md is the contract; this is its encoder and decoder.
 *
 * Bump IPC_PROTOCOL_VERSION in the same commit as any incompatible change to
 * the envelope or to a method's wire shape.
 */
#ifndef WRENND_IPC_H
#define WRENND_IPC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define IPC_PROTOCOL_VERSION 1
#define IPC_MAX_LINE_DEFAULT (1024 * 1024)	/* bytes, LF excluded */
#define IPC_MAX_ID_STRING    64			/* bytes of a string id */
#define IPC_MAX_ID_INT	     9007199254740991LL /* 2^53 - 1 */
#define IPC_MAX_MEMBERS	     1024 /* members of one params object */

/* JSON-RPC error codes used on the wire (never renumbered). */
#define IPC_ERR_PARSE		 -32700
#define IPC_ERR_INVALID_REQUEST	 -32600
#define IPC_ERR_METHOD_NOT_FOUND -32601
#define IPC_ERR_INVALID_PARAMS	 -32602
#define IPC_ERR_INTERNAL	 -32603
#define IPC_ERR_APPLICATION	 -32000
#define IPC_ERR_FORBIDDEN	 -32001
#define IPC_ERR_CANCELLED	 -32800

struct ipc_error {
	int line;	/* 1-based, 0 if unknown */
	int column;	/* 1-based, 0 if unknown */
	char text[160]; /* human readable, NUL terminated */
};

enum ipc_kind {
	IPC_KIND_REQUEST,      /* method + id */
	IPC_KIND_NOTIFICATION, /* method, no id */
	IPC_KIND_RESULT,       /* id + result */
	IPC_KIND_ERROR,	       /* id (may be null) + error */
	IPC_KIND__MAX
};

/* One decoded message. root is owned; every other pointer borrows from it. */
struct ipc_msg {
	enum ipc_kind kind;
	json_t *root;	    /* owned */
	json_t *id;	    /* borrowed; NULL for notifications */
	const char *method; /* borrowed; requests and notifications */
	json_t *params;	    /* borrowed; NULL when absent */
	json_t *result;	    /* borrowed; IPC_KIND_RESULT */
	json_t *error;	    /* borrowed; IPC_KIND_ERROR */
};

/*
 * Look for a complete line in buf[0..len). Returns 1 and sets *ret_linelen
 * (LF excluded) when one is there, 0 when more bytes are needed, or
 * -EMSGSIZE when max_line bytes arrived without a LF.
 */
int ipc_line_find(
    const char *buf, size_t len, size_t max_line, size_t *ret_linelen);

/*
 * Decode one line (without its LF) into *ret. Returns 0, IPC_ERR_PARSE when
 * the bytes are not one JSON value (or carry CR, NUL or a BOM), or
 * IPC_ERR_INVALID_REQUEST when the JSON is not a valid envelope; in that
 * case ret->root and ret->id are still set when they could be read, so the
 * caller can echo the id. reterr is filled on failure. The caller releases
 * ret with ipc_msg_clear() in every case.
 */
int ipc_parse(const char *line, size_t len, struct ipc_msg *ret,
    struct ipc_error *reterr);

/* Release what ipc_parse() stored in msg; safe on a zeroed msg. */
void ipc_msg_clear(struct ipc_msg *msg);

/* Whether id is a valid request id (integer within 2^53 or short string). */
int ipc_id_valid(const json_t *id);

/* Whether two valid ids are equal (same type and value). */
int ipc_id_equal(const json_t *a, const json_t *b);

/*
 * Serialize msg compactly followed by LF. Returns a malloc'd buffer owned by
 * the caller and its length in *ret_len, or NULL on allocation failure.
 */
char *ipc_encode(const json_t *msg, size_t *ret_len);

/* Envelope builders. Arguments named "steal" are taken over even on error;
 * id is borrowed (copied by reference count). NULL means out of memory. */
json_t *ipc_make_request(
    const json_t *id, const char *method, json_t *params_steal);
json_t *ipc_make_notification(const char *method, json_t *params_steal);
json_t *ipc_make_result(const json_t *id, json_t *result_steal);
json_t *ipc_make_error(
    const json_t *id, int code, const char *message, json_t *data_steal);

/*
 * Build an error with data {"code": data_code} plus any members of
 * extra_steal merged in (extra_steal may be NULL).
 */
json_t *ipc_make_error_code(const json_t *id, int code, const char *message,
    const char *data_code, json_t *extra_steal);

#endif /* WRENND_IPC_H */
