"""gatehouse-resolver on the wire: the real daemon on 127.0.0.1 and ::1, real clients
(dnspython, raw sockets, dig), its audit file, signals and command line.

Run: /usr/bin/python3 -m pytest -q tests/integration/test_resolver.py
(the daemons from $GATEHOUSE_BUILD, default build/)
"""

import json
import math
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import time

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from conftest import dns_ready, recv_exact, tcp_frame
from gh_testlib import dns_header, dns_question, scaled, wait_for
from peers import free_port, have_ipv6, tcp_buffer_max

RESOLVER = "gatehouse-resolver"
T = scaled(2.0)                 # timeout of every socket operation, seconds
V6 = have_ipv6()
RULES = """allow smtp.gmail.com 465,587
allow **.githubusercontent.com 443
allow allowed.example 443
"""


def start(gh, extra="", rules=RULES, port=None, v6=V6, **kw):
    """The resolver on 127.0.0.1:port (and [::1]:port) with RULES, answer auto."""
    port = port or free_port()
    listen = f"127.0.0.1:{port}" + (f" [::1]:{port}" if v6 else "")
    conf = f"{rules}dns-listen {listen}\n{extra}"
    d = gh.start(RESOLVER, conf, ready=dns_ready("127.0.0.1", port), **kw)
    d.port = port
    return d


def udp(d, q, addr="127.0.0.1", **kw):
    return dns.query.udp(q, addr, port=d.port, timeout=T, ignore_unexpected=True, **kw)


def tcp(d, q, addr="127.0.0.1", **kw):
    return dns.query.tcp(q, addr, port=d.port, timeout=T, **kw)


