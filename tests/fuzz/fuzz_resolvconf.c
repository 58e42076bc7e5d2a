/* fuzz_resolvconf.c: libFuzzer target for common/resolvconf.c; aborts when an invariant breaks. */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "resolvconf.h"

#define MAX 4

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage ss[MAX];
	char *copy = malloc(size ? size : 1);
	size_t n, i;

	/* a copy of exactly size bytes, so that ASan sees any read past the end */
	CHECK(copy != NULL);
	memcpy(copy, data, size);
	resolvconf_parse(copy, size, ss, MAX, &n);
	CHECK(n >= 1 && n <= MAX);
	for (i = 0; i < n; i++) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss[i];
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss[i];

		CHECK(ss[i].ss_family == AF_INET || ss[i].ss_family == AF_INET6);
		CHECK(ss[i].ss_family == AF_INET ? ntohs(sin->sin_port) == 53 :
		    ntohs(sin6->sin6_port) == 53);
	}
	/* no server named, or only the loopback one: 127.0.0.1 first */
	if (memmem(copy, size, "nameserver", 10) == NULL)
		CHECK(n == 1 && ss[0].ss_family == AF_INET &&
		    ((const struct sockaddr_in *)&ss[0])->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
	free(copy);
	return 0;
}
