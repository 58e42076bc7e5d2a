# pool.sh: the pool scenario of tests/docker/run.sh (`answer pool`, name-addressed mode),
# sourced by run.sh, whose helpers (expect, refuse, report, wait_for, ip_on, ...) it uses.
# Brings up the top-level docker-compose.pool.yml as it is, with tests/docker/compose.pool.yml
# on top (the test's images, names and upstream servers), on its own subnet
# (GATEHOUSE_TEST_POOL_SUBNET, default 172.30.214.0/24), and checks on the real engine:
# two hosts on one port with no `route` (a plain-TCP server-speaks-first protocol on 22,
# SMTP with STARTTLS on 587) reached by name, each at its own pool address; HTTPS still
# works; refusals (an address never answered, a name outside the client's policy, the
# bridge side); the entrypoint routed the pool and the running processes hold no
# CAP_NET_ADMIN (no capability at all, uid 10001); the mapping survives a reload and a
# restart (named volume); a gateway without NET_ADMIN, or started as non-root, stops at
# once with a message naming what is missing.
# Scripts run inside containers are single-quoted on purpose: they expand there.
# shellcheck shell=bash disable=SC2016

PL_SUBNET=${GATEHOUSE_TEST_POOL_SUBNET:-172.30.214.0/24}
PL_NET=${PL_SUBNET%.*}		# the first three octets: the layout below needs a /24
PL_RANGE=$PL_NET.0/26		# Docker's own allocations (ip_range)
PL_IP=$PL_NET.120		# the gateway, fixed
PL_MAILER_IP=$PL_NET.100	# the client in policy grafana, fixed
PL_POOL=$PL_NET.128/25		# gatehouse's answers
PX=${ID}pool

re_lit() { echo "${1//./\\.}"; }	# an address as a literal in a regex

pcompose() {	# compose with the pool files, the test's addresses and project
	(cd "$ROOT" && GATEHOUSE_SUBNET=$PL_SUBNET DOCKER_IP_RANGE=$PL_RANGE GATEHOUSE_IP=$PL_IP \
		ANSWER_POOL=$PL_POOL POOL_GRAFANA_IP=$PL_MAILER_IP GH_DEMO_IMAGE=$GH_DEMO_IMAGE \
		timeout 300 "${COMPOSE[@]}" -p "$PX" -f docker-compose.pool.yml -f "$HERE/compose.pool.yml" "$@")
}