def raw_udp(d, data, addr="127.0.0.1", wait=T):
    """Send bytes, return the answer's bytes or None when nothing came within wait."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(wait)
        s.sendto(data, (addr, d.port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def recv_msg(s):
    (n,) = struct.unpack(">H", recv_exact(s, 2))
    return recv_exact(s, n)


def addrs(resp, rdtype):
    return sorted(r.address for rr in resp.answer if rr.rdtype == rdtype for r in rr)


def ede_codes(resp):
    return [o.code for o in resp.options if o.otype == dns.edns.OptionType.EDE]


def soa(resp):
    soas = [rr for rr in resp.authority if rr.rdtype == dns.rdatatype.SOA]
    assert len(soas) == 1, resp
    return soas[0]


def flags_ok(resp, query):
    assert resp.id == query.id
    assert resp.flags & dns.flags.QR
    assert resp.flags & dns.flags.AA
    assert resp.flags & dns.flags.RA
    assert (resp.flags & dns.flags.RD) == (query.flags & dns.flags.RD)


# ---- answers -----------------------------------------------------------------------------------

def test_allowed_a_udp_tcp_and_aaaa_v6(gatehouse):
    d = start(gatehouse)
    q = dns.message.make_query("smtp.gmail.com", "A")
    for resp in (udp(d, q), tcp(d, q)):
        flags_ok(resp, q)
        assert resp.rcode() == dns.rcode.NOERROR
        assert addrs(resp, dns.rdatatype.A) == ["127.0.0.1"]   # the address asked
        assert resp.answer[0].ttl == 60
    q = dns.message.make_query("raw.githubusercontent.com", "A", use_edns=0, payload=1232)
    resp = udp(d, q)
    assert addrs(resp, dns.rdatatype.A) == ["127.0.0.1"]
    assert resp.edns == 0 and resp.payload == 1232 and ede_codes(resp) == []
    if V6:
        q = dns.message.make_query("smtp.gmail.com", "AAAA")
        for resp in (udp(d, q, addr="::1"), tcp(d, q, addr="::1")):
            flags_ok(resp, q)
            assert addrs(resp, dns.rdatatype.AAAA) == ["::1"]
        # A over IPv6: the v4 address of the interface it arrived on (lo: 127.0.0.1)
        resp = udp(d, dns.message.make_query("smtp.gmail.com", "A"), addr="::1")
        assert addrs(resp, dns.rdatatype.A) == ["127.0.0.1"]


def test_wildcard_listener_answers_with_the_address_asked(gatehouse):
    """`answer auto` on a 0.0.0.0 socket: A is the address the query was sent to, and the
    answer comes from that address (dnspython ignores replies from any other)."""
    port = free_port(addrs=("0.0.0.0", "::"))
    listen = f"0.0.0.0:{port}" + (f" [::]:{port}" if V6 else "")
    d = gatehouse.start(RESOLVER, RULES + f"dns-listen {listen}\n",
                        ready=dns_ready("127.0.0.1", port))
    d.port = port
    for addr in ("127.0.0.1", "127.0.0.2", "127.3.4.5"):
        q = dns.message.make_query("smtp.gmail.com", "A")
        assert addrs(udp(d, q, addr=addr), dns.rdatatype.A) == [addr]
        assert addrs(tcp(d, q, addr=addr), dns.rdatatype.A) == [addr]
    if V6:
        q = dns.message.make_query("smtp.gmail.com", "AAAA")
        assert addrs(udp(d, q, addr="::1"), dns.rdatatype.AAAA) == ["::1"]
        assert addrs(tcp(d, q, addr="::1"), dns.rdatatype.AAAA) == ["::1"]
        # AAAA asked over IPv4: the IPv6 address of the interface it arrived on (lo: ::1)
        resp = udp(d, dns.message.make_query("smtp.gmail.com", "AAAA"), addr="127.0.0.2")
        assert addrs(resp, dns.rdatatype.AAAA) == ["::1"]


def test_fixed_answer(gatehouse):
    d = start(gatehouse, "answer 192.0.2.7 2001:db8::7\nttl 120\n")
    resp = udp(d, dns.message.make_query("smtp.gmail.com", "A"))
    assert addrs(resp, dns.rdatatype.A) == ["192.0.2.7"]
    assert resp.answer[0].ttl == 120
    resp = tcp(d, dns.message.make_query("smtp.gmail.com", "AAAA"))
    assert addrs(resp, dns.rdatatype.AAAA) == ["2001:db8::7"]
    resp = udp(d, dns.message.make_query("smtp.gmail.com", "ANY"))
    assert addrs(resp, dns.rdatatype.A) == ["192.0.2.7"]
    assert addrs(resp, dns.rdatatype.AAAA) == ["2001:db8::7"]
    if V6:
        resp = udp(d, dns.message.make_query("smtp.gmail.com", "A"), addr="::1")
        assert addrs(resp, dns.rdatatype.A) == ["192.0.2.7"]


def test_blocked_nxdomain_soa_ede(gatehouse):
    d = start(gatehouse, "negative-ttl 42\n")
    for t in ("A", "AAAA", "MX", "HTTPS"):
        q = dns.message.make_query("evil.example", t, use_edns=0, want_dnssec=True)
        resp = udp(d, q)
        flags_ok(resp, q)
        assert resp.rcode() == dns.rcode.NXDOMAIN
        assert resp.answer == []
        s = soa(resp)
        assert s.ttl == 42 and s[0].minimum == 42
        assert ede_codes(resp) == [dns.edns.EDECode.BLOCKED]
        assert resp.ednsflags & dns.flags.DO                      # DO copied
    q = dns.message.make_query("evil.example", "A")               # no EDNS: no OPT
    resp = tcp(d, q)
    assert resp.rcode() == dns.rcode.NXDOMAIN and resp.edns == -1
    soa(resp)
    # the apex of a wildcard is not covered; a deeper name is
    assert udp(d, dns.message.make_query("githubusercontent.com", "A")).rcode() == \
        dns.rcode.NXDOMAIN
    assert udp(d, dns.message.make_query("a.b.githubusercontent.com", "A")).rcode() == \
        dns.rcode.NOERROR


def test_blocked_refused_mode(gatehouse):
    d = start(gatehouse, "blocked refused\n")
    q = dns.message.make_query("evil.example", "A", use_edns=0)
    resp = udp(d, q)
    assert resp.rcode() == dns.rcode.REFUSED
    assert ede_codes(resp) == [dns.edns.EDECode.BLOCKED]
    assert udp(d, dns.message.make_query("smtp.gmail.com", "A")).rcode() == dns.rcode.NOERROR


def test_table_rows_on_the_wire(gatehouse):
    d = start(gatehouse)
    # allowed, other types: NODATA (NOERROR, no answer, SOA)
    for t in ("HTTPS", "SVCB", "MX", "TXT", "SRV", "CNAME"):
        q = dns.message.make_query("smtp.gmail.com", t, use_edns=0)
        resp = udp(d, q)
        flags_ok(resp, q)
        assert resp.rcode() == dns.rcode.NOERROR and resp.answer == [], t
        soa(resp)
        assert ede_codes(resp) == []
    # ANY: RFC 8482, the A (and AAAA) answer
    resp = udp(d, dns.message.make_query("smtp.gmail.com", "ANY"))
    assert addrs(resp, dns.rdatatype.A) == ["127.0.0.1"]
    assert set(addrs(resp, dns.rdatatype.AAAA)) <= {"::1"}
    # QDCOUNT 0 as raw bytes: FORMERR, ID echoed
    ans = raw_udp(d, dns_header(0x4242, qd=0))
    assert ans is not None
    m = dns.message.from_wire(ans)
    assert m.id == 0x4242 and m.rcode() == dns.rcode.FORMERR and m.flags & dns.flags.QR
    # two questions: FORMERR
    ans = raw_udp(d, dns_header(0x4243, qd=2) + dns_question("smtp.gmail.com") +
                  dns_question("smtp.gmail.com", 28))
    assert dns.message.from_wire(ans).rcode() == dns.rcode.FORMERR
    # a compression pointer in the question: FORMERR
    ans = raw_udp(d, dns_header(0x4244) + b"\xc0\x0c\x00\x01\x00\x01")
    assert ans[:2] == b"\x42\x44" and ans[3] & 0xf == dns.rcode.FORMERR
    # opcode NOTIFY: NOTIMP
    q = dns.message.make_query("smtp.gmail.com", "SOA")
    q.set_opcode(dns.opcode.NOTIFY)
    resp = udp(d, q)
    assert resp.rcode() == dns.rcode.NOTIMP and resp.opcode() == dns.opcode.NOTIFY
    # EDNS version 1: BADVERS, with an OPT of version 0 (dnspython reads use_edns=1 as
    # True, so the version byte is patched: the OPT is the last 11 bytes, version at -5)
    q = dns.message.make_query("smtp.gmail.com", "A", use_edns=0)
    w = bytearray(q.to_wire())
    assert w[-11:-7] == b"\x00\x00\x29\x04"
    w[-5] = 1
    resp = dns.message.from_wire(raw_udp(d, bytes(w)))
    assert resp.id == q.id
    assert resp.rcode() == dns.rcode.BADVERS and resp.edns == 0
    assert resp.answer == [] and resp.authority == []
    # class CH: REFUSED
    q = dns.message.make_query("version.bind", "TXT", rdclass=dns.rdataclass.CH)
    assert udp(d, q).rcode() == dns.rcode.REFUSED
    # AXFR over TCP: REFUSED
    q = dns.message.make_query("smtp.gmail.com", "AXFR")
    assert tcp(d, q).rcode() == dns.rcode.REFUSED
    # TC=1 in a query: FORMERR
    ans = raw_udp(d, dns_header(0x4245, flags=0x0300) + dns_question("smtp.gmail.com"))
    assert dns.message.from_wire(ans).rcode() == dns.rcode.FORMERR


def test_0x20_case_is_copied(gatehouse):
    d = start(gatehouse)
    qname = "SmTp.GmAiL.CoM"
    q = dns_header(0x2020) + dns_question(qname)
    ans = raw_udp(d, q)
    assert ans[12:12 + len(q) - 12] == q[12:]       # the question exactly as sent
    m = dns.message.from_wire(ans)
    assert [r.address for r in m.answer[0]] == ["127.0.0.1"]


def test_udp_truncation_and_tcp_fallback(gatehouse):
    # 60 IPv6 addresses (a line holds at most 64 values): 60 * 28 + 37 = 1717 bytes
    many = " ".join(f"2001:db8::{i:x}" for i in range(1, 61))
    d = start(gatehouse, f"answer 192.0.2.1 {many}\n")
    q = dns.message.make_query("smtp.gmail.com", "AAAA")            # no EDNS: 512
    ans = raw_udp(d, q.to_wire())
    assert len(ans) <= 512
    resp = dns.message.from_wire(ans, raise_on_truncation=False)
    assert resp.flags & dns.flags.TC and resp.answer == []
    assert resp.question[0].name == q.question[0].name
    q = dns.message.make_query("smtp.gmail.com", "AAAA", use_edns=0, payload=4096)
    ans = raw_udp(d, q.to_wire())
    assert len(ans) <= 1232
    resp = dns.message.from_wire(ans, raise_on_truncation=False)
    assert resp.flags & dns.flags.TC and resp.edns == 0 and resp.payload == 1232
    resp = tcp(d, q)
    assert not resp.flags & dns.flags.TC
    assert len(addrs(resp, dns.rdatatype.AAAA)) == 60
    # dnspython's own fallback: UDP, TC, then TCP
    resp, used_tcp = dns.query.udp_with_fallback(q, "127.0.0.1", port=d.port, timeout=T)
    assert used_tcp and len(addrs(resp, dns.rdatatype.AAAA)) == 60
    lines = d.wait_audit(lambda l: l.get("tc") == 1, count=2)
    assert all(l["proto"] == "udp" and "answer" not in l for l in lines)


# ---- malformed input and the drop rule ------------------------------------------------------------

def test_garbage_and_responses_get_no_answer(gatehouse):
    d = start(gatehouse)
    rnd = random.Random(7)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        sent = []
        for n in range(0, 12):                              # under a header
            sent.append(bytes(rnd.randrange(256) for _ in range(n)))
        for n in (12, 40, 300, 1500):                       # QR=1: responses
            b = bytearray(rnd.randrange(256) for _ in range(n))
            b[2] |= 0x80
            sent.append(bytes(b))
        resp = dns.message.make_response(dns.message.make_query("smtp.gmail.com", "A"))
        sent.append(resp.to_wire())
        for b in sent:
            s.sendto(b, ("127.0.0.1", d.port))
        with pytest.raises(socket.timeout):
            s.recv(65535)
        # garbage with QR clear gets an error answer carrying its ID, never a crash
        for n in (12, 13, 64, 512, 4000):
            b = bytearray(rnd.randrange(256) for _ in range(n))
            b[2] &= 0x7f
            ans = raw_udp(d, bytes(b))
            assert ans is not None and ans[:2] == bytes(b[:2])
            assert len(ans) <= 512 or (ans[3] & 0xf) == 0
    # still answering
    assert udp(d, dns.message.make_query("smtp.gmail.com", "A")).rcode() == dns.rcode.NOERROR
    d.assert_running()


def test_audit_malformed_invalid_with_reason(gatehouse):
    d = start(gatehouse)
    raw_udp(d, dns_header(0x0bad, qd=0))
    q = dns.message.make_query("smtp.gmail.com", "A")
    q.set_opcode(dns.opcode.NOTIFY)
    udp(d, q)
    lines = d.wait_audit(lambda l: l.get("verdict") == "invalid", count=2)
    by_reason = {l["reason"]: l for l in lines}
    assert by_reason["qdcount"]["rcode"] == "FORMERR"
    assert "qname" not in by_reason["qdcount"]
    assert by_reason["opcode"]["rcode"] == "NOTIMP"
    assert by_reason["opcode"]["qname"] == "smtp.gmail.com"


# ---- TCP -------------------------------------------------------------------------------------------

def test_tcp_pipelined_in_one_write(gatehouse):
    d = start(gatehouse)
    ids = list(range(0x100, 0x100 + 12))
    names = ["smtp.gmail.com", "evil.example"]
    blob = b"".join(tcp_frame(dns_header(i) + dns_question(names[i % 2], 1)) for i in ids)
    with socket.create_connection(("127.0.0.1", d.port), timeout=T) as s:
        s.sendall(blob)
        got = {}
        for _ in ids:
            m = dns.message.from_wire(recv_msg(s))
            got[m.id] = m
    assert sorted(got) == ids
    for i, m in got.items():
        want = dns.rcode.NOERROR if i % 2 == 0 else dns.rcode.NXDOMAIN
        assert m.rcode() == want


def test_tcp_query_split_byte_by_byte(gatehouse):
    d = start(gatehouse)
    msg = tcp_frame(dns.message.make_query("smtp.gmail.com", "A", use_edns=0).to_wire())
    with socket.create_connection(("127.0.0.1", d.port), timeout=T) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(msg)):
            s.sendall(msg[i:i + 1])
            time.sleep(0.002)
        m = dns.message.from_wire(recv_msg(s))
    assert addrs(m, dns.rdatatype.A) == ["127.0.0.1"]


def test_tcp_idle_timeout(gatehouse):
    d = start(gatehouse, "dns-tcp-idle 1\n")
    with socket.create_connection(("127.0.0.1", d.port), timeout=scaled(4)) as s:
        t0 = time.monotonic()
        try:
            data = s.recv(10)
        except ConnectionResetError:
            data = b""
        waited = time.monotonic() - t0
    assert data == b""
    assert 0.7 <= waited <= scaled(3.0), waited
    # an active connection is closed after the same idle time once it goes quiet
    with socket.create_connection(("127.0.0.1", d.port), timeout=scaled(4)) as s:
        s.sendall(tcp_frame(dns_header(1) + dns_question("smtp.gmail.com")))
        recv_msg(s)
        t0 = time.monotonic()
        assert s.recv(10) == b""
        assert time.monotonic() - t0 <= scaled(3.0)


def test_tcp_half_close_gets_every_answer(gatehouse):
    d = start(gatehouse)
    with socket.create_connection(("127.0.0.1", d.port), timeout=T) as s:
        s.sendall(b"".join(tcp_frame(dns_header(0x600 + i) + dns_question("smtp.gmail.com"))
                           for i in range(5)))
        s.shutdown(socket.SHUT_WR)                     # FIN right after the queries
        ids = [dns.message.from_wire(recv_msg(s)).id for _ in range(5)]
        assert s.recv(10) == b""                       # then the daemon closes
    assert sorted(ids) == [0x600 + i for i in range(5)]


def test_tcp_odd_frames(gatehouse):
    """Zero-length, short and response frames are dropped; the connection goes on."""
    d = start(gatehouse)
    resp = dns.message.make_response(dns.message.make_query("smtp.gmail.com", "A"))
    with socket.create_connection(("127.0.0.1", d.port), timeout=T) as s:
        s.sendall(b"\x00\x00" + tcp_frame(b"\x01\x02\x03") + tcp_frame(resp.to_wire()) +
                  tcp_frame(dns_header(0x77) + dns_question("smtp.gmail.com")))
        m = dns.message.from_wire(recv_msg(s))
        assert m.id == 0x77 and addrs(m, dns.rdatatype.A) == ["127.0.0.1"]
        # a frame of 65535 garbage bytes (QR clear): an error answer with its ID
        junk = bytearray(random.Random(1).randrange(256) for _ in range(65535))
        junk[0:4] = b"\x12\x34\x01\x00"
        s.sendall(tcp_frame(bytes(junk)))
        ans = recv_msg(s)
        assert ans[:2] == b"\x12\x34" and ans[2] & 0x80
    lines = d.wait_audit(lambda l: l.get("verdict") == "drop", count=3)
    assert {l["reason"] for l in lines} == {"short", "response"}


# ---- a client that never reads its answers

# resolver/server.c TCP_OUT_MAX: a connection's answers the daemon holds before it stops
# reading that client
DAEMON_OUT_MAX = 256 * 1024
# 60 IPv6 addresses in every AAAA answer (a line holds at most 64 values): ~1.7 KB an
# answer for a 34-byte query, so a modest pipelined load fills every buffer there is
MANY_AAAA = "answer 192.0.2.1 " + " ".join(f"2001:db8::{i:x}" for i in range(1, 61)) + "\n"


def answer_bytes_holdable(client):
    """An upper bound on the bytes of answers that can be held for a client that reads
    nothing: the daemon's own bound (DAEMON_OUT_MAX, checked after each answer is added:
    one more answer's worth, at most 64 KiB), the daemon's socket send buffer (autotuned
    up to tcp_wmem's maximum, or twice wmem_max if it ever set SO_SNDBUF), one more
    segment the kernel lets a send overshoot by, and the client's receive buffer
    (fixed by its SO_RCVBUF)."""
    sndbuf, _ = tcp_buffer_max()
    rcvbuf = client.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    return DAEMON_OUT_MAX + 65536 + sndbuf + 65536 + rcvbuf


def never_reading_load(d, client):
    """(pipelined AAAA queries whose answers are at least twice what can be held for
    client (answer_bytes_holdable), so the daemon must stop reading it; bytes of one
    answer). The answer's size is measured with one query on a connection of its own."""
    with socket.create_connection(("127.0.0.1", d.port), timeout=T) as s:
        s.sendall(tcp_frame(dns_header(1) + dns_question("smtp.gmail.com", 28)))
        one = 2 + len(recv_msg(s))
    holdable = answer_bytes_holdable(client)
    n = 2 * holdable // one + 1
    q = b"".join(tcp_frame(dns_header(i & 0xffff) + dns_question("smtp.gmail.com", 28))
                 for i in range(n))
    return q, one


def send_until_stalled(s, q, limit):
    """Send q on the non-blocking socket s until all of it is sent, the daemon has not
    taken a byte for a second (it stopped reading: what it holds already is more than its
    bound), or limit seconds have passed (both scaled). The bytes sent."""
    sent, stalled_since = 0, None
    deadline = time.monotonic() + scaled(limit)
    while sent < len(q) and time.monotonic() < deadline:
        try:
            sent += s.send(q[sent:sent + 65536])
            stalled_since = None
        except BlockingIOError:
            stalled_since = stalled_since or time.monotonic()
            if time.monotonic() - stalled_since > scaled(1.0):
                break
            time.sleep(0.01)
    return sent


def test_tcp_client_that_never_reads_is_closed_when_idle(gatehouse):
    """Pipelined queries whose answers cannot all be held, no reads: the daemon stops
    reading the client, its write then makes no progress, and dns-tcp-idle (1 s) closes
    the connection."""
    d = start(gatehouse, "dns-tcp-idle 1\n" + MANY_AAAA)
    base = d.fd_count()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(T)
        q, _ = never_reading_load(d, s)
        s.connect(("127.0.0.1", d.port))
        s.setblocking(False)
        wait_for(lambda: d.fd_count() == base + 1, 5, what="the daemon to accept the client")
        send_until_stalled(s, q, 5)
        # the daemon closed its end
        wait_for(lambda: d.fd_count() == base, 5,
                 what="the daemon to close a client that never reads (it kept its slot)")
    finally:
        s.close()


def test_tcp_client_that_never_reads(gatehouse):
    """Pipelined queries whose answers are twice what the daemon and the kernel can hold,
    no reads: the daemon stops reading that client instead of buffering every answer,
    answers only what fits in its bounded buffers, and keeps serving others."""
    d = start(gatehouse, "audit-rate 0\n" + MANY_AAAA)
    rss0 = d.rss_kb()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)     # a small window
    s.settimeout(T)
    q, one = never_reading_load(d, s)
    n = len(q) // (2 + 12 + len(dns_question("smtp.gmail.com", 28)))
    holdable = answer_bytes_holdable(s)
    s.connect(("127.0.0.1", d.port))
    cport = s.getsockname()[1]
    s.setblocking(False)
    sent = send_until_stalled(s, q, 5)

    def ours():
        return [l for l in d.audit(complete=False)
                if l.get("event") == "query" and l.get("client_port") == cport]
    try:
        # the daemon answers at least DAEMON_OUT_MAX bytes before it stops reading
        wait_for(lambda: len(ours()) * one > DAEMON_OUT_MAX, 10,
                 what="the daemon to answer the client up to its bound")
        for _ in range(3):                             # others still get answers
            resp = udp(d, dns.message.make_query("smtp.gmail.com", "A"))
            assert resp.rcode() == dns.rcode.NOERROR
        tcp(d, dns.message.make_query("smtp.gmail.com", "A"))
        rss1 = d.rss_kb()
        # bound: 256 KiB of answers + 64 KiB of input per connection, plus the audit
        # batch; 32 MiB of growth is far above that and far below every answer held
        # in several copies
        assert rss1 - rss0 < 32 * 1024, (rss0, rss1, sent)
    finally:
        s.close()
    d.assert_running()
    # it answered only what fit in its bounded buffers and the kernel's
    assert d.stop() == 0
    handled = len(ours())
    print(f"never-reading client: {n} queries of which {sent} bytes sent, {handled} "
          f"answered ({one} bytes each, {holdable} bytes holdable)")
    assert DAEMON_OUT_MAX < handled * one <= holdable, (handled, one, holdable, n)
    assert handled < n


