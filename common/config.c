/* config.c: parse gatehouse.conf and GATEHOUSE_* variables into a struct config. */
#include "config_parser.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "dname.h"
#include "hint.h"
#include "util.h"

#define MAX_ARGS 256			/* values on one line */
#define MAX_FILE (64u << 20)		/* a config file larger than this is refused */
#define ENV_PREFIX "GATEHOUSE_"

int
config_err(struct config_parser *ps, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ps->line > 0)
		snprintf(ps->err, ps->errlen, "%s:%u: %s", ps->src, ps->line, msg);
	else
		snprintf(ps->err, ps->errlen, "%s: %s", ps->src, msg);
	return -1;
}

int
config_warn(struct config_parser *ps, const char *fmt, ...)
{
	struct config *c = ps->c;
	size_t old = c->warnings ? strlen(c->warnings) : 0;
	char msg[512], *nw;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((nw = realloc(c->warnings, old + strlen(msg) + 2)) == NULL)
		return config_err(ps, "out of memory");
	memcpy(nw + old, msg, strlen(msg));
	nw[old + strlen(msg)] = '\n';
	nw[old + strlen(msg) + 1] = '\0';
	c->warnings = nw;
	return 0;
}

void
config_where(const struct config_parser *ps, char *buf, size_t len)
{
	if (ps->line > 0)
		snprintf(buf, len, "%s:%u", ps->src, ps->line);
	else
		snprintf(buf, len, "%s", ps->src);
}

/* ---- the settings: one descriptor each ---- */

/* The settings, in the order --check prints them (and hints prefer them). */
enum setting_id {
	SETTING_DNS_LISTEN,
	SETTING_FORWARD_LISTEN,
	SETTING_ANSWER,
	SETTING_BLOCKED,
	SETTING_TTL,
	SETTING_NEGATIVE_TTL,
	SETTING_UPSTREAM,
	SETTING_AUDIT,
	SETTING_AUDIT_RATE,
	SETTING_METRICS,
	SETTING_PEEK_TIMEOUT,
	SETTING_CONNECT_TIMEOUT,
	SETTING_IDLE_TIMEOUT,
	SETTING_HALF_CLOSE_TIMEOUT,
	SETTING_LOOKUP_TIMEOUT,
	SETTING_MAX_CONNS,
	SETTING_MAX_CONNS_PER_CLIENT,
	SETTING_MAX_LOOKUPS,
	SETTING_MAX_LOOKUPS_PER_CLIENT,
	SETTING_CACHE_MIN_TTL,
	SETTING_CACHE_MAX_TTL,
	SETTING_NEGATIVE_CACHE_TTL,
	SETTING_DNS_TCP_MAX,
	SETTING_DNS_TCP_IDLE,
	SETTING_USER,
	SETTING_SANDBOX,
	SETTING_COUNT
};

struct setting;

/* A kind of value: how it is read, printed and freed. */
struct setting_type {
	int many;		/* takes a list of values */
	/* Set the value from argv[0..argc) (argc >= 1, and 1 unless many): 0, or -1 with the
	 * message (config_err). */
	int (*parse)(struct config_parser *ps, const struct setting *s, char **argv, int argc);
	/* Write the value as a file would, each word after a blank: " 10.0.0.1 ::1". */
	void (*print)(const struct config *c, const struct setting *s, FILE *f);
	/* Free what parse allocated; NULL when it allocates nothing. */
	void (*clear)(struct config *c, const struct setting *s);
};

struct setting {
	const char *name;
	const struct setting_type *type;
	size_t offset;			/* of its field in struct config (see OFFSET) */
	unsigned long min, max;		/* whole numbers: the bounds, both allowed */
	int port;			/* addresses: addr_parse's default_port */
	const char *const *words;	/* choices: the word for each value 0, 1, ... */
	const char *expect;		/* choices: what a bad word is told to write */
	const char *def;		/* the default, written as in a file */
};

/* offsetof(struct config, f), which must have type T: a compile error otherwise. */
#define OFFSET(f, T) (offsetof(struct config, f) + \
	0 * sizeof(char[_Generic(&((struct config *)0)->f, T *: 1)]))

/* The field of setting s in c, as a T (the type the descriptor's OFFSET checked). */
#define FIELD(c, s, T) ((T *)(void *)((char *)(c) + (s)->offset))
#define CFIELD(c, s, T) ((const T *)(const void *)((const char *)(c) + (s)->offset))

#define NO_PORT (-2)			/* addr_parse: a port is refused */
#define DURATION_MAX_DAYS 7		/* the longest duration a setting takes */
#define LOOKUPS_SHARE 8			/* max-lookups / max-lookups-per-client by default */

/* whole numbers: uint32_t (u32) or unsigned (uint), within [min, max] */
static int
whole_parse(struct config_parser *ps, const struct setting *s, const char *arg, unsigned long *v)
{
	if (util_parse_uint(arg, s->min, s->max, v) == -1)
		return config_err(ps, "'%s %s': expected a whole number %lu-%lu", s->name, arg,
		    s->min, s->max);
	return 0;
}

static int
u32_parse(struct config_parser *ps, const struct setting *s, char **argv, int argc)
{
	unsigned long v = 0;

	(void)argc;
	if (whole_parse(ps, s, argv[0], &v) == -1)
		return -1;
	*FIELD(ps->c, s, uint32_t) = (uint32_t)v;
	return 0;
}

static void
u32_print(const struct config *c, const struct setting *s, FILE *f)
{
	fprintf(f, " %u", *CFIELD(c, s, uint32_t));
}

static int
uint_parse(struct config_parser *ps, const struct setting *s, char **argv, int argc)
{
	unsigned long v = 0;

	(void)argc;
	if (whole_parse(ps, s, argv[0], &v) == -1)
		return -1;
	*FIELD(ps->c, s, unsigned) = (unsigned)v;
	return 0;
}

static void
uint_print(const struct config *c, const struct setting *s, FILE *f)
{
	fprintf(f, " %u", *CFIELD(c, s, unsigned));
}

/* durations: uint64_t milliseconds, more than 0 */
static int
duration_parse(struct config_parser *ps, const struct setting *s, char **argv, int argc)
{
	uint64_t ms = 0;

	(void)argc;
	if (util_parse_duration(argv[0], DURATION_MAX_DAYS * 24 * 3600 * 1000ULL, &ms) == -1 ||
	    ms == 0)
		return config_err(ps, "'%s %s': expected a duration such as 10, 1.5, 250ms or 5m "
		    "(seconds unless marked; more than 0, at most %d days)", s->name, argv[0],
		    DURATION_MAX_DAYS);
	*FIELD(ps->c, s, uint64_t) = ms;
	return 0;
}

