"""Policies per client with real clients in two network namespaces: the usual client
(10.77.0.2) in policy `one`, a second namespace (10.79.0.2, on a link of its own to the
gateway, reaching the gateway's usual address through it) in policy `two`. Both daemons
apply the same policy to the same client: a name allowed for one client is NXDOMAIN for
the other, and naming it in the Host header is refused by the forwarder. Then policy two
switches to report mode (a reload): the other client's name is answered and relayed, and
the audit line says what enforce would have done. The configuration is restored after.
"""

import os
import shutil
import signal
import socket

import dns.exception
import dns.message
import dns.query
import dns.rcode
import pytest

from gh_testlib import scaled, scaled_arg, wait_for
import topology as T

POLICIES = ("policy one %s\nallow one.example.test 80\n"
            "policy two %s\nallow two.example.test 80\n" % (T.CLIENT4, T.CLIENT2_4))


@pytest.fixture
def client2(topo):
    """The second client namespace: a veth to the gateway, a route to the gateway's usual
    address through it, and its resolv.conf naming that address."""
    ns = topo.prefix + "-client2"
    if_c, if_g = topo.prefix + "-c2", topo.prefix + "-gc2"
    os.makedirs("/etc/netns/" + ns, exist_ok=True)
    with open("/etc/netns/%s/resolv.conf" % ns, "w") as f:
        f.write("nameserver %s\n" % T.GW_IN4)
    topo.namespaces.append(ns)          # deleted by topo.down() too, whatever happens
    topo.sh("ip", "netns", "add", ns)
    try:
        topo.sh("ip", "-n", ns, "link", "set", "lo", "up")
        topo.sh("ip", "link", "add", if_c, "netns", ns, "type", "veth", "peer", "name", if_g,
                "netns", topo.gw_ns)
        topo.sh("ip", "-n", ns, "addr", "add", T.CLIENT2_4 + "/24", "dev", if_c)
        topo.sh("ip", "-n", topo.gw_ns, "addr", "add", T.GW_IN2_4 + "/24", "dev", if_g)
        topo.sh("ip", "-n", ns, "link", "set", if_c, "up")
        topo.sh("ip", "-n", topo.gw_ns, "link", "set", if_g, "up")
        topo.sh("ip", "-n", ns, "route", "add", T.GW_IN4 + "/32", "via", T.GW_IN2_4)
        wait_for(lambda: reaches(topo, ns), what="the second client namespace to reach the "
                 "gateway's resolver")
        yield ns
    finally:
        topo.sh("ip", "netns", "del", ns, check=False)
        topo.namespaces.remove(ns)
        shutil.rmtree("/etc/netns/" + ns, ignore_errors=True)


def reaches(topo, ns):
    """1 when the gateway's resolver answers from ns (a global name)."""
    try:
        return ask(topo, ns, T.CLIENT2_4, "api.example.test").rcode() == dns.rcode.NOERROR
    except (OSError, dns.exception.Timeout):
        return 0


def reload_with(topo, text):
    """Write the configuration text, SIGHUP both daemons, wait until both reloaded."""
    before = {d: topo.daemon(d).stderr().count("configuration reloaded") for d in T.DAEMONS}
    with open(topo.config_path, "w") as f:
        f.write(text)
    for d in T.DAEMONS:
        topo.daemon(d).popen.send_signal(signal.SIGHUP)
    for d in T.DAEMONS:
        wait_for(lambda d=d: topo.daemon(d).stderr().count("configuration reloaded") > before[d],
                 what="%s to reload" % d)


def ask(topo, ns, src, qname):
    s = topo.socket(ns, socket.AF_INET, socket.SOCK_DGRAM, bind=src)
    try:
        s.setblocking(False)
        return dns.query.udp(dns.message.make_query(qname, "A"), T.GW_IN4,
                             timeout=scaled(3), sock=s)
    finally:
        s.close()


def curl(topo, ns, url, host=None):
    argv = ["curl", "-sS", "-4", "--max-time", scaled_arg(10), "-o", "-", "-w",
            "\\n%{http_code}", url]
    if host:
        argv += ["-H", "Host: " + host]
    r = topo.run(ns, argv)
    body, _, code = r.stdout.rpartition("\n")
    return code, body.strip()


def conn_line(topo, client, name, since):
    return topo.wait_audit("gatehouse-forwarder", lambda e: e.get("event") == "conn" and
                           e.get("client") == client and e.get("name") == name, since=since,
                           what="the conn line of %s for %s" % (client, name))[0]


