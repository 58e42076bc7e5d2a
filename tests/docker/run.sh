#!/usr/bin/env bash
# run.sh: the Docker end-to-end test (`make docker-check`). On a real Docker engine: builds
# the image from the repository's Dockerfile, brings up tests/docker/compose.yml (the
# example's layout with upstream services of its own), and checks what a user relies on:
# allowed HTTPS and SMTPS work with certificate verification from a glibc client, a
# non-root client and a static pure-Go client that set only `dns:`; blocked names get
# NXDOMAIN; constrained containers reach nothing outside directly; container names still
# resolve; the audit log is in `docker logs`; health, signals and restarts behave. Then it
# checks the top-level docker-compose.yml, then the pool variant (tests/docker/pool.sh:
# docker-compose.pool.yml, answer pool, two hosts on one port with no route, the daemons
# holding no CAP_NET_ADMIN), then the failover variant (tests/docker/failover.sh:
# docker-compose.failover.yml, two gateways in `dns:`; one killed, paused, its daemons dead;
# prints the measured failover and restart times), and cleans up everything it made.
#
# Starts an engine when none runs and it can (root: installs docker.io, docker-compose and
# debootstrap when missing; `setsid dockerd`); makes debian:bookworm-slim with debootstrap
# from the machine's own Debian mirror when the image is missing (no registry is needed).
#
# Environment:
#   GATEHOUSE_DOCKER_OPTIONAL=1  no engine can be had: print why and exit 0 (.ci/run);
#                                otherwise that is an error (exit 1)
#   GATEHOUSE_TEST_SUBNET        constrained subnet of the scenario (default 172.30.213.0/24)
#   GATEHOUSE_TEST_POOL_SUBNET   constrained /24 of the pool scenario (default 172.30.214.0/24)
#   GATEHOUSE_TEST_FAILOVER_SUBNET  constrained /24 of the failover scenario (default 172.30.215.0/24)
#   GATEHOUSE_DOCKER_ONLY=pool   run the pool scenario alone (the images are built as usual);
#                        =failover  the failover scenario alone
#   GATEHOUSE_FAILOVER_REPEAT    rounds of each failover measurement (default 3)
#   GATEHOUSE_DOCKER_KEEP=1      keep the built images and the base image (faster reruns)
# Scripts run inside containers are single-quoted on purpose: they expand there.
# shellcheck disable=SC2016
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ONLY=${GATEHOUSE_DOCKER_ONLY:-}
OPTIONAL=${GATEHOUSE_DOCKER_OPTIONAL:-0}
KEEP=${GATEHOUSE_DOCKER_KEEP:-0}
ID=ghtest$$
GH_SUBNET=${GATEHOUSE_TEST_SUBNET:-172.30.213.0/24}
GH_IP=${GH_SUBNET%.*}.120
GH_GRAFANA_IP=${GH_SUBNET%.*}.200	# fixed, far from the addresses Docker hands out
GH_WORKER_IP=${GH_SUBNET%.*}.201
export DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0}	# the classic builder: local base images only
export COMPOSE_DOCKER_CLI_BUILD=0
T0=$SECONDS

WORK=$(mktemp -d /tmp/gatehouse-docker.XXXXXX)
DOCKERD_PID=
HAD_DOCKER0=0
BUILT_BASE=0
IMAGES=()
PROJECTS=()
COMPOSE=()
npass=0
nfail=0
ncheck=0

log() { printf '[%3ds] %s\n' "$((SECONDS - T0))" "$*"; }
die() {
	log "docker-check: $*"
	exit 1
}

# No engine can be had: one line, then 0 under .ci/run, 1 when asked for directly.
unavailable() {
	echo "docker-check: skipped: $*"
	[ "$OPTIONAL" = 1 ] && exit 0
	exit 1
}

# ---- cleanup, also on failure

cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	if [ "$nfail" -gt 0 ] || [ "$rc" -ne 0 ]; then
		# the gateways of every project, whichever file brought it up (gw1 and gw2: the
		# failover scenario's)
		for p in "${PROJECTS[@]}"; do
			local gw svc
			for svc in gatehouse gw1 gw2; do
				gw=$(timeout 20 docker ps -aq --filter "label=com.docker.compose.project=$p" \
					--filter "label=com.docker.compose.service=$svc" 2>/dev/null | head -n 1)
				[ -n "$gw" ] || continue
				echo "---- docker logs of $svc ($p), last 60 lines"
				timeout 20 docker logs --tail 60 "$gw" 2>&1 | sed 's/^/  /'
			done
		done
	fi
	for p in "${PROJECTS[@]}"; do
		timeout 120 "${COMPOSE[@]}" -p "$p" -f "$HERE/compose.yml" down -v --remove-orphans -t 3 \
			>/dev/null 2>&1
		# Whatever compose left behind (a project brought up from another file):
		docker ps -aq --filter "label=com.docker.compose.project=$p" 2>/dev/null |
			xargs -r docker rm -f >/dev/null 2>&1
		docker network ls -q --filter "label=com.docker.compose.project=$p" 2>/dev/null |
			xargs -r docker network rm >/dev/null 2>&1
		docker volume ls -q --filter "label=com.docker.compose.project=$p" 2>/dev/null |
			xargs -r docker volume rm >/dev/null 2>&1
	done
	if [ "$KEEP" != 1 ]; then
		for img in "${IMAGES[@]}"; do
			timeout 60 docker rmi -f "$img" >/dev/null 2>&1
		done
		if [ "$BUILT_BASE" = 1 ]; then
			timeout 60 docker rmi -f debian:bookworm-slim >/dev/null 2>&1
		fi
	fi
	if [ -n "$DOCKERD_PID" ]; then
		log "stopping the dockerd this run started (pid $DOCKERD_PID)"
		kill -TERM "$DOCKERD_PID" 2>/dev/null
		for _ in $(seq 1 300); do
			kill -0 "$DOCKERD_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$DOCKERD_PID" 2>/dev/null && kill -KILL "$DOCKERD_PID" 2>/dev/null
		if [ -f "$WORK/iptables.before" ]; then
			local t
			for t in filter nat; do	# tables that were empty before have no section
				grep -q "^\*$t" "$WORK/iptables.before" && continue
				iptables -t "$t" -F 2>/dev/null
				iptables -t "$t" -X 2>/dev/null
			done
			grep -q '^\*filter' "$WORK/iptables.before" || iptables -P FORWARD ACCEPT 2>/dev/null
			iptables-restore <"$WORK/iptables.before" 2>/dev/null ||
				log "could not restore the firewall rules dockerd changed"
		fi
		[ "$HAD_DOCKER0" = 1 ] || ip link delete docker0 2>/dev/null
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the engine

