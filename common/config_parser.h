/* config_parser.h: a configuration being read; shared by config*.c, never by the daemons. */
#ifndef GATEHOUSE_CONFIG_PARSER_H
#define GATEHOUSE_CONFIG_PARSER_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"

/* One configuration being read: where the reader is, for messages and rule origins. */
struct config_parser {
	struct config *c;		/* being filled in */
	const char *src;		/* file name, or the variable's name */
	unsigned line;			/* 0 for the environment */
	unsigned *seen;			/* per setting: line it was set on, 0 if not yet */
	unsigned char *by_env;		/* per setting: set (last) by a variable */
	const char *file;		/* the file's name, for messages after the file */
	size_t section;			/* the policy lines go to: 0 global, else the index of
					 * the `policy` section (or variable) being read */
	char var[128];			/* the variable's name, when src points here */
	char *err;
	size_t errlen;
};

/* ---- config.c ---- */

/* Write "SRC:LINE: message" (or "VARIABLE: message") to ps->err; returns -1. */
int config_err(struct config_parser *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Add a line to c->warnings: something worth saying that is not an error (the daemons
 * log it at start). 0, or -1 (config_err) when out of memory. */
int config_warn(struct config_parser *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "FILE:LINE" or the variable's name: where the reader is, for rule origins. */
void config_where(const struct config_parser *ps, char *buf, size_t len);

/* ---- config_settings.c ---- */

/* The settings, in the order --check prints them (and hints prefer them). */
enum config_setting {
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
	SETTING_LOOKUPS_SOCKET,
	SETTING_MODE,
	SETTING_POOL_STATE,
	SETTING_POOL_HOLD,
	SETTING_POOL_MAX_PER_CLIENT,
	SETTING_COUNT
};

/* The setting called name ("dns-listen"), or -1. */
int config_settings_find(const char *name);

const char *config_settings_name(enum config_setting id);

/* Set every setting to its default (the descriptors' defaults are valid: -1 means out of
 * memory). */
int config_settings_default(struct config_parser *ps);

/* A setting from a line (ps->line > 0) or a variable: "NAME VALUE...". Refuses an unknown
 * name (with the closest directive), a setting written twice in the file, a wrong number
 * of values and a bad value; records where it was set (ps->seen, ps->by_env). 0 or -1. */
int config_settings_apply(struct config_parser *ps, const char *name, char **argv, int argc);

/* Once every line and variable is read: the listen-default flags, the checks across
 * settings (blamed on the one written last) and their warnings. 0 or -1. */
int config_settings_finish(struct config_parser *ps);
/* The checks of settings that need the policies built (policyset_finish): 0 or -1. */
int config_settings_finish_policies(struct config_parser *ps);

/* One line per setting, "NAME VALUE...", as a file would set it (config_print). */
void config_settings_print(const struct config *c, FILE *f);

/* Free what the settings' values hold (config_unref). */
void config_settings_clear(struct config *c);

/* ---- config_rules.c ---- */

/* allow NAME PORTS [private] (flag: NULL, or the word after the ports): a rule in the
 * policy, where the reader is. The same rule written twice is a warning. 0 or -1. */
int config_rules_allow(struct config_parser *ps, const char *name, const char *ports,
    const char *flag);

/* deny NAME [PORTS] (ports: NULL for every port): a deny rule in the policy, which wins
 * over every allow rule that matches the same (name, port). 0 or -1. */
int config_rules_deny(struct config_parser *ps, const char *name, const char *ports);

/* After every line and variable: a route whose name a deny rule covers on its port is an
 * error at the route's place (it could never be used). 0 or -1. */
int config_rules_check_routes(struct config_parser *ps);

/* route PORT NAME[:PORT] [private]: connections to the listening port PORT go to NAME
 * (on PORT, or on the port after ':'), and a rule allows NAME on PORT. 0 or -1. */
int config_rules_route(struct config_parser *ps, const char *portstr, const char *target,
    const char *flag);

/* policy NAME SPEC...: a new section (argv: NAME and the specs); the allow and mode lines
 * after it go to it. Refuses a bad or reused name, a bad spec, a spec already in a policy
 * (naming both lines), no spec. 0 or -1. */
int config_rules_policy(struct config_parser *ps, char **argv, int argc);

/* Add client specs ("ADDR", "ADDR/LEN", "via" then "ADDR") to policy idx. 0 or -1. */
int config_rules_specs(struct config_parser *ps, size_t idx, char **argv, int argc);

/* mode enforce|report inside a policy section (or its _MODE variable). 0 or -1. */
int config_rules_mode(struct config_parser *ps, const char *word);

/* The policy the reader adds rules to (ps->section's). */
struct policy *config_rules_target(const struct config_parser *ps);

/* ---- config_zones.c ---- */

/* stub-zone ZONE SERVER[:PORT]... (argv: ZONE and the servers). Refuses the root, a
 * public suffix, a zone written twice, names as servers. 0 or -1. */
int config_zones_stub(struct config_parser *ps, char **argv, int argc);
/* After every line: a server that is a dns-listen address is an error. 0 or -1. */
int config_zones_finish(struct config_parser *ps);
/* The stub-zone lines, for --check. */
void config_zones_print(const struct config *c, FILE *f);
/* Free them (config_unref). */
void config_zones_clear(struct config *c);

/* ---- config_env.c ---- */

/* The value of variable name in env (NULL-terminated "NAME=value" strings, or NULL), or
 * NULL when it is not there. Points into env. */
const char *config_env_get(char *const *env, const char *name);

/* The variable for setting (or directive) name: "dns-listen" -> "GATEHOUSE_DNS_LISTEN". */
void config_env_name(const char *name, char *var, size_t varlen);

/* Read the GATEHOUSE_* entries of env, in order: GATEHOUSE_ALLOW and GATEHOUSE_ROUTE add
 * rules, GATEHOUSE_<SETTING> replaces a setting, GATEHOUSE_CONFIG is only checked (config_load
 * read it); any other name starting with "gatehouse_" in any case is an error. 0 or -1. */
int config_env_read(struct config_parser *ps, char *const *env);

/* ---- config_file.c ---- */

/* Where a file's lines come from: a buffer (buf, len), or, when f is not NULL, a stream
 * read a line at a time, so a large allowlist is never held twice in memory. */
struct config_source {
	const char *buf;
	size_t len;
	FILE *f;
};

/* Read every line of src (ps->line counts them): allow, route, settings, comments. 0, or
 * -1 with "SRC:LINE: what is wrong" (a stream over 64 MiB is refused). */
int config_file_read(struct config_parser *ps, const struct config_source *src);

#endif