def test_two_namespaces_two_policies_and_report_mode(topo, client2):
    orig = open(topo.config_path).read()
    topo.allow += POLICIES      # the names the run may look up upstream (test_whole_run)
    reload_with(topo, orig + POLICIES)
    try:
        one, two = topo.client_ns, client2
        # the resolver: each client its own policy's name, NXDOMAIN for the other's
        assert [r.to_text() for a in ask(topo, one, T.CLIENT4, "one.example.test").answer
                for r in a] == [T.GW_IN4]
        assert ask(topo, two, T.CLIENT2_4, "one.example.test").rcode() == dns.rcode.NXDOMAIN
        assert [r.to_text() for a in ask(topo, two, T.CLIENT2_4, "two.example.test").answer
                for r in a] == [T.GW_IN4]
        assert ask(topo, one, T.CLIENT4, "two.example.test").rcode() == dns.rcode.NXDOMAIN
        topo.expect_query("one.example.test", "allow", (T.CLIENT4,))
        topo.expect_query("one.example.test", "deny", (T.CLIENT2_4,))
        topo.expect_query("two.example.test", "allow", (T.CLIENT2_4,))
        topo.expect_query("two.example.test", "deny", (T.CLIENT4,))
        res = topo.audit("gatehouse-resolver")
        got = {(e["client"], e["qname"]): (e["policy"], e["verdict"]) for e in res
               if e.get("event") == "query" and e.get("qname", "").endswith("example.test")
               and e["qname"].split(".")[0] in ("one", "two")}
        assert got[(T.CLIENT4, "one.example.test")] == ("one", "allow")
        assert got[(T.CLIENT2_4, "one.example.test")] == ("two", "deny")
        # the forwarder: real curl in each namespace
        mark = topo.mark()
        code, body = curl(topo, one, "http://one.example.test/p1")
        assert (code, body) == ("200", "hello from one.example.test over http")
        code, body = curl(topo, two, "http://two.example.test/p2")
        assert (code, body) == ("200", "hello from two.example.test over http")
        code, _ = curl(topo, two, "http://%s/p3" % T.GW_IN4, host="one.example.test")
        assert code == "403"
        topo.expect_conn(80, "allow", "one.example.test", (T.CLIENT4,))
        topo.expect_conn(80, "allow", "two.example.test", (T.CLIENT2_4,))
        topo.expect_conn(80, "deny", "one.example.test", (T.CLIENT2_4,), reason="not-allowed")
        l1 = conn_line(topo, T.CLIENT4, "one.example.test", mark)
        l3 = conn_line(topo, T.CLIENT2_4, "one.example.test", mark)
        assert (l1["policy"], l1["verdict"]) == ("one", "allow")
        assert (l3["policy"], l3["verdict"], l3["reason"]) == ("two", "deny", "not-allowed")
        assert not [w for w in topo.web_requests() if w.get("path") == "/p3"]
        # report mode for policy two: one's name is answered and relayed, and said so
        reload_with(topo, orig + POLICIES + "mode report\n")
        mark = topo.mark()
        assert [r.to_text() for a in ask(topo, two, T.CLIENT2_4, "one.example.test").answer
                for r in a] == [T.GW_IN4]
        code, body = curl(topo, two, "http://one.example.test/p4")
        assert (code, body) == ("200", "hello from one.example.test over http")
        topo.expect_query("one.example.test", "allow", (T.CLIENT2_4,))
        topo.expect_conn(80, "allow", "one.example.test", (T.CLIENT2_4,))
        l4 = conn_line(topo, T.CLIENT2_4, "one.example.test", mark)
        assert (l4["policy"], l4["verdict"], l4["mode"], l4["enforce"], l4["enforce_reason"]) \
            == ("two", "allow", "report", "deny", "not-allowed")
        q = topo.wait_audit("gatehouse-resolver", lambda e: e.get("event") == "query" and
                            e.get("client") == T.CLIENT2_4 and e.get("mode") == "report",
                            since=mark, what="the resolver's report line")[0]
        assert (q["verdict"], q["enforce"], q["enforce_reason"]) == \
            ("allow", "deny", "not-allowed")
        # still enforce for policy one
        assert ask(topo, one, T.CLIENT4, "two.example.test").rcode() == dns.rcode.NXDOMAIN
    finally:
        reload_with(topo, orig)