def test_tcp_trickling_clients_cannot_hold_every_place(gatehouse):
    """Clients that trickle a query a byte at a time (never completing one) must not
    keep a well-behaved TCP client out: at dns-tcp-max the connection that has gone
    longest without an answer gives its place up (RFC 7766 6.2.3)."""
    d = start(gatehouse, "dns-tcp-max 4\ndns-tcp-idle 5\n")
    q = tcp_frame(dns_header(0x5151) + dns_question("smtp.gmail.com"))
    slow = []
    try:
        for _ in range(4):                               # fill every place
            s = socket.create_connection(("127.0.0.1", d.port), timeout=T)
            slow.append(s)
        deadline = time.monotonic() + 1.6                # trickle for longer than 1 s
        i = 0
        while time.monotonic() < deadline:
            for s in slow:
                try:
                    s.sendall(q[i:i + 1])
                except OSError:
                    pass
            i = (i + 1) % (len(q) - 1)                   # never the last byte
            time.sleep(0.2)
        msg = dns.message.make_query("smtp.gmail.com", "A")
        ans = tcp(d, msg)                                # a new client is served
        assert ans.rcode() == 0 and ans.answer
        evicted = 0
        for s in slow:                                   # and one trickler was closed
            try:
                s.settimeout(scaled(0.5))
                if s.recv(1) == b"":
                    evicted += 1
            except (ConnectionResetError, BrokenPipeError):
                evicted += 1
            except socket.timeout:
                pass
        assert evicted >= 1
    finally:
        for s in slow:
            s.close()


