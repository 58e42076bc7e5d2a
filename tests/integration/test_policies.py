"""Policies per client and report mode, with real clients on loopback: client A sends from
127.0.0.2 and client B from 127.0.0.3 (bound as sources), each in its own policy; a third
client (127.0.0.4) is in none. Both daemons choose the same policy for the same client: a
name allowed for A gives B NXDOMAIN, and B naming A's name in its Host is denied; audit
lines and metrics carry the policy; report mode (per policy and global) answers and relays
what enforce refuses, and never opens the rest.

Loopback is special-purpose, so the rules say `private`; a name no rule allows has no
`private`, which is exactly what report mode's relaying is held to here (the e2e suite,
with public-looking addresses, shows report mode relaying).

Run: /usr/bin/python3 -m pytest -q tests/integration/test_policies.py
"""

import os
import re
import socket
import urllib.request

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

import peers
from conftest import dns_ready
from gh_testlib import metric_sum as metric, scaled, wait_for
from peers import DnsServer, Forwarder, HttpServer, free_port

pytestmark = pytest.mark.skipif(not os.path.exists(peers.FORWARDER_BIN),
                                reason="no gatehouse-forwarder in %s" % peers.BUILD)

T = scaled(5.0)
GW = "127.0.0.1"                # the resolver and the forwarder listen here
CLIENT_A, CLIENT_B, CLIENT_C = "127.0.0.2", "127.0.0.3", "127.0.0.4"
DNS_ADDR = "127.0.0.163"        # dnsmasq: the forwarder's upstream
ADDR = {"a.test": "127.0.0.21", "b.test": "127.0.0.22", "g.test": "127.0.0.23",
        "x.test": "127.0.0.24", "meta.test": "169.254.169.254", "loop.test": GW}
RESOLVER = "gatehouse-resolver"


@pytest.fixture(scope="module")
def env():
    with peers.peer_env("gatehouse-pol-it-") as e:
        e.p_http = free_port((GW,) + tuple(v for v in ADDR.values() if v.startswith("127.")))
        e.p_dns = free_port((DNS_ADDR,))
        e.dns = DnsServer(e.procs, e.dir, DNS_ADDR, e.p_dns, ADDR)
        for name in ("a.test", "b.test", "g.test", "x.test"):
            e.servers.append(HttpServer(ADDR[name], e.p_http, name))
        e.web = {s.label: s for s in e.servers}
        yield e


@pytest.fixture(autouse=True)
def clean(env):
    for s in env.servers:
        s.reset()
    yield


def rules(env, b_mode=None):
    """The layout: g.test for everyone, a.test for policy a, b.test for policy b."""
    p = env.p_http
    out = ["allow g.test %d private" % p,
           "policy a %s" % CLIENT_A, "allow a.test %d private" % p,
           "policy b %s/32" % CLIENT_B, "allow b.test %d private" % p]
    if b_mode:
        out.append("mode " + b_mode)
    return out


@pytest.fixture
def fwds(env, request):
    started = []

    def start(policy_lines, settings=(), n=[0]):
        n[0] += 1
        name = "%s-%d" % (re.sub(r"\W", "_", request.node.name)[:50], n[0])
        lines = ["forward-listen " + GW, "upstream %s:%d" % (DNS_ADDR, env.p_dns),
                 "peek-timeout 1", "connect-timeout 2", "lookup-timeout 2",
                 "metrics %s:%d" % (GW, peers.free_metrics_port(GW)),
                 "audit " + os.path.join(env.dir, name + "-audit.log")] + list(settings)
        f = Forwarder(env.procs, env.dir, lines + policy_lines, name=name)
        f.mport = int(lines[5].rsplit(":", 1)[1])
        started.append(f)
        return f.start()

    yield start
    problems = []
    for f in started:
        problems += f.stop()[1]
    if problems:
        pytest.fail("daemon problems:\n" + "\n".join(problems), pytrace=False)


def resolver(gatehouse, env, policy_lines, settings=""):
    port = free_port()
    conf = "dns-listen %s:%d\n%s%s\n" % (GW, port, settings, "\n".join(policy_lines))
    d = gatehouse.start(RESOLVER, conf, ready=dns_ready(GW, port))
    d.port = port
    return d


