/* SPDX-License-Identifier: MIT */
/*
 * The tool policy (daemon/policy.c) on its own: the parser on good and
 * hostile files (each error with its line), which rule a peer gets, and
 * the check naming the first limit a create breaks.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"
#include "tap.h"

/* Parse text; the policy, or NULL with the error in err. */
static struct policy *
parse(const char *text, char *err, size_t errlen)
{
	struct policy *p = NULL;

	err[0] = '\0';
	(void)policy_parse_buf("p.conf", text, strlen(text), &p, err, errlen);
	return p;
}

/* The limit named by a denied check, or "" when allowed. */
static const char *
denied(const struct policy_rule *r, const struct policy_request *req, char *msg,
    size_t msglen)
{
	static char limit[64];
	json_t *data = NULL;

	msg[0] = '\0';
	limit[0] = '\0';
	if (policy_check(r, req, &data, msg, msglen) == 1)
		snprintf(limit, sizeof(limit), "%s",
		    json_string_value(json_object_get(data, "limit")));
	json_decref(data);
	return limit;
}

static const char example[] = "# defaults for every tool\n"
			      "templates minimal, python\n"
			      "max-sandboxes 2\n"
			      "max-vcpus 2\n"
			      "max-memory-mb 1024\n"
			      "max-timeout-sec 600   # ten minutes\n"
			      "\n"
			      "match user 1001,1002\n"
			      "\tmax-sandboxes 8\n"
			      "\trequire-lease yes\n"
			      "match group 500\n"
			      "\ttemplates *\n"
			      "\tmax-vcpus unlimited\n";

static void
test_match(void)
{
	const struct policy_rule *r;
	struct policy *p;
	gid_t groups[] = {20, 500};
	char err[256];

	p = parse(example, err, sizeof(err));
	ok_nonnull(p, "the example parses (%s)", err);
	if (p == NULL)
		return;
	r = policy_match(p, 3000, 3000, NULL, 0);
	ok_int(r->line, 0, "an unnamed uid gets the default");
	ok_int(r->max_sandboxes, 2, "default max-sandboxes");
	ok_size(r->ntemplates, 2, "default templates");
	ok_str(r->templates[1], "python", "second default template");
	ok_int(r->require_lease, 0, "default require-lease");
	r = policy_match(p, 1002, 3000, groups, 2);
	ok_int(r->line, 8, "uid 1002 gets the first block it matches");
	ok_int(r->max_sandboxes, 8, "the block's max-sandboxes");
	ok_int(r->max_vcpus, 2, "max-vcpus inherited from the default");
	ok_int(r->require_lease, 1, "the block's require-lease");
	ok_size(r->ntemplates, 2, "templates inherited from the default");
	r = policy_match(p, 3000, 3000, groups, 2);
	ok_int(r->line, 11, "a supplementary group matches match group");
	ok_null(r->templates, "templates * allows any");
	ok_int(r->max_vcpus, POLICY_UNLIMITED, "max-vcpus unlimited");
	ok_int(r->max_memory_mb, 1024, "max-memory-mb inherited");
	r = policy_match(p, 3000, 500, NULL, 0);
	ok_int(r->line, 11, "the primary gid matches match group");
	policy_free(p);

	p = parse("", err, sizeof(err));
	ok_nonnull(p, "an empty file parses");
	if (p != NULL) {
		r = policy_match(p, 1, 1, NULL, 0);
		ok_int(r->max_sandboxes, POLICY_UNLIMITED,
		    "an empty policy has no max-sandboxes");
		ok_null(r->templates, "an empty policy allows any template");
		policy_free(p);
	}
}

