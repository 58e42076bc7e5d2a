/* policy.h: the allowlist: rules of (name pattern, ports, flags) and the matcher. */
#ifndef GATEHOUSE_POLICY_H
#define GATEHOUSE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#define RULE_PRIVATE 0x01	/* may dial special-purpose addresses */
#define RULE_ROUTE   0x02	/* implied by a `route` line */
#define RULE_INHERITED 0x04	/* RULE_ROUTE whose RULE_PRIVATE came from an allow rule */
#define RULE_DENY    0x08	/* a `deny` rule: refuses what it matches, over every allow */

struct portrange {
	uint16_t lo, hi;	/* inclusive */
};

/* One allocation in the policy's arena: kept small, because an allowlist may hold
 * 100,000 of them (the resolver's RSS budget is 16 MiB there). */
struct rule {
	struct rule *next;	/* next rule with the same key (internal) */
	const struct portrange *ports;
	const char *src;	/* where it was written: a file name or a variable's name */
	uint32_t line;		/* its line in src, 0 for a variable */
	uint16_t nports;
	uint8_t flags;		/* RULE_* */
	uint8_t wildcard;	/* 0: exact; 1: "*." (one label below); 2: "**." (any depth) */
	uint16_t keylen;	/* strlen of the hashed key (the name, or the suffix) */
	char pattern[];		/* normal form: "smtp.gmail.com", "*.github.io", "**.github.com" */
};

/* Immutable once built; the owner (struct config) frees it. Lookups never allocate. */
struct policy;

/* Load the Public Suffix List (libpsl) if not yet loaded: once per process, before the
 * sandbox (the first configuration load does it). Later calls do nothing. */
void policy_psl_load(void);

enum policy_suffix {
	POLICY_SUFFIX_NONE,	/* no public suffix: a wildcard over it is fine */
	POLICY_SUFFIX_ICANN,	/* ICANN section (com, co.uk), or any single label: refused */
	POLICY_SUFFIX_PRIVATE	/* private section (github.io, s3.amazonaws.com): anyone can
				 * create names below it, so a wildcard is warned about */
};

/* What the Public Suffix List says of suffix (normalised, as a wildcard is over it). */
enum policy_suffix policy_suffix_kind(const char *suffix);

/* An empty policy; NULL when out of memory. */
struct policy *policy_new(void);
void policy_free(struct policy *p);	/* NULL is ignored */

/*
 * Add a rule. pattern is a host name, or "*." (exactly one label below the name) or "**."
 * (one or more labels below it) followed by one; neither wildcard matches the name itself
 * (case-insensitive, a trailing dot allowed). src and line say where it was written
 * (line 0: an environment variable named src). Copies everything. Refuses invalid names,
 * non-ASCII names, IP addresses, wildcards over every name or over an ICANN public
 * suffix ("*", "**.com", "*.co.uk": policy_suffix_kind; a private-section suffix is
 * accepted, the caller warns), and an allow rule that disagrees on 'private' with an
 * earlier one for the same pattern and port (rules with RULE_ROUTE are not compared: see policy_finish). A RULE_ROUTE rule is
 * matched before the other rules of its name, so on its port it decides. flags with
 * RULE_DENY: a deny rule (never with RULE_PRIVATE or RULE_ROUTE); a deny for every port
 * is one range 1-65535. 0 or -1 with err.
 */
int policy_add(struct policy *p, const char *pattern, const struct portrange *ports,
    size_t nports, unsigned flags, const char *src, unsigned line, char *err, size_t errlen);

/* "FILE:LINE", or the variable's name: where r was written. Returns buf. */
const char *rule_origin(const struct rule *r, char *buf, size_t len);

/* name must be normalised (lowercase, no trailing dot: dname_normalize). The rule that
 * decides for name without a port (the resolver): a deny rule for every port that
 * matches it (flags has RULE_DENY: the name is refused), else the most specific allow
 * rule whose pattern matches name (any port): the exact rule first, then wildcards from
 * the longest suffix, at one suffix "*." before "**."; NULL when none (or len is 0 or
 * over DNAME_MAX). A deny for some ports only never decides here. Cost grows with the
 * labels of name, never with the number of rules. */
const struct rule *policy_match_name(const struct policy *p, const char *name, size_t len);

/* The rule that decides for (name, port): a deny rule that matches name and includes
 * port (RULE_DENY: refused, whatever the allow rules say), else as policy_match_name
 * among the allow rules that include port; NULL when none. */
const struct rule *policy_match(const struct policy *p, const char *name, size_t len,
    uint16_t port);

/* 1 if r is for every port: one range 1-65535 (a deny written without ports). */
int rule_all_ports(const struct rule *r);

/* 1 if port is in one of r's ranges. */
int rule_has_port(const struct rule *r, uint16_t port);

/* Every rule in the order added, for printing and for the forwarder's port list
 * (policy_rule: NULL for i >= policy_count). */
size_t policy_count(const struct policy *p);
const struct rule *policy_rule(const struct policy *p, size_t i);

/* The first allow rule (never a deny) for exactly pattern (normalised as policy_add
 * does; "*.x" finds only "*.x" rules), without any of the flags in `without`, that shares
 * a port with ports; *port (if not NULL) is that port. NULL when none or when pattern is
 * invalid. */
const struct rule *policy_find(const struct policy *p, const char *pattern,
    const struct portrange *ports, size_t nports, unsigned without, unsigned *port);

/* Call once after the last policy_add. A route's rule (RULE_ROUTE) without 'private'
 * takes it from an allow rule of the same name that covers its port, and is marked
 * RULE_INHERITED; a route's own 'private' applies to its port whatever the allow rules
 * say. So `allow smtp.gmail.com 465,587 private` with `route 587 smtp.gmail.com:587`
 * means private on 587 too, in any order of lines. */
void policy_finish(struct policy *p);

/* Ports as written: "465,587,8000-8099" (cut short when len is too small). */
void rule_format_ports(const struct rule *r, char *buf, size_t len);

/* Parse "465,587,8000-8099" into a new array (caller frees). 0 or -1 with err. */
int policy_parse_ports(const char *s, struct portrange **out, size_t *n, char *err,
    size_t errlen);

#endif
