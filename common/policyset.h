/* policyset.h: the global rules, the named policies, and which policy a client is in. */
#ifndef GATEHOUSE_POLICYSET_H
#define GATEHOUSE_POLICYSET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "policy.h"

/* Policy index 0 is the global rules alone: the policy of a client in no policy, named
 * POLICYSET_DEFAULT in audit lines and metrics. Named policies are 1..count-1. */
#define POLICYSET_DEFAULT "default"
#define POLICYSET_NAME_MAX 32		/* bytes of a policy's name */

enum policy_mode {
	MODE_UNSET,			/* a policy without a `mode` line: the gateway's */
	MODE_ENFORCE,
	MODE_REPORT
};

/* A client spec as written: a source prefix, or `via ADDR` (the gateway address the
 * client's traffic arrives on). */
struct policy_spec {
	int family;			/* AF_INET or AF_INET6 */
	uint8_t addr[16];		/* masked to len bits (4 bytes used for AF_INET) */
	uint8_t len;			/* prefix length (the full length for via) */
	uint8_t via;
	uint32_t policy;		/* its policy's index */
	const char *origin;		/* "FILE:LINE" or a variable's name (the set's copy) */
};

/* Clear the bits of addr (4 bytes for AF_INET, else 16) past the first len. */
void policyset_mask(uint8_t *addr, int family, unsigned len);

/* Immutable once policyset_finish ran; lookups never allocate. The owner (struct config)
 * frees it. */
struct policyset;

/* A set whose index 0 is global (borrowed: freed by the caller, after the set). NULL when
 * out of memory. */
struct policyset *policyset_new(struct policy *global);
void policyset_free(struct policyset *s);	/* NULL is ignored */

/* 1 if name is a valid policy name: [a-z0-9][a-z0-9-]*, at most POLICYSET_NAME_MAX bytes,
 * not POLICYSET_DEFAULT. */
int policyset_name_ok(const char *name);

/* Add an empty policy called name (policyset_name_ok, not yet in s); its index, or -1
 * with err. */
int policyset_add(struct policyset *s, const char *name, char *err, size_t errlen);

/* The policy named name, or -1. */
int policyset_find(const struct policyset *s, const char *name);

/* Rules in every policy, the global ones included. */
size_t policyset_rule_count(const struct policyset *s);

/* Policies, the default (0) included. */
size_t policyset_count(const struct policyset *s);
const char *policyset_name(const struct policyset *s, size_t idx);
struct policy *policyset_policy(const struct policyset *s, size_t idx);

/* A policy's own `mode` line (MODE_UNSET: none), and the mode of the whole gateway
 * (MODE_ENFORCE unless set). */
void policyset_set_mode(struct policyset *s, size_t idx, enum policy_mode m);
enum policy_mode policyset_own_mode(const struct policyset *s, size_t idx);
void policyset_set_default_mode(struct policyset *s, enum policy_mode m);
/* The mode in force for policy idx: its own, else the gateway's. */
enum policy_mode policyset_mode(const struct policyset *s, size_t idx);

/* Add a client spec (sp->addr need not be masked; the set masks it) to policy
 * sp->policy. -1 when the same prefix, or the same via address, is already in a policy:
 * *clash is then that spec. */
int policyset_add_spec(struct policyset *s, const struct policy_spec *sp,
    const struct policy_spec **clash);

/* The specs in the order they are tried: source prefixes (IPv4, then IPv6) from the
 * longest, then via addresses, in the order written. */
size_t policyset_spec_count(const struct policyset *s);
const struct policy_spec *policyset_spec(const struct policyset *s, size_t i);

/* sp as a policy line writes it ("10.0.0.0/8", "172.29.0.10", "via 172.30.0.1") into buf
 * (truncated to len); buf. */
char *policyset_spec_format(const struct policy_spec *sp, char *buf, size_t len);

/* Call once after the last policyset_add_spec (builds the lookup tables). 0 or -1 (out
 * of memory). */
int policyset_finish(struct policyset *s);

/* 1 if some spec is `via`: callers skip finding the local address when none is. */
int policyset_has_via(const struct policyset *s);

/* The policy of a client whose traffic comes from src and arrives on local (either may
 * be NULL; IPv4-mapped IPv6 addresses count as IPv4): the longest source prefix that
 * holds src, else the via spec of local, else 0. Cost: one hash probe per prefix length
 * in use and one for via, never a walk over policies. */
size_t policyset_select(const struct policyset *s, const struct sockaddr *src,
    const struct sockaddr *local);

/*
 * The rule that decides name (normalised, as policy_match_name wants) for policy idx,
 * from the global rules and the policy's together: port 0 asks about the name alone (the
 * resolver), any other port about (name, port). The more specific of the two matches
 * wins (the policy's at equal specificity); NULL when neither allows. Points into s.
 */
const struct rule *policyset_check(const struct policyset *s, size_t idx, const char *name,
    size_t len, uint16_t port);

#endif
