/* dest.h: where a connection may go: its allowlist rule and the addresses it may dial. */
#ifndef GATEHOUSE_DEST_H
#define GATEHOUSE_DEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cache.h"
#include "config.h"
#include "fwd.h"

/* The rule of cfg's allowlist that decides (name, port) for a client in policy (an index
 * in cfg->policies: the global rules and that policy's): one that allows it, a deny rule
 * (RULE_DENY, from either) that refuses it whatever the allow rules say, or NULL when
 * none allows it. The rule points into cfg->policies: valid while the caller holds cfg. */
const struct rule *dest_rule(const struct config *cfg, size_t policy, const char *name,
    uint16_t port);

/* The rule that routes port for a client in policy: a `route` (its rule, NULL when the
 * allowlist does not allow the route's target on port), or the rule that allows the one
 * exact name alone on the port (an implicit route; NULL when the client's rules do not
 * allow it there). When port is routed either way, *name is the target's name (in cfg) and
 * *target_port its port, even when NULL is returned; otherwise both are untouched and
 * NULL is returned. */
const struct rule *dest_route(const struct config *cfg, size_t policy, uint16_t port,
    const char **name, uint16_t *target_port);

/* The addresses of res a connection may dial on port, into out (room for DIAL_MAX): the
 * first DIAL_MAX that pass, unmapped (::ffff:a.b.c.d as a.b.c.d); the count is returned.
 * Refused whatever the rule: addresses that are never a destination (0.0.0.0, ::,
 * broadcast, multicast) and any that would land on one of f's own listeners (a loop).
 * Refused unless priv (the rule says `private`): special-purpose addresses and every
 * address the gateway keeps for itself (asked of the kernel's routes, at most
 * DEST_ROUTE_QUERIES times). why (whylen bytes) names the first refused address, or says
 * that none could be checked; it is "" when none was refused. */
#define DEST_ROUTE_QUERIES 64
size_t dest_filter(struct fwd *f, const struct cache_result *res, uint16_t port, int priv,
    struct sockaddr_storage *out, char *why, size_t whylen);

#endif
