/* audit_line.c: one audit JSON line (compose prefix accepted) into a record, with jansson; pure. */
#include "audit_line.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "audit_time.h"

static int
is_name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	    ch == '.' || ch == '_' || ch == '-';
}

const char *
audit_line_strip(const char *line, size_t len)
{
	size_t i = 0, name_end;

	while (i < len && is_name_char(line[i]))
		i++;
	name_end = i;
	/* "NAME-1" or "NAME_1": a service name, a separator, a replica number */
	{
		size_t d = name_end;

		while (d > 0 && line[d - 1] >= '0' && line[d - 1] <= '9')
			d--;
		if (d == name_end || d < 2 || (line[d - 1] != '-' && line[d - 1] != '_'))
			return line;
	}
	if (i >= len || line[i] != ' ')
		return line;
	while (i < len && line[i] == ' ')
		i++;
	if (i >= len || line[i] != '|')
		return line;
	i++;
	if (i < len && line[i] == ' ')
		i++;
	return line + i;
}

/* The string field key of o, or NULL when absent or not a string. */
static const char *
str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* An integer field within [lo, hi], or -1 when absent, not an integer or out of range. */
static long long
num(json_t *o, const char *key, long long lo, long long hi)
{
	json_t *v = json_object_get(o, key);
	long long x;

	if (!json_is_integer(v))
		return -1;
	x = json_integer_value(v);
	return x < lo || x > hi ? -1 : x;
}

static void
take_recent(json_t *o, struct audit_rec *rec)
{
	json_t *a = json_object_get(o, "recent");
	size_t i;
	json_t *v;

	if (!json_is_array(a))
		return;
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);

		if (s != NULL && rec->nrecent < AUDIT_RECENT_MAX)
			rec->recent[rec->nrecent++] = s;
	}
}

/* An address as the daemons write a client (inet_ntop's form, IPv4 or IPv6). */
static int
is_address(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* A policy name as the configuration allows it: [a-z0-9][a-z0-9-]*, at most 32 bytes. */
static int
is_policy_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > AUDIT_POLICY_MAX || *s == '-')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return 0;
	return 1;
}

/* Fill rec from o, an object of event ev; AUDIT_LINE_MALFORMED when a required field is
 * missing, or client or policy is not what a daemon writes there. */
static enum audit_line_status
take_fields(json_t *o, enum audit_event ev, struct audit_rec *rec)
{
	long long port;

	rec->event = ev;
	rec->ts = str(o, "ts");
	rec->client = str(o, "client");
	rec->verdict = str(o, "verdict");
	if (rec->ts == NULL || audit_time_parse(rec->ts, &rec->ts_us) == -1 ||
	    rec->client == NULL || !is_address(rec->client) || rec->verdict == NULL)
		return AUDIT_LINE_MALFORMED;
	rec->client_port = (int)num(o, "client_port", 0, 65535);
	rec->policy = str(o, "policy");
	if (rec->policy == NULL)
		rec->policy = "default";
	else if (!is_policy_name(rec->policy))
		return AUDIT_LINE_MALFORMED;
	if (ev == AUDIT_QUERY) {
		rec->name = str(o, "qname");
		rec->qtype = str(o, "qtype");
		rec->rcode = str(o, "rcode");
	} else {
		port = num(o, "port", 1, 65535);
		if (port == -1)
			return AUDIT_LINE_MALFORMED;
		rec->port = (unsigned)port;
		rec->name = str(o, "name");
		rec->via = str(o, "via");
		rec->route = str(o, "route");
		rec->upstream = str(o, "upstream");
		take_recent(o, rec);
	}
	rec->reason = str(o, "reason");
	rec->rule = str(o, "rule");
	rec->detail = str(o, "detail");
	rec->mode = str(o, "mode");
	rec->enforce = str(o, "enforce");
	rec->enforce_reason = str(o, "enforce_reason");
	return AUDIT_LINE_OK;
}

enum audit_line_status
audit_line_parse(const char *line, size_t len, struct audit_rec *rec)
{
	const char *p = audit_line_strip(line, len);
	size_t n = len - (size_t)(p - line);
	const char *event;
	enum audit_line_status st;
	json_error_t jerr;
	json_t *o;

	memset(rec, 0, sizeof(*rec));
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' ||
	    p[n - 1] == '\t'))
		n--;
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	if (n == 0)
		return AUDIT_LINE_BLANK;
	o = json_loadb(p, n, JSON_DECODE_ANY, &jerr);
	if (o == NULL)
		return AUDIT_LINE_MALFORMED;
	if (!json_is_object(o)) {
		json_decref(o);
		return AUDIT_LINE_MALFORMED;
	}
	event = str(o, "event");
	if (event == NULL || (strcmp(event, "query") != 0 && strcmp(event, "conn") != 0)) {
		json_decref(o);
		return AUDIT_LINE_OTHER;
	}
	st = take_fields(o, strcmp(event, "query") == 0 ? AUDIT_QUERY : AUDIT_CONN, rec);
	if (st != AUDIT_LINE_OK) {
		json_decref(o);
		memset(rec, 0, sizeof(*rec));
		return st;
	}
	rec->json = o;
	return AUDIT_LINE_OK;
}

void
audit_rec_free(struct audit_rec *rec)
{
	if (rec->json != NULL)
		json_decref((json_t *)rec->json);
	memset(rec, 0, sizeof(*rec));
}
