/* iface.c: the gateway's interface addresses (getifaddrs(3)) and local routes (netlink). */
#include "iface.h"

#include <errno.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "util.h"

#define MAX_LOCAL 256		/* every local address, for iface_is_local */

#define NL_BUF 32768		/* one recv of a netlink dump */

/* A route that delivers to the gateway itself (type local, broadcast or anycast). */
struct local_route {
	int family;
	uint8_t prefix[16];	/* network byte order; IPv4 in the first 4 bytes */
	unsigned bits;
	const char *kind;	/* "local-route", "broadcast", "anycast" */
};

struct iface_table {
	struct iface *v;
	size_t n;
	struct sockaddr_storage local[MAX_LOCAL];
	size_t nlocal;
	struct local_route *routes;
	size_t nroutes;
};

struct iface_table *
iface_new(void)
{
	return calloc(1, sizeof(struct iface_table));
}

void
iface_free(struct iface_table *t)
{
	if (t == NULL)
		return;
	free(t->v);
	free(t->routes);
	free(t);
}

static struct iface *
find_or_add(struct iface *v, size_t *n, size_t cap, const char *name)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	if (*n == cap)
		return NULL;
	memset(&v[*n], 0, sizeof(v[*n]));
	util_strlcpy(v[*n].name, name, sizeof(v[*n].name));
	v[*n].index = if_nametoindex(name);
	return &v[(*n)++];
}

static void
add_local(struct iface_table *t, const struct sockaddr *sa)
{
	if (t->nlocal < MAX_LOCAL)
		memcpy(&t->local[t->nlocal++], sa, addr_len(sa));
}

/* One route message of a dump: append it to *v when it delivers locally. 0, or -1. */
static int
route_add(const struct nlmsghdr *nh, struct local_route **v, size_t *n, size_t *cap)
{
	const struct rtmsg *rt = NLMSG_DATA(nh);
	const struct rtattr *ra;
	struct local_route r;
	int len = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*rt));
	size_t alen;

	if (len < 0)
		return 0;		/* too short to be a route: ignored */
	memset(&r, 0, sizeof(r));
	switch (rt->rtm_type) {
	case RTN_LOCAL:
		r.kind = "local-route";
		break;
	case RTN_BROADCAST:
		r.kind = "broadcast";
		break;
	case RTN_ANYCAST:
		r.kind = "anycast";
		break;
	default:
		return 0;
	}
	if (rt->rtm_family != AF_INET && rt->rtm_family != AF_INET6)
		return 0;
	alen = rt->rtm_family == AF_INET ? 4 : 16;
	if (rt->rtm_dst_len > alen * 8)
		return 0;
	r.family = rt->rtm_family;
	r.bits = rt->rtm_dst_len;
	for (ra = RTM_RTA(rt); RTA_OK(ra, len); ra = RTA_NEXT(ra, len))
		if (ra->rta_type == RTA_DST && RTA_PAYLOAD(ra) == alen)
			memcpy(r.prefix, RTA_DATA(ra), alen);
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 32;
		struct local_route *nv = realloc(*v, nc * sizeof(*nv));

		if (nv == NULL)
			return -1;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = r;
	return 0;
}

/* Every route of every table that delivers to this host, from one RTM_GETROUTE dump. */
static int
dump_local_routes(struct local_route **out, size_t *nout)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
	} req;
	struct local_route *v = NULL;
	size_t n = 0, cap = 0;
	uint8_t *buf = malloc(NL_BUF);
	int fd, done = 0, e = EIO;

	if (buf == NULL)
		return -1;
	if ((fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) == -1) {
		free(buf);
		return -1;
	}
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.rt));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = 1;
	req.rt.rtm_family = AF_UNSPEC;
	if (send(fd, &req, req.nh.nlmsg_len, 0) == -1)
		goto fail;
	while (!done) {
		ssize_t r = recv(fd, buf, NL_BUF, 0);
		const struct nlmsghdr *nh;
		int left;

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			e = r == 0 ? EIO : errno;
			goto fail;
		}
		left = (int)r;
		for (nh = (const struct nlmsghdr *)buf; NLMSG_OK(nh, left); nh = NLMSG_NEXT(nh, left)) {
			if (nh->nlmsg_seq != req.nh.nlmsg_seq)
				continue;
			if (nh->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (nh->nlmsg_type == NLMSG_ERROR)
				goto fail;
			if (nh->nlmsg_type == RTM_NEWROUTE && route_add(nh, &v, &n, &cap) == -1) {
				e = ENOMEM;
				goto fail;
			}
		}
	}
	close(fd);
	free(buf);
	*out = v;
	*nout = n;
	return 0;
fail:
	close(fd);
	free(buf);
	free(v);
	errno = e;
	return -1;
}

