/* lookup_musl.c: resolve names with getaddrinfo(3), built with musl-gcc, so the e2e tests
 * see what a musl (Alpine) container sees. One line per name on stdout:
 *   NAME ok MS ADDR...          the addresses, in the order getaddrinfo gave them
 *   NAME fail MS EAI_NAME text  getaddrinfo's error
 * MS is the time the lookup took in milliseconds. Exit 0 when every name resolved, else 2.
 * Usage: lookup_musl [-4|-6] NAME... */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static const char *
eai_name(int rc)
{
	switch (rc) {
	case EAI_NONAME: return "EAI_NONAME";
	case EAI_AGAIN: return "EAI_AGAIN";
	case EAI_FAIL: return "EAI_FAIL";
	case EAI_FAMILY: return "EAI_FAMILY";
	case EAI_MEMORY: return "EAI_MEMORY";
	case EAI_SYSTEM: return "EAI_SYSTEM";
#ifdef EAI_NODATA
	case EAI_NODATA: return "EAI_NODATA";
#endif
	default: return "EAI_OTHER";
	}
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
lookup(const char *name, int family)
{
	struct addrinfo hints, *res, *ai;
	char buf[INET6_ADDRSTRLEN];
	long t0 = now_ms();
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc != 0) {
		printf("%s fail %ld %s %s\n", name, now_ms() - t0, eai_name(rc), gai_strerror(rc));
		return -1;
	}
	printf("%s ok %ld", name, now_ms() - t0);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		const void *a = ai->ai_family == AF_INET ?
		    (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr :
		    (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;

		if (inet_ntop(ai->ai_family, a, buf, sizeof(buf)) != NULL)
			printf(" %s", buf);
	}
	printf("\n");
	freeaddrinfo(res);
	return 0;
}

int
main(int argc, char **argv)
{
	int family = AF_UNSPEC, i = 1, failed = 0;

	if (i < argc && strcmp(argv[i], "-4") == 0) {
		family = AF_INET;
		i++;
	} else if (i < argc && strcmp(argv[i], "-6") == 0) {
		family = AF_INET6;
		i++;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: lookup_musl [-4|-6] NAME...\n");
		return 64;
	}
	for (; i < argc; i++)
		if (lookup(argv[i], family) == -1)
			failed = 1;
	fflush(stdout);
	return failed ? 2 : 0;
}
