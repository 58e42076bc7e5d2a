/* main.c: gatehouse-forwarder: start-up, signals, reload, the event loop. */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "clients.h"
#include "daemon.h"
#include "fwd.h"
#include "httpd.h"
#include "log.h"
#include "sandbox.h"

#define PROGNAME "gatehouse-forwarder"
#define IFACE_REFRESH_SEC 30
#define POOL_FREE 64		/* idle relay buffers kept for reuse */

extern char **environ;

struct state {
	struct daemon_args args;
	struct fwd f;
	struct event *sig[4], *tick, *iface_timer;
	struct httpd *httpd;
	struct reload_stats reloads;
};

static struct log_rate audit_rl = LOG_RATE_INIT(3, 60);

static void
reload(struct state *st)
{
	struct fwd *f = &st->f;
	struct config *nc;
	char err[1024], ports[600];

	if (config_load(st->args.config, environ, &nc, err, sizeof(err)) == -1) {
		log_warnx("reload refused, the running configuration stays: %s", err);
		st->reloads.failed++;
		return;
	}
	if (listeners_sync(f->ls, nc, 0, err, sizeof(err)) == -1) {
		log_warnx("reload refused, the running configuration stays: %s", err);
		st->reloads.failed++;
		config_unref(nc);
		return;
	}
	st->reloads.ok++;
	daemon_log_warnings(nc);
	if (strcmp(f->cfg->audit, nc->audit) != 0 || strcmp(f->cfg->user, nc->user) != 0)
		log_warnx("reload: audit and user changes take effect at the next start");
	if (nc->upstream_system != f->cfg->upstream_system || nc->upstream.n != f->cfg->upstream.n)
		log_warnx("reload: upstream changes take effect at the next start");
	dns_reconfigure(f->dns, nc);
	audit_set_rate(f->audit, nc->audit_rate);
	config_unref(f->cfg);
	f->cfg = nc;		/* new connections use it; live ones keep theirs */
	if (iface_refresh(f->ifaces) == -1)
		log_warn("getifaddrs");
	config_ports_summary(nc, ports, sizeof(ports));
	log_info("configuration reloaded: %zu rules, %zu listening sockets, %s",
	    policy_count(nc->policy), listeners_count(f->ls), ports);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct state *st = arg;
	char err[512];

	(void)what;
	if (sig == SIGHUP) {	/* logrotate's usual postrotate: reopen and reload */
		if (audit_reopen(st->f.audit, err, sizeof(err)) == -1)
			log_warnx("reopen: %s; still writing to the old file", err);
		reload(st);
	} else if (sig == SIGUSR1) {
		if (audit_reopen(st->f.audit, err, sizeof(err)) == -1)
			log_warnx("reopen: %s; still writing to the old file", err);
		else
			log_info("audit file reopened");
	} else {
		log_info("exiting on signal %d", (int)sig);
		event_base_loopbreak(st->f.base);
	}
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct state *st = arg;

	(void)fd;
	(void)what;
	audit_tick(st->f.audit);
	if (audit_flush(st->f.audit) == -1)
		log_warn_rl(&audit_rl, "audit write to %s failed; lines are counted as dropped",
		    audit_target(st->f.audit));
}

static void
iface_cb(evutil_socket_t fd, short what, void *arg)
{
	struct state *st = arg;

	(void)fd;
	(void)what;
	if (iface_refresh(st->f.ifaces) == -1)
		log_warn("getifaddrs");
}

static void
metrics_fill(struct prom *p, void *arg)
{
	struct state *st = arg;

	httpd_common_metrics(p, "forwarder", policy_count(st->f.cfg->policy),
	    audit_stats(st->f.audit), &st->reloads);
	fwd_metrics(p, &st->f);
}

/* The forwarder serves metrics one port above the resolver (both read one `metrics`). */
static void
start_metrics(struct state *st)
{
	struct sockaddr_storage sa = st->f.cfg->metrics;
	char err[256];

	if (!st->f.cfg->metrics_on)
		return;
	addr_set_port((struct sockaddr *)&sa, (uint16_t)(addr_port((struct sockaddr *)&sa) + 1));
	st->httpd = httpd_start(st->f.base, (struct sockaddr *)&sa, metrics_fill, st, err,
	    sizeof(err));
	if (st->httpd == NULL)
		fatalx("%s", err);
}