as_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
	as_root && command -v apt-get >/dev/null || return 1
	log "installing $* (Debian packages)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends "$@" >"$WORK/apt.log" 2>&1 && return 0
	apt-get update -q >>"$WORK/apt.log" 2>&1 &&
		apt-get install -y -q --no-install-recommends "$@" >>"$WORK/apt.log" 2>&1
}

engine_up() { timeout 20 docker info >/dev/null 2>&1; }

start_engine() {
	if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
		as_root || unavailable "no Docker engine running and not root to install one"
		apt_install docker.io ||
			unavailable "no Docker engine running and docker.io cannot be installed ($(tail -n 1 "$WORK/apt.log"))"
	fi
	as_root || unavailable "no Docker engine running and not root to start dockerd"
	# dockerd rewrites the host's firewall (FORWARD policy DROP, DOCKER chains, NAT) and adds
	# docker0, and leaves both behind when it stops: note how they were, to put them back.
	if command -v iptables-save >/dev/null; then
		iptables-save >"$WORK/iptables.before" 2>/dev/null || rm -f "$WORK/iptables.before"
	fi
	ip link show docker0 >/dev/null 2>&1 && HAD_DOCKER0=1
	log "starting dockerd"
	setsid dockerd >"$WORK/dockerd.log" 2>&1 </dev/null &
	DOCKERD_PID=$!
	for _ in $(seq 1 60); do
		engine_up && return 0
		if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
			DOCKERD_PID=
			unavailable "dockerd cannot start here: $(grep -v '^$' "$WORK/dockerd.log" | tail -n 1)"
		fi
		sleep 1
	done
	unavailable "dockerd did not answer within 60 s: $(tail -n 1 "$WORK/dockerd.log")"
}

find_compose() {
	if timeout 20 docker compose version >/dev/null 2>&1; then
		COMPOSE=(docker compose)
	elif command -v docker-compose >/dev/null; then
		COMPOSE=(docker-compose)
	elif apt_install docker-compose; then
		COMPOSE=(docker-compose)
	else
		die "no docker compose (v2 plugin) and no docker-compose, and it cannot be installed"
	fi
}

compose_p() {
	local p=$1
	shift
	timeout 300 "${COMPOSE[@]}" -p "$p" -f "$HERE/compose.yml" "$@"
}

# ---- the base image, made locally when missing

debian_mirror() {
	local m
	m=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
	[ -n "$m" ] || m=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' \
		/etc/apt/sources.list 2>/dev/null)
	echo "$m"
}

