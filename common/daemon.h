/* daemon.h: the frame both daemons run in: command line, configuration and pre-flight,
 * start-up order, signals, reload, timers, the metrics endpoint, privilege drop, sandbox.
 * Each daemon's main.c fills a struct daemon_ops with what is its own. */
#ifndef GATEHOUSE_DAEMON_H
#define GATEHOUSE_DAEMON_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "config.h"
#include "httpd.h"
#include "iface.h"
#include "prom.h"
#include "sandbox.h"

/* Exit statuses shared by both daemons. */
#define EXIT_CONFIG 2		/* bad configuration or usage */

#define DAEMON_IFACE_REFRESH_SEC 30	/* interface addresses are read again this often */

struct daemon;

/*
 * What one daemon adds to the frame. The frame calls these on the event loop's thread;
 * none of them may exit but start (through an error the frame makes fatal).
 */
struct daemon_ops {
	const char *progname;	/* "gatehouse-resolver": prefixes diagnostics */
	const char *name;	/* "resolver": names the writer in audit lines and metrics */
	const char *summary;	/* what --help says the daemon does */
	enum sandbox_daemon sandbox;
	int keep_bind;		/* keep CAP_NET_BIND_SERVICE after the privilege drop */
	uint16_t metrics_port_offset;	/* serve metrics on `metrics`'s port plus this */

	/* Open the daemon's own sockets and state. Called once, with d->base, d->cfg,
	 * d->audit and d->ifaces ready, before metrics, the privilege drop and the sandbox.
	 * 0, or -1 with err (the frame exits with it). */
	int (*start)(struct daemon *d, char *err, size_t errlen);
	/* A configuration a reload loaded, before it is taken: -1 with err refuses it and
	 * the running one stays. NULL: nothing to check. */
	int (*prepare)(struct daemon *d, const struct config *nc, char *err, size_t errlen);
	/* d->cfg is the reloaded configuration now (old stays valid during the call): take
	 * it, and warn about the daemon's own settings that change only at the next start
	 * (the frame warns about audit, metrics and user). */
	void (*reload)(struct daemon *d, const struct config *old);
	/* The running configuration in a few words ("2 rules, ...") for the line a reload
	 * logs: "configuration reloaded: TEXT". */
	void (*describe)(const struct daemon *d, char *buf, size_t len);
	/* Log the start-up line(s); as_user is ", running as USER" after a privilege drop,
	 * else "". */
	void (*started)(const struct daemon *d, const char *as_user);
	/* Append the daemon's own metric families to p (the frame writes the common ones). */
	void (*metrics)(const struct daemon *d, struct prom *p);
	/* Free what start made; the frame frees its own parts after. */
	void (*stop)(struct daemon *d);
};

struct daemon_args {
	const char *config;	/* -c FILE, or NULL */
	int check;		/* --check: validate, print the effective config, exit */
	int verbose;		/* -v (repeatable): debug diagnostics */
};

/* The frame's state. The daemon reads base, cfg, audit, ifaces and arg; the rest is the
 * frame's own. */
struct daemon {
	const struct daemon_ops *ops;
	void *arg;			/* the daemon's own state, as passed to daemon_main */
	struct event_base *base;
	struct config *cfg;		/* the running configuration (the frame's reference;
					 * take one to keep it past a reload) */
	struct audit *audit;
	struct iface_table *ifaces;	/* refreshed on a timer and after each reload */

	struct daemon_args args;
	struct httpd *httpd;
	struct reload_stats reloads;
	struct event *sig[4], *tick, *iface_timer;
};

/*
 * The whole life of a daemon: parse the command line, load the configuration and run
 * the pre-flight (--check: print it and return), start (fatal on any error), run the
 * event loop until SIGTERM or SIGINT, stop. Returns the exit status.
 */
int daemon_main(int argc, char **argv, const struct daemon_ops *ops, void *arg);

#endif
