/* daemon.c: start-up shared by both daemons: the command line and the privilege drop. */
#include "daemon.h"

#include "log.h"
#include "preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static void log_lines(const char *s);

#ifndef GATEHOUSE_VERSION
#define GATEHOUSE_VERSION "unknown"
#endif

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
	    "              ports, upstream), print it as understood, exit (0: ok, 2: not)\n"
	    "  -v          debug diagnostics on stderr (repeat for more)\n"
	    "  --help      this text\n"
	    "  --version   the version\n\n"
	    "Signals: SIGHUP reopens an audit file and reloads the configuration (a bad one\n"
	    "is refused and the old one kept), SIGUSR1 only reopens the audit file,\n"
	    "SIGTERM/SIGINT exit.\n"
	    "Manual: man 8 %s; the configuration: man 5 gatehouse.conf.\n",
	    progname, summary, progname);
}

int
daemon_parse_args(int argc, char **argv, const char *progname, const char *summary,
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

void
daemon_stdio(void)
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

int
daemon_drop_privileges(const char *user, int keep_bind, char *err, size_t errlen)
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

void
daemon_log_warnings(const struct config *cfg)
{
	log_lines(cfg->warnings);
}

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

int
daemon_preflight(const struct config *cfg, char *err, size_t errlen)
{
	struct preflight_env env;
	char *warnings = NULL;

	daemon_log_warnings(cfg);
	preflight_env_default(&env);
	if (preflight_check(cfg, &env, &warnings, err, errlen) == -1)
		return -1;
	log_lines(warnings);
	free(warnings);
	return 0;
}

void
daemon_print_check(const struct config *cfg, const char *progname)
{
	char ports[600];

	config_print(cfg, stdout);
	fflush(stdout);
	config_ports_summary(cfg, ports, sizeof(ports));
	fprintf(stderr, "%s: configuration ok (%s, %zu rules, %s)\n", progname,
	    cfg->path ? cfg->path : "environment only", policy_count(cfg->policy), ports);
}
