"""deploy/kubernetes simulated in network namespaces (k8s_topology.py: a node with
kube-proxy's iptables rules, two gatehouse replicas behind the Service address 10.96.0.53,
two constrained pods in two policies, a cluster DNS, an internet):

    pod-a 10.244.1.10 --+
    pod-b 10.244.2.10 --+         nat 10.96.0.53 -> 10.244.3.10 | .11 (random, no SNAT)
    gw1   10.244.3.10 --+-- node  nat 10.96.0.10 -> 10.244.0.10
    gw2   10.244.3.11 --+         NetworkPolicy: pods -> gw pods on 53, 443 only
    cdns  10.244.0.10 --+         masquerade pod CIDR -> internet 11.0.0.1 (dnsmasq, web)

With real clients (dig, getent, curl) in the pods and the real daemons in the replicas:
lookups and HTTPS relays through the Service address from both policies, each refused
the other's name; the audit lines of both replicas name the pod's address and its policy;
connections spread over both replicas; the NetworkPolicy leaves the pods only the Service;
a replica that fails readiness (its forwarder stopped, its resolver killed) leaves the DNAT
set and every new lookup and connection goes to the other, until it is ready again;
`stub-zone cluster.local 10.96.0.10` resolves cluster names through the cluster DNS while
blocked names reach no upstream; the daemons exit cleanly at the end.

The test plays kubelet, endpoints controller and kube-proxy with KubeTopology.sync():
probe both /healthz of each replica, rewrite the node's rules for the ready ones.
"""

import os
import signal

import pytest

from gh_testlib import BUILD, read_audit, scaled_arg, wait_for, wait_until
import helpers
import k8s_topology as K
import topology as T

RES, FWD = T.DAEMONS
SPREAD = 40         # connections: all on one replica with probability 2 * 2^-40


@pytest.fixture(scope="module")
def k8s():
    reason = K.unavailable_reason()
    if reason:
        pytest.skip(f"e2e kubernetes: {reason}")
    yield from T.serve(K.KubeTopology(BUILD, keep=bool(os.environ.get("GATEHOUSE_E2E_KEEP"))),
                       "the Service address to answer pod-a",
                       lambda t: helpers.dig(t, K.NAME_A, ns=t.pod_a_ns).status == "NOERROR")


def curl(k8s, pod, name, path, via_service=False, timeout=10):
    """curl https://name/path in pod's namespace with the test CA; via_service: connect to
    the Service address without a lookup (--resolve). Returns (exit, HTTP code, body)."""
    argv = ["curl", "-sS", "-4", "--cacert", k8s.ca_path, "--max-time", scaled_arg(timeout),
            "-o", "-", "-w", "\\n%{http_code}", f"https://{name}/{path}"]
    if via_service:
        argv[1:1] = ["--resolve", f"{name}:443:{K.SERVICE_IP}"]
    r = k8s.run(k8s.pod_ns[pod], argv, timeout=timeout + 10)
    body, _, code = r.stdout.rpartition("\n")
    return r.returncode, code, body.strip()


def fetch_ok(k8s, pod, tag):
    """One allowed HTTPS request from pod (its policy's name): a lookup and a connection."""
    name = K.NAME_A if pod == K.POD_A else K.NAME_B
    rc, code, body = curl(k8s, pod, name, tag)
    assert (rc, code, body) == (0, "200", f"hello from {name} over https"), pod


def new_lines(k8s, since, daemon, pred=lambda e: True):
    """{replica name: its audit lines of daemon after since matching pred}."""
    return {r.name: [e for e in k8s.lines(r, daemon, since) if pred(e)] for r in k8s.replicas}


def wait_lines(k8s, since, daemon, pred, count, what):
    """new_lines once both replicas together have at least count matching lines."""
    got = wait_until(lambda: new_lines(k8s, since, daemon, pred),
                     lambda g: sum(map(len, g.values())) >= count, timeout=10, interval=0.05)
    assert sum(map(len, got.values())) >= count, f"{what}: {got}"
    return got


