/* dest.c: where a connection may go: its allowlist rule and the addresses it may dial. */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "dest.h"
#include "dial.h"
#include "iface.h"
#include "listeners.h"
#include "log.h"
#include "policy.h"
#include "route.h"

/* One dest_filter call. */
struct dest_walk {
	struct fwd *f;
	uint16_t port;		/* the port dialled */
	int priv;		/* the rule says `private` */
	unsigned queries;	/* kernel route queries made */
};

static struct log_rate route_rl = LOG_RATE_INIT(5, 60);

const struct rule *
dest_rule(const struct config *cfg, size_t policy, const char *name, uint16_t port)
{
	return policyset_check(cfg->policies, policy, name, strlen(name), port);
}

const struct rule *
dest_route(const struct config *cfg, size_t policy, uint16_t port, const char **name,
    uint16_t *target_port)
{
	const struct route *rt = config_route(cfg, port);
	const struct rule *only;

	if (rt != NULL) {
		*target_port = rt->target_port;
		*name = rt->name;
		return dest_rule(cfg, policy, rt->name, port);
	}
	if ((only = config_implicit_route(cfg, port)) == NULL)
		return NULL;
	*target_port = port;
	*name = only->pattern;
	return dest_rule(cfg, policy, only->pattern, port);
}

/*
 * Where the gateway's kernel would deliver sa: NULL when it routes it out, else "loopback",
 * "own-address" (assigned to an interface) or what the kernel says ("local": AnyIP and
 * `ip route add local` routes, "broadcast", "anycast"), asked with the routing rules in
 * force now. When the kernel cannot be asked, the interface snapshot alone answers.
 */
static const char *
local_kind(struct dest_walk *w, const struct sockaddr *sa)
{
	const char *kind, *sp = addr_special(sa);

	if (sp != NULL && strcmp(sp, "loopback") == 0)
		return "loopback";
	if (iface_is_assigned(w->f->ifaces, sa))
		return "own-address";
	if (++w->queries > DEST_ROUTE_QUERIES)
		return NULL;
	if (route_probe_kind(w->f->routes, sa, &kind) == -1) {
		log_warn_rl(&route_rl, "route query");
		return NULL;
	}
	return kind;
}

/* Why the address ss (port set) may not be dialled, into why (only when why is still
 * empty: the first refusal is the one reported); 0 when it may. */
static int
refuse_addr(struct dest_walk *w, const struct sockaddr_storage *ss, char *why, size_t whylen)
{
	struct sockaddr_storage u = *ss;
	const struct sockaddr *sa = (const struct sockaddr *)&u;
	char abuf[ADDR_STRLEN];
	const char *never, *sp = NULL, *local = NULL;
	int loop = 0;

	addr_unmap(&u);		/* ::ffff:a.b.c.d is dialled, and checked, as a.b.c.d */
	if ((never = addr_never(sa)) == NULL &&
	    (w->priv || (sp = addr_special((const struct sockaddr *)ss)) == NULL)) {
		local = local_kind(w, sa);
		loop = listeners_would_accept(w->f->ls, sa, local != NULL);
		if (!loop && (w->priv || local == NULL))
			return 0;
	}
	if (why[0] != '\0')
		return 1;
	addr_format((const struct sockaddr *)ss, 0, abuf, sizeof(abuf));
	if (never != NULL)
		snprintf(why, whylen, "%s is %s: never a destination", abuf, never);
	else if (sp != NULL)
		snprintf(why, whylen, "%s is %s; the rule lacks 'private'", abuf, sp);
	else if (loop)
		snprintf(why, whylen, "%s port %u is this forwarder (loop)", abuf, w->port);
	else
		snprintf(why, whylen, "%s is the gateway's own address (%s)", abuf, local);
	return 1;
}

size_t
dest_filter(struct fwd *f, const struct cache_result *res, uint16_t port, int priv,
    struct sockaddr_storage *out, char *why, size_t whylen)
{
	struct dest_walk w = { .f = f, .port = port, .priv = priv, .queries = 0 };
	size_t i, n = 0;

	why[0] = '\0';
	for (i = 0; i < res->n && n < DIAL_MAX; i++) {
		struct sockaddr_storage ss;

		memset(&ss, 0, sizeof(ss));
		ss.ss_family = (sa_family_t)res->addrs[i].family;
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_addr = res->addrs[i].u.v4;
		else
			((struct sockaddr_in6 *)&ss)->sin6_addr = res->addrs[i].u.v6;
		addr_set_port((struct sockaddr *)&ss, port);
		if (refuse_addr(&w, &ss, why, whylen))
			continue;
		addr_unmap(&ss);
		out[n++] = ss;
	}
	if (n == 0 && why[0] == '\0')
		snprintf(why, whylen, "no address could be checked");
	return n;
}