def test_tcp_max_connections(gatehouse):
    d = start(gatehouse, "dns-tcp-max 4\n")
    conns = []
    try:
        for i in range(4):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=T)
            conns.append(s)
            s.sendall(tcp_frame(dns_header(0x4000 + i) + dns_question("smtp.gmail.com")))
            assert dns.message.from_wire(recv_msg(s)).id == 0x4000 + i
        fifth = socket.create_connection(("127.0.0.1", d.port), timeout=T)
        try:
            try:
                fifth.sendall(tcp_frame(dns_header(0x4999) + dns_question("smtp.gmail.com")))
                data = fifth.recv(100)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            assert data == b"", "the fifth connection was served"
        finally:
            fifth.close()
        for i, s in enumerate(conns):                   # the four still work
            s.sendall(tcp_frame(dns_header(0x4100 + i) + dns_question("smtp.gmail.com")))
            assert dns.message.from_wire(recv_msg(s)).id == 0x4100 + i
    finally:
        for s in conns:
            s.close()
    # once they are closed, a new connection is served again
    def served():
        try:
            return tcp(d, dns.message.make_query("smtp.gmail.com", "A")).rcode() == 0
        except (EOFError, ConnectionError, dns.exception.DNSException):
            return False
    wait_for(served, 3, what="a new connection to be served", interval=0.05)


