"""topology.py: builds, runs and tears down the three network namespaces that stand in for
a Docker deployment of gatehouse, for the end-to-end tests and `make demo`.

    client  --(internal network)--  gateway  --(bridge network)--  internet
    10.77.0.2, 10.77.0.66           10.77.0.1       11.0.0.2       11.0.0.1 + service addrs
    fd00:77::2                      fd00:77::1

- client: one veth to the gateway's constrained side and no route anywhere else (Docker's
  `internal: true`). Its /etc/netns/<ns>/resolv.conf names the gateway, so every program run
  with `ip netns exec` resolves through gatehouse-resolver exactly as a container with
  compose `dns:` does. 10.77.0.66 is a second address on it, used as the "attacker" so that
  abuse floods land in their own audit bucket.
- gateway: both sides; runs the real gatehouse-resolver and gatehouse-forwarder from the
  build directory with their audit files in the run's work directory. IP forwarding is off.
- internet: public-looking addresses that exist only inside these namespaces (11.0.0.0/8
  and 169.254.169.254; none of it is routed out of the machine): dnsmasq, authoritative for
  the `.test` names and logging every query it gets; HTTPS and HTTP servers and an SMTP
  server (SMTPS 465, STARTTLS 587) with certificates from a CA made at start.

Every namespace, veth and /etc/netns directory carries a per-run prefix (gh<pid>); every
process started is killed by PID; down() runs from the caller's finally, from atexit and on
SIGTERM/SIGHUP. Namespaces left by a run that was SIGKILLed are removed by the next one.
"""

import atexit
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from gh_testlib import daemon_env, read_audit, sanitizer_marks, scaled, wait_for, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

# ---- addresses --------------------------------------------------------------------------

CLIENT4 = "10.77.0.2"
ATTACKER4 = "10.77.0.66"
CLIENT6 = "fd00:77::2"
CLIENT2_4 = "10.79.0.2"        # test_policies: a second client namespace on its own link
GW_IN2_4 = "10.79.0.1"         # the gateway's side of that link
GW_IN4 = "10.77.0.1"           # the gateway's constrained-side addresses: what gatehouse
GW_IN6 = "fd00:77::1"          # answers and where the forwarder listens
GW_OUT4 = "11.0.0.2"
INET_RTR4 = "11.0.0.1"
UPSTREAM_DNS = "11.53.0.53"
WEB_ADDR = "11.1.0.10"         # HTTPS + HTTP for the example.test names
WWW_ADDR = "11.1.0.80"
SMTP_ADDR = "11.2.0.25"
EVIL_ADDR = "11.6.6.6"         # what the blocked names really resolve to (and a web server)
METADATA_ADDR = "169.254.169.254"
TRAP_ADDR = "11.7.7.7"         # every name under the search domain corp.test: never dialled
INET_ADDRS = [UPSTREAM_DNS, WEB_ADDR, WWW_ADDR, SMTP_ADDR, EVIL_ADDR, METADATA_ADDR, TRAP_ADDR]
SEARCH_DOMAIN = "corp.test"    # in the client's resolv.conf (and the gateway's, in a test)

# The upstream zone: what dnsmasq in the internet namespace answers.
UPSTREAM_HOSTS = {
    "api.example.test": WEB_ADDR,
    "assets.cdn.example.test": WEB_ADDR,
    "blocked.example.test": WEB_ADDR,
    "www.example.test": WWW_ADDR,
    "smtp.mail.test": SMTP_ADDR,
    "metadata.cloud.test": METADATA_ADDR,
    "imds.cloud.test": METADATA_ADDR,
    "down.example.test": WEB_ADDR,          # allowed on 8080, where nothing listens
    "late.example.test": WEB_ADDR,          # allowed only by test_reload's SIGHUP
    "anyip.example.test": "10.99.0.5",      # test_loop_guard: in a local route it adds
    "gw.example.test": GW_OUT4,             # the gateway's own bridge-side address
    "one.example.test": WWW_ADDR,           # test_policies: policy one's name
    "two.example.test": WWW_ADDR,           # test_policies: policy two's name
}                                           # gone.example.test: allowed, but NXDOMAIN upstream
# evil.test and every name below it; every name below the search domain (so a lookup
# that wrongly appends it finds an address: the trap)
UPSTREAM_WILDCARDS = {"evil.test": EVIL_ADDR, SEARCH_DOMAIN: TRAP_ADDR}

