/* sandbox.c: the seccomp filter (libseccomp) each daemon installs before its event loop,
 * and the SIGSYS handler that reports a call the filter refuses. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <termios.h>
#include <unistd.h>

#include "audit.h"
#include "util.h"

/*
 * Sanitizer builds (make SANITIZE=1 defines GATEHOUSE_SANITIZE; compilers say so for
 * ASan too) need calls the daemons never make themselves: see sanitizer_rules().
 */
#if defined(GATEHOUSE_SANITIZE) || defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif

#define NAMES		512	/* system call numbers whose names the handler can print */
#define NAME_LEN	24	/* the longest name is 23 characters */

static const char *sb_prog = "gatehouse";
static char sb_names[NAMES][NAME_LEN];
static char sb_machine[32];
static uint32_t sb_arch;

/* ---- the SIGSYS handler: async-signal-safe only (write, exit_group), no stdio, no malloc */

static size_t
put_str(char *buf, size_t n, size_t cap, const char *s)
{
	while (*s != '\0' && n < cap)
		buf[n++] = *s++;
	return n;
}

static size_t
put_num(char *buf, size_t n, size_t cap, uint64_t v, unsigned base)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[24];
	size_t k = 0;

	do {
		tmp[k++] = digits[v % base];
		v /= base;
	} while (v > 0);
	while (k > 0 && n < cap)
		buf[n++] = tmp[--k];
	return n;
}

static void
on_sigsys(int sig, siginfo_t *si, void *uctx)
{
	char line[512];
	size_t n = 0, cap = sizeof(line);
	int nr = si->si_syscall;
	ssize_t w;

	(void)sig;
	(void)uctx;
	n = put_str(line, n, cap, sb_prog);
	n = put_str(line, n, cap, ": sandbox: system call ");
	if (nr < 0) {
		n = put_str(line, n, cap, "-");
		n = put_num(line, n, cap, (uint64_t)-(int64_t)nr, 10);
	} else
		n = put_num(line, n, cap, (uint64_t)nr, 10);
	if (si->si_arch == sb_arch && nr >= 0 && nr < NAMES && sb_names[nr][0] != '\0') {
		n = put_str(line, n, cap, " (");
		n = put_str(line, n, cap, sb_names[nr]);
		n = put_str(line, n, cap, ")");
	}
	n = put_str(line, n, cap, " on arch 0x");
	n = put_num(line, n, cap, si->si_arch, 16);
	if (si->si_arch == sb_arch && sb_machine[0] != '\0') {
		n = put_str(line, n, cap, " (");
		n = put_str(line, n, cap, sb_machine);
		n = put_str(line, n, cap, ")");
	}
	n = put_str(line, n, cap, " is not allowed by the seccomp filter; exiting with status "
	    UTIL_STR(SANDBOX_EXIT_STATUS) "."
	    " `sandbox off` (GATEHOUSE_SANDBOX=off) disables the filter, for debugging only\n");
	w = write(STDERR_FILENO, line, n);
	(void)w;
	/* The raw call: a sanitizer runtime intercepts _exit and makes calls of its own. */
	syscall(SYS_exit_group, SANDBOX_EXIT_STATUS);
}

/* The names of the native architecture's calls, looked up now: the handler may not
 * call libseccomp (it allocates). */
static void
load_names(void)
{
	struct utsname u;
	int nr;

	sb_arch = seccomp_arch_native();
	if (uname(&u) == 0)
		util_strlcpy(sb_machine, u.machine, sizeof(sb_machine));
	for (nr = 0; nr < NAMES; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (name != NULL)
			util_strlcpy(sb_names[nr], name, NAME_LEN);
		free(name);
	}
}

/* ---- building the filter ---- */

struct build {
	scmp_filter_ctx ctx;
	char *err;
	size_t errlen;
	int failed;
};

/* Allow nr when every comparison holds. Several calls for one nr allow any of them. A
 * call this architecture does not have (libseccomp's negative pseudo numbers) is left
 * out: nothing can make it. */
static void
allow(struct build *b, int nr, unsigned n, const struct scmp_arg_cmp *cmp)
{
	int rc;

	if (b->failed || nr < 0)
		return;
	if ((rc = seccomp_rule_add_array(b->ctx, SCMP_ACT_ALLOW, nr, n, cmp)) < 0) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		snprintf(b->err, b->errlen, "sandbox: cannot add a rule for %s: %s",
		    name ? name : "a system call", strerror(-rc));
		free(name);
		b->failed = 1;
	}
}

