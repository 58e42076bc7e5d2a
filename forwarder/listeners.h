/* listeners.h: the forwarder's listening sockets, one per (forward-listen address, port). */
#ifndef GATEHOUSE_LISTENERS_H
#define GATEHOUSE_LISTENERS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"

struct fwd;
struct listeners;

/* A client connection accepted from peer on a listening port; the callee owns fd. */
typedef void listeners_accept_fn(struct fwd *f, int fd, const struct sockaddr *peer,
    uint16_t port);

/* Listeners on f's loop that hand each accepted connection to on_accept (main.c gives
 * conn_accept: listeners.c calls nothing in conn.c itself). Accepting pauses while
 * f->stats.active is at f->cfg->max_conns (listeners_conn_closed resumes it). NULL when
 * out of memory. */
struct listeners *listeners_new(struct fwd *f, listeners_accept_fn *on_accept);
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
