# failover.sh: the failover scenario of tests/docker/run.sh (two gateways), sourced by
# run.sh, whose helpers (expect, refuse, report, wait_for, health, ip_on, ...) it uses.
# Brings up the top-level docker-compose.failover.yml as it is (gw1 and gw2, each `answer
# auto` at its own address, constrained services with `dns: [gw1, gw2]`), with
# tests/docker/compose.failover.yml on top (the test's images, names and upstream servers),
# on its own subnet (GATEHOUSE_TEST_FAILOVER_SUBNET, default 172.30.215.0/24). Then it kills
# gw1 in each way a gateway can be dead and checks, from a constrained container through
# Docker's embedded DNS (127.0.0.11), that lookups and HTTPS by name work through gw2 within
# a bounded wait, and that a connection held open through gw1 does not carry on. It prints
# what it measured (median, min, max; never asserts on times), each way
# GATEHOUSE_FAILOVER_REPEAT times (default 3):
#   - gw1 killed (docker kill: the container stays stopped, its address silent), paused
#     (docker pause: the address present, nothing answers), its daemons dead in a running
#     container (the kernel answers "port unreachable" and resets): the latency of each
#     lookup while gw1 is dead, the time from the kill until a lookup and an HTTPS
#     connection by name succeed again, and what the held connection did;
#   - one gateway under `restart: unless-stopped` and its health check, for comparison
#     (the client `solo`, dns: [gw1] only): the resolver, the forwarder or the container's
#     PID 1 killed; time until Docker's DNS answers, until lookups and connections succeed
#     again (also for a client with dns: [gw1, gw2], and one with dns_opt timeout:1), and
#     until the container runs again;
#   - the same daemon deaths with GATEHOUSE_ENTRYPOINT_RESPAWN=on (the daemon that died
#     starts again in the running container, which must not restart; the other one goes on).
# The daemons-dead case freezes the entrypoint (SIGSTOP to its host PID, so that it does not
# stop the container) before killing the daemons: it needs root on the Docker host and is
# skipped, said so, without it. So is killing PID 1 from outside.
# Scripts run inside containers are single-quoted on purpose: they expand there.
# shellcheck shell=bash disable=SC2016

FO_SUBNET=${GATEHOUSE_TEST_FAILOVER_SUBNET:-172.30.215.0/24}
FO_NET=${FO_SUBNET%.*}		# the first three octets: the layout below needs a /24
FO_IP1=$FO_NET.120		# gw1, first in dns:
FO_IP2=$FO_NET.121		# gw2
FO_REPEAT=${GATEHOUSE_FAILOVER_REPEAT:-3}
FO_CA=/etc/gatehouse-test/ca.pem
FX=${ID}fo
FO_FIG=()			# the figures, printed at the end

fcompose() {	# compose with the failover files, the test's addresses and project
	(cd "$ROOT" && GATEHOUSE_SUBNET=$FO_SUBNET GATEHOUSE_IP=$FO_IP1 GATEHOUSE_IP2=$FO_IP2 \
		GRAFANA_IP=$FO_NET.200 timeout 300 "${COMPOSE[@]}" -p "$FX" \
		-f docker-compose.failover.yml -f "$HERE/compose.failover.yml" -f "$WORK/fo-respawn.yml" "$@")
}

# fo_mode on|off: GATEHOUSE_ENTRYPOINT_RESPAWN of both gateways (an override of the test's
# own, whatever the top-level file sets); compose recreates them when it changes.
fo_mode() {
	FO_RESPAWN=$1
	printf 'services:\n  gw1:\n    environment:\n      GATEHOUSE_ENTRYPOINT_RESPAWN: "%s"\n  gw2:\n    environment:\n      GATEHOUSE_ENTRYPOINT_RESPAWN: "%s"\n' \
		"$1" "$1" >"$WORK/fo-respawn.yml"
}

