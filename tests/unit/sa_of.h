/* sa_of.h: a socket address from text, for the unit tests of tables keyed by client. */
#ifndef GATEHOUSE_TEST_SA_OF_H
#define GATEHOUSE_TEST_SA_OF_H

#include <sys/socket.h>

#include "addr.h"

/* "192.0.2.1:1000", "[::1]:53", or an address alone (port 0); the test fails on others. */
static inline struct sockaddr_storage
sa_of(const char *text)
{
	struct sockaddr_storage ss;
	char err[128];

	assert_int_equal(addr_parse(text, 0, &ss, err, sizeof(err)), 0);
	return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

#endif
