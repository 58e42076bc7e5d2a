#!/usr/bin/python3
"""soak.py: a bounded soak of both gatehouse daemons (ASan+UBSan build) under a mixed load.

`make soak` (600 s) or `/usr/bin/python3 tests/soak/soak.py --build build/san --seconds 60`.

What runs, all on loopback and all real (no mocks):
- gatehouse-resolver and gatehouse-forwarder from --build, with LeakSanitizer on, metrics on
  127.0.0.1:M (resolver) and M+1 (forwarder), an audit file each, dropping to `nobody`;
- dnsmasq (peers.DnsServer) as the forwarder's upstream DNS server;
- in a child process of this script (its own interpreter, so the servers do not share a GIL
  with the clients): a TLS server with a certificate from a throw-away CA (peers.TestCA), two
  plain HTTP servers and an SMTP-like server that speaks first (peers.HttpServer,
  peers.BannerServer).

The load, paced in lanes of worker threads for --seconds:
- DNS over UDP and TCP (pipelined): allowed, wildcard, denied and exfiltration-like names,
  A/AAAA/ANY/MX/TXT/HTTPS/..., odd EDNS (small and large payloads, DO, unknown options,
  version 1, two OPTs), malformed questions, NOTIMP opcodes, class CH, AXFR, 0x20 case,
  short and QR=1 packets (dropped), and TCP connections left to the idle timeout;
- forwarder connections: TLS by SNI with certificate verification (Python ssl and curl),
  HTTP by Host (wildcard names too, keep-alive), a routed SMTP-like port, denied names (TLS
  alert, 403), an allowed name that does not resolve (502), no-name bytes, half
  ClientHellos left to peek-timeout, clients that reset (before naming, after the
  ClientHello, in the middle of a relay), bulk transfers both ways (splice path);
- every RELOAD_EVERY s a SIGHUP alternating two configurations (B adds a name and a port, so
  the forwarder opens and closes a listener), every fourth one a broken file (refused);
- every ROTATE_EVERY s audit rotation: rename, SIGUSR1, wait for the reopen, read and
  check the rotated file, delete it (disk use stays bounded);
- scrapes of /metrics, /healthz (GET and HEAD) and a 404 on both daemons.

Checked: every query answered as the answers table says (or dropped, for the two drop
kinds); every query and every connection audited exactly once (matched by client address,
port and transport, across rotated files), with the expected verdict per kind; every
audit line valid JSON, no partial line, no `suppressed`/`dropped` line; metrics agree with
the counts; no open forwarded connection or DNS TCP connection once the load stopped;
no blocked name ever reached dnsmasq; RSS growth from the baseline (taken when 20% of the
run is over, 30 s at least) to the end of the load below a bound (see RSS_BOUND_*); no
descriptor left open after the load; both daemons exit 0
on SIGTERM with no sanitizer report on stderr (LeakSanitizer runs at that exit).

Every process started here is ended by PID at exit, also on failure, SIGINT or SIGTERM.
"""

import argparse
import collections
import hashlib
import http.client
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, os.path.join(REPO, "tests", "lib"))
import peers  # noqa: E402  (the integration tests' real peers and process handling)
from gh_testlib import (client_hello_bytes, daemon_env, dns_name, metric_sum, sanitizer_marks,  # noqa: E402
                        wait_for)

# ---- the topology (loopback only) -----------------------------------------------------
FWD = "127.0.0.1"               # where both daemons listen
DNS_UP = "127.0.0.153"          # dnsmasq, the forwarder's upstream
ADDR = {                        # what dnsmasq answers
    "api.test": "127.0.0.2", "www.api.test": "127.0.0.2",
    "web.test": "127.0.0.5", "a.wild.test": "127.0.0.5", "b.c.wild.test": "127.0.0.5",
    "flip-a.test": "127.0.0.5", "flip-b.test": "127.0.0.5",
    "smtp.test": "127.0.0.6", "extra.test": "127.0.0.9",
}
# gone.test is allowed but not in ADDR: dnsmasq answers NXDOMAIN (resolve-failed).
BLOCKED = ("evil.test", "nope.test")    # never allowed: must never reach dnsmasq
CONN_SOURCES = ["127.0.1.%d" % i for i in range(1, 251)]    # forwarder clients
DNS_SOURCES = ["127.0.2.%d" % i for i in range(1, 251)]     # resolver clients

# ---- timing -------------------------------------------------------------------------
PEEK_TIMEOUT = 1.0
DNS_TCP_IDLE = 2.0
IO_TIMEOUT = 10.0               # every client socket operation
RELOAD_EVERY = 15.0
ROTATE_EVERY = 20.0
SCRAPE_EVERY = 3.0
SAMPLE_EVERY = 2.0
WARMUP_FRACTION = 0.20          # the RSS baseline is taken when this much of the run is over,
WARMUP_MIN = 30.0               # but not before this many seconds (or half the run)
SIGNAL_CONFIRM_TIMEOUT = 15.0   # a daemon logs a reload/reopen within this
DRAIN_TIMEOUT = 30.0            # after the load: connections and DNS TCP must be gone by then

# RSS bound. Measured on this load with the ASan build: with ASan's quarantine off, both
# daemons level off at ~13.5 MiB within ~15 s; with a quarantine of Q MiB they climb Q MiB
# more while it fills (freed chunks are held, not reused) and then stay flat (4 MiB took
# ~70 s for the resolver, which frees the least; 1 MiB, used here, ~20 s). The 600 s run
# with a 1 MiB quarantine: resolver 11.3 MiB at start, 13.7 at the baseline (120 s), at
# most 14.0, 13.9 at the end (+0.2); forwarder 11.8, 14.3, 14.6, 14.4 (+0.1). After the
# warm-up the series move within ~0.4 MiB (the forwarder's relay buffers follow the
# connections in flight). The bound is max(4 MiB, 20% of the baseline): ten times that
# noise, yet a reachable leak of ~150 bytes per query (ASan redzones included) or ~1 KiB
# per connection over the 80% of a 600 s run after the baseline exceeds it. Unreachable
# leaks are LeakSanitizer's job at exit.
RSS_BOUND_MIB = 4
RSS_BOUND_FRACTION = 0.20

# ASan: leak check at exit (LSan works after the privilege drop to `nobody`: it makes the
# process dumpable for its tracer, checked by hand with LSAN_OPTIONS=verbosity=2); a 1 MiB
# quarantine instead of 256 MiB, so it fills during the warm-up instead of looking like
# growth for the whole run. At this load a freed chunk stays poisoned for roughly 15 s, so a
# use after free within seconds of a reload or of a connection's end is still caught (the
# integration tests under SANITIZE=1 keep the full quarantine). UBSan: stop and print a stack.
QUARANTINE_MB = 1
SAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:quarantine_size_mb=%d:"
                    "malloc_context_size=20:print_summary=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    "LSAN_OPTIONS": "report_objects=1",
}


# ---------------------------------------------------------------------------------------
# bookkeeping