# Every docker call of this scenario has a time bound (an engine that hangs fails the
# step, never the run); the longest, a `docker exec` whose script gives itself 90 s. A
# command given to expect is bounded there (60 s): plain docker.
fdocker() { timeout 120 docker "$@"; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# stats N...: "median M ms (min A, max B, n C)" of whole numbers of milliseconds.
stats() {
	[ $# -gt 0 ] || {
		echo "no sample"
		return
	}
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
		END { m = (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2)
		      printf "median %d ms (min %d, max %d, n %d)", m, v[1], v[NR], NR }'
}

figure() { FO_FIG+=("$(printf '%-52s %s' "$1" "$2")"); }	# figure WHAT VALUE

# dig_once CONTAINER: one A query for api.example.test through Docker's DNS, one try, 10 s;
# prints "MS ADDRESS" (dig's own query time) or "timeout".
dig_once() {
	fdocker exec "$1" dig +time=10 +tries=1 api.example.test 2>&1 | awk '
		/^api\.example\.test\..*[ \t]A[ \t]/ && !a { a = $NF }
		/Query time:/ { t = $4 }
		END { if (a != "" && t != "") print t, a; else print "timeout" }'
}

# service_back CONTAINER: from now, until a lookup of api.example.test (getent) and then an
# HTTPS GET by name (curl) succeed, 60 s at most; prints "DNS_MS CONN_MS REMOTE_IP" as
# epoch milliseconds, or "never ...".
service_back() {
	fdocker exec "$1" timeout 90 bash -c '
		ms() { echo $(($(date +%s%N) / 1000000)); }
		end=$((SECONDS + 60)) d=
		while [ "$SECONDS" -lt "$end" ]; do
			if [ -z "$d" ] && getent ahostsv4 api.example.test >/dev/null; then d=$(ms); fi
			if [ -n "$d" ] && ip=$(curl -sS -o /dev/null --max-time 10 --cacert "$0" \
				-w "%{remote_ip}" https://api.example.test/ 2>/dev/null); then
				echo "$d $(ms) $ip"
				exit 0
			fi
			sleep 0.2
		done
		echo "never ${d:-no-lookup}"
		exit 1' "$FO_CA" 2>&1 | tail -n 1
}

# answer_back CONTAINER: from now, until Docker's DNS answers an A query for
# api.example.test within 1 s (dig, polled), 60 s at most; prints epoch milliseconds, or
# "never". The outage as the resolver side sees it, without the client's own retry timer.
answer_back() {
	fdocker exec "$1" timeout 90 bash -c '
		end=$((SECONDS + 60))
		while [ "$SECONDS" -lt "$end" ]; do
			if dig +time=1 +tries=1 +short api.example.test | grep -q "^[0-9]"; then
				echo $(($(date +%s%N) / 1000000))
				exit 0
			fi
			sleep 0.1
		done
		echo never
		exit 1' 2>&1 | tail -n 1
}

# file_in CONTAINER PATH SECONDS: PATH's content once it is not empty, waited for inside
# the container (one exec) for SECONDS at most; nothing when it never was.
file_in() {
	fdocker exec "$1" timeout "$3" bash -c 'until [ -s "$0" ]; do sleep 0.1; done; cat "$0"' \
		"$2" 2>/dev/null
}

# hold_open CONTAINER TAG: a connection to banner.test:22 (resolved as the container does,
# so through gw1), its greeting read; in the background it then waits for /tmp/TAG.go, sends
# a line, and writes to /tmp/TAG.out "RC MS ANSWER" (read's status, milliseconds from the
# go to the end of the read, what came back; 20 s at most).
hold_open() {
	fdocker exec -d "$1" bash -c '
		tag=$0
		ms() { echo $(($(date +%s%N) / 1000000)); }
		exec 3<>/dev/tcp/banner.test/22 || { echo "no connection" >"/tmp/$tag.greet"; exit 1; }
		IFS= read -r -t 10 g <&3 || { echo "no greeting" >"/tmp/$tag.greet"; exit 1; }
		echo "${g%$'"'\r'"'}" >"/tmp/$tag.greet"
		for _ in $(seq 1 1200); do [ -e "/tmp/$tag.go" ] && break; sleep 0.1; done
		s=$(ms)
		printf "SSH-2.0-held\r\n" >&3 2>"/tmp/$tag.err"
		IFS= read -r -t 20 a <&3 2>>"/tmp/$tag.err"
		rc=$?
		echo "$rc $(($(ms) - s)) ${a%$'"'\r'"'} $(tr "\n" " " <"/tmp/$tag.err")" >"/tmp/$tag.out"' "$2"
	file_in "$1" "/tmp/$2.greet" 10
}

# held_result CONTAINER TAG: trigger the held connection, wait for its result (30 s at most)
# and describe it: "answered", "closed (EOF) after N ms", "reset after N ms" or "no answer
# within 20 s (hangs)".
held_result() {
	fdocker exec "$1" touch "/tmp/$2.go"
	local out rc ms rest
	out=$(file_in "$1" "/tmp/$2.out" 30)
	read -r rc ms rest <<<"$out"
	case $rc in
	0) echo "answered after $ms ms ($rest)" ;;
	'') echo "no result" ;;
	*)
		if [ "$rc" -gt 128 ]; then
			echo "no answer within 20 s (hangs)"
		elif [[ $rest == *[Rr]eset* ]]; then
			echo "reset after $ms ms"
		else
			echo "closed (EOF) after $ms ms${rest:+: $rest}"
		fi
		;;
	esac
}

