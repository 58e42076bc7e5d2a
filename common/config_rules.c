/* config_rules.c: the allow, deny and route directives, from a line or a variable, into rules. */
#include "config_parser.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "dname.h"
#include "hint.h"
#include "util.h"

/*
 * name is not a host name in a way worth explaining (hint.h): a port list where the name
 * belongs (the two swapped), a URL, an address or prefix, quotes, a numeric last label.
 * -1 with the message, or 0 to let the name's own check speak.
 */
static int
name_mistake(struct config_parser *ps, const char *what, const char *name, const char *ports)
{
	char msg[512];
	const char *body = strncmp(name, "**.", 3) == 0 ? name + 3 :
	    strncmp(name, "*.", 2) == 0 ? name + 2 : name;

	if (ports != NULL && hint_is_port_list(name) && !hint_is_port_list(ports)) {
		if (ps->line == 0)
			return config_err(ps, "'%s:%s': the name comes first: write %s:%s", name,
			    ports, ports, name);
		return config_err(ps, "%s %s %s: the name comes first: write %s %s %s", what, name,
		    ports, what, ports, name);
	}
	if (hint_name(body, msg, sizeof(msg)))
		return config_err(ps, "%s %s", what, msg);
	return 0;
}

/* The rule just added (the policy's last) is a wildcard over a private-section public
 * suffix: said as a warning, at start and by --check (anyone can create names below
 * github.io; the rule may still be meant). 0 or -1 (out of memory). */
static int
warn_private_suffix(struct config_parser *ps, const char *what)
{
	const struct policy *p = config_rules_target(ps);
	const struct rule *r = policy_rule(p, policy_count(p) - 1);
	const char *suffix;
	char here[300];

	if (r == NULL || !r->wildcard)
		return 0;
	suffix = strchr(r->pattern, '.') + 1;	/* past "*." or "**." */
	if (policy_suffix_kind(suffix) != POLICY_SUFFIX_PRIVATE)
		return 0;
	config_where(ps, here, sizeof(here));
	return config_warn(ps, "%s: %s %s: %s is a public suffix (private section of the "
	    "Public Suffix List): anyone can create names below it, and this wildcard covers "
	    "them all", here, what, r->pattern, suffix);
}

int
config_rules_allow(struct config_parser *ps, const char *name, const char *ports,
    const char *flag)
{
	struct portrange *pr;
	const struct rule *dup;
	size_t npr;
	char msg[512], where[300], here[300];
	unsigned flags = 0, port = 0;
	int rc;

	if (name_mistake(ps, "allow", name, ports) == -1)
		return -1;
	if (flag != NULL) {
		if (strcmp(flag, "private") != 0)
			return config_err(ps, "allow %s: unknown option '%s' (the only one is "
			    "'private')", name, flag);
		flags |= RULE_PRIVATE;
	}
	if (policy_parse_ports(ports, &pr, &npr, msg, sizeof(msg)) == -1)
		return config_err(ps, "allow %s: %s", name, msg);
	dup = policy_find(config_rules_target(ps), name, pr, npr, RULE_ROUTE, &port);
	rc = policy_add(config_rules_target(ps), name, pr, npr, flags, ps->src, ps->line, msg, sizeof(msg));
	free(pr);
	if (rc == -1)
		return config_err(ps, "allow %s", msg);
	if (warn_private_suffix(ps, "allow") == -1)
		return -1;
	/* The same rule twice is harmless but usually a slip (a line copied, the environment
	 * repeating the file): said, not refused. */
	if (dup != NULL) {
		config_where(ps, here, sizeof(here));
		return config_warn(ps, "%s: allow %s: port %u is already allowed by %s (the same "
		    "rule written twice?)", here, name, port, rule_origin(dup, where, sizeof(where)));
	}
	return 0;
}

int
config_rules_deny(struct config_parser *ps, const char *name, const char *ports)
{
	struct portrange every = { 1, UINT16_MAX }, *pr = &every;
	size_t npr = 1;
	char msg[512];
	int rc;

	if (name_mistake(ps, "deny", name, ports) == -1)
		return -1;
	if (ports != NULL && policy_parse_ports(ports, &pr, &npr, msg, sizeof(msg)) == -1)
		return config_err(ps, "deny %s: %s", name, msg);
	rc = policy_add(config_rules_target(ps), name, pr, npr, RULE_DENY, ps->src, ps->line, msg,
	    sizeof(msg));
	if (pr != &every)
		free(pr);
	if (rc == -1)
		return config_err(ps, "deny %s", msg);
	return warn_private_suffix(ps, "deny");
}

