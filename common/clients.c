/* clients.c: tables keyed by client address: a chained hash of exact counts, and fixed
 * slots that forget the least recently seen (see clients.h). */
#include "clients.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* A hash seed of this process's own, so that no client can choose addresses that fall
 * into one chain or one group of slots. */
static uint64_t
new_seed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return UTIL_HASH_INIT ^ ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)getpid();
}

struct client_table *
clients_new(void)
{
	struct client_table *t = calloc(1, sizeof(*t));

	if (t != NULL)
		t->seed = new_seed();
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

int
clients_slots_init(struct client_slots *t, size_t n, size_t size, size_t probe)
{
	memset(t, 0, sizeof(*t));
	if ((t->v = calloc(n, size)) == NULL)
		return -1;
	t->n = n;
	t->size = size;
	t->probe = probe;
	t->seed = new_seed();
	return 0;
}

void
clients_slots_free(struct client_slots *t)
{
	free(t->v);
	t->v = NULL;
}

struct client_slot *
clients_slot_at(const struct client_slots *t, size_t i)
{
	return (struct client_slot *)(void *)(t->v + i * t->size);
}

int
clients_slot_find(const struct client_slots *t, const struct sockaddr *sa,
    struct client_slot **slot)
{
	struct client_slot *victim = NULL;
	uint8_t key[16];
	uint64_t h;
	size_t i;

	addr_key(sa, key);
	h = util_hash(t->seed, key, sizeof(key));
	for (i = 0; i < t->probe; i++) {
		struct client_slot *s = clients_slot_at(t, (h + i) & (t->n - 1));

		if (s->used && memcmp(s->key, key, sizeof(key)) == 0) {
			*slot = s;
			return 1;
		}
		if (victim == NULL || (victim->used && (!s->used || s->last_ms < victim->last_ms)))
			victim = s;
	}
	*slot = victim;
	return 0;
}

void
clients_slot_claim(const struct client_slots *t, struct client_slot *s,
    const struct sockaddr *sa)
{
	memset(s, 0, t->size);
	addr_key(sa, s->key);
	s->used = 1;
}
