/* test_dial.c: forwarder/dial.c: the RFC 8305 order, and dials over real loopback sockets
 * in a real event loop: who wins, falling through refusals, the stagger, cancelling. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "addr.h"
#include "dial.h"
#include "unit_lib.h"

#define HOUR_MS (3600 * 1000)	/* a stagger that never runs out within a test */
#define DEADLINE_MS 20000	/* scaled: the bound of every wait; right answers take ms */

/* addrs, after dial_order, reads as want (addresses and ports). */
static void
expect_order(const char *const *in, const char *const *want, size_t n)
{
	struct sockaddr_storage addrs[DIAL_MAX + 8];
	size_t i;

	assert_true(n <= DIAL_MAX + 8);
	for (i = 0; i < n; i++)
		addrs[i] = sa_of(in[i]);
	dial_order(addrs, n);
	for (i = 0; i < n; i++) {
		struct sockaddr_storage w = sa_of(want[i]);

		if (!addr_equal(SA(addrs[i]), SA(w), 1))
			fail_msg("position %zu: want %s", i, want[i]);
	}
}

static void
test_order_interleaves(void **state)
{
	static const char *const in[] = { "192.0.2.1:1", "192.0.2.2:2", "[2001:db8::1]:3",
	    "[2001:db8::2]:4", "[2001:db8::3]:5", "192.0.2.3:6" };
	static const char *const want[] = { "[2001:db8::1]:3", "192.0.2.1:1", "[2001:db8::2]:4",
	    "192.0.2.2:2", "[2001:db8::3]:5", "192.0.2.3:6" };

	(void)state;
	expect_order(in, want, 6);
}

/* One family: kept as given. Unequal counts: the longer family's rest at the end. */
static void
test_order_uneven(void **state)
{
	static const char *const v4[] = { "192.0.2.3", "192.0.2.1", "192.0.2.2" };
	static const char *const v6[] = { "[2001:db8::9]:1", "[::1]:1" };
	static const char *const in[] = { "192.0.2.1", "[2001:db8::1]", "[2001:db8::2]",
	    "[2001:db8::3]" };
	static const char *const want[] = { "[2001:db8::1]", "192.0.2.1", "[2001:db8::2]",
	    "[2001:db8::3]" };

	(void)state;
	expect_order(v4, v4, 3);
	expect_order(v6, v6, 2);
	expect_order(in, want, 4);
	expect_order(in, want, 0);
}

/* Only the first DIAL_MAX are ordered; the rest stay where they are. */
static void
test_order_limit(void **state)
{
	const char *in[DIAL_MAX + 2], *want[DIAL_MAX + 2];
	char text[DIAL_MAX + 2][48];
	size_t i;

	(void)state;
	for (i = 0; i < DIAL_MAX + 2; i++) {
		if (i % 2 == 0)
			snprintf(text[i], sizeof(text[i]), "192.0.2.%zu", i);
		else
			snprintf(text[i], sizeof(text[i]), "[2001:db8::%zu]", i);
		in[i] = text[i];
	}
	/* in: 4 6 4 6 ... then the two past the limit, which stay put */
	for (i = 0; i < DIAL_MAX; i += 2) {
		want[i] = text[i + 1];
		want[i + 1] = text[i];
	}
	want[DIAL_MAX] = text[DIAL_MAX];
	want[DIAL_MAX + 1] = text[DIAL_MAX + 1];
	expect_order(in, want, DIAL_MAX + 2);
}

/* ---- dials over loopback ---- */

struct outcome {
	int called;
	int fd;
	struct sockaddr_storage sa;
	int has_sa;
	int err;
};

static void
record_cb(void *arg, int fd, const struct sockaddr_storage *sa, int err)
{
	struct outcome *o = arg;

	o->called++;
	o->fd = fd;
	o->has_sa = sa != NULL;
	if (sa != NULL)
		o->sa = *sa;
	o->err = err;
}

/* A listening socket on ip (an ephemeral port) with this backlog; its address in out. */
static int
listener(const char *ip, int backlog, struct sockaddr_storage *out)
{
	struct sockaddr_storage ss = sa_of(ip);
	socklen_t len = sizeof(*out);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, SA(ss), addr_len(SA(ss))), 0);
	assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)out, &len), 0);
	return fd;
}