/* A route whose name a deny rule covers on its listening port could never be used: an
 * error at the route's line, naming the deny. 0 or -1. */
int
config_rules_check_routes(struct config_parser *ps)
{
	const struct config *c = ps->c;
	char where[300];
	size_t i;

	for (i = 0; i < c->nroutes; i++) {
		const struct route *rt = &c->routes[i];
		const struct rule *d = policy_match(c->policy, rt->name, strlen(rt->name),
		    rt->port);

		if (d != NULL && (d->flags & RULE_DENY)) {
			snprintf(ps->err, ps->errlen, "%s: route %u %s: the deny rule %s (%s) "
			    "refuses %s on port %u, so the route could never be used", rt->origin,
			    rt->port, rt->name, d->pattern, rule_origin(d, where, sizeof(where)),
			    rt->name, rt->port);
			return -1;
		}
	}
	return 0;
}

int
config_rules_route(struct config_parser *ps, const char *portstr, const char *target,
    const char *flag)
{
	struct config *c = ps->c;
	char name[DNAME_MAX + 1], host[DNAME_MAX + 2], where[300], msg[512];
	const char *colon = strrchr(target, ':');
	unsigned long port, tport;
	enum dname_status st;
	struct portrange pr;
	struct route *nr;
	size_t hl, i;
	unsigned flags = 0;

	if (flag != NULL) {
		if (strcmp(flag, "private") != 0)
			return config_err(ps, "route %s: unknown option '%s' (the only one is "
			    "'private')", portstr, flag);
		flags |= RULE_PRIVATE;
	}
	if (util_parse_uint(portstr, 1, UINT16_MAX, &port) == -1)
		return config_err(ps, "route '%s': the port must be 1-%u", portstr, UINT16_MAX);
	hl = colon ? (size_t)(colon - target) : strlen(target);
	if (colon == NULL)
		tport = port;
	else if (util_parse_uint(colon + 1, 1, UINT16_MAX, &tport) == -1)
		return config_err(ps, "route %s: '%s': the target port must be 1-%u", portstr,
		    target, UINT16_MAX);
	if (hl >= sizeof(host))
		return config_err(ps, "route %s: target name too long", portstr);
	memcpy(host, target, hl);
	host[hl] = '\0';
	if (host[0] == '*')
		return config_err(ps, "route %s: the target must be one name, not a wildcard",
		    portstr);
	if (hint_name(host, msg, sizeof(msg)))
		return config_err(ps, "route %s: %s", portstr, msg);
	if ((st = dname_normalize(host, hl, name, NULL)) != DNAME_OK)
		return config_err(ps, "route %s: '%s': %s", portstr, host, dname_status_str(st));
	for (i = 0; i < c->nroutes; i++)
		if (c->routes[i].port == port)
			return config_err(ps, "route %s: port %lu already has a route (%s)",
			    portstr, port, c->routes[i].origin);
	if ((nr = realloc(c->routes, (c->nroutes + 1) * sizeof(*nr))) == NULL)
		return config_err(ps, "out of memory");
	c->routes = nr;
	config_where(ps, where, sizeof(where));
	nr = &c->routes[c->nroutes];
	memset(nr, 0, sizeof(*nr));
	nr->port = (uint16_t)port;
	nr->target_port = (uint16_t)tport;
	nr->flags = flags;
	nr->name = strdup(name);
	nr->origin = strdup(where);
	if (nr->name == NULL || nr->origin == NULL) {
		free(nr->name);
		free(nr->origin);
		return config_err(ps, "out of memory");
	}
	c->nroutes++;
	/* A route allows its target on its listening port: the forwarder checks (name,
	 * port) for routed connections like any other, and the resolver answers the name. */
	pr.lo = pr.hi = (uint16_t)port;
	if (policy_add(c->policy, name, &pr, 1, flags | RULE_ROUTE, ps->src, ps->line, msg,
	    sizeof(msg)) == -1)
		return config_err(ps, "route %s: %s", portstr, msg);
	return 0;
}

/* ---- policies ---- */

struct policy *
config_rules_target(const struct config_parser *ps)
{
	return policyset_policy(ps->c->policies, ps->section);
}

