/* SPDX-License-Identifier: MIT */
/*
 * libwrennctl against a real wrennd and the fake control plane (started by
 * test-libwrennctl-live.py): typed errors and their accessors, the
 * has_active_sandboxes ids, streaming calls and fd-streamed file transfer
 * with verification. Usage: ctl-live HOST_ID BUSY_SANDBOX_ID, with
 * WRENND_SOCKET set. Prints TAP.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "tap.h"
#include "wrennctl.h"

static int nstdout;

static void
count_event(struct wrennctl *h, uint64_t id, const char *event,
    const char *json, void *userdata)
{
	if (strcmp(event, "stdout") == 0)
		nstdout++;
}

/* The string member key of a JSON result text (static buffer). */
static const char *
member(const char *text, const char *key)
{
	static char buf[256];
	json_t *o;

	buf[0] = '\0';
	o = json_loads(text != NULL ? text : "", 0, NULL);
	if (json_is_string(json_object_get(o, key)))
		snprintf(buf, sizeof(buf), "%s",
		    json_string_value(json_object_get(o, key)));
	json_decref(o);
	return buf;
}

int
main(int argc, char **argv)
{
	struct wrennctl *h = NULL;
	char *res = NULL, params[512], sid[256],
	     path[] = "/tmp/ctl-live.XXXXXX";
	const char *ids;
	int r, fd, i, found;
	unsigned char buf[4096];

	if (argc != 3) {
		fprintf(stderr, "usage: ctl-live HOST_ID BUSY_SANDBOX_ID\n");
		return 2;
	}
	r = wrennctl_new(NULL, &h);
	if (!ok(r == 0, "wrennctl_new(NULL) connects via WRENND_SOCKET (%s)",
		wrennctl_strerror(r)))
		return done_testing();
	ok_nonnull(
	    wrennctl_server_version(h), "the greeting's version is parsed");
	ok_int(wrennctl_server_has_method(h, "sandbox.exec_stream"), 1,
	    "the greeting's method list is parsed");

	r = wrennctl_call(h, "sandboxes.create", "{}", &res);
	snprintf(sid, sizeof(sid), "%s", member(res, "id"));
	ok_int(r, 0, "sandboxes.create succeeds");
	ok_int(strncmp(sid, "cl-", 3), 0, "sandboxes.create -> '%s', a cl- id",
	    sid);
	free(res);
	res = NULL;

	r = wrennctl_call(h, "sandboxes.get",
	    "{\"sandbox_id\":\"cl-0000000000000000000000000\"}", NULL);
	ok_int(
	    r, WRENNCTL_E_NOT_FOUND, "unknown sandbox -> WRENNCTL_E_NOT_FOUND");
	ok_str(wrennctl_err_data_code(h), "not_found",
	    "unknown sandbox: data.code");
	ok_int(wrennctl_err_http_status(h), 404,
	    "unknown sandbox: the HTTP status");
	ok_int(wrennctl_err_rpc_code(h), -32000,
	    "unknown sandbox: the JSON-RPC code");

	snprintf(params, sizeof(params), "{\"sandbox_id\":\"%s\"}", sid);
	r = wrennctl_call(h, "sandbox.exec", params, NULL);
	ok_int(
	    r, WRENNCTL_E_VALIDATION, "missing cmd -> WRENNCTL_E_VALIDATION");
	ok_int(
	    wrennctl_err_rpc_code(h), -32602, "missing cmd: the JSON-RPC code");
	r = wrennctl_call(h, "no.such_method", "{}", NULL);
	ok_int(r, WRENNCTL_E_METHOD_NOT_FOUND,
	    "unknown method -> WRENNCTL_E_METHOD_NOT_FOUND");

	snprintf(params, sizeof(params), "{\"host_id\":\"%s\"}", argv[1]);
	r = wrennctl_call(h, "hosts.delete", params, NULL);
	found = 0;
	for (i = 0; (ids = wrennctl_err_sandbox_id(h, (size_t)i)) != NULL; i++)
		found |= strcmp(ids, argv[2]) == 0;
	ok_int(r, WRENNCTL_E_HOST_HAS_SANDBOXES,
	    "busy host -> WRENNCTL_E_HOST_HAS_SANDBOXES");
	ok_int(found, 1, "busy host: the error lists the sandbox %s", argv[2]);
	if (!found)
		diag("got %d: %s", r, wrennctl_err_json(h));

	snprintf(params, sizeof(params),
	    "{\"sandbox_id\":\"%s\",\"cmd\":\"/bin/sh\",\"args\":[\"-c\","
	    "\"for i in 1 2 3; do echo $i; sleep 0.05; done; exit 5\"]}",
	    sid);
	r = wrennctl_call_stream(
	    h, "sandbox.exec_stream", params, count_event, NULL, &res);
	ok_int(r, 0, "exec_stream through wrennctl_call_stream");
	ok_strstr(res, "\"exit_code\":5", "exec_stream: the exit code");
	ok_int(nstdout >= 1, 1, "exec_stream: stdout events (%d)", nstdout);
	free(res);
	res = NULL;

	/* 1 MiB through a file descriptor, both ways, verified. */
	if ((fd = mkstemp(path)) == -1)
		return done_testing();
	for (i = 0; i < 256; i++) {
		memset(buf, i, sizeof(buf));
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			break;
	}
	(void)lseek(fd, 0, SEEK_SET);
	r = wrennctl_stream_upload(
	    h, sid, "live/one.bin", fd, WRENNCTL_VERIFY, NULL, NULL, &res);
	ok_int(r, 0, "wrennctl_stream_upload succeeds");
	ok_strstr(res, "\"size\":1048576", "wrennctl_stream_upload: the size");
	ok_strstr(res, "\"verified\":true", "wrennctl_stream_upload verified");
	free(res);
	res = NULL;
	(void)ftruncate(fd, 0);
	(void)lseek(fd, 0, SEEK_SET);
	r = wrennctl_stream_download(
	    h, sid, "live/one.bin", fd, WRENNCTL_VERIFY, NULL, NULL, &res);
	ok_int(r, 0, "wrennctl_stream_download verified into a file");
	ok_int(lseek(fd, 0, SEEK_END), 1048576,
	    "wrennctl_stream_download: the file's size");
	free(res);
	res = NULL;
	r = wrennctl_stream_download(
	    h, sid, "live/missing.bin", fd, WRENNCTL_VERIFY, NULL, NULL, NULL);
	ok(r == WRENNCTL_E_INTEGRITY,
	    "a missing file with verify -> WRENNCTL_E_INTEGRITY");
	close(fd);
	unlink(path);

	snprintf(params, sizeof(params), "{\"sandbox_id\":\"%s\"}", sid);
	r = wrennctl_call(h, "sandbox.pause", params, NULL);
	ok(r == 0, "sandbox.pause");
	r = wrennctl_call(h, "sandbox.pause", params, NULL);
	ok_int(r, WRENNCTL_E_CONFLICT, "pause twice -> WRENNCTL_E_CONFLICT");
	ok_str(wrennctl_err_data_code(h), "invalid_state",
	    "pause twice: data.code");
	h = wrennctl_free(h);
	ok(h == NULL, "wrennctl_free returns NULL");
	return done_testing();
}
