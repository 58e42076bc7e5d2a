/* pool_net.h: the address pool of `answer pool`: which addresses it hands out, slot by slot. Pure. */
#ifndef GATEHOUSE_POOL_NET_H
#define GATEHOUSE_POOL_NET_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* IPv4 pool prefix lengths taken: a /16 is more than POOL_MAX_SLOTS addresses (they are
 * capped), a /30 leaves two. */
#define POOL_MIN_LEN4 16
#define POOL_MAX_LEN4 30
/* The most names one pool holds: bounds the state file (pool.h) and every scan of it. */
#define POOL_MAX_SLOTS 16384

/*
 * Slot i (0 <= i < slots) is the IPv4 address net4 + 1 + i and, with an IPv6 pool, the
 * IPv6 address net6 + 1 + i: one name, one slot, both families. The first and the last
 * address of the IPv4 prefix are never handed out (a network's and a broadcast address
 * when the pool is a whole subnet), so a /25 holds 126 names; the IPv6 prefix's first
 * address neither (the subnet-router anycast address).
 */
struct pool_net {
	struct in_addr net4;	/* host bits zero */
	unsigned len4;
	struct in6_addr net6;
	unsigned len6;		/* 0: no IPv6 pool (AAAA is NODATA) */
	uint32_t slots;
};

/* Read "CIDR4" and, when cidr6 is not NULL, "CIDR6" into *n. 0, or -1 with the reason in
 * err ("'10.0.0.0/8': an IPv4 pool is /16 to /30"). */
int pool_net_parse(const char *cidr4, const char *cidr6, struct pool_net *n, char *err,
    size_t errlen);

/* "172.29.0.128/25" or "172.29.0.128/25 fd00:29::/112", as a file would say it. */
void pool_net_format(const struct pool_net *n, char *buf, size_t len);

/* 1 when a and b are the same pool. */
int pool_net_equal(const struct pool_net *a, const struct pool_net *b);

/* The address of slot in the family asked for. */
void pool_net_addr4(const struct pool_net *n, uint32_t slot, struct in_addr *out);
void pool_net_addr6(const struct pool_net *n, uint32_t slot, struct in6_addr *out);

/* The slot sa (AF_INET, AF_INET6, or an IPv4-mapped IPv6 address) is, or -1 when it is no
 * address the pool hands out. */
int64_t pool_net_slot(const struct pool_net *n, const struct sockaddr *sa);

#endif
