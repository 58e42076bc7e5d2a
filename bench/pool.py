"""bench/pool.py: what `answer pool` costs (issue 14): the resolver with a pool against
`answer auto`, and the forwarder's CPU per connection to a pool address against its usual paths.

Called by run.py (`--only pool`); results go to res["pool"]. The issue's target: the pool
costs at most 10% more on either.

Resolver (on loopback, 127/8 is local): the 1,000-rule job of the resolver phase with a
query file whose allowed names all fit the pool (held: the steady state), then files of
names never asked before: the pool filling, the pool full (answered as auto), and full with
every name past pool-hold (each new name takes the least recently answered address).

Forwarder: in two network namespaces this phase makes and deletes (a gateway with the pool
routed `local` on lo, an upstream behind a veth), because the forwarder dials the name on the
port the client dialled and listens on 0.0.0.0 on that port.
"""
import ipaddress
import os
import sys
import time
import urllib.request

import configs
import dnswire
import peek

HERE = os.path.dirname(os.path.abspath(__file__))
NET = ["127.0.77."]		# the loopback prefix of the bench's servers (set by phase())
CPU = [0, 1]			# load generators, server under test (set by phase())

# ---- resolver ----
RES_POOL = "127.88.0.0/18"	# 16,382 addresses: local on loopback
SLOTS = 16382
FILL_NAMES = SLOTS - 1		# the start-up check's query holds one address
HELD_QUERIES = 60000		# the 1,000-rule mix: 13,324 distinct allowed names, all held
EXHAUSTED_NAMES = 2000		# new names on a full pool
REUSED_NAMES = 300		# new names on a full pool whose names are past pool-hold
RES_ADDR = {"auto": 64, "pool": 65, "pool-full": 66, "pool-reuse": 67}
# (case, pool server, what the case measures)
RES_CASES = [
    ("held", "pool", "1,000 rules, the resolver phase's mix; every allowed name holds an "
     "address (a pass of the file before)"),
    ("fill", "pool-full", f"{FILL_NAMES:,} names never asked, each taking a free address (one "
     "pass, a fresh pool)"),
    ("exhausted", "pool-full", f"{EXHAUSTED_NAMES:,} more new names: every address held, "
     "answered as auto"),
    ("reused", "pool-reuse", f"{REUSED_NAMES:,} new names on a full pool whose names are past "
     "pool-hold (ttl 1, pool-hold 1): each takes the least recently answered address"),
]

# ---- forwarder ----
FWD_POOL = "10.88.0.0/18"
GW_ADDR, UP_ADDR = "10.89.0.1", "10.89.0.2"
PEEKED, ROUTED = 8080, 8081	# two names allowed: the name from the Host header / a route
NAME, OTHER = "web.pool.test", "other.pool.test"
# (row, forwarder, client dials, port, what it is)
FWD_CASES = [
    ("auto/host", "auto", "gw", PEEKED, "`answer auto`: gateway's address, name from the "
     "HTTP Host header"),
    ("auto/route", "auto", "gw", ROUTED, "`answer auto`: gateway's address, a `route`"),
    ("pool/address", "pool", "pool", PEEKED, "`answer pool`: the name's pool address "
     "(via address; the Host header checked against it)"),
    ("pool/host", "pool", "gw", PEEKED, "`answer pool`: gateway's address, name from the "
     "HTTP Host header"),
    ("pool/route", "pool", "gw", ROUTED, "`answer pool`: gateway's address, a `route`"),
]


def in_net(cidr):
    net = ipaddress.ip_network(cidr)
    return lambda addrs: len(addrs) == 1 and ipaddress.ip_address(addrs[0]) in net


def names_file(b, tag, rules, n, fname=None):
    """n names never asked before (TAG0.SUFFIX, TAG1.SUFFIX, ...), each below one of the rule
    set's wildcards; written to fname (default pool-TAG.txt)."""
    return b.write(fname or f"pool-{tag}.txt", configs.dnsperf_file(
        [(f"{tag}{i}.{rules.wild[i % len(rules.wild)]}", "allow") for i in range(n)]))


def one_pass(b, srv, addr, qfile, rec):
    """One dnsperf pass over qfile: CPU per query from the server's schedstat."""
    c0 = peek.sched_ns(srv)
    d = b.dnsperf(addr, qfile, None, extra=["-n", "1"])
    c1 = peek.sched_ns(srv)
    n = max(1, d["completed"])
    rec.setdefault("cpu_us", []).append((c1 - c0) / n / 1000)
    rec.setdefault("qps", []).append(d["qps"])
    rec.setdefault("lost_pct", []).append(100.0 * d.get("lost", 0) / max(1, d.get("sent", 1)))
    rec["rcodes"] = d.get("rcodes", "")


