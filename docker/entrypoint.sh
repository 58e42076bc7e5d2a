#!/bin/bash
# entrypoint.sh: start gatehouse-resolver and gatehouse-forwarder in one container and
# keep them together: a signal to the container reaches both, and when either daemon exits
# the other is stopped and the container exits non-zero, so the restart policy brings the
# pair back (or, with GATEHOUSE_ENTRYPOINT_RESPAWN=on, the daemon that exited starts again
# in the container, which keeps its address: below).
#
#   (no arguments)        start both daemons
#   -v | -c FILE | ...    start both daemons with these options
#   --check               validate the configuration with both daemons, print it, exit
#   --help | --version    ask both daemons
#   COMMAND [ARG...]      run COMMAND instead (gatehouse-resolver --check, bash, ...)
#
# With `answer pool CIDR4 [CIDR6]` in the configuration (docker-compose.pool.yml) the
# container starts as root with CAP_NET_ADMIN: the entrypoint routes the pool to this
# container (`ip route replace local POOL dev IFACE table local`), then runs itself again
# as gatehouse through setpriv, every capability gone (the bounding set keeps at most
# NET_BIND_SERVICE), so the daemons never hold CAP_NET_ADMIN. Without a pool nothing of
# this happens: the image runs as gatehouse from the start.
#
# SIGTERM and SIGINT stop both (exit status 0 when both stop cleanly); SIGHUP (reload) and
# SIGUSR1 (reopen the audit file) are passed to both and the pair keeps running.
#
# GATEHOUSE_ENTRYPOINT_RESPAWN=on (read by the entrypoint alone; the daemons never see it):
# when a daemon exits, it alone starts again inside the same container (at once after 10 s
# of life, else after 1, 2, 4, ... 32 s) while the other goes on serving, instead of the
# container exiting. The container keeps its address, which meanwhile answers "port
# unreachable" and resets rather than nothing: with two gateways in `dns:`, Docker's DNS
# then asks the other one at once instead of after its 4 s timeout (docs/docker.md, "Two
# gateways (failover)"). Default: off.
# Audit lines stay on stdout and diagnostics on stderr, as each daemon writes them.
set -u

readonly ME=gatehouse-entrypoint
readonly STOP_GRACE=8		# seconds a daemon has to exit after SIGTERM before SIGKILL
readonly RESPAWN_RESET=10	# a daemon that ran this long is started again at once
readonly RESPAWN_MAX=32		# the longest wait between two starts of a daemon

say() { printf '%s: %s\n' "$ME" "$*" >&2; }

# The entrypoint's own setting, out of the environment before any daemon runs: the daemons
# refuse every GATEHOUSE_* variable that is not one of theirs.
respawn=${GATEHOUSE_ENTRYPOINT_RESPAWN:-off}
unset GATEHOUSE_ENTRYPOINT_RESPAWN
case $respawn in
on | off) ;;
*)
	say "GATEHOUSE_ENTRYPOINT_RESPAWN=$respawn: expected on or off"
	exit 2
	;;
esac

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

# ---- answer pool: route the pool here as root, then drop to gatehouse

readonly RUN_AS=gatehouse
readonly CAP_SETGID=6 CAP_SETUID=7 CAP_SETPCAP=8 CAP_NET_ADMIN=12

# pool_of ARG...: the configuration's pool ("CIDR4" or "CIDR4 CIDR6", as `--check` lists
# it), or nothing. A configuration that does not check gives nothing here: the daemons
# then start and say what is wrong with it.
pool_of() {
	gatehouse-resolver --check "$@" 2>/dev/null |
		awk '$1 == "answer" && $2 == "pool" {
			sub(/[ \t]*#.*/, ""); $1 = ""; $2 = ""; sub(/^ +/, ""); print; exit
		}'
}

