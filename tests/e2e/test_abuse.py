"""Abuse from inside the constrained network: bursts of malformed DNS packets and of half
(or dripped, or garbage) ClientHellos, all sent from the client namespace's second address
(the "attacker", 10.77.0.66, so its flood has its own audit bucket). Both daemons keep
running and keep answering the well-behaved client during and after the burst, and the
audit log accounts for every packet and connection: one line each, or a `suppressed` count.
"""

import os
import random
import select
import selectors
import socket
import struct
import time

import dns.rcode

from gh_testlib import client_hello_bytes, dns_header, dns_name, scaled, scaled_arg, wait_until
import helpers
import topology as T

CLIENT_ADDRS = (T.CLIENT4, T.CLIENT6)
PEEK_TIMEOUT = 2.0      # topology config: peek-timeout 2


OPT = b"\x00" + struct.pack(">HHIH", 41, 1232, 0, 0)          # EDNS0, no options
OPT_V1 = b"\x00" + struct.pack(">HHIH", 41, 1232, 0x00010000, 0)  # EDNS version 1
Q = dns_name("api.example.test") + struct.pack(">HH", 1, 1)


def malformed(i, rnd):
    """The i-th malformed (or merely hostile) DNS message of the burst."""
    kind = i % 16
    qid = i & 0xffff
    if kind == 0:
        return b""                                              # empty datagram
    if kind == 1:
        return rnd.randbytes(rnd.randrange(1, 12))              # shorter than a header
    if kind == 2:
        return dns_header(qid, 0x8180) + Q                            # a response (QR=1)
    if kind == 3:
        return dns_header(qid, qd=0)                                  # no question
    if kind == 4:
        return dns_header(qid, qd=2) + Q + Q                          # two questions
    if kind == 5:
        return dns_header(qid) + b"\xc0\x0c" + struct.pack(">HH", 1, 1)  # pointer loop
    if kind == 6:
        return dns_header(qid) + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01"  # name > 255
    if kind == 7:
        return dns_header(qid) + b"\x03api\x07exam"                   # truncated question
    if kind == 8:
        return dns_header(qid, 0x2800) + Q                            # opcode UPDATE
    if kind == 9:
        return dns_header(qid) + dns_name("api.example.test") + struct.pack(">HH", 1, 3)  # CHAOS
    if kind == 10:
        return dns_header(qid, ar=1) + Q + OPT_V1                     # EDNS version 1
    if kind == 11:
        return dns_header(qid, ar=2) + Q + OPT + OPT                  # two OPT records
    if kind == 12:
        return dns_header(qid, 0x0300) + Q                            # TC=1 in a query
    if kind == 13:
        return dns_header(qid) + dns_name("evil.test") + struct.pack(">HH", 252, 1)  # AXFR
    if kind == 14:
        return dns_header(qid, an=1) + Q + rnd.randbytes(20)          # an answer in a query
    return dns_header(qid) + rnd.randbytes(rnd.randrange(0, 600))     # random after a header


def _udp_snmp(topo):
    """The gateway namespace's UDP counters (RcvbufErrors: datagrams the kernel dropped)."""
    lines = [x.split() for x in topo.sh("cat", "/proc/net/snmp", ns=topo.gw_ns).stdout
             .splitlines() if x.startswith("Udp:")]
    return dict(zip(lines[0][1:], map(int, lines[1][1:])))


def _attacker_lines(topo, daemon, since):
    out, suppressed = [], 0
    for e in topo.audit(daemon)[since[daemon]:]:
        if e.get("client") != T.ATTACKER4:
            continue
        if e.get("event") == "suppressed":
            suppressed += e["count"]
        else:
            out.append(e)
    return out, suppressed


def _attacker_lines_settled(topo, daemon, since, want):
    """_attacker_lines once the lines and suppressed counts reach want (or after 6 s,
    scaled): the caller asserts the exact total."""
    return wait_until(lambda: _attacker_lines(topo, daemon, since),
                      lambda got: len(got[0]) + got[1] >= want, 6, interval=0.1)


