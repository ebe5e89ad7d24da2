/* SPDX-License-Identifier: MIT */
/*
 * The tool policy (see policy.h): parser, matcher and check. The file is
 * hostile input like any other: every line is checked whole, names are
 * resolved once, lists and the file are bounded, and an error names the
 * file and line.
 */
#include "config.h"

#include "policy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "role.h"
#include "textfile.h"

/* Keys of a rule, also the bits of what a block has set. */
enum policy_key {
	POLICY_TEMPLATES,
	POLICY_MAX_SANDBOXES,
	POLICY_MAX_VCPUS,
	POLICY_MAX_MEMORY_MB,
	POLICY_MAX_TIMEOUT_SEC,
	POLICY_REQUIRE_LEASE,
	POLICY_KEY__MAX
};

static const char *const policy_key_names[POLICY_KEY__MAX] = {"templates",
    "max-sandboxes", "max-vcpus", "max-memory-mb", "max-timeout-sec",
    "require-lease"};

/* A match block: the uids (or gids) it names and its rule. */
struct policy_block {
	int group;     /* match group (else match user) */
	unsigned *ids; /* owned */
	size_t nids;
	struct policy_rule rule;
};

struct policy {
	struct policy_rule def;
	struct policy_block *blocks; /* owned */
	size_t nblocks;
};

/* The parser's position and where its message goes. */
struct policy_parser {
	const char *name;
	int line;
	char *err;
	size_t errlen;
};

static int policy_perr(struct policy_parser *pp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Set the message "name:line: ..." and return -EINVAL. */
static int
policy_perr(struct policy_parser *pp, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(pp->err, pp->errlen, "%.80s:%d: %s", pp->name, pp->line, msg);
	return -EINVAL;
}

static void
policy_templates_free(struct policy_rule *r)
{
	size_t i;

	for (i = 0; i < r->ntemplates; i++)
		free(r->templates[i]);
	free(r->templates);
	r->templates = NULL;
	r->ntemplates = 0;
}

void
policy_free(struct policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	policy_templates_free(&p->def);
	for (i = 0; i < p->nblocks; i++) {
		free(p->blocks[i].ids);
		policy_templates_free(&p->blocks[i].rule);
	}
	free(p->blocks);
	free(p);
}

/* A template name as the control plane accepts it:
 * ^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$ */
static int
policy_template_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return 0;
	}
	return 1;
}

/* Copy the templates of src into dst (dst's own freed first). */
static int
policy_templates_copy(struct policy_rule *dst, const struct policy_rule *src)
{
	size_t i;

	policy_templates_free(dst);
	if (src->templates == NULL)
		return 0;
	if ((dst->templates = calloc(src->ntemplates + 1, sizeof(char *))) ==
	    NULL)
		return -ENOMEM;
	for (i = 0; i < src->ntemplates; i++) {
		if ((dst->templates[i] = strdup(src->templates[i])) == NULL)
			return -ENOMEM;
		dst->ntemplates++;
	}
	return 0;
}

/* "templates NAME[,NAME...]" or "templates *" (any). */
static int
policy_parse_templates(
    struct policy_parser *pp, struct policy_rule *r, const char *v)
{
	const char *p = v;
	size_t n;

	policy_templates_free(r);
	if (strcmp(v, "*") == 0)
		return 0;
	if ((r->templates = calloc(POLICY_MAX_TEMPLATES + 1, sizeof(char *))) ==
	    NULL)
		return -ENOMEM;
	for (;;) {
		p += strspn(p, ", \t");
		if ((n = strcspn(p, ", \t")) == 0)
			break;
		if (!policy_template_ok(p, n))
			return policy_perr(pp,
			    "templates: '%.*s' is not a template name "
			    "(letters, digits, '.', '_', '-'; at most 64)",
			    (int)(n > 64 ? 64 : n), p);
		if (r->ntemplates == POLICY_MAX_TEMPLATES)
			return policy_perr(pp, "templates: more than %d names",
			    POLICY_MAX_TEMPLATES);
		if ((r->templates[r->ntemplates] = strndup(p, n)) == NULL)
			return -ENOMEM;
		r->ntemplates++;
		p += n;
	}
	if (r->ntemplates == 0)
		return policy_perr(pp, "templates: no name (\"*\" allows any)");
	return 0;
}

