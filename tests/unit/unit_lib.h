/* unit_lib.h: what unit tests share: addresses from text, deadlines scaled by
 * TEST_TIME_SCALE (a bound for a loop that waits on a condition, never a timed assertion)
 * and an fd count. Include after <cmocka.h>; sa_of needs common/addr.c linked. */
#ifndef GATEHOUSE_UNIT_LIB_H
#define GATEHOUSE_UNIT_LIB_H

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "addr.h"

#define SA(ss) ((const struct sockaddr *)&(ss))

/* "192.0.2.1:1000", "[::1]:53", or an address alone (port 0). */
static inline struct sockaddr_storage
sa_of(const char *text)
{
	struct sockaddr_storage ss;
	char err[128];

	assert_int_equal(addr_parse(text, 0, &ss, err, sizeof(err)), 0);
	return ss;
}

/* ms times TEST_TIME_SCALE (a positive number; 1 when unset or not a number). */
static inline uint64_t
unit_scaled_ms(uint64_t ms)
{
	const char *s = getenv("TEST_TIME_SCALE");
	double k = s != NULL ? atof(s) : 1.0;

	return (uint64_t)((double)ms * (k > 0 ? k : 1.0));
}

static inline uint64_t
unit_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Descriptors this process has open (a leak check: compare before and after). */
static inline int
unit_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

#endif
