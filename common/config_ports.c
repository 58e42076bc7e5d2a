/* config_ports.c: the ports the forwarder listens on, and how each one learns the name. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

/* A port learns the name from a route, from an implicit route (one exact name alone on
 * the port), or from the client's SNI / Host. Computed once per configuration; both
 * daemons print it. The rules of every policy count together: a port stays implicitly
 * routed only when one exact name is on it across all policies (a client whose policy
 * does not allow that name is refused on it like any other). */

/* The ports seen while building: an open-addressing table that never holds more than
 * CONFIG_MAX_PORTS + 1 of them (the build stops there), so it stays small (a 65536-entry
 * array per build cost more than the parse itself for small configurations). */
#define SLOTS 2048			/* a power of two, over twice CONFIG_MAX_PORTS */

struct slot {
	const struct rule *first;	/* the first rule naming the port; NULL: empty */
	const struct policy *in;	/* the policy holding first */
	uint16_t port;
	uint8_t shared;			/* more than one name on it, or a wildcard */
};

/* "allow NAME PORTS" or "route PORT NAME" for messages about rule r. */
static void
rule_text(const struct rule *r, char *buf, size_t len)
{
	char ports[256];

	if (r->flags & RULE_ROUTE) {
		snprintf(buf, len, "route %u %s", r->ports[0].lo, r->pattern);
		return;
	}
	rule_format_ports(r, ports, sizeof(ports));
	snprintf(buf, len, "allow %s %s", r->pattern, ports);
}

/* The slot of port in t: where it is, or the empty slot where it goes. */
static struct slot *
port_slot(struct slot *t, unsigned port)
{
	size_t i;

	for (i = (port * 40503u) & (SLOTS - 1); t[i].first != NULL && t[i].port != port;
	    i = (i + 1) & (SLOTS - 1))
		;
	return &t[i];
}

static int
by_port(const void *a, const void *b)
{
	const struct config_port *x = a, *y = b;

	return (int)x->port - (int)y->port;
}

/* Note the ports of every rule of pol in t; *n counts them. 0, or -1 with err when a rule
 * takes the count past CONFIG_MAX_PORTS. */
static int
note_ports(struct slot *t, const struct policy *pol, size_t *n, char *err, size_t errlen)
{
	size_t i, j;
	unsigned p;

	for (i = 0; i < policy_count(pol); i++) {
		const struct rule *r = policy_rule(pol, i);

		if (r->flags & RULE_DENY)	/* a deny names no port to listen on */
			continue;
		for (j = 0; j < r->nports; j++) {
			for (p = r->ports[j].lo; p <= r->ports[j].hi; p++) {
				struct slot *sl = port_slot(t, p);

				if (sl->first != NULL) {
					if (r->wildcard || strcmp(sl->first->pattern, r->pattern) != 0)
						sl->shared = 1;
					continue;
				}
				if (++*n > CONFIG_MAX_PORTS) {
					char where[300], what[512];

					rule_text(r, what, sizeof(what));
					snprintf(err, errlen, "%s: %s: with this rule the allowlist names more "
					    "than %d ports, the most the forwarder listens on: narrow the port "
					    "ranges", rule_origin(r, where, sizeof(where)), what,
					    CONFIG_MAX_PORTS);
					return -1;
				}
				sl->first = r;
				sl->in = pol;
				sl->port = (uint16_t)p;
				sl->shared = r->wildcard;
			}
		}
	}
	return 0;
}

