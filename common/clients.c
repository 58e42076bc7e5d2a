/* clients.c: a chained hash of client address -> open connections. */
#include "clients.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "util.h"

#define BUCKETS 4096

struct centry {
	struct centry *next;
	uint8_t key[16];
	unsigned count;
};

struct client_table {
	struct centry *b[BUCKETS];
	uint64_t seed;
};

struct client_table *
clients_new(void)
{
	struct client_table *t = calloc(1, sizeof(*t));
	struct timespec ts;

	if (t != NULL) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		t->seed = UTIL_HASH_INIT ^ (uint64_t)ts.tv_nsec;
	}
	return t;
}

void
clients_free(struct client_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < BUCKETS; i++) {
		while (t->b[i] != NULL) {
			struct centry *e = t->b[i];

			t->b[i] = e->next;
			free(e);
		}
	}
	free(t);
}

static struct centry **
find(struct client_table *t, const uint8_t key[16])
{
	struct centry **pp = &t->b[util_hash(t->seed, key, 16) & (BUCKETS - 1)];

	while (*pp != NULL && memcmp((*pp)->key, key, 16) != 0)
		pp = &(*pp)->next;
	return pp;
}

unsigned
clients_inc(struct client_table *t, const struct sockaddr *sa)
{
	uint8_t key[16];
	struct centry **pp;

	addr_key(sa, key);
	pp = find(t, key);
	if (*pp == NULL) {
		if ((*pp = calloc(1, sizeof(**pp))) == NULL)
			return 0;
		memcpy((*pp)->key, key, 16);
	}
	return ++(*pp)->count;
}

int
clients_over(unsigned count, unsigned max)
{
	return count == 0 || count > max;
}

void
clients_dec(struct client_table *t, const struct sockaddr *sa)
{
	uint8_t key[16];
	struct centry **pp, *e;

	addr_key(sa, key);
	pp = find(t, key);
	if ((e = *pp) == NULL)
		return;
	if (--e->count == 0) {
		*pp = e->next;
		free(e);
	}
}

unsigned
clients_count(struct client_table *t, const struct sockaddr *sa)
{
	uint8_t key[16];
	struct centry **pp;

	addr_key(sa, key);
	pp = find(t, key);
	return *pp != NULL ? (*pp)->count : 0;
}
