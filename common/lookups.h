/* lookups.h: the datagram the resolver sends the forwarder for each answered lookup of an
 * allowed name (client address, name, time), on the `lookups-socket`; a pure codec. */
#ifndef GATEHOUSE_LOOKUPS_H
#define GATEHOUSE_LOOKUPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "dname.h"

/*
 * The datagram, every field fixed in place but the name (all integers big-endian):
 *
 *   offset  size  field
 *        0     1  version: LOOKUPS_VERSION
 *        1     1  n: the name's length, 1..DNAME_MAX
 *        2    16  the client's address as addr_key writes it (IPv4 as ::ffff:a.b.c.d);
 *                 never all zeros
 *       18     8  when the resolver answered: its util_now_ms() (the monotonic clock
 *                 both daemons read on one host)
 *       26     n  the name in its normal form (dname_normalize: lower case, no
 *                 trailing dot), no NUL
 *
 * and nothing after it: a datagram is exactly LOOKUPS_HEAD + n bytes.
 */
#define LOOKUPS_VERSION	1
#define LOOKUPS_HEAD	26
#define LOOKUPS_DGRAM_MAX (LOOKUPS_HEAD + DNAME_MAX)

/* The names a conn line lists at most, and how long a lookup counts as recent. */
#define LOOKUPS_RECENT_MAX	8
#define LOOKUPS_WINDOW_MS	10000

/* One decoded datagram. */
struct lookup_msg {
	uint8_t client[16];		/* addr_key form */
	uint64_t ms;			/* the resolver's clock */
	char name[DNAME_MAX + 1];	/* normalised, NUL terminated */
};

enum lookups_status {
	LOOKUPS_OK = 0,
	LOOKUPS_SHORT,		/* fewer than LOOKUPS_HEAD + 1 bytes */
	LOOKUPS_BAD_VERSION,
	LOOKUPS_BAD_LENGTH,	/* n out of range, or the datagram is not HEAD + n bytes */
	LOOKUPS_BAD_ADDRESS,	/* all zeros */
	LOOKUPS_BAD_NAME	/* not a host name in its normal form */
};

/* Write the datagram for (client, name, ms) to out (cap >= LOOKUPS_DGRAM_MAX is always
 * enough). name must be a normalised host name. Its length, or 0 when name is not one
 * (empty, too long) or cap is too small. */
size_t lookups_encode(const struct sockaddr *client, const char *name, uint64_t ms,
    uint8_t *out, size_t cap);

/* Read buf[0..len) into *m, checking every field. Pure. On any status but LOOKUPS_OK,
 * *m is unspecified. */
enum lookups_status lookups_decode(const uint8_t *buf, size_t len, struct lookup_msg *m);

/* A short static phrase for a status ("name not in normal form"). */
const char *lookups_status_str(enum lookups_status st);

/*
 * The socket address of the setting's value: "@NAME" is NAME in Linux's abstract
 * namespace (sun_path[0] == 0; the length counts no NUL). 0, or -1 when value is not
 * such a name (the configuration reader refuses those: config_settings.c).
 */
int lookups_sockaddr(const char *value, struct sockaddr_un *sun, socklen_t *len);

#endif
