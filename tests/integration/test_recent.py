"""Recent lookups on a no-name line (ISSUE13 section 4): the resolver tells the forwarder,
over the lookups-socket (an abstract unix datagram socket, common/lookups.h), which allowed
names each client looked up; a `conn` line refused with reason no-name carries them as
"recent", newest first, for LOOKUPS_WINDOW_MS (10 s). Only the resolver's user may write
to the socket; a malformed datagram is counted and dropped. Both daemons run under their
seccomp filter here, as by default.

Each test names its own socket (tests run many daemons at once, other checkouts' too).

Run: /usr/bin/python3 -m pytest -q tests/integration/test_recent.py
(the daemons from $GATEHOUSE_BUILD, default build/)
"""

import datetime
import os
import re
import signal
import socket
import struct
import time
import urllib.request
import uuid

import dns.message
import dns.query
import pytest

from conftest import dns_ready, tcp_ready
from gh_testlib import scaled, wait_for
from peers import free_metrics_port, free_port
from test_sandbox import sandboxed

T = 3.0
WINDOW = 10.0                   # LOOKUPS_WINDOW_MS
SKEW = 0.05                     # audit "ts" is the real-time clock, the window the monotonic one
NO_NAME = b"SSH-2.0-not-a-name\r\n"     # neither TLS nor HTTP: nothing names a host


def sock_name():
    return "@gh-test-recent-" + uuid.uuid4().hex[:12]


def start_pair(gh, name, resolver=True):
    """A resolver (unless resolver=False) and a forwarder that share the socket name; the
    forwarder peeks on its port (two rules: no implicit route), its upstream is dead."""
    port, dport = free_port(addrs=("127.0.0.1",)), free_port(addrs=("127.0.0.1",))
    dead, mport = free_port(addrs=("127.0.0.1",)), free_metrics_port("127.0.0.1")
    rules = (f"allow a.example {port}\nallow b.example {port}\nallow *.c.example {port}\n"
             f"lookups-socket {name}\n")
    fwd = gh.start("gatehouse-forwarder", rules + "forward-listen 127.0.0.1\n"
                   f"upstream 127.0.0.1:{dead}\nmetrics 127.0.0.1:{mport}\n",
                   ready=tcp_ready("127.0.0.1", port))
    fwd.port, fwd.metrics = port, mport + 1
    res = None
    if resolver:
        res = gh.start("gatehouse-resolver", rules + f"dns-listen 127.0.0.1:{dport}\n"
                       "answer 127.0.0.1\n"
                       f"metrics 127.0.0.1:{mport}\n",
                       ready=dns_ready("127.0.0.1", dport))
        res.port, res.metrics = dport, mport
        sandboxed(res)
    sandboxed(fwd)
    return res, fwd


def metric(port, name, **labels):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=T) as r:
        text = r.read().decode()
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    m = re.search(r"^%s\{%s\} (\d+)$" % (re.escape(name), re.escape(want)), text, re.M)
    assert m, f"no {name}{{{want}}} in\n{text}"
    return int(m.group(1))


def received(fwd, result):
    return metric(fwd.metrics, "gatehouse_lookups_received_total", result=result)


def lookup(res, name, allowed=True):
    q = dns.message.make_query(name, "A")
    r = dns.query.udp(q, "127.0.0.1", port=res.port, timeout=scaled(T))
    assert bool(r.answer) == allowed, r


def no_name_conn(fwd):
    """Connect, send bytes that name nothing, read the refusal (the close); the client
    port (the audit line's client_port)."""
    with socket.create_connection(("127.0.0.1", fwd.port), timeout=scaled(T)) as s:
        cport = s.getsockname()[1]
        s.sendall(NO_NAME)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
    return cport


def conn_lines(fwd, ports):
    """The no-name lines of the connections no_name_conn made from ports."""
    return [l for l in fwd.audit(complete=False)
            if l.get("event") == "conn" and l.get("reason") == "no-name" and
            l.get("client_port") in ports]


def no_name_line(fwd):
    """Make a no-name connection and return its audit line."""
    port = no_name_conn(fwd)
    return wait_for(lambda: conn_lines(fwd, {port}), timeout=T, what="its no-name line")[0]