static void
allow_all(struct build *b, const int *nrs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		allow(b, nrs[i], 0, NULL);
}

static void
allow1(struct build *b, int nr, struct scmp_arg_cmp a)
{
	allow(b, nr, 1, &a);
}

/*
 * The lists below are what the daemons were seen to make after start-up, traced with
 * strace under every integration and end-to-end test (reloads, rotation, metrics, floods,
 * descriptor exhaustion, full disk, upstream faults), plus calls of the same code paths
 * the tests cannot force, each said where it is added.
 *
 * Both daemons, any arguments: the event loop, descriptors, reading the configuration on
 * a reload (and /etc/localtime, which strftime's tzset reads once), accepting on and
 * talking over sockets opened at start, netlink dumps (getifaddrs, routes: bind,
 * sendto/sendmsg, recvmsg/recvfrom), memory (mremap: glibc's realloc of a large block),
 * clocks (the vDSO answers them; the calls are its fallback on clock sources it cannot
 * read), signal delivery, exit.
 */
static const int common_calls[] = {
	SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(write), SCMP_SYS(writev),
	SCMP_SYS(close), SCMP_SYS(lseek), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(accept4), SCMP_SYS(bind), SCMP_SYS(getsockname), SCMP_SYS(shutdown),
	SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(sendmsg), SCMP_SYS(recvmsg),
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(time),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(restart_syscall), SCMP_SYS(exit_group),
};

/* The resolver: UDP in batches. It sets no socket option after start. */
static const int resolver_calls[] = {
	SCMP_SYS(recvmmsg), SCMP_SYS(sendmmsg),
};

/* The resolver with stub zones (resolver/pass.c): a socket per query to the zone's
 * servers (connect; SO_ERROR once a TCP connect completes) and a random ID for each
 * (getrandom). Without a stub-zone line at start, none of these. */
static const int resolver_stub_calls[] = {
	SCMP_SYS(connect), SCMP_SYS(getsockopt), SCMP_SYS(getrandom),
};

/* The forwarder: dialling upstreams and c-ares's servers (connect, SO_ERROR, socket
 * options), listeners for ports a reload adds (CAP_NET_BIND_SERVICE is kept for those),
 * splice mode's pipes. */
static const int forwarder_calls[] = {
	SCMP_SYS(connect), SCMP_SYS(listen), SCMP_SYS(setsockopt), SCMP_SYS(getsockopt),
	SCMP_SYS(splice), SCMP_SYS(pipe2),
};

/*
 * socket(2) only for what the daemon opens: AF_NETLINK with NETLINK_ROUTE (getifaddrs,
 * route dumps) and an AF_UNIX datagram socket (glibc's if_nametoindex asks its ioctl
 * through one) in both; in the forwarder also AF_INET and AF_INET6 streams and datagrams
 * (upstream connections, c-ares, listeners added by a reload). The resolver opens every
 * socket it serves on at start and no IP socket after, unless it has stub zones (ip):
 * then the same as the forwarder, for the queries to their servers.
 */
static void
allow_sockets(struct build *b, enum sandbox_daemon daemon, int ip_sockets)
{
	static const int families[] = { AF_INET, AF_INET6 };
	static const int types[] = { SOCK_STREAM, SOCK_DGRAM };
	struct scmp_arg_cmp nl[2] = {
		SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
		SCMP_A2(SCMP_CMP_EQ, NETLINK_ROUTE),
	};
	struct scmp_arg_cmp ux[3] = {
		SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
		SCMP_A1(SCMP_CMP_EQ, SOCK_DGRAM | SOCK_CLOEXEC),
		SCMP_A2(SCMP_CMP_EQ, 0),
	};
	size_t i, j;

	allow(b, SCMP_SYS(socket), 2, nl);
	allow(b, SCMP_SYS(socket), 3, ux);
	if (daemon != SANDBOX_FORWARDER && !ip_sockets)
		return;
	for (i = 0; i < NELEM(families); i++) {
		for (j = 0; j < NELEM(types); j++) {
			struct scmp_arg_cmp ip[2] = {
				SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]),
				/* the type without SOCK_NONBLOCK and SOCK_CLOEXEC */
				SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, (scmp_datum_t)types[j]),
			};

			allow(b, SCMP_SYS(socket), 2, ip);
		}
	}
}

