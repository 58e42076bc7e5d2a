/* preflight.c: the checks --check and a start share (see preflight.h): user, audit path,
 * listener clashes, an upstream that is the gateway's own resolver, and warnings. */
#include "preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "resolvconf.h"
#include "route.h"
#include "util.h"

#define MAX_SERVERS 32

struct pf {
	const struct config *c;
	const struct preflight_env *env;
	const struct iface_table *ifaces;
	char **warnings;
	char *err;
	size_t errlen;
};

static int fail(struct pf *pf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct pf *pf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(struct pf *pf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pf->err, pf->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Append one line to *pf->warnings (dropped when out of memory: it is only a warning). */
static void
warn(struct pf *pf, const char *fmt, ...)
{
	size_t old = *pf->warnings ? strlen(*pf->warnings) : 0, ml;
	char msg[1024], *nw;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ml = strlen(msg);
	if ((nw = realloc(*pf->warnings, old + ml + 2)) == NULL)
		return;
	memcpy(nw + old, msg, ml);
	nw[old + ml] = '\n';
	nw[old + ml + 1] = '\0';
	*pf->warnings = nw;
}

/* "FILE:LINE" or "GATEHOUSE_X" where setting was written, else "NAME (the default)". */
static const char *
setting_origin(const struct config *c, const char *setting, char *buf, size_t len)
{
	if (!config_origin(c, setting, buf, len))
		snprintf(buf, len, "%s (the default)", setting);
	return buf;
}

/* As origin, but "the default" alone: for "(dns-listen 0.0.0.0:53, the default)". */
static const char *
set_at(const struct config *c, const char *setting, char *buf, size_t len)
{
	if (!config_origin(c, setting, buf, len))
		snprintf(buf, len, "the default");
	return buf;
}

void
preflight_env_default(struct preflight_env *env)
{
	memset(env, 0, sizeof(*env));
	env->euid = (unsigned)geteuid();
	env->kubernetes = getenv("KUBERNETES_SERVICE_HOST");
}

/* ---- stub zones ---- */

/* The dns-listen address a local address sa:port would reach (the same address, or a
 * wildcard of its family), or NULL. */
static const struct sockaddr *
listen_reached(const struct config *c, const struct sockaddr *sa)
{
	size_t i;

	for (i = 0; i < c->dns_listen.n; i++) {
		const struct sockaddr *l = (const struct sockaddr *)&c->dns_listen.v[i];

		if (l->sa_family == sa->sa_family && addr_port(l) == addr_port(sa) &&
		    (addr_is_any(l) || addr_equal(l, sa, 1)))
			return l;
	}
	return NULL;
}

/* A stub zone's server that is this host on a port the resolver listens on is the
 * resolver itself: every query for the zone would come back to it, again and again
 * (the config check catches the same address written twice; this one any address of
 * the host, asked of the kernel, as the pool's). */
static int
check_stub_zones(struct pf *pf)
{
	struct route_probe *rp = NULL;
	size_t i, j;
	int rc = 0;

	for (i = 0; rc == 0 && i < pf->c->nstub_zones; i++) {
		const struct stub_zone *z = &pf->c->stub_zones[i];

		for (j = 0; rc == 0 && j < z->nservers; j++) {
			const struct sockaddr *sa = (const struct sockaddr *)&z->servers[j], *l;
			const char *kind = NULL;
			char a[ADDR_STRLEN], b[ADDR_STRLEN];

			if ((l = listen_reached(pf->c, sa)) == NULL)
				continue;
			if (rp == NULL && (rp = route_probe_open()) == NULL)
				return fail(pf, "stub-zone %s: asking the kernel's routes: %s", z->zone,
				    strerror(errno));
			if (route_probe_kind(rp, sa, &kind) == 0 && kind != NULL &&
			    strcmp(kind, "local") == 0)
				rc = fail(pf, "%s: stub-zone %s: server %s is this host, where the "
				    "resolver itself listens (dns-listen %s): name the zone's own "
				    "server", z->origin, z->zone, addr_format(sa, 1, a, sizeof(a)),
				    addr_format(l, 1, b, sizeof(b)));
		}
	}
	route_probe_close(rp);
	return rc;
}

/* ---- answer pool ---- */

/* The pool needs addresses that reach this host from the clients' network: each one a
 * local address here (the kernel answers ARP for it and accepts connections to it). The
 * first and the last slot are asked, in each family. */
static int
check_pool(struct pf *pf)
{
	const struct pool_net *n = &pf->c->pool;
	char pool[2 * INET6_ADDRSTRLEN + 16], a[INET6_ADDRSTRLEN];
	struct route_probe *rp;
	int rc = 0;

	if (!pf->c->answer_pool)
		return 0;
	pool_net_format(n, pool, sizeof(pool));
	if (pf->env->kubernetes != NULL)
		return fail(pf, "answer pool %s: not in Kubernetes (KUBERNETES_SERVICE_HOST is "
		    "set): clients reach the gateway through one Service address, and pool "
		    "addresses route to no pod; answer the Service's address there (answer ADDR)",
		    pool);
	if ((rp = route_probe_open()) == NULL)
		return fail(pf, "answer pool %s: asking the kernel's routes: %s", pool,
		    strerror(errno));
	for (int k = 0; k < 4 && rc == 0; k++) {
		struct sockaddr_storage ss;
		const char *kind = NULL;
		uint32_t slot = k % 2 ? n->slots - 1 : 0;

		memset(&ss, 0, sizeof(ss));
		if (k < 2) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			s4->sin_family = AF_INET;
			pool_net_addr4(n, slot, &s4->sin_addr);
			inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		} else if (n->len6 != 0) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			s6->sin6_family = AF_INET6;
			pool_net_addr6(n, slot, &s6->sin6_addr);
			inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		} else
			break;
		if (route_probe_kind(rp, (struct sockaddr *)&ss, &kind) == -1)
			rc = fail(pf, "answer pool %s: asking the kernel's route to %s: %s", pool, a,
			    strerror(errno));
		else if (kind == NULL || strcmp(kind, "local") != 0) {
			char text[900];

			char net[INET6_ADDRSTRLEN];

			inet_ntop(k < 2 ? AF_INET : AF_INET6, k < 2 ? (const void *)&n->net4 :
			    (const void *)&n->net6, net, sizeof(net));
			snprintf(text, sizeof(text), "answer pool %s: %s is not local to this host: "
			    "run \"ip %sroute add local %s/%u dev IFACE table local\" at start (it "
			    "needs CAP_NET_ADMIN; the image's entrypoint does it when the container "
			    "has cap_add: [NET_ADMIN])", pool, a, k < 2 ? "" : "-6 ", net,
			    k < 2 ? n->len4 : n->len6);
			if (pf->env->checking)
				warn(pf, "%s", text);
			else
				rc = fail(pf, "%s", text);
			break;	/* one message is enough */
		}
	}
	route_probe_close(rp);
	return rc;
}

