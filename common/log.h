/* log.h: diagnostics on stderr (startup, errors). Audit events are a separate stream (audit.h).
 * In common/ only daemon.c, the daemons' frame, calls these: the other files return
 * their errors to the caller and never log. */
#ifndef GATEHOUSE_LOG_H
#define GATEHOUSE_LOG_H

#include <stdarg.h>
#include <time.h>

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* progname prefixes every line (kept, not copied: it must outlive the logging);
 * verbose > 0 enables log_debug. */
void log_init(const char *progname, int verbose);

void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);	/* appends ": strerror(errno)" */
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);	/* written as log_warnx is */
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);	/* "debug: " prefix */
/* Only at start-up or for a broken invariant. fatal appends strerror(errno). Exit 1. */
__attribute__((noreturn)) void fatal(const char *fmt, ...) LOG_PRINTF(1, 2);
__attribute__((noreturn)) void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2);

/*
 * A rate limit for one call site that a remote peer can trigger: at most `burst` lines
 * each `period` seconds; what is held back is counted and reported with the next line
 * that passes ("(N similar messages suppressed)"). Zero-initialise, then set the two
 * fields, or use LOG_RATE_INIT.
 */
struct log_rate {
	unsigned burst;
	unsigned period;
	time_t window;
	unsigned in_window;
	unsigned long held;
};
#define LOG_RATE_INIT(burst, period) { (burst), (period), 0, 0, 0 }

void log_warnx_rl(struct log_rate *rl, const char *fmt, ...) LOG_PRINTF(2, 3);
void log_warn_rl(struct log_rate *rl, const char *fmt, ...) LOG_PRINTF(2, 3);

#endif
