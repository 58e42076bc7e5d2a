"""Name-addressed mode (`answer pool`, issue 14) in network namespaces laid out as Docker
lays out a network, with a topology of its own (built once for this module):

    client  10.77.0.2 --+
    client2 10.77.0.3 --+-- br0 (in its own namespace) --+-- gateway 10.77.0.1 -- internet
                                                          (pool 10.77.0.128/25)   11.0.0.1

- The clients and the gateway hang on one bridge by veth, as containers on one Docker
  network do; the clients have no route anywhere else. The gateway owns the pool as the
  image's entrypoint makes it: `ip route add local POOL dev IF table local`, so it answers
  ARP for every pool address and a wildcard listener accepts connections to them.
- The internet has two server-speaks-first (ssh-like) banner servers on port 22 under two
  names (git1.pool.test, git2.pool.test), two mail servers with STARTTLS on 587 and SMTPS
  on 465 (smtp1.pool.test, smtp2.pool.test), one more banner server for every name under
  reuse.pool.test, and dnsmasq for all of them.
- The real gatehouse-resolver and gatehouse-forwarder run in the gateway with `answer pool`
  and no `route` line; the clients resolve through the resolver (their /etc/netns
  resolv.conf) with real programs.

The last test switches both daemons to a /29 pool (6 addresses) and back.
"""

import ipaddress
import itertools
import json
import os
import socket
import sys
import time
import urllib.request

import dns.exception
import dns.rcode
import pytest

from gh_testlib import BUILD, metric_sum, scaled, scaled_arg, wait_for, wait_until
import helpers
import topology as T
from test_policies import ask, reload_with

# peers.py (tests/integration): the banner server that speaks first
sys.path.insert(0, os.path.join(os.path.dirname(T.HERE), "integration"))
from peers import BannerServer, recv_until_eof  # noqa: E402

CLIENT_B = "10.77.0.3"          # the second client: policy `narrow`
POOL = "10.77.0.128/25"         # Docker's own allocations stay in 10.77.0.0/25 (ip_range)
TINY_POOL = "10.77.0.248/29"    # 10.77.0.249 to .254: 6 addresses
NEVER = "10.77.0.200"           # in the pool (the 72nd name's): never given out here
METRICS_PORT = 9100             # the resolver's, in the gateway (the forwarder's: +1)
GIT = {"git1.pool.test": "11.22.0.1", "git2.pool.test": "11.22.0.2"}
SMTP = {"smtp1.pool.test": "11.25.0.1", "smtp2.pool.test": "11.25.0.2"}
REUSE_DOMAIN = "reuse.pool.test"
REUSE_ADDR = "11.22.0.9"        # every name under REUSE_DOMAIN
BANNER_CLIENT = os.path.join(T.HERE, "clients", "banner_client.py")

ALLOW = f"""\
policy main {T.CLIENT4}
allow git1.pool.test 22
allow git2.pool.test 22
allow smtp1.pool.test 465,587
allow smtp2.pool.test 465,587
allow **.{REUSE_DOMAIN} 22
policy narrow {CLIENT_B}
allow git1.pool.test 22
"""


def addr_in(addr, cidr):
    """Whether addr (text) is an IPv4 address in cidr."""
    try:
        return ipaddress.IPv4Address(addr) in ipaddress.IPv4Network(cidr)
    except ValueError:
        return False


