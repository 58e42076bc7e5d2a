/* bufpool.h: equal-sized relay buffers, lent while bytes are in flight and kept for reuse. */
#ifndef GATEHOUSE_BUFPOOL_H
#define GATEHOUSE_BUFPOOL_H

#include <stddef.h>
#include <stdint.h>

#define BUFPOOL_BUF (64 * 1024)	/* bytes in every buffer: the most one read of a copying
				 * pump moves, and the most a copying direction holds */

struct bufpool;

/* Keep up to max_free idle buffers for reuse. NULL when out of memory. */
struct bufpool *bufpool_new(size_t max_free);
/* Frees the idle buffers and the pool; every lent buffer must have come back. */
void bufpool_free(struct bufpool *p);

/* A buffer of BUFPOOL_BUF bytes (an idle one if any), or NULL when out of memory. */
uint8_t *bufpool_get(struct bufpool *p);
/* Give back a buffer bufpool_get lent: kept for reuse, or freed past max_free. */
void bufpool_put(struct bufpool *p, uint8_t *b);

#endif
