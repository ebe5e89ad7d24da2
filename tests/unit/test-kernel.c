/* SPDX-License-Identifier: MIT */
/*
 * The pure half of kernel.c: the data suite tests/unit/data/kernel/<case>/
 * feeds a recorded sequence of Jupyter messages (input: a first line
 * {"msg_id": request id, "max_output"?: bytes}, then one message per line,
 * as a real Jupyter Server 1.23 with ipykernel 6.17 sent them, or written by
 * hand for the edges) to one assembly and prints every step, the kernel
 * life events and the CodeResult (expected). Then the kernelspec and kernel
 * list choices and the execute_request text. No daemon, no network.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "datasuite.h"
#include "kernel.h"

static const char *life_names[KERNEL_LIFE__MAX] = {"same", "restarted", "dead"};

/* One case: feed every message line, print what each one did. */
static void
kernel_case(const char *input, size_t len, struct ds_out *o)
{
	const char *p = input, *end = input + len, *nl, *event;
	struct kernel_exec *x = NULL;
	enum kernel_life life;
	enum kernel_step step;
	json_t *msg, *fields, *res;
	size_t max = KERNEL_MAX_OUTPUT;
	char *text;
	int line = 0;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		line++;
		msg = json_loadb(p, (size_t)(nl - p), 0, NULL);
		if (msg == NULL) {
			ds_printf(o, "%d: not JSON\n", line);
			continue;
		}
		if (x == NULL) {
			if (json_is_integer(json_object_get(msg, "max_output")))
				max = (size_t)json_integer_value(
				    json_object_get(msg, "max_output"));
			x = kernel_exec_new(
			    json_string_value(json_object_get(msg, "msg_id")),
			    max);
			json_decref(msg);
			if (x == NULL)
				abort();
			continue;
		}
		life = kernel_msg_life(msg);
		if (life != KERNEL_LIFE_SAME)
			ds_printf(o, "%d: life %s\n", line, life_names[life]);
		step = kernel_exec_feed(x, msg, &event, &fields);
		if (step == KERNEL_STEP_EVENT) {
			text =
			    json_dumps(fields, JSON_COMPACT | JSON_SORT_KEYS);
			ds_printf(o, "%d: event %s %s\n", line, event, text);
			free(text);
			json_decref(fields);
		} else if (step == KERNEL_STEP_DONE)
			ds_printf(o, "%d: done\n", line);
		json_decref(msg);
	}
	if (x == NULL) {
		ds_printf(o, "no header line\n");
		return;
	}
	res = kernel_exec_result(x);
	text = json_dumps(res, JSON_COMPACT | JSON_SORT_KEYS);
	ds_printf(o, "input_count: %lld\nresult: %s\n",
	    kernel_exec_input_count(x), text);
	free(text);
	json_decref(res);
	kernel_exec_free(x);
}

/* kernel_spec_pick(specs, language) gives want (NULL: not offered, with
 * the offered languages as want_offered, "NULL" for none). */
static void
spec_case(const char *specs_text, const char *language, const char *want,
    const char *want_offered)
{
	json_t *specs = json_loads(specs_text, 0, NULL), *offered = NULL;
	const char *got;
	char *off;

	got = kernel_spec_pick(specs, language, &offered);
	if (want != NULL)
		ok_str(got, want, "spec for '%s'", language);
	else {
		ok_null(got, "no spec for '%s'", language);
		off =
		    offered != NULL ? json_dumps(offered, JSON_COMPACT) : NULL;
		ok_str(off != NULL ? off : "NULL", want_offered,
		    "languages offered instead of '%s'", language);
		free(off);
	}
	json_decref(offered);
	json_decref(specs);
}

