/* current.h: the configuration in force (-c), read with the daemons' own reader, for suggest's diff. */
#ifndef GATEHOUSE_CURRENT_H
#define GATEHOUSE_CURRENT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct current {
	struct config *c;
	size_t npol;		/* policies, the global rules (index 0) included */
	size_t *base;		/* per policy: where its rules start in used */
	unsigned char *used;	/* per rule of every policy (base[idx] + policy_rule index):
				 * matched in the window */
	unsigned char *route_used;	/* per route */
	char **specs;		/* per policy: its client specs as written; [0] NULL */
};

/* Read path (and the GATEHOUSE_* entries of env, as the daemons do) with config_load.
 * 0, or -1 with err ("FILE:LINE: ..."). */
int current_load(struct current *cur, const char *path, char *const *env, char *err,
    size_t errlen);
void current_free(struct current *cur);

/* The index in cur->c->policies of the named policy; 0 (the global rules alone, as the
 * daemons give a client in no policy) when the configuration has no such policy. */
size_t current_policy(const struct current *cur, const char *policy);
/* The policy's client specs as the configuration writes them ("172.29.0.10 via
 * 10.0.0.1"), or NULL when the configuration has no such policy (or for "default"). */
const char *current_specs(const struct current *cur, const char *policy);

/* The rule that allows name on port for a client of policy (port 0: any port, as the
 * resolver asks), from the global rules and the policy's as the daemons combine them
 * (policyset_check), marked used; NULL when none allows or a deny rule refuses (the
 * deny rule is marked used). */
const struct rule *current_allows(struct current *cur, const char *policy, const char *name,
    uint16_t port);
/* 1 when the configuration sends connections on port to target:target_port: a route
 * (marked used), or an implicit route (the port's only name, an exact rule: the rule
 * marked used); else 0. */
int current_route(struct current *cur, uint16_t port, const char *target,
    uint16_t target_port);

#endif
