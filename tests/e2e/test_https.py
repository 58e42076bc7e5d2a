"""Allowed web traffic: curl in the client namespace fetches allowed names over HTTPS
(named by SNI, certificate verified against the test CA) and plain HTTP (named by Host),
over IPv4 and IPv6, and the real servers in the internet namespace see the requests,
coming from the gateway."""

import hashlib
import os
import sys

import pytest

from gh_testlib import scaled_arg
import helpers
import topology as T

sys.path.insert(0, os.path.join(T.HERE, "servers"))
from web import pattern  # noqa: E402  (the servers' byte pattern, to check relayed data)

CLIENT_ADDRS = (T.CLIENT4, T.CLIENT6)


def _requests(topo, path):
    return [r for r in topo.web_requests() if r["path"] == path]


@pytest.mark.parametrize("name,family", [
    ("api.example.test", "-4"),
    ("api.example.test", "-6"),
    ("assets.cdn.example.test", "-4"),      # a wildcard rule
])
def test_https_allowed_name(topo, name, family):
    path = f"/e2e/{helpers.tag()}"
    mark = topo.mark()
    r = topo.client(["curl", "-sS", family, "--max-time", scaled_arg(10),
                     "--cacert", topo.ca_path,
                     "-o", "-", "-w", "\\n%{http_code} %{remote_ip}", f"https://{name}{path}"])
    topo.expect_query(name, "allow", CLIENT_ADDRS)
    client = T.CLIENT4 if family == "-4" else T.CLIENT6
    topo.expect_conn(443, "allow", name, (client,))
    assert r.returncode == 0, r.stderr
    body, status = r.stdout.rsplit("\n", 1)
    assert status.split() == ["200", T.GW_IN4 if family == "-4" else T.GW_IN6]
    assert body.strip() == f"hello from {name} over https"
    seen = _requests(topo, path)
    assert len(seen) == 1, topo.web_requests()[-5:]
    assert seen[0]["sni"] == name and seen[0]["host"] == name
    assert seen[0]["local"] == f"{T.WEB_ADDR}:443"
    assert seen[0]["peer"].startswith(T.GW_OUT4 + ":")
    e = topo.wait_audit("gatehouse-forwarder", lambda e: e.get("event") == "conn" and
                        e.get("name") == name and e.get("verdict") == "allow", since=mark)[-1]
    assert e["via"] == "sni" and e["port"] == 443
    assert e["client"] == client and isinstance(e["client_port"], int), e
    assert e["upstream"] == f"{T.WEB_ADDR}:443"
    assert e["bytes_up"] > 200 and e["bytes_down"] > 200 and e["ms"] >= 0
    q = topo.wait_audit("gatehouse-resolver", lambda e: e.get("qname") == name, since=mark)
    assert all(x["verdict"] == "allow" and x["rcode"] == "NOERROR" for x in q)


def test_http_allowed_name_by_host(topo):
    path = f"/e2e/{helpers.tag()}"
    mark = topo.mark()
    r = topo.client(["curl", "-sS", "--max-time", scaled_arg(10), "-w", "\\n%{http_code}",
                     f"http://www.example.test{path}"])
    topo.expect_query("www.example.test", "allow", CLIENT_ADDRS)
    topo.expect_conn(80, "allow", "www.example.test", CLIENT_ADDRS)
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("\n200")
    seen = _requests(topo, path)
    assert len(seen) == 1 and seen[0]["host"] == "www.example.test"
    assert seen[0]["local"] == f"{T.WWW_ADDR}:80"
    e = topo.wait_audit("gatehouse-forwarder", lambda e: e.get("name") == "www.example.test"
                        and e.get("verdict") == "allow", since=mark)[-1]
    assert e["via"] == "host" and e["upstream"] == f"{T.WWW_ADDR}:80"
    assert e["bytes_up"] > 0 and e["bytes_down"] > 0


def test_https_certificate_is_the_real_servers(topo):
    """Without the test CA curl refuses the certificate: the client talks TLS with the real
    server through the gateway, which only reads the ClientHello's SNI."""
    r = topo.client(["curl", "-sS", "-4", "--max-time", scaled_arg(10),
                     "https://api.example.test/"])
    topo.expect_query("api.example.test", "allow", CLIENT_ADDRS)
    topo.expect_conn(443, "allow", "api.example.test", (T.CLIENT4,))
    assert r.returncode == 60, (r.returncode, r.stderr)
    r = topo.client(["openssl", "s_client", "-connect", f"{T.GW_IN4}:443", "-servername",
                     "api.example.test", "-CAfile", topo.ca_path, "-verify_return_error",
                     "-verify_hostname", "api.example.test", "-brief"], input="")
    topo.expect_conn(443, "allow", "api.example.test", (T.CLIENT4,))
    assert r.returncode == 0, r.stderr
    assert "Verification: OK" in r.stderr
    assert "Peer certificate: CN = api.example.test" in r.stderr, r.stderr


def test_allowed_name_on_a_port_it_is_not_allowed_on(topo):
    """(name, port) is checked: www.example.test is allowed on 80 only, so a TLS connection
    naming it on 443 is refused with an alert, and the server never sees it."""
    mark = topo.mark()
    r = topo.client(["curl", "-sS", "-4", "--max-time", scaled_arg(10), "--cacert", topo.ca_path,
                     "https://www.example.test/port-check"])
    topo.expect_query("www.example.test", "allow", CLIENT_ADDRS)
    topo.expect_conn(443, "deny", "www.example.test", (T.CLIENT4,), reason="not-allowed")
    assert r.returncode == 35, (r.returncode, r.stderr)
    assert helpers.tls_alert(r.stderr) in ("access denied", "unrecognized name"), r.stderr
    assert not _requests(topo, "/port-check")
    topo.wait_audit("gatehouse-forwarder", lambda e: e.get("name") == "www.example.test" and
                    e.get("port") == 443 and e.get("verdict") == "deny", since=mark)


def test_large_transfers_relay_intact(topo):
    """8 MiB down and 4 MiB up through the forwarder's relay, byte for byte, and the audit
    line counts them."""
    n_down, n_up = 8 << 20, 4 << 20
    up = topo.path("upload.bin")
    with open(up, "wb") as f:
        f.write(pattern(n_up)[::-1])
    mark = topo.mark()
    r = topo.client(["curl", "-sS", "-4", "--max-time", scaled_arg(30), "--cacert", topo.ca_path,
                     f"https://api.example.test/bytes/{n_down}"], binary=True, timeout=40)
    topo.expect_query("api.example.test", "allow", CLIENT_ADDRS)
    topo.expect_conn(443, "allow", "api.example.test", (T.CLIENT4,))
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) == n_down and r.stdout == pattern(n_down)
    r = topo.client(["curl", "-sS", "-4", "--max-time", scaled_arg(30), "--cacert", topo.ca_path,
                     "--data-binary", f"@{up}", "https://api.example.test/upload"], timeout=40)
    topo.expect_conn(443, "allow", "api.example.test", (T.CLIENT4,))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == hashlib.sha256(pattern(n_up)[::-1]).hexdigest()
    lines = topo.wait_audit("gatehouse-forwarder", lambda e: e.get("verdict") == "allow" and
                            e.get("name") == "api.example.test", since=mark, count=2)
    assert max(e["bytes_down"] for e in lines) > n_down
    assert max(e["bytes_up"] for e in lines) > n_up
