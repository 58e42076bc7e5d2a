/* pump.c: moving bytes from one socket to another with bounded buffering and half-close:
 * copied through a pooled buffer, or spliced through a pipe once a transfer is bulk. */
#include "pump.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SPLICE_ROUNDS 4		/* pipefuls moved per readiness before yielding */

void
pump_init(struct pump *p, int src, int dst)
{
	memset(p, 0, sizeof(*p));
	p->src = src;
	p->dst = dst;
	p->pipe_r = p->pipe_w = -1;
}

/* The copy buffer goes back to the pool once it is empty. */
static void
buf_release(struct pump *p, struct bufpool *pool)
{
	if (p->buf != NULL) {
		bufpool_put(pool, p->buf);
		p->buf = NULL;
	}
	p->off = p->len = 0;
}

void
pump_release(struct pump *p, struct bufpool *pool)
{
	buf_release(p, pool);
	if (p->pipe_r != -1) {
		close(p->pipe_r);
		close(p->pipe_w);
		p->pipe_r = p->pipe_w = -1;
	}
	p->in_pipe = 0;
}

/* Switch to splice once the direction is a bulk transfer and the copy buffer is empty.
 * Without a pipe of at least BUFPOOL_BUF (EMFILE, the user's pipe quota used up: the kernel
 * then makes 8 KiB pipes) this direction keeps the copying path for good. */
static void
maybe_splice(struct pump *p)
{
	int fds[2], size;

	if (p->pipe_r != -1 || p->copy_only || p->bytes < PUMP_SPLICE_AFTER || p->off < p->len)
		return;
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1) {
		p->copy_only = 1;
		return;
	}
	/* Refused (pipe-max-size, the quota): the pipe keeps what it got, if enough. */
	(void)fcntl(fds[1], F_SETPIPE_SZ, PUMP_PIPE);
	if ((size = fcntl(fds[1], F_GETPIPE_SZ)) < BUFPOOL_BUF) {
		close(fds[0]);
		close(fds[1]);
		p->copy_only = 1;
		return;
	}
	p->pipe_size = size;
	p->pipe_r = fds[0];
	p->pipe_w = fds[1];
}

/* What a write to dst that returned w (-1: errno says why) means for the loop writing:
 * PUMP_READ to go on (w bytes went out, counted in p->bytes, or a signal interrupted the
 * call), PUMP_WRITE when dst is full, PUMP_DST_ERROR with p->err when it failed (EPIPE when
 * dst took nothing). */
static enum pump_state
dst_wrote(struct pump *p, ssize_t w)
{
	if (w > 0) {
		p->bytes += (uint64_t)w;
		return PUMP_READ;
	}
	if (w == -1 && errno == EINTR)
		return PUMP_READ;
	if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return PUMP_WRITE;
	p->err = w == 0 ? EPIPE : errno;
	return PUMP_DST_ERROR;
}

/* Nothing is pending for dst: shut it down for writing once src has ended (PUMP_DONE),
 * else wait for src (PUMP_READ). */
static enum pump_state
nothing_pending(struct pump *p)
{
	if (p->eof) {
		if (!p->shut) {
			shutdown(p->dst, SHUT_WR);
			p->shut = 1;
		}
		return PUMP_DONE;
	}
	return PUMP_READ;
}

/* Splice mode: move what the pipe holds to dst. */
static enum pump_state
splice_flush(struct pump *p)
{
	while (p->in_pipe > 0) {
		ssize_t w = splice(p->pipe_r, NULL, p->dst, NULL, p->in_pipe,
		    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		enum pump_state st = dst_wrote(p, w);

		if (st != PUMP_READ)
			return st;
		if (w > 0)
			p->in_pipe -= (size_t)w;
	}
	return nothing_pending(p);
}

/* Splice mode: src is readable, so fill the (empty) pipe from it, then flush; while dst
 * takes everything and src has more, go round again (a few times, then let others run)
 * rather than back through the event loop for each pipeful. */
static enum pump_state
splice_read(struct pump *p)
{
	enum pump_state st = PUMP_READ;
	int round;
	ssize_t r;

	if (p->in_pipe > 0 || p->eof)
		return splice_flush(p);
	for (round = 0; round < SPLICE_ROUNDS && st == PUMP_READ; round++) {
		do
			r = splice(p->src, NULL, p->pipe_w, NULL, (size_t)p->pipe_size,
			    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		while (r == -1 && errno == EINTR);
		if (r > 0)
			p->in_pipe = (size_t)r;
		else if (r == 0)
			p->eof = 1;
		else if (errno == EAGAIN || errno == EWOULDBLOCK)
			return PUMP_READ;
		else {
			p->err = errno;
			return PUMP_SRC_ERROR;
		}
		st = splice_flush(p);
	}
	return st;
}

int
pump_preload(struct pump *p, struct bufpool *pool, const uint8_t *data, size_t len)
{
	if (len == 0)
		return 0;
	if (len > BUFPOOL_BUF || p->buf != NULL || (p->buf = bufpool_get(pool)) == NULL)
		return -1;
	memcpy(p->buf, data, len);
	p->off = 0;
	p->len = len;
	return 0;
}

/* Write pending bytes; shut dst down once src has ended and nothing is pending. */
static enum pump_state
flush(struct pump *p, struct bufpool *pool)
{
	while (p->off < p->len) {
		ssize_t w = send(p->dst, p->buf + p->off, p->len - p->off, MSG_NOSIGNAL);
		enum pump_state st = dst_wrote(p, w);

		if (st != PUMP_READ)
			return st;
		if (w > 0)
			p->off += (size_t)w;
	}
	buf_release(p, pool);
	maybe_splice(p);
	return nothing_pending(p);
}

enum pump_state
pump_on_readable(struct pump *p, struct bufpool *pool)
{
	ssize_t r;

	if (p->pipe_r != -1)
		return splice_read(p);
	if (p->off < p->len)
		return flush(p, pool);	/* still blocked on dst */
	if (p->eof)
		return flush(p, pool);
	if (p->buf == NULL && (p->buf = bufpool_get(pool)) == NULL)
		return PUMP_READ;	/* out of memory: try again on the next readiness */
	do
		r = recv(p->src, p->buf, BUFPOOL_BUF, 0);
	while (r == -1 && errno == EINTR);
	if (r > 0) {
		p->off = 0;
		p->len = (size_t)r;
		return flush(p, pool);
	}
	if (r == 0) {
		p->eof = 1;
		return flush(p, pool);
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		buf_release(p, pool);
		return PUMP_READ;
	}
	p->err = errno;
	buf_release(p, pool);
	return PUMP_SRC_ERROR;
}

enum pump_state
pump_on_writable(struct pump *p, struct bufpool *pool)
{
	enum pump_state st;

	if (p->pipe_r == -1)
		return flush(p, pool);
	/* The pipe drained: src most likely has more waiting already. */
	if ((st = splice_flush(p)) == PUMP_READ)
		return splice_read(p);
	return st;
}