int
iface_refresh(struct iface_table *t)
{
	struct ifaddrs *ifa, *p;
	struct iface *v;
	size_t n = 0, cap = 0;

	struct local_route *routes;
	size_t nroutes;

	if (dump_local_routes(&routes, &nroutes) == -1)
		return -1;
	if (getifaddrs(&ifa) == -1) {
		free(routes);
		return -1;
	}
	for (p = ifa; p != NULL; p = p->ifa_next)
		cap++;
	if ((v = calloc(cap ? cap : 1, sizeof(*v))) == NULL) {
		freeifaddrs(ifa);
		free(routes);
		return -1;
	}
	t->nlocal = 0;
	for (p = ifa; p != NULL; p = p->ifa_next) {
		struct iface *e;

		if (p->ifa_addr == NULL || (p->ifa_addr->sa_family != AF_INET &&
		    p->ifa_addr->sa_family != AF_INET6))
			continue;
		add_local(t, p->ifa_addr);
		if ((e = find_or_add(v, &n, cap, p->ifa_name)) == NULL)
			continue;
		if (p->ifa_addr->sa_family == AF_INET) {
			if (e->n4 < IFACE_ADDRS)
				e->v4[e->n4++] = ((struct sockaddr_in *)p->ifa_addr)->sin_addr;
		} else {
			const struct in6_addr *a = &((struct sockaddr_in6 *)p->ifa_addr)->sin6_addr;

			if (!IN6_IS_ADDR_LINKLOCAL(a) && e->n6 < IFACE_ADDRS)
				e->v6[e->n6++] = *a;
		}
	}
	freeifaddrs(ifa);
	free(t->v);
	t->v = v;
	t->n = n;
	free(t->routes);
	t->routes = routes;
	t->nroutes = nroutes;
	return 0;
}

const struct iface *
iface_by_index(const struct iface_table *t, unsigned index)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->v[i].index == index)
			return &t->v[i];
	return NULL;
}

const struct iface *
iface_by_addr(const struct iface_table *t, const struct sockaddr *sa)
{
	size_t i, j;

	for (i = 0; i < t->n; i++) {
		const struct iface *e = &t->v[i];

		if (sa->sa_family == AF_INET) {
			const struct in_addr *a = &((const struct sockaddr_in *)sa)->sin_addr;

			for (j = 0; j < e->n4; j++)
				if (e->v4[j].s_addr == a->s_addr)
					return e;
		} else if (sa->sa_family == AF_INET6) {
			const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

			for (j = 0; j < e->n6; j++)
				if (memcmp(&e->v6[j], a, 16) == 0)
					return e;
		}
	}
	return NULL;
}

int
iface_is_assigned(const struct iface_table *t, const struct sockaddr *sa)
{
	size_t i;

	for (i = 0; i < t->nlocal; i++)
		if (addr_equal((const struct sockaddr *)&t->local[i], sa, 0))
			return 1;
	return 0;
}

static int
prefix_covers(const uint8_t *a, const uint8_t *prefix, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, prefix, full) != 0)
		return 0;
	return rest == 0 || ((a[full] ^ prefix[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

const char *
iface_local_kind(const struct iface_table *t, const struct sockaddr *sa)
{
	const char *sp = addr_special(sa);
	const uint8_t *a;
	size_t i;

	if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr)) {
		struct sockaddr_in s4;

		memset(&s4, 0, sizeof(s4));
		s4.sin_family = AF_INET;
		memcpy(&s4.sin_addr, &((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr[12], 4);
		return iface_local_kind(t, (struct sockaddr *)&s4);
	}
	if (sp != NULL && strcmp(sp, "loopback") == 0)
		return "loopback";
	if (iface_is_assigned(t, sa))
		return "own-address";
	if (sa->sa_family == AF_INET)
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	else
		return NULL;
	for (i = 0; i < t->nroutes; i++)
		if (t->routes[i].family == sa->sa_family &&
		    prefix_covers(a, t->routes[i].prefix, t->routes[i].bits))
			return t->routes[i].kind;
	return NULL;
}

int
iface_is_local(const struct iface_table *t, const struct sockaddr *sa)
{
	return iface_local_kind(t, sa) != NULL;
}

int
iface_monitor_open(void)
{
	struct sockaddr_nl sn;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd == -1)
		return -1;
	memset(&sn, 0, sizeof(sn));
	sn.nl_family = AF_NETLINK;
	sn.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE |
	    RTMGRP_IPV6_ROUTE;
	if (bind(fd, (struct sockaddr *)&sn, sizeof(sn)) == -1) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int
iface_monitor_drain(int fd)
{
	uint8_t buf[8192];
	int changed = 0, i;

	for (i = 0; i < 1024; i++) {	/* bounded: whatever is left wakes the loop again */
		ssize_t r = recv(fd, buf, sizeof(buf), 0);

		if (r > 0) {
			changed = 1;
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && errno == ENOBUFS)	/* notices were lost: refresh anyway */
			changed = 1;
		else
			break;		/* EAGAIN: drained */
	}
	return changed;
}
