/* sock.c: opening the daemons' bound and listening sockets, and the back-off of a
 * listener out of descriptors (see sock.h). */
#include "sock.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "util.h"

static int
set_on(int fd, int level, int name)
{
	int on = 1;

	return setsockopt(fd, level, name, &on, sizeof(on));
}

int
sock_open(const struct sockaddr *sa, int type, unsigned flags, char *err, size_t errlen)
{
	char abuf[ADDR_STRLEN];
	int fd, e, v6 = sa->sa_family == AF_INET6;

	fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 ||
	    (type == SOCK_STREAM && set_on(fd, SOL_SOCKET, SO_REUSEADDR) == -1) ||
	    ((flags & SOCK_OPEN_V6ONLY) && v6 && set_on(fd, IPPROTO_IPV6, IPV6_V6ONLY) == -1) ||
	    ((flags & SOCK_OPEN_PKTINFO) && set_on(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP,
	    v6 ? IPV6_RECVPKTINFO : IP_PKTINFO) == -1) ||
	    bind(fd, sa, addr_len(sa)) == -1 ||
	    (type == SOCK_STREAM && listen(fd, SOCK_LISTEN_BACKLOG) == -1)) {
		e = errno;
		snprintf(err, errlen, "%s: %s", addr_format(sa, 1, abuf, sizeof(abuf)), strerror(e));
		if (fd != -1)
			close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static void
pause_over_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sock_pause *p = arg;

	(void)fd;
	(void)what;
	p->enable(p->arg, 1);
}

int
sock_pause_init(struct sock_pause *p, struct event_base *base, sock_enable_fn *enable,
    void *arg)
{
	p->enable = enable;
	p->arg = arg;
	if ((p->resume = evtimer_new(base, pause_over_cb, p)) == NULL)
		return -1;
	p->reserve_fd = util_reserve_fd();	/* none now: util_shed_accept tries again */
	return 0;
}

void
sock_pause_free(struct sock_pause *p)
{
	if (p->resume == NULL)
		return;			/* zeroed, or init failed: nothing taken */
	event_free(p->resume);
	p->resume = NULL;
	if (p->reserve_fd != -1)
		close(p->reserve_fd);
	p->reserve_fd = -1;
}

int
sock_pause_accept_error(struct sock_pause *p, int lfd, int err, struct sockaddr_storage *peer)
{
	struct timeval tv;
	int shed;

	if ((shed = util_shed_accept(lfd, err, &p->reserve_fd, peer)) == -1)
		return -1;
	p->enable(p->arg, 0);
	util_ms_to_tv(UTIL_ACCEPT_BACKOFF_MS, &tv);
	evtimer_add(p->resume, &tv);
	return shed;
}
