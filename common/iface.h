/* iface.h: a snapshot of the gateway's interface addresses (getifaddrs) and of the routes
 * that deliver to the gateway itself (netlink), refreshed on demand or on change. */
#ifndef GATEHOUSE_IFACE_H
#define GATEHOUSE_IFACE_H

#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

#define IFACE_ADDRS 4		/* addresses kept per family per interface */

struct iface {
	unsigned index;
	char name[IF_NAMESIZE];
	struct in_addr v4[IFACE_ADDRS];
	size_t n4;
	struct in6_addr v6[IFACE_ADDRS];	/* global and ULA, never link-local */
	size_t n6;
};

struct iface_table;

struct iface_table *iface_new(void);
void iface_free(struct iface_table *t);

/* Re-read the addresses and the local routes. 0, or -1 with errno (the old snapshot is
 * kept). */
int iface_refresh(struct iface_table *t);

/* The interface with this index, or the one holding this address; NULL if none. Valid
 * until the next iface_refresh. */
const struct iface *iface_by_index(const struct iface_table *t, unsigned index);
const struct iface *iface_by_addr(const struct iface_table *t, const struct sockaddr *sa);

/* 1 if sa's address is exactly one assigned to an interface (127.0.0.11 is not, when lo
 * holds 127.0.0.1/8). */
int iface_is_assigned(const struct iface_table *t, const struct sockaddr *sa);

/*
 * Whether the gateway's own kernel would take a connection to sa's address (an
 * IPv4-mapped address is judged as the IPv4 one): NULL when it would route it out, else
 * why not: "loopback" (127.0.0.0/8, ::1), "own-address" (assigned to an interface, IPv6
 * link-local included), "local-route" (covered by a route of type local in any table:
 * the 127/8 and AnyIP routes, `ip route add local PREFIX`), "broadcast" (a subnet's
 * broadcast address) or "anycast" (an IPv6 subnet-router anycast address).
 */
const char *iface_local_kind(const struct iface_table *t, const struct sockaddr *sa);

/* iface_local_kind(t, sa) != NULL */
int iface_is_local(const struct iface_table *t, const struct sockaddr *sa);

/*
 * A netlink socket that becomes readable when an address or a route of the gateway
 * changes (non-blocking, close-on-exec; the caller watches and closes it), or -1 with
 * errno. iface_monitor_drain reads what is queued: 1 when something changed (or the
 * kernel dropped notices because the queue overflowed: refresh to be safe), 0 when
 * nothing did.
 */
int iface_monitor_open(void);
int iface_monitor_drain(int fd);

#endif
