/* suggest_build.c: each policy's observations turned into allow lines and route proposals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collapse.h"
#include "config.h"
#include "dname.h"
#include "policy.h"
#include "suggest.h"

/* The route target for a port reached with no name: a route already seen there, else
 * the name its clients looked up most just before (ties: the first seen). */
static int
choose_route(struct obs_port *op)
{
	size_t best = 0;

	if (op->target != NULL || op->votes.n == 0)
		return 0;
	for (size_t k = 1; k < op->votes.n; k++)
		if (op->vote_n[k] > op->vote_n[best])
			best = k;
	if ((op->target = strdup(op->votes.v[best])) == NULL)
		return -1;
	op->target_port = op->port;
	op->from_recent = 1;
	return 0;
}

/* 1 when name is where a `route` line of p's sends connections (the line allows it). */
static int
is_route_target(const struct obs_policy *p, const char *name)
{
	for (size_t i = 0; i < p->nports; i++)
		if (!p->ports[i].named && !p->ports[i].by_allow && p->ports[i].target != NULL &&
		    strcmp(p->ports[i].target, name) == 0)
			return 1;
	return 0;
}

/* A name other than target on port: one a connection named there, another no-name
 * port's target (in any policy), or an allow rule of c's (any policy). Its text, as
 * "NAME" or "NAME (ORIGIN)", goes into other; 1 when there is one. */
static int
port_shared(const struct suggest *s, const struct config *c, uint16_t port,
    const char *target, char *other, size_t len)
{
	for (size_t i = 0; i < s->npol; i++) {
		const struct obs_policy *q = &s->pol[i];

		for (size_t k = 0; k < q->nnames; k++)
			if (strcmp(q->names[k].name, target) != 0 &&
			    portset_has(&q->names[k].ports, port)) {
				snprintf(other, len, "%s", q->names[k].name);
				return 1;
			}
		for (size_t k = 0; k < q->nports; k++)
			if (q->ports[k].port == port && q->ports[k].target != NULL &&
			    strcmp(q->ports[k].target, target) != 0) {
				snprintf(other, len, "%s", q->ports[k].target);
				return 1;
			}
	}
	for (size_t i = 0; c != NULL && i < policyset_count(c->policies); i++) {
		const struct policy *pol = policyset_policy(c->policies, i);

		for (size_t k = 0; k < policy_count(pol); k++) {
			const struct rule *r = policy_rule(pol, k);
			char where[300];

			if ((r->flags & (RULE_DENY | RULE_ROUTE)) || !rule_has_port(r, port) ||
			    strcmp(r->pattern, target) == 0)
				continue;
			snprintf(other, len, "%s (%s)", r->pattern, rule_origin(r, where, sizeof(where)));
			return 1;
		}
	}
	return 0;
}

/* The allow line routes op (see suggest_build): its target becomes a name of p's,
 * reached on the port, never folded into a wildcard (that would end the route). */
static int
route_by_allow(struct obs_policy *p, struct obs_port *op)
{
	struct obs_name *n = suggest_name(p, op->target);

	if (n == NULL)
		return -1;
	op->by_allow = 1;
	n->conns += op->conns;
	for (size_t k = 0; k < op->clients.n; k++)
		if (strset_add(&n->clients, op->clients.v[k]) == -1)
			return -1;
	if (op->special != NULL && n->special == NULL && (n->special = strdup(op->special)) == NULL)
		return -1;
	return portset_add(&n->ports, op->port) == -1 ||
	    portset_add(&n->routes, op->port) == -1 ? -1 : 0;
}

/* Where each no-name port's target goes: an allow line of the policy, or a route. */
static int
place_routes(struct suggest *s, const struct config *c)
{
	for (size_t i = 0; i < s->npol; i++) {
		struct obs_policy *p = &s->pol[i];

		for (size_t k = 0; k < p->nports; k++) {
			struct obs_port *op = &p->ports[k];
			char other[DNAME_MAX + 320];

			if (op->named || op->target == NULL || op->target_port != op->port ||
			    (c != NULL && config_route(c, op->port) != NULL))
				continue;	/* no target, another port, or c's own route */
			if (!port_shared(s, c, op->port, op->target, other, sizeof(other))) {
				if (route_by_allow(p, op) == -1)
					return -1;
			} else if ((op->shared = strdup(other)) == NULL)
				return -1;
		}
	}
	return 0;
}

static int
exact_line(struct obs_policy *p, const struct obs_name *n)
{
	struct suggestion *l = suggest_line(p, n->name);

	if (l == NULL)
		return -1;
	l->names = 1;
	l->conns = n->conns;
	l->lookups = n->lookups;
	if (n->special != NULL && (l->special = strdup(n->special)) == NULL)
		return -1;
	if (portset_merge(&l->routes, &n->routes) == -1)
		return -1;
	for (size_t k = 0; k < n->clients.n; k++)
		if (strset_add(&l->clients, n->clients.v[k]) == -1)
			return -1;
	return portset_merge(&l->ports, &n->ports);
}

static int
cmp_lines(const void *pa, const void *pb)
{
	const struct suggestion *a = pa, *b = pb;
	const char *sa = a->pattern, *sb = b->pattern;

	/* by the name the pattern is about, so a wildcard sits beside its siblings */
	while (*sa == '*' || *sa == '.')
		sa++;
	while (*sb == '*' || *sb == '.')
		sb++;
	return strcmp(sa, sb) != 0 ? strcmp(sa, sb) : strcmp(a->pattern, b->pattern);
}

/* The port most of p's names were reached on (the lowest of a tie), or
 * SUGGEST_LOOKUP_PORT when none was: the port a name only looked up gets. */
static uint16_t
busiest_port(const struct obs_policy *p)
{
	uint16_t best = SUGGEST_LOOKUP_PORT;
	size_t best_n = 0;

	for (size_t i = 0; i < p->nports; i++) {
		uint16_t port = p->ports[i].port;
		size_t n = 0;

		for (size_t k = 0; k < p->nnames; k++)
			for (size_t j = 0; j < p->names[k].ports.n; j++)
				n += p->names[k].ports.v[j] == port;
		if (n > best_n || (n == best_n && n > 0 && port < best)) {
			best = port;
			best_n = n;
		}
	}
	return best;
}

static int
build_policy(struct obs_policy *p, unsigned threshold)
{
	uint16_t guess = busiest_port(p);

	if (collapse_names(p, threshold) == -1)
		return -1;
	for (size_t i = 0; i < p->nnames; i++) {
		const struct obs_name *n = &p->names[i];

		if (n->covered || (n->ports.n == 0 && is_route_target(p, n->name)))
			continue;
		if (exact_line(p, n) == -1)
			return -1;
	}
	for (size_t i = 0; i < p->nlines; i++) {
		struct suggestion *l = &p->lines[i];

		if (l->ports.n == 0) {	/* looked up only: a port must be written */
			l->lookup_only = 1;
			if (portset_add(&l->ports, guess) == -1)
				return -1;
		}
	}
	if (p->nlines > 1)
		qsort(p->lines, p->nlines, sizeof(*p->lines), cmp_lines);
	return 0;
}

int
suggest_build(struct suggest *s, const struct config *c)
{
	for (size_t i = 0; i < s->npol; i++)
		for (size_t k = 0; k < s->pol[i].nports; k++)
			if (!s->pol[i].ports[k].named && choose_route(&s->pol[i].ports[k]) == -1)
				return -1;
	if (place_routes(s, c) == -1)
		return -1;
	for (size_t i = 0; i < s->npol; i++)
		if (build_policy(&s->pol[i], s->threshold) == -1)
			return -1;
	return 0;
}
