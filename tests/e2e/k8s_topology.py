"""k8s_topology.py: what kube-proxy builds for deploy/kubernetes, in network namespaces, for
tests/e2e/test_kubernetes.py: a node that routes between pods and holds kube-proxy's rules,
two gatehouse replicas behind a Service address, two constrained pods in two policies, a
cluster DNS and an internet.

    pod-a  10.244.1.10 --+                                    (every pod: one veth to the
    pod-b  10.244.2.10 --+                                     node, its address /32, a
    gw1    10.244.3.10 --+-- node --(11.0.0.2)------(11.0.0.1)-- internet
    gw2    10.244.3.11 --+    nat:    10.96.0.53 udp+tcp 53, tcp 443  -> gw1 | gw2 (random)
    cdns   10.244.0.10 --+            10.96.0.10 udp+tcp 53           -> cdns
                              filter: pod-a, pod-b -> gw1, gw2 on 53 and 443, nothing else
                              masquerade: 10.244.0.0/16 -> internet

- node: IP forwarding on; one point-to-point veth per pod (as Calico wires them: the pod
  has its address /32 and a default route to the node's end). Its nat table is what
  kube-proxy's iptables mode writes: KUBE-SERVICES matches each Service address and port
  and jumps to a KUBE-SVC chain that picks an endpoint chain with `-m statistic --mode
  random --probability 1/n`, the last one unconditionally; each KUBE-SEP chain DNATs to one
  ready replica. No SNAT on the way to a Service: the gateway sees pod addresses.
  Masquerade only for pod-CIDR traffic leaving for the internet (the replicas' and the
  cluster DNS's own lookups and connections). Its filter FORWARD chain stands in for the
  NetworkPolicy of deploy/kubernetes/networkpolicy.yaml: the constrained pods may send to
  the replica pods' addresses (after the DNAT) on the Service's ports and nowhere else.
  The tables are rewritten whole by iptables-nft-restore (atomically, as kube-proxy does)
  from the set of ready replicas (sync()); conntrack entries of a removed endpoint's UDP
  flows are deleted, as kube-proxy deletes them.
- gw1, gw2: the real gatehouse-resolver and gatehouse-forwarder from the build directory,
  one configuration for both (config_text(): deploy/kubernetes/gatehouse.conf's listeners,
  answer and `stub-zone cluster.local 10.96.0.10`, two policies by pod prefix),
  GATEHOUSE_METRICS=0.0.0.0:9100 (the forwarder serves /healthz one port above) as
  deployment.yaml sets it, and an audit file each. Their own upstream DNS (`upstream
  system`) is the internet's dnsmasq.
- pod-a, pod-b: /etc/netns/<ns>/resolv.conf names only the Service address, with
  ClusterFirst's search domains and ndots 1 (dnsPolicy None, as example-workload.yaml).
- cdns: dnsmasq in place of CoreDNS, authoritative for cluster.local (CLUSTER_RECORDS)
  and forwarding every other name to the internet's DNS (CoreDNS's `forward .
  /etc/resolv.conf`), logging every query it gets.
- internet: topology.py's dnsmasq (logging every query) and web servers, the test CA.

The test plays kubelet, endpoints controller and kube-proxy: probe() asks a replica's two
/healthz from the node, sync() rewrites the node's rules for the replicas that answered.

iptables: the nft backend (iptables-nft), chosen explicitly. Both backends work in a
network namespace here; nft is Debian 12's default alternative and what kube-proxy's
iptables mode runs on current distributions, while the legacy xtables code is an option a
kernel may be built without. Nothing here touches the host's own tables: every iptables
and conntrack command runs inside the node namespace.
"""

import datetime
import os
import re
import shutil
import signal
import subprocess

from gh_testlib import daemon_env, read_audit, scaled, scaled_arg, wait_until
import topology as T

IPTABLES = "iptables-nft"
IPTABLES_RESTORE = "iptables-nft-restore"
IPTABLES_SAVE = "iptables-nft-save"

