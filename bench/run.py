#!/usr/bin/python3
"""bench/run.py: `make bench`: gatehouse side by side with NSD, Unbound, dnsmasq, nginx
stream and HAProxy on this machine; writes bench/RESULTS.md (and the raw figures to
bench/RESULTS.json) and prints the report.

  /usr/bin/python3 bench/run.py [--quick] [--runs N] [--only PHASES] [--merge] [--keep] [--out FILE]

--only runs some of the phases (resolver, rules, policies, callgrind, forwarder, peek,
pool, stub); with --merge the report keeps the other phases' figures from the RESULTS.json it
replaces, saying so. Runs as root (it installs missing Debian packages, binds port 53 on
127.0.77.x, bind-mounts a hosts file in a private mount namespace for wrk, and makes two
network namespaces for the pool phase, deleted on every way out). Every server it starts is
stopped by pid on every way out, Ctrl-C included. About 14 minutes (--quick about 3),
abandoned past HARD_LIMIT.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True	# leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import configs  # noqa: E402
import dnswire  # noqa: E402
import peek  # noqa: E402
import pool  # noqa: E402
import report  # noqa: E402
import stub  # noqa: E402
from procs import Background, Procs  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
GH_RESOLVER = os.path.join(BUILD, "gatehouse-resolver")
GH_FORWARDER = os.path.join(BUILD, "gatehouse-forwarder")
LOAD_CPU, SUT_CPU = 0, 1		# load generators (and the TLS origin) / server under test
NET = "127.0.77."
HARD_LIMIT = 20 * 60			# seconds; the whole run is abandoned past this

RES_ADDR = {("gatehouse", 0): 1, ("nsd", 0): 2, ("unbound", 0): 3, ("dnsmasq", 0): 4,
            ("gatehouse", 1): 5, ("nsd", 1): 6, ("unbound", 1): 7, ("dnsmasq", 1): 8}
RES_KINDS = ["gatehouse", "nsd", "unbound", "dnsmasq"]
FWD_ADDR = {"gatehouse": 10, "nginx": 11, "haproxy": 12, "direct": 20}
IDLE_ADDR = {"gatehouse": 13, "nginx": 14, "haproxy": 15}
UPSTREAM, SINK, FWD_DNS = NET + "20", NET + "21", NET + "30"

PACKAGES = {  # binary -> Debian package
    "dnsperf": "dnsperf", "nsd": "nsd", "unbound": "unbound", "dnsmasq": "dnsmasq-base",
    "nginx": "nginx", "haproxy": "haproxy", "wrk": "wrk", "curl": "curl",
    "fstrm_capture": "fstrm-bin", "valgrind": "valgrind", "openssl": "openssl",
    "taskset": "util-linux", "ip": "iproute2",
}
PHASE_SECTIONS = {"resolver": ["resolver"], "rules": ["rules"], "policies": ["policies"],
                  "callgrind": ["instr", "hot"],
                  "forwarder": ["forwarder"], "peek": ["peek"], "pool": ["pool"],
                  "stub": ["stub"]}
PHASES = {  # phase -> the binaries it runs (taskset: all of them)
    "resolver": {"dnsperf", "nsd", "fstrm_capture", "unbound", "dnsmasq"},
    "rules": {"dnsperf"},
    "policies": {"dnsperf"},
    "callgrind": {"dnsperf", "nsd", "fstrm_capture", "unbound", "dnsmasq", "valgrind"},
    "forwarder": {"nginx", "haproxy", "wrk", "curl", "openssl", "dnsmasq"},
    "peek": {"dnsmasq"},
    "pool": {"dnsperf", "dnsmasq", "ip"},
    "stub": {"dnsperf", "nsd", "unbound", "dnsmasq"},
}


class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.phases = set(args.only.split(",")) if args.only else set(PHASES)
        unknown = self.phases - set(PHASES)
        if unknown:
            sys.exit(f"bench: unknown phase(s) {','.join(sorted(unknown))}; "
                     f"known: {','.join(PHASES)}")
        self.runs = args.runs or (1 if args.quick else 3)
        # forwarder figures swing more on this VM (TLS on a shared core): more runs, same bound
        self.fwd_runs = args.runs or (1 if args.quick else 5)
        self.work = tempfile.mkdtemp(prefix="gatehouse-bench-", dir="/var/tmp")
        self.procs = Procs(self.work)
        self.bg = Background(self.procs)
        self.retry_budget = 0 if args.quick else 120	# seconds of re-measurement allowed
        self.t0 = time.monotonic()
        self.res = {"meta": {}, "resolver": {}, "rules": {}, "policies": {}, "instr": {}, "hot": {},
                    "forwarder": {}, "peek": {}, "pool": {}, "stub": {}, "notes": [], "errors": []}
        q = self.quick
        self.sat_s = 1.5 if q else 4
        self.lat_s = 1 if q else 3
        self.lat_qps = 20000
        self.rules_s = 1.5 if q else 4
        self.cg_queries = 1000 if q else 5000
        self.bulk_mib = 256 if q else 1024
        self.wrk_s = 2 if q else 4
        self.idle_n = 2000
        self.peek_warm_s = 10		# drip clients run this long before the probe
        self.peek_probes = 200 if q else 500

    # ---- plumbing ----

    def log(self, msg):
        print(f"[{time.monotonic() - self.t0:6.1f}s] {msg}", flush=True)

    def err(self, what, e):
        self.log(f"ERROR {what}: {e}")
        self.res["errors"].append(f"{what}: {e}")

    def path(self, name):
        return os.path.join(self.work, name)

    def write(self, name, text, mode=0o644):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    def sh(self, argv, timeout, **kw):
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)

    def guarded(self, label, rec, fn, retry=True):
        """Run one measurement fn() that appends to the lists in rec; note the CPU other
        people's processes used meanwhile, and measure once more when that was over 10% of a
        core (while the retry budget lasts; never with retry=False: a measurement that
        changes the server's state cannot be taken again)."""
        for attempt in (0, 1):
            lens = {k: len(v) for k, v in rec.items() if isinstance(v, list)}
            t = time.monotonic()
            self.bg.start()
            fn()
            bg = self.bg.stop()
            spent = time.monotonic() - t
            if bg <= 10 or attempt == 1 or not retry or self.retry_budget < spent:
                break
            self.retry_budget -= spent
            self.log(f"  {label}: other processes used {bg:.0f}% of a core; measuring again")
            self.res["meta"]["remeasured"] = self.res["meta"].get("remeasured", 0) + 1
            for k, v in rec.items():
                if isinstance(v, list) and k in lens:
                    del v[lens[k]:]
                elif isinstance(v, list):
                    v.clear()
        rec.setdefault("bg", []).append(bg)
        if bg > 10:
            self.res["meta"].setdefault("noisy", []).append(f"{label} ({bg:.0f}%)")

    def wait_quiet(self, max_s=30, key="bg_at_start"):
        """Wait (bounded) for other people's processes to leave the cores alone."""
        end = time.monotonic() + max_s
        while True:
            self.bg.start()
            time.sleep(1)
            bg = self.bg.stop()
            if bg < 5 or time.monotonic() > end:
                break
            self.log(f"waiting for a quiet machine: other processes use {bg:.0f}% of a core")
        self.res["meta"][key] = round(bg, 1)

    # ---- setup ----

    def ensure_tools(self):
        need = {"taskset"}.union(*(PHASES[p] for p in self.phases))
        missing = sorted({PACKAGES[b] for b in need if shutil.which(b) is None})
        if "forwarder" in self.phases and \
                not os.path.exists("/usr/lib/nginx/modules/ngx_stream_module.so"):
            missing.append("libnginx-mod-stream")
        if missing:
            if os.geteuid() != 0:
                sys.exit(f"bench: missing {' '.join(missing)}; run as root to install them")
            self.log(f"installing {' '.join(missing)}")
            # keep Debian from starting the packaged services (nginx on :80 and so on)
            policy = "/usr/sbin/policy-rc.d"
            made = not os.path.exists(policy)
            if made:
                with open(policy, "w") as f:
                    f.write("#!/bin/sh\nexit 101\n")
                os.chmod(policy, 0o755)
            try:
                env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
                subprocess.run(["apt-get", "install", "-y", "--no-install-recommends"] + missing,
                               env=env, check=True, timeout=300)
            finally:
                if made:
                    os.unlink(policy)
        for b in (GH_RESOLVER, GH_FORWARDER):
            if not os.access(b, os.X_OK):
                sys.exit(f"bench: {b} is missing; run `make` first")
        if os.geteuid() != 0:
            sys.exit("bench: run as root (port 53, taskset, a private mount namespace for wrk)")
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        if hard < 3 * self.idle_n:
            self.idle_n = max(100, hard // 3 - 100)
            self.res["notes"].append(f"open-file limit {hard}: idle test holds {self.idle_n}")
        if (os.cpu_count() or 1) < 2:
            global SUT_CPU
            SUT_CPU = 0
            self.res["notes"].append("one core: load generator and server share it")

    def perf_works(self):
        if shutil.which("perf") is None:
            return False
        try:
            r = self.sh(["perf", "stat", "-x,", "-e", "instructions", "true"], 10)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return any(line.split(",")[0].strip().isdigit() for line in r.stderr.splitlines())

    def versions(self):
        def first(argv, pick=None):
            try:
                r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
                out = (r.stdout + r.stderr).strip().splitlines()
                if pick:
                    out = [l for l in out if pick in l] or out
                return out[0].strip() if out else "?"
            except (OSError, subprocess.TimeoutExpired):
                return "not found"
        try:
            desc = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                                  capture_output=True, text=True, timeout=10).stdout.strip()
        except OSError:
            desc = ""
        gh = first([GH_RESOLVER, "--version"]) + (f" (git {desc})" if desc else "")
        model = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        self.res["meta"] = {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cpu": model, "cores": os.cpu_count(), "kernel": platform.release(),
            "mode": "quick" if self.quick else "full", "runs": self.runs,
            "fwd_runs": self.fwd_runs,
            "load_cpu": LOAD_CPU, "sut_cpu": SUT_CPU,
            "versions": {
                "gatehouse": gh,
                "dnsperf": first(["dnsperf", "-h"], "Version"),
                "NSD": first(["nsd", "-v"], "version"),
                "Unbound": first(["unbound", "-V"], "Version"),
                "dnsmasq": first(["dnsmasq", "-v"], "version"),
                "nginx": first(["nginx", "-v"]),
                "HAProxy": first(["haproxy", "-v"], "version"),
                "wrk": first(["wrk", "-v"], "wrk"),
                "curl": first(["curl", "-V"]),
                "OpenSSL": first(["openssl", "version"]),
                "fstrm_capture": first(["dpkg-query", "-W", "fstrm-bin"]),
                "valgrind": first(["valgrind", "--version"]),
                "libevent": first(["pkg-config", "--modversion", "libevent"]),
                "c-ares": first(["pkg-config", "--modversion", "libcares"]),
                "ldns": first(["pkg-config", "--modversion", "ldns"]),
            },
        }

    # ---- waiting for servers ----

    def wait_dns(self, srv, addr, name, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not srv.alive():
                raise RuntimeError(f"{srv.name} exited:\n{srv.tail()}")
            if dnswire.query(addr, name, timeout=0.3) is not None:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{srv.name} did not answer on {addr} in {timeout}s:\n{srv.tail()}")

    def wait_tcp(self, srv, addr, port, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if srv is not None and not srv.alive():
                raise RuntimeError(f"{srv.name} exited:\n{srv.tail()}")
            try:
                socket.create_connection((addr, port), 0.3).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{srv and srv.name} not listening on {addr}:{port}")

    def wait_file(self, srv, path, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end and not os.path.exists(path):
            if not srv.alive():
                raise RuntimeError(f"{srv.name} exited:\n{srv.tail()}")
            time.sleep(0.05)
        if not os.path.exists(path):
            raise RuntimeError(f"{srv.name}: {path} did not appear")

    # ---- resolvers ----

    def start_resolver(self, kind, logon, rules, addr, tag, prefix=(), **gh):
        """Start one resolver; returns (server, path of its query log or None). gh: more
        arguments of configs.gatehouse_resolver (answer, extra)."""
        logfile = self.path(f"{tag}.querylog") if logon else None
        if kind == "gatehouse":
            conf = self.write(f"{tag}.conf", configs.gatehouse_resolver(
                rules, addr, logfile or "off", **gh))
            srv = self.procs.start(tag, list(prefix) + [GH_RESOLVER, "-c", conf], SUT_CPU)
        elif kind == "nsd":
            sock = self.path(f"{tag}.dnstap.sock") if logon else None
            collector = None
            if logon:
                collector = self.procs.start(f"{tag}-fstrm", ["fstrm_capture", "-t",
                                             "protobuf:dnstap.Dnstap", "-u", sock, "-w", logfile],
                                             SUT_CPU)
                self.wait_file(collector, sock)
            conf = self.write(f"{tag}.conf", configs.nsd_conf(self.work, tag, addr, sock))
            srv = self.procs.start(tag, list(prefix) + ["nsd", "-d", "-c", conf], SUT_CPU)
            if collector is not None:
                self.procs.live.remove(collector)
                srv.extra.append(collector)
        elif kind == "unbound":
            conf = self.write(f"{tag}.conf", configs.unbound_conf(rules, self.work, addr, logfile))
            srv = self.procs.start(tag, list(prefix) + ["unbound", "-d", "-c", conf], SUT_CPU)
        elif kind == "dnsmasq":
            conf = self.write(f"{tag}.conf", configs.dnsmasq_conf(rules, addr, logfile))
            srv = self.procs.start(tag, list(prefix) + ["dnsmasq", "-k", "-C", conf], SUT_CPU)
        else:
            raise ValueError(kind)
        self.wait_dns(srv, addr, rules.exact[0], timeout=90 if prefix else 30)
        return srv, logfile

    def dnsperf(self, addr, qfile, seconds, qps=None, verbose=False, extra=(),
                outstanding=200):
        argv = ["taskset", "-c", str(LOAD_CPU), "dnsperf", "-s", addr, "-d", qfile,
                "-c", "4", "-q", str(outstanding), "-t", "2"] + list(extra)
        if seconds:
            argv += ["-l", str(seconds)]
        if qps:
            argv += ["-Q", str(qps)]
        if verbose:
            argv += ["-v"]
        r = self.sh(argv, timeout=(seconds or 60) + 30)
        out = {"lat": []}
        for line in r.stdout.splitlines():
            line = line.strip()
            if verbose and line.startswith(">"):
                parts = line.split()
                try:
                    out["lat"].append(float(parts[-1]))
                except ValueError:
                    pass
            elif line.startswith("Queries completed:"):
                out["completed"] = int(line.split()[2])
            elif line.startswith("Queries lost:"):
                out["lost"] = int(line.split()[2])
            elif line.startswith("Queries sent:"):
                out["sent"] = int(line.split()[2])
            elif line.startswith("Queries per second:"):
                out["qps"] = float(line.split()[3])
            elif line.startswith("Response codes:"):
                out["rcodes"] = line.split(":", 1)[1].strip()
        if "completed" not in out:
            raise RuntimeError(f"dnsperf failed: {r.stderr.strip()[-300:]}")
        return out

    def perf_instructions(self, srv, seconds):
        """A running `perf stat` over the server's processes; .result() gives the count."""
        pids = ",".join(str(p) for p in srv.pids())
        outp = self.path("perf.csv")
        p = subprocess.Popen(["perf", "stat", "-x,", "-o", outp, "-e", "instructions", "-p", pids,
                              "--", "sleep", str(seconds)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)

        class Run:
            def result(_):
                p.wait(seconds + 10)
                with open(outp) as f:
                    for line in f:
                        v = line.split(",")[0].strip()
                        if v.isdigit():
                            return int(v)
                return None
        return Run()

    @staticmethod
    def logsize(path):
        try:
            return os.path.getsize(path) if path else 0
        except OSError:
            return 0

    def measure_resolver(self, srv, addr, logfile, qfile, key, use_perf):
        r = self.res["resolver"].setdefault(key, {})
        if not srv.alive():
            raise RuntimeError(f"{srv.name} died:\n{srv.tail()}")
        c0, l0 = srv.cpu(), self.logsize(logfile)
        pr = self.perf_instructions(srv, self.sat_s) if use_perf else None
        d = self.dnsperf(addr, qfile, self.sat_s)
        c1, l1 = srv.cpu(), self.logsize(logfile)
        n = max(1, d["completed"])
        r.setdefault("qps", []).append(d["qps"])
        r.setdefault("cpu_us", []).append((c1 - c0) / n * 1e6)
        r.setdefault("lost_pct", []).append(100.0 * d.get("lost", 0) / max(1, d.get("sent", 1)))
        r["rcodes"] = d.get("rcodes", "")
        if logfile:
            r.setdefault("log_bpq", []).append((l1 - l0) / n)
        if pr is not None:
            ins = pr.result()
            if ins:
                r.setdefault("instr", []).append(ins / n)
        self.trim(logfile)
        c0 = srv.cpu()
        d = self.dnsperf(addr, qfile, self.lat_s, qps=self.lat_qps, verbose=True)
        c1 = srv.cpu()
        lat = sorted(d["lat"])
        if lat:
            r.setdefault("p50_us", []).append(lat[len(lat) // 2] * 1e6)
            r.setdefault("p99_us", []).append(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e6)
        r.setdefault("lat_lost_pct", []).append(100.0 * d.get("lost", 0) / max(1, d.get("sent", 1)))
        r.setdefault("cpu_us_fixed", []).append((c1 - c0) / max(1, d["completed"]) * 1e6)
        r["hwm_kib"] = max(r.get("hwm_kib", 0), srv.hwm_kib())
        r["procs"] = len(srv.pids())
        self.trim(logfile)

    def trim(self, logfile):
        """Empty an append-only query log between runs so the disk cache stays small."""
        if logfile and not logfile.endswith("nsd-on.querylog"):
            try:
                os.truncate(logfile, 0)
            except OSError:
                pass

    def phase_resolver(self, use_perf):
        self.log("resolver: 1,000 rules, 50/25/25 exact/wildcard/denied")
        rules = configs.RuleSet(1000)
        pairs = rules.queries(100000)
        qfile = self.write("queries-1000.txt", configs.dnsperf_file(pairs))
        self.write("root.zone", configs.nsd_zone(rules, NET + str(RES_ADDR[("nsd", 0)])))
        servers = {}
        for kind in RES_KINDS:
            for logon in (0, 1):
                key = f"{kind}/{'on' if logon else 'off'}"
                addr = NET + str(RES_ADDR[(kind, logon)])
                try:
                    srv, logfile = self.start_resolver(kind, logon, rules, addr,
                                                       f"{kind}-{'on' if logon else 'off'}")
                except Exception as e:  # noqa: BLE001  a server that will not start is reported
                    self.err(f"start {key}", e)
                    continue
                bad = dnswire.check(addr, pairs[:200], configs.ANSWER)
                self.res["resolver"].setdefault(key, {})["wrong"] = len(bad)
                if bad:
                    self.err(f"{key} answers differ from the job", bad[:3])
                servers[key] = (srv, addr, logfile)
        for run in range(self.runs):
            keys = list(servers)
            rot = (run * 2) % max(1, len(keys))
            for key in keys[rot:] + keys[:rot]:
                srv, addr, logfile = servers[key]
                self.log(f"resolver run {run + 1}/{self.runs}: {key}")
                try:
                    self.guarded(f"resolver {key} run {run + 1}",
                                 self.res["resolver"].setdefault(key, {}),
                                 lambda: self.measure_resolver(srv, addr, logfile, qfile, key,
                                                               use_perf))
                except Exception as e:  # noqa: BLE001
                    self.err(f"measure {key}", e)
        for srv, _, _ in servers.values():
            self.procs.stop(srv)

    def saturate(self, what, run, srv, addr, qfile, r):
        """One dnsperf run at saturation against srv: QPS, CPU per query and peak RSS
        into r (guarded: a noisy measurement is taken again)."""
        def one():
            c0 = srv.cpu()
            d = self.dnsperf(addr, qfile, self.rules_s)
            c1 = srv.cpu()
            r.setdefault("qps", []).append(d["qps"])
            r.setdefault("cpu_us", []).append((c1 - c0) / max(1, d["completed"]) * 1e6)
            r["hwm_kib"] = max(r.get("hwm_kib", 0), srv.hwm_kib())
        try:
            self.guarded(f"{what} run {run + 1}", r, one)
        except Exception as e:  # noqa: BLE001
            self.err(what, e)

    def phase_rules(self):
        sizes = [10, 10000, 100000]
        self.log(f"resolver rule scaling: gatehouse at {sizes}")
        servers = {}
        for i, n in enumerate(sizes):
            rules = configs.RuleSet(n)
            pairs = rules.queries(max(100000, 2 * n))
            qfile = self.write(f"queries-{n}.txt", configs.dnsperf_file(pairs))
            addr = NET + str(41 + i)
            t = time.monotonic()
            try:
                srv, _ = self.start_resolver("gatehouse", 0, rules, addr, f"gatehouse-rules-{n}")
            except Exception as e:  # noqa: BLE001
                self.err(f"start gatehouse with {n} rules", e)
                continue
            r = self.res["rules"].setdefault(str(n), {})
            r["start_s"] = time.monotonic() - t
            bad = dnswire.check(addr, pairs[:200], configs.ANSWER)
            r["wrong"] = len(bad)
            servers[n] = (srv, addr, qfile)
        for run in range(self.runs):
            order = sizes[run % 3:] + sizes[:run % 3]
            for n in order:
                if n not in servers:
                    continue
                srv, addr, qfile = servers[n]
                self.saturate(f"rules {n}", run, srv, addr, qfile, self.res["rules"][str(n)])
        for srv, _, _ in servers.values():
            self.procs.stop(srv)

    def phase_policies(self):
        """Issue 13: QPS from one client with 1 policy of 100 rules, and with 1,000
        policies of 100 rules each (the client in one of them): choosing a client's policy
        must not cost more with more policies (target: at least 0.9x)."""
        counts = [1, 1000]
        self.log(f"resolver policy scaling: gatehouse with {counts} policies of 100 rules")
        rules = configs.RuleSet(100)
        pairs = rules.queries(100000)
        qfile = self.write("queries-policies.txt", configs.dnsperf_file(pairs))
        servers = {}
        for i, n in enumerate(counts):
            addr = NET + str(45 + i)
            tag = f"gatehouse-policies-{n}"
            conf = self.write(f"{tag}.conf", configs.gatehouse_policies(rules, n, addr, "off"))
            t = time.monotonic()
            try:
                srv = self.procs.start(tag, [GH_RESOLVER, "-c", conf], SUT_CPU)
                self.wait_dns(srv, addr, rules.exact[0], timeout=60)
            except Exception as e:  # noqa: BLE001
                self.err(f"start gatehouse with {n} policies", e)
                continue
            r = self.res["policies"].setdefault(str(n), {})
            r["start_s"] = time.monotonic() - t
            r["wrong"] = len(dnswire.check(addr, pairs[:200], configs.ANSWER))
            servers[n] = (srv, addr)
        for run in range(self.runs):
            for n in (counts if run % 2 == 0 else counts[::-1]):
                if n not in servers:
                    continue
                srv, addr = servers[n]
                self.saturate(f"policies {n}", run, srv, addr, qfile,
                              self.res["policies"][str(n)])
        for srv, _ in servers.values():
            self.procs.stop(srv)

    def phase_callgrind(self):
        """Instructions per query from a short run under callgrind (no PMU in this machine)."""
        self.log(f"callgrind: {self.cg_queries} queries per server")
        rules = configs.RuleSet(1000)
        pairs = rules.queries(self.cg_queries)
        qfile = self.write("queries-cg.txt", configs.dnsperf_file(pairs))
        warm = self.write("queries-warm.txt", configs.dnsperf_file(pairs[:200]))
        for i, kind in enumerate(RES_KINDS):
            for logon in (0, 1):
                key = f"{kind}/{'on' if logon else 'off'}"
                tag = f"cg-{kind}-{'on' if logon else 'off'}"
                addr = NET + str(51 + i * 2 + logon)
                prefix = ["valgrind", "--tool=callgrind", "--trace-children=yes",
                          f"--callgrind-out-file={self.path(tag)}.%p"]
                srv = None
                try:
                    srv, _ = self.start_resolver(kind, logon, rules, addr, tag, prefix=prefix)
                    self.dnsperf(addr, warm, None, extra=["-n", "1", "-q", "20"])
                    self.res["instr"][key], dumps = self.callgrind_count(srv, addr, qfile, tag)
                    if kind == "gatehouse" and dumps:
                        self.res["hot"][key] = self.hotspots(dumps[0])
                except Exception as e:  # noqa: BLE001
                    self.err(f"callgrind {key}", e)
                finally:
                    if srv is not None:
                        self.procs.stop(srv, timeout=20)

    def callgrind_count(self, srv, addr, qfile, tag):
        """One pass of qfile to srv, started under callgrind with
        --callgrind-out-file=WORK/TAG.%p: ({ir_per_query, queries, lost}, the dump files)."""
        pids = srv.pids()
        for p in pids:
            self.sh(["callgrind_control", "-z", str(p)], 30)
        d = self.dnsperf(addr, qfile, None, extra=["-n", "1", "-q", "20", "-t", "10"])
        for p in pids:
            self.sh(["callgrind_control", "-d", str(p)], 30)
        total = 0
        dumps = []
        for f in os.listdir(self.work):
            if f.startswith(tag + ".") and f.endswith(".1"):
                dumps.append(self.path(f))
                with open(self.path(f)) as fh:
                    for line in fh:
                        if line.startswith("totals:"):
                            total += int(line.split()[1])
        n = max(1, d["completed"])
        return {"ir_per_query": total / n, "queries": n, "lost": d.get("lost", 0)}, dumps

    def hotspots(self, dump, top=14):
        r = self.sh(["callgrind_annotate", "--inclusive=no", "--threshold=100", "--auto=no",
                     dump], 60)
        rows, total = [], None
        for line in r.stdout.splitlines():
            mt = re.match(r"^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(\S.*)$", line)
            if not mt:
                continue
            ir, fn = int(mt.group(1).replace(",", "")), mt.group(2)
            if "PROGRAM TOTALS" in fn:
                total = ir
                continue
            if total is None or ":" not in fn:
                continue
            if ir >= total:
                continue	# main, the event loop: everything is below them
            fn = fn.split(" [")[0]
            for junk in ("./stdio-common/", "./libio/", "./string/../sysdeps/x86_64/multiarch/",
                         "./string/", "./resolv/./resolv/", "./malloc/"):
                fn = fn.replace(junk, "")
            rows.append((fn, 100.0 * ir / total))
        return rows[:top]

    # ---- forwarders ----

    def tls_files(self):
        w = self.work
        ossl = ["openssl"]
        self.sh(ossl + ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-days", "2", "-subj", "/CN=bench test CA",
                        "-keyout", f"{w}/ca.key", "-out", f"{w}/ca.crt"], 30)
        self.sh(ossl + ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-subj", "/CN=big.bench.test", "-keyout", f"{w}/server.key",
                        "-out", f"{w}/server.csr"], 30)
        ext = self.write("san.ext", "subjectAltName=DNS:big.bench.test,DNS:idle.bench.test\n")
        r = self.sh(ossl + ["x509", "-req", "-in", f"{w}/server.csr", "-CA", f"{w}/ca.crt",
                            "-CAkey", f"{w}/ca.key", "-CAcreateserial", "-days", "2",
                            "-extfile", ext, "-out", f"{w}/server.crt"], 30)
        if r.returncode != 0:
            raise RuntimeError(f"openssl: {r.stderr}")
        www = self.path("www")
        os.makedirs(www, exist_ok=True)
        with open(os.path.join(www, "big"), "wb") as f:
            f.truncate(self.bulk_mib << 20)	# sparse: no disk, served from the page cache
        with open(os.path.join(www, "small"), "wb") as f:
            f.write(b"x" * 4096)
        # the ClientHello the idle connections send (SNI idle.bench.test), made by OpenSSL
        ctx = ssl.create_default_context()
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(inc, out, server_hostname="idle.bench.test")
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        with open(self.path("hello.bin"), "wb") as f:
            f.write(out.read())
        self.write("hosts", f"127.0.0.1 localhost\n{UPSTREAM} big.bench.test\n")
        self.write("addr.lua", 'local a = os.getenv("BENCH_ADDR")\n'
                   'function setup(thread) thread.addr = wrk.lookup(a, "8443")[1] end\n')
        return www

    def start_proxy(self, kind, addr, tag):
        if kind == "gatehouse":
            conf = self.write(f"{tag}.conf", configs.gatehouse_forwarder(
                addr, FWD_DNS, self.path(f"{tag}.audit")))
            srv = self.procs.start(tag, [GH_FORWARDER, "-c", conf], SUT_CPU)
        elif kind == "nginx":
            conf = self.write(f"{tag}.conf", configs.nginx_stream(
                self.work, addr, UPSTREAM, SINK).replace("nginx-stream", tag))
            srv = self.procs.start(tag, ["nginx", "-e", self.path(f"{tag}.err"), "-c", conf],
                                   SUT_CPU)
        elif kind == "haproxy":
            cfg = self.write(f"{tag}.cfg", configs.haproxy_cfg(addr, UPSTREAM, SINK))
            srv = self.procs.start(tag, ["haproxy", "-db", "-f", cfg], SUT_CPU)
        else:
            raise ValueError(kind)
        self.wait_tcp(srv, addr, configs.FWD_PORT)
        return srv

    def curl(self, addr, obj, timeout):
        r = self.sh(["taskset", "-c", str(LOAD_CPU), "curl", "-s", "--http1.1",
                     "--cacert", self.path("ca.crt"),
                     "--resolve", f"big.bench.test:{configs.FWD_PORT}:{addr}", "-o", "/dev/null",
                     "-w", "%{http_code} %{size_download} %{time_total}",
                     f"https://big.bench.test:{configs.FWD_PORT}/{obj}"], timeout)
        parts = r.stdout.split()
        if r.returncode != 0 or len(parts) != 3 or parts[0] != "200":
            raise RuntimeError(f"curl via {addr}: rc {r.returncode} {r.stdout} {r.stderr[-200:]}")
        return int(parts[1]), float(parts[2])

    def wrk(self, addr):
        hosts = self.path("hosts")
        cmd = (f"mount --bind {hosts} /etc/hosts && exec taskset -c {LOAD_CPU} wrk -t1 -c32 "
               f"-d{self.wrk_s}s -H 'Connection: close' -s {self.path('addr.lua')} "
               f"https://big.bench.test:{configs.FWD_PORT}/small")
        r = self.sh(["unshare", "-m", "sh", "-c", cmd], self.wrk_s + 30,
                    env=dict(os.environ, BENCH_ADDR=addr))
        reqs, errs, secs = None, 0, float(self.wrk_s)
        for line in r.stdout.splitlines():
            s = line.strip()
            mt = re.match(r"^(\d+) requests in ([\d.]+)(ms|s|m)", s)
            if mt:
                reqs = int(mt.group(1))
                secs = float(mt.group(2)) * {"ms": 0.001, "s": 1, "m": 60}[mt.group(3)]
            elif s.startswith("Socket errors:"):
                errs += sum(int(x.strip(",")) for x in s.split()[3::2])
            elif s.startswith("Non-2xx"):
                errs += int(s.split()[-1])
        if reqs is None:
            raise RuntimeError(f"wrk via {addr}: {r.stdout[-300:]} {r.stderr[-300:]}")
        return reqs, errs, secs

    def idle(self, kind, run):
        addr = NET + str(IDLE_ADDR[kind])
        srv = self.start_proxy(kind, addr, f"idle-{kind}-{run}")
        hold = os.path.join(HERE, "idlehold.py")
        timeout = 10 if self.quick else 20

        def client(n):
            c = subprocess.Popen(["taskset", "-c", str(LOAD_CPU), sys.executable, hold, "client",
                                  addr, str(configs.FWD_PORT), str(n), self.path("hello.bin"),
                                  "4096", str(timeout)], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True, start_new_session=True)
            line = c.stdout.readline().split()
            ok = int(line[1]) if len(line) == 2 and line[0] == "READY" else 0
            return c, ok
        try:
            c, ok = client(16)	# warm up: resolution cached, lazy allocations done
            c.stdin.close()
            c.wait(10)
            time.sleep(0.5)
            base = srv.pss_kib()
            c, ok = client(self.idle_n)
            time.sleep(0.5)
            held = srv.pss_kib()
            c.stdin.close()
            c.wait(30)
            if ok < self.idle_n * 0.9:
                raise RuntimeError(f"only {ok} of {self.idle_n} idle connections relayed")
            self.res["forwarder"].setdefault(kind, {}).setdefault("idle_kib", []).append(
                (held - base) / ok)
        finally:
            self.procs.stop(srv)

    def phase_forwarder(self):
        self.log("forwarder: TLS origin, nginx stream, HAProxy, gatehouse")
        www = self.tls_files()
        up = self.procs.start("origin-nginx", ["nginx", "-e", self.path("nginx-up.err"), "-c",
                              self.write("nginx-up.conf", configs.nginx_upstream(
                                  self.work, UPSTREAM, self.path("www")))], LOAD_CPU)
        self.wait_tcp(up, UPSTREAM, configs.FWD_PORT)
        dns = self.procs.start("fwd-dnsmasq", ["dnsmasq", "-k", "-C", self.write(
            "fwd-dnsmasq.conf", configs.forwarder_dnsmasq(FWD_DNS, UPSTREAM, SINK))], LOAD_CPU)
        self.wait_dns(dns, FWD_DNS, "big.bench.test")
        sink = self.procs.start("idle-sink", [sys.executable, os.path.join(HERE, "idlehold.py"),
                                "sink", SINK, str(configs.FWD_PORT), "4096"], LOAD_CPU)
        self.wait_tcp(sink, SINK, configs.FWD_PORT)
        proxies = {}
        for kind in ("gatehouse", "nginx", "haproxy"):
            try:
                proxies[kind] = self.start_proxy(kind, NET + str(FWD_ADDR[kind]), f"fwd-{kind}")
                self.curl(NET + str(FWD_ADDR[kind]), "small", 10)
            except Exception as e:  # noqa: BLE001
                self.err(f"start {kind}", e)
        with open(os.path.join(www, "big"), "rb") as fh:	# into the page cache first
            while fh.read(1 << 20):
                pass
        paths = ["direct"] + list(proxies)
        for run in range(self.fwd_runs):
            order = paths[run % len(paths):] + paths[:run % len(paths)]
            for kind in order:
                self.log(f"forwarder run {run + 1}/{self.fwd_runs}: bulk via {kind}")
                self.guarded(f"bulk via {kind} run {run + 1}",
                             self.res["forwarder"].setdefault(kind, {}),
                             lambda: self.fwd_measure(kind, proxies.get(kind), "bulk"))
            for kind in order:
                self.log(f"forwarder run {run + 1}/{self.fwd_runs}: new TLS connections via {kind}")
                self.guarded(f"connections via {kind} run {run + 1}",
                             self.res["forwarder"].setdefault(kind, {}),
                             lambda: self.fwd_measure(kind, proxies.get(kind), "conns"))
            for kind in [k for k in order if k != "direct"]:
                self.log(f"forwarder run {run + 1}/{self.fwd_runs}: {self.idle_n} idle via {kind}")
                try:
                    self.idle(kind, run)
                except Exception as e:  # noqa: BLE001
                    self.err(f"idle {kind}", e)
        for srv in list(proxies.values()) + [sink, dns, up]:
            self.procs.stop(srv)

    def fwd_measure(self, kind, srv, what):
        addr = NET + str(FWD_ADDR[kind])
        r = self.res["forwarder"].setdefault(kind, {})
        try:
            c0 = srv.cpu() if srv else 0
            if what == "bulk":
                size, secs = self.curl(addr, "big", 120)
                c1 = srv.cpu() if srv else 0
                r.setdefault("mibps", []).append(size / secs / 2**20)
                if srv:
                    r.setdefault("cpu_s_gib", []).append((c1 - c0) / (size / 2**30))
            else:
                reqs, errs, secs = self.wrk(addr)
                c1 = srv.cpu() if srv else 0
                r.setdefault("cps", []).append(reqs / secs)
                r.setdefault("errors", []).append(errs)
                if srv:
                    r.setdefault("cpu_us_conn", []).append((c1 - c0) / max(1, reqs) * 1e6)
        except Exception as e:  # noqa: BLE001
            self.err(f"{what} via {kind}", e)

    # ---- the run ----

    def main(self):
        self.ensure_tools()
        self.versions()
        use_perf = self.perf_works()
        self.wait_quiet(10 if self.quick else 30)
        self.res["meta"]["instr_method"] = "perf stat" if use_perf else "callgrind"
        if "resolver" in self.phases:
            self.phase_resolver(use_perf)
        if "rules" in self.phases:
            self.phase_rules()
        if "policies" in self.phases:
            self.phase_policies()
        if not use_perf and "callgrind" in self.phases:
            self.phase_callgrind()
        if "forwarder" in self.phases:
            self.wait_quiet(10 if self.quick else 30, "bg_before_forwarder")
            self.phase_forwarder()
        if "peek" in self.phases:
            self.wait_quiet(10 if self.quick else 30, "bg_before_peek")
            peek.phase(self, NET, GH_FORWARDER, LOAD_CPU, SUT_CPU)
        if "pool" in self.phases:
            self.wait_quiet(10 if self.quick else 30, "bg_before_pool")
            pool.phase(self, NET, GH_RESOLVER, GH_FORWARDER, LOAD_CPU, SUT_CPU)
        if "stub" in self.phases:
            self.wait_quiet(10 if self.quick else 30, "bg_before_stub")
            stub.phase(self, NET, GH_RESOLVER, LOAD_CPU, SUT_CPU)
        self.res["meta"]["elapsed_s"] = round(time.monotonic() - self.t0)
        out = self.args.out or os.path.join(HERE, "RESULTS.md")
        if self.args.merge:
            with open(os.path.splitext(out)[0] + ".json") as f:
                report.merge(self.res, json.load(f), self.phases, PHASE_SECTIONS)
        md = report.render(self.res)
        with open(out, "w") as f:
            f.write(md)
        with open(os.path.splitext(out)[0] + ".json", "w") as f:
            json.dump(self.res, f, indent=1)
        print(md)

    def cleanup(self):
        self.procs.stop_all()
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            print(f"bench: work files kept in {self.work}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="one run each, short durations")
    ap.add_argument("--runs", type=int, help="runs per figure (default 3, --quick 1)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--only", help="comma-separated phases: " + ",".join(PHASES))
    ap.add_argument("--merge", action="store_true",
                    help="with --only: keep the other phases' sections from the RESULTS.json "
                    "next to the report")
    ap.add_argument("--out", help="where to write the report (default bench/RESULTS.md)")
    args = ap.parse_args()
    b = Bench(args)

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)	# also when started with SIGINT ignored (a `&` job)
    signal.signal(signal.SIGALRM, on_signal)
    signal.alarm(HARD_LIMIT)
    try:
        b.main()
    except KeyboardInterrupt as e:
        print(f"bench: interrupted ({e}); stopping every server", file=sys.stderr)
        return 130
    finally:
        signal.alarm(0)
        b.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
