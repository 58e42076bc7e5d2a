/* test_pass.c: resolver/pass.c against zone servers on loopback sockets the test holds: the
 * bounds (in all, per client), the tries' end when nothing answers, and answers that
 * answer something else. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "pass.h"
#include "unit_lib.h"
#include "util.h"

static const uint8_t QNAME[] = "\003web\007cluster\005local";

/* A zone server: a UDP socket on 127.0.0.1 (or ::1) the test reads (or not) itself. */
struct zone_server {
	int fd;
	struct sockaddr_storage addr;
	struct stub_zone zone;
};

/* 0, or -1 when addr cannot be bound (no IPv6 here). */
static int
server_open_at(struct zone_server *s, const char *addr)
{
	socklen_t sl = sizeof(s->addr);

	s->addr = sa_of(addr);
	assert_true((s->fd = socket(s->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0)) != -1);
	if (bind(s->fd, SA(s->addr), addr_len(SA(s->addr))) == -1) {
		close(s->fd);
		return -1;
	}
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&s->addr, &sl), 0);
	memset(&s->zone, 0, sizeof(s->zone));
	s->zone.zone = "cluster.local";
	s->zone.len = strlen(s->zone.zone);
	memcpy(&s->zone.servers[0], &s->addr, sizeof(s->addr));
	s->zone.nservers = 1;
	return 0;
}

static void
server_open(struct zone_server *s)
{
	assert_int_equal(server_open_at(s, "127.0.0.1"), 0);
}

struct done {
	int calls;
	int answered;
	char why[32];
	struct event_base *base;
};

static int
done_cb(void *arg, const uint8_t *resp, size_t len, const struct sockaddr *server,
    const char *why)
{
	struct done *d = arg;

	(void)len;
	(void)server;
	d->calls++;
	d->answered = resp != NULL;
	snprintf(d->why, sizeof(d->why), "%s", why != NULL ? why : "");
	event_base_loopbreak(d->base);
	return resp != NULL ? 0 : -1;
}

static struct sockaddr_storage
client_n(unsigned n)
{
	char text[32];

	snprintf(text, sizeof(text), "10.0.0.%u", n);
	return sa_of(text);
}

/* A pass, its event base, a zone server and what done was told. */
struct rig {
	struct event_base *base;
	struct pass *p;
	struct zone_server s;
	struct done d;
	const char *why;	/* pass_start's */
};

static void
rig_open(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	assert_non_null(r->base = event_base_new());
	assert_non_null(r->p = pass_new(r->base));
	server_open(&r->s);
	r->d.base = r->base;
}

/* pass_start for client 10.0.0.n */
static struct pass_job *
rig_ask(struct rig *r, unsigned n)
{
	struct sockaddr_storage c = client_n(n);

	return pass_start(r->p, SA(c), &r->s.zone, QNAME, 1, done_cb, &r->d, &r->why);
}

/* The loop until done is called, or bound_ms (scaled): a bound, not a timing. */
static void
rig_run(struct rig *r, uint64_t bound_ms)
{
	struct timeval tv;

	util_ms_to_tv(unit_scaled_ms(bound_ms), &tv);
	event_base_loopexit(r->base, &tv);
	event_base_dispatch(r->base);
}

/* done was called once, without an answer, for why. */
static void
rig_failed(const struct rig *r, const char *why)
{
	assert_int_equal(r->d.calls, 1);
	assert_false(r->d.answered);
	assert_string_equal(r->d.why, why);
}

static void
rig_close(struct rig *r)
{
	pass_free(r->p);
	if (r->s.fd != -1)
		close(r->s.fd);
	event_base_free(r->base);
}

/* PASS_MAX in flight from PASS_MAX / PASS_PER_CLIENT clients: a client refused as busy
 * because all are in flight is not counted one fewer for it (its share stays full). */