def test_malformed_dns_burst(topo):
    rnd = random.Random(4)
    n = 1600
    mark = topo.mark()
    before = _udp_snmp(topo)
    s = topo.socket(topo.client_ns, socket.AF_INET, socket.SOCK_DGRAM, bind=T.ATTACKER4)
    s.setblocking(False)
    try:
        for i in range(n):
            msg = malformed(i, rnd)
            for _ in range(100):
                try:
                    s.sendto(msg, (T.GW_IN4, 53))
                    break
                except BlockingIOError:
                    time.sleep(0.01)
            else:
                raise AssertionError("could not send the burst")
            if i % 50 == 49:
                time.sleep(0.005)       # paced, so the kernel rarely drops any
                try:
                    while s.recv(4096):
                        pass
                except BlockingIOError:
                    pass
    finally:
        s.close()
    # The resolver still answers, the attacker and the client alike.
    r = helpers.ask(topo, "api.example.test", "A", src=T.ATTACKER4)
    assert r.rcode() == dns.rcode.NOERROR and r.answer, r
    topo.expect_query("api.example.test", "allow", (T.CLIENT4,))
    t0 = time.monotonic()
    r = helpers.ask(topo, "api.example.test", "A", src=T.CLIENT4)
    assert r.rcode() == dns.rcode.NOERROR and time.monotonic() - t0 < scaled(1.0)
    # Accounting: every datagram that reached the daemon has a line or is counted.
    kernel_dropped = _udp_snmp(topo)["RcvbufErrors"] - before["RcvbufErrors"]
    want = n + 1 - kernel_dropped
    lines, suppressed = _attacker_lines_settled(topo, "gatehouse-resolver", mark, want)
    assert len(lines) + suppressed == want, (len(lines), suppressed, kernel_dropped)
    assert suppressed > 0, "a burst over the per-client audit rate should be counted"
    verdicts = {e["verdict"] for e in lines}
    assert {"drop", "invalid"} <= verdicts, verdicts
    rcodes = {e.get("rcode") for e in lines}
    assert {"FORMERR", "REFUSED", "BADVERS"} <= rcodes and "NOTIMP" in rcodes, rcodes
    # and the well-behaved client's lines were not suppressed with the attacker's
    topo.wait_audit("gatehouse-resolver", lambda e: e.get("client") == T.CLIENT4 and
                    e.get("qname") == "api.example.test", since=mark)


def test_hostile_dns_over_tcp(topo):
    """TCP: a length prefix promising 65535 bytes then silence, half a length prefix,
    garbage frames, a zero-length frame, many pipelined queries; the resolver answers the
    pipelined ones and a fresh client at once, while the stalled connections are open."""
    held = []
    try:
        for payload in (b"\xff\xff", b"\x00", b"\x00\x05hello", b"\x00\x00",
                        b"\x00\x0c" + b"\x00" * 12, bytes(range(256)) * 4):
            s = topo.socket(topo.client_ns, socket.AF_INET, socket.SOCK_STREAM,
                            bind=T.ATTACKER4)
            s.settimeout(scaled(3))
            s.connect((T.GW_IN4, 53))
            s.sendall(payload)
            held.append(s)
        # 50 pipelined queries on one connection, all answered
        s = topo.socket(topo.client_ns, socket.AF_INET, socket.SOCK_STREAM, bind=T.ATTACKER4)
        s.settimeout(scaled(5))
        s.connect((T.GW_IN4, 53))
        held.append(s)
        q = b"".join(struct.pack(">H", 12 + len(Q)) + dns_header(i) + Q for i in range(50))
        s.sendall(q)
        got, buf = set(), b""
        deadline = time.monotonic() + scaled(5)
        while len(got) < 50 and time.monotonic() < deadline:
            data = s.recv(65536)
            if not data:
                break
            buf += data
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
                ln = struct.unpack(">H", buf[:2])[0]
                got.add(struct.unpack(">H", buf[2:4])[0])
                buf = buf[2 + ln:]
        assert got == set(range(50))
        topo.expect_query("www.example.test", "allow", (T.CLIENT4,))
        r = helpers.ask(topo, "www.example.test", "A", tcp=True)
        assert r.rcode() == dns.rcode.NOERROR and r.answer
    finally:
        for s in held:
            s.close()