/* whole seconds as "60", anything else as "1500ms" */
static void
duration_print(const struct config *c, const struct setting *s, FILE *f)
{
	uint64_t ms = *CFIELD(c, s, uint64_t);

	if (ms % 1000 == 0)
		fprintf(f, " %llu", (unsigned long long)(ms / 1000));
	else
		fprintf(f, " %llums", (unsigned long long)ms);
}

/* strings: a copy (char *) */
static int
string_parse(struct config_parser *ps, const struct setting *s, char **argv, int argc)
{
	char **field = FIELD(ps->c, s, char *), *v;

	(void)argc;
	if ((v = strdup(argv[0])) == NULL)
		return config_err(ps, "out of memory");
	free(*field);
	*field = v;
	return 0;
}

static void
string_print(const struct config *c, const struct setting *s, FILE *f)
{
	fprintf(f, " %s", *CFIELD(c, s, char *));
}

static void
string_clear(struct config *c, const struct setting *s)
{
	free(*FIELD(c, s, char *));
	*FIELD(c, s, char *) = NULL;
}

/* address lists (struct addrlist); s->port as addr_parse's default_port */
static int
addrs_parse(struct config_parser *ps, const struct setting *s, char **argv, int argc)
{
	struct addrlist *out = FIELD(ps->c, s, struct addrlist);
	struct sockaddr_storage *v;
	char msg[256];
	int i;

	if ((v = calloc((size_t)argc, sizeof(*v))) == NULL)
		return config_err(ps, "out of memory");
	for (i = 0; i < argc; i++) {
		if (addr_parse(argv[i], s->port, &v[i], msg, sizeof(msg)) == -1) {
			free(v);
			return config_err(ps, "%s: %s", s->name, msg);
		}
	}
	free(out->v);
	out->v = v;
	out->n = (size_t)argc;
	return 0;
}

/* with their ports unless the setting refuses ports */
static void
addrs_print(const struct config *c, const struct setting *s, FILE *f)
{
	const struct addrlist *l = CFIELD(c, s, struct addrlist);
	char buf[ADDR_STRLEN];
	size_t i;

	for (i = 0; i < l->n; i++)
		fprintf(f, " %s", addr_format((const struct sockaddr *)&l->v[i], s->port != NO_PORT,
		    buf, sizeof(buf)));
}

