/* listeners.c: the forwarder's listening sockets: one per (forward-listen address, allowed
 * port), kept in step with the configuration, paused at max-conns, backed off on EMFILE. */
#include <errno.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conn_audit.h"
#include "fwd.h"
#include "listeners.h"
#include "log.h"
#include "sock.h"

struct lsock {
	struct listeners *ls;
	struct evconnlistener *l;
	struct sockaddr_storage addr;	/* address and port */
	int keep;
};

struct listeners {
	struct fwd *f;
	listeners_accept_fn *on_accept;
	struct lsock **v;
	size_t n, cap;
	int paused;			/* at max-conns */
	int backoff;			/* out of descriptors: off until the pause ends */
	struct sock_pause pause;	/* that EMFILE back-off (sock.h) */
};

static struct log_rate accept_rl = LOG_RATE_INIT(5, 60);

static void
set_enabled(struct listeners *ls, int on)
{
	size_t i;

	for (i = 0; i < ls->n; i++) {
		if (on)
			evconnlistener_enable(ls->v[i]->l);
		else
			evconnlistener_disable(ls->v[i]->l);
	}
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct lsock *s = arg;
	struct listeners *ls = s->ls;
	struct fwd *f = ls->f;

	(void)l;
	(void)salen;
	ls->on_accept(f, fd, sa, addr_port((struct sockaddr *)&s->addr));
	if (!ls->paused && f->stats.active >= f->cfg->max_conns) {
		ls->paused = 1;
		f->stats.accept_paused++;
		set_enabled(ls, 0);
		log_debug("max-conns %u reached: accepting paused", f->cfg->max_conns);
	}
}

/* The EMFILE back-off turns the listeners off, and on again unless max-conns holds them. */
static void
backoff_enable(void *arg, int on)
{
	struct listeners *ls = arg;

	ls->backoff = !on;
	if (!on || !ls->paused)
		set_enabled(ls, on);
}

/* The client taken off the queue when out of descriptors: denied, like any other. Its
 * policy from its source, or from the listener's address (a wildcard listener's matches
 * no via spec: no socket is left to ask the kernel which address it was). */
static void
audit_shed(struct listeners *ls, const struct sockaddr *peer, const struct sockaddr *local,
    uint16_t port)
{
	struct fwd *f = ls->f;
	struct conn_facts cf = { .peer = peer, .port = port, .via = VIA_NONE, .timed = 0 };

	size_t policy = policyset_select(f->cfg->policies, peer, local);

	cf.policy = policyset_name(f->cfg->policies, policy);
	polstats_row(f->pstats, fwd_policy_slot(f, policy))[FWD_PSTAT_DENIED + DENY_LIMIT]++;
	conn_audit_deny(f->audit, &cf, DENY_LIMIT, "out of file descriptors");
	audit_flush(f->audit);
}

static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct lsock *s = arg;
	struct listeners *ls = s->ls;
	struct sockaddr_storage peer;
	int err = EVUTIL_SOCKET_ERROR(), shed;

	ls->f->stats.accept_errors++;
	errno = err;
	log_warn_rl(&accept_rl, "accept on port %u", addr_port((struct sockaddr *)&s->addr));
	/* Out of descriptors: one waiting client is closed (it sees a reset, not a hang)
	 * and audited, then accepting pauses briefly. */
	shed = sock_pause_accept_error(&ls->pause, evconnlistener_get_fd(l), err, &peer);
	if (shed == 1)
		audit_shed(ls, (struct sockaddr *)&peer, (struct sockaddr *)&s->addr,
		    addr_port((struct sockaddr *)&s->addr));
}

void
listeners_conn_closed(struct listeners *ls)
{
	if (ls == NULL || !ls->paused || ls->f->stats.active >= ls->f->cfg->max_conns)
		return;
	ls->paused = 0;
	if (!ls->backoff)
		set_enabled(ls, 1);
}

struct listeners *
listeners_new(struct fwd *f, listeners_accept_fn *on_accept)
{
	struct listeners *ls = calloc(1, sizeof(*ls));

	if (ls == NULL)
		return NULL;
	ls->f = f;
	ls->on_accept = on_accept;
	if (sock_pause_init(&ls->pause, f->base, backoff_enable, ls) == -1) {
		free(ls);
		return NULL;
	}
	return ls;
}

