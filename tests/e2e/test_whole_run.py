"""Checks over the whole run, after every other e2e test (marked end_of_run, in order):

1. no DNS leak: the internet's DNS server (which logs every query it gets) saw only allowed
   names, asked only by the gateway; no blocked or exfiltration-style name ever left, and no
   blocked host was ever contacted;
2. no way around: the client namespace cannot reach any internet address directly, not
   even after adding a route through the gateway as a root user in a container could;
3. the audit log accounts for the run: every line is valid JSON with the expected fields and
   a client address of the client namespace, and every lookup and connection the tests made
   (topo.ledger) appears with the right verdict (and bytes and duration for connections);
4. both daemons exit cleanly on SIGTERM with no sanitizer report (LeakSanitizer runs at
   exit in the sanitizer build).
"""

import errno
import re
import socket
import time

import dns.exception
import pytest

from gh_testlib import scaled, wait_for
import helpers
import topology as T

OUR_CLIENTS = {T.CLIENT4, T.CLIENT6, T.ATTACKER4, T.CLIENT2_4}    # CLIENT2_4: test_policies
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def _report_deny(e):
    """An allow line written under report mode for what enforce denies (no rule allowed
    it, so it names none: test_policies)."""
    return e.get("mode") == "report" and e.get("enforce") == "deny" and \
        e.get("enforce_reason") == "not-allowed"


def _addr_of(client):
    """The client field: an address, with the port in client_port (both daemons)."""
    return client


@pytest.mark.end_of_run(order=1)
def test_no_dns_leak_and_no_blocked_host_contacted(topo):
    upstream = topo.upstream_queries()
    queries = [e for e in topo.ledger if e["kind"] == "query"]
    # names that were only ever denied (test_reload allows one name half way)
    denied = ({e["qname"] for e in queries if e["verdict"] == "deny"} -
              {e["qname"] for e in queries if e["verdict"] == "allow"})
    assert not [n for n in denied if topo.allows(n)]
    leaked = sorted({n for _, n, _ in upstream if n in denied or not topo.allows(n)})
    assert not leaked, f"names that reached the internet's DNS: {leaked}"
    assert {src for _, _, src in upstream} <= {T.GW_OUT4}, upstream
    assert not [n for _, n, _ in upstream if n.endswith("evil.test")]
    for w in topo.web_requests():
        assert topo.allows(w["host"].split(":")[0]), w
        assert w["sni"] is None or topo.allows(w["sni"]), w
        assert not w["local"].startswith(T.EVIL_ADDR + ":"), w
        assert w["peer"].startswith(T.GW_OUT4 + ":"), w
    for m in topo.mails():
        assert m["peer"].startswith(T.GW_OUT4 + ":"), m


