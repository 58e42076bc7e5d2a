/* conn.c: one forwarded connection's life: state, resolve, dial, relay, deadlines, close. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "clients.h"
#include "conn_internal.h"
#include "dest.h"
#include "dial.h"
#include "first_bytes.h"
#include "listeners.h"
#include "log.h"
#include "refuse.h"
#include "policyset.h"
#include "pool.h"
#include "util.h"

static const char *const deny_names[DENY_COUNT] = {
	"", "not-allowed", "no-name", "peek-timeout", "malformed", "name-mismatch",
	"resolve-failed", "no-address", "connect-failed", "limit", "denied", "unmapped"
};
static const char *const via_names[VIA_COUNT] = { "", "sni", "host", "route", "address" };
static const char *const state_names[] = {
	[CONN_ACCEPTED] = "accepted", [CONN_PEEKING] = "peeking",
	[CONN_RESOLVING] = "resolving", [CONN_CONNECTING] = "connecting",
	[CONN_RELAYING] = "relaying", [CONN_REFUSING] = "refusing",
	[CONN_DRAINING] = "draining", [CONN_CLOSED] = "closed"
};

const char *
conn_deny_name(enum deny d)
{
	return d < DENY_COUNT ? deny_names[d] : "?";
}

const char *
conn_via_name(enum via v)
{
	return v < VIA_COUNT ? via_names[v] : "?";
}

static const char *
conn_state_name(enum conn_state s)
{
	return s <= CONN_CLOSED ? state_names[s] : "?";
}

void
conn_set_state(struct conn *c, enum conn_state s)
{
	log_debug("conn %d: %s -> %s", c->client.fd, conn_state_name(c->state), conn_state_name(s));
	c->state = s;
}

void
conn_arm_timer(struct conn *c, uint64_t ms)
{
	struct timeval tv;

	util_ms_to_tv(ms, &tv);
	evtimer_add(c->timer, &tv);
}

void
conn_event_set(struct event *ev, int on)
{
	if (ev == NULL)
		return;
	if (on && !event_pending(ev, EV_READ | EV_WRITE, NULL))
		event_add(ev, NULL);
	else if (!on && event_pending(ev, EV_READ | EV_WRITE, NULL))
		event_del(ev);
}

/* ---- audit ---- */

/* What c's audit line says about it, whatever the outcome. */
void
conn_facts_of(const struct conn *c, struct conn_facts *cf)
{
	cf->peer = (const struct sockaddr *)&c->peer;
	cf->policy = policyset_name(c->cfg->policies, c->policy);
	cf->report = c->report;
	cf->would_deny = c->would_deny;
	cf->port = c->port;
	cf->name = c->name;
	cf->via = c->via;
	cf->route = c->route;
	cf->target_port = c->target_port;
	cf->rule = c->rule != NULL ? c->rule->pattern : NULL;
	cf->ech = (c->peek_flags & PEEK_F_ECH) != 0;
	cf->timed = 1;
	cf->ms = util_now_ms() - c->t_start;
	cf->nrecent = 0;
}

/* ---- the one destructor ---- */

void
conn_free_event(struct event **ev)
{
	if (*ev != NULL) {
		event_free(*ev);
		*ev = NULL;
	}
}

/* Everything on the upstream side goes: a lookup, a dial, the socket and its events. */
void
conn_stop_upstream(struct conn *c)
{
	conn_free_event(&c->client.ev_write);
	conn_free_event(&c->upstream.ev_read);
	conn_free_event(&c->upstream.ev_write);
	if (c->wait != NULL) {
		dns_cancel(c->wait);
		c->wait = NULL;
	}
	if (c->dial != NULL) {
		dial_cancel(c->dial);
		c->dial = NULL;
	}
	if (c->upstream.fd != -1) {
		close(c->upstream.fd);
		c->upstream.fd = -1;
	}
}