make_base() {
	timeout 30 docker image inspect debian:bookworm-slim >/dev/null 2>&1 && return 0
	local mirror rootfs=$WORK/rootfs
	mirror=$(debian_mirror)
	[ -n "$mirror" ] || die "debian:bookworm-slim is missing and no Debian mirror is configured to make it"
	command -v debootstrap >/dev/null || apt_install debootstrap || die "cannot install debootstrap"
	log "making debian:bookworm-slim with debootstrap from $mirror"
	timeout 600 debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
		die "debootstrap failed: $(tail -n 3 "$WORK/debootstrap.log")"
	# Trim it the way the official slim image is trimmed, and keep later installs slim.
	rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
		"$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
		"$rootfs"/usr/share/info/* "$rootfs"/var/log/apt/* "$rootfs"/var/log/*.log
	find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
	mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d"
	printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
		'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
		'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' \
		>"$rootfs/etc/dpkg/dpkg.cfg.d/docker"
	printf '%s\n' \
		'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
		'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
		'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' >"$rootfs/etc/apt/apt.conf.d/docker-clean"
	# The same sources as this machine (main, updates, security), when it has deb822 ones.
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		rm -f "$rootfs/etc/apt/sources.list"
		cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/"
	fi
	tar -C "$rootfs" -c . | timeout 300 docker import -c 'CMD ["bash"]' - debian:bookworm-slim >/dev/null ||
		die "docker import of the base image failed"
	BUILT_BASE=1
	rm -rf "$rootfs"
}

# ---- builds

build_image() {	# build_image TAG CONTEXT DOCKERFILE [--target T]
	local tag=$1 ctx=$2 file=$3
	shift 3
	IMAGES+=("$tag")
	timeout 900 docker build -q -t "$tag" -f "$file" "$@" "$ctx" >"$WORK/build.log" 2>&1 || {
		tail -n 40 "$WORK/build.log"
		die "docker build of $tag failed"
	}
}

make_certs() {
	local d=$WORK/ctx
	mkdir -p "$d"
	(
		cd "$d" || exit 1
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj "/CN=gatehouse docker-check CA" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" -keyout ca.key -out ca.pem &&
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
				-subj "/CN=api.example.test" -keyout server.key -out server.csr &&
			printf '%s\n' \
				'subjectAltName=DNS:api.example.test,DNS:*.svc.example.test,DNS:blocked.example.test,DNS:pypi.example.test,DNS:smtp.mail.test,DNS:intranet,DNS:smtp.alpha.test,DNS:smtp.beta.test' \
				'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature' \
				'extendedKeyUsage=serverAuth' >server.ext &&
			openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
				-extfile server.ext -out server.pem
	) >"$WORK/openssl.log" 2>&1 || {
		cat "$WORK/openssl.log"
		die "making the test certificates failed"
	}
}

build_peer() {
	command -v go >/dev/null || apt_install golang-go || die "no Go toolchain (golang-go)"
	[ -n "${HOME:-}" ] || export GOCACHE=$WORK/gocache
	(cd "$HERE/peer" && CGO_ENABLED=0 GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local \
		timeout 300 go build -trimpath -ldflags '-s -w' -o "$WORK/ctx/peer" .) >"$WORK/go.log" 2>&1 || {
		cat "$WORK/go.log"
		die "go build of tests/docker/peer failed"
	}
	# Statically linked, pure Go resolver: ldd has nothing to say about it.
	if ldd "$WORK/ctx/peer" >/dev/null 2>&1; then
		die "tests/docker/peer came out dynamically linked"
	fi
}

# ---- checks: "ok N - what" or "not ok N - what" with the output

report() {	# report PASSED DESCRIPTION OUTPUT
	ncheck=$((ncheck + 1))
	if [ "$1" = 1 ]; then
		npass=$((npass + 1))
		printf 'ok %d - %s\n' "$ncheck" "$2"
		[ -n "$3" ] && printf '      %s\n' "$(printf '%s' "$3" | grep -v '^\s*$' | tail -n 1 | cut -c1-150)"
	else
		nfail=$((nfail + 1))
		printf 'not ok %d - %s\n' "$ncheck" "$2"
		printf '%s\n' "$3" | tail -n 15 | sed 's/^/      | /'
	fi
	return 0
}

# expect DESCRIPTION REGEX CMD...: CMD exits 0 and its output matches REGEX (grep -E).
expect() {
	local desc=$1 re=$2 out rc
	shift 2
	if [ "$(type -t "$1")" = function ]; then
		out=$("$@" 2>&1)
	else
		out=$(timeout 60 "$@" 2>&1)
	fi
	rc=$?
	if [ "$rc" -eq 0 ] && grep -Eq -- "$re" <<<"$out"; then
		report 1 "$desc" "$(grep -Eo -m1 -- "$re" <<<"$out" | head -n 1)"
	else
		report 0 "$desc" "exit $rc, wanted /$re/:"$'\n'"$out"
	fi
}

# refuse DESCRIPTION REGEX CMD...: CMD fails and its output matches REGEX.
refuse() {
	local desc=$1 re=$2 out rc
	shift 2
	if [ "$(type -t "$1")" = function ]; then
		out=$("$@" 2>&1)
	else
		out=$(timeout 60 "$@" 2>&1)
	fi
	rc=$?
	if [ "$rc" -ne 0 ] && grep -Eq -- "$re" <<<"$out"; then
		report 1 "$desc" "(exit $rc) $(grep -E -- "$re" <<<"$out" | head -n 1)"
	else
		report 0 "$desc" "exit $rc, wanted failure with /$re/:"$'\n'"$out"
	fi
}

wait_for() {	# wait_for SECONDS CMD...: until CMD succeeds
	local limit=$1 t
	shift
	for ((t = 0; t < limit * 2; t++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	return 1
}

health() { timeout 20 docker inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null; }
is_healthy() { [ "$(health "$1")" = healthy ]; }
ip_on() { timeout 20 docker inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$1"; }

# The pool scenario (pool_scenario), with the helpers above.
# shellcheck source=tests/docker/pool.sh
. "$HERE/pool.sh"
# The failover scenario (failover_scenario).
# shellcheck source=tests/docker/failover.sh
. "$HERE/failover.sh"

finish() {
	echo
	log "done in $((SECONDS - T0)) s"
	printf '%d passed, %d failed\n' "$npass" "$nfail"
	[ "$nfail" -eq 0 ]
}

# ---------------------------------------------------------------- main

engine_up || start_engine
log "gatehouse docker-check (run $ID)"
find_compose
log "engine $(timeout 20 docker version -f '{{.Server.Version}}' 2>/dev/null), compose: ${COMPOSE[*]} $("${COMPOSE[@]}" version --short 2>/dev/null || true)"
command -v openssl >/dev/null || apt_install openssl || die "no openssl"
command -v python3 >/dev/null || apt_install python3 || die "no python3"

make_base
make_certs
build_peer

GH_IMAGE=gatehouse-test/gatehouse:$ID
GH_PEER_IMAGE=gatehouse-test/peer:$ID
GH_CURL_IMAGE=gatehouse-test/curl:$ID
GH_GO_IMAGE=gatehouse-test/goclient:$ID
export GH_SUBNET GH_IP GH_GRAFANA_IP GH_WORKER_IP GH_IMAGE GH_PEER_IMAGE GH_CURL_IMAGE GH_GO_IMAGE

log "building the gatehouse image from $ROOT/Dockerfile"
tb=$SECONDS
# The build stage gets a tag of its own so that cleanup removes it too.
build_image "gatehouse-test/gatehouse-build:$ID" "$ROOT" "$ROOT/Dockerfile" --target build
build_image "$GH_IMAGE" "$ROOT" "$ROOT/Dockerfile"
log "gatehouse image built in $((SECONDS - tb)) s: $(timeout 20 docker image ls --format '{{.Size}}' "$GH_IMAGE") (debian:bookworm-slim alone: $(timeout 20 docker image ls --format '{{.Size}}' debian:bookworm-slim))"
log "building the test's peer, curl and Go client images"
cp "$HERE"/peer.Dockerfile "$HERE"/curl.Dockerfile "$HERE"/goclient.Dockerfile "$WORK/ctx/"
build_image "$GH_PEER_IMAGE" "$WORK/ctx" "$WORK/ctx/peer.Dockerfile"
build_image "$GH_CURL_IMAGE" "$WORK/ctx" "$WORK/ctx/curl.Dockerfile"
build_image "$GH_GO_IMAGE" "$WORK/ctx" "$WORK/ctx/goclient.Dockerfile"
GH_DEMO_IMAGE=gatehouse-test/demo:$ID
build_image "$GH_DEMO_IMAGE" "$ROOT/docker/demo" "$ROOT/docker/demo/Dockerfile"

if [ "$ONLY" = pool ]; then
	pool_scenario
	finish
	exit
fi
if [ "$ONLY" = failover ]; then
	failover_scenario
	finish
	exit
fi

P=$ID
PROJECTS+=("$P")
log "bringing up tests/docker/compose.yml (project $P, constrained $GH_SUBNET, gateway $GH_IP)"
compose_p "$P" up -d >"$WORK/up.log" 2>&1 || {
	cat "$WORK/up.log"
	die "compose up failed"
}
GW=$(compose_p "$P" ps -q gatehouse)
CURL=$(compose_p "$P" ps -q curl)
NONROOT=$(compose_p "$P" ps -q curl-nonroot)
GO=$(compose_p "$P" ps -q goclient)
WEB=$(compose_p "$P" ps -q web)
SMTP=$(compose_p "$P" ps -q smtp)
if [ -z "$GW" ] || [ -z "$CURL" ] || [ -z "$NONROOT" ] || [ -z "$GO" ] || [ -z "$WEB" ] || [ -z "$SMTP" ]; then
	die "compose did not start every service: $(compose_p "$P" ps 2>&1)"
fi
wait_for 60 is_healthy "$GW" || die "the gateway is not healthy after 60 s (health: $(health "$GW"))"
log "gateway healthy"

NET_C=${P}_constrained
NET_O=${P}_outside
GW_OUT=$(ip_on "$GW" "$NET_O")
WEB_OUT=$(ip_on "$WEB" "$NET_O")
SMTP_OUT=$(ip_on "$SMTP" "$NET_O")
HOST_OUT=$(timeout 20 docker network inspect -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' "$NET_O")
CURL_IP=$(ip_on "$CURL" "$NET_C")
NONROOT_IP=$(ip_on "$NONROOT" "$NET_C")
GO_IP=$(ip_on "$GO" "$NET_C")
INTRANET_IP=$(ip_on "$(compose_p "$P" ps -q intranet)" "$NET_C")
log "outside: gateway $GW_OUT, web $WEB_OUT, smtp $SMTP_OUT, host $HOST_OUT; constrained: curl $CURL_IP, curl-nonroot $NONROOT_IP, goclient $GO_IP, intranet $INTRANET_IP"
CA=/etc/gatehouse-test/ca.pem
re_ip() { echo "${1//./\\.}"; }

echo "# the gateway container"
expect "healthcheck passes with both daemons answering /healthz" \
	"gatehouse-forwarder ok.*" docker inspect -f '{{range .State.Health.Log}}{{.Output}}{{end}}' "$GW"
expect "both daemons run as the image's non-root user (uid 10001), no capabilities" \
	"^gatehouse-resol 10001 0000000000000000 gatehouse-forwa 10001 0000000000000000$" \
	docker exec "$GW" bash -c 'for n in gatehouse-resol gatehouse-forwa; do for p in /proc/[0-9]*; do
		[ "$(cat $p/comm 2>/dev/null)" = $n ] || continue
		printf "%s %s %s " $n "$(awk "/^Uid:/{print \$2}" $p/status)" "$(awk "/^CapEff:/{print \$2}" $p/status)"
	done; done | sed "s/ $//"'
# Docker's own profile is a filter too: each daemon has one more than the entrypoint
expect "both daemons add their own seccomp filter to Docker's (one more than PID 1)" \
	"^gatehouse-resol 1 gatehouse-forwa 1$" \
	docker exec "$GW" bash -c 'base=$(awk "/^Seccomp_filters:/{print \$2}" /proc/1/status)
	for n in gatehouse-resol gatehouse-forwa; do for p in /proc/[0-9]*; do
		[ "$(cat $p/comm 2>/dev/null)" = $n ] || continue
		printf "%s %s " $n $(( $(awk "/^Seccomp_filters:/{print \$2}" $p/status) - base ))
	done; done | sed "s/ $//"'
refuse "the root file system is read-only" "Read-only file system" docker exec "$GW" touch /etc/gatehouse/x
refuse "nothing listens on the gateway's bridge side ($GW_OUT:443 from web)" "refused" \
	docker exec "$WEB" bash -c "exec 3<>/dev/tcp/$GW_OUT/443"
refuse "no DNS on the gateway's bridge side ($GW_OUT:53 tcp)" "refused" \
	docker exec "$WEB" bash -c "exec 3<>/dev/tcp/$GW_OUT/53"

expect "the image answers --version for both daemons" "gatehouse-forwarder [0-9.]+" \
	docker run --rm "$GH_IMAGE" --version
printf 'allow api.example.test 443 private\nroute 587 smtp.mail.test:587\n' >"$WORK/good.conf"
printf 'allow api.example.test 443\nallow bad_name!.test 443\n' >"$WORK/bad.conf"
chmod 0644 "$WORK/good.conf" "$WORK/bad.conf"
expect "a mounted /etc/gatehouse/gatehouse.conf configures it (--check)" \
	"allow api\.example\.test 443 private.*/etc/gatehouse/gatehouse\.conf:1" \
	docker run --rm --read-only -v "$WORK/good.conf:/etc/gatehouse/gatehouse.conf:ro" "$GH_IMAGE" --check
bad_check() {	# exit status 2 and FILE:LINE, or say what happened
	local out rc
	out=$(docker run --rm -v "$WORK/bad.conf:/etc/gatehouse/gatehouse.conf:ro" "$GH_IMAGE" 2>&1)
	rc=$?
	echo "exit $rc: $out"
	[ "$rc" = 2 ]
}
expect "a bad config file stops the container with exit 2 and FILE:LINE" \
	"exit 2: .*/etc/gatehouse/gatehouse\.conf:2: .*" bad_check

echo "# DNS from the constrained clients (they set only dns: $GH_IP)"
expect "glibc: an allowed name resolves to the gateway" "^$(re_ip "$GH_IP") +api\.example\.test" \
	docker exec "$CURL" getent hosts api.example.test
expect "glibc: a blocked name gets NXDOMAIN through Docker's DNS" "status: NXDOMAIN" \
	docker exec "$CURL" dig +time=3 +tries=1 blocked.example.test
expect "glibc: other record types of an allowed name get NODATA, not NXDOMAIN" \
	"status: NOERROR.*ANSWER: 0" \
	bash -c "docker exec $CURL dig +time=3 +tries=1 api.example.test TXT | tr '\n' ' '"
refuse "non-root glibc: a blocked name does not resolve" "^$" docker exec "$NONROOT" getent hosts blocked.example.test
expect "non-root glibc: an allowed name resolves to the gateway" "^$(re_ip "$GH_IP") +smtp\.mail\.test" \
	docker exec "$NONROOT" getent hosts smtp.mail.test
expect "pure Go resolver (static, CGO_ENABLED=0): an allowed name resolves to the gateway" \
	"^api\.example\.test: $(re_ip "$GH_IP")$" docker exec "$GO" /peer lookup api.example.test
expect "the Go client really uses Go's own DNS client" "using Go's DNS resolver|netgo" \
	docker exec "$GO" /peer lookup smtp.mail.test
refuse "pure Go resolver: a blocked name is NXDOMAIN (IsNotFound)" "NXDOMAIN" \
	docker exec "$GO" /peer lookup blocked.example.test

echo "# container names on the constrained network (Docker answers them)"
expect "glibc: the container name 'intranet' resolves to its own address" \
	"^$(re_ip "$INTRANET_IP") +intranet" docker exec "$CURL" getent hosts intranet
expect "pure Go: the container name 'intranet' resolves" "^intranet: $(re_ip "$INTRANET_IP")$" \
	docker exec "$GO" /peer lookup intranet
expect "pure Go: HTTPS to 'intranet' goes straight there, not through the gateway" \
	"200 OK: hello from intranet" docker exec "$GO" /peer get https://intranet:8443/ /ca.pem

echo "# allowed HTTPS through the gateway, certificates verified"
expect "curl (root): https://api.example.test/ verified against the test CA" \
	"SSL certificate verify ok" bash -c "docker exec $CURL curl -sS -v --max-time 15 --cacert $CA https://api.example.test/ 2>&1 | grep -E 'verify ok|hello from web'"
expect "curl (root): the body is the upstream server's" "^hello from web$" \
	docker exec "$CURL" curl -sS --max-time 15 --cacert "$CA" https://api.example.test/
expect "curl (uid 65534): https://api.example.test/" "^hello from web$" \
	docker exec "$NONROOT" curl -sS --max-time 15 --cacert "$CA" https://api.example.test/
expect "pure Go (uid 472): https://api.example.test/" "200 OK: hello from web" \
	docker exec "$GO" /peer get https://api.example.test/ /ca.pem
expect "curl (root): https://eu.svc.example.test/ (allowed by *.svc.example.test)" "^hello from web$" \
	docker exec "$CURL" curl -sS --max-time 15 --cacert "$CA" https://eu.svc.example.test/
refuse "the wildcard does not cover its apex: svc.example.test is NXDOMAIN" "NXDOMAIN" \
	docker exec "$GO" /peer lookup svc.example.test
expect "the upstream saw the connection come from the gateway ($GW_OUT)" \
	"sni=api\.example\.test from=$(re_ip "$GW_OUT"):" docker logs "$WEB"

echo "# allowed SMTP over implicit TLS (465), certificates verified"
expect "curl (root): smtps://smtp.mail.test:465 sends a message" "250 2\.0\.0 queued|^$" \
	bash -c "printf 'Subject: curl-root-$ID\r\n\r\nhello\r\n' | docker exec -i $CURL curl -sS --max-time 20 --cacert $CA --ssl-reqd --mail-from alerts@curl.test --mail-rcpt oncall@example.test -T - smtps://smtp.mail.test:465"
expect "curl (uid 65534): smtps://smtp.mail.test:465 sends a message" "queued|^$" \
	bash -c "printf 'Subject: curl-nonroot-$ID\r\n\r\nhello\r\n' | docker exec -i $NONROOT curl -sS --max-time 20 --cacert $CA --ssl-reqd --mail-from alerts@curl.test --mail-rcpt oncall@example.test -T - smtps://smtp.mail.test:465"
expect "pure Go (the seed's Grafana case): alert mail over smtps to smtp.mail.test:465" \
	"sent \"go-$ID\" \(certificate verified" docker exec "$GO" /peer smtps smtp.mail.test:465 /ca.pem "go-$ID"
expect "the SMTP server recorded all three messages, via the gateway" \
	"^3$" bash -c "docker logs $SMTP 2>&1 | grep -E 'subject=\"(curl-root|curl-nonroot|go)-$ID\".*from=$(re_ip "$GW_OUT"):.*tls-sni=smtp\.mail\.test' | wc -l"

echo "# policies per client (environment only): grafana $GH_GRAFANA_IP may send mail only, worker $GH_WORKER_IP may fetch only from its package index"
GRAFANA=$(compose_p "$P" ps -q grafana)
WORKER=$(compose_p "$P" ps -q worker)
expect "grafana: smtps://smtp.mail.test:465 sends a message" "queued|^$" \
	bash -c "printf 'Subject: grafana-$ID\r\n\r\nalert\r\n' | docker exec -i $GRAFANA curl -sS --max-time 20 --cacert $CA --ssl-reqd --mail-from alerts@grafana.test --mail-rcpt oncall@example.test -T - smtps://smtp.mail.test:465"
expect "grafana: api.example.test (the other clients' name) is NXDOMAIN" "status: NXDOMAIN" \
	docker exec "$GRAFANA" dig +time=3 +tries=1 api.example.test
expect "grafana: pypi.example.test (the worker's name) is NXDOMAIN" "status: NXDOMAIN" \
	docker exec "$GRAFANA" dig +time=3 +tries=1 pypi.example.test
refuse "grafana naming pypi.example.test in its SNI at the gateway: the forwarder refuses" \
	"alert|SSL|TLS|reset|closed" docker exec "$GRAFANA" curl -sS --max-time 15 --cacert "$CA" \
	--resolve "pypi.example.test:443:$GH_IP" https://pypi.example.test/
expect "worker: https://pypi.example.test/ (its package index) works" "^hello from web$" \
	docker exec "$WORKER" curl -sS --max-time 15 --cacert "$CA" https://pypi.example.test/
expect "worker: smtp.mail.test (grafana's name) is NXDOMAIN" "status: NXDOMAIN" \
	docker exec "$WORKER" dig +time=3 +tries=1 smtp.mail.test
refuse "worker connecting to the gateway's SMTPS port (routed to smtp.mail.test): refused" \
	"alert|SSL|TLS|reset|closed|EOF|error" docker exec "$WORKER" curl -sS --max-time 15 --cacert "$CA" \
	--resolve "smtp.mail.test:465:$GH_IP" smtps://smtp.mail.test:465
expect "curl (policy clients): pypi.example.test is NXDOMAIN for it too" "status: NXDOMAIN" \
	docker exec "$CURL" dig +time=3 +tries=1 pypi.example.test

echo "# blocked names"
refuse "curl: https://blocked.example.test/ fails at DNS" "Could not resolve host" \
	docker exec "$CURL" curl -sS --max-time 15 --cacert "$CA" https://blocked.example.test/
refuse "pure Go: https://blocked.example.test/ fails at DNS" "no such host" \
	docker exec "$GO" /peer get https://blocked.example.test/ /ca.pem
refuse "curl straight at the gateway with SNI blocked.example.test: the forwarder refuses" \
	"alert|SSL|TLS|reset|closed" docker exec "$CURL" curl -sS --max-time 15 --cacert "$CA" \
	--resolve "blocked.example.test:443:$GH_IP" https://blocked.example.test/
refuse "an allowed name on a port it is not allowed on (api.example.test:465): the forwarder refuses" \
	"alert access denied" docker exec "$CURL" curl -sS --max-time 10 --cacert "$CA" https://api.example.test:465/
refuse "a port no rule names (api.example.test:8443): nothing listens" "refused|Couldn't connect" \
	docker exec "$CURL" curl -sS --max-time 10 --cacert "$CA" https://api.example.test:8443/

echo "# the example's demo client (docker/demo), pointed at the test's servers"
timeout 90 docker run --rm --network "$NET_C" --dns "$GH_IP" -v "$WORK/ctx/ca.pem:/ca.pem:ro" \
	-e CURL_CA_BUNDLE=/ca.pem -e DEMO_GATEWAY="$GH_IP" -e DEMO_ALLOWED=https://api.example.test/ \
	-e DEMO_BLOCKED=https://blocked.example.test/ -e DEMO_SMTPS=smtps://smtp.mail.test:465 \
	"$GH_DEMO_IMAGE" >"$WORK/demo.out" 2>&1
sed 's/^/    demo | /' "$WORK/demo.out"
expect "demo: the allowed name resolves to the gateway" "lookup api\.example\.test: $(re_ip "$GH_IP") \(the gateway\)" cat "$WORK/demo.out"
expect "demo: the blocked name does not exist" "lookup blocked\.example\.test: no such name \(NXDOMAIN\)" cat "$WORK/demo.out"
expect "demo: the allowed fetch" "allowed https://api\.example\.test/: HTTP 200, hello from web" cat "$WORK/demo.out"
expect "demo: the blocked fetch" "blocked https://blocked\.example\.test/: curl: \(6\) Could not resolve host" cat "$WORK/demo.out"
expect "demo: the SMTPS greeting" "allowed smtps://smtp\.mail\.test:465: 220 smtp\.mail\.test ESMTP gatehouse-test \(certificate verified\)" cat "$WORK/demo.out"

echo "# the constrained clients reach nothing outside directly"
# Docker drops what a container on an internal network sends past its subnet, so these
# connection attempts time out (or find no route, on engines that give no default route).
NOCONN="no connection|unreachable|timed out|timeout"
tcp_try() {	# tcp_try CONTAINER ADDR PORT: bash /dev/tcp, 5 s
	docker exec "$1" timeout 5 bash -c "exec 3<>/dev/tcp/$2/$3" 2>&1 && return 0
	echo "no connection to $2:$3 (exit $?)"
	return 1
}
refuse "glibc: web's own address $WEB_OUT:443" "$NOCONN" tcp_try "$CURL" "$WEB_OUT" 443
refuse "glibc, uid 65534: smtp's own address $SMTP_OUT:465" "$NOCONN" tcp_try "$NONROOT" "$SMTP_OUT" 465
refuse "pure Go: web's own address $WEB_OUT:443" "$NOCONN" docker exec "$GO" /peer dial "$WEB_OUT:443"
refuse "pure Go: the gateway's bridge-side address $GW_OUT:443" "$NOCONN" \
	docker exec "$GO" /peer dial "$GW_OUT:443"
# Not a check: Docker filters forwarded traffic only, so the Docker host's own addresses
# answer a constrained container (a refused connection is an answer). Say what was seen.
echo "# note: the Docker host's address on the bridge network, $HOST_OUT:443, from goclient:" \
	"$(docker exec "$GO" /peer dial "$HOST_OUT:443" 2>&1 | tail -n 1)"

echo "# the audit log in docker logs of the gateway"
timeout 30 docker logs "$GW" >"$WORK/audit.jsonl" 2>"$WORK/diag.log"
AUDIT_OUT=$(python3 - "$WORK/audit.jsonl" "$GH_IP" "$CURL_IP" "$NONROOT_IP" "$GO_IP" "$WEB_OUT" "$SMTP_OUT" "$GH_GRAFANA_IP" "$GH_WORKER_IP" <<'EOF'
import json, sys
path, gh, curl, nonroot, go, web, smtp, grafana, worker = sys.argv[1:]
ev, bad = [], []
for line in open(path, encoding="utf-8", errors="replace"):
    line = line.rstrip("\n")
    if not line:
        continue
    try:
        e = json.loads(line)
        assert isinstance(e, dict) and e.get("daemon") in ("resolver", "forwarder")
        ev.append(e)
    except Exception:
        bad.append(line)
def has(**kw):
    def host(v):
        return v.rsplit(":", 1)[0] if isinstance(v, str) else v
    for e in ev:
        if all((host(e.get(k)) == v if k in ("client", "upstream_host") else e.get(k) == v)
               for k, v in kw.items() if k != "upstream_host") and \
           ("upstream_host" not in kw or host(e.get("upstream")) == kw["upstream_host"]):
            return True
    return False
checks = [
    ("every stdout line is one JSON audit event (%d lines, %d not)" % (len(ev) + len(bad), len(bad)),
     not bad and len(ev) > 0),
    ("resolver: allowed A query from curl's own address %s answered %s" % (curl, gh),
     has(daemon="resolver", event="query", client=curl, qname="api.example.test", qtype="A",
         verdict="allow", answer=gh)),
    ("resolver: blocked query from the Go client %s answered NXDOMAIN" % go,
     has(daemon="resolver", event="query", client=go, qname="blocked.example.test",
         verdict="deny", rcode="NXDOMAIN")),
    ("resolver: queries from the non-root client %s" % nonroot,
     has(daemon="resolver", client=nonroot, qname="smtp.mail.test")),
    ("forwarder: curl %s -> api.example.test:443 allowed, via sni, upstream %s" % (curl, web),
     has(daemon="forwarder", event="conn", client=curl, name="api.example.test", port=443,
         verdict="allow", via="sni", upstream_host=web)),
    ("forwarder: curl %s -> eu.svc.example.test:443 allowed by rule *.svc.example.test" % curl,
     has(daemon="forwarder", event="conn", client=curl, name="eu.svc.example.test", port=443,
         verdict="allow", rule="*.svc.example.test", upstream_host=web)),
    ("forwarder: Go client %s -> smtp.mail.test:465 allowed, via route, upstream %s" % (go, smtp),
     has(daemon="forwarder", event="conn", client=go, name="smtp.mail.test", port=465,
         verdict="allow", via="route", upstream_host=smtp)),
    ("forwarder: non-root curl %s -> smtp.mail.test:465 allowed" % nonroot,
     has(daemon="forwarder", event="conn", client=nonroot, name="smtp.mail.test", verdict="allow")),
    ("forwarder: SNI api.example.test on port 465 (routed to smtp.mail.test) denied, name-mismatch",
     has(daemon="forwarder", client=curl, port=465, verdict="deny", reason="name-mismatch")),
    ("policy: grafana %s's SMTPS connection allowed under policy grafana" % grafana,
     has(daemon="forwarder", event="conn", client=grafana, policy="grafana",
         name="smtp.mail.test", verdict="allow")),
    ("policy: grafana %s's query for pypi.example.test denied under policy grafana" % grafana,
     has(daemon="resolver", event="query", client=grafana, policy="grafana",
         qname="pypi.example.test", verdict="deny")),
    ("policy: grafana %s naming pypi.example.test denied, not-allowed" % grafana,
     has(daemon="forwarder", event="conn", client=grafana, policy="grafana",
         name="pypi.example.test", verdict="deny", reason="not-allowed")),
    ("policy: worker %s -> pypi.example.test:443 allowed under policy worker" % worker,
     has(daemon="forwarder", event="conn", client=worker, policy="worker",
         name="pypi.example.test", verdict="allow")),
    ("policy: worker %s on the SMTPS port denied under policy worker" % worker,
     has(daemon="forwarder", event="conn", client=worker, policy="worker", port=465,
         verdict="deny", reason="not-allowed")),
    ("policy: curl %s's lines carry policy clients" % curl,
     has(daemon="resolver", event="query", client=curl, policy="clients",
         qname="api.example.test")),
    ("forwarder: SNI blocked.example.test from curl %s denied, not-allowed" % curl,
     has(daemon="forwarder", client=curl, name="blocked.example.test", verdict="deny",
         reason="not-allowed")),
]
for desc, ok in checks:
    print(("PASS " if ok else "FAIL ") + desc)
for b in bad[:5]:
    print("FAIL   not JSON: " + b[:200])
EOF
)
while IFS= read -r line; do
	case $line in
	"PASS "*) report 1 "audit: ${line#PASS }" "" ;;
	"FAIL   "*) printf '      | %s\n' "${line#FAIL   }" ;;
	"FAIL "*) report 0 "audit: ${line#FAIL }" "$(grep -c . "$WORK/audit.jsonl") lines; first: $(head -n 3 "$WORK/audit.jsonl")" ;;
	esac