def ask(d, src, name):
    q = dns.message.make_query(name, "A")
    return dns.query.udp(q, GW, port=d.port, timeout=T, source=src, ignore_unexpected=True)


def query_lines(d, n):
    """The resolver's query lines, once there are n (waited for)."""
    def get():
        q = [l for l in d.audit() if l.get("event") == "query"]
        return q if len(q) >= n else None
    return wait_for(get, timeout=scaled(5.0), what="%d query lines" % n)


def a_records(resp):
    return [r.address for rr in resp.answer if rr.rdtype == dns.rdatatype.A for r in rr]


def http_from(src, port, host):
    """GET / with Host: host to the forwarder, from source address src; (response bytes,
    client port)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(T)
    try:
        s.bind((src, 0))
        s.connect((GW, port))
        cport = s.getsockname()[1]
        s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host).encode())
        return peers.recv_until_eof(s), cport
    finally:
        s.close()


def status(resp):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", resp)
    assert m, "not an HTTP response: %r" % resp[:200]
    return int(m.group(1))


def metrics_text(port):
    with urllib.request.urlopen("http://%s:%d/metrics" % (GW, port), timeout=T) as r:
        return r.read().decode()


# ---------------------------------------------------------------------------------------


def test_resolver_answers_each_client_from_its_policy(gatehouse, env):
    mport = peers.free_metrics_port(GW)
    d = resolver(gatehouse, env, rules(env), "metrics %s:%d\n" % (GW, mport))
    assert a_records(ask(d, CLIENT_A, "a.test")) == [GW]
    resp = ask(d, CLIENT_B, "a.test")
    assert resp.rcode() == dns.rcode.NXDOMAIN and not resp.answer
    assert a_records(ask(d, CLIENT_B, "b.test")) == [GW]
    assert ask(d, CLIENT_A, "b.test").rcode() == dns.rcode.NXDOMAIN
    for src in (CLIENT_A, CLIENT_B, CLIENT_C):          # the global rule: everyone
        assert a_records(ask(d, src, "g.test")) == [GW]
    assert ask(d, CLIENT_C, "a.test").rcode() == dns.rcode.NXDOMAIN
    lines = query_lines(d, 8)
    got = [(l["client"], l["qname"], l["policy"], l["verdict"]) for l in lines]
    assert got == [
        (CLIENT_A, "a.test", "a", "allow"), (CLIENT_B, "a.test", "b", "deny"),
        (CLIENT_B, "b.test", "b", "allow"), (CLIENT_A, "b.test", "a", "deny"),
        (CLIENT_A, "g.test", "a", "allow"), (CLIENT_B, "g.test", "b", "allow"),
        (CLIENT_C, "g.test", "default", "allow"), (CLIENT_C, "a.test", "default", "deny")]
    # "policy" right after client_port, and no report fields under enforce
    for l in lines:
        keys = list(l)
        assert keys[keys.index("client_port") + 1] == "policy"
        assert "mode" not in l and "enforce" not in l
    m = metrics_text(mport)
    assert metric(m, "gatehouse_dns_queries_total", policy="a", verdict="allow") == 2
    assert metric(m, "gatehouse_dns_queries_total", policy="b", verdict="deny") == 1
    assert metric(m, "gatehouse_dns_queries_total", policy="default", verdict="deny") >= 1
    assert metric(m, "gatehouse_report_would_deny_total", policy="b") == 0


def test_forwarder_checks_each_client_against_its_policy(env, fwds):
    f = fwds(rules(env))
    p = env.p_http
    resp, ca = http_from(CLIENT_A, p, "a.test")
    assert status(resp) == 200 and env.web["a.test"].requests
    # B names A's name: denied, A's server never contacted
    env.web["a.test"].reset()
    resp, cb = http_from(CLIENT_B, p, "a.test")
    assert status(resp) == 403
    assert env.web["a.test"].accepts == []
    resp, cb2 = http_from(CLIENT_B, p, "b.test")
    assert status(resp) == 200
    resp, cc = http_from(CLIENT_C, p, "g.test")
    assert status(resp) == 200
    resp, cc2 = http_from(CLIENT_C, p, "b.test")
    assert status(resp) == 403
    la, lb, lb2, lc, lc2 = (f.wait_conn(x) for x in (ca, cb, cb2, cc, cc2))
    assert (la["policy"], la["verdict"], la["rule"]) == ("a", "allow", "a.test")
    assert (lb["policy"], lb["verdict"], lb["reason"]) == ("b", "deny", "not-allowed")
    assert (lb2["policy"], lb2["verdict"]) == ("b", "allow")
    assert (lc["policy"], lc["verdict"], lc["rule"]) == ("default", "allow", "g.test")
    assert (lc2["policy"], lc2["verdict"]) == ("default", "deny")
    for l in (la, lb, lc):
        keys = list(l)
        assert keys[keys.index("client_port") + 1] == "policy"
        assert "mode" not in l
    m = metrics_text(f.mport + 1)      # the forwarder serves metrics on P+1
    assert metric(m, "gatehouse_connections_total", policy="a", verdict="allow", via="host") == 1
    assert metric(m, "gatehouse_connections_total", policy="b", verdict="deny",
                  reason="not-allowed") == 1
    assert metric(m, "gatehouse_connections_total", policy="default", verdict="allow") == 1
    assert metric(m, "gatehouse_report_would_deny_total", policy="a") == 0


def test_via_selects_by_the_address_the_client_arrived_on(env, fwds):
    """`via 127.0.0.1` (the forwarder's address): a client in no source spec gets that
    policy; a source spec still beats it."""
    p = env.p_http
    f = fwds(["policy a %s" % CLIENT_A, "allow a.test %d private" % p,
              "policy gw via %s" % GW, "allow x.test %d private" % p])
    resp, cc = http_from(CLIENT_C, p, "x.test")
    assert status(resp) == 200
    resp, ca = http_from(CLIENT_A, p, "x.test")
    assert status(resp) == 403
    assert f.wait_conn(cc)["policy"] == "gw"
    assert f.wait_conn(ca)["policy"] == "a"


def test_report_mode_per_policy_resolver(gatehouse, env):
    """Policy b in report mode: a name enforce refuses is answered with the gateway's
    address (never forwarded: dnsmasq never sees it), and the audit line says what
    enforce would have done; policy a still enforces."""
    d = resolver(gatehouse, env, rules(env, b_mode="report"))
    name = "never-forwarded-%d.test" % os.getpid()
    assert a_records(ask(d, CLIENT_B, name)) == [GW]
    assert a_records(ask(d, CLIENT_B, "a.test")) == [GW]
    assert a_records(ask(d, CLIENT_B, "b.test")) == [GW]
    assert ask(d, CLIENT_A, name).rcode() == dns.rcode.NXDOMAIN
    lines = query_lines(d, 4)
    b1, b2, b3, a1 = lines
    assert (b1["policy"], b1["verdict"], b1["mode"], b1["enforce"], b1["enforce_reason"]) == \
        ("b", "allow", "report", "deny", "not-allowed")
    assert "rule" not in b1
    assert (b2["enforce"], b2["verdict"]) == ("deny", "allow")
    assert (b3["mode"], b3["enforce"], b3["rule"]) == ("report", "allow", "b.test")
    assert "enforce_reason" not in b3
    assert (a1["policy"], a1["verdict"]) == ("a", "deny") and "mode" not in a1
    assert env.dns.queried(name) == []


def test_report_mode_per_policy_forwarder_never_opens(env, fwds):
    """Report mode for b: a name no rule allows is looked up and relayed only where
    enforce's other checks pass: its loopback address is special-purpose and the name has
    no `private` (refused), an address of the forwarder itself is refused (loop), and a
    connection with no name stays refused. Each line says what enforce would have done."""
    p = env.p_http
    # loop.test is allowed (private) for b: the loop guard refuses it, report or not
    f = fwds(rules(env, b_mode="report") + ["allow loop.test %d private" % p])
    resp, c1 = http_from(CLIENT_B, p, "x.test")          # special-purpose, no private
    assert status(resp) != 200 and env.web["x.test"].accepts == []
    resp, c2 = http_from(CLIENT_B, p, "loop.test")       # this forwarder: a loop
    assert status(resp) != 200
    resp, c3 = http_from(CLIENT_B, p, "meta.test")       # link-local metadata
    assert status(resp) != 200
    s = socket.socket()
    s.settimeout(T)
    s.bind((CLIENT_B, 0))
    s.connect((GW, p))
    c4 = s.getsockname()[1]
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")                 # no Host: no name
    s.recv(4096)
    s.close()
    resp, c5 = http_from(CLIENT_B, p, "b.test")          # allowed: relayed as in enforce
    assert status(resp) == 200
    l1, l2, l3, l4, l5 = (f.wait_conn(c) for c in (c1, c2, c3, c4, c5))
    for l in (l1, l2, l3):
        assert l["verdict"] == "deny" and l["mode"] == "report" and l["enforce"] == "deny"
        assert l["policy"] == "b"
    # enforce would have refused x.test and meta.test for their names already
    assert (l1["reason"], l1["detail"], l1["enforce_reason"]) == (
        "no-address", "127.0.0.24 is loopback; the rule lacks 'private'", "not-allowed")
    assert (l3["detail"], l3["enforce_reason"]) == (
        "169.254.169.254 is link-local; the rule lacks 'private'", "not-allowed")
    assert (l2["rule"], l2["enforce_reason"]) == ("loop.test", "no-address")
    assert l2["detail"] == "127.0.0.1 port %d is this forwarder (loop)" % p, l2
    assert (l4["verdict"], l4["reason"], l4["enforce"], l4["enforce_reason"]) == \
        ("deny", "no-name", "deny", "no-name")
    assert (l5["verdict"], l5["mode"], l5["enforce"]) == ("allow", "report", "allow")
    assert env.web["x.test"].accepts == []


def test_report_mode_global(gatehouse, env):
    """`mode report` for the whole gateway: the default policy reports; a policy with
    `mode enforce` of its own still enforces."""
    lines = rules(env) + ["mode enforce"]               # policy b: enforce
    d = resolver(gatehouse, env, lines, "mode report\n")
    name = "global-report-%d.test" % os.getpid()
    assert a_records(ask(d, CLIENT_C, name)) == [GW]
    assert a_records(ask(d, CLIENT_A, name)) == [GW]
    assert ask(d, CLIENT_B, name).rcode() == dns.rcode.NXDOMAIN
    got = query_lines(d, 3)
    assert [(l["policy"], l.get("mode"), l["verdict"]) for l in got] == [
        ("default", "report", "allow"), ("a", "report", "allow"), ("b", None, "deny")]
    assert env.dns.queried(name) == []


def test_reload_applies_to_new_connections_open_relays_keep_theirs(env, fwds):
    """A reload that takes a.test away from policy a: a relay already open keeps working
    (it holds its configuration), a new connection is denied."""
    p = env.p_http
    f = fwds(rules(env))
    s = socket.socket()
    s.settimeout(T)
    s.bind((CLIENT_A, 0))
    s.connect((GW, p))
    cport = s.getsockname()[1]
    try:
        assert peers.keepalive_get(s, "a.test")
        new = [l for l in rules(env) if not l.startswith("allow a.test")]
        f.reload(new[:1] + ["forward-listen " + GW, "upstream %s:%d" % (DNS_ADDR, env.p_dns),
                            "peek-timeout 1", "audit " + f.audit_path] + new[1:])
        assert peers.keepalive_get(s, "a.test")         # the open relay: still allowed
        resp, c2 = http_from(CLIENT_A, p, "a.test")
        assert status(resp) == 403
        assert f.wait_conn(c2)["reason"] == "not-allowed"
    finally:
        s.close()
    line = f.wait_conn(cport)
    assert (line["verdict"], line["policy"]) == ("allow", "a")


def test_check_by_environment_alone(gatehouse):
    """--check with policies from the environment only: the policies and the order specs
    are tried in, the rules of every policy counted, no "empty allowlist" warning."""
    env = {"GATEHOUSE_POLICY_GRAFANA": "172.29.0.200",
           "GATEHOUSE_POLICY_GRAFANA_ALLOW": "smtp.gmail.com:465",
           "GATEHOUSE_POLICY_WORKER": "172.29.0.201",
           "GATEHOUSE_POLICY_WORKER_ALLOW": "pypi.org:443 files.pythonhosted.org:443",
           "GATEHOUSE_POLICY_WORKER_MODE": "report", "GATEHOUSE_USER": gatehouse.user()}
    r = gatehouse.run(RESOLVER, ["--check"], env=env)
    assert r.returncode == 0, r.stderr
    assert "allowlist is empty" not in r.stderr
    assert "3 rules" in r.stderr, r.stderr
    out = r.stdout
    assert "policy grafana 172.29.0.200\nallow smtp.gmail.com 465\t# " \
        "GATEHOUSE_POLICY_GRAFANA_ALLOW\n" in out, out
    assert "policy worker 172.29.0.201\n" in out and "\nmode report\n" in out, out
    assert "#   172.29.0.200 -> grafana\t(GATEHOUSE_POLICY_GRAFANA)\n" in out, out
    bad = gatehouse.run(RESOLVER, ["--check"], env=dict(env, GATEHOUSE_POLICY_GRAFANA_MODE="x"))
    assert bad.returncode == 2
    assert "GATEHOUSE_POLICY_GRAFANA_MODE: 'mode x': expected enforce or report" in bad.stderr


def deny_layout(env, a_mode=None):
    """g.test for everyone but policy a, which denies it (port and name); x.test denied
    for everyone, though policy b allows it."""
    p = env.p_http
    out = ["allow g.test %d private" % p, "deny x.test",
           "policy a %s" % CLIENT_A, "deny g.test %d" % p, "deny g.test"]
    if a_mode:
        out.append("mode " + a_mode)
    return out + ["policy b %s/32" % CLIENT_B, "allow x.test %d private" % p]


def test_deny_rules_across_policies(gatehouse, env, fwds):
    """A deny wins whichever side it is on: policy a's deny over the global allow of
    g.test, the global deny of x.test over policy b's own allow. The resolver answers
    NXDOMAIN with reason denied, the forwarder 403 with reason denied; both name the
    deny rule."""
    p = env.p_http
    d = resolver(gatehouse, env, deny_layout(env))
    assert ask(d, CLIENT_A, "g.test").rcode() == dns.rcode.NXDOMAIN
    assert ask(d, CLIENT_B, "x.test").rcode() == dns.rcode.NXDOMAIN
    assert a_records(ask(d, CLIENT_B, "g.test")) == [GW]
    qa, qb, qb2 = query_lines(d, 3)
    assert (qa["policy"], qa["verdict"], qa["reason"], qa["rule"]) == \
        ("a", "deny", "denied", "g.test")
    assert (qb["policy"], qb["verdict"], qb["reason"], qb["rule"]) == \
        ("b", "deny", "denied", "x.test")
    assert (qb2["policy"], qb2["verdict"], qb2["rule"]) == ("b", "allow", "g.test")
    f = fwds(deny_layout(env))
    resp, ca = http_from(CLIENT_A, p, "g.test")
    assert status(resp) == 403
    resp, cb = http_from(CLIENT_B, p, "x.test")
    assert status(resp) == 403
    assert env.web["g.test"].accepts == [] and env.web["x.test"].accepts == []
    la, lb = f.wait_conn(ca), f.wait_conn(cb)
    assert (la["policy"], la["verdict"], la["reason"], la["rule"]) == \
        ("a", "deny", "denied", "g.test")
    assert (lb["policy"], lb["verdict"], lb["reason"], lb["rule"]) == \
        ("b", "deny", "denied", "x.test")


def test_deny_rule_under_report_mode(gatehouse, env, fwds):
    """Policy a in report mode: the name its deny rule refuses is answered, and the line
    says enforce would have refused it as denied, by that rule. The forwarder lets it
    past the check, but a deny rule carries no 'private', so the loopback server is still
    refused (no-address), and that line says the same of enforce."""
    p = env.p_http
    d = resolver(gatehouse, env, deny_layout(env, "report"))
    assert a_records(ask(d, CLIENT_A, "g.test")) == [GW]
    (q,) = query_lines(d, 1)
    assert (q["verdict"], q["mode"], q["enforce"], q["enforce_reason"], q["rule"]) == \
        ("allow", "report", "deny", "denied", "g.test")
    f = fwds(deny_layout(env, "report"))
    resp, ca = http_from(CLIENT_A, p, "g.test")
    assert status(resp) == 403 and b"no address it may connect to" in resp
    assert env.web["g.test"].accepts == []
    l = f.wait_conn(ca)
    assert (l["verdict"], l["reason"], l["mode"], l["enforce"], l["enforce_reason"],
            l["rule"]) == ("deny", "no-address", "report", "deny", "denied", "g.test")
