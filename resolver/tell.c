/* tell.c: one datagram to the forwarder per answered lookup of an allowed name. */
#include "tell.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "dname.h"
#include "lookups.h"
#include "util.h"

/* (client, name) pairs told lately, by hash: a client asks A and AAAA, and again on every
 * connection; telling each once a TELL_REPEAT_MS costs the forwarder at most that much
 * of the window, and spares both daemons a datagram per repeat. */
#define SEEN		4096
#define TELL_REPEAT_MS	1000

struct seen {
	uint64_t hash, ms;
};

struct tell {
	int fd;
	struct sockaddr_un sun;
	socklen_t sunlen;
	uint64_t seed;			/* so a client cannot aim its hashes at another's */
	struct seen seen[SEEN];
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
	t->seed = util_hash(UTIL_HASH_INIT, &t, sizeof(t)) ^ util_now_ms() ^ (uint64_t)getpid();
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

enum tell_result
tell_lookup(struct tell *t, const struct sockaddr *client, const char *qname, uint64_t now_ms)
{
	uint8_t buf[LOOKUPS_DGRAM_MAX], key[16];
	char name[DNAME_MAX + 1];
	struct seen *s;
	uint64_t h;
	size_t n, len;

	if (dname_normalize(qname, strlen(qname), name, &len) != DNAME_OK)
		return TELL_DROPPED;
	addr_key(client, key);
	h = util_hash(util_hash(t->seed, key, sizeof(key)), name, len);
	s = &t->seen[h & (SEEN - 1)];
	if (s->hash == h && now_ms - s->ms < TELL_REPEAT_MS)
		return TELL_REPEAT;	/* the common case: checked before any encoding */
	if ((n = lookups_encode(client, name, now_ms, buf, sizeof(buf))) == 0)
		return TELL_DROPPED;
	/* Tried is told: with no forwarder bound, a flood of one name costs one failed call
	 * a second, not one a query. */
	s->hash = h;
	s->ms = now_ms;
	if (sendto(t->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&t->sun,
	    t->sunlen) != (ssize_t)n)
		return TELL_DROPPED;
	return TELL_SENT;
}