/*
 * openat(2): read-only anywhere (a reload rereads the configuration file, c-ares reads
 * resolv.conf and hosts, the descriptor reserve reopens /dev/null), and for a file audit
 * target a write open only in the one combination of flags and mode audit.c opens it
 * with (AUDIT_OPEN_FLAGS): append only, never truncating. Not tied to the audit file's
 * directory: seccomp sees a directory descriptor as a number and never the path, and
 * openat ignores the descriptor for an absolute path, so a rule on it would confine
 * nothing. What the daemon may create is bounded by the unprivileged user's permissions.
 */
static void
allow_opens(struct build *b, const struct config *cfg)
{
	allow1(b, SCMP_SYS(openat), SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC, 0));
	if (audit_target_is_file(cfg->audit)) {
		struct scmp_arg_cmp w[2] = {
			SCMP_A2(SCMP_CMP_EQ, AUDIT_OPEN_FLAGS),
			SCMP_A3(SCMP_CMP_EQ, AUDIT_OPEN_MODE),
		};

		allow(b, SCMP_SYS(openat), 2, w);
	}
}

/*
 * ioctl(2): FIONREAD (libevent sizes its reads with it) and SIOCGIFINDEX
 * (if_nametoindex). fcntl(2), forwarder only: status and descriptor flags (c-ares makes
 * its sockets non-blocking and close-on-exec), F_SETPIPE_SZ and F_GETPIPE_SZ (splice
 * mode sizes its pipes; forwarder/pump.c reads the size back). mmap never executable.
 * rt_sigaction only for the signals libevent handles (it puts back their old handlers
 * when the daemon exits), so SIGSYS keeps its handler.
 */
static void
allow_control(struct build *b, enum sandbox_daemon daemon)
{
	static const int fcntl_cmds[] = { F_GETFL, F_SETFL, F_GETFD, F_SETFD, F_SETPIPE_SZ,
		F_GETPIPE_SZ };
	static const int signals[] = { SIGHUP, SIGUSR1, SIGTERM, SIGINT };
	size_t i;

	allow1(b, SCMP_SYS(ioctl), SCMP_A1(SCMP_CMP_EQ, FIONREAD));
	allow1(b, SCMP_SYS(ioctl), SCMP_A1(SCMP_CMP_EQ, SIOCGIFINDEX));
	for (i = 0; daemon == SANDBOX_FORWARDER && i < NELEM(fcntl_cmds); i++)
		allow1(b, SCMP_SYS(fcntl), SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)fcntl_cmds[i]));
	allow1(b, SCMP_SYS(mmap), SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	for (i = 0; i < NELEM(signals); i++)
		allow1(b, SCMP_SYS(rt_sigaction), SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)signals[i]));
}

/*
 * abort(3), which libevent and assert call on a broken invariant: glibc blocks signals
 * and sends SIGABRT to the calling thread, so the daemon still dies of SIGABRT (with a
 * core where enabled), not of the filter. tgkill only to this process, only SIGABRT.
 * The tests never get here; a test-build hook does (test_sandbox.py).
 */
static void
allow_abort(struct build *b)
{
	struct scmp_arg_cmp self[2] = {
		SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()),
		SCMP_A2(SCMP_CMP_EQ, SIGABRT),
	};
	static const int calls[] = { SCMP_SYS(rt_sigprocmask), SCMP_SYS(getpid),
		SCMP_SYS(gettid) };

	allow_all(b, calls, NELEM(calls));
	allow(b, SCMP_SYS(tgkill), 2, self);
}

#ifdef SANDBOX_SANITIZER
/*
 * Sanitizer builds only: the calls of AddressSanitizer's runtime, found by running the
 * integration and end-to-end suites on the sanitizer build with every refused call
 * logged (SANDBOX_DISCOVER below) instead of stopped. Its allocator returns memory with
 * madvise and guards mappings with mprotect; at exit LeakSanitizer stops the world: it
 * clones a tracer that shares the address space (CLONE_VM | CLONE_UNTRACED), lets it
 * trace the process (prctl PR_SET_PTRACER; the tracer sets PR_SET_PDEATHSIG, the dumpable
 * flag is read and set), the tracer lists /proc/self/task (open, getdents), attaches to
 * each thread with ptrace and reads its registers, installs its own signal handlers, and
 * the two wait for each other (wait4, futex, sched_yield). Reports read /proc/self/maps
 * and the executable to symbolize (readlink, a pipe to probe memory, isatty). Even here a
 * plain fork (clone without CLONE_VM), execve and PTRACE_TRACEME stay refused, and nothing
 * may be opened for writing. A call the tracer is refused kills the tracer alone (it
 * blocks every signal), and the daemon then waits for it forever: sanitizer builds only.
 */