/* ---- user ---- */

static int
check_user(struct pf *pf, struct passwd *out)
{
	struct passwd *pw;
	char where[300];

	errno = 0;
	if ((pw = getpwnam(pf->c->user)) == NULL)
		return fail(pf, "%s: user '%s': %s: the daemons switch to it when started as root; "
		    "name a user of this system",
		    setting_origin(pf->c, "user", where, sizeof(where)), pf->c->user, errno ? strerror(errno) : "no such user");
	*out = *pw;
	return 0;
}

/* ---- audit ---- */

/* 1 if the user uid (primary group gid, no others: the privilege drop keeps none) may
 * write and search directory st by its mode bits. */
static int
dir_writable_by(const struct stat *st, uid_t uid, gid_t gid)
{
	mode_t need;

	if (uid == 0)
		return 1;
	if (st->st_uid == uid)
		need = S_IWUSR | S_IXUSR;
	else if (st->st_gid == gid)
		need = S_IWGRP | S_IXGRP;
	else
		need = S_IWOTH | S_IXOTH;
	return (st->st_mode & need) == need;
}

static int
file_writable_by(const struct stat *st, uid_t uid, gid_t gid)
{
	if (uid == 0)
		return 1;
	if (st->st_uid == uid)
		return (st->st_mode & S_IWUSR) != 0;
	if (st->st_gid == gid)
		return (st->st_mode & S_IWGRP) != 0;
	return (st->st_mode & S_IWOTH) != 0;
}