/* One source spec, "ADDR" or "ADDR/LEN", or the address after "via", into sp. 0 or -1. */
static int
parse_spec(struct config_parser *ps, const char *pol, const char *text, int via,
    struct policy_spec *sp)
{
	char host[INET6_ADDRSTRLEN + 1], msg[512];
	const char *slash = strchr(text, '/');
	size_t hl = slash ? (size_t)(slash - text) : strlen(text), bits;
	unsigned long len;
	uint8_t masked[16];

	memset(sp, 0, sizeof(*sp));
	if (hl >= sizeof(host))
		goto bad;
	memcpy(host, text, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, sp->addr) == 1)
		sp->family = AF_INET;
	else if (inet_pton(AF_INET6, host, sp->addr) == 1)
		sp->family = AF_INET6;
	else
		goto bad;
	bits = sp->family == AF_INET ? 32 : 128;
	if (via && slash != NULL)
		return config_err(ps, "policy %s: via %s: via takes one address (the gateway's), "
		    "not a prefix", pol, text);
	if (slash != NULL && util_parse_uint(slash + 1, 0, bits, &len) == -1)
		return config_err(ps, "policy %s: '%s': the prefix length must be 0-%zu", pol,
		    text, bits);
	sp->len = (uint8_t)(slash != NULL ? len : bits);
	sp->via = (uint8_t)via;
	/* 172.29.1.5/28 is ambiguous (one client, or the /28 around it?): refused. */
	memcpy(masked, sp->addr, sizeof(masked));
	policyset_mask(masked, sp->family, sp->len);
	if (memcmp(masked, sp->addr, bits / 8) != 0) {
		inet_ntop(sp->family, masked, host, sizeof(host));
		return config_err(ps, "policy %s: '%s' has bits set past the prefix length: write "
		    "%s/%u (the network) or the address alone (one client)", pol, text, host,
		    sp->len);
	}
	return 0;
bad:
	if (hint_name(text, msg, sizeof(msg)) == 0)
		snprintf(msg, sizeof(msg), "not an address");
	return config_err(ps, "policy %s: '%s': a client is ADDR, ADDR/LEN or via ADDR (%s)",
	    pol, text, msg);
}

int
config_rules_specs(struct config_parser *ps, size_t idx, char **argv, int argc)
{
	const char *pol = policyset_name(ps->c->policies, idx);
	const struct policy_spec *clash;
	struct policy_spec sp;
	char where[300];
	int i, via;

	if (argc == 0)
		return config_err(ps, "policy %s: no client: write the clients' source addresses "
		    "or prefixes, or via ADDR (the gateway address their traffic arrives on)", pol);
	config_where(ps, where, sizeof(where));
	for (i = 0; i < argc; i++) {
		via = strcmp(argv[i], "via") == 0;
		if (via && ++i == argc)
			return config_err(ps, "policy %s: via needs the gateway's address", pol);
		if (parse_spec(ps, pol, argv[i], via, &sp) == -1)
			return -1;
		sp.policy = (uint32_t)idx;
		sp.origin = where;
		if (policyset_add_spec(ps->c->policies, &sp, &clash) == -1) {
			if (clash == NULL)
				return config_err(ps, "out of memory");
			return config_err(ps, "policy %s: %s%s is already a client of policy %s "
			    "(%s): a client spec may be in one policy only", pol, via ? "via " : "",
			    argv[i], policyset_name(ps->c->policies, clash->policy), clash->origin);
		}
	}
	return 0;
}

int
config_rules_policy(struct config_parser *ps, char **argv, int argc)
{
	char msg[512];
	int idx;

	if (argc < 1)
		return config_err(ps, "usage: policy NAME ADDR[/LEN]|via ADDR ...");
	if ((idx = policyset_add(ps->c->policies, argv[0], msg, sizeof(msg))) == -1)
		return config_err(ps, "policy %s", msg);
	ps->section = (size_t)idx;
	return config_rules_specs(ps, (size_t)idx, argv + 1, argc - 1);
}

int
config_rules_mode(struct config_parser *ps, const char *word)
{
	enum policy_mode m;

	if (strcmp(word, "enforce") == 0)
		m = MODE_ENFORCE;
	else if (strcmp(word, "report") == 0)
		m = MODE_REPORT;
	else
		return config_err(ps, "'mode %s': expected enforce or report", word);
	if (ps->line > 0 && policyset_own_mode(ps->c->policies, ps->section) != MODE_UNSET)
		return config_err(ps, "policy %s: 'mode' is set twice",
		    policyset_name(ps->c->policies, ps->section));
	policyset_set_mode(ps->c->policies, ps->section, m);
	return 0;
}
