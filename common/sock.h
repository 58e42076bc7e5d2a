/* sock.h: the sockets the daemons serve on: one function opens each of them. */
#ifndef GATEHOUSE_SOCK_H
#define GATEHOUSE_SOCK_H

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

#endif