# up_for CONTAINER SECONDS: running, healthy and started at least SECONDS ago (Docker's
# restart delay doubles for a container that ran less than 10 s: each kill must find a
# container that ran longer, or the figures would measure that back-off).
up_for() {
	local started
	is_healthy "$1" || return 1
	started=$(fdocker inspect -f '{{.State.StartedAt}}' "$1" 2>/dev/null) || return 1
	[ $(($(date +%s) - $(date -d "$started" +%s))) -ge "$2" ]
}

# daemons_in CONTAINER: a line "PID COMM STATE AGE" for each gatehouse daemon process in
# it (COMM as the kernel cuts it: gatehouse-resol, gatehouse-forwa; STATE from
# /proc/PID/stat, Z for a zombie; AGE in whole seconds since it started).
daemons_in() {
	fdocker exec "$1" bash -c 'up=$(cut -d" " -f1 /proc/uptime)
	for p in /proc/[0-9]*; do
		c=$(cat "$p/comm" 2>/dev/null) || continue
		case $c in gatehouse-resol | gatehouse-forwa) ;; *) continue ;; esac
		awk -v up="${up%.*}" -v pid="${p#/proc/}" -v c="$c" \
			"{ print pid, c, \$3, int(up - \$22 / 100) }" "$p/stat" 2>/dev/null
	done; true'
}

# pair_up_for CONTAINER SECONDS: both daemons run in it, each started SECONDS ago or more
# (GATEHOUSE_ENTRYPOINT_RESPAWN starts a daemon that ran less than 10 s again only after a
# wait, as Docker restarts a container: each kill must find daemons that ran longer).
pair_up_for() {
	daemons_in "$1" | awk -v min="$2" '{ n++ } $3 == "Z" || $4 < min { bad = 1 }
		END { exit bad || n != 2 }'
}

ready_for_kill() {	# ready_for_kill: gw1 healthy, and up long enough (see up_for, pair_up_for)
	if [ "$FO_RESPAWN" = on ]; then
		is_healthy "$FO_GW1" && pair_up_for "$FO_GW1" 11
	else
		up_for "$FO_GW1" 11
	fi
}

respawns() { fdocker logs "$1" 2>&1 | grep -c 'starting it again'; }

# audit_count CONTAINER NAME: its audit lines of queries for NAME; audited: one at least;
# audit_counts NAME: gw1's and gw2's.
audit_count() { fdocker logs "$1" 2>/dev/null | grep -c "\"qname\":\"$(re_lit "$2")\""; }
audited() { [ "$(audit_count "$1" "$2")" -ge 1 ]; }
audit_counts() { echo "$(audit_count "$FO_GW1" "$1") $(audit_count "$FO_GW2" "$1")"; }

# respawned CONTAINER RESTARTS RESPAWNS: the entrypoint started a daemon again (more than
# RESPAWNS times in all), the container did not restart (RESTARTS), and it is healthy.
respawned() {
	[ "$(respawns "$1")" -gt "$3" ] && ! restarted_since "$1" "$2" && is_healthy "$1" &&
		pair_up_for "$1" 0
}

kill_daemons() {	# kill_daemons CONTAINER COMM...: SIGKILL to those daemons in it
	fdocker exec "$1" bash -c 'for p in /proc/[0-9]*; do
		c=$(cat "$p/comm" 2>/dev/null) || continue
		for n in "$@"; do [ "$c" = "$n" ] && kill -KILL "${p#/proc/}"; done
	done; true' _ "${@:2}"
}

# pid_in CONTAINER COMM: the pid (in the container) of the live daemon named COMM, if any.
pid_in() { daemons_in "$1" | awk -v c="$2" '$2 == c && $3 != "Z" { print $1; exit }'; }