static int
check_audit(struct pf *pf, const struct passwd *pw)
{
	const char *path = pf->c->audit, *slash;
	char dir[4096], where[300];
	struct stat dst, fst;
	int exists;

	if (strcmp(path, "stdout") == 0 || strcmp(path, "stderr") == 0 ||
	    strcmp(path, "off") == 0)
		return 0;
	setting_origin(pf->c, "audit", where, sizeof(where));
	if ((slash = strrchr(path, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (stat(dir, &dst) == -1)
		return fail(pf, "%s: audit %s: the directory %s %s: create it (writable by the "
		    "daemons' user) or write audit stdout", where, path, dir,
		    errno == ENOENT ? "does not exist" : strerror(errno));
	if (!S_ISDIR(dst.st_mode))
		return fail(pf, "%s: audit %s: %s is not a directory", where, path, dir);
	exists = stat(path, &fst) == 0;
	if (exists && S_ISDIR(fst.st_mode))
		return fail(pf, "%s: audit %s: is a directory; name a file in it", where, path);
	if (exists && faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) == -1)
		return fail(pf, "%s: audit %s: not writable by this process (uid %u): %s", where,
		    path, pf->env->euid, strerror(errno));
	if (!exists && faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) == -1)
		return fail(pf, "%s: audit %s: the file does not exist and the directory %s is not "
		    "writable by this process (uid %u), so it cannot be created", where, path, dir,
		    pf->env->euid);
	/* Started as root, the daemons open the file and then run as `user`: a reopen after
	 * a rotation creates the file again as that user. */
	if (pf->env->euid == 0 && pw->pw_uid != 0) {
		if (!dir_writable_by(&dst, pw->pw_uid, pw->pw_gid))
			warn(pf, "%s: audit %s: the directory %s is not writable by user %s, which the "
			    "daemons run as after start: after a rotation (rename, then SIGHUP or "
			    "SIGUSR1) the file cannot be created again and audit lines are dropped; "
			    "make %s writable by %s", where, path, dir, pw->pw_name, dir, pw->pw_name);
		else if (exists && S_ISREG(fst.st_mode) &&
		    !file_writable_by(&fst, pw->pw_uid, pw->pw_gid))
			warn(pf, "%s: audit %s: the file is not writable by user %s, which the daemons "
			    "run as after start: a reopen (SIGHUP or SIGUSR1) fails; give it to %s",
			    where, path, pw->pw_name, pw->pw_name);
	}
	return 0;
}

/* ---- listeners ---- */

/* Two TCP listeners that cannot both be bound: same family and port, and the same
 * address or either a wildcard (Linux refuses that even with SO_REUSEADDR). */
static int
clash(const struct sockaddr *a, const struct sockaddr *b)
{
	return a->sa_family == b->sa_family && addr_port(a) == addr_port(b) &&
	    (addr_is_any(a) || addr_is_any(b) || addr_equal(a, b, 0));
}

/* The first allow or route rule that names port (for messages; a deny names none). */
static const struct rule *
rule_for_port(const struct config *c, uint16_t port)
{
	size_t i, k;

	for (k = 0; k < policyset_count(c->policies); k++) {
		const struct policy *p = policyset_policy(c->policies, k);

		for (i = 0; i < policy_count(p); i++)
			if (!(policy_rule(p, i)->flags & RULE_DENY) &&
			    rule_has_port(policy_rule(p, i), port))
				return policy_rule(p, i);
	}
	return NULL;
}

struct listener {
	struct sockaddr_storage sa;
	const char *what;		/* "the resolver" */
	const char *setting;		/* the setting it comes from */
};

static int
check_listeners(struct pf *pf)
{
	const struct config *c = pf->c;
	struct listener l[64];
	char a1[ADDR_STRLEN], a2[ADDR_STRLEN], w1[300], w2[300];
	size_t n = 0, i, j;

	for (i = 0; i < c->dns_listen.n && n < NELEM(l) - 2; i++, n++) {
		l[n].sa = c->dns_listen.v[i];
		l[n].what = "the resolver";
		l[n].setting = "dns-listen";
	}
	if (c->metrics_on) {
		l[n].sa = c->metrics;
		l[n].what = "the resolver's metrics";
		l[n++].setting = "metrics";
		l[n].sa = c->metrics;
		addr_set_port((struct sockaddr *)&l[n].sa,
		    (uint16_t)(addr_port((const struct sockaddr *)&c->metrics) + 1));
		l[n].what = "the forwarder's metrics (PORT+1)";
		l[n++].setting = "metrics";
	}
	for (i = 0; i < n; i++) {
		const struct sockaddr *a = (const struct sockaddr *)&l[i].sa;

		for (j = i + 1; j < n; j++) {
			if (!clash(a, (const struct sockaddr *)&l[j].sa))
				continue;
			return fail(pf, "%s: %s would listen on %s, where %s listens (%s %s, %s): one of "
			    "them would fail to start; use another port",
			    setting_origin(c, l[j].setting, w1, sizeof(w1)), l[j].what,
			    addr_format((const struct sockaddr *)&l[j].sa, 1, a1, sizeof(a1)), l[i].what,
			    l[i].setting, addr_format(a, 1, a2, sizeof(a2)),
			    set_at(c, l[i].setting, w2, sizeof(w2)));
		}
		/* ... and the forwarder's ports on each forward-listen address */
		if (config_port(c, addr_port(a)) == NULL)
			continue;
		for (j = 0; j < c->forward_listen.n; j++) {
			struct sockaddr_storage f = c->forward_listen.v[j];
			const struct rule *r = rule_for_port(c, addr_port(a));

			addr_set_port((struct sockaddr *)&f, addr_port(a));
			if (!clash(a, (const struct sockaddr *)&f) || r == NULL)
				continue;
			return fail(pf, "%s: the forwarder would listen on %s for %s, where %s listens "
			    "(%s %s, %s): both daemons run in one network namespace, so one would fail "
			    "to start; use another port", rule_origin(r, w1, sizeof(w1)),
			    addr_format((const struct sockaddr *)&f, 1, a1, sizeof(a1)), r->pattern,
			    l[i].what, l[i].setting, addr_format(a, 1, a2, sizeof(a2)),
			    set_at(c, l[i].setting, w2, sizeof(w2)));
		}
	}
	for (i = 0; c->nports > 0 && i < c->forward_listen.n; i++) {
		for (j = i + 1; j < c->forward_listen.n; j++) {
			if (!clash((const struct sockaddr *)&c->forward_listen.v[i],
			    (const struct sockaddr *)&c->forward_listen.v[j]))
				continue;
			return fail(pf, "%s: forward-listen %s and %s overlap (a wildcard covers the "
			    "other, or one is written twice): the second bind of each port would fail; "
			    "list each address once",
			    setting_origin(c, "forward-listen", w1, sizeof(w1)),
			    addr_format((const struct sockaddr *)&c->forward_listen.v[i], 0, a1,
			    sizeof(a1)), addr_format((const struct sockaddr *)&c->forward_listen.v[j], 0,
			    a2, sizeof(a2)));
		}
	}
	return 0;
}

/* An address no interface has cannot be bound (EADDRNOTAVAIL): said, not refused,
 * because --check often runs outside the gateway whose address it names. */
static void
warn_foreign(struct pf *pf, const struct sockaddr *sa, const char *setting, int with_port)
{
	char a[ADDR_STRLEN], where[300];

	if (addr_is_any(sa) || iface_is_local(pf->ifaces, sa))
		return;
	warn(pf, "%s: %s %s: no interface of this machine has this address, so binding it "
	    "fails here (fine when --check runs outside the gateway)",
	    setting_origin(pf->c, setting, where, sizeof(where)), setting,
	    addr_format(sa, with_port, a, sizeof(a)));
}

/* The lowest port an unprivileged process may bind, or 0 when it may bind any. */
static unsigned
unprivileged_port_start(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "r");
	unsigned v = 1024;

	if (f != NULL) {
		if (fscanf(f, "%u", &v) != 1)
			v = 1024;
		fclose(f);
	}
	return v;
}

