/* collapse.h: sibling names folded into one wildcard, judged with the Public Suffix List (libpsl). */
#ifndef GATEHOUSE_COLLAPSE_H
#define GATEHOUSE_COLLAPSE_H

#include "suggest.h"

/*
 * 1 when a wildcard may be written over parent: parent is a registrable domain or a
 * name below one (libpsl's psl_registrable_domain finds one), so never a public suffix
 * of either section of the list (com, co.uk, github.io). The list is loaded once per
 * process with psl_latest (Debian's publicsuffix file, else libpsl's built-in list);
 * with no list at all nothing collapses.
 */
int collapse_parent_ok(const char *parent);

/*
 * Fold p's names into wildcard lines where there are many siblings, deepest parent
 * first: at a parent P allowed by collapse_parent_ok, when at least threshold names not
 * yet folded lie below P and all of them exactly one label below, one `*.P` line covers
 * them; else when threshold of them are one label below, `*.P` covers those; else when
 * threshold lie below at any depth, `**.P` covers them all. A name that needed a
 * special-purpose address is never folded (it is marked for review on its own line), nor
 * one that routes a port (a wildcard on the port would end the implicit route).
 * Folded names get covered = 1; the wildcard lines are appended to p->lines. 0 or -1
 * (out of memory).
 */
int collapse_names(struct obs_policy *p, unsigned threshold);

#endif
