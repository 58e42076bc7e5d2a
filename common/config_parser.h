/* config_parser.h: a configuration being read, and what the files that read it (config*.c)
 * share; the daemons include config.h only. */
#ifndef GATEHOUSE_CONFIG_PARSER_H
#define GATEHOUSE_CONFIG_PARSER_H

#include <stddef.h>

#include "config.h"

/* One configuration being read: where the reader is, for messages and rule origins. */
struct config_parser {
	struct config *c;		/* being filled in */
	const char *src;		/* file name, or the variable's name */
	unsigned line;			/* 0 for the environment */
	unsigned *seen;			/* per setting: line it was set on, 0 if not yet */
	unsigned char *by_env;		/* per setting: set (last) by a variable */
	const char *file;		/* the file's name, for messages after the file */
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

#endif
