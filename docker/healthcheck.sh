#!/bin/bash
# healthcheck.sh: the image's HEALTHCHECK. Asks each daemon's own event loop for
# GET /healthz: gatehouse-resolver on GATEHOUSE_METRICS (default 127.0.0.1:9100) and
# gatehouse-forwarder one port above it (9101). Healthy only when both answer 200.
# Uses bash's /dev/tcp: the image has no curl. Prints one line per daemon (docker inspect
# shows it under .State.Health.Log).
set -u

readonly TIMEOUT=3	# seconds per daemon

metrics=${GATEHOUSE_METRICS:-127.0.0.1:9100}
if [ "$metrics" = off ]; then
	echo "GATEHOUSE_METRICS=off: this healthcheck needs the /healthz endpoints; set" \
	    "GATEHOUSE_METRICS=127.0.0.1:9100 or disable the healthcheck (healthcheck: disable: true)"
	exit 1
fi

port=${metrics##*:}
host=${metrics%:*}
host=${host#[}
host=${host%]}
case $host in
0.0.0.0 | "") host=127.0.0.1 ;;
::) host=::1 ;;
esac
case $port in
'' | *[!0-9]*)
	echo "cannot read a port from GATEHOUSE_METRICS=$metrics"
	exit 1
	;;
esac

# probe NAME PORT: one GET /healthz, 200 or not, within TIMEOUT seconds.
probe() {
	local name=$1 p=$2 status
	# shellcheck disable=SC2016  # the inner script expands $0 and $1 itself
	status=$(timeout "$TIMEOUT" bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		printf "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3
		IFS= read -r line <&3 || exit 1
		printf "%s" "${line%$'"'"'\r'"'"'}"
	' "$host" "$p" 2>&1 | tail -n 1)
	case $status in
	"HTTP/1."?" 200 "*)
		echo "$name ok ($host:$p)"
		return 0
		;;
	esac
	echo "$name unhealthy ($host:$p): ${status:-no answer within ${TIMEOUT}s}"
	return 1
}

rc=0
probe gatehouse-resolver "$port" || rc=1
probe gatehouse-forwarder "$((port + 1))" || rc=1
exit "$rc"
