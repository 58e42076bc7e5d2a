/* conn_internal.h: struct conn, shared by conn.c, first_bytes.c and refuse.c only. */
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

/*
 * The connection's machine: a state (what the forwarder is doing for it; one helper,
 * conn_set_state, changes it; c->timer holds its deadline, deadline_cb) and a gate (may
 * the client's bytes go to the upstream). Every "refused" below is refuse_conn
 * (refuse.c): the audit line, then a TLS alert or HTTP reply and DRAINING when the
 * first bytes showed TLS or HTTP and the client still reads, else CLOSED at once.
 *
 * Gates:
 *   GATE_PEEK    a port that is not routed: the name comes from the first bytes.
 *   GATE_VERIFY  a routed port: the route names the target, dialled at once (the server
 *                may speak first); the client's first bytes may only confirm it.
 *   GATE_OPEN    the client's bytes may flow to the upstream (they do once RELAYING).
 *
 * States, and what moves a connection out of each:
 *   ACCEPTED    conn_accept. Over max-conns-per-client: refused. Not routed: GATE_PEEK,
 *               to PEEKING. Routed: GATE_VERIFY, to RESOLVING.
 *   PEEKING     GATE_PEEK; first_bytes.c reads (paced) until the bytes decide. An allowed
 *               name: GATE_OPEN, to RESOLVING. No name, malformed, a CONNECT, not
 *               allowed, the client gone, or peek-timeout: refused.
 *   RESOLVING   the name is looked up (deadline lookup-timeout + 1 s: dns.c answers
 *               first). Addresses that pass dest_filter: to CONNECTING. Else refused.
 *   CONNECTING  dial.c tries them (deadline connect-timeout). One answers: to RELAYING.
 *               Else refused.
 *   RELAYING    the pumps run; upstream to client at once, client to upstream only at
 *               GATE_OPEN (deadlines idle-timeout, half-close-timeout once a direction
 *               is done). Both directions done, a reset, or a deadline: CLOSED.
 *   REFUSING    GATE_VERIFY, and RESOLVING or CONNECTING failed (resolve-failed,
 *               no-address, connect-failed) before the client sent a byte: up to
 *               REFUSE_WAIT_MS for its first bytes to show its protocol, then refused.
 *   DRAINING    refused with a signal sent and our side shut down: what the client still
 *               sends is read and dropped; its FIN or reset, DRAIN_BYTES or DRAIN_MS:
 *               CLOSED.
 *   CLOSED      conn_close, the one destructor, from any state; it writes the audit line
 *               unless a refusal did (allow from RELAYING, abort from elsewhere).
 *
 * GATE_VERIFY in RESOLVING, CONNECTING and RELAYING: the client's bytes are read into
 * the peek buffer as they come. A different name, or malformed bytes: refused. The
 * route's name, bytes that name none (SMTP, TLS without SNI) or the client's FIN:
 * GATE_OPEN. A reset: refused before RELAYING, CLOSED in it. Once bytes started,
 * RELAYING bounds them by peek-timeout.
 */
enum conn_state {
	CONN_ACCEPTED,
	CONN_PEEKING,
	CONN_RESOLVING,
	CONN_CONNECTING,
	CONN_RELAYING,
	CONN_REFUSING,
	CONN_DRAINING,
	CONN_CLOSED
};

enum gate {
	GATE_PEEK,
	GATE_VERIFY,
	GATE_OPEN
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
	size_t policy;			/* the client's policy in cfg->policies (0: none) */
	uint32_t pslot;			/* its row in f->pstats */
	int report;			/* its mode is report */
	int would_deny;			/* report: relayed although enforce refuses it */
	const struct rule *rule;	/* points into cfg->policies */
	const char *route;		/* routed port: the target name (in cfg), else NULL */
	int64_t pool_slot;		/* dialled a pool address: its slot (counted open in
					 * f->names until conn_close), else -1 */
	char name[DNAME_MAX + 1];	/* the name the connection is for: what the client
					 * named, else the route's target */
	struct dns_wait *wait;
	struct dial *dial;
	/* the outcome */
	int audited;			/* the audit line is written (a refusal's) */
	size_t drained;			/* CONN_DRAINING: bytes read and dropped */
	enum deny deny;			/* refused (or CONN_REFUSING): why */
	char detail[128];		/* with deny: the audit line's detail, "" for none */
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
