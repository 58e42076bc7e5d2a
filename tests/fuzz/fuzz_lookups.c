/* fuzz_lookups.c: libFuzzer target for common/lookups.c's datagram decoder; aborts when an
 * invariant breaks. */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"
#include "dname.h"
#include "lookups.h"

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zero[16];
	struct lookup_msg m;
	struct sockaddr_in6 sin6;
	uint8_t again[LOOKUPS_DGRAM_MAX];
	char norm[DNAME_MAX + 1];
	size_t n, nlen;

	if (lookups_decode(data, size, &m) != LOOKUPS_OK) {
		CHECK(size < LOOKUPS_HEAD + 1 || size != (size_t)LOOKUPS_HEAD + data[1] ||
		    data[0] != LOOKUPS_VERSION || data[1] == 0 || memcmp(data + 2, zero, 16) == 0 ||
		    dname_normalize((const char *)data + LOOKUPS_HEAD, data[1], norm, &nlen) !=
		    DNAME_OK || nlen != data[1] ||
		    memcmp(norm, data + LOOKUPS_HEAD, nlen) != 0);
		return 0;
	}
	/* What decodes is a normal name of the stated length, and encodes to the same bytes. */
	CHECK(size >= LOOKUPS_HEAD + 1 && size <= LOOKUPS_DGRAM_MAX);
	CHECK(strlen(m.name) == size - LOOKUPS_HEAD);
	CHECK(dname_normalize(m.name, strlen(m.name), norm, &nlen) == DNAME_OK);
	CHECK(strcmp(norm, m.name) == 0);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	memcpy(&sin6.sin6_addr, m.client, 16);
	n = lookups_encode((const struct sockaddr *)&sin6, m.name, m.ms, again, sizeof(again));
	CHECK(n == size && memcmp(again, data, size) == 0);
	return 0;
}