def is_conn(e):
    return e.get("event") == "conn"


def is_query(e):
    return e.get("event") == "query"


def web_paths(k8s, tag):
    return [w for w in k8s.web_requests() if tag in w.get("path", "")]


# ---- the tests ----------------------------------------------------------------------------

def test_lookups_and_relays_through_the_service_in_two_policies(k8s):
    tag = helpers.tag()
    for pod, mine, other in ((K.POD_A, K.NAME_A, K.NAME_B), (K.POD_B, K.NAME_B, K.NAME_A)):
        ns = k8s.pod_ns[pod]
        look = helpers.lookup(k8s, "getent", mine, family=4, ns=ns)
        assert look.ok and look.addrs == [K.SERVICE_IP], look
        look = helpers.lookup(k8s, "getent", other, family=4, ns=ns)
        assert not look.ok and look.notfound, look
        for tcp in (False, True):
            d = helpers.dig(k8s, mine, tcp=tcp, ns=ns)
            assert d.status == "NOERROR" and d.addrs("A") == [K.SERVICE_IP], d.raw
            d = helpers.dig(k8s, other, tcp=tcp, ns=ns)
            assert d.status == "NXDOMAIN" and not d.answers, d.raw
        rc, code, body = curl(k8s, pod, mine, f"ok-{tag}")
        assert (rc, code, body) == (0, "200", f"hello from {mine} over https")
        rc, _, _ = curl(k8s, pod, other, f"lookup-{tag}")
        assert rc == 6, rc                      # curl: could not resolve host
        rc, _, _ = curl(k8s, pod, other, f"refused-{tag}", via_service=True)
        assert rc != 0, rc                      # the forwarder refuses the other's name
    reqs = web_paths(k8s, tag)
    assert sorted((w["sni"], w["path"]) for w in reqs) == sorted(
        [(K.NAME_A, f"/ok-{tag}"), (K.NAME_B, f"/ok-{tag}")]), reqs
    # the internet sees the node's address (masquerade of the replicas' connections)
    assert all(w["peer"].startswith(T.GW_OUT4 + ":") for w in reqs), reqs


def test_audit_names_the_pod_address_and_its_policy(k8s):
    tag = helpers.tag()
    mark = k8s.mark()
    for pod, mine, other in ((K.POD_A, K.NAME_A, K.NAME_B), (K.POD_B, K.NAME_B, K.NAME_A)):
        assert helpers.dig(k8s, other, ns=k8s.pod_ns[pod]).status == "NXDOMAIN"
        assert curl(k8s, pod, mine, f"a-{tag}")[1] == "200"
        assert curl(k8s, pod, other, f"d-{tag}", via_service=True)[0] != 0
    # resolver: 4 queries (the curl's for its own name and dig's for the other), forwarder:
    # 4 connections; on whichever replica each went
    queries = [e for v in wait_lines(k8s, mark, RES, is_query, 4,
                                     "the resolvers' query lines").values() for e in v]
    conns = [e for v in wait_lines(k8s, mark, FWD, is_conn, 4,
                                   "the forwarders' conn lines").values() for e in v]
    got_q = sorted((e["client"], e["policy"], e["qname"], e["verdict"]) for e in queries)
    assert got_q == sorted([
        (K.POD_A, K.POLICY_A, K.NAME_A, "allow"), (K.POD_A, K.POLICY_A, K.NAME_B, "deny"),
        (K.POD_B, K.POLICY_B, K.NAME_B, "allow"), (K.POD_B, K.POLICY_B, K.NAME_A, "deny")]), \
        queries
    assert all(e["answer"] == K.SERVICE_IP for e in queries if e["verdict"] == "allow")
    got_c = sorted((e["client"], e["policy"], e["name"], e["verdict"], e.get("reason"))
                   for e in conns)
    assert got_c == sorted([
        (K.POD_A, K.POLICY_A, K.NAME_A, "allow", None),
        (K.POD_A, K.POLICY_A, K.NAME_B, "deny", "not-allowed"),
        (K.POD_B, K.POLICY_B, K.NAME_B, "allow", None),
        (K.POD_B, K.POLICY_B, K.NAME_A, "deny", "not-allowed")]), conns
    assert all(e["upstream"] == f"{T.WWW_ADDR}:443" for e in conns if e["verdict"] == "allow")
    # and over the whole run so far, no line names anything but a pod (no SNAT anywhere)
    for d in T.DAEMONS:
        clients = {e.get("client") for e in k8s.audit(d) if e.get("event") in ("query", "conn")}
        assert clients <= {K.POD_A, K.POD_B}, (d, clients)
    assert not web_paths(k8s, f"d-{tag}")


