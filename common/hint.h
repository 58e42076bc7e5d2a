/* hint.h: what a configuration mistake probably meant: the closest known word, the name
 * of a look-alike character, why a string is not a host name. Pure: no I/O, no state. */
#ifndef GATEHOUSE_HINT_H
#define GATEHOUSE_HINT_H

#include <stddef.h>

/* Edit distance (insertions, deletions, substitutions), case-insensitive. Strings longer
 * than 64 bytes count as far from everything (returns a large number). */
unsigned hint_distance(const char *a, const char *b);

/* The word of words[0..n) closest to word, when close enough to be a typo of it
 * (distance at most a third of the longer word, and at least 1 is allowed); NULL when
 * none is. Ties go to the first in the list. The pointer is one of words[]. */
const char *hint_closest(const char *word, const char *const *words, size_t n);

/*
 * The first byte >= 0x80 in s[0..len), named with its column (1-based, in bytes) and
 * what to do about it: "a UTF-8 byte order mark (BOM) at column 1: save the file without
 * it", "a no-break space (U+00A0) at column 10: replace it with an ordinary space", a
 * curly quote, a Unicode dash, a zero-width character, any other character ("U+00E9"),
 * or a byte that is not UTF-8. 0 when s is all ASCII (msg untouched), else 1.
 */
int hint_nonascii(const char *s, size_t len, char *msg, size_t msglen);

/* If s is a URL ("https://example.com:8443/x"), its host (brackets of an IPv6 address
 * kept off) and its port ("" when none) and 1; else 0. */
int hint_url(const char *s, char *host, size_t hostlen, char *port, size_t portlen);

/*
 * s was given where a host name belongs (allow NAME, route PORT NAME, NAME:PORTS) and is
 * not one. If it is a recognisable mistake, write what is wrong and what to write
 * instead to msg and return 1: a URL ("https://example.com/x": write the host only), an
 * address or a prefix ("10.0.0.0/8"), a name with a path ("example.com/x"), a leading
 * dot written for a wildcard (".example.com": *.example.com or **.example.com), a name
 * whose last label is numeric ("example.123"), quotes, "host:port". 0 when s is none of
 * those (the caller reports dname_normalize's status). Only strings dname_normalize
 * refuses are ever flagged, so a name that is accepted is accepted again in its normal
 * form (config_print).
 */
int hint_name(const char *s, char *msg, size_t msglen);

/* 1 if s is written as a port list: "443", "465,587", "8000-8099,9000". */
int hint_is_port_list(const char *s);

#endif
