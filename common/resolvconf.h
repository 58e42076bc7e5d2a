/* resolvconf.h: the DNS servers a resolv.conf names, read as the forwarder's c-ares reads
 * them, without c-ares (the pre-flight's `upstream system` check; see resolvconf.c). */
#ifndef GATEHOUSE_RESOLVCONF_H
#define GATEHOUSE_RESOLVCONF_H

#include <stddef.h>
#include <sys/socket.h>

/* What c-ares reads when it is given no other file. */
#define RESOLVCONF_PATH "/etc/resolv.conf"

/*
 * The servers the len bytes of a resolv.conf at text name, as c-ares 1.18 takes them:
 * - each line starting (after blanks) with `nameserver` and a blank; a comment runs from
 *   '#' or ';' to the end of the line; other lines are ignored;
 * - its values separated by blanks or commas, each an IPv4 or IPv6 address as inet_pton
 *   reads it (anything else, such as an address with a %scope, is skipped), port 53.
 *   c-ares 1.18 also takes BIND's network notations ("127.1", "0x7f000001", "/CIDR"),
 *   partly from uninitialised memory; those are skipped here;
 * - no server at all: 127.0.0.1:53, the local server c-ares then asks.
 * The first max go to out (max >= 1), in order; *n is how many. Pure: no I/O.
 */
void resolvconf_parse(const char *text, size_t len, struct sockaddr_storage *out, size_t max,
    size_t *n);

/* resolvconf_parse on the file at path (NULL: RESOLVCONF_PATH). A missing file names no
 * server, as for c-ares. 0, or -1 with err ("reading PATH: why") when it cannot be read. */
int resolvconf_read(const char *path, struct sockaddr_storage *out, size_t max, size_t *n,
    char *err, size_t errlen);

#endif
