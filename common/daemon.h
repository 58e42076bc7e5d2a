/* daemon.h: what both daemons do at start-up: command line, loading the config, privilege drop. */
#ifndef GATEHOUSE_DAEMON_H
#define GATEHOUSE_DAEMON_H

#include <stddef.h>

#include "config.h"

/* Exit statuses shared by both daemons. */
#define EXIT_CONFIG 2		/* bad configuration or usage */

struct daemon_args {
	const char *config;	/* -c FILE, or NULL */
	int check;		/* --check: validate, print the effective config, exit */
	int verbose;		/* -v (repeatable): debug diagnostics */
};

/*
 * Parse the command line. --help and --version print to stdout and return 1 (the
 * caller exits 0); a usage error prints to stderr and returns -1 (exit EXIT_CONFIG).
 * summary is the daemon's one-line description for --help.
 */
int daemon_parse_args(int argc, char **argv, const char *progname, const char *summary,
    struct daemon_args *args);

/*
 * Started as root: switch to user (its uid, gid and no supplementary groups). When
 * keep_bind is set, keep CAP_NET_BIND_SERVICE (and nothing else) so ports under 1024
 * can still be opened after a reload. Not root: nothing to do. 1 when it dropped, 0
 * when there was nothing to do, -1 with err.
 */
int daemon_drop_privileges(const char *user, int keep_bind, char *err, size_t errlen);

/* Make sure descriptors 0, 1 and 2 are open (on /dev/null when they were closed), so no
 * socket or file the daemon opens lands on one of them and gets written to as stdout. */
void daemon_stdio(void);

/* Log each line of cfg->warnings (no-op when none). */
void daemon_log_warnings(const struct config *cfg);

/*
 * The pre-flight both daemons run before starting and for --check (preflight.h: user,
 * audit path, listener clashes, upstream loop), with cfg's own warnings and the
 * pre-flight's logged. 0, or -1 with err (the caller exits EXIT_CONFIG).
 */
int daemon_preflight(const struct config *cfg, char *err, size_t errlen);

/* --check after a pre-flight that passed: the effective configuration on stdout, then
 * "PROGNAME: configuration ok (FILE, N rules, ...)" on stderr. */
void daemon_print_check(const struct config *cfg, const char *progname);

#endif
