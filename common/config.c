/* config.c: parse gatehouse.conf and GATEHOUSE_* variables into a struct config. */
#include "config_parser.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "hint.h"

#define MAX_ARGS 256			/* values on one line */
#define MAX_FILE (64u << 20)		/* a config file larger than this is refused */

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
		return config_rules_allow(ps, argv[1], argv[2], argc == 4 ? argv[3] : NULL);
	}
	if (strcmp(argv[0], "route") == 0) {
		if (argc < 3 || argc > 4)
			return config_err(ps, "usage: route PORT NAME[:PORT] [private]");
		return config_rules_route(ps, argv[1], argv[2], argc == 4 ? argv[3] : NULL);
	}
	return config_settings_apply(ps, argv[0], argv + 1, argc - 1);
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

/* What needs every line and variable read: routes' 'private', the settings' checks
 * across settings, the ports. */
static int
config_finish(struct config_parser *ps)
{
	struct config *c = ps->c;

	policy_finish(c->policy);
	if (config_settings_finish(ps) == -1)
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
	if (config_settings_default(&ps) == -1 ||
	    (name != NULL && (ps.c->path = strdup(name)) == NULL)) {
		config_unref(ps.c);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((src != NULL && parse_lines(&ps, src) == -1) || config_env_read(&ps, env) == -1 ||
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
	if (p == NULL && (p = config_env_get(env, "GATEHOUSE_CONFIG")) != NULL && *p != '\0' &&
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
	config_settings_clear(c);
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

	if ((idx = config_settings_find(setting)) == -1)
		return 0;
	if (c->set_env[idx])
		config_env_name(setting, buf, len);
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
	print_rules(c, f);
	config_ports_print(c, f);
	config_settings_print(c, f);
}
