/* daemon.c: the frame both daemons run in (see daemon.h): command line, configuration,
 * start-up order, signals, reload, timers, metrics, privilege drop, sandbox.
 *
 * The one file in common/ that logs (log.h) and exits on an error: it is the daemons'
 * frame, not a library. Every other file in common/ returns its errors to the caller
 * (log.c is the logger itself; sandbox.c's SIGSYS handler writes one last line as the
 * filter ends the process, and so does its SIGUSR2 hook in test builds). */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "preflight.h"
#include "util.h"

#ifndef GATEHOUSE_VERSION
#define GATEHOUSE_VERSION "unknown"
#endif

extern char **environ;

static struct log_rate audit_rl = LOG_RATE_INIT(3, 60);

/* ---- the command line ---- */

static void
usage(FILE *f, const char *progname, const char *summary)
{
	fprintf(f,
	    "usage: %s [-c FILE] [--check] [-v] [--help] [--version]\n"
	    "%s\n\n"
	    "  -c FILE     configuration file (default $GATEHOUSE_CONFIG, else\n"
	    "              " CONFIG_DEFAULT_PATH ", which may be missing when\n"
	    "              GATEHOUSE_* variables configure everything)\n"
	    "  --check     check the configuration and what a start needs (user, audit path,\n"
	    "              ports, upstream), print it as understood, exit (0: ok, "
	    UTIL_STR(EXIT_CONFIG) ": not)\n"
	    "  -v          debug diagnostics on stderr (repeat for more)\n"
	    "  --help      this text\n"
	    "  --version   the version\n\n"
	    "Signals: SIGHUP reopens an audit file and reloads the configuration (a bad one\n"
	    "is refused and the old one kept), SIGUSR1 only reopens the audit file,\n"
	    "SIGTERM/SIGINT exit.\n"
	    "Manual: man 8 %s; the configuration: man 5 gatehouse.conf.\n",
	    progname, summary, progname);
}

/* --help and --version print to stdout and return 1 (exit 0); a usage error prints to
 * stderr and returns -1 (exit EXIT_CONFIG); 0: go on. */
static int
parse_args(int argc, char **argv, const char *progname, const char *summary,
    struct daemon_args *args)
{
	int i;

	memset(args, 0, sizeof(*args));
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout, progname, summary);
			return 1;
		} else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
			printf("%s %s\n", progname, GATEHOUSE_VERSION);
			return 1;
		} else if (strcmp(a, "--check") == 0 || strcmp(a, "-t") == 0) {
			args->check = 1;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			args->verbose++;
		} else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "%s: %s needs a file name\n", progname, a);
				return -1;
			}
			args->config = argv[++i];
		} else {
			fprintf(stderr, "%s: unknown argument '%s'\n", progname, a);
			usage(stderr, progname, summary);
			return -1;
		}
	}
	return 0;
}

/* ---- privileges and descriptors ---- */

static int
keep_net_bind(char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr;
	struct __user_cap_data_struct data[2];

	memset(&hdr, 0, sizeof(hdr));
	memset(data, 0, sizeof(data));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	data[0].permitted = data[0].effective = 1u << CAP_NET_BIND_SERVICE;
	if (syscall(SYS_capset, &hdr, data) == -1) {
		snprintf(err, errlen, "capset: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Make sure descriptors 0, 1 and 2 are open (on /dev/null when they were closed), so no
 * socket or file the daemon opens lands on one of them and gets written to as stdout. */
static void
open_stdio(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
			int n = open("/dev/null", O_RDWR);

			if (n != -1 && n != fd) {	/* cannot happen: the lowest free is fd */
				dup2(n, fd);
				close(n);
			}
		}
	}
}

/* Started as root: switch to user (its uid, gid and no supplementary groups). When
 * keep_bind is set, keep CAP_NET_BIND_SERVICE (and nothing else) so ports under 1024 can
 * still be opened after a reload. Not root: nothing to do. 1 when it dropped, 0 when
 * there was nothing to do, -1 with err. */
static int
drop_privileges(const char *user, int keep_bind, char *err, size_t errlen)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "user '%s': %s", user, errno ? strerror(errno) : "no such user");
		return -1;
	}
	if (pw->pw_uid == 0)
		return 0;	/* `user root`: asked to keep root */
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1) {
		snprintf(err, errlen, "dropping to group %u: %s", (unsigned)pw->pw_gid, strerror(errno));
		return -1;
	}
	if (keep_bind && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1) {
		snprintf(err, errlen, "prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
		return -1;
	}
	if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		snprintf(err, errlen, "dropping to user %s: %s", user, strerror(errno));
		return -1;
	}
	if (keep_bind && keep_net_bind(err, errlen) == -1)
		return -1;
	if (setuid(0) == 0) {
		snprintf(err, errlen, "privileges could be regained after the drop");
		return -1;
	}
	return 1;
}