static void
test_spec_pick(void)
{
	static const char two[] =
	    "{\"default\":\"python3\",\"kernelspecs\":{"
	    "\"ir\":{\"name\":\"ir\",\"spec\":{\"language\":\"R\"}},"
	    "\"python3\":{\"name\":\"python3\",\"spec\":{\"language\":"
	    "\"python\"}},"
	    "\"apython\":{\"name\":\"apython\",\"spec\":{\"language\":"
	    "\"python\"}}}}";
	static const char nodefault[] =
	    "{\"kernelspecs\":{"
	    "\"py-b\":{\"spec\":{\"language\":\"python\"}},"
	    "\"py-a\":{\"spec\":{\"language\":\"python\"}}}}";

	spec_case(two, "python", "python3", NULL);
	spec_case(two, "PYTHON", "python3", NULL);
	spec_case(two, "r", "ir", NULL);
	spec_case(two, "ir", "ir", NULL);
	spec_case(two, "apython", "apython", NULL);
	spec_case(nodefault, "python", "py-a", NULL);
	spec_case(two, "julia", NULL, "[\"R\",\"python\"]");
	spec_case("{\"kernelspecs\":{}}", "python", NULL, "[]");
	spec_case("[]", "python", NULL, "NULL");
}

static void
test_list_pick(void)
{
	json_t *list = json_loads(
	    "[{\"id\":\"k-r\",\"name\":\"ir\"},{\"id\":\"\",\"name\":"
	    "\"python3\"},{\"id\":\"k-1\",\"name\":\"python3\"},"
	    "{\"id\":\"k-2\",\"name\":\"python3\"}]",
	    0, NULL);

	ok_str(kernel_list_pick(list, "python3"), "k-1",
	    "the first running python3 kernel with an id");
	ok_null(kernel_list_pick(list, "julia"), "no julia kernel");
	json_decref(list);
	ok_null(kernel_list_pick(NULL, "python3"), "not a list: no kernel");
}

/* A request's text (freed here) equals want once its keys are sorted. */
static void
msg_case(char *text, const char *want, const char *name)
{
	json_t *m = text != NULL ? json_loads(text, 0, NULL) : NULL;
	char *sorted = NULL;

	if (m != NULL)
		sorted = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	ok_str(sorted, want, "%s", name);
	free(sorted);
	free(text);
	json_decref(m);
}

static void
test_msgs(void)
{
	static const char code[] = "print(\"a\")\n1 + 1";
	json_t *io = json_pack("{s:s}", "channel", "iopub");
	json_t *sh = json_pack("{s:s}", "channel", "shell");

	msg_case(kernel_msg_execute("m-1", "s-1", "2024-01-01T00:00:00.000Z",
		     code, strlen(code)),
	    "{\"buffers\":[],\"channel\":\"shell\",\"content\":{"
	    "\"allow_stdin\":false,\"code\":\"print(\\\"a\\\")\\n1 + 1\","
	    "\"silent\":false,\"stop_on_error\":false,\"store_history\":true,"
	    "\"user_expressions\":{}},\"header\":{\"date\":"
	    "\"2024-01-01T00:00:00.000Z\",\"msg_id\":\"m-1\",\"msg_type\":"
	    "\"execute_request\",\"session\":\"s-1\",\"username\":\"wrennd\","
	    "\"version\":\"5.3\"},\"metadata\":{},\"parent_header\":{}}",
	    "execute_request: the SDK's, but stop_on_error false");
	msg_case(
	    kernel_msg_kernel_info("m-2", "s-1", "2024-01-01T00:00:00.000Z"),
	    "{\"buffers\":[],\"channel\":\"shell\",\"content\":{},\"header\":{"
	    "\"date\":\"2024-01-01T00:00:00.000Z\",\"msg_id\":\"m-2\","
	    "\"msg_type\":\"kernel_info_request\",\"session\":\"s-1\","
	    "\"username\":\"wrennd\",\"version\":\"5.3\"},\"metadata\":{},"
	    "\"parent_header\":{}}",
	    "kernel_info_request");
	ok_int(kernel_msg_is_iopub(io), 1, "an iopub message is one");
	ok_int(kernel_msg_is_iopub(sh), 0, "a shell message is not");
	ok_int(kernel_msg_is_iopub(NULL), 0, "no message is not");
	json_decref(io);
	json_decref(sh);
}

int
main(void)
{
	datasuite_run("kernel", kernel_case);
	test_spec_pick();
	test_list_pick();
	test_msgs();
	return done_testing();
}