# no_daemons CONTAINER: no daemon of gatehouse runs in it (zombies, which a frozen PID 1
# cannot reap, count as dead); fails when the container cannot be asked.
no_daemons() {
	local out
	out=$(daemons_in "$1") || return 1
	[ -z "$out" ] || ! awk 'NF && $3 != "Z" { live = 1 } END { exit !live }' <<<"$out"
}
not_running() { [ "$(fdocker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = false ]; }
restarted_since() {	# restarted_since CONTAINER COUNT: its RestartCount is above COUNT
	[ "$(fdocker inspect -f '{{.RestartCount}}' "$1" 2>/dev/null)" -gt "$2" ]
}

# host_pid CONTAINER: its PID 1 on the host; fails unless it is a real one (a stopped or
# restarting container has 0, and `kill 0` would signal this script's own group).
host_pid() {
	local pid
	pid=$(timeout 20 docker inspect -f '{{.State.Pid}}' "$1" 2>/dev/null) || return 1
	[ "${pid:-0}" -gt 1 ] || return 1
	echo "$pid"
}

# kill_gw1 HOW: put gw1 in the dead state HOW (killed, paused, daemons); succeeds when it is.
kill_gw1() {
	case $1 in
	killed)
		timeout 30 docker kill "$FO_GW1" >/dev/null && wait_for 20 not_running "$FO_GW1" ;;
	paused)
		timeout 30 docker pause "$FO_GW1" >/dev/null ;;
	daemons)
		FO_PID1=$(host_pid "$FO_GW1") || return 1
		kill -STOP "$FO_PID1" || return 1
		kill_daemons "$FO_GW1" gatehouse-resol gatehouse-forwa &&
			wait_for 20 no_daemons "$FO_GW1" ;;
	esac
}

revive_gw1() {	# revive_gw1 HOW: back from kill_gw1 HOW, healthy
	case $1 in
	killed) timeout 60 docker start "$FO_GW1" >/dev/null ;;
	paused) timeout 30 docker unpause "$FO_GW1" >/dev/null ;;
	daemons)
		# The entrypoint sees its daemons gone, exits non-zero, and Docker restarts it.
		local n
		n=$(fdocker inspect -f '{{.RestartCount}}' "$FO_GW1")
		kill -CONT "$FO_PID1"
		wait_for 60 restarted_since "$FO_GW1" "$n" ;;
	esac
	wait_for 60 up_for "$FO_GW1" 11
}

# dead_gw1 HOW: FO_REPEAT times, gw1 dead HOW while gw2 lives; figures and checks.
dead_gw1() {
	local how=$1 what=$2 label=$3 i t0 back dns conn ip held ok_back=1 ok_dig=1 ok_held=1 r
	local lat=() tdns=() tconn=() helds=() bad=""
	echo "# gw1 $what, gw2 alive ($FO_REPEAT times)"
	for ((i = 1; i <= FO_REPEAT; i++)); do
		if ! wait_for 60 up_for "$FO_GW1" 11 || ! is_healthy "$FO_GW2"; then
			report 0 "gw1 and gw2 healthy before round $i" "gw1 $(health "$FO_GW1"), gw2 $(health "$FO_GW2")"
			return
		fi
		held=$(hold_open "$FO_CLIENT" "$how$i")
		t0=$(now_ms)
		if ! kill_gw1 "$how"; then
			report 0 "gw1 $what (round $i)" "$(fdocker inspect -f '{{.State.Status}}' "$FO_GW1")"
			revive_gw1 "$how"
			return
		fi
		back=$(service_back "$FO_CLIENT")
		read -r dns conn ip <<<"$back"
		if [ "$dns" = never ] || [ "$ip" != "$FO_IP2" ]; then
			ok_back=0 bad="$bad round $i: $back;"
		else
			tdns+=("$((dns - t0))") tconn+=("$((conn - t0))")
		fi
		for _ in 1 2 3; do
			r=$(dig_once "$FO_CLIENT")
			if [ "${r#* }" = "$FO_IP2" ]; then
				lat+=("${r%% *}")
			else
				ok_dig=0 bad="$bad lookup: $r;"
			fi
		done
		r=$(held_result "$FO_CLIENT" "$how$i")
		helds+=("$r")
		[[ $held == SSH-2.0-banner.test && $r != answered* ]] || ok_held=0
		if ! revive_gw1 "$how"; then
			report 0 "gw1 comes back after being $what" "$(health "$FO_GW1"); $(fdocker logs --tail 5 "$FO_GW1" 2>&1)"
			return
		fi
	done
	if [ "$ok_back" = 1 ]; then
		report 1 "gw1 $what: lookups and HTTPS by name work again through gw2 ($FO_IP2) within 60 s, every round" ""
	else
		report 0 "gw1 $what: lookups and HTTPS by name work again through gw2 within 60 s" "$bad"
	fi
	if [ "$ok_dig" = 1 ]; then
		report 1 "gw1 $what: each lookup is answered, with gw2's address" ""
	else
		report 0 "gw1 $what: each lookup is answered, with gw2's address" "$bad"
	fi
	if [ "$ok_held" = 1 ]; then
		report 1 "gw1 $what: a connection held open through gw1 gets no answer any more" "${helds[*]}"
	else
		report 0 "gw1 $what: a connection held open through gw1 gets no answer any more" "greeting '$held'; ${helds[*]}"
	fi
	figure "$label: one lookup (dig, gw2 answers)" "$(stats "${lat[@]}")"
	figure "$label: kill to first lookup" "$(stats "${tdns[@]}")"
	figure "$label: kill to first HTTPS by name" "$(stats "${tconn[@]}")"
	figure "$label: connection open through gw1" "$(printf '%s\n' "${helds[@]}" | sort | uniq -c | sed 's/^ *//' | tr '\n' ';' | sed 's/;$//')"
}

