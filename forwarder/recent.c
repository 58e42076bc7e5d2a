/* recent.c: the lookups-socket (bound, read in batches, only the resolver's user may
 * write) and per client the names it looked up lately, in fixed slots. */
#include "recent.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "clients.h"
#include "util.h"

#define SLOTS	1024		/* clients remembered; the least recently seen goes first */
#define PROBE	4

struct recent_slot {
	struct client_slot c;			/* c.last_ms: the newest lookup */
	unsigned n;				/* names held, newest first */
	uint64_t ms[LOOKUPS_RECENT_MAX];
	char name[LOOKUPS_RECENT_MAX][DNAME_MAX + 1];
};

struct recent {
	struct client_slots slots;
	int fd;
	struct event *ev;
	uid_t sender;
	struct recent_stats stats;
};

struct recent *
recent_new(void)
{
	struct recent *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->fd = -1;
	l->sender = 0;		/* root only, until recent_set_sender */
	if (clients_slots_init(&l->slots, SLOTS, sizeof(struct recent_slot), PROBE) == 0)
		return l;
	free(l);
	return NULL;
}

void
recent_free(struct recent *l)
{
	if (l == NULL)
		return;
	if (l->ev != NULL)
		event_free(l->ev);
	if (l->fd != -1)
		close(l->fd);
	clients_slots_free(&l->slots);
	free(l);
}

void
recent_set_sender(struct recent *l, uid_t uid)
{
	l->sender = uid;
}

void
recent_note(struct recent *l, const struct sockaddr *client, const char *name,
    uint64_t now_ms)
{
	struct client_slot *slot;
	struct recent_slot *s;
	unsigned i, at;

	if (!clients_slot_find(&l->slots, client, &slot))
		clients_slot_claim(&l->slots, slot, client);
	s = (struct recent_slot *)slot;
	s->c.last_ms = now_ms;
	/* Where it goes from: its old place, or the oldest when the list is full. */
	for (at = 0; at < s->n && strcmp(s->name[at], name) != 0; at++)
		;
	if (at == s->n) {
		if (s->n < LOOKUPS_RECENT_MAX)
			s->n++;
		at = s->n - 1;
	}
	for (i = at; i > 0; i--) {
		s->ms[i] = s->ms[i - 1];
		memcpy(s->name[i], s->name[i - 1], sizeof(s->name[i]));
	}
	s->ms[0] = now_ms;
	snprintf(s->name[0], sizeof(s->name[0]), "%s", name);
}

size_t
recent_list(const struct recent *l, const struct sockaddr *client, uint64_t now_ms,
    const char **out, size_t max)
{
	struct client_slot *slot;
	const struct recent_slot *s;
	size_t k = 0;

	if (!clients_slot_find(&l->slots, client, &slot))
		return 0;
	s = (const struct recent_slot *)slot;
	/* Newest first, so the first one out of the window ends the list. */
	while (k < s->n && k < max && now_ms - s->ms[k] < LOOKUPS_WINDOW_MS)
		out[k] = s->name[k], k++;
	return k;
}

void
recent_receive(struct recent *l, const uint8_t *buf, size_t len, uid_t uid,
    uint64_t now_ms)
{
	struct sockaddr_in6 sin6;
	struct sockaddr_storage ss;
	struct lookup_msg m;

	if (uid != l->sender && uid != 0) {
		l->stats.refused++;
		return;
	}
	if (lookups_decode(buf, len, &m) != LOOKUPS_OK) {
		l->stats.malformed++;
		return;
	}
	if (m.ms > now_ms)		/* one host, one clock: at most a rounding ahead */
		m.ms = now_ms;
	if (now_ms - m.ms >= LOOKUPS_WINDOW_MS) {
		l->stats.stale++;
		return;
	}
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	memcpy(&sin6.sin6_addr, m.client, sizeof(m.client));
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &sin6, sizeof(sin6));
	addr_unmap(&ss);
	/* The lookup's own time: the window runs from the answer, however long the datagram
	 * waited in the queue (one resolver sends them in order, so newest stays first). */
	recent_note(l, (const struct sockaddr *)&ss, m.name, m.ms);
	l->stats.recorded++;
}

/* Read what is queued, up to RECENT_BATCH datagrams, so a flood cannot hold the loop. */
static void
recent_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct recent *l = arg;
	uint8_t buf[LOOKUPS_DGRAM_MAX + 1];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} cm;
	int i;

	(void)what;
	for (i = 0; i < RECENT_BATCH; i++) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr msg;
		struct cmsghdr *c;
		uid_t uid = (uid_t)-1;
		ssize_t n;

		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		if ((n = recvmsg(fd, &msg, MSG_DONTWAIT)) == -1)
			return;		/* EAGAIN: all read; nothing else is expected */
		for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
			struct ucred cr;

			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
			    c->cmsg_len >= CMSG_LEN(sizeof(cr))) {
				memcpy(&cr, CMSG_DATA(c), sizeof(cr));
				uid = cr.uid;
			}
		}
		if (msg.msg_flags & MSG_TRUNC)
			n = (ssize_t)sizeof(buf);	/* longer than any datagram: malformed */
		recent_receive(l, buf, (size_t)n, uid, util_now_ms());
	}
}

int
recent_bind(struct recent *l, struct event_base *base, const char *setting, char *err,
    size_t errlen)
{
	struct sockaddr_un sun;
	socklen_t len;
	int on = 1;

	if (lookups_sockaddr(setting, &sun, &len) == -1) {
		snprintf(err, errlen, "lookups-socket %s: not an abstract socket name", setting);
		return -1;
	}
	if ((l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(l->fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) == -1 ||
	    bind(l->fd, (struct sockaddr *)&sun, len) == -1) {
		snprintf(err, errlen, "lookups-socket %s: %s%s", setting, strerror(errno),
		    errno == EADDRINUSE ? " (another forwarder in this network namespace?)" : "");
		goto fail;
	}
	if ((l->ev = event_new(base, l->fd, EV_READ | EV_PERSIST, recent_read_cb, l)) == NULL ||
	    event_add(l->ev, NULL) == -1) {
		snprintf(err, errlen, "lookups-socket %s: cannot watch it", setting);
		goto fail;
	}
	return 0;
fail:
	if (l->ev != NULL)
		event_free(l->ev);
	l->ev = NULL;
	if (l->fd != -1)
		close(l->fd);
	l->fd = -1;
	return -1;
}

const struct recent_stats *
recent_stats(const struct recent *l)
{
	return &l->stats;
}
