#!/bin/bash
# entrypoint.sh: start gatehouse-resolver and gatehouse-forwarder in one container and
# keep them together: a signal to the container reaches both, and when either daemon exits
# the other is stopped and the container exits non-zero, so the restart policy brings the
# pair back.
#
#   (no arguments)        start both daemons
#   -v | -c FILE | ...    start both daemons with these options
#   --check               validate the configuration with both daemons, print it, exit
#   --help | --version    ask both daemons
#   COMMAND [ARG...]      run COMMAND instead (gatehouse-resolver --check, bash, ...)
#
# SIGTERM and SIGINT stop both (exit status 0 when both stop cleanly); SIGHUP (reload) and
# SIGUSR1 (reopen the audit file) are passed to both and the pair keeps running.
# Audit lines stay on stdout and diagnostics on stderr, as each daemon writes them.
set -u

readonly ME=gatehouse-entrypoint
readonly STOP_GRACE=8		# seconds a daemon has to exit after SIGTERM before SIGKILL

say() { printf '%s: %s\n' "$ME" "$*" >&2; }

if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
	exec "$@"
fi

case " $* " in
*" --check "* | *" -t "*)
	rc=0
	gatehouse-resolver "$@" || rc=$?
	# Both read the same configuration; the forwarder's copy of the listing is not repeated.
	gatehouse-forwarder "$@" >/dev/null || rc=$?
	exit "$rc"
	;;
*" --help "* | *" -h "* | *" --version "* | *" -V "*)
	gatehouse-resolver "$@"
	echo
	exec gatehouse-forwarder "$@"
	;;
esac

rpid='' fpid='' stopping='' pending_sig=''

# Signals that arrive before both daemons run are remembered and delivered once they do.
# shellcheck disable=SC2317  # called from the traps below
forward() {
	local sig=$1
	case $sig in
	TERM | INT) stopping=$sig ;;
	esac
	if [ -z "$rpid" ] || [ -z "$fpid" ]; then
		pending_sig=$sig
		return
	fi
	kill -s "$sig" "$rpid" "$fpid" 2>/dev/null ||
		say "could not pass SIG$sig to both daemons (running as root without CAP_KILL?)"
}
for s in TERM INT HUP USR1; do
	# shellcheck disable=SC2064
	trap "forward $s" "$s"
done

gatehouse-resolver "$@" &
rpid=$!
gatehouse-forwarder "$@" &
fpid=$!
if [ -n "$pending_sig" ]; then
	kill -s "$pending_sig" "$rpid" "$fpid" 2>/dev/null
fi

name_of() {
	if [ "$1" = "$rpid" ]; then echo gatehouse-resolver; else echo gatehouse-forwarder; fi
}

# Stop the daemon still running (if any): SIGTERM, then SIGKILL after STOP_GRACE seconds.
stop_other() {
	local pid=$1 i
	kill -s TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < STOP_GRACE * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		say "$(name_of "$pid") did not stop within ${STOP_GRACE}s; killing it"
		kill -s KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
}

# wait -n returns when a daemon exits (done set to its pid) or when a trapped signal
# arrives (done empty): then the signal has been forwarded and we wait again.
while :; do
	done_pid=
	wait -n -p done_pid "$rpid" "$fpid"
	status=$?
	[ -n "${done_pid:-}" ] && break
done

first=$(name_of "$done_pid")
if [ "$done_pid" = "$rpid" ]; then other=$fpid; else other=$rpid; fi

if [ -n "$stopping" ]; then
	# Asked to stop: the other daemon has the signal too; give it time to finish.
	ostatus=0
	for ((i = 0; i < STOP_GRACE * 10; i++)); do
		kill -0 "$other" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$other" 2>/dev/null; then
		say "$(name_of "$other") did not stop within ${STOP_GRACE}s; killing it"
		kill -s KILL "$other" 2>/dev/null
	fi
	wait "$other" 2>/dev/null
	ostatus=$?
	if [ "$status" -ne 0 ] || [ "$ostatus" -ne 0 ]; then
		say "stopped on SIG$stopping: $first exit status $status, $(name_of "$other") $ostatus"
		exit 1
	fi
	exit 0
fi

say "$first exited (status $status); stopping $(name_of "$other") so the container exits and restarts"
stop_other "$other"
[ "$status" -ne 0 ] && exit "$status"
exit 1