in_pool() {	# in_pool ADDR: ADDR is a pool address that can be handed out (.129 to .254)
	local last=${1##*.}
	[ "${1%.*}" = "$PL_NET" ] && [ "$last" -ge 129 ] && [ "$last" -le 254 ]
}

# greet CONTAINER HOST PORT: connect, read the server's first line, send ours, read its
# answer (a server-speaks-first protocol, like SSH); prints "GREETING / ANSWER". Fails with
# "closed without a greeting" when the gateway refuses the connection.
greet() {
	docker exec "$1" timeout 15 bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		IFS= read -r g <&3 || { echo "closed without a greeting"; exit 1; }
		printf "SSH-2.0-docker-check\r\n" >&3
		IFS= read -r a <&3 || { echo "$g / closed after the greeting"; exit 1; }
		printf "%s / %s\n" "$g" "$a"' "$2" "$3" 2>&1 | tr -d '\r'
	return "${PIPESTATUS[0]}"
}

# greet_name CONTAINER NAME PORT: NAME's address as the container resolves it, then greet.
greet_name() {
	printf '%s ' "$(docker exec "$1" getent ahostsv4 "$2" | awk '{ print $1; exit }')"
	greet "$@"
}

# speak_first CONTAINER HOST PORT: the client sends a line first, then reads (so that a
# gateway waiting for a TLS ClientHello or an HTTP request decides at once).
speak_first() {
	docker exec "$1" timeout 20 bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		printf "SSH-2.0-docker-check\r\n" >&3
		IFS= read -r l <&3 || { echo "closed without a greeting"; exit 1; }
		printf "%s\n" "$l"' "$2" "$3" 2>&1 | tr -d '\r'
	return "${PIPESTATUS[0]}"
}

# Uid, capability sets and no_new_privs of PID 1 (the entrypoint, after its re-exec) and of
# both daemons; "BAD ..." on a line whose process holds CAP_NET_ADMIN (bit 12) in any set,
# any capability but NET_BIND_SERVICE in its bounding set, any in the other four, or
# another uid than gatehouse's 10001.
caps_of_gateway() {
	local out
	out=$(docker exec "$1" bash -c '
	for p in /proc/[0-9]*; do
		n=$(cat "$p/comm" 2>/dev/null) || continue
		case $n in
		gatehouse-resol | gatehouse-forwa) ;;
		*) [ "${p#/proc/}" = 1 ] || continue ;;
		esac
		uid=$(awk "\$1 == \"Uid:\" { print \$2, \$3, \$4, \$5 }" "$p/status")
		line="$n (pid ${p#/proc/}) uid $uid" bad=
		for c in CapInh CapPrm CapEff CapBnd CapAmb; do
			v=$(awk -v c="$c:" "\$1 == c { print \$2 }" "$p/status")
			line="$line $c=$v"
			(((16#$v >> 12) & 1)) && bad="$bad $c:NET_ADMIN"
			if [ "$c" = CapBnd ]; then
				((16#$v & ~0x400)) && bad="$bad CapBnd:more-than-NET_BIND_SERVICE"
			else
				((16#$v)) && bad="$bad $c:not-empty"
			fi
		done
		[ "$uid" = "10001 10001 10001 10001" ] || bad="$bad uid"
		nnp=$(awk "\$1 == \"NoNewPrivs:\" { print \$2 }" "$p/status")
		[ "$nnp" = 1 ] || bad="$bad no_new_privs"
		echo "$line NoNewPrivs=$nnp${bad:+ BAD$bad}"
	done' 2>&1)
	echo "$out"
	[ "$(grep -c '^gatehouse-\(resol\|forwa\) ' <<<"$out")" = 2 ] &&
		[ "$(grep -c ' uid ' <<<"$out")" = 3 ] && ! grep -q BAD <<<"$out"
}

reloads_logged() {	# reloads_logged CONTAINER N: both daemons together logged N reloads
	[ "$(docker logs "$1" 2>&1 | grep -cE 'gatehouse-(resolver|forwarder): configuration reloaded')" -ge "$2" ]
}

# start_refused DOCKER-RUN-OPTION...: docker run of the image with a pool; prints
# "exit N: OUTPUT" on one line and fails (as refuse wants) unless it started.
start_refused() {
	local out rc
	out=$(timeout 60 docker run --rm --network none --read-only --security-opt no-new-privileges:true \
		-e GATEHOUSE_ANSWER="pool $PL_POOL" -e GATEHOUSE_ALLOW="git.alpha.test:22:private" \
		-e GATEHOUSE_FORWARD_LISTEN=0.0.0.0 "$@" "$GH_IMAGE" 2>&1)
	rc=$?
	echo "exit $rc: $(tr '\n' ' ' <<<"$out")"
	return "$rc"
}

pool_scenario() {
	echo "# the pool variant: docker-compose.pool.yml (answer pool $PL_POOL, ip_range $PL_RANGE, gateway $PL_IP)"
	PROJECTS+=("$PX")
	expect "docker-compose.pool.yml is valid for ${COMPOSE[*]}" "^$" \
		bash -c "cd '$ROOT' && ${COMPOSE[*]} -f docker-compose.pool.yml config -q"
	expect "it has no 'version:' key and no route" "^$" \
		bash -c "! grep -nE '^version:|GATEHOUSE_ROUTE|^ *route ' '$ROOT/docker-compose.pool.yml'"
	if ! pcompose up -d --no-build gatehouse git-alpha git-beta smtp-alpha smtp-beta web client mailer \
		>"$WORK/pool-up.log" 2>&1; then
		report 0 "the pool variant comes up" "$(cat "$WORK/pool-up.log")"
		return
	fi
	local gw client mailer gw_out web_out alpha_out beta_out salpha_out sbeta_out client_ip
	gw=$(pcompose ps -q gatehouse)
	client=$(pcompose ps -q client)
	mailer=$(pcompose ps -q mailer)
	if [ -z "$gw" ] || [ -z "$client" ] || [ -z "$mailer" ]; then
		report 0 "the pool variant starts every service" "$(pcompose ps 2>&1)"
		return
	fi
	if ! wait_for 60 is_healthy "$gw"; then
		report 0 "the pool variant's gateway comes up healthy" \
			"health $(health "$gw"); $(docker logs --tail 20 "$gw" 2>&1)"
		return
	fi
	report 1 "the gateway comes up healthy (user 0, cap_add NET_ADMIN SETUID SETGID SETPCAP, read_only, no-new-privileges)" ""
	local neti=${PX}_internet-access netc=${PX}_constrained
	gw_out=$(ip_on "$gw" "$neti")
	web_out=$(ip_on "$(pcompose ps -q web)" "$neti")
	alpha_out=$(ip_on "$(pcompose ps -q git-alpha)" "$neti")
	beta_out=$(ip_on "$(pcompose ps -q git-beta)" "$neti")
	salpha_out=$(ip_on "$(pcompose ps -q smtp-alpha)" "$neti")
	sbeta_out=$(ip_on "$(pcompose ps -q smtp-beta)" "$neti")
	client_ip=$(ip_on "$client" "$netc")
	log "pool: gateway $gw_out outside; git-alpha $alpha_out, git-beta $beta_out, smtp-alpha $salpha_out, smtp-beta $sbeta_out, web $web_out; client $client_ip, mailer $PL_MAILER_IP"

	echo "# the gateway's start: pool routed as root, then no capabilities"
	expect "the entrypoint routed the pool to the gateway (a local route in table local)" \
		"^local $(re_lit "$PL_POOL") dev eth[0-9]+" docker exec "$gw" ip -o route show table local
	expect "and said so on stderr" "answer pool: $(re_lit "$PL_POOL") routed to this container on eth[0-9]+" \
		docker logs "$gw"
	expect "entrypoint (PID 1) and both daemons: uid 10001, no CAP_NET_ADMIN in CapEff/CapPrm/CapInh/CapBnd/CapAmb, no capability but at most NET_BIND_SERVICE in the bounding set, no_new_privs" \
		"gatehouse-forwa .*CapEff=0+ .*NoNewPrivs=1$" caps_of_gateway "$gw"
	expect "the mapping's directory and file on the named volume belong to gatehouse (0700, 0600)" \
		"^gatehouse:gatehouse 700 /var/lib/gatehouse gatehouse:gatehouse 600 /var/lib/gatehouse/pool$" \
		bash -c "docker exec -u gatehouse $gw stat -c '%U:%G %a %n' /var/lib/gatehouse /var/lib/gatehouse/pool | tr '\n' ' ' | sed 's/ $//'"
	expect "Docker gave the client an address from ip_range $PL_RANGE, outside the pool" \
		"^$(re_lit "$PL_NET")\.([2-9]|[1-5][0-9]|6[0-3])$" echo "$client_ip"

	echo "# each allowed name its own address in the pool"
	local n a addrs=() seen=""
	for n in git.alpha.test git.beta.test smtp.alpha.test smtp.beta.test api.example.test; do
		a=$(docker exec "$client" getent ahostsv4 "$n" 2>/dev/null | awk '{ print $1; exit }')
		addrs+=("$a")
		if [ -n "$a" ] && in_pool "$a" && [ "${seen#* "$a" }" = "$seen" ]; then
			report 1 "$n resolves to $a, in the pool and no other name's" ""
		else
			report 0 "$n resolves to its own pool address" "got '${a}' (earlier: $seen)"
		fi
		seen="$seen $a "
	done
	local alpha=${addrs[0]} beta=${addrs[1]} salpha=${addrs[2]} sbeta=${addrs[3]}
	expect "the same name again: the same address" "^$(re_lit "$alpha") +git\.alpha\.test" \
		docker exec "$client" getent hosts git.alpha.test
	expect "AAAA of an allowed name: NODATA (no IPv6 pool)" "status: NOERROR.*ANSWER: 0" \
		bash -c "docker exec $client dig +time=3 +tries=1 git.alpha.test AAAA | tr '\n' ' '"
	expect "a name not allowed is NXDOMAIN" "status: NXDOMAIN" \
		docker exec "$client" dig +time=3 +tries=1 blocked.example.test

	echo "# two hosts on port 22, no TLS, server speaks first, no route"
	expect "git.alpha.test:22 greets as git.alpha.test and answers our line" \
		"^SSH-2\.0-git\.alpha\.test / hello git\.alpha\.test$" greet "$client" git.alpha.test 22
	expect "git.beta.test:22 greets as git.beta.test" \
		"^SSH-2\.0-git\.beta\.test / hello git\.beta\.test$" greet "$client" git.beta.test 22
	expect "git-alpha saw the connection from the gateway ($gw_out), with our line" \
		"banner git\.alpha\.test: from=$(re_lit "$gw_out"):[0-9]+ client said \"SSH-2\.0-docker-check\"" \
		docker logs "$(pcompose ps -q git-alpha)"
	expect "git-beta saw its own connection from the gateway" \
		"banner git\.beta\.test: from=$(re_lit "$gw_out"):[0-9]+ client said" docker logs "$(pcompose ps -q git-beta)"

	echo "# two hosts on port 587, SMTP with STARTTLS (no name in the first bytes), certificates verified"
	local s
	for s in alpha beta; do
		expect "curl: smtp://smtp.$s.test:587 with --ssl-reqd sends a message" "queued|^$" \
			bash -c "printf 'Subject: pool-$s-$ID\r\n\r\nhello\r\n' | docker exec -i $client curl -sS --max-time 20 --cacert /etc/gatehouse-test/ca.pem --ssl-reqd --mail-from a@client.test --mail-rcpt oncall@example.test -T - smtp://smtp.$s.test:587"
	done
	expect "smtp-alpha got smtp.alpha.test's message only, over TLS for that name, via the gateway" \
		"^1 0$" bash -c "l=\$(docker logs $(pcompose ps -q smtp-alpha) 2>&1); printf '%s %s' \"\$(grep -cE 'subject=\"pool-alpha-$ID\".*from=$(re_lit "$gw_out"):.*tls-sni=smtp\.alpha\.test' <<<\"\$l\")\" \"\$(grep -c 'pool-beta-$ID' <<<\"\$l\")\""
	expect "smtp-beta got smtp.beta.test's message only" \
		"^1 0$" bash -c "l=\$(docker logs $(pcompose ps -q smtp-beta) 2>&1); printf '%s %s' \"\$(grep -cE 'subject=\"pool-beta-$ID\".*from=$(re_lit "$gw_out"):.*tls-sni=smtp\.beta\.test' <<<\"\$l\")\" \"\$(grep -c 'pool-alpha-$ID' <<<\"\$l\")\""
	expect "HTTPS by name at its pool address (SNI the same name): https://api.example.test/" "^hello from web$" \
		docker exec "$client" curl -sS --max-time 15 --cacert /etc/gatehouse-test/ca.pem https://api.example.test/

	echo "# the demo of docker-compose.pool.yml, pointed at the test's servers"
	pcompose run --rm --no-deps -v "$WORK/ctx/ca.pem:/ca.pem:ro" -e CURL_CA_BUNDLE=/ca.pem \
		-e DEMO_POOL="$PL_POOL" demo >"$WORK/pool-demo.out" 2>"$WORK/pool-demo.err"
	# compose's own progress lines are on stderr: shown only when the demo printed nothing
	[ -s "$WORK/pool-demo.out" ] || cat "$WORK/pool-demo.err" >>"$WORK/pool-demo.out"
	sed 's/^/    demo | /' "$WORK/pool-demo.out"
	expect "demo: git.beta.test has its own address in the pool" \
		"lookup git\.beta\.test: $(re_lit "$beta") \(its own address in the pool\)" cat "$WORK/pool-demo.out"
	expect "demo: the not-allowed name does not exist" "lookup blocked\.example\.test: no such name" \
		cat "$WORK/pool-demo.out"
	expect "demo: both banners on port 22" \
		"git\.alpha\.test:22 .*: SSH-2\.0-git\.alpha\.test.*git\.beta\.test:22 .*: SSH-2\.0-git\.beta\.test" \
		bash -c "tr '\n' ' ' <'$WORK/pool-demo.out'"
	expect "demo: both STARTTLS greetings on 587, certificates verified" \
		"smtp\.alpha\.test:587: 220 smtp\.alpha\.test ESMTP.*verified.*smtp\.beta\.test:587: 220 smtp\.beta\.test ESMTP.*verified" \
		bash -c "tr '\n' ' ' <'$WORK/pool-demo.out'"

	echo "# refused"
	refuse "an address of the pool never answered ($PL_NET.254:22): closed at once" \
		"closed without a greeting" greet "$client" "$PL_NET.254" 22
	expect "mailer (policy grafana): smtp.alpha.test:587 works" "queued|^$" \
		bash -c "printf 'Subject: pool-mailer-$ID\r\n\r\nalert\r\n' | docker exec -i $mailer curl -sS --max-time 20 --cacert /etc/gatehouse-test/ca.pem --ssl-reqd --mail-from a@mailer.test --mail-rcpt oncall@example.test -T - smtp://smtp.alpha.test:587"
	expect "mailer: smtp.beta.test (not in its policy) is NXDOMAIN for it" "status: NXDOMAIN" \
		docker exec "$mailer" dig +time=3 +tries=1 smtp.beta.test
	refuse "mailer at smtp.beta.test's address ($sbeta:587, taken from another client's answer): refused" \
		"closed without a greeting" greet "$mailer" "$sbeta" 587
	refuse "mailer at git.alpha.test's address ($alpha:22): refused" \
		"closed without a greeting" greet "$mailer" "$alpha" 22
	refuse "the bridge side: web at the gateway's outside address $gw_out:22 (the wildcard listener; no policy there): refused" \
		"closed without a greeting" speak_first "$(pcompose ps -q web)" "$gw_out" 22

	echo "# the audit log"
	timeout 30 docker logs "$gw" >"$WORK/pool-audit.jsonl" 2>"$WORK/pool-diag.log"
	local audit_out line
	audit_out=$(python3 - "$WORK/pool-audit.jsonl" "$client_ip" "$PL_MAILER_IP" "$alpha" "$beta" "$salpha" \
		"$sbeta" "$alpha_out" "$beta_out" "$salpha_out" "$sbeta_out" "$PL_NET.254" <<'EOF'
import json, sys
path, client, mailer, alpha, beta, salpha, sbeta, alpha_o, beta_o, salpha_o, sbeta_o, unused = sys.argv[1:]
ev = []
for line in open(path, encoding="utf-8", errors="replace"):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if isinstance(e, dict):
        ev.append(e)
def host(v):
    return v.rsplit(":", 1)[0] if isinstance(v, str) else v
def has(**kw):
    for e in ev:
        ok = True
        for k, v in kw.items():
            if k == "upstream_host":
                ok = ok and host(e.get("upstream")) == v
            elif k == "client":
                ok = ok and host(e.get("client")) == v
            elif k == "no_name":
                ok = ok and "name" not in e
            else:
                ok = ok and e.get(k) == v
        if ok:
            return True
    return False
checks = [
    ("resolver: git.alpha.test answered with its pool address %s" % alpha,
     has(daemon="resolver", event="query", client=client, qname="git.alpha.test", qtype="A",
         verdict="allow", answer=alpha)),
] + [
    ("forwarder: client -> %s:%d via address, upstream %s %s" % (name, port, server, up),
     has(daemon="forwarder", event="conn", client=client, name=name, port=port,
         verdict="allow", via="address", upstream_host=up))
    for name, port, server, up in [("git.alpha.test", 22, "git-alpha", alpha_o),
                                   ("git.beta.test", 22, "git-beta", beta_o),
                                   ("smtp.alpha.test", 587, "smtp-alpha", salpha_o),
                                   ("smtp.beta.test", 587, "smtp-beta", sbeta_o)]
] + [
    ("forwarder: the unanswered address refused, reason unmapped, no name",
     has(daemon="forwarder", client=client, port=22, verdict="deny", reason="unmapped", no_name=True)),
    ("forwarder: mailer %s at smtp.beta.test's address refused, not-allowed, policy grafana" % mailer,
     has(daemon="forwarder", client=mailer, name="smtp.beta.test", port=587, verdict="deny",
         reason="not-allowed", policy="grafana")),
    ("forwarder: mailer -> smtp.alpha.test:587 allowed under policy grafana",
     has(daemon="forwarder", event="conn", client=mailer, name="smtp.alpha.test", verdict="allow",
         policy="grafana", via="address")),
]
for desc, ok in checks:
    print(("PASS " if ok else "FAIL ") + desc)
EOF
)
	while IFS= read -r line; do
		case $line in
		"PASS "*) report 1 "audit: ${line#PASS }" "" ;;
		"FAIL "*) report 0 "audit: ${line#FAIL }" "$(grep '"forwarder"' "$WORK/pool-audit.jsonl" | tail -n 8)" ;;
		esac
	done <<<"$audit_out"

	echo "# reload and restart keep the mapping"
	docker exec -u gatehouse "$gw" bash -c 'kill -HUP 1'
	if wait_for 10 reloads_logged "$gw" 2; then
		report 1 "reload as the compose file says (exec -u gatehouse ... kill -HUP 1) reaches both daemons" ""
	else
		report 0 "reload (exec -u gatehouse ... kill -HUP 1) reaches both daemons" "$(docker logs --tail 10 "$gw" 2>&1)"
	fi
	expect "after the reload: git.beta.test keeps $beta and still reaches git-beta" \
		"^$(re_lit "$beta") SSH-2\.0-git\.beta\.test / hello" greet_name "$client" git.beta.test 22
	timeout 60 docker restart -t 5 "$gw" >/dev/null 2>&1
	if wait_for 60 is_healthy "$gw"; then
		report 1 "docker restart: the gateway comes back healthy" ""
	else
		report 0 "docker restart: the gateway comes back healthy" "$(docker logs --tail 20 "$gw" 2>&1)"
	fi
	expect "after the restart the entrypoint routed the pool again (or found it still local)" \
		"^2$" bash -c "docker logs $gw 2>&1 | grep -cE 'answer pool: $(re_lit "$PL_POOL") (routed to|is already local to) this container'"
	expect "after the restart: no capabilities again" "gatehouse-forwa .*NoNewPrivs=1$" caps_of_gateway "$gw"
	expect "after the restart: a client still holding git.alpha.test's address $alpha reaches git-alpha (mapping on the volume)" \
		"^SSH-2\.0-git\.alpha\.test / hello" greet "$client" "$alpha" 22
	expect "after the restart: git.alpha.test resolves to the same address" "^$(re_lit "$alpha") " \
		docker exec "$client" getent hosts git.alpha.test
	pcompose down -v -t 3 >/dev/null 2>&1

	echo "# a gateway with a pool that cannot route it stops at once"
	refuse "root without NET_ADMIN: exit 1, naming the missing capability" \
		"^exit 1: gatehouse-entrypoint: answer pool $(re_lit "$PL_POOL") needs CAP_NET_ADMIN at start to route the pool to this container: add cap_add: \[NET_ADMIN\] \(dropped before the daemons start\) *$" \
		start_refused --user 0 --cap-drop ALL --cap-add SETUID --cap-add SETGID --cap-add SETPCAP
	refuse "started as non-root (the image's default user) with a pool: exit 1, saying it starts as root with NET_ADMIN" \
		"^exit 1: gatehouse-entrypoint: answer pool .*the pool variant starts as root \(user: \"0\"\) with cap_add: \[NET_ADMIN\]" \
		start_refused
}