# Certificate names (one server certificate for every name, as a CDN would have).
CERT_NAMES = sorted(set(UPSTREAM_HOSTS) | {"evil.test", "*.evil.test", "*.cdn.example.test"})

DEFAULT_ALLOW = """\
allow api.example.test 443
allow **.cdn.example.test 443
allow www.example.test 80
allow smtp.mail.test 465,587
route 587 smtp.mail.test:587
allow metadata.cloud.test 80
allow imds.cloud.test 80 private
allow down.example.test 8080
allow **.down.example.test 8080
allow gone.example.test 80
allow **.ok.test 9443
allow intranet 9443
allow api.example.test 9443
allow anyip.example.test 80 private
allow gw.example.test 80 private
"""
# (Two rules on 8080: the forwarder reads the request's Host there before it dials, so a
# refused connection is always a 502. With one rule the port would be routed, dialled at
# accept, and a refusal that comes before the request is read closes without a 502.)

DAEMONS = ("gatehouse-resolver", "gatehouse-forwarder")

# (test_pool.py builds a topology of its own: gh<pid>-pool-client, ...-pool-br, ...;
# k8s_topology.py gh<pid>-k8s-node, ...)
_NS_RE = re.compile(r"^gh(\d+)-(?:(?:pool-)?(?:client2|client|gw|inet|br)|k8s-[a-z0-9-]+)$")
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def dnsmasq_argv(addr, log, *extra):
    """dnsmasq in the foreground on addr port 53 alone, reading no file of this host and
    logging every query to log (the tests read it), then extra (its zone and records)."""
    return ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
            "--no-hosts", "--no-poll", "--bind-interfaces", f"--listen-address={addr}",
            "--port=53", "--user=root", "--group=root", "--pid-file=",
            "--log-queries=extra", f"--log-facility={log}", *extra]


def daemon_sections(label, audit, proc):
    """A failed test's report sections of one daemon: its last 12 audit lines (audit()
    reads them all) and the end of its stderr (proc: None when it never ran)."""
    try:
        out = [(f"{label} audit (last lines)",
                "\n".join(json.dumps(e) for e in audit()[-12:]))]
    except AssertionError as e:
        out = [(f"{label} audit", str(e))]
    if proc is not None:
        out.append((f"{label} stderr", proc.stderr()[-3000:]))
    return out


class TopologyError(Exception):
    pass


# ---- preconditions ------------------------------------------------------------------------

def unavailable_reason():
    """None when namespaces can be built here, else why not (for a clean skip)."""
    if os.geteuid() != 0:
        return "needs root (network namespaces): run as root, e.g. sudo make check"
    if shutil.which("ip") is None:
        return "`ip` (iproute2) is not installed"
    name = f"gh{os.getpid()}-probe"
    try:
        r = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True,
                           timeout=scaled(10))
        if r.returncode != 0:
            return f"`ip netns add` failed: {r.stderr.strip()}"
        r = subprocess.run(["ip", "netns", "exec", name, "true"], capture_output=True,
                           text=True, timeout=scaled(10))
        if r.returncode != 0:
            return f"`ip netns exec` failed: {r.stderr.strip()}"
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"`ip netns` is unavailable: {e}"
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=scaled(10))
    return None


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def remove_stale():
    """Remove namespaces (and what runs in them) left by an earlier run whose process is
    gone (it was SIGKILLed, so its own cleanup never ran)."""
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=scaled(10))
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = _NS_RE.match(name)
        if not m or _pid_alive(int(m.group(1))):
            continue
        _delete_ns(name)
    tmp = tempfile.gettempdir()
    for d in os.listdir(tmp):
        m = re.match(r"^gatehouse-e2e-gh(\d+)-", d)
        if m and not _pid_alive(int(m.group(1))):
            shutil.rmtree(os.path.join(tmp, d), ignore_errors=True)


def _delete_ns(name):
    p = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True,
                       timeout=scaled(10))
    for pid in p.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=scaled(10))
    shutil.rmtree(f"/etc/netns/{name}", ignore_errors=True)


def dnsmasq_queries(log):
    """(qtype, name, source) for every query in a dnsmasq --log-queries file."""
    out = []
    try:
        with open(log, errors="replace") as f:
            for line in f:
                m = re.search(r"query\[(\w+)\] (\S+) from (\S+)", line)
                if m:
                    out.append((m.group(1), m.group(2).lower().rstrip("."), m.group(3)))
    except FileNotFoundError:
        pass
    return out