# one_gateway HOW: FO_REPEAT times, one of gw1's processes killed (resolver, forwarder,
# pid1); the client `solo` knows gw1 alone: restart: unless-stopped brings it back.
one_gateway() {
	local how=$1 what=$2 i n m t0 back dns conn ip held r ok_back=1 started_ms other opid pid
	local tdns=() tconn=() tstarted=() two=() fast=() tans=() helds=() bad="" label
	label="one gateway, $what killed"
	[ "$FO_RESPAWN" = on ] && label="respawn on, $what killed"
	echo "# $label (solo, dns: [gw1]), restart: unless-stopped, GATEHOUSE_ENTRYPOINT_RESPAWN=$FO_RESPAWN ($FO_REPEAT times)"
	for ((i = 1; i <= FO_REPEAT; i++)); do
		if ! wait_for 60 ready_for_kill; then
			report 0 "gw1 healthy before round $i" "$(health "$FO_GW1")"
			return
		fi
		held=$(hold_open "$FO_SOLO" "$how$FO_RESPAWN$i")
		n=$(fdocker inspect -f '{{.RestartCount}}' "$FO_GW1")
		m=$(respawns "$FO_GW1")
		# with respawn, the daemon not killed must go on as it was (the same process)
		other=''
		case $how in
		resolver) other=gatehouse-forwa ;;
		forwarder) other=gatehouse-resol ;;
		esac
		opid=''
		[ -n "$other" ] && opid=$(pid_in "$FO_GW1" "$other")
		t0=$(now_ms)
		case $how in
		pid1) pid=$(host_pid "$FO_GW1") && kill -KILL "$pid" ;;
		resolver) kill_daemons "$FO_GW1" gatehouse-resol ;;
		forwarder) kill_daemons "$FO_GW1" gatehouse-forwa ;;
		esac
		# The two-gateway client at the same time, for the same death.
		service_back "$FO_CLIENT" >"$WORK/fo-two" &
		local pids=("$!")
		service_back "$FO_FAST" >"$WORK/fo-fast" &
		pids+=("$!")
		answer_back "$FO_SOLO" >"$WORK/fo-answer" &
		pids+=("$!")
		back=$(service_back "$FO_SOLO")
		wait "${pids[@]}"
		read -r dns conn ip <<<"$back"
		if [ "$dns" = never ] || [ "$ip" != "$FO_IP1" ]; then
			ok_back=0 bad="$bad round $i: $back;"
		else
			tdns+=("$((dns - t0))") tconn+=("$((conn - t0))")
		fi
		read -r dns conn ip <"$WORK/fo-two"
		[ "$dns" = never ] || two+=("$((conn - t0))")
		read -r dns conn ip <"$WORK/fo-fast"
		[ "$dns" = never ] || fast+=("$((conn - t0))")
		read -r dns <"$WORK/fo-answer"
		[ "$dns" = never ] || tans+=("$((dns - t0))")
		r=$(held_result "$FO_SOLO" "$how$FO_RESPAWN$i")
		helds+=("$r")
		if [ "$FO_RESPAWN" = on ]; then
			wait_for 60 respawned "$FO_GW1" "$n" "$m" ||
				ok_back=0 bad="$bad round $i: no respawn in place (restarts $(fdocker inspect -f '{{.RestartCount}}' "$FO_GW1"), $(health "$FO_GW1"));"
			if [ -n "$opid" ] && [ "$(pid_in "$FO_GW1" "$other")" != "$opid" ]; then
				ok_back=0 bad="$bad round $i: $other was restarted too (pid $opid, now $(pid_in "$FO_GW1" "$other"));"
			fi
		elif wait_for 60 restarted_since "$FO_GW1" "$n" && wait_for 60 is_healthy "$FO_GW1"; then
			started_ms=$(($(date -d "$(fdocker inspect -f '{{.State.StartedAt}}' "$FO_GW1")" +%s%3N) - t0))
			tstarted+=("$started_ms")
		else
			ok_back=0 bad="$bad round $i: no restart to healthy ($(health "$FO_GW1"));"
		fi
	done
	local how_back="Docker restarts gw1"
	[ "$FO_RESPAWN" = on ] && how_back="the entrypoint starts the dead daemon again in gw1 (no container restart, the other daemon the same process)"
	if [ "$ok_back" = 1 ]; then
		report 1 "$label: $how_back, and lookups and HTTPS by name work again within 60 s, every round" \
			"$(fdocker logs "$FO_GW1" 2>&1 | grep 'gatehouse-entrypoint' | tail -n 1)"
	else
		report 0 "$label: $how_back, and service comes back" "$bad"
	fi
	figure "$label: kill to Docker's DNS answering (dig +time=1)" "$(stats "${tans[@]}")"
	figure "$label: kill to first lookup" "$(stats "${tdns[@]}")"
	figure "$label: kill to first HTTPS by name" "$(stats "${tconn[@]}")"
	[ "$FO_RESPAWN" = on ] || figure "$label: kill to container started again" "$(stats "${tstarted[@]}")"
	figure "  same, dns_opt timeout:1: kill to first HTTPS by name" "$(stats "${fast[@]}")"
	figure "  same death, dns: [gw1, gw2]: kill to first HTTPS by name" "$(stats "${two[@]}")"
	figure "$label: connection open through gw1" "$(printf '%s\n' "${helds[@]}" | sort | uniq -c | sed 's/^ *//' | tr '\n' ';' | sed 's/;$//')"
}

