/* main.c: gatehouse-audit: options, input files, and the summary and suggest commands. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_time.h"
#include "current.h"
#include "filter.h"
#include "input.h"
#include "suggest_print.h"
#include "summary.h"
#include "util.h"

#define PROG "gatehouse-audit"
#define EXIT_USAGE 2

extern char **environ;

static const char usage_text[] =
    "usage: " PROG " summary [--denied] [--client ADDR] [--since TIME] [--until TIME]\n"
    "                       [--json] [FILE...]\n"
    "       " PROG " suggest [-c CONFIG] [--since TIME] [--until TIME] [--threshold N]\n"
    "                       [FILE...]\n"
    "       " PROG " --help | --version\n"
    "\n"
    "Reads the gatehouse daemons' audit lines (JSON Lines; `docker compose logs` prefixes\n"
    "accepted) from each FILE, or standard input when none is given or FILE is -.\n"
    "  summary   per policy and client: names, ports, verdicts, counts, first and last seen\n"
    "  suggest   per policy, the configuration lines that let everything seen pass\n"
    "TIME is UTC: 2026-12-04, 2026-12-04T10:00, 2026-12-04T10:00:00Z.\n"
    "See man 1 gatehouse-audit.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The message on stderr with a pointer to --help; returns EXIT_USAGE. */
static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", PROG);
	return EXIT_USAGE;
}

struct run {
	struct filter filter;
	struct summary sum;
	struct suggest sug;
	int suggest;
};

static int
take(const struct audit_rec *rec, void *arg)
{
	struct run *r = arg;

	if (!filter_pass(&r->filter, rec))
		return 0;
	return r->suggest ? suggest_add(&r->sug, rec) : summary_add(&r->sum, rec);
}

/* Open every input first, so that an unreadable one fails before any output. */
static int
open_inputs(char **paths, int n, FILE **files)
{
	for (int i = 0; i < n; i++) {
		if (strcmp(paths[i], "-") == 0) {
			files[i] = stdin;
			continue;
		}
		if ((files[i] = fopen(paths[i], "r")) == NULL) {
			fprintf(stderr, "%s: %s: cannot open: %s\n", PROG, paths[i], strerror(errno));
			while (i-- > 0)
				if (files[i] != stdin)
					fclose(files[i]);
			return -1;
		}
	}
	return 0;
}

static int
read_inputs(struct run *r, char **paths, int n)
{
	static char *dash[] = { "-" };
	struct input_stats st = { 0 };
	FILE **files;
	int rc = 0;

	if (n == 0) {
		paths = dash;
		n = 1;
	}
	if ((files = calloc((size_t)n, sizeof(*files))) == NULL)
		return -1;
	if (open_inputs(paths, n, files) == -1) {
		free(files);
		return EXIT_USAGE;
	}
	for (int i = 0; i < n; i++) {
		if (rc == 0 && input_read(files[i], take, r, &st) == -1) {
			fprintf(stderr, "%s: %s: %s\n", PROG, paths[i],
			    ferror(files[i]) ? strerror(errno) : "out of memory");
			rc = 1;
		}
		if (files[i] != stdin)
			fclose(files[i]);
	}
	free(files);
	input_report(&st, PROG, stderr);
	return rc;
}

static int
parse_time(const char *opt, const char *arg, int64_t *out)
{
	if (audit_time_parse(arg, out) == 0)
		return 0;
	fprintf(stderr, "%s: %s '%s': not a UTC time (2026-12-04, 2026-12-04T10:00, "
	    "2026-12-04T10:00:00Z)\nTry '%s --help'.\n", PROG, opt, arg, PROG);
	return -1;
}

enum { OPT_DENIED = 256, OPT_CLIENT, OPT_SINCE, OPT_UNTIL, OPT_JSON, OPT_THRESHOLD };

