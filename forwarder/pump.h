/* pump.h: one direction of a relayed connection (a pump from one fd to another), copying
 * through a buffer it borrows from a bufpool only while bytes are in flight. */
#ifndef GATEHOUSE_PUMP_H
#define GATEHOUSE_PUMP_H

#include <stddef.h>
#include <stdint.h>

#include "bufpool.h"

/* After this many bytes in one direction, that direction moves by splice(2) through a
 * pipe of its own: the bytes stay in the kernel. Short exchanges keep the copying path
 * (no pipe, no extra descriptors for the many small connections).
 *
 * PUMP_PIPE, the pipe asked for, from bench/splice_pipe.py (loopback, a 1 GiB download,
 * the forwarder as nobody, median of 5 runs on a quiet 2-core VM; README "Splice"):
 *   pipe     MiB/s   CPU s/GiB
 *   64 KiB   1396    0.40
 *   128 KiB  1516    0.45
 *   256 KiB  1647    0.36
 *   512 KiB  1681    0.31
 * A spliced direction holds at most one pipe of kernel memory, and an unprivileged user's
 * pipes share fs.pipe-user-pages-soft (64 MiB): 512 KiB pipes used it up after 128
 * directions, 256 KiB after 256. 256 KiB is the smallest pipe within 2% of the best
 * throughput and 16% of the best CPU, at half the memory of 512 KiB. A pipe the kernel
 * will not make at least BUFPOOL_BUF long (past the quota it makes 8 KiB ones) is not used:
 * that direction keeps copying. */
#define PUMP_SPLICE_AFTER (256 * 1024)
#ifndef PUMP_PIPE
#define PUMP_PIPE (256 * 1024)
#endif

struct pump {
	int src, dst;
	int pipe_r, pipe_w;	/* splice mode: the pipe, -1 otherwise */
	size_t in_pipe;		/* splice mode: bytes in the pipe not yet written to dst */
	int pipe_size;		/* splice mode: the pipe's capacity */
	int copy_only;		/* no usable pipe could be had: never splice */
	uint8_t *buf;		/* borrowed from the pool while len > off; NULL otherwise */
	size_t off, len;	/* unwritten bytes: buf[off..len) */
	uint64_t bytes;		/* written to dst */
	int eof;		/* src sent FIN */
	int shut;		/* dst has been shut down for writing */
	int err;		/* with PUMP_SRC_ERROR/PUMP_DST_ERROR: the errno of the failure
				 * (EPIPE when dst took nothing), for the caller's log */
};

enum pump_state {
	PUMP_READ,		/* nothing pending: wait for src to be readable */
	PUMP_WRITE,		/* bytes pending: wait for dst to be writable (src paused) */
	PUMP_DONE,		/* src ended and dst was shut down for writing */
	PUMP_SRC_ERROR,		/* reading src failed (reset) */
	PUMP_DST_ERROR		/* writing dst failed (reset) */
};

void pump_init(struct pump *p, int src, int dst);

/* Queue bytes to write first (the peeked ClientHello or request head). Copies them.
 * 0, or -1 when bytes are queued already, no buffer could be had or len is over
 * BUFPOOL_BUF. */
int pump_preload(struct pump *p, struct bufpool *pool, const uint8_t *data, size_t len);

/* src is readable: read once (spliced: up to a few pipefuls while dst takes them), write
 * what can be written. */
enum pump_state pump_on_readable(struct pump *p, struct bufpool *pool);
/* dst is writable: write what is pending (then shut dst down if src ended); spliced, a
 * drained pipe also reads src again, so PUMP_SRC_ERROR can come back from here too. */
enum pump_state pump_on_writable(struct pump *p, struct bufpool *pool);
/* Give back the buffer and close the pipe, if any (the connection is ending). */
void pump_release(struct pump *p, struct bufpool *pool);

#endif