void
listeners_free(struct listeners *ls)
{
	size_t i;

	if (ls == NULL)
		return;
	for (i = 0; i < ls->n; i++) {
		evconnlistener_free(ls->v[i]->l);
		free(ls->v[i]);
	}
	free(ls->v);
	sock_pause_free(&ls->pause);
	free(ls);
}

int
listeners_would_accept(const struct listeners *ls, const struct sockaddr *target, int local)
{
	struct sockaddr_storage ss;
	const struct sockaddr *sa = (const struct sockaddr *)&ss;
	size_t i;

	memcpy(&ss, target, addr_len(target));
	addr_unmap(&ss);
	for (i = 0; i < ls->n; i++) {
		const struct sockaddr *l = (const struct sockaddr *)&ls->v[i]->addr;

		if (addr_port(l) != addr_port(sa) || l->sa_family != sa->sa_family)
			continue;
		if (addr_equal(l, sa, 0))
			return 1;
		/* A wildcard listener takes whatever the kernel delivers here: assigned
		 * addresses, 127/8, and every address of a local (AnyIP) route. */
		if (addr_is_any(l) && local)
			return 1;
	}
	return 0;
}

size_t
listeners_count(const struct listeners *ls)
{
	return ls->n;
}

static int
open_one(struct listeners *ls, const struct sockaddr *sa, char *err, size_t errlen)
{
	struct lsock *s;
	int fd;

	if (ls->n == ls->cap) {
		size_t nc = ls->cap ? ls->cap * 2 : 16;
		struct lsock **nv = realloc(ls->v, nc * sizeof(*nv));

		if (nv == NULL)
			goto nomem;
		ls->v = nv;
		ls->cap = nc;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto nomem;
	if ((fd = sock_open(sa, SOCK_STREAM, SOCK_OPEN_V6ONLY, err, errlen)) == -1) {
		int e = errno;

		free(s);
		errno = e;
		return -1;
	}
	s->ls = ls;
	memcpy(&s->addr, sa, addr_len(sa));
	s->keep = 1;
	/* Backlog 0: the socket listens already (sock.h). */
	s->l = evconnlistener_new(ls->f->base, accept_cb, s, LEV_OPT_CLOSE_ON_FREE, 0, fd);
	if (s->l == NULL) {
		close(fd);
		free(s);
		goto nomem;
	}
	evconnlistener_set_error_cb(s->l, accept_error_cb);
	if (ls->paused || ls->backoff)
		evconnlistener_disable(s->l);
	ls->v[ls->n++] = s;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static struct lsock *
find_sock(struct listeners *ls, const struct sockaddr *sa)
{
	size_t i;

	for (i = 0; i < ls->n; i++)
		if (addr_equal((struct sockaddr *)&ls->v[i]->addr, sa, 1))
			return ls->v[i];
	return NULL;
}

int
listeners_sync(struct listeners *ls, const struct config *cfg, int strict, char *err,
    size_t errlen)
{
	size_t i, j, k;
	int v6_skipped = 0;

	/* The ports and their routes are the configuration's (config_ports.c), which also
	 * refused more than CONFIG_MAX_PORTS of them. */
	for (i = 0; i < ls->n; i++)
		ls->v[i]->keep = 0;
	for (i = 0; i < cfg->forward_listen.n; i++) {
		for (j = 0; j < cfg->nports; j++) {
			struct sockaddr_storage sa = cfg->forward_listen.v[i];
			struct lsock *s;

			addr_set_port((struct sockaddr *)&sa, cfg->ports[j].port);
			if ((s = find_sock(ls, (struct sockaddr *)&sa)) != NULL) {
				s->keep = 1;
				continue;
			}
			if (open_one(ls, (struct sockaddr *)&sa, err, errlen) == 0)
				continue;
			if (cfg->forward_listen_default && sa.ss_family == AF_INET6 &&
			    (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
				if (!v6_skipped++)
					log_warnx("%s; IPv6 skipped", err);
				continue;
			}
			if (strict)
				return -1;
			log_warnx("reload: cannot listen on %s", err);
		}
	}
	for (i = k = 0; i < ls->n; i++) {
		if (ls->v[i]->keep) {
			ls->v[k++] = ls->v[i];
			continue;
		}
		evconnlistener_free(ls->v[i]->l);
		free(ls->v[i]);
	}
	ls->n = k;
	return 0;
}
