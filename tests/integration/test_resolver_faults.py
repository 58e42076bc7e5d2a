"""gatehouse-resolver under faults: reloads under load, audit rotation under load, a full
disk under the audit file, UDP and TCP floods, and running out of file descriptors. The
real daemon from $GATEHOUSE_BUILD, real sockets on loopback; every loop is bounded in
count and in time, every process started is killed by PID and every tmpfs unmounted at
teardown, also when a test fails.

Run: /usr/bin/python3 -m pytest -q tests/integration/test_resolver_faults.py
(the daemons from $GATEHOUSE_BUILD, default build/)
"""

import os
import re
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import pytest

from conftest import BUILD, dns_ready, recv_exact, tcp_frame
from gh_testlib import dns_header, dns_question, scaled, wait_for
from peers import free_port

RESOLVER = "gatehouse-resolver"
T = scaled(2.0)                         # timeout of every blocking socket operation, s
SAN = os.path.basename(os.path.normpath(BUILD)) == "san"   # ASan+UBSan build: slower, bigger
NOERROR, NXDOMAIN = 0, 3
# Resident memory the resolver may reach while flooded (VmHWM, kB). It holds fixed tables
# (audit slots, batch buffers, burst tracker, client table) and one bufferevent per TCP
# connection (at most dns-tcp-max); a flood must not add per-query state. Measured peaks:
# under 6 MiB normal, under 12 MiB under ASan (which adds shadow memory and quarantine).
RSS_BOUND_KB = (64 if SAN else 16) * 1024
RSS_GROWTH_KB = (32 if SAN else 8) * 1024       # growth during one flood test


# ---- wire helpers --------------------------------------------------------------------------------

def tcp_query(s, qid, name):
    """One query on an open TCP connection; the answer's rcode (ID and question checked)."""
    q = dns_question(name)
    s.sendall(tcp_frame(dns_header(qid) + q))
    (n,) = struct.unpack(">H", recv_exact(s, 2))
    ans = recv_exact(s, n)
    assert ans[:2] == struct.pack(">H", qid) and ans[12:12 + len(q)] == q, ans
    return ans[3] & 0xf