void
conn_close(struct conn *c, const char *end)
{
	struct fwd *f = c->f;

	if (!c->audited) {
		struct conn_facts cf;

		conn_facts_of(c, &cf);
		if (c->state == CONN_RELAYING) {
			conn_audit_allow(f->audit, &cf, (struct sockaddr *)&c->up,
			    c->client.pump.bytes, c->upstream.pump.bytes, end);
			polstats_row(f->pstats, c->pslot)[FWD_PSTAT_ALLOWED + c->via]++;
			if (c->would_deny)
				polstats_row(f->pstats, c->pslot)[FWD_PSTAT_WOULD_DENY]++;
			f->stats.bytes_up += c->client.pump.bytes;
			f->stats.bytes_down += c->upstream.pump.bytes;
		} else
			conn_audit_abort(f->audit, &cf, conn_state_name(c->state), end);
	}
	conn_set_state(c, CONN_CLOSED);
	conn_stop_upstream(c);
	conn_free_event(&c->client.ev_read);
	conn_free_event(&c->timer);
	conn_free_event(&c->pace);
	pump_release(&c->client.pump, f->pool);
	pump_release(&c->upstream.pump, f->pool);
	if (c->client.fd != -1) {
		close(c->client.fd);
		c->client.fd = -1;
	}
	free(c->peek);
	c->peek = NULL;
	clients_dec(f->clients, (struct sockaddr *)&c->peer);
	if (c->pool_slot >= 0)
		pool_conn_close(f->names, (uint32_t)c->pool_slot);
	LIST_REMOVE(c, entry);
	f->stats.active--;
	config_unref(c->cfg);
	free(c);
	listeners_conn_closed(f->ls);
	audit_flush(f->audit);
}

void
conn_close_all(struct fwd *f)
{
	while (!LIST_EMPTY(&f->conns))
		conn_close(LIST_FIRST(&f->conns), "shutdown");
}

/* ---- resolving and dialling ---- */

static void
dialled_cb(void *arg, int fd, const struct sockaddr_storage *sa, int err)
{
	struct conn *c = arg;
	int one = 1;

	c->dial = NULL;
	if (fd == -1) {
		refuse_conn(c, DENY_CONNECT_FAILED, "%s", strerror(err));
		return;
	}
	c->upstream.fd = fd;
	c->up = *sa;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	conn_set_state(c, CONN_RELAYING);
	conn_relay_start(c);
}

static const char *
resolve_failure(enum dns_status st)
{
	switch (st) {
	case DNS_NOADDR:
		return "no such name or no address";
	case DNS_TIMEOUT:
		return "lookup timed out";
	case DNS_LIMIT:
		return "too many lookups in flight (max-lookups)";
	case DNS_CLIENT_LIMIT:
		return "too many lookups in flight from this client (max-lookups-per-client)";
	case DNS_OK:
	case DNS_FAIL:
		break;
	}
	return "upstream DNS failure";
}

static void
on_resolved(struct conn *c, enum dns_status st, const struct cache_result *res)
{
	struct sockaddr_storage addrs[DIAL_MAX];
	char why[160];
	size_t n;

	if (st != DNS_OK) {
		refuse_conn(c, DENY_RESOLVE_FAILED, "%s", resolve_failure(st));
		return;
	}
	if ((n = dest_filter(c->f, res, c->target_port, c->rule != NULL &&
	    (c->rule->flags & RULE_PRIVATE), addrs, why, sizeof(why))) == 0) {
		refuse_conn(c, DENY_NO_ADDRESS, "%s", why);
		return;
	}
	conn_set_state(c, CONN_CONNECTING);
	conn_arm_timer(c, c->cfg->connect_timeout_ms);
	c->dial = dial_start(c->f->base, addrs, n, DIAL_STAGGER_MS, dialled_cb, c);
	if (c->dial == NULL)
		refuse_conn(c, DENY_CONNECT_FAILED, "out of memory");
}

static void
resolved_cb(void *arg, enum dns_status st, const struct cache_result *res)
{
	struct conn *c = arg;

	c->wait = NULL;
	on_resolved(c, st, res);
}

void
conn_resolve(struct conn *c)
{
	struct cache_result res;
	enum dns_status st;

	conn_set_state(c, CONN_RESOLVING);
	conn_arm_timer(c, c->cfg->lookup_timeout_ms + 1000);	/* dns.c answers first */
	if (dns_lookup(c->f->dns, c->name, (struct sockaddr *)&c->peer, resolved_cb, c, &c->wait,
	    &st, &res))
		on_resolved(c, st, &res);
}

/* ---- relaying ---- */

