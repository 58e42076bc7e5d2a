/* config_print.c: the effective configuration, as --check prints it. */
#include "config_parser.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* "allow NAME PORTS [private]\t# ORIGIN", or "deny NAME [PORTS]\t# ORIGIN" (no ports: a
 * deny for every port): the port list whole, however long (cut short only when out of
 * memory). */
static void
print_allow(const struct rule *r, FILE *f)
{
	char where[300], small[512], *ports = small;
	size_t need = (size_t)r->nports * sizeof("65535-65535,"), len = sizeof(small);

	if (need > len && (ports = malloc(need)) != NULL)
		len = need;
	else
		ports = small;
	rule_format_ports(r, ports, len);
	if (r->flags & RULE_DENY)
		fprintf(f, "deny %s%s%s\t# %s\n", r->pattern, rule_all_ports(r) ? "" : " ",
		    rule_all_ports(r) ? "" : ports, rule_origin(r, where, sizeof(where)));
	else
		fprintf(f, "allow %s %s%s\t# %s\n", r->pattern, ports,
		    (r->flags & RULE_PRIVATE) ? " private" : "", rule_origin(r, where, sizeof(where)));
	if (ports != small)
		free(ports);
}

/* The allow rules of p (a route's implied rule is printed as its route). */
static void
print_allows(const struct policy *p, FILE *f)
{
	size_t i;

	for (i = 0; i < policy_count(p); i++) {
		const struct rule *r = policy_rule(p, i);

		if (!(r->flags & RULE_ROUTE))
			print_allow(r, f);
	}
}

static void
print_rules(const struct config *c, FILE *f)
{
	char where[300];
	size_t i;

	print_allows(c->policy, f);
	for (i = 0; i < c->nroutes; i++) {
		const struct route *rt = &c->routes[i];
		const struct rule *r = policy_match(c->policy, rt->name, strlen(rt->name),
		    rt->port);
		struct portrange pr = { rt->port, rt->port };
		const struct rule *from = NULL;

		if (r != NULL && (r->flags & RULE_INHERITED))
			from = policy_find(c->policy, rt->name, &pr, 1, RULE_ROUTE, NULL);
		fprintf(f, "route %u %s:%u%s\t# %s%s%s\n", rt->port, rt->name, rt->target_port,
		    (rt->flags & RULE_PRIVATE) ? " private" : "", rt->origin,
		    from ? "; private from the allow rule at " : "",
		    from ? rule_origin(from, where, sizeof(where)) : "");
	}
}

/* " 10.0.0.0/8" or " via 172.30.0.1": a spec as written in a policy line. */
static void
print_spec(const struct policy_spec *sp, FILE *f)
{
	char a[INET6_ADDRSTRLEN + 8];

	fprintf(f, " %s", policyset_spec_format(sp, a, sizeof(a)));
}

/* The policy sections, after everything gateway-wide (a setting after a policy line would
 * belong to it), and the order in which a client's policy is chosen. */
static void
print_policies(const struct config *c, FILE *f)
{
	const struct policyset *s = c->policies;
	size_t i, j;

	if (policyset_count(s) < 2)
		return;
	fprintf(f, "# clients are matched in this order (the first spec that holds the "
	    "client decides; none: policy %s, the rules above only):\n", POLICYSET_DEFAULT);
	for (j = 0; j < policyset_spec_count(s); j++) {
		const struct policy_spec *sp = policyset_spec(s, j);

		fprintf(f, "#  ");
		print_spec(sp, f);
		fprintf(f, " -> %s\t(%s)\n", policyset_name(s, sp->policy), sp->origin);
	}
	for (i = 1; i < policyset_count(s); i++) {
		enum policy_mode m = policyset_own_mode(s, i);

		fprintf(f, "policy %s", policyset_name(s, i));
		for (j = 0; j < policyset_spec_count(s); j++)
			if (policyset_spec(s, j)->policy == i)
				print_spec(policyset_spec(s, j), f);
		fprintf(f, "\n");
		print_allows(policyset_policy(s, i), f);
		if (m != MODE_UNSET)
			fprintf(f, "mode %s\n", m == MODE_REPORT ? "report" : "enforce");
	}
}

void
config_print(const struct config *c, FILE *f)
{
	print_rules(c, f);
	config_zones_print(c, f);
	config_ports_print(c, f);
	config_settings_print(c, f);
	print_policies(c, f);
}