class PoolTopology(T.Topology):
    upstream_hosts = {**GIT, **SMTP}
    upstream_wildcards = {REUSE_DOMAIN: REUSE_ADDR}
    cert_names = sorted(SMTP)

    def __init__(self, build_dir, keep=False):
        super().__init__(build_dir, allow=ALLOW, keep=keep)
        p = self.prefix + "-pool"
        self.client_ns, self.client_b_ns = p + "-client", p + "-client2"
        self.gw_ns, self.inet_ns, self.br_ns = p + "-gw", p + "-inet", p + "-br"
        self.namespaces = [self.br_ns, self.client_ns, self.client_b_ns, self.gw_ns,
                           self.inet_ns]
        self.pool, self.state_name, self.hold, self.ttl = POOL, "pool.state", "1h", 60
        self.banners = {}
        self.smtp_logs = {}

    # -- the network: a bridge, as Docker makes one, in a namespace of its own
    def _make_namespaces(self):
        p = self.prefix + "-p"
        resolv = f"nameserver {T.GW_IN4}\n"
        self._add_namespaces({self.client_ns: resolv, self.client_b_ns: resolv})
        self.sh("ip", "-n", self.br_ns, "link", "add", "br0", "type", "bridge",
                "forward_delay", "0")
        self.sh("ip", "-n", self.br_ns, "link", "set", "br0", "up")
        links = []
        for ns, dev, port, addr in ((self.client_ns, p + "c", p + "bc", T.CLIENT4),
                                    (self.client_b_ns, p + "c2", p + "bc2", CLIENT_B),
                                    (self.gw_ns, p + "g", p + "bg", T.GW_IN4)):
            self.sh("ip", "link", "add", dev, "netns", ns, "type", "veth", "peer", "name",
                    port, "netns", self.br_ns)
            self.sh("ip", "-n", self.br_ns, "link", "set", port, "master", "br0", "up")
            self.sh("ip", "-n", ns, "addr", "add", addr + "/24", "dev", dev)
            self.sh("ip", "-n", ns, "link", "set", dev, "up")
            links += [(ns, dev), (self.br_ns, port)]
        self.if_gw_in = p + "g"
        # the pool route, as the entrypoint adds it
        self.route_pool("add", POOL)
        g_out, i_in = p + "gi", p + "i"
        self.sh("ip", "link", "add", g_out, "netns", self.gw_ns, "type", "veth", "peer",
                "name", i_in, "netns", self.inet_ns)
        self.sh("ip", "-n", self.gw_ns, "addr", "add", T.GW_OUT4 + "/24", "dev", g_out)
        self.sh("ip", "-n", self.gw_ns, "link", "set", g_out, "up")
        self.sh("ip", "-n", self.gw_ns, "route", "add", "default", "via", T.INET_RTR4)
        self.sh("ip", "-n", self.inet_ns, "addr", "add", T.INET_RTR4 + "/24", "dev", i_in)
        for a in [T.UPSTREAM_DNS, REUSE_ADDR, *GIT.values(), *SMTP.values()]:
            self.sh("ip", "-n", self.inet_ns, "addr", "add", a + "/32", "dev", "lo")
        self.sh("ip", "-n", self.inet_ns, "link", "set", i_in, "up")
        self._wait_links_up(links + [(self.gw_ns, g_out), (self.inet_ns, i_in)])

    def route_pool(self, verb, cidr):
        self.sh("ip", "-n", self.gw_ns, "route", verb, "local", cidr, "dev", self.if_gw_in,
                "table", "local")

    def _start_servers(self):
        for name, addr in [*GIT.items(), (REUSE_DOMAIN, REUSE_ADDR)]:
            label = name.split(".")[0]
            self.banners[name] = self.in_ns(self.inet_ns,
                                            lambda a=addr, l=label: BannerServer(a, 22, l))
        for name, addr in SMTP.items():
            self.smtp_logs[name] = self.start_smtp("smtp-" + name.split(".")[0], addr)

    def down(self):
        for s in self.banners.values():
            try:
                s.close()
            except OSError:
                pass
        self.banners = {}
        super().down()

    # -- the daemons
    @property
    def state_path(self):
        return self.path(self.state_name)

    def config_text(self):
        return (f"# gatehouse pool e2e configuration ({self.prefix})\n"
                f"dns-listen {T.GW_IN4}:53\n"
                "forward-listen 0.0.0.0\n"
                f"answer pool {self.pool}\n"
                f"pool-state {self.state_path}\n"
                f"pool-hold {self.hold}\n"
                f"ttl {self.ttl}\n"
                "upstream system\n"
                "peek-timeout 2\n"
                "connect-timeout 3\n"
                "audit-rate 0\n"
                f"metrics 127.0.0.1:{METRICS_PORT}\n"
                "user nobody\n" + self.allow)

    def restart_both(self):
        """Write config_text() and restart both daemons (each must exit 0)."""
        with open(self.config_path, "w") as f:
            f.write(self.config_text())
        for d in T.DAEMONS:
            self.restart_daemon(d)

    def metrics(self):
        """The resolver's /metrics text (read from inside the gateway)."""
        def get():
            with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics",
                                        timeout=scaled(5)) as r:
                return r.read().decode()
        return self.in_ns(self.gw_ns, get)


@pytest.fixture(scope="module")
def pool():
    yield from T.serve(PoolTopology(BUILD, keep=bool(os.environ.get("GATEHOUSE_E2E_KEEP"))),
                       "the resolver to answer through the bridge",
                       lambda t: answered(t, "git1.pool.test"))