failover_scenario() {
	echo "# two gateways: docker-compose.failover.yml (gw1 $FO_IP1, gw2 $FO_IP2, constrained $FO_SUBNET)"
	PROJECTS+=("$FX")
	expect "docker-compose.failover.yml is valid for ${COMPOSE[*]}" "^$" \
		bash -c "cd '$ROOT' && ${COMPOSE[*]} -f docker-compose.failover.yml config -q"
	expect "it has no 'version:' key" "^$" bash -c "! grep -nE '^version:' '$ROOT/docker-compose.failover.yml'"
	expect "it starts a dead daemon again in place (GATEHOUSE_ENTRYPOINT_RESPAWN on) in both gateways" "^2$" \
		bash -c "cd '$ROOT' && ${COMPOSE[*]} -f docker-compose.failover.yml config | grep -c 'GATEHOUSE_ENTRYPOINT_RESPAWN: .on.'"
	fo_mode off
	if ! fcompose up -d --no-build gw1 gw2 web banner client solo solo-fast >"$WORK/fo-up.log" 2>&1; then
		report 0 "the failover variant comes up" "$(cat "$WORK/fo-up.log")"
		return
	fi
	FO_GW1=$(fcompose ps -q gw1)
	FO_GW2=$(fcompose ps -q gw2)
	FO_CLIENT=$(fcompose ps -q client)
	FO_SOLO=$(fcompose ps -q solo)
	FO_FAST=$(fcompose ps -q solo-fast)
	if [ -z "$FO_GW1" ] || [ -z "$FO_GW2" ] || [ -z "$FO_CLIENT" ] || [ -z "$FO_SOLO" ] || [ -z "$FO_FAST" ]; then
		report 0 "the failover variant starts every service" "$(fcompose ps 2>&1)"
		return
	fi
	if ! wait_for 60 is_healthy "$FO_GW1" || ! wait_for 60 is_healthy "$FO_GW2"; then
		report 0 "both gateways come up healthy" "gw1 $(health "$FO_GW1"), gw2 $(health "$FO_GW2")"
		return
	fi
	report 1 "gw1 and gw2 come up healthy (restart: unless-stopped, read_only, no capabilities)" ""

	echo "# both alive"
	expect "the client's lookup is answered by gw1, first in dns: (its own address, answer auto)" \
		"^$(re_lit "$FO_IP1") +api\.example\.test" docker exec "$FO_CLIENT" getent hosts api.example.test
	expect "HTTPS by name goes through gw1" "^$(re_lit "$FO_IP1")$" docker exec "$FO_CLIENT" \
		curl -sS -o /dev/null --max-time 15 --cacert "$FO_CA" -w '%{remote_ip}\n' https://api.example.test/
	expect "gw2 answers too when asked directly (its own address)" "^$(re_lit "$FO_IP2")$" \
		docker exec "$FO_CLIENT" dig +short +time=3 +tries=1 "@$FO_IP2" api.example.test
	expect "a name not allowed is NXDOMAIN" \
		"status: NXDOMAIN" docker exec "$FO_CLIENT" dig +time=5 +tries=1 blocked.example.test
	# the resolver writes its line after the answer, and Docker's log copies it later still
	wait_for 10 audited "$FO_GW1" blocked.example.test
	expect "gw1 audited it; gw2 was not asked (gw1's NXDOMAIN is authoritative: Docker's DNS stops there)" \
		"^1 0$" audit_counts blocked.example.test
	expect "a connection by name to banner.test:22 (routed) goes through gw1" "^SSH-2\.0-banner\.test$" \
		hold_open "$FO_CLIENT" alive
	expect "and keeps working while both live" "^answered after" held_result "$FO_CLIENT" alive
	local lat=() r
	for _ in 1 2 3 4 5; do
		r=$(dig_once "$FO_CLIENT")
		[ "${r#* }" = "$FO_IP1" ] && lat+=("${r%% *}")
	done
	figure "both alive: one lookup (dig, gw1 answers)" "$(stats "${lat[@]}")"

	dead_gw1 killed "killed (docker kill: stopped, its address silent)" "gw1 killed"
	dead_gw1 paused "paused (docker pause: the address there, nothing answers)" "gw1 paused"
	local host=0 pid
	if as_root && pid=$(host_pid "$FO_GW1") && kill -0 "$pid" 2>/dev/null; then
		host=1
		dead_gw1 daemons "daemons dead, container running (port unreachable, resets)" "gw1 daemons dead"
	else
		echo "# skipped: the daemons-dead and PID 1 cases need root on the Docker host (its PIDs)"
	fi
	one_gateway resolver resolver
	one_gateway forwarder forwarder
	if [ "$host" = 1 ]; then
		one_gateway pid1 "PID 1"
	fi

	echo "# GATEHOUSE_ENTRYPOINT_RESPAWN=on: a dead daemon starts again in the container"
	fo_mode on
	if fcompose up -d --no-build gw1 gw2 >"$WORK/fo-up2.log" 2>&1 &&
		FO_GW1=$(fcompose ps -q gw1) && FO_GW2=$(fcompose ps -q gw2) &&
		wait_for 60 is_healthy "$FO_GW1" && wait_for 60 is_healthy "$FO_GW2"; then
		report 1 "gw1 and gw2 recreated with GATEHOUSE_ENTRYPOINT_RESPAWN=on come up healthy (the daemons never see it)" ""
		one_gateway resolver resolver
		one_gateway forwarder forwarder
	else
		report 0 "gw1 and gw2 with GATEHOUSE_ENTRYPOINT_RESPAWN=on come up healthy" \
			"$(cat "$WORK/fo-up2.log"); $(fdocker logs --tail 5 "$(fcompose ps -q gw1)" 2>&1)"
	fi

	echo "# figures (failover scenario, $FO_REPEAT rounds each; engine $(timeout 20 docker version -f '{{.Server.Version}}' 2>/dev/null))"
	printf '    %s\n' "${FO_FIG[@]}"
	fcompose down -v -t 3 >/dev/null 2>&1
}