done <<<"$AUDIT_OUT"
refuse "diagnostics stay on stderr: no JSON there" "^$" grep -m1 '^{' "$WORK/diag.log"
expect "diagnostics: both daemons logged their start on stderr" "gatehouse-forwarder 0" \
	grep -E 'gatehouse-(resolver|forwarder) [0-9]' "$WORK/diag.log"

echo "# signals, restarts, stop"
# Reload the way docs/docker.md says: signal PID 1 from inside. (`docker kill -s HUP` works too,
# but Docker Engine then counts the container as stopped by hand and no longer restarts it
# after a crash: moby#41302; checked last, below.)
docker exec "$GW" bash -c 'kill -HUP 1'
reloaded() {	# reloaded N: both daemons have logged N reloads
	[ "$(docker logs "$GW" 2>&1 | grep -cE 'gatehouse-(resolver|forwarder): configuration reloaded')" -ge "$1" ]
}
if wait_for 10 reloaded 2; then
	report 1 "SIGHUP to the entrypoint (docker exec ... kill -HUP 1) reaches both daemons" \
		"$(docker logs "$GW" 2>&1 | grep 'configuration reloaded' | tr '\n' ' ')"
else
	report 0 "SIGHUP to the entrypoint reaches both daemons" "$(docker logs --tail 10 "$GW" 2>&1)"
