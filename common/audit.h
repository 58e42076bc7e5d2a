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
 * (nothing is written or counted: decisions show only in the metrics); it is copied.
 * daemon names the writer in every line (cut at 31 bytes). rate: lines per second per
 * client address (burst 10x), 0 for no limit; all clients together get 20x that. NULL
 * with err on failure (out of memory, or the file cannot be opened). The writer is
 * not thread-safe: one event loop uses it.
 */
struct audit *audit_open(const char *target, const char *daemon, unsigned rate, char *err,
    size_t errlen);
/* Report what is still suppressed, flush, close the file (stdout and stderr stay
 * open), free a. NULL is ignored. */
void audit_close(struct audit *a);
/* Reopen a file target at its path (after rotation); stdout, stderr and off: nothing to
 * do. 0, or -1 with err (the old file stays in use). */
int audit_reopen(struct audit *a, char *err, size_t errlen);
/* The rate from now on (a reload): the all-clients bucket starts full again; each
 * client's bucket keeps its tokens. */
void audit_set_rate(struct audit *a, unsigned rate);
/* The target as audit_open got it, owned by a. */
const char *audit_target(const struct audit *a);
/* 1 when target names a file (reopened on SIGHUP/SIGUSR1), 0 for stdout, stderr, off. */
int audit_target_is_file(const char *target);

/*
 * Start a line: {"ts":"...","daemon":"...","event":"<event>". client is the address
 * the flood bound is kept for (the port is ignored); NULL for no bound. Returns 1 when
 * the caller should add fields and call audit_end, 0 when no line is begun (the field
 * calls and audit_end then do nothing, so the caller may skip them): audit is off
 * (nothing counted), the flood bound holds the line back (counted as suppressed and
 * reported in a "suppressed" line), or the batch is full because writing is stuck
 * (counted as dropped).
 */
int audit_begin(struct audit *a, const char *event, const struct sockaddr *client);
/* Fields of the line begun (nothing when none is). Strings are escaped as
 * audit_escape does; the result is always valid JSON. */
void audit_str(struct audit *a, const char *key, const char *val);
void audit_strn(struct audit *a, const char *key, const char *val, size_t len);
/* A string the caller knows needs no escaping (a constant, a validated host name, an
 * address): written as it is. Never for bytes a client chose freely. */
void audit_safe(struct audit *a, const char *key, const char *val);
void audit_uint(struct audit *a, const char *key, uint64_t val);
void audit_addr(struct audit *a, const char *key, const struct sockaddr *sa, int with_port);
/* "client":"ADDRESS","client_port":PORT,"policy":"NAME": one shape in both daemons'
 * lines (policy: the client's policy's name, validated by the configuration, or
 * "default"). */
void audit_client(struct audit *a, const struct sockaddr *sa, const char *policy);
/* A line written under report mode: "mode":"report","enforce":"allow"|"deny" (what enforce
 * would have done: allow when enforce_allows), and when it would deny, "enforce_reason"
 * (when not NULL) and "rule" (the deny rule, when not NULL). Constants and validated
 * names only. */
void audit_report(struct audit *a, int enforce_allows, const char *enforce_reason,
    const char *rule);
/* A JSON array of strings. */
void audit_strarray(struct audit *a, const char *key, const char *const *vals, size_t n);
void audit_end(struct audit *a);

/* Write what is batched. 0 (what a full pipe or socket did not take, EAGAIN, stays for
 * the next flush), or -1 with errno when write(2) failed (those lines are counted as
 * dropped, and reported in a "dropped" line once a write succeeds). Call at the end of
 * each event-loop callback. */
int audit_flush(struct audit *a);
/* Once a second: a "suppressed" line for each client with lines held back since the
 * last one (a flood shows as one line a second), slots idle for a minute freed, and a
 * flush. */
void audit_tick(struct audit *a);

/* The counters, valid as long as a. */
const struct audit_stats *audit_stats(const struct audit *a);

/* Escape s[0..len) into out (cap bytes) as JSON string contents, no quotes and no NUL:
 * printable ASCII is kept but '"' and '\' (escaped with a backslash), newline, CR and
 * tab become \n, \r and \t, every other byte \u00XX. Returns the length written, or
 * (size_t)-1 if it did not fit (out then holds a part). Exposed for tests. */
size_t audit_escape(char *out, size_t cap, const char *s, size_t len);

#endif
