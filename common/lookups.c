/* lookups.c: the resolver-to-forwarder lookup datagram (lookups.h): encode, decode, the
 * socket address. Pure. */
#include "lookups.h"

#include <stddef.h>
#include <string.h>

#include "addr.h"

size_t
lookups_encode(const struct sockaddr *client, const char *name, uint64_t ms, uint8_t *out,
    size_t cap)
{
	size_t n = strlen(name), i;

	if (n == 0 || n > DNAME_MAX || cap < LOOKUPS_HEAD + n)
		return 0;
	out[0] = LOOKUPS_VERSION;
	out[1] = (uint8_t)n;
	addr_key(client, out + 2);
	for (i = 0; i < 8; i++)
		out[18 + i] = (uint8_t)(ms >> (56 - 8 * i));
	memcpy(out + LOOKUPS_HEAD, name, n);
	return LOOKUPS_HEAD + n;
}

enum lookups_status
lookups_decode(const uint8_t *buf, size_t len, struct lookup_msg *m)
{
	static const uint8_t zero[16];
	size_t n, i, nlen;

	if (len < LOOKUPS_HEAD + 1)
		return LOOKUPS_SHORT;
	if (buf[0] != LOOKUPS_VERSION)
		return LOOKUPS_BAD_VERSION;
	n = buf[1];
	if (n == 0 || n > DNAME_MAX || len != LOOKUPS_HEAD + n)
		return LOOKUPS_BAD_LENGTH;
	if (memcmp(buf + 2, zero, sizeof(zero)) == 0)
		return LOOKUPS_BAD_ADDRESS;
	memcpy(m->client, buf + 2, sizeof(m->client));
	m->ms = 0;
	for (i = 0; i < 8; i++)
		m->ms = m->ms << 8 | buf[18 + i];
	/* The normal form, and only it: the same name written twice is one name. */
	if (dname_normalize((const char *)buf + LOOKUPS_HEAD, n, m->name, &nlen) != DNAME_OK ||
	    nlen != n || memcmp(m->name, buf + LOOKUPS_HEAD, n) != 0)
		return LOOKUPS_BAD_NAME;
	return LOOKUPS_OK;
}

const char *
lookups_status_str(enum lookups_status st)
{
	switch (st) {
	case LOOKUPS_OK:
		return "ok";
	case LOOKUPS_SHORT:
		return "shorter than a header and one byte of name";
	case LOOKUPS_BAD_VERSION:
		return "unknown version";
	case LOOKUPS_BAD_LENGTH:
		return "name length out of range or not the datagram's";
	case LOOKUPS_BAD_ADDRESS:
		return "client address all zeros";
	case LOOKUPS_BAD_NAME:
		return "name not a host name in its normal form";
	}
	return "unknown";
}

int
lookups_sockaddr(const char *value, struct sockaddr_un *sun, socklen_t *len)
{
	size_t n = strlen(value);

	/* sun_path[0] is the abstract namespace's NUL, so a name may take the rest. */
	if (n < 2 || value[0] != '@' || n > sizeof(sun->sun_path))
		return -1;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path + 1, value + 1, n - 1);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	return 0;
}