static void
update_events(struct conn *c)
{
	int gate_open = c->gate == GATE_OPEN;

	conn_event_set(c->client.ev_read, gate_open ? c->client.flow == PUMP_READ :
	    c->gate == GATE_VERIFY && !c->client_eof);
	conn_event_set(c->upstream.ev_write, gate_open && c->client.flow == PUMP_WRITE);
	conn_event_set(c->upstream.ev_read, c->upstream.flow == PUMP_READ);
	conn_event_set(c->client.ev_write, c->upstream.flow == PUMP_WRITE);
}

static struct side *
side_other(struct conn *c, const struct side *s)
{
	return s == &c->client ? &c->upstream : &c->client;
}

/* The pump of side from (carrying what from reads) reported state st. */
static void
pumped(struct conn *c, struct side *from, enum pump_state st)
{
	int half_closed = 0;

	c->t_last = util_now_ms();
	if (st == PUMP_SRC_ERROR || st == PUMP_DST_ERROR) {
		struct side *failed = st == PUMP_SRC_ERROR ? from : side_other(c, from);
		int client_side = failed == &c->client;
		struct linger lg = { 1, 0 };

		log_debug("conn %d: %s the %s failed: %s", c->client.fd, st == PUMP_SRC_ERROR ?
		    "reading" : "writing", client_side ? "client" : "upstream",
		    strerror(from->pump.err));
		/* Pass a reset on as a reset. */
		setsockopt(side_other(c, failed)->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		conn_close(c, client_side ? "client-reset" : "upstream-reset");
		return;
	}
	if (from->flow != PUMP_DONE && st == PUMP_DONE)
		half_closed = 1;
	from->flow = st;
	if (c->client.flow == PUMP_DONE && c->upstream.flow == PUMP_DONE) {
		conn_close(c, "eof");
		return;
	}
	update_events(c);
	if (half_closed)		/* the shorter half-close limit starts now */
		(void)conn_relay_check_time(c, c->t_last);
}

/* A side is readable: its pump reads. The client's read event also serves the first
 * bytes while the gate is closed. */
static void
side_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct side *s = arg;
	struct conn *c = s->conn;

	(void)fd;
	(void)what;
	if (s == &c->client && c->gate != GATE_OPEN) {
		first_bytes_readable(c);
		return;
	}
	if (c->state != CONN_RELAYING) {	/* resolving or connecting: later */
		conn_event_set(s->ev_read, 0);
		return;
	}
	pumped(c, s, pump_on_readable(&s->pump, c->f->pool));
}

/* A side is writable: the other side's pump writes to it. */
static void
side_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct side *s = arg;
	struct conn *c = s->conn;
	struct side *from = side_other(c, s);

	(void)fd;
	(void)what;
	pumped(c, from, pump_on_writable(&from->pump, c->f->pool));
}

/* Called when the upstream connects, and again when a routed gate opens. */
void
conn_relay_start(struct conn *c)
{
	struct fwd *f = c->f;

	if (c->upstream.ev_read == NULL) {
		c->upstream.ev_read = event_new(f->base, c->upstream.fd, EV_READ | EV_PERSIST,
		    side_read_cb, &c->upstream);
		c->upstream.ev_write = event_new(f->base, c->upstream.fd, EV_WRITE | EV_PERSIST,
		    side_write_cb, &c->upstream);
		c->client.ev_write = event_new(f->base, c->client.fd, EV_WRITE | EV_PERSIST,
		    side_write_cb, &c->client);
		if (c->upstream.ev_read == NULL || c->upstream.ev_write == NULL ||
		    c->client.ev_write == NULL) {
			conn_close(c, "error");
			return;
		}
		pump_init(&c->upstream.pump, c->upstream.fd, c->client.fd);
		pump_init(&c->client.pump, c->client.fd, c->upstream.fd);
		c->client.flow = c->upstream.flow = PUMP_READ;
		c->t_last = util_now_ms();
		if (conn_relay_check_time(c, c->t_last) == -1)
			return;
	}
	if (c->gate == GATE_OPEN && c->peek != NULL) {
		if (pump_preload(&c->client.pump, f->pool, c->peek, c->peeklen) == -1) {
			conn_close(c, "error");
			return;
		}
		free(c->peek);
		c->peek = NULL;
		c->client.pump.eof = c->client_eof;
		pumped(c, &c->client, pump_on_writable(&c->client.pump, f->pool));
		return;
	}
	if (c->gate == GATE_OPEN && c->client_eof) {
		c->client.pump.eof = 1;
		pumped(c, &c->client, pump_on_writable(&c->client.pump, f->pool));
		return;
	}
	update_events(c);
}

