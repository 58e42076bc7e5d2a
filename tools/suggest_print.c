/* suggest_print.c: the suggestion written as a configuration file, with the diff against -c as comments. */
#include "suggest_print.h"

#include <string.h>

#include "audit_time.h"
#include "policy.h"

/* Clients listed in a comment at most; more are counted. */
#define CLIENTS_SHOWN 4

static void
put_clients(FILE *f, const struct strset *clients)
{
	for (size_t i = 0; i < clients->n && i < CLIENTS_SHOWN; i++)
		fprintf(f, "%s%s", i ? " " : "", clients->v[i]);
	if (clients->n > CLIENTS_SHOWN)
		fprintf(f, " (+%zu more)", clients->n - CLIENTS_SHOWN);
}

/* "3 conns, 1 lookup" */
static void
put_counts(FILE *f, uint64_t conns, uint64_t lookups)
{
	const char *sep = "";

	if (conns) {
		fprintf(f, "%llu conn%s", (unsigned long long)conns, conns == 1 ? "" : "s");
		sep = ", ";
	}
	if (lookups)
		fprintf(f, "%s%llu lookup%s", sep, (unsigned long long)lookups,
		    lookups == 1 ? "" : "s");
}

/* 1 when name is one the line's pattern stands for. */
static int
line_covers(const struct suggestion *l, const struct obs_name *n)
{
	const char *parent = l->pattern;
	size_t ln = strlen(n->name), lp;

	if (parent[0] != '*')
		return strcmp(parent, n->name) == 0;
	if (!n->covered)
		return 0;
	parent += parent[1] == '*' ? 3 : 2;
	lp = strlen(parent);
	return ln > lp + 1 && n->name[ln - lp - 1] == '.' && strcmp(n->name + ln - lp, parent) == 0;
}

/* With a configuration: 1 when a name the line covers is not allowed (on one of its
 * ports, or looked up) by it today. */
static int
line_is_new(struct current *cur, const struct obs_policy *p, const struct suggestion *l)
{
	int fresh = 0;

	for (size_t i = 0; i < p->nnames; i++) {
		const struct obs_name *n = &p->names[i];

		if (!line_covers(l, n))
			continue;
		if (n->ports.n == 0 && current_allows(cur, p->name, n->name, 0) == NULL)
			fresh = 1;
		for (size_t k = 0; k < n->ports.n; k++)
			if (current_allows(cur, p->name, n->name, n->ports.v[k]) == NULL)
				fresh = 1;
	}
	return fresh;
}

/* "policy NAME: " (a route line's clients, a diff line's policy); "" for the global
 * rules. */
static const char *
policy_tag(const struct obs_policy *p)
{
	static char buf[80];

	if (strcmp(p->name, "default") == 0)
		return "";
	snprintf(buf, sizeof(buf), "policy %s: ", p->name);
	return buf;
}

static void
put_line(FILE *f, struct current *cur, const struct obs_policy *p, const struct suggestion *l,
    struct strset *added)
{
	char ports[512], text[800];

	portset_format(&l->ports, ports, sizeof(ports));
	snprintf(text, sizeof(text), "allow %s %s%s", l->pattern, ports,
	    l->special ? " private" : "");
	if (l->special != NULL)
		fprintf(f, "# review: %s needed a special-purpose address: %s\n", l->pattern,
		    l->special);
	if (l->lookup_only)
		fprintf(f, "# review: %s was looked up, no connection seen: port %s assumed\n",
		    l->pattern, ports);
	for (size_t i = 0; i < l->routes.n; i++)
		fprintf(f, "# port %u: routed here while this is the port's only name\n",
		    l->routes.v[i]);
	fprintf(f, "%s  # ", text);
	if (l->names > 1)
		fprintf(f, "%llu names, ", (unsigned long long)l->names);
	put_counts(f, l->conns, l->lookups);
	fprintf(f, "; ");
	put_clients(f, &l->clients);
	fputc('\n', f);
	if (cur != NULL && line_is_new(cur, p, l)) {
		char tagged[900];

		snprintf(tagged, sizeof(tagged), "%s%s", policy_tag(p), text);
		strset_add(added, tagged);
	}
}

/* Routes are gateway-wide (a `route` inside a policy section is an error): every
 * policy's go in the global section, each saying whose clients needed it. */
static void
put_routes(FILE *f, struct current *cur, const struct suggest *s, struct strset *added)
{
	struct portset routed = { 0 };

	for (size_t i = 0; i < s->npol; i++) {
		const struct obs_policy *p = &s->pol[i];

		for (size_t k = 0; k < p->nports; k++) {
			const struct obs_port *op = &p->ports[k];
			char text[400];

			if (op->conns == 0 || op->by_allow)
				continue;	/* by_allow: the policy's allow line routes it */
			if (op->named || op->target == NULL) {
				fprintf(f, "# port %u: %llu conn%s with no name %s: no route; %s", op->port,
				    (unsigned long long)op->conns, op->conns == 1 ? "" : "s", op->named ?
				    "beside named ones" : "and no lookup before", policy_tag(p));
				put_clients(f, &op->clients);
				fputc('\n', f);
				continue;
			}
			snprintf(text, sizeof(text), "route %u %s:%u%s", op->port, op->target,
			    op->target_port, op->special ? " private" : "");
			if (portset_has(&routed, op->port)) {	/* one route per port */
				fprintf(f, "# review: port %u also needed %s:%u (%llu conn%s; %s", op->port,
				    op->target, op->target_port, (unsigned long long)op->conns,
				    op->conns == 1 ? "" : "s", policy_tag(p));
				put_clients(f, &op->clients);
				fprintf(f, "), and a port has one route: give one of them another port\n");
				continue;
			}
			(void)portset_add(&routed, op->port);	/* out of memory: unflagged */
			/* no allow line can route a port with two names; a route refuses the other */
			if (op->shared != NULL) {
				fprintf(f, "# review: port %u also carries %s, which route %u refuses; ",
				    op->port, op->shared, op->port);
				if (strcmp(p->name, "default") != 0)
					fprintf(f, "the route is also gateway-wide: every client may reach %s, not "
					    "only policy %s's; ", op->target, p->name);
				fprintf(f, "better one name per port\n");
			}
			if (op->special != NULL)
				fprintf(f, "# review: route %u needed a special-purpose address: %s\n",
				    op->port, op->special);
			fprintf(f, "%s  # %llu conn%s, %s; %s", text, (unsigned long long)op->conns,
			    op->conns == 1 ? "" : "s", op->from_recent ? "no name, after a lookup" :
			    "routed", policy_tag(p));
			put_clients(f, &op->clients);
			fputc('\n', f);
			if (cur != NULL && !current_route(cur, op->port, op->target,
			    op->target_port))
				strset_add(added, text);
		}
	}
	portset_free(&routed);
}

