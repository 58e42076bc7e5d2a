/* policy.h: the allowlist: rules of (name pattern, ports, flags) and the matcher. */
#ifndef GATEHOUSE_POLICY_H
#define GATEHOUSE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#define RULE_PRIVATE 0x01	/* may dial special-purpose addresses */
#define RULE_ROUTE   0x02	/* implied by a `route` line */
#define RULE_INHERITED 0x04	/* RULE_ROUTE whose RULE_PRIVATE came from an allow rule */

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
	uint8_t wildcard;	/* pattern starts with "*." */
	uint16_t keylen;	/* strlen of the hashed key (the name, or the suffix) */
	char pattern[];		/* normal form: "smtp.gmail.com" or "*.github.com" */
};

/* Immutable once built; the owner (struct config) frees it. Lookups never allocate. */
struct policy;

/* An empty policy; NULL when out of memory. */
struct policy *policy_new(void);
void policy_free(struct policy *p);	/* NULL is ignored */

/*
 * Add a rule. pattern is a host name or "*." followed by one (case-insensitive, a
 * trailing dot allowed). src and line say where it was written (line 0: an environment
 * variable named src). Copies everything. Refuses invalid names, non-ASCII names, IP
 * addresses, over-broad wildcards ("*", "*.com", "*.co.uk"), and a rule that disagrees
 * on 'private' with an earlier one for the same pattern and port (rules with RULE_ROUTE
 * are not compared: see policy_finish). A RULE_ROUTE rule is matched before the other
 * rules of its name, so on its port it decides. 0 or -1 with err.
 */
int policy_add(struct policy *p, const char *pattern, const struct portrange *ports,
    size_t nports, unsigned flags, const char *src, unsigned line, char *err, size_t errlen);

/* "FILE:LINE", or the variable's name: where r was written. Returns buf. */
const char *rule_origin(const struct rule *r, char *buf, size_t len);

/* name must be normalised (lowercase, no trailing dot: dname_normalize). The most
 * specific rule whose pattern matches name: the exact rule first, then wildcards from
 * the longest suffix; NULL when none (or len is 0 or over DNAME_MAX). Cost grows with
 * the labels of name, never with the number of rules. */
const struct rule *policy_match_name(const struct policy *p, const char *name, size_t len);

/* As policy_match_name, but only rules that include port. */
const struct rule *policy_match(const struct policy *p, const char *name, size_t len,
    uint16_t port);

/* 1 if port is in one of r's ranges. */
int rule_has_port(const struct rule *r, uint16_t port);

/* Every rule in the order added, for printing and for the forwarder's port list
 * (policy_rule: NULL for i >= policy_count). */
size_t policy_count(const struct policy *p);
const struct rule *policy_rule(const struct policy *p, size_t i);

/* The first rule for exactly pattern (normalised as policy_add does; "*.x" finds only
 * "*.x" rules), without any of the flags in `without`, that shares a port with ports;
 * *port (if not NULL) is that port. NULL when none or when pattern is invalid. */
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
