/* conn_internal.h: struct conn and what the files of one connection (conn.c, refuse.c,
 * first_bytes.c) share of it; no other file includes this. */
#ifndef GATEHOUSE_CONN_INTERNAL_H
#define GATEHOUSE_CONN_INTERNAL_H

#include <event2/event.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "conn.h"
#include "conn_audit.h"
#include "dname.h"
#include "fwd.h"
#include "http_host.h"
#include "pump.h"

enum conn_state {
	CONN_ACCEPTED,
	CONN_PEEKING,		/* reading the first bytes for the name */
	CONN_RESOLVING,
	CONN_CONNECTING,
	CONN_RELAYING,
	CONN_REFUSING,		/* routed port, refused before the client spoke: waiting a
				 * moment for its first bytes to refuse in its protocol */
	CONN_DRAINING,		/* refused: the signal is written, reading what is left */
	CONN_CLOSED
};

enum gate {
	GATE_PEEK,		/* the name comes from the first bytes */
	GATE_VERIFY,		/* routed: the first bytes must not name another host */
	GATE_OPEN		/* client bytes flow to the upstream */
};

enum proto { PROTO_UNKNOWN, PROTO_TLS, PROTO_HTTP, PROTO_OTHER };

/* One end of a relayed connection: its socket, its events, and the pump that carries
 * what is read from it to the other side. */
struct side {
	struct conn *conn;		/* the events' argument */
	int fd;				/* -1: not connected (yet), or closed */
	struct event *ev_read, *ev_write;	/* NULL until made; persistent, not always added */
	struct pump pump;		/* bytes read from this side, written to the other */
	enum pump_state flow;		/* where that pump stood after its last step */
};

struct conn {
	struct fwd *f;
	struct config *cfg;		/* held for the connection's life (reload safety) */
	LIST_ENTRY(conn) entry;		/* in f->conns */
	enum conn_state state;
	enum gate gate;
	struct side client, upstream;	/* client.pump: client->upstream; upstream.pump:
					 * upstream->client */
	struct sockaddr_storage peer, up;
	uint16_t port, target_port;
	uint64_t t_start, t_last, t_first_byte;
	struct event *timer;
	struct event *pace;		/* peeking: the next paced read */
	unsigned peek_reads;		/* reads that left the name undecided */
	unsigned pace_ms;		/* the last pause */
	int lowat;			/* SO_RCVLOWAT raised while paced */
	/* the first bytes */
	uint8_t *peek;
	size_t peeklen, peekcap, need;	/* need: TLS, see tls_sni_parse */
	struct http_scan http;		/* HTTP: how far the head has been read */
	enum proto proto;
	unsigned peek_flags;
	int client_eof;			/* FIN seen while the gate was closed */
	int proto_sure;			/* CONN_REFUSING: the first bytes have shown the
					 * protocol (not merely a prefix of one) */
	/* the decision */
	enum via via;
	const struct rule *rule;	/* points into cfg->policy */
	const char *route;		/* routed port: the target name (in cfg), else NULL */
	char name[DNAME_MAX + 1];	/* the name the connection is for: what the client
					 * named, else the route's target */
	struct dns_wait *wait;
	struct dial *dial;
	/* the relay */
	int audited;
	size_t drained;
	enum deny deny;
	char detail[128];
};

/* Change state (logged at debug level). */
void conn_set_state(struct conn *c, enum conn_state s);
/* (Re)arm c->timer, the deadline of the state, ms from now. */
void conn_arm_timer(struct conn *c, uint64_t ms);
/* Add (on) or delete a persistent event unless it already is so; NULL is ignored. */
void conn_event_set(struct event *ev, int on);
/* Free *ev if any and set it to NULL. */
void conn_free_event(struct event **ev);
/* What c's audit line says about it, whatever the outcome. */
void conn_facts_of(const struct conn *c, struct conn_facts *cf);
/* The one destructor: writes the audit line unless written (end: how it ended), frees
 * everything c holds, and c. */
void conn_close(struct conn *c, const char *end);
/* Everything on the upstream side goes: a lookup, a dial, the socket and its events (and
 * the client's write event, which only carries upstream bytes). */
void conn_stop_upstream(struct conn *c);
/* Look c->name up (CONN_RESOLVING), then dial (CONN_CONNECTING) and relay. c may be gone
 * (refused) when this returns. */
void conn_resolve(struct conn *c);
/* Called when the upstream connects, and again when a routed gate opens. c may be gone. */
void conn_relay_start(struct conn *c);
/* CONN_RELAYING: close c (-1) if one of its limits has passed at now, else arm the timer
 * for the nearest and return 0. */
int conn_relay_check_time(struct conn *c, uint64_t now);

#endif
