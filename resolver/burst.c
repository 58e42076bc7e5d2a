/* burst.c: distinct blocked names per client per window, in a fixed table. */
#include "burst.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "util.h"

#define SLOTS	1024
#define PROBE	4
#define SET	32		/* name hashes kept per client: enough to tell 20 apart */

struct slot {
	uint8_t key[16];
	int used;
	uint64_t window_start, last_ms;
	uint32_t hashes[SET];
	unsigned distinct;
};

struct burst {
	struct slot *slots;
	uint64_t seed;
};

struct burst *
burst_new(void)
{
	struct burst *b = calloc(1, sizeof(*b));
	struct timespec ts;

	if (b == NULL || (b->slots = calloc(SLOTS, sizeof(*b->slots))) == NULL) {
		free(b);
		return NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	b->seed = UTIL_HASH_INIT ^ (uint64_t)ts.tv_nsec;
	return b;
}

void
burst_free(struct burst *b)
{
	if (b == NULL)
		return;
	free(b->slots);
	free(b);
}

static struct slot *
slot_for(struct burst *b, const uint8_t key[16], uint64_t now)
{
	uint64_t h = util_hash(b->seed, key, 16);
	struct slot *victim = NULL;
	size_t i;

	for (i = 0; i < PROBE; i++) {
		struct slot *s = &b->slots[(h + i) & (SLOTS - 1)];

		if (s->used && memcmp(s->key, key, 16) == 0)
			return s;
		if (victim == NULL || !s->used || (victim->used && s->last_ms < victim->last_ms))
			victim = s;
	}
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->key, key, 16);
	victim->used = 1;
	victim->window_start = now;
	return victim;
}

int
burst_note(struct burst *b, const struct sockaddr *client, const char *name, size_t len,
    uint64_t now_ms)
{
	uint8_t key[16];
	uint64_t h = UTIL_HASH_INIT;
	struct slot *s;
	size_t i;

	addr_key(client, key);
	s = slot_for(b, key, now_ms);
	s->last_ms = now_ms;
	if (now_ms - s->window_start >= BURST_WINDOW_MS) {
		s->window_start = now_ms;
		s->distinct = 0;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		h = util_hash_step(h, (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c);
	}
	for (i = 0; i < s->distinct && i < SET; i++)
		if (s->hashes[i] == (uint32_t)h)
			return s->distinct >= BURST_NAMES;
	if (s->distinct < SET)
		s->hashes[s->distinct] = (uint32_t)h;
	s->distinct++;
	return s->distinct >= BURST_NAMES;
}
