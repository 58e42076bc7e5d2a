/* preflight.h: what would make a start fail, checked without binding a socket or creating
 * a file. Both daemons run it for --check and again at start (they share one
 * configuration, so `gatehouse-resolver --check` also answers for the forwarder). */
#ifndef GATEHOUSE_PREFLIGHT_H
#define GATEHOUSE_PREFLIGHT_H

#include <stddef.h>

#include "config.h"
#include "iface.h"

/* What the checks read from the machine; tests point these elsewhere. */
struct preflight_env {
	const char *resolvconf;		/* the file the forwarder's c-ares reads for
					 * `upstream system`; NULL: /etc/resolv.conf */
	const struct iface_table *ifaces;	/* the machine's addresses; NULL: read them */
	unsigned euid;			/* the user the daemon starts as */
	int checking;			/* --check, not a start: what only the gateway's
					 * own network makes true is a warning */
	const char *kubernetes;		/* $KUBERNETES_SERVICE_HOST, or NULL */
};

/* env filled for this process: the default resolv.conf, addresses read when needed, the
 * effective uid. */
void preflight_env_default(struct preflight_env *env);

/*
 * Every check, in this order; the first error wins:
 * - `user` names no user of this system (an error whatever the uid, so that --check and
 *   a start agree; only a start as root uses it);
 * - `audit PATH`: the directory is missing or not a directory, the file is a directory
 *   or not writable, or it does not exist and the directory is not writable. Started as
 *   root with a non-root `user`, a directory that user cannot write breaks the reopen
 *   after a rotation: a warning;
 * - two TCP listeners on one address and port: dns-listen, forward-listen times the
 *   allowlist's ports, metrics and the forwarder's metrics (PORT+1), which run in one
 *   network namespace;
 * - `upstream` (or, for `upstream system`, the servers the forwarder's c-ares reads from
 *   resolv.conf: resolvconf.h) is one of this gateway's own dns-listen sockets: every
 *   lookup would loop;
 * - `answer pool`: run in Kubernetes (KUBERNETES_SERVICE_HOST set: clients reach the
 *   gateway through one Service address, and pool addresses route to no pod); a pool
 *   address the kernel does not route to this host (`ip route add local POOL ... table
 *   local` missing; a warning under --check, which may run outside the gateway);
 * Warnings: an empty allowlist; a listen address no interface of this machine has (fine
 *   when --check runs outside the gateway); a port below the unprivileged-port start
 *   when not root.
 * 0, or -1 with err ("ORIGIN: what is wrong; what to do", ORIGIN being FILE:LINE or the
 * variable, or the setting with "(the default)"). *warnings gets a malloc'd string of
 * lines, each ending in '\n', or NULL when there are none (also on error).
 */
int preflight_check(const struct config *c, const struct preflight_env *env, char **warnings,
    char *err, size_t errlen);

#endif