fi
docker exec "$GW" bash -c 'kill -USR1 1'
reopened() { [ "$(docker logs "$GW" 2>&1 | grep -cE 'gatehouse-(resolver|forwarder): audit file reopened')" -ge 2 ]; }
if wait_for 10 reopened; then
	report 1 "SIGUSR1 to the entrypoint reaches both daemons (audit reopened)" ""
else
	report 0 "SIGUSR1 to the entrypoint reaches both daemons" "$(docker logs --tail 10 "$GW" 2>&1)"
fi
restarts0=$(docker inspect -f '{{.RestartCount}}' "$GW")
docker exec "$GW" bash -c 'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = gatehouse-forwa ] && kill -KILL ${p#/proc/}; done'
restarted() { [ "$(docker inspect -f '{{.RestartCount}}' "$GW")" -gt "$restarts0" ] && is_healthy "$GW"; }
if wait_for 60 restarted; then
	report 1 "forwarder killed: the container exits non-zero and restart: on-failure brings the pair back healthy" \
		"$(docker logs "$GW" 2>&1 | grep 'gatehouse-entrypoint' | tail -n 1)"
else
	report 0 "forwarder killed: container restarts" \
		"restarts $(docker inspect -f '{{.RestartCount}} {{.State.Status}} exit {{.State.ExitCode}}' "$GW"), health $(health "$GW")"