def metric(addr, name):
    """A counter from the resolver's /metrics (None when not found)."""
    try:
        with urllib.request.urlopen(f"http://{addr}:9153/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def start_res(b, rules, server, run, pairs, tag=None, prefix=()):
    """One gatehouse-resolver: answer auto, or a pool with a fresh state file."""
    addr = NET[0] + str(RES_ADDR[server])
    tag = tag or f"pool-res-{server}-{run}"
    extra = ["forward-listen 0.0.0.0", f"metrics {addr}:9153"]
    answer = "auto"
    if server != "auto":
        state = b.path(f"{tag}.state")
        if os.path.exists(state):
            os.unlink(state)
        answer = f"pool {RES_POOL}"
        # one dnsperf source stands for every client here: no per-client budget, or the
        # pool would stop at its first 64 names and measure the fallback instead
        extra += [f"pool-state {state}", "pool-max-per-client 0"]
    if server == "pool-reuse":
        extra += ["ttl 1", "pool-hold 1"]
    if prefix:
        extra.append("sandbox off")	# valgrind knows no seccomp(2): the filter breaks it
    srv, _ = b.start_resolver("gatehouse", 0, rules, addr, tag, prefix=prefix, answer=answer,
                              extra=extra)
    if server in ("auto", "pool"):	# not the fresh pools: every address stays free to fill
        bad = dnswire.check(addr, pairs[:200], addr if server == "auto" else in_net(RES_POOL))
        if bad:
            b.err(f"pool: {server} answers differ from the job", bad[:3])
    return srv, addr


def phase_resolver(b, res):
    rules = configs.RuleSet(1000)
    pairs = rules.queries(HELD_QUERIES)
    held = b.write("pool-held.txt", configs.dnsperf_file(pairs))
    fill = names_file(b, "f", rules, FILL_NAMES)
    full = names_file(b, "x", rules, EXHAUSTED_NAMES)
    reuse = names_file(b, "r", rules, REUSED_NAMES)
    out = res.setdefault("resolver", {})
    servers = {}
    try:
        for server in ("auto", "pool"):
            servers[server] = start_res(b, rules, server, 0, pairs)
            b.dnsperf(servers[server][1], held, None, extra=["-n", "1"])	# every name held
        for run in range(b.runs):
            for server in (("auto", "pool") if run % 2 == 0 else ("pool", "auto")):
                srv, addr = servers[server]
                b.log(f"pool run {run + 1}/{b.runs}: resolver {server}, held names")
                b.saturate(f"pool resolver {server}/held", run, srv, addr, held,
                           out.setdefault(f"{server}/held", {}))
            for case, qfile in (("fill", fill), ("exhausted", full), ("reused", reuse)):
                srv, addr = servers["auto"]
                b.log(f"pool run {run + 1}/{b.runs}: resolver auto, the {case} names")
                rec = out.setdefault(f"auto/{case}", {})
                b.guarded(f"pool resolver auto/{case} run {run + 1}", rec,
                          lambda: one_pass(b, srv, addr, qfile, rec))
            new_pool_runs(b, rules, pairs, run, out, fill, full, reuse)
        out["pool/held"]["names"] = metric(servers["pool"][1], "gatehouse_pool_names")
    finally:
        for srv, _ in servers.values():
            b.procs.stop(srv)
    if b.res["meta"].get("instr_method") != "perf stat":
        phase_callgrind(b, rules, pairs, res, fill)


# key -> (server, passes before the count, the counted file's kind)
CG_CASES = {"auto/held": ("auto", "held"), "pool/held": ("pool", "held"),
            "auto/new": ("auto", "new"), "pool/fill": ("pool-full", "new"),
            "pool/exhausted": ("pool-full", "exhausted"), "pool/reused": ("pool-reuse", "reused")}
CG_QUERIES = {"held": 5000, "new": 5000, "exhausted": 500, "reused": 50}


def phase_callgrind(b, rules, pairs, res, fill):
    """Instructions per query under callgrind (user space: what the pool adds to the
    resolver's own work, which CPU time per query buries under the kernel's), and the
    functions they go to."""
    b.log("pool: callgrind, instructions per query")
    held = b.write("pool-cg-held.txt", configs.dnsperf_file(pairs[:CG_QUERIES["held"]]))
    files = {"held": held}
    for kind, tag in (("new", "f"), ("exhausted", "x"), ("reused", "r")):
        files[kind] = names_file(b, tag, rules, CG_QUERIES[kind], f"pool-cg-{kind}.txt")
    slow = ["-n", "1", "-q", "20", "-t", "10"]
    instr, hot = res.setdefault("instr", {}), res.setdefault("hot", {})
    for key, (server, kind) in CG_CASES.items():
        tag = f"pool-cg-{key.replace('/', '-')}"
        prefix = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={b.path(tag)}.%p"]
        srv = None
        try:
            srv, addr = start_res(b, rules, server, "cg", pairs, tag=tag, prefix=prefix)
            if kind == "held":
                b.dnsperf(addr, held, None, extra=slow)	# every name held
            elif kind in ("exhausted", "reused"):
                fill_up(b, addr, fill)
                if kind == "reused":
                    time.sleep(2.1)			# every name past pool-hold
            instr[key], dumps = b.callgrind_count(srv, addr, files[kind], tag)
            instr[key]["exhausted_total"] = metric(addr, "gatehouse_pool_exhausted_total")
            instr[key]["reused_total"] = metric(addr, "gatehouse_pool_reused_total")
            if dumps:
                hot[key] = b.hotspots(dumps[0], top=60)
        except Exception as e:  # noqa: BLE001
            b.err(f"pool callgrind {key}", e)
        finally:
            if srv is not None:
                b.procs.stop(srv, timeout=20)


def fill_up(b, addr, fill, tries=3):
    """Pass fill again (slowly) until every address holds a name: a pass at full speed on
    a loaded machine can lose queries. Bounded."""
    for _ in range(tries):
        if metric(addr, "gatehouse_pool_names") == SLOTS:
            return
        b.dnsperf(addr, fill, None, extra=["-n", "1", "-q", "20", "-t", "10"])
    if metric(addr, "gatehouse_pool_names") != SLOTS:
        raise RuntimeError(f"the pool is not full after {tries} passes of the fill names")


def counted(b, rec, label, srv, addr, qfile, counter):
    """One pass of new names on a full pool, measured once (a second pass would find
    them held); the counter's rise per pass into rec."""
    c0 = metric(addr, counter)
    b.guarded(label, rec, lambda: one_pass(b, srv, addr, qfile, rec), retry=False)
    c1 = metric(addr, counter)
    if c0 is not None and c1 is not None:
        rec.setdefault(counter, []).append(c1 - c0)


def new_pool_runs(b, rules, pairs, run, out, fill, full, reuse):
    """The pool filling, full, and full past pool-hold: fresh resolvers with fresh state;
    each measured once (taken again, the names would be held)."""
    for server in ("pool-full", "pool-reuse"):
        srv = None
        try:
            srv, addr = start_res(b, rules, server, run + 1, pairs)
            if server == "pool-full":
                b.log(f"pool run {run + 1}/{b.runs}: resolver pool, the fill names")
                rec = out.setdefault("pool/fill", {})
                b.guarded(f"pool resolver pool/fill run {run + 1}", rec,
                          lambda: one_pass(b, srv, addr, fill, rec), retry=False)
                fill_up(b, addr, fill)
                b.log(f"pool run {run + 1}/{b.runs}: resolver pool, the exhausted names")
                counted(b, out.setdefault("pool/exhausted", {}),
                        f"pool resolver pool/exhausted run {run + 1}", srv, addr, full,
                        "gatehouse_pool_exhausted_total")
            else:
                fill_up(b, addr, fill)
                time.sleep(2.1)		# every name past pool-hold (1 s, whole seconds)
                b.log(f"pool run {run + 1}/{b.runs}: resolver pool, the reused names")
                counted(b, out.setdefault("pool/reused", {}),
                        f"pool resolver pool/reused run {run + 1}", srv, addr, reuse,
                        "gatehouse_pool_reused_total")
        except Exception as e:  # noqa: BLE001
            b.err(f"pool resolver {server} run {run + 1}", e)
        finally:
            if srv is not None:
                b.procs.stop(srv)


# ---- forwarder, in namespaces ----

class Netns:
    """The gateway and upstream namespaces (unique names), deleted by close() whatever
    was made of them."""

    def __init__(self, b):
        tag = f"ghb{os.getpid()}"
        self.b = b
        self.gw, self.up = f"{tag}-gw", f"{tag}-up"
        self.made = []
        self.veth = (f"{tag}g"[:15], f"{tag}u"[:15])

    def ip(self, *argv):
        r = self.b.sh(["ip"] + list(argv), 20)
        if r.returncode != 0:
            raise RuntimeError(f"ip {' '.join(argv)}: {r.stderr.strip()}")

    def make(self):
        for ns in (self.gw, self.up):
            self.ip("netns", "add", ns)
            self.made.append(ns)
            self.ip("-n", ns, "link", "set", "lo", "up")
        g, u = self.veth
        self.ip("link", "add", g, "netns", self.gw, "type", "veth", "peer", "name", u,
                "netns", self.up)
        self.ip("-n", self.gw, "addr", "add", f"{GW_ADDR}/24", "dev", g)
        self.ip("-n", self.up, "addr", "add", f"{UP_ADDR}/24", "dev", u)
        self.ip("-n", self.gw, "link", "set", g, "up")
        self.ip("-n", self.up, "link", "set", u, "up")
        self.ip("-n", self.gw, "route", "add", "local", FWD_POOL, "dev", "lo", "table", "local")

    def exec(self, ns):
        return ["ip", "netns", "exec", ns]

    def close(self):
        for ns in reversed(self.made):
            r = self.b.sh(["ip", "netns", "del", ns], 20)
            if r.returncode != 0:
                self.b.err(f"ip netns del {ns}", r.stderr.strip())
        self.made = []


def fwd_conf(b, kind):
    lines = ["# gatehouse-forwarder, pool benchmark", "forward-listen 0.0.0.0",
             "upstream 127.0.0.1:53", f"dns-listen {GW_ADDR}:53",
             f"audit {b.path(f'pool-fwd-{kind}.audit')}", "audit-rate 0", "user root",
             "max-conns 10000", "max-conns-per-client 10000",
             f"allow {NAME} {PEEKED} private", f"allow {OTHER} {PEEKED} private",
             f"route {ROUTED} {NAME} private"]
    if kind == "pool":
        lines += [f"answer pool {FWD_POOL}", f"pool-state {b.path('pool-fwd.state')}"]
    return "\n".join(lines) + "\n"


def bounded(what, srv, fn, timeout=20):
    """fn() until it returns something other than None, at most timeout seconds, while
    srv runs."""
    end = time.monotonic() + timeout
    while True:
        if not srv.alive():
            raise RuntimeError(f"{srv.name} exited:\n{srv.tail()}")
        try:
            v = fn()
            if v is not None:
                return v
        except RuntimeError:
            if time.monotonic() > end:
                raise
        if time.monotonic() > end:
            raise RuntimeError(f"{what}: nothing in {timeout}s")
        time.sleep(0.2)


def pool_address(b, ns):
    """The pool address the gateway's resolver answers for NAME."""
    code = (f"import sys; sys.path.insert(0, {HERE!r}); import dnswire; "
            f"r = dnswire.query({GW_ADDR!r}, {NAME!r}); print(r[1][0] if r and r[1] else '')")
    r = b.sh(ns.exec(ns.gw) + [sys.executable, "-c", code], 10)
    a = r.stdout.strip()
    return a or None


def fwd_batch(b, srv, ns, dial, port, n, rec):
    """n connections one after another: the forwarder's CPU per connection (schedstat)."""
    c0, t0 = peek.sched_ns(srv), time.monotonic()
    lat = peek.probe(b, dial, n, timeout=120, port=port, name=NAME, prefix=ns.exec(ns.gw))
    c1, t1 = peek.sched_ns(srv), time.monotonic()
    if len(lat) != n:
        raise RuntimeError(f"{len(lat)} of {n} connections in 120 s")
    rec.setdefault("cpu_us_conn", []).append((c1 - c0) / n / 1000)
    rec.setdefault("cps", []).append(n / (t1 - t0))
    rec.setdefault("p50_us", []).append(peek.pct(lat, 0.5))


def phase_forwarder(b, res, fwd_bin, res_bin):
    out = res.setdefault("forwarder", {})
    n = 500 if b.quick else 3000
    ns = Netns(b)
    started = []
    try:
        ns.make()
        for port in (PEEKED, ROUTED):
            o = b.procs.start(f"pool-origin-{port}", ns.exec(ns.up) + [
                sys.executable, peek.DRIP, "origin", UP_ADDR, str(port)], CPU[0])
            started.append(o)
        dns = b.procs.start("pool-dnsmasq", ns.exec(ns.gw) + ["dnsmasq", "-k", "-C", b.write(
            "pool-dnsmasq.conf", "no-resolv\nno-hosts\nport=53\nlisten-address=127.0.0.1\n"
            f"bind-interfaces\nuser=root\naddress=/#/\naddress=/pool.test/{UP_ADDR}\n")],
            CPU[0])
        started.append(dns)
        rconf = b.write("pool-gw-resolver.conf", configs.gatehouse_resolver(
            configs.RuleSet(0), GW_ADDR, "off", answer=f"pool {FWD_POOL}", extra=[
                "forward-listen 0.0.0.0", f"pool-state {b.path('pool-fwd.state')}",
                f"allow {NAME} {PEEKED} private", f"allow {OTHER} {PEEKED} private"]))
        gres = b.procs.start("pool-gw-resolver", ns.exec(ns.gw) + [res_bin, "-c", rconf],
                             CPU[0])
        started.append(gres)
        paddr = bounded("the gateway's resolver", gres, lambda: pool_address(b, ns))
        if not in_net(FWD_POOL)([paddr]):
            raise RuntimeError(f"{NAME} answered {paddr}, not a {FWD_POOL} address")
        out["meta"] = {"pool_address": paddr, "connections": n}
        dial = {"gw": GW_ADDR, "pool": paddr}
        for run in range(b.fwd_runs):
            kinds = ("auto", "pool") if run % 2 == 0 else ("pool", "auto")
            for kind in kinds:
                srv = b.procs.start(f"pool-fwd-{kind}-{run}", ns.exec(ns.gw) + [
                    fwd_bin, "-c", b.write(f"pool-fwd-{kind}.conf", fwd_conf(b, kind))],
                    CPU[1])
                try:
                    cases = [c for c in FWD_CASES if c[1] == kind]
                    for row, _, to, port, _ in cases:	# up, and warm: the name resolved
                        bounded(f"{row}: the forwarder", srv, lambda: peek.probe(
                            b, dial[to], 20, timeout=10, port=port, name=NAME,
                            prefix=ns.exec(ns.gw)))
                    if kind == "pool":
                        check_audit(b, "pool")
                    for row, _, to, port, _ in (cases if run % 2 == 0 else cases[::-1]):
                        b.log(f"pool run {run + 1}/{b.fwd_runs}: forwarder {row}, {n} "
                              "connections")
                        rec = out.setdefault(row, {})
                        b.guarded(f"pool forwarder {row} run {run + 1}", rec,
                                  lambda: fwd_batch(b, srv, ns, dial[to], port, n, rec))
                except Exception as e:  # noqa: BLE001
                    b.err(f"pool forwarder {kind} run {run + 1}", e)
                finally:
                    b.procs.stop(srv)
    finally:
        for s in reversed(started):
            b.procs.stop(s)
        ns.close()


def check_audit(b, kind):
    """The warm-up's connections to the pool address went "via":"address"."""
    with open(b.path(f"pool-fwd-{kind}.audit")) as f:
        lines = f.read().splitlines()
    if not any('"via":"address"' in line for line in lines):
        raise RuntimeError(f"no \"via\":\"address\" line in the audit: {lines[-1:]}")


def phase(b, net, res_bin, fwd_bin, load_cpu, sut_cpu):
    """res["pool"]: {"resolver": {SERVER/CASE: {...}}, "forwarder": {ROW: {...}}, "meta"}."""
    peek.CPU[:] = [load_cpu, sut_cpu]
    NET[:] = [net]
    CPU[:] = [load_cpu, sut_cpu]
    b.log("pool: resolver with `answer pool` against `answer auto`; forwarder CPU per "
          "connection by pool address against the gateway's address")
    res = b.res.setdefault("pool", {})
    res["meta"] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                   "mode": "quick" if b.quick else "full", "runs": b.runs,
                   "fwd_runs": b.fwd_runs,
                   "gatehouse": b.res["meta"].get("versions", {}).get("gatehouse", "?"),
                   "bg_before": b.res["meta"].get("bg_before_pool")}
    try:
        phase_resolver(b, res)
    except Exception as e:  # noqa: BLE001
        b.err("pool resolver", e)
    b.wait_quiet(10 if b.quick else 30, "bg_before_pool_forwarder")
    res["meta"]["bg_before_forwarder"] = b.res["meta"].get("bg_before_pool_forwarder")
    try:
        phase_forwarder(b, res, fwd_bin, res_bin)
    except Exception as e:  # noqa: BLE001
        b.err("pool forwarder", e)