static void
addrs_clear(struct config *c, const struct setting *s)
{
	struct addrlist *l = FIELD(c, s, struct addrlist);

	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* choices: an int, the index of its word in s->words */
static int
choice_parse(struct config_parser *ps, const struct setting *s, char **argv, int argc)
{
	int i;

	(void)argc;
	for (i = 0; s->words[i] != NULL; i++) {
		if (strcmp(argv[0], s->words[i]) == 0) {
			*FIELD(ps->c, s, int) = i;
			return 0;
		}
	}
	return config_err(ps, "'%s %s': expected %s", s->name, argv[0], s->expect);
}

static void
choice_print(const struct config *c, const struct setting *s, FILE *f)
{
	fprintf(f, " %s", s->words[*CFIELD(c, s, int)]);
}

/* answer: auto, or addresses (answer_auto, answer4, answer6) */
static void
answer_clear(struct config *c, const struct setting *s)
{
	(void)s;
	free(c->answer4);
	free(c->answer6);
	c->answer4 = NULL;
	c->answer6 = NULL;
	c->nanswer4 = c->nanswer6 = 0;
}

static int
answer_parse(struct config_parser *ps, const struct setting *s, char **argv, int argc)
{
	struct config *c = ps->c;
	int i;

	answer_clear(c, s);
	if (argc == 1 && strcmp(argv[0], "auto") == 0) {
		c->answer_auto = 1;
		return 0;
	}
	c->answer_auto = 0;
	c->answer4 = calloc((size_t)argc, sizeof(*c->answer4));
	c->answer6 = calloc((size_t)argc, sizeof(*c->answer6));
	if (c->answer4 == NULL || c->answer6 == NULL)
		return config_err(ps, "out of memory");
	for (i = 0; i < argc; i++) {
		if (inet_pton(AF_INET, argv[i], &c->answer4[c->nanswer4]) == 1)
			c->nanswer4++;
		else if (inet_pton(AF_INET6, argv[i], &c->answer6[c->nanswer6]) == 1)
			c->nanswer6++;
		else
			return config_err(ps, "answer: '%s' is neither 'auto' nor an IP address",
			    argv[i]);
	}
	return 0;
}

/* the IPv4 addresses first */
static void
answer_print(const struct config *c, const struct setting *s, FILE *f)
{
	char buf[INET6_ADDRSTRLEN];
	size_t i;

	(void)s;
	if (c->answer_auto) {
		fprintf(f, " auto");
		return;
	}
	for (i = 0; i < c->nanswer4; i++)
		fprintf(f, " %s", inet_ntop(AF_INET, &c->answer4[i], buf, sizeof(buf)));
	for (i = 0; i < c->nanswer6; i++)
		fprintf(f, " %s", inet_ntop(AF_INET6, &c->answer6[i], buf, sizeof(buf)));
}

/* upstream: system (upstream_system), or an address list */
static int
upstream_parse(struct config_parser *ps, const struct setting *s, char **argv, int argc)
{
	if (argc == 1 && strcmp(argv[0], "system") == 0) {
		ps->c->upstream_system = 1;
		addrs_clear(ps->c, s);
		return 0;
	}
	ps->c->upstream_system = 0;
	return addrs_parse(ps, s, argv, argc);
}

static void
upstream_print(const struct config *c, const struct setting *s, FILE *f)
{
	if (c->upstream_system)
		fprintf(f, " system");
	else
		addrs_print(c, s, f);
}

/* metrics: off (metrics_on 0), or ADDR:PORT with a port below the top one */
static int
metrics_parse(struct config_parser *ps, const struct setting *s, char **argv, int argc)
{
	char msg[256];

	(void)s;
	(void)argc;
	if (strcmp(argv[0], "off") == 0) {
		ps->c->metrics_on = 0;
		return 0;
	}
	if (addr_parse(argv[0], -1, &ps->c->metrics, msg, sizeof(msg)) == -1)
		return config_err(ps, "metrics: %s (write off or ADDR:PORT)", msg);
	if (addr_port((struct sockaddr *)&ps->c->metrics) == UINT16_MAX)
		return config_err(ps, "metrics %s: the forwarder serves its metrics one port up "
		    "(PORT+1), and there is no port above %u: use a port up to %u", argv[0],
		    UINT16_MAX, UINT16_MAX - 1);
	ps->c->metrics_on = 1;
	return 0;
}

static void
metrics_print(const struct config *c, const struct setting *s, FILE *f)
{
	char buf[ADDR_STRLEN];

	(void)s;
	if (c->metrics_on)
		fprintf(f, " %s", addr_format((const struct sockaddr *)&c->metrics, 1, buf,
		    sizeof(buf)));
	else
		fprintf(f, " off");
}

static const struct setting_type type_u32 = { 0, u32_parse, u32_print, NULL };
static const struct setting_type type_uint = { 0, uint_parse, uint_print, NULL };
static const struct setting_type type_duration = { 0, duration_parse, duration_print, NULL };
static const struct setting_type type_string = { 0, string_parse, string_print, string_clear };
static const struct setting_type type_addrs = { 1, addrs_parse, addrs_print, addrs_clear };
static const struct setting_type type_choice = { 0, choice_parse, choice_print, NULL };
static const struct setting_type type_answer = { 1, answer_parse, answer_print, answer_clear };
static const struct setting_type type_upstream = { 1, upstream_parse, upstream_print,
    addrs_clear };
static const struct setting_type type_metrics = { 0, metrics_parse, metrics_print, NULL };

/* The descriptor's type and its checked field, for each kind of value. */
#define U32(f)		.type = &type_u32, .offset = OFFSET(f, uint32_t)
#define UINT(f)		.type = &type_uint, .offset = OFFSET(f, unsigned)
#define DURATION(f)	.type = &type_duration, .offset = OFFSET(f, uint64_t)
#define STRING(f)	.type = &type_string, .offset = OFFSET(f, char *)
#define ADDRS(f)	.type = &type_addrs, .offset = OFFSET(f, struct addrlist)
#define CHOICE(f)	.type = &type_choice, .offset = OFFSET(f, int)

static const char *const blocked_words[] = { "nxdomain", "refused", NULL };
static const char *const sandbox_words[] = { "off", "on", NULL };

static const struct setting settings[SETTING_COUNT] = {
	[SETTING_DNS_LISTEN] = { .name = "dns-listen", ADDRS(dns_listen), .port = 53,
	    .def = "0.0.0.0 ::" },
	[SETTING_FORWARD_LISTEN] = { .name = "forward-listen", ADDRS(forward_listen),
	    .port = NO_PORT, .def = "0.0.0.0 ::" },	/* ports come from allow and route */
	[SETTING_ANSWER] = { .name = "answer", .type = &type_answer, .def = "auto" },
	[SETTING_BLOCKED] = { .name = "blocked", CHOICE(blocked_refused), .words = blocked_words,
	    .expect = "nxdomain or refused", .def = "nxdomain" },
	[SETTING_TTL] = { .name = "ttl", U32(ttl), .max = INT32_MAX, .def = "60" },
	[SETTING_NEGATIVE_TTL] = { .name = "negative-ttl", U32(negative_ttl), .max = INT32_MAX,
	    .def = "60" },
	[SETTING_UPSTREAM] = { .name = "upstream", .type = &type_upstream,
	    .offset = OFFSET(upstream, struct addrlist), .port = 53, .def = "system" },
	[SETTING_AUDIT] = { .name = "audit", STRING(audit), .def = "stdout" },
	[SETTING_AUDIT_RATE] = { .name = "audit-rate", UINT(audit_rate), .max = 10000000,
	    .def = "100" },
	[SETTING_METRICS] = { .name = "metrics", .type = &type_metrics, .def = "off" },
	[SETTING_PEEK_TIMEOUT] = { .name = "peek-timeout", DURATION(peek_timeout_ms),
	    .def = "10" },
	[SETTING_CONNECT_TIMEOUT] = { .name = "connect-timeout", DURATION(connect_timeout_ms),
	    .def = "10" },
	[SETTING_IDLE_TIMEOUT] = { .name = "idle-timeout", DURATION(idle_timeout_ms),
	    .def = "3600" },
	[SETTING_HALF_CLOSE_TIMEOUT] = { .name = "half-close-timeout",
	    DURATION(half_close_timeout_ms), .def = "60" },
	[SETTING_LOOKUP_TIMEOUT] = { .name = "lookup-timeout", DURATION(lookup_timeout_ms),
	    .def = "5" },
	[SETTING_MAX_CONNS] = { .name = "max-conns", UINT(max_conns), .min = 1, .max = 1000000,
	    .def = "4096" },
	[SETTING_MAX_CONNS_PER_CLIENT] = { .name = "max-conns-per-client",
	    UINT(max_conns_per_client), .min = 1, .max = 1000000, .def = "512" },
	[SETTING_MAX_LOOKUPS] = { .name = "max-lookups", UINT(max_lookups), .min = 1,
	    .max = 100000, .def = "256" },
	/* A client may start a LOOKUPS_SHARE-th of the lookups in flight: one that floods the
	 * gateway with fresh names then leaves the rest to the others (invariant 9). */
	[SETTING_MAX_LOOKUPS_PER_CLIENT] = { .name = "max-lookups-per-client",
	    UINT(max_lookups_per_client), .min = 1, .max = 100000, .def = "32" },
	[SETTING_CACHE_MIN_TTL] = { .name = "cache-min-ttl", U32(cache_min_ttl), .max = 86400,
	    .def = "5" },
	[SETTING_CACHE_MAX_TTL] = { .name = "cache-max-ttl", U32(cache_max_ttl), .min = 1,
	    .max = 86400, .def = "300" },
	[SETTING_NEGATIVE_CACHE_TTL] = { .name = "negative-cache-ttl", U32(negative_cache_ttl),
	    .max = 3600, .def = "5" },
	[SETTING_DNS_TCP_MAX] = { .name = "dns-tcp-max", UINT(dns_tcp_max), .min = 1,
	    .max = 100000, .def = "256" },
	[SETTING_DNS_TCP_IDLE] = { .name = "dns-tcp-idle", DURATION(dns_tcp_idle_ms),
	    .def = "10" },
	[SETTING_USER] = { .name = "user", STRING(user), .def = "nobody" },
	[SETTING_SANDBOX] = { .name = "sandbox", CHOICE(sandbox), .words = sandbox_words,
	    .expect = "on or off (off is for debugging only)", .def = "on" },
};

/* The setting called name, or -1. */
static int
setting_find(const char *name)
{
	int i;

	for (i = 0; i < SETTING_COUNT; i++)
		if (strcmp(settings[i].name, name) == 0)
			return i;
	return -1;
}

/* Every setting at its default (the values are valid: -1 means out of memory). */
static int
settings_default(struct config_parser *ps)
{
	int i;

	for (i = 0; i < SETTING_COUNT; i++) {
		const struct setting *s = &settings[i];
		char copy[64], *argv[4], *p, *save = NULL;
		int argc = 0;

		util_strlcpy(copy, s->def, sizeof(copy));
		for (p = copy; argc < (int)NELEM(argv) && (p = strtok_r(p, " ", &save)) != NULL;
		    p = NULL)
			argv[argc++] = p;
		if (s->type->parse(ps, s, argv, argc) == -1)
			return -1;
	}
	return 0;
}

/* ---- allow and route ---- */

/*
 * name is not a host name in a way worth explaining (hint.h): a port list where the name
 * belongs (the two swapped), a URL, an address or prefix, quotes, a numeric last label.
 * -1 with the message, or 0 to let the name's own check speak.
 */
static int
name_mistake(struct config_parser *ps, const char *what, const char *name, const char *ports)
{
	char msg[512];
	const char *body = strncmp(name, "*.", 2) == 0 ? name + 2 : name;

	if (ports != NULL && hint_is_port_list(name) && !hint_is_port_list(ports)) {
		if (ps->line == 0)
			return config_err(ps, "'%s:%s': the name comes first: write %s:%s", name,
			    ports, ports, name);
		return config_err(ps, "%s %s %s: the name comes first: write %s %s %s", what, name,
		    ports, what, ports, name);
	}
	if (hint_name(body, msg, sizeof(msg)))
		return config_err(ps, "%s %s", what, msg);
	return 0;
}

/* allow NAME PORTS [private] */
static int
add_allow(struct config_parser *ps, const char *name, const char *ports, const char *flag)
{
	struct portrange *pr;
	const struct rule *dup;
	size_t npr;
	char msg[512], where[300], here[300];
	unsigned flags = 0, port = 0;
	int rc;

	if (name_mistake(ps, "allow", name, ports) == -1)
		return -1;
	if (flag != NULL) {
		if (strcmp(flag, "private") != 0)
			return config_err(ps, "allow %s: unknown option '%s' (the only one is "
			    "'private')", name, flag);
		flags |= RULE_PRIVATE;
	}
	if (policy_parse_ports(ports, &pr, &npr, msg, sizeof(msg)) == -1)
		return config_err(ps, "allow %s: %s", name, msg);
	dup = policy_find(ps->c->policy, name, pr, npr, RULE_ROUTE, &port);
	rc = policy_add(ps->c->policy, name, pr, npr, flags, ps->src, ps->line, msg, sizeof(msg));
	free(pr);
	if (rc == -1)
		return config_err(ps, "allow %s", msg);
	/* The same rule twice is harmless but usually a slip (a line copied, the environment
	 * repeating the file): said, not refused. */
	if (dup != NULL) {
		config_where(ps, here, sizeof(here));
		return config_warn(ps, "%s: allow %s: port %u is already allowed by %s (the same "
		    "rule written twice?)", here, name, port, rule_origin(dup, where, sizeof(where)));
	}
	return 0;
}

/* route PORT NAME[:PORT] [private] */
static int
add_route(struct config_parser *ps, const char *portstr, const char *target, const char *flag)
{
	struct config *c = ps->c;
	char name[DNAME_MAX + 1], host[DNAME_MAX + 2], where[300], msg[512];
	const char *colon = strrchr(target, ':');
	unsigned long port, tport;
	enum dname_status st;
	struct portrange pr;
	struct route *nr;
	size_t hl, i;
	unsigned flags = 0;

	if (flag != NULL) {
		if (strcmp(flag, "private") != 0)
			return config_err(ps, "route %s: unknown option '%s' (the only one is "
			    "'private')", portstr, flag);
		flags |= RULE_PRIVATE;
	}
	if (util_parse_uint(portstr, 1, UINT16_MAX, &port) == -1)
		return config_err(ps, "route '%s': the port must be 1-%u", portstr, UINT16_MAX);
	hl = colon ? (size_t)(colon - target) : strlen(target);
	if (colon == NULL)
		tport = port;
	else if (util_parse_uint(colon + 1, 1, UINT16_MAX, &tport) == -1)
		return config_err(ps, "route %s: '%s': the target port must be 1-%u", portstr,
		    target, UINT16_MAX);
	if (hl >= sizeof(host))
		return config_err(ps, "route %s: target name too long", portstr);
	memcpy(host, target, hl);
	host[hl] = '\0';
	if (host[0] == '*')
		return config_err(ps, "route %s: the target must be one name, not a wildcard",
		    portstr);
	if (hint_name(host, msg, sizeof(msg)))
		return config_err(ps, "route %s: %s", portstr, msg);
	if ((st = dname_normalize(host, hl, name, NULL)) != DNAME_OK)
		return config_err(ps, "route %s: '%s': %s", portstr, host, dname_status_str(st));
	for (i = 0; i < c->nroutes; i++)
		if (c->routes[i].port == port)
			return config_err(ps, "route %s: port %lu already has a route (%s)",
			    portstr, port, c->routes[i].origin);
	if ((nr = realloc(c->routes, (c->nroutes + 1) * sizeof(*nr))) == NULL)
		return config_err(ps, "out of memory");
	c->routes = nr;
	config_where(ps, where, sizeof(where));
	nr = &c->routes[c->nroutes];
	memset(nr, 0, sizeof(*nr));
	nr->port = (uint16_t)port;
	nr->target_port = (uint16_t)tport;
	nr->flags = flags;
	nr->name = strdup(name);
	nr->origin = strdup(where);
	if (nr->name == NULL || nr->origin == NULL) {
		free(nr->name);
		free(nr->origin);
		return config_err(ps, "out of memory");
	}
	c->nroutes++;
	/* A route allows its target on its listening port: the forwarder checks (name,
	 * port) for routed connections like any other, and the resolver answers the name. */
	pr.lo = pr.hi = (uint16_t)port;
	if (policy_add(c->policy, name, &pr, 1, flags | RULE_ROUTE, ps->src, ps->line, msg,
	    sizeof(msg)) == -1)
		return config_err(ps, "route %s: %s", portstr, msg);
	return 0;
}

/* ---- lines ---- */

/* Split line (modified in place) into argv at blanks; '#' ends it. Returns argc or -1. */
static int
tokenize(struct config_parser *ps, char *line, char **argv)
{
	int argc = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (*p == '\0' || *p == '#')
			return argc;
		if (argc == MAX_ARGS)
			return config_err(ps, "more than %d values on one line", MAX_ARGS);
		argv[argc++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '#')
			p++;
		if (*p == '#') {
			*p = '\0';
			return argc;
		}
		if (*p != '\0')
			*p++ = '\0';
	}
}

