"""The forwarder never dials itself, even for a `private` rule (issue 11, item 2): with the
forwarder listening on the wildcard address, a name answering the gateway's own bridge-side
address, or an address of a local route added while it runs (`ip route add local`, as
Docker's AnyIP pools and the name-addressed mode do), is refused as a loop at once: the
forwarder asks the kernel how it would route each address (as `ip route get` does), so a
route added a moment ago counts, and one in a table no rule selects does not."""

import topology as T

LOCAL_ROUTE = "10.99.0.0/24"


def _get(topo, name):
    return topo.client(["curl", "-sS", "-4", "-i", "--max-time", "10", f"http://{name}/"])


def test_private_rule_refuses_loops_through_own_and_local_route_addresses(topo):
    topo.restart_daemon("gatehouse-forwarder", {"GATEHOUSE_FORWARD_LISTEN": "0.0.0.0 ::"})
    try:
        topo.sh("ip", "route", "add", "local", LOCAL_ROUTE, "dev", "lo", ns=topo.gw_ns)
        try:
            mark = topo.mark()
            for name, addr, kind in (("gw.example.test", T.GW_OUT4, "own"),
                                     ("anyip.example.test", "10.99.0.5", "local route")):
                r = _get(topo, name)
                topo.expect_query(name, "allow", (T.CLIENT4, T.CLIENT6))
                topo.expect_conn(80, "deny", name, (T.CLIENT4,), reason="no-address")
                assert r.stdout.startswith("HTTP/1.1 403"), (kind, r.stdout, r.stderr)
                e = topo.wait_audit("gatehouse-forwarder", lambda e, n=name: e.get("name") == n,
                                    since=mark)[-1]
                assert (e["verdict"], e["reason"]) == ("deny", "no-address"), e
                assert e["detail"] == f"{addr} port 80 is this forwarder (loop)", e
            accepted = [e for e in topo.audit("gatehouse-forwarder")[mark["gatehouse-forwarder"]:]
                        if e.get("event") == "conn"]
            assert len(accepted) == 2, accepted     # one line a client connection: no relay
                                                    # to itself
        finally:
            topo.sh("ip", "route", "del", "local", LOCAL_ROUTE, "dev", "lo", ns=topo.gw_ns,
                    check=False)
    finally:
        topo.restart_daemon("gatehouse-forwarder")


def test_a_local_route_in_a_table_no_rule_selects_is_not_this_host(topo):
    """TPROXY set-ups (Istio's among them) keep `local default dev lo` in a table of its
    own that only marked packets use: a connection the forwarder makes still goes out, so
    an allowed public name is relayed, not refused as the gateway's own address."""
    topo.sh("ip", "route", "add", "local", "default", "dev", "lo", "table", "133",
            ns=topo.gw_ns)
    try:
        mark = topo.mark()
        r = topo.client(["curl", "-sS", "-4", "--max-time", "10", "--cacert", topo.ca_path,
                         "https://api.example.test/"])
        topo.expect_query("api.example.test", "allow", (T.CLIENT4, T.CLIENT6))
        topo.expect_conn(443, "allow", "api.example.test", (T.CLIENT4,))
        assert r.returncode == 0, r.stderr
        e = topo.wait_audit("gatehouse-forwarder", lambda e: e.get("name") == "api.example.test",
                            since=mark)[-1]
        assert e["verdict"] == "allow" and e["upstream"] == f"{T.WEB_ADDR}:443", e
    finally:
        topo.sh("ip", "route", "del", "local", "default", "dev", "lo", "table", "133",
                ns=topo.gw_ns, check=False)
