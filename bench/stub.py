"""bench/stub.py: what a stub zone costs (issue 15): a cluster's own names (cluster.local)
passed by gatehouse-resolver to the zone's authoritative server, beside Unbound and dnsmasq
doing the same, and that server asked directly.

Called by run.py (`--only stub`); results go to res["stub"]. NSD stands for CoreDNS: an
authoritative-only server for cluster.local with 1,000 Services (svc-N.nsM.svc.cluster.local,
TTL 5 s and a negative TTL of 5 s, CoreDNS's defaults). Under Kubernetes every external
lookup also tries the pod's search domains below cluster.local first, so this path carries
more than the cluster's own names.

Servers on 127.0.77.70-76: the zone's NSD (70, on the load generator's CPU: the two cores
are dnsperf and the zone's server on one, the server under test on the other), NSD asked
directly (71, on the server under test's CPU: the floor), gatehouse (72), Unbound with its
default cache (73) and with `stub-no-cache` (74), dnsmasq with its default cache (75) and
`cache-size=0` (76). Every server runs for the whole phase; one is measured at a time.
"""
import random
import time

import configs
import dnswire
import peek

NET = ["127.0.77."]		# set by phase()
CPU = [0, 1]			# load generators and the zone's server / server under test
ZONE = "cluster.local"
ADDR = {"zone": 70, "nsd": 71, "gatehouse": 72, "unbound": 73, "unbound-nocache": 74,
        "dnsmasq": 75, "dnsmasq-nocache": 76}
KINDS = ["gatehouse", "unbound", "unbound-nocache", "dnsmasq", "dnsmasq-nocache", "nsd"]
SERVICES = 1000
NAMESPACES = 10
EXTERNAL = 300			# external names whose search-domain expansions are asked
QUERIES = 500000		# the query file of the saturation runs
LAT_QUERIES = 60000		# the latency runs': their own names never asked (dnsperf starts
				# each file from its top: these would be cached from the run before)
OUTSTANDING = 60		# dnsperf -q: under gatehouse's 64 passes in flight per client
LAT_QPS = 10000			# the fixed rate of the latency figures
TTL = 5				# CoreDNS's default, positive and negative


def service(i):
    return f"svc-{i}.ns{i % NAMESPACES}.svc.{ZONE}"


def service_addr(i):
    return f"10.96.{i >> 8}.{i & 255}"


def zone_text():
    lines = [f"$ORIGIN {ZONE}.", f"$TTL {TTL}",
             f"@ IN SOA ns.dns.{ZONE}. hostmaster.{ZONE}. 1 7200 1800 86400 {TTL}",
             f"@ IN NS ns.dns.{ZONE}.", f"ns.dns IN A {NET[0]}{ADDR['zone']}"]
    lines += [f"{service(i)}. IN A {service_addr(i)}" for i in range(SERVICES)]
    return "\n".join(lines) + "\n"


def queries(count, seed=15, tag="new"):
    """(name, expect) pairs, shuffled: 50% Services (1,000 names, NOERROR), 25% an external
    name (300 of them) with one of a pod's search domains appended (NXDOMAIN, repeated as a
    pod's lookups repeat), 25% names found once in the file (TAG-K-N.nsM.svc.cluster.local,
    NXDOMAIN: no cache helps)."""
    rng = random.Random(seed)
    ext = [f"api{k}.example{k % 30}.com" for k in range(EXTERNAL)]
    out = []
    for k in range(count):
        r = k % 4
        if r in (0, 1):
            out.append((service(rng.randrange(SERVICES)), "allow"))
        elif r == 2:
            ns = rng.randrange(NAMESPACES)
            sfx = rng.choice([f"ns{ns}.svc.{ZONE}", f"svc.{ZONE}", ZONE])
            out.append((f"{rng.choice(ext)}.{sfx}", "deny"))
        else:
            out.append((f"{tag}-{k}-{rng.randrange(10**6)}.ns{rng.randrange(NAMESPACES)}.svc."
                        f"{ZONE}", "deny"))
    rng.shuffle(out)
    return out