/* A limit: a decimal number 0..2^31-1 or "unlimited". */
static int
policy_parse_limit(
    struct policy_parser *pp, const char *key, const char *v, long *out)
{
	char *end;
	long n;

	if (strcmp(v, "unlimited") == 0) {
		*out = POLICY_UNLIMITED;
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || n > INT32_MAX)
		return policy_perr(pp,
		    "%s: '%.64s' is not a number 0..2147483647 or "
		    "\"unlimited\"",
		    key, v);
	*out = n;
	return 0;
}

/* One "key value" line into rule r. */
static int
policy_parse_key(struct policy_parser *pp, struct policy_rule *r,
    enum policy_key k, const char *v)
{
	const char *name = policy_key_names[k];

	switch (k) {
	case POLICY_TEMPLATES:
		return policy_parse_templates(pp, r, v);
	case POLICY_MAX_SANDBOXES:
		return policy_parse_limit(pp, name, v, &r->max_sandboxes);
	case POLICY_MAX_VCPUS:
		return policy_parse_limit(pp, name, v, &r->max_vcpus);
	case POLICY_MAX_MEMORY_MB:
		return policy_parse_limit(pp, name, v, &r->max_memory_mb);
	case POLICY_MAX_TIMEOUT_SEC:
		return policy_parse_limit(pp, name, v, &r->max_timeout_sec);
	case POLICY_REQUIRE_LEASE:
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
			return policy_perr(
			    pp, "require-lease: '%.64s' is not yes or no", v);
		r->require_lease = strcmp(v, "yes") == 0;
		return 0;
	case POLICY_KEY__MAX:
		break;
	}
	return policy_perr(pp, "internal error");
}

/* "match user LIST" or "match group LIST": a new block. */
static int
policy_parse_match(struct policy_parser *pp, struct policy *p, const char *v)
{
	struct policy_block *b, *nv;
	char opt[64], err[200];
	size_t n = strcspn(v, " \t");
	int group, r;

	if (n == 4 && strncmp(v, "user", 4) == 0)
		group = 0;
	else if (n == 5 && strncmp(v, "group", 5) == 0)
		group = 1;
	else
		return policy_perr(
		    pp, "match: 'user LIST' or 'group LIST' expected");
	v += n;
	v += strspn(v, " \t");
	if (*v == '\0')
		return policy_perr(pp, "match %s: no %s named",
		    group ? "group" : "user", group ? "group" : "user");
	if (p->nblocks == POLICY_MAX_RULES)
		return policy_perr(
		    pp, "more than %d match blocks", POLICY_MAX_RULES);
	if ((nv = realloc(p->blocks, (p->nblocks + 1) * sizeof(*nv))) == NULL)
		return -ENOMEM;
	p->blocks = nv;
	b = &p->blocks[p->nblocks++];
	memset(b, 0, sizeof(*b));
	b->group = group;
	b->rule = p->def;
	b->rule.templates = NULL;
	b->rule.ntemplates = 0;
	b->rule.line = pp->line;
	if (policy_templates_copy(&b->rule, &p->def) != 0)
		return -ENOMEM;
	snprintf(opt, sizeof(opt), "match %s", group ? "group" : "user");
	r = role_resolve_list(
	    opt, v, group, &b->ids, &b->nids, err, sizeof(err));
	if (r == -EINVAL)
		return policy_perr(pp, "%s", err);
	return r;
}

/* Split a line (no LF) into its key and value, comments and blanks
 * stripped. 0 for an empty line, 1 with key and value, -EINVAL. */
static int
policy_split(struct policy_parser *pp, const char *s, size_t len, char *key,
    size_t keylen, char *val, size_t vallen)
{
	size_t i, n;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
			return policy_perr(pp, "control character");
	if (memchr(s, '#', len) != NULL)
		len = (size_t)((const char *)memchr(s, '#', len) - s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	i = 0;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == len)
		return 0;
	for (n = 0; i + n < len && s[i + n] != ' ' && s[i + n] != '\t'; n++)
		;
	if (n >= keylen)
		return policy_perr(pp, "unknown key '%.32s...'", s + i);
	memcpy(key, s + i, n);
	key[n] = '\0';
	i += n;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == len)
		return policy_perr(pp, "%s: missing value", key);
	if (len - i >= vallen)
		return policy_perr(
		    pp, "%s: value longer than %zu bytes", key, vallen - 1);
	memcpy(val, s + i, len - i);
	val[len - i] = '\0';
	return 1;
}