/* A loopback port nobody listens on: connecting to it is refused (RST). */
static struct sockaddr_storage
closed_port(const char *ip)
{
	struct sockaddr_storage ss;

	close(listener(ip, 1, &ss));
	return ss;
}

/* A listener whose accept queue is full (backlog 0, one connection never accepted): the
 * kernel drops further SYNs, so a connect to it stays in progress. *filler: that
 * connection, to close with the listener. */
static int
hanging_listener(struct sockaddr_storage *out, int *filler)
{
	int fd = listener("127.0.0.1", 0, out), err = 0;
	socklen_t el = sizeof(err);
	struct pollfd pfd;

	*filler = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(*filler >= 0);
	if (connect(*filler, SA(*out), addr_len(SA(*out))) == -1)
		assert_int_equal(errno, EINPROGRESS);
	pfd.fd = *filler;
	pfd.events = POLLOUT;
	assert_int_equal(poll(&pfd, 1, (int)unit_scaled_ms(DEADLINE_MS)), 1);
	assert_int_equal(getsockopt(*filler, SOL_SOCKET, SO_ERROR, &err, &el), 0);
	assert_int_equal(err, 0);
	return fd;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void
expire_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
}

/* Run the loop until cond(arg) holds, looking at least every few ms; fail at the deadline. */
static void
run_until(struct event_base *base, int (*cond)(const void *), const void *arg)
{
	struct timeval tick = { 0, 2000 }, dl;
	int expired = 0, turns;
	struct event *t = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	struct event *d = evtimer_new(base, expire_cb, &expired);

	assert_non_null(t);
	assert_non_null(d);
	dl.tv_sec = (time_t)(unit_scaled_ms(DEADLINE_MS) / 1000);
	dl.tv_usec = 0;
	assert_int_equal(event_add(t, &tick), 0);
	assert_int_equal(evtimer_add(d, &dl), 0);
	for (turns = 0; !cond(arg) && !expired && turns < 1000000; turns++)
		assert_int_not_equal(event_base_loop(base, EVLOOP_ONCE), -1);
	event_free(t);
	event_free(d);
	assert_true(cond(arg));
}

static int
was_called(const void *arg)
{
	return ((const struct outcome *)arg)->called > 0;
}

/* Dial n addresses and wait for the outcome (never reported from inside dial_start). */
static struct outcome
dial_wait(struct event_base *base, const struct sockaddr_storage *addrs, size_t n,
    uint64_t stagger_ms)
{
	struct outcome o = { 0, -2, { 0 }, 0, 0 };

	assert_non_null(dial_start(base, addrs, n, stagger_ms, record_cb, &o));
	assert_int_equal(o.called, 0);
	run_until(base, was_called, &o);
	assert_int_equal(o.called, 1);
	return o;
}

/* The dial connected to want: a live connection the listener lfd can accept. */
static void
expect_won(struct outcome *o, const struct sockaddr_storage *want, int lfd)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	int afd;

	assert_true(o->fd >= 0);
	assert_int_equal(o->err, 0);
	assert_true(o->has_sa);
	assert_true(addr_equal(SA(o->sa), SA(*want), 1));
	assert_int_equal(getpeername(o->fd, (struct sockaddr *)&peer, &len), 0);
	assert_true(addr_equal(SA(peer), SA(*want), 1));
	assert_true((afd = accept(lfd, NULL, NULL)) >= 0);
	assert_int_equal(send(o->fd, "x", 1, MSG_NOSIGNAL), 1);
	close(afd);
	close(o->fd);
}

