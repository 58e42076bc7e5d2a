/* route.c: one netlink RTM_GETROUTE request per destination, as `ip route get` makes. */
#include "route.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define REPLY_MAX 4096		/* one route reply: a header and a handful of attributes */
#define READS_MAX 16		/* stale replies skipped before giving up */

struct route_probe {
	int fd;
	uint32_t seq;
};

struct route_probe *
route_probe_open(void)
{
	struct route_probe *rp = calloc(1, sizeof(*rp));
	struct timeval tv = { 1, 0 };	/* the kernel answers at once; never hang the loop */
	int e;

	if (rp == NULL)
		return NULL;
	rp->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (rp->fd == -1 || setsockopt(rp->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1) {
		e = errno;
		route_probe_close(rp);
		errno = e;
		return NULL;
	}
	return rp;
}

void
route_probe_close(struct route_probe *rp)
{
	if (rp == NULL)
		return;
	if (rp->fd != -1)
		close(rp->fd);
	free(rp);
}

static const char *
type_kind(unsigned char type)
{
	switch (type) {
	case RTN_LOCAL:
		return "local";
	case RTN_BROADCAST:
		return "broadcast";
	case RTN_ANYCAST:
		return "anycast";
	default:
		return NULL;	/* unicast (out), unreachable, blackhole, prohibit... */
	}
}

/* Our reply among what recv returned: 1 with *kind set, 0 when it is not there (a stale
 * reply), -1 with errno. */
static int
reply_kind(const uint8_t *buf, int len, uint32_t seq, const char **kind)
{
	const struct nlmsghdr *nh;

	for (nh = (const struct nlmsghdr *)buf; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
		if (nh->nlmsg_seq != seq)
			continue;
		if (nh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *ne = NLMSG_DATA(nh);

			if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ne))) {
				errno = EBADMSG;
				return -1;
			}
			/* No route at all: nothing on this host takes it either. */
			if (ne->error == -ENETUNREACH || ne->error == -EHOSTUNREACH ||
			    ne->error == -EINVAL) {
				*kind = NULL;
				return 1;
			}
			errno = ne->error < 0 ? -ne->error : EBADMSG;
			return -1;
		}
		if (nh->nlmsg_type == RTM_NEWROUTE &&
		    nh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct rtmsg))) {
			*kind = type_kind(((const struct rtmsg *)NLMSG_DATA(nh))->rtm_type);
			return 1;
		}
	}
	return 0;
}

int
route_probe_kind(struct route_probe *rp, const struct sockaddr *sa, const char **kind)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		struct rtattr ra;
		uint8_t addr[16];
	} req;
	const uint8_t *a;
	uint8_t buf[REPLY_MAX];
	size_t alen;
	int family, i;

	*kind = NULL;
	if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr)) {
		family = AF_INET;
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr[12];
		alen = 4;
	} else if (sa->sa_family == AF_INET6) {
		family = AF_INET6;
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		alen = 16;
	} else if (sa->sa_family == AF_INET) {
		family = AF_INET;
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		alen = 4;
	} else {
		errno = EAFNOSUPPORT;
		return -1;
	}
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = (uint32_t)(NLMSG_LENGTH(sizeof(req.rt)) + RTA_LENGTH(alen));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = ++rp->seq;
	req.rt.rtm_family = (unsigned char)family;
	req.rt.rtm_dst_len = (unsigned char)(alen * 8);
	req.ra.rta_type = RTA_DST;
	req.ra.rta_len = (unsigned short)RTA_LENGTH(alen);
	memcpy(req.addr, a, alen);
	if (send(rp->fd, &req, req.nh.nlmsg_len, 0) == -1)
		return -1;
	for (i = 0; i < READS_MAX; i++) {
		ssize_t r = recv(rp->fd, buf, sizeof(buf), 0);
		int rc;

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		if ((rc = reply_kind(buf, (int)r, req.nh.nlmsg_seq, kind)) != 0)
			return rc == 1 ? 0 : -1;
	}
	errno = EIO;
	return -1;
}
