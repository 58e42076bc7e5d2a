"""`stub-zone ZONE SERVER...` on the real gatehouse-resolver (sandbox on): names at or below
the zone go to the zone's own server (a real dnsmasq, authoritative for cluster.local, on
127.0.0.2; or a recorder written here that keeps the raw queries it gets), with RD clear,
a new ID, lowercased and nothing else of the client's query; only the zone's records come
back; every other name is decided as before and never reaches that server.

Run: GATEHOUSE_BUILD=$PWD/build /usr/bin/python3 -m pytest -q tests/integration/test_stub_zone.py
"""

import signal
import socket
import struct
import subprocess
import urllib.request

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from conftest import dns_ready, recv_exact, tcp_frame
from gh_testlib import metric_sum, scaled, wait_for
from peers import DnsServer, Procs, SilentUdp, free_metrics_port, free_port

GW = "127.0.0.1"
ZONE_ADDR = "127.0.0.2"          # the zone's server (dnsmasq or the recorder)
CLIENT_B = "127.0.0.3"
T = scaled(10.0)                 # a bound on every wait; passes take at most ~5 s
MANY = 100                       # A records of many.cluster.local: over 1232 bytes
PASS_TRIES = 3                   # tries of a pass (resolver/pass.h)
SIXTY = 60                       # of sixty.cluster.local: 1,000 bytes compressed, 2,100 not

RECORDS = {
    "web.default.svc.cluster.local": ["10.96.1.10", "fd00::10"],
    "db.default.svc.cluster.local": "10.96.1.11",
    "api.example.com": "192.0.2.80",    # a CNAME target outside the zone
}


@pytest.fixture
def procs():
    p = Procs()
    yield p
    p.kill_all()