# ---- dig, a real client --------------------------------------------------------------------------

def test_dig_udp_and_tcp(gatehouse):
    dig = shutil.which("dig")
    if dig is None:
        pytest.skip("dig is not installed")
    d = start(gatehouse)
    wait = "+time=%d" % math.ceil(scaled(2))
    base = [dig, "@127.0.0.1", "-p", str(d.port), wait, "+tries=1"]
    for extra in ([], ["+tcp"]):
        out = subprocess.run(base + extra + ["+short", "smtp.gmail.com", "A"],
                             capture_output=True, text=True, timeout=scaled(10))
        assert out.returncode == 0 and out.stdout.split() == ["127.0.0.1"], out
        out = subprocess.run(base + extra + ["evil.example", "A"], capture_output=True,
                             text=True, timeout=scaled(10))
        assert "status: NXDOMAIN" in out.stdout, out.stdout
        assert "flags: qr aa rd ra" in out.stdout, out.stdout
        assert "EDE: 15 (Blocked)" in out.stdout, out.stdout
        assert "gatehouse.invalid" in out.stdout                    # the SOA
    if V6:
        out = subprocess.run([dig, "@::1", "-p", str(d.port), wait, "+tries=1", "+short",
                              "smtp.gmail.com", "AAAA"], capture_output=True, text=True,
                             timeout=scaled(10))
        assert out.stdout.split() == ["::1"], out


