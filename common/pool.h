/* pool.h: the name <-> address mapping of `answer pool`, shared by both daemons through one file they map. */
#ifndef GATEHOUSE_POOL_H
#define GATEHOUSE_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "pool_net.h"

/*
 * The state file (`pool-state`) holds one slot per pool address: the name it stands for,
 * when the resolver last answered with it, and how many connections the forwarder has
 * open to it. Both daemons map it (MAP_SHARED) at start, before they drop privileges, so
 * the mapping outlives a reload of either and a restart of either: a client that cached
 * an answer keeps reaching the same name. The resolver alone writes names; the forwarder
 * alone writes the connection counts. A name is written under a per-slot sequence count
 * (a seqlock), so the forwarder never reads half of one.
 *
 * Why a file: it is the one mechanism that survives a restart of either daemon with no
 * third process; the addresses cannot be derived from the names (a hash into 126
 * addresses collides long before 126 names), and a socket query per connection would put
 * the resolver on the forwarder's connection path.
 */
struct pool;

/*
 * Open the state file at path for pool net, creating it (mode 0600) when missing; one
 * made for another pool or by another layout is replaced by an empty one (its names are
 * forgotten; a daemon still mapping the old file keeps it whole: rename, not truncate;
 * so the directory must be writable). The
 * resolver opens it as the writer: it repairs a name a crash left half-written. The
 * forwarder sets every connection count to 0 (the connections a forwarder counted end
 * with it). 0 with *out, or -1 with err ("PATH: ...: strerror").
 */
int pool_open(const char *path, const struct pool_net *net, int writer, struct pool **out,
    char *err, size_t errlen);
void pool_close(struct pool *p);	/* NULL is ignored */

const struct pool_net *pool_net(const struct pool *p);

/* ---- the resolver ---- */

enum pool_result {
	POOL_HELD,	/* the name already had this slot */
	POOL_NEW,	/* a slot never used before */
	POOL_REUSED,	/* the slot of a name unanswered for hold_s, with no open connection */
	POOL_FULL	/* none free: the caller answers without the pool */
};

/*
 * The slot for name (normalised: lowercase, no trailing dot; len <= DNAME_MAX) at wall
 * time now_s: the one it holds, else a never-used one, else the least recently answered
 * one unanswered for at least hold_s with no connection open to it. Marks it answered at
 * now_s. *slot is set unless POOL_FULL. Writer only. A lookup is one hash probe; a new
 * name on a full pool takes the front of a recency list, passing over the slots with a
 * connection open (a bounded number): no scan.
 */
enum pool_result pool_assign(struct pool *p, const char *name, size_t len, int64_t now_s,
    uint32_t hold_s, uint32_t *slot);

/* 1 with *slot when name holds a slot (marked answered at now_s), else 0 (nothing
 * changes). Writer only. */
int pool_held(struct pool *p, const char *name, size_t len, int64_t now_s, uint32_t *slot);

/* Slots that hold a name. */
uint32_t pool_used(const struct pool *p);

/* ---- the forwarder ---- */

/* The name of slot into buf (DNAME_MAX + 1 bytes): its length, or -1 when the slot holds
 * no name (never answered, or a name being replaced right now). */
int pool_name(const struct pool *p, uint32_t slot, char *buf);

/* A connection to slot's address opened / closed: while one is open the resolver does
 * not give the address to another name. Call pool_conn_open before pool_name. */
void pool_conn_open(struct pool *p, uint32_t slot);
void pool_conn_close(struct pool *p, uint32_t slot);

#endif