static int
apply_setting(struct config_parser *ps, const char *name, char **argv, int argc)
{
	const struct setting *s;
	int idx;

	if ((idx = setting_find(name)) == -1) {
		const char *words[SETTING_COUNT + 2], *best;
		size_t i;

		words[0] = "allow";
		words[1] = "route";
		for (i = 0; i < SETTING_COUNT; i++)
			words[i + 2] = settings[i].name;
		if ((best = hint_closest(name, words, NELEM(words))) != NULL)
			return config_err(ps, "unknown directive '%s'; did you mean '%s'?", name,
			    best);
		return config_err(ps, "unknown directive '%s'", name);
	}
	s = &settings[idx];
	if (ps->line > 0 && ps->seen[idx] != 0)
		return config_err(ps, "'%s' is set twice (first on line %u)", name, ps->seen[idx]);
	if (!s->type->many && argc > 1)
		return config_err(ps, "'%s' takes one value", name);
	if (argc == 0)
		return config_err(ps, "'%s' needs a value", name);
	if (s->type->parse(ps, s, argv, argc) == -1)
		return -1;
	if (ps->line > 0)
		ps->seen[idx] = ps->line;
	else
		ps->by_env[idx] = 1;
	return 0;
}

/* `allow a.x 443, 80`: a blank inside the port list. 0 when there is none, else -1
 * naming the column of the blank and the list as it should be written. */
