/* sock.h: the sockets the daemons serve on: opening each of them, and pausing listeners
 * that ran out of descriptors. */
#ifndef GATEHOUSE_SOCK_H
#define GATEHOUSE_SOCK_H

#include <event2/event.h>
#include <stddef.h>
#include <sys/socket.h>

/* The accept queue of every listening socket. libevent is handed the socket with a
 * backlog of 0 (evconnlistener_new), never -1, which would listen(2) again with its own
 * 128; evhttp_bind_listener takes the listener as it is. */
#define SOCK_LISTEN_BACKLOG 1024

#define SOCK_OPEN_V6ONLY  0x01	/* an IPv6 socket takes IPv6 only, so that 0.0.0.0 and ::
				 * can both be bound (without it: the system's default) */
#define SOCK_OPEN_PKTINFO 0x02	/* datagrams carry the address they were sent to
				 * (IP_PKTINFO, IPV6_RECVPKTINFO) */

/*
 * A non-blocking, close-on-exec socket of type (SOCK_STREAM or SOCK_DGRAM) bound to sa,
 * with the SOCK_OPEN_* options in flags set before the bind. SOCK_STREAM: SO_REUSEADDR,
 * and listening with SOCK_LISTEN_BACKLOG. The descriptor (the caller's to close), or -1
 * with err ("ADDR:PORT: reason") and errno set by the call that failed.
 */
int sock_open(const struct sockaddr *sa, int type, unsigned flags, char *err, size_t errlen);

/* Turns a set of listeners on (on = 1) or off (on = 0). */
typedef void sock_enable_fn(void *arg, int on);

/*
 * The back-off of a set of listeners after accept(2) ran out of descriptors: a waiting
 * client would keep the listener readable, and libevent would retry accept(2) in a busy
 * loop while the client hangs. Holds a spare descriptor to shed that client with
 * (util_shed_accept) and a timer that turns the set on again.
 */
struct sock_pause {
	struct event *resume;
	int reserve_fd;
	sock_enable_fn *enable;
	void *arg;
};

/* enable(arg, on) turns the set on and off. 0, or -1 when out of memory. */
int sock_pause_init(struct sock_pause *p, struct event_base *base, sock_enable_fn *enable,
    void *arg);
/* Frees what init took (nothing for a zeroed one, or one whose init failed). */
void sock_pause_free(struct sock_pause *p);

/*
 * accept(2) on listening socket lfd failed with err. Out of descriptors (or memory): one
 * waiting client is accepted and closed at once (it sees a reset, not a hang; *peer gets
 * its address), the set is turned off, and on again UTIL_ACCEPT_BACKOFF_MS later.
 * Returns util_shed_accept's answer: 1 a client was shed, 0 out of descriptors but none
 * was (still paused), -1 err is something else (nothing done).
 */
int sock_pause_accept_error(struct sock_pause *p, int lfd, int err,
    struct sockaddr_storage *peer);

#endif
