/* pass.h: stub-zone queries in flight: asked of the zone's servers over UDP, again over
 * TCP when the answer is truncated, under a bound per client and in all. */
#ifndef GATEHOUSE_RESOLVER_PASS_H
#define GATEHOUSE_RESOLVER_PASS_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"

#define PASS_MAX	512	/* queries in flight, all clients */
#define PASS_PER_CLIENT	64	/* one client's share of them: an eighth */
#define PASS_TRY_MS	1000	/* one UDP try; the next goes to the zone's next server */
#define PASS_TRIES	3	/* then SERVFAIL: before a stub resolver's own 5 s timeout */
#define PASS_TCP_MS	2000	/* the TCP exchange after a truncated answer */

struct pass_stats {
	uint64_t answered;	/* an answer came back and was relayed */
	uint64_t failed;	/* none did (timeouts, refused), or a malformed one: SERVFAIL */
	uint64_t busy;		/* not asked: PASS_MAX or the client's share in flight */
	uint64_t tcp;		/* asked again over TCP (truncated over UDP) */
	uint64_t foreign;	/* datagrams that answered something else, ignored */
	unsigned inflight;
};

struct pass;
struct pass_job;

/*
 * A job's end. resp[0..len): the server's answer, which passwire_check found to answer
 * the query (PASSWIRE_OK), from server. resp NULL: no answer; why says what happened
 * ("timeout", "refused": ICMP unreachable from every try, "malformed", "tcp-failed",
 * "no-memory").
 * Returns 0 when resp became the client's answer, -1 otherwise (none, or one that did not
 * parse): counted answered or failed. The job is gone once this returns.
 */
typedef int (*pass_done_fn)(void *arg, const uint8_t *resp, size_t len,
    const struct sockaddr *server, const char *why);

/* NULL when out of memory. */
struct pass *pass_new(struct event_base *base);
/* Drop every job without calling its done; NULL is ignored. */
void pass_free(struct pass *p);

/*
 * Ask zone's servers for (qname, qtype) on behalf of client: the query passwire_query
 * builds, with a new random ID from a new socket (a new source port) each try, to the
 * zone's servers in turn, PASS_TRIES tries of PASS_TRY_MS. done is called exactly once,
 * always later from the event loop, unless pass_cancel comes first. NULL when not
 * started: *why is "busy" (PASS_MAX in flight, or client's share) or "no-memory".
 * zone's servers are copied: the configuration may change meanwhile.
 */
struct pass_job *pass_start(struct pass *p, const struct sockaddr *client,
    const struct stub_zone *zone, const uint8_t *qname, uint16_t qtype, pass_done_fn done,
    void *arg, const char **why);
/* End the job without calling its done. */
void pass_cancel(struct pass_job *j);

const struct pass_stats *pass_stats(const struct pass *p);

#endif