# ---- the audit log ---------------------------------------------------------------------------------

def test_audit_lines(gatehouse):
    d = start(gatehouse)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(T)
        s.bind(("127.0.0.1", 0))
        cport = s.getsockname()[1]
        s.sendto(dns_header(0xa001) + dns_question("SmTp.GmAiL.CoM", 1), ("127.0.0.1", d.port))
        s.recv(4096)
        s.sendto(dns_header(0xa002) + dns_question("evil.example", 28), ("127.0.0.1", d.port))
        s.recv(4096)
    tcp(d, dns.message.make_query("raw.githubusercontent.com", "HTTPS"))
    lines = d.wait_audit(lambda l: l.get("event") == "query", count=3)
    allow, deny, over_tcp = lines
    for l in lines:
        assert l["daemon"] == "resolver" and l["client"] == "127.0.0.1"
        assert l["ts"].endswith("Z") and "T" in l["ts"]
    assert allow["client_port"] == cport and deny["client_port"] == cport
    assert allow["proto"] == "udp" and over_tcp["proto"] == "tcp"
    assert allow["qname"] == "SmTp.GmAiL.CoM"                  # case kept
    assert allow["qtype"] == "A" and allow["verdict"] == "allow"
    assert allow["rule"] == "smtp.gmail.com" and allow["rcode"] == "NOERROR"
    assert allow["answer"] == "127.0.0.1"
    assert deny["qname"] == "evil.example" and deny["qtype"] == "AAAA"
    assert deny["verdict"] == "deny" and deny["rcode"] == "NXDOMAIN"
    assert "rule" not in deny and "answer" not in deny
    assert over_tcp["qtype"] == "HTTPS" and over_tcp["verdict"] == "allow"
    assert over_tcp["rule"] == "**.githubusercontent.com" and "answer" not in over_tcp
    # one line per query, every line valid JSON (d.audit() checks), none half written
    assert len(d.audit()) == 3
    if V6:
        udp(d, dns.message.make_query("smtp.gmail.com", "AAAA"), addr="::1")
        (l6,) = d.wait_audit(lambda l: l.get("client") == "::1")
        assert l6["answer"] == "::1" and l6["qtype"] == "AAAA"


def test_deny_rule_refuses_name_with_reason(gatehouse):
    """A deny without ports refuses the name (NXDOMAIN) over the allow that matches it,
    audited with reason `denied` and the deny rule; a deny with ports leaves the name
    answered (DNS carries no port); GATEHOUSE_DENY is the same as a `deny` line."""
    d = start(gatehouse, rules=RULES + "deny vault.githubusercontent.com\n"
              "deny *.githubusercontent.com 8443\n",
              env={"GATEHOUSE_DENY": "envdeny.githubusercontent.com"})
    names = ["vault.githubusercontent.com", "envdeny.githubusercontent.com",
             "raw.githubusercontent.com"]
    answers = [udp(d, dns.message.make_query(n, "A")) for n in names]
    assert [dns.rcode.to_text(a.rcode()) for a in answers] == ["NXDOMAIN", "NXDOMAIN",
                                                               "NOERROR"]
    lines = d.wait_audit(lambda l: l.get("event") == "query", count=3)
    got = [(l["qname"], l["verdict"], l.get("reason"), l.get("rule")) for l in lines]
    assert got == [
        ("vault.githubusercontent.com", "deny", "denied", "vault.githubusercontent.com"),
        ("envdeny.githubusercontent.com", "deny", "denied", "envdeny.githubusercontent.com"),
        ("raw.githubusercontent.com", "allow", None, "**.githubusercontent.com")]


def test_audit_escapes_client_bytes(gatehouse):
    d = start(gatehouse)
    name = b'\x07a"b\nc\\d' + b"\x07example\x00"                 # label: a " b LF c \ d
    ans = raw_udp(d, dns_header(0xe5c0) + name + struct.pack(">HH", 1, 1))
    assert dns.message.from_wire(ans).rcode() == dns.rcode.NXDOMAIN
    lines = d.wait_audit(lambda l: l.get("event") == "query")
    raw = d.audit_raw()
    assert raw.count(b"\n") == len(d.audit(probe=True))      # one physical line each
    (line,) = lines
    assert line["qname"] == 'a\\"b\\010c\\\\d.example'            # presentation escapes
    assert line["verdict"] == "deny"
    for l in raw.split(b"\n")[:-1]:
        json.loads(l)                                             # each physical line


def test_audit_flood_bound(gatehouse):
    d = start(gatehouse, "audit-rate 5\n")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(T)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        for i in range(200):                                       # as fast as possible
            s.sendto(dns_header(i) + dns_question("smtp.gmail.com"), ("127.0.0.1", d.port))
        for i in range(200):                                       # every one answered
            s.recv(4096)
    sup = d.wait_audit(lambda l: l.get("event") == "suppressed", timeout=4)
    lines = [l for l in d.audit() if l.get("event") == "query" and l["client"] == "127.0.0.1"]
    assert len(lines) == 50                                        # burst: 10 x rate
    assert len(sup) == 1
    assert sup[0]["client"] == "127.0.0.1" and sup[0]["count"] == 150
    # nothing disappears without a count
    assert len(lines) + sup[0]["count"] == 200