# ---- clients ------------------------------------------------------------------------------

def banner(topo, host, line, ns=None):
    """banner_client.py in a client namespace (default the main client): resolves host
    through the gateway (an address is used as it is), reads the banner, sends line."""
    r = topo.run(ns or topo.client_ns, [T.PYTHON, BANNER_CLIENT, host, "22", line,
                                        str(scaled(10))], timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def ask_a(topo, name, src=T.CLIENT4, ns=None):
    """(rcode text, [A addresses]) for name asked from src (in the client namespace, or
    ns) to the gateway's resolver."""
    m = ask(topo, ns or topo.client_ns, src, name)
    return dns.rcode.to_text(m.rcode()), [r.to_text() for a in m.answer for r in a
                                           if a.rdtype == 1]


def answered(topo, name):
    """Whether the resolver answers name (NOERROR) within a few seconds."""
    try:
        return ask_a(topo, name)[0] == "NOERROR"
    except (OSError, dns.exception.Timeout):
        return False


def send_mail(topo, host, port, subject, extra=()):
    msg = f"From: ci@client.test\r\nTo: ops@mail.test\r\nSubject: {subject}\r\n\r\nhi\r\n"
    path = topo.path(f"mail-{subject}.eml")
    with open(path, "w") as f:
        f.write(msg)
    scheme = "smtps" if port == 465 else "smtp"
    return topo.client(["curl", "-sS", "-4", "--max-time", scaled_arg(15), "--ssl-reqd",
                        "--cacert", topo.ca_path, *extra, f"{scheme}://{host}:{port}",
                        "--mail-from", "ci@client.test", "--mail-rcpt", "ops@mail.test",
                        "-T", path], timeout=30)


def delivered(topo, name, subject):
    return [m for m in topo.mails(topo.smtp_logs[name]) if f"Subject: {subject}" in m["data"]]


def seen_by(topo, name, token):
    """The connections the banner server of name got that carried token."""
    return [c for c in topo.banners[name].snapshot() if token.encode() in c["received"]]


def conn_lines(topo, since, **want):
    return [e for e in topo.audit("gatehouse-forwarder")[since["gatehouse-forwarder"]:]
            if e.get("event") == "conn" and all(e.get(k) == v for k, v in want.items())]


def wait_conn(topo, since, what, **want):
    return wait_for(lambda: conn_lines(topo, since, **want), what=what)


def answers(topo, since=None, pool=None):
    """(ts, qname, answer) of every answered A query in the resolver's audit (after
    since), with an answer in pool (any answer when pool is None)."""
    start = since["gatehouse-resolver"] if since else 0
    return [(e["ts"], e["qname"], e["answer"]) for e in topo.audit("gatehouse-resolver")[start:]
            if e.get("event") == "query" and e.get("qtype") == "A" and e.get("answer")
            and (pool is None or addr_in(e["answer"], pool))]


# ---- the tests ----------------------------------------------------------------------------

def test_two_hosts_per_port_by_name_without_route(pool):
    """Two ssh-like servers on 22 and two STARTTLS mail servers on 587: real clients reach
    each by name, each through its own pool address, and the right server gets it."""
    mark = pool.mark()
    tag = helpers.tag()
    got = {}
    for name in GIT:
        r = banner(pool, name, f"hello-{name}-{tag}")
        assert r["error"] is None, r
        assert r["banner"] == f"220 {name.split('.')[0]} ready", r
        assert r["reply"] == f"250 hello-{name}-{tag}\r\n221 bye\r\n", r
        assert addr_in(r["addr"], POOL) and r["addr"] != T.GW_IN4, r
        got[name] = r["addr"]
    assert got["git1.pool.test"] != got["git2.pool.test"], got
    for name in GIT:
        other = next(n for n in GIT if n != name)
        assert len(seen_by(pool, name, f"hello-{name}-{tag}")) == 1
        assert not seen_by(pool, other, f"hello-{name}-{tag}")
        e = wait_conn(pool, mark, f"the conn line of {name}", name=name, port=22)[0]
        assert (e["verdict"], e["via"], e["client"]) == \
            ("allow", "address", T.CLIENT4), e
        assert e["upstream"] == f"{GIT[name]}:22", e
    for name in SMTP:
        subject = f"pool-{name}-{tag}"
        r = send_mail(pool, name, 587, subject)
        assert r.returncode == 0, r.stderr
        other = next(n for n in SMTP if n != name)
        mails = delivered(pool, name, subject)
        assert len(mails) == 1 and mails[0]["port"] == 587 and mails[0]["tls"], mails
        assert not delivered(pool, other, subject)
        e = wait_conn(pool, mark, f"the conn line of {name}", name=name, port=587)[0]
        assert (e["verdict"], e["via"], e["upstream"]) == ("allow", "address",
                                                           f"{SMTP[name]}:587"), e
    # the resolver answered each name with its own pool address
    res = {(n, a) for _, n, a in answers(pool, mark)}
    by_name = {}
    for n, a in res:
        by_name.setdefault(n, set()).add(a)
    assert set(by_name) >= set(GIT) | set(SMTP), res
    assert all(len(v) == 1 and addr_in(next(iter(v)), POOL) for v in by_name.values()), res
    assert len({next(iter(v)) for v in by_name.values()}) == len(by_name), res
    assert by_name["git1.pool.test"] == {got["git1.pool.test"]}
    # no IPv6 pool: AAAA is NODATA (never NXDOMAIN: musl would drop the A answer)
    d = helpers.dig(pool, "git1.pool.test", "AAAA")
    assert d.status == "NOERROR" and not d.answers, d.raw
    m = pool.metrics()
    assert metric_sum(m, "gatehouse_pool_addresses") == 126, m
    assert metric_sum(m, "gatehouse_pool_names") >= len(by_name), m


def test_unmapped_not_allowed_and_name_mismatch_are_refused(pool):
    mark = pool.mark()
    tag = helpers.tag()
    # a pool address no name was ever given
    assert NEVER not in [a for _, _, a in answers(pool)]
    r = banner(pool, NEVER, f"never-{tag}")
    assert r["banner"] is None and r["error"], r
    e = wait_conn(pool, mark, "the unmapped refusal", reason="unmapped")[0]
    assert e["verdict"] == "deny" and "name" not in e and e["port"] == 22, e
    assert not any(seen_by(pool, n, f"never-{tag}") for n in GIT)

    # the wildcard listener also takes the gateway's address on its side with a route out:
    # from there (the internet namespace) nothing is served, whatever the global rules say
    mark = pool.mark()
    r = banner(pool, T.GW_OUT4, f"outside-{tag}", ns=pool.inet_ns)
    assert r["banner"] is None and r["error"], r
    e = wait_conn(pool, mark, "the refusal on the outside address", reason="unmapped")[0]
    assert e["client"] == T.INET_RTR4 and "name" not in e, e
    assert e["detail"] == "%s is not an address the resolver answers (the pool, dns-listen)" % \
        T.GW_OUT4, e
    assert not any(seen_by(pool, n, f"outside-{tag}") for n in GIT)

    # policy `narrow` (the second client) allows git1 only: its resolver says NXDOMAIN for
    # git2, and git2's address (the main client's answer) is refused to it
    git2 = ask_a(pool, "git2.pool.test")[1]
    assert len(git2) == 1 and addr_in(git2[0], POOL), git2
    assert ask_a(pool, "git2.pool.test", src=CLIENT_B, ns=pool.client_b_ns)[0] == "NXDOMAIN"
    r = banner(pool, git2[0], f"narrow-{tag}", ns=pool.client_b_ns)
    assert r["banner"] is None and r["error"], r
    e = wait_conn(pool, mark, "the not-allowed refusal", reason="not-allowed")[0]
    assert (e["verdict"], e.get("name"), e.get("policy"), e["client"]) == \
        ("deny", "git2.pool.test", "narrow", CLIENT_B), e
    assert not seen_by(pool, "git2.pool.test", f"narrow-{tag}")
    # ... while its own name works from there, at the same address the main client got
    r = banner(pool, "git1.pool.test", f"narrow-ok-{tag}", ns=pool.client_b_ns)
    assert r["banner"] == "220 git1 ready", r
    assert [r["addr"]] == ask_a(pool, "git1.pool.test")[1]
    assert len(seen_by(pool, "git1.pool.test", f"narrow-ok-{tag}")) == 1

    # a TLS client at smtp1's address naming smtp2 (SNI)
    smtp1 = ask_a(pool, "smtp1.pool.test")[1]
    assert len(smtp1) == 1 and addr_in(smtp1[0], POOL), smtp1
    subject = f"mismatch-{tag}"
    r = send_mail(pool, "smtp2.pool.test", 465, subject,
                  extra=("--connect-to", f"smtp2.pool.test:465:{smtp1[0]}:465"))
    assert r.returncode != 0, r
    e = wait_conn(pool, mark, "the name-mismatch refusal", reason="name-mismatch")[0]
    assert e["verdict"] == "deny" and e["port"] == 465, e
    assert not delivered(pool, "smtp1.pool.test", subject)
    assert not delivered(pool, "smtp2.pool.test", subject)
    # the same name in the SNI is relayed (the control)
    subject = f"match-{tag}"
    r = send_mail(pool, "smtp1.pool.test", 465, subject,
                  extra=("--connect-to", f"smtp1.pool.test:465:{smtp1[0]}:465"))
    assert r.returncode == 0, r.stderr
    assert len(delivered(pool, "smtp1.pool.test", subject)) == 1

    # an HTTP Host naming git2 at git1's address (a server-speaks-first port): refused,
    # and none of the client's bytes reach git1's server
    git1 = ask_a(pool, "git1.pool.test")[1][0]
    mark = pool.mark()
    s = pool.socket(pool.client_ns, socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(scaled(10))
        s.connect((git1, 22))
        s.sendall(f"GET /{tag} HTTP/1.1\r\nHost: git2.pool.test\r\n\r\n".encode())
        reply = recv_until_eof(s)
    finally:
        s.close()
    # git1 speaks first and the forwarder dials it at once, so its banner may reach the
    # client before the request is read (on a slow run it does): server bytes may pass,
    # none of the client's may
    banner_first = b"220 git1 ready\r\n"
    if reply.startswith(banner_first):
        reply = reply[len(banner_first):]
    assert reply.startswith(b"HTTP/1.1 403 "), reply
    assert reply.endswith(b"\r\n\r\ngatehouse: the address dialled is git1.pool.test's; "
                          b"git2.pool.test is not allowed here\n"), reply
    e = wait_conn(pool, mark, "the Host mismatch refusal", reason="name-mismatch")[0]
    assert (e["verdict"], e["port"], e["via"], e["name"]) == \
        ("deny", 22, "host", "git2.pool.test"), e
    assert not any(seen_by(pool, n, f"/{tag}") for n in GIT)


def test_held_answer_survives_forwarder_restart_and_reloads(pool):
    """A client resolves once and keeps connecting to the address it got (as a client
    caching the answer does): after a restart of the forwarder, a reload of both daemons
    and a restart of the resolver it still reaches the same name."""
    tag = helpers.tag()
    name = "git2.pool.test"
    look = helpers.lookup(pool, "getent", name, family=4)
    assert look.ok and len(look.addrs) == 1 and addr_in(look.addrs[0], POOL), look
    addr = look.addrs[0]
    mark = pool.mark()

    def reaches(step):
        token = f"{step}-{tag}"
        r = banner(pool, addr, token)
        assert r["banner"] == "220 git2 ready", (step, r)
        assert len(seen_by(pool, name, token)) == 1, step
        return r

    reaches("before")
    pool.restart_daemon("gatehouse-forwarder")
    reaches("forwarder-restarted")
    reload_with(pool, open(pool.config_path).read())
    reaches("reloaded")
    # the client never asked again
    assert not [e for e in pool.audit("gatehouse-resolver")[mark["gatehouse-resolver"]:]
                if e.get("event") == "query" and e.get("qname") == name]
    lines = conn_lines(pool, mark, name=name)
    assert len(lines) == 3 and all(e["via"] == "address" and e["verdict"] == "allow"
                                   for e in lines), lines
    # a restarted resolver gives the name the same address
    pool.restart_daemon("gatehouse-resolver")
    assert ask_a(pool, name)[1] == [addr]
    reaches("resolver-restarted")


def test_tiny_pool_reuses_addresses_only_when_free_and_falls_back(pool):
    """A /29 (6 addresses), ttl 1 and pool-hold 1s (the least it may be), and more names
    than addresses: no address is answered for a second name while the first holds it
    (answered within the hold, so a client may still have it cached, or a connection open
    to it); when every address is held the answer is the gateway's own address, counted
    in gatehouse_pool_exhausted_total."""
    hold = 1.0
    names = [f"n{i}.{REUSE_DOMAIN}" for i in range(12)]
    pool.route_pool("replace", TINY_POOL)
    pool.pool, pool.state_name, pool.hold, pool.ttl = TINY_POOL, "tiny.state", "1s", 1
    held = None
    try:
        pool.restart_both()
        mark = pool.mark()
        m = pool.metrics()
        assert metric_sum(m, "gatehouse_pool_addresses") == 6, m
        first = {}
        for n in names[:6]:
            rc, a = ask_a(pool, n)
            assert rc == "NOERROR" and len(a) == 1 and addr_in(a[0], TINY_POOL), (n, rc, a)
            first[n] = a[0]
        assert len(set(first.values())) == 6, first
        # a connection to n0's address stays open for the whole test
        held_addr = first[names[0]]
        held = pool.socket(pool.client_ns, socket.AF_INET, socket.SOCK_STREAM)
        held.settimeout(scaled(10))
        held.connect((held_addr, 22))
        assert held.recv(100).startswith(b"220 reuse ready"), "the held connection banner"
        # every address is held: the gateway's own address, counted
        assert ask_a(pool, names[6]) == ("NOERROR", [T.GW_IN4])
        assert metric_sum(pool.metrics(), "gatehouse_pool_exhausted_total") >= 1
        assert metric_sum(pool.metrics(), "gatehouse_pool_names") == 6
        # the same names keep their addresses meanwhile; asked in the second half of a
        # wall-clock second, so that a hold counted in whole seconds would show (their
        # addresses would go to other names up to half a second early)
        wait_for(lambda: 0.5 <= time.time() % 1 < 0.8, timeout=2, interval=0.01,
                 what="the second half of a second")
        for n in names[1:6]:
            assert ask_a(pool, n)[1] == [first[n]]
        # after the hold, new names get the addresses of the names no one asked for
        # again; never the one a connection is open to
        late = wait_until(lambda: ask_a(pool, names[6])[1], lambda a: a != [T.GW_IN4],
                          timeout=hold + 10, interval=0.2)
        assert len(late) == 1 and late[0] in set(first.values()) - {held_addr}, late
        for n in names[7:12]:
            a = ask_a(pool, n)[1]
            assert a == [T.GW_IN4] or (addr_in(a[0], TINY_POOL) and a[0] != held_addr), (n, a)
        assert metric_sum(pool.metrics(), "gatehouse_pool_reused_total") >= 1
        # close the connection: once the forwarder has seen it end, n0's address goes to
        # another name after the hold
        held.sendall(b"QUIT\r\n")
        held.recv(100)
        held.close()
        held = None
        closed = pool.mark()["gatehouse-resolver"]
        wait_conn(pool, mark, "the held connection's line", name=names[0])
        fresh = (f"m{i}.{REUSE_DOMAIN}" for i in itertools.count())
        wait_for(lambda: ask_a(pool, next(fresh))[1] == [held_addr], timeout=hold + 15,
                 interval=0.2, what=f"{held_addr} to go to another name")
        # the whole run: an address changes names only after its name's last answer is
        # a hold old, never while the connection was open
        got = answers(pool, mark, TINY_POOL)
        last = {}           # address -> (name, its last answer's time)
        reused = 0
        for i, (ts, n, a) in enumerate(got):
            prev = last.get(a)
            if prev and prev[0] != n:
                reused += 1
                gap = ts_seconds(ts) - ts_seconds(prev[1])
                assert gap >= hold - 0.05, f"{a} went from {prev[0]} to {n} {gap:.3f}s " \
                    f"after the last answer (pool-hold {hold}s)"   # (0.05: the audit's clock)
                if a == held_addr:
                    assert i >= closed_index(pool, mark, closed), \
                        f"{a} went to {n} while a connection to it was open"
            last[a] = (n, ts)
        assert reused >= 2, got
        gw = [x for x in answers(pool, mark) if x[2] == T.GW_IN4]
        assert gw and metric_sum(pool.metrics(), "gatehouse_pool_exhausted_total") == len(gw)
    finally:
        if held is not None:
            held.close()
        pool.pool, pool.state_name, pool.hold, pool.ttl = POOL, "pool.state", "1h", 60
        pool.restart_both()
        pool.route_pool("del", TINY_POOL)


def ts_seconds(ts):
    """An audit timestamp (2026-11-28T12:00:00.123456Z) in seconds."""
    from datetime import datetime
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def closed_index(topo, since, resolver_count):
    """The index in answers(topo, since, TINY_POOL) of the first answer logged after
    resolver_count resolver lines (the connection was closed by then)."""
    lines = topo.audit("gatehouse-resolver")[since["gatehouse-resolver"]:resolver_count]
    return sum(1 for e in lines if e.get("event") == "query" and e.get("qtype") == "A" and
               e.get("answer") and addr_in(e["answer"], TINY_POOL))