static void
add_warnings(struct pf *pf)
{
	const struct config *c = pf->c;
	unsigned low = 65536, start;
	size_t i;

	if (c->nports == 0)	/* every allow and route names a port; a deny names none */
		warn(pf, "the allowlist is empty: every name is answered NXDOMAIN and nothing is "
		    "forwarded");
	for (i = 0; i < c->dns_listen.n; i++)
		warn_foreign(pf, (const struct sockaddr *)&c->dns_listen.v[i], "dns-listen", 1);
	for (i = 0; c->nports > 0 && i < c->forward_listen.n; i++)
		warn_foreign(pf, (const struct sockaddr *)&c->forward_listen.v[i], "forward-listen", 0);
	if (c->metrics_on)
		warn_foreign(pf, (const struct sockaddr *)&c->metrics, "metrics", 1);
	if (pf->env->euid == 0)
		return;
	for (i = 0; i < c->dns_listen.n; i++)
		if (addr_port((const struct sockaddr *)&c->dns_listen.v[i]) < low)
			low = addr_port((const struct sockaddr *)&c->dns_listen.v[i]);
	if (c->nports > 0 && c->ports[0].port < low)
		low = c->ports[0].port;
	if (low < (start = unprivileged_port_start()))
		warn(pf, "port %u is below net.ipv4.ip_unprivileged_port_start (%u) and this process "
		    "is not root: binding it fails unless it has CAP_NET_BIND_SERVICE (Docker sets "
		    "the sysctl to 0 in containers)", low, start);
}