class Book:
    """Counters, the audit keys we expect, and failures; shared by every thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.n = collections.Counter()          # what was done, by kind
        self.dns_expect = collections.Counter()  # (client, port, proto) -> queries sent
        self.conn_expect = collections.Counter()  # "addr:port" -> connections (audited once)
        self.conn_optional = collections.Counter()  # flip port: audited once or not at all
        self.conn_kind = {}                     # "addr:port" -> kind of its last connection
        self.dns_verdicts = collections.Counter()  # expected verdict class -> count
        self.failures = []
        self.nfail = 0

    def count(self, key, k=1):
        with self.lock:
            self.n[key] += k

    def fail(self, msg):
        with self.lock:
            self.nfail += 1
            if len(self.failures) < 60:
                self.failures.append("%.1fs %s" % (time.monotonic() - T0, msg))

    def dns_sent(self, client, port, proto, verdict_class):
        with self.lock:
            self.dns_expect[(norm_ip(client), port, proto)] += 1
            self.dns_verdicts[verdict_class] += 1

    def conn_made(self, sock_or_key, kind, optional=False):
        key = sock_or_key
        if not isinstance(key, str):
            key = "%s:%d" % sock_or_key.getsockname()[:2]
        with self.lock:
            (self.conn_optional if optional else self.conn_expect)[key] += 1
            self.conn_kind[key] = kind
            self.n["conn:" + kind] += 1
        return key


T0 = time.monotonic()
BOOK = Book()


def norm_ip(s):
    return str(ipaddress.ip_address(s.strip("[]")))


# ---------------------------------------------------------------------------------------
# DNS wire helpers (standard library only)

QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28,
          "SRV": 33, "SVCB": 64, "HTTPS": 65, "AXFR": 252, "ANY": 255, "CAA": 257}
NOERROR, FORMERR, NXDOMAIN, NOTIMP, REFUSED, BADVERS = 0, 1, 3, 4, 5, 16


def opt_rr(payload=1232, version=0, do=False, options=b"", ext_rcode=0):
    ttl = (ext_rcode << 24) | (version << 16) | (0x8000 if do else 0)
    return b"\x00" + struct.pack(">HHIH", 41, payload, ttl, len(options)) + options


def edns_option(code, data):
    return struct.pack(">HH", code, len(data)) + data


def query(qid, question, flags=0x0100, qd=1, an=0, ns=0, additional=()):
    return struct.pack(">HHHHHH", qid, flags, qd, an, ns, len(additional)) + question + \
        b"".join(additional)


def skip_name(buf, off):
    for _ in range(128):
        if off >= len(buf):
            raise ValueError("name past the end")
        n = buf[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n
    raise ValueError("name too long")


def parse_answer(buf):
    """(id, flags, rcode with EDNS extension, question bytes, answers, additional) where
    answers/additional are lists of (type, rdata, ttl); raises ValueError when malformed."""
    if len(buf) < 12:
        raise ValueError("short answer")
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", buf[:12])
    off = 12
    for _ in range(qd):
        off = skip_name(buf, off) + 4
    question = buf[12:off]
    sections = []
    for count in (an, ns, ar):
        rrs = []
        for _ in range(count):
            off = skip_name(buf, off)
            if off + 10 > len(buf):
                raise ValueError("RR past the end")
            t, _c, ttl, rdlen = struct.unpack(">HHIH", buf[off:off + 10])
            off += 10
            if off + rdlen > len(buf):
                raise ValueError("rdata past the end")
            rrs.append((t, buf[off:off + rdlen], ttl))
            off += rdlen
        sections.append(rrs)
    if off != len(buf):
        raise ValueError("%d trailing bytes" % (len(buf) - off))
    rcode = flags & 0xF
    opts = [rr for rr in sections[2] if rr[0] == 41]
    if opts:
        rcode |= (opts[0][2] >> 24) << 4
    return qid, flags, rcode, question, sections[0], sections[2]


def case20(name, rnd):
    return "".join(c.upper() if rnd.random() < 0.5 else c for c in name)


class DnsCase:
    """One query to send: bytes, and what must come back."""

    def __init__(self, kind, data, rcodes, verdict, question=None, answered=True, check=None):
        self.kind, self.data, self.rcodes, self.verdict = kind, data, rcodes, verdict
        self.question, self.answered, self.check = question, answered, check


def allowed_name(rnd):
    return rnd.choice(["api.test", "web.test", "smtp.test", "www.api.test", "gone.test",
                       "x%d.wild.test" % rnd.randrange(100000), "a.b.wild.test"])


def denied_name(rnd):
    k = rnd.randrange(4)
    if k == 0:
        return rnd.choice(BLOCKED)
    if k == 1:
        return "host%d.example.org" % rnd.randrange(10 ** 6)
    if k == 2:      # exfiltration-like: long, high-entropy labels, many of them
        alphabet = "abcdefghijklmnopqrstuvwxyz234567"
        labels = ["".join(rnd.choice(alphabet) for _ in range(rnd.randrange(30, 63)))
                  for _ in range(rnd.randrange(1, 4))]
        return ".".join(labels) + ".evil.test"
    return "wild.test"     # the apex of a wildcard is not allowed


def make_dns_case(rnd, qid, v4=True):
    """A random query kind, weighted towards ordinary lookups."""
    r = rnd.random()

    def q(name, qtype, **kw):
        question = dns_name(case20(name, rnd)) + struct.pack(">HH", qtype, kw.pop("qclass", 1))
        return question, query(qid, question, **kw)

    if r < 0.30:
        question, data = q(allowed_name(rnd), QTYPES["A"])

        def check_a(ans):
            if v4 and not any(t == 1 and rd == socket.inet_aton(FWD) for t, rd, _ in ans[4]):
                return "no A record %s in the answer" % FWD
        return DnsCase("allow-A", data, {NOERROR}, "allow", question, check=check_a)
    if r < 0.40:
        question, data = q(allowed_name(rnd), QTYPES["AAAA"])
        return DnsCase("allow-AAAA", data, {NOERROR}, "allow", question)
    if r < 0.47:
        t = rnd.choice(["MX", "TXT", "HTTPS", "SVCB", "SRV", "CNAME", "NS", "CAA", "PTR"])
        question, data = q(allowed_name(rnd), QTYPES[t])

        def check_nodata(ans):
            if ans[4]:
                return "NODATA expected, %d answers" % len(ans[4])
        return DnsCase("allow-other", data, {NOERROR}, "allow", question, check=check_nodata)
    if r < 0.51:
        question, data = q(allowed_name(rnd), QTYPES["ANY"])
        return DnsCase("allow-ANY", data, {NOERROR}, "allow", question)
    if r < 0.68:
        t = rnd.choice(["A", "A", "AAAA", "TXT", "ANY", "HTTPS"])
        question, data = q(denied_name(rnd), QTYPES[t])
        return DnsCase("deny", data, {NXDOMAIN}, "deny", question)
    if r < 0.72:
        question, data = q(rnd.choice(["flip-a.test", "flip-b.test"]), QTYPES["A"])
        return DnsCase("flip", data, {NOERROR, NXDOMAIN}, "allow|deny", question)
    if r < 0.80:        # EDNS that is fine: payload, DO, options that are not echoed
        name = allowed_name(rnd) if rnd.random() < 0.7 else denied_name(rnd)
        opts = b""
        if rnd.random() < 0.5:
            opts += edns_option(10, rnd.randbytes(8))               # client cookie
        if rnd.random() < 0.3:
            opts += edns_option(8, b"\x00\x01\x18\x00\x7f\x00\x00")  # ECS 127.0.0.0/24
        if rnd.random() < 0.3:
            opts += edns_option(65001, rnd.randbytes(rnd.randrange(0, 40)))
        if rnd.random() < 0.2:
            opts += edns_option(12, bytes(rnd.randrange(0, 100)))    # padding
        opt = opt_rr(payload=rnd.choice([512, 1232, 4096, 65535, 100]), do=rnd.random() < 0.5,
                     options=opts)
        allowed = not name.endswith(("evil.test", "example.org")) and name not in BLOCKED \
            and name != "wild.test"
        question, data = q(name, QTYPES[rnd.choice(["A", "AAAA", "ANY", "TXT"])],
                           additional=[opt])

        def check_opt(ans):
            if not any(t == 41 for t, _, _ in ans[5]):
                return "no OPT in the answer to an EDNS query"
        return DnsCase("edns", data, {NOERROR if allowed else NXDOMAIN},
                       "allow" if allowed else "deny", question, check=check_opt)
    # the rest: refused on form, or not answered
    k = rnd.randrange(13)
    name = allowed_name(rnd)
    question = dns_name(name) + struct.pack(">HH", 1, 1)
    if k == 0:
        return DnsCase("badvers", query(qid, question, additional=[opt_rr(version=1)]),
                       {BADVERS}, "invalid")
    if k == 1:
        return DnsCase("two-opt", query(qid, question, additional=[opt_rr(), opt_rr()]),
                       {FORMERR}, "invalid")
    if k == 2:
        return DnsCase("qdcount0", query(qid, b"", qd=0), {FORMERR}, "invalid")
    if k == 3:
        return DnsCase("qdcount2", query(qid, question + question, qd=2), {FORMERR}, "invalid")
    if k == 4:
        return DnsCase("tc-set", query(qid, question, flags=0x0300), {FORMERR}, "invalid")
    if k == 5:
        fake_rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + b"\x01\x02\x03\x04"
        return DnsCase("ancount", query(qid, question + fake_rr, an=1), {FORMERR}, "invalid")
    if k == 6:      # a label running past the end of the message
        return DnsCase("bad-label", query(qid, b"\x3fabc"), {FORMERR}, "invalid")
    if k == 7:      # a compression pointer that points at itself
        return DnsCase("ptr-loop", query(qid, b"\xc0\x0c\x00\x01\x00\x01"), {FORMERR}, "invalid")
    if k == 8:
        return DnsCase("notimp", query(qid, question, flags=rnd.choice([0x1000, 0x2000, 0x2800])),
                       {NOTIMP}, "invalid")
    if k == 9:
        chq = dns_name(name) + struct.pack(">HH", 16, 3)
        return DnsCase("class-CH", query(qid, chq), {REFUSED}, "invalid")
    if k == 10:
        axq = dns_name(name) + struct.pack(">HH", QTYPES["AXFR"], 1)
        return DnsCase("axfr", query(qid, axq), {REFUSED}, "invalid|deny|allow")
    if k == 11:
        return DnsCase("short", struct.pack(">H", qid) + rnd.randbytes(rnd.randrange(0, 10)),
                       set(), "drop", answered=False)
    return DnsCase("response", query(qid, question, flags=0x8180), set(), "drop",
                   answered=False)


def check_dns_answer(case, qid, buf):
    """An error string, or None."""
    try:
        ans = parse_answer(buf)
    except ValueError as e:
        return "%s: unparseable answer (%s): %r" % (case.kind, e, buf[:80])
    rid, flags, rcode = ans[0], ans[1], ans[2]
    if rid != qid:
        return "%s: answer ID %d, query ID %d" % (case.kind, rid, qid)
    if not flags & 0x8000:
        return "%s: QR not set" % case.kind
    if rcode not in case.rcodes:
        return "%s: rcode %d, expected %s" % (case.kind, rcode, sorted(case.rcodes))
    if case.question is not None and ans[3] != case.question:
        return "%s: question not echoed byte for byte" % case.kind
    if case.check is not None and rcode == NOERROR:
        return case.check(ans)
    return None


# ---------------------------------------------------------------------------------------
# the load


def recv_to_eof(s, limit=1 << 20):
    """Read until EOF (bounded by bytes and by the socket's timeout); the byte count."""
    n = 0
    while n < limit:
        chunk = s.recv(65536)
        if not chunk:
            return n
        n += len(chunk)
    raise ConnectionError("more than %d bytes where EOF was expected" % limit)


class Lane(threading.Thread):
    """A worker thread doing op() about rate times a second until the deadline (and at most
    max_ops times); a slow op delays the next one instead of causing a burst."""

    def __init__(self, name, rate, op, deadline, stop):
        super().__init__(name=name, daemon=True)
        self.rate, self.op, self.deadline, self.stop_ev = rate, op, deadline, stop
        self.max_ops = int(rate * (deadline - time.monotonic()) * 2) + 100
        self.rnd = random.Random(hash((name, os.getpid(), time.time())))
        self.ops = 0

    def run(self):
        period = 1.0 / self.rate
        nxt = time.monotonic() + self.rnd.random() * period
        while self.ops < self.max_ops and not self.stop_ev.is_set():
            now = time.monotonic()
            if now >= self.deadline:
                return
            if nxt > now:
                if self.stop_ev.wait(min(nxt - now, self.deadline - now)):
                    return
                continue
            nxt = max(nxt + period, now - 1.0)      # never more than 1 s of catch-up
            self.ops += 1
            try:
                self.op(self.rnd)
            except Exception as e:                  # a bug in the soak itself, or a daemon
                BOOK.fail("%s: %s: %r" % (self.name, type(e).__name__, e))


class Load:
    def __init__(self, s):
        self.s = s          # the Soak: ports, CA, servers
        self.ctx = ssl.create_default_context(cafile=s.ca.cert)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.hello = client_hello_bytes("api.test")
        self.qid_lock = threading.Lock()
        self.qid = random.randrange(65536)

    def next_qid(self):
        with self.qid_lock:
            self.qid = (self.qid + 1) & 0xFFFF
            return self.qid

    # -- DNS ------------------------------------------------------------------------------
    def dns_target(self, rnd):
        if self.s.v6 and rnd.random() < 0.15:
            return socket.AF_INET6, "::1", "::1"
        return socket.AF_INET, rnd.choice(DNS_SOURCES), FWD

    def dns_udp(self, rnd):
        fam, src, dst = self.dns_target(rnd)
        qid = self.next_qid()
        case = make_dns_case(rnd, qid, v4=fam == socket.AF_INET)
        s = socket.socket(fam, socket.SOCK_DGRAM)
        try:
            s.bind((src, 0))
            s.settimeout(IO_TIMEOUT)
            port = s.getsockname()[1]
            s.sendto(case.data, (dst, self.s.p_dns))
            BOOK.dns_sent(src, port, "udp", case.verdict)
            BOOK.count("dns-udp")
            BOOK.count("dns:" + case.kind)
            if not case.answered:
                return
            try:
                buf = s.recv(65535)
            except socket.timeout:
                BOOK.count("dns-unanswered")
                BOOK.fail("dns udp %s from %s: no answer in %.0fs" % (case.kind, src, IO_TIMEOUT))
                return
            BOOK.count("dns-answered")
            err = check_dns_answer(case, qid, buf)
            if err:
                BOOK.fail("dns udp " + err)
        finally:
            s.close()

    def dns_tcp(self, rnd, idle=False):
        """1-6 queries on one connection, pipelined in one write or one by one; answers
        matched by ID. idle=True: one query, then wait for the server's idle close."""
        fam, src, dst = self.dns_target(rnd)
        n = 1 if idle else rnd.randrange(1, 7)
        cases = {}
        got = 0
        for _ in range(n):
            qid = self.next_qid()
            case = make_dns_case(rnd, qid, v4=fam == socket.AF_INET)
            while not case.answered or case.kind in ("bad-label", "ptr-loop", "short"):
                case = make_dns_case(rnd, qid, v4=fam == socket.AF_INET)
            cases[qid] = case
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            s.bind((src, 0))
            s.settimeout(IO_TIMEOUT)
            s.connect((dst, self.s.p_dns))
            port = s.getsockname()[1]
            BOOK.count("dns-tcp-conns")
            frames = [struct.pack(">H", len(c.data)) + c.data for c in cases.values()]
            pipelined = rnd.random() < 0.5
            if pipelined:
                s.sendall(b"".join(frames))
            buf = b""
            for i, (qid, case) in enumerate(cases.items()):
                if not pipelined:
                    s.sendall(frames[i])
                BOOK.dns_sent(src, port, "tcp", case.verdict)
                BOOK.count("dns-tcp")
                BOOK.count("dns:" + case.kind)
            while got < len(cases):
                while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise ConnectionError("EOF after %d of %d answers" % (got, len(cases)))
                    buf += chunk
                ln = struct.unpack(">H", buf[:2])[0]
                msg, buf = buf[2:2 + ln], buf[2 + ln:]
                rid = struct.unpack(">H", msg[:2])[0] if len(msg) >= 2 else -1
                case = cases.get(rid)
                if case is None:
                    BOOK.fail("dns tcp: an answer with an ID we did not send (%d)" % rid)
                    return
                got += 1
                BOOK.count("dns-answered")
                err = check_dns_answer(case, rid, msg)
                if err:
                    BOOK.fail("dns tcp " + err)
            if idle:
                t = time.monotonic()
                if s.recv(1) != b"":
                    BOOK.fail("dns tcp: bytes after the answers on an idle connection")
                waited = time.monotonic() - t
                if waited > DNS_TCP_IDLE + 3:
                    BOOK.fail("dns tcp: idle close after %.1fs (dns-tcp-idle %.0fs)"
                              % (waited, DNS_TCP_IDLE))
                BOOK.count("dns-tcp-idle-closed")
            elif rnd.random() < 0.2:
                s.sendall(b"\x00")      # half a length prefix, then close: no query
        except (OSError, ConnectionError) as e:
            BOOK.fail("dns tcp from %s: %r" % (src, e))
            BOOK.count("dns-unanswered", len(cases) - got)
        finally:
            s.close()

    def dns_mix(self, rnd):
        if rnd.random() < 0.12:
            self.dns_tcp(rnd)
        else:
            self.dns_udp(rnd)

    # -- forwarder connections -------------------------------------------------------------
    def connect(self, rnd, port, kind, optional=False):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((rnd.choice(CONN_SOURCES), 0))
            s.settimeout(IO_TIMEOUT)
            s.connect((FWD, port))
        except OSError:
            s.close()
            raise
        BOOK.conn_made(s, kind, optional)
        return s

    @staticmethod
    def reset(s):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()

    @staticmethod
    def read_response(s, want_body_hash=False, limit=1 << 26):
        """One HTTP/1.1 response: (status, headers text, body or sha256 hex, body length)."""
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("EOF in the response head: %r" % buf[:200])
            buf += chunk
            if len(buf) > 65536:
                raise ConnectionError("response head too long")
        head, rest = buf.split(b"\r\n\r\n", 1)
        head = head.decode("latin-1")
        status = int(head.split(" ", 2)[1])
        m = re.search(r"(?im)^content-length:\s*(\d+)", head)
        if m is None:       # read to EOF (the forwarder's own refusals close)
            while len(rest) < limit:
                try:
                    chunk = s.recv(65536)
                except (ConnectionResetError, ssl.SSLError):
                    break
                if not chunk:
                    break
                rest += chunk
            return status, head, rest, len(rest)
        n = int(m.group(1))
        h = hashlib.sha256()
        got = len(rest)
        h.update(rest)
        body = rest if not want_body_hash else b""
        while got < n:
            chunk = s.recv(min(1 << 20, n - got))
            if not chunk:
                raise ConnectionError("EOF after %d of %d body bytes" % (got, n))
            got += len(chunk)
            h.update(chunk)
            if not want_body_hash:
                body += chunk
        return status, head, (h.hexdigest() if want_body_hash else body), got

    def tls(self, rnd, name, kind=None):
        s = self.connect(rnd, self.s.p_tls, kind or "tls:" + name)
        try:
            return self.ctx.wrap_socket(s, server_hostname=name)
        except Exception:
            s.close()
            raise

    def op_tls_ok(self, rnd):
        name = rnd.choice(["api.test", "www.api.test"])
        t = self.tls(rnd, name)
        try:
            t.sendall(("GET /soak HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                       % name).encode())
            status, _, body, _ = self.read_response(t)
            if status != 200 or b"hello from api" not in body:
                BOOK.fail("tls %s: %d %r" % (name, status, body[:100]))
        finally:
            t.close()

    def op_tls_deny(self, rnd):
        name = rnd.choice(BLOCKED)
        s = self.connect(rnd, self.s.p_tls, "tls-deny")
        try:
            self.ctx.wrap_socket(s, server_hostname=name).close()
            BOOK.fail("tls to %s was not refused" % name)
        except ssl.SSLError as e:
            if "ACCESS_DENIED" not in str(e).upper():
                BOOK.fail("tls to %s: %r (wanted alert access_denied)" % (name, e))
        finally:
            s.close()

    def http(self, rnd, host, path="/", port=None, kind="http", optional=False):
        port = port or self.s.p_http
        s = self.connect(rnd, port, kind, optional)
        try:
            s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: soak\r\n"
                       "Connection: close\r\n\r\n" % (path, host, port)).encode())
            return self.read_response(s)
        finally:
            s.close()

    def op_http_ok(self, rnd):
        host = rnd.choice(["web.test", "a.wild.test", "b.c.wild.test"])
        if rnd.random() < 0.25:     # keep-alive: two requests, only the first Host is read
            s = self.connect(rnd, self.s.p_http, "http-keepalive")
            try:
                req = "GET /%d HTTP/1.1\r\nHost: %s\r\n\r\n"
                s.sendall((req % (1, host)).encode())
                st1, _, b1, _ = self.read_response(s)
                s.sendall((req % (2, host)).encode())
                st2, _, b2, _ = self.read_response(s)
                if (st1, st2) != (200, 200) or b"hello from web" not in b2:
                    BOOK.fail("http keep-alive %s: %d %d" % (host, st1, st2))
            finally:
                s.close()
            return
        status, _, body, _ = self.http(rnd, host)
        if status != 200 or b"hello from web" not in body:
            BOOK.fail("http %s: %d %r" % (host, status, body[:100]))

    def op_http_deny(self, rnd):
        host = rnd.choice(BLOCKED)
        status, _, body, _ = self.http(rnd, host, kind="http-deny")
        if status != 403:
            BOOK.fail("http %s: %d (wanted 403) %r" % (host, status, body[:100]))

    def op_http_gone(self, rnd):
        status, _, _, _ = self.http(rnd, "gone.test", kind="http-gone")
        if status != 502:
            BOOK.fail("http gone.test: %d (wanted 502)" % status)

    def op_flip_port(self, rnd):
        """extra.test on the port only configuration B listens on: 200 or refused."""
        try:
            status, _, body, _ = self.http(rnd, "extra.test", port=self.s.p_extra,
                                           kind="flip-port", optional=True)
        except (ConnectionRefusedError, ConnectionResetError, ConnectionError):
            BOOK.count("flip-port-refused")
            return
        if status != 200 or b"hello from extra" not in body:
            BOOK.fail("flip port: %d %r" % (status, body[:100]))
        BOOK.count("flip-port-ok")

    def op_route(self, rnd):
        s = self.connect(rnd, self.s.p_smtp, "route")
        try:
            f = s.makefile("rb")
            if not f.readline(1024).startswith(b"220 smtp.test"):
                BOOK.fail("route: no banner")
                return
            s.sendall(b"HELO soak\r\n")
            if not f.readline(1024).startswith(b"250 HELO soak"):
                BOOK.fail("route: no 250")
            s.sendall(b"QUIT\r\n")
            if not f.readline(1024).startswith(b"221"):
                BOOK.fail("route: no 221")
            s.shutdown(socket.SHUT_WR)
            f.close()
            recv_to_eof(s)
        finally:
            s.close()

    def op_no_name(self, rnd):
        data = rnd.choice([b"SSH-2.0-OpenSSH_9.2\r\n",
                           b"\x16\x03\x01\x00\x08\x01\x00\x00\x04\x03\x03\x00\x00",
                           b"GET / HTTP/1.1\r\nHost: 127.0.0.5\r\n\r\n",
                           b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                           rnd.randbytes(64)])
        s = self.connect(rnd, rnd.choice([self.s.p_tls, self.s.p_http]), "no-name")
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            recv_to_eof(s)
        except (ConnectionResetError, BrokenPipeError):
            pass
        finally:
            s.close()

    def op_half_hello(self, rnd):
        s = self.connect(rnd, self.s.p_tls, "half-hello")
        try:
            s.sendall(self.hello[:rnd.randrange(5, len(self.hello) - 1)])
            t = time.monotonic()
            try:
                recv_to_eof(s)
            except ConnectionResetError:
                pass
            waited = time.monotonic() - t
            if waited > PEEK_TIMEOUT + 4:
                BOOK.fail("half ClientHello closed after %.1fs (peek-timeout %.0fs)"
                          % (waited, PEEK_TIMEOUT))
        finally:
            s.close()

    def op_reset(self, rnd):
        k = rnd.randrange(3)
        if k == 0:          # before sending anything
            self.reset(self.connect(rnd, rnd.choice([self.s.p_tls, self.s.p_http]),
                                    "reset-early"))
        elif k == 1:        # right after the ClientHello
            s = self.connect(rnd, self.s.p_tls, "reset-hello")
            s.sendall(self.hello)
            time.sleep(rnd.random() * 0.05)
            self.reset(s)
        else:               # after the request, before the answer is read
            s = self.connect(rnd, self.s.p_http, "reset-request")
            s.sendall(b"GET /big?n=1048576 HTTP/1.1\r\nHost: web.test\r\n\r\n")
            time.sleep(rnd.random() * 0.1)
            self.reset(s)

    def op_curl(self, rnd):
        name = rnd.choice(["api.test", "www.api.test"])
        src = rnd.choice(CONN_SOURCES)
        r = run_tracked(
            ["curl", "-sS", "--max-time", str(int(IO_TIMEOUT)), "--cacert", self.s.ca.cert,
             "--interface", src, "--resolve", "%s:%d:%s" % (name, self.s.p_tls, FWD),
             "-o", "/dev/null", "-w", "%{local_ip} %{local_port} %{http_code}",
             "https://%s:%d/curl" % (name, self.s.p_tls)],
            timeout=IO_TIMEOUT + 5)
        parts = r.stdout.split()
        if len(parts) == 3 and parts[1] != "0":
            BOOK.conn_made("%s:%s" % (parts[0], parts[1]), "curl")
        if r.returncode != 0 or parts[-1:] != ["200"]:
            BOOK.fail("curl %s: rc %d %r %r" % (name, r.returncode, r.stdout, r.stderr[-200:]))

    def conn_mix(self, rnd):
        ops = [(self.op_tls_ok, 25), (self.op_http_ok, 25), (self.op_tls_deny, 8),
               (self.op_http_deny, 8), (self.op_http_gone, 4), (self.op_route, 8),
               (self.op_no_name, 5), (self.op_reset, 8), (self.op_flip_port, 5),
               (self.op_curl, 4)]
        op = rnd.choices([o for o, _ in ops], [w for _, w in ops])[0]
        try:
            op(rnd)
        except (OSError, ConnectionError, ssl.SSLError) as e:
            BOOK.fail("%s: %r" % (op.__name__, e))

    # -- bulk and slow ---------------------------------------------------------------------
    def bulk(self, rnd):
        k = rnd.randrange(4)
        try:
            if k == 0:      # download over plain HTTP: the relay splices past 256 KiB
                n = rnd.choice([4, 8, 16]) << 20
                s = self.connect(rnd, self.s.p_http, "bulk-http-down")
                try:
                    s.sendall(("GET /big?n=%d HTTP/1.1\r\nHost: web.test\r\n"
                               "Connection: close\r\n\r\n" % n).encode())
                    status, _, digest, got = self.read_response(s, want_body_hash=True)
                finally:
                    s.close()
                self.check_bulk("http down", status, digest, got, n)
            elif k == 1:    # download over TLS
                n = rnd.choice([2, 4, 8]) << 20
                t = self.tls(rnd, "api.test", "bulk-tls-down")
                try:
                    t.sendall(("GET /big?n=%d HTTP/1.1\r\nHost: api.test\r\n"
                               "Connection: close\r\n\r\n" % n).encode())
                    status, _, digest, got = self.read_response(t, want_body_hash=True)
                finally:
                    t.close()
                self.check_bulk("tls down", status, digest, got, n)
            elif k == 2:    # upload over plain HTTP
                n = rnd.choice([2, 4, 8]) << 20
                s = self.connect(rnd, self.s.p_http, "bulk-http-up")
                try:
                    s.sendall(("POST /up HTTP/1.1\r\nHost: web.test\r\nContent-Length: %d\r\n"
                               "Connection: close\r\n\r\n" % n).encode())
                    for c in peers.payload_chunks(n):
                        s.sendall(c)
                    status, _, body, _ = self.read_response(s)
                finally:
                    s.close()
                want = ("got %d bytes sha256 %s" % (n, self.s.sha(n))).encode()
                if status != 200 or want not in body:
                    BOOK.fail("bulk http up %d: %d %r" % (n, status, body[:120]))
                BOOK.count("bulk-bytes", n)
            else:           # a TLS download cut by a reset in the middle of the relay
                t = self.tls(rnd, "api.test", "bulk-tls-reset")
                t.sendall(b"GET /big?n=16777216 HTTP/1.1\r\nHost: api.test\r\n\r\n")
                got = 0
                while got < (256 << 10) * rnd.randrange(1, 8):
                    chunk = t.recv(65536)
                    if not chunk:
                        break
                    got += len(chunk)
                self.reset(t)
                BOOK.count("bulk-bytes", got)
        except (OSError, ConnectionError, ssl.SSLError) as e:
            BOOK.fail("bulk %d: %r" % (k, e))

    def check_bulk(self, what, status, digest, got, n):
        if status != 200 or got != n or digest != self.s.sha(n):
            BOOK.fail("bulk %s %d: status %d, %d bytes, digest %s" % (what, n, status, got,
                                                                     digest[:12]))
        BOOK.count("bulk-bytes", got)

    def slow(self, rnd):
        try:
            if rnd.random() < 0.7:
                self.op_half_hello(rnd)
            else:
                self.dns_tcp(rnd, idle=True)
        except (OSError, ConnectionError) as e:
            BOOK.fail("slow: %r" % (e,))


# ---------------------------------------------------------------------------------------
# the peers' child process


class _IssuedCert:
    """What peers.HttpServer asks of a CA: a certificate for names (made beforehand)."""

    def __init__(self, cert, key):
        self.pair = (cert, key)

    def issue(self, names):
        return self.pair


def serve_peers(spec_path):
    """Child mode: run the servers in spec until SIGTERM; reset their records every 5 s
    so this process stays small."""
    with open(spec_path) as f:
        spec = json.load(f)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    servers = []
    for sv in spec:
        if sv["kind"] == "https":
            servers.append(peers.HttpServer(sv["addr"], sv["port"], sv["label"],
                                            ca=_IssuedCert(sv["cert"], sv["key"])))
        elif sv["kind"] == "http":
            servers.append(peers.HttpServer(sv["addr"], sv["port"], sv["label"]))
        else:
            servers.append(peers.BannerServer(sv["addr"], sv["port"], sv["label"]))
    print("ready", flush=True)
    while not stop.wait(5.0):
        for s in servers:
            s.reset()
            if hasattr(s, "_threads"):
                s._threads = [t for t in s._threads if t.is_alive()]
    for s in servers:
        s.close()
    return 0


# ---------------------------------------------------------------------------------------
# daemons, audit files, metrics


def read_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for %d" % pid)


class Daemon:
    def __init__(self, soak, name, binary):
        self.soak, self.name, self.binary = soak, name, binary
        self.conf = os.path.join(soak.dir, name + ".conf")
        self.audit = os.path.join(soak.dir, name + "-audit.log")
        self.proc = None
        self.rotations = 0
        self.reloads_ok = 0
        self.reloads_failed = 0

    def write_conf(self, text):
        tmp = self.conf + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.conf)

    def start(self, ready_mark):
        env = daemon_env(SAN_ENV)
        env["ASAN_OPTIONS"] %= self.soak.args.quarantine_mb
        self.proc = self.soak.procs.start(self.name, [self.binary, "-c", self.conf],
                                          self.soak.dir, env=env)
        wait_for(lambda: self._ready(ready_mark), timeout=30,
                       what="%s start-up" % self.name)

    def _ready(self, mark):
        if not self.proc.alive():
            raise RuntimeError("%s exited with %s:\n%s" % (self.name, self.proc.popen.returncode,
                                                           self.proc.stderr()[-4000:]))
        return mark in self.proc.stderr()

    @property
    def pid(self):
        return self.proc.pid

    def signal_and_wait(self, sig, mark):
        before = self.proc.stderr().count(mark)
        os.kill(self.pid, sig)
        wait_for(lambda: self.proc.stderr().count(mark) > before or not self.proc.alive(),
                       timeout=SIGNAL_CONFIRM_TIMEOUT, interval=0.05,
                       what="%s to log %r" % (self.name, mark))
        if not self.proc.alive():
            raise RuntimeError("%s died after signal %d" % (self.name, sig))


