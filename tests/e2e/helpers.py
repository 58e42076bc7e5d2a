"""helpers.py: the client side of the end-to-end tests (and of the demo): run real
programs in the client namespace and read what they say.

Each lookup helper returns a Lookup: ok (resolved), addrs, notfound (the program said the
name does not exist), elapsed (seconds, the whole program run), raw (its output).
"""

import os
import re
import subprocess
import uuid

from gh_testlib import scaled
import topology as T


class Lookup:
    def __init__(self, tool, name, ok, addrs, notfound, elapsed, raw):
        self.tool = tool
        self.name = name
        self.ok = ok
        self.addrs = addrs
        self.notfound = notfound
        self.elapsed = elapsed
        self.raw = raw

    def __repr__(self):
        return (f"Lookup({self.tool} {self.name}: ok={self.ok} addrs={self.addrs} "
                f"notfound={self.notfound} {self.elapsed:.3f}s raw={self.raw!r})")


# ---- the lookup programs ------------------------------------------------------------------

CLIENTS_DIR = os.path.join(T.HERE, "clients")


def build_clients(outdir):
    """Build the musl and Go lookup programs into outdir (when their sources are newer).
    Returns {"musl": path or None, "go": path or None, "why": {tool: reason}}."""
    outdir = os.path.abspath(outdir)
    os.makedirs(outdir, exist_ok=True)
    out = {"musl": None, "go": None, "why": {}}

    src = os.path.join(CLIENTS_DIR, "lookup_musl.c")
    exe = os.path.join(outdir, "lookup_musl")
    if subprocess.run(["sh", "-c", "command -v musl-gcc"], capture_output=True).returncode:
        out["why"]["musl"] = "musl-gcc not found (apt-get install musl-tools)"
    else:
        if not _fresh(exe, [src]):
            tmp = exe + f".tmp{os.getpid()}"
            r = subprocess.run(["musl-gcc", "-O2", "-Wall", "-Wextra", "-static", "-o", tmp,
                                src], capture_output=True, text=True,
                               timeout=scaled(120))
            if r.returncode != 0:
                raise RuntimeError(f"musl-gcc failed:\n{r.stderr}")
            os.replace(tmp, exe)
        out["musl"] = exe

    gdir = os.path.join(CLIENTS_DIR, "lookup_go")
    exe = os.path.join(outdir, "lookup_go")
    if subprocess.run(["sh", "-c", "command -v go"], capture_output=True).returncode:
        out["why"]["go"] = "go not found (apt-get install golang-go)"
    else:
        srcs = [os.path.join(gdir, f) for f in ("main.go", "go.mod")]
        if not _fresh(exe, srcs):
            tmp = exe + f".tmp{os.getpid()}"
            env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=mod", GOPROXY="off",
                       GOCACHE=os.path.join(outdir, "gocache"),
                       GOPATH=os.path.join(outdir, "gopath"), GO111MODULE="on")
            r = subprocess.run(["go", "build", "-o", tmp, "."], cwd=gdir, env=env,
                               capture_output=True, text=True, timeout=scaled(300))
            if r.returncode != 0:
                raise RuntimeError(f"go build failed:\n{r.stderr}")
            os.replace(tmp, exe)
        out["go"] = exe
    return out


def _fresh(exe, srcs):
    try:
        t = os.path.getmtime(exe)
    except OSError:
        return False
    return all(os.path.getmtime(s) <= t for s in srcs)


def _parse_prog(tool, name, r):
    # "NAME ok MS ADDR..." / "NAME fail MS KIND text"
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) >= 3 and f[0] == name:
            if f[1] == "ok":
                return Lookup(tool, name, True, f[3:], False, r.elapsed, r.stdout)
            kind = f[3] if len(f) > 3 else ""
            return Lookup(tool, name, False, [], kind in ("EAI_NONAME", "notfound"),
                          r.elapsed, r.stdout + r.stderr)
    return Lookup(tool, name, False, [], False, r.elapsed, r.stdout + r.stderr)


