/* dial.h: connect to the first of several addresses that answers (RFC 8305 happy eyeballs). */
#ifndef GATEHOUSE_DIAL_H
#define GATEHOUSE_DIAL_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DIAL_MAX 16
#define DIAL_STAGGER_MS 250	/* RFC 8305 Connection Attempt Delay */

/*
 * fd >= 0: connected to sa (the caller owns fd). fd == -1: every address failed; err
 * is the errno of the last failure (ECONNREFUSED when there was none: no address), sa is
 * NULL. Called from the loop, never from inside dial_start; the dial is already freed
 * when this runs.
 */
typedef void dial_cb(void *arg, int fd, const struct sockaddr_storage *sa, int err);

struct dial;

/* Order the first DIAL_MAX of addrs (the rest are never tried) as RFC 8305 section 4 says
 * (families interleaved, IPv6 first), start the first attempt, then one more every
 * stagger_ms or as soon as an attempt fails. The overall time limit is the caller's
 * (dial_cancel). NULL when out of memory. */
struct dial *dial_start(struct event_base *base, const struct sockaddr_storage *addrs,
    size_t n, uint64_t stagger_ms, dial_cb *cb, void *arg);
/* Stop every attempt; the callback is not called. */
void dial_cancel(struct dial *d);

/* Reorder addrs in place: interleave families starting with IPv6, each family in the
 * order given. Only the first DIAL_MAX are reordered; the rest stay put. Exposed for tests. */
void dial_order(struct sockaddr_storage *addrs, size_t n);

#endif