int
config_ports_build(struct config *c, char *err, size_t errlen)
{
	struct slot *t;
	size_t i, j, n = 0;

	free(c->ports);
	c->ports = NULL;
	c->nports = 0;
	if ((t = calloc(SLOTS, sizeof(*t))) == NULL)
		goto nomem;
	for (i = 0; i < policyset_count(c->policies); i++)
		if (note_ports(t, policyset_policy(c->policies, i), &n, err, errlen) == -1) {
			free(t);
			return -1;
		}
	if (n == 0) {
		free(t);
		return 0;
	}
	if ((c->ports = calloc(n, sizeof(*c->ports))) == NULL) {
		free(t);
		goto nomem;
	}
	for (i = j = 0; i < SLOTS; i++)
		if (t[i].first != NULL)
			c->ports[j++].port = t[i].port;
	qsort(c->ports, n, sizeof(*c->ports), by_port);
	for (i = 0; i < n; i++) {
		struct config_port *cp = &c->ports[i];
		const struct slot *sl = port_slot(t, cp->port);

		cp->route = config_route(c, cp->port);
		if (cp->route == NULL && !sl->shared)
			cp->implicit = policy_match(sl->in, sl->first->pattern,
			    strlen(sl->first->pattern), cp->port);
		if (cp->implicit != NULL && (cp->implicit->flags & RULE_DENY))
			cp->implicit = NULL;	/* denied there: nothing to route to */
	}
	c->nports = n;
	free(t);
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

const struct config_port *
config_port(const struct config *c, uint16_t port)
{
	size_t lo = 0, hi = c->nports;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->ports[mid].port == port)
			return &c->ports[mid];
		if (c->ports[mid].port < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct rule *
config_implicit_route(const struct config *c, uint16_t port)
{
	const struct config_port *cp = config_port(c, port);

	return cp ? cp->implicit : NULL;
}

/* How port cp learns its name, without the port number (equal texts on consecutive
 * ports are printed as one range). */
static void
describe(const struct config_port *cp, char *buf, size_t len)
{
	char where[300];

	if (cp->route != NULL)
		snprintf(buf, len, "routed to %s:%u (the route at %s)", cp->route->name,
		    cp->route->target_port, cp->route->origin);
	else if (cp->implicit != NULL)
		snprintf(buf, len, "routed to %s on the same port (the only name allowed there, "
		    "%s)", cp->implicit->pattern, rule_origin(cp->implicit, where, sizeof(where)));
	else
		snprintf(buf, len, "the name from the client's TLS SNI or HTTP Host");
}

void
config_ports_print(const struct config *c, FILE *f)
{
	char cur[600], next[600];
	size_t i, start;

	for (i = 0; i < c->nports; i = start) {
		describe(&c->ports[i], cur, sizeof(cur));
		for (start = i + 1; start < c->nports &&
		    c->ports[start].port == c->ports[start - 1].port + 1; start++) {
			describe(&c->ports[start], next, sizeof(next));
			if (strcmp(cur, next) != 0)
				break;
		}
		if (start - i == 1)
			fprintf(f, "# port %u: %s\n", c->ports[i].port, cur);
		else
			fprintf(f, "# ports %u-%u: %s\n", c->ports[i].port, c->ports[start - 1].port,
			    cur);
	}
}

/* Append to buf[*off..len), keeping room for "...": 0, or -1 when it did not fit. */
static int
append(char *buf, size_t len, size_t *off, const char *s)
{
	size_t sl = strlen(s);

	if (*off + sl + 4 > len) {
		if (*off + 4 <= len) {
			memcpy(buf + *off, "...", 4);
			*off += 3;
		}
		return -1;
	}
	memcpy(buf + *off, s, sl + 1);
	*off += sl;
	return 0;
}

void
config_ports_summary(const struct config *c, char *buf, size_t len)
{
	char item[320];
	size_t i, start, off = 0;
	int routed = 0;

	if (len < 8)
		return;
	buf[0] = '\0';
	if (c->nports == 0) {
		append(buf, len, &off, "no ports");
		return;
	}
	append(buf, len, &off, "ports ");
	for (i = 0; i < c->nports; i = start) {
		for (start = i + 1; start < c->nports &&
		    c->ports[start].port == c->ports[start - 1].port + 1; start++)
			;
		if (start - i == 1)
			snprintf(item, sizeof(item), "%s%u", i ? "," : "", c->ports[i].port);
		else
			snprintf(item, sizeof(item), "%s%u-%u", i ? "," : "", c->ports[i].port,
			    c->ports[start - 1].port);
		if (append(buf, len, &off, item) == -1)
			return;
	}
	for (i = 0; i < c->nports; i++) {
		const struct config_port *cp = &c->ports[i];

		if (cp->route != NULL)
			snprintf(item, sizeof(item), "%s%u -> %s:%u", routed ? ", " : "; routed: ",
			    cp->port, cp->route->name, cp->route->target_port);
		else if (cp->implicit != NULL)
			snprintf(item, sizeof(item), "%s%u -> %s", routed ? ", " : "; routed: ",
			    cp->port, cp->implicit->pattern);
		else
			continue;
		routed = 1;
		if (append(buf, len, &off, item) == -1)
			return;
	}
}
