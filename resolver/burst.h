/* burst.h: which clients are asking for many distinct blocked names (a DNS tunnel's
 * signature), for the audit line's "blocked-burst" flag. Pure: the caller gives the time. */
#ifndef GATEHOUSE_BURST_H
#define GATEHOUSE_BURST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define BURST_WINDOW_MS	10000	/* names are counted per client over this window */
#define BURST_NAMES	20	/* distinct blocked names in a window that make a burst */

struct burst;

/* An empty table of fixed size; NULL when out of memory. */
struct burst *burst_new(void);
void burst_free(struct burst *b);	/* NULL is ignored */

/* Count a blocked name (any case; compared case-insensitively, by a 32-bit hash) asked by
 * client at now_ms. Returns 1 when the client has asked for BURST_NAMES or more distinct
 * blocked names in its current window, which starts at its first name and is replaced
 * by a new one at the first name BURST_WINDOW_MS later (fixed windows, not a sliding
 * one). Memory is fixed: a new client takes the place of the least recently active of
 * the clients that share its slots (clients.h). */
int burst_note(struct burst *b, const struct sockaddr *client, const char *name, size_t len,
    uint64_t now_ms);

#endif
