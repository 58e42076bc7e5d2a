/* main.c: gatehouse-resolver: what it adds to the daemons' frame (common/daemon.c): its
 * sockets (server.c), what a reload changes, its start-up line and metrics. */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "pooled.h"
#include "server.h"

#define PROGNAME "gatehouse-resolver"

/* The daemon's own state (daemon.arg). */
struct resolver {
	struct server *srv;
	struct pooled *pooled;		/* `answer pool` at start, else NULL */
	int stub_sockets;		/* started with stub zones, or without a sandbox: may
					 * open sockets to their servers */
};

static int
resolver_start(struct daemon *d, char *err, size_t errlen)
{
	struct resolver *r = d->arg;

	/* the pool's file first: opened before the privilege drop, like the sockets */
	if (d->cfg->answer_pool && (r->pooled = pooled_new(d->cfg, err, errlen)) == NULL)
		return -1;
	if ((r->srv = server_new(d->base, d->cfg, d->audit, d->ifaces, err, errlen)) == NULL)
		return -1;
	if (r->pooled != NULL)
		server_set_pool(r->srv, pooled_hook(r->pooled));
	r->stub_sockets = d->cfg->nstub_zones > 0 || !d->cfg->sandbox;
	return 0;
}

/* The seccomp filter is made at start: a reload cannot give the resolver the sockets
 * stub zones need when it started without one. */
static int
resolver_prepare(struct daemon *d, const struct config *nc, char *err, size_t errlen)
{
	const struct resolver *r = d->arg;

	if (nc->nstub_zones > 0 && !r->stub_sockets) {
		snprintf(err, errlen, "stub-zone: the resolver started without one, and its "
		    "sandbox lets it open no socket to a zone's server: restart it to add stub "
		    "zones");
		return -1;
	}
	return 0;
}

static void
resolver_reload(struct daemon *d, const struct config *old)
{
	const struct config *nc = d->cfg;
	struct resolver *r = d->arg;
	size_t i;
	int same = old->dns_listen.n == nc->dns_listen.n;

	for (i = 0; same && i < nc->dns_listen.n; i++)
		same = addr_equal((const struct sockaddr *)&old->dns_listen.v[i],
		    (const struct sockaddr *)&nc->dns_listen.v[i], 1);
	if (!same)
		log_warnx("reload: dns-listen changes take effect at the next start");
	if (nc->nports == 0)	/* no allow or route rule: deny rules alone allow nothing */
		log_warnx("the allowlist is empty: every name will be answered NXDOMAIN");
	if (r->pooled != NULL)
		pooled_reload(r->pooled, nc);
	else if (nc->answer_pool)
		log_warnx("reload: answer pool takes effect at the next start");
	server_set_config(r->srv, d->cfg);
}

static void
resolver_describe(const struct daemon *d, char *buf, size_t len)
{
	snprintf(buf, len, "%zu rules", policyset_rule_count(d->cfg->policies));
}

static void
resolver_started(const struct daemon *d, const char *as_user)
{
	const struct resolver *r = d->arg;
	char abuf[ADDR_STRLEN], answer[200];
	size_t i;

	for (i = 0; i < d->cfg->dns_listen.n; i++)
		log_info("listening on %s (udp, tcp)", addr_format(
		    (const struct sockaddr *)&d->cfg->dns_listen.v[i], 1, abuf, sizeof(abuf)));
	if (r->pooled != NULL)
		pooled_describe(r->pooled, answer, sizeof(answer));
	else
		snprintf(answer, sizeof(answer), "%s", d->cfg->answer_auto ? "auto" : "fixed");
	log_info("%s %s: %zu rules, answer %s, audit to %s%s", PROGNAME, GATEHOUSE_VERSION,
	    policyset_rule_count(d->cfg->policies), answer, d->cfg->audit, as_user);
}

static void
resolver_metrics(const struct daemon *d, struct prom *p)
{
	const struct resolver *r = d->arg;

	metrics_write(p, server_stats(r->srv));
	if (d->cfg->nstub_zones > 0)
		metrics_write_pass(p, server_pass_stats(r->srv));
	if (r->pooled != NULL)
		pooled_metrics(r->pooled, p);
}

static void
resolver_stop(struct daemon *d)
{
	struct resolver *r = d->arg;

	server_free(r->srv);
	pooled_free(r->pooled);
}

static const struct daemon_ops resolver_ops = {
	.progname = PROGNAME, .name = "resolver", .sandbox = SANDBOX_RESOLVER,
	.summary = "gatehouse-resolver: answers allowlisted names with the gateway's address and\n"
	    "NXDOMAIN for every other name; forwards nothing but the names of its stub zones,\n"
	    "to their own servers; audits every lookup.",
	.prepare = resolver_prepare,
	.start = resolver_start, .reload = resolver_reload, .stop = resolver_stop,
	.describe = resolver_describe, .started = resolver_started, .metrics = resolver_metrics,
};

int
main(int argc, char **argv)
{
	struct resolver r = { NULL, NULL, 0 };

	return daemon_main(argc, argv, &resolver_ops, &r);
}
