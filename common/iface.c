/* iface.c: the gateway's interface addresses, from getifaddrs(3). */
#include "iface.h"

#include <ifaddrs.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "util.h"

struct iface_table {
	struct iface *v;
	size_t n;
	struct sockaddr_storage local[IFACE_LOCAL_MAX];
	size_t nlocal;
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
	if (t->nlocal < IFACE_LOCAL_MAX)
		memcpy(&t->local[t->nlocal++], sa, addr_len(sa));
}

int
iface_refresh(struct iface_table *t)
{
	struct ifaddrs *ifa, *p;
	struct iface *v;
	size_t n = 0, cap = 0;

	if (getifaddrs(&ifa) == -1)
		return -1;
	for (p = ifa; p != NULL; p = p->ifa_next)
		cap++;
	if ((v = calloc(cap ? cap : 1, sizeof(*v))) == NULL) {
		freeifaddrs(ifa);
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

int
iface_is_local(const struct iface_table *t, const struct sockaddr *sa)
{
	const char *sp = addr_special(sa);

	if (sp != NULL && strcmp(sp, "loopback") == 0)
		return 1;
	if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr)) {
		struct sockaddr_in s4;

		memset(&s4, 0, sizeof(s4));
		s4.sin_family = AF_INET;
		memcpy(&s4.sin_addr, &((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr[12], 4);
		return iface_is_local(t, (struct sockaddr *)&s4);
	}
	return iface_is_assigned(t, sa);
}