/* ---- upstream ---- */

/* The forwarder resolving through this gateway's own resolver would get the gateway's
 * address back for every name. 127.0.0.11 (Docker's embedded DNS) is not ours: only
 * addresses actually assigned to an interface count. */
static int
check_upstream(struct pf *pf)
{
	const struct config *c = pf->c;
	struct sockaddr_storage sys[MAX_SERVERS];
	const struct sockaddr_storage *srv = c->upstream.v;
	size_t n = c->upstream.n, i, j;
	char a1[ADDR_STRLEN], a2[ADDR_STRLEN], w1[300], w2[300], msg[256];

	if (c->upstream_system) {
		if (resolvconf_read(pf->env->resolvconf, sys, MAX_SERVERS, &n, msg,
		    sizeof(msg)) == -1)
			return fail(pf, "upstream system: %s", msg);
		srv = sys;
	}
	for (i = 0; i < n; i++) {
		const struct sockaddr *s = (const struct sockaddr *)&srv[i];

		for (j = 0; j < c->dns_listen.n; j++) {
			const struct sockaddr *l = (const struct sockaddr *)&c->dns_listen.v[j];

			if (addr_port(s) != addr_port(l) || s->sa_family != l->sa_family)
				continue;
			if (!addr_equal(s, l, 0) && !(addr_is_any(l) && iface_is_assigned(pf->ifaces, s)))
				continue;
			if (c->upstream_system)
				return fail(pf, "%s: the system resolver %s (%s) is this gateway's own "
				    "resolver (dns-listen %s, %s): the forwarder's lookups would loop; set "
				    "`upstream` to a real DNS server",
				    setting_origin(c, "upstream", w1, sizeof(w1)),
				    addr_format(s, 1, a1, sizeof(a1)),
				    pf->env->resolvconf ? pf->env->resolvconf : RESOLVCONF_PATH,
				    addr_format(l, 1, a2, sizeof(a2)), set_at(c, "dns-listen", w2,
				    sizeof(w2)));
			return fail(pf, "%s: upstream DNS server %s is this gateway's own resolver "
			    "(dns-listen %s, %s): the forwarder's lookups would loop; set `upstream` to a "
			    "real DNS server", setting_origin(c, "upstream", w1, sizeof(w1)),
			    addr_format(s, 1, a1, sizeof(a1)), addr_format(l, 1, a2, sizeof(a2)),
			    set_at(c, "dns-listen", w2, sizeof(w2)));
		}
	}
	return 0;
}

int
preflight_check(const struct config *c, const struct preflight_env *env, char **warnings,
    char *err, size_t errlen)
{
	struct iface_table *own = NULL;
	struct passwd pw;
	struct pf pf;
	int rc = -1;

	*warnings = NULL;
	memset(&pf, 0, sizeof(pf));
	pf.c = c;
	pf.env = env;
	pf.ifaces = env->ifaces;
	pf.warnings = warnings;
	pf.err = err;
	pf.errlen = errlen;
	if (pf.ifaces == NULL) {
		if ((own = iface_new()) == NULL || iface_refresh(own) == -1) {
			snprintf(err, errlen, "reading this machine's addresses: %s", strerror(errno));
			goto out;
		}
		pf.ifaces = own;
	}
	if (check_user(&pf, &pw) == -1 || check_audit(&pf, &pw) == -1 ||
	    check_listeners(&pf) == -1 || check_upstream(&pf) == -1 || check_pool(&pf) == -1 ||
	    check_stub_zones(&pf) == -1)
		goto out;
	add_warnings(&pf);
	rc = 0;
out:
	iface_free(own);
	if (rc == -1) {
		free(*warnings);
		*warnings = NULL;
	}
	return rc;
}
