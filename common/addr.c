/* addr.c: address parsing, formatting, comparison and special-purpose classification. */
#include "addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static int
parse_port(const char *s, uint16_t *port)
{
	unsigned long v;

	if (util_parse_uint(s, 1, 65535, &v) == -1)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

static int
parse_ip(const char *host, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

int
addr_parse(const char *s, int default_port, struct sockaddr_storage *ss, char *err,
    size_t errlen)
{
	char host[64];
	const char *portstr = NULL, *colon, *orig = s;
	size_t hl;
	uint16_t port = 0;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL) {
			snprintf(err, errlen, "'%s': missing ']'", s);
			return -1;
		}
		hl = (size_t)(close - s - 1);
		if (close[1] == ':')
			portstr = close + 2;
		else if (close[1] != '\0') {
			snprintf(err, errlen, "'%s': junk after ']'", s);
			return -1;
		}
		s++;
	} else if ((colon = strchr(s, ':')) != NULL && strchr(colon + 1, ':') == NULL) {
		hl = (size_t)(colon - s);
		portstr = colon + 1;
	} else
		hl = strlen(s);
	if (hl == 0 || hl >= sizeof(host)) {
		snprintf(err, errlen, "'%s': not an IP address", orig);
		return -1;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (parse_ip(host, ss) == -1) {
		snprintf(err, errlen, "'%s': not an IP address", host);
		return -1;
	}
	if (portstr != NULL) {
		if (default_port == -2) {
			snprintf(err, errlen, "'%s': no port expected here", host);
			return -1;
		}
		if (parse_port(portstr, &port) == -1) {
			snprintf(err, errlen, "'%s': port must be 1-65535", portstr);
			return -1;
		}
	} else if (default_port == -1) {
		snprintf(err, errlen, "'%s': a port is required (ADDR:PORT)", host);
		return -1;
	} else if (default_port > 0)
		port = (uint16_t)default_port;
	addr_set_port((struct sockaddr *)ss, port);
	return 0;
}

socklen_t
addr_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
}

size_t
addr_fmt_ipv4(char *buf, const void *addr)
{
	const uint8_t *b = addr;
	size_t o = 0;
	int i;

	for (i = 0; i < 4; i++) {
		unsigned v = b[i];

		if (i > 0)
			buf[o++] = '.';
		if (v >= 100)
			buf[o++] = (char)('0' + v / 100);
		if (v >= 10)
			buf[o++] = (char)('0' + v / 10 % 10);
		buf[o++] = (char)('0' + v % 10);
	}
	buf[o] = '\0';
	return o;
}

uint16_t
addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

void
addr_set_port(struct sockaddr *sa, uint16_t port)
{
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons(port);
	else if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

char *
addr_format(const struct sockaddr *sa, int with_port, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	int v6 = 0;

	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, a, sizeof(a));
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *in6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(in6))
			inet_ntop(AF_INET, &in6->s6_addr[12], a, sizeof(a));
		else {
			inet_ntop(AF_INET6, in6, a, sizeof(a));
			v6 = 1;
		}
	} else {
		util_strlcpy(buf, "?", len);
		return buf;
	}
	if (!with_port)
		util_strlcpy(buf, a, len);
	else if (v6)
		snprintf(buf, len, "[%s]:%u", a, addr_port(sa));
	else
		snprintf(buf, len, "%s:%u", a, addr_port(sa));
	return buf;
}

int
addr_equal(const struct sockaddr *a, const struct sockaddr *b, int with_port)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (with_port && addr_port(a) != addr_port(b))
		return 0;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return 0;
}

void
addr_unmap(struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in s4;

	if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return;
	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_port = s6->sin6_port;
	memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &s4, sizeof(s4));
}

int
addr_is_any(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

void
addr_key(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6)
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
}

/* One special-purpose prefix. */
struct special {
	uint8_t prefix[16];
	unsigned bits;
	const char *name;
};

