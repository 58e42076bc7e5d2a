/* recent.h: the names each client looked up lately, as the resolver tells them
 * (common/lookups.h): the lookups-socket, who may write to it, and a fixed table. */
#ifndef GATEHOUSE_RECENT_H
#define GATEHOUSE_RECENT_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "lookups.h"	/* common/: the datagram, LOOKUPS_RECENT_MAX, LOOKUPS_WINDOW_MS */

/* Datagrams read from the lookups-socket, by what became of each. */
struct recent_stats {
	uint64_t recorded;	/* a lookup noted for its client */
	uint64_t malformed;	/* a field failed lookups_decode, or oversized */
	uint64_t refused;	/* from a sender other than the resolver (see recent_receive) */
	uint64_t stale;		/* older than LOOKUPS_WINDOW_MS when read */
};

struct recent;

/* An empty table with no socket; NULL when out of memory. */
struct recent *recent_new(void);
/* Close the socket, free the table; NULL is ignored. */
void recent_free(struct recent *l);

/*
 * Bind the lookups-socket setting's value ("@NAME"; not "off") with SO_PASSCRED, and
 * read it on base: at most RECENT_BATCH datagrams a wake-up, each through
 * recent_receive. At start, before the sandbox: after it only recvmsg(2) is made.
 * 0, or -1 with err (a name already bound in this network namespace: EADDRINUSE).
 */
int recent_bind(struct recent *l, struct event_base *base, const char *setting, char *err,
    size_t errlen);
#define RECENT_BATCH 64

/* The user the resolver sends as: the forwarder's own (both daemons drop to `user`);
 * root is accepted too (it could write anything anyway). Until this is called, only root. */
void recent_set_sender(struct recent *l, uid_t uid);

/*
 * One datagram buf[0..len) sent by uid (its SCM_CREDENTIALS), read at now_ms: refused
 * unless uid is the sender's (recent_set_sender) or root, then decoded (malformed:
 * dropped), then stale when its time is LOOKUPS_WINDOW_MS or more before now_ms, else
 * noted at its time (a time after now_ms counts as now_ms: both daemons read one
 * monotonic clock). Counted in every case; never logs.
 */
void recent_receive(struct recent *l, const uint8_t *buf, size_t len, uid_t uid,
    uint64_t now_ms);

/*
 * Note that client looked name (normalised) up at now_ms: it becomes the client's
 * newest; the same name again only moves to the front. A client keeps its newest
 * LOOKUPS_RECENT_MAX names; the table keeps a fixed number of clients and forgets the
 * least recently seen first (clients.h slots).
 */
void recent_note(struct recent *l, const struct sockaddr *client, const char *name,
    uint64_t now_ms);

/*
 * The names client looked up within LOOKUPS_WINDOW_MS before now_ms, newest first, at
 * most max (<= LOOKUPS_RECENT_MAX) into out; their count. The pointers stay valid until
 * the table next changes (the next recent_note or a read on the event loop): use them
 * at once.
 */
size_t recent_list(const struct recent *l, const struct sockaddr *client, uint64_t now_ms,
    const char **out, size_t max);

const struct recent_stats *recent_stats(const struct recent *l);

#endif