def lookup(topo, tool, name, family=None, bins=None, ns=None):
    """Resolve name in the client namespace (or namespace ns) with tool: getent (glibc),
    musl, go. family: None (both), 4 or 6."""
    ns = ns or topo.client_ns
    if tool == "getent":
        db = {None: "ahosts", 4: "ahostsv4", 6: "ahostsv6"}[family]
        r = topo.run(ns, ["getent", db, name])
        addrs = []
        for line in r.stdout.splitlines():
            a = line.split()[0] if line.split() else ""
            if a and a not in addrs:
                addrs.append(a)
        # getent exits 2 when the key is not found (NXDOMAIN)
        return Lookup(tool, name, r.returncode == 0 and bool(addrs), addrs,
                      r.returncode == 2, r.elapsed, r.stdout + r.stderr)
    exe = bins[tool]
    argv = [exe] + ([f"-{family}"] if family else []) + [name]
    env = {"GODEBUG": "netdns=go"} if tool == "go" else None
    return _parse_prog(tool, name, topo.run(ns, argv, env=env))


class Dig:
    def __init__(self, status, flags, answers, authority, ede, elapsed, raw):
        self.status = status
        self.flags = flags
        self.answers = answers          # [(type, rdata)]
        self.authority = authority      # [(type, rdata)]
        self.ede = ede
        self.elapsed = elapsed
        self.raw = raw

    def addrs(self, rtype):
        return [d for t, d in self.answers if t == rtype]

    def __repr__(self):
        return f"Dig({self.status} {self.answers} {self.elapsed:.3f}s)"


def dig(topo, name, qtype="A", tcp=False, server=None, extra=(), ns=None):
    """dig in the client namespace (or namespace ns); server None means the resolv.conf
    one."""
    argv = ["dig", name, qtype, "+nocmd", "+noall", "+comments", "+answer", "+authority"]
    if tcp:
        argv.append("+tcp")
    if server:
        argv.append(f"@{server}")
    argv += list(extra)
    r = topo.run(ns or topo.client_ns, argv)
    status = None
    flags = []
    ede = None
    m = re.search(r"status: (\w+)", r.stdout)
    if m:
        status = m.group(1)
    m = re.search(r";; flags: ([a-z ]+);", r.stdout)
    if m:
        flags = m.group(1).split()
    m = re.search(r"; EDE: (\d+)", r.stdout)
    if m:
        ede = int(m.group(1))
    answers, authority = [], []
    section = None
    for line in r.stdout.splitlines():
        if line.startswith(";; ANSWER SECTION"):
            section = answers
        elif line.startswith(";; AUTHORITY SECTION"):
            section = authority
        elif line.startswith(";;") or not line.strip():
            section = None
        elif section is not None and not line.startswith(";"):
            f = line.split(None, 4)
            if len(f) == 5:
                section.append((f[3], f[4]))
    return Dig(status, flags, answers, authority, ede, r.elapsed, r.stdout + r.stderr)


# ---- TLS alerts --------------------------------------------------------------------------

def tls_alert(stderr_text):
    """The TLS alert a client reported receiving (openssl / curl wording), else None."""
    m = re.search(r"(?:tlsv1|ssl/tls|sslv3) (?:alert )?([a-z ]+?)(?::|\s\(|$)", stderr_text,
                  re.M | re.I)
    if m:
        return m.group(1).strip().lower()
    m = re.search(r"TLS alert, ([a-z ]+?) \(\d+\)", stderr_text)
    return m.group(1).strip().lower() if m else None


def tag():
    """A short unique token for names, paths and mail subjects of one test."""
    return uuid.uuid4().hex[:10]


# ---- DNS from the client namespace with dnspython -----------------------------------------

def ask(topo, qname, qtype="A", edns=True, tcp=False, src=T.CLIENT4, server=T.GW_IN4,
        timeout=3.0):
    """One dnspython query sent from src in the client namespace, answered within timeout
    seconds (scaled); returns the response."""
    import socket

    import dns.message
    import dns.query

    timeout = scaled(timeout)
    q = dns.message.make_query(qname, qtype, use_edns=0 if edns else False)
    fam = socket.AF_INET6 if ":" in server else socket.AF_INET
    if tcp:
        s = topo.socket(topo.client_ns, fam, socket.SOCK_STREAM, bind=src)
        try:
            s.settimeout(timeout)
            s.connect((server, 53))
            s.setblocking(False)        # dnspython waits with select() on its own
            return dns.query.tcp(q, server, timeout=timeout, sock=s)
        finally:
            s.close()
    s = topo.socket(topo.client_ns, fam, socket.SOCK_DGRAM, bind=src)
    try:
        s.setblocking(False)
        return dns.query.udp(q, server, timeout=timeout, sock=s)
    finally:
        s.close()
