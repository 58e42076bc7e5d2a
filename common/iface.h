/* iface.h: a snapshot of the gateway's interface addresses (getifaddrs), refreshed on demand. */
#ifndef GATEHOUSE_IFACE_H
#define GATEHOUSE_IFACE_H

#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

#define IFACE_ADDRS 4		/* addresses kept per family per interface */
#define IFACE_LOCAL_MAX 256	/* addresses of the machine kept for iface_is_assigned */

struct iface {
	unsigned index;
	char name[IF_NAMESIZE];
	struct in_addr v4[IFACE_ADDRS];
	size_t n4;
	struct in6_addr v6[IFACE_ADDRS];	/* any but link-local ones (::1 included) */
	size_t n6;
};

struct iface_table;

/* An empty table (call iface_refresh); NULL when out of memory. */
struct iface_table *iface_new(void);
void iface_free(struct iface_table *t);

/* Re-read the addresses. 0, or -1 with errno (the old snapshot is kept). */
int iface_refresh(struct iface_table *t);

/* The interface with this index, or the one holding this address among those it keeps
 * (struct iface: not a link-local IPv6 one, nor an IPv4-mapped form); NULL if none.
 * Valid until the next iface_refresh. */
const struct iface *iface_by_index(const struct iface_table *t, unsigned index);
const struct iface *iface_by_addr(const struct iface_table *t, const struct sockaddr *sa);

/* 1 if sa's address is exactly one assigned to an interface (127.0.0.11 is not, when lo
 * holds 127.0.0.1/8), among the first IFACE_LOCAL_MAX of the machine. */
int iface_is_assigned(const struct iface_table *t, const struct sockaddr *sa);

/* 1 if sa's address is assigned to one of the interfaces (IPv6 link-local included,
 * among the first IFACE_LOCAL_MAX), or is in 127.0.0.0/8 or ::1; an IPv4-mapped
 * address is taken as its IPv4 address. */
int iface_is_local(const struct iface_table *t, const struct sockaddr *sa);

#endif
