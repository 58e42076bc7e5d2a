/* test_preflight.c: common/preflight.c: each check that makes --check fail where a start
 * would (user, audit path, listener clashes, upstream loop) and each warning, with the
 * exact message; the machine's resolv.conf is replaced by files the test writes. */
#include <errno.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "iface.h"
#include "preflight.h"
#include "util.h"

#include "tmpdir.h"

#define NAME "t.conf"

static char resolvconf[128], err[2048];
static struct iface_table *ifaces;
static char *warnings;

/* Write resolvconf with these lines. */
static void
write_resolvconf(const char *text)
{
	FILE *f = fopen(resolvconf, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Parse text (and env), then run the pre-flight as uid euid, for --check when checking,
 * with kube as KUBERNETES_SERVICE_HOST: its return value; err and warnings hold what it
 * said. */
static int
check_as(const char *text, char *const *env, unsigned euid, int checking, const char *kube)
{
	struct preflight_env pe;
	struct config *c = NULL;
	int rc;

	free(warnings);
	warnings = NULL;
	memset(err, 0, sizeof(err));
	if (config_parse(NAME, text, strlen(text), env, &c, err, sizeof(err)) != 0)
		fail_msg("parse failed: %s\n%s", err, text);
	memset(&pe, 0, sizeof(pe));
	pe.resolvconf = resolvconf;
	pe.ifaces = ifaces;
	pe.euid = euid;
	pe.checking = checking;
	pe.kubernetes = kube;
	rc = preflight_check(c, &pe, &warnings, err, sizeof(err));
	config_unref(c);
	return rc;
}

static int
check_env(const char *text, char *const *env, unsigned euid)
{
	return check_as(text, env, euid, 0, NULL);
}

static int
check(const char *text)
{
	return check_env(text, NULL, 0);
}

/* rc 0 and exactly these warnings (NULL: none). */
static void
assert_ok(const char *text, const char *want_warnings)
{
	int rc = check(text);

	if (rc != 0)
		fail_msg("refused: %s\n--- input:\n%s", err, text);
	if ((want_warnings == NULL) != (warnings == NULL) ||
	    (warnings != NULL && strcmp(warnings, want_warnings) != 0))
		fail_msg("warnings \"%s\"\n   want \"%s\"", warnings ? warnings : "(none)",
		    want_warnings ? want_warnings : "(none)");
}

static void
assert_error(const char *text, const char *want)
{
	int rc = check(text);

	if (rc != -1 || strcmp(err, want) != 0)
		fail_msg("rc %d err \"%s\"\n   want \"%s\"\n--- input:\n%s", rc, err, want, text);
	assert_null(warnings);
}

#define OK_BASE "allow a.example 443\ndns-listen 127.0.0.1:5353\nuser root\n"

/* ---- user ---- */

static void
test_user(void **state)
{
	char *env[] = { "GATEHOUSE_USER=no-such-user-gh", NULL };

	(void)state;
	assert_ok(OK_BASE, NULL);
	assert_error("allow a.example 443\ndns-listen 127.0.0.1:5353\n\nuser no-such-user-gh\n",
	    NAME ":4: user 'no-such-user-gh': no such user: the daemons switch to it when started "
	    "as root; name a user of this system");
	/* whatever the uid the daemon starts as: --check and a start agree */
	assert_int_equal(check_env("allow a.example 443\ndns-listen 127.0.0.1:5353\n", env, 1000),
	    -1);
	assert_string_equal(err, "GATEHOUSE_USER: user 'no-such-user-gh': no such user: the "
	    "daemons switch to it when started as root; name a user of this system");
	if (getpwnam("nobody") != NULL)
		assert_ok("allow a.example 443\ndns-listen 127.0.0.1:5353\n", NULL);	/* default */
}

/* ---- audit ---- */

static void
test_audit(void **state)
{
	char text[1024], want[1024], path[256];
	FILE *f;

	(void)state;
	/* stdout, stderr, off: nothing to check */
	assert_ok(OK_BASE "audit off\n", NULL);
	assert_ok(OK_BASE "audit stderr\n", NULL);
	/* a file in a writable directory, existing or not */
	snprintf(text, sizeof(text), OK_BASE "audit %s/new.log\n", tmpdir);
	assert_ok(text, NULL);
	snprintf(path, sizeof(path), "%s/old.log", tmpdir);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	snprintf(text, sizeof(text), OK_BASE "audit %s\n", path);
	assert_ok(text, NULL);
	/* the directory missing */
	snprintf(text, sizeof(text), OK_BASE "\naudit %s/missing/a.log\n", tmpdir);
	snprintf(want, sizeof(want), NAME ":5: audit %s/missing/a.log: the directory %s/missing "
	    "does not exist: create it (writable by the daemons' user) or write audit stdout",
	    tmpdir, tmpdir);
	assert_error(text, want);
	/* a file where the directory should be */
	snprintf(text, sizeof(text), OK_BASE "audit %s/x.log\n", path);
	snprintf(want, sizeof(want), NAME ":4: audit %s/x.log: %s is not a directory", path, path);
	assert_error(text, want);
	/* a directory where the file should be */
	snprintf(text, sizeof(text), OK_BASE "audit %s\n", tmpdir);
	snprintf(want, sizeof(want), NAME ":4: audit %s: is a directory; name a file in it",
	    tmpdir);
	assert_error(text, want);
	/* from the environment */
	{
		char var[300], *env[] = { var, NULL };

		snprintf(var, sizeof(var), "GATEHOUSE_AUDIT=%s/missing/a.log", tmpdir);
		assert_int_equal(check_env(OK_BASE, env, 0), -1);
		assert_non_null(strstr(err, "GATEHOUSE_AUDIT: audit "));
	}
}

/* The checks of test_audit_not_writable, as the current (non-root) user; the number of
 * mismatches, printed. Plain code, no cmocka asserts: it may run in a forked child. */
static int
not_writable_checks(void)
{
	char text[1024], want[1024], dir[256], path[300];
	int bad = 0;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/ro-%u", tmpdir, (unsigned)geteuid());
	snprintf(path, sizeof(path), "%s/exists.log", dir);
	if (mkdir(dir, 0755) == -1 || (f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "setup: %s\n", strerror(errno));
		return 1;
	}
	fclose(f);
	if (chmod(path, 0444) == -1 || chmod(dir, 0555) == -1)
		return 1;
	snprintf(text, sizeof(text), OK_BASE "audit %s/new.log\n", dir);
	snprintf(want, sizeof(want), NAME ":4: audit %s/new.log: the file does not exist and the "
	    "directory %s is not writable by this process (uid %u), so it cannot be created", dir,
	    dir, (unsigned)geteuid());
	if (check_env(text, NULL, (unsigned)geteuid()) != -1 || strcmp(err, want) != 0) {
		fprintf(stderr, "got \"%s\"\nwant \"%s\"\n", err, want);
		bad++;
	}
	snprintf(text, sizeof(text), OK_BASE "audit %s\n", path);
	snprintf(want, sizeof(want), NAME ":4: audit %s: not writable by this process (uid %u): "
	    "Permission denied", path, (unsigned)geteuid());
	if (check_env(text, NULL, (unsigned)geteuid()) != -1 || strcmp(err, want) != 0) {
		fprintf(stderr, "got \"%s\"\nwant \"%s\"\n", err, want);
		bad++;
	}
	chmod(dir, 0755);
	return bad;
}

/* Not writable by this process. Root may write anything, so as root the checks run in a
 * child that has become `nobody`. */
static void
test_audit_not_writable(void **state)
{
	struct passwd *pw;
	pid_t pid;
	int status = 0;

	(void)state;
	if (geteuid() != 0) {
		assert_int_equal(not_writable_checks(), 0);
		return;
	}
	if ((pw = getpwnam("nobody")) == NULL)
		skip();
	fflush(NULL);
	if ((pid = fork()) == 0) {
		if (setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1)
			_exit(2);
		_exit(not_writable_checks() == 0 ? 0 : 1);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Started as root with a non-root user: a directory that user cannot write breaks the
 * reopen after a rotation. A warning, not an error: the start itself works. */
static void
test_audit_rotation_warning(void **state)
{
	char text[1024], want[2048], dir[256], path[300];
	struct passwd *pw = getpwnam("nobody");
	FILE *f;

	(void)state;
	if (geteuid() != 0 || pw == NULL)
		skip();		/* needs chown, and a user that is not root */
	snprintf(dir, sizeof(dir), "%s/rot", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);		/* root's, not nobody's */
	snprintf(text, sizeof(text), "allow a.example 8443\ndns-listen 127.0.0.1:5353\nuser nobody\n"
	    "audit %s/a.log\n", dir);
	snprintf(want, sizeof(want), NAME ":4: audit %s/a.log: the directory %s is not writable by "
	    "user nobody, which the daemons run as after start: after a rotation (rename, then "
	    "SIGHUP or SIGUSR1) the file cannot be created again and audit lines are dropped; make "
	    "%s writable by nobody\n", dir, dir, dir);
	assert_ok(text, want);
	/* the user's own directory: fine */
	assert_int_equal(chown(dir, pw->pw_uid, pw->pw_gid), 0);
	assert_ok(text, NULL);
	/* ... but a file in it that the user cannot write: a reopen fails */
	snprintf(path, sizeof(path), "%s/a.log", dir);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_int_equal(chmod(path, 0644), 0);		/* root's */
	snprintf(want, sizeof(want), NAME ":4: audit %s: the file is not writable by user nobody, "
	    "which the daemons run as after start: a reopen (SIGHUP or SIGUSR1) fails; give it to "
	    "nobody\n", path);
	assert_ok(text, want);
	/* not started as root: no privilege drop, nothing to warn about */
	assert_int_equal(check_env(text, NULL, 1000), 0);
	assert_null(warnings);
}

/* ---- listeners ---- */

static void
test_listeners(void **state)
{
	(void)state;
	/* the forwarder on the resolver's port */
	assert_error("allow a.example 53\nuser root\n", NAME ":1: the forwarder would listen on "
	    "0.0.0.0:53 for a.example, where the resolver listens (dns-listen 0.0.0.0:53, the "
	    "default): both daemons run in one network namespace, so one would fail to start; use "
	    "another port");
	assert_error("allow a.example 443\nallow b.example 5353\ndns-listen 127.0.0.1:5353\n"
	    "forward-listen 127.0.0.1\nuser root\n", NAME ":2: the forwarder would listen on "
	    "127.0.0.1:5353 for b.example, where the resolver listens (dns-listen 127.0.0.1:5353, "
	    NAME ":3): both daemons run in one network namespace, so one would fail to start; use "
	    "another port");
	/* different addresses of one family: no clash */
	assert_ok("allow a.example 53\ndns-listen 127.0.0.1:53\nforward-listen 127.0.0.2\n"
	    "user root\n", NULL);
	/* metrics: the resolver's port and the forwarder's PORT+1 */
	assert_error(OK_BASE "metrics 127.0.0.1:442\n", NAME ":1: the forwarder would listen on "
	    "0.0.0.0:443 for a.example, where the forwarder's metrics (PORT+1) listens (metrics "
	    "127.0.0.1:443, " NAME ":4): both daemons run in one network namespace, so one would "
	    "fail to start; use another port");
	assert_error(OK_BASE "metrics 127.0.0.1:5352\n", NAME ":4: the forwarder's metrics "
	    "(PORT+1) would listen on 127.0.0.1:5353, where the resolver listens (dns-listen "
	    "127.0.0.1:5353, " NAME ":2): one of them would fail to start; use another port");
	assert_error(OK_BASE "metrics 0.0.0.0:5353\n", NAME ":4: the resolver's metrics would "
	    "listen on 0.0.0.0:5353, where the resolver listens (dns-listen 127.0.0.1:5353, "
	    NAME ":2): one of them would fail to start; use another port");
	assert_ok(OK_BASE "metrics 127.0.0.1:9100\n", NULL);
	/* forward-listen addresses that overlap */
	assert_error(OK_BASE "forward-listen 0.0.0.0 127.0.0.1\n", NAME ":4: forward-listen "
	    "0.0.0.0 and 127.0.0.1 overlap (a wildcard covers the other, or one is written twice): "
	    "the second bind of each port would fail; list each address once");
	assert_error(OK_BASE "forward-listen ::1 ::1\n", NAME ":4: forward-listen ::1 and ::1 "
	    "overlap (a wildcard covers the other, or one is written twice): the second bind of "
	    "each port would fail; list each address once");
	assert_ok(OK_BASE "forward-listen 0.0.0.0 ::\n", NULL);		/* one per family */
	/* dns-listen written twice */
	assert_error("allow a.example 443\ndns-listen 127.0.0.1:5353 0.0.0.0:5353\nuser root\n",
	    NAME ":2: the resolver would listen on 0.0.0.0:5353, where the resolver listens "
	    "(dns-listen 127.0.0.1:5353, " NAME ":2): one of them would fail to start; use another "
	    "port");
}

/* ---- upstream ---- */

static void
test_upstream(void **state)
{
	(void)state;
	write_resolvconf("nameserver 198.51.100.53\n");
	assert_error("allow a.example 443\ndns-listen 127.0.0.1:5353\nupstream 127.0.0.1:5353\n"
	    "user root\n", NAME ":3: upstream DNS server 127.0.0.1:5353 is this gateway's own "
	    "resolver (dns-listen 127.0.0.1:5353, " NAME ":2): the forwarder's lookups would loop; "
	    "set `upstream` to a real DNS server");
	/* a wildcard dns-listen takes every address the machine has (127.0.0.1 on lo) */
	assert_error("allow a.example 443\ndns-listen 0.0.0.0:5353\nupstream 9.9.9.9 "
	    "127.0.0.1:5353\nuser root\n", NAME ":3: upstream DNS server 127.0.0.1:5353 is this "
	    "gateway's own resolver (dns-listen 0.0.0.0:5353, " NAME ":2): the forwarder's lookups "
	    "would loop; set `upstream` to a real DNS server");
	/* Docker's embedded DNS (127.0.0.11) is not an address of lo, only in its range */
	assert_ok("allow a.example 443\ndns-listen 0.0.0.0:53\nupstream 127.0.0.11\nuser root\n",
	    NULL);
	/* another port, or another address: fine */
	assert_ok("allow a.example 443\ndns-listen 127.0.0.1:5353\nupstream 127.0.0.1\nuser root\n",
	    NULL);
	/* `upstream system`: the servers c-ares reads from resolv.conf */
	assert_ok("allow a.example 443\ndns-listen 0.0.0.0:53\nuser root\n", NULL);
	write_resolvconf("# gateway\nsearch corp.test\nnameserver 198.51.100.53\n"
	    "nameserver 127.0.0.1\n");
	{
		char want[1024];

		snprintf(want, sizeof(want), "upstream (the default): the system resolver "
		    "127.0.0.1:53 (%s) is this gateway's own resolver (dns-listen 0.0.0.0:53, "
		    NAME ":2): the forwarder's lookups would loop; set `upstream` to a real DNS server",
		    resolvconf);
		assert_error("allow a.example 443\ndns-listen 0.0.0.0:53\nuser root\n", want);
		/* a resolv.conf naming no server: c-ares asks 127.0.0.1, like the forwarder */
		write_resolvconf("# empty\n");
		assert_error("allow a.example 443\ndns-listen 0.0.0.0:53\nuser root\n", want);
	}
	write_resolvconf("nameserver 198.51.100.53\n");
}

/* The number a one-line file (a sysctl) holds, or dflt when it cannot be read. */
static unsigned
file_uint(const char *path, unsigned dflt)
{
	FILE *f = fopen(path, "r");
	unsigned v;
	int ok = f != NULL && fscanf(f, "%u", &v) == 1;

	if (f != NULL)
		fclose(f);
	return ok ? v : dflt;
}

/* ---- warnings ---- */

static void
test_warnings(void **state)
{
	(void)state;
	write_resolvconf("nameserver 198.51.100.53\n");
	assert_ok("dns-listen 127.0.0.1:5353\nuser root\n", "the allowlist is empty: every name is "
	    "answered NXDOMAIN and nothing is forwarded\n");
	/* deny rules alone allow nothing */
	assert_ok("deny a.example\ndns-listen 127.0.0.1:5353\nuser root\n", "the allowlist is "
	    "empty: every name is answered NXDOMAIN and nothing is forwarded\n");
	assert_ok("allow a.example 443\ndns-listen 198.51.100.1:53\nforward-listen 198.51.100.1\n"
	    "metrics 198.51.100.1:9100\nuser root\n",
	    NAME ":2: dns-listen 198.51.100.1:53: no interface of this machine has this address, so "
	    "binding it fails here (fine when --check runs outside the gateway)\n"
	    NAME ":3: forward-listen 198.51.100.1: no interface of this machine has this address, "
	    "so binding it fails here (fine when --check runs outside the gateway)\n"
	    NAME ":4: metrics 198.51.100.1:9100: no interface of this machine has this address, so "
	    "binding it fails here (fine when --check runs outside the gateway)\n");
	/* loopback addresses other than 127.0.0.1 bind: no warning */
	assert_ok("allow a.example 443\ndns-listen 127.0.0.53:5353\nforward-listen 127.0.0.2\n"
	    "user root\n", NULL);
	/* a low port when not root */
	{
		unsigned start = file_uint("/proc/sys/net/ipv4/ip_unprivileged_port_start", 1024);

		assert_int_equal(check_env("allow a.example 443\ndns-listen 127.0.0.1:5353\n"
		    "user root\n", NULL, 1000), 0);
		if (start > 443) {
			char want[512];

			snprintf(want, sizeof(want), "port 443 is below "
			    "net.ipv4.ip_unprivileged_port_start (%u) and this process is not root: "
			    "binding it fails unless it has CAP_NET_BIND_SERVICE (Docker sets the sysctl "
			    "to 0 in containers)\n", start);
			assert_non_null(warnings);
			assert_string_equal(warnings, want);
		} else
			assert_null(warnings);
	}
}

static int
setup(void **state)
{
	(void)state;
	if (tmpdir_make("preflight") == -1)
		return -1;
	chmod(tmpdir, 01777);	/* test_audit_not_writable's child (nobody) makes a directory */
	snprintf(resolvconf, sizeof(resolvconf), "%s/resolv.conf", tmpdir);
	write_resolvconf("nameserver 198.51.100.53\n");
	if ((ifaces = iface_new()) == NULL || iface_refresh(ifaces) == -1)
		return -1;
	return 0;
}

/* ---- answer pool ---- */

/* The kernel is asked for real: 127/8 is local on every Linux host, TEST-NET-1
 * (192.0.2.0/24) on none. */
static void
test_pool(void **state)
{
	static const char local[] = OK_BASE "answer pool 127.88.0.0/29\n";
	static const char remote[] = OK_BASE "answer pool 192.0.2.0/29\n";
	static const char want[] = "answer pool 192.0.2.0/29: 192.0.2.1 is not local to this host: "
	    "run \"ip route add local 192.0.2.0/29 dev IFACE table local\" at start (it needs "
	    "CAP_NET_ADMIN; the image's entrypoint does it when the container has cap_add: "
	    "[NET_ADMIN])";
	char line[sizeof(want) + 1];

	(void)state;
	write_resolvconf("nameserver 192.0.2.53\n");
	assert_int_equal(check_as(local, NULL, 0, 0, NULL), 0);
	assert_null(warnings);
	assert_int_equal(check_as(remote, NULL, 0, 0, NULL), -1);
	assert_string_equal(err, want);
	assert_int_equal(check_as(remote, NULL, 0, 1, NULL), 0);	/* --check: a warning */
	snprintf(line, sizeof(line), "%s\n", want);
	assert_non_null(warnings);
	assert_non_null(strstr(warnings, line));
	assert_int_equal(check_as(local, NULL, 0, 1, "10.96.0.1"), -1);
	assert_string_equal(err, "answer pool 127.88.0.0/29: not in Kubernetes "
	    "(KUBERNETES_SERVICE_HOST is set): clients reach the gateway through one Service "
	    "address, and pool addresses route to no pod; answer the Service's address there "
	    "(answer ADDR)");
	assert_int_equal(check_as(OK_BASE, NULL, 0, 0, "10.96.0.1"), 0);	/* answer auto: fine */
}

/* ---- stub zones ---- */

/* A server that is this host on a port the resolver listens on is the resolver: the
 * kernel is asked (127.0.0.7 is local, 192.0.2.1 is not). */
static void
test_stub_zone_loop(void **state)
{
	(void)state;
	write_resolvconf("nameserver 192.0.2.53\n");
	assert_error("allow a.example 443\ndns-listen 0.0.0.0:5353\nuser root\n"
	    "stub-zone cluster.local 127.0.0.7:5353\n",
	    NAME ":4: stub-zone cluster.local: server 127.0.0.7:5353 is this host, where the "
	    "resolver itself listens (dns-listen 0.0.0.0:5353): name the zone's own server");
	assert_ok(OK_BASE "stub-zone cluster.local 127.0.0.7:5354\n", NULL);	/* other port */
	assert_ok(OK_BASE "stub-zone cluster.local 127.0.0.7:5353\n", NULL);	/* bound to .1 */
	assert_ok("allow a.example 443\ndns-listen 0.0.0.0:5353\nuser root\n"
	    "stub-zone cluster.local 192.0.2.1:5353\n", NULL);			/* not this host */
}

static int
teardown(void **state)
{
	(void)state;
	free(warnings);
	iface_free(ifaces);
	return tmpdir_remove();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user),
		cmocka_unit_test(test_audit),
		cmocka_unit_test(test_audit_not_writable),
		cmocka_unit_test(test_audit_rotation_warning),
		cmocka_unit_test(test_listeners),
		cmocka_unit_test(test_upstream),
		cmocka_unit_test(test_warnings),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_stub_zone_loop),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
