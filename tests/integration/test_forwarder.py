"""gatehouse-forwarder against real peers: dnsmasq as the upstream DNS server, TLS and plain
HTTP servers, an SMTP-like server that speaks first, real clients (Python's ssl, curl).

Topology on loopback: the forwarder listens on 127.0.0.1 (every port its allowlist names);
each upstream server listens on its own 127.0.0.x address with the SAME port, because the
forwarder dials the resolved name on the port the client connected to. dnsmasq on
127.0.0.153 maps the test names to those addresses. Loopback is special-purpose, so the
rules say `private` except where a test shows what happens without it.

Run: /usr/bin/python3 -m pytest -q tests/integration/test_forwarder.py
(the daemons from $GATEHOUSE_BUILD, default build/; build/san for the ASan+UBSan build: a
sanitizer report on the daemon's stderr fails the test that ran it).
"""

import hashlib
import json
import math
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

import peers
from gh_testlib import client_hello_bytes, daemon_env, scaled, wait_for
from peers import (BannerServer, BioTLS, DnsServer, EofServer, Forwarder, HttpServer,
                   SilentUdp, TestCA, free_port, keepalive_get, payload_sha256,
                   recv_until_eof)

pytestmark = pytest.mark.skipif(not os.path.exists(peers.FORWARDER_BIN),
                                reason="no gatehouse-forwarder in %s" % peers.BUILD)

TIMEOUT = scaled(5.0)           # every client socket operation
FWD = "127.0.0.1"               # where the forwarder listens
DNS_ADDR = "127.0.0.153"
DNS_DOWN_ADDR = "127.0.0.154"   # nothing listens: ICMP port unreachable
DNS_SILENT_ADDR = "127.0.0.155"  # a socket that never answers

ADDR = {
    "api.test": "127.0.0.2", "other.test": "127.0.0.3", "evil.test": "127.0.0.4",
    "web.test": "127.0.0.5", "lo.test": "127.0.0.5", "smtp.test": "127.0.0.6",
    "eof.test": "127.0.0.7", "closed.test": "127.0.0.8", "new.test": "127.0.0.9",
    "smtp2.test": "127.0.0.10", "silent.test": "127.0.0.11", "loop.test": "127.0.0.1",
    "meta.test": "169.254.169.254", "hole.test": "127.0.0.12", "co.test": "127.0.0.5",
    # first address refused (nothing listens), second one the web server
    "multi.test": ["127.0.0.8", "127.0.0.5"],
    # IPv6 only: special-purpose forms, some embedding an IPv4 address
    "mapped.test": "::ffff:169.254.169.254", "nat64.test": "64:ff9b::a9fe:a9fe",
    "sixtofour.test": "2002:a9fe:a9fe::1", "teredo.test": "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "ula.test": "fd00::5", "v6lo.test": "::1",
    # this forwarder's own listening address, written as an IPv4-mapped IPv6 address
    "loopmapped.test": "::ffff:127.0.0.1",
}
# Names no rule ever allows: a lookup of one of them is a security-invariant failure.
NEVER_LOOKED_UP = ("evil.test",)

ALERT_ACCESS_DENIED = b"\x15\x03\x03\x00\x02\x02\x31"    # fatal alert 49


@pytest.fixture(scope="module")
def env():
    with peers.peer_env("gatehouse-fwd-it-") as e:
        e.ca = TestCA(e.dir)
        a = ADDR
        e.p_tls = free_port((FWD, a["api.test"], a["other.test"], a["evil.test"]))
        e.p_http = free_port((FWD, a["web.test"], a["evil.test"], a["closed.test"],
                              a["hole.test"]))
        e.p_smtp = free_port((FWD, a["smtp.test"]))
        e.p_smtp2 = free_port((FWD, a["smtp2.test"]))
        e.p_alt = free_port((FWD,))
        e.p_eof = free_port((FWD, a["eof.test"], a["silent.test"]))
        e.p_new = free_port((FWD, a["new.test"]))
        e.p_dns = free_port((DNS_ADDR,))
        e.p_dns_down = free_port((DNS_DOWN_ADDR,))
        e.p_dns_silent = free_port((DNS_SILENT_ADDR,))
        e.dns = DnsServer(e.procs, e.dir, DNS_ADDR, e.p_dns, ADDR)
        e.api = HttpServer(a["api.test"], e.p_tls, "api", ca=e.ca, names=["api.test"])
        e.other = HttpServer(a["other.test"], e.p_tls, "other", ca=e.ca, names=["other.test"])
        e.trap_tls = HttpServer(a["evil.test"], e.p_tls, "trap", ca=e.ca, names=["evil.test"])
        e.web = HttpServer(a["web.test"], e.p_http, "web")
        e.trap_http = HttpServer(a["evil.test"], e.p_http, "trap-http")
        e.new = HttpServer(a["new.test"], e.p_new, "new")
        e.smtp = BannerServer(a["smtp.test"], e.p_smtp, "smtp.test")
        e.smtp2 = BannerServer(a["smtp2.test"], e.p_smtp2, "smtp2.test")
        e.eof = EofServer(a["eof.test"], e.p_eof, "eof")
        e.silent = EofServer(a["silent.test"], e.p_eof, "silent", answer=False)
        e.servers = [e.api, e.other, e.trap_tls, e.web, e.trap_http, e.new, e.smtp, e.smtp2,
                     e.eof, e.silent]
        e.http_servers = [e.api, e.other, e.trap_tls, e.web, e.trap_http, e.new]
        e.traps = [e.trap_tls, e.trap_http]
        yield e
        # security invariant 2, over the whole run: no test made a blocked name resolve.
        for name in NEVER_LOOKED_UP:
            assert e.dns.queried(name) == [], "%s was looked up upstream" % name


@pytest.fixture(autouse=True)
def clean_servers(env):
    for s in env.servers:
        s.reset()
    yield


@pytest.fixture
def fwd(env, request):
    fac = peers.ForwarderFactory(env, request, FWD, DNS_ADDR, {
        "peek-timeout": "1", "connect-timeout": "2", "idle-timeout": "5",
        "half-close-timeout": "2", "lookup-timeout": "2"})
    yield fac
    problems = fac.finish()
    if problems:
        pytest.fail("daemon problems:\n" + "\n".join(problems), pytrace=False)


# ---------------------------------------------------------------------------------------
# client helpers


def connect(port, addr=FWD, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect((addr, port))
    return s


def http_raw(port, request, addr=FWD):
    """Send request bytes, read to EOF. (response bytes, client port)."""
    s = connect(port, addr)
    try:
        cport = s.getsockname()[1]
        s.sendall(request)
        return recv_until_eof(s), cport
    finally:
        s.close()


def http_get(port, host, path="/", extra=b""):
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (path, host)).encode()
    return http_raw(port, req + extra + b"\r\n")


def status_of(resp):
    line = resp.split(b"\r\n", 1)[0].decode("latin-1")
    m = re.match(r"HTTP/1\.[01] (\d{3})", line)
    assert m, "not an HTTP response: %r" % resp[:200]
    return int(m.group(1))


def body_of(resp):
    return resp.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in resp else b""


def tls_get(env, port, name, path="/"):
    """A verified TLS connection through the forwarder; (response, client port, cipher)."""
    ctx = env.ca.client_context()
    raw = connect(port)
    cport = raw.getsockname()[1]
    with ctx.wrap_socket(raw, server_hostname=name) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n" % (
            path, name, port)).encode())
        resp = recv_until_eof(s)
        return resp, cport, s.version()


def assert_no_upstream_contact(env, also=()):
    for s in env.http_servers + list(also):
        acc = s.accepts if hasattr(s, "accepts") else s.snapshot()
        assert not acc, "server %s was connected to: %r" % (s.label, acc)


def allow_common(env):
    """Two rules on each of the TLS and HTTP ports, so both are name-peeking ports."""
    return ["allow api.test %d private" % env.p_tls,
            "allow other.test %d private" % env.p_tls,
            "allow web.test %d private" % env.p_http,
            "allow **.wild.test %d private" % env.p_http]


# ---------------------------------------------------------------------------------------
# TLS (SNI)


def test_sni_allowed_reaches_right_upstream_and_verifies(env, fwd):
    f = fwd(allow_common(env))
    before = len(env.dns.queried("api.test"))
    resp, cport, version = tls_get(env, env.p_tls, "api.test")
    assert status_of(resp) == 200
    assert b"hello from api" in body_of(resp)
    # the right upstream, and only it, saw the connection and the request
    assert env.api.snis == ["api.test"]
    assert [r["host"] for r in env.api.requests] == ["api.test:%d" % env.p_tls]
    assert not env.other.accepts and not env.trap_tls.accepts
    assert len(env.dns.queried("api.test")) > before, "api.test was not resolved upstream"
    line = f.wait_conn(cport)
    assert line["daemon"] == "forwarder"
    assert (line["client"], line["client_port"]) == ("127.0.0.1", cport)
    assert line["port"] == env.p_tls
    assert line["name"] == "api.test" and line["via"] == "sni"
    assert line["verdict"] == "allow" and line["rule"] == "api.test"
    assert line["upstream"] == "%s:%d" % (ADDR["api.test"], env.p_tls)
    assert line["bytes_up"] > 0 and line["bytes_down"] > 0
    assert isinstance(line["ms"], int) and line["ms"] >= 0
    assert line["end"] == "eof"
    assert "reason" not in line


