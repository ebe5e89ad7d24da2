/* SPDX-License-Identifier: MIT */
/*
 * The tool policy (policy-file in wrennd.conf(5)): what a peer with the
 * tool role may ask of sandboxes.create. The file holds a default rule
 * (the lines before the first "match") and "match user LIST" / "match
 * group LIST" blocks; the first block that names the peer's uid or one
 * of its groups applies, each key it does not set taken from the
 * default. Keys: templates, max-sandboxes, max-vcpus, max-memory-mb,
 * max-timeout-sec, require-lease. A key never set is no limit.
 *
 * Parsed and resolved (user and group names) once, at start and on a
 * reload; immutable afterwards. Knows nothing of calls: a leaf over
 * role.h and jansson.
 */
#ifndef WRENND_POLICY_H
#define WRENND_POLICY_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#define POLICY_UNLIMITED     (-1L)	 /* a numeric key with no limit */
#define POLICY_MAX_FILE	     (64 * 1024) /* bytes of a policy file */
#define POLICY_MAX_RULES     256	 /* match blocks of one file */
#define POLICY_MAX_TEMPLATES 256	 /* names of one templates line */

/* One rule: the default or a match block with the default filled in. */
struct policy_rule {
	char **templates;   /* owned; NULL: any template */
	size_t ntemplates;  /* names in templates */
	long max_sandboxes; /* live sandboxes of the uid, or unlimited */
	long max_vcpus;
	long max_memory_mb;
	long max_timeout_sec; /* also refuses "never" (timeout_sec <= 0) */
	int require_lease;    /* lease: "connection" is required */
	int line;	      /* of its match line; 0 for the default */
};

struct policy;

/*
 * Parse policy text (name is used in messages). Returns 0 with a new
 * policy in *ret, or -EINVAL/-ENOMEM with err "name:line: message".
 */
int policy_parse_buf(const char *name, const char *buf, size_t len,
    struct policy **ret, char *err, size_t errlen);
/* Read and parse the file path (a regular file of POLICY_MAX_FILE bytes
 * at most); as policy_parse_buf, or -errno when it cannot be read. */
int policy_load(
    const char *path, struct policy **ret, char *err, size_t errlen);
void policy_free(struct policy *p);

/*
 * The rule for a peer: the first match block naming uid, gid or one of
 * its groups, else the default. Never NULL for a policy.
 */
const struct policy_rule *policy_match(const struct policy *p, uid_t uid,
    gid_t gid, const gid_t *groups, size_t ngroups);

/* What sandboxes.create asks for, with the control plane's defaults
 * applied (template "minimal", vcpus 1, memory_mb 512, timeout_sec 0). */
struct policy_request {
	const char *template_name;
	long vcpus;
	long memory_mb;
	long timeout_sec; /* <= 0: never auto-paused */
	int leased;	  /* lease: "connection" */
	unsigned live;	  /* sandboxes the uid already has or is creating */
};

/*
 * Check req against rule. 0 when allowed; 1 when not, with msg set and
 * *data a new object {limit, value, allowed} (NULL on OOM) naming the
 * first limit broken, in the order templates, max-sandboxes, max-vcpus,
 * max-memory-mb, max-timeout-sec, require-lease.
 */
int policy_check(const struct policy_rule *rule,
    const struct policy_request *req, json_t **data, char *msg, size_t msglen);

#endif /* WRENND_POLICY_H */
