/* util.c: small stateless helpers (see util.h). */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

size_t
util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

int
util_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
util_parse_duration(const char *s, uint64_t max_ms, uint64_t *out_ms)
{
	uint64_t whole = 0, frac = 0, fracdiv = 1, mult = 1000, ms;
	const char *p = s;

	if (p == NULL || *p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		whole = whole * 10 + (uint64_t)(*p - '0');
		if (whole > max_ms)
			return -1;
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (fracdiv < 1000000) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				fracdiv *= 10;
			}
		}
	}
	if (strcmp(p, "ms") == 0)
		mult = 1;
	else if (strcmp(p, "s") == 0 || *p == '\0')
		mult = 1000;
	else if (strcmp(p, "m") == 0)
		mult = 60000;
	else if (strcmp(p, "h") == 0)
		mult = 3600000;
	else
		return -1;
	ms = whole * mult + frac * mult / fracdiv;
	if (ms > max_ms)
		return -1;
	*out_ms = ms;
	return 0;
}

void
util_ms_to_tv(uint64_t ms, struct timeval *tv)
{
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

uint64_t
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
util_hash(uint64_t seed, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t h = seed;

	while (len-- > 0)
		h = util_hash_step(h, *p++);
	return h;
}

int
util_reserve_fd(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

int
util_shed_accept(int lfd, int err, int *reserve_fd, struct sockaddr_storage *peer)
{
	socklen_t pl = sizeof(*peer);
	int fd;

	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return -1;
	if (*reserve_fd == -1 && (*reserve_fd = util_reserve_fd()) == -1)
		return 0;	/* lost it earlier (ENFILE): try again next time */
	close(*reserve_fd);
	fd = accept4(lfd, (struct sockaddr *)peer, &pl, SOCK_CLOEXEC);
	if (fd != -1)
		close(fd);
	*reserve_fd = util_reserve_fd();
	return fd != -1;
}