fi
expect "after the restart, HTTPS through the gateway works again" "^hello from web$" \
	docker exec "$CURL" curl -sS --max-time 15 --cacert "$CA" https://api.example.test/
timeout 20 docker kill -s HUP "$GW" >/dev/null
if wait_for 10 reloaded 4; then
	report 1 "docker kill -s HUP reaches both daemons too" ""
else
	report 0 "docker kill -s HUP reaches both daemons" "$(docker logs --tail 10 "$GW" 2>&1)"
fi
ts=$SECONDS
timeout 30 docker stop -t 10 "$GW" >/dev/null
took=$((SECONDS - ts))
code=$(docker inspect -f '{{.State.ExitCode}}' "$GW")
if [ "$code" = 0 ] && [ "$took" -lt 8 ]; then
	report 1 "docker stop: SIGTERM reaches both, exit status 0 in ${took}s" ""
else
	report 0 "docker stop: SIGTERM reaches both, exit status 0" "exit $code after ${took}s"
fi
compose_p "$P" down -v -t 3 >/dev/null 2>&1

echo "# the top-level docker-compose.yml"
EX=${ID}ex
PROJECTS+=("$EX")
excompose() { (cd "$ROOT" && timeout 300 "${COMPOSE[@]}" -p "$EX" -f docker-compose.yml -f "$WORK/example-image.yml" "$@"); }
cat >"$WORK/example-image.yml" <<EOF
services:
  gatehouse:
    image: $GH_IMAGE
