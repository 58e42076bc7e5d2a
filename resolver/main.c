/* main.c: gatehouse-resolver: start-up, signals, reload, and the event loop. */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "audit.h"
#include "config.h"
#include "daemon.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "sandbox.h"
#include "server.h"

#define PROGNAME "gatehouse-resolver"
#define IFACE_REFRESH_SEC 30

extern char **environ;

struct state {
	struct daemon_args args;
	struct event_base *base;
	struct config *cfg;
	struct audit *audit;
	struct server *srv;
	struct httpd *httpd;
	struct reload_stats reloads;
	struct event *sig_hup, *sig_usr1, *sig_term, *sig_int, *tick, *iface_timer;
};

static struct log_rate audit_rl = LOG_RATE_INIT(3, 60);

static void
flush_audit(struct state *st)
{
	if (audit_flush(st->audit) == -1)
		log_warn_rl(&audit_rl, "audit write to %s failed; lines are counted as dropped",
		    audit_target(st->audit));
}

static void
warn_restart_only(const struct config *old, const struct config *nc)
{
	size_t i;
	int same = old->dns_listen.n == nc->dns_listen.n;

	for (i = 0; same && i < nc->dns_listen.n; i++)
		same = addr_equal((const struct sockaddr *)&old->dns_listen.v[i],
		    (const struct sockaddr *)&nc->dns_listen.v[i], 1);
	if (!same)
		log_warnx("reload: dns-listen changes take effect at the next start");
	if (strcmp(old->audit, nc->audit) != 0)
		log_warnx("reload: audit target changes take effect at the next start");
	if (old->metrics_on != nc->metrics_on || (nc->metrics_on &&
	    !addr_equal((const struct sockaddr *)&old->metrics,
	    (const struct sockaddr *)&nc->metrics, 1)))
		log_warnx("reload: metrics changes take effect at the next start");
	if (strcmp(old->user, nc->user) != 0)
		log_warnx("reload: user changes take effect at the next start");
}

static void
reload(struct state *st)
{
	struct config *nc;
	char err[1024];

	if (config_load(st->args.config, environ, &nc, err, sizeof(err)) == -1) {
		log_warnx("reload refused, the running configuration stays: %s", err);
		st->reloads.failed++;
		return;
	}
	st->reloads.ok++;
	daemon_log_warnings(nc);
	warn_restart_only(st->cfg, nc);
	if (policy_count(nc->policy) == 0)
		log_warnx("the allowlist is empty: every name will be answered NXDOMAIN");
	audit_set_rate(st->audit, nc->audit_rate);
	server_set_config(st->srv, nc);
	config_unref(st->cfg);
	st->cfg = nc;
	server_refresh_interfaces(st->srv);
	log_info("configuration reloaded: %zu rules", policy_count(nc->policy));
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct state *st = arg;
	char err[512];

	(void)what;
	switch (sig) {
	case SIGHUP:		/* logrotate's usual postrotate: reopen and reload */
		if (audit_reopen(st->audit, err, sizeof(err)) == -1)
			log_warnx("reopen: %s; still writing to the old file", err);
		reload(st);
		break;
	case SIGUSR1:
		if (audit_reopen(st->audit, err, sizeof(err)) == -1)
			log_warnx("reopen: %s; still writing to the old file", err);
		else
			log_info("audit file reopened");
		break;
	default:
		log_info("exiting on signal %d", (int)sig);
		event_base_loopbreak(st->base);
		break;
	}
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct state *st = arg;

	(void)fd;
	(void)what;
	audit_tick(st->audit);
	flush_audit(st);
}

static void
iface_cb(evutil_socket_t fd, short what, void *arg)
{
	struct state *st = arg;

	(void)fd;
	(void)what;
	server_refresh_interfaces(st->srv);
}

static void
metrics_fill(struct prom *p, void *arg)
{
	struct state *st = arg;

	httpd_common_metrics(p, "resolver", policy_count(st->cfg->policy), audit_stats(st->audit),
	    &st->reloads);
	metrics_write(p, server_stats(st->srv));
}