class AuditTally:
    """Reads audit files (each rotated one, then the last) line by line."""

    def __init__(self, daemon):
        self.daemon = daemon
        self.lines = 0
        self.files = 0
        self.keys = collections.Counter()
        self.verdicts = collections.Counter()
        self.kinds = collections.defaultdict(collections.Counter)   # conn: key -> outcome
        self.outcomes = {}
        self.problems = []

    def problem(self, msg):
        if len(self.problems) < 30:
            self.problems.append(msg)

    def consume(self, path):
        self.files += 1
        with open(path, "rb") as f:
            raw = f.read()
        if raw and not raw.endswith(b"\n"):
            self.problem("%s ends in a partial line: %r" % (os.path.basename(path), raw[-120:]))
        for i, line in enumerate(raw.split(b"\n"), 1):
            if not line:
                continue
            self.lines += 1
            try:
                obj = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                self.problem("%s:%d is not JSON (%s): %r" % (os.path.basename(path), i, e,
                                                             line[:200]))
                continue
            if not isinstance(obj, dict):
                self.problem("%s:%d is not an object" % (os.path.basename(path), i))
                continue
            self.one(obj, line)

    def one(self, obj, line):
        ev = obj.get("event")
        if obj.get("daemon") != self.daemon or not obj.get("ts"):
            self.problem("line without daemon=%s/ts: %r" % (self.daemon, line[:200]))
        if ev in ("suppressed", "dropped"):
            self.problem("a %s line (audit lines held back or lost): %r" % (ev, line[:200]))
            return
        if self.daemon == "resolver":
            if ev != "query":
                self.problem("unexpected resolver event: %r" % line[:200])
                return
            self.keys[(norm_ip(obj.get("client", "0.0.0.0")), obj.get("client_port"),
                       obj.get("proto"))] += 1
            self.verdicts[obj.get("verdict")] += 1
        else:
            if ev != "conn":
                self.problem("unexpected forwarder event: %r" % line[:200])
                return
            # "client" and "client_port", as the resolver writes them: keyed as ADDR:PORT
            client = "%s:%s" % (obj.get("client", ""), obj.get("client_port"))
            self.keys[client] += 1
            outcome = "%s/%s" % (obj.get("verdict"), obj.get("reason") or obj.get("via"))
            if obj.get("end"):
                outcome += "/" + obj["end"]
            self.verdicts[obj.get("verdict")] += 1
            self.outcomes[client] = outcome