EOF
expect "docker-compose.yml is valid for ${COMPOSE[*]}" "^$" \
	bash -c "cd '$ROOT' && ${COMPOSE[*]} -f docker-compose.yml config -q"
expect "it has no 'version:' key" "^$" bash -c "! grep -nE '^version:' '$ROOT/docker-compose.yml'"
EX_IP=$(cd "$ROOT" && awk -F= '$1 == "GATEHOUSE_IP" { print $2 }' .env)
if excompose up -d --no-build gatehouse >"$WORK/ex-up.log" 2>&1; then
	EXGW=$(excompose ps -q gatehouse)
	if wait_for 60 is_healthy "$EXGW"; then
		report 1 "the example's gateway comes up healthy at $EX_IP (read_only, no-new-privileges, non-root)" ""
	else
		report 0 "the example's gateway comes up healthy" "$(docker logs --tail 20 "$EXGW" 2>&1)"
	fi
	exrun() { timeout 60 docker run --rm --network "${EX}_constrained" --dns "$EX_IP" "$GH_CURL_IMAGE" "$@"; }
	expect "example: smtp.gmail.com (allowed) resolves to the gateway for a container with dns: $EX_IP" \
		"^$(re_ip "$EX_IP") +smtp\.gmail\.com" exrun getent hosts smtp.gmail.com
	expect "example: example.org (not allowed) is NXDOMAIN" "status: NXDOMAIN" \
		exrun dig +time=3 +tries=1 example.org
	expect "example: the audit line for it is in docker logs" '"qname":"example.org".*"verdict":"deny"' \
		docker logs "$EXGW"
else
	report 0 "the example's gateway comes up" "$(cat "$WORK/ex-up.log")"
fi
excompose down -v -t 3 >/dev/null 2>&1

pool_scenario
failover_scenario
finish
