/* audit_line.h: one audit line (as the daemons write it, or as docker compose logs shows it) into a record. */
#ifndef GATEHOUSE_AUDIT_LINE_H
#define GATEHOUSE_AUDIT_LINE_H

#include <stddef.h>
#include <stdint.h>

/* The names a no-name conn line's "recent" array keeps at most (the forwarder's table
 * keeps fewer); more are ignored. */
#define AUDIT_RECENT_MAX 8

/* The longest policy name (the configuration's bound). */
#define AUDIT_POLICY_MAX 32

enum audit_line_status {
	AUDIT_LINE_OK,		/* a query or conn event: *rec is filled */
	AUDIT_LINE_BLANK,	/* nothing but white space (and a compose prefix): not counted */
	AUDIT_LINE_OTHER,	/* a JSON object of another event (suppressed, dropped) */
	AUDIT_LINE_MALFORMED	/* not a JSON object, or a query/conn line missing a field
				 * every such line has (ts, client, verdict; port for conn),
				 * or whose client is no IP address or policy no policy name
				 * ([a-z0-9][a-z0-9-]*, at most 32 bytes) */
};

enum audit_event { AUDIT_QUERY, AUDIT_CONN };

/*
 * The fields the learning command uses. Every string points into the parsed line and
 * stays valid until audit_rec_free; a field absent from the line is NULL, except policy
 * ("default" when absent). Unknown fields are ignored. client is an IP address and
 * policy a policy name (so both may be written into a configuration); every other
 * string is as the line has it, any bytes but NUL.
 */
struct audit_rec {
	enum audit_event event;
	int64_t ts_us;		/* "ts", microseconds since the epoch (UTC) */
	const char *ts;		/* as written */
	const char *client;
	int client_port;	/* -1 when absent */
	const char *policy;
	const char *name;	/* query: "qname"; conn: "name" */
	const char *qtype, *rcode;
	unsigned port;		/* conn only; 0 for a query */
	const char *via, *route, *upstream;
	const char *verdict, *reason, *rule, *detail;
	const char *mode, *enforce, *enforce_reason;
	const char *recent[AUDIT_RECENT_MAX];	/* newest first */
	size_t nrecent;
	void *json;		/* the parsed object (internal) */
};

/*
 * Parse line[0..len) (no newline needed; a trailing CR or LF is ignored). A `docker
 * compose logs` prefix ("NAME-1  | " of compose v2, "NAME_1  | " of v1, NAME any run of
 * [A-Za-z0-9._-]) is skipped first. On AUDIT_LINE_OK the caller owns rec and frees it
 * with audit_rec_free; on any other status rec holds nothing to free. Pure: no I/O.
 */
enum audit_line_status audit_line_parse(const char *line, size_t len, struct audit_rec *rec);
void audit_rec_free(struct audit_rec *rec);

/* Where the JSON starts in line[0..len): after a compose prefix when there is one, else
 * line itself. Exposed for tests. */
const char *audit_line_strip(const char *line, size_t len);

#endif
