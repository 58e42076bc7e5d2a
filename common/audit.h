/* audit.h: the audit stream: one JSON object per line, batched, with a per-client flood bound. */
#ifndef GATEHOUSE_AUDIT_H
#define GATEHOUSE_AUDIT_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* How a file target is opened, at start and at every reopen. After start-up the sandbox
 * allows a write open only with exactly these flags and mode (sandbox.c). */
#define AUDIT_OPEN_FLAGS (O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC)
#define AUDIT_OPEN_MODE 0640

struct audit_stats {
	uint64_t written;	/* lines handed to write(2) successfully */
	uint64_t suppressed;	/* lines held back by the flood bound (reported in
				 * "suppressed" lines) */
	uint64_t dropped;	/* lines lost to a failing write (reported in a "dropped"
				 * line once writing works again) */
	uint64_t write_errors;	/* failed write(2) calls */
};

struct audit;

/*
 * target: "stdout", "stderr", a file path (opened O_APPEND, created 0640), or "off"
 * (nothing is written or counted: decisions show only in the metrics). daemon
 * names the writer in every line. rate: lines per second per client address (burst
 * 10x), 0 for no limit; all clients together get 20x that. NULL with err on failure.
 */
struct audit *audit_open(const char *target, const char *daemon, unsigned rate, char *err,
    size_t errlen);
/* Flush, report what is still suppressed, close the file. */
void audit_close(struct audit *a);
/* Reopen a file target at its path (after rotation); stdout, stderr and off: nothing to
 * do. 0, or -1 with err (the old file stays in use). */
int audit_reopen(struct audit *a, char *err, size_t errlen);
void audit_set_rate(struct audit *a, unsigned rate);
const char *audit_target(const struct audit *a);
/* 1 when target names a file (reopened on SIGHUP/SIGUSR1), 0 for stdout, stderr, off. */
int audit_target_is_file(const char *target);

/*
 * Start a line: {"ts":"...","daemon":"...","event":"<event>". client is the address
 * the flood bound is kept for (the port is ignored); NULL for no bound. Returns 1 when
 * the caller should add fields and call audit_end, 0 when the line is suppressed (the
 * caller adds nothing; the count is kept and reported later).
 */
int audit_begin(struct audit *a, const char *event, const struct sockaddr *client);
/* Fields of the line begun. Strings are escaped: printable ASCII is kept, '"' and '\'
 * are escaped, every other byte is written as \u00XX; the result is always valid JSON. */
void audit_str(struct audit *a, const char *key, const char *val);
void audit_strn(struct audit *a, const char *key, const char *val, size_t len);
/* A string the caller knows needs no escaping (a constant, a validated host name, an
 * address): written as it is. Never for bytes a client chose freely. */
void audit_safe(struct audit *a, const char *key, const char *val);
void audit_uint(struct audit *a, const char *key, uint64_t val);
void audit_addr(struct audit *a, const char *key, const struct sockaddr *sa, int with_port);
/* "client":"ADDRESS","client_port":PORT: one shape in both daemons' lines. */
void audit_client(struct audit *a, const struct sockaddr *sa);
/* A JSON array of strings. */
void audit_strarray(struct audit *a, const char *key, const char *const *vals, size_t n);
void audit_end(struct audit *a);

/* Write what is batched. 0, or -1 with errno when write(2) failed (those lines are
 * counted as dropped). Call at the end of each event-loop callback. */
int audit_flush(struct audit *a);
/* Once a second: a "suppressed" line for each client with lines held back since the
 * last one (a flood shows as one line a second), slots idle for a minute freed, and a
 * flush. */
void audit_tick(struct audit *a);

const struct audit_stats *audit_stats(const struct audit *a);

/* Escape s[0..len) into out (cap bytes) as JSON string contents, no quotes. Returns the
 * length written, or (size_t)-1 if it did not fit. Exposed for tests. */
size_t audit_escape(char *out, size_t cap, const char *s, size_t len);

#endif
