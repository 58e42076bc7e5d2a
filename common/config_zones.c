/* config_zones.c: `stub-zone ZONE SERVER...`: names the resolver passes to another server. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "config_parser.h"
#include "dname.h"
#include "policy.h"
#include "util.h"

/*
 * A stub zone is a domain (Kubernetes' cluster.local) whose names the resolver does not
 * decide itself: it passes each query for a name at or below the zone to the zone's
 * servers, which must be authoritative for it (CoreDNS is for the cluster domain), and
 * relays their answer. Refused here, because they would turn the pass into a channel out:
 * the root, and any public suffix (ICANN's section of the list: "com", "co.uk", and the
 * single labels its "*" rule covers, which includes "local" but not "cluster.local").
 * Servers are addresses, never names: looking a server up would itself be a query out.
 */
int
config_zones_stub(struct config_parser *ps, char **argv, int argc)
{
	struct config *c = ps->c;
	struct stub_zone *z, *grown;
	char norm[DNAME_MAX + 1], where[300], msg[256];
	enum dname_status st;
	size_t len, i;
	int j;

	if (argc < 2)
		return config_err(ps, "usage: stub-zone ZONE SERVER[:PORT]... (stub-zone "
		    "cluster.local 10.96.0.10)");
	if (argc - 1 > CONFIG_STUB_SERVERS)
		return config_err(ps, "stub-zone %s: at most %d servers", argv[0],
		    CONFIG_STUB_SERVERS);
	if ((st = dname_normalize(argv[0], strlen(argv[0]), norm, &len)) != DNAME_OK)
		return config_err(ps, "stub-zone %s: %s", argv[0], st == DNAME_EMPTY ?
		    "the root would pass every name out: name the one domain to pass" :
		    dname_status_str(st));
	if (policy_suffix_kind(norm) == POLICY_SUFFIX_ICANN)
		return config_err(ps, "stub-zone %s: a public suffix: its server would be asked "
		    "names anyone can register; name the domain it is authoritative for "
		    "(cluster.local)", norm);
	for (i = 0; i < c->nstub_zones; i++)
		if (strcmp(c->stub_zones[i].zone, norm) == 0)
			return config_err(ps, "stub-zone %s is written twice (first at %s)", norm,
			    c->stub_zones[i].origin);
	if (c->nstub_zones == CONFIG_STUB_ZONES)
		return config_err(ps, "stub-zone %s: at most %d stub zones", norm,
		    CONFIG_STUB_ZONES);
	grown = realloc(c->stub_zones, (c->nstub_zones + 1) * sizeof(*grown));
	if (grown == NULL)
		return config_err(ps, "out of memory");
	c->stub_zones = grown;
	z = &c->stub_zones[c->nstub_zones];
	memset(z, 0, sizeof(*z));
	config_where(ps, where, sizeof(where));
	if ((z->zone = strdup(norm)) == NULL || (z->origin = strdup(where)) == NULL) {
		free(z->zone);
		return config_err(ps, "out of memory");
	}
	z->len = len;
	c->nstub_zones++;
	for (j = 1; j < argc; j++) {
		if (addr_parse(argv[j], 53, &z->servers[z->nservers], msg, sizeof(msg)) == -1)
			return config_err(ps, "stub-zone %s: server %s: %s (an address, with "
			    ":PORT if not 53: a name would need a lookup out)", norm, argv[j], msg);
		z->nservers++;
	}
	return 0;
}

/* A server that is one of the resolver's own listening addresses would be asked by the
 * resolver itself, again and again. */
int
config_zones_finish(struct config_parser *ps)
{
	const struct config *c = ps->c;
	size_t i, j, k;

	for (i = 0; i < c->nstub_zones; i++) {
		const struct stub_zone *z = &c->stub_zones[i];

		for (j = 0; j < z->nservers; j++)
			for (k = 0; k < c->dns_listen.n; k++) {
				char a[ADDR_STRLEN];

				if (!addr_equal((const struct sockaddr *)&z->servers[j],
				    (const struct sockaddr *)&c->dns_listen.v[k], 1))
					continue;
				snprintf(ps->err, ps->errlen, "%s: stub-zone %s: server %s is this "
				    "resolver's own dns-listen address", z->origin, z->zone,
				    addr_format((const struct sockaddr *)&z->servers[j], 1, a,
				    sizeof(a)));
				return -1;
			}
	}
	return 0;
}

void
config_zones_print(const struct config *c, FILE *f)
{
	char a[ADDR_STRLEN];
	size_t i, j;

	for (i = 0; i < c->nstub_zones; i++) {
		const struct stub_zone *z = &c->stub_zones[i];

		fprintf(f, "stub-zone %s", z->zone);
		for (j = 0; j < z->nservers; j++)
			fprintf(f, " %s", addr_format((const struct sockaddr *)&z->servers[j], 1, a,
			    sizeof(a)));
		fprintf(f, "\t# %s\n", z->origin);
	}
}

void
config_zones_clear(struct config *c)
{
	size_t i;

	for (i = 0; i < c->nstub_zones; i++) {
		free(c->stub_zones[i].zone);
		free(c->stub_zones[i].origin);
	}
	free(c->stub_zones);
	c->stub_zones = NULL;
	c->nstub_zones = 0;
}
