/* clients.h: tables keyed by client address: an exact count per address (open
 * connections for max-conns-per-client and the resolver's TCP share, lookups in flight
 * for max-lookups-per-client), and fixed slots that may forget a client (the audit
 * stream's flood bound, the resolver's blocked-name bursts). */
#ifndef GATEHOUSE_CLIENTS_H
#define GATEHOUSE_CLIENTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* ---- counts: exact, an entry per address with a count above zero ---- */

struct client_table;

/* An empty table; NULL when out of memory. */
struct client_table *clients_new(void);
/* Frees every entry and t; NULL is ignored. */
void clients_free(struct client_table *t);
/* Count one more from sa's address. Returns the new count, or 0 when out of memory:
 * nothing was counted. A limit refuses the client then (memory runs out under a flood,
 * and an uncounted client would escape the limit): clients_over says both. */
unsigned clients_inc(struct client_table *t, const struct sockaddr *sa);
/* 1 when count, what clients_inc returned, is over max or 0: refuse the client. */
int clients_over(unsigned count, unsigned max);
/* Count one fewer; the entry goes away at zero. An address without an entry is left
 * alone, so a client refused at once after clients_inc may be passed here whatever it
 * returned. */
void clients_dec(struct client_table *t, const struct sockaddr *sa);
/* The count for sa's address now (0 when it has none). */
unsigned clients_count(struct client_table *t, const struct sockaddr *sa);

/* ---- slots: a fixed array, the least recently seen client forgotten first ---- */

/* The head of every slot; the caller's own slot type starts with it. */
struct client_slot {
	uint8_t key[16];	/* addr_key of the client */
	int used;
	uint64_t last_ms;	/* the caller's clock: when it last saw the client */
};

struct client_slots {
	unsigned char *v;	/* n slots of size bytes */
	size_t n, size, probe;
	uint64_t seed;
};

/* n slots (a power of two) of size bytes each (the caller's slot type), all unused; a
 * client may sit in probe of them. 0, or -1 when out of memory. */
int clients_slots_init(struct client_slots *t, size_t n, size_t size, size_t probe);
/* Frees the array (the struct is the caller's); safe on a zeroed struct. */
void clients_slots_free(struct client_slots *t);
/* Slot i, 0 <= i < n (to visit them all). */
struct client_slot *clients_slot_at(const struct client_slots *t, size_t i);
/*
 * The slot of sa's address: 1 with *slot its own. 0 when it has none: *slot is the one
 * to take over for it with clients_slot_claim, an unused one if any, else the least
 * recently seen of its probe slots, which still holds its old client (used is set), so
 * the caller can report that one first.
 */
int clients_slot_find(const struct client_slots *t, const struct sockaddr *sa,
    struct client_slot **slot);
/* Make s sa's slot: all of it zeroed, then its key set and used. */
void clients_slot_claim(const struct client_slots *t, struct client_slot *s,
    const struct sockaddr *sa);

#endif