def test_networkpolicy_leaves_the_pods_only_the_service(k8s):
    tag = helpers.tag()
    drops = k8s.netpol_drops()
    quick = ("+time=2", "+tries=1")
    ns = k8s.pod_a_ns
    # the web server directly, the internet's DNS, the cluster DNS (Service and pod)
    r = k8s.run(ns, ["curl", "-sS", "-k", "--max-time", "3", f"https://{T.WWW_ADDR}/{tag}"])
    assert r.returncode in (7, 28), r
    for server in (T.UPSTREAM_DNS, K.DNS_SERVICE_IP, K.CDNS_POD):
        d = helpers.dig(k8s, f"{tag}.evil.test", server=server, extra=quick, ns=ns)
        assert d.status is None, (server, d.raw)
    assert k8s.netpol_drops() >= drops + 4
    assert not web_paths(k8s, tag)
    assert not [q for q in k8s.upstream_queries() + k8s.cluster_queries() if tag in q[1]]
    # the control: from a namespace the policy does not constrain (a gateway pod), the
    # same cluster DNS answers and forwards
    d = helpers.dig(k8s, "web.default.svc.cluster.local", server=K.DNS_SERVICE_IP,
                    extra=quick, ns=k8s.replicas[0].ns)
    assert d.status == "NOERROR" and d.addrs("A") == [
        K.CLUSTER_RECORDS["web.default.svc.cluster.local"]], d.raw


def test_connections_spread_over_both_replicas(k8s):
    k8s.wait_ready()
    assert all(v == list(K.REPLICA_ADDRS) for v in k8s.dnat_targets().values())
    tag = helpers.tag()
    mark = k8s.mark()
    pods = (K.POD_A, K.POD_B)
    for i in range(SPREAD):
        fetch_ok(k8s, pods[i % 2], f"{tag}-{i}")
    conns = wait_lines(k8s, mark, FWD, is_conn, SPREAD, "the forwarders' conn lines")
    queries = wait_lines(k8s, mark, RES, is_query, SPREAD, "the resolvers' query lines")
    assert sum(map(len, conns.values())) == SPREAD, conns
    assert sum(map(len, queries.values())) == SPREAD, queries
    assert all(conns.values()), {k: len(v) for k, v in conns.items()}
    assert all(queries.values()), {k: len(v) for k, v in queries.items()}
    assert len(web_paths(k8s, tag)) == SPREAD