def udp_query(port, qid, name, src="127.0.0.1", timeout=T):
    """One UDP query from src; the answer's rcode, or None when none came in time."""
    q = dns_question(name)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((src, 0))
        s.settimeout(timeout)
        s.sendto(dns_header(qid) + q, ("127.0.0.1", port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ans = s.recv(4096)
            except socket.timeout:
                return None
            if ans[:2] == struct.pack(">H", qid) and ans[12:12 + len(q)] == q:
                return ans[3] & 0xf
    return None


def closed_by_peer(s, wait):
    """True when the daemon closed (or reset) s within wait seconds, False when s is open
    and silent, raises when data arrived (an unexpected answer)."""
    r, _, _ = select.select([s], [], [], wait)
    if not r:
        return False
    try:
        data = s.recv(100)
    except (ConnectionResetError, BrokenPipeError):
        return True
    assert data == b"", f"unexpected bytes from the daemon: {data!r}"
    return True


# ---- the daemon and its metrics ------------------------------------------------------------------

def start(gh, rules="allow smtp.gmail.com 443\n", extra="", **kw):
    """The resolver on 127.0.0.1:port with metrics on 127.0.0.1:mport."""
    port = free_port(addrs=("127.0.0.1",))
    mport = free_port(addrs=("127.0.0.1",), kinds=("tcp",))
    conf = f"{rules}dns-listen 127.0.0.1:{port}\nmetrics 127.0.0.1:{mport}\n{extra}"
    d = gh.start(RESOLVER, conf, ready=dns_ready("127.0.0.1", port), **kw)
    d.port, d.mport = port, mport
    return d


_SERIES = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def metrics(d):
    """/metrics as a list of (name, {labels}, value)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{d.mport}/metrics", timeout=T) as r:
        assert r.status == 200
        text = r.read().decode()
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SERIES.match(line)
        assert m, f"not a Prometheus line: {line!r}"
        out.append((m.group(1), dict(_LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def metric(ms, name, **labels):
    """The sum of the series called name whose labels include labels (0 when none)."""
    return sum(v for n, l, v in ms if n == name and all(l.get(k) == w for k, w in labels.items()))


def proc_status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def cpu_seconds(pid):
    """utime + stime of pid, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- a steady query stream -----------------------------------------------------------------------

class Stream(threading.Thread):
    """Queries at a steady pace over one UDP socket (channel 0) and over TCP connections
    (channels 1..n) opened before the stream starts and held for all of it, two pipelined
    queries per connection every tcp_every UDP queries. Every answer is matched to its
    query by channel and ID, and its question checked byte for byte. Bounded: it stops
    sending at stop() or after max_seconds, whichever is first, and drains for at most
    drain seconds (both scaled)."""

    def __init__(self, port, name_for, n_tcp=0, interval=0.002, tcp_every=5,
                 src="127.0.0.1", max_seconds=20.0, drain=3.0):
        super().__init__(daemon=True)
        self.port = port
        self.name_for = name_for
        self.interval = interval
        self.tcp_every = tcp_every
        self.max_seconds = scaled(max_seconds)
        self.drain = scaled(drain)
        self._stop_at = None
        self._lock = threading.Lock()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((src, 0))
        self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.udp.setblocking(False)
        self.tcp = []
        for _ in range(n_tcp):
            s = socket.create_connection(("127.0.0.1", port), timeout=T, source_address=(src, 0))
            self.tcp.append(s)
        self.bufs = [b""] * n_tcp
        self.next_id = [0] * (n_tcp + 1)
        self.sent = {}          # (channel, id) -> (t_sent, name, question bytes)
        self.got = {}           # (channel, id) -> (t_received, rcode)
        self.duplicates = 0
        self.mismatched = []
        self.tcp_eof = []       # channels the daemon closed
        self.error = None

    # -- called from the test
    def stop(self):
        with self._lock:
            if self._stop_at is None:
                self._stop_at = time.monotonic()

    def finish(self):
        self.stop()
        self.join(self.drain + 5)
        assert not self.is_alive(), "the stream thread did not end"
        for s in [self.udp] + self.tcp:
            s.close()
        if self.error is not None:
            raise self.error

    def unanswered(self):
        return sorted(set(self.sent) - set(self.got))

    # -- the thread
    def _send(self, chan, n):
        msgs = []
        now = time.monotonic()
        for _ in range(n):
            self.next_id[chan] += 1
            qid = self.next_id[chan]
            name = self.name_for(chan, qid)
            q = dns_question(name)
            self.sent[(chan, qid)] = (now, name, q)
            msgs.append(dns_header(qid) + q)
        if chan == 0:
            self.udp.sendto(msgs[0], ("127.0.0.1", self.port))
        else:
            self.tcp[chan - 1].sendall(b"".join(tcp_frame(m) for m in msgs))

    def _answer(self, chan, data):
        if len(data) < 12:
            self.mismatched.append((chan, data))
            return
        key = (chan, struct.unpack(">H", data[:2])[0])
        if key not in self.sent:
            self.mismatched.append((chan, data[:40]))
            return
        if key in self.got:
            self.duplicates += 1
            return
        q = self.sent[key][2]
        if not data[2] & 0x80 or data[12:12 + len(q)] != q:
            self.mismatched.append((chan, data[:40]))
        self.got[key] = (time.monotonic(), data[3] & 0xf)

    def _read(self, s):
        if s is self.udp:
            for _ in range(256):
                try:
                    self._answer(0, self.udp.recv(4096))
                except BlockingIOError:
                    return
            return
        i = self.tcp.index(s)
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.tcp_eof.append(i + 1)
            return
        buf = self.bufs[i] + chunk
        while len(buf) >= 2:
            (n,) = struct.unpack(">H", buf[:2])
            if len(buf) < 2 + n:
                break
            self._answer(i + 1, buf[2:2 + n])
            buf = buf[2 + n:]
        self.bufs[i] = buf

    def run(self):
        try:
            t0 = time.monotonic()
            next_t, tick = t0, 0
            while True:
                now = time.monotonic()
                with self._lock:
                    stop_at = self._stop_at
                if stop_at is None and now - t0 > self.max_seconds:
                    self.stop()
                    stop_at = now
                sending = stop_at is None and self.next_id[0] < 65000
                if not sending:
                    if len(self.got) >= len(self.sent) or now > (stop_at or now) + self.drain:
                        return
                elif now >= next_t:
                    self._send(0, 1)
                    if tick % self.tcp_every == 0:
                        for i in range(len(self.tcp)):
                            if i + 1 not in self.tcp_eof:
                                self._send(i + 1, 2)
                    tick += 1
                    next_t = max(next_t + self.interval, now)
                live = [self.udp] + [s for i, s in enumerate(self.tcp) if i + 1 not in self.tcp_eof]
                wait = max(0.0, next_t - time.monotonic()) if sending else 0.02
                r, _, _ = select.select(live, [], [], wait)
                for s in r:
                    self._read(s)
        except Exception as e:          # handed to the test by finish()
            self.error = e


# ---- SIGHUP under load ---------------------------------------------------------------------------

RULES_A = "allow keep.example 443\nallow gone.example 443\n"
RULES_B = "allow keep.example 443\nallow new.example 443\n"
ALLOWED = {"A": {"keep.example", "gone.example"}, "B": {"keep.example", "new.example"}}
NAMES = ["keep.example", "gone.example", "new.example"]
JUDGED = 10                     # answers judged per name, transport and allowlist


def test_sighup_under_load(gatehouse):
    """UDP queries and pipelined queries on four held TCP connections flow while the
    allowlist is swapped three times (a name removed, one added) and then replaced by a
    broken file: every query is answered exactly once, the held connections answer
    throughout, every answer that cannot have been decided during a reload follows the
    allowlist in force, the broken file is refused with FILE:LINE and the last good
    allowlist stays, and /metrics counts 3 good and 1 failed reload."""
    d = start(gatehouse, rules=RULES_A)
    conf_a = open(d.config_path).read()
    conf_b = conf_a.replace(RULES_A, RULES_B)
    assert conf_b != conf_a
    stream = Stream(d.port, lambda chan, qid: NAMES[qid % 3], n_tcp=4)
    # reloads: (t signalled, t seen done, rules in force after)
    reloads = []

    def answered_since(t):
        """Each name, over UDP and over TCP, has JUDGED answers to queries sent after t
        (the allowlist in force then is the one judged below)."""
        got, sent = stream.got.copy(), stream.sent.copy()     # got's keys are in sent
        n = {}
        for key in got:
            t_sent, name, _ = sent[key]
            if t_sent > t:
                n[(name, key[0] > 0)] = n.get((name, key[0] > 0), 0) + 1
        return all(n.get((name, over_tcp), 0) >= JUDGED for name in NAMES
                   for over_tcp in (False, True))
    try:
        stream.start()
        wait_for(lambda: answered_since(0), 10, what="answers under the first allowlist")
        for i, (text, tag) in enumerate([(conf_b, "B"), (conf_a, "A"), (conf_b, "B")]):
            with open(d.config_path, "w") as f:
                f.write(text)
            t_sig = time.monotonic()
            d.send_signal(signal.SIGHUP)
            wait_for(lambda: d.stderr().count("configuration reloaded") == i + 1, 5,
                     what=f"reload {i + 1} to be logged")
            t_done = time.monotonic()
            reloads.append((t_sig, t_done, tag))
            wait_for(lambda: answered_since(t_done), 10, what=f"answers after reload {i + 1}")
        # a broken file: refused, FILE:LINE, the running allowlist (B) stays
        with open(d.config_path, "w") as f:
            f.write(conf_a.replace(RULES_A, "allow new.example 443\n"
                                   "allow broken.example notaport\n"))
        d.send_signal(signal.SIGHUP)
        err = d.wait_stderr(f"{d.config_path}:2:", timeout=5)
        assert "notaport" in err and err.count("reload refused") == 1, err
        t_refused = time.monotonic()
        wait_for(lambda: answered_since(t_refused), 10, what="answers after the refused reload")
    finally:
        stream.finish()
    d.assert_running()

    sent, got = len(stream.sent), len(stream.got)
    print(f"reload under load: {sent} queries sent, {got} answered "
          f"(udp {sum(1 for c, _ in stream.sent if c == 0)}, tcp "
          f"{sum(1 for c, _ in stream.sent if c > 0)}), {len(reloads)} reloads + 1 refused")
    assert stream.unanswered() == [], f"{len(stream.unanswered())} of {sent} unanswered"
    assert stream.duplicates == 0 and stream.mismatched == []
    assert stream.tcp_eof == [], "a held TCP connection was closed across a reload"

    # Decisions: an answer received before a reload was signalled was decided under the
    # rules before it; a query sent after the reload was seen done, under the new rules.
    # Queries in between may go either way and are not judged.
    wrong, judged = [], {}
    for key, (t_recv, rcode) in stream.got.items():
        t_sent, name, _ = stream.sent[key]
        tag, ambiguous = "A", False
        for t_sig, t_done, new in reloads:
            if t_recv < t_sig:
                break
            if t_sent < t_done:
                ambiguous = True
                break
            tag = new
        if ambiguous:
            continue
        want = NOERROR if name in ALLOWED[tag] else NXDOMAIN
        if rcode != want:
            wrong.append((key, name, tag, rcode))
        judged[(tag, name, key[0] > 0)] = judged.get((tag, name, key[0] > 0), 0) + 1
    assert wrong == [], f"{len(wrong)} answers did not follow the allowlist: {wrong[:5]}"
    for tag in "AB":                     # not vacuous: each name judged under each list
        for name in NAMES:
            for over_tcp in (False, True):
                assert judged.get((tag, name, over_tcp), 0) >= JUDGED, (tag, name, over_tcp,
                                                                       judged)

    ms = metrics(d)
    assert metric(ms, "gatehouse_reloads_total", result="ok") == 3
    assert metric(ms, "gatehouse_reloads_total", result="failed") == 1
    assert metric(ms, "gatehouse_rules") == 2
    # the daemon still serves, under B
    assert udp_query(d.port, 0x77, "new.example") == NOERROR
    assert udp_query(d.port, 0x78, "gone.example") == NXDOMAIN


# ---- audit rotation under load -------------------------------------------------------------------

def test_logrotate_under_load(gatehouse):
    """logrotate's rename + SIGUSR1, twice, while UDP and TCP queries flow (each with a
    name of its own): across the three files every answered query has exactly one audit
    line, none is lost or duplicated, and every file holds whole JSON lines only."""
    d = start(gatehouse, rules="allow **.rot.example 443\n", extra="audit-rate 0\n")
    base = d.audit_path
    def name_for(chan, qid):                                 # one name per query
        return f"q{qid}.c{chan}.{'rot' if qid % 4 else 'blocked'}.example"
    stream = Stream(d.port, name_for, n_tcp=2, interval=0.003)

    def grown(path, than=0, by=20):
        """path holds at least `by` more query lines than `than`: the daemon writes there."""
        return sum(1 for l in d.audit(path=path, complete=False)
                   if l.get("event") == "query") >= than + by
    try:
        stream.start()
        wait_for(lambda: grown(base), 10, what="lines in the audit file")
        for i in range(2):                                   # logrotate, twice
            if os.path.exists(base + ".1"):
                os.rename(base + ".1", base + ".2")
            os.rename(base, base + ".1")
            n = sum(1 for l in d.audit(path=base + ".1", complete=False)
                    if l.get("event") == "query")
            wait_for(lambda: grown(base + ".1", n), 10,
                     what="lines in the renamed file (still written before the signal)")
            d.send_signal(signal.SIGUSR1)
            wait_for(lambda: d.stderr().count("audit file reopened") == i + 1, 5,
                     what="the reopen to be logged")
            wait_for(lambda: grown(base), 10, what="lines in the reopened file")
    finally:
        stream.finish()
    assert stream.unanswered() == [] and stream.duplicates == 0 and stream.mismatched == []
    answered = sorted(stream.sent[k][1] for k in stream.got)
    paths = [base + ".2", base + ".1", base]

    def lines():
        return {p: [l for l in d.audit(path=p, complete=False) if l.get("event") == "query"]
                for p in paths}
    wait_for(lambda: sum(len(v) for v in lines().values()) >= len(answered), 3,
             what="every answered query to be audited")
    per_file = {p: [l for l in d.audit(path=p) if l.get("event") == "query"] for p in paths}
    names = sorted(l["qname"] for v in per_file.values() for l in v)
    print("logrotate under load: %d answered, audit lines per file %s" %
          (len(answered), [len(per_file[p]) for p in paths]))
    assert all(per_file[p] for p in paths), "a rotation did not split the stream"
    assert len(names) == len(set(names)), "an audit line was written twice"
    assert names == answered, "audit lines and answered queries differ"
    # each file ends where the next begins: every line of an older file is older
    for older, newer in zip(paths, paths[1:]):
        assert max(l["ts"] for l in per_file[older]) <= min(l["ts"] for l in per_file[newer])


# ---- a full disk under the audit file ------------------------------------------------------------

@pytest.fixture
def tiny_tmpfs():
    """A 16 KiB tmpfs in a temporary directory (root only); always unmounted."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tempfile.mkdtemp(prefix="gatehouse-tmpfs-", dir="/tmp")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k,mode=1777", "tmpfs", mnt],
                       capture_output=True, text=True, timeout=scaled(10))
    if r.returncode != 0:
        os.rmdir(mnt)
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        r = subprocess.run(["umount", mnt], capture_output=True, timeout=scaled(10))
        if r.returncode != 0:           # a daemon still holds a file there: detach anyway
            subprocess.run(["umount", "-l", mnt], capture_output=True, timeout=scaled(10))
        os.rmdir(mnt)


def test_audit_full_disk(tiny_tmpfs, gatehouse):
    """The audit file on a 16 KiB tmpfs that fills up: every query is still answered, the
    failing write is reported on stderr (rate-limited: a few lines for hundreds of failed
    writes) and counted in /metrics; once space returns the lines resume, a `dropped`
    line carries the count of lines lost, and the file holds whole JSON lines only, with
    every query either written or counted as dropped."""
    audit = os.path.join(tiny_tmpfs, "audit.log")
    filler = os.path.join(tiny_tmpfs, "filler")
    with open(filler, "wb") as f:                 # leave two pages for the audit file
        f.write(b"\0" * 8192)
    d = start(gatehouse, extra=f"audit {audit}\naudit-rate 0\n")
    answered, n = 0, 0
    deadline = time.monotonic() + scaled(6)
    # fill the disk, then keep going: 400 queries, one at a time, each must be answered
    while n < 400 and time.monotonic() < deadline:
        n += 1
        rc = udp_query(d.port, n, "smtp.gmail.com" if n % 2 else f"q{n}.blocked.example")
        answered += rc is not None
    assert n == 400 and answered == n, (n, answered)
    err = d.wait_stderr("audit write to", timeout=3)
    assert "No space left on device" in err, err
    ms = metrics(d)
    errors = metric(ms, "gatehouse_audit_write_errors_total")
    dropped = metric(ms, "gatehouse_audit_lines_total", result="dropped")
    reports = d.stderr().count("audit write to")
    print(f"full disk: {answered} answered, {errors:.0f} write errors, {dropped:.0f} lines "
          f"dropped, {reports} stderr lines")
    assert errors >= 50, "failed writes were not counted"
    assert dropped >= 100
    assert 1 <= reports <= 5, "the write failure is not rate limited"
    whole = d.audit_raw().split(b"\n")[:-1]      # a line cut by the full disk is not done
    assert 10 < len(whole) < 100, len(whole)
    d.assert_running()

    os.unlink(filler)                             # space returns
    for i in range(20):
        assert udp_query(d.port, 1000 + i, f"after{i}.blocked.example") is not None
    d.wait_audit(lambda l: l.get("event") == "dropped", timeout=3)
    after = d.wait_audit(lambda l: str(l.get("qname", "")).startswith("after"), count=20,
                         timeout=3)
    assert len(after) == 20
    lines = d.audit(probe=True)                   # every line whole, valid JSON
    assert d.audit_raw().endswith(b"\n")
    ms = metrics(d)
    dropped = metric(ms, "gatehouse_audit_lines_total", result="dropped")
    (report,) = [l for l in lines if l.get("event") == "dropped"]
    assert report["count"] == dropped
    # nothing disappeared without a count: every query is a line or counted as dropped
    queries = metric(ms, "gatehouse_dns_transport_queries_total")
    written = sum(1 for l in lines if l.get("event") == "query")
    assert written + report["count"] == queries, (written, report["count"], queries)
    assert metric(ms, "gatehouse_audit_lines_total", result="written") == written + 1


# ---- floods --------------------------------------------------------------------------------------

AUDIT_RATE = 100                        # audit-rate set for the flood tests (the default)
# The paced flood: 20,000 queries a second for 2.5 s (50,000 queries), a rate the daemon
# sustains with room to spare in both builds on a busy 2-core machine (measured: ~200,000/s
# normal, ~150,000/s ASan when idle), so a client's datagrams are not lost in the kernel's
# socket buffer. The unpaced flood that follows is as fast as one process sends; past the
# daemon's capacity the kernel drops datagrams from every client alike, so there the
# modest client is only required to be served, not to get 99%.
FLOOD_RATE, FLOOD_SECONDS = 20000, 2.5

# The flooder runs in a process of its own (a thread would share the GIL with the modest
# client and starve it): one non-blocking UDP socket bound to SRC, FLOOD_RATE queries a
# second in batches of 100, for at most SECONDS; prints how many it sent and for how long.
FLOODER = r"""
import socket, struct, sys, time
port, src, rate, seconds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
def q(i):
    name = "smtp.gmail.com" if i % 3 == 0 else "f%d.flood%d.example" % (i, i % 7)
    out = struct.pack(">HHHHHH", i & 0xffff, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0" + struct.pack(">HH", 1 if i % 2 else 28, 1)
pkts = [q(i) for i in range(8192)]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
s.setblocking(False)
dst = ("127.0.0.1", port)
sent, batch = 0, 100
t0 = time.monotonic()
next_t = t0
while time.monotonic() - t0 < seconds and sent < rate * seconds:
    for _ in range(batch):
        try:
            s.sendto(pkts[sent & 8191], dst)
            sent += 1
        except BlockingIOError:
            break
    try:                                   # answers are not wanted: drop them
        while True:
            s.recv(4096)
    except BlockingIOError:
        pass
    next_t += batch / rate
    now = time.monotonic()
    if next_t > now:
        time.sleep(next_t - now)
    elif now - next_t > 0.05:              # far behind (descheduled): do not burst
        next_t = now
print(sent, time.monotonic() - t0, flush=True)
"""


def flooder(port, src="127.0.0.1", rate=FLOOD_RATE, seconds=FLOOD_SECONDS):
    return subprocess.Popen([sys.executable, "-c", FLOODER, str(port), src, str(rate),
                             str(seconds)], stdout=subprocess.PIPE, text=True)


def reap(proc, timeout):
    """The flooder's (sent, seconds); killed by PID when it overruns."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
        raise AssertionError("the flooder overran its time bound")
    assert proc.returncode == 0, out
    sent, secs = out.split()
    return int(sent), float(secs)


class Prober(threading.Thread):
    """A well-behaved client at src: one query every `every` seconds, each waited for up
    to `wait` seconds, until stopped (bounded by count and time; waits and bound scaled).
    Records which of its queries were answered."""

    def __init__(self, port, src, tag, every=0.01, wait=0.5, max_n=1000, max_seconds=15.0):
        super().__init__(daemon=True)
        self.port, self.src, self.tag, self.every = port, src, tag, every
        self.wait = scaled(wait)
        self.max_n, self.max_seconds = max_n, scaled(max_seconds)
        self.halt = threading.Event()
        self.names, self.answered, self.latency = [], [], []
        self.error = None

    def run(self):
        try:
            t0 = time.monotonic()
            i = 0
            while (not self.halt.is_set() and i < self.max_n and
                   time.monotonic() - t0 < self.max_seconds):
                i += 1
                name = "smtp.gmail.com" if i % 2 else f"{self.tag}{i}.blocked.example"
                self.names.append(name)
                t = time.monotonic()
                rc = udp_query(self.port, i, name, src=self.src, timeout=self.wait)
                if rc is not None:
                    self.answered.append(name)
                    self.latency.append(time.monotonic() - t)
                self.halt.wait(self.every)
        except Exception as e:
            self.error = e

    def finish(self):
        self.halt.set()
        self.join(self.wait + 5)
        assert not self.is_alive()
        if self.error is not None:
            raise self.error


def test_udp_flood(gatehouse):
    """A flood of FLOOD_RATE queries a second from 127.0.0.1 for FLOOD_SECONDS, then half
    a second of queries as fast as one socket sends them, while 127.0.0.7 asks at a
    modest pace: during the paced flood the modest client gets at least 99% of its
    answers, during the unpaced one it is still served; every one of its answered
    queries has its audit line and none of it is suppressed; the flooder's lines stop at
    its bucket (10 x audit-rate, then audit-rate a second) and the rest is counted in
    `suppressed` lines, one a second at most; query lines + suppressed counts equal the
    queries the daemon handled; resident memory stays under RSS_BOUND_KB."""
    d = start(gatehouse, extra=f"audit-rate {AUDIT_RATE}\n")
    rss0 = proc_status_kb(d.pid, "VmRSS")
    t0 = time.monotonic()
    result = {}
    for phase, rate, seconds in (("paced", FLOOD_RATE, FLOOD_SECONDS),
                                 ("unpaced", 10 ** 7, 0.5)):
        good = Prober(d.port, "127.0.0.7", phase)
        proc = flooder(d.port, rate=rate, seconds=seconds)
        try:
            good.start()
            sent, flood_s = reap(proc, seconds + scaled(10))
            time.sleep(0.1)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
            good.finish()
        result[phase] = (sent, flood_s, good)
        d.assert_running()
    hwm = proc_status_kb(d.pid, "VmHWM")
    ms = metrics(d)
    handled = metric(ms, "gatehouse_dns_transport_queries_total", proto="udp")
    for phase, (sent, flood_s, good) in result.items():
        print(f"udp flood, {phase}: {sent} sent in {flood_s:.2f}s; modest client "
              f"{len(good.answered)}/{len(good.names)} answered (max latency "
              f"{max(good.latency or [0]) * 1000:.0f} ms)")
    print(f"udp flood: {handled:.0f} queries handled by the daemon; RSS {rss0} kB -> peak "
          f"{hwm} kB (bound {RSS_BOUND_KB} kB, growth bound {RSS_GROWTH_KB} kB)")
    sent, _, good = result["paced"]
    assert sent >= FLOOD_RATE * FLOOD_SECONDS * 0.5, "the flood did not happen"
    assert len(good.names) >= 50
    assert len(good.answered) >= 0.99 * len(good.names), (len(good.answered), len(good.names))
    sent, _, good = result["unpaced"]
    assert sent >= 10000, "the unpaced flood did not happen"
    assert len(good.answered) >= 0.25 * len(good.names) > 0
    assert hwm < RSS_BOUND_KB and hwm - rss0 < RSS_GROWTH_KB, (rss0, hwm)

    # the audit file: wait for the last suppressed report (once a second)
    def settled():
        lines = d.audit(probe=True, complete=False)
        q = sum(1 for l in lines if l.get("event") == "query")
        s = sum(l["count"] for l in lines if l.get("event") == "suppressed")
        return q + s >= metric(metrics(d), "gatehouse_dns_queries_total")
    wait_for(settled, 4, interval=0.2, what="the suppressed counts to be written")
    elapsed = time.monotonic() - t0 + 1
    lines = d.audit(probe=True)
    ms = metrics(d)
    queries = [l for l in lines if l.get("event") == "query"]
    sup = [l for l in lines if l.get("event") == "suppressed"]
    flood_lines = sum(1 for l in queries if l["client"] == "127.0.0.1")
    flood_sup = [l for l in sup if l["client"] == "127.0.0.1"]
    print(f"audit: {len(queries)} query lines ({flood_lines} of the flooder), "
          f"{len(sup)} suppressed lines counting {sum(l['count'] for l in sup)}")
    # the flooder: its burst, then the rate; the rest counted, one report a second
    assert flood_lines <= AUDIT_RATE * (10 + elapsed), (flood_lines, elapsed)
    assert 1 <= len(flood_sup) <= elapsed + 1, len(flood_sup)
    assert flood_lines + sum(l["count"] for l in flood_sup) == \
        metric(ms, "gatehouse_dns_queries_total") - sum(1 for l in queries
                                                           if l["client"] != "127.0.0.1")
    assert sum(l["count"] for l in sup) == \
        metric(ms, "gatehouse_audit_lines_total", result="suppressed")
    # the modest client: every answered query audited, nothing of it suppressed
    good_lines = [l["qname"] for l in queries if l["client"] == "127.0.0.7"]
    answered = [n for _, _, good in result.values() for n in good.answered]
    assert sorted(good_lines) == sorted(answered)
    assert not [l for l in sup if l["client"] == "127.0.0.7"]


def open_conns(port, src, n):
    """n TCP connections from src (the kernel completes them; the daemon may close any)."""
    out = []
    for _ in range(n):
        out.append(socket.create_connection(("127.0.0.1", port), timeout=T,
                                            source_address=(src, 0)))
    return out


def settle(conns, want_closed, timeout):
    """Wait (up to timeout seconds, scaled) until want_closed of conns were closed by the
    daemon; returns the open ones and how many were closed."""
    closed = set()
    deadline = time.monotonic() + scaled(timeout)
    while len(closed) < want_closed and time.monotonic() < deadline:
        live = [s for s in conns if s not in closed]
        r, _, _ = select.select(live, [], [], 0.05)
        for s in r:
            if closed_by_peer(s, 0):
                closed.add(s)
    # nothing else goes
    r, _, _ = select.select([s for s in conns if s not in closed], [], [], 0.2)
    for s in r:
        if closed_by_peer(s, 0):
            closed.add(s)
    return [s for s in conns if s not in closed], len(closed)


TCP_MAX = 64                             # dns-tcp-max of the TCP flood; a client may hold
PER_CLIENT = max(4, TCP_MAX // 8)        # an eighth (resolver/server.c tcp_per_client)


def test_tcp_connection_flood(gatehouse):
    """One client opens 40 connections and holds them: it keeps PER_CLIENT, the rest are
    closed at once, the ones it keeps still answer, and another client is served at
    once. Then ten more clients open 10 each (past their cap and past dns-tcp-max): at
    most PER_CLIENT each, exactly dns-tcp-max open in all (metrics agree), every excess
    connection closed rather than left hanging, UDP answered throughout, and a new
    client's TCP query is answered once a held connection has been idle long enough to
    give up its place (RFC 7766); resident memory bounded."""
    d = start(gatehouse, extra=f"dns-tcp-max {TCP_MAX}\ndns-tcp-idle 30\n")
    rss0 = proc_status_kb(d.pid, "VmRSS")
    fd0 = d.fd_count()
    conns = []
    try:
        # one client, far past its share
        mine = open_conns(d.port, "127.0.0.1", 40)
        conns += mine
        kept, closed = settle(mine, 40 - PER_CLIENT, 3)
        assert (len(kept), closed) == (PER_CLIENT, 40 - PER_CLIENT)
        ms = metrics(d)
        assert metric(ms, "gatehouse_dns_tcp_open") == PER_CLIENT
        refused = metric(ms, "gatehouse_dns_tcp_connections_total", result="refused")
        assert refused >= 40 - PER_CLIENT
        for i, s in enumerate(kept):
            assert tcp_query(s, 0x100 + i, "smtp.gmail.com") == NOERROR
        with socket.create_connection(("127.0.0.1", d.port), timeout=T,
                                      source_address=("127.0.0.7", 0)) as other:
            assert tcp_query(other, 0x200, "smtp.gmail.com") == NOERROR

        # ten more clients, each past its share, all together past dns-tcp-max
        more = []
        for k in range(10):
            more += open_conns(d.port, f"127.0.1.{k + 1}", 10)
        conns += more
        total = len(kept) + len(more)
        assert udp_query(d.port, 0x300, "smtp.gmail.com", src="127.0.0.7") == NOERROR
        live, closed = settle(kept + more, total - TCP_MAX, 3)
        assert len(live) == TCP_MAX, (len(live), closed)
        for k in range(10):
            src = f"127.0.1.{k + 1}"
            assert sum(1 for s in live if s.getsockname()[0] == src) <= PER_CLIENT
        ms = metrics(d)
        print("tcp flood: %d connections attempted, %d open, metrics open %d refused %d "
              "evicted %d; daemon fds %d -> %d" % (
                  40 + len(more), len(live), metric(ms, "gatehouse_dns_tcp_open"),
                  metric(ms, "gatehouse_dns_tcp_connections_total", result="refused"),
                  metric(ms, "gatehouse_dns_tcp_connections_total", result="evicted"),
                  fd0, d.fd_count()))
        assert metric(ms, "gatehouse_dns_tcp_open") == TCP_MAX
        assert d.fd_count() <= fd0 + TCP_MAX + 2
        # a new client: answered once the oldest idle holder gives its place up
        t_new = time.monotonic()
        served = None
        for i in range(300):
            assert udp_query(d.port, 0x400 + i, "smtp.gmail.com", src="127.0.0.8") == NOERROR
            try:
                with socket.create_connection(("127.0.0.1", d.port), timeout=T,
                                              source_address=("127.0.0.8", 0)) as s:
                    if tcp_query(s, 0x500 + i, "smtp.gmail.com") == NOERROR:
                        served = time.monotonic() - t_new
                        break
            except (EOFError, ConnectionError):
                pass
            if time.monotonic() - t_new > scaled(3):
                break
            time.sleep(0.1)
        print(f"tcp flood: a new client served after {served}s at dns-tcp-max")
        assert served is not None, "a new client was never served"
        ms = metrics(d)                  # its place came from an idle holder
        assert metric(ms, "gatehouse_dns_tcp_connections_total", result="evicted") >= 1
        assert metric(ms, "gatehouse_dns_tcp_open") <= TCP_MAX
        hwm = proc_status_kb(d.pid, "VmHWM")
        print(f"tcp flood: RSS {rss0} kB -> peak {hwm} kB")
        assert hwm < RSS_BOUND_KB and hwm - rss0 < RSS_GROWTH_KB, (rss0, hwm)
    finally:
        for s in conns:
            s.close()
    d.assert_running()


# ---- out of file descriptors ---------------------------------------------------------------------

NOFILE = 64                              # RLIMIT_NOFILE of the resolver in this test
EXTRA = 8                                # connections past what its descriptors hold


def _small_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def test_fd_exhaustion(gatehouse):
    """The resolver with RLIMIT_NOFILE 64 and more TCP clients than descriptors: it keeps
    running, answers UDP throughout, uses little CPU while at the limit (no busy loop on
    the listener), closes the clients it cannot take (one per 250 ms back-off) instead
    of leaving them hanging, the connections it took still answer, and once the clients
    go a new TCP query is answered again within 2 s (one back-off at most)."""
    d = start(gatehouse, extra="dns-tcp-max 1000\ndns-tcp-idle 60\n", preexec_fn=_small_nofile)
    with open(f"/proc/{d.pid}/limits") as f:
        assert re.search(rf"Max open files\s+{NOFILE}\s+{NOFILE}", f.read())
    fd0 = d.fd_count()
    room = NOFILE - fd0
    assert 10 < room < NOFILE
    conns = []
    try:
        conns = open_conns(d.port, "127.0.0.1", room + EXTRA)
        t_open = time.monotonic()
        cpu0 = cpu_seconds(d.pid)
        answered = 0
        for i in range(20):                                   # UDP meanwhile, ~1 s
            answered += udp_query(d.port, 0x600 + i, "smtp.gmail.com") == NOERROR
            time.sleep(0.05)
        wall = time.monotonic() - t_open
        cpu = (cpu_seconds(d.pid) - cpu0) / wall
        d.assert_running()
        wait_for(lambda: d.fd_count() == NOFILE, 5, what="the daemon to reach its descriptor limit")
        live, closed = settle(conns, EXTRA, EXTRA * 0.25 + 3)
        t_settled = time.monotonic() - t_open
        print(f"fd exhaustion: {room} descriptors free, {room + EXTRA} clients: {closed} "
              f"closed in {t_settled:.2f}s, {len(live)} held; UDP {answered}/20 answered; "
              f"CPU at the limit {cpu * 100:.1f}% of a core over {wall:.2f}s")
        assert answered == 20
        assert cpu < 0.25, f"busy loop at the descriptor limit: {cpu * 100:.0f}% of a core"
        assert closed == EXTRA and len(live) == room, (closed, len(live), room)
        for i, s in enumerate(live):                           # the ones taken answer
            assert tcp_query(s, 0x700 + i, "smtp.gmail.com") == NOERROR
    finally:
        for s in conns:
            s.close()
    t_close = time.monotonic()
    recovered, failed = None, 0
    for i in range(500):
        try:
            with socket.create_connection(("127.0.0.1", d.port), timeout=T) as s:
                if tcp_query(s, 0x800 + i, "smtp.gmail.com") == NOERROR:
                    recovered = time.monotonic() - t_close
                    break
        except (EOFError, ConnectionError, socket.timeout):
            failed += 1             # shed: the daemon had not seen every client go yet
        if time.monotonic() - t_close > scaled(2):
            break
        time.sleep(0.02)
    print(f"fd exhaustion: TCP answered again {recovered}s after the clients closed "
          f"({failed} attempts shed before)")
    assert recovered is not None, "TCP not answered again within %.1fs" % scaled(2)
    ms = metrics(d)
    shed = metric(ms, "gatehouse_dns_tcp_connections_total", result="shed")
    errors = metric(ms, "gatehouse_dns_tcp_accept_errors_total")
    print(f"fd exhaustion: metrics shed {shed:.0f}, accept errors {errors:.0f}; stderr "
          f"lines {d.stderr().count('dns tcp accept')}")
    assert EXTRA <= shed <= EXTRA + failed
    # one failed accept() per back-off, each shedding a client (a busy loop makes millions)
    assert shed <= errors <= shed + 2, (shed, errors)
    assert 1 <= d.stderr().count("dns tcp accept") <= 6, "accept errors not rate limited"
    d.assert_running()


def test_metrics_client_at_fd_limit(gatehouse):
    """Out of descriptors with a metrics client waiting (a Docker healthcheck): the
    resolver must not spin on the metrics listener, nor log a line per accept()."""
    d = start(gatehouse, extra="dns-tcp-max 1000\ndns-tcp-idle 60\n", preexec_fn=_small_nofile)
    fd0 = d.fd_count()
    room = NOFILE - fd0
    conns = []
    try:
        conns = open_conns(d.port, "127.0.0.1", room)      # every descriptor in use
        wait_for(lambda: d.fd_count() == NOFILE, 3, what="the daemon to reach its limit")
        err0 = d.stderr().count("accept")
        with socket.create_connection(("127.0.0.1", d.mport), timeout=T) as m:
            m.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            c0, w0 = cpu_seconds(d.pid), time.monotonic()
            time.sleep(0.5)
            cpu = (cpu_seconds(d.pid) - c0) / (time.monotonic() - w0)
            lines = d.stderr().count("accept") - err0
            print(f"metrics client at the fd limit: CPU {cpu * 100:.0f}% of a core, "
                  f"{lines} stderr lines about accept in 0.5 s")
            assert udp_query(d.port, 0x900, "smtp.gmail.com") == NOERROR
        assert cpu < 0.5, f"busy loop on the metrics listener: {cpu * 100:.0f}% of a core"
        assert lines <= 6, f"{lines} stderr lines about accept() in half a second"
    finally:
        for s in conns:
            s.close()
    d.assert_running()
    # once descriptors are free again the scraper is served, and it counts what it shed.
    # The daemon frees them when it sees each client's EOF; a scrape before that is shed
    # like the one above, by design.
    wait_for(lambda: d.fd_count() <= fd0, 5, what="the daemon to close the clients' descriptors")
    m = {name: v for name, labels, v in metrics(d) if not labels}
    assert m["gatehouse_metrics_accept_errors_total"] >= 1, m
