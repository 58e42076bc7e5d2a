/* burst.c: distinct blocked names per client per window, in a fixed table. */
#include "burst.h"

#include <stdlib.h>
#include <string.h>

#include "clients.h"
#include "util.h"

#define SLOTS	1024
#define PROBE	4
#define SET	32		/* name hashes kept per client: enough to tell 20 apart */

struct burst_slot {
	struct client_slot c;	/* c.last_ms: the client's last blocked name */
	uint64_t window_start;
	uint32_t hashes[SET];
	unsigned distinct;
};

struct burst {
	struct client_slots slots;
};

struct burst *
burst_new(void)
{
	struct burst *b = calloc(1, sizeof(*b));

	if (b == NULL || clients_slots_init(&b->slots, SLOTS, sizeof(struct burst_slot),
	    PROBE) == -1) {
		free(b);
		return NULL;
	}
	return b;
}

void
burst_free(struct burst *b)
{
	if (b == NULL)
		return;
	clients_slots_free(&b->slots);
	free(b);
}

int
burst_note(struct burst *b, const struct sockaddr *client, const char *name, size_t len,
    uint64_t now_ms)
{
	uint64_t h = UTIL_HASH_INIT;
	struct client_slot *slot;
	struct burst_slot *s;
	size_t i;
	int found;

	found = clients_slot_find(&b->slots, client, &slot);
	s = (struct burst_slot *)slot;
	if (!found) {
		clients_slot_claim(&b->slots, slot, client);
		s->window_start = now_ms;
	}
	s->c.last_ms = now_ms;
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