POD_CIDR = "10.244.0.0/16"
SERVICE_IP = "10.96.0.53"           # the gatehouse Service (service.yaml's clusterIP)
DNS_SERVICE_IP = "10.96.0.10"       # kube-dns
POD_A, POD_B = "10.244.1.10", "10.244.2.10"
POLICY_A, POLICY_B = "pod-a", "pod-b"
POD_POLICY = {POD_A: POLICY_A, POD_B: POLICY_B}
NAME_A, NAME_B = "one.example.test", "two.example.test"     # what each policy allows
CDNS_POD = "10.244.0.10"
REPLICA_ADDRS = ("10.244.3.10", "10.244.3.11")
METRICS_PORT = 9100                 # the resolver's /healthz; the forwarder's is one above
FORWARD_PORTS = (443,)
# (protocol, port) of the gatehouse Service, and of kube-dns
SERVICE_PORTS = (("udp", 53), ("tcp", 53)) + tuple(("tcp", p) for p in FORWARD_PORTS)
DNS_SERVICE_PORTS = (("udp", 53), ("tcp", 53))
CLUSTER_ZONE = "cluster.local"
CLUSTER_RECORDS = {"web.default.svc.cluster.local": "10.96.0.80",
                   "db.data.svc.cluster.local": "10.96.0.81"}
# the constrained pods' search domains (example-workload.yaml: ClusterFirst's, ndots 1)
POD_SEARCH = (f"constrained.svc.{CLUSTER_ZONE}", f"svc.{CLUSTER_ZONE}", CLUSTER_ZONE)
NETPOL_CHAIN = "NETPOL-CONSTRAINED-EGRESS"


def unavailable_reason():
    """None when this topology can be built here, else why not (for a clean skip)."""
    reason = T.unavailable_reason()
    if reason:
        return reason
    for tool, pkg in ((IPTABLES_RESTORE, "iptables"), ("conntrack", "conntrack")):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install {pkg})"
    return None


class Replica:
    """One gateway pod: its namespace, address and two daemons."""

    def __init__(self, topo, index, addr):
        self.topo = topo
        self.name = f"gw{index}"
        self.ns = f"{topo.prefix}-k8s-{self.name}"
        self.addr = addr
        self.procs = {}

    def audit_path(self, daemon):
        return self.topo.path(f"{self.name}-{daemon}.audit.jsonl")

    def audit(self, daemon):
        return read_audit(self.audit_path(daemon), source=f"{self.name} {daemon} audit")

    def start(self, daemon):
        """Start daemon (again) in this replica and wait for its listeners."""
        env = daemon_env({"GATEHOUSE_AUDIT": self.audit_path(daemon),
                          "GATEHOUSE_METRICS": f"0.0.0.0:{METRICS_PORT}",
                          "KUBERNETES_SERVICE_HOST": "10.96.0.1",
                          "KUBERNETES_SERVICE_PORT": "443"})
        old = self.procs.get(daemon)
        if old is not None:     # keep the old stderr for the record
            os.replace(old.stderr_path, f"{old.stderr_path}.{old.pid}")
        self.procs[daemon] = self.topo.run_daemon(f"{self.name}-{daemon}", self.ns, daemon,
                                                  self.addr, env)
        return self.procs[daemon]


