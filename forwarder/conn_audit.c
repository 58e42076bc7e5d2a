/* conn_audit.c: the forwarder's "conn" audit line, for every outcome of a connection. */
#include <stdio.h>

#include "conn_audit.h"
#include "dname.h"

/* The fields every conn line has, in their order, after audit_begin succeeded. */
static void
put_facts(struct audit *a, const struct conn_facts *cf, const char *verdict)
{
	audit_client(a, cf->peer, cf->policy);
	audit_uint(a, "port", cf->port);
	if (cf->name != NULL && cf->name[0] != '\0')
		audit_safe(a, "name", cf->name);
	if (cf->via != VIA_NONE)
		audit_safe(a, "via", conn_via_name(cf->via));
	if (cf->route != NULL) {	/* a routed port: where it goes, whatever was named */
		char rt[DNAME_MAX + 8];

		snprintf(rt, sizeof(rt), "%s:%u", cf->route, cf->target_port);
		audit_safe(a, "route", rt);
	}
	audit_safe(a, "verdict", verdict);
	if (cf->rule != NULL)
		audit_safe(a, "rule", cf->rule);
}

/* Under report mode: what enforce would have done. For a name no rule allows, enforce
 * refuses it as not-allowed before anything else, and for one a deny rule refuses (the
 * line's "rule", the only rule a would-be denial carries) as denied; otherwise a refusal
 * (deny_reason) is the same in enforce, and what was relayed enforce relays too. */
static void
put_report(struct audit *a, const struct conn_facts *cf, const char *deny_reason)
{
	if (!cf->report)
		return;
	if (cf->would_deny)
		audit_report(a, 0, conn_deny_name(cf->rule != NULL ? DENY_DENIED :
		    DENY_NOT_ALLOWED), NULL);
	else
		audit_report(a, deny_reason == NULL, deny_reason, NULL);
}

void
conn_audit_deny(struct audit *a, const struct conn_facts *cf, enum deny reason,
    const char *detail)
{
	if (!audit_begin(a, "conn", cf->peer))
		return;
	put_facts(a, cf, "deny");
	audit_safe(a, "reason", conn_deny_name(reason));
	if (detail != NULL && detail[0] != '\0')
		audit_str(a, "detail", detail);
	if (cf->nrecent > 0)	/* names the resolver validated (common/lookups.c) */
		audit_strarray(a, "recent", cf->recent, cf->nrecent);
	if (cf->ech)
		audit_safe(a, "ech", "outer-sni");
	if (cf->timed)
		audit_uint(a, "ms", cf->ms);
	put_report(a, cf, conn_deny_name(reason));
	audit_end(a);
}

void
conn_audit_allow(struct audit *a, const struct conn_facts *cf,
    const struct sockaddr *upstream, uint64_t bytes_up, uint64_t bytes_down, const char *end)
{
	if (!audit_begin(a, "conn", cf->peer))
		return;
	put_facts(a, cf, "allow");
	audit_addr(a, "upstream", upstream, 1);
	audit_uint(a, "bytes_up", bytes_up);
	audit_uint(a, "bytes_down", bytes_down);
	if (cf->timed)
		audit_uint(a, "ms", cf->ms);
	audit_safe(a, "end", end);
	if (cf->ech)
		audit_safe(a, "ech", "outer-sni");
	put_report(a, cf, NULL);
	audit_end(a);
}

void
conn_audit_abort(struct audit *a, const struct conn_facts *cf, const char *state,
    const char *end)
{
	if (!audit_begin(a, "conn", cf->peer))
		return;
	put_facts(a, cf, "abort");
	audit_safe(a, "state", state);
	if (cf->timed)
		audit_uint(a, "ms", cf->ms);
	audit_safe(a, "end", end);
	put_report(a, cf, NULL);
	audit_end(a);
}