static void
test_busy_keeps_client_share(void **state)
{
	struct pass_job *first_of_2 = NULL, *j;
	struct rig r;
	unsigned i, k;

	(void)state;
	rig_open(&r);
	for (k = 1; k <= PASS_MAX / PASS_PER_CLIENT; k++) {
		for (i = 0; i < PASS_PER_CLIENT; i++) {
			assert_non_null(j = rig_ask(&r, k));
			if (k == 2 && first_of_2 == NULL)
				first_of_2 = j;
		}
	}
	assert_int_equal(pass_stats(r.p)->inflight, PASS_MAX);
	/* full: everyone is busy, client 1 ten times over */
	for (i = 0; i < 10; i++) {
		assert_null(rig_ask(&r, 1));
		assert_string_equal(r.why, "busy");
	}
	assert_null(rig_ask(&r, 9));
	/* one of client 2's ends: client 1 still has its PASS_PER_CLIENT in flight */
	pass_cancel(first_of_2);
	assert_null(rig_ask(&r, 1));
	assert_string_equal(r.why, "busy");
	/* the slot is client 2's or another client's */
	assert_non_null(rig_ask(&r, 2));
	assert_int_equal(pass_stats(r.p)->busy, 12);
	assert_int_equal(r.d.calls, 0);
	rig_close(&r);
}

/* Every try times out: done once, "timeout", after PASS_TRIES queries reached the server. */
static void
test_tries_then_timeout(void **state)
{
	struct sockaddr_in from[PASS_TRIES + 1];
	uint16_t id[PASS_TRIES + 1];
	struct rig r;
	uint8_t b[600];
	unsigned n = 0;

	(void)state;
	rig_open(&r);
	assert_non_null(rig_ask(&r, 1));
	assert_int_equal(r.d.calls, 0);	/* never from inside pass_start */
	rig_run(&r, 30000);
	rig_failed(&r, "timeout");
	for (;;) {
		socklen_t sl = sizeof(from[0]);

		if (recvfrom(r.s.fd, b, sizeof(b), MSG_DONTWAIT, (struct sockaddr *)&from[n],
		    &sl) < 12)
			break;
		id[n] = (uint16_t)(b[0] << 8 | b[1]);
		assert_true(++n <= PASS_TRIES);
	}
	assert_int_equal(n, PASS_TRIES);
	/* each try from a socket of its own: another source port */
	assert_int_not_equal(from[0].sin_port, from[1].sin_port);
	assert_int_not_equal(from[1].sin_port, from[2].sin_port);
	assert_int_not_equal(from[0].sin_port, from[2].sin_port);
	/* and under another ID than the try before */
	assert_int_not_equal(id[0], id[1]);
	assert_int_not_equal(id[1], id[2]);
	assert_int_equal(pass_stats(r.p)->failed, 1);
	assert_int_equal(pass_stats(r.p)->inflight, 0);
	rig_close(&r);
}

/* Nothing listens: ICMP port unreachable ends each try: "refused". */
static void
test_refused(void **state)
{
	struct rig r;

	(void)state;
	rig_open(&r);
	close(r.s.fd);		/* the port is free now: nothing answers it */
	r.s.fd = -1;
	assert_non_null(rig_ask(&r, 1));
	rig_run(&r, 30000);
	rig_failed(&r, "refused");
	rig_close(&r);
}

/* A server (or someone who found the port) that keeps sending datagrams answering
 * another ID: each is ignored, and the try still ends at its time: they do not keep the
 * query waiting. */
struct flood {
	struct zone_server *s;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	unsigned sent;
	struct event *ev;
};

static void
flood_cb(evutil_socket_t fd, short what, void *arg)
{
	struct flood *f = arg;
	uint8_t b[600];
	ssize_t n;

	(void)fd;
	(void)what;
	/* the latest query's source (each try comes from a new port) */
	for (;;) {
		socklen_t sl = sizeof(f->peer);
		struct sockaddr_storage from;

		if ((n = recvfrom(f->s->fd, b, sizeof(b), 0, (struct sockaddr *)&from, &sl)) <= 0)
			break;
		f->peer = from;
		f->peerlen = sl;
	}
	if (f->peerlen == 0)
		return;
	/* the query's question, another ID, QR set */
	memset(b, 0, 12);
	b[0] = 0x55;
	b[1] = 0xaa;
	b[2] = 0x84;
	b[5] = 1;
	memcpy(b + 12, QNAME, sizeof(QNAME));
	b[12 + sizeof(QNAME) + 1] = 1;
	b[12 + sizeof(QNAME) + 3] = 1;
	if (sendto(f->s->fd, b, 12 + sizeof(QNAME) + 4, 0, (struct sockaddr *)&f->peer,
	    f->peerlen) > 0)
		f->sent++;
}

