/* summary_print.c: the summary as a table for people or as JSON for tools. */
#include "summary.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "audit_time.h"

enum { COL_POLICY, COL_CLIENT, COL_EVENT, COL_NAME, COL_PORT, COL_VERDICT, COL_COUNT,
	COL_FIRST, COL_LAST, NCOL };

static const char *const heads[NCOL] = {
	"POLICY", "CLIENT", "EVENT", "NAME", "PORT", "VERDICT", "COUNT", "FIRST", "LAST"
};

/* The verdict column: "allow", "deny not-allowed", "allow would-deny not-allowed". */
static void
verdict_text(const struct summary_row *r, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s", r->verdict, r->would_deny ? " would-deny" : "",
	    r->reason[0] ? " " : "", r->reason);
}

/* Cell c of row r into buf (printable ASCII only: anything else is shown as '?'). */
static void
cell(const struct summary_row *r, int c, char *buf, size_t len)
{
	switch (c) {
	case COL_POLICY: snprintf(buf, len, "%s", r->policy); break;
	case COL_CLIENT: snprintf(buf, len, "%s", r->client); break;
	case COL_EVENT: snprintf(buf, len, "%s", r->event == AUDIT_QUERY ? "query" : "conn"); break;
	case COL_NAME: snprintf(buf, len, "%s", r->name[0] ? r->name : "-"); break;
	case COL_PORT:
		if (r->port)
			snprintf(buf, len, "%u", r->port);
		else
			snprintf(buf, len, "-");
		break;
	case COL_VERDICT: verdict_text(r, buf, len); break;
	case COL_COUNT: snprintf(buf, len, "%llu", (unsigned long long)r->count); break;
	case COL_FIRST: audit_time_format(r->first, buf, len); break;
	default: audit_time_format(r->last, buf, len); break;
	}
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
}

/* One cell padded to width, or the last one of its row and the newline. */
static void
put_cell(FILE *f, const char *text, size_t width, int col)
{
	if (col + 1 == NCOL)
		fprintf(f, "%s\n", text);
	else if (col == COL_COUNT)
		fprintf(f, "%*s  ", (int)width, text);
	else
		fprintf(f, "%-*s  ", (int)width, text);
}

int
summary_print_table(struct summary *s, FILE *f)
{
	size_t w[NCOL];
	char buf[512];

	summary_sort(s);
	for (int c = 0; c < NCOL; c++)
		w[c] = strlen(heads[c]);
	for (size_t i = 0; i < s->n; i++)
		for (int c = 0; c < NCOL; c++) {
			cell(&s->rows[i], c, buf, sizeof(buf));
			if (strlen(buf) > w[c])
				w[c] = strlen(buf);
		}
	for (int c = 0; c < NCOL; c++)
		put_cell(f, heads[c], w[c], c);
	for (size_t i = 0; i < s->n; i++)
		for (int c = 0; c < NCOL; c++) {
			cell(&s->rows[i], c, buf, sizeof(buf));
			put_cell(f, buf, w[c], c);
		}
	return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}

static json_t *
row_json(const struct summary_row *r)
{
	char first[40], last[40];
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "event", json_string(r->event == AUDIT_QUERY ? "query" : "conn"));
	if (r->name[0])
		json_object_set_new(o, "name", json_string(r->name));
	if (r->port)
		json_object_set_new(o, "port", json_integer(r->port));
	json_object_set_new(o, "verdict", json_string(r->verdict));
	if (r->would_deny)
		json_object_set_new(o, "enforce", json_string("deny"));
	if (r->reason[0])
		json_object_set_new(o, r->would_deny ? "enforce_reason" : "reason",
		    json_string(r->reason));
	json_object_set_new(o, "count", json_integer((json_int_t)r->count));
	json_object_set_new(o, "first", json_string(audit_time_format(r->first, first,
	    sizeof(first))));
	json_object_set_new(o, "last", json_string(audit_time_format(r->last, last,
	    sizeof(last))));
	return o;
}

/* The document; NULL when out of memory. Rows are sorted, so a policy's and a client's
 * rows are adjacent. */
static json_t *
summary_json(const struct summary *s)
{
	json_t *doc = json_object(), *policies = json_array();
	json_t *pol = NULL, *clients = NULL, *cl = NULL, *rows = NULL;

	if (doc == NULL || policies == NULL)
		goto fail;
	json_object_set_new(doc, "policies", policies);
	for (size_t i = 0; i < s->n; i++) {
		const struct summary_row *r = &s->rows[i], *prev = i ? &s->rows[i - 1] : NULL;

		if (prev == NULL || strcmp(prev->policy, r->policy) != 0) {
			pol = json_object();
			clients = json_array();
			json_object_set_new(pol, "policy", json_string(r->policy));
			json_object_set_new(pol, "clients", clients);
			json_array_append_new(policies, pol);
			prev = NULL;
		}
		if (prev == NULL || strcmp(prev->client, r->client) != 0) {
			cl = json_object();
			rows = json_array();
			json_object_set_new(cl, "client", json_string(r->client));
			json_object_set_new(cl, "count", json_integer((json_int_t)r->client_total));
			json_object_set_new(cl, "rows", rows);
			json_array_append_new(clients, cl);
		}
		if (json_array_append_new(rows, row_json(r)) == -1)
			goto fail;
	}
	return doc;
fail:
	json_decref(doc);
	return NULL;
}

int
summary_print_json(struct summary *s, FILE *f)
{
	json_t *doc;
	int rc;

	summary_sort(s);
	if ((doc = summary_json(s)) == NULL)
		return -1;
	rc = json_dumpf(doc, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (rc == 0)
		fputc('\n', f);
	return rc == 0 && fflush(f) == 0 && !ferror(f) ? 0 : -1;
}
