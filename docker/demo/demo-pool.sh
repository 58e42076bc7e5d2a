#!/bin/bash
# demo-pool.sh: what a container on the `constrained` network sees through gatehouse in
# name-addressed mode (docker-compose.pool.yml): every allowed name resolves to an address
# of its own in the pool, so protocols whose bytes carry no name work by name, several
# hosts on one port. Targets: DEMO_BANNERS (HOST:PORT of servers that speak first, SSH:
# their first line), DEMO_STARTTLS (HOST:PORT of SMTP servers: greeting, then STARTTLS with
# the certificate verified), DEMO_BLOCKED (a name that is not allowed); DEMO_POOL is the
# pool (CIDR), only to label its addresses.
set -u
banners=${DEMO_BANNERS:-github.com:22 gitlab.com:22}
starttls=${DEMO_STARTTLS:-smtp.gmail.com:587 smtp.office365.com:587}
blocked=${DEMO_BLOCKED:-example.org}
pool=${DEMO_POOL:-}

ip4_num() {	# dotted quad -> number
	local IFS=. a b c d
	read -r a b c d <<<"$1"
	echo $(((a << 24) + (b << 16) + (c << 8) + d))
}

in_pool() {	# in_pool ADDR: ADDR lies in DEMO_POOL (IPv4)
	[ -n "$pool" ] || return 1
	local bits=${pool#*/} mask
	mask=$(((0xffffffff << (32 - bits)) & 0xffffffff))
	[ $(($(ip4_num "$1") & mask)) = $(($(ip4_num "${pool%/*}") & mask)) ]
}

lookup() {
	local a
	a=$(getent ahostsv4 "$1" | awk '{ print $1; exit }')
	if [ -z "$a" ]; then
		echo "lookup $1: no such name (NXDOMAIN)"
	elif in_pool "$a"; then
		echo "lookup $1: $a (its own address in the pool)"
	else
		echo "lookup $1: $a"
	fi
}

banner() {	# banner HOST:PORT: the first line the server sends, within 20 s
	local line
	# shellcheck disable=SC2016  # expanded by the inner shell
	line=$(timeout 20 bash -c 'exec 3<>"/dev/tcp/$0/$1" && IFS= read -r l <&3 && printf "%s" "${l%$'"'"'\r'"'"'}"' \
		"${1%:*}" "${1##*:}" 2>&1 | tail -n 1)
	echo "allowed $1 (no TLS, no name in the bytes): ${line:-no greeting}"
}

mail_starttls() {	# mail_starttls HOST:PORT: greeting, STARTTLS, certificate verified
	local out greeting
	out=$(curl -sS -v --max-time 20 --ssl-reqd "smtp://$1" 2>&1)
	greeting=$(sed -n 's/^< \(220 .*\)$/\1/p' <<<"$out" | tr -d '\r' | head -n 1)
	if grep -q 'SSL certificate verify ok' <<<"$out" && [ -n "$greeting" ]; then
		echo "allowed smtp://$1: $greeting (STARTTLS, certificate verified)"
	else
		echo "allowed smtp://$1: $(grep -E '^curl: ' <<<"$out" | head -n 1)"
	fi
}

for t in $banners $starttls; do
	lookup "${t%:*}"
done
lookup "$blocked"
for t in $banners; do
	banner "$t"
done
for t in $starttls; do
	mail_starttls "$t"
done
