/* addr.h: socket addresses: parse, format, compare, and classify special-purpose ranges. */
#ifndef GATEHOUSE_ADDR_H
#define GATEHOUSE_ADDR_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "[ffff:...:ffff]:65535" plus NUL */
#define ADDR_STRLEN 56

/*
 * Parse "1.2.3.4", "1.2.3.4:53", "::1", "[::1]", "[::1]:53". A bare IPv6 address
 * (more than one ':') has no port. When no port is written, default_port is used; when
 * default_port is -1 a port is required, and when it is -2 a port is refused (the port is
 * then 0, as it is for a default_port of 0). Fills ss (family, address, port). 0 on
 * success, -1 with a message in err.
 */
int addr_parse(const char *s, int default_port, struct sockaddr_storage *ss, char *err,
    size_t errlen);

/* Length to pass to bind/connect for this address (that of sockaddr_in for any family
 * but AF_INET6). */
socklen_t addr_len(const struct sockaddr *sa);

/* "1.2.3.4" / "::1" (with_port 0) or "1.2.3.4:53" / "[::1]:53" (with_port 1).
 * IPv4-mapped IPv6 addresses are written as IPv4; another family as "?". Cut short
 * when len is too small (ADDR_STRLEN always fits). Returns buf. */
char *addr_format(const struct sockaddr *sa, int with_port, char *buf, size_t len);

/* "a.b.c.d" for the 4 bytes at addr into buf (holds 16: NUL-terminated); returns the
 * length. Hand-rolled: inet_ntop goes through sprintf, too slow per query. */
size_t addr_fmt_ipv4(char *buf, const void *addr);

/* The port in host order (0 for a family other than AF_INET/AF_INET6, whose port
 * addr_set_port leaves alone). */
uint16_t addr_port(const struct sockaddr *sa);
void addr_set_port(struct sockaddr *sa, uint16_t port);

/* Same family and address (and port when with_port); 0 for another family. An IPv4
 * address and its IPv4-mapped form are not equal (addr_unmap one first). */
int addr_equal(const struct sockaddr *a, const struct sockaddr *b, int with_port);

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes the IPv4 address, port kept;
 * anything else is left alone. */
void addr_unmap(struct sockaddr_storage *ss);

/* 1 for 0.0.0.0 and :: */
int addr_is_any(const struct sockaddr *sa);

/* A key for per-client tables: the address as 16 bytes (IPv4 as ::ffff:a.b.c.d). */
void addr_key(const struct sockaddr *sa, uint8_t key[16]);

/*
 * Special-purpose address check (IANA IPv4 and IPv6 special-purpose registries, plus
 * everything outside IPv6 global unicast 2000::/3). Returns NULL for an ordinary
 * global address, or a short static name of the range ("loopback", "private",
 * "link-local", "documentation", "v4mapped", ...). Never NULL for an unknown family.
 */
const char *addr_special(const struct sockaddr *sa);
const char *addr_special4(const struct in_addr *a);
const char *addr_special6(const struct in6_addr *a);

/*
 * Addresses no connection may go to, `private` or not: "this-network" (0.0.0.0/8, which
 * Linux dials as the local host), "unspecified" (::), "broadcast" (255.255.255.255) and
 * "multicast" (224.0.0.0/4, ff00::/8), also written IPv4-mapped (::ffff:0.0.0.0).
 * The short static name of the range, "unknown-family" for a family other than AF_INET
 * and AF_INET6, or NULL.
 */
const char *addr_never(const struct sockaddr *sa);

#endif