static void
sanitizer_rules(struct build *b)
{
	static const int calls[] = {
		SCMP_SYS(madvise), SCMP_SYS(mprotect), SCMP_SYS(getdents64),
		SCMP_SYS(wait4), SCMP_SYS(futex), SCMP_SYS(sched_yield), SCMP_SYS(getppid),
		SCMP_SYS(sigaltstack), SCMP_SYS(rt_sigaction), SCMP_SYS(exit),
		SCMP_SYS(getdents), SCMP_SYS(readlink),
		SCMP_SYS(fcntl), SCMP_SYS(pipe2),
	};
	static const long ptrace_reqs[] = {
		PTRACE_ATTACH, PTRACE_DETACH, PTRACE_GETREGSET, PTRACE_CONT,
	};
	static const long prctl_opts[] = {
		PR_SET_PTRACER, PR_SET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE,
	};
	size_t i;

	allow_all(b, calls, NELEM(calls));
	allow1(b, SCMP_SYS(clone), SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_VM | CLONE_UNTRACED,
	    CLONE_VM | CLONE_UNTRACED));
	for (i = 0; i < NELEM(prctl_opts); i++)
		allow1(b, SCMP_SYS(prctl), SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)prctl_opts[i]));
	for (i = 0; i < NELEM(ptrace_reqs); i++)
		allow1(b, SCMP_SYS(ptrace), SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)ptrace_reqs[i]));
	allow1(b, SCMP_SYS(open), SCMP_A1(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC, 0));
	allow1(b, SCMP_SYS(ioctl), SCMP_A1(SCMP_CMP_EQ, TCGETS));	/* isatty(stderr) */
}
#endif

#ifdef GATEHOUSE_TEST_HOOKS
/*
 * Test builds only (build/testhooks/, -DGATEHOUSE_TEST_HOOKS): SIGUSR2 makes the running
 * daemon do what GH_TEST_FORBIDDEN names (not a GATEHOUSE_ variable: the daemons refuse
 * unknown ones): a forbidden system call, made raw so that only the filter stands in its
 * way; abort(), which must still end in SIGABRT; or, for the sanitizer builds, a leak or
 * a heap overflow whose report must still come out under the filter. Each writes
 * "test hook: NAME returned" if it comes back.
 */
enum hook_call { HOOK_NONE, HOOK_EXECVE, HOOK_SOCKET_PACKET, HOOK_SOCKET_INET,
	HOOK_OPEN_WRITE, HOOK_PTRACE, HOOK_FORK, HOOK_LEAK, HOOK_OVERFLOW, HOOK_ABORT };

static const char *const hook_names[] = {
	[HOOK_NONE] = "none", [HOOK_EXECVE] = "execve", [HOOK_SOCKET_PACKET] = "socket-packet",
	[HOOK_SOCKET_INET] = "socket-inet", [HOOK_OPEN_WRITE] = "open-write",
	[HOOK_PTRACE] = "ptrace", [HOOK_FORK] = "fork", [HOOK_LEAK] = "leak",
	[HOOK_OVERFLOW] = "overflow", [HOOK_ABORT] = "abort",
};
static enum hook_call hook_call;
static void *volatile hook_block;	/* the leak: overwritten, so nothing points at it */
static volatile size_t hook_size = 16;	/* volatile: only ASan, at run time, sees the */
static volatile size_t hook_index = 16;	/* overflow one past the end */

static void
on_sigusr2(int sig)
{
	static char *const argv[] = { "/bin/true", NULL };
	char line[128];
	size_t n = 0;
	long rc = -1;
	ssize_t w;

	(void)sig;
	switch (hook_call) {
	case HOOK_NONE:
		break;
	case HOOK_EXECVE:
		rc = syscall(SYS_execve, argv[0], argv, argv + 1);
		break;
	case HOOK_SOCKET_PACKET:
		rc = syscall(SYS_socket, AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
		break;
	case HOOK_SOCKET_INET:
		rc = syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		break;
	case HOOK_OPEN_WRITE:
		rc = syscall(SYS_openat, AT_FDCWD, "sandbox-forbidden", O_WRONLY | O_CREAT |
		    O_TRUNC | O_CLOEXEC, 0600);
		break;
	case HOOK_PTRACE:
		rc = syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
		break;
	case HOOK_FORK:
		if ((rc = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0)) == 0)
			syscall(SYS_exit_group, 0);	/* a child, if the filter failed: no
						 * sanitizer exit path in a raw clone */
		break;
	case HOOK_LEAK:		/* not async-signal-safe; the loop is idle in epoll_wait */
		hook_block = malloc(4242);
		hook_block = NULL;
		break;
	case HOOK_ABORT:
		abort();
	case HOOK_OVERFLOW: {
		char *p = malloc(hook_size);

		if (p != NULL)
			p[hook_index] = 1;
		free(p);
		break;
	}
	}
	if (rc >= 0 && (hook_call == HOOK_SOCKET_PACKET || hook_call == HOOK_SOCKET_INET ||
	    hook_call == HOOK_OPEN_WRITE))
		close((int)rc);
	n = put_str(line, n, sizeof(line), "test hook: ");
	n = put_str(line, n, sizeof(line), hook_names[hook_call]);
	n = put_str(line, n, sizeof(line), " returned\n");
	w = write(STDERR_FILENO, line, n);
	(void)w;
}

