/* conn.h: the forwarder's connections to the rest of it: accept, close all, verdict names. */
#ifndef GATEHOUSE_CONN_H
#define GATEHOUSE_CONN_H

#include <stdint.h>
#include <sys/socket.h>

/* Why a connection was refused; the names go into the audit line. */
enum deny {
	DENY_NONE,
	DENY_NOT_ALLOWED,	/* (name, port) not on the allowlist */
	DENY_NO_NAME,		/* no SNI / Host, an IP literal, or not TLS/HTTP */
	DENY_PEEK_TIMEOUT,	/* the name did not arrive within peek-timeout */
	DENY_MALFORMED,		/* broken ClientHello or request head */
	DENY_NAME_MISMATCH,	/* routed port, but the client named another host */
	DENY_RESOLVE_FAILED,	/* NXDOMAIN, SERVFAIL, timeout, too many lookups */
	DENY_NO_ADDRESS,	/* only special-purpose (or own) addresses */
	DENY_CONNECT_FAILED,	/* every address refused, reset or timed out */
	DENY_LIMIT,		/* max-conns-per-client */
	DENY_DENIED,		/* a deny rule matches (name, port) */
	DENY_UNMAPPED,		/* a pool address that stands for no name */
	DENY_COUNT
};

/* How the name was learned. */
enum via {
	VIA_NONE,
	VIA_SNI,
	VIA_HOST,
	VIA_ROUTE,
	VIA_ADDRESS,		/* the pool address it dialled (`answer pool`) */
	VIA_COUNT
};

struct fwd;

/* A new client connection on a listening port (main.c hands it to listeners_new as the
 * accept callback). Takes ownership of fd. */
void conn_accept(struct fwd *f, int fd, const struct sockaddr *peer, uint16_t port);
/* Close every connection (shutdown). */
void conn_close_all(struct fwd *f);

/* The audit and metric names: static text, "?" when out of range. */
const char *conn_deny_name(enum deny d);
const char *conn_via_name(enum via v);

#endif
