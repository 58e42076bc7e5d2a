/* conn_audit.h: the forwarder's "conn" audit line, one formatter for every outcome. */
#ifndef GATEHOUSE_CONN_AUDIT_H
#define GATEHOUSE_CONN_AUDIT_H

#include <stdint.h>
#include <sys/socket.h>

#include "audit.h"
#include "conn.h"
#include "lookups.h"

/* What every conn line says about the connection. The strings and addresses are read
 * during the call only. */
struct conn_facts {
	const struct sockaddr *peer;	/* the client */
	const char *policy;		/* its policy's name; NULL: "default" */
	int report;			/* under report mode: the line says so */
	int would_deny;			/* report: enforce would have refused (not-allowed) */
	uint16_t port;			/* the port it connected to */
	const char *name;		/* the name it is for; NULL or "": none learned */
	enum via via;			/* VIA_NONE: none learned */
	const char *route;		/* routed port: the target's name, else NULL */
	uint16_t target_port;		/* with route: the target's port */
	const char *rule;		/* the pattern of the rule that matched, else NULL */
	int ech;			/* the name is the outer SNI of an ECH ClientHello */
	int timed;			/* 0: the line has no "ms" (never a connection of ours:
					 * shed at accept) */
	uint64_t ms;			/* with timed: milliseconds since accept */
	const char *recent[LOOKUPS_RECENT_MAX];	/* reason no-name: the client's lookups of
					 * the last LOOKUPS_WINDOW_MS, newest first */
	size_t nrecent;
};

/* verdict "deny": reason, and detail unless NULL or ""; "recent" when cf has names. */
void conn_audit_deny(struct audit *a, const struct conn_facts *cf, enum deny reason,
    const char *detail);
/* verdict "allow": a relayed connection has ended; end says how. */
void conn_audit_allow(struct audit *a, const struct conn_facts *cf,
    const struct sockaddr *upstream, uint64_t bytes_up, uint64_t bytes_down, const char *end);
/* verdict "abort": closed before any decision (shutdown, out of memory) in state. */
void conn_audit_abort(struct audit *a, const struct conn_facts *cf, const char *state,
    const char *end);

#endif