/* ---- the configuration ---- */

/* Each line of s as a warning. */
static void
log_lines(const char *s)
{
	const char *nl;

	while (s != NULL && (nl = strchr(s, '\n')) != NULL) {
		log_warnx("%.*s", (int)(nl - s), s);
		s = nl + 1;
	}
}

/* The pre-flight (preflight.h), with cfg's own warnings and the pre-flight's logged. 0,
 * or -1 with err. */
static int
run_preflight(const struct config *cfg, int checking, char *err, size_t errlen)
{
	struct preflight_env env;
	char *warnings = NULL;

	log_lines(cfg->warnings);
	preflight_env_default(&env);
	env.checking = checking;
	if (preflight_check(cfg, &env, &warnings, err, errlen) == -1)
		return -1;
	log_lines(warnings);
	free(warnings);
	return 0;
}

/* --check after a pre-flight that passed: the effective configuration on stdout, then
 * "PROGNAME: configuration ok (FILE, N rules, ...)" on stderr. */
static void
print_check(const struct config *cfg, const char *progname)
{
	char ports[600];

	config_print(cfg, stdout);
	fflush(stdout);
	config_ports_summary(cfg, ports, sizeof(ports));
	fprintf(stderr, "%s: configuration ok (%s, %zu rules, %s)\n", progname,
	    cfg->path ? cfg->path : "environment only", policyset_rule_count(cfg->policies), ports);
}

/* Load d->cfg and run the same checks for --check and a start, so that what --check
 * passes starts. -1 to go on starting, else the exit status (--check, or an error). */
static int
load_checked(struct daemon *d)
{
	const char *prog = d->ops->progname;
	char err[1024];

	if (config_load(d->args.config, environ, &d->cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return EXIT_CONFIG;
	}
	if (run_preflight(d->cfg, d->args.check, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", prog, err);
		config_unref(d->cfg);
		return EXIT_CONFIG;
	}
	if (d->args.check) {
		print_check(d->cfg, prog);
		config_unref(d->cfg);
		return 0;
	}
	return -1;
}

/* The settings opened once at start: a reload keeps the running ones. */
static void
warn_restart_only(const struct config *old, const struct config *nc)
{
	if (strcmp(old->audit, nc->audit) != 0)
		log_warnx("reload: audit target changes take effect at the next start");
	if (old->metrics_on != nc->metrics_on || (nc->metrics_on &&
	    !addr_equal((const struct sockaddr *)&old->metrics,
	    (const struct sockaddr *)&nc->metrics, 1)))
		log_warnx("reload: metrics changes take effect at the next start");
	if (strcmp(old->user, nc->user) != 0)
		log_warnx("reload: user changes take effect at the next start");
	if (strcmp(old->lookups_socket, nc->lookups_socket) != 0)	/* both daemons open it */
		log_warnx("reload: lookups-socket changes take effect at the next start");
}

static void
refresh_interfaces(struct daemon *d)
{
	if (iface_refresh(d->ifaces) == -1)
		log_warn("getifaddrs");
}

/* SIGHUP: load the file again; a configuration that fails to load, or that the daemon
 * refuses, leaves the running one in place. */
static void
reload_config(struct daemon *d)
{
	struct config *nc, *old;
	char err[1024], what[700];

	if (config_load(d->args.config, environ, &nc, err, sizeof(err)) == -1) {
		log_warnx("reload refused, the running configuration stays: %s", err);
		d->reloads.failed++;
		return;
	}
	if (d->ops->prepare != NULL && d->ops->prepare(d, nc, err, sizeof(err)) == -1) {
		log_warnx("reload refused, the running configuration stays: %s", err);
		d->reloads.failed++;
		config_unref(nc);
		return;
	}
	d->reloads.ok++;
	log_lines(nc->warnings);
	warn_restart_only(d->cfg, nc);
	audit_set_rate(d->audit, nc->audit_rate);
	old = d->cfg;
	d->cfg = nc;		/* new work uses it; what holds a reference keeps the old */
	d->ops->reload(d, old);
	config_unref(old);
	refresh_interfaces(d);
	d->ops->describe(d, what, sizeof(what));
	log_info("configuration reloaded: %s", what);
}

/* ---- the event loop's own events ---- */

static void
reopen_audit(struct daemon *d, int quiet)
{
	char err[512];

	if (audit_reopen(d->audit, err, sizeof(err)) == -1)
		log_warnx("reopen: %s; still writing to the old file", err);
	else if (!quiet)
		log_info("audit file reopened");
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	switch (sig) {
	case SIGHUP:		/* logrotate's usual postrotate: reopen and reload */
		reopen_audit(d, 1);
		reload_config(d);
		break;
	case SIGUSR1:
		reopen_audit(d, 0);
		break;
	default:
		log_info("exiting on signal %d", (int)sig);
		event_base_loopbreak(d->base);
		break;
	}
}

/* Once a second: the audit stream's held-back counts, and what is batched. */
static void
audit_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	audit_tick(d->audit);
	if (audit_flush(d->audit) == -1)
		log_warn_rl(&audit_rl, "audit write to %s failed; lines are counted as dropped",
		    audit_target(d->audit));
}

static void
iface_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	refresh_interfaces(arg);
}

