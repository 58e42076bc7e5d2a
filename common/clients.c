/* clients.c: tables keyed by client address: a chained hash of exact counts, and fixed
 * slots that forget the least recently seen (see clients.h). */
#include "clients.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "util.h"

#define BUCKETS 4096

struct centry {
	LIST_ENTRY(centry) entry;
	uint8_t key[16];
	unsigned count;
};
LIST_HEAD(centry_list, centry);

struct client_table {
	struct centry_list b[BUCKETS];
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
	size_t i;

	if (t == NULL)
		return NULL;
	for (i = 0; i < BUCKETS; i++)
		LIST_INIT(&t->b[i]);
	t->seed = new_seed();
	return t;
}

void
clients_free(struct client_table *t)
{
	struct centry *e;
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < BUCKETS; i++) {
		while ((e = LIST_FIRST(&t->b[i])) != NULL) {
			LIST_REMOVE(e, entry);
			free(e);
		}
	}
	free(t);
}

/* The entry of sa's address, or NULL; key gets its key and *chain (if not NULL) the
 * chain it is or goes in. */
static struct centry *
count_entry(struct client_table *t, const struct sockaddr *sa, uint8_t key[16],
    struct centry_list **chain)
{
	struct centry_list *b;
	struct centry *e;

	addr_key(sa, key);
	b = &t->b[util_hash(t->seed, key, 16) & (BUCKETS - 1)];
	LIST_FOREACH(e, b, entry)
		if (memcmp(e->key, key, 16) == 0)
			break;
	if (chain != NULL)
		*chain = b;
	return e;
}

unsigned
clients_inc(struct client_table *t, const struct sockaddr *sa)
{
	struct centry_list *chain;
	struct centry *e;
	uint8_t key[16];

	if ((e = count_entry(t, sa, key, &chain)) == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return 0;
		memcpy(e->key, key, 16);
		LIST_INSERT_HEAD(chain, e, entry);
	}
	return ++e->count;
}

int
clients_over(unsigned count, unsigned max)
{
	return count == 0 || count > max;
}

void
clients_dec(struct client_table *t, const struct sockaddr *sa)
{
	struct centry *e;
	uint8_t key[16];

	if ((e = count_entry(t, sa, key, NULL)) != NULL && --e->count == 0) {
		LIST_REMOVE(e, entry);
		free(e);
	}
}

unsigned
clients_count(struct client_table *t, const struct sockaddr *sa)
{
	struct centry *e;
	uint8_t key[16];

	e = count_entry(t, sa, key, NULL);
	return e != NULL ? e->count : 0;
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
