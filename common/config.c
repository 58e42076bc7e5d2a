/* config.c: a struct config from its defaults, gatehouse.conf and GATEHOUSE_*, in that order. */
#include "config_parser.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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

static struct config *
config_new(void)
{
	struct config *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->refs = 1;
	if ((c->policy = policy_new()) == NULL ||
	    (c->policies = policyset_new(c->policy)) == NULL ||
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
	size_t i;

	for (i = 0; i < policyset_count(c->policies); i++)
		policy_finish(policyset_policy(c->policies, i));
	if (config_rules_check_routes(ps) == -1 || config_settings_finish(ps) == -1 ||
	    config_zones_finish(ps) == -1)
		return -1;
	policyset_set_default_mode(c->policies, c->mode_report ? MODE_REPORT : MODE_ENFORCE);
	if (policyset_finish(c->policies) == -1) {
		snprintf(ps->err, ps->errlen, "out of memory");
		return -1;
	}
	if (config_settings_finish_policies(ps) == -1)
		return -1;
	return config_ports_build(ps->c, ps->err, ps->errlen);
}

/* The defaults, then the lines of src (NULL: no file), then the environment. */
static int
config_read(const char *name, const struct config_source *src, char *const *env,
    struct config **out, char *err, size_t errlen)
{
	struct config_parser ps;

	*out = NULL;
	policy_psl_load();	/* the first load, before any sandbox: policy.c says why */
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
	if ((src != NULL && config_file_read(&ps, src) == -1) || config_env_read(&ps, env) == -1 ||
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
	struct config_source src = { buf, len, NULL };

	return config_read(name, buf != NULL ? &src : NULL, env, out, err, errlen);
}

int
config_load(const char *path, char *const *env, struct config **out, char *err,
    size_t errlen)
{
	const char *p = path;
	struct config_source src = { NULL, 0, NULL };
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
	if ((src.f = fopen(p, "r")) == NULL) {
		if (!(optional && errno == ENOENT)) {
			snprintf(err, errlen, "%s: cannot open: %s", p, strerror(errno));
			return -1;
		}
		return config_read(NULL, NULL, env, out, err, errlen);
	}
	rc = config_read(p, &src, env, out, err, errlen);
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
	policyset_free(c->policies);
	policy_free(c->policy);
	for (i = 0; i < c->nroutes; i++) {
		free(c->routes[i].name);
		free(c->routes[i].origin);
	}
	free(c->routes);
	free(c->ports);
	config_zones_clear(c);
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
