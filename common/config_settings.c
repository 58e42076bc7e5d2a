/* config_settings.c: the settings, one descriptor each: read, defaulted, printed, freed. */
#include "config_parser.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "hint.h"
#include "util.h"

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

/* A setting: its name, the field it fills in struct config, its kind of value and what
 * that kind needs (bounds, default port, words), and its default. Reading, defaults, the
 * bookkeeping of where it was set, the variable's name and --check's line all come from
 * this table (settings[] below). */
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

/* whole numbers: an unsigned within [min, max] (uint32_t fields too: it is unsigned on
 * the platforms gatehouse runs on, and OFFSET refuses the field wherever it is not) */
static int
uint_parse(struct config_parser *ps, const struct setting *s, char **argv, int argc)
{
	unsigned long v = 0;

	(void)argc;
	if (util_parse_uint(argv[0], s->min, s->max, &v) == -1)
		return config_err(ps, "'%s %s': expected a whole number %lu-%lu", s->name, argv[0],
		    s->min, s->max);
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

/* answer: auto, pool CIDR4 [CIDR6], or addresses (answer_auto, answer_pool, pool,
 * answer4, answer6) */
static void
answer_clear(struct config *c, const struct setting *s)
{
	(void)s;
	free(c->answer4);
	free(c->answer6);
	c->answer4 = NULL;
	c->answer6 = NULL;
	c->nanswer4 = c->nanswer6 = 0;
	c->answer_pool = 0;
	memset(&c->pool, 0, sizeof(c->pool));
}

static int
answer_parse(struct config_parser *ps, const struct setting *s, char **argv, int argc)
{
	struct config *c = ps->c;
	char msg[256];
	int i;

	answer_clear(c, s);
	if (argc == 1 && strcmp(argv[0], "auto") == 0) {
		c->answer_auto = 1;
		return 0;
	}
	if (strcmp(argv[0], "pool") == 0) {
		if (argc < 2 || argc > 3)
			return config_err(ps, "answer pool: expected an IPv4 prefix and optionally an "
			    "IPv6 one (answer pool 172.29.0.128/25 [fd00:29::/112])");
		if (pool_net_parse(argv[1], argc == 3 ? argv[2] : NULL, &c->pool, msg,
		    sizeof(msg)) == -1)
			return config_err(ps, "answer pool: %s", msg);
		c->answer_auto = 1;	/* the answer when the pool is full */
		c->answer_pool = 1;
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
	char buf[2 * INET6_ADDRSTRLEN + 16];
	size_t i;

	(void)s;
	if (c->answer_pool) {
		pool_net_format(&c->pool, buf, sizeof(buf));
		fprintf(f, " pool %s", buf);
		return;
	}
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

/*
 * lookups-socket: "off", or "@NAME", a name in Linux's abstract socket namespace (NAME
 * 1-107 bytes of letters, digits and "._:/-"). Abstract and not a path, on purpose: both
 * daemons share one network namespace (one container), which is the abstract
 * namespace's scope; there is no directory to create and own, no file to unlink after a
 * crash, and no file mode to get right when the forwarder binds as root before dropping
 * to `user` while the resolver sends as `user`. What a file mode would have guarded (who
 * may write) the forwarder checks on every datagram instead (forwarder/lookups.c).
 */
static int
lookups_socket_parse(struct config_parser *ps, const struct setting *s, char **argv,
    int argc)
{
	const char *v = argv[0];
	size_t n = strlen(v);

	if (strcmp(v, "off") != 0 && (n < 2 || n > 108 || v[0] != '@' ||
	    strspn(v + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/-") !=
	    n - 1))
		return config_err(ps, "'%s %s': expected off or @NAME (an abstract unix socket "
		    "name: 1-107 letters, digits or ._:/-)", s->name, v);
	return string_parse(ps, s, argv, argc);
}

static const struct setting_type type_uint = { 0, uint_parse, uint_print, NULL };
static const struct setting_type type_duration = { 0, duration_parse, duration_print, NULL };
static const struct setting_type type_string = { 0, string_parse, string_print, string_clear };
static const struct setting_type type_addrs = { 1, addrs_parse, addrs_print, addrs_clear };
static const struct setting_type type_choice = { 0, choice_parse, choice_print, NULL };
static const struct setting_type type_answer = { 1, answer_parse, answer_print, answer_clear };
static const struct setting_type type_upstream = { 1, upstream_parse, upstream_print,
    addrs_clear };
static const struct setting_type type_metrics = { 0, metrics_parse, metrics_print, NULL };
static const struct setting_type type_lookups_socket = { 0, lookups_socket_parse,
    string_print, string_clear };

/* The descriptor's type and its checked field, for each kind of value. */
#define UINT(f)		.type = &type_uint, .offset = OFFSET(f, unsigned)
#define DURATION(f)	.type = &type_duration, .offset = OFFSET(f, uint64_t)
#define STRING(f)	.type = &type_string, .offset = OFFSET(f, char *)
#define ADDRS(f)	.type = &type_addrs, .offset = OFFSET(f, struct addrlist)
#define CHOICE(f)	.type = &type_choice, .offset = OFFSET(f, int)

static const char *const blocked_words[] = { "nxdomain", "refused", NULL };
static const char *const sandbox_words[] = { "off", "on", NULL };
static const char *const mode_words[] = { "enforce", "report", NULL };

static const struct setting settings[SETTING_COUNT] = {
	[SETTING_DNS_LISTEN] = { .name = "dns-listen", ADDRS(dns_listen), .port = 53,
	    .def = "0.0.0.0 ::" },
	[SETTING_FORWARD_LISTEN] = { .name = "forward-listen", ADDRS(forward_listen),
	    .port = NO_PORT, .def = "0.0.0.0 ::" },	/* ports come from allow and route */
	[SETTING_ANSWER] = { .name = "answer", .type = &type_answer, .def = "auto" },
	[SETTING_BLOCKED] = { .name = "blocked", CHOICE(blocked_refused), .words = blocked_words,
	    .expect = "nxdomain or refused", .def = "nxdomain" },
	[SETTING_TTL] = { .name = "ttl", UINT(ttl), .max = INT32_MAX, .def = "60" },
	[SETTING_NEGATIVE_TTL] = { .name = "negative-ttl", UINT(negative_ttl), .max = INT32_MAX,
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
	[SETTING_CACHE_MIN_TTL] = { .name = "cache-min-ttl", UINT(cache_min_ttl), .max = 86400,
	    .def = "5" },
	[SETTING_CACHE_MAX_TTL] = { .name = "cache-max-ttl", UINT(cache_max_ttl), .min = 1,
	    .max = 86400, .def = "300" },
	[SETTING_NEGATIVE_CACHE_TTL] = { .name = "negative-cache-ttl", UINT(negative_cache_ttl),
	    .max = 3600, .def = "5" },
	[SETTING_DNS_TCP_MAX] = { .name = "dns-tcp-max", UINT(dns_tcp_max), .min = 1,
	    .max = 100000, .def = "256" },
	[SETTING_DNS_TCP_IDLE] = { .name = "dns-tcp-idle", DURATION(dns_tcp_idle_ms),
	    .def = "10" },
	[SETTING_USER] = { .name = "user", STRING(user), .def = "nobody" },
	[SETTING_SANDBOX] = { .name = "sandbox", CHOICE(sandbox), .words = sandbox_words,
	    .expect = "on or off (off is for debugging only)", .def = "on" },
	[SETTING_LOOKUPS_SOCKET] = { .name = "lookups-socket", .type = &type_lookups_socket,
	    .offset = OFFSET(lookups_socket, char *), .def = "@gatehouse-lookups" },
	/* The whole gateway's; a `mode` line in a policy section is that policy's
	 * (config_rules_mode), and overrides this. */
	[SETTING_MODE] = { .name = "mode", CHOICE(mode_report), .words = mode_words,
	    .expect = "enforce or report", .def = "enforce" },
	/* `answer pool` (pool.h): the mapping's file, and how long an address stays its
	 * name's after the last answer (while clients may still hold it) */
	[SETTING_POOL_STATE] = { .name = "pool-state", STRING(pool_state),
	    .def = "/var/lib/gatehouse/pool" },
	[SETTING_POOL_HOLD] = { .name = "pool-hold", DURATION(pool_hold_ms), .def = "1h" },
	/* one client must not take the whole pool for a pool-hold (names made up under an
	 * allowed wildcard; any name in report mode) */
	[SETTING_POOL_MAX_PER_CLIENT] = { .name = "pool-max-per-client",
	    UINT(pool_max_per_client), .max = POOL_MAX_SLOTS, .def = "64" },
};

int
config_settings_find(const char *name)
{
	int i;

	for (i = 0; i < SETTING_COUNT; i++)
		if (strcmp(settings[i].name, name) == 0)
			return i;
	return -1;
}

const char *
config_settings_name(enum config_setting id)
{
	return settings[id].name;
}

int
config_settings_default(struct config_parser *ps)
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

int
config_settings_apply(struct config_parser *ps, const char *name, char **argv, int argc)
{
	const struct setting *s;
	int idx;

	if ((idx = config_settings_find(name)) == -1) {
		const char *words[SETTING_COUNT + 5], *best;
		size_t i;

		words[0] = "allow";
		words[1] = "route";
		words[2] = "deny";
		words[3] = "policy";
		words[4] = "stub-zone";
		for (i = 0; i < SETTING_COUNT; i++)
			words[i + 5] = settings[i].name;
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

/* Point messages at where a setting was written: its variable, or its file line. */
static void
blame(struct config_parser *ps, enum config_setting idx)
{
	if (ps->by_env[idx]) {
		config_env_name(settings[idx].name, ps->var, sizeof(ps->var));
		ps->src = ps->var;
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
	enum config_setting lo = SETTING_CACHE_MIN_TTL, hi = SETTING_CACHE_MAX_TTL;

	if (c->cache_min_ttl <= c->cache_max_ttl)
		return 0;
	/* Blame the setting written last (the environment comes after the file). */
	if (ps->by_env[hi] || (!ps->by_env[lo] && ps->seen[hi] > ps->seen[lo])) {
		blame(ps, hi);
		return config_err(ps, "cache-max-ttl %u is below cache-min-ttl %u",
		    c->cache_max_ttl, c->cache_min_ttl);
	}
	blame(ps, lo);
	return config_err(ps, "cache-min-ttl %u is above cache-max-ttl %u", c->cache_min_ttl,
	    c->cache_max_ttl);
}

/* `answer pool`: a hold no shorter than the TTL (a client may cache an answer that
 * long), and a forwarder that listens where pool connections arrive: on the wildcard
 * address of each pool family (they come to the pool's addresses, not the gateway's). */
static int
check_pool(struct config_parser *ps)
{
	const struct config *c = ps->c;
	int any4 = 0, any6 = 0;

	if (!c->answer_pool)
		return 0;
	if (c->pool_hold_ms < (uint64_t)c->ttl * 1000) {
		blame(ps, ps->by_env[SETTING_POOL_HOLD] || ps->seen[SETTING_POOL_HOLD] ?
		    SETTING_POOL_HOLD : SETTING_TTL);
		return config_err(ps, "pool-hold %llums is shorter than ttl %u: a client may use "
		    "an answer for ttl seconds, and its address must stay its name's that long",
		    (unsigned long long)c->pool_hold_ms, c->ttl);
	}
	for (size_t i = 0; i < c->forward_listen.n; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&c->forward_listen.v[i];

		if (addr_is_any(sa))
			*(sa->sa_family == AF_INET ? &any4 : &any6) = 1;
	}
	if (!any4 || (c->pool.len6 != 0 && !any6)) {
		blame(ps, SETTING_FORWARD_LISTEN);
		return config_err(ps, "answer pool: forward-listen must include %s, the wildcard "
		    "address: connections to pool addresses arrive there", !any4 ? "0.0.0.0" : "::");
	}
	if (c->dns_listen_default && config_warn(ps, "answer pool with dns-listen on the "
	    "wildcard: the forwarder then serves every address of the gateway, also its side "
	    "with a route out; set dns-listen to the gateway's address on the clients' "
	    "network") == -1)
		return -1;
	return 0;
}

int
config_settings_finish(struct config_parser *ps)
{
	struct config *c = ps->c;

	c->dns_listen_default = !ps->seen[SETTING_DNS_LISTEN] && !ps->by_env[SETTING_DNS_LISTEN];
	c->forward_listen_default = !ps->seen[SETTING_FORWARD_LISTEN] &&
	    !ps->by_env[SETTING_FORWARD_LISTEN];
	if (check_ttls(ps) == -1 || check_pool(ps) == -1)
		return -1;
	if (c->max_lookups > 1 && c->max_lookups_per_client >= c->max_lookups &&
	    config_warn(ps, "max-lookups-per-client %u is not below max-lookups %u: one client "
	    "can take every lookup in flight (a share of max-lookups/%d or less keeps the others "
	    "served)", c->max_lookups_per_client, c->max_lookups, LOOKUPS_SHARE) == -1)
		return -1;
	return 0;
}

int
config_settings_finish_policies(struct config_parser *ps)
{
	/* The forwarder sees the pool address a client dialled, not the gateway address its
	 * query arrived on: a `via` policy would hold in DNS and not at the connection. */
	if (ps->c->answer_pool && policyset_has_via(ps->c->policies)) {
		blame(ps, SETTING_ANSWER);
		return config_err(ps, "answer pool: a policy chooses its clients by via, which "
		    "connections to pool addresses cannot show (they arrive on a pool address, "
		    "not the gateway's): choose those clients by source address");
	}
	return 0;
}

void
config_settings_print(const struct config *c, FILE *f)
{
	size_t i;

	for (i = 0; i < SETTING_COUNT; i++) {
		fprintf(f, "%s", settings[i].name);
		settings[i].type->print(c, &settings[i], f);
		fprintf(f, "\n");
	}
}

void
config_settings_clear(struct config *c)
{
	size_t i;

	for (i = 0; i < SETTING_COUNT; i++)
		if (settings[i].type->clear != NULL)
			settings[i].type->clear(c, &settings[i]);
}