def _recv_until_closed(socks, deadline):
    """Wait until every socket is closed by the peer (EOF or reset); returns
    {sock: (seconds since start, first bytes received)} for those that were."""
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    closed, start, got = {}, time.monotonic(), {}
    while len(closed) < len(socks) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.1):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except (ConnectionResetError, OSError):
                data = b""
            if data:
                got[s] = got.get(s, b"") + data
                continue
            closed[s] = (time.monotonic() - start, got.get(s, b""))
            sel.unregister(s)
    sel.close()
    return closed


def test_half_client_hellos_and_drips(topo):
    hello = client_hello_bytes("api.example.test")
    assert len(hello) > 200 and hello[0] == 0x16
    mark = topo.mark()
    socks = []
    t0 = time.monotonic()
    try:
        # 40 half ClientHellos: the record header and a part of the handshake, then silence
        for i in range(40):
            s = topo.socket(topo.client_ns, socket.AF_INET, socket.SOCK_STREAM,
                            bind=T.ATTACKER4)
            s.settimeout(scaled(3))
            s.connect((T.GW_IN4, 443))
            s.sendall(hello[:6 + (i * 7) % (len(hello) - 10)])
            socks.append(s)
        # 5 that drip the ClientHello one byte every 100 ms: the peek deadline is total
        drips = {}
        for _ in range(5):
            s = topo.socket(topo.client_ns, socket.AF_INET, socket.SOCK_STREAM,
                            bind=T.ATTACKER4)
            s.settimeout(scaled(3))
            s.connect((T.GW_IN4, 443))
            drips[s] = time.monotonic()
        # 10 that send garbage: refused at once
        garbage = []
        for i in range(10):
            s = topo.socket(topo.client_ns, socket.AF_INET, socket.SOCK_STREAM,
                            bind=T.ATTACKER4)
            s.settimeout(scaled(3))
            s.connect((T.GW_IN4, 443))
            s.sendall(b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00" if i % 2 else
                      os.urandom(64))
            garbage.append(s)
        # While all of that is open, a real client is served.
        r = topo.client(["curl", "-sS", "-4", "--max-time", scaled_arg(10),
                         "--cacert", topo.ca_path,
                         "https://api.example.test/during-abuse"])
        topo.expect_query("api.example.test", "allow", CLIENT_ADDRS)
        topo.expect_conn(443, "allow", "api.example.test", (T.CLIENT4,))
        assert r.returncode == 0, r.stderr
        assert r.stdout == "hello from api.example.test over https\n"
        # Drip for up to 6 s; each drip connection must be cut at its peek deadline (2 s
        # after its accept), not kept alive by the trickle.
        dripped_for = {}
        for k in range(60):
            for s, since in list(drips.items()):
                r, _, _ = select.select([s], [], [], 0)
                try:
                    if r:
                        s.recv(4096)        # an alert or EOF: the gateway hung up
                        raise ConnectionResetError
                    s.send(hello[k:k + 1])
                except OSError:
                    dripped_for[s] = time.monotonic() - since
                    del drips[s]
                    socks.append(s)
            if not drips:
                break
            time.sleep(0.1)
        assert not drips, "the gateway let a ClientHello drip on past its peek deadline"
        assert max(dripped_for.values()) < PEEK_TIMEOUT + scaled(1.5), dripped_for
        socks += garbage
        closed = _recv_until_closed(socks, t0 + PEEK_TIMEOUT + scaled(8))
        assert len(closed) == len(socks), f"{len(socks) - len(closed)} connections left open"
        # every one was closed by the peek deadline (2 s after its accept), plus slack
        assert max(t for t, _ in closed.values()) < PEEK_TIMEOUT + scaled(6)
    finally:
        for s in socks:
            s.close()
    # Accounting: one deny line per connection (or a suppressed count).
    total = 40 + 5 + 10
    lines, suppressed = _attacker_lines_settled(topo, "gatehouse-forwarder", mark, total)
    assert len(lines) + suppressed == total, (len(lines), suppressed)
    assert all(e["verdict"] == "deny" for e in lines), lines
    reasons = {e["reason"] for e in lines}
    assert "peek-timeout" in reasons and "malformed" in reasons, reasons
    # and the forwarder still serves
    r = topo.client(["curl", "-sS", "-4", "--max-time", scaled_arg(10), "--cacert", topo.ca_path,
                     "https://api.example.test/after-abuse"])
    topo.expect_conn(443, "allow", "api.example.test", (T.CLIENT4,))
    assert r.returncode == 0, r.stderr


