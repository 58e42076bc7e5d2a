"""bench/peek.py: the forwarder's peek when clients drip their first bytes (issue 11, item 4).

Forwarder CPU per connection for first bytes sent at once against the same bytes sent one
line, record or byte per TCP segment, and the latency of another client's request while 100
clients drip request heads. Called by run.py (`--only peek`); results go to res["peek"].
"""
import os
import ssl
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DRIP = os.path.join(HERE, "drip.py")
PORT = 8080
DENIED = "denied.peek.test"     # no rule names it: every measured head ends in a refusal
ORIGIN_NAME = "web.peek.test"   # the probe's name, relayed to the origin

# The cases (segments() builds their bytes; report.PEEK_CASES names them): key ->
# (connections, open at a time). Issue 11's drip took the old forwarder ~0.1 s a connection.
CASES = {"http_fields": (200, 50), "http_lines": (10, 10), "tls_records": (200, 50),
         "tls_bytes": (100, 50)}
GAP_MS = 1.0            # between rounds: every dripped segment is its own read
LOAD_CLIENTS, LOAD_GAP_MS = 100, 2.0
CPU = [0, 1]            # load generators, forwarder (set by phase())


def client_hello(name):
    """A real ClientHello (OpenSSL through Python's ssl) naming name: one record."""
    ctx = ssl.create_default_context()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def split_records(hello, n):
    """The handshake message of a one-record hello re-cut into n records."""
    body = hello[5:5 + struct.unpack(">H", hello[3:5])[0]]
    step = -(-len(body) // n)
    recs = [body[i:i + step] for i in range(0, len(body), step)]
    assert len(recs) == n, (len(body), n)
    return [b"\x16\x03\x01" + struct.pack(">H", len(r)) + r for r in recs]


def segments(key):
    """The dripped segments of a case (their concatenation is what is sent at once)."""
    if key == "http_fields":
        lines = [b"GET / HTTP/1.1\r\n", f"Host: {DENIED}\r\n".encode()]
        lines += [b"X-Field-%02d: value\r\n" % i for i in range(99)]
        return lines + [b"\r\n"]
    if key == "http_lines":
        lines = [b"GET / HTTP/1.1\r\n"]
        while sum(map(len, lines)) + 3 <= 16384:
            lines.append(b"a:\n")
        return lines
    hello = client_hello(DENIED)
    if key == "tls_records":
        return split_records(hello, 64)
    return [hello[i:i + 1] for i in range(len(hello))]


def write_segments(path, segs):
    with open(path, "wb") as f:
        for s in segs:
            f.write(struct.pack(">I", len(s)) + s)


def sched_ns(srv):
    """Nanoseconds on a CPU of every thread of the server's processes (/proc/PID/schedstat:
    finer than the clock ticks of /proc/PID/stat)."""
    total = 0
    for pid in srv.pids():
        try:
            for t in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                    total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def drip_run(b, addr, n, par, segfile, timeout):
    r = subprocess.run(["taskset", "-c", str(CPU[0]), sys.executable, DRIP, "send", addr,
                        str(PORT), str(n), str(par), str(GAP_MS), segfile, str(timeout)],
                       capture_output=True, text=True, timeout=timeout + 30)
    parts = r.stdout.split()
    if r.returncode != 0 or len(parts) != 4 or parts[0] != "DONE":
        raise RuntimeError(f"drip.py send: rc {r.returncode} {r.stdout} {r.stderr[-300:]}")
    if int(parts[1]) != n:
        raise RuntimeError(f"drip.py send: {parts[1]} of {n} connections ended in {timeout}s")
    return int(parts[2])


def measure_case(b, srv, addr, key, rec):
    n, par = CASES[key]
    segs = segments(key)
    drip_f = b.path(f"peek-{key}-drip.seg")
    once_f = b.path(f"peek-{key}-once.seg")
    write_segments(drip_f, segs)
    write_segments(once_f, [b"".join(segs)])
    rec["bytes"] = sum(map(len, segs))
    rec["segments"] = len(segs)
    timeout = 120
    for how, path in (("once", once_f), ("drip", drip_f)):
        c0 = sched_ns(srv)
        sent = drip_run(b, addr, n, par, path, timeout)
        c1 = sched_ns(srv)
        rec.setdefault(f"{how}_us", []).append((c1 - c0) / n / 1000)
        rec.setdefault(f"{how}_segs", []).append(sent / n)


def probe(b, addr, n, timeout=60, port=PORT, name=ORIGIN_NAME, prefix=()):
    """Latencies (µs, sorted) of n requests one after another, each a new connection;
    prefix: what the client runs under (`ip netns exec NS`)."""
    r = subprocess.run(["taskset", "-c", str(CPU[0])] + list(prefix) + [
                        sys.executable, DRIP, "probe", addr, str(port), name, str(n),
                        str(timeout)],
                       capture_output=True, text=True, timeout=timeout + 30)
    if r.returncode != 0:
        raise RuntimeError(f"drip.py probe: rc {r.returncode} {r.stderr[-300:]}")
    lat = sorted(float(x) for x in r.stdout.split())
    if len(lat) < n // 2:
        raise RuntimeError(f"drip.py probe: {len(lat)} of {n} requests in {timeout}s")
    return lat


def pct(lat, p):
    return lat[min(len(lat) - 1, int(len(lat) * p))]


def measure_latency(b, srv, addr, rec, n):
    lat = probe(b, addr, n)
    rec.setdefault("alone_p50_us", []).append(pct(lat, 0.5))
    rec.setdefault("alone_p99_us", []).append(pct(lat, 0.99))
    segfile = b.path("peek-load.seg")
    write_segments(segfile, segments("http_lines"))
    load = subprocess.Popen(["taskset", "-c", str(CPU[0]), sys.executable, DRIP, "load",
                             addr, str(PORT), str(LOAD_CLIENTS), str(LOAD_GAP_MS), segfile],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        line = load.stdout.readline().strip()
        if line != "READY":
            raise RuntimeError(f"drip.py load: {line!r}")
        time.sleep(b.peek_warm_s)       # let the heads grow: the old cost rose with their length
        c0, t0 = sched_ns(srv), time.monotonic()
        lat = probe(b, addr, n)
        c1, t1 = sched_ns(srv), time.monotonic()
        load.stdin.close()
        out = load.stdout.readline().split()
        load.wait(10)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait(5)
    rec.setdefault("drip_p50_us", []).append(pct(lat, 0.5))
    rec.setdefault("drip_p99_us", []).append(pct(lat, 0.99))
    rec.setdefault("drip_cpu_pct", []).append((c1 - c0) / 1e7 / (t1 - t0))
    if len(out) == 3 and out[0] == "DONE":
        rec.setdefault("drip_conns", []).append(int(out[1]))


def phase(b, net, fwd_bin, load_cpu, sut_cpu):
    """res["peek"]: {case: {once_us: [...], drip_us: [...], ...}, "latency": {...}}."""
    CPU[:] = [load_cpu, sut_cpu]
    b.log("peek: forwarder CPU for first bytes dripped against sent at once; latency "
          f"beside {LOAD_CLIENTS} drip clients")
    fwd_addr, origin_addr, dns_addr = net + "16", net + "22", net + "31"
    res = b.res.setdefault("peek", {})
    res["meta"] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                   "mode": "quick" if b.quick else "full", "runs": b.runs,
                   "gatehouse": b.res["meta"].get("versions", {}).get("gatehouse", "?"),
                   "bg_before": b.res["meta"].get("bg_before_peek")}
    origin = b.procs.start("peek-origin", [sys.executable, DRIP, "origin", origin_addr,
                                           str(PORT)], CPU[0])
    dns = b.procs.start("peek-dnsmasq", ["dnsmasq", "-k", "-C", b.write(
        "peek-dnsmasq.conf", "no-resolv\nno-hosts\nport=53\n"
        f"listen-address={dns_addr}\nbind-interfaces\nuser=root\naddress=/#/\n"
        f"address=/{ORIGIN_NAME}/{origin_addr}\n")], CPU[0])
    conf = b.write("peek-fwd.conf", f"""# gatehouse-forwarder, peek benchmark
forward-listen {fwd_addr}
upstream {dns_addr}:53
audit {b.path("peek-fwd.audit")}
audit-rate 0
user root
peek-timeout 60
max-conns 10000
max-conns-per-client 10000
allow {ORIGIN_NAME} {PORT} private
# a second name, so that the port is peeked (one exact name alone would route it)
allow other.peek.test {PORT} private
""")
    srv = b.procs.start("peek-fwd", [fwd_bin, "-c", conf], CPU[1])
    try:
        b.wait_tcp(origin, origin_addr, PORT)
        b.wait_dns(dns, dns_addr, ORIGIN_NAME)
        b.wait_tcp(srv, fwd_addr, PORT)
        probe(b, fwd_addr, 5)           # warm: the name resolved and cached
        for run in range(b.runs):
            for key in CASES:
                b.log(f"peek run {run + 1}/{b.runs}: {key}")
                rec = res.setdefault(key, {})
                b.guarded(f"peek {key} run {run + 1}", rec,
                          lambda key=key, rec=rec: measure_case(b, srv, fwd_addr, key, rec))
            b.log(f"peek run {run + 1}/{b.runs}: latency beside {LOAD_CLIENTS} drip clients")
            rec = res.setdefault("latency", {})
            b.guarded(f"peek latency run {run + 1}", rec,
                      lambda rec=rec: measure_latency(b, srv, fwd_addr, rec, b.peek_probes))
    finally:
        for s in (srv, dns, origin):
            b.procs.stop(s)