static struct event *
add_signal(struct daemon *d, int sig)
{
	struct event *ev = evsignal_new(d->base, sig, signal_cb, d);

	if (ev == NULL || event_add(ev, NULL) == -1)
		fatalx("cannot watch signal %d", sig);
	return ev;
}

static struct event *
add_timer(struct daemon *d, int sec, event_callback_fn cb)
{
	struct timeval tv = { sec, 0 };
	struct event *ev = event_new(d->base, -1, EV_PERSIST, cb, d);

	if (ev == NULL || event_add(ev, &tv) == -1)
		fatalx("cannot add a timer");
	return ev;
}

/* ---- metrics ---- */

static void
fill_metrics(struct prom *p, void *arg)
{
	struct daemon *d = arg;

	httpd_common_metrics(p, d->ops->name, policyset_rule_count(d->cfg->policies),
	    audit_stats(d->audit), &d->reloads);
	d->ops->metrics(d, p);
}

static void
start_metrics(struct daemon *d)
{
	struct sockaddr_storage sa = d->cfg->metrics;
	char err[512];

	if (!d->cfg->metrics_on)
		return;
	addr_set_port((struct sockaddr *)&sa, (uint16_t)(addr_port((struct sockaddr *)&sa) +
	    d->ops->metrics_port_offset));
	d->httpd = httpd_start(d->base, (struct sockaddr *)&sa, fill_metrics, d, err, sizeof(err));
	if (d->httpd == NULL)
		fatalx("%s", err);
}

/* ---- start and stop ---- */

/* In this order: what the daemon serves is open before the privilege drop, and the
 * sandbox comes last, right before the loop (sandbox.h). */
static void
start_daemon(struct daemon *d)
{
	const struct config *c = d->cfg;
	char err[1024], as_user[300];
	int dropped;

	signal(SIGPIPE, SIG_IGN);
	if ((d->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if ((d->ifaces = iface_new()) == NULL)
		fatalx("out of memory");
	if (iface_refresh(d->ifaces) == -1)
		fatal("getifaddrs");
	if ((d->audit = audit_open(c->audit, d->ops->name, c->audit_rate, err,
	    sizeof(err))) == NULL)
		fatalx("%s", err);
	if (d->ops->start(d, err, sizeof(err)) == -1)
		fatalx("%s", err);
	start_metrics(d);
	if ((dropped = drop_privileges(c->user, d->ops->keep_bind, err, sizeof(err))) == -1)
		fatalx("%s", err);
	d->sig[0] = add_signal(d, SIGHUP);
	d->sig[1] = add_signal(d, SIGUSR1);
	d->sig[2] = add_signal(d, SIGTERM);
	d->sig[3] = add_signal(d, SIGINT);
	d->tick = add_timer(d, 1, audit_tick_cb);
	d->iface_timer = add_timer(d, DAEMON_IFACE_REFRESH_SEC, iface_timer_cb);
	snprintf(as_user, sizeof(as_user), "%s%s", dropped == 1 ? ", running as " : "",
	    dropped == 1 ? c->user : "");
	d->ops->started(d, as_user);
	if (!c->sandbox)
		log_warnx("sandbox off: no seccomp filter (for debugging only)");
	else if (sandbox_enter(d->ops->sandbox, c, err, sizeof(err)) == -1)
		fatalx("%s", err);
}

static void
stop_daemon(struct daemon *d)
{
	size_t i;

	for (i = 0; i < NELEM(d->sig); i++)
		event_free(d->sig[i]);
	event_free(d->tick);
	event_free(d->iface_timer);
	httpd_stop(d->httpd);
	d->ops->stop(d);
	audit_close(d->audit);
	iface_free(d->ifaces);
	config_unref(d->cfg);
	event_base_free(d->base);
}

int
daemon_main(int argc, char **argv, const struct daemon_ops *ops, void *arg)
{
	struct daemon d;
	int rc;

	memset(&d, 0, sizeof(d));
	d.ops = ops;
	d.arg = arg;
	open_stdio();
	if ((rc = parse_args(argc, argv, ops->progname, ops->summary, &d.args)) != 0)
		return rc == 1 ? 0 : EXIT_CONFIG;
	log_init(ops->progname, d.args.verbose);
	if ((rc = load_checked(&d)) != -1)
		return rc;
	start_daemon(&d);
	event_base_dispatch(d.base);
	stop_daemon(&d);
	return 0;
}
