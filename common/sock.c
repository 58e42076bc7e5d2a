/* sock.c: opening the daemons' bound and listening sockets (see sock.h). */
#include "sock.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"

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