def test_nothing_sent_anywhere_but_the_client(gatehouse, dns_sinks):
    """DNS invariant 1: with an upstream configured, no query ever reaches it."""
    sink_port, sink, tsink = dns_sinks
    d = start(gatehouse, f"upstream 127.0.0.1:{sink_port}\n")
    for name in ("smtp.gmail.com", "evil.example", "exfil-0123abcd.evil.example",
                 "smtp.gmail.com.corp.example"):
        for t in ("A", "AAAA", "TXT", "HTTPS", "MX", "ANY", "PTR", "NS", "SOA"):
            udp(d, dns.message.make_query(name, t, use_edns=0))
        tcp(d, dns.message.make_query(name, "TXT"))
    q = dns.message.make_query("smtp.gmail.com", "A", use_edns=0, want_dnssec=True)
    q.flags &= ~dns.flags.RD
    udp(d, q)
    time.sleep(0.3)             # a window for anything sent late (nothing may come)
    with pytest.raises(BlockingIOError):
        sink.recvfrom(65535)
    with pytest.raises(BlockingIOError):
        tsink.accept()


# ---- signals ---------------------------------------------------------------------------------------

def test_sighup_reload(gatehouse):
    d = start(gatehouse)
    conf = open(d.config_path).read()
    assert udp(d, dns.message.make_query("new.example", "A")).rcode() == dns.rcode.NXDOMAIN
    held = socket.create_connection(("127.0.0.1", d.port), timeout=T)   # open across reload
    held.sendall(tcp_frame(dns_header(0x0a01) + dns_question("new.example")))
    assert dns.message.from_wire(recv_msg(held)).rcode() == dns.rcode.NXDOMAIN
    conf = conf.replace("allow smtp.gmail.com 465,587\n", "allow new.example 443\n")
    with open(d.config_path, "w") as f:
        f.write(conf)
    d.send_signal(signal.SIGHUP)
    wait_for(lambda: udp(d, dns.message.make_query("new.example", "A")).rcode() ==
             dns.rcode.NOERROR, 3, what=lambda: f"the new rule; stderr:\n{d.stderr()}",
             interval=0.05)
    assert udp(d, dns.message.make_query("smtp.gmail.com", "A")).rcode() == dns.rcode.NXDOMAIN
    held.sendall(tcp_frame(dns_header(0x0a02) + dns_question("new.example")))  # the new policy
    assert dns.message.from_wire(recv_msg(held)).rcode() == dns.rcode.NOERROR
    held.close()
    # settings are reloaded too
    with open(d.config_path, "a") as f:
        f.write("ttl 7\n")
    d.send_signal(signal.SIGHUP)
    wait_for(lambda: udp(d, dns.message.make_query("new.example", "A")).answer[0].ttl == 7, 3,
             what=lambda: f"ttl 7; stderr:\n{d.stderr()}", interval=0.05)


def test_sighup_broken_file_keeps_old(gatehouse):
    d = start(gatehouse)
    good = open(d.config_path).read()
    with open(d.config_path, "w") as f:
        f.write("allow new.example 443\nallow broken.example notaport\n" + good)
    d.send_signal(signal.SIGHUP)
    err = d.wait_stderr(f"{d.config_path}:2: allow broken.example")
    assert "notaport" in err
    d.assert_running()
    assert udp(d, dns.message.make_query("smtp.gmail.com", "A")).rcode() == dns.rcode.NOERROR
    assert udp(d, dns.message.make_query("new.example", "A")).rcode() == dns.rcode.NXDOMAIN


def test_sigusr1_reopens_audit(gatehouse):
    d = start(gatehouse)
    udp(d, dns.message.make_query("smtp.gmail.com", "A"))
    d.wait_audit(lambda l: l.get("qname") == "smtp.gmail.com")
    rotated = d.audit_path + ".1"
    os.rename(d.audit_path, rotated)
    udp(d, dns.message.make_query("before.example", "A"))   # still the old (renamed) file
    d.send_signal(signal.SIGUSR1)

    def reopened():
        if os.path.exists(d.audit_path):
            return True
        udp(d, dns.message.make_query("after.example", "A"))
        return False
    wait_for(reopened, 3, what=lambda: f"a new audit file; stderr:\n{d.stderr()}",
             interval=0.05)
    udp(d, dns.message.make_query("after.example", "A"))
    new = d.wait_audit(lambda l: l.get("qname") == "after.example")
    assert new
    old = [l.get("qname") for l in d.audit(path=rotated)]
    assert "smtp.gmail.com" in old and "before.example" in old
    assert "smtp.gmail.com" not in [l.get("qname") for l in d.audit()]


def test_sighup_reopens_audit(gatehouse):
    """DESIGN.md: an audit file "is reopened on SIGHUP/SIGUSR1". After logrotate renames
    the file and sends HUP, new lines go to a new file at the configured path."""
    d = start(gatehouse)
    udp(d, dns.message.make_query("smtp.gmail.com", "A"))
    d.wait_audit(lambda l: l.get("qname") == "smtp.gmail.com")
    os.rename(d.audit_path, d.audit_path + ".1")
    d.send_signal(signal.SIGHUP)
    d.wait_stderr("configuration reloaded")
    udp(d, dns.message.make_query("after.example", "A"))
    wait_for(lambda: os.path.exists(d.audit_path), 2.5,     # flushed within a second
             what="the audit file reopened on SIGHUP (DESIGN: reopened on SIGHUP/SIGUSR1)")
    d.wait_audit(lambda l: l.get("qname") == "after.example")


