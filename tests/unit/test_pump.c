/* test_pump.c: forwarder/pump.c over socketpairs and TCP loopback pairs: bytes intact and
 * in order both ways, backpressure, half-close, the switch to splice, errors. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>

#include "pump.h"
#include "unit_lib.h"

#define DEADLINE_MS 20000	/* scaled: the bound of every wait */
#define MAX_ROUNDS 2000000	/* and of every loop */
#define MIB (1024 * 1024)

/*
 * The test holds c (the client) and s (the server); the pumps hold a and b and move
 * a -> b (up) and b -> a (down), driven as conn.c drives them: read src only in PUMP_READ,
 * wait for dst only in PUMP_WRITE.
 */
struct rig {
	struct bufpool *pool;
	int c, a, b, s;
	struct pump up, down;
	enum pump_state up_st, down_st;
};

/* One direction the test writes and reads: the byte at offset i is pattern(seed, i). */
struct flow {
	int wfd, rfd;
	uint64_t seed;
	size_t size, sent, got;
	int eof;		/* rfd read end of file */
	int bad;		/* rfd gave a wrong byte */
};

static uint8_t
pattern(uint64_t seed, size_t i)
{
	uint64_t h = ((uint64_t)i + seed) * 0x9E3779B97F4A7C15ULL;

	return (uint8_t)(h >> 56);
}

static void
nonblock(int fd)
{
	assert_int_not_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), -1);
}

/* A connected TCP pair on loopback: *x connects, *y is accepted. */
static void
tcp_pair(int *x, int *y)
{
	struct sockaddr_storage ss = sa_of("127.0.0.1");
	socklen_t len = sizeof(ss);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(l >= 0);
	assert_int_equal(bind(l, SA(ss), addr_len(SA(ss))), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&ss, &len), 0);
	*x = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(*x >= 0);
	assert_int_equal(connect(*x, SA(ss), len), 0);
	*y = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	assert_true(*y >= 0);
	close(l);
}

/* Small socket buffers (no TCP autotuning): a stalled stream fills them soon. */
static void
small_buffers(int fd)
{
	int size = 32 * 1024;

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)), 0);
}

enum rig_kind { RIG_UNIX, RIG_TCP, RIG_TCP_SMALL };

static void
rig_open(struct rig *r, enum rig_kind kind)
{
	int pair[2], tcp = kind != RIG_UNIX;

	memset(r, 0, sizeof(*r));
	assert_non_null(r->pool = bufpool_new(4));
	if (tcp) {
		tcp_pair(&r->c, &r->a);
		tcp_pair(&r->b, &r->s);
	} else {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
		r->c = pair[0];
		r->a = pair[1];
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
		r->b = pair[0];
		r->s = pair[1];
	}
	nonblock(r->c);
	nonblock(r->a);
	nonblock(r->b);
	nonblock(r->s);
	if (kind == RIG_TCP_SMALL) {
		small_buffers(r->c);
		small_buffers(r->a);
		small_buffers(r->b);
		small_buffers(r->s);
	}
	pump_init(&r->up, r->a, r->b);
	pump_init(&r->down, r->b, r->a);
	r->up_st = r->down_st = PUMP_READ;
}

static void
rig_close(struct rig *r)
{
	pump_release(&r->up, r->pool);
	pump_release(&r->down, r->pool);
	bufpool_free(r->pool);
	if (r->c != -1)
		close(r->c);
	if (r->s != -1)
		close(r->s);
	close(r->a);
	close(r->b);
}