# ---- processes ----------------------------------------------------------------------------

class Proc:
    """A process started in a namespace; stopped by its PID only."""

    def __init__(self, name, ns, argv, workdir, env=None):
        self.name = name
        self.ns = ns
        self.stdout_path = os.path.join(workdir, f"{name}.stdout")
        self.stderr_path = os.path.join(workdir, f"{name}.stderr")
        self.expect_exit = False
        out = open(self.stdout_path, "wb")
        err = open(self.stderr_path, "wb")
        try:
            # `ip netns exec` execs the program itself, so proc.pid is the program's PID.
            self.popen = subprocess.Popen(["ip", "netns", "exec", ns] + list(argv),
                                          stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                          env=env, start_new_session=True)
        finally:
            out.close()
            err.close()
        self.pid = self.popen.pid

    def running(self):
        return self.popen.poll() is None

    def stderr(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stdout(self):
        try:
            with open(self.stdout_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, timeout=5.0):
        """SIGTERM, then SIGKILL after timeout (scaled). Returns the exit status."""
        timeout = scaled(timeout)
        self.expect_exit = True
        if self.running():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(timeout=timeout)
            return None

    def sanitizer_report(self):
        text = self.stderr()
        return text if sanitizer_marks(text) else None

    def problems(self, label):
        """Strings: this process (label, for the message) exited when no one stopped it,
        or printed a sanitizer report."""
        out = []
        if not self.running() and not self.expect_exit:
            out.append(f"{label} (pid {self.pid}) exited with {self.popen.returncode}:\n"
                       f"{self.stderr()[-4000:]}")
        rep = self.sanitizer_report()
        if rep:
            out.append(f"{label} sanitizer report:\n{rep[-6000:]}")
        return out


def serve(topo, what, ready):
    """A module fixture's body: bring topo up, wait until ready(topo) (what: the
    condition, for the message), yield it, tear it down whatever happens (keeping the work
    directory with GATEHOUSE_E2E_KEEP)."""
    try:
        topo.up()
        wait_for(lambda: ready(topo), what=what)
        yield topo
    finally:
        if topo.keep and topo.workdir:
            sys.stderr.write(f"\ne2e: work directory kept: {topo.workdir}\n")
        topo.down()


# ---- the topology -------------------------------------------------------------------------

_live = []
_handlers_installed = False


def _cleanup_all():
    for t in list(_live):
        t.down()


def _on_signal(signum, frame):
    # Turn SIGTERM/SIGHUP into KeyboardInterrupt in the main thread, so pytest and the demo
    # unwind through their finally blocks; atexit is the backstop.
    raise KeyboardInterrupt(f"signal {signum}")


def _install_handlers():
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_cleanup_all)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, _on_signal)


