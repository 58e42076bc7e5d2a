/* current.h: the configuration in force (-c), read with the daemons' own reader, for suggest's diff. */
#ifndef GATEHOUSE_CURRENT_H
#define GATEHOUSE_CURRENT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct current {
	struct config *c;
	unsigned char *used;	/* per rule (policy_rule index): matched in the window */
	unsigned char *route_used;	/* per route */
};

/* Read path (and the GATEHOUSE_* entries of env, as the daemons do) with config_load.
 * 0, or -1 with err ("FILE:LINE: ..."). */
int current_load(struct current *cur, const char *path, char *const *env, char *err,
    size_t errlen);
void current_free(struct current *cur);

/*
 * The rules that apply to a client of the named policy. The reader has no `policy`
 * sections yet (issue 13's policy helper adds them): every policy gets the global
 * rules. When it has them, this returns the global rules and the policy's, and
 * current_specs its client specs; nothing else here changes.
 */
const struct policy *current_rules(const struct current *cur, const char *policy);
/* The policy's client specs as the configuration writes them ("172.29.0.10 via
 * 10.0.0.1"), or NULL when the configuration has no such policy. */
const char *current_specs(const struct current *cur, const char *policy);

/* The rule that allows name on port for a client of policy (port 0: any port, as the
 * resolver asks), marked used; NULL when none. */
const struct rule *current_allows(struct current *cur, const char *policy, const char *name,
    uint16_t port);
/* 1 when the configuration sends connections on port to target:target_port: a route
 * (marked used), or an implicit route (the port's only name, an exact rule: the rule
 * marked used); else 0. */
int current_route(struct current *cur, uint16_t port, const char *target,
    uint16_t target_port);

#endif
