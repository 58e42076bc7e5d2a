/* route.h: asks the kernel how it would route one destination (netlink RTM_GETROUTE). */
#ifndef GATEHOUSE_ROUTE_H
#define GATEHOUSE_ROUTE_H

#include <sys/socket.h>

struct route_probe;

/* A netlink socket for route queries (kept open: a sandboxed daemon cannot make new
 * ones). NULL with errno. */
struct route_probe *route_probe_open(void);
void route_probe_close(struct route_probe *rp);	/* NULL is ignored */

/*
 * What the kernel would do with a connection from this host to sa's address, as
 * `ip route get ADDR` says, with the routing rules and tables in force now: *kind is
 * NULL when it routes the packet out (or has no route), else why the packet stays on
 * this host: "local" (an address of this host, or of a local route: 127/8, AnyIP,
 * `ip route add local PREFIX`), "broadcast" or "anycast". An IPv4-mapped address is
 * asked as the IPv4 one. Blocks on the socket until the kernel answers (at once in
 * practice; each read gives up after a second). 0, or -1 with errno when the kernel
 * could not be asked (EAFNOSUPPORT for a family other than AF_INET/AF_INET6).
 */
int route_probe_kind(struct route_probe *rp, const struct sockaddr *sa, const char **kind);

#endif