/* Close fd with a reset (RST) rather than a FIN. */
static void
reset_close(int *fd)
{
	struct linger lg = { 1, 0 };

	assert_int_equal(setsockopt(*fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(*fd);
	*fd = -1;
}

/* Give one pump its turn if its fd is ready (as the event loop would). */
static void
pump_turn(struct pump *p, enum pump_state *st, struct bufpool *pool)
{
	struct pollfd pfd = { -1, 0, 0 };

	if (*st == PUMP_READ)
		pfd = (struct pollfd){ p->src, POLLIN, 0 };
	else if (*st == PUMP_WRITE)
		pfd = (struct pollfd){ p->dst, POLLOUT, 0 };
	else
		return;
	if (poll(&pfd, 1, 0) != 1)
		return;
	*st = *st == PUMP_READ ? pump_on_readable(p, pool) : pump_on_writable(p, pool);
}

/* Write what the flow has left and the socket takes: 0 when it took nothing. */
static int
flow_write(struct flow *f)
{
	uint8_t chunk[16384];
	size_t n = f->size - f->sent, i;
	ssize_t w;

	if (n == 0)
		return 0;
	if (n > sizeof(chunk))
		n = sizeof(chunk);
	for (i = 0; i < n; i++)
		chunk[i] = pattern(f->seed, f->sent + i);
	if ((w = send(f->wfd, chunk, n, MSG_NOSIGNAL)) > 0) {
		f->sent += (size_t)w;
		return 1;
	}
	assert_true(w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK));
	return 0;
}

/* Read what has arrived, checking each byte's value at its offset. */
static void
flow_read(struct flow *f)
{
	uint8_t chunk[65536];
	ssize_t r, i;

	while ((r = recv(f->rfd, chunk, sizeof(chunk), 0)) > 0) {
		for (i = 0; i < r; i++)
			if (chunk[i] != pattern(f->seed, f->got + (size_t)i))
				f->bad = 1;
		f->got += (size_t)r;
	}
	if (r == 0)
		f->eof = 1;
	else
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

static int
flow_done(const struct flow *f)
{
	return f->bad || f->got >= f->size;
}

/* Nap until something may have changed (a bound on spinning, not a timing). */
static void
nap(const struct rig *r)
{
	struct pollfd pfd[4] = { { r->a, POLLIN, 0 }, { r->b, POLLIN, 0 },
	    { r->c, POLLIN, 0 }, { r->s, POLLIN, 0 } };

	(void)poll(pfd, 4, 1);
}

/* Move flows (NULL-terminated) until each has read what it wrote (or a wrong byte). */
static void
rig_run(struct rig *r, struct flow **flows)
{
	uint64_t deadline = unit_now_ms() + unit_scaled_ms(DEADLINE_MS);
	int rounds, all;
	struct flow **f;

	for (rounds = 0; rounds < MAX_ROUNDS && unit_now_ms() < deadline; rounds++) {
		all = 1;
		for (f = flows; *f != NULL; f++) {
			flow_write(*f);
			flow_read(*f);
			all = all && flow_done(*f);
		}
		pump_turn(&r->up, &r->up_st, r->pool);
		pump_turn(&r->down, &r->down_st, r->pool);
		if (all)
			break;
		nap(r);
	}
	for (f = flows; *f != NULL; f++) {
		assert_false((*f)->bad);
		assert_int_equal((*f)->got, (*f)->size);
	}
}

/* Turn the pumps (writing flow f, if any) until *st is want. */
static void
rig_wait(struct rig *r, struct flow *f, const enum pump_state *st, enum pump_state want)
{
	uint64_t deadline = unit_now_ms() + unit_scaled_ms(DEADLINE_MS);
	int rounds;

	for (rounds = 0; rounds < MAX_ROUNDS && *st != want && unit_now_ms() < deadline;
	    rounds++) {
		if (f != NULL)
			flow_write(f);
		pump_turn(&r->up, &r->up_st, r->pool);
		pump_turn(&r->down, &r->down_st, r->pool);
		nap(r);
	}
	assert_int_equal(*st, want);
}

static struct flow
flow_up(const struct rig *r, size_t size)
{
	return (struct flow){ r->c, r->s, 0x5eed, size, 0, 0, 0, 0 };
}

static struct flow
flow_down(const struct rig *r, size_t size)
{
	return (struct flow){ r->s, r->c, 0xd0e, size, 0, 0, 0, 0 };
}

/* ---- intact, in order, both ways ---- */

static void
both_ways(int tcp, size_t up_bytes, size_t down_bytes)
{
	struct rig r;
	int fds = unit_fd_count();

	rig_open(&r, tcp);
	{
		struct flow u = flow_up(&r, up_bytes), d = flow_down(&r, down_bytes);
		struct flow *flows[] = { &u, &d, NULL };

		rig_run(&r, flows);
	}
	assert_int_equal(r.up.bytes, up_bytes);
	assert_int_equal(r.down.bytes, down_bytes);
	assert_int_equal(r.up_st, PUMP_READ);
	assert_int_equal(r.down_st, PUMP_READ);
	assert_int_equal(r.up.err, 0);
	assert_int_equal(r.down.err, 0);
	rig_close(&r);
	assert_int_equal(unit_fd_count(), fds);
}

static void
test_both_ways(void **state)
{
	(void)state;
	both_ways(RIG_UNIX, 200000, 150001);
	both_ways(RIG_UNIX, 1, 0);
	both_ways(RIG_TCP, 100000, 200001);
}

/* Past PUMP_SPLICE_AFTER a direction splices (its own pipe); the stream stays intact, the
 * short direction keeps copying, and releasing closes the pipe (the fd count). */
static void
test_splice_intact(void **state)
{
	struct rig r;
	int fds = unit_fd_count();

	(void)state;
	rig_open(&r, RIG_TCP);
	{
		struct flow u = flow_up(&r, 5 * MIB + 333), d = flow_down(&r, 1000);
		struct flow *flows[] = { &u, &d, NULL };

		rig_run(&r, flows);
	}
	if (r.up.copy_only)
		skip();		/* no pipe of BUFPOOL_BUF to be had here: nothing to test */
	assert_int_not_equal(r.up.pipe_r, -1);
	assert_true(r.up.pipe_size >= BUFPOOL_BUF);
	assert_int_equal(r.up.in_pipe, 0);
	assert_int_equal(r.down.pipe_r, -1);
	assert_int_equal(r.up.bytes, 5 * MIB + 333);
	{
		/* and the other way too, now both at once and both spliced */
		struct flow u = flow_up(&r, 3 * MIB), d = flow_down(&r, 4 * MIB + 1);
		struct flow *flows[] = { &u, &d, NULL };

		u.seed = 77;
		rig_run(&r, flows);
	}
	assert_int_not_equal(r.down.pipe_r, -1);
	assert_int_equal(r.down.bytes, 4 * MIB + 1001);
	rig_close(&r);
	assert_int_equal(unit_fd_count(), fds);
}

/* ---- backpressure ---- */

/* Write into c, nobody reading s, until the writer is refused while the pump waits for dst:
 * the pump holds at most a buffer and stopped reading src. */
static void
stall_up(struct rig *r, struct flow *u)
{
	uint64_t deadline = unit_now_ms() + unit_scaled_ms(DEADLINE_MS);
	int rounds, wrote = 1;

	for (rounds = 0; rounds < MAX_ROUNDS && unit_now_ms() < deadline; rounds++) {
		wrote = flow_write(u);
		pump_turn(&r->up, &r->up_st, r->pool);
		if (!wrote && r->up_st == PUMP_WRITE)
			break;
		nap(r);
	}
	assert_false(wrote);
	assert_true(u->sent < u->size);
	assert_int_equal(r->up_st, PUMP_WRITE);
}

static size_t
unread(int fd)
{
	int n = -1;

	assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
	assert_true(n >= 0);
	return (size_t)n;
}

/* Socketpairs, where every byte can be accounted for: what c wrote is in a (unread), in
 * the pump's buffer, or in s; nothing is lost when s reads again. */
static void
test_backpressure(void **state)
{
	struct rig r;
	size_t pending, in_src;

	(void)state;
	rig_open(&r, RIG_UNIX);
	{
		struct flow u = flow_up(&r, 32 * MIB);
		struct flow *flows[] = { &u, NULL };

		stall_up(&r, &u);
		pending = r.up.len - r.up.off;
		assert_true(pending > 0 && pending <= BUFPOOL_BUF);
		assert_true(unread(r.a) > 0);
		assert_int_equal(unread(r.s), r.up.bytes);
		assert_int_equal(u.sent, unread(r.a) + pending + r.up.bytes);
		/* a readiness of src while paused (a stale event) reads nothing */
		in_src = unread(r.a);
		assert_int_equal(pump_on_readable(&r.up, r.pool), PUMP_WRITE);
		assert_int_equal(unread(r.a), in_src);
		u.size = u.sent + 12345;	/* then resume: read s */
		rig_run(&r, flows);
	}
	rig_close(&r);
}

/* Spliced, the pipe is the buffer: it holds at most a pipeful while dst is full. */
static void
test_backpressure_spliced(void **state)
{
	struct rig r;

	(void)state;
	rig_open(&r, RIG_TCP_SMALL);
	{
		struct flow u = flow_up(&r, PUMP_SPLICE_AFTER + 1);
		struct flow *flows[] = { &u, NULL };

		rig_run(&r, flows);
		if (r.up.copy_only)
			skip();
		assert_int_not_equal(r.up.pipe_r, -1);
		u.size = 64 * MIB;
		stall_up(&r, &u);
		assert_true(r.up.in_pipe > 0 && r.up.in_pipe <= (size_t)r.up.pipe_size);
		assert_null(r.up.buf);
		u.size = u.sent + 54321;
		rig_run(&r, flows);
	}
	rig_close(&r);
}

/* ---- half-close ---- */

/* EOF from c reaches s as a shutdown (FIN) while s to c keeps flowing, then ends too. */
static void
half_close(enum rig_kind kind)
{
	struct rig r;

	rig_open(&r, kind);
	{
		struct flow u = flow_up(&r, 70000), d = flow_down(&r, PUMP_SPLICE_AFTER + 99999);
		struct flow *up_only[] = { &u, NULL }, *down_only[] = { &d, NULL };

		rig_run(&r, up_only);
		assert_int_equal(shutdown(r.c, SHUT_WR), 0);
		rig_wait(&r, NULL, &r.up_st, PUMP_DONE);
		assert_true(r.up.eof && r.up.shut);
		flow_read(&u);
		assert_true(u.eof);
		assert_int_equal(r.down_st, PUMP_READ);
		rig_run(&r, down_only);
		assert_false(d.eof);
		assert_int_equal(shutdown(r.s, SHUT_WR), 0);
		rig_wait(&r, NULL, &r.down_st, PUMP_DONE);
		flow_read(&d);
		assert_true(d.eof);
		assert_int_equal(d.got, d.size);
	}
	assert_int_equal(r.up.err, 0);
	assert_int_equal(r.down.err, 0);
	rig_close(&r);
}

static void
test_half_close(void **state)
{
	(void)state;
	half_close(RIG_UNIX);
	half_close(RIG_TCP);
}

/* ---- errors: the state says which side, pump.err the errno ---- */

/* c resets: reading src fails with ECONNRESET (copying, then spliced). */
static void
src_reset(size_t before)
{
	struct rig r;

	rig_open(&r, RIG_TCP);
	{
		struct flow u = flow_up(&r, before);
		struct flow *flows[] = { &u, NULL };

		rig_run(&r, flows);
	}
	reset_close(&r.c);
	rig_wait(&r, NULL, &r.up_st, PUMP_SRC_ERROR);
	assert_int_equal(r.up.err, ECONNRESET);
	rig_close(&r);
}

/* s resets (TCP) or closes (socketpair): writing dst fails, with EPIPE or ECONNRESET. */
static void
dst_gone(enum rig_kind kind, size_t before)
{
	struct rig r;

	rig_open(&r, kind);
	{
		struct flow u = flow_up(&r, before);
		struct flow *flows[] = { &u, NULL };

		rig_run(&r, flows);
		if (kind == RIG_UNIX) {
			close(r.s);
			r.s = -1;
		} else
			reset_close(&r.s);
		u.size += 4 * MIB;
		rig_wait(&r, &u, &r.up_st, PUMP_DST_ERROR);
	}
	if (kind == RIG_UNIX)
		assert_int_equal(r.up.err, EPIPE);
	else
		assert_true(r.up.err == EPIPE || r.up.err == ECONNRESET);
	rig_close(&r);
}

static void
test_errors(void **state)
{
	(void)state;
	src_reset(1000);
	src_reset(PUMP_SPLICE_AFTER + 1000);
	dst_gone(RIG_UNIX, 1000);
	dst_gone(RIG_TCP, 1000);
	dst_gone(RIG_TCP, PUMP_SPLICE_AFTER + 1000);
}

/* ---- preload ---- */

/* Preloaded bytes go first; one preload at a time, at most a buffer. */
static void
test_preload(void **state)
{
	static const uint8_t big[BUFPOOL_BUF + 1];
	char got[16] = "";
	size_t n = 0;
	int rounds;
	struct rig r;

	(void)state;
	rig_open(&r, RIG_UNIX);
	assert_int_equal(pump_preload(&r.up, r.pool, (const uint8_t *)"HEAD\n", 5), 0);
	assert_int_equal(pump_preload(&r.up, r.pool, (const uint8_t *)"x", 1), -1);
	assert_int_equal(pump_preload(&r.down, r.pool, big, sizeof(big)), -1);
	assert_int_equal(pump_preload(&r.down, r.pool, big, 0), 0);
	assert_int_equal(send(r.c, "body", 4, 0), 4);
	r.up_st = pump_on_writable(&r.up, r.pool);
	for (rounds = 0; rounds < 100000 && n < 9; rounds++) {
		ssize_t g = recv(r.s, got + n, sizeof(got) - 1 - n, 0);

		if (g > 0)
			n += (size_t)g;
		pump_turn(&r.up, &r.up_st, r.pool);
		nap(&r);
	}
	assert_string_equal(got, "HEAD\nbody");
	assert_int_equal(r.up.bytes, 9);
	rig_close(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_ways),
		cmocka_unit_test(test_splice_intact),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_backpressure_spliced),
		cmocka_unit_test(test_half_close),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_preload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
