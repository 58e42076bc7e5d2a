/* resolvconf.c: the DNS servers a resolv.conf names, as c-ares reads them (resolvconf.h).
 *
 * Why not ask c-ares: only the forwarder resolves through the system's servers (the
 * resolver answers from the allowlist and never forwards a query), so only the forwarder
 * links c-ares. But the pre-flight both daemons run for --check and at start also answers
 * for the other daemon (they share one configuration): `gatehouse-resolver --check` must
 * find an `upstream system` that loops back to dns-listen exactly as the forwarder's
 * --check does. So the few rules c-ares applies to find the servers are written out here;
 * tests/unit/test_resolvconf.c reads the same files with c-ares and this reader and
 * compares the two. */
#include "resolvconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DNS_PORT 53
/* Longer than any address inet_pton reads ("ffff:...:255.255.255.255" is 45). */
#define TOKEN_MAX 64

/* The blanks of c-ares's ISSPACE (isspace in the C locale, locale-independent here). */
static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Store the address token [s, e) at out[*n] when it is one and there is room. */
static void
add_server(const char *s, const char *e, struct sockaddr_storage *out, size_t max, size_t *n)
{
	char tok[TOKEN_MAX];
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;
	size_t len = (size_t)(e - s);

	if (*n >= max || len >= sizeof(tok))
		return;
	memcpy(tok, s, len);
	tok[len] = '\0';
	memset(&out[*n], 0, sizeof(out[*n]));
	sin = (struct sockaddr_in *)&out[*n];
	sin6 = (struct sockaddr_in6 *)&out[*n];
	if (inet_pton(AF_INET, tok, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(DNS_PORT);
	} else if (inet_pton(AF_INET6, tok, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(DNS_PORT);
	} else
		return;
	(*n)++;
}

/* The servers one line [s, e) (no newline) names, added to out. */
static void
read_nameserver_line(const char *s, const char *e, struct sockaddr_storage *out, size_t max,
    size_t *n)
{
	static const char key[] = "nameserver";
	const char *p;

	for (p = s; p < e && *p != '#' && *p != ';'; p++)
		;
	e = p;
	while (s < e && is_blank(*s))
		s++;
	if ((size_t)(e - s) <= sizeof(key) - 1 || memcmp(s, key, sizeof(key) - 1) != 0 ||
	    !is_blank(s[sizeof(key) - 1]))
		return;
	for (p = s + sizeof(key) - 1; p < e;) {
		const char *t;

		while (p < e && (is_blank(*p) || *p == ','))
			p++;
		for (t = p; t < e && !is_blank(*t) && *t != ','; t++)
			;
		if (t > p)
			add_server(p, t, out, max, n);
		p = t;
	}
}

void
resolvconf_parse(const char *text, size_t len, struct sockaddr_storage *out, size_t max,
    size_t *n)
{
	const char *p = text, *end = text + len;
	struct sockaddr_in *sin = (struct sockaddr_in *)&out[0];

	*n = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL)
			nl = end;
		read_nameserver_line(p, nl, out, max, n);
		p = nl + 1;
	}
	if (*n > 0)
		return;
	memset(&out[0], 0, sizeof(out[0]));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin->sin_port = htons(DNS_PORT);
	*n = 1;
}

/* The whole file at fd into a malloc'd *text of *len bytes. 0, or -1 with errno. */
static int
read_all(int fd, char **text, size_t *len)
{
	size_t cap = 4096;
	char *buf = malloc(cap), *nb;
	ssize_t r;

	*len = 0;
	if (buf == NULL)
		return -1;
	for (;;) {
		if (*len == cap) {
			if ((nb = realloc(buf, cap * 2)) == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + *len, cap - *len);
		if (r == 0) {
			*text = buf;
			return 0;
		}
		if (r > 0)
			*len += (size_t)r;
		else if (errno != EINTR)
			break;
	}
	free(buf);
	return -1;
}

int
resolvconf_read(const char *path, struct sockaddr_storage *out, size_t max, size_t *n,
    char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int fd, rc, saved;

	if (path == NULL)
		path = RESOLVCONF_PATH;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "reading %s: %s", path, strerror(errno));
		return -1;
	}
	if (fd != -1) {
		rc = read_all(fd, &text, &len);
		saved = errno;
		close(fd);
		if (rc == -1) {
			snprintf(err, errlen, "reading %s: %s", path, strerror(saved));
			return -1;
		}
	}
	resolvconf_parse(text != NULL ? text : "", len, out, max, n);
	free(text);
	return 0;
}