static int
blank_in_ports(struct config_parser *ps, const char *line, char **argv, int argc)
{
	char joined[256];
	size_t col, off = 0;
	int i = 2;

	if (argv[2][strlen(argv[2]) - 1] == ',')
		col = (size_t)(argv[2] - line) + strlen(argv[2]) + 1;
	else if (argv[3][0] == ',')
		col = (size_t)(argv[3] - line);
	else
		return 0;
	joined[0] = '\0';
	do {
		off += (size_t)snprintf(joined + off, sizeof(joined) - off, "%s", argv[i]);
		if (off >= sizeof(joined))
			off = sizeof(joined) - 1;
		i++;
	} while (i < argc && (argv[i - 1][strlen(argv[i - 1]) - 1] == ',' || argv[i][0] == ','));
	return config_err(ps, "allow %s: a blank at column %zu splits the port list: write it "
	    "as %s", argv[1], col, joined);
}

static int
parse_line(struct config_parser *ps, char *line)
{
	char *argv[MAX_ARGS], msg[256];
	int argc, i;

	for (argc = 0; line[argc] != '\0' && line[argc] != '#'; argc++) {
		unsigned char ch = (unsigned char)line[argc];

		if (ch < 0x20 && ch != '\t' && ch != '\r')
			return config_err(ps, "control character 0x%02x in the line", ch);
	}
	/* Non-ASCII before a comment: named (a BOM, a no-break space, ...) with its column. */
	if (hint_nonascii(line, (size_t)argc, msg, sizeof(msg)))
		return config_err(ps, "%s", msg);
	if ((argc = tokenize(ps, line, argv)) <= 0)
		return argc;
	for (i = 0; i < argc; i++) {
		size_t tl = strlen(argv[i]);

		if (argv[i][0] == '"' || argv[i][0] == '\'' || argv[i][tl - 1] == '"' ||
		    argv[i][tl - 1] == '\'')
			return config_err(ps, "%s: quotes are not part of the syntax; write the "
			    "values without them", argv[i]);
	}
	if (strcmp(argv[0], "allow") == 0) {
		if (argc >= 4 && blank_in_ports(ps, line, argv, argc) == -1)
			return -1;
		if (argc < 3 || argc > 4)
			return config_err(ps, "usage: allow NAME PORTS [private]");
		return add_allow(ps, argv[1], argv[2], argc == 4 ? argv[3] : NULL);
	}
	if (strcmp(argv[0], "route") == 0) {
		if (argc < 3 || argc > 4)
			return config_err(ps, "usage: route PORT NAME[:PORT] [private]");
		return add_route(ps, argv[1], argv[2], argc == 4 ? argv[3] : NULL);
	}
	return apply_setting(ps, argv[0], argv + 1, argc - 1);
}

/* Where lines come from: a buffer (tests, fuzzing) or a file read line by line, so a
 * large allowlist is never held twice in memory. */
struct source {
	const char *buf;
	size_t len, off;
	FILE *f;
	size_t total;
	char *line;
	size_t cap;
};

/* The next line, without its newline, NUL-terminated in s->line; *ll its length (which
 * a NUL byte inside makes longer than strlen). 1, 0 at the end, -1 on error (err). */
static int
next_line(struct config_parser *ps, struct source *s, size_t *ll)
{
	if (s->f != NULL) {
		ssize_t n = getline(&s->line, &s->cap, s->f);

		if (n < 0) {
			if (ferror(s->f))
				return config_err(ps, "read error: %s", strerror(errno));
			return 0;
		}
		if ((s->total += (size_t)n) > MAX_FILE)
			return config_err(ps, "file larger than %u MiB", MAX_FILE >> 20);
		*ll = (size_t)n - (n > 0 && s->line[n - 1] == '\n');
	} else {
		const char *nl;

		if (s->off >= s->len)
			return 0;
		nl = memchr(s->buf + s->off, '\n', s->len - s->off);
		*ll = nl ? (size_t)(nl - (s->buf + s->off)) : s->len - s->off;
		if (*ll + 1 > s->cap) {
			char *nb = realloc(s->line, *ll + 1);

			if (nb == NULL)
				return config_err(ps, "out of memory");
			s->line = nb;
			s->cap = *ll + 1;
		}
		memcpy(s->line, s->buf + s->off, *ll);
		s->off += *ll + (nl ? 1 : 0);
	}
	s->line[*ll] = '\0';
	return 1;
}

static int
parse_lines(struct config_parser *ps, struct source *s)
{
	size_t ll = 0;
	int rc;

	ps->line = 0;
	while ((rc = next_line(ps, s, &ll)) == 1) {
		ps->line++;
		if (memchr(s->line, '\0', ll) != NULL)
			return config_err(ps, "NUL byte in the line");
		if (parse_line(ps, s->line) == -1)
			return -1;
	}
	return rc;
}

/* ---- the environment ---- */

static const char *
env_get(char *const *env, const char *name)
{
	size_t nl = strlen(name);

	for (; env != NULL && *env != NULL; env++)
		if (strncmp(*env, name, nl) == 0 && (*env)[nl] == '=')
			return *env + nl + 1;
	return NULL;
}

/* Each blank- or ';'-separated item of value, in a writable copy. */
static int
env_items(struct config_parser *ps, const char *value, char ***items, int *n, char **copy)
{
	char *p, *tok, *save = NULL;
	char **v = NULL;
	int cnt = 0;

	if ((*copy = strdup(value)) == NULL)
		return config_err(ps, "out of memory");
	for (p = *copy; (tok = strtok_r(p, " \t\r\n;", &save)) != NULL; p = NULL) {
		char **nv = realloc(v, (size_t)(cnt + 1) * sizeof(*v));

		if (nv == NULL) {
			free(v);
			return config_err(ps, "out of memory");
		}
		v = nv;
		v[cnt++] = tok;
	}
	*items = v;
	*n = cnt;
	return 0;
}