static const struct option longopts[] = {
	{ "denied", no_argument, NULL, OPT_DENIED },
	{ "client", required_argument, NULL, OPT_CLIENT },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "threshold", required_argument, NULL, OPT_THRESHOLD },
	{ "config", required_argument, NULL, 'c' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* Options of cmd into r and the rest; EXIT_USAGE on a bad one, 0 to go on. */
static int
parse_options(int argc, char **argv, struct run *r, int *json, const char **config)
{
	unsigned long n;
	int ch;

	opterr = 0;
	for (;;) {
		int li = -1, for_summary, for_suggest;

		if ((ch = getopt_long(argc, argv, "+:c:h", longopts, &li)) == -1)
			break;
		for_summary = ch == OPT_DENIED || ch == OPT_CLIENT || ch == OPT_JSON;
		for_suggest = ch == 'c' || ch == OPT_THRESHOLD;
		if ((for_summary && r->suggest) || (for_suggest && !r->suggest))
			return usage_error("%s%s: not an option of this command", li >= 0 ? "--" :
			    "-", li >= 0 ? longopts[li].name : "c");
		switch (ch) {
		case OPT_DENIED: r->filter.denied = 1; break;
		case OPT_CLIENT: r->filter.client = optarg; break;
		case OPT_JSON: *json = 1; break;
		case 'c': *config = optarg; break;
		case OPT_SINCE:
			if (parse_time("--since", optarg, &r->filter.since) == -1)
				return EXIT_USAGE;
			break;
		case OPT_UNTIL:
			if (parse_time("--until", optarg, &r->filter.until) == -1)
				return EXIT_USAGE;
			break;
		case OPT_THRESHOLD:
			if (util_parse_uint(optarg, 2, 1000, &n) == -1)
				return usage_error("--threshold '%s': a number from 2 to 1000", optarg);
			r->sug.threshold = (unsigned)n;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return -1;
		case ':':
			return usage_error("%s: needs a value", argv[optind - 1]);
		default:
			return usage_error("%s: unknown option", argv[optind - 1]);
		}
	}
	return 0;
}

static int
run_command(struct run *r, int argc, char **argv)
{
	const char *config = NULL;
	struct current cur;
	int json = 0, rc;
	char err[1024];

	if ((rc = parse_options(argc, argv, r, &json, &config)) != 0)
		return rc == -1 ? 0 : rc;
	if (config != NULL && current_load(&cur, config, environ, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROG, err);
		return EXIT_USAGE;
	}
	rc = read_inputs(r, argv + optind, argc - optind);	/* says what failed */
	if (rc == 0) {
		errno = 0;
		if (r->suggest)
			rc = suggest_build(&r->sug, config ? cur.c : NULL) == -1 ||
			    suggest_print(&r->sug, config ? &cur : NULL, stdout) == -1;
		else
			rc = (json ? summary_print_json(&r->sum, stdout) :
			    summary_print_table(&r->sum, stdout)) == -1;
		if (rc != 0)
			fprintf(stderr, "%s: writing the %s: %s\n", PROG, r->suggest ?
			    "suggestion" : "summary", errno ? strerror(errno) : "out of memory");
	}
	if (config != NULL)
		current_free(&cur);
	return rc;
}

int
main(int argc, char **argv)
{
	struct run r;
	int rc;

	if (argc < 2)
		return usage_error("%s", "a command is needed: summary or suggest");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("%s %s\n", PROG, GATEHOUSE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "summary") != 0 && strcmp(argv[1], "suggest") != 0)
		return usage_error("'%s': unknown command (summary or suggest)", argv[1]);
	memset(&r, 0, sizeof(r));
	filter_init(&r.filter);
	summary_init(&r.sum);
	suggest_init(&r.sug);
	r.suggest = strcmp(argv[1], "suggest") == 0;
	rc = run_command(&r, argc - 1, argv + 1);
	summary_free(&r.sum);
	suggest_free(&r.sug);
	return rc;
}
