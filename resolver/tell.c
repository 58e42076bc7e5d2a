/* tell.c: one datagram to the forwarder per answered lookup of an allowed name. */
#include "tell.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "dname.h"
#include "lookups.h"

struct tell {
	int fd;
	struct sockaddr_un sun;
	socklen_t sunlen;
};

int
tell_open(const char *setting, struct tell **out, char *err, size_t errlen)
{
	struct tell *t;

	*out = NULL;
	if (strcmp(setting, "off") == 0)
		return 0;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (lookups_sockaddr(setting, &t->sun, &t->sunlen) == -1) {
		snprintf(err, errlen, "lookups-socket %s: not an abstract socket name", setting);
		free(t);
		return -1;
	}
	if ((t->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "lookups-socket %s: socket: %s", setting, strerror(errno));
		free(t);
		return -1;
	}
	*out = t;
	return 0;
}

void
tell_free(struct tell *t)
{
	if (t != NULL) {
		close(t->fd);
		free(t);
	}
}

int
tell_lookup(struct tell *t, const struct sockaddr *client, const char *qname, uint64_t now_ms)
{
	uint8_t buf[LOOKUPS_DGRAM_MAX];
	char name[DNAME_MAX + 1];
	size_t n;

	if (dname_normalize(qname, strlen(qname), name, NULL) != DNAME_OK ||
	    (n = lookups_encode(client, name, now_ms, buf, sizeof(buf))) == 0)
		return -1;
	if (sendto(t->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&t->sun,
	    t->sunlen) != (ssize_t)n)
		return -1;
	return 0;
}
