/* refuse.h: refusing a connection, in the protocol its first bytes showed. */
#ifndef GATEHOUSE_REFUSE_H
#define GATEHOUSE_REFUSE_H

#include "conn.h"

struct conn;

/* Refuse c for reason, with a detail for the audit line (printf; NULL for none). A
 * routed port whose upstream failed before the client sent a byte waits REFUSE_WAIT_MS
 * for its first bytes (CONN_REFUSING, then refuse_now). Otherwise: one audit line, the
 * counter, then a TLS alert or an HTTP reply when the protocol is known and the client
 * still reads, and a short drain (CONN_DRAINING); else c is closed. c may be gone when
 * this returns. */
void refuse_conn(struct conn *c, enum deny reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* CONN_REFUSING: the refusal put off, now, in the protocol the first bytes showed (c->
 * proto_sure), if any. c may be gone when this returns. */
void refuse_now(struct conn *c);

#endif