/* ---- timeouts ---- */

/* A relayed connection's limits: idle-timeout since the last byte, the shorter
 * half-close-timeout once one direction has finished, and on a routed port the
 * peek-timeout for first bytes that started but did not yet decide anything. Closes the
 * connection when one has passed, else arms the timer for the nearest. */
int
conn_relay_check_time(struct conn *c, uint64_t now)
{
	int half = c->client.flow == PUMP_DONE || c->upstream.flow == PUMP_DONE;
	uint64_t limit = c->cfg->idle_timeout_ms, deadline;

	if (half && c->cfg->half_close_timeout_ms < limit)
		limit = c->cfg->half_close_timeout_ms;
	deadline = c->t_last + limit;
	if (c->gate == GATE_VERIFY && c->peeklen > 0) {
		uint64_t peek_deadline = c->t_first_byte + c->cfg->peek_timeout_ms;

		if (now >= peek_deadline) {
			refuse_conn(c, DENY_PEEK_TIMEOUT, "routed port: first bytes incomplete");
			return -1;
		}
		if (peek_deadline < deadline)
			deadline = peek_deadline;
	}
	if (now >= deadline) {
		conn_close(c, half ? "half-close-timeout" : "idle-timeout");
		return -1;
	}
	conn_arm_timer(c, deadline - now);
	return 0;
}

/* The deadline of the state the connection is in has come (c->timer). */
static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	uint64_t now = util_now_ms();

	(void)fd;
	(void)what;
	switch (c->state) {
	case CONN_PEEKING:
		first_bytes_timeout(c, now);
		return;
	case CONN_RESOLVING:
		refuse_conn(c, DENY_RESOLVE_FAILED, "lookup timed out");
		return;
	case CONN_CONNECTING:
		refuse_conn(c, DENY_CONNECT_FAILED, "no address answered within connect-timeout");
		return;
	case CONN_REFUSING:
		refuse_now(c);
		return;
	case CONN_RELAYING:
		break;
	default:
		conn_close(c, "timeout");
		return;
	}
	(void)conn_relay_check_time(c, now);
}

/* ---- accepting ---- */

/* The address the client dialled on the accepted socket fd, asked of the kernel only
 * when something needs it: a policy chosen by it (`via`), or the pool (`answer pool`).
 * NULL when not asked or not known. */
static const struct sockaddr *
conn_local(const struct fwd *f, int fd, struct sockaddr_storage *local)
{
	socklen_t len = sizeof(*local);

	if ((f->names == NULL && !policyset_has_via(f->cfg->policies)) ||
	    getsockname(fd, (struct sockaddr *)local, &len) == -1)
		return NULL;
	return (const struct sockaddr *)local;
}

/* With `answer pool` the forwarder listens on the wildcard address, which also takes
 * connections to the gateway's other addresses (its side on a network with a route out).
 * It serves only the addresses the resolver hands out: the pool's, and for the fallback
 * answer the ones dns-listen names (any, when dns-listen is a wildcard). 1 when local is
 * one of dns-listen's. */
static int
answered_address(const struct config *cfg, const struct sockaddr *local)
{
	struct sockaddr_storage l;

	memcpy(&l, local, addr_len(local));
	addr_unmap(&l);
	for (size_t i = 0; i < cfg->dns_listen.n; i++) {
		const struct sockaddr *d = (const struct sockaddr *)&cfg->dns_listen.v[i];

		if (d->sa_family == l.ss_family && (addr_is_any(d) ||
		    addr_equal(d, (const struct sockaddr *)&l, 0)))
			return 1;
	}
	return 0;
}

/* A connection to a pool address: the name that address stands for is the name, dialled
 * at once on the port the client used (any protocol, server-first too); the client's
 * policy must allow (name, port), and a name the client sends must agree (GATE_VERIFY). */
