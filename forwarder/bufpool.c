/* bufpool.c: a free list of relay buffers, bounded by the number kept idle. */
#include "bufpool.h"

#include <stdlib.h>

/* An idle buffer holds the link to the next one in its first bytes. */
struct freebuf {
	struct freebuf *next;
};

struct bufpool {
	struct freebuf *free;
	size_t nfree, max_free;
};

struct bufpool *
bufpool_new(size_t max_free)
{
	struct bufpool *p = calloc(1, sizeof(*p));

	if (p != NULL)
		p->max_free = max_free;
	return p;
}

void
bufpool_free(struct bufpool *p)
{
	if (p == NULL)
		return;
	while (p->free != NULL) {
		struct freebuf *f = p->free;

		p->free = f->next;
		free(f);
	}
	free(p);
}

uint8_t *
bufpool_get(struct bufpool *p)
{
	uint8_t *b;

	if (p->free != NULL) {
		b = (uint8_t *)p->free;
		p->free = p->free->next;
		p->nfree--;
	} else if ((b = malloc(BUFPOOL_BUF)) == NULL)
		return NULL;
	return b;
}

void
bufpool_put(struct bufpool *p, uint8_t *b)
{
	if (p->nfree >= p->max_free) {
		free(b);
		return;
	}
	((struct freebuf *)(void *)b)->next = p->free;
	p->free = (struct freebuf *)(void *)b;
	p->nfree++;
}