def test_sni_allowed_with_real_curl(env, fwd):
    f = fwd(allow_common(env))
    r = subprocess.run(["curl", "-sS", "--max-time", "%d" % math.ceil(TIMEOUT),
                        "--cacert", env.ca.cert,
                        "--resolve", "other.test:%d:%s" % (env.p_tls, FWD),
                        "-o", "-", "-w", "\\n%{http_code} %{local_port}",
                        "https://other.test:%d/curl" % env.p_tls],
                       capture_output=True, timeout=3 * TIMEOUT)
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode().splitlines()
    code, lport = out[-1].split()
    assert code == "200"
    assert "hello from other path=/curl" in r.stdout.decode()
    assert env.other.snis == ["other.test"]
    assert [q["path"] for q in env.other.requests] == ["/curl"]
    line = f.wait_conn(int(lport))
    assert (line["verdict"], line["via"], line["name"]) == ("allow", "sni", "other.test")
    assert line["upstream"] == "%s:%d" % (ADDR["other.test"], env.p_tls)
    assert line["bytes_up"] > 0 and line["bytes_down"] > 0
    assert line["end"] in ("eof", "client-reset", "upstream-reset")


def tls_access_denied(env, sni):
    """A real TLS client naming sni gets an access_denied alert; its client port."""
    ctx = env.ca.client_context()
    raw = connect(env.p_tls)
    cport = raw.getsockname()[1]
    with pytest.raises(ssl.SSLError) as ei:
        with ctx.wrap_socket(raw, server_hostname=sni) as s:
            s.recv(1)
    msg = str(ei.value).upper()
    assert "ACCESS_DENIED" in msg or "ACCESS DENIED" in msg, str(ei.value)
    raw.close()
    return cport


def test_sni_blocked_gets_alert_and_reaches_nothing(env, fwd):
    f = fwd(allow_common(env))
    line = f.wait_conn(tls_access_denied(env, "evil.test"))
    assert (line["verdict"], line["reason"], line["via"], line["name"]) == (
        "deny", "not-allowed", "sni", "evil.test")
    assert "upstream" not in line and "rule" not in line
    # positive control: the same forwarder does resolve and dial an allowed name
    resp, _, _ = tls_get(env, env.p_tls, "api.test")
    assert status_of(resp) == 200
    env.dns.wait_queried("api.test")
    # invariant 2: the blocked name was never resolved and nothing dialled for it
    assert env.dns.queried("evil.test") == []
    assert not env.trap_tls.accepts and not env.other.accepts
    assert len(env.api.accepts) == 1


def test_sni_ip_literal_and_no_sni_refused(env, fwd):
    f = fwd(allow_common(env))
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for sni in (None, "127.0.0.2"):
        raw = connect(env.p_tls)
        cport = raw.getsockname()[1]
        with pytest.raises((ssl.SSLError, ConnectionError)):
            with ctx.wrap_socket(raw, server_hostname=sni) as s:
                s.recv(1)
        raw.close()
        line = f.wait_conn(cport)
        assert (line["verdict"], line["reason"]) == ("deny", "no-name"), line
    assert_no_upstream_contact(env)


# ---------------------------------------------------------------------------------------
# HTTP (Host)


def test_http_allowed_host_relayed(env, fwd):
    f = fwd(allow_common(env))
    resp, cport = http_get(env.p_http, "web.test:%d" % env.p_http, "/plain?x=1")
    assert status_of(resp) == 200
    assert b"hello from web path=/plain?x=1" in body_of(resp)
    assert [(r["method"], r["path"], r["host"]) for r in env.web.requests] == [
        ("GET", "/plain?x=1", "web.test:%d" % env.p_http)]
    line = f.wait_conn(cport)
    assert (line["verdict"], line["via"], line["name"], line["rule"]) == (
        "allow", "host", "web.test", "web.test")
    assert line["upstream"] == "%s:%d" % (ADDR["web.test"], env.p_http)
    assert line["end"] == "eof"
    # a wildcard rule also matches (and the forwarder resolves the exact name asked)
    resp, cport = http_get(env.p_http, "nothere.wild.test")
    assert status_of(resp) == 502      # allowed, but NXDOMAIN upstream
    line = f.wait_conn(cport)
    assert (line["rule"], line["reason"]) == ("**.wild.test", "resolve-failed")


def test_http_blocked_host_403_names_host_and_reason(env, fwd):
    f = fwd(allow_common(env))
    resp, cport = http_get(env.p_http, "evil.test:%d" % env.p_http)
    assert resp.startswith(b"HTTP/1.1 403"), resp[:100]
    body = body_of(resp).decode()
    assert "evil.test" in body and "not on the allowlist" in body, body
    assert str(env.p_http) in body
    n = int(re.search(rb"Content-Length: (\d+)", resp).group(1))
    assert n == len(body_of(resp))
    line = f.wait_conn(cport)
    assert (line["verdict"], line["reason"], line["via"], line["name"]) == (
        "deny", "not-allowed", "host", "evil.test")
    assert_no_upstream_contact(env)
    assert env.dns.queried("evil.test") == []


def test_deny_rules_refuse_tls_and_http(env, fwd):
    """`deny` wins over the allow rules that match: a real TLS client gets an access_denied
    alert, an HTTP client a 403 that names the deny rule; both audited with reason `denied`
    and the deny rule; nothing is resolved or dialled for them. A deny with ports leaves
    the name's other ports alone."""
    mport = peers.free_metrics_port(FWD)
    f = fwd(allow_common(env) + ["deny api.test %d" % env.p_tls,
                                 "deny *.wild.test %d" % env.p_http],
            metrics="%s:%d" % (FWD, mport))
    api_queries, api_accepts = len(env.dns.queried("api.test")), len(env.api.accepts)
    line = f.wait_conn(tls_access_denied(env, "api.test"))
    assert (line["verdict"], line["reason"], line["via"], line["name"], line["rule"]) == (
        "deny", "denied", "sni", "api.test", "api.test")
    assert "upstream" not in line
    resp, cport = http_get(env.p_http, "secret.wild.test:%d" % env.p_http)
    assert resp.startswith(b"HTTP/1.1 403"), resp[:100]
    body = body_of(resp).decode()
    assert "secret.wild.test" in body and "deny *.wild.test" in body, body
    line = f.wait_conn(cport)
    assert (line["verdict"], line["reason"], line["via"], line["name"], line["rule"]) == (
        "deny", "denied", "host", "secret.wild.test", "*.wild.test")
    # *. is one label: a name two labels below is still allowed by **.wild.test (it does
    # not exist upstream, so it is resolved and fails there)
    resp, cport = http_get(env.p_http, "a.secret.wild.test")
    assert status_of(resp) == 502
    line = f.wait_conn(cport)
    assert (line["rule"], line["reason"]) == ("**.wild.test", "resolve-failed")
    assert len(env.dns.queried("api.test")) == api_queries
    assert env.dns.queried("secret.wild.test") == []
    assert len(env.api.accepts) == api_accepts
    # positive control: other names on the same ports still pass
    resp, _, _ = tls_get(env, env.p_tls, "other.test")
    assert status_of(resp) == 200
    assert status_of(http_get(env.p_http, "web.test")[0]) == 200

    wait_for(lambda: re.search(r'gatehouse_connections_total\{policy="default",verdict="deny",'
                               r'reason="denied"\} 2\b', scrape_metrics(mport)),
             5, what="the two denied connections to be counted")


def test_http_missing_host_400(env, fwd):
    f = fwd(allow_common(env))
    resp, cport = http_raw(env.p_http, b"GET / HTTP/1.1\r\nUser-Agent: t\r\n\r\n")
    assert status_of(resp) == 400
    assert b"no-name" in body_of(resp) and b"Host" in body_of(resp), resp
    line = f.wait_conn(cport)
    assert (line["verdict"], line["reason"]) == ("deny", "no-name")
    assert "Host" in line["detail"]
    assert_no_upstream_contact(env)