/* Nothing connected to this listener. */
static void
expect_untouched(int lfd)
{
	assert_int_equal(accept(lfd, NULL, NULL), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

static int
have_ipv6(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_storage ss = sa_of("::1");
	int ok = fd >= 0 && bind(fd, SA(ss), addr_len(SA(ss))) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static int
setup_base(void **state)
{
	*state = event_base_new();
	return *state == NULL ? -1 : 0;
}

/* Every dial gave back what it held: no event left in the loop. */
static int
teardown_base(void **state)
{
	struct event_base *base = *state;
	int left = event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_ACTIVE);

	event_base_free(base);
	return left == 0 ? 0 : -1;
}

static void
test_accepting_wins(void **state)
{
	struct sockaddr_storage a;
	int fds = unit_fd_count(), l = listener("127.0.0.1", 8, &a);
	struct outcome o = dial_wait(*state, &a, 1, HOUR_MS);

	expect_won(&o, &a, l);
	close(l);
	assert_int_equal(unit_fd_count(), fds);
}

/* A refusal starts the next address at once: the stagger (an hour) never runs out. */
static void
test_refused_falls_through(void **state)
{
	struct sockaddr_storage addrs[3];
	int l = listener("127.0.0.1", 8, &addrs[2]);
	struct outcome o;

	addrs[0] = closed_port("127.0.0.1");
	addrs[1] = closed_port("127.0.0.1");
	o = dial_wait(*state, addrs, 3, HOUR_MS);
	expect_won(&o, &addrs[2], l);
	close(l);
}

static void
test_all_refused(void **state)
{
	struct sockaddr_storage addrs[2];
	int fds = unit_fd_count();
	struct outcome o;

	addrs[0] = closed_port("127.0.0.1");
	addrs[1] = closed_port("127.0.0.1");
	o = dial_wait(*state, addrs, 2, HOUR_MS);
	assert_int_equal(o.fd, -1);
	assert_false(o.has_sa);
	assert_int_equal(o.err, ECONNREFUSED);
	assert_int_equal(unit_fd_count(), fds);
}

/* A failure before connect (no socket for the family) is reported from the loop too, with
 * its errno; no address at all, as refused. */
static void
test_socket_failure(void **state)
{
	struct sockaddr_storage bad = sa_of("127.0.0.1:9");
	struct outcome o;

	bad.ss_family = AF_UNSPEC;
	o = dial_wait(*state, &bad, 1, HOUR_MS);
	assert_int_equal(o.fd, -1);
	assert_int_equal(o.err, EAFNOSUPPORT);
	o = dial_wait(*state, &bad, 0, HOUR_MS);	/* nothing to try */
	assert_int_equal(o.fd, -1);
	assert_int_equal(o.err, ECONNREFUSED);
}

/* Only the first DIAL_MAX addresses are tried. */
static void
test_limit(void **state)
{
	struct sockaddr_storage addrs[DIAL_MAX + 1];
	int l = listener("127.0.0.1", 8, &addrs[DIAL_MAX]), i;
	struct outcome o;

	for (i = 0; i < DIAL_MAX; i++)
		addrs[i] = closed_port("127.0.0.1");
	o = dial_wait(*state, addrs, DIAL_MAX + 1, HOUR_MS);
	assert_int_equal(o.fd, -1);
	assert_int_equal(o.err, ECONNREFUSED);
	expect_untouched(l);
	addrs[DIAL_MAX - 1] = addrs[DIAL_MAX];
	o = dial_wait(*state, addrs, DIAL_MAX, HOUR_MS);
	expect_won(&o, &addrs[DIAL_MAX], l);
	close(l);
}

/* Halfway through the stagger (a timer in the same loop, so it runs first whatever the
 * load): the dial has not finished and the second address has seen nothing. */
struct midway {
	const struct outcome *o;
	int lfd;
	int seen, early;
};

static void
midway_cb(evutil_socket_t fd, short what, void *arg)
{
	struct midway *m = arg;
	int afd = accept(m->lfd, NULL, NULL);

	(void)fd;
	(void)what;
	m->seen = 1;
	m->early = m->o->called > 0 || afd != -1;
	if (afd != -1)
		close(afd);
}

/* While the first attempt hangs, the stagger (and only the stagger) starts the next, which
 * wins; the hanging attempt is closed with the dial. */
static void
test_stagger_starts_next(void **state)
{
	struct sockaddr_storage addrs[2];
	int fds = unit_fd_count(), filler, h = hanging_listener(&addrs[0], &filler);
	int l = listener("127.0.0.1", 8, &addrs[1]);
	struct outcome o = { 0, -2, { 0 }, 0, 0 };
	struct midway m = { &o, l, 0, 0 };
	struct timeval half = { 0, 50 * 1000 };
	struct event *ev = evtimer_new(*state, midway_cb, &m);

	assert_non_null(ev);
	assert_int_equal(evtimer_add(ev, &half), 0);
	assert_non_null(dial_start(*state, addrs, 2, 100, record_cb, &o));
	run_until(*state, was_called, &o);
	assert_true(m.seen);
	assert_false(m.early);
	event_free(ev);
	expect_won(&o, &addrs[1], l);
	close(l);
	close(filler);
	close(h);
	assert_int_equal(unit_fd_count(), fds);
}

/* Before the stagger runs out no second attempt starts: the first address wins and the
 * second never sees a connection. IPv6 goes first, whatever the input order. */
static void
test_stagger_waits(void **state)
{
	struct sockaddr_storage addrs[2];
	int l0 = listener("127.0.0.1", 8, &addrs[0]), l1 = listener("127.0.0.1", 8, &addrs[1]);
	struct outcome o = dial_wait(*state, addrs, 2, HOUR_MS);

	expect_won(&o, &addrs[0], l0);
	expect_untouched(l1);
	close(l1);
	if (have_ipv6()) {
		l1 = listener("::1", 8, &addrs[1]);
		o = dial_wait(*state, addrs, 2, HOUR_MS);
		expect_won(&o, &addrs[1], l1);
		expect_untouched(l0);
		close(l1);
	}
	close(l0);
}

struct fd_goal {
	int want;
};

static int
fds_reached(const void *arg)
{
	return unit_fd_count() >= ((const struct fd_goal *)arg)->want;
}

/* Cancelling with three attempts in progress closes them all and reports nothing. */
static void
test_cancel_frees(void **state)
{
	struct sockaddr_storage addrs[3];
	int filler, h = hanging_listener(&addrs[0], &filler), fds = unit_fd_count();
	struct fd_goal goal = { fds + 3 };
	struct outcome o = { 0, -2, { 0 }, 0, 0 };
	struct dial *d;

	addrs[1] = addrs[2] = addrs[0];
	assert_non_null(d = dial_start(*state, addrs, 3, 1, record_cb, &o));
	run_until(*state, fds_reached, &goal);
	dial_cancel(d);
	assert_int_equal(unit_fd_count(), fds);
	assert_int_equal(event_base_loop(*state, EVLOOP_NONBLOCK), 1);	/* nothing left */
	assert_int_equal(o.called, 0);
	close(filler);
	close(h);
}

/* Cancelling after the failure was queued (nothing to try) reports nothing either. */
static void
test_cancel_queued_failure(void **state)
{
	struct sockaddr_storage none = sa_of("127.0.0.1:9");
	struct outcome o = { 0, -2, { 0 }, 0, 0 };
	struct dial *d = dial_start(*state, &none, 0, HOUR_MS, record_cb, &o);

	assert_non_null(d);
	dial_cancel(d);
	dial_cancel(NULL);
	assert_int_equal(event_base_loop(*state, EVLOOP_NONBLOCK), 1);
	assert_int_equal(o.called, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_interleaves),
		cmocka_unit_test(test_order_uneven),
		cmocka_unit_test(test_order_limit),
		cmocka_unit_test_setup_teardown(test_accepting_wins, setup_base, teardown_base),
		cmocka_unit_test_setup_teardown(test_refused_falls_through, setup_base, teardown_base),
		cmocka_unit_test_setup_teardown(test_all_refused, setup_base, teardown_base),
		cmocka_unit_test_setup_teardown(test_socket_failure, setup_base, teardown_base),
		cmocka_unit_test_setup_teardown(test_limit, setup_base, teardown_base),
		cmocka_unit_test_setup_teardown(test_stagger_starts_next, setup_base, teardown_base),
		cmocka_unit_test_setup_teardown(test_stagger_waits, setup_base, teardown_base),
		cmocka_unit_test_setup_teardown(test_cancel_frees, setup_base, teardown_base),
		cmocka_unit_test_setup_teardown(test_cancel_queued_failure, setup_base, teardown_base),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