/* An item of GATEHOUSE_ALLOW (next: the one after it, or NULL) written in a way worth
 * explaining before it is split at ':', which would garble a URL or an IPv6 address and
 * turn commas between items into "unknown option". 0, or -1 with the message. */
static int
env_allow_mistake(struct config_parser *ps, const char *item, const char *next)
{
	char host[DNAME_MAX + 8], port[16], fix[1024], msg[512];
	const char *colon = strchr(item, ':'), *p;
	size_t il = strlen(item), o = 0;
	int split = 0;

	if (hint_url(item, host, sizeof(host), port, sizeof(port)))
		return config_err(ps, "'%s' is a URL: write the host only: %s:%s", item, host,
		    port[0] ? port : "PORTS");
	if (item[0] == '[' || strstr(item, "::") != NULL) {
		size_t al = item[0] == '[' ? strcspn(item, "]") + 1 : il;

		snprintf(host, sizeof(host), "%.*s", (int)(al < il ? al : il), item);
		if (hint_name(host, msg, sizeof(msg)))
			return config_err(ps, "allow %s", msg);
	}
	if (il > 0 && next != NULL && (item[il - 1] == ',' || next[0] == ',') &&
	    hint_is_port_list(next + (next[0] == ',')))
		return config_err(ps, "'%s %s': a blank splits the port list (blanks separate "
		    "items): write %s%s", item, next, item, next);
	/* "a.x:443,b.x:443": a comma before something that looks like a name begins an item */
	for (p = item; colon != NULL && *p != '\0' && o + 2 < sizeof(fix); p++) {
		size_t nl = strcspn(p + 1, ",:");	/* the piece's part before any ':' */
		int letter = 0;
		const char *q;

		for (q = p + 1; q < p + 1 + nl; q++)
			letter |= (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z');
		if (p > colon && *p == ',' && letter && strncmp(p + 1, "private", nl) != 0 &&
		    (p[1 + nl] == ':' || memchr(p + 1, '.', nl) != NULL)) {
			fix[o++] = ' ';
			split = 1;
		} else
			fix[o++] = *p;
	}
	fix[o] = '\0';
	if (split)
		return config_err(ps, "'%s': separate items with blanks, not commas: %s", item,
		    fix);
	return 0;
}

/* GATEHOUSE_ALLOW="name:ports[:private] ..." */
static int
env_allow(struct config_parser *ps, const char *value)
{
	char **items = NULL, *copy = NULL;
	int n = 0, i, rc = 0;

	if (env_items(ps, value, &items, &n, &copy) == -1) {
		free(copy);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		char *ports = strchr(items[i], ':'), *flag;

		if ((rc = env_allow_mistake(ps, items[i], i + 1 < n ? items[i + 1] : NULL)) == -1)
			break;
		if (ports == NULL) {
			rc = config_err(ps, "'%s': write NAME:PORTS[:private], e.g. "
			    "smtp.gmail.com:465,587", items[i]);
			break;
		}
		*ports++ = '\0';
		if ((flag = strchr(ports, ':')) != NULL)
			*flag++ = '\0';
		rc = add_allow(ps, items[i], ports, flag);
	}
	free(items);
	free(copy);
	return rc;
}

/* GATEHOUSE_ROUTE="587=smtp.gmail.com:587[:private] ..." */
static int
env_route(struct config_parser *ps, const char *value)
{
	char **items = NULL, *copy = NULL, host[DNAME_MAX + 8], port[16];
	int n = 0, i, rc = 0;

	if (env_items(ps, value, &items, &n, &copy) == -1) {
		free(copy);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		char *target = strchr(items[i], '='), *flag = NULL, *c1;

		if (target == NULL) {
			rc = config_err(ps, "'%s': write PORT=NAME[:PORT][:private], e.g. "
			    "587=smtp.gmail.com:587", items[i]);
			break;
		}
		*target++ = '\0';
		if (hint_url(target, host, sizeof(host), port, sizeof(port))) {
			rc = config_err(ps, "route %s: '%s' is a URL: write the host only: "
			    "%s=%s%s%s", items[i], target, items[i], host, port[0] ? ":" : "",
			    port);
			break;
		}
		if ((c1 = strchr(target, ':')) != NULL && (flag = strchr(c1 + 1, ':')) != NULL)
			*flag++ = '\0';
		else if (c1 != NULL && strcmp(c1 + 1, "private") == 0) {
			*c1 = '\0';
			flag = c1 + 1;
		}
		rc = add_route(ps, items[i], target, flag);
	}
	free(items);
	free(copy);
	return rc;
}

/* The variable for setting (or directive) name: "GATEHOUSE_DNS_LISTEN". */
static void
env_name(const char *name, char *var, size_t varlen)
{
	size_t i, o = (size_t)snprintf(var, varlen, "%s", ENV_PREFIX);

	for (i = 0; name[i] != '\0' && o + 1 < varlen; i++)
		var[o++] = name[i] == '-' ? '_' : (char)(name[i] - (name[i] >= 'a' && name[i] <= 'z' ? 32 : 0));
	var[o] = '\0';
}

/*
 * var starts with "gatehouse_" in some case but is no variable gatehouse reads. Decided:
 * an error, never ignored: a misspelt GATEHOUSE_FORWARD_LISTEN left the forwarder
 * listening on the bridge side too, a misspelt GATEHOUSE_ALLOW a gateway that denies
 * everything. Names are upper case (Docker passes them as written, and the daemons
 * compare them as written), so "gatehouse_allow" is a mistake too, not an alias.
 */
static int
env_unknown(struct config_parser *ps, const char *var)
{
	static const char *const extra[] = { "allow", "route", "config" };
	char names[SETTING_COUNT + NELEM(extra)][48], upper[128];
	const char *cands[SETTING_COUNT + NELEM(extra)], *best;
	size_t i, n = 0, vl = strlen(var);

	for (i = 0; i < NELEM(extra); i++)
		env_name(extra[i], names[n++], sizeof(names[0]));
	for (i = 0; i < SETTING_COUNT; i++)
		env_name(settings[i].name, names[n++], sizeof(names[0]));
	for (i = 0; i < n; i++)
		cands[i] = names[i];
	for (i = 0; i < vl && i + 1 < sizeof(upper); i++)
		upper[i] = (var[i] >= 'a' && var[i] <= 'z') ? (char)(var[i] - 32) : var[i];
	upper[i] = '\0';
	if (strcmp(var, upper) != 0) {		/* lower-case letters in it */
		for (i = 0; i < n; i++)
			if (strcmp(upper, cands[i]) == 0)
				return config_err(ps, "gatehouse variables are upper case: "
				    "write %s", cands[i]);
	}
	/* Compared without the prefix, so that "GATEHOUSE_" does not make every name close. */
	for (i = 0; i < n; i++)
		cands[i] = names[i] + strlen(ENV_PREFIX);
	best = strlen(upper) >= strlen(ENV_PREFIX) ?
	    hint_closest(upper + strlen(ENV_PREFIX), cands, n) : NULL;
	if (strcmp(upper, "GATEHOUSE_IP") == 0 || strcmp(upper, "GATEHOUSE_SUBNET") == 0)
		return config_err(ps, "not a gatehouse setting: it is for docker-compose.yml's "
		    "substitutions (.env); do not pass it to the gatehouse container");
	if (best != NULL)
		return config_err(ps, "not a gatehouse setting; did you mean " ENV_PREFIX "%s?",
		    best);
	return config_err(ps, "not a gatehouse setting (the variables are GATEHOUSE_ALLOW, "
	    "GATEHOUSE_ROUTE, GATEHOUSE_CONFIG and GATEHOUSE_<SETTING>, e.g. "
	    "GATEHOUSE_DNS_LISTEN)");
}

/* Mistakes in any variable's value: quotes an env_file kept, look-alike characters. */
static int
env_value_mistake(struct config_parser *ps, const char *var, const char *value)
{
	char msg[256];
	size_t b = strspn(value, " \t"), e = strlen(value);

	while (e > b && (value[e - 1] == ' ' || value[e - 1] == '\t'))
		e--;
	if (e > b && (value[b] == '"' || value[b] == '\'' || value[e - 1] == '"' ||
	    value[e - 1] == '\'')) {
		b += (value[b] == '"' || value[b] == '\'');
		e -= (e > b && (value[e - 1] == '"' || value[e - 1] == '\''));
		return config_err(ps, "the value is in quotes, which an env_file (docker run "
		    "--env-file) keeps as part of it: write %s=%.*s", var, (int)(e - b), value + b);
	}
	if (hint_nonascii(value, strlen(value), msg, sizeof(msg)))
		return config_err(ps, "in the value, %s", msg);
	return 0;
}

static int
env_setting(struct config_parser *ps, const char *var, const char *value)
{
	char name[64], **items = NULL, *copy = NULL;
	const char *suffix = var + strlen(ENV_PREFIX);
	size_t i, sl = strlen(suffix);
	int n = 0, rc;

	if (sl == 0 || sl >= sizeof(name))
		return env_unknown(ps, var);
	for (i = 0; i < sl; i++) {
		char ch = suffix[i];

		/* lower case letters or '-' are no spelling of a setting: GATEHOUSE_Ttl */
		if ((ch >= 'a' && ch <= 'z') || ch == '-')
			return env_unknown(ps, var);
		name[i] = ch == '_' ? '-' : (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
	}
	name[sl] = '\0';
	if (setting_find(name) == -1)
		return env_unknown(ps, var);
	if (env_value_mistake(ps, var, value) == -1)
		return -1;
	if (env_items(ps, value, &items, &n, &copy) == -1) {
		free(copy);
		return -1;
	}
	rc = apply_setting(ps, name, items, n);
	free(items);
	free(copy);
	return rc;
}

static int
parse_env(struct config_parser *ps, char *const *env)
{
	char var[128];

	for (; env != NULL && *env != NULL; env++) {
		const char *eq = strchr(*env, '=');
		size_t vl;

		if (strncasecmp(*env, ENV_PREFIX, strlen(ENV_PREFIX)) != 0 || eq == NULL)
			continue;
		vl = (size_t)(eq - *env);
		if (vl >= sizeof(var))
			vl = sizeof(var) - 1;
		memcpy(var, *env, vl);
		var[vl] = '\0';
		ps->src = var;
		ps->line = 0;
		/* The name first (an unknown one is the mistake to report), then the value. */
		if (strncmp(var, ENV_PREFIX, strlen(ENV_PREFIX)) != 0)
			return env_unknown(ps, var);
		if (strcmp(var, "GATEHOUSE_CONFIG") == 0) {
			if (env_value_mistake(ps, var, eq + 1) == -1)	/* config_load read it */
				return -1;
		} else if (strcmp(var, "GATEHOUSE_ALLOW") == 0) {
			if (env_value_mistake(ps, var, eq + 1) == -1 || env_allow(ps, eq + 1) == -1)
				return -1;
		} else if (strcmp(var, "GATEHOUSE_ROUTE") == 0) {
			if (env_value_mistake(ps, var, eq + 1) == -1 || env_route(ps, eq + 1) == -1)
				return -1;
		} else if (env_setting(ps, var, eq + 1) == -1)
			return -1;
	}
	return 0;
}

/* ---- the whole ---- */

static struct config *
config_new(void)
{
	struct config *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->refs = 1;
	if ((c->policy = policy_new()) == NULL ||
	    (c->set_line = calloc(SETTING_COUNT, sizeof(*c->set_line))) == NULL ||
	    (c->set_env = calloc(SETTING_COUNT, sizeof(*c->set_env))) == NULL) {
		config_unref(c);
		return NULL;
	}
	return c;
}

/* Point messages at where a setting was written: its variable, or its file line. */
static void
blame(struct config_parser *ps, enum setting_id idx, char *var, size_t varlen)
{
	if (ps->by_env[idx]) {
		env_name(settings[idx].name, var, varlen);
		ps->src = var;
		ps->line = 0;
	} else {
		ps->src = ps->file;
		ps->line = ps->seen[idx];
	}
}

static int
check_ttls(struct config_parser *ps)
{
	struct config *c = ps->c;
	enum setting_id lo = SETTING_CACHE_MIN_TTL, hi = SETTING_CACHE_MAX_TTL;
	char var[64];

	if (c->cache_min_ttl <= c->cache_max_ttl)
		return 0;
	/* Blame the setting written last (the environment comes after the file). */
	if (ps->by_env[hi] || (!ps->by_env[lo] && ps->seen[hi] > ps->seen[lo])) {
		blame(ps, hi, var, sizeof(var));
		return config_err(ps, "cache-max-ttl %u is below cache-min-ttl %u",
		    c->cache_max_ttl, c->cache_min_ttl);
	}
	blame(ps, lo, var, sizeof(var));
	return config_err(ps, "cache-min-ttl %u is above cache-max-ttl %u", c->cache_min_ttl,
	    c->cache_max_ttl);
}

/* What needs every line and variable read: routes' 'private', whether the listen
 * addresses were written, cross-setting checks. */
static int
config_finish(struct config_parser *ps)
{
	struct config *c = ps->c;

	policy_finish(c->policy);
	c->dns_listen_default = !ps->seen[SETTING_DNS_LISTEN] && !ps->by_env[SETTING_DNS_LISTEN];
	c->forward_listen_default = !ps->seen[SETTING_FORWARD_LISTEN] &&
	    !ps->by_env[SETTING_FORWARD_LISTEN];
	if (check_ttls(ps) == -1)
		return -1;
	if (c->max_lookups > 1 && c->max_lookups_per_client >= c->max_lookups &&
	    config_warn(ps, "max-lookups-per-client %u is not below max-lookups %u: one client "
	    "can take every lookup in flight (a share of max-lookups/%d or less keeps the others "
	    "served)", c->max_lookups_per_client, c->max_lookups, LOOKUPS_SHARE) == -1)
		return -1;
	return config_ports_build(ps->c, ps->err, ps->errlen);
}

/* Parse lines from src (NULL: no file), then the environment. */
static int
build(const char *name, struct source *src, char *const *env, struct config **out,
    char *err, size_t errlen)
{
	struct config_parser ps;

	*out = NULL;
	memset(&ps, 0, sizeof(ps));
	ps.err = err;
	ps.errlen = errlen;
	ps.src = ps.file = name ? name : "config";
	if ((ps.c = config_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ps.seen = ps.c->set_line;
	ps.by_env = ps.c->set_env;
	if (settings_default(&ps) == -1 ||
	    (name != NULL && (ps.c->path = strdup(name)) == NULL)) {
		config_unref(ps.c);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((src != NULL && parse_lines(&ps, src) == -1) || parse_env(&ps, env) == -1 ||
	    config_finish(&ps) == -1) {
		config_unref(ps.c);
		return -1;
	}
	*out = ps.c;
	return 0;
}

int
config_parse(const char *name, const char *buf, size_t len, char *const *env,
    struct config **out, char *err, size_t errlen)
{
	struct source src;
	int rc;

	memset(&src, 0, sizeof(src));
	src.buf = buf;
	src.len = len;
	rc = build(name, buf != NULL ? &src : NULL, env, out, err, errlen);
	free(src.line);
	return rc;
}

int
config_load(const char *path, char *const *env, struct config **out, char *err,
    size_t errlen)
{
	const char *p = path;
	struct source src;
	int optional = 0, rc;

	*out = NULL;
	if (p == NULL && (p = env_get(env, "GATEHOUSE_CONFIG")) != NULL && *p != '\0' &&
	    (p[0] == '"' || p[0] == '\'' || p[strlen(p) - 1] == '"' || p[strlen(p) - 1] == '\'')) {
		snprintf(err, errlen, "GATEHOUSE_CONFIG: the value is in quotes, which an env_file "
		    "(docker run --env-file) keeps as part of it: write it without them");
		return -1;
	}
	if (p == NULL || *p == '\0') {
		p = CONFIG_DEFAULT_PATH;
		optional = 1;
	}
	memset(&src, 0, sizeof(src));
	if ((src.f = fopen(p, "r")) == NULL) {
		if (!(optional && errno == ENOENT)) {
			snprintf(err, errlen, "%s: cannot open: %s", p, strerror(errno));
			return -1;
		}
		return build(NULL, NULL, env, out, err, errlen);
	}
	rc = build(p, &src, env, out, err, errlen);
	free(src.line);
	fclose(src.f);
	return rc;
}

struct config *
config_ref(struct config *c)
{
	c->refs++;
	return c;
}

void
config_unref(struct config *c)
{
	size_t i;

	if (c == NULL || --c->refs > 0)
		return;
	policy_free(c->policy);
	for (i = 0; i < c->nroutes; i++) {
		free(c->routes[i].name);
		free(c->routes[i].origin);
	}
	free(c->routes);
	free(c->ports);
	for (i = 0; i < SETTING_COUNT; i++)
		if (settings[i].type->clear != NULL)
			settings[i].type->clear(c, &settings[i]);
	free(c->set_line);
	free(c->set_env);
	free(c->path);
	free(c->warnings);
	free(c);
}

int
config_origin(const struct config *c, const char *setting, char *buf, size_t len)
{
	int idx;

	if ((idx = setting_find(setting)) == -1)
		return 0;
	if (c->set_env[idx])
		env_name(setting, buf, len);
	else if (c->set_line[idx] > 0)
		snprintf(buf, len, "%s:%u", c->path ? c->path : "config", c->set_line[idx]);
	else
		return 0;
	return 1;
}

const struct route *
config_route(const struct config *c, uint16_t port)
{
	size_t i;

	for (i = 0; i < c->nroutes; i++)
		if (c->routes[i].port == port)
			return &c->routes[i];
	return NULL;
}

/* "allow NAME PORTS [private]\t# ORIGIN": the port list whole, however long (cut short
 * only when out of memory). */
static void
print_allow(const struct rule *r, FILE *f)
{
	char where[300], small[512], *ports = small;
	size_t need = (size_t)r->nports * sizeof("65535-65535,"), len = sizeof(small);

	if (need > len && (ports = malloc(need)) != NULL)
		len = need;
	else
		ports = small;
	rule_format_ports(r, ports, len);
	fprintf(f, "allow %s %s%s\t# %s\n", r->pattern, ports,
	    (r->flags & RULE_PRIVATE) ? " private" : "", rule_origin(r, where, sizeof(where)));
	if (ports != small)
		free(ports);
}

static void
print_rules(const struct config *c, FILE *f)
{
	char where[300];
	size_t i;

	for (i = 0; i < policy_count(c->policy); i++) {
		const struct rule *r = policy_rule(c->policy, i);

		if (!(r->flags & RULE_ROUTE))
			print_allow(r, f);
	}
	for (i = 0; i < c->nroutes; i++) {
		const struct route *rt = &c->routes[i];
		const struct rule *r = policy_match(c->policy, rt->name, strlen(rt->name), rt->port);
		struct portrange pr = { rt->port, rt->port };
		const struct rule *from = NULL;

		if (r != NULL && (r->flags & RULE_INHERITED))
			from = policy_find(c->policy, rt->name, &pr, 1, RULE_ROUTE, NULL);
		fprintf(f, "route %u %s:%u%s\t# %s%s%s\n", rt->port, rt->name, rt->target_port,
		    (rt->flags & RULE_PRIVATE) ? " private" : "", rt->origin,
		    from ? "; private from the allow rule at " : "",
		    from ? rule_origin(from, where, sizeof(where)) : "");
	}
}

void
config_print(const struct config *c, FILE *f)
{
	size_t i;

	print_rules(c, f);
	config_ports_print(c, f);
	for (i = 0; i < SETTING_COUNT; i++) {
		fprintf(f, "%s", settings[i].name);
		settings[i].type->print(c, &settings[i], f);
		fprintf(f, "\n");
	}
}
