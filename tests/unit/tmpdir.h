/* tmpdir.h: a test program's scratch directory, made by its setup, removed by its teardown. */
#ifndef GATEHOUSE_TEST_TMPDIR_H
#define GATEHOUSE_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

/* The directory's path, once tmpdir_make has succeeded. */
static char tmpdir[64];

/* Make a fresh /tmp/gh-test-NAME.XXXXXX as tmpdir: 0, or -1 with errno set. */
static inline int
tmpdir_make(const char *name)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gh-test-%s.XXXXXX", name);
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

/* Remove tmpdir and all it holds: 0, or -1. */
static inline int
tmpdir_remove(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

#endif