static void
test_foreign_flood_still_ends(void **state)
{
	struct rig r;
	struct flood f;
	struct timeval tv;

	(void)state;
	rig_open(&r);
	memset(&f, 0, sizeof(f));
	f.s = &r.s;
	/* a datagram every 100 ms: ten per try */
	f.ev = event_new(r.base, -1, EV_PERSIST, flood_cb, &f);
	util_ms_to_tv(PASS_TRY_MS / 10, &tv);
	event_add(f.ev, &tv);
	assert_non_null(rig_ask(&r, 1));
	rig_run(&r, 60000);
	rig_failed(&r, "timeout");
	assert_true(pass_stats(r.p)->foreign > 0);
	event_free(f.ev);
	rig_close(&r);
}

/* pass_cancel: done is never called, the share is given back. */
static void
test_cancel(void **state)
{
	struct pass_job *jobs[PASS_PER_CLIENT];
	struct rig r;
	unsigned i;

	(void)state;
	rig_open(&r);
	for (i = 0; i < PASS_PER_CLIENT; i++)
		assert_non_null(jobs[i] = rig_ask(&r, 1));
	assert_null(rig_ask(&r, 1));
	for (i = 0; i < PASS_PER_CLIENT; i++)
		pass_cancel(jobs[i]);
	assert_int_equal(pass_stats(r.p)->inflight, 0);
	event_base_loop(r.base, EVLOOP_NONBLOCK);	/* the cancelled first tries do not run */
	assert_int_equal(r.d.calls, 0);
	assert_non_null(rig_ask(&r, 1));
	rig_close(&r);
}

/* ---- TCP after a truncated answer ---- */

/* A zone server on one port for UDP and TCP: UDP answers every query with TC set; TCP
 * answers it whole (trickle 0), or sends one byte of it at a time, every 100 ms, for as
 * long as the test lets it (trickle 1). */
struct tcp_server {
	struct zone_server *s;
	int lfd, cfd;
	int trickle;
	uint8_t q[600], a[600];
	size_t qlen, alen, sent;
	struct event *udp_ev, *accept_ev, *read_ev, *tick;
};

/* The answer to query q (its ID and question): QR, AA, tc as given, one A record. */
static size_t
answer_of(const uint8_t *q, size_t qlen, int tc, uint8_t *a)
{
	static const uint8_t rr[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 7 };
	size_t qend = 12 + sizeof(QNAME) + 4;

	assert_true(qlen >= qend);
	memcpy(a, q, qend);
	a[2] = (uint8_t)(0x84 | (tc ? 0x02 : 0));
	a[3] = 0;
	a[7] = tc ? 0 : 1;	/* ANCOUNT */
	a[9] = a[10] = a[11] = 0;
	if (tc)
		return qend;
	memcpy(a + qend, rr, sizeof(rr));
	return qend + sizeof(rr);
}

/* A UDP zone server: answers every query waiting on fd, truncated (TC) when arg is
 * non-NULL (answer_of's third argument). */
static void
answer_udp_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sockaddr_storage from;
	socklen_t sl = sizeof(from);
	uint8_t b[600], a[600];
	ssize_t n;

	(void)what;
	while ((n = recvfrom(fd, b, sizeof(b), MSG_DONTWAIT, (struct sockaddr *)&from, &sl)) > 0) {
		size_t alen = answer_of(b, (size_t)n, arg != NULL, a);

		assert_true(sendto(fd, a, alen, 0, (struct sockaddr *)&from, sl) > 0);
		sl = sizeof(from);
	}
}

static void
ts_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_server *t = arg;
	uint8_t frame[602];

	(void)fd;
	(void)what;
	if (t->alen == 0 || t->sent >= t->alen + 2)
		return;
	frame[0] = (uint8_t)(t->alen >> 8);
	frame[1] = (uint8_t)t->alen;
	memcpy(frame + 2, t->a, t->alen);
	if (!t->trickle) {
		assert_int_equal(write(t->cfd, frame, t->alen + 2), (ssize_t)(t->alen + 2));
		t->sent = t->alen + 2;
		return;
	}
	if (t->sent + 1 < t->alen + 2)	/* never the last byte */
		assert_int_equal(write(t->cfd, frame + t->sent, 1), 1);
	t->sent++;
}