def test_replica_failing_readiness_leaves_the_dnat_set(k8s):
    gw1, gw2 = k8s.replicas
    k8s.wait_ready()
    stopped = gw2.procs[FWD]
    os.kill(stopped.pid, signal.SIGSTOP)
    try:
        # the forwarder's /healthz times out: gw2 is not ready, out of every Service port
        wait_for(lambda: k8s.sync() == ["gw1"], timeout=30, what="gw2 to leave the set")
        assert all(v == [gw1.addr] for v in k8s.dnat_targets().values()), k8s.dnat_targets()
        tag = helpers.tag()
        mark = k8s.mark()
        n = 20
        for i in range(n):
            fetch_ok(k8s, (K.POD_A, K.POD_B)[i % 2], f"{tag}-{i}")
        conns = wait_lines(k8s, mark, FWD, is_conn, n, "the forwarders' conn lines")
        queries = wait_lines(k8s, mark, RES, is_query, n, "the resolvers' query lines")
        # all on gw1; gw2's resolver runs and would have logged any query sent to it
        assert (len(conns["gw1"]), len(queries["gw1"])) == (n, n), (conns, queries)
        assert not conns["gw2"] and not queries["gw2"], (conns, queries)
    finally:
        os.kill(stopped.pid, signal.SIGCONT)
    # ready again: back in the set, and new connections reach it again
    k8s.wait_ready()
    assert all(v == list(K.REPLICA_ADDRS) for v in k8s.dnat_targets().values())
    mark = k8s.mark()
    tag = helpers.tag()
    for i in range(SPREAD):
        fetch_ok(k8s, K.POD_A, f"{tag}-{i}")
        if k8s.lines(gw2, FWD, mark, "conn"):
            break
    assert wait_for(lambda: k8s.lines(gw2, FWD, mark, "conn"),
                    what=f"a connection on gw2 within {SPREAD} tries")


def test_killed_resolver_leaves_the_dnat_set_until_restarted(k8s):
    gw1, gw2 = k8s.replicas
    k8s.wait_ready()
    status = gw1.procs[RES].stop(timeout=10)
    try:
        assert status == 0, gw1.procs[RES].stderr()[-3000:]
        wait_for(lambda: k8s.sync() == ["gw2"], timeout=30, what="gw1 to leave the set")
        assert all(v == [gw2.addr] for v in k8s.dnat_targets().values()), k8s.dnat_targets()
        tag = helpers.tag()
        mark = k8s.mark()
        n = 20
        names = [f"{tag}-{i}.evil.test" for i in range(n)]
        for i, name in enumerate(names):     # NXDOMAIN, each from gw2 (gw1 answers nothing)
            d = helpers.dig(k8s, name, ns=k8s.pod_ns[(K.POD_A, K.POD_B)[i % 2]])
            assert d.status == "NXDOMAIN", d.raw
        got = wait_lines(k8s, mark, RES, is_query, n, "gw2's query lines")
        assert sorted(e["qname"] for e in got["gw2"]) == sorted(names), got
        assert not got["gw1"]
    finally:    # the rest of the module runs with both replicas, whatever failed here
        if not gw1.procs[RES].running():
            gw1.start(RES)
    k8s.wait_ready()
    mark = k8s.mark()
    for i in range(SPREAD):
        assert helpers.dig(k8s, K.NAME_A, ns=k8s.pod_a_ns).status == "NOERROR"
        if k8s.lines(gw1, RES, mark, "query"):
            break
    assert wait_for(lambda: k8s.lines(gw1, RES, mark, "query"),
                    what=f"a query on gw1 within {SPREAD} tries")


