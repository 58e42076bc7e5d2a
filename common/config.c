/* config.c: parse gatehouse.conf and GATEHOUSE_* variables into a struct config. */
#include "config_parser.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
		rc = config_rules_allow(ps, items[i], ports, flag);
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
		rc = config_rules_route(ps, items[i], target, flag);
	}
	free(items);
	free(copy);
	return rc;
}

/* The variable for setting (or directive) name: "GATEHOUSE_DNS_LISTEN". */
void
config_env_name(const char *name, char *var, size_t varlen)
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
		config_env_name(extra[i], names[n++], sizeof(names[0]));
	for (i = 0; i < SETTING_COUNT; i++)
		config_env_name(config_settings_name(i), names[n++], sizeof(names[0]));
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
	if (config_settings_find(name) == -1)
		return env_unknown(ps, var);
	if (env_value_mistake(ps, var, value) == -1)
		return -1;
	if (env_items(ps, value, &items, &n, &copy) == -1) {
		free(copy);
		return -1;
	}
	rc = config_settings_apply(ps, name, items, n);
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