def _tcp_attempt(topo, addr, port, timeout):
    s = topo.socket(topo.client_ns, socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((addr, port))
        return "connected"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()


def _dns_attempt(topo, timeout):
    try:
        helpers.ask(topo, "api.example.test", "A", server=T.UPSTREAM_DNS, timeout=timeout)
        return "answered"
    except dns.exception.Timeout:
        return "timeout"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


@pytest.mark.end_of_run(order=2)
def test_client_cannot_reach_the_internet_directly(topo):
    targets = [(a, p) for a in T.INET_ADDRS for p in (53, 80, 443, 465, 587)]
    # The servers are up: the gateway reaches them.
    s = topo.socket(topo.gw_ns, socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(scaled(3))
    s.connect((T.WEB_ADDR, 443))
    s.close()
    # No route: every attempt fails at once.
    t0 = time.monotonic()
    results = {t: _tcp_attempt(topo, *t, timeout=scaled(2)) for t in targets}
    assert set(results.values()) == {"ENETUNREACH"}, results
    assert _dns_attempt(topo, 2) == "ENETUNREACH"
    assert time.monotonic() - t0 < scaled(2)
    # A root user in the client adds a route through the gateway: still nothing passes,
    # because the gateway does not route between its sides.
    topo.sh("ip", "route", "add", "default", "via", T.GW_IN4, ns=topo.client_ns)
    try:
        sample = [(T.WEB_ADDR, 443), (T.SMTP_ADDR, 465), (T.EVIL_ADDR, 443),
                  (T.METADATA_ADDR, 80), (T.UPSTREAM_DNS, 53)]
        results = {t: _tcp_attempt(topo, *t, timeout=1) for t in sample}
        assert not [r for r in results.values() if r == "connected"], results
        assert _dns_attempt(topo, 1) != "answered"
    finally:
        topo.sh("ip", "route", "del", "default", ns=topo.client_ns, check=False)
    assert not [q for q in topo.upstream_queries() if q[2] != T.GW_OUT4]


def _query_seen(x, res):
    return any(e.get("event") == "query" and e.get("qname", "").lower() == x["qname"] and
               e["verdict"] == x["verdict"] and
               (x["client"] is None or e["client"] in x["client"]) for e in res)


def _conn_seen(x, fwd):
    return any(e.get("event") == "conn" and e.get("port") == x["port"] and
               e["verdict"] == x["verdict"] and
               (x["name"] is None or e.get("name") == x["name"]) and
               (x["reason"] is None or e.get("reason") == x["reason"]) and
               (x["client"] is None or _addr_of(e["client"]) in x["client"]) for e in fwd)


@pytest.mark.end_of_run(order=3)
def test_audit_accounts_for_every_lookup_and_connection(topo):
    def missing():
        res = topo.audit("gatehouse-resolver")      # raises on a line that is not JSON
        fwd = topo.audit("gatehouse-forwarder")
        return [x for x in topo.ledger if not (_query_seen(x, res) if x["kind"] == "query"
                                               else _conn_seen(x, fwd))]
    # a test's last connection may still be closing (its line is written as it ends)
    try:
        wait_for(lambda: not missing(), what="every ledger entry in the audit")
    except AssertionError:
        pass                                    # the assertion below names what is missing
    left = missing()
    assert not left, f"{len(left)} of {len(topo.ledger)} not in the audit: {left[:20]}"
    res = topo.audit("gatehouse-resolver")
    fwd = topo.audit("gatehouse-forwarder")
    assert res and fwd
    problems = []
    for daemon, lines in (("resolver", res), ("forwarder", fwd)):
        for e in lines:
            if not TS_RE.match(e.get("ts", "")) or e.get("daemon") != daemon:
                problems.append(f"bad ts/daemon: {e}")
            if _addr_of(e.get("client", "")) not in OUR_CLIENTS:
                problems.append(f"client not from the client namespace: {e}")
            ev = e.get("event")
            if ev == "suppressed":
                if not (isinstance(e.get("count"), int) and e["count"] > 0):
                    problems.append(f"bad suppressed line: {e}")
            elif daemon == "resolver" and ev == "query":
                if e.get("verdict") not in ("allow", "deny", "invalid", "drop"):
                    problems.append(f"bad verdict: {e}")
                if e["verdict"] == "allow" and (e.get("rcode") != "NOERROR" or
                                                ("rule" not in e) != _report_deny(e)):
                    problems.append(f"allow without NOERROR/rule: {e}")
                if e["verdict"] == "deny" and e.get("rcode") != "NXDOMAIN":
                    problems.append(f"deny without NXDOMAIN: {e}")
                if e["verdict"] in ("allow", "deny") and e.get("proto") not in ("udp", "tcp"):
                    problems.append(f"no proto: {e}")
            elif daemon == "forwarder" and ev == "conn":
                if e.get("verdict") == "allow":
                    for k in ("bytes_up", "bytes_down", "ms"):
                        if not (isinstance(e.get(k), int) and e[k] >= 0):
                            problems.append(f"allow without {k}: {e}")
                    if not e.get("upstream") or not e.get("end") or \
                            (not e.get("rule")) != _report_deny(e):
                        problems.append(f"allow without upstream/end/rule: {e}")
                elif e.get("verdict") == "deny":
                    if not e.get("reason") or not isinstance(e.get("ms"), int):
                        problems.append(f"deny without reason/ms: {e}")
                else:
                    problems.append(f"unexpected conn verdict: {e}")
            else:
                problems.append(f"unexpected event: {e}")
    assert not problems, "\n".join(problems[:30])


@pytest.mark.end_of_run(order=4)
def test_daemons_exit_cleanly(topo):
    for d in T.DAEMONS:
        p = topo.daemon(d)
        assert p.running(), f"{d} is not running:\n{p.stderr()}"
        status = p.stop(timeout=10)
        assert status == 0, f"{d} exited with {status}:\n{p.stderr()[-4000:]}"
        assert p.sanitizer_report() is None, p.stderr()[-6000:]
        with open(topo.audit_path(d), "rb") as f:
            data = f.read()
        assert data.endswith(b"\n"), f"{d} audit ends in a partial line"