def raw_client_hello(sni):
    """A minimal ClientHello carrying sni (any bytes) as its host_name."""
    sn = b"\x00" + struct.pack(">H", len(sni)) + sni
    sn_list = struct.pack(">H", len(sn)) + sn
    ext = struct.pack(">HH", 0, len(sn_list)) + sn_list
    body = (b"\x03\x03" + os.urandom(32) + b"\x00" + struct.pack(">H", 2) + b"\x13\x01" +
            b"\x01\x00" + struct.pack(">H", len(ext)) + ext)
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


HOSTILE = [b'a"b', b"c\\d", b'e\nf{"x":1}', b"\xff\xfe", b"\x00zero", b"tab\there", b"\x1b[31mred"]


def test_hostile_names_cannot_inject_audit_lines(topo):
    """Names with quotes, backslashes, newlines, NULs, escape sequences and invalid UTF-8,
    in DNS questions, SNI and Host fields: each attempt is one valid JSON line (or
    counted), never a broken or extra line."""
    mark = topo.mark()
    s = topo.socket(topo.client_ns, socket.AF_INET, socket.SOCK_DGRAM, bind=T.ATTACKER4)
    s.settimeout(scaled(3))
    try:
        for i, label in enumerate(HOSTILE):
            s.sendto(dns_header(0x7000 + i) + bytes([len(label)]) + label + b"\x04test\x00" +
                     struct.pack(">HH", 1, 1), (T.GW_IN4, 53))
            assert s.recv(4096)[:2] == struct.pack(">H", 0x7000 + i)    # answered
    finally:
        s.close()
    conns = 0
    for label in HOSTILE:
        for payload in (raw_client_hello(label + b".example.test"),
                        b"GET / HTTP/1.1\r\nHost: " + label + b".test\r\n\r\n"):
            port = 443 if payload[0] == 0x16 else 80
            c = topo.socket(topo.client_ns, socket.AF_INET, socket.SOCK_STREAM,
                            bind=T.ATTACKER4)
            c.settimeout(scaled(5))
            try:
                c.connect((T.GW_IN4, port))
                c.sendall(payload)
                c.recv(4096)                     # the refusal (alert / 4xx) or EOF
            except OSError:
                pass
            finally:
                c.close()
            conns += 1
    for daemon, want in (("gatehouse-resolver", len(HOSTILE)), ("gatehouse-forwarder", conns)):
        lines, suppressed = _attacker_lines_settled(topo, daemon, mark, want)  # all parse
        assert len(lines) + suppressed == want, (daemon, len(lines), suppressed, lines)
    with open(topo.audit_path("gatehouse-resolver"), "rb") as f:
        raw = f.read()
    assert b'e\nf{"x":1}' not in raw and b"\x1b[31m" not in raw