static void
test_check(void)
{
	struct policy_request req = {"python", 2, 1024, 600, 0, 1};
	const struct policy_rule *r;
	struct policy *p;
	char err[256], msg[256];
	json_t *data = NULL;

	p = parse(example, err, sizeof(err));
	if (!ok_nonnull(p, "the example parses (%s)", err))
		return;
	r = policy_match(p, 3000, 3000, NULL, 0);
	ok_str(denied(r, &req, msg, sizeof(msg)), "", "within every limit");
	req.template_name = "ubuntu";
	ok_str(denied(r, &req, msg, sizeof(msg)), "templates",
	    "a template not listed");
	ok_strstr(msg, "'ubuntu'", "the message names the template");
	req.template_name = "python";
	req.live = 2;
	ok_str(denied(r, &req, msg, sizeof(msg)), "max-sandboxes",
	    "a third live sandbox");
	ok_strstr(msg, "max-sandboxes 2", "the message names the limit");
	req.live = 0;
	req.vcpus = 3;
	ok_str(denied(r, &req, msg, sizeof(msg)), "max-vcpus", "3 vcpus");
	req.vcpus = 2;
	req.memory_mb = 1025;
	ok_str(denied(r, &req, msg, sizeof(msg)), "max-memory-mb", "1025 MiB");
	req.memory_mb = 1024;
	req.timeout_sec = 601;
	ok_str(denied(r, &req, msg, sizeof(msg)), "max-timeout-sec",
	    "timeout 601 s");
	req.timeout_sec = 0;
	ok_str(denied(r, &req, msg, sizeof(msg)), "max-timeout-sec",
	    "timeout 0 (never auto-paused) is above any max-timeout-sec");
	req.timeout_sec = 60;
	r = policy_match(p, 1001, 3000, NULL, 0);
	ok_str(denied(r, &req, msg, sizeof(msg)), "require-lease",
	    "an unleased create where a lease is required");
	req.leased = 1;
	ok_str(denied(r, &req, msg, sizeof(msg)), "", "the leased create");

	req.vcpus = 4;
	r = policy_match(p, 3000, 3000, NULL, 0);
	ok_int(policy_check(r, &req, &data, msg, sizeof(msg)), 1,
	    "4 vcpus denied");
	ok_int(json_integer_value(json_object_get(data, "value")), 4,
	    "data.value is the asked value");
	ok_int(json_integer_value(json_object_get(data, "allowed")), 2,
	    "data.allowed is the limit");
	json_decref(data);
	req.vcpus = 1;
	req.template_name = "x";
	ok_int(policy_check(r, &req, &data, msg, sizeof(msg)), 1,
	    "template x denied");
	ok_size(json_array_size(json_object_get(data, "allowed")), 2,
	    "data.allowed lists the templates");
	ok_str(json_string_value(json_object_get(data, "value")), "x",
	    "data.value is the asked template");
	json_decref(data);
	policy_free(p);
}

/* Each hostile file fails with its line in the message. */
static void
test_errors(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"max-sandboxes 2\nbogus 1\n", "p.conf:2: unknown key 'bogus'"},
	    {"max-vcpus\n", "p.conf:1: max-vcpus: missing value"},
	    {"max-vcpus -1\n", "p.conf:1: max-vcpus: '-1' is not a number"},
	    {"max-vcpus 2x\n", "p.conf:1: max-vcpus: '2x'"},
	    {"max-vcpus 2147483648\n", "p.conf:1: max-vcpus: '2147483648'"},
	    {"max-vcpus 99999999999999999999\n", "p.conf:1: max-vcpus:"},
	    {"max-vcpus 1\nmax-vcpus 2\n", "p.conf:2: max-vcpus is set twice"},
	    {"require-lease maybe\n", "p.conf:1: require-lease: 'maybe'"},
	    {"templates ../etc\n", "p.conf:1: templates: '../etc' is not"},
	    {"templates -x\n", "p.conf:1: templates: '-x' is not"},
	    {"templates , ,\n", "p.conf:1: templates: no name"},
	    {"\n\nmatch\n", "p.conf:3: match: missing value"},
	    {"match uid 1\n", "p.conf:1: match: 'user LIST' or 'group LIST'"},
	    {"match user\n", "p.conf:1: match user: no user named"},
	    {"match user no-such-user-xq9\n",
		"p.conf:1: match user: no such user 'no-such-user-xq9'"},
	    {"match group no-such-group-xq9\n",
		"p.conf:1: match group: no such group"},
	    {"max-vcpus 1\x01\n", "p.conf:1: control character"},
	    {"verylongkeyword_verylongkeyword_x 1\n", "p.conf:1: unknown key"},
	};
	char err[256];
	struct policy *p;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = parse(cases[i].text, err, sizeof(err));
		ok_null(p, "case %zu is refused", i);
		ok_strstr(err, cases[i].want, "case %zu's message", i);
		policy_free(p);
	}
	p = NULL;
	ok_int(policy_parse_buf(
		   "p.conf", "max-vcpus 1\0x\n", 14, &p, err, sizeof(err)),
	    -EINVAL, "a NUL byte is refused");
	ok_strstr(err, "p.conf:1: NUL byte", "the NUL byte's message");
	policy_free(p);
}

