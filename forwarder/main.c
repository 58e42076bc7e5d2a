/* main.c: gatehouse-forwarder: what it adds to the daemons' frame (common/daemon.c): its
 * shared context (fwd.h), what a reload changes, its start-up line and metrics. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clients.h"
#include "daemon.h"
#include "conn.h"
#include "fwd.h"
#include "listeners.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "recent.h"

#define PROGNAME "gatehouse-forwarder"
#define POOL_FREE 64		/* idle relay buffers kept for reuse */

/* The lookups-socket. Not bound (in use, out of memory): a warning, and no-name lines go
 * without "recent": the names are a hint, and relaying must not depend on them. */
static void
open_recent(struct fwd *f)
{
	char err[256];

	if (strcmp(f->cfg->lookups_socket, "off") == 0)
		return;
	if ((f->recent = recent_new()) == NULL) {
		log_warnx("lookups-socket %s: out of memory; no-name lines carry no recent "
		    "lookups", f->cfg->lookups_socket);
		return;
	}
	if (recent_bind(f->recent, f->base, f->cfg->lookups_socket, err, sizeof(err)) == -1) {
		log_warnx("%s; no-name lines carry no recent lookups", err);
		recent_free(f->recent);
		f->recent = NULL;
	}
}

static int
forwarder_start(struct daemon *d, char *err, size_t errlen)
{
	struct fwd *f = d->arg;

	f->base = d->base;
	f->cfg = d->cfg;	/* the frame's reference; reloads replace it */
	f->audit = d->audit;
	f->ifaces = d->ifaces;
	if ((f->pool = bufpool_new(POOL_FREE)) == NULL || (f->clients = clients_new()) == NULL ||
	    (f->pstats = polstats_new(FWD_PSTAT_WIDTH)) == NULL ||
	    polstats_map(f->pstats, f->cfg->policies, &f->pslot) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((f->routes = route_probe_open()) == NULL) {
		snprintf(err, errlen, "netlink socket for route queries: %s", strerror(errno));
		return -1;
	}
	/* the pool's names: the file is opened before the privilege drop, like the sockets */
	if (f->cfg->answer_pool && pool_open(f->cfg->pool_state, &f->cfg->pool, 0, &f->names,
	    err, errlen) == -1)
		return -1;
	if ((f->dns = dns_new(f->base, f->cfg, err, errlen)) == NULL)
		return -1;
	if ((f->ls = listeners_new(f, conn_accept)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	open_recent(f);
	return listeners_sync(f->ls, f->cfg, 1, err, errlen);
}

/* A reload that cannot listen where it says is refused (listeners_sync). */
static int
forwarder_prepare(struct daemon *d, const struct config *nc, char *err, size_t errlen)
{
	struct fwd *f = d->arg;

	return listeners_sync(f->ls, nc, 0, err, errlen);
}

static void
forwarder_reload(struct daemon *d, const struct config *old)
{
	struct fwd *f = d->arg;

	if (d->cfg->upstream_system != old->upstream_system || d->cfg->upstream.n != old->upstream.n)
		log_warnx("reload: upstream changes take effect at the next start");
	if (d->cfg->answer_pool ? f->names == NULL || !pool_net_equal(&d->cfg->pool,
	    pool_net(f->names)) || strcmp(d->cfg->pool_state, old->pool_state) != 0 :
	    f->names != NULL)
		log_warnx("reload: answer pool and pool-state changes take effect at the next "
		    "start; the running pool stays");
	dns_reconfigure(f->dns, d->cfg);
	f->cfg = d->cfg;	/* new connections use it; live ones keep theirs */
	free(f->pslot);
	if (polstats_map(f->pstats, f->cfg->policies, &f->pslot) == -1)
		log_warnx("reload: out of memory for the per-policy counters: counted as %s",
		    POLICYSET_DEFAULT);
}

uint32_t
fwd_policy_slot(const struct fwd *f, size_t policy)
{
	return f->pslot != NULL ? f->pslot[policy] : 0;
}

static void
forwarder_describe(const struct daemon *d, char *buf, size_t len)
{
	const struct fwd *f = d->arg;
	char ports[600];

	config_ports_summary(d->cfg, ports, sizeof(ports));
	snprintf(buf, len, "%zu rules, %zu listening sockets, %s",
	    policyset_rule_count(d->cfg->policies), listeners_count(f->ls), ports);
}

static void
forwarder_started(const struct daemon *d, const char *as_user)
{
	struct fwd *f = d->arg;
	char what[700];

	/* After the privilege drop: the resolver sends as the user this process is now. */
	if (f->recent != NULL)
		recent_set_sender(f->recent, geteuid());
	forwarder_describe(d, what, sizeof(what));
	log_info("%s %s: %s; audit to %s%s", PROGNAME, GATEHOUSE_VERSION, what, d->cfg->audit,
	    as_user);
}

static void
forwarder_metrics(const struct daemon *d, struct prom *p)
{
	metrics_write(p, d->arg);
}

static void
forwarder_stop(struct daemon *d)
{
	struct fwd *f = d->arg;

	conn_close_all(f);
	listeners_free(f->ls);
	dns_free(f->dns);
	clients_free(f->clients);
	polstats_free(f->pstats);
	free(f->pslot);
	recent_free(f->recent);
	bufpool_free(f->pool);
	route_probe_close(f->routes);
	pool_close(f->names);
}

static const struct daemon_ops forwarder_ops = {
	.progname = PROGNAME, .name = "forwarder", .sandbox = SANDBOX_FORWARDER,
	.summary = "gatehouse-forwarder: accepts the connections the resolver sent to the gateway,\n"
	    "learns the name (TLS SNI, HTTP Host, or a route), checks it against the allowlist,\n"
	    "resolves it and relays the bytes; audits every connection.",
	.keep_bind = 1,			/* listeners for ports a reload adds */
	.metrics_port_offset = 1,	/* one port above the resolver's (one `metrics`) */
	.start = forwarder_start, .prepare = forwarder_prepare, .reload = forwarder_reload,
	.stop = forwarder_stop,
	.describe = forwarder_describe, .started = forwarder_started, .metrics = forwarder_metrics,
};

int
main(int argc, char **argv)
{
	static struct fwd f;

	return daemon_main(argc, argv, &forwarder_ops, &f);
}
