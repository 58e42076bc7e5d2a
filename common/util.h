/* util.h: small helpers that keep no state of their own: strings, numbers, durations,
 * clocks, hashing, and shedding a client when accept(2) runs out of descriptors. */
#ifndef GATEHOUSE_UTIL_H
#define GATEHOUSE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
/* A macro's value as a string literal, for limits in messages: UTIL_STR(DNAME_MAX) is
 * "253" (the macro must be a plain number). */
#define UTIL_STR(x) UTIL_STR_(x)
#define UTIL_STR_(x) #x

/* Copy with truncation; always NUL-terminates when size > 0. Returns strlen(src). */
size_t util_strlcpy(char *dst, const char *src, size_t size);

/* Parse a whole decimal string (digits only: no sign, no blank) into [min, max]. 0 on
 * success, -1 otherwise (*out untouched). */
int util_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* Parse a duration: "10" or "1.5" (seconds) or "250ms" or "2s" or "5m" or "1h" (a fraction with
 * any unit; digits past the sixth after the point are ignored). Result in ms, at most
 * max_ms. 0 on success, -1 otherwise (*out_ms untouched). */
int util_parse_duration(const char *s, uint64_t max_ms, uint64_t *out_ms);

/* ms as a struct timeval (for libevent timers). */
struct timeval;
void util_ms_to_tv(uint64_t ms, struct timeval *tv);

/* Milliseconds on the monotonic clock. */
uint64_t util_now_ms(void);

/* FNV-1a over bytes, 64 bits, starting from `seed` (use UTIL_HASH_INIT when unseeded). */
#define UTIL_HASH_INIT 0xcbf29ce484222325ULL
static inline uint64_t
util_hash_step(uint64_t h, unsigned char c)
{
	return (h ^ c) * 0x100000001b3ULL;
}
uint64_t util_hash(uint64_t seed, const void *buf, size_t len);

/*
 * accept(2) on listening socket lfd failed with err. Out of descriptors (or memory), a
 * waiting client keeps the socket readable: close *reserve_fd (an fd held for this
 * moment), accept one waiting client into it and close that at once, so the client sees
 * a reset instead of a hang, then take the reserve again; the caller should then pause
 * accepting (sock_pause_accept_error in sock.h does both). Returns 1 with the client's
 * address in *peer when one was shed, 0 when out of descriptors but none was shed, -1
 * when err is something else (nothing to do).
 */
#define UTIL_ACCEPT_BACKOFF_MS 250	/* how long a listener pauses after shedding */
struct sockaddr_storage;
int util_shed_accept(int lfd, int err, int *reserve_fd, struct sockaddr_storage *peer);

/* A descriptor to hold in reserve for util_shed_accept (-1 when none can be had). */
int util_reserve_fd(void);

#endif