def ts(line):
    return datetime.datetime.strptime(line["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def query_line(res, qname):
    return res.wait_audit(lambda l: l.get("event") == "query" and l.get("qname") == qname)[0]


# ---- the names, newest first, then gone after the window

def test_recent_lists_the_clients_lookups_newest_first_then_forgets_them(gatehouse):
    res, fwd = start_pair(gatehouse, sock_name())
    lookup(res, "a.example")
    lookup(res, "b.example")
    lookup(res, "evil.example", allowed=False)     # refused: never told
    lookup(res, "b.example")            # again: told again only a second later
    told = lambda r: metric(res.metrics, "gatehouse_lookups_told_total", result=r)
    assert told("sent") + told("repeat") == 3 and told("dropped") == 0
    wait_for(lambda: received(fwd, "recorded") == told("sent"), timeout=T,
             what="every lookup told recorded")
    line = no_name_line(fwd)
    assert line["recent"] == ["b.example", "a.example"], line
    assert line["verdict"] == "deny" and line["port"] == fwd.port
    # The window, on the daemons' clocks: connect until a line has no "recent".
    a_at = ts(query_line(res, "a.example"))
    b_at = ts(query_line(res, "b.example"))    # the first: a repeat may not be told

    ports = set()

    def gone():
        ports.add(no_name_conn(fwd))
        return [l for l in conn_lines(fwd, ports) if "recent" not in l]
    first_without = wait_for(gone, timeout=WINDOW + scaled(10), interval=0.3,
                             what="a no-name line without recent")[0]
    # The window runs from each answer (the resolver's clock, the one the forwarder
    # reads): not over before the last lookup's line + 10 s; both names listed until the
    # first lookup's line + 10 s; and a name once gone stays gone.
    assert ts(first_without) >= b_at + WINDOW - SKEW, (first_without, b_at)
    lists = [l.get("recent") for l in sorted(conn_lines(fwd, ports), key=ts)]
    for l in conn_lines(fwd, ports):
        if ts(l) < a_at + WINDOW - SKEW:
            assert l.get("recent") == ["b.example", "a.example"], l
    shapes = [["b.example", "a.example"], ["b.example"], None]
    order = [shapes.index(x) for x in lists]
    assert order == sorted(order), lists
    assert all(d.running() for d in (res, fwd))


# ---- who may write: the resolver's user only; every field checked

def flood_as(uid, name, payloads):
    """Send payloads to the abstract socket name from a child running as uid; the number
    the kernel took (a full queue refuses the rest at once)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        sent = 0
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            for p in payloads:
                try:
                    s.sendto(p, "\0" + name[1:])
                    sent += 1
                except (BlockingIOError, ConnectionRefusedError):
                    pass
            s.close()
        finally:
            os.write(w, str(sent).encode())
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        n = int(f.read() or 0)
    os.waitpid(pid, 0)
    return n


def dgram(qname, addr="127.0.0.1", ms=0):
    key = b"\0" * 10 + b"\xff\xff" + socket.inet_aton(addr)
    return bytes([1, len(qname)]) + key + struct.pack(">Q", ms) + qname.encode()


def test_only_the_resolvers_user_is_heard(gatehouse):
    if os.geteuid() != 0:
        pytest.skip("sending as another user needs root")
    name = sock_name()
    res, fwd = start_pair(gatehouse, name, resolver=False)
    # A flood from another user: non-blocking, so the queue's bound drops the rest.
    sent = flood_as(12345, name, [dgram("spoof.c.example")] * 2000)
    assert sent > 0
    wait_for(lambda: received(fwd, "refused") == sent, timeout=T, what=f"{sent} refused")
    assert received(fwd, "recorded") == 0
    line = no_name_line(fwd)
    assert "recent" not in line, line
    # The forwarder's own user (the resolver's): heard, but every field is checked.
    nobody = 65534
    bad = [dgram("spoof.c.example")[:-1],                  # shorter than its length says
           dgram("UPPER.c.example"),                       # not the normal form
           b"\x02" + dgram("x.c.example")[1:],             # another version
           dgram("x.c.example", addr="0.0.0.0")[:2] + b"\0" * 16 + dgram("x.c.example")[18:],
           b"",
           b"\x01" * 300]                                  # longer than any datagram
    good_ms = int(time.monotonic() * 1000)                 # the daemons' clock
    assert flood_as(nobody, name, bad) == len(bad)
    wait_for(lambda: received(fwd, "malformed") == len(bad), timeout=T,
             what=f"{len(bad)} malformed")
    assert flood_as(nobody, name, [dgram("ok.c.example", ms=good_ms)]) == 1
    wait_for(lambda: received(fwd, "recorded") == 1, timeout=T, what="1 recorded")
    line = no_name_line(fwd)
    assert line["recent"] == ["ok.c.example"], line
    assert fwd.running()


# ---- a setting opened once: off, taken, and a reload

def test_off_sends_nothing_and_no_line_carries_recent(gatehouse):
    res, fwd = start_pair(gatehouse, "off")
    lookup(res, "a.example")
    line = no_name_line(fwd)
    assert "recent" not in line
    assert metric(res.metrics, "gatehouse_lookups_told_total", result="sent") == 0


def test_a_name_already_bound_is_a_warning_and_a_reload_keeps_the_socket(gatehouse):
    name = sock_name()
    res, fwd = start_pair(gatehouse, name)
    _, fwd2 = start_pair(gatehouse, name, resolver=False)
    fwd2.wait_stderr(f"lookups-socket {name}: Address already in use (another forwarder in "
                     "this network namespace?); no-name lines carry no recent lookups")
    assert fwd2.running()
    with open(res.config_path) as f:
        text = f.read().replace(f"lookups-socket {name}", "lookups-socket @gh-test-recent-x")
    with open(res.config_path, "w") as f:
        f.write(text)
    res.send_signal(signal.SIGHUP)
    res.wait_stderr("reload: lookups-socket changes take effect at the next start")
    lookup(res, "a.example")            # still told on the running socket
    wait_for(lambda: received(fwd, "recorded") == 1, timeout=T, what="1 recorded")


def test_check_refuses_a_bad_name(gatehouse):
    conf = gatehouse.write("c.conf", "allow a.example 443\n")
    r = gatehouse.run("gatehouse-forwarder", ["-c", conf, "--check"])
    assert r.returncode == 0, r.stderr
    assert "lookups-socket @gatehouse-lookups" in r.stdout.splitlines()
    for bad in ("/run/gatehouse/lookups", "@", "@bad*char", "@" + "x" * 108):
        r = gatehouse.run("gatehouse-resolver", ["-c", conf, "--check"],
                          env={"GATEHOUSE_LOOKUPS_SOCKET": bad})
        assert r.returncode == 2, (bad, r.stdout)
        assert "expected off or @NAME" in r.stderr, r.stderr