def in_services(addrs):
    return len(addrs) == 1 and addrs[0].startswith("10.96.")


def unbound_conf(work, listen, upstream, cache):
    """Unbound as a user would write it for this: a stub-zone, access for loopback clients,
    localhost upstreams allowed; everything else its defaults (qname minimisation on), one
    thread. cache False: `stub-no-cache: yes`, nothing of the zone is cached."""
    lines = ["server:", f"  interface: {listen}", "  port: 53", "  num-threads: 1",
             '  username: ""', '  chroot: ""', f'  directory: "{work}"', '  pidfile: ""',
             "  use-syslog: no", "  do-daemonize: no", f'  logfile: "{work}/unbound-stub.log"',
             "  access-control: 127.0.0.0/8 allow", "  do-not-query-localhost: no",
             "stub-zone:", f'  name: "{ZONE}"', f"  stub-addr: {upstream}"]
    if not cache:
        lines.append("  stub-no-cache: yes")
    lines += ["remote-control:", "  control-enable: no"]
    return "\n".join(lines) + "\n"


def dnsmasq_conf(listen, upstream, cache):
    lines = ["no-resolv", "no-hosts", "port=53", f"listen-address={listen}", "bind-interfaces",
             "user=root", f"server=/{ZONE}/{upstream}"]
    if not cache:
        lines.append("cache-size=0")
    return "\n".join(lines) + "\n"


def start(b, kind, upstream, res_bin):
    addr = NET[0] + str(ADDR[kind])
    tag = f"stub-{kind}"
    cpu = CPU[0] if kind == "zone" else CPU[1]
    if kind in ("zone", "nsd"):
        conf = b.write(f"{tag}.conf", configs.nsd_conf(b.work, tag, addr, zone=ZONE,
                                                       zonefile=f"{b.work}/stub.zone"))
        argv = ["nsd", "-d", "-c", conf]
    elif kind == "gatehouse":
        conf = b.write(f"{tag}.conf", configs.gatehouse_resolver(
            configs.RuleSet(1000), addr, b.path(f"{tag}.audit"),
            extra=[f"stub-zone {ZONE} {upstream}"]))
        argv = [res_bin, "-c", conf]
    elif kind.startswith("unbound"):
        conf = b.write(f"{tag}.conf", unbound_conf(b.work, addr, upstream,
                                                   not kind.endswith("nocache")))
        argv = ["unbound", "-d", "-c", conf]
    else:
        conf = b.write(f"{tag}.conf", dnsmasq_conf(addr, upstream, not kind.endswith("nocache")))
        argv = ["dnsmasq", "-k", "-C", conf]
    srv = b.procs.start(tag, argv, cpu)
    try:
        b.wait_dns(srv, addr, service(0), timeout=30)
    except Exception:
        b.procs.stop(srv)       # not ready: stopped now, not at the bench's end
        raise
    return srv, addr