static void
put_policy(FILE *f, struct current *cur, const struct obs_policy *p, struct strset *added)
{
	const char *specs = cur != NULL ? current_specs(cur, p->name) : NULL;

	if (strcmp(p->name, "default") == 0) {
		fprintf(f, "\n# ---- global rules (every client); clients in no policy: ");
		put_clients(f, &p->clients);
		fputc('\n', f);
	} else {
		fprintf(f, "\n# ---- policy %s: %s\npolicy %s ", p->name, specs != NULL ?
		    "its clients as the configuration has them" : "the clients seen", p->name);
		if (specs != NULL)
			fputs(specs, f);
		else
			for (size_t i = 0; i < p->clients.n; i++)
				fprintf(f, "%s%s", i ? " " : "", p->clients.v[i]);
		fputc('\n', f);
	}
	for (size_t i = 0; i < p->nlines; i++)
		put_line(f, cur, p, &p->lines[i], added);
	for (size_t i = 0; i < p->denied.n; i++)
		fprintf(f, "# left out, refused by a deny rule: %s\n", p->denied.v[i]);
}

/* The rules of policy idx nothing in the window used, as diff comments; how many. */
static size_t
put_unused_rules(FILE *f, const struct current *cur, size_t idx)
{
	const struct policyset *s = cur->c->policies;
	const struct policy *p = policyset_policy(s, idx);
	char where[300], ports[512], tag[80] = "";
	size_t n = policy_count(p), unused = 0;

	if (idx > 0)
		snprintf(tag, sizeof(tag), "policy %s: ", policyset_name(s, idx));
	for (size_t i = 0; i < n; i++) {
		const struct rule *r = policy_rule(p, i);

		if (cur->used[cur->base[idx] + i] || (r->flags & RULE_ROUTE))
			continue;
		rule_format_ports(r, ports, sizeof(ports));
		if ((r->flags & RULE_DENY) && strcmp(ports, "1-65535") == 0)
			ports[0] = '\0';	/* a deny for every port, as written */
		fprintf(f, "# unused in the window: %s%s %s%s%s%s (%s)\n", tag,
		    r->flags & RULE_DENY ? "deny" : "allow", r->pattern, ports[0] ? " " : "", ports,
		    r->flags & RULE_PRIVATE ? " private" : "", rule_origin(r, where, sizeof(where)));
		unused++;
	}
	return unused;
}

/* The diff against the configuration, as comments: what the suggestion adds, and the
 * rules (of the global rules and of each policy) and routes nothing in the window used. */
static void
put_diff(FILE *f, const struct current *cur, const struct strset *added)
{
	const struct config *c = cur->c;
	size_t unused = 0;

	fprintf(f, "\n# ---- against %s\n", c->path != NULL ? c->path : "the environment");
	for (size_t i = 0; i < added->n; i++)
		fprintf(f, "# to add: %s\n", added->v[i]);
	if (added->n == 0)
		fprintf(f, "# to add: nothing (it allows everything seen)\n");
	for (size_t idx = 0; idx < cur->npol; idx++)
		unused += put_unused_rules(f, cur, idx);
	for (size_t i = 0; i < c->nroutes; i++)
		if (!cur->route_used[i]) {
			fprintf(f, "# unused in the window: route %u %s:%u (%s)\n", c->routes[i].port,
			    c->routes[i].name, c->routes[i].target_port, c->routes[i].origin);
			unused++;
		}
	if (unused == 0)
		fprintf(f, "# unused in the window: none\n");
}

int
suggest_print(const struct suggest *s, struct current *cur, FILE *f)
{
	struct strset added = { 0 };
	char a[40], b[40];
	size_t i;

	fprintf(f, "# gatehouse-audit suggest: %llu records", (unsigned long long)s->records);
	if (s->records)
		fprintf(f, " from %s to %s", audit_time_format(s->first, a, sizeof(a)),
		    audit_time_format(s->last, b, sizeof(b)));
	fprintf(f, "\n# siblings fold from %u names on. Each line lets what was seen pass:\n"
	    "# review them before loading, above all those marked \"review\".\n", s->threshold);
	for (i = 0; i < s->npol && strcmp(s->pol[i].name, "default") != 0; i++)
		;
	fprintf(f, "%s", i == s->npol ? "\n# ---- global rules\n" : "");
	if (i < s->npol)
		put_policy(f, cur, &s->pol[i], &added);
	put_routes(f, cur, s, &added);
	for (size_t k = 0; k < s->npol; k++)
		if (k != i)
			put_policy(f, cur, &s->pol[k], &added);
	if (cur != NULL)
		put_diff(f, cur, &added);
	strset_free(&added);
	return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}
