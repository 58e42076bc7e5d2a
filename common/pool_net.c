/* pool_net.c: the address pool of `answer pool`: slots to addresses and back. Pure. */
#include "pool_net.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* "ADDR/LEN" into addr (family af) and *len; 0 or -1. */
static int
parse_cidr(const char *s, int af, void *addr, unsigned *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	unsigned long l;

	if (slash == NULL || (size_t)(slash - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(slash - s));
	host[slash - s] = '\0';
	if (inet_pton(af, host, addr) != 1 ||
	    util_parse_uint(slash + 1, 0, af == AF_INET ? 32 : 128, &l) == -1)
		return -1;
	*len = (unsigned)l;
	return 0;
}

/* 1 when bits past len of the bytes a[0..n) are set. */
static int
host_bits(const uint8_t *a, size_t n, unsigned len)
{
	for (size_t i = 0; i < n; i++) {
		unsigned keep = len >= 8 * (i + 1) ? 8 : len > 8 * i ? len - 8 * (unsigned)i : 0;
		uint8_t mask = (uint8_t)(keep ? 0xff << (8 - keep) : 0);

		if (a[i] & (uint8_t)~mask)
			return 1;
	}
	return 0;
}

int
pool_net_parse(const char *cidr4, const char *cidr6, struct pool_net *n, char *err,
    size_t errlen)
{
	uint64_t slots;

	memset(n, 0, sizeof(*n));
	if (parse_cidr(cidr4, AF_INET, &n->net4, &n->len4) == -1) {
		snprintf(err, errlen, "'%s': an IPv4 pool is ADDR/LEN (172.29.0.128/25)", cidr4);
		return -1;
	}
	if (n->len4 < POOL_MIN_LEN4 || n->len4 > POOL_MAX_LEN4) {
		snprintf(err, errlen, "'%s': an IPv4 pool is /%d to /%d", cidr4, POOL_MIN_LEN4,
		    POOL_MAX_LEN4);
		return -1;
	}
	if (host_bits((const uint8_t *)&n->net4, 4, n->len4)) {
		snprintf(err, errlen, "'%s' has bits set past the prefix length: write the network",
		    cidr4);
		return -1;
	}
	slots = (1ULL << (32 - n->len4)) - 2;
	if (cidr6 != NULL) {
		if (parse_cidr(cidr6, AF_INET6, &n->net6, &n->len6) == -1 || n->len6 == 0) {
			snprintf(err, errlen, "'%s': an IPv6 pool is ADDR/LEN (fd00:29::/112)", cidr6);
			return -1;
		}
		if (n->len6 > 126) {
			snprintf(err, errlen, "'%s': an IPv6 pool is /126 or wider", cidr6);
			return -1;
		}
		if (host_bits(n->net6.s6_addr, 16, n->len6)) {
			snprintf(err, errlen, "'%s' has bits set past the prefix length: write the "
			    "network", cidr6);
			return -1;
		}
		if (128 - n->len6 < 63 && (1ULL << (128 - n->len6)) - 1 < slots)
			slots = (1ULL << (128 - n->len6)) - 1;
	}
	n->slots = (uint32_t)(slots < POOL_MAX_SLOTS ? slots : POOL_MAX_SLOTS);
	return 0;
}

void
pool_net_format(const struct pool_net *n, char *buf, size_t len)
{
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET, &n->net4, a4, sizeof(a4));
	if (n->len6 == 0) {
		snprintf(buf, len, "%s/%u", a4, n->len4);
		return;
	}
	inet_ntop(AF_INET6, &n->net6, a6, sizeof(a6));
	snprintf(buf, len, "%s/%u %s/%u", a4, n->len4, a6, n->len6);
}

int
pool_net_equal(const struct pool_net *a, const struct pool_net *b)
{
	return a->net4.s_addr == b->net4.s_addr && a->len4 == b->len4 && a->len6 == b->len6 &&
	    (a->len6 == 0 || memcmp(&a->net6, &b->net6, sizeof(a->net6)) == 0);
}

void
pool_net_addr4(const struct pool_net *n, uint32_t slot, struct in_addr *out)
{
	out->s_addr = htonl(ntohl(n->net4.s_addr) + 1 + slot);
}

void
pool_net_addr6(const struct pool_net *n, uint32_t slot, struct in6_addr *out)
{
	uint32_t carry = slot + 1;

	*out = n->net6;
	for (int i = 15; i >= 0 && carry != 0; i--) {	/* add to the low bytes */
		carry += out->s6_addr[i];
		out->s6_addr[i] = (uint8_t)carry;
		carry >>= 8;
	}
}

/* The slot of the host part off (off >= 1 is net + off), or -1. */
static int64_t
slot_of(const struct pool_net *n, uint64_t off)
{
	return off >= 1 && off <= n->slots ? (int64_t)(off - 1) : -1;
}

/* The slot of the IPv4 address a (host order), or -1. */
static int64_t
slot4(const struct pool_net *n, uint32_t a)
{
	uint32_t net = ntohl(n->net4.s_addr), mask = ~0U << (32 - n->len4);

	return (a & mask) == net ? slot_of(n, a - net) : -1;
}

int64_t
pool_net_slot(const struct pool_net *n, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in s4;

		memcpy(&s4, sa, sizeof(s4));
		return slot4(n, ntohl(s4.sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 s6;
		const uint8_t *b = s6.sin6_addr.s6_addr, *nb = n->net6.s6_addr;
		uint64_t off = 0;

		memcpy(&s6, sa, sizeof(s6));
		if (IN6_IS_ADDR_V4MAPPED(&s6.sin6_addr))
			return slot4(n, (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
			    (uint32_t)b[14] << 8 | b[15]);
		if (n->len6 == 0)
			return -1;
		/* the same network, and a host part that fits the slots (the top bytes zero) */
		for (unsigned i = 0; i < 16; i++) {
			unsigned lo = 8 * i;
			uint8_t net_mask = lo + 8 <= n->len6 ? 0xff : lo >= n->len6 ? 0 :
			    (uint8_t)(0xff << (8 - (n->len6 - lo)));

			if ((b[i] & net_mask) != (nb[i] & net_mask))
				return -1;
			if (i < 8 && (b[i] & (uint8_t)~net_mask) != 0)
				return -1;	/* a host part far above POOL_MAX_SLOTS */
			if (i >= 8)
				off = off << 8 | (uint8_t)(b[i] & (uint8_t)~net_mask);
		}
		return slot_of(n, off);
	}
	return -1;
}
