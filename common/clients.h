/* clients.h: a count per client address (open connections for max-conns-per-client,
 * lookups in flight for max-lookups-per-client). */
#ifndef GATEHOUSE_CLIENTS_H
#define GATEHOUSE_CLIENTS_H

#include <sys/socket.h>

struct client_table;

struct client_table *clients_new(void);
void clients_free(struct client_table *t);
/* Count one more from sa's address. Returns the new count, or 0 when out of memory:
 * nothing was counted, and the caller refuses the client (memory runs out under a flood,
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

#endif
