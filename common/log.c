/* log.c: diagnostics on stderr, one line each, "progname: message". */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *log_progname = "gatehouse";
static int log_verbosity;

void
log_init(const char *progname, int verbose)
{
	log_progname = progname;
	log_verbosity = verbose;
}

static void
vlog(const char *level, const char *errstr, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errstr != NULL)
		fprintf(stderr, "%s: %s%s: %s\n", log_progname, level, msg, errstr);
	else
		fprintf(stderr, "%s: %s%s\n", log_progname, level, msg);
	fflush(stderr);
}

void
log_warn(const char *fmt, ...)
{
	const char *e = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	vlog("", e, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbosity < 1)
		return;
	va_start(ap, fmt);
	vlog("debug: ", NULL, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	const char *e = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	vlog("fatal: ", e, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("fatal: ", NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

/* 1 if this line may be written now; sets *held to what was suppressed before it. */
static int
rate_pass(struct log_rate *rl, unsigned long *held)
{
	time_t now = time(NULL);
	unsigned period = rl->period ? rl->period : 1;

	if (now - rl->window >= (time_t)period) {
		rl->window = now;
		rl->in_window = 0;
	}
	if (rl->in_window >= rl->burst) {
		rl->held++;
		return 0;
	}
	rl->in_window++;
	*held = rl->held;
	rl->held = 0;
	return 1;
}

static void
vlog_rl(struct log_rate *rl, const char *errstr, const char *fmt, va_list ap)
{
	char msg[1024];
	unsigned long held;

	if (!rate_pass(rl, &held))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (held > 0)
		log_warnx("%s%s%s (%lu similar messages suppressed)", msg,
		    errstr ? ": " : "", errstr ? errstr : "", held);
	else
		log_warnx("%s%s%s", msg, errstr ? ": " : "", errstr ? errstr : "");
}

void
log_warnx_rl(struct log_rate *rl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_rl(rl, NULL, fmt, ap);
	va_end(ap);
}

void
log_warn_rl(struct log_rate *rl, const char *fmt, ...)
{
	const char *e = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	vlog_rl(rl, e, fmt, ap);
	va_end(ap);
}