def test_sigterm_exits_0_with_complete_lines(gatehouse):
    d = start(gatehouse)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(300):
            s.sendto(dns_header(i) + dns_question("smtp.gmail.com"), ("127.0.0.1", d.port))
    d.wait_audit(lambda l: l.get("event") == "query")      # it is at work on them
    assert d.stop(signal.SIGTERM) == 0
    raw = d.audit_raw()
    assert raw.endswith(b"\n")
    lines = d.audit()                                      # every line valid JSON
    queries = sum(1 for l in lines if l.get("event") == "query")
    held = sum(l["count"] for l in lines if l.get("event") == "suppressed")
    assert queries + held <= 300 and queries > 0


# ---- command line ----------------------------------------------------------------------------------

def test_check_prints_allowlist(gatehouse):
    conf = gatehouse.write("ok.conf", RULES + "dns-listen 127.0.0.1:5353\n")
    r = gatehouse.run(RESOLVER, ["--check", "-c", conf])
    assert r.returncode == 0, r.stderr
    assert "allow smtp.gmail.com 465,587" in r.stdout
    assert "allow **.githubusercontent.com 443" in r.stdout
    assert f"{conf}:1" in r.stdout                          # where each rule came from
    assert "dns-listen 127.0.0.1:5353" in r.stdout


@pytest.mark.parametrize("text,line", [
    ("allow smtp.gmail.com 465\nbogus-directive 1\n", 2),
    ("allow smtp.gmail.com 0\n", 1),
    ("\n\nallow *.com 443\n", 3),
    ("allow sm\u00f6tp.example 443\n", 1),
    ("ttl 60\nttl 70\n", 2),
    ("dns-listen 127.0.0.1:99999\n", 1),
])
def test_bad_config_exits_2(gatehouse, text, line):
    conf = gatehouse.write("bad.conf", text)
    r = gatehouse.run(RESOLVER, ["-c", conf])
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert f"{conf}:{line}:" in r.stderr, r.stderr
    r = gatehouse.run(RESOLVER, ["--check", "-c", conf])
    assert r.returncode == 2 and f"{conf}:{line}:" in r.stderr


def test_help_version_and_bad_args(gatehouse):
    r = gatehouse.run(RESOLVER, ["--help"])
    assert r.returncode == 0 and "usage:" in r.stdout
    r = gatehouse.run(RESOLVER, ["--version"])
    version = open(os.path.join(os.path.dirname(__file__), "..", "..", "VERSION")).read().strip()
    assert r.returncode == 0 and version in r.stdout
    r = gatehouse.run(RESOLVER, ["--no-such-option"])
    assert r.returncode == 2
    r = gatehouse.run(RESOLVER, ["-c", gatehouse.path("missing.conf")])
    assert r.returncode == 2 and "missing.conf" in r.stderr


def test_environment_only(gatehouse):
    if os.path.exists("/etc/gatehouse/gatehouse.conf"):
        pytest.skip("a default config file exists on this host")
    port = free_port()
    env = {"GATEHOUSE_ALLOW": "envonly.example:443 **.envwild.example:443",
           "GATEHOUSE_DNS_LISTEN": f"127.0.0.1:{port}",
           "GATEHOUSE_TTL": "33"}
    r = gatehouse.run(RESOLVER, ["--check"], env=env)
    assert r.returncode == 0 and "allow envonly.example 443" in r.stdout, r
    assert "environment only" in r.stderr
    d = gatehouse.start(RESOLVER, None, env=env, ready=dns_ready("127.0.0.1", port))
    d.port = port
    resp = udp(d, dns.message.make_query("envonly.example", "A"))
    assert addrs(resp, dns.rdatatype.A) == ["127.0.0.1"] and resp.answer[0].ttl == 33
    assert udp(d, dns.message.make_query("x.envwild.example", "A")).rcode() == 0
    assert udp(d, dns.message.make_query("smtp.gmail.com", "A")).rcode() == dns.rcode.NXDOMAIN
    d.wait_audit(lambda l: l.get("qname") == "envonly.example")


def test_exfiltration_signs_are_flagged(gatehouse):
    """Long, high-entropy or many-label names are flagged on their audit line, allowed or
    not; a client asking for many distinct blocked names in a short time is flagged
    blocked-burst (a DNS tunnel's signature); ordinary names carry no flags."""
    d = start(gatehouse, "audit-rate 0\n")
    udp(d, dns.message.make_query("smtp.gmail.com", "A"))
    udp(d, dns.message.make_query("mfrggzdfmztwq2lknnwg23tpob.evil.example", "TXT"))
    udp(d, dns.message.make_query("a" * 45 + ".raw.githubusercontent.com", "A"))
    udp(d, dns.message.make_query("a.b.c.d.e.f.g.h.evil.example", "A"))
    for i in range(25):
        udp(d, dns.message.make_query("chunk%02d.tunnel.example" % i, "A"))
    lines = d.wait_audit(lambda l: l.get("qname") == "chunk24.tunnel.example")
    lines = [l for l in d.audit() if l.get("event") == "query"]
    by = {l["qname"]: l for l in lines}
    assert "flags" not in by["smtp.gmail.com"]
    assert by["mfrggzdfmztwq2lknnwg23tpob.evil.example"]["flags"] == ["high-entropy"]
    allowed_long = by["a" * 45 + ".raw.githubusercontent.com"]
    assert allowed_long["verdict"] == "allow" and "long-label" in allowed_long["flags"]
    assert by["a.b.c.d.e.f.g.h.evil.example"]["flags"] == ["many-labels"]
    # the client's earlier denied names count too: the burst starts at its 20th
    chunks = [l for l in lines if l["qname"].startswith("chunk")]
    flagged = [l for l in chunks if "blocked-burst" in l.get("flags", [])]
    assert flagged and flagged[-1]["qname"] == "chunk24.tunnel.example"
    assert "blocked-burst" not in chunks[0].get("flags", [])
