"""Special-purpose addresses: an allowed name whose real address is private or
link-local (here 169.254.169.254, the cloud metadata address, served in the internet
namespace) is refused unless its rule says `private`. The client cannot tell the
difference at lookup time (both names resolve to the gateway); the forwarder decides after
its own lookup, and the metadata server never sees the refused request."""

from gh_testlib import scaled_arg
import helpers
import topology as T

CLIENT_ADDRS = (T.CLIENT4, T.CLIENT6)


def _fetch(topo, name, path):
    return topo.client(["curl", "-sS", "-4", "-i", "--max-time", scaled_arg(10),
                        f"http://{name}{path}"])


def test_private_address_refused_without_private(topo):
    path = f"/latest/meta-data/{helpers.tag()}"
    mark = topo.mark()
    r = _fetch(topo, "metadata.cloud.test", path)
    topo.expect_query("metadata.cloud.test", "allow", CLIENT_ADDRS)
    topo.expect_conn(80, "deny", "metadata.cloud.test", (T.CLIENT4,), reason="no-address")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("HTTP/1.1 403"), r.stdout
    assert "169.254.169.254" in r.stdout and "private" in r.stdout
    e = topo.wait_audit("gatehouse-forwarder", lambda e: e.get("name") ==
                        "metadata.cloud.test", since=mark)[-1]
    assert e["verdict"] == "deny" and e["reason"] == "no-address", e
    assert not [w for w in topo.web_requests() if w["path"] == path]


def test_private_address_allowed_with_private(topo):
    path = f"/latest/meta-data/{helpers.tag()}"
    mark = topo.mark()
    r = _fetch(topo, "imds.cloud.test", path)
    topo.expect_query("imds.cloud.test", "allow", CLIENT_ADDRS)
    topo.expect_conn(80, "allow", "imds.cloud.test", (T.CLIENT4,))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("HTTP/1.1 200"), r.stdout
    assert r.stdout.endswith("instance-secret-token\n")
    seen = [w for w in topo.web_requests() if w["path"] == path]
    assert len(seen) == 1 and seen[0]["local"] == f"{T.METADATA_ADDR}:80"
    e = topo.wait_audit("gatehouse-forwarder", lambda e: e.get("name") == "imds.cloud.test"
                        and e.get("verdict") == "allow", since=mark)[-1]
    assert e["upstream"] == f"{T.METADATA_ADDR}:80" and e["rule"] == "imds.cloud.test"
