/* suggest_build.c: each policy's observations turned into allow lines and route proposals. */
#include <stdlib.h>
#include <string.h>

#include "collapse.h"
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

/* 1 when name is where a route of p's sends connections (its `route` line allows it). */
static int
is_route_target(const struct obs_policy *p, const char *name)
{
	for (size_t i = 0; i < p->nports; i++)
		if (!p->ports[i].named && p->ports[i].target != NULL &&
		    strcmp(p->ports[i].target, name) == 0)
			return 1;
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

	for (size_t i = 0; i < p->nports; i++)
		if (!p->ports[i].named && choose_route(&p->ports[i]) == -1)
			return -1;
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
suggest_build(struct suggest *s)
{
	for (size_t i = 0; i < s->npol; i++)
		if (build_policy(&s->pol[i], s->threshold) == -1)
			return -1;
	return 0;
}