class Topology:
    # what the internet's DNS server answers, and the names on the servers' certificate
    upstream_hosts = UPSTREAM_HOSTS
    upstream_wildcards = UPSTREAM_WILDCARDS
    cert_names = CERT_NAMES

    def __init__(self, build_dir, allow=DEFAULT_ALLOW, extra_config="", workdir=None,
                 keep=False, say=None):
        self.build_dir = os.path.abspath(build_dir)
        self.allow = allow
        self.extra_config = extra_config
        self.prefix = f"gh{os.getpid()}"
        self.client_ns = f"{self.prefix}-client"
        self.gw_ns = f"{self.prefix}-gw"
        self.inet_ns = f"{self.prefix}-inet"
        self.namespaces = [self.client_ns, self.gw_ns, self.inet_ns]
        self.keep = keep
        self.say = say or (lambda *_: None)
        self.workdir = workdir
        self.procs = {}
        self.ledger = []          # what the run did, for the audit check at the end
        self._up = False
        self._down = False

    # -- paths
    def path(self, name):
        return os.path.join(self.workdir, name)

    @property
    def ca_path(self):
        return self.path("ca.pem")

    def audit_path(self, daemon):
        return self.path(f"{daemon}.audit.jsonl")

    # -- bring up / tear down
    def up(self):
        for b in DAEMONS:
            if not os.access(os.path.join(self.build_dir, b), os.X_OK):
                raise TopologyError(f"{self.build_dir}/{b} is missing: run make first")
        _install_handlers()
        remove_stale()
        _live.append(self)
        self._up = True
        if self.workdir is None:
            self.workdir = tempfile.mkdtemp(prefix=f"gatehouse-e2e-{self.prefix}-")
        os.chmod(self.workdir, 0o755)
        self._make_ca()
        self._make_namespaces()
        self._start_upstream_dns()
        self._start_servers()
        self._start_gatehouse()
        return self

    def down(self):
        """Stop every process by PID, delete the namespaces and /etc/netns entries. Safe to
        call more than once and from any state."""
        if self._down or not self._up:
            return
        self._down = True
        for name in reversed(list(self.procs)):
            try:
                self.procs[name].stop(timeout=3)
            except Exception:
                pass
        for ns in self.namespaces:
            try:
                _delete_ns(ns)
            except Exception:
                pass
        if self in _live:
            _live.remove(self)
        if not self.keep and self.workdir and os.path.isdir(self.workdir):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.up()

    def __exit__(self, *exc):
        self.down()

    # -- commands
    def sh(self, *argv, ns=None, check=True, timeout=30):
        cmd = (["ip", "netns", "exec", ns] if ns else []) + list(argv)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=scaled(timeout))
        if check and r.returncode != 0:
            raise TopologyError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
        return r

    def run(self, ns, argv, timeout=20, input=None, env=None, binary=False):
        """Run argv in namespace ns (its /etc/netns resolv.conf in effect) within timeout
        seconds (scaled); returns the CompletedProcess with .elapsed (seconds). Never
        raises on a non-zero exit."""
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        t0 = time.monotonic()
        r = subprocess.run(["ip", "netns", "exec", ns] + list(argv), input=input,
                           capture_output=True, text=not binary, timeout=scaled(timeout),
                           env=full_env)
        r.elapsed = time.monotonic() - t0
        return r

    def client(self, argv, **kw):
        return self.run(self.client_ns, argv, **kw)

    def in_ns(self, ns, fn):
        """Call fn() on a thread that has entered namespace ns; sockets it creates stay in
        that namespace (a socket belongs to the namespace it was made in)."""
        box = {}

        def worker():
            fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, f"setns {ns}: {os.strerror(e)}")
                box["v"] = fn()
            except BaseException as e:  # handed to the caller
                box["e"] = e
            finally:
                os.close(fd)

        t = threading.Thread(target=worker)
        t.start()
        t.join()
        if "e" in box:
            raise box["e"]
        return box["v"]

    def socket(self, ns, family=socket.AF_INET, kind=socket.SOCK_DGRAM, bind=None):
        def make():
            s = socket.socket(family, kind)
            if bind is not None:
                s.bind((bind, 0))
            return s
        return self.in_ns(ns, make)

    # -- setup steps
    def _make_ca(self):
        ext = self.path("server.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\nsubjectAltName=" +
                    ",".join(f"DNS:{n}" for n in self.cert_names) + "\n")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        self.sh("openssl", "req", "-x509", "-new", *ec, "-keyout", self.path("ca.key"),
                "-out", self.ca_path, "-days", "2", "-subj", "/CN=gatehouse e2e test CA",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.sh("openssl", "req", "-new", *ec, "-keyout", self.path("server.key"),
                "-out", self.path("server.csr"), "-subj", "/CN=api.example.test")
        self.sh("openssl", "x509", "-req", "-in", self.path("server.csr"), "-CA", self.ca_path,
                "-CAkey", self.path("ca.key"), "-CAcreateserial", "-out",
                self.path("server.pem"), "-days", "2", "-extfile", ext)
        for n in ("server.key", "server.pem", "ca.pem"):
            os.chmod(self.path(n), 0o644)

    def _add_namespaces(self, client_resolv):
        """Make every namespace of self.namespaces with lo up, no router, no duplicate
        address detection, and its /etc/netns resolv.conf: client_resolv {namespace:
        text} for the clients, the upstream DNS for the gateway, 127.0.0.1 elsewhere."""
        for ns in self.namespaces:
            os.makedirs(f"/etc/netns/{ns}", exist_ok=True)
            if ns in client_resolv:
                with open(f"/etc/netns/{ns}/resolv.conf", "w") as f:
                    f.write(client_resolv[ns])
            elif ns != self.gw_ns:
                with open(f"/etc/netns/{ns}/resolv.conf", "w") as f:
                    f.write("nameserver 127.0.0.1\n")
        self.set_gateway_resolv()
        for ns in self.namespaces:
            self.sh("ip", "netns", "add", ns)
            self.sh("ip", "-n", ns, "link", "set", "lo", "up")
            # No duplicate address detection: addresses are usable at once (a tentative
            # link-local address delays the first IPv6 connection by about a second).
            # No namespace routes between its interfaces: a new namespace inherits the
            # host's IPv4 forwarding setting, and the gateway must not be a router (a
            # container that added a route through it would bypass gatehouse).
            self.sh("sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0",
                    "net.ipv6.conf.default.accept_dad=0", "net.ipv4.ip_forward=0",
                    "net.ipv6.conf.all.forwarding=0", ns=ns)

    def _make_namespaces(self):
        p, c, g, i = self.prefix, self.client_ns, self.gw_ns, self.inet_ns
        self.if_client, self.if_gw_in = f"{p}-c", f"{p}-gc"
        self.if_gw_out, self.if_inet = f"{p}-gi", f"{p}-i"
        # Resolvers: the client asks the gateway (default options: no timeout tweaks, and a
        # search domain, as a container often has); the gateway asks the internet's DNS.
        self._add_namespaces({c: f"nameserver {GW_IN4}\nsearch {SEARCH_DOMAIN}\n"})
        self.sh("ip", "link", "add", self.if_client, "netns", c, "type", "veth",
                "peer", "name", self.if_gw_in, "netns", g)
        self.sh("ip", "link", "add", self.if_gw_out, "netns", g, "type", "veth",
                "peer", "name", self.if_inet, "netns", i)
        # client
        self.sh("ip", "-n", c, "addr", "add", f"{CLIENT4}/24", "dev", self.if_client)
        self.sh("ip", "-n", c, "addr", "add", f"{ATTACKER4}/24", "dev", self.if_client)
        self.sh("ip", "-n", c, "addr", "add", f"{CLIENT6}/64", "dev", self.if_client, "nodad")
        self.sh("ip", "-n", c, "link", "set", self.if_client, "up")
        # gateway
        self.sh("ip", "-n", g, "addr", "add", f"{GW_IN4}/24", "dev", self.if_gw_in)
        self.sh("ip", "-n", g, "addr", "add", f"{GW_IN6}/64", "dev", self.if_gw_in, "nodad")
        self.sh("ip", "-n", g, "addr", "add", f"{GW_OUT4}/24", "dev", self.if_gw_out)
        self.sh("ip", "-n", g, "link", "set", self.if_gw_in, "up")
        self.sh("ip", "-n", g, "link", "set", self.if_gw_out, "up")
        self.sh("ip", "-n", g, "route", "add", "default", "via", INET_RTR4)
        # internet: one link to the gateway, the service addresses on lo, no route back to
        # the client network.
        self.sh("ip", "-n", i, "addr", "add", f"{INET_RTR4}/24", "dev", self.if_inet)
        for a in INET_ADDRS:
            self.sh("ip", "-n", i, "addr", "add", f"{a}/32", "dev", "lo")
        self.sh("ip", "-n", i, "link", "set", self.if_inet, "up")
        self._wait_links_up()

    def set_gateway_resolv(self, extra=""):
        """The gateway's resolv.conf (what `upstream system` reads): the internet's DNS
        server, plus extra lines (search, options)."""
        with open(f"/etc/netns/{self.gw_ns}/resolv.conf", "w") as f:
            f.write(f"nameserver {UPSTREAM_DNS}\n{extra}")

    def _wait_links_up(self, links=None, timeout=5.0):
        """Wait until every veth (links: (namespace, device) pairs, default this
        topology's four) has carrier and is operationally up. Until the kernel's link
        watcher has run (up to a second), a veth drops what it is given, so the first
        connection of a test would lose its SYN and wait a second for the retry."""
        links = links or [(self.client_ns, self.if_client), (self.gw_ns, self.if_gw_in),
                          (self.gw_ns, self.if_gw_out), (self.inet_ns, self.if_inet)]
        down = wait_until(lambda: [(ns, dev) for ns, dev in links if "state UP" not in
                                   self.sh("ip", "-n", ns, "link", "show", "dev", dev).stdout],
                          lambda down: not down, timeout, interval=0.05)
        if down:
            raise TopologyError(f"links not up after {scaled(timeout)}s: {down}")

    def _start(self, name, ns, argv, env=None):
        p = Proc(name, ns, argv, self.workdir, env=env)
        self.procs[name] = p
        return p

    def _wait_listening(self, proc, ns, proto, addr, port, timeout=10.0):
        flag = "-Hltn" if proto == "tcp" else "-Hlun"
        want = f"{addr}:{port}" if ":" not in addr else f"[{addr}]:{port}"

        def listening():
            if not proc.running():
                raise TopologyError(f"{proc.name} exited with {proc.popen.returncode}:\n"
                                    f"{proc.stderr()}")
            out = self.sh("ss", flag, ns=ns, check=False).stdout
            return any(len(f) >= 4 and f[3] in (want, f"0.0.0.0:{port}", f"*:{port}")
                       for f in (line.split() for line in out.splitlines()))
        if not wait_until(listening, bool, timeout, interval=0.05):
            raise TopologyError(f"{proc.name} is not listening on {want}/{proto} after "
                                f"{scaled(timeout)}s:\n{proc.stderr()}")

    def _start_upstream_dns(self):
        self.dns_log = self.path("upstream-dns.log")
        argv = dnsmasq_argv(UPSTREAM_DNS, self.dns_log, "--local=/test/", "--local-ttl=30")
        for name, addr in self.upstream_hosts.items():
            argv.append(f"--host-record={name},{addr}")
        for name, addr in self.upstream_wildcards.items():
            argv.append(f"--address=/{name}/{addr}")
        p = self._start("upstream-dns", self.inet_ns, argv)
        self._wait_listening(p, self.inet_ns, "udp", UPSTREAM_DNS, 53)

    def _start_servers(self):
        self._start_web()
        self.smtp_log = self.start_smtp("smtp", SMTP_ADDR)

    def _start_web(self):
        self.web_log = self.path("web.jsonl")
        p = self._start("web", self.inet_ns, [
            PYTHON, os.path.join(HERE, "servers", "web.py"), "--cert", self.path("server.pem"),
            "--key", self.path("server.key"), "--log", self.web_log])
        self._wait_listening(p, self.inet_ns, "tcp", "0.0.0.0", 443)
        self._wait_listening(p, self.inet_ns, "tcp", "0.0.0.0", 80)

    def start_smtp(self, name, addr):
        """A mail server (servers/smtp.py, SMTPS 465 and STARTTLS 587) on addr in the
        internet namespace; returns the path of its log of delivered mails."""
        log = self.path(f"{name}.jsonl")
        p = self._start(name, self.inet_ns, [
            PYTHON, os.path.join(HERE, "servers", "smtp.py"), "--cert", self.path("server.pem"),
            "--key", self.path("server.key"), "--log", log, "--addr", addr])
        self._wait_listening(p, self.inet_ns, "tcp", addr, 465, timeout=20)
        self._wait_listening(p, self.inet_ns, "tcp", addr, 587, timeout=20)
        return log

    def config_text(self):
        return (f"# gatehouse e2e configuration ({self.prefix})\n" + self.allow +
                f"dns-listen {GW_IN4}:53 [{GW_IN6}]:53\n"
                f"forward-listen {GW_IN4} {GW_IN6}\n"
                "upstream system\n"
                "peek-timeout 2\n"
                "connect-timeout 3\n"
                "user nobody\n" + self.extra_config)

    def allows(self, name):
        """Whether the allowlist (allow and route lines) covers name."""
        name = name.lower().rstrip(".")
        for line in self.allow.splitlines():
            f = line.split("#")[0].split()
            pat = f[1] if len(f) >= 3 and f[0] == "allow" else (
                f[2].rsplit(":", 1)[0] if len(f) >= 3 and f[0] == "route" else None)
            if pat is None:
                continue
            if pat == name or (pat.startswith("**.") and name.endswith(pat[2:])):
                return True
            if pat.startswith("*.") and name.endswith(pat[1:]) and \
                    "." not in name[:-len(pat) + 1]:
                return True
        return False

    def forward_ports(self):
        """The ports the allowlist names (the forwarder listens on each)."""
        ports = set()
        for line in self.allow.splitlines():
            f = line.split("#")[0].split()
            if len(f) >= 3 and f[0] == "allow":
                for item in f[2].split(","):
                    lo, _, hi = item.partition("-")
                    ports.update(range(int(lo), int(hi or lo) + 1))
            elif len(f) >= 3 and f[0] == "route":
                ports.add(int(f[1]))
        return sorted(ports)

    def run_daemon(self, name, ns, d, addr, env):
        """Start daemon d (of build_dir) as name in namespace ns with config_path and the
        environment env, and wait for its listeners on addr: the resolver's UDP and TCP
        53, the forwarder's forward_ports()."""
        p = self._start(name, ns, [os.path.join(self.build_dir, d), "-c", self.config_path],
                        env=env)
        ports = [("udp", 53), ("tcp", 53)] if d == "gatehouse-resolver" else \
            [("tcp", port) for port in self.forward_ports()]
        for proto, port in ports:
            self._wait_listening(p, ns, proto, addr, port)
        return p

    def _start_daemon(self, d, extra_env=None):
        env = daemon_env({"GATEHOUSE_AUDIT": self.audit_path(d), **(extra_env or {})})
        return self.run_daemon(d, self.gw_ns, d, GW_IN4, env)

    def report_sections(self):
        """A failed test's report: each daemon's last audit lines and stderr."""
        out = []
        for d in DAEMONS:
            out += daemon_sections(d, lambda d=d: self.audit(d), self.procs.get(d))
        return out

    def write_config(self):
        """config_text() into config_path (readable by the daemons' user)."""
        self.config_path = self.path("gatehouse.conf")
        with open(self.config_path, "w") as f:
            f.write(self.config_text())
        os.chmod(self.config_path, 0o644)

    def _start_gatehouse(self):
        self.write_config()
        for d in DAEMONS:
            self._start_daemon(d)

    def restart_daemon(self, d, extra_env=None):
        """Stop daemon d (it must exit 0 with no sanitizer report) and start it again with
        extra environment variables; its audit file is appended to."""
        old = self.procs[d]
        status = old.stop(timeout=10)
        if status != 0 or old.sanitizer_report():
            raise TopologyError(f"{d} exited with {status}:\n{old.stderr()[-4000:]}")
        # keep the old stderr for the record: the new process writes a file of its own
        os.replace(old.stderr_path, old.stderr_path + f".{old.pid}")
        return self._start_daemon(d, extra_env)

    # -- health
    def daemon(self, name):
        return self.procs[name]

    def daemon_problems(self):
        """A list of strings: daemons that died or printed a sanitizer report."""
        return [m for d in DAEMONS if d in self.procs for m in self.procs[d].problems(d)]

    # -- records
    def audit(self, daemon):
        """Every audit line of daemon, parsed (gh_testlib.parse_audit: an invalid line
        raises AssertionError, a line still being written is left out)."""
        return read_audit(self.audit_path(daemon), source=f"{daemon} audit")

    def mark(self):
        """Audit line counts now, per daemon: pass as since= to see only what follows."""
        return {d: len(self.audit(d)) for d in DAEMONS}

    def wait_audit(self, daemon, pred, timeout=5.0, what="audit line", since=None, count=1):
        """The audit lines of daemon matching pred (after since=mark()), waiting up to
        timeout seconds (scaled) for at least count of them."""
        start = since[daemon] if since else 0
        hits = wait_until(lambda: [e for e in self.audit(daemon)[start:] if pred(e)],
                          lambda hits: len(hits) >= count, timeout, interval=0.05)
        if len(hits) < count:
            raise AssertionError(f"no {daemon} {what} within {scaled(timeout)}s; last lines:\n" +
                                 "\n".join(json.dumps(e) for e in self.audit(daemon)[-15:]))
        return hits

    def upstream_queries(self):
        """(qtype, name, source) for every query the internet's DNS server received."""
        return dnsmasq_queries(self.dns_log)

    def _jsonl(self, path):
        try:
            with open(path) as f:
                return [json.loads(x) for x in f if x.strip()]
        except FileNotFoundError:
            return []

    def web_requests(self):
        return self._jsonl(self.web_log)

    def mails(self, log=None):
        """The mails a server received (log: start_smtp's path; default the topology's
        one mail server)."""
        return self._jsonl(log or self.smtp_log)

    # -- the ledger: what the run did, checked against the audit log at the end
    def expect_query(self, qname, verdict, client=None, qtypes=None):
        self.ledger.append({"kind": "query", "qname": qname.lower().rstrip("."),
                            "verdict": verdict, "client": client, "qtypes": qtypes})

    def expect_conn(self, port, verdict, name=None, client=None, reason=None):
        self.ledger.append({"kind": "conn", "port": port, "name": name, "verdict": verdict,
                            "client": client, "reason": reason})