static void
conn_by_address(struct conn *c, const struct sockaddr *local)
{
	const struct rule *r;

	if (pool_name(c->f->names, (uint32_t)c->pool_slot, c->name) < 0) {
		char a[ADDR_STRLEN];

		c->name[0] = '\0';
		refuse_conn(c, DENY_UNMAPPED, "%s holds no name", addr_format(local, 0, a,
		    sizeof(a)));
		return;
	}
	c->via = VIA_ADDRESS;
	c->target_port = c->port;
	r = dest_rule(c->cfg, c->policy, c->name, c->port);
	c->rule = r;	/* a deny rule is the audit line's "rule" */
	if (r == NULL || (r->flags & RULE_DENY)) {
		if (!c->report) {
			refuse_conn(c, r != NULL ? DENY_DENIED : DENY_NOT_ALLOWED, "%s", "");
			return;
		}
		c->would_deny = 1;	/* report: the name is known; relayed */
	}
	c->gate = GATE_VERIFY;
	conn_resolve(c);
}

void
conn_accept(struct fwd *f, int fd, const struct sockaddr *peer, uint16_t port)
{
	struct conn *c = calloc(1, sizeof(*c));
	const struct rule *routed;
	const struct sockaddr *local;
	struct sockaddr_storage lss;
	const char *rname = NULL;
	int one = 1, refused;

	if (c == NULL) {
		close(fd);
		return;
	}
	c->f = f;
	c->pool_slot = -1;
	c->cfg = config_ref(f->cfg);
	c->client.conn = c;
	c->client.fd = fd;
	c->upstream.conn = c;
	c->upstream.fd = -1;
	pump_init(&c->client.pump, -1, -1);	/* no pipes yet: conn_close releases them */
	pump_init(&c->upstream.pump, -1, -1);
	c->port = port;
	memcpy(&c->peer, peer, addr_len(peer));
	local = conn_local(f, fd, &lss);
	c->policy = policyset_select(c->cfg->policies, peer, local);
	c->pool_slot = f->names != NULL && local != NULL ?
	    pool_net_slot(pool_net(f->names), local) : -1;
	if (c->pool_slot >= 0)		/* counted before its name is read (pool.h) */
		pool_conn_open(f->names, (uint32_t)c->pool_slot);
	c->report = policyset_mode(c->cfg->policies, c->policy) == MODE_REPORT;
	c->pslot = fwd_policy_slot(f, c->policy);
	c->t_start = c->t_last = util_now_ms();
	LIST_INSERT_HEAD(&f->conns, c, entry);
	f->stats.active++;
	f->stats.accepted++;
	c->timer = evtimer_new(f->base, deadline_cb, c);
	c->client.ev_read = event_new(f->base, fd, EV_READ | EV_PERSIST, side_read_cb, &c->client);
	if (clients_over(clients_inc(f->clients, peer), c->cfg->max_conns_per_client)) {
		refuse_conn(c, DENY_LIMIT, "max-conns-per-client %u", c->cfg->max_conns_per_client);
		return;
	}
	if (c->timer == NULL || c->client.ev_read == NULL) {
		conn_close(c, "error");
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	event_add(c->client.ev_read, NULL);
	if (c->pool_slot >= 0) {
		conn_by_address(c, local);
		return;
	}
	if (f->names != NULL && local != NULL && !answered_address(c->cfg, local)) {
		char a[ADDR_STRLEN];

		refuse_conn(c, DENY_UNMAPPED, "%s is not an address the resolver answers (the "
		    "pool, dns-listen)", addr_format(local, 0, a, sizeof(a)));
		return;
	}
	routed = dest_route(c->cfg, c->policy, port, &rname, &c->target_port);
	refused = routed == NULL || (routed->flags & RULE_DENY);
	if (refused && rname != NULL && c->report)
		c->would_deny = 1;	/* report: the route's name is known; relayed */
	else if (refused && rname != NULL) {
		c->rule = routed;	/* a deny rule is the audit line's "rule" */
		c->route = rname;
		util_strlcpy(c->name, rname, sizeof(c->name));
		refuse_conn(c, routed != NULL ? DENY_DENIED : DENY_NOT_ALLOWED, "%s", "");
		return;
	}
	if (routed != NULL || c->would_deny) {
		/* Dial at once: the server may speak first (SMTP). */
		c->rule = routed;
		c->via = VIA_ROUTE;
		c->route = rname;
		util_strlcpy(c->name, rname, sizeof(c->name));
		c->gate = GATE_VERIFY;
		conn_resolve(c);
		return;
	}
	conn_set_state(c, CONN_PEEKING);
	conn_arm_timer(c, c->cfg->peek_timeout_ms);
}