def test_http_absolute_form_target(env, fwd):
    f = fwd(allow_common(env))
    hp = "web.test:%d" % env.p_http
    # absolute-form with a matching Host
    resp, _ = http_raw(env.p_http, ("GET http://%s/abs HTTP/1.1\r\nHost: %s\r\n"
                                    "Connection: close\r\n\r\n" % (hp, hp)).encode())
    assert status_of(resp) == 200
    assert env.web.requests[-1]["path"] == "http://%s/abs" % hp
    # absolute-form alone (HTTP/1.0, no Host): the target names the host
    resp, cport = http_raw(env.p_http, ("GET http://%s/abs10 HTTP/1.0\r\n\r\n" % hp).encode())
    assert status_of(resp) == 200, resp[:200]
    assert env.web.requests[-1]["path"] == "http://%s/abs10" % hp
    line = f.wait_conn(cport)
    assert (line["verdict"], line["via"], line["name"]) == ("allow", "host", "web.test")
    # the target wins over Host: a blocked target with an allowed Host is refused
    resp, cport = http_raw(env.p_http, ("GET http://evil.test:%d/ HTTP/1.1\r\nHost: %s\r\n"
                                        "\r\n" % (env.p_http, hp)).encode())
    assert status_of(resp) in (400, 403), resp[:200]
    line = f.wait_conn(cport)
    assert line["verdict"] == "deny" and line["reason"] in ("malformed", "not-allowed")
    assert len(env.web.accepts) == 2
    assert not env.trap_http.accepts


def test_http_two_host_headers_refused(env, fwd):
    f = fwd(allow_common(env))
    hp = "web.test:%d" % env.p_http
    for second in (hp, "evil.test:%d" % env.p_http):
        resp, cport = http_raw(env.p_http, ("GET / HTTP/1.1\r\nHost: %s\r\nHost: %s\r\n\r\n" % (
            hp, second)).encode())
        assert status_of(resp) == 400, resp[:200]
        assert b"two Host" in body_of(resp)
        line = f.wait_conn(cport)
        assert (line["verdict"], line["reason"]) == ("deny", "malformed")
    assert_no_upstream_contact(env)


# ---------------------------------------------------------------------------------------
# routed ports


