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
 * the offered languages printed as want_offered). */
static void
spec_case(const char *specs_text, const char *language, const char *want,
    const char *want_offered)
{
	json_t *specs = json_loads(specs_text, 0, NULL), *offered = NULL;
	const char *got;
	char *off;

	got = kernel_spec_pick(specs, language, &offered);
	if (want != NULL)
		ok(got != NULL && strcmp(got, want) == 0,
		    "spec for '%s': expected %s, got %s", language, want,
		    got != NULL ? got : "NULL");
	else {
		off =
		    offered != NULL ? json_dumps(offered, JSON_COMPACT) : NULL;
		ok(got == NULL &&
			strcmp(off != NULL ? off : "NULL", want_offered) == 0,
		    "spec for '%s': expected none offering %s, got %s "
		    "offering %s",
		    language, want_offered, got != NULL ? got : "NULL",
		    off != NULL ? off : "NULL");
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
	const char *got;

	got = kernel_list_pick(list, "python3");
	ok(got != NULL && strcmp(got, "k-1") == 0,
	    "first running python3 kernel with an id: expected k-1, got %s",
	    got != NULL ? got : "NULL");
	got = kernel_list_pick(list, "julia");
	ok(got == NULL, "no julia kernel: expected NULL, got %s",
	    got != NULL ? got : "NULL");
	json_decref(list);
	got = kernel_list_pick(NULL, "python3");
	ok(got == NULL, "not a list: expected NULL, got %s",
	    got != NULL ? got : "NULL");
}

static void
test_execute_msg(void)
{
	static const char code[] = "print(\"a\")\n1 + 1";
	static const char want[] =
	    "{\"buffers\":[],\"channel\":\"shell\",\"content\":{"
	    "\"allow_stdin\":false,\"code\":\"print(\\\"a\\\")\\n1 + 1\","
	    "\"silent\":false,\"stop_on_error\":true,\"store_history\":true,"
	    "\"user_expressions\":{}},\"header\":{\"date\":"
	    "\"2024-01-01T00:00:00.000Z\",\"msg_id\":\"m-1\",\"msg_type\":"
	    "\"execute_request\",\"session\":\"s-1\",\"username\":\"wrennd\","
	    "\"version\":\"5.3\"},\"metadata\":{},\"parent_header\":{}}";
	char *text, *sorted = NULL;
	json_t *m;

	text = kernel_msg_execute(
	    "m-1", "s-1", "2024-01-01T00:00:00.000Z", code, strlen(code));
	m = text != NULL ? json_loads(text, 0, NULL) : NULL;
	if (m != NULL)
		sorted = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	ok(sorted != NULL && strcmp(sorted, want) == 0,
	    "execute_request: expected %s, got %s", want,
	    sorted != NULL ? sorted : "NULL");
	free(sorted);
	free(text);
	json_decref(m);
}

int
main(void)
{
	datasuite_run("kernel", kernel_case);
	test_spec_pick();
	test_list_pick();
	test_execute_msg();
	return done_testing();
}
