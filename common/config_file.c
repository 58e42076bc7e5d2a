/* config_file.c: the lines of gatehouse.conf, from a buffer or a stream, into directives. */
#include "config_parser.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hint.h"

#define MAX_ARGS 256			/* values on one line */
#define MAX_FILE (64u << 20)		/* a config file larger than this is refused */

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

static int section_line(struct config_parser *ps, char **argv, int argc);

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
	if (strcmp(argv[0], "deny") == 0) {
		if (argc == 4 && strcmp(argv[3], "private") == 0)
			return config_err(ps, "deny %s: 'private' is for allow rules; a deny "
			    "refuses whatever the address", argv[1]);
		if (argc < 2 || argc > 3)
			return config_err(ps, "usage: deny NAME [PORTS]");
		return config_rules_deny(ps, argv[1], argc == 3 ? argv[2] : NULL);
	}
	if (strcmp(argv[0], "policy") == 0)
		return config_rules_policy(ps, argv + 1, argc - 1);
	return section_line(ps, argv, argc);
}

/* route and settings: gateway-wide, so not inside a policy section (but `mode`). */
static int
section_line(struct config_parser *ps, char **argv, int argc)
{
	const char *pol = policyset_name(ps->c->policies, ps->section);

	if (ps->section > 0 && strcmp(argv[0], "mode") == 0) {
		if (argc != 2)
			return config_err(ps, "usage: mode enforce|report");
		return config_rules_mode(ps, argv[1]);
	}
	if (ps->section > 0 && strcmp(argv[0], "route") == 0)
		return config_err(ps, "route inside policy %s: routes are gateway-wide; write "
		    "them before the first policy line", pol);
	if (strcmp(argv[0], "route") == 0) {
		if (argc < 3 || argc > 4)
			return config_err(ps, "usage: route PORT NAME[:PORT] [private]");
		return config_rules_route(ps, argv[1], argv[2], argc == 4 ? argv[3] : NULL);
	}
	if (strcmp(argv[0], "stub-zone") == 0) {
		if (ps->section > 0)
			return config_err(ps, "stub-zone inside policy %s: stub zones are "
			    "gateway-wide; write them before the first policy line", pol);
		return config_zones_stub(ps, argv + 1, argc - 1);
	}
	if (ps->section > 0 && config_settings_find(argv[0]) != -1)
		return config_err(ps, "'%s' inside policy %s: settings are gateway-wide (only "
		    "allow, deny and mode lines belong to a policy); write it before the first policy "
		    "line", argv[0], pol);
	return config_settings_apply(ps, argv[0], argv + 1, argc - 1);
}

/* A source being read: how far, and the current line. */
struct reader {
	const struct config_source *src;
	size_t off;			/* buffer: where the next line starts */
	size_t total;			/* stream: bytes read so far */
	char *line;
	size_t cap;
};

/* The next line, without its newline, NUL-terminated in s->line; *ll its length (which
 * a NUL byte inside makes longer than strlen). 1, 0 at the end, -1 on error (err). */
static int
next_line(struct config_parser *ps, struct reader *s, size_t *ll)
{
	const struct config_source *src = s->src;

	if (src->f != NULL) {
		ssize_t n = getline(&s->line, &s->cap, src->f);

		if (n < 0) {
			if (ferror(src->f))
				return config_err(ps, "read error: %s", strerror(errno));
			return 0;
		}
		if ((s->total += (size_t)n) > MAX_FILE)
			return config_err(ps, "file larger than %u MiB", MAX_FILE >> 20);
		*ll = (size_t)n - (n > 0 && s->line[n - 1] == '\n');
	} else {
		const char *nl;

		if (s->off >= src->len)
			return 0;
		nl = memchr(src->buf + s->off, '\n', src->len - s->off);
		*ll = nl ? (size_t)(nl - (src->buf + s->off)) : src->len - s->off;
		if (*ll + 1 > s->cap) {
			char *nb = realloc(s->line, *ll + 1);

			if (nb == NULL)
				return config_err(ps, "out of memory");
			s->line = nb;
			s->cap = *ll + 1;
		}
		memcpy(s->line, src->buf + s->off, *ll);
		s->off += *ll + (nl ? 1 : 0);
	}
	s->line[*ll] = '\0';
	return 1;
}

int
config_file_read(struct config_parser *ps, const struct config_source *src)
{
	struct reader r = { src, 0, 0, NULL, 0 };
	size_t ll = 0;
	int rc;

	ps->line = 0;
	ps->section = 0;
	while ((rc = next_line(ps, &r, &ll)) == 1) {
		ps->line++;
		if (memchr(r.line, '\0', ll) != NULL) {
			rc = config_err(ps, "NUL byte in the line");
			break;
		}
		if ((rc = parse_line(ps, r.line)) == -1)
			break;
	}
	free(r.line);
	return rc == -1 ? -1 : 0;
}
