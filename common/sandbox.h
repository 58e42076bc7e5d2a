/* sandbox.h: the seccomp filter each daemon installs once start-up is complete. */
#ifndef GATEHOUSE_SANDBOX_H
#define GATEHOUSE_SANDBOX_H

#include <stddef.h>

#include "config.h"

/*
 * Exit status of a daemon that attempted a system call its filter does not allow: 128 +
 * SIGSYS, what a shell reports for a process the kernel killed with SIGSYS, which is what
 * the filter would do without its handler. The handler writes one line to stderr first.
 */
#define SANDBOX_EXIT_STATUS 159

enum sandbox_daemon {
	SANDBOX_RESOLVER,
	SANDBOX_FORWARDER,
};

/*
 * Confine the calling process for good: a SIGSYS handler, PR_SET_NO_NEW_PRIVS, then a
 * seccomp filter that allows only the system calls (and, where seccomp can compare
 * them, the arguments) that daemon makes from its event loop on: serving, reloading
 * cfg's file, reopening an audit file named by cfg->audit, metrics, shutting down. Any
 * other call makes the handler write one line to stderr, naming the daemon, the call
 * and the architecture, and _exit(SANDBOX_EXIT_STATUS). The caller checks cfg->sandbox
 * (`sandbox off` skips this call). Call it once, after every socket is bound, files are
 * opened, c-ares is initialised and privileges are dropped, right before the event
 * loop, from a process with one thread. 0, or -1 with err (the filter is then not
 * installed; the handler and no-new-privs may be).
 */
int sandbox_enter(enum sandbox_daemon daemon, const struct config *cfg, char *err,
    size_t errlen);

#endif