/* The default rule: no limit at all. */
static void
policy_rule_init(struct policy_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->max_sandboxes = POLICY_UNLIMITED;
	r->max_vcpus = POLICY_UNLIMITED;
	r->max_memory_mb = POLICY_UNLIMITED;
	r->max_timeout_sec = POLICY_UNLIMITED;
}

/* Parse every line of buf into p. 0 or -errno with the message set. */
static int
policy_parse_lines(
    struct policy_parser *pp, struct policy *p, const char *buf, size_t len)
{
	const char *s = buf, *end = buf + len, *eol;
	char key[32], val[4096];
	unsigned set = 0; /* keys set in the current block */
	struct policy_rule *r = &p->def;
	int k, rv;

	while (s < end) {
		pp->line++;
		if ((eol = memchr(s, '\n', (size_t)(end - s))) == NULL)
			eol = end;
		if (memchr(s, '\0', (size_t)(eol - s)) != NULL)
			return policy_perr(pp, "NUL byte");
		rv = policy_split(pp, s, (size_t)(eol - s), key, sizeof(key),
		    val, sizeof(val));
		s = eol + 1;
		if (rv <= 0) {
			if (rv < 0)
				return rv;
			continue;
		}
		if (strcmp(key, "match") == 0) {
			if ((rv = policy_parse_match(pp, p, val)) != 0)
				return rv;
			r = &p->blocks[p->nblocks - 1].rule;
			set = 0;
			continue;
		}
		for (k = 0; k < POLICY_KEY__MAX; k++)
			if (strcmp(key, policy_key_names[k]) == 0)
				break;
		if (k == POLICY_KEY__MAX)
			return policy_perr(pp,
			    "unknown key '%s' (match, templates, "
			    "max-sandboxes, max-vcpus, max-memory-mb, "
			    "max-timeout-sec, require-lease)",
			    key);
		if (set & (1u << k))
			return policy_perr(pp, "%s is set twice in this %s",
			    key, r == &p->def ? "default" : "match block");
		set |= 1u << k;
		if ((rv = policy_parse_key(pp, r, (enum policy_key)k, val)) !=
		    0)
			return rv;
	}
	return 0;
}

int
policy_parse_buf(const char *name, const char *buf, size_t len,
    struct policy **ret, char *err, size_t errlen)
{
	struct policy_parser pp = {name, 0, err, errlen};
	struct policy *p;
	int r;