static void
ts_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_server *t = arg;
	ssize_t n;

	(void)what;
	n = read(fd, t->q + t->qlen, sizeof(t->q) - t->qlen);
	if (n <= 0) {
		event_del(t->read_ev);
		return;
	}
	t->qlen += (size_t)n;
	if (t->alen == 0 && t->qlen >= 2 && t->qlen >= 2 + (size_t)(t->q[0] << 8 | t->q[1]))
		t->alen = answer_of(t->q + 2, t->qlen - 2, 0, t->a);
}

static void
ts_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_server *t = arg;
	struct event_base *base = event_get_base(t->accept_ev);

	(void)what;
	if ((t->cfd = accept(fd, NULL, NULL)) == -1)
		return;
	t->read_ev = event_new(base, t->cfd, EV_READ | EV_PERSIST, ts_read_cb, t);
	event_add(t->read_ev, NULL);
}

static void
tcp_server_open(struct tcp_server *t, struct zone_server *s, struct event_base *base,
    int trickle)
{
	struct timeval tv;
	int one = 1;

	memset(t, 0, sizeof(*t));
	t->s = s;
	t->cfd = -1;
	t->trickle = trickle;
	assert_true((t->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) != -1);
	setsockopt(t->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(t->lfd, SA(s->addr), sizeof(struct sockaddr_in)), 0);
	assert_int_equal(listen(t->lfd, 4), 0);
	t->udp_ev = event_new(base, s->fd, EV_READ | EV_PERSIST, answer_udp_cb, t);
	t->accept_ev = event_new(base, t->lfd, EV_READ | EV_PERSIST, ts_accept_cb, t);
	t->tick = event_new(base, -1, EV_PERSIST, ts_tick_cb, t);
	event_add(t->udp_ev, NULL);
	event_add(t->accept_ev, NULL);
	util_ms_to_tv(100, &tv);
	event_add(t->tick, &tv);
}

static void
tcp_server_close(struct tcp_server *t)
{
	event_free(t->udp_ev);
	event_free(t->accept_ev);
	event_free(t->tick);
	if (t->read_ev != NULL)
		event_free(t->read_ev);
	if (t->cfd != -1)
		close(t->cfd);
	close(t->lfd);
}

/* TC over UDP: asked again over TCP, answered. */
static void
test_tcp_after_tc(void **state)
{
	struct tcp_server t;
	struct rig r;

	(void)state;
	rig_open(&r);
	tcp_server_open(&t, &r.s, r.base, 0);
	assert_non_null(rig_ask(&r, 1));
	rig_run(&r, 30000);
	assert_int_equal(r.d.calls, 1);
	assert_true(r.d.answered);
	assert_int_equal(pass_stats(r.p)->tcp, 1);
	assert_int_equal(pass_stats(r.p)->answered, 1);
	tcp_server_close(&t);
	rig_close(&r);
}

/* A TCP answer that comes a byte at a time, never whole: the exchange ends at its time,
 * however often a byte comes. */
static void
test_tcp_trickle_still_ends(void **state)
{
	struct tcp_server t;
	struct rig r;

	(void)state;
	rig_open(&r);
	tcp_server_open(&t, &r.s, r.base, 1);
	assert_non_null(rig_ask(&r, 1));
	rig_run(&r, 60000);
	rig_failed(&r, "timeout");
	assert_true(t.sent > 2);	/* bytes did come */
	assert_int_equal(pass_stats(r.p)->failed, 1);
	tcp_server_close(&t);
	rig_close(&r);
}

static void
test_ipv6_server(void **state)
{
	struct event *ev;
	struct rig r;

	(void)state;
	rig_open(&r);
	close(r.s.fd);
	if (server_open_at(&r.s, "::1") == -1) {
		r.s.fd = -1;
		rig_close(&r);
		skip();
	}
	/* a zone server on ::1 that answers: the pass goes over IPv6 */
	ev = event_new(r.base, r.s.fd, EV_READ | EV_PERSIST, answer_udp_cb, NULL);
	event_add(ev, NULL);
	assert_non_null(rig_ask(&r, 1));
	rig_run(&r, 30000);
	assert_int_equal(r.d.calls, 1);
	assert_true(r.d.answered);
	event_free(ev);
	rig_close(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_busy_keeps_client_share),
		cmocka_unit_test(test_tries_then_timeout),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_foreign_flood_still_ends),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_tcp_after_tc),
		cmocka_unit_test(test_tcp_trickle_still_ends),
		cmocka_unit_test(test_ipv6_server),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
