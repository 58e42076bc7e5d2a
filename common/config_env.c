/* config_env.c: the GATEHOUSE_* variables, and what a misspelt name or value probably meant. */
#include "config_parser.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dname.h"
#include "hint.h"
#include "util.h"

#define ENV_PREFIX "GATEHOUSE_"

const char *
config_env_get(char *const *env, const char *name)
{
	size_t nl = strlen(name);

	for (; env != NULL && *env != NULL; env++)
		if (strncmp(*env, name, nl) == 0 && (*env)[nl] == '=')
			return *env + nl + 1;
	return NULL;
}

/* Each blank- or ';'-separated item of value, in a writable copy (*copy). On success
 * the caller frees *items and *copy; on error (out of memory) nothing is left to free. */
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
			free(*copy);
			*copy = NULL;
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

/* GATEHOUSE_ALLOW="name:ports[:private] ..." or (deny) GATEHOUSE_DENY="name[:ports] ..."
 * (a deny without ports: every port). */
static int
env_rules(struct config_parser *ps, const char *value, int deny)
{
	char **items = NULL, *copy = NULL;
	int n = 0, i, rc = 0;

	if (env_items(ps, value, &items, &n, &copy) == -1)
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		char *ports = strchr(items[i], ':'), *flag = NULL;

		if ((rc = env_allow_mistake(ps, items[i], i + 1 < n ? items[i + 1] : NULL)) == -1)
			break;
		if (ports == NULL && !deny) {
			rc = config_err(ps, "'%s': write NAME:PORTS[:private], e.g. "
			    "smtp.gmail.com:465,587", items[i]);
			break;
		}
		if (ports != NULL) {
			*ports++ = '\0';
			if ((flag = strchr(ports, ':')) != NULL)
				*flag++ = '\0';
		}
		if (deny && flag != NULL) {
			rc = config_err(ps, "'%s:%s:%s': write NAME[:PORTS], e.g. vault.example.com "
			    "or vault.example.com:443 (a deny has no options)", items[i], ports, flag);
			break;
		}
		rc = deny ? config_rules_deny(ps, items[i], ports) :
		    config_rules_allow(ps, items[i], ports, flag);
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

	if (env_items(ps, value, &items, &n, &copy) == -1)
		return -1;
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
	static const char *const extra[] = { "allow", "deny", "route", "config" };
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
	    "GATEHOUSE_DENY, GATEHOUSE_ROUTE, GATEHOUSE_CONFIG and GATEHOUSE_<SETTING>, e.g. "
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
	if (env_items(ps, value, &items, &n, &copy) == -1)
		return -1;
	rc = config_settings_apply(ps, name, items, n);
	free(items);
	free(copy);
	return rc;
}

/* ---- GATEHOUSE_POLICY_<NAME>[_ALLOW|_DENY|_MODE] ---- */

#define POLICY_PREFIX ENV_PREFIX "POLICY_"

static const char *const policy_suffixes[] = { "_ALLOW", "_DENY", "_MODE" };

/* The suffix of var (a GATEHOUSE_POLICY_ variable) among policy_suffixes, or -1 (the
 * variable declaring the policy). */
static int
policy_suffix(const char *var)
{
	size_t i, vl = strlen(var);

	for (i = 0; i < NELEM(policy_suffixes); i++) {
		size_t sl = strlen(policy_suffixes[i]);

		if (vl >= sl && strcmp(var + vl - sl, policy_suffixes[i]) == 0)
			return (int)i;
	}
	return -1;
}

/* The policy's name in var (between the prefix and the suffix: upper case, '_' for '-')
 * into name. 0, or -1 with the message. */
static int
policy_var_name(struct config_parser *ps, const char *var, int suffix, char *name,
    size_t len)
{
	const char *p = var + strlen(POLICY_PREFIX);
	size_t n = strlen(p) - (suffix >= 0 ? strlen(policy_suffixes[suffix]) : 0), i;

	if (n == 0 || n >= len)
		return config_err(ps, "write GATEHOUSE_POLICY_<NAME>, with NAME at most %d "
		    "characters", POLICYSET_NAME_MAX);
	for (i = 0; i < n; i++) {
		if ((p[i] >= 'a' && p[i] <= 'z') || p[i] == '-')
			return config_err(ps, "gatehouse variables are upper case, with '_' for "
			    "'-' in a policy's name");
		name[i] = p[i] == '_' ? '-' : (p[i] >= 'A' && p[i] <= 'Z') ? (char)(p[i] + 32) : p[i];
	}
	name[n] = '\0';
	return 0;
}

