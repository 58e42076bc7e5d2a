/* clients.h: a count per client address (open connections for max-conns-per-client,
 * lookups in flight for max-lookups-per-client). */
#ifndef GATEHOUSE_CLIENTS_H
#define GATEHOUSE_CLIENTS_H

#include <sys/socket.h>

struct client_table;

struct client_table *clients_new(void);
void clients_free(struct client_table *t);
/* Count one more connection from sa's address; returns the new count, 0 when out of
 * memory (the caller refuses the connection). */
unsigned clients_inc(struct client_table *t, const struct sockaddr *sa);
/* Count one fewer; the entry goes away at zero. */
void clients_dec(struct client_table *t, const struct sockaddr *sa);
/* The count for sa's address now (0 when it has none). */
unsigned clients_count(struct client_table *t, const struct sockaddr *sa);

#endif