# has_cap BIT: the entrypoint's effective capability set holds capability number BIT.
has_cap() {
	local eff
	eff=$(awk '$1 == "CapEff:" { print $2 }' "/proc/$$/status")
	(((16#${eff:-0} >> $1) & 1))
}

# is_local ADDR: the kernel routes ADDR to this host (a `local` route).
is_local() {
	[ "$(ip -o route get "$1" 2>/dev/null | awk '{ print $1; exit }')" = local ]
}

# route_pool CIDR: claim CIDR as local on the interface its first address routes through,
# so that the kernel answers ARP for every address in it and the forwarder's wildcard
# listener accepts connections to them. IPv4 only: for a local IPv6 route Linux accepts
# the addresses but answers no neighbour discovery, so other containers on the bridge
# could not reach them (seen in network namespaces: the client's neighbour entry FAILED);
# each address would have to be added to the interface instead. Refused, not half-done.
route_pool() {
	local cidr=$1 addr=${1%/*} fam=-4 out dev
	case $cidr in *:*) fam=-6 ;; esac
	if [ "$fam" = -6 ] && ! is_local "$addr"; then
		say "answer pool: the IPv6 pool $cidr is not supported by the image: Linux answers no neighbour discovery for a local IPv6 route, so containers could not reach it; use an IPv4 pool alone (AAAA answers are then NODATA and clients use IPv4)"
		exit 1
	fi
	if is_local "$addr"; then
		say "answer pool: $cidr is already local to this container"
		return 0
	fi
	# The route, less the cache flags `ip -o` prints after a backslash.
	out=$(ip "$fam" -o route get "$addr" 2>&1 | sed 's/ *\\.*$//')
	dev=$(awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }' <<<"$out")
	# Clients reach pool addresses on their own link (ARP): a pool behind a router is a mistake.
	if [ -z "$dev" ] || [[ " $out " == *" via "* ]]; then
		say "answer pool $cidr: $addr is not on a network of this container (ip route get: ${out:-nothing}): the pool must lie in the subnet of the network the clients share with the gateway"
		exit 1
	fi
	if ! out=$(ip "$fam" route replace local "$cidr" dev "$dev" table local 2>&1); then
		say "answer pool $cidr: ip route replace local $cidr dev $dev table local failed: $out"
		exit 1
	fi
	say "answer pool: $cidr routed to this container on $dev (local route)"
}

pool=$(pool_of "$@")
if [ -n "$pool" ] && [ "$(id -u)" = 0 ]; then
	if ! has_cap "$CAP_NET_ADMIN"; then
		say "answer pool $pool needs CAP_NET_ADMIN at start to route the pool to this container: add cap_add: [NET_ADMIN] (dropped before the daemons start)"
		exit 1
	fi
	if ! has_cap "$CAP_SETUID" || ! has_cap "$CAP_SETGID" || ! has_cap "$CAP_SETPCAP"; then
		say "answer pool $pool: the entrypoint needs CAP_SETUID, CAP_SETGID and CAP_SETPCAP at start to run the daemons as $RUN_AS with no capabilities: add them to cap_add: (dropped before the daemons start)"
		exit 1
	fi
	for cidr in $pool; do
		route_pool "$cidr"
	done
	# The same script again, as gatehouse: the uid change empties the permitted and effective
	# sets, and nothing can bring a capability back (bounding set, no ambient, no-new-privs).
	exec setpriv --reuid="$RUN_AS" --regid="$RUN_AS" --clear-groups --inh-caps=-all \
		--ambient-caps=-all --bounding-set=-all,+net_bind_service --no-new-privs -- \
		env GATEHOUSE_ENTRYPOINT_RESPAWN="$respawn" "$0" "$@"
fi
if [ -n "$pool" ]; then
	for cidr in $pool; do
		is_local "${cidr%/*}" && continue
		say "answer pool $pool: $cidr is not routed to this container, and as uid $(id -u) the entrypoint cannot do it: the pool variant starts as root (user: \"0\") with cap_add: [NET_ADMIN], routes the pool, then runs the daemons as $RUN_AS (docker-compose.pool.yml)"
		exit 1
	done
fi

rpid='' fpid='' stopping=''

# Signals go to the daemons running. A daemon started later reads the configuration
# afresh, so a HUP or USR1 it missed is moot; a TERM or INT sets `stopping`, and a daemon
# started after it (between the two starts, or at the end of a respawn) is sent one at
# once (start).
# shellcheck disable=SC2317  # called from the traps below
forward() {
	local sig=$1 pids
	case $sig in
	TERM | INT) stopping=$sig ;;
	esac
	pids="$rpid $fpid"
	[ -n "${pids// /}" ] || return 0
	# shellcheck disable=SC2086  # one or two pids
	kill -s "$sig" $pids 2>/dev/null ||
		say "could not pass SIG$sig to the daemons (running as root without CAP_KILL?)"
}
for s in TERM INT HUP USR1; do
	# shellcheck disable=SC2064
	trap "forward $s" "$s"
done

name_of() {
	if [ "$1" = "$rpid" ]; then echo gatehouse-resolver; else echo gatehouse-forwarder; fi
}

# reap PID: give the daemon PID STOP_GRACE seconds to exit, then SIGKILL; its exit status.
reap() {
	local pid=$1 i
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

# Stop the daemon PID (if any): SIGTERM (again, if it had one: harmless), then reap it.
stop_other() {
	[ -n "$1" ] || return 0
	kill -s TERM "$1" 2>/dev/null
	reap "$1"
}

# start NAME ARG...: gatehouse-NAME in the background, its pid and start time kept
# (rpid/rstarted, fpid/fstarted); told to stop at once when a stop came meanwhile.
rstarted=0 fstarted=0 rdelay=0 fdelay=0
start() {
	local name=$1
	shift
	"gatehouse-$name" "$@" &
	if [ "$name" = resolver ]; then rpid=$! rstarted=$SECONDS; else fpid=$! fstarted=$SECONDS; fi
	if [ -n "$stopping" ]; then
		kill -s TERM "$!" 2>/dev/null
	fi
}

# next_delay STARTED DELAY: the wait before a daemon started at STARTED (SECONDS) and last
# respawned after DELAY seconds starts again: 0 after RESPAWN_RESET seconds of life, else
# 1, 2, 4, ... up to RESPAWN_MAX.
next_delay() {
	if ((SECONDS - $1 >= RESPAWN_RESET)); then
		echo 0
	elif (($2 == 0)); then
		echo 1
	elif (($2 * 2 <= RESPAWN_MAX)); then
		echo $(($2 * 2))
	else
		echo "$2"
	fi
}

start resolver "$@"
start forwarder "$@"
while :; do
	# wait -n returns when a daemon exits (done set to its pid) or when a trapped signal
	# arrives (done empty): then the signal has been forwarded and we wait again.
	while :; do
		done_pid=
		# shellcheck disable=SC2086  # the pids of the daemons running: one or two
		wait -n -p done_pid $rpid $fpid
		status=$?
		[ -n "${done_pid:-}" ] && break
	done

	# The one that exited is no longer signalled (its pid may be reused): cleared now.
	first=$(name_of "$done_pid")
	if [ "$done_pid" = "$rpid" ]; then
		other=$fpid rpid=''
	else
		other=$rpid fpid=''
	fi

	if [ -n "$stopping" ]; then
		# Asked to stop: stop the other too (it had the signal, unless it started later).
		ostatus=0
		if [ -n "$other" ]; then
			stop_other "$other"
			ostatus=$?
		fi
		if [ "$status" -ne 0 ] || [ "$ostatus" -ne 0 ]; then
			say "stopped on SIG$stopping: $first exit status $status${other:+, $(name_of "$other") $ostatus}"
			exit 1
		fi
		exit 0
	fi

	if [ "$respawn" != on ]; then
		say "$first exited (status $status); stopping $(name_of "$other") so the container exits and restarts"
		stop_other "$other"
		[ "$status" -ne 0 ] && exit "$status"
		exit 1
	fi

	# GATEHOUSE_ENTRYPOINT_RESPAWN=on: start the daemon that exited again in this container,
	# and only that one: the other goes on serving (DNS stays up while the forwarder comes
	# back, open connections stay up while the resolver does), and the container keeps its
	# address: "port unreachable" and resets, not silence (Docker's DNS then moves to the
	# next dns: server at once instead of after its 4 s).
	if [ "$first" = gatehouse-resolver ]; then
		rdelay=$(next_delay "$rstarted" "$rdelay") delay=$rdelay
	else
		fdelay=$(next_delay "$fstarted" "$fdelay") delay=$fdelay
	fi
	say "$first exited (status $status); starting it again in ${delay}s (GATEHOUSE_ENTRYPOINT_RESPAWN=on)"
	if ((delay > 0)); then
		sleep "$delay" &
		spid=$!
		# A trapped signal interrupts the wait (its trap has run): HUP or USR1 wait on,
		# TERM or INT end the back-off.
		while [ -z "$stopping" ] && kill -0 "$spid" 2>/dev/null; do
			wait "$spid"
		done
		if [ -n "$stopping" ]; then
			kill "$spid" 2>/dev/null
			wait "$spid" 2>/dev/null
		fi
	fi
	if [ -n "$stopping" ]; then
		say "stopped on SIG$stopping while $first was down"
		rc=0
		stop_other "$other" || rc=1
		exit "$rc"
	fi
	start "${first#gatehouse-}" "$@"
done