static struct event *
add_event(struct state *st, int sig, int sec, event_callback_fn cb)
{
	struct event *ev;
	struct timeval tv = { sec, 0 };

	if (sig >= 0)
		ev = evsignal_new(st->f.base, sig, cb, st);
	else
		ev = event_new(st->f.base, -1, EV_PERSIST, cb, st);
	if (ev == NULL || event_add(ev, sig >= 0 ? NULL : &tv) == -1)
		fatalx("cannot add an event");
	return ev;
}

static void
start(struct state *st)
{
	struct fwd *f = &st->f;
	char err[1024], ports[600];
	int dropped;

	signal(SIGPIPE, SIG_IGN);
	if ((f->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if ((f->ifaces = iface_new()) == NULL || (f->pool = bufpool_new(POOL_FREE)) == NULL ||
	    (f->clients = clients_new()) == NULL)
		fatalx("out of memory");
	if (iface_refresh(f->ifaces) == -1)
		fatal("getifaddrs");
	if ((f->routes = route_probe_open()) == NULL)
		fatal("netlink socket for route queries");
	if ((f->dns = dns_new(f->base, f->cfg, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	if ((f->audit = audit_open(f->cfg->audit, "forwarder", f->cfg->audit_rate, err,
	    sizeof(err))) == NULL)
		fatalx("%s", err);
	start_metrics(st);
	if ((f->ls = listeners_new(f)) == NULL)
		fatalx("out of memory");
	if (listeners_sync(f->ls, f->cfg, 1, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if ((dropped = daemon_drop_privileges(f->cfg->user, 1, err, sizeof(err))) == -1)
		fatalx("%s", err);
	st->sig[0] = add_event(st, SIGHUP, 0, signal_cb);
	st->sig[1] = add_event(st, SIGUSR1, 0, signal_cb);
	st->sig[2] = add_event(st, SIGTERM, 0, signal_cb);
	st->sig[3] = add_event(st, SIGINT, 0, signal_cb);
	st->tick = add_event(st, -1, 1, tick_cb);
	st->iface_timer = add_event(st, -1, IFACE_REFRESH_SEC, iface_cb);
	config_ports_summary(f->cfg, ports, sizeof(ports));
	log_info("%s %s: %zu rules, %zu listening sockets, %s; audit to %s%s%s", PROGNAME,
	    GATEHOUSE_VERSION, policy_count(f->cfg->policy), listeners_count(f->ls), ports,
	    f->cfg->audit, dropped == 1 ? ", running as " : "", dropped == 1 ? f->cfg->user : "");
	if (!f->cfg->sandbox)
		log_warnx("sandbox off: no seccomp filter (for debugging only)");
	else if (sandbox_enter(SANDBOX_FORWARDER, f->cfg, err, sizeof(err)) == -1)
		fatalx("%s", err);
}

static void
stop(struct state *st)
{
	struct fwd *f = &st->f;
	size_t i;

	conn_close_all(f);
	for (i = 0; i < 4; i++)
		event_free(st->sig[i]);
	event_free(st->tick);
	event_free(st->iface_timer);
	httpd_stop(st->httpd);
	listeners_free(f->ls);
	dns_free(f->dns);
	audit_close(f->audit);
	clients_free(f->clients);
	bufpool_free(f->pool);
	iface_free(f->ifaces);
	route_probe_close(f->routes);
	config_unref(f->cfg);
	event_base_free(f->base);
}

int
main(int argc, char **argv)
{
	struct state st;
	char err[1024];
	int rc;

	memset(&st, 0, sizeof(st));
	daemon_stdio();
	rc = daemon_parse_args(argc, argv, PROGNAME,
	    "gatehouse-forwarder: accepts the connections the resolver sent to the gateway,\n"
	    "learns the name (TLS SNI, HTTP Host, or a route), checks it against the allowlist,\n"
	    "resolves it and relays the bytes; audits every connection.", &st.args);
	if (rc == 1)
		return 0;
	if (rc == -1)
		return EXIT_CONFIG;
	log_init(PROGNAME, st.args.verbose);
	if (config_load(st.args.config, environ, &st.f.cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EXIT_CONFIG;
	}
	/* The same checks for --check and a start (an upstream that is this gateway's own
	 * resolver included: preflight.c): what --check passes starts. */
	if (daemon_preflight(st.f.cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		config_unref(st.f.cfg);
		return EXIT_CONFIG;
	}
	if (st.args.check) {
		daemon_print_check(st.f.cfg, PROGNAME);
		config_unref(st.f.cfg);
		return 0;
	}
	start(&st);
	event_base_dispatch(st.f.base);
	stop(&st);
	return 0;
}