/* Limits on the size of what a file may hold. */
static void
test_bounds(void)
{
	char err[256], *big;
	struct policy *p;
	size_t i, n = 0;

	big = malloc(POLICY_MAX_FILE + 64);
	if (!ok_nonnull(big, "buffer"))
		return;
	for (i = 0; i <= POLICY_MAX_RULES; i++)
		n += (size_t)sprintf(big + n, "match user %zu\n", i);
	p = parse(big, err, sizeof(err));
	ok_null(p, "%d match blocks are too many", POLICY_MAX_RULES + 1);
	ok_strstr(err, "more than 256 match blocks", "its message");
	policy_free(p);
	n = (size_t)sprintf(big, "templates ");
	for (i = 0; i <= POLICY_MAX_TEMPLATES; i++)
		n += (size_t)sprintf(big + n, "t%zu,", i);
	big[n++] = '\n';
	big[n] = '\0';
	p = parse(big, err, sizeof(err));
	ok_null(p, "257 templates are too many");
	ok_strstr(err, "more than 256 names", "its message");
	policy_free(p);
	memset(big, '#', POLICY_MAX_FILE + 1);
	p = NULL;
	ok_int(policy_parse_buf(
		   "p.conf", big, POLICY_MAX_FILE + 1, &p, err, sizeof(err)),
	    -EINVAL, "a file above the size limit");
	free(big);
}

static void
test_load(void)
{
	char path[] = "/tmp/test-policy-XXXXXX", err[256];
	struct policy *p = NULL;
	int fd;

	ok_int(policy_load("/nonexistent/policy", &p, err, sizeof(err)),
	    -ENOENT, "a missing file");
	ok_strstr(err, "/nonexistent/policy:", "its message names the file");
	ok_int(
	    policy_load("/tmp", &p, err, sizeof(err)), -EINVAL, "a directory");
	fd = mkstemp(path);
	if (!ok_int(fd >= 0, 1, "temporary file"))
		return;
	ok_int(write(fd, "max-vcpus 4\nmatch user 0\nmax-vcpus x\n", 37), 37,
	    "write the file");
	close(fd);
	ok_int(policy_load(path, &p, err, sizeof(err)), -EINVAL,
	    "a bad line in a file");
	ok_strstr(err, ":3: max-vcpus: 'x'", "its message has the line");
	if (truncate(path, POLICY_MAX_FILE + 1) == 0) {
		ok_int(policy_load(path, &p, err, sizeof(err)), -EINVAL,
		    "a file over POLICY_MAX_FILE");
		ok_strstr(err, ": not a regular file of at most 64 KiB",
		    "its message has the limit");
	} else
		ok(0, "truncate the file: %s", strerror(errno));
	unlink(path);
}

int
main(void)
{
	test_match();
	test_check();
	test_errors();
	test_bounds();
	test_load();
	return done_testing();
}