def scrape(addr, port, path="/metrics", method="GET"):
    c = http.client.HTTPConnection(addr, port, timeout=IO_TIMEOUT)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        c.close()


# ---------------------------------------------------------------------------------------
# the soak


class Soak:
    def __init__(self, args):
        self.args = args
        self.procs = peers.Procs()
        self.dir = None
        self.samples = []           # (t since load start, resolver kB, forwarder kB, fds r, fds f)
        self.stop_ev = threading.Event()
        self._sha = {}

    def sha(self, n):
        if n not in self._sha:
            self._sha[n] = peers.payload_sha256(n)
        return self._sha[n]

    # -- set-up ---------------------------------------------------------------------------
    def setup(self):
        a = self.args
        res_bin = os.path.join(a.build, "gatehouse-resolver")
        fwd_bin = os.path.join(a.build, "gatehouse-forwarder")
        for b in (res_bin, fwd_bin):
            if not os.access(b, os.X_OK):
                raise SystemExit("soak: %s is not built (make all SANITIZE=1)" % b)
        self.dir = peers.make_workdir("gatehouse-soak-")
        os.chmod(self.dir, 0o1777)      # the daemons reopen audit files as `nobody`
        self.v6 = _can_bind6()
        self.ca = peers.TestCA(self.dir)
        self.p_tls = peers.free_port((FWD, "127.0.0.2"))
        self.p_http = peers.free_port((FWD, "127.0.0.5"))
        self.p_smtp = peers.free_port((FWD, "127.0.0.6"))
        self.p_extra = peers.free_port((FWD, "127.0.0.9"))
        self.p_dns = peers.free_port((FWD,))
        self.p_up = peers.free_port((DNS_UP,))
        self.p_metrics = peers.free_metrics_port(FWD)
        if self.v6 and not _can_bind6(self.p_dns):
            self.v6 = False
        self.dns = peers.DnsServer(self.procs, self.dir, DNS_UP, self.p_up, ADDR)
        cert, key = self.ca.issue(["api.test", "*.api.test"])
        spec = [
            {"kind": "https", "addr": "127.0.0.2", "port": self.p_tls, "label": "api",
             "cert": cert, "key": key},
            {"kind": "http", "addr": "127.0.0.5", "port": self.p_http, "label": "web"},
            {"kind": "http", "addr": "127.0.0.9", "port": self.p_extra, "label": "extra"},
            {"kind": "banner", "addr": "127.0.0.6", "port": self.p_smtp, "label": "smtp.test"},
        ]
        spec_path = os.path.join(self.dir, "peers.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        self.peer_proc = self.procs.start(
            "peers", [sys.executable, os.path.abspath(__file__), "--serve-peers", spec_path],
            self.dir, env=dict(os.environ))
        wait_for(lambda: "ready" in self.peer_proc.stdout() or self._peer_dead(),
                       timeout=30, what="the peer servers")
        self._peer_dead(raise_=True)
        self.res = Daemon(self, "resolver", res_bin)
        self.fwd = Daemon(self, "forwarder", fwd_bin)
        self.variant = "A"
        for d in (self.res, self.fwd):
            d.write_conf(self.config(d, "A"))
        self.res.start("rules, answer")
        self.fwd.start("listening sockets")
        for s in (self.p_metrics, self.p_metrics + 1):
            wait_for(lambda s=s: _healthy(s), timeout=10, what="/healthz on %d" % s)

    def _peer_dead(self, raise_=False):
        if self.peer_proc.alive():
            return False
        if raise_:
            raise RuntimeError("the peer servers exited:\n" + self.peer_proc.stderr()[-3000:])
        return True

    def config(self, d, variant):
        """Configuration A or B (B: flip-b instead of flip-a, extra.test on its own port,
        other TTLs and cache bounds), or "broken" (refused by a reload)."""
        lines = [
            "# soak configuration %s" % variant,
            "allow api.test %d private" % self.p_tls,
            "allow **.api.test %d private" % self.p_tls,
            "allow web.test %d private" % self.p_http,
            "allow gone.test %d private" % self.p_http,
            "allow **.wild.test %d private" % self.p_http,
            "route %d smtp.test:%d private" % (self.p_smtp, self.p_smtp),
            "forward-listen %s" % FWD,
            "dns-listen %s:%d%s" % (FWD, self.p_dns, " [::1]:%d" % self.p_dns if self.v6 else ""),
            "upstream %s:%d" % (DNS_UP, self.p_up),
            "metrics %s:%d" % (FWD, self.p_metrics),
            "audit %s" % d.audit,
            "audit-rate 1000",
            "peek-timeout %g" % PEEK_TIMEOUT,
            "connect-timeout 5",
            "lookup-timeout 3",
            "idle-timeout 30",
            "half-close-timeout 10",
            "dns-tcp-idle %g" % DNS_TCP_IDLE,
            "negative-cache-ttl 2",
            "user nobody",
        ]
        if variant == "A":
            lines += ["allow flip-a.test %d private" % self.p_http, "ttl 60", "negative-ttl 60",
                      "cache-min-ttl 1", "cache-max-ttl 3"]
        elif variant == "B":
            lines += ["allow flip-b.test %d private" % self.p_http,
                      "allow extra.test %d private" % self.p_extra,
                      "ttl 30", "negative-ttl 10", "cache-min-ttl 2", "cache-max-ttl 5"]
        else:
            lines += ["allow *.com 443     # too broad: refused"]
        return "\n".join(lines) + "\n"

    # -- control: reloads, rotations, scrapes, samples ---------------------------------------
    def reload(self):
        self.n_reloads = getattr(self, "n_reloads", 0) + 1
        broken = self.n_reloads % 4 == 0
        if not broken:
            self.variant = "B" if self.variant == "A" else "A"
        for d in (self.res, self.fwd):
            d.write_conf(self.config(d, "broken" if broken else self.variant))
            d.signal_and_wait(signal.SIGHUP, "reload refused" if broken else
                              "configuration reloaded")
            if broken:
                d.reloads_failed += 1
            else:
                d.reloads_ok += 1
        if broken:      # leave a valid file behind (the running configuration is unchanged)
            for d in (self.res, self.fwd):
                d.write_conf(self.config(d, self.variant))
        BOOK.count("reloads-failed" if broken else "reloads-ok")

    def rotate(self):
        for d, tally in ((self.res, self.t_res), (self.fwd, self.t_fwd)):
            d.rotations += 1
            old = "%s.%d" % (d.audit, d.rotations)
            os.rename(d.audit, old)
            d.signal_and_wait(signal.SIGUSR1, "audit file reopened")
            tally.consume(old)
            os.unlink(old)      # disk use stays bounded
        BOOK.count("rotations")

    def scrape_all(self, rnd):
        for port in (self.p_metrics, self.p_metrics + 1):
            try:
                st, body = scrape(FWD, port)
                if st != 200 or "gatehouse_build_info" not in body:
                    BOOK.fail("/metrics on %d: %d" % (port, st))
                st, body = scrape(FWD, port, "/healthz", rnd.choice(["GET", "HEAD"]))
                if st != 200:
                    BOOK.fail("/healthz on %d: %d" % (port, st))
                if rnd.random() < 0.2:
                    st, _ = scrape(FWD, port, "/nope")
                    if st != 404:
                        BOOK.fail("/nope on %d: %d (wanted 404)" % (port, st))
                BOOK.count("scrapes")
            except (OSError, http.client.HTTPException) as e:
                BOOK.fail("scrape %d: %r" % (port, e))

    def sample(self, t):
        try:
            self.samples.append((t, read_rss_kb(self.res.pid), read_rss_kb(self.fwd.pid),
                                 len(os.listdir("/proc/%d/fd" % self.res.pid)),
                                 len(os.listdir("/proc/%d/fd" % self.fwd.pid))))
        except (OSError, RuntimeError) as e:
            BOOK.fail("RSS sample: %r" % (e,))

    def check_alive(self):
        for p in (self.res.proc, self.fwd.proc, self.peer_proc, self.dns.proc):
            if not p.alive():
                raise RuntimeError("%s died during the soak (status %s):\n%s" % (
                    p.name, p.popen.returncode, p.stderr()[-6000:]))

    # -- the run --------------------------------------------------------------------------
    def run(self):
        secs = self.args.seconds
        self.t_res, self.t_fwd = AuditTally("resolver"), AuditTally("forwarder")
        load = Load(self)
        self.t_start = time.monotonic()
        deadline = self.t_start + secs
        # lanes: the rates keep both cores far from saturated under ASan
        lanes = [Lane("dns-%d" % i, self.args.dns_rate / 2, load.dns_mix, deadline, self.stop_ev)
                 for i in range(2)]
        lanes += [Lane("conn-%d" % i, self.args.conn_rate / 3, load.conn_mix, deadline,
                       self.stop_ev) for i in range(3)]
        lanes += [Lane("bulk", 1 / 8.0, load.bulk, deadline, self.stop_ev),
                  Lane("slow", 1 / 2.0, load.slow, deadline, self.stop_ev)]
        for lane in lanes:
            lane.start()
        rnd = random.Random(1)
        nxt = {"sample": 0.0, "scrape": 1.0, "reload": RELOAD_EVERY, "rotate": ROTATE_EVERY / 2,
               "progress": 60.0}
        max_ticks = int(secs / 0.2) + 1000
        for _ in range(max_ticks):
            now = time.monotonic() - self.t_start
            if now >= secs:
                break
            self.check_alive()
            if now >= nxt["sample"]:
                self.sample(now)
                nxt["sample"] += SAMPLE_EVERY
            if now >= nxt["scrape"]:
                self.scrape_all(rnd)
                nxt["scrape"] += SCRAPE_EVERY
            if now >= nxt["reload"]:
                self.reload()
                nxt["reload"] += RELOAD_EVERY
            if now >= nxt["rotate"]:
                self.rotate()
                nxt["rotate"] += ROTATE_EVERY
            if now >= nxt["progress"]:
                r, f = self.samples[-1][1:3]
                print("soak: %4.0fs  queries %d  connections %d  reloads %d  rotations %d  "
                      "RSS resolver %.1f MiB forwarder %.1f MiB  failures %d" % (
                          now, BOOK.n["dns-udp"] + BOOK.n["dns-tcp"], conns_made(),
                          BOOK.n["reloads-ok"] + BOOK.n["reloads-failed"], BOOK.n["rotations"],
                          r / 1024, f / 1024, BOOK.nfail), flush=True)
                nxt["progress"] += 60.0
            time.sleep(0.2)
        self.load_seconds = time.monotonic() - self.t_start
        self.sample(self.load_seconds)
        self.end_sample_index = len(self.samples) - 1
        for lane in lanes:      # every op is bounded by socket timeouts
            lane.join(IO_TIMEOUT * 4)
            if lane.is_alive():
                BOOK.fail("lane %s still busy %.0fs after the deadline" % (lane.name,
                                                                         IO_TIMEOUT * 4))
        self.stop_ev.set()
        self.check_alive()

    # -- the end --------------------------------------------------------------------------
    def drain(self):
        """Wait until no forwarded connection and no DNS TCP connection is open."""
        t = time.monotonic()
        active = tcp_open = None
        while time.monotonic() - t < DRAIN_TIMEOUT:
            _, fm = scrape(FWD, self.p_metrics + 1)
            _, rm = scrape(FWD, self.p_metrics)
            active = metric_sum(fm, "gatehouse_connections_active")
            tcp_open = metric_sum(rm, "gatehouse_dns_tcp_open")
            if active == 0 and tcp_open == 0:
                break
            time.sleep(0.5)
        else:
            BOOK.fail("after %.0fs: %s forwarded connections and %s DNS TCP connections still "
                      "open" % (DRAIN_TIMEOUT, active, tcp_open))
        time.sleep(1.5)         # both daemons flush their audit batches within a second
        self.sample(time.monotonic() - self.t_start)
        self.res_metrics = scrape(FWD, self.p_metrics)[1]
        self.fwd_metrics = scrape(FWD, self.p_metrics + 1)[1]

    def stop_daemons(self):
        self.exit = {}
        self.san = {}
        for d in (self.fwd, self.res):
            rc = d.proc.stop(timeout=60)     # LSan's leak check runs at this exit
            err = d.proc.stderr()
            self.exit[d.name] = rc
            self.san[d.name] = sanitizer_marks(err)
            if rc != 0:
                BOOK.fail("%s exited with status %s after SIGTERM" % (d.name, rc))
            if self.san[d.name]:
                BOOK.fail("%s wrote a sanitizer report (%s); stderr kept in %s" % (
                    d.name, ", ".join(self.san[d.name]), d.proc.stderr_path))
                print("---- %s stderr (last 12000 bytes) ----\n%s" % (d.name, err[-12000:]))
            if "exiting on signal 15" not in err:
                BOOK.fail("%s did not log its exit on SIGTERM" % d.name)
        self.t_res.consume(self.res.audit)
        self.t_fwd.consume(self.fwd.audit)

    def verify(self):
        # every query audited exactly once, nothing audited that we did not send
        for tally, expect, optional, what in (
                (self.t_res, BOOK.dns_expect, collections.Counter(), "query"),
                (self.t_fwd, BOOK.conn_expect, BOOK.conn_optional, "connection")):
            for p in tally.problems:
                BOOK.fail("%s audit: %s" % (tally.daemon, p))
            missing = extra = 0
            examples = []
            for key in set(expect) | set(optional) | set(tally.keys):
                lo, hi, got = expect[key], expect[key] + optional[key], tally.keys[key]
                if got < lo:
                    missing += lo - got
                elif got > hi:
                    extra += got - hi
                else:
                    continue
                if len(examples) < 5:
                    examples.append("%s: sent %d(+%d optional), audited %d" % (key, lo,
                                                                              hi - lo, got))
            if missing or extra:
                BOOK.fail("%s audit: %d %ss not audited, %d audited more than once or never "
                          "made: %s" % (tally.daemon, missing, what, extra, "; ".join(examples)))
        # the forwarder's verdict per kind of connection
        want = {"tls:api.test": ("allow/sni",), "tls:www.api.test": ("allow/sni",),
                "curl": ("allow/sni",), "http": ("allow/host",),
                "http-keepalive": ("allow/host",), "route": ("allow/route",),
                "flip-port": ("allow/route",), "tls-deny": ("deny/not-allowed",),
                "http-deny": ("deny/not-allowed",), "http-gone": ("deny/resolve-failed",),
                "half-hello": ("deny/peek-timeout",),
                "no-name": ("deny/no-name", "deny/malformed"),
                "reset-early": ("deny/no-name",),
                "reset-hello": ("allow/sni", "deny/no-name"),
                "reset-request": ("allow/host", "deny/no-name"),
                "bulk-http-down": ("allow/host/eof",), "bulk-http-up": ("allow/host/eof",),
                "bulk-tls-down": ("allow/sni/eof",), "bulk-tls-reset": ("allow/sni/client-reset",)}
        self.kind_outcomes = collections.defaultdict(collections.Counter)
        for key, kind in BOOK.conn_kind.items():
            out = self.t_fwd.outcomes.get(key)
            if out is None:
                continue
            self.kind_outcomes[kind][out] += 1
            ok = want.get(kind)
            if ok is not None and not any(out == w or out.startswith(w + "/") for w in ok):
                if BOOK.conn_expect[key] + BOOK.conn_optional[key] == 1:
                    BOOK.fail("connection %s (%s) audited as %s, expected %s" % (
                        key, kind, out, " or ".join(ok)))
        # the resolver's verdicts
        v = self.t_res.verdicts
        e = BOOK.dns_verdicts
        if v["drop"] != e["drop"]:
            BOOK.fail("resolver audit: %d drop verdicts, %d dropped queries sent" % (v["drop"],
                                                                                   e["drop"]))
        fixed_invalid = e["invalid"]
        flexible = e["invalid|deny|allow"] + e["allow|deny"]
        if not (e["allow"] <= v["allow"] <= e["allow"] + flexible and
                e["deny"] <= v["deny"] <= e["deny"] + flexible and
                fixed_invalid <= v["invalid"] <= fixed_invalid + e["invalid|deny|allow"]):
            BOOK.fail("resolver verdicts %s do not match the queries sent %s" % (dict(v), dict(e)))
        # metrics agree with what was sent
        sent = BOOK.n["dns-udp"] + BOOK.n["dns-tcp"]
        mq = metric_sum(self.res_metrics, "gatehouse_dns_queries_total")
        if mq != sent:
            BOOK.fail("resolver counted %d queries, %d were sent" % (mq, sent))
        made = sum(BOOK.conn_expect.values())
        acc = metric_sum(self.fwd_metrics, "gatehouse_connections_accepted_total")
        if not made <= acc <= made + sum(BOOK.conn_optional.values()):
            BOOK.fail("forwarder accepted %d connections, %d (+%d optional) were made" % (
                acc, made, sum(BOOK.conn_optional.values())))
        for d, m in ((self.res, self.res_metrics), (self.fwd, self.fwd_metrics)):
            ok = metric_sum(m, "gatehouse_reloads_total", result="ok")
            bad = metric_sum(m, "gatehouse_reloads_total", result="failed")
            if (ok, bad) != (d.reloads_ok, d.reloads_failed):
                BOOK.fail("%s metrics: reloads ok %d failed %d, sent %d and %d" % (
                    d.name, ok, bad, d.reloads_ok, d.reloads_failed))
            for r in ("suppressed", "dropped"):
                if metric_sum(m, "gatehouse_audit_lines_total", result=r):
                    BOOK.fail("%s: audit lines %s" % (d.name, r))
        # security invariant 2 over the whole run
        for name in BLOCKED:
            if self.dns.queried(name):
                BOOK.fail("%s was looked up upstream" % name)
        # RSS
        self.rss = {}
        n_end = self.end_sample_index
        self.warmup = max(WARMUP_FRACTION * self.load_seconds,
                          min(WARMUP_MIN, self.load_seconds / 2))
        warm = [i for i, s in enumerate(self.samples) if s[0] >= self.warmup]
        b0 = warm[0] if warm else 0
        median = lambda v: sorted(v)[len(v) // 2]
        for col, name in ((1, "resolver"), (2, "forwarder")):
            series = [s[col] for s in self.samples]
            # the median of 3 samples at each end: one sample can catch a burst in flight
            base = median(series[b0:b0 + 3])
            end = median(series[max(0, n_end - 2):n_end + 1])
            bound = max(RSS_BOUND_MIB * 1024, RSS_BOUND_FRACTION * base)
            second_half = series[len(series) // 2:n_end + 1]
            self.rss[name] = dict(start=series[0], baseline=base, max=max(series[:n_end + 1]),
                                  end=end, after=series[-1], bound=bound,
                                  fds=(self.samples[0][col + 2], self.samples[b0][col + 2],
                                       max(s[col + 2] for s in self.samples),
                                       self.samples[-1][col + 2]),
                                  half_min=min(second_half), half_max=max(second_half))
            if end - base > bound:
                BOOK.fail("%s RSS grew %.1f MiB from the baseline %.1f MiB (bound %.1f MiB)" % (
                    name, (end - base) / 1024, base / 1024, bound / 1024))
            if self.samples[-1][col + 2] > self.samples[0][col + 2] + 2:
                BOOK.fail("%s holds %d descriptors after the load, %d at the start" % (
                    name, self.samples[-1][col + 2], self.samples[0][col + 2]))

    def summary(self):
        n = BOOK.n
        mib = lambda kb: "%.1f" % (kb / 1024.0)
        sent = n["dns-udp"] + n["dns-tcp"]
        answered_expected = sent - BOOK.dns_verdicts["drop"]
        print()
        print("==== gatehouse soak: %s, %.0f s of load (asked %d s), %.0f s in all ====" % (
            self.args.build, self.load_seconds, self.args.seconds, time.monotonic() - T0))
        print("DNS queries   %d sent (%d UDP, %d TCP on %d connections, %d idle-closed), "
              "%d answered of %d that must be, %d dropped by design, %d unanswered" % (
                  sent, n["dns-udp"], n["dns-tcp"], n["dns-tcp-conns"], n["dns-tcp-idle-closed"],
                  n["dns-answered"], answered_expected, BOOK.dns_verdicts["drop"],
                  n["dns-unanswered"]))
        kinds = sorted((k[4:], v) for k, v in n.items() if k.startswith("dns:"))
        print("  by kind     " + ", ".join("%s %d" % kv for kv in kinds))
        print("  audited     %d query lines in %d files, verdicts %s" % (
            self.t_res.lines, self.t_res.files, dict(self.t_res.verdicts)))
        print("connections   %d made (+%d on the flip port, %d refused there while closed), "
              "%d conn lines in %d files, verdicts %s" % (
                  sum(BOOK.conn_expect.values()), sum(BOOK.conn_optional.values()),
                  n["flip-port-refused"], self.t_fwd.lines, self.t_fwd.files,
                  dict(self.t_fwd.verdicts)))
        for kind in sorted(self.kind_outcomes):
            print("  %-16s %s" % (kind, ", ".join("%s %d" % kv for kv in
                                                  self.kind_outcomes[kind].most_common())))
        print("bulk          %.0f MiB relayed by bulk transfers" % (n["bulk-bytes"] / 1048576.0))
        print("reloads       %d ok + %d refused (broken file) per daemon; rotations %d; "
              "metric scrapes %d" % (n["reloads-ok"], n["reloads-failed"], n["rotations"],
                                     n["scrapes"]))
        print("RSS (MiB)     %d samples every %.0f s; baseline at %.0f s; bound "
              "max(%d MiB, %.0f%% of baseline); ASan quarantine %d MiB" % (
                  len(self.samples), SAMPLE_EVERY, self.warmup, RSS_BOUND_MIB,
                  RSS_BOUND_FRACTION * 100, self.args.quarantine_mb))
        for name, r in self.rss.items():
            print("  %-10s start %s  baseline %s  max %s  end %s (growth %+.2f, bound %s)  "
                  "after drain %s  2nd half %s..%s  fds start/base/max/after %s" % (
                      name, mib(r["start"]), mib(r["baseline"]), mib(r["max"]), mib(r["end"]),
                      (r["end"] - r["baseline"]) / 1024.0, mib(r["bound"]), mib(r["after"]),
                      mib(r["half_min"]), mib(r["half_max"]), "/".join(map(str, r["fds"]))))
        step = max(1, len(self.samples) // 12)
        for col, name in ((1, "resolver"), (2, "forwarder")):
            print("  %-10s series: %s" % (name, " ".join(
                "%.0fs:%s" % (sm[0], mib(sm[col])) for sm in self.samples[::step])))
        print("exit          %s; sanitizer reports: %s" % (
            ", ".join("%s %s" % kv for kv in self.exit.items()),
            ", ".join("%s %s" % (k, v or "none") for k, v in self.san.items())))
        if BOOK.nfail:
            print("FAILURES (%d):" % BOOK.nfail)
            for f in BOOK.failures:
                print("  " + f)
        print("verdict       %s" % ("FAIL" if BOOK.nfail else "PASS"))


CHILDREN = set()            # short-lived client processes (curl), ended by PID at exit
CHILDREN_LOCK = threading.Lock()


def run_tracked(argv, timeout):
    """subprocess.run for a client program, killed by PID if the soak stops first."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    with CHILDREN_LOCK:
        CHILDREN.add(p)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    finally:
        with CHILDREN_LOCK:
            CHILDREN.discard(p)
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


def kill_children():
    with CHILDREN_LOCK:
        left = list(CHILDREN)
    for p in left:
        peers.kill_pid(p.pid, timeout=2)


def conns_made():
    return sum(BOOK.conn_expect.values()) + sum(BOOK.conn_optional.values())


def _can_bind6(port=0):
    s = None
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::1", port))
        return True
    except OSError:
        return False
    finally:
        if s is not None:
            s.close()


def _healthy(port):
    try:
        return scrape(FWD, port, "/healthz")[0] == 200
    except OSError:
        return False


class Interrupted(Exception):
    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build", "san"),
                    help="directory with the ASan+UBSan gatehouse-resolver/forwarder")
    ap.add_argument("--seconds", type=float, default=600, help="duration of the load")
    ap.add_argument("--dns-rate", type=float, default=40, help="DNS queries per second")
    ap.add_argument("--conn-rate", type=float, default=8, help="forwarder connections per second")
    ap.add_argument("--quarantine-mb", type=int, default=QUARANTINE_MB,
                    help="ASan quarantine_size_mb for the daemons")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--serve-peers", metavar="SPEC", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_peers:
        return serve_peers(args.serve_peers)
    if args.seconds < 10 or args.seconds > 7200:
        ap.error("--seconds: between 10 and 7200")

    def on_signal(sig, _frame):
        raise Interrupted("signal %d" % sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    soak = Soak(args)
    ok = False
    try:
        soak.setup()
        print("soak: resolver pid %d, forwarder pid %d, %s; load for %.0f s, DNS %.0f/s, "
              "connections %.0f/s (work directory %s)" % (
                  soak.res.pid, soak.fwd.pid, args.build, args.seconds, args.dns_rate,
                  args.conn_rate, soak.dir), flush=True)
        soak.run()
        soak.drain()
        soak.stop_daemons()
        soak.verify()
        soak.summary()
        ok = BOOK.nfail == 0
    except Interrupted as e:
        print("soak: interrupted (%s); stopping everything" % e, file=sys.stderr)
    except Exception as e:
        BOOK.fail("soak aborted: %s: %s" % (type(e).__name__, e))
        print("soak: aborted: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        for f in BOOK.failures:
            print("  " + f, file=sys.stderr)
    finally:
        soak.stop_ev.set()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        kill_children()
        soak.procs.kill_all()       # by PID: daemons, dnsmasq, the peer servers
        if soak.dir:
            if ok and not args.keep:
                shutil.rmtree(soak.dir, ignore_errors=True)
            else:
                print("soak: files kept in %s" % soak.dir, file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
