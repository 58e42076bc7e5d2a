"""bench/configs.py: the allowlists, query files and server configurations the benchmark runs.

Every server gets the same job: the names of one rule set answered with ANSWER, everything
else NXDOMAIN. Pure text generation; run.py writes the files and starts the servers.
"""
import random

ANSWER = "127.0.77.99"
RULE_PORT = 443


class RuleSet:
    """n rules: 3/4 exact names, 1/4 `**.` wildcards, and a query mix over them."""

    def __init__(self, n, seed=6):
        self.n = n
        nwild = max(1, n // 4)
        nexact = n - nwild
        self.exact = [f"api{i}.svc{i % 97}.example{i % 13}.com" for i in range(nexact)]
        self.wild = [f"cdn{j}.assets{j % 11}.net" for j in range(nwild)]  # rule is **.SUFFIX
        self.rng = random.Random(seed)

    def queries(self, count):
        """(name, expect) pairs: 50% exact, 25% below a wildcard, 25% denied, shuffled.

        Denied names are half unrelated names, half allowed names with a suffix appended
        (`api1.svc1.example1.com.blocked.org`), so a matcher must look at the whole name.
        """
        rng = self.rng
        out = []
        for k in range(count):
            r = k % 4
            if r in (0, 1):
                out.append((rng.choice(self.exact), "allow"))
            elif r == 2:
                sfx = rng.choice(self.wild)
                host = f"h{rng.randrange(100000)}" if k % 8 < 4 else f"a{k % 7}.b{k % 5}"
                out.append((f"{host}.{sfx}", "allow"))
            else:
                if k % 8 < 4:
                    out.append((f"host{rng.randrange(100000)}.blocked{k % 89}.org", "deny"))
                else:
                    out.append((rng.choice(self.exact) + f".blocked{k % 89}.org", "deny"))
        rng.shuffle(out)
        return out


def dnsperf_file(pairs):
    return "".join(f"{name} A\n" for name, _ in pairs)


# ---- resolvers ----

def gatehouse_resolver(rules, listen, audit, answer=ANSWER, extra=()):
    """answer: what `answer` says (ANSWER, `auto`, `pool CIDR`); extra: more setting lines."""
    lines = [
        "# gatehouse-resolver, benchmark",
        f"dns-listen {listen}:53",
        f"answer {answer}",
        f"audit {audit}",
        "audit-rate 0",
        "user root",
    ] + list(extra)
    lines += [f"allow {n} {RULE_PORT}" for n in rules.exact]
    lines += [f"allow **.{s} {RULE_PORT}" for s in rules.wild]
    return "\n".join(lines) + "\n"


def gatehouse_policies(rules, npolicies, listen, audit):
    """The resolver with npolicies policies of len(rules) rules each and no global rule.
    The client (127.0.0.1, where dnsperf sends from) is in the first, whose rules are
    rules' own; the others are clients at 10.x.y.z/32 that never ask, with rules of the
    same shape under their own names."""
    lines = [
        "# gatehouse-resolver, benchmark: policies",
        f"dns-listen {listen}:53",
        f"answer {ANSWER}",
        f"audit {audit}",
        "audit-rate 0",
        "user root",
        "policy p0 127.0.0.0/8",
    ]
    lines += [f"allow {n} {RULE_PORT}" for n in rules.exact]
    lines += [f"allow *.{s} {RULE_PORT}" for s in rules.wild]
    for k in range(1, npolicies):
        lines.append(f"policy p{k} 10.{k >> 16 & 255}.{k >> 8 & 255}.{k & 255}")
        lines += [f"allow p{k}.{n} {RULE_PORT}" for n in rules.exact]
        lines += [f"allow *.p{k}.{s} {RULE_PORT}" for s in rules.wild]
    return "\n".join(lines) + "\n"


def nsd_zone(rules, ns_addr):
    """The root zone: every name not in it is NXDOMAIN, authoritatively."""
    lines = [
        "$ORIGIN .",
        "$TTL 60",
        ". IN SOA ns.bench. hostmaster.bench. 1 3600 600 86400 60",
        ". IN NS ns.bench.",
        f"ns.bench. IN A {ns_addr}",
    ]
    lines += [f"{n}. IN A {ANSWER}" for n in rules.exact]
    lines += [f"*.{s}. IN A {ANSWER}" for s in rules.wild]
    return "\n".join(lines) + "\n"


def nsd_conf(work, tag, listen, dnstap_sock=None, zone=".", zonefile=None):
    """NSD alone on one address, authoritative for zone (the root zone in WORK/root.zone
    unless told)."""
    zonefile = zonefile or f"{work}/root.zone"
    conf = f"""server:
  ip-address: {listen}@53
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "{work}"
  database: ""
  zonelistfile: "{work}/{tag}.zone.list"
  xfrdfile: "{work}/{tag}.xfrd.state"
  pidfile: "{work}/{tag}.pid"
  logfile: "{work}/{tag}.log"
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
  minimal-responses: yes
  verbosity: 0
remote-control:
  control-enable: no
zone:
  name: "{zone}"
  zonefile: "{zonefile}"
"""
    if dnstap_sock:
        conf += f"""dnstap:
  dnstap-enable: yes
  dnstap-socket-path: "{dnstap_sock}"
  dnstap-log-auth-query-messages: yes
"""
    return conf


def unbound_conf(rules, work, listen, logfile=None):
    lines = [
        "server:",
        f"  interface: {listen}",
        "  port: 53",
        "  num-threads: 1",
        '  username: ""',
        '  chroot: ""',
        f'  directory: "{work}"',
        '  pidfile: ""',
        "  use-syslog: no",
        "  do-daemonize: no",
        "  access-control: 127.0.0.0/8 allow",
        "  do-not-query-localhost: yes",
        # everything not listed: NXDOMAIN from a static root
        '  local-zone: "." static',
    ]
    if logfile:
        lines += [f'  logfile: "{logfile}"', "  log-queries: yes"]
    else:
        lines += [f'  logfile: "{work}/unbound-diag.log"']
    lines += [f'  local-data: "{n}. 60 IN A {ANSWER}"' for n in rules.exact]
    for s in rules.wild:
        # redirect: the zone's data answers every name below it (and the apex, not queried)
        lines += [f'  local-zone: "{s}." redirect', f'  local-data: "{s}. 60 IN A {ANSWER}"']
    lines += ["remote-control:", "  control-enable: no"]
    return "\n".join(lines) + "\n"


def dnsmasq_conf(rules, listen, logfile=None):
    lines = [
        "no-resolv",
        "no-hosts",
        "port=53",
        f"listen-address={listen}",
        "bind-interfaces",
        "user=root",
        # `address=/#/` with no address: NXDOMAIN for every name no longer rule matches
        "address=/#/",
    ]
    if logfile:
        lines += ["log-queries", f"log-facility={logfile}"]
    # address=/NAME/ also matches every name below NAME: dnsmasq has no exact-only form
    lines += [f"address=/{n}/{ANSWER}" for n in rules.exact]
    lines += [f"address=/{s}/{ANSWER}" for s in rules.wild]
    return "\n".join(lines) + "\n"


# ---- forwarders ----

FWD_PORT = 8443


def gatehouse_forwarder(listen, dns, audit):
    return f"""# gatehouse-forwarder, benchmark
forward-listen {listen}
upstream {dns}:53
audit {audit}
audit-rate 0
user root
max-conns 10000
max-conns-per-client 10000
allow big.bench.test {FWD_PORT} private
allow idle.bench.test {FWD_PORT} private
"""


def forwarder_dnsmasq(listen, big_addr, idle_addr):
    return f"""no-resolv
no-hosts
port=53
listen-address={listen}
bind-interfaces
user=root
address=/#/
address=/big.bench.test/{big_addr}
address=/idle.bench.test/{idle_addr}
"""


def nginx_stream(work, listen, big_addr, idle_addr):
    return f"""# nginx stream: ssl_preread + map, what a user would write
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
user root;
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid {work}/nginx-stream.pid;
error_log {work}/nginx-stream.err warn;
events {{ worker_connections 10000; }}
stream {{
    map $ssl_preread_server_name $backend {{
        big.bench.test  {big_addr}:{FWD_PORT};
        idle.bench.test {idle_addr}:{FWD_PORT};
        default         127.0.0.1:9;
    }}
    server {{
        listen {listen}:{FWD_PORT};
        ssl_preread on;
        proxy_pass $backend;
    }}
}}
"""


def haproxy_cfg(listen, big_addr, idle_addr):
    return f"""# HAProxy TCP mode, routing on req.ssl_sni
global
    maxconn 8000
    nbthread 1
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
frontend fe
    bind {listen}:{FWD_PORT}
    tcp-request inspect-delay 5s
    tcp-request content accept if {{ req.ssl_hello_type 1 }}
    use_backend be_big if {{ req.ssl_sni -i big.bench.test }}
    use_backend be_idle if {{ req.ssl_sni -i idle.bench.test }}
backend be_big
    server s1 {big_addr}:{FWD_PORT}
backend be_idle
    server s1 {idle_addr}:{FWD_PORT}
"""


def nginx_upstream(work, listen, www):
    """The HTTPS origin every path ends at: full TLS 1.3 handshakes (no resumption)."""
    return f"""user root;
worker_processes 1;
daemon off;
pid {work}/nginx-up.pid;
error_log {work}/nginx-up.err warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {work}/ngx-body;
    proxy_temp_path {work}/ngx-proxy;
    fastcgi_temp_path {work}/ngx-fastcgi;
    uwsgi_temp_path {work}/ngx-uwsgi;
    scgi_temp_path {work}/ngx-scgi;
    sendfile on;
    server {{
        listen {listen}:{FWD_PORT} ssl;
        ssl_certificate {work}/server.crt;
        ssl_certificate_key {work}/server.key;
        ssl_protocols TLSv1.3;
        ssl_session_cache off;
        ssl_session_tickets off;
        keepalive_requests 100000;
        root {www};
        location / {{ }}
    }}
}}
"""
