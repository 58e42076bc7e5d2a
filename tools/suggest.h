/* suggest.h: what each policy's clients were seen to need, and the allowlist lines that let it pass. */
#ifndef GATEHOUSE_SUGGEST_H
#define GATEHOUSE_SUGGEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit_line.h"

/* Siblings below one parent collapse into a wildcard from this many names on. */
#define SUGGEST_THRESHOLD 5
/* The port a name only looked up (no connection seen) is allowed on when the policy's
 * names were reached on none (else on the port most of them were reached on). */
#define SUGGEST_LOOKUP_PORT 443

/* A set of strings in the order first added (client addresses). */
struct strset {
	char **v;
	size_t n, cap;
};

/* A sorted set of ports. */
struct portset {
	uint16_t *v;
	size_t n, cap;
};

/* One name the policy's clients used (a lookup, a connection). */
struct obs_name {
	char *name;		/* normalised */
	struct portset ports;	/* ports connected to, named (SNI, Host) */
	uint64_t conns, lookups;
	struct strset clients;
	char *special;		/* a special-purpose address it needed (for review), or NULL */
	int covered;		/* collapse.c: taken into a wildcard */
	struct portset routes;	/* ports its allow line routes, the port's only name
				 * (suggest_build); such a name is never folded */
};

/* A port connections reached without a name, and where a route would send them. */
struct obs_port {
	uint16_t port;
	uint64_t conns;		/* no-name connections */
	struct strset clients;
	char *target;		/* a `route` seen on it, or the name the clients looked up
				 * most just before (recent[0]); NULL when none */
	uint16_t target_port;
	int from_recent;	/* target came from `recent`, not from an existing route */
	int named;		/* some connection on this port named a host */
	struct strset votes;	/* recent[0] names, and their counts in vote_n */
	uint64_t *vote_n;
	char *special;		/* the route needed a special-purpose address, or NULL */
	int by_allow;		/* suggest_build: the target's allow line in this policy routes
				 * the port (an implicit route), so no `route` line */
	char *shared;		/* suggest_build: why a `route` line all the same (another name
				 * on the port), for the review comment; NULL when none */
};

/* One line of the suggestion (suggest_build). */
struct suggestion {
	char *pattern;		/* a name, "*.parent" or "**.parent" */
	struct portset ports;
	uint64_t conns, lookups, names;	/* names: how many observed names it covers */
	struct strset clients;
	char *special;		/* the first special-purpose address seen, or NULL */
	int lookup_only;	/* no connection seen: the port is a guess (suggest_build) */
	struct portset routes;	/* ports the line routes as their only name */
};

struct obs_policy {
	char *name;
	struct strset clients;
	struct strset denied;	/* "NAME (deny RULE)": refused by a deny rule, left out */
	struct obs_name *names;
	size_t nnames, capnames;
	struct obs_port *ports;
	size_t nports, capports;
	struct suggestion *lines;	/* suggest_build */
	size_t nlines, caplines;
};

struct suggest {
	struct obs_policy *pol;
	size_t npol, cap;
	unsigned threshold;	/* SUGGEST_THRESHOLD unless set */
	uint64_t records;	/* records taken */
	int64_t first, last;	/* their time span */
};

void suggest_init(struct suggest *s);
void suggest_free(struct suggest *s);
/* Take what rec shows a client needed. 0, or -1 when out of memory. Records that show
 * nothing to allow (invalid queries, malformed requests) are counted and ignored. */
int suggest_add(struct suggest *s, const struct audit_rec *rec);
/*
 * Turn each policy's observations into lines (names collapsed as collapse.h says).
 * A port reached with no name (server-first protocols, no SNI) needs a target. Where the
 * target is on the same port and is the only name there (across every policy seen, and
 * in c's rules when c is not NULL), it becomes an allow line of the policy whose clients
 * needed it: the forwarder routes a port with one exact name to it (an implicit route),
 * and checks the client's policy, so other clients stay refused there. A `route` line
 * is gateway-wide (every client may reach its target), so one is proposed only where
 * no allow line can do it: a route c already has, a target on another port, or a port
 * that carries other names too (marked for review). 0, or -1 when out of memory.
 */
struct config;
int suggest_build(struct suggest *s, const struct config *c);

/* The line of p for pattern, added (zeroed but its pattern) when p has none; NULL when
 * out of memory. A pointer into p->lines: valid until the next line is added. */
struct suggestion *suggest_line(struct obs_policy *p, const char *pattern);
/* The entry of p for the normalised name (added, zeroed, when p has none); NULL when out
 * of memory. A pointer into p->names: valid until the next name is added. */
struct obs_name *suggest_name(struct obs_policy *p, const char *name);

/* Helpers the other files share. 0, or -1 when out of memory. */
int strset_add(struct strset *set, const char *s);
int strset_has(const struct strset *set, const char *s);
void strset_free(struct strset *set);
int portset_add(struct portset *set, uint16_t port);
int portset_has(const struct portset *set, uint16_t port);
int portset_merge(struct portset *dst, const struct portset *src);
void portset_free(struct portset *set);
/* "443,465,8000-8002" into buf. */
void portset_format(const struct portset *set, char *buf, size_t len);

#endif