def dnsmasq(procs, workdir, extra=()):
    """dnsmasq for cluster.local on ZONE_ADDR (a free port): RECORDS, an SRV, a CNAME out
    of the zone and many.cluster.local with MANY addresses; killed by PID at teardown."""
    port = free_port(addrs=(ZONE_ADDR,))
    records = dict(RECORDS)
    records["many.cluster.local"] = ["10.97.%d.%d" % (i // 200, i % 200 + 1)
                                     for i in range(MANY)]
    records["sixty.cluster.local"] = ["10.98.0.%d" % (i + 1) for i in range(SIXTY)]
    return DnsServer(procs, workdir, ZONE_ADDR, port, records, local_domain="cluster.local",
                     extra=["--srv-host=_http._tcp.web.default.svc.cluster.local,"
                            "web.default.svc.cluster.local,80",
                            "--cname=api.default.svc.cluster.local,api.example.com"] +
                     list(extra))


def start(gatehouse, servers, extra=""):
    port, mport = free_port(), free_metrics_port(GW)
    conf = ("dns-listen %s:%d\nmetrics %s:%d\nallow *.w.test 443\nallow ok.example 443\n"
            "deny secret.cluster.local\n%s%s" % (
                GW, port, GW, mport,
                "stub-zone cluster.local %s\n" % " ".join(servers) if servers else "", extra))
    d = gatehouse.start("gatehouse-resolver", conf, ready=dns_ready(GW, port))
    d.port, d.mport = port, mport
    return d


def udp(d, q, src=GW, timeout=T):
    return dns.query.udp(q, GW, port=d.port, timeout=timeout, source=src,
                         ignore_unexpected=True)


def tcp(d, q):
    return dns.query.tcp(q, GW, port=d.port, timeout=T)


def metrics(d):
    with urllib.request.urlopen("http://%s:%d/metrics" % (GW, d.mport), timeout=T) as r:
        return r.read().decode()


def metric(d, name, **labels):
    return metric_sum(metrics(d), name, **labels)


def addrs(r, rdtype):
    return sorted(x.to_text() for rr in r.answer if rr.rdtype == rdtype for x in rr)


def line_for(d, qname, count=1):
    return d.wait_audit(lambda l: l.get("qname") == qname, count=count, timeout=T)


def tries_seen(server):
    """How many datagrams server got, once the last try the client's answer followed is
    counted (its thread may count it after the answer is read here)."""
    wait_for(lambda: server.received >= PASS_TRIES, T, what="every try counted")
    return server.received


def dig(d, *args):
    out = subprocess.run(["dig", "@" + GW, "-p", str(d.port), "+time=%d" % int(T), "+tries=1"]
                         + list(args), capture_output=True, text=True, timeout=3 * T)
    return out.stdout


# ---- a zone server written here: it keeps every raw query it gets ----------------------

class Recorder(SilentUdp):
    """A UDP "zone server" on ZONE_ADDR that keeps the raw queries it receives and answers
    each with A 10.99.0.1 (mode "answer"), a datagram with another ID first and then the
    answer ("foreign"), or that answer cut short ("malformed")."""

    def __init__(self, mode="answer"):
        self.mode = mode
        self.queries = []
        super().__init__(ZONE_ADDR, 0)

    def handle(self, data, peer):
        self.queries.append(data)
        q = dns.message.from_wire(data)
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        r.answer.append(dns.rrset.from_text(q.question[0].name, 5, "IN", "A", "10.99.0.1"))
        wire = r.to_wire()
        if self.mode == "malformed":        # ANCOUNT 1, the record cut short
            wire = wire[:-3]
        if self.mode == "foreign":
            self.sock.sendto(struct.pack(">H", (q.id + 1) & 0xffff) + wire[2:], peer)
        self.sock.sendto(wire, peer)


class NamingSilent(SilentUdp):
    """SilentUdp that keeps the question name of each query (lowercase), so that a test
    waits for the query it sent and not for some earlier pass's retry."""

    def __init__(self, addr, port):
        self.names = []
        super().__init__(addr, port)

    def handle(self, data, peer):
        try:
            self.names.append(dns.message.from_wire(data).question[0].name
                              .to_text(omit_final_dot=True).lower())
        except Exception:           # pylint: disable=broad-except
            self.names.append(None)


@pytest.fixture
def silent():
    """A zone server that reads queries and never answers, on ZONE_ADDR."""
    u = NamingSilent(ZONE_ADDR, 0)
    yield u
    u.close()


@pytest.fixture
def client():
    """A UDP client socket, closed at teardown."""
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(T)
    yield c
    c.close()


@pytest.fixture
def recorder():
    made = []

    def make(mode="answer"):
        r = Recorder(mode)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()


# ---- answers ------------------------------------------------------------------------------

def test_zone_names_answered(gatehouse, procs):
    z = dnsmasq(procs, gatehouse.workdir)
    d = start(gatehouse, ["%s:%d" % (ZONE_ADDR, z.port)])
    # A, with the client's ID and case kept
    q = dns.message.make_query("Web.Default.SVC.cluster.local", "A")
    r = udp(d, q)
    assert r.id == q.id and r.rcode() == dns.rcode.NOERROR
    assert r.question[0].name.to_text() == "Web.Default.SVC.cluster.local."
    assert addrs(r, dns.rdatatype.A) == ["10.96.1.10"]
    assert r.flags & dns.flags.RD and r.flags & dns.flags.AA
    # AAAA, SRV
    r = udp(d, dns.message.make_query("web.default.svc.cluster.local", "AAAA"))
    assert addrs(r, dns.rdatatype.AAAA) == ["fd00::10"]
    r = udp(d, dns.message.make_query("_http._tcp.web.default.svc.cluster.local", "SRV"))
    assert r.rcode() == dns.rcode.NOERROR
    assert [x.to_text() for rr in r.answer for x in rr] == ["0 0 80 web.default.svc.cluster.local."]
    # a name the zone does not have: its NXDOMAIN
    r = udp(d, dns.message.make_query("nope.default.svc.cluster.local", "A", use_edns=0))
    assert r.rcode() == dns.rcode.NXDOMAIN and r.edns == 0
    # over TCP
    r = tcp(d, dns.message.make_query("db.default.svc.cluster.local", "A"))
    assert addrs(r, dns.rdatatype.A) == ["10.96.1.11"]
    # dig, as a user would
    assert dig(d, "+short", "db.default.svc.cluster.local").split() == ["10.96.1.11"]
    # the audit line
    l = line_for(d, "Web.Default.SVC.cluster.local")[0]
    assert l["verdict"] == "pass" and l["zone"] == "cluster.local"
    assert l["upstream"] == "%s:%d" % (ZONE_ADDR, z.port)
    assert l["answer"] == "10.96.1.10" and l["rcode"] == "NOERROR" and l["proto"] == "udp"
    l = line_for(d, "nope.default.svc.cluster.local")[0]
    assert l["verdict"] == "pass" and l["rcode"] == "NXDOMAIN" and "reason" not in l
    assert line_for(d, "db.default.svc.cluster.local", 2)[0]["proto"] == "tcp"
    assert metric(d, "gatehouse_stub_queries_total", result="answered") == 6
    assert metric(d, "gatehouse_stub_queries_total", result="failed") == 0
    assert metric(d, "gatehouse_dns_queries_total", verdict="pass") == 6
    assert metric(d, "gatehouse_stub_inflight") == 0


def test_cname_out_of_zone_keeps_the_cname_only(gatehouse, procs):
    z = dnsmasq(procs, gatehouse.workdir)
    d = start(gatehouse, ["%s:%d" % (ZONE_ADDR, z.port)])
    r = udp(d, dns.message.make_query("api.default.svc.cluster.local", "A"))
    assert r.rcode() == dns.rcode.NOERROR
    assert [(rr.name.to_text(), rr.rdtype) for rr in r.answer] == [
        ("api.default.svc.cluster.local.", dns.rdatatype.CNAME)]
    assert [x.to_text() for x in r.answer[0]] == ["api.example.com."]
    assert not r.additional and not r.authority
    l = line_for(d, "api.default.svc.cluster.local")[0]
    assert l["outside_zone"] >= 1 and "answer" not in l
    # the target is the allowlist's, like any name: not on it, NXDOMAIN
    assert udp(d, dns.message.make_query("api.example.com", "A")).rcode() == dns.rcode.NXDOMAIN


# ---- nothing leaks --------------------------------------------------------------------------

def test_other_names_never_reach_the_zone_server(gatehouse, procs):
    z = dnsmasq(procs, gatehouse.workdir)
    d = start(gatehouse, ["%s:%d" % (ZONE_ADDR, z.port)])
    exfil = ["%s.w.test" % ("a%02d" % i + "x" * 50) for i in range(5)]
    names = ["x.cluster.local.evil.test", "xcluster.local", "cluster.local.evil.test",
             "evil.test", "secret.cluster.local", "ok.example"] + exfil
    for n in names:
        for t in ("A", "AAAA", "TXT"):
            r = udp(d, dns.message.make_query(n, t))
            assert r.rcode() in (dns.rcode.NXDOMAIN, dns.rcode.NOERROR)
    assert udp(d, dns.message.make_query(exfil[0], "A")).answer    # the wildcard answered it
    # a cluster name, in mixed case: dnsmasq sees it lowercased
    assert addrs(udp(d, dns.message.make_query("WEB.default.svc.CLUSTER.local", "A")),
                 dns.rdatatype.A) == ["10.96.1.10"]
    z.wait_queried("web.default.svc.cluster.local")
    log = z.log()
    assert "query[A] web.default.svc.cluster.local from " in log
    assert "WEB.default" not in log and "CLUSTER" not in log
    for n in names:
        assert not z.queried(n), n
    for word in ("evil", "xcluster", "secret", "w.test", "ok.example"):
        assert word not in log, word
    # every audited line of them is decided here: none passed
    for n in names:
        assert all(l["verdict"] != "pass" for l in line_for(d, n, 3)), n


def test_what_the_zone_server_gets(gatehouse, recorder):
    rec = recorder()
    d = start(gatehouse, ["%s:%d" % (ZONE_ADDR, rec.port)])
    q = dns.message.make_query("Pod.NS.Svc.Cluster.Local", "A", use_edns=0, want_dnssec=True,
                               options=[dns.edns.GenericOption(10, b"\x01" * 8),  # cookie
                                        dns.edns.ECSOption("192.0.2.0", 24)])
    q.flags |= dns.flags.CD | dns.flags.AD
    r = udp(d, q)
    assert r.id == q.id and addrs(r, dns.rdatatype.A) == ["10.99.0.1"]
    assert r.flags & dns.flags.CD and r.flags & dns.flags.RD
    assert not r.options and r.ednsflags & dns.flags.DO
    # one query (a second only if the recorder stalled past a try's 1 s: the same one)
    assert rec.queries and len({q[2:] for q in rec.queries}) == 1
    raw = rec.queries[0]
    got = dns.message.from_wire(raw)
    assert not got.flags & dns.flags.RD, "RD set: the zone server was asked to recurse"
    assert not got.flags & (dns.flags.CD | dns.flags.AD)
    assert got.id != q.id
    assert got.question[0].name.to_text() == "pod.ns.svc.cluster.local."
    assert b"Pod" not in raw and b"Cluster" not in raw
    assert got.edns == 0 and not got.options and not got.ednsflags & dns.flags.DO
    assert got.payload == 1232
    assert b"\x01" * 8 not in raw and bytes([192, 0, 2]) not in raw
    # IDs differ query to query
    for _ in range(4):
        udp(d, dns.message.make_query("pod.ns.svc.cluster.local", "A"))
    assert len({struct.unpack(">H", x[:2])[0] for x in rec.queries}) >= 4


# ---- truncation -----------------------------------------------------------------------------

def test_truncated_answer_asked_again_over_tcp(gatehouse, procs):
    z = dnsmasq(procs, gatehouse.workdir)
    d = start(gatehouse, ["%s:%d" % (ZONE_ADDR, z.port)])
    r = tcp(d, dns.message.make_query("many.cluster.local", "A"))
    assert r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.TC
    assert len(addrs(r, dns.rdatatype.A)) == MANY
    assert metric(d, "gatehouse_stub_tcp_total") == 1
    l = line_for(d, "many.cluster.local")[0]
    assert l["verdict"] == "pass" and l["proto"] == "tcp"
    # over UDP: TC and no records; dig then asks over TCP and gets them all
    r = udp(d, dns.message.make_query("many.cluster.local", "A", use_edns=0, payload=1232))
    assert r.flags & dns.flags.TC and not r.answer
    assert line_for(d, "many.cluster.local", 2)[1].get("tc") == 1
    out = dig(d, "+short", "+bufsize=1232", "many.cluster.local")
    assert len(out.split()) == MANY
    assert metric(d, "gatehouse_stub_queries_total", result="answered") == 4


def test_answer_compressed_sixty_addresses_fit_udp(gatehouse, procs):
    """A headless Service's 60 addresses: with the names compressed (16 bytes a record)
    they fit an EDNS client's 1232 bytes over UDP, with no second query over TCP; the
    owner names point at the client's question, so they come back in its case."""
    z = dnsmasq(procs, gatehouse.workdir)
    d = start(gatehouse, ["%s:%d" % (ZONE_ADDR, z.port)])
    r = udp(d, dns.message.make_query("SiXtY.cluster.local", "A", use_edns=0, payload=1232))
    assert r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.TC
    assert addrs(r, dns.rdatatype.A) == sorted("10.98.0.%d" % (i + 1) for i in range(SIXTY))
    assert [rr.name.to_text() for rr in r.answer] == ["SiXtY.cluster.local."]
    l = line_for(d, "SiXtY.cluster.local")[0]
    assert l["verdict"] == "pass" and "tc" not in l
    assert metric(d, "gatehouse_stub_tcp_total") == 0


# ---- the server down, silent, or answering something else ------------------------------------

def test_nothing_listening_is_servfail_refused(gatehouse):
    port = free_port(addrs=(ZONE_ADDR,))
    d = start(gatehouse, ["%s:%d" % (ZONE_ADDR, port)])
    r = udp(d, dns.message.make_query("web.cluster.local", "A"))
    assert r.rcode() == dns.rcode.SERVFAIL and not r.answer
    l = line_for(d, "web.cluster.local")[0]
    assert l["verdict"] == "pass" and l["reason"] == "refused" and l["rcode"] == "SERVFAIL"
    assert metric(d, "gatehouse_stub_queries_total", result="failed") == 1


def test_silent_server_is_servfail_timeout(gatehouse, silent):
    d = start(gatehouse, ["%s:%d" % (ZONE_ADDR, silent.port)])
    r = udp(d, dns.message.make_query("web.cluster.local", "A"))
    assert r.rcode() == dns.rcode.SERVFAIL
    l = line_for(d, "web.cluster.local")[0]
    assert l["reason"] == "timeout" and l["upstream"] == "%s:%d" % (ZONE_ADDR, silent.port)
    assert tries_seen(silent) == 3
    assert metric(d, "gatehouse_stub_queries_total", result="failed") == 1


def test_foreign_answer_ignored(gatehouse, recorder):
    rec = recorder("foreign")
    d = start(gatehouse, ["%s:%d" % (ZONE_ADDR, rec.port)])
    r = udp(d, dns.message.make_query("web.cluster.local", "A"))
    assert addrs(r, dns.rdatatype.A) == ["10.99.0.1"]
    assert metric(d, "gatehouse_stub_foreign_total") >= 1
    assert metric(d, "gatehouse_stub_queries_total", result="answered") == 1


def test_malformed_answer_is_servfail_counted_failed(gatehouse, recorder):
    rec = recorder("malformed")
    d = start(gatehouse, ["%s:%d" % (ZONE_ADDR, rec.port)])
    r = udp(d, dns.message.make_query("web.cluster.local", "A"))
    assert r.rcode() == dns.rcode.SERVFAIL and not r.answer
    l = line_for(d, "web.cluster.local")[0]
    assert l["reason"] == "malformed" and l["upstream"] == "%s:%d" % (ZONE_ADDR, rec.port)
    assert metric(d, "gatehouse_stub_queries_total", result="failed") == 1
    assert metric(d, "gatehouse_stub_queries_total", result="answered") == 0


def test_busy_client_gets_servfail_at_once(gatehouse, silent, client):
    d = start(gatehouse, ["%s:%d" % (ZONE_ADDR, silent.port)])
    client.bind((GW, 0))
    for i in range(64):
        client.sendto(dns.message.make_query("n%d.cluster.local" % i, "A").to_wire(),
                      (GW, d.port))
    wait_for(lambda: metric(d, "gatehouse_stub_inflight") == 64, T,
             what="64 passes in flight")
    extra = []
    for i in range(6):
        q = dns.message.make_query("x%d.cluster.local" % i, "A")
        extra.append(q.id)
        client.sendto(q.to_wire(), (GW, d.port))
    # the six come back SERVFAIL while the 64 still wait for the silent server
    # (on a slow run the first of the 64 may end, SERVFAIL too, before the six are read:
    # their reason below says they were not asked)
    busy = set()
    for _ in range(64 + 6):
        if len(busy) == 6:
            break
        r = dns.message.from_wire(client.recv(4096))
        assert r.rcode() == dns.rcode.SERVFAIL
        if r.id in extra:
            busy.add(r.id)
    assert len(busy) == 6, busy
    for i in range(6):
        assert line_for(d, "x%d.cluster.local" % i)[0]["reason"] == "busy"
    assert metric(d, "gatehouse_stub_queries_total", result="busy") == 6
    # another client is asked for, not busy
    r = udp(d, dns.message.make_query("b.cluster.local", "A"), src=CLIENT_B)
    assert r.rcode() == dns.rcode.SERVFAIL
    assert line_for(d, "b.cluster.local")[0]["reason"] == "timeout"
    # the 64 end too, each with its line
    for i in range(64):
        assert line_for(d, "n%d.cluster.local" % i)[0]["reason"] == "timeout"
    wait_for(lambda: metric(d, "gatehouse_stub_inflight") == 0, T, what="none in flight")


# ---- reload ---------------------------------------------------------------------------------

def test_reload_cannot_add_stub_zones(gatehouse, procs):
    z = dnsmasq(procs, gatehouse.workdir)
    d = start(gatehouse, [])
    assert udp(d, dns.message.make_query("web.default.svc.cluster.local", "A")).rcode() == \
        dns.rcode.NXDOMAIN
    with open(d.config_path, "a") as f:
        f.write("stub-zone cluster.local %s:%d\n" % (ZONE_ADDR, z.port))
    d.send_signal(signal.SIGHUP)
    d.wait_stderr("restart it to add stub zones")
    d.assert_running()
    assert udp(d, dns.message.make_query("web.default.svc.cluster.local", "A")).rcode() == \
        dns.rcode.NXDOMAIN
    assert not z.queried("web.default.svc.cluster.local")


def test_reload_changes_the_server(gatehouse, recorder):
    a, b = recorder(), recorder()
    d = start(gatehouse, ["%s:%d" % (ZONE_ADDR, a.port)])
    assert addrs(udp(d, dns.message.make_query("a.cluster.local", "A")), dns.rdatatype.A) == \
        ["10.99.0.1"]
    assert a.queries
    reload_replacing(d, ":%d\n" % a.port, ":%d\n" % b.port)
    wait_for(lambda: udp(d, dns.message.make_query("b.cluster.local", "A")).answer and
             b.queries, T, what=lambda: "the new server asked; stderr:\n" + d.stderr())
    n = len(a.queries)
    udp(d, dns.message.make_query("c.cluster.local", "A"))
    assert len(a.queries) == n


def reload_replacing(d, old, new):
    """Rewrite d's configuration with old replaced by new, SIGHUP, wait for the reload."""
    with open(d.config_path) as f:
        conf = f.read().replace(old, new)
    with open(d.config_path, "w") as f:
        f.write(conf)
    d.send_signal(signal.SIGHUP)
    d.wait_stderr("configuration reloaded")


def test_reload_while_passes_wait(gatehouse, silent, client):
    """A pass in flight across a reload ends with its answer and line (the zone and the
    servers were copied when it began)."""
    d = start(gatehouse, ["%s:%d" % (ZONE_ADDR, silent.port)])
    q = dns.message.make_query("w.cluster.local", "A")
    client.sendto(q.to_wire(), (GW, d.port))
    wait_for(lambda: silent.received >= 1, T, what="the pass under way")
    reload_replacing(d, "stub-zone cluster.local", "stub-zone other.local")
    r = dns.message.from_wire(client.recv(4096))
    assert r.id == q.id and r.rcode() == dns.rcode.SERVFAIL
    l = line_for(d, "w.cluster.local")[0]
    assert l["zone"] == "cluster.local" and l["reason"] == "timeout"


def test_policy_of_a_pass_is_chosen_again_after_a_reload(gatehouse, silent, client):
    """The line of a pass that waited across a reload names the client's policy under the
    configuration it ends in: a reload that adds a policy before the client's renumbers
    them, and the old number would name another policy."""
    d = start(gatehouse, ["%s:%d" % (ZONE_ADDR, silent.port)],
              "policy mine %s\nallow mine.w.test 443\n" % GW)
    q = dns.message.make_query("p.cluster.local", "A")
    client.sendto(q.to_wire(), (GW, d.port))
    wait_for(lambda: silent.received >= 1, T, what="the pass under way")
    reload_replacing(d, "policy mine",
                     "policy first %s\nallow first.w.test 443\npolicy mine" % CLIENT_B)
    r = dns.message.from_wire(client.recv(4096))
    assert r.id == q.id and r.rcode() == dns.rcode.SERVFAIL
    l = line_for(d, "p.cluster.local")[0]
    assert l["policy"] == "mine" and l["reason"] == "timeout", l


def test_stop_while_passes_wait(gatehouse, silent, client):
    """SIGTERM with a pass in flight: its client is answered SERVFAIL and the query has its
    audit line (reason stopped), as every query does."""
    d = start(gatehouse, ["%s:%d" % (ZONE_ADDR, silent.port)])
    q = dns.message.make_query("late.cluster.local", "A")
    client.sendto(q.to_wire(), (GW, d.port))
    t = socket.create_connection((GW, d.port), timeout=T)
    t.sendall(tcp_frame(dns.message.make_query("late-tcp.cluster.local", "A").to_wire()))
    wait_for(lambda: {"late.cluster.local", "late-tcp.cluster.local"} <= set(silent.names),
             T, what="the passes under way")
    assert d.stop() == 0
    t.close()
    for name, proto in (("late.cluster.local", "udp"), ("late-tcp.cluster.local", "tcp")):
        l = [x for x in d.audit() if x.get("qname") == name]
        assert len(l) == 1 and l[0]["reason"] == "stopped", l
        assert l[0]["rcode"] == "SERVFAIL" and l[0]["proto"] == proto
    r = dns.message.from_wire(client.recv(4096))
    assert r.id == q.id and r.rcode() == dns.rcode.SERVFAIL


# ---- TCP ------------------------------------------------------------------------------------

def test_tcp_half_close_still_answered(gatehouse, procs):
    """The stub query alone (nothing else waits to be written at the EOF), then with an
    answer of the resolver's own behind it."""
    z = dnsmasq(procs, gatehouse.workdir)
    d = start(gatehouse, ["%s:%d" % (ZONE_ADDR, z.port)])
    for extra in ([], ["ok.example"]):
        s = socket.create_connection((GW, d.port), timeout=T)
        try:
            qs = [dns.message.make_query(n, "A")
                  for n in ["web.default.svc.cluster.local"] + extra]
            s.sendall(b"".join(tcp_frame(q.to_wire()) for q in qs))
            s.shutdown(socket.SHUT_WR)
            got = {}
            for _ in qs:
                n = struct.unpack(">H", recv_exact(s, 2))[0]
                r = dns.message.from_wire(recv_exact(s, n))
                got[r.id] = r
            assert addrs(got[qs[0].id], dns.rdatatype.A) == ["10.96.1.10"]
            if extra:
                assert got[qs[1].id].rcode() == dns.rcode.NOERROR
            assert s.recv(1) == b""         # then the close
        finally:
            s.close()


def test_tcp_idle_timeout_waits_for_passes(gatehouse, silent):
    """A connection with a query outstanding is not idle (RFC 7766 6.2.3): dns-tcp-idle
    shorter than the pass does not close it before the answer."""
    d = start(gatehouse, ["%s:%d" % (ZONE_ADDR, silent.port)], extra="dns-tcp-idle 1\n")
    s = socket.create_connection((GW, d.port), timeout=T)
    try:
        q = dns.message.make_query("slow.cluster.local", "A")
        s.sendall(tcp_frame(q.to_wire()))
        n = struct.unpack(">H", recv_exact(s, 2))[0]
        r = dns.message.from_wire(recv_exact(s, n))
        assert r.id == q.id and r.rcode() == dns.rcode.SERVFAIL
        assert tries_seen(silent) == 3      # every try was made first
        assert s.recv(1) == b""             # then idle: closed
    finally:
        s.close()


def test_tcp_eviction_spares_a_connection_waiting_for_a_pass(gatehouse, silent):
    """At dns-tcp-max, a new connection may close the oldest that answered nothing for a
    second (RFC 7766 6.2.3), but not one whose query waits for a zone server: that one
    gets its answer, and the newcomer is refused."""
    d = start(gatehouse, ["%s:%d" % (ZONE_ADDR, silent.port)], extra="dns-tcp-max 1\n")
    a = socket.create_connection((GW, d.port), timeout=3 * T)
    try:
        q = dns.message.make_query("slow.cluster.local", "A")
        a.sendall(tcp_frame(q.to_wire()))
        # the third try starts two seconds after the first: the connection has answered
        # nothing for well over TCP_EVICT_MS (so it could be evicted), and its pass
        # still waits a second more
        wait_for(lambda: silent.received >= 3, T, what="the third try")
        b = socket.create_connection((GW, d.port), timeout=T)
        try:
            b.sendall(tcp_frame(dns.message.make_query("ok.example", "A").to_wire()))
            try:
                assert b.recv(1) == b""         # refused: closed unanswered
            except ConnectionResetError:
                pass
        finally:
            b.close()
        n = struct.unpack(">H", recv_exact(a, 2))[0]
        r = dns.message.from_wire(recv_exact(a, n))
        assert r.id == q.id and r.rcode() == dns.rcode.SERVFAIL
        assert tries_seen(silent) == 3
    finally:
        a.close()
    assert metric(d, "gatehouse_dns_tcp_connections_total", result="evicted") == 0
    assert metric(d, "gatehouse_dns_tcp_connections_total", result="refused") >= 1


def test_tcp_client_gone_before_the_answer(gatehouse, silent):
    """A TCP client that closes while its pass waits: the pass ends with its line, and
    the resolver goes on (no write to a freed connection)."""
    d = start(gatehouse, ["%s:%d" % (ZONE_ADDR, silent.port)])
    for i in range(3):
        s = socket.create_connection((GW, d.port), timeout=T)
        s.sendall(tcp_frame(dns.message.make_query("gone%d.cluster.local" % i,
                                                   "A").to_wire()))
        wait_for(lambda: "gone%d.cluster.local" % i in silent.names, T,
                 what="the pass under way")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()                   # a reset
    for i in range(3):
        assert line_for(d, "gone%d.cluster.local" % i)[0]["reason"] == "timeout"
    d.assert_running()
    assert udp(d, dns.message.make_query("ok.example", "A")).rcode() == dns.rcode.NOERROR
