/* fwd.h: the forwarder's shared context (config, audit, dns, listeners, live connections)
 * and the connection entry points that listen.c and main.c call. */
#ifndef GATEHOUSE_FWD_H
#define GATEHOUSE_FWD_H

#include <event2/event.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "audit.h"
#include "config.h"
#include "dns.h"
#include "iface.h"
#include "pump.h"
#include "route.h"

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
	DENY_COUNT
};

/* How the name was learned. */
enum via {
	VIA_NONE,
	VIA_SNI,
	VIA_HOST,
	VIA_ROUTE,
	VIA_COUNT
};

struct fwd_stats {
	uint64_t accepted;
	uint64_t allowed[VIA_COUNT];		/* connections relayed, by how named */
	uint64_t denied[DENY_COUNT];		/* by reason */
	uint64_t bytes_up, bytes_down;		/* finished connections */
	uint64_t accept_paused;			/* times max-conns paused accepting */
	uint64_t accept_errors;			/* EMFILE and friends */
	unsigned active;
};

struct conn;
struct listeners;
struct client_table;

struct fwd {
	struct event_base *base;
	struct config *cfg;		/* the current configuration; connections hold refs */
	struct audit *audit;
	struct dns *dns;
	struct listeners *ls;
	struct iface_table *ifaces;
	struct route_probe *routes;	/* asks the kernel whether an address is this host */
	struct bufpool *pool;
	struct client_table *clients;
	LIST_HEAD(conn_list, conn) conns;	/* every live connection (zeroed: empty) */
	struct fwd_stats stats;
};

/* The forwarder's metric families (metrics.c). */
struct prom;
void fwd_metrics(struct prom *p, const struct fwd *f);

/* A new client connection on a listening port (listen.c). Takes ownership of fd. */
void conn_accept(struct fwd *f, int fd, const struct sockaddr *peer, uint16_t port);
/* Close every connection (shutdown). */
void conn_close_all(struct fwd *f);

const char *deny_name(enum deny d);
const char *via_name(enum via v);

/* Listening sockets (listen.c). */
struct listeners *listeners_new(struct fwd *f);
void listeners_free(struct listeners *ls);
/* Open what cfg names (cfg->ports on each forward-listen address) and close what it no
 * longer names. strict: a failed bind is an
 * error (start-up); otherwise it is logged and skipped (reload). 0 or -1 with err. */
int listeners_sync(struct listeners *ls, const struct config *cfg, int strict, char *err,
    size_t errlen);
/* 1 if a connection to sa (address and port) would land on one of our own listeners:
 * the address of one, or, when local (the caller found the kernel delivers sa's address
 * to this host), the port of a wildcard one. */
int listeners_would_accept(const struct listeners *ls, const struct sockaddr *sa, int local);
/* Called when a connection ends: accepting resumes if max-conns had paused it. */
void listeners_conn_closed(struct listeners *ls);
size_t listeners_count(const struct listeners *ls);

#endif