class KubeTopology(T.Topology):
    def __init__(self, build_dir, keep=False):
        super().__init__(build_dir, allow="", keep=keep)
        p = self.prefix
        self.node_ns = f"{p}-k8s-node"
        self.pod_a_ns, self.pod_b_ns = f"{p}-k8s-pod-a", f"{p}-k8s-pod-b"
        self.cdns_ns = f"{p}-k8s-cdns"
        self.inet_ns = f"{p}-k8s-inet"
        self.replicas = [Replica(self, i + 1, a) for i, a in enumerate(REPLICA_ADDRS)]
        self.gw_ns = self.replicas[0].ns    # (the base class writes its resolv.conf)
        self.client_ns = self.pod_a_ns      # (helpers' default namespace)
        self.pod_ns = {POD_A: self.pod_a_ns, POD_B: self.pod_b_ns}
        self.namespaces = [self.node_ns, self.pod_a_ns, self.pod_b_ns, self.cdns_ns,
                           self.inet_ns] + [r.ns for r in self.replicas]
        self.endpoints = None       # the replicas in the node's DNAT set (sync())

    # -- the network
    def _make_namespaces(self):
        svc = (f"nameserver {SERVICE_IP}\nsearch {' '.join(POD_SEARCH)}\n"
               "options ndots:1\n")
        up = f"nameserver {T.UPSTREAM_DNS}\n"
        self._add_namespaces({self.pod_a_ns: svc, self.pod_b_ns: svc,
                              **{r.ns: up for r in self.replicas}})
        self.sh("sysctl", "-q", "-w", "net.ipv4.ip_forward=1", ns=self.node_ns)
        links = []
        # every pod: eth0 with its address /32, a default route to the node's end
        for i, (ns, addr, gw) in enumerate([
                (self.pod_a_ns, POD_A, "10.244.1.1"), (self.pod_b_ns, POD_B, "10.244.2.1"),
                (self.cdns_ns, CDNS_POD, "10.244.0.1"),
                *[(r.ns, r.addr, "10.244.3.1") for r in self.replicas]]):
            node_if = f"{self.prefix}-k{i}"
            self.sh("ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name",
                    node_if, "netns", self.node_ns)
            self.sh("ip", "-n", ns, "addr", "add", f"{addr}/32", "dev", "eth0")
            self.sh("ip", "-n", ns, "link", "set", "eth0", "up")
            self.sh("ip", "-n", ns, "route", "add", "default", "via", gw, "dev", "eth0",
                    "onlink")
            self.sh("ip", "-n", self.node_ns, "addr", "add", f"{gw}/32", "dev", node_if)
            self.sh("ip", "-n", self.node_ns, "link", "set", node_if, "up")
            self.sh("ip", "-n", self.node_ns, "route", "add", f"{addr}/32", "dev", node_if)
            links += [(ns, "eth0"), (self.node_ns, node_if)]
        # the internet: one link, the service addresses on lo, no route to the pod CIDR
        self.node_inet_if, inet_if = f"{self.prefix}-ki", f"{self.prefix}-kn"
        self.sh("ip", "link", "add", self.node_inet_if, "netns", self.node_ns, "type", "veth",
                "peer", "name", inet_if, "netns", self.inet_ns)
        self.sh("ip", "-n", self.node_ns, "addr", "add", f"{T.GW_OUT4}/24", "dev",
                self.node_inet_if)
        self.sh("ip", "-n", self.node_ns, "link", "set", self.node_inet_if, "up")
        self.sh("ip", "-n", self.node_ns, "route", "add", "default", "via", T.INET_RTR4)
        self.sh("ip", "-n", self.inet_ns, "addr", "add", f"{T.INET_RTR4}/24", "dev", inet_if)
        for a in T.INET_ADDRS:
            self.sh("ip", "-n", self.inet_ns, "addr", "add", f"{a}/32", "dev", "lo")
        self.sh("ip", "-n", self.inet_ns, "link", "set", inet_if, "up")
        self._wait_links_up(links + [(self.node_ns, self.node_inet_if),
                                     (self.inet_ns, inet_if)])

    # -- kube-proxy
    def rules_text(self, ready):
        """The node's nat and filter tables (iptables-restore input) with the replicas
        ready as the gatehouse Service's endpoints."""
        nat_chains, nat, filt = [], [], []
        services = [("GH", SERVICE_IP, SERVICE_PORTS, [r.addr for r in ready]),
                    ("DNS", DNS_SERVICE_IP, DNS_SERVICE_PORTS, [CDNS_POD])]
        for svc, ip, ports, eps in services:
            for proto, port in ports:
                svc_chain = f"KUBE-SVC-{svc}-{proto.upper()}{port}"
                if not eps:     # kube-proxy: "has no endpoints", rejected
                    filt.append(f"-A KUBE-SERVICES -d {ip}/32 -p {proto} -m {proto} "
                                f"--dport {port} -j REJECT")
                    continue
                nat_chains.append(svc_chain)
                nat.append(f"-A KUBE-SERVICES -d {ip}/32 -p {proto} -m {proto} --dport {port}"
                           f" -j {svc_chain}")
                for i, ep in enumerate(eps):
                    sep = f"KUBE-SEP-{svc}-{proto.upper()}{port}-{ep.split('.')[-1]}"
                    nat_chains.append(sep)
                    left = len(eps) - i
                    pick = (f"-m statistic --mode random --probability {1 / left:.11f} "
                            if left > 1 else "")
                    nat.append(f"-A {svc_chain} {pick}-j {sep}")
                    nat.append(f"-A {sep} -p {proto} -m {proto} -j DNAT --to-destination "
                               f"{ep}:{port}")
        nat.append(f"-A KUBE-POSTROUTING -s {POD_CIDR} -o {self.node_inet_if} -j MASQUERADE")
        # the NetworkPolicy: the constrained pods reach the gateway pods (every replica,
        # ready or not: a policy selects by label) on the Service's ports, nothing else
        filt.append("-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
        for pod in (POD_A, POD_B):
            filt.append(f"-A FORWARD -s {pod}/32 -j {NETPOL_CHAIN}")
        for r in self.replicas:
            for proto, port in SERVICE_PORTS:
                filt.append(f"-A {NETPOL_CHAIN} -d {r.addr}/32 -p {proto} -m {proto} "
                            f"--dport {port} -j ACCEPT")
        filt.append(f"-A {NETPOL_CHAIN} -j DROP")
        lines = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]",
                 ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]",
                 ":KUBE-SERVICES - [0:0]", ":KUBE-POSTROUTING - [0:0]"]
        lines += [f":{c} - [0:0]" for c in nat_chains]
        lines += ["-A PREROUTING -j KUBE-SERVICES", "-A OUTPUT -j KUBE-SERVICES",
                  "-A POSTROUTING -j KUBE-POSTROUTING"] + nat + ["COMMIT"]
        lines += ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
                  ":OUTPUT ACCEPT [0:0]", ":KUBE-SERVICES - [0:0]", f":{NETPOL_CHAIN} - [0:0]",
                  "-A FORWARD -j KUBE-SERVICES", "-A OUTPUT -j KUBE-SERVICES"] + filt + \
            ["COMMIT"]
        return "\n".join(lines) + "\n"

    def write_rules(self, ready):
        """Replace the node's tables (one atomic iptables-restore) for the ready replicas;
        delete the UDP conntrack entries of endpoints that left (kube-proxy does: a UDP
        flow would otherwise stay pinned to the old endpoint)."""
        r = subprocess.run(["ip", "netns", "exec", self.node_ns, IPTABLES_RESTORE],
                           input=self.rules_text(ready), capture_output=True, text=True,
                           timeout=scaled(20))
        if r.returncode != 0:
            raise T.TopologyError(f"{IPTABLES_RESTORE} failed: {r.stderr.strip()}")
        gone = [x for x in (self.endpoints or []) if x not in ready]
        for rep in gone:
            self.sh("conntrack", "-D", "-p", "udp", "--orig-dst", SERVICE_IP, "--dst-nat",
                    rep.addr, ns=self.node_ns, check=False)
        self.endpoints = list(ready)

    def probe(self, replica, timeout=2.0):
        """The kubelet's readiness probe of both containers: True when the resolver's
        and the forwarder's /healthz answer 200 (asked from the node, as the kubelet
        does)."""
        for port in (METRICS_PORT, METRICS_PORT + 1):
            r = self.run(self.node_ns, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                        "--max-time", scaled_arg(timeout),
                                        f"http://{replica.addr}:{port}/healthz"],
                         timeout=timeout + 10)
            if r.stdout.strip() != "200":
                return False
        return True

    def sync(self):
        """Probe every replica, rewrite the node's rules when the ready set changed;
        returns the ready replicas' names."""
        ready = [r for r in self.replicas if self.probe(r)]
        if ready != self.endpoints:
            self.write_rules(ready)
        return [r.name for r in ready]

    def dnat_targets(self):
        """{(proto, port): [endpoint address, ...]} of the gatehouse Service, read back
        from the node's nat table (iptables-save)."""
        out = self.sh(IPTABLES_SAVE, "-t", "nat", ns=self.node_ns).stdout
        got = {pp: [] for pp in SERVICE_PORTS}
        for m in re.finditer(r"-A KUBE-SEP-GH-(UDP|TCP)(\d+)-\d+ .*--to-destination "
                             r"([\d.]+):\d+", out):
            got[(m.group(1).lower(), int(m.group(2)))].append(m.group(3))
        return got

    def netpol_drops(self):
        """Packets the NetworkPolicy's final DROP has dropped."""
        out = self.sh(IPTABLES, "-t", "filter", "-L", NETPOL_CHAIN, "-v", "-x", "-n",
                      ns=self.node_ns).stdout
        drops = [line.split() for line in out.splitlines() if " DROP " in f" {line} "]
        return int(drops[-1][0]) if drops else 0

    # -- the processes
    def _start_servers(self):
        self._start_web()
        self._start_cluster_dns()

    def _start_cluster_dns(self):
        self.cdns_log = self.path("cluster-dns.log")
        argv = T.dnsmasq_argv(CDNS_POD, self.cdns_log, f"--local=/{CLUSTER_ZONE}/",
                              f"--server={T.UPSTREAM_DNS}", "--local-ttl=5")
        for name, addr in CLUSTER_RECORDS.items():
            argv.append(f"--host-record={name},{addr}")
        p = self._start("cluster-dns", self.cdns_ns, argv)
        self._wait_listening(p, self.cdns_ns, "udp", CDNS_POD, 53)

    def config_text(self):
        return (f"# gatehouse e2e kubernetes configuration ({self.prefix})\n"
                f"answer {SERVICE_IP}\n"
                "dns-listen 0.0.0.0:53\n"
                "forward-listen 0.0.0.0\n"
                "upstream system\n"
                "peek-timeout 2\n"
                "connect-timeout 3\n"
                "user nobody\n"
                f"stub-zone {CLUSTER_ZONE} {DNS_SERVICE_IP}\n"
                f"policy {POLICY_A} 10.244.1.0/24\n"
                f"allow {NAME_A} 443\n"
                f"policy {POLICY_B} 10.244.2.0/24\n"
                f"allow {NAME_B} 443\n")

    def forward_ports(self):
        return list(FORWARD_PORTS)

    def _start_gatehouse(self):
        self.write_config()
        for r in self.replicas:
            for d in T.DAEMONS:
                r.start(d)
        self.wait_ready()

    def wait_ready(self, timeout=30):
        """sync() until every replica is ready: their probes may lag their listeners, and
        a probe of a busy replica may time out once on a loaded machine."""
        ready = wait_until(self.sync, lambda names: len(names) == len(self.replicas),
                           timeout=timeout, interval=0.2)
        if len(ready) != len(self.replicas):
            raise T.TopologyError(f"replicas not ready after {scaled(timeout)}s: only {ready}")

    def down(self):
        for r in self.replicas:         # a stopped process would take SIGTERM only later
            for p in r.procs.values():
                if p.running():
                    try:
                        os.kill(p.pid, signal.SIGCONT)
                    except ProcessLookupError:
                        pass
        super().down()

    # -- health and records
    def daemon_problems(self):
        return [m for r in self.replicas for d, p in r.procs.items()
                for m in p.problems(f"{r.name} {d}")]

    def report_sections(self):
        """The replicas' last audit lines and stderr, the node's tables (a failed test's
        report)."""
        out = []
        for r in self.replicas:
            for d, p in r.procs.items():
                out += T.daemon_sections(f"{r.name} {d}", lambda r=r, d=d: r.audit(d), p)
        r = self.sh(IPTABLES_SAVE, ns=self.node_ns, check=False)
        out.append(("node tables", r.stdout[-6000:]))
        return out

    def audit(self, daemon):
        """Every replica's audit lines of daemon, one replica after the other."""
        return [e for r in self.replicas for e in r.audit(daemon)]

    def mark(self):
        """{(replica name, daemon): audit line count now, "ts": the time now}: since= for
        lines(). The time, because a daemon writes a line after its client has its answer
        (it answers, then flushes): the last line of what came before may land after the
        count; its "ts", taken before the answer, is earlier than the mark's."""
        m = {(r.name, d): len(r.audit(d)) for r in self.replicas for d in T.DAEMONS}
        m["ts"] = datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ")
        return m

    def lines(self, replica, daemon, since=None, event=None):
        """replica's audit lines of daemon after since (mark()), of one event if given."""
        start = since[(replica.name, daemon)] if since else 0
        return [e for e in replica.audit(daemon)[start:]
                if (event is None or e.get("event") == event) and
                (since is None or e.get("ts", "") >= since["ts"])]

    def cluster_queries(self):
        """(qtype, name, source) of every query the cluster DNS received."""
        return T.dnsmasq_queries(self.cdns_log)