@pytest.mark.parametrize("kind", ["route", "implicit", "route-other-port"])
def test_routed_server_speaks_first(env, fwd, kind):
    if kind == "route":
        rules = ["route %d smtp.test:%d private" % (env.p_smtp, env.p_smtp)]
        port, server, name = env.p_smtp, env.smtp, "smtp.test"
    elif kind == "implicit":
        rules = ["allow smtp2.test %d private" % env.p_smtp2]     # the only rule on its port
        port, server, name = env.p_smtp2, env.smtp2, "smtp2.test"
    else:
        rules = ["route %d smtp.test:%d private" % (env.p_alt, env.p_smtp)]
        port, server, name = env.p_alt, env.smtp, "smtp.test"
    f = fwd(rules)
    s = connect(port)
    cport = s.getsockname()[1]
    banner = s.recv(100)                   # nothing sent yet
    assert banner == ("220 %s ready\r\n" % name).encode()
    s.sendall(b"EHLO client.example\r\n")
    assert s.recv(100) == b"250 EHLO client.example\r\n"
    s.sendall(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n")
    got = b""
    while got.count(b"\r\n") < 2:
        got += s.recv(100)
    assert got == b"250 MAIL FROM:<a@b>\r\n250 RCPT TO:<c@d>\r\n"
    s.sendall(b"QUIT\r\n")
    assert recv_until_eof(s) == b"221 bye\r\n"
    s.close()
    line = f.wait_conn(cport)
    assert (line["verdict"], line["via"], line["name"]) == ("allow", "route", name)
    assert line["upstream"] == "%s:%d" % (ADDR[name], server.port)
    assert line["port"] == port
    assert line["end"] == "eof"
    assert line["bytes_up"] == len(b"EHLO client.example\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n"
                                   b"QUIT\r\n")


def test_routed_port_failing_before_the_client_speaks_refuses_in_its_protocol(env, fwd):
    """A routed port is dialled at accept. When that fails before the client has sent a
    byte (here at once: the name's NXDOMAIN is cached after the first connection), the
    forwarder waits a moment for the client's first bytes and refuses in their protocol:
    an HTTP client gets its 502, a TLS client an internal_error alert; a client that waits
    for the server to speak is closed. Each is one audit line, resolve-failed."""
    f = fwd(["route %d nx.test:%d private" % (env.p_alt, env.p_alt)])
    request = b"GET / HTTP/1.1\r\nHost: nx.test\r\nConnection: close\r\n\r\n"
    for attempt in range(2):            # the second one is refused at accept
        resp, cport = http_raw(env.p_alt, request)
        assert status_of(resp) == 502, (attempt, resp[:300])
        assert b"nx.test could not be resolved" in resp, resp
        line = f.wait_conn(cport)
        assert (line["verdict"], line["reason"], line["route"]) == (
            "deny", "resolve-failed", "nx.test:%d" % env.p_alt), line
    s = connect(env.p_alt)
    cport = s.getsockname()[1]
    s.sendall(client_hello_bytes("nx.test"))
    assert recv_until_eof(s).endswith(b"\x15\x03\x03\x00\x02\x02\x50")    # internal_error
    s.close()
    assert f.wait_conn(cport)["reason"] == "resolve-failed"
    s = connect(env.p_alt)                      # speaks only when spoken to: closed
    cport = s.getsockname()[1]
    assert recv_until_eof(s) == b""
    s.close()
    assert f.wait_conn(cport)["reason"] == "resolve-failed"


def test_routed_port_refuses_client_hello_naming_another_host(env, fwd):
    f = fwd(["route %d smtp.test:%d private" % (env.p_smtp, env.p_smtp)])
    hello = client_hello_bytes("evil.test")
    s = connect(env.p_smtp)
    cport = s.getsockname()[1]
    s.sendall(hello)
    got = recv_until_eof(s)
    s.close()
    # the banner may or may not have been relayed first; the refusal is an access_denied alert
    assert got.endswith(ALERT_ACCESS_DENIED), got
    line = f.wait_conn(cport)
    # the line names what the client asked for; the route's target has a field of its own
    assert (line["verdict"], line["reason"], line["via"], line["name"], line["route"]) == (
        "deny", "name-mismatch", "sni", "evil.test", "smtp.test:%d" % env.p_smtp), line
    assert line["detail"] == "port %d is routed to smtp.test" % env.p_smtp, line
    # the upstream may have been dialled (routed ports dial at once) but got no client byte
    conns = env.smtp.snapshot()
    assert len(conns) <= 1
    for c in conns:
        assert c["closed"].wait(scaled(3))
        assert bytes(c["received"]) == b"", c["received"]
    # an HTTP request naming another host on the routed port: 403, nothing relayed
    env.smtp.reset()
    resp, cport = http_raw(env.p_smtp, b"GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n")
    assert b"HTTP/1.1 403" in resp, resp
    assert resp.endswith(b"gatehouse: port %d is routed to smtp.test; evil.test is not allowed "
                         b"here\n" % env.p_smtp), resp
    line = f.wait_conn(cport)
    assert (line["reason"], line["via"], line["name"], line["route"]) == (
        "name-mismatch", "host", "evil.test", "smtp.test:%d" % env.p_smtp), line
    for c in env.smtp.snapshot():
        assert c["closed"].wait(scaled(3))
        assert bytes(c["received"]) == b""
    assert env.dns.queried("evil.test") == []


def test_routed_port_accepts_client_hello_naming_the_route(env, fwd):
    f = fwd(["route %d api.test:%d private" % (env.p_alt, env.p_tls)])
    ctx = env.ca.client_context()
    raw = connect(env.p_alt)
    cport = raw.getsockname()[1]
    with ctx.wrap_socket(raw, server_hostname="api.test") as s:
        s.sendall(b"GET /routed HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n")
        resp = recv_until_eof(s)
    assert status_of(resp) == 200 and b"path=/routed" in resp
    line = f.wait_conn(cport)
    assert (line["verdict"], line["via"], line["name"]) == ("allow", "route", "api.test")


# ---------------------------------------------------------------------------------------
# half-close, slow readers


@pytest.mark.parametrize("named_by", ["host", "route"])
def test_half_close_reply_still_arrives(env, fwd, named_by):
    if named_by == "host":
        f = fwd(["allow eof.test %d private" % env.p_eof,
                 "allow **.wild.test %d private" % env.p_eof])
    else:
        f = fwd(["route %d eof.test:%d private" % (env.p_eof, env.p_eof)])
    payload = b"POST /upload HTTP/1.1\r\nHost: eof.test\r\n\r\n" + os.urandom(300000)
    s = connect(env.p_eof)
    cport = s.getsockname()[1]
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    reply = recv_until_eof(s)
    s.close()
    assert reply == ("got %d bytes sha256 %s\n" % (
        len(payload), hashlib.sha256(payload).hexdigest())).encode()
    line = f.wait_conn(cport)
    assert line["verdict"] == "allow" and line["end"] == "eof"
    assert line["bytes_up"] == len(payload) and line["bytes_down"] == len(reply)


def test_half_closed_connection_has_its_own_timeout(env, fwd):
    """Client sends and half-closes; the upstream reads to EOF and never answers. The
    connection must end after half-close-timeout (1 s), not after idle-timeout (8 s)."""
    f = fwd(["route %d silent.test:%d private" % (env.p_eof, env.p_eof)],
            half_close_timeout="1", idle_timeout="8")
    s = connect(env.p_eof)
    s.settimeout(scaled(10))
    cport = s.getsockname()[1]
    s.sendall(b"request\n")
    s.shutdown(socket.SHUT_WR)
    t0 = time.monotonic()
    assert recv_until_eof(s) == b""
    elapsed = time.monotonic() - t0
    s.close()
    line = f.wait_conn(cport)
    assert line["verdict"] == "allow"
    assert line["end"] == "half-close-timeout", line
    assert elapsed < 1 + scaled(1.0, below=7), \
        "half-closed connection lived %.1fs (half-close-timeout 1)" % elapsed


def test_idle_timeout_closes_quiet_connection(env, fwd):
    f = fwd(["route %d smtp.test:%d private" % (env.p_smtp, env.p_smtp)], idle_timeout="1")
    s = connect(env.p_smtp)
    cport = s.getsockname()[1]
    t0 = time.monotonic()
    assert s.recv(100).startswith(b"220 ")
    assert recv_until_eof(s) == b""
    elapsed = time.monotonic() - t0
    s.close()
    line = f.wait_conn(cport)
    assert line["end"] == "idle-timeout"
    assert 0.8 <= elapsed < 1 + scaled(1.5), elapsed


def test_slow_reader_backpressure_bounds_memory(env, fwd):
    """A client that reads nothing of a large download: the forwarder stops reading the
    upstream once its bounded relay buffer is full, so the upstream sends no more than the
    kernel's socket buffers and that buffer hold, and the forwarder's memory does not
    grow; once the client reads, every byte arrives intact."""
    f = fwd(allow_common(env), idle_timeout="10")
    # warm up: one relayed request so the buffer pool and the DNS cache exist
    resp, cport = http_get(env.p_http, "web.test")
    assert status_of(resp) == 200
    f.wait_conn(cport)                          # it has ended: the daemon is idle
    idle_rss = f.rss_kb()
    s = connect(env.p_http, rcvbuf=65536)
    cport = s.getsockname()[1]
    # What may be queued between the server and a client that reads nothing: the server's
    # send buffer, the forwarder's receive buffer from it, its relay (a pipe of at most
    # pipe-max-size in splice mode, else BUFPOOL_BUF: forwarder/bufpool.h), its send buffer
    # to the client, the client's receive buffer, and a segment's overshoot per socket.
    # The download is twice that (in whole MiB), so a forwarder that kept reading the
    # upstream would let it send more.
    snd, rcv = peers.tcp_buffer_max()
    relay = max(peers.proc_sys_max("fs/pipe-max-size"), 64 * 1024)
    holdable = snd + rcv + relay + snd + s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) + \
        4 * 65536
    total = -(-2 * holdable // (1 << 20)) << 20
    s.sendall(("GET /big?n=%d HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n" %
               total).encode())
    peak = idle_rss
    t_end = time.monotonic() + 2.5             # not reading
    while time.monotonic() < t_end:
        peak = max(peak, f.rss_kb())
        time.sleep(0.1)
    sent_while_stalled = env.web.srv.big_sent
    print("slow reader: idle RSS %d KiB, peak +%d KiB, upstream sent %d of %d bytes while "
          "stalled" % (idle_rss, peak - idle_rss, sent_while_stalled, total))
    bound_kb = 20 * 1024
    assert peak - idle_rss < bound_kb, "RSS grew %d KiB (idle %d KiB) while the client did " \
        "not read" % (peak - idle_rss, idle_rss)
    assert sent_while_stalled <= holdable, \
        "upstream sent %d of %d bytes to a client that reads nothing (%d can be queued)" % (
            sent_while_stalled, total, holdable)
    # reading resumes: every byte arrives intact
    s.settimeout(scaled(20))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(65536)
        assert chunk
        head += chunk
    head, body_start = head.split(b"\r\n\r\n", 1)

    def watch(n, k):
        nonlocal peak
        if n % (8 << 20) < k:
            peak = max(peak, f.rss_kb())
    n, h = read_body(s, body_start, watch)
    s.close()
    assert n == total
    assert h.hexdigest() == payload_sha256(total)
    assert peak - idle_rss < bound_kb
    line = f.wait_conn(cport)
    assert line["end"] == "eof" and line["bytes_down"] > total


def read_body(s, start, each=None):
    """Read s to EOF after the body bytes already in start: (length, sha256 object).
    each(n, k) is called after every read of k bytes (n so far)."""
    h = hashlib.sha256(start)
    n = len(start)
    buf = bytearray(1 << 20)
    while True:
        k = s.recv_into(buf)
        if k == 0:
            return n, h
        h.update(memoryview(buf)[:k])
        n += k
        if each is not None:
            each(n, k)


def _pipes(pid):
    """{pipe inode: (capacity, bytes held)} of every pipe pid has open."""
    import fcntl
    import struct
    import termios
    out, d = {}, "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        try:
            target = os.readlink(os.path.join(d, fd))
        except OSError:
            continue
        if not target.startswith("pipe:") or target in out:
            continue
        pfd = os.open(os.path.join(d, fd), os.O_RDONLY | os.O_NONBLOCK)
        try:
            held = struct.unpack("i", fcntl.ioctl(pfd, termios.FIONREAD, b"\0" * 4))[0]
            out[target] = (fcntl.fcntl(pfd, 1032), held)        # F_GETPIPE_SZ
        finally:
            os.close(pfd)
    return out


def test_spliced_direction_holds_at_most_one_256k_pipe(env, fwd):
    """A bulk download goes into splice mode after 256 KiB; when the client then stops
    reading, the forwarder holds at most one 256 KiB pipe of it in kernel memory (README:
    Splice), and every byte still arrives intact once it reads again."""
    total = 16 << 20
    f = fwd(allow_common(env), idle_timeout="20")
    before = _pipes(f.pid)                     # libevent's own
    s = connect(env.p_http, rcvbuf=65536)
    cport = s.getsockname()[1]
    s.settimeout(20)
    s.sendall(("GET /big?n=%d HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n" %
               total).encode())
    got = b""
    while len(got) < 1 << 20:                  # past PUMP_SPLICE_AFTER, then stop reading
        chunk = s.recv((1 << 20) - len(got))
        assert chunk
        got += chunk
    # the upstream stops getting rid of bytes once every buffer on the way is full
    last = [None]

    def stalled():
        now = env.web.srv.big_sent
        same, last[0] = now == last[0], now
        return same
    wait_for(stalled, 10, interval=0.3, what="the download to stall")
    pipes = [v for k, v in _pipes(f.pid).items() if k not in before]
    assert len(pipes) == 1, pipes              # one spliced direction, one pipe
    assert pipes[0][0] == 256 * 1024, pipes
    head, body = got.split(b"\r\n\r\n", 1)
    n, h = read_body(s, body)
    s.close()
    assert n == total and h.hexdigest() == payload_sha256(total)
    assert f.wait_conn(cport)["end"] == "eof"


# ---------------------------------------------------------------------------------------
# the peek phase


def test_half_client_hello_cut_at_peek_timeout(env, fwd):
    f = fwd(allow_common(env), peek_timeout="1")
    hello = client_hello_bytes("api.test")
    s = connect(env.p_tls)
    cport = s.getsockname()[1]
    t0 = time.monotonic()
    s.sendall(hello[:len(hello) // 2])
    got = recv_until_eof(s)
    elapsed = time.monotonic() - t0
    s.close()
    assert got == b""
    assert 0.8 <= elapsed <= 1 + scaled(1.0, below=4), \
        "cut after %.2fs with peek-timeout 1" % elapsed
    line = f.wait_conn(cport)
    assert (line["verdict"], line["reason"]) == ("deny", "peek-timeout")
    assert str(len(hello) // 2) in line["detail"]
    assert_no_upstream_contact(env)


def test_slowloris_byte_at_a_time_hello_within_peek_timeout_works(env, fwd):
    """A ClientHello sent a byte at a time over 0.8 s, well within peek-timeout (3 s):
    the connection is relayed."""
    f = fwd(allow_common(env), peek_timeout="3")
    s = connect(env.p_tls)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    cport = s.getsockname()[1]
    tls = BioTLS(s, env.ca.client_context(), "api.test")
    t0 = time.monotonic()
    gap = 0.8 / len(tls.hello)
    for i in range(len(tls.hello)):
        s.send(tls.hello[i:i + 1])
        time.sleep(max(0.0, t0 + (i + 1) * gap - time.monotonic()))
    # the premise: the whole hello was sent before the peek deadline
    assert time.monotonic() - t0 < 3, "the test sent its hello too slowly"
    tls.finish_handshake()
    tls.sendall(b"GET /slow HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n")
    resp = tls.recv_all()
    s.close()
    assert status_of(resp) == 200 and b"path=/slow" in resp
    assert env.api.snis == ["api.test"]
    line = f.wait_conn(cport)
    assert (line["verdict"], line["via"], line["name"]) == ("allow", "sni", "api.test")


def test_dripped_hello_that_completes_before_peek_timeout_is_judged(env, fwd):
    """A client that drips its ClientHello is read on a timer (pauses doubling to 640 ms)
    once two reads left the name undecided; the bytes that have arrived by peek-timeout
    still count, even when the next paced read would come later: a hello dripped a byte
    every 10 ms for 1.2 s, then completed, passes with peek-timeout 1.5 s."""
    f = fwd(allow_common(env), peek_timeout="1.5")
    s = connect(env.p_tls)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    cport = s.getsockname()[1]
    tls = BioTLS(s, env.ca.client_context(), "api.test")
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < 1.2 and n < len(tls.hello) - 1:
        s.send(tls.hello[n:n + 1])
        n += 1
        time.sleep(0.01)
    s.send(tls.hello[n:])
    tls.finish_handshake()
    tls.sendall(b"GET /paced HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n")
    resp = tls.recv_all()
    s.close()
    assert status_of(resp) == 200 and b"path=/paced" in resp, resp[:300]
    line = f.wait_conn(cport)
    assert (line["verdict"], line["via"], line["name"]) == ("allow", "sni", "api.test")


def test_client_hello_split_across_records(env, fwd):
    """The same ClientHello re-framed into three TLS records, sent in separate segments."""
    f = fwd(allow_common(env))
    hello = client_hello_bytes("api.test")
    assert hello[0] == 22
    body = hello[5:]
    parts = [body[:40], body[40:200], body[200:]]
    records = [b"\x16\x03\x01" + len(p).to_bytes(2, "big") + p for p in parts]
    s = connect(env.p_tls)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    cport = s.getsockname()[1]
    for r in records:
        s.sendall(r)
        time.sleep(0.05)
    # the server receives the re-framed hello unchanged and answers it
    s.settimeout(scaled(3))
    got = s.recv(5)
    s.close()
    assert got[:1] == b"\x16", got             # a ServerHello record, not an alert
    assert env.api.accepts and not env.other.accepts
    line = f.wait_conn(cport)
    assert (line["verdict"], line["name"]) == ("allow", "api.test")


# ---------------------------------------------------------------------------------------
# addresses: special-purpose, loops, resolution, dialling


def test_special_purpose_addresses_need_private(env, fwd):
    f = fwd(["allow lo.test %d" % env.p_http,
             "allow meta.test %d" % env.p_http,
             "allow web.test %d private" % env.p_http])
    resp, cport = http_get(env.p_http, "lo.test")
    assert status_of(resp) == 403
    assert b"lo.test" in body_of(resp) and b"loopback" in body_of(resp), resp
    line = f.wait_conn(cport)
    assert (line["verdict"], line["reason"]) == ("deny", "no-address")
    assert "loopback" in line["detail"] and ADDR["lo.test"] in line["detail"]
    resp, cport = http_get(env.p_http, "meta.test")
    assert status_of(resp) == 403
    line = f.wait_conn(cport)
    assert (line["verdict"], line["reason"]) == ("deny", "no-address")
    assert "link-local" in line["detail"] and "169.254.169.254" in line["detail"]
    assert not env.web.accepts
    # TLS gets an access_denied alert for the same reason
    g = fwd(["allow api.test %d" % env.p_tls, "allow other.test %d" % env.p_tls])
    raw = connect(env.p_tls)
    cport = raw.getsockname()[1]
    with pytest.raises(ssl.SSLError) as ei:
        with env.ca.client_context().wrap_socket(raw, server_hostname="api.test") as s:
            s.recv(1)
    assert "ACCESS_DENIED" in str(ei.value).upper()
    raw.close()
    assert g.wait_conn(cport)["reason"] == "no-address"
    assert not env.api.accepts
    # the same loopback name is dialled once its rule says private
    other = [l for l in open(f.conf).read().splitlines() if not l.startswith("allow")]
    f.reload(["allow lo.test %d private" % env.p_http,
              "allow web.test %d private" % env.p_http] + other)
    resp, cport = http_get(env.p_http, "lo.test")
    assert status_of(resp) == 200 and b"hello from web" in resp
    assert f.wait_conn(cport)["verdict"] == "allow"


@pytest.mark.parametrize("how", ["host", "route"])
def test_loop_guard_refuses_own_address_even_with_private(env, fwd, how):
    if how == "host":
        f = fwd(["allow loop.test %d private" % env.p_http,
                 "allow web.test %d private" % env.p_http])
        resp, cport = http_get(env.p_http, "loop.test")
        assert status_of(resp) == 403
        assert b"loop" in body_of(resp)
    else:
        f = fwd(["route %d loop.test:%d private" % (env.p_smtp, env.p_smtp)])
        s = connect(env.p_smtp)
        cport = s.getsockname()[1]
        assert recv_until_eof(s) == b""
        s.close()
    line = f.wait_conn(cport)
    assert (line["verdict"], line["reason"]) == ("deny", "no-address")
    assert "loop" in line["detail"] and "127.0.0.1" in line["detail"]
    # exactly one connection was ever accepted: the forwarder did not dial itself
    assert len(f.conn_lines()) == 1, f.conn_lines()


def test_resolve_failed_nxdomain(env, fwd):
    f = fwd(["allow nx.test %d private" % env.p_http, "allow web.test %d private" % env.p_http])
    resp, cport = http_get(env.p_http, "nx.test")
    assert status_of(resp) == 502
    assert b"nx.test could not be resolved" in body_of(resp)
    line = f.wait_conn(cport)
    assert (line["verdict"], line["reason"], line["name"]) == ("deny", "resolve-failed", "nx.test")
    env.dns.wait_queried("nx.test")


@pytest.mark.parametrize("dns", ["closed-port", "silent"])
def test_resolve_failed_when_upstream_dns_is_down(env, fwd, dns):
    silent = None
    if dns == "closed-port":
        upstream = "%s:%d" % (DNS_DOWN_ADDR, env.p_dns_down)
    else:
        silent = SilentUdp(DNS_SILENT_ADDR, env.p_dns_silent)
        upstream = "%s:%d" % (DNS_SILENT_ADDR, env.p_dns_silent)
    try:
        f = fwd(allow_common(env), upstream=upstream, lookup_timeout="2")
        t0 = time.monotonic()
        resp, cport = http_get(env.p_http, "web.test")
        elapsed = time.monotonic() - t0
        assert status_of(resp) == 502, resp[:200]
        assert elapsed <= 2 + scaled(1.0, below=2), \
            "resolve failure took %.2fs (lookup-timeout 2)" % elapsed
        line = f.wait_conn(cport)
        assert (line["verdict"], line["reason"]) == ("deny", "resolve-failed")
        if silent is not None:
            assert silent.received > 0
            assert "timed out" in line["detail"]
        assert not env.web.accepts
    finally:
        if silent is not None:
            silent.close()


def test_connect_failed_quickly(env, fwd):
    f = fwd(["allow closed.test %d private" % env.p_http, "allow web.test %d private" % env.p_http])
    t0 = time.monotonic()
    resp, cport = http_get(env.p_http, "closed.test")
    elapsed = time.monotonic() - t0
    assert status_of(resp) == 502
    assert b"could not connect to closed.test" in body_of(resp)
    assert elapsed < scaled(1.0, below=2), elapsed
    line = f.wait_conn(cport)
    assert (line["verdict"], line["reason"]) == ("deny", "connect-failed")
    assert "refused" in line["detail"].lower()


# ---------------------------------------------------------------------------------------
# limits


def test_max_conns_per_client(env, fwd):
    f = fwd(allow_common(env), max_conns_per_client="5")
    socks = []
    try:
        for _ in range(5):
            s = connect(env.p_http)
            assert keepalive_get(s, "web.test").startswith(b"hello from web")
            socks.append(s)
        sixth = connect(env.p_http)
        cport = sixth.getsockname()[1]
        sixth.sendall(b"GET / HTTP/1.1\r\nHost: web.test\r\n\r\n")
        assert recv_until_eof(sixth) == b""
        sixth.close()
        line = f.wait_conn(cport)
        assert (line["verdict"], line["reason"]) == ("deny", "limit")
        assert "5" in line["detail"]
        for s in socks:                        # the five still work
            assert keepalive_get(s, "web.test").startswith(b"hello from web")
        gone = socks.pop()                      # one leaves: a new one gets in
        gone_port = gone.getsockname()[1]
        gone.close()
        f.wait_conn(gone_port)                  # the daemon has let it go
        s = connect(env.p_http)
        socks.append(s)
        assert keepalive_get(s, "web.test").startswith(b"hello from web")
        assert len(env.web.accepts) == 6
    finally:
        for s in socks:
            s.close()


# ---------------------------------------------------------------------------------------
# reload


def test_sighup_reload(env, fwd):
    f = fwd(allow_common(env) + ["allow smtp2.test %d private" % env.p_smtp2])
    live = connect(env.p_http)
    live_port = live.getsockname()[1]
    assert keepalive_get(live, "web.test").startswith(b"hello from web")
    # a live TLS connection on a port the reload removes
    raw = connect(env.p_tls)
    live_tls_port = raw.getsockname()[1]
    live_tls = env.ca.client_context().wrap_socket(raw, server_hostname="api.test")
    assert keepalive_get(live_tls, "api.test").startswith(b"hello from api")
    # a live implicitly routed connection whose rule (and port) the reload removes
    live_route = connect(env.p_smtp2)
    live_route_port = live_route.getsockname()[1]
    assert live_route.recv(100).startswith(b"220 smtp2.test")
    new_rules = ["allow **.wild.test %d private" % env.p_http,     # web.test removed
                 "allow new.test %d private" % env.p_new,
                 "allow other.test %d private" % env.p_new]
    other = [l for l in open(f.conf).read().splitlines() if not l.startswith("allow")]
    f.reload(new_rules + other)
    # the live connections keep relaying
    assert keepalive_get(live, "web.test").startswith(b"hello from web")
    assert keepalive_get(live_tls, "api.test").startswith(b"hello from api")
    live_route.sendall(b"NOOP\r\n")
    assert live_route.recv(100) == b"250 NOOP\r\n"
    with pytest.raises(OSError):
        connect(env.p_smtp2).close()
    # new connections follow the new allowlist
    resp, _ = http_get(env.p_http, "web.test")
    assert status_of(resp) == 403
    wait_for(lambda: peers.tcp_listening(FWD, env.p_new), 3, what="the new port to listen")
    resp, cport = http_get(env.p_new, "new.test")
    assert status_of(resp) == 200 and b"hello from new" in resp
    assert f.wait_conn(cport)["rule"] == "new.test"
    # the TLS port is gone
    with pytest.raises(OSError):
        connect(env.p_tls).close()
    # a broken config is refused with FILE:LINE, and the running one stays
    f.reload(new_rules + ["allow bad..name %d" % env.p_new] + other,
             expect="reload refused")
    assert re.search(r"reload refused.*%s:%d: " % (re.escape(f.conf), len(new_rules) + 1),
                     f.stderr()), f.stderr()
    resp, _ = http_get(env.p_new, "new.test")
    assert status_of(resp) == 200
    resp, _ = http_get(env.p_http, "web.test")
    assert status_of(resp) == 403
    assert keepalive_get(live, "web.test").startswith(b"hello from web")
    live.close()
    line = f.wait_conn(live_port)
    assert line["verdict"] == "allow" and line["rule"] == "web.test"
    # the connections that outlived their rules are audited with those rules
    live_tls.close()
    live_route.sendall(b"QUIT\r\n")
    assert recv_until_eof(live_route) == b"221 bye\r\n"
    live_route.close()
    assert f.wait_conn(live_tls_port)["rule"] == "api.test"
    line = f.wait_conn(live_route_port)
    assert (line["rule"], line["via"], line["end"]) == ("smtp2.test", "route", "eof")
    assert f.proc.alive()


# ---------------------------------------------------------------------------------------
# the audit log


def test_audit_one_json_line_per_connection(env, fwd):
    f = fwd(allow_common(env) + ["route %d smtp.test:%d private" % (env.p_smtp, env.p_smtp)])
    ports = {}
    _, p = tls_get(env, env.p_tls, "api.test")[:2]
    ports[p] = ("allow", "sni")
    _, p = http_get(env.p_http, "web.test")
    ports[p] = ("allow", "host")
    _, p = http_get(env.p_http, "evil.test")
    ports[p] = ("deny", "host")
    _, p = http_raw(env.p_http, b"\x00\x01binary junk\r\n\r\n")
    ports[p] = ("deny", None)
    # a client name full of JSON and control characters is escaped, never injected
    _, p = http_raw(env.p_http, b'GET / HTTP/1.1\r\nHost: a"b\\c\x7f.test\r\n\r\n')
    ports[p] = ("deny", None)
    s = connect(env.p_smtp)
    p = s.getsockname()[1]
    s.recv(100)
    s.sendall(b"QUIT\r\n")
    recv_until_eof(s)
    s.close()
    ports[p] = ("allow", "route")
    s = connect(env.p_http)                     # connects and closes without a byte
    p = s.getsockname()[1]
    s.close()
    ports[p] = ("deny", None)
    for p, (verdict, via) in ports.items():
        line = f.wait_conn(p)                   # exactly one line each
        assert line["event"] == "conn" and line["daemon"] == "forwarder"
        assert line["verdict"] == verdict, line
        if via:
            assert line["via"] == via
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$", line["ts"]), line["ts"]
        assert (line["client"], line["client_port"]) == ("127.0.0.1", p)
        assert isinstance(line["port"], int) and isinstance(line["ms"], int)
        if verdict == "allow":
            for k in ("name", "rule", "upstream", "bytes_up", "bytes_down", "end"):
                assert k in line, (k, line)
        else:
            assert line["reason"] in ("not-allowed", "no-name", "peek-timeout", "malformed",
                                      "name-mismatch", "resolve-failed", "no-address",
                                      "connect-failed", "limit"), line
    assert len(f.conn_lines()) == len(ports), f.audit()
    # nothing but audit lines in the audit file; diagnostics stay on stderr
    raw = f.audit_raw()
    assert raw.endswith(b"\n") and all(l.startswith(b"{") for l in raw.split(b"\n")[:-1])


# ---------------------------------------------------------------------------------------
# command line and start-up


def test_check_prints_allowlist(env, fwd):
    f = fwd(allow_common(env) + ["route %d smtp.test:%d private" % (env.p_alt, env.p_smtp)],
            start=False)
    r = subprocess.run([peers.FORWARDER_BIN, "-c", f.conf, "--check"], capture_output=True,
                       env=daemon_env(), timeout=scaled(10))
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert re.search(r"^allow api\.test %d private\t# %s:1$" % (env.p_tls, re.escape(f.conf)),
                     out, re.M), out
    assert re.search(r"^allow \*\*\.wild\.test %d private" % env.p_http, out, re.M)
    assert re.search(r"^route %d smtp\.test:%d private" % (env.p_alt, env.p_smtp), out, re.M)
    assert "peek-timeout 1" in out
    assert "configuration ok" in r.stderr.decode()
    assert not peers.tcp_listening(FWD, env.p_tls)      # --check binds nothing


@pytest.mark.parametrize("bad,line_no,what", [
    ("allow api.test 99999", 2, "port"),
    ("peek-timeout forever", 2, "peek-timeout"),
    ("frobnicate yes", 2, "unknown directive"),
    ("route 25 *.wild.test", 2, "wildcard"),
])
def test_check_bad_config_exit_2_with_file_line(env, fwd, bad, line_no, what):
    f = fwd([], start=False)
    f.write_config(["allow web.test 80", bad])
    for args in (["--check"], []):
        r = subprocess.run([peers.FORWARDER_BIN, "-c", f.conf] + args, capture_output=True,
                           env=daemon_env(), timeout=scaled(10))
        assert r.returncode == 2, (args, r)
        err = r.stderr.decode()
        assert "%s:%d:" % (f.conf, line_no) in err, err
        assert what in err, err


def test_refuses_to_start_when_upstream_is_its_own_resolver(env, fwd):
    p = free_port((FWD,))
    f = fwd(allow_common(env), start=False, upstream="%s:%d" % (FWD, p),
            dns_listen="%s:%d" % (FWD, p))
    f.expected_rc = (2,)
    f.start(wait=False)
    rc = f.proc.popen.wait(scaled(10))
    assert rc == 2, f.stderr()
    assert "loop" in f.stderr()
    assert not peers.tcp_listening(FWD, env.p_tls)


# ---------------------------------------------------------------------------------------
# more of the connection's life: dialling, shutdown, limits, caching, the environment


def test_second_address_dialled_when_first_refuses(env, fwd):
    f = fwd(["allow multi.test %d private" % env.p_http, "allow web.test %d private" % env.p_http])
    for _ in range(2):                          # dnsmasq rotates the order: try both
        t0 = time.monotonic()
        resp, cport = http_get(env.p_http, "multi.test")
        assert status_of(resp) == 200, resp[:200]
        assert time.monotonic() - t0 < scaled(1.0, below=2)     # not at connect-timeout
        line = f.wait_conn(cport)
        assert line["upstream"] == "%s:%d" % (ADDR["web.test"], env.p_http)


def test_connect_timeout_when_upstream_never_answers(env, fwd):
    hole = peers.Blackhole(ADDR["hole.test"], env.p_http)
    try:
        if not hole.works:
            pytest.skip("this kernel accepts past a full backlog: no local black hole")
        f = fwd(["allow hole.test %d private" % env.p_http,
                 "allow web.test %d private" % env.p_http], connect_timeout="1")
        t0 = time.monotonic()
        resp, cport = http_get(env.p_http, "hole.test")
        elapsed = time.monotonic() - t0
        assert status_of(resp) == 502
        assert 0.8 <= elapsed <= 1 + scaled(1.0), elapsed
        line = f.wait_conn(cport)
        assert (line["verdict"], line["reason"]) == ("deny", "connect-failed")
        assert "connect-timeout" in line["detail"]
    finally:
        hole.close()


@pytest.mark.parametrize("name,what", [
    ("mapped.test", "v4mapped"), ("nat64.test", "nat64"), ("sixtofour.test", "6to4"),
    ("teredo.test", "teredo"), ("ula.test", "ula"), ("v6lo.test", "loopback"),
])
def test_special_ipv6_forms_refused_without_private(env, fwd, name, what):
    f = fwd(["allow %s %d" % (name, env.p_http), "allow web.test %d private" % env.p_http])
    resp, cport = http_get(env.p_http, name)
    assert status_of(resp) == 403, resp[:200]
    line = f.wait_conn(cport)
    assert (line["verdict"], line["reason"]) == ("deny", "no-address")
    assert what in line["detail"], line["detail"]


def test_loop_guard_sees_ipv4_mapped_own_address(env, fwd):
    """A name whose only address is ::ffff:127.0.0.1 (the forwarder's own 127.0.0.1 in
    IPv4-mapped form) must be refused as a loop even with `private`, exactly like
    127.0.0.1 itself: an AF_INET6 socket connecting there reaches our own listener."""
    f = fwd(["allow loopmapped.test %d private" % env.p_http,
             "allow web.test %d private" % env.p_http], max_conns_per_client="8")
    resp, cport = http_get(env.p_http, "loopmapped.test")
    lines = wait_for(lambda: f.conn_lines(), 5, what="an audit line")
    time.sleep(1.0)                 # a window to see a second connection (none must come)
    lines = f.conn_lines()
    assert len(lines) == 1, "the forwarder connected to itself: %d connections audited:\n%s" % (
        len(lines), "\n".join(json.dumps(l) for l in lines[:4]))
    assert status_of(resp) == 403, resp[:300]
    line = f.wait_conn(cport)
    assert (line["verdict"], line["reason"]) == ("deny", "no-address")
    assert "loop" in line["detail"]


def test_shutdown_audits_every_open_connection_once(env, fwd):
    f = fwd(allow_common(env) + ["route %d smtp.test:%d private" % (env.p_smtp, env.p_smtp)])
    peeking = connect(env.p_tls)                # says nothing
    relaying = connect(env.p_http)
    assert keepalive_get(relaying, "web.test").startswith(b"hello from web")
    routed = connect(env.p_smtp)
    assert routed.recv(100).startswith(b"220 ")
    ports = {s.getsockname()[1]: s for s in (peeking, relaying, routed)}
    wait_for(lambda: set(ports) <= peers.tcp_peer_ports(f.pid), 5,
             what="the forwarder to accept all three connections")
    f.signal(signal.SIGTERM)
    assert f.proc.popen.wait(scaled(5)) == 0
    try:
        pk = f.wait_conn(peeking.getsockname()[1], timeout=1)
        assert pk["verdict"] == "abort" and pk["end"] == "shutdown" and pk["state"] == "peeking"
        for s in (relaying, routed):
            line = f.wait_conn(s.getsockname()[1], timeout=1)
            assert (line["verdict"], line["end"]) == ("allow", "shutdown"), line
            assert recv_until_eof(s) == b""
        assert len(f.conn_lines()) == 3
    finally:
        for s in ports.values():
            s.close()


def test_max_conns_pauses_accepting_and_resumes(env, fwd):
    f = fwd(allow_common(env), max_conns="3")
    socks = []
    try:
        for _ in range(3):
            s = connect(env.p_http)
            assert keepalive_get(s, "web.test").startswith(b"hello from web")
            socks.append(s)
        waiting = connect(env.p_http)            # the kernel queues it; the daemon waits
        socks.append(waiting)
        waiting.sendall(b"GET /queued HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n")
        waiting.settimeout(0.7)
        with pytest.raises(socket.timeout):
            waiting.recv(1)
        assert len(env.web.accepts) == 3
        socks.pop(0).close()
        waiting.settimeout(TIMEOUT)
        resp = recv_until_eof(waiting)
        assert status_of(resp) == 200 and b"path=/queued" in resp
        for s in socks[:2]:
            assert keepalive_get(s, "web.test").startswith(b"hello from web")
    finally:
        for s in socks:
            s.close()


def test_dns_answers_cached_and_lookups_coalesced(env, fwd):
    f = fwd(["allow co.test %d private" % env.p_http, "allow nx.test %d private" % env.p_http,
             "allow web.test %d private" % env.p_http])
    a_before = [q for q in env.dns.queried("co.test") if q[0] == "A"]
    results = []

    def one():
        try:
            results.append(status_of(http_get(env.p_http, "co.test")[0]))
        except Exception as e:          # reported below
            results.append(repr(e))
    threads = [threading.Thread(target=one) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(scaled(10))
    for _ in range(3):
        one()
    assert results == [200] * 15, results
    a_after = [q for q in env.dns.queried("co.test") if q[0] == "A"]
    assert len(a_after) - len(a_before) == 1, "co.test asked upstream %d times" % (
        len(a_after) - len(a_before))
    nx_before = len(env.dns.queried("nx.test"))
    for _ in range(3):
        assert status_of(http_get(env.p_http, "nx.test")[0]) == 502
    assert len(env.dns.queried("nx.test")) - nx_before <= 2      # A and AAAA, once


def test_http_connect_method_refused(env, fwd):
    f = fwd(allow_common(env))
    hp = "web.test:%d" % env.p_http
    resp, cport = http_raw(env.p_http, ("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (hp, hp))
                           .encode())
    assert status_of(resp) == 400
    assert b"CONNECT is not supported" in resp
    line = f.wait_conn(cport)
    assert (line["verdict"], line["reason"]) == ("deny", "malformed")
    assert_no_upstream_contact(env)


def test_client_closing_before_naming_a_host(env, fwd):
    f = fwd(allow_common(env))
    s = connect(env.p_http)
    cport = s.getsockname()[1]
    s.sendall(b"GET / HTTP/1.1\r\nHost: web")
    s.shutdown(socket.SHUT_WR)
    assert recv_until_eof(s) == b""
    s.close()
    line = f.wait_conn(cport)
    assert (line["verdict"], line["reason"]) == ("deny", "no-name")
    assert "before naming a host" in line["detail"]
    assert_no_upstream_contact(env)


def test_client_reset_is_passed_on_as_reset(env, fwd):
    f = fwd(["route %d smtp.test:%d private" % (env.p_smtp, env.p_smtp)])
    s = connect(env.p_smtp)
    cport = s.getsockname()[1]
    assert s.recv(100).startswith(b"220 ")
    s.sendall(b"NOOP\r\n")
    assert s.recv(100) == b"250 NOOP\r\n"
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()                                   # RST
    line = f.wait_conn(cport)
    assert (line["verdict"], line["end"]) == ("allow", "client-reset")
    conns = env.smtp.snapshot()
    assert len(conns) == 1 and conns[0]["closed"].wait(scaled(3))
    assert isinstance(conns[0].get("error"), ConnectionResetError), conns[0]


def test_audit_flood_is_counted_not_lost(env, fwd):
    f = fwd(allow_common(env), audit_rate="1")      # burst of 10 lines per client
    n = 25
    for _ in range(n):
        resp, _ = http_get(env.p_http, "evil.test")
        assert status_of(resp) == 403
    def settled():
        sup = [a for a in f.audit() if a.get("event") == "suppressed"]
        return sup if len(f.conn_lines()) + sum(x["count"] for x in sup) >= n else None
    sup = wait_for(settled, 5, what="a suppressed line")
    written = len(f.conn_lines())
    assert 5 <= written < n
    assert written + sum(x["count"] for x in sup) == n
    assert all("127.0.0.1" in x["client"] for x in sup), sup


def test_environment_adds_rules(env, fwd):
    f = fwd(["allow api.test %d private" % env.p_tls], env_vars={
        "GATEHOUSE_ALLOW": "web.test:%d:private **.wild.test:%d" % (env.p_http, env.p_http),
        "GATEHOUSE_ROUTE": "%d=smtp.test:%d:private" % (env.p_smtp, env.p_smtp)})
    resp, _ = http_get(env.p_http, "web.test")
    assert status_of(resp) == 200
    s = connect(env.p_smtp)
    assert s.recv(100).startswith(b"220 smtp.test")
    s.close()


def test_route_private_flag_applies_when_name_also_has_a_plain_rule(env, fwd):
    """`allow smtp.test P` and `route P smtp.test:P private`: the routed connection is made
    by the route, which says private. Acceptable outcomes: the route's flag is honoured,
    or the ambiguous pair is refused as a config error. Not acceptable: which rule wins
    depends on line order and the route's `private` is silently ignored."""
    rules = ["allow smtp.test %d" % env.p_smtp,
             "route %d smtp.test:%d private" % (env.p_smtp, env.p_smtp)]
    f = fwd(rules, start=False)
    r = subprocess.run([peers.FORWARDER_BIN, "-c", f.conf, "--check"], capture_output=True,
                       env=daemon_env(), timeout=scaled(10))
    if r.returncode == 2:
        assert "%s:" % f.conf in r.stderr.decode()
        return
    f.start()
    s = connect(env.p_smtp)
    cport = s.getsockname()[1]
    got = s.recv(100)
    s.close()
    line = f.wait_conn(cport)
    assert got.startswith(b"220 "), (got, line)
    assert line["verdict"] == "allow", line


@pytest.mark.parametrize("order", ["allow-first", "route-first"])
def test_route_takes_private_from_the_allow_rule(env, fwd, order):
    """The README's example: `allow NAME P1,P2 private` and `route P2 NAME:P1` (here NAME
    resolves to a loopback address, which needs 'private'). The route takes 'private' from
    the allow rule of its name on its port, in either order: --check passes and the routed
    connection reaches the server (issue 11; it was refused as a conflict before)."""
    rules = ["allow smtp.test %d,%d private" % (env.p_smtp, env.p_alt),
             "route %d smtp.test:%d" % (env.p_alt, env.p_smtp)]
    if order == "route-first":
        rules.reverse()
    f = fwd(rules, start=False)
    r = subprocess.run([peers.FORWARDER_BIN, "-c", f.conf, "--check"], capture_output=True,
                       env=daemon_env(), timeout=10)
    assert r.returncode == 0, r.stderr
    assert "private from the allow rule at %s:" % f.conf in r.stdout.decode()
    f.start()
    s = connect(env.p_alt)
    cport = s.getsockname()[1]
    got = s.recv(100)
    s.close()
    line = f.wait_conn(cport)
    assert got.startswith(b"220 "), (got, line)
    assert line["verdict"] == "allow" and line["via"] == "route", line


def test_routed_port_partial_client_hello_cut_at_peek_timeout(env, fwd):
    """On a routed port the first bytes must confirm the route within peek-timeout too:
    half a ClientHello, then silence, is refused after peek-timeout (1 s), not held
    open until idle-timeout (6 s)."""
    f = fwd(["route %d eof.test:%d private" % (env.p_eof, env.p_eof)], peek_timeout="1",
            idle_timeout="6")
    hello = client_hello_bytes("eof.test")
    s = connect(env.p_eof)
    s.settimeout(scaled(10))
    cport = s.getsockname()[1]
    t0 = time.monotonic()
    s.sendall(hello[:len(hello) // 2])
    assert recv_until_eof(s) == b""
    elapsed = time.monotonic() - t0
    s.close()
    line = f.wait_conn(cport)
    assert (line["verdict"], line["reason"]) == ("deny", "peek-timeout"), line
    assert elapsed <= 1 + scaled(1.0, below=5), \
        "partial ClientHello on a routed port held %.1fs" % elapsed
    for c in env.eof.snapshot():           # dialled at once, but no client byte relayed
        assert bytes(c["received"]) == b""


def test_lookups_in_flight_are_capped(env, fwd):
    silent = SilentUdp(DNS_SILENT_ADDR, env.p_dns_silent)
    try:
        f = fwd(allow_common(env) + ["allow api.wild.test %d private" % env.p_http],
                upstream="%s:%d" % (DNS_SILENT_ADDR, env.p_dns_silent), max_lookups="1",
                lookup_timeout="2")
        first = connect(env.p_http)
        first.sendall(b"GET / HTTP/1.1\r\nHost: web.test\r\n\r\n")
        wait_for(lambda: silent.received > 0, 5, what="the first lookup to be in flight")
        t0 = time.monotonic()
        resp, cport = http_get(env.p_http, "x.wild.test")
        assert time.monotonic() - t0 < scaled(1.0, below=2)
        assert status_of(resp) == 502
        line = f.wait_conn(cport)
        assert (line["reason"], line["detail"]) == ("resolve-failed",
                                                  "too many lookups in flight (max-lookups)")
        resp = recv_until_eof(first)
        first.close()
        assert status_of(resp) == 502
    finally:
        silent.close()


def scrape_metrics(mport):
    """The forwarder's /metrics text (its metrics port is mport + 1)."""
    s = connect(mport + 1)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
    text = recv_until_eof(s).decode()
    s.close()
    return text


def test_metrics_count_what_happened(env, fwd):
    mport = peers.free_metrics_port(FWD)
    f = fwd(allow_common(env), metrics="%s:%d" % (FWD, mport))
    assert status_of(http_get(env.p_http, "web.test")[0]) == 200
    assert status_of(http_get(env.p_http, "evil.test")[0]) == 403

    def ended():
        text = scrape_metrics(mport)
        return text if re.search(r'^gatehouse_connections_active 0$', text, re.M) else None
    # the client may read its answer before the daemon has closed and counted the connection
    text = wait_for(ended, 5, what="both connections to be counted as ended")
    assert re.search(r'gatehouse_connections_total\{policy="default",verdict="allow",via="host"\} 1\b', text), text
    assert re.search(r'gatehouse_connections_total\{policy="default",verdict="deny",reason="not-allowed"\} 1\b',
                     text), text
    assert re.search(r'^gatehouse_connections_active 0$', text, re.M), text
    s = connect(mport + 1)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
    assert status_of(recv_until_eof(s)) == 200
    s.close()


def test_help_and_version(env):
    for arg in ("--help", "--version"):
        r = subprocess.run([peers.FORWARDER_BIN, arg], capture_output=True,
                           env=daemon_env(), timeout=scaled(10))
        assert r.returncode == 0 and r.stdout, (arg, r)
    r = subprocess.run([peers.FORWARDER_BIN, "--bogus"], capture_output=True,
                       env=daemon_env(), timeout=scaled(10))
    assert r.returncode == 2


def test_out_of_descriptors_backs_off_and_recovers(env, fwd):
    """RLIMIT_NOFILE 48: more idle clients than descriptors. The daemon must not spin on
    EMFILE, must stay up, and must serve again once the clients leave."""
    f = fwd(allow_common(env), nofile=48, peek_timeout="10", max_conns="1000")
    socks = []
    try:
        for _ in range(70):
            socks.append(connect(env.p_http))
        wait_for(lambda: "Too many open files" in f.stderr(), 5,
                 what="the forwarder to run out of descriptors")
        cpu0 = f.cpu_seconds()
        time.sleep(1.5)
        used = f.cpu_seconds() - cpu0
        assert used < 0.5, "forwarder used %.2fs of CPU in 1.5s while out of descriptors" % used
        assert f.proc.alive()
        assert f.fd_count() <= 48
    finally:
        for s in socks:
            s.close()
    def serves():
        try:
            return status_of(http_get(env.p_http, "web.test")[0]) == 200
        except OSError:
            return False
    wait_for(serves, 5, interval=0.2, what="the forwarder to serve again")
    assert f.proc.alive()


def test_tls_resolve_failure_is_an_internal_error_alert(env, fwd):
    f = fwd(allow_common(env) + ["allow **.wild.test %d private" % env.p_tls])
    raw = connect(env.p_tls)
    cport = raw.getsockname()[1]
    with pytest.raises(ssl.SSLError) as ei:
        with env.ca.client_context().wrap_socket(raw, server_hostname="nothere.wild.test") as s:
            s.recv(1)
    assert "INTERNAL_ERROR" in str(ei.value).upper(), str(ei.value)
    raw.close()
    assert f.wait_conn(cport)["reason"] == "resolve-failed"


def test_name_is_lowercased_for_the_upstream_lookup(env, fwd):
    f = fwd(allow_common(env))
    before = len(env.dns.queried("web.test"))
    resp, cport = http_get(env.p_http, "WEB.Test.")
    assert status_of(resp) == 200
    assert env.web.requests[-1]["host"] == "WEB.Test."     # the client's bytes, unchanged
    new = env.dns.queried("web.test")[before:]
    assert new and all(q[1] == "web.test" for q in new), new
    assert f.wait_conn(cport)["name"] == "web.test"
