/* first_bytes.h: a connection's first bytes, read while its gate is closed. */
#ifndef GATEHOUSE_FIRST_BYTES_H
#define GATEHOUSE_FIRST_BYTES_H

#include <stdint.h>

struct conn;

/* The client is readable while the gate is closed (or c is CONN_REFUSING): read, and
 * decide when the bytes allow: on GATE_PEEK the name is allowed (GATE_OPEN, then
 * conn_resolve) or refused; on GATE_VERIFY the gate opens (then conn_relay_start if
 * relaying) or c is refused; CONN_REFUSING, refuse_now once the protocol shows. Undecided
 * GATE_PEEK reads are paced. c may be gone when this returns. */
void first_bytes_readable(struct conn *c);
/* CONN_PEEKING's deadline (peek-timeout) has come at now: bytes that arrived unread while
 * paced still count; then c is refused (peek-timeout) unless they decided it. c may be
 * gone when this returns. */
void first_bytes_timeout(struct conn *c, uint64_t now);

#endif