/* IANA IPv4 Special-Purpose Address Registry (and multicast/reserved space). */
static const struct special special4[] = {
	{ { 0 }, 8, "this-network" },				/* 0.0.0.0/8 */
	{ { 10 }, 8, "private" },				/* RFC 1918 */
	{ { 100, 64 }, 10, "shared" },				/* RFC 6598 CGNAT */
	{ { 127 }, 8, "loopback" },
	{ { 169, 254 }, 16, "link-local" },			/* incl. 169.254.169.254 */
	{ { 172, 16 }, 12, "private" },
	{ { 192, 0, 0 }, 24, "ietf-protocol" },			/* RFC 6890 */
	{ { 192, 0, 2 }, 24, "documentation" },			/* TEST-NET-1 */
	{ { 192, 88, 99 }, 24, "6to4-relay" },			/* RFC 7526 */
	{ { 192, 168 }, 16, "private" },
	{ { 198, 18 }, 15, "benchmarking" },			/* RFC 2544 */
	{ { 198, 51, 100 }, 24, "documentation" },		/* TEST-NET-2 */
	{ { 203, 0, 113 }, 24, "documentation" },		/* TEST-NET-3 */
	{ { 224 }, 4, "multicast" },
	{ { 240 }, 4, "reserved" },				/* incl. 255.255.255.255 */
};

/* IPv6 special-purpose prefixes inside global unicast 2000::/3 (everything outside
 * 2000::/3 is special already; the named ones there give a better reason). */
static const struct special special6[] = {
	{ { 0 }, 128, "unspecified" },
	{ { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }, 128, "loopback" },
	{ { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff }, 96, "v4mapped" },
	{ { 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff }, 96, "v4translated" },	/* ::ffff:0:0:0/96 */
	{ { 0 }, 96, "v4compat" },					/* ::/96, deprecated */
	{ { 0, 0x64, 0xff, 0x9b }, 96, "nat64" },			/* RFC 6052 */
	{ { 0, 0x64, 0xff, 0x9b, 0, 1 }, 48, "nat64" },			/* RFC 8215 */
	{ { 0x01 }, 64, "discard" },					/* 100::/64 */
	{ { 0x20, 0x01, 0x00, 0x00 }, 32, "teredo" },			/* 2001::/32 */
	{ { 0x20, 0x01, 0x0d, 0xb8 }, 32, "documentation" },		/* 2001:db8::/32 */
	{ { 0x20, 0x01 }, 23, "ietf-protocol" },			/* 2001::/23 */
	{ { 0x20, 0x02 }, 16, "6to4" },					/* 2002::/16 */
	{ { 0x3f, 0xff }, 20, "documentation" },			/* 3fff::/20, RFC 9637 */
	{ { 0x5f, 0x00 }, 16, "srv6" },					/* 5f00::/16, RFC 9602 */
	{ { 0xfc }, 7, "ula" },
	{ { 0xfe, 0x80 }, 10, "link-local" },
	{ { 0xfe, 0xc0 }, 10, "site-local" },
	{ { 0xff }, 8, "multicast" },
};

static int
prefix_match(const uint8_t *a, const uint8_t *prefix, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, prefix, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[full] ^ prefix[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

const char *
addr_special4(const struct in_addr *a)
{
	const uint8_t *b = (const uint8_t *)&a->s_addr;
	size_t i;

	for (i = 0; i < NELEM(special4); i++)
		if (prefix_match(b, special4[i].prefix, special4[i].bits))
			return special4[i].name;
	return NULL;
}

const char *
addr_special6(const struct in6_addr *a)
{
	const uint8_t *b = a->s6_addr;
	size_t i;

	for (i = 0; i < NELEM(special6); i++)
		if (prefix_match(b, special6[i].prefix, special6[i].bits))
			return special6[i].name;
	if ((b[0] & 0xe0) != 0x20)
		return "not-global-unicast";
	return NULL;
}

const char *
addr_special(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return addr_special4(&((const struct sockaddr_in *)sa)->sin_addr);
	if (sa->sa_family == AF_INET6)
		return addr_special6(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return "unknown-family";
}

const char *
addr_never(const struct sockaddr *sa)
{
	const uint8_t *b;

	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_UNSPECIFIED(a6))
			return "unspecified";
		if (IN6_IS_ADDR_MULTICAST(a6))
			return "multicast";
		if (!IN6_IS_ADDR_V4MAPPED(a6))
			return NULL;
		b = &a6->s6_addr[12];
	} else if (sa->sa_family == AF_INET)
		b = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr.s_addr;
	else
		return "unknown-family";
	if (b[0] == 0)
		return "this-network";
	if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255)
		return "broadcast";
	if ((b[0] & 0xf0) == 224)
		return "multicast";
	return NULL;
}
