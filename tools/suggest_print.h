/* suggest_print.h: the suggestion written as a configuration file, with the diff against -c as comments. */
#ifndef GATEHOUSE_SUGGEST_PRINT_H
#define GATEHOUSE_SUGGEST_PRINT_H

#include <stdio.h>

#include "current.h"
#include "suggest.h"

/*
 * Write s (after suggest_build) to f as configuration lines that `gatehouse-resolver
 * --check` reads as they are: the global rules (policy `default`), every route (routes
 * are gateway-wide), then a `policy NAME SPEC...` section per other policy. Each line
 * carries a comment with its counts and clients; lines that need a look start with a
 * "# review:" comment. With cur (the -c configuration; NULL: none), the policy specs
 * come from it when it has them, and comments at the end list the lines it lacks and
 * its rules nothing in the window used. 0, or -1 on a write error.
 */
int suggest_print(const struct suggest *s, struct current *cur, FILE *f);

#endif
