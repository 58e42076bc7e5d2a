#!/bin/bash
# demo.sh: what a container on the `constrained` network sees through gatehouse: allowed
# names resolve to the gateway and work (certificates verified as usual), every other name
# does not exist. Targets: DEMO_ALLOWED and DEMO_BLOCKED (URLs), DEMO_SMTPS (smtps:// URL);
# DEMO_GATEWAY is the gateway's address, only to label it.
set -u
allowed=${DEMO_ALLOWED:-https://example.com/}
blocked=${DEMO_BLOCKED:-https://example.org/}
smtps=${DEMO_SMTPS:-smtps://smtp.gmail.com:465}
gateway=${DEMO_GATEWAY:-}
body=$(mktemp 2>/dev/null || echo /dev/null)

host_of() {
	local h=${1#*://}
	h=${h%%/*}
	echo "${h%:*}"
}

lookup() {
	local a
	a=$(getent ahostsv4 "$1" | awk '{ print $1; exit }')
	if [ -z "$a" ]; then
		echo "lookup $1: no such name (NXDOMAIN)"
	elif [ "$a" = "$gateway" ]; then
		echo "lookup $1: $a (the gateway)"
	else
		echo "lookup $1: $a"
	fi
}

fetch() {	# fetch LABEL URL
	local code err
	if code=$(curl -sS --max-time 20 -o "$body" -w '%{http_code}' "$2" 2>"$body.err"); then
		echo "$1 $2: HTTP $code, $(grep -o -m1 '<title>[^<]*</title>' "$body" || head -c 60 "$body")"
	else
		err=$(head -n 1 "$body.err")
		echo "$1 $2: ${err:-curl failed}"
	fi
}

mail_greeting() {	# SMTP with implicit TLS: the server's greeting, after the certificate check
	local out greeting
	out=$(curl -sS -v --max-time 20 "$1" 2>&1)
	greeting=$(sed -n 's/^< \(220 .*\)$/\1/p' <<<"$out" | tr -d '\r' | head -n 1)
	if [ -n "$greeting" ]; then
		echo "allowed $1: $greeting (certificate verified)"
	else
		echo "allowed $1: $(grep -E '^curl: ' <<<"$out" | head -n 1)"
	fi
}

lookup "$(host_of "$allowed")"
lookup "$(host_of "$blocked")"
fetch allowed "$allowed"
fetch blocked "$blocked"
mail_greeting "$smtps"
rm -f "$body" "$body.err"