static void
load_or_exit(struct state *st)
{
	char err[1024];

	if (config_load(st->args.config, environ, &st->cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		exit(EXIT_CONFIG);
	}
	/* The same checks for --check and a start: what --check passes starts. */
	if (daemon_preflight(st->cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		exit(EXIT_CONFIG);
	}
	if (st->args.check) {
		daemon_print_check(st->cfg, PROGNAME);
		config_unref(st->cfg);
		exit(0);
	}
}

static struct event *
add_signal(struct state *st, int sig)
{
	struct event *ev = evsignal_new(st->base, sig, signal_cb, st);

	if (ev == NULL || event_add(ev, NULL) == -1)
		fatalx("cannot watch signal %d", sig);
	return ev;
}

static struct event *
add_timer(struct state *st, int sec, event_callback_fn cb)
{
	struct timeval tv = { sec, 0 };
	struct event *ev = event_new(st->base, -1, EV_PERSIST, cb, st);

	if (ev == NULL || event_add(ev, &tv) == -1)
		fatalx("cannot add a timer");
	return ev;
}

static void
start(struct state *st)
{
	char err[1024], abuf[ADDR_STRLEN];
	size_t i;
	int dropped;

	signal(SIGPIPE, SIG_IGN);
	if ((st->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	st->audit = audit_open(st->cfg->audit, "resolver", st->cfg->audit_rate, err, sizeof(err));
	if (st->audit == NULL)
		fatalx("%s", err);
	if ((st->srv = server_new(st->base, st->cfg, st->audit, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	if (st->cfg->metrics_on && (st->httpd = httpd_start(st->base,
	    (const struct sockaddr *)&st->cfg->metrics, metrics_fill, st, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	if ((dropped = daemon_drop_privileges(st->cfg->user, 0, err, sizeof(err))) == -1)
		fatalx("%s", err);
	st->sig_hup = add_signal(st, SIGHUP);
	st->sig_usr1 = add_signal(st, SIGUSR1);
	st->sig_term = add_signal(st, SIGTERM);
	st->sig_int = add_signal(st, SIGINT);
	st->tick = add_timer(st, 1, tick_cb);
	st->iface_timer = add_timer(st, IFACE_REFRESH_SEC, iface_cb);
	for (i = 0; i < st->cfg->dns_listen.n; i++)
		log_info("listening on %s (udp, tcp)", addr_format(
		    (const struct sockaddr *)&st->cfg->dns_listen.v[i], 1, abuf, sizeof(abuf)));
	log_info("%s %s: %zu rules, answer %s, audit to %s%s%s", PROGNAME, GATEHOUSE_VERSION,
	    policy_count(st->cfg->policy), st->cfg->answer_auto ? "auto" : "fixed",
	    st->cfg->audit, dropped == 1 ? ", running as " : "", dropped == 1 ? st->cfg->user : "");
	if (!st->cfg->sandbox)
		log_warnx("sandbox off: no seccomp filter (for debugging only)");
	else if (sandbox_enter(SANDBOX_RESOLVER, st->cfg, err, sizeof(err)) == -1)
		fatalx("%s", err);
}

static void
stop(struct state *st)
{
	event_free(st->sig_hup);
	event_free(st->sig_usr1);
	event_free(st->sig_term);
	event_free(st->sig_int);
	event_free(st->tick);
	event_free(st->iface_timer);
	httpd_stop(st->httpd);
	server_free(st->srv);
	audit_close(st->audit);
	config_unref(st->cfg);
	event_base_free(st->base);
}

int
main(int argc, char **argv)
{
	struct state st;
	int rc;

	memset(&st, 0, sizeof(st));
	daemon_stdio();
	rc = daemon_parse_args(argc, argv, PROGNAME,
	    "gatehouse-resolver: answers allowlisted names with the gateway's address and\n"
	    "NXDOMAIN for every other name; forwards nothing; audits every lookup.", &st.args);
	if (rc == 1)
		return 0;
	if (rc == -1)
		return EXIT_CONFIG;
	log_init(PROGNAME, st.args.verbose);
	load_or_exit(&st);
	start(&st);
	event_base_dispatch(st.base);
	stop(&st);
	return 0;
}