def test_cluster_names_resolve_and_blocked_names_reach_no_upstream(k8s):
    """`stub-zone cluster.local 10.96.0.10` (as the ConfigMap): the resolver passes
    cluster.local, and only that, to the cluster DNS through its Service address. A blocked
    name, also one that looks like the cluster domain, reaches neither the cluster DNS
    (which would forward it to the internet) nor the internet's DNS; the pods' search
    domains make the cluster DNS see it only under cluster.local, where it stops."""
    tag = helpers.tag()
    mark = k8s.mark()
    for pod in (K.POD_A, K.POD_B):
        ns = k8s.pod_ns[pod]
        for name, addr in K.CLUSTER_RECORDS.items():
            look = helpers.lookup(k8s, "getent", name, family=4, ns=ns)
            assert look.ok and look.addrs == [addr], look
            d = helpers.dig(k8s, name, ns=ns)
            assert d.status == "NOERROR" and d.addrs("A") == [addr], d.raw
        d = helpers.dig(k8s, f"nosuch-{tag}.default.svc.{K.CLUSTER_ZONE}", ns=ns)
        assert d.status == "NXDOMAIN", d.raw
    # a short name through the search domains, as a pod in `constrained` writes it
    look = helpers.lookup(k8s, "getent", "web.default", family=4, ns=k8s.pod_a_ns)
    assert look.ok and look.addrs == [K.CLUSTER_RECORDS["web.default.svc.cluster.local"]], \
        look
    # the allowlist as before
    assert helpers.dig(k8s, K.NAME_A, ns=k8s.pod_a_ns).addrs("A") == [K.SERVICE_IP]
    blocked = [f"secret-data-{tag}.evil.test", f"x-{tag}.{K.CLUSTER_ZONE}.evil.test",
               f"{K.CLUSTER_ZONE}.evil.test", f"x{tag}{K.CLUSTER_ZONE}", f"{tag}.{K.NAME_B}"]
    for name in blocked:
        for ns in (k8s.pod_a_ns, k8s.pod_b_ns):
            d = helpers.dig(k8s, name, ns=ns)
            assert d.status == "NXDOMAIN" and not d.answers, (name, d.raw)
            look = helpers.lookup(k8s, "getent", name, family=4, ns=ns)
            assert not look.ok and look.notfound, look
    # the resolvers' lines: the cluster names passed (pod address, its policy, the zone,
    # the cluster DNS's Service address), the blocked names denied (each line is written
    # after its answer is sent: wait for them all)
    def query_lines():
        return [e for v in new_lines(k8s, mark, RES, is_query).values() for e in v]

    def complete(got):
        names = {e["qname"] for e in got}
        return (len([e for e in got if e["qname"] in K.CLUSTER_RECORDS]) >= 9 and
                all(n.lower() in names for n in blocked))

    lines = wait_until(query_lines, complete, timeout=10, interval=0.05)
    passed = [e for e in lines if e["qname"] in K.CLUSTER_RECORDS]
    assert len(passed) == 9, lines     # 2 names by getent and dig in 2 pods; web.default
    assert all((e["verdict"], e["zone"], e["upstream"].split(":")[0], e["policy"]) ==
               ("pass", K.CLUSTER_ZONE, K.DNS_SERVICE_IP, K.POD_POLICY[e["client"]])
               and e["answer"] == K.CLUSTER_RECORDS[e["qname"]] for e in passed), passed
    for name in blocked:
        mine = [e for e in lines if e["qname"] == name.lower()]
        assert mine and all(e["verdict"] == "deny" for e in mine), (name, mine)
    cluster = k8s.cluster_queries()
    upstream = k8s.upstream_queries()
    # the cluster DNS got the cluster names (its log is being written), nothing else
    assert {n for _, n, _ in cluster} >= set(K.CLUSTER_RECORDS), cluster
    assert all(n == K.CLUSTER_ZONE or n.endswith("." + K.CLUSTER_ZONE)
               for _, n, _ in cluster), cluster
    for name in blocked:
        assert not [q for q in cluster + upstream if q[1] == name.lower()], name
    # ... the search-domain forms of the blocked names stopped there
    assert [q for q in cluster if q[1] == f"secret-data-{tag}.evil.test.{K.POD_SEARCH[0]}"]
    assert not [q for q in upstream if K.CLUSTER_ZONE in q[1] or tag in q[1]], upstream


def test_daemons_exit_cleanly(k8s):
    """Last: every daemon of both replicas stops on SIGTERM with status 0, no sanitizer
    report, and a complete audit file."""
    for r in k8s.replicas:
        for d, p in r.procs.items():
            status = p.stop(timeout=10)
            assert status == 0 and not p.sanitizer_report(), (r.name, d, p.stderr()[-4000:])
            read_audit(r.audit_path(d), complete=True)