	*ret = NULL;
	if (len > POLICY_MAX_FILE) {
		snprintf(err, errlen, "%.80s: larger than %d bytes", name,
		    POLICY_MAX_FILE);
		return -EINVAL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "%.80s: out of memory", name);
		return -ENOMEM;
	}
	policy_rule_init(&p->def);
	if ((r = policy_parse_lines(&pp, p, buf, len)) != 0) {
		if (r == -ENOMEM)
			snprintf(err, errlen, "%.80s: out of memory", name);
		policy_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

int
policy_load(const char *path, struct policy **ret, char *err, size_t errlen)
{
	char *buf, why[160];
	size_t len;
	int r;

	*ret = NULL;
	if ((buf = textfile_read(
		 path, POLICY_MAX_FILE, &len, &r, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "%.80s: %s", path, why);
		return r;
	}
	r = policy_parse_buf(path, buf, len, ret, err, errlen);
	free(buf);
	return r;
}

/* Whether block b names the peer. */
static int
policy_block_matches(const struct policy_block *b, uid_t uid, gid_t gid,
    const gid_t *groups, size_t ngroups)
{
	size_t i, j;

	for (i = 0; i < b->nids; i++) {
		if (!b->group && b->ids[i] == uid)
			return 1;
		if (b->group && b->ids[i] == gid)
			return 1;
		for (j = 0; b->group && j < ngroups; j++)
			if (b->ids[i] == groups[j])
				return 1;
	}
	return 0;
}

const struct policy_rule *
policy_match(const struct policy *p, uid_t uid, gid_t gid, const gid_t *groups,
    size_t ngroups)
{
	size_t i;

	for (i = 0; i < p->nblocks; i++)
		if (policy_block_matches(
			&p->blocks[i], uid, gid, groups, ngroups))
			return &p->blocks[i].rule;
	return &p->def;
}

/* Whether name is one of the rule's templates (or any is allowed). */
static int
policy_template_allowed(const struct policy_rule *r, const char *name)
{
	size_t i;

	if (r->templates == NULL)
		return 1;
	for (i = 0; i < r->ntemplates; i++)
		if (strcmp(r->templates[i], name) == 0)
			return 1;
	return 0;
}

/* The data of a numeric limit broken: value above allowed. Returns 1. */
static int
policy_deny_number(enum policy_key k, long value, long allowed, json_t **data)
{
	*data = json_pack("{s:s,s:I,s:I}", "limit", policy_key_names[k],
	    "value", (json_int_t)value, "allowed", (json_int_t)allowed);
	return 1;
}

int
policy_check(const struct policy_rule *rule, const struct policy_request *req,
    json_t **data, char *msg, size_t msglen)
{
	json_t *names;
	size_t i;

	*data = NULL;
	if (!policy_template_allowed(rule, req->template_name)) {
		if ((names = json_array()) != NULL)
			for (i = 0; i < rule->ntemplates; i++)
				json_array_append_new(
				    names, json_string(rule->templates[i]));
		*data = json_pack("{s:s,s:s,s:o*}", "limit", "templates",
		    "value", req->template_name, "allowed", names);
		snprintf(msg, msglen,
		    "policy: template '%.64s' is not allowed for this tool",
		    req->template_name);
		return 1;
	}
	if (rule->max_sandboxes != POLICY_UNLIMITED &&
	    (long)req->live >= rule->max_sandboxes) {
		snprintf(msg, msglen,
		    "policy: this tool has %u sandboxes (max-sandboxes %ld)",
		    req->live, rule->max_sandboxes);
		return policy_deny_number(POLICY_MAX_SANDBOXES,
		    (long)req->live + 1, rule->max_sandboxes, data);
	}
	if (rule->max_vcpus != POLICY_UNLIMITED &&
	    req->vcpus > rule->max_vcpus) {
		snprintf(msg, msglen,
		    "policy: vcpus %ld is above max-vcpus %ld", req->vcpus,
		    rule->max_vcpus);
		return policy_deny_number(
		    POLICY_MAX_VCPUS, req->vcpus, rule->max_vcpus, data);
	}
	if (rule->max_memory_mb != POLICY_UNLIMITED &&
	    req->memory_mb > rule->max_memory_mb) {
		snprintf(msg, msglen,
		    "policy: memory_mb %ld is above max-memory-mb %ld",
		    req->memory_mb, rule->max_memory_mb);
		return policy_deny_number(POLICY_MAX_MEMORY_MB, req->memory_mb,
		    rule->max_memory_mb, data);
	}
	if (rule->max_timeout_sec != POLICY_UNLIMITED &&
	    (req->timeout_sec <= 0 ||
		req->timeout_sec > rule->max_timeout_sec)) {
		snprintf(msg, msglen,
		    "policy: timeout_sec %ld%s is above max-timeout-sec %ld",
		    req->timeout_sec,
		    req->timeout_sec <= 0 ? " (never auto-paused)" : "",
		    rule->max_timeout_sec);
		return policy_deny_number(POLICY_MAX_TIMEOUT_SEC,
		    req->timeout_sec, rule->max_timeout_sec, data);
	}
	if (rule->require_lease && !req->leased) {
		*data = json_pack("{s:s,s:s,s:s}", "limit", "require-lease",
		    "value", "none", "allowed", "connection");
		snprintf(msg, msglen,
		    "policy: this tool's sandboxes must be leased (lease: "
		    "\"connection\")");
		return 1;
	}
	return 0;
}
