"""When the real destination fails, the client gets the protocol's error at once, and
the audit says why: an allowed name that does not exist upstream (c-ares gets NXDOMAIN
from the internet's DNS) is a 502 "could not be resolved"; an allowed name whose server
refuses the connection is a 502 "could not connect". Neither is a hang."""

from gh_testlib import scaled, scaled_arg
import topology as T

CLIENT_ADDRS = (T.CLIENT4, T.CLIENT6)


def _get(topo, url):
    return topo.client(["curl", "-sS", "-4", "-i", "--max-time", scaled_arg(15), url])


def test_allowed_name_that_does_not_resolve_upstream(topo):
    mark = topo.mark()
    r = _get(topo, "http://gone.example.test/")
    topo.expect_query("gone.example.test", "allow", CLIENT_ADDRS)
    topo.expect_conn(80, "deny", "gone.example.test", (T.CLIENT4,), reason="resolve-failed")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("HTTP/1.1 502"), r.stdout
    assert "gone.example.test" in r.stdout
    assert r.elapsed < scaled(5, below=15), r.elapsed     # not a hang
    e = topo.wait_audit("gatehouse-forwarder", lambda e: e.get("name") == "gone.example.test",
                        since=mark)[-1]
    assert e["verdict"] == "deny" and e["reason"] == "resolve-failed", e
    # the forwarder asked the internet's DNS (an allowed name may be resolved)
    assert ("A", "gone.example.test", T.GW_OUT4) in topo.upstream_queries()


def test_allowed_name_whose_server_refuses(topo):
    mark = topo.mark()
    r = _get(topo, "http://down.example.test:8080/")
    topo.expect_query("down.example.test", "allow", CLIENT_ADDRS)
    topo.expect_conn(8080, "deny", "down.example.test", (T.CLIENT4,), reason="connect-failed")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("HTTP/1.1 502"), r.stdout
    assert r.elapsed < scaled(5, below=15), r.elapsed     # not a hang
    e = topo.wait_audit("gatehouse-forwarder", lambda e: e.get("name") == "down.example.test",
                        since=mark)[-1]
    assert e["verdict"] == "deny" and e["reason"] == "connect-failed", e