def measure(b, kind, srv, addr, zone, qfile, latfile, rec):
    """QPS at saturation and CPU per query (the server's and the zone server's, from
    schedstat), then latency and CPU per query at LAT_QPS."""
    if not srv.alive():
        raise RuntimeError(f"{srv.name} died:\n{srv.tail()}")
    c0, z0 = peek.sched_ns(srv), peek.sched_ns(zone)
    d = b.dnsperf(addr, qfile, b.sat_s, outstanding=OUTSTANDING)
    c1, z1 = peek.sched_ns(srv), peek.sched_ns(zone)
    n = max(1, d["completed"])
    rec.setdefault("qps", []).append(d["qps"])
    rec.setdefault("cpu_us", []).append((c1 - c0) / n / 1000)
    if kind != "nsd":
        rec.setdefault("zone_cpu_us", []).append((z1 - z0) / n / 1000)
    rec.setdefault("lost_pct", []).append(100.0 * d.get("lost", 0) / max(1, d.get("sent", 1)))
    rec["rcodes"] = d.get("rcodes", "")
    b.trim(b.path("stub-gatehouse.audit"))
    c0 = peek.sched_ns(srv)
    d = b.dnsperf(addr, latfile, b.lat_s, qps=LAT_QPS, verbose=True,
                  outstanding=OUTSTANDING)
    c1 = peek.sched_ns(srv)
    lat = sorted(d["lat"])
    if lat:
        rec.setdefault("mean_us", []).append(sum(lat) / len(lat) * 1e6)
        rec.setdefault("p50_us", []).append(lat[len(lat) // 2] * 1e6)
        rec.setdefault("p99_us", []).append(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e6)
    rec.setdefault("cpu_us_fixed", []).append((c1 - c0) / max(1, d["completed"]) / 1000)
    rec.setdefault("lat_lost_pct", []).append(100.0 * d.get("lost", 0) /
                                              max(1, d.get("sent", 1)))
    rec["hwm_kib"] = max(rec.get("hwm_kib", 0), srv.hwm_kib())
    b.trim(b.path("stub-gatehouse.audit"))


def phase(b, net, res_bin, load_cpu, sut_cpu):
    """res["stub"]: {KIND: {qps, cpu_us, zone_cpu_us, p50_us, ...}, "meta": {...}}."""
    NET[:] = [net]
    CPU[:] = [load_cpu, sut_cpu]
    b.log("stub: cluster.local passed to NSD by gatehouse, Unbound, dnsmasq; NSD directly")
    res = b.res.setdefault("stub", {})
    pairs = queries(QUERIES)
    res["meta"] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                   "mode": "quick" if b.quick else "full", "runs": b.runs,
                   "gatehouse": b.res["meta"].get("versions", {}).get("gatehouse", "?"),
                   "bg_before": b.res["meta"].get("bg_before_stub"),
                   "queries": QUERIES, "outstanding": OUTSTANDING, "lat_qps": LAT_QPS,
                   "sat_s": b.sat_s, "lat_s": b.lat_s, "load_cpu": load_cpu,
                   "sut_cpu": sut_cpu}
    qfile = b.write("stub-queries.txt", configs.dnsperf_file(pairs))
    latfile = b.write("stub-lat-queries.txt", configs.dnsperf_file(
        queries(LAT_QUERIES, seed=16, tag="lat")))
    b.write("stub.zone", zone_text())
    servers = {}
    try:
        zone, upstream = start(b, "zone", None, res_bin)
        servers["zone"] = (zone, upstream)
        for kind in KINDS:
            try:
                servers[kind] = start(b, kind, upstream, res_bin)
            except Exception as e:  # noqa: BLE001  a server that will not start is reported
                b.err(f"stub: start {kind}", e)
                continue
            # the same answers from every server
            bad = dnswire.check(servers[kind][1], pairs[:200], in_services)
            res.setdefault(kind, {})["wrong"] = len(bad)
            if bad:
                b.err(f"stub: {kind} answers differ from the zone", bad[:3])
        for run in range(b.runs):
            keys = [k for k in KINDS if k in servers]
            rot = run % max(1, len(keys))
            for kind in keys[rot:] + keys[:rot]:
                srv, addr = servers[kind]
                rec = res.setdefault(kind, {})
                b.log(f"stub run {run + 1}/{b.runs}: {kind}")
                try:
                    b.guarded(f"stub {kind} run {run + 1}", rec,
                              lambda: measure(b, kind, srv, addr, zone, qfile, latfile, rec))
                except Exception as e:  # noqa: BLE001
                    b.err(f"stub: measure {kind}", e)
    finally:
        for srv, _ in reversed(list(servers.values())):
            b.procs.stop(srv)