/* The GATEHOUSE_POLICY_ variables: the declarations first (so a policy's _ALLOW may come
 * before it in the environment), then their rules and modes. 0 or -1. */
static int
env_policies(struct config_parser *ps, char *const *env)
{
	char name[POLICYSET_NAME_MAX + 2], msg[512], **items = NULL, *copy = NULL;
	int pass, suffix, idx, n = 0, rc;

	for (pass = 0; pass < 2; pass++) {
		char *const *e;

		for (e = env; e != NULL && *e != NULL; e++) {
			const char *eq = strchr(*e, '='), *value;
			size_t vl;

			if (strncmp(*e, POLICY_PREFIX, strlen(POLICY_PREFIX)) != 0 || eq == NULL)
				continue;
			vl = (size_t)(eq - *e) < sizeof(ps->var) ? (size_t)(eq - *e) :
			    sizeof(ps->var) - 1;
			memcpy(ps->var, *e, vl);
			ps->var[vl] = '\0';
			ps->src = ps->var;
			ps->line = 0;
			value = eq + 1;
			suffix = policy_suffix(ps->var);
			if ((suffix >= 0) != (pass == 1))
				continue;
			if (policy_var_name(ps, ps->var, suffix, name, sizeof(name)) == -1 ||
			    env_value_mistake(ps, ps->var, value) == -1)
				return -1;
			if (pass == 0) {
				if ((idx = policyset_add(ps->c->policies, name, msg, sizeof(msg))) == -1)
					return config_err(ps, "policy %s", msg);
				if (env_items(ps, value, &items, &n, &copy) == -1)
					return -1;
				rc = config_rules_specs(ps, (size_t)idx, items, n);
				free(items);
				free(copy);
				if (rc == -1)
					return -1;
				continue;
			}
			if ((idx = policyset_find(ps->c->policies, name)) <= 0)
				return config_err(ps, "no policy %s: declare it with "
				    POLICY_PREFIX "%.*s or a policy line", name,
				    (int)(strlen(ps->var) - strlen(POLICY_PREFIX) -
				    strlen(policy_suffixes[suffix])), ps->var + strlen(POLICY_PREFIX));
			ps->section = (size_t)idx;
			if (suffix == 2)
				rc = config_rules_mode(ps, value + strspn(value, " \t"));
			else	/* _ALLOW, _DENY: as GATEHOUSE_ALLOW, GATEHOUSE_DENY */
				rc = env_rules(ps, value, suffix == 1);
			ps->section = 0;
			if (rc == -1)
				return -1;
		}
	}
	return 0;
}

int
config_env_read(struct config_parser *ps, char *const *env)
{
	char *var = ps->var;
	char *const *e;

	ps->section = 0;
	for (e = env; e != NULL && *e != NULL; e++) {
		const char *eq = strchr(*e, '=');
		size_t vl;

		if (strncasecmp(*e, ENV_PREFIX, strlen(ENV_PREFIX)) != 0 || eq == NULL)
			continue;
		vl = (size_t)(eq - *e);
		if (vl >= sizeof(ps->var))
			vl = sizeof(ps->var) - 1;
		memcpy(var, *e, vl);
		var[vl] = '\0';
		ps->src = var;
		ps->line = 0;
		/* The name first (an unknown one is the mistake to report), then the value. */
		if (strncmp(var, ENV_PREFIX, strlen(ENV_PREFIX)) != 0)
			return env_unknown(ps, var);
		if (strncmp(var, POLICY_PREFIX, strlen(POLICY_PREFIX)) == 0)
			continue;	/* env_policies, once the rest is read */
		if (strcmp(var, "GATEHOUSE_CONFIG") == 0) {
			if (env_value_mistake(ps, var, eq + 1) == -1)	/* config_load read it */
				return -1;
		} else if (strcmp(var, "GATEHOUSE_ALLOW") == 0) {
			if (env_value_mistake(ps, var, eq + 1) == -1 || env_rules(ps, eq + 1, 0) == -1)
				return -1;
		} else if (strcmp(var, "GATEHOUSE_DENY") == 0) {
			if (env_value_mistake(ps, var, eq + 1) == -1 || env_rules(ps, eq + 1, 1) == -1)
				return -1;
		} else if (strcmp(var, "GATEHOUSE_ROUTE") == 0) {
			if (env_value_mistake(ps, var, eq + 1) == -1 || env_route(ps, eq + 1) == -1)
				return -1;
		} else if (env_setting(ps, var, eq + 1) == -1)
			return -1;
	}
	return env_policies(ps, env);
}
