/* tell.h: the resolver tells the forwarder which allowed names each client looked up, one
 * datagram per answer on the lookups-socket (common/lookups.h), never waiting for it. */
#ifndef GATEHOUSE_RESOLVER_TELL_H
#define GATEHOUSE_RESOLVER_TELL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct tell;

/*
 * An unbound, non-blocking unix datagram socket for the lookups-socket setting value
 * ("@NAME"; "off": *out is NULL and nothing is told). Opened at start, before the
 * sandbox: after it only sendto(2) is made. The forwarder need not be up: every datagram
 * is addressed on its own, so one that starts (or restarts) later is told from then on.
 * 0, or -1 with err.
 */
int tell_open(const char *setting, struct tell **out, char *err, size_t errlen);
/* Close it; NULL is ignored. */
void tell_free(struct tell *t);

enum tell_result {
	TELL_SENT,		/* the kernel took the datagram */
	TELL_REPEAT,		/* this client's same name was tried under a second ago
				 * (sent or dropped): not again (its time in the forwarder
				 * stays the first one's) */
	TELL_DROPPED,		/* no forwarder bound (ECONNREFUSED), its queue full
				 * (EAGAIN: net.unix.max_dgram_qlen), qname not a host name */
	TELL_RESULT_COUNT
};

/*
 * One datagram for (client, qname) at now_ms; qname as the query wrote it (the normal
 * form is sent). Never blocks and never logs: the caller counts what it returns.
 */
enum tell_result tell_lookup(struct tell *t, const struct sockaddr *client,
    const char *qname, uint64_t now_ms);

#endif