static int
hook_install(char *err, size_t errlen)
{
	const char *v = getenv("GH_TEST_FORBIDDEN");
	struct sigaction sa;
	size_t i;

	hook_call = HOOK_NONE;
	for (i = 0; v != NULL && i < NELEM(hook_names); i++)
		if (strcmp(v, hook_names[i]) == 0)
			hook_call = (enum hook_call)i;
	if (v != NULL && strcmp(v, hook_names[hook_call]) != 0) {
		snprintf(err, errlen, "GH_TEST_FORBIDDEN=%s: not a test hook", v);
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigusr2;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR2, &sa, NULL) == -1) {
		snprintf(err, errlen, "sandbox: sigaction(SIGUSR2): %s", strerror(errno));
		return -1;
	}
	return 0;
}
#endif

int
sandbox_enter(enum sandbox_daemon daemon, const struct config *cfg, char *err, size_t errlen)
{
	struct build b;
	struct sigaction sa;
	int stub = daemon == SANDBOX_RESOLVER && cfg->nstub_zones > 0, rc;

	memset(&b, 0, sizeof(b));
	b.err = err;
	b.errlen = errlen;
	sb_prog = daemon == SANDBOX_RESOLVER ? "gatehouse-resolver" : "gatehouse-forwarder";
	load_names();
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1) {
		snprintf(err, errlen, "sandbox: sigaction(SIGSYS): %s", strerror(errno));
		return -1;
	}
	/* Without it an unprivileged process may not install a filter; it also means no
	 * execve could ever gain privileges (set-user-ID, file capabilities). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		snprintf(err, errlen, "sandbox: prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
		return -1;
	}
	/* -DSANDBOX_DISCOVER, for developers finding what a change needs: a refused call is
	 * allowed and logged by the kernel (type=1326, syscall=N: dmesg rate-limits those,
	 * an audit daemon does not) instead of stopping the daemon. */
#ifdef SANDBOX_DISCOVER
	if ((b.ctx = seccomp_init(SCMP_ACT_LOG)) == NULL) {
#else
	if ((b.ctx = seccomp_init(SCMP_ACT_TRAP)) == NULL) {
#endif
		snprintf(err, errlen, "sandbox: seccomp_init failed");
		return -1;
	}
	/* A call through another ABI (int 0x80, x32) is trapped and reported the same way. */
	if ((rc = seccomp_attr_set(b.ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP)) < 0) {
		snprintf(err, errlen, "sandbox: seccomp_attr_set: %s", strerror(-rc));
		seccomp_release(b.ctx);
		return -1;
	}
	allow_all(&b, common_calls, NELEM(common_calls));
	if (daemon == SANDBOX_RESOLVER)
		allow_all(&b, resolver_calls, NELEM(resolver_calls));
	else
		allow_all(&b, forwarder_calls, NELEM(forwarder_calls));
	if (stub)
		allow_all(&b, resolver_stub_calls, NELEM(resolver_stub_calls));
	allow_sockets(&b, daemon, stub);
	allow_opens(&b, cfg);
	allow_control(&b, daemon);
	allow_abort(&b);
#ifdef SANDBOX_SANITIZER
	sanitizer_rules(&b);
#endif
#ifdef GATEHOUSE_TEST_HOOKS
	if (!b.failed && hook_install(err, errlen) == -1)
		b.failed = 1;
#endif
	if (!b.failed && (rc = seccomp_load(b.ctx)) < 0) {
		snprintf(err, errlen, "sandbox: installing the seccomp filter: %s", strerror(-rc));
		b.failed = 1;
	}
	seccomp_release(b.ctx);
	return b.failed ? -1 : 0;
}
