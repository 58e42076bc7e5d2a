/* config_print.c: the effective configuration, as --check prints it. */
#include "config_parser.h"

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

static void
print_rules(const struct config *c, FILE *f)
{
	char where[300];
	size_t i;

	for (i = 0; i < policy_count(c->policy); i++) {
		const struct rule *r = policy_rule(c->policy, i);

		if (!(r->flags & RULE_ROUTE))
			print_allow(r, f);
	}
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

void
config_print(const struct config *c, FILE *f)
{
	print_rules(c, f);
	config_ports_print(c, f);
	config_settings_print(c, f);
}
