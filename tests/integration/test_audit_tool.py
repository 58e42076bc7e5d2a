"""gatehouse-audit on the real daemons' audit lines: a workload of real clients (DNS
queries from two source addresses, verified TLS, plain HTTP, an SMTP-like server behind
a route) through gatehouse-resolver and gatehouse-forwarder on loopback; their audit
files (with a `docker compose logs` prefix and a junk line mixed in) fed to `summary`
(table and JSON) and `suggest`; the suggestion loaded with --check as it is, then both
daemons run on it and the same workload replayed: everything passes, and a name outside
it is refused. Also: suggest -c's diff, the usage errors, and policy sections.

The round trip in report mode, with policies, is in the e2e suite
(tests/e2e/test_learning.py); here: suggest -c with policy sections (specs kept, the diff
per policy).

Run: GATEHOUSE_BUILD=$PWD/build /usr/bin/python3 -m pytest -q tests/integration/test_audit_tool.py
"""

import contextlib
import json
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import types

import pytest

import peers
from conftest import PROBE_NAME, dns_ready
from gh_testlib import BUILD, daemon_env, dns_query, scaled, wait_for
from peers import (BannerServer, DnsServer, Forwarder, HttpServer, Procs, TestCA, free_port,
                   make_workdir)

AUDIT_BIN = os.path.join(BUILD, "gatehouse-audit")
RESOLVER_BIN = os.path.join(BUILD, "gatehouse-resolver")

pytestmark = pytest.mark.skipif(
    not all(os.path.exists(b) for b in (AUDIT_BIN, RESOLVER_BIN, peers.FORWARDER_BIN)),
    reason="gatehouse-audit and both daemons must be built in %s" % BUILD)

TIMEOUT = scaled(5.0)
FWD = "127.0.0.1"                       # the forwarder's and the resolver's address
DNS_ADDR = "127.0.0.173"                # dnsmasq, the forwarder's upstream
CLIENTS = ("127.0.0.1", "127.0.0.2")    # the DNS clients' source addresses
CDN = ["s%d.cdn.test" % i for i in range(1, 6)]
ADDR = {"api.test": "127.0.0.172", "web.test": "127.0.0.174", "smtp.test": "127.0.0.175",
        "outside.test": "127.0.0.176", "late.test": "127.0.0.174"}
ADDR.update({n: "127.0.0.176" for n in CDN})
TLS_NAMES = ["api.test"] + CDN
# late.test: looked up only, refused in the learning run (no rule), allowed by the suggestion
DNS_NAMES = TLS_NAMES + ["web.test", "smtp.test", "late.test"]
COMPOSE = "gatehouse-1  | "


@pytest.fixture(scope="module")
def env():
    """The peers of the module (dnsmasq, two TLS servers, an HTTP and an SMTP-like one),
    each torn down at the end, in reverse order, also when a later one fails to start."""
    with contextlib.ExitStack() as stack:
        e = types.SimpleNamespace(procs=Procs(), dir=make_workdir("gatehouse-audit-it-"))
        stack.callback(shutil.rmtree, e.dir, ignore_errors=True)
        stack.callback(e.procs.kill_all)
        e.ca = TestCA(e.dir)
        e.p_tls = free_port((FWD, ADDR["api.test"], ADDR["s1.cdn.test"]))
        e.p_http = free_port((FWD, ADDR["web.test"]))
        e.p_smtp = free_port((FWD, ADDR["smtp.test"]))
        e.p_dns = free_port((DNS_ADDR,))
        e.dns = DnsServer(e.procs, e.dir, DNS_ADDR, e.p_dns, ADDR)
        for server in (
                lambda: HttpServer(ADDR["api.test"], e.p_tls, "api", ca=e.ca, names=["api.test"]),
                lambda: HttpServer(ADDR["s1.cdn.test"], e.p_tls, "cdn", ca=e.ca,
                                   names=CDN + ["outside.test"]),
                lambda: HttpServer(ADDR["web.test"], e.p_http, "web"),
                lambda: BannerServer(ADDR["smtp.test"], e.p_smtp, "smtp.test")):
            stack.callback(server().close)
        yield e


# ---- the daemons ------------------------------------------------------------------------

def learning_rules(e):
    """The configuration in force while the workload is learned: every name but late.test,
    loopback upstreams (so `private`), a route for the SMTP port, one rule nothing uses."""
    return ["allow api.test %d private" % e.p_tls,
            "allow *.cdn.test %d private" % e.p_tls,
            "allow web.test %d private" % e.p_http,
            "route %d smtp.test:%d private" % (e.p_smtp, e.p_smtp),
            "allow unused.test %d" % e.p_tls]


def start_pair(e, gatehouse, rules, tag):
    """The resolver (gatehouse fixture: its audit file) and the forwarder (peers.Forwarder)
    on rules; (resolver daemon, its DNS port, forwarder)."""
    port = free_port((FWD,))
    res = gatehouse.start("gatehouse-resolver", "\n".join(
        rules + ["dns-listen %s:%d" % (FWD, port)]) + "\n", ready=dns_ready(FWD, port))
    fwd = Forwarder(e.procs, e.dir, rules + [
        "forward-listen " + FWD, "upstream %s:%d" % (DNS_ADDR, e.p_dns),
        "audit " + os.path.join(e.dir, tag + "-fwd-audit.log")], name=tag + "-fwd")
    fwd.audit_path = os.path.join(e.dir, tag + "-fwd-audit.log")
    fwd.start()
    return res, port, fwd


def stop_fwd(fwd):
    _, problems = fwd.stop()
    assert not problems, problems


# ---- the clients ------------------------------------------------------------------------

def ask(port, name, source):
    """One UDP query for name from source; the rcode."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((source, 0))
        s.settimeout(TIMEOUT)
        q = dns_query(name)
        s.sendto(q, (FWD, port))
        while True:
            data = s.recv(4096)
            if data[:2] == q[:2]:
                return data[3] & 0x0F
    finally:
        s.close()


def tls_get(e, name):
    """A verified TLS GET through the forwarder: the status line, or the TLS error."""
    raw = socket.create_connection((FWD, e.p_tls), timeout=TIMEOUT)
    try:
        with e.ca.client_context().wrap_socket(raw, server_hostname=name) as s:
            s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" %
                       name).encode())
            return s.recv(4096).split(b"\r\n", 1)[0].decode()
    except (ssl.SSLError, ConnectionError) as err:
        return "refused: %s" % err
    finally:
        raw.close()


def http_get(e, name):
    with socket.create_connection((FWD, e.p_http), timeout=TIMEOUT) as s:
        s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % name).encode())
        return s.recv(4096).split(b"\r\n", 1)[0].decode()


def smtp_banner(e):
    with socket.create_connection((FWD, e.p_smtp), timeout=TIMEOUT) as s:
        banner = s.recv(4096).decode()
        s.sendall(b"QUIT\r\n")
        while s.recv(4096):
            pass
        return banner.strip()


def workload(e, dns_port):
    """Every request of the workload; {request: outcome}."""
    out = {}
    for src in CLIENTS:
        for name in DNS_NAMES:
            out["dns %s %s" % (src, name)] = ask(dns_port, name, src)
    for name in TLS_NAMES:
        out["tls " + name] = tls_get(e, name)
    out["http web.test"] = http_get(e, "web.test")
    out["smtp"] = smtp_banner(e)
    return out


def assert_passed(out, refused=()):
    """Every request of a workload's outcome passed, but the lookups of the names in
    refused (NXDOMAIN)."""
    for k, v in out.items():
        if k.startswith("dns"):
            assert v == (3 if k.split()[-1] in refused else 0), (k, v)
        elif k == "smtp":
            assert v == "220 smtp.test ready", v
        else:
            assert v.endswith("200 OK"), (k, v)


CONNS = len(TLS_NAMES) + 2      # TLS, HTTP, SMTP connections of one workload


def conn_lines(fwd):
    return [a for a in fwd.audit() if a.get("event") == "conn"]


def without_probe(path):
    """The resolver's audit file without the readiness probe's lines (the fixture's, sent
    from its own address: no client of the workload)."""
    with open(path, encoding="utf-8") as f:
        return [l for l in f if PROBE_NAME not in l]


# ---- gatehouse-audit --------------------------------------------------------------------

def run_audit(args, stdin=None, env=None):
    return subprocess.run([AUDIT_BIN] + list(args), input=stdin, capture_output=True,
                          text=True, timeout=scaled(30), env=daemon_env(env))


def check(binary, conf_path):
    return subprocess.run([os.path.join(BUILD, binary), "--check", "-c", conf_path],
                          capture_output=True, text=True, timeout=scaled(30),
                          env=daemon_env({}))


@pytest.fixture(scope="module")
def learned(env, tmp_path_factory):
    """The workload in the learning configuration; the combined audit log, as `docker
    compose logs` would mix it (a prefix on the forwarder's lines, one diagnostic)."""
    from conftest import Gatehouse
    workdir = str(tmp_path_factory.mktemp("learn"))
    os.chmod(workdir, 0o1777)
    g = Gatehouse(workdir)
    try:
        res, port, fwd = start_pair(env, g, learning_rules(env), "learn")
        out = workload(env, port)
        wait_for(lambda: len(conn_lines(fwd)) >= CONNS, scaled(10), what="the conn lines")
        stop_fwd(fwd)
    finally:
        problems = g.cleanup()
    assert not problems, problems
    assert_passed(out, refused=("late.test",))     # NXDOMAIN: no rule yet
    lines = without_probe(res.audit_path)
    with open(fwd.audit_path, encoding="utf-8") as f:
        lines += [COMPOSE + l for l in f]
    lines.insert(3, COMPOSE + "gatehouse-resolver: a diagnostic, not an audit line\n")
    log = os.path.join(env.dir, "combined.log")
    with open(log, "w") as f:
        f.writelines(lines)
    return types.SimpleNamespace(log=log, conf=fwd.conf, nlines=len(lines))


def test_summary_table(env, learned):
    r = run_audit(["summary", learned.log])
    assert r.returncode == 0, r.stderr
    # the one junk line, counted on stderr in one line
    assert r.stderr == ("gatehouse-audit: skipped 1 of %d lines: 1 not query or conn audit "
                        "lines (not JSON, or a field missing), 0 other events\n"
                        % learned.nlines), r.stderr
    rows = [l.split() for l in r.stdout.splitlines()]
    assert rows[0] == ["POLICY", "CLIENT", "EVENT", "NAME", "PORT", "VERDICT", "COUNT",
                       "FIRST", "LAST"]
    body = rows[1:]
    # 127.0.0.1 made the connections too: it is the busiest client, listed first
    assert [r[1] for r in body] == sorted([r[1] for r in body], key=lambda c: c != "127.0.0.1")
    assert ["default", "127.0.0.1", "conn", "api.test", str(env.p_tls), "allow", "1"] in \
        [r[:7] for r in body]
    assert ["default", "127.0.0.2", "query", "late.test", "-", "deny", "1"] in \
        [r[:7] for r in body]
    assert ["default", "127.0.0.1", "conn", "smtp.test", str(env.p_smtp), "allow", "1"] in \
        [r[:7] for r in body]
    assert len(body) == 2 * len(DNS_NAMES) + CONNS


def test_summary_json_and_filters(env, learned):
    r = run_audit(["summary", "--json", learned.log])
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [p["policy"] for p in doc["policies"]] == ["default"]
    clients = doc["policies"][0]["clients"]
    assert [c["client"] for c in clients] == ["127.0.0.1", "127.0.0.2"]
    assert clients[0]["count"] == len(DNS_NAMES) + CONNS
    assert clients[1]["count"] == len(DNS_NAMES)
    row = [x for x in clients[0]["rows"] if x.get("name") == "web.test" and x["event"] == "conn"]
    assert len(row) == 1 and row[0]["port"] == env.p_http and row[0]["verdict"] == "allow"
    assert row[0]["count"] == 1 and row[0]["first"] == row[0]["last"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", row[0]["first"])

    # only the denials: late.test, once per client
    r = run_audit(["summary", "--json", "--denied", learned.log])
    doc = json.loads(r.stdout)
    rows = [(c["client"], x["name"], x["verdict"]) for p in doc["policies"]
            for c in p["clients"] for x in c["rows"]]
    assert sorted(rows) == [("127.0.0.1", "late.test", "deny"), ("127.0.0.2", "late.test", "deny")]
    # one client, from stdin
    with open(learned.log) as f:
        r = run_audit(["summary", "--json", "--client", "127.0.0.2", "-"], stdin=f.read())
    doc = json.loads(r.stdout)
    assert [c["client"] for c in doc["policies"][0]["clients"]] == ["127.0.0.2"]
    # a window that ends before the run: nothing
    r = run_audit(["summary", "--json", "--until", "2000-01-01", learned.log])
    assert r.returncode == 0 and json.loads(r.stdout) == {"policies": []}


def test_suggest_passes_check_and_the_replay_passes(env, learned, gatehouse):
    r = run_audit(["suggest", learned.log])
    assert r.returncode == 0, r.stderr
    text = r.stdout
    lines = text.splitlines()
    # loopback upstreams: every name needed a special-purpose address, marked for review
    assert "allow api.test %d private  # 1 conn, 2 lookups; 127.0.0.1 127.0.0.2" % env.p_tls \
        in lines, text
    assert "# review: api.test needed a special-purpose address: %s:%d (loopback)" % (
        ADDR["api.test"], env.p_tls) in lines, text
    for n in CDN:       # siblings that needed `private` never fold
        assert any(l.startswith("allow %s %d private" % (n, env.p_tls)) for l in lines), text
    assert not any(l.startswith("allow *") for l in lines), text
    # the SMTP port, routed (SMTP names nothing): the allow line of its target routes
    # it (the port's only name), in the clients' own rules; no gateway-wide route line
    # (the replay below shows the line routes it)
    assert "# port %d: routed here while this is the port's only name" % env.p_smtp \
        in lines, text
    assert any(l.startswith("allow smtp.test %d private  # 1 conn, 2 lookups; " % env.p_smtp)
               for l in lines), text
    assert not any(l.startswith("route ") for l in lines), text
    # late.test was only looked up: allowed on the port most names were reached on
    assert "# review: late.test was looked up, no connection seen: port %d assumed" % \
        env.p_tls in lines, text
    assert any(l.startswith("allow late.test %d  #" % env.p_tls) for l in lines), text

    path = os.path.join(env.dir, "suggested.conf")
    with open(path, "w") as f:
        f.write(text)
    for binary in ("gatehouse-resolver", "gatehouse-forwarder"):
        c = check(binary, path)
        assert c.returncode == 0, "%s --check refused the suggestion:\n%s\n%s" % (
            binary, text, c.stderr)

    # the suggestion in force: the same workload passes, a name outside it does not
    rules = [l for l in lines if l and not l.startswith("#")]
    res, port, fwd = start_pair(env, gatehouse, rules, "replay")
    try:
        assert_passed(workload(env, port))
        assert ask(port, "outside.test", CLIENTS[0]) == 3
        assert tls_get(env, "outside.test").startswith("refused"), "outside.test passed"
        wait_for(lambda: len(conn_lines(fwd)) >= CONNS + 1, scaled(10), what="the conn lines")
    finally:
        stop_fwd(fwd)
    denied = [a for a in conn_lines(fwd) if a["verdict"] != "allow"]
    assert [(a.get("name"), a.get("reason")) for a in denied] == \
        [("outside.test", "not-allowed")], denied
    queries = [a for a in res.audit() if a.get("event") == "query"]
    assert [a["qname"] for a in queries if a["verdict"] != "allow"] == ["outside.test"]


def test_suggest_with_config_shows_the_diff(env, learned):
    extra = {"GATEHOUSE_ALLOW": "envonly.test:%d" % env.p_tls}
    r = run_audit(["suggest", "-c", learned.conf, learned.log], env=extra)
    assert r.returncode == 0, r.stderr
    text = r.stdout
    diff = text[text.index("# ---- against " + learned.conf):].splitlines()
    adds = [l for l in diff if l.startswith("# to add: ")]
    assert adds == ["# to add: allow late.test %d" % env.p_tls], text
    unused = [l for l in diff if l.startswith("# unused in the window: ")]
    conf_lines = open(learned.conf).read().splitlines()
    n = conf_lines.index("allow unused.test %d" % env.p_tls) + 1
    assert unused == [
        "# unused in the window: allow unused.test %d (%s:%d)" % (env.p_tls, learned.conf, n),
        "# unused in the window: allow envonly.test %d (GATEHOUSE_ALLOW)" % env.p_tls], text
    # still a configuration as it is
    path = os.path.join(env.dir, "suggested-diff.conf")
    with open(path, "w") as f:
        f.write(text)
    c = check("gatehouse-resolver", path)
    assert c.returncode == 0, c.stderr

    # a configuration that does not load: a usage error, nothing on stdout
    bad = os.path.join(env.dir, "bad.conf")
    with open(bad, "w") as f:
        f.write("allow\n")
    r = run_audit(["suggest", "-c", bad, learned.log])
    assert r.returncode == 2 and r.stdout == "", r
    assert r.stderr.startswith("gatehouse-audit: %s:1: " % bad), r.stderr


@pytest.mark.parametrize("args,message", [
    ([], "a command is needed: summary or suggest"),
    (["learn"], "'learn': unknown command (summary or suggest)"),
    (["summary", "--nope"], "--nope: unknown option"),
    (["summary", "-c", "x.conf"], "-c: not an option of this command"),
    (["suggest", "--json"], "--json: not an option of this command"),
    (["summary", "--since"], "--since: needs a value"),
    (["summary", "--since", "yesterday"], "--since 'yesterday': not a UTC time"),
    (["suggest", "--threshold", "1"], "--threshold '1': a number from 2 to 1000"),
    (["summary", "/nonexistent/audit.log"], "/nonexistent/audit.log: cannot open: "
                                            "No such file or directory"),
])
def test_usage_errors(args, message):
    r = run_audit(args, stdin="")
    assert r.returncode == 2, r
    assert r.stdout == "", r.stdout
    assert r.stderr.startswith("gatehouse-audit: " + message), r.stderr


def test_help_and_version():
    r = run_audit(["--help"])
    assert r.returncode == 0 and "summary" in r.stdout and "suggest" in r.stdout
    r = run_audit(["--version"])
    assert r.returncode == 0 and r.stdout.startswith("gatehouse-audit ")


# ---- policy sections and ** wildcards ---------------------------------------------------

def reader_accepts(env, text, tag):
    """None when gatehouse-resolver --check accepts text, else its error."""
    path = os.path.join(env.dir, tag + ".conf")
    with open(path, "w") as f:
        f.write(text)
    c = check("gatehouse-resolver", path)
    return None if c.returncode == 0 else c.stderr.strip()


def synthetic(policy, client, name, port, n=1):
    return ["{\"ts\":\"2026-12-04T10:00:0%dZ\",\"event\":\"conn\",\"client\":\"%s\",\"policy\":"
            "\"%s\",\"port\":%d,\"name\":\"%s\",\"verdict\":\"allow\",\"upstream\":"
            "\"93.184.216.34:%d\",\"mode\":\"report\",\"enforce\":\"deny\","
            "\"enforce_reason\":\"not-allowed\"}" % (i, client, policy, port, name, port)
            for i in range(n)]


def test_policy_sections_pass_check(env):
    log = synthetic("default", "10.0.0.1", "a.example", 443) + \
        synthetic("mail", "10.0.0.2", "smtp.example.com", 465) + \
        synthetic("mail", "10.0.0.3", "smtp.example.com", 587)
    r = run_audit(["suggest", "-"], stdin="\n".join(log) + "\n")
    assert r.returncode == 0, r.stderr
    assert "\npolicy mail 10.0.0.2 10.0.0.3\n" in r.stdout, r.stdout
    assert "\nallow smtp.example.com 465,587  # 2 conns; 10.0.0.2 10.0.0.3\n" in r.stdout
    assert reader_accepts(env, r.stdout, "suggested-policy") is None, r.stdout


def test_suggest_with_config_keeps_policy_specs_and_diffs_per_policy(env):
    """suggest -c on a configuration with policies: a policy the configuration has keeps
    its client specs (not the clients seen); one it lacks lists the clients seen; what
    to add and what went unused are per policy (a policy's rule allows nothing for
    another policy; the global rules allow for every one)."""
    conf = os.path.join(env.dir, "policies.conf")
    with open(conf, "w") as f:
        f.write("allow a.example 443\n"                        # 1
                "allow gone.example 443\n"                     # 2
                "policy mail 10.0.0.0/28 via 10.9.0.1\n"        # 3
                "allow smtp.example.com 465\n"                 # 4
                "allow old.example.com 443\n"                  # 5
                "deny bad.example.com\n")                      # 6
    log = synthetic("default", "10.0.0.1", "a.example", 443) + \
        synthetic("mail", "10.0.0.2", "smtp.example.com", 465) + \
        synthetic("mail", "10.0.0.3", "smtp.example.com", 587) + \
        synthetic("mail", "10.0.0.2", "a.example", 443) + \
        synthetic("web", "10.0.0.9", "smtp.example.com", 465)
    r = run_audit(["suggest", "-c", conf, "-"], stdin="\n".join(log) + "\n")
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert "\npolicy mail 10.0.0.0/28 via 10.9.0.1\n" in text, text
    assert "\npolicy web 10.0.0.9\n" in text, text
    diff = text[text.index("# ---- against " + conf):].splitlines()
    assert [l for l in diff if l.startswith("# to add: ")] == [
        "# to add: policy mail: allow smtp.example.com 465,587",
        "# to add: policy web: allow smtp.example.com 465"], text
    assert [l for l in diff if l.startswith("# unused in the window: ")] == [
        "# unused in the window: allow gone.example 443 (%s:2)" % conf,
        "# unused in the window: policy mail: allow old.example.com 443 (%s:5)" % conf,
        "# unused in the window: policy mail: deny bad.example.com (%s:6)" % conf], text
    assert reader_accepts(env, text, "suggested-policy-diff") is None, text

    # everything seen allowed, every rule used: nothing to add, nothing unused
    with open(conf, "w") as f:
        f.write("allow a.example 443\npolicy mail via 10.9.0.1\n"
                "allow smtp.example.com 465,587\npolicy web 10.0.0.9\n"
                "allow smtp.example.com 465\n")
    r = run_audit(["suggest", "-c", conf, "-"], stdin="\n".join(log) + "\n")
    assert r.returncode == 0, r.stderr
    assert "\npolicy mail via 10.9.0.1\n" in r.stdout, r.stdout
    assert "\n# to add: nothing (it allows everything seen)\n" in r.stdout, r.stdout
    assert "\n# unused in the window: none\n" in r.stdout, r.stdout


def test_any_depth_wildcards_pass_check(env):
    names = ["a.cdn.example.com", "b.x.cdn.example.com", "c.y.cdn.example.com",
             "d.cdn.example.com", "e.z.cdn.example.com"]
    log = sum((synthetic("default", "10.0.0.1", n, 443) for n in names), [])
    r = run_audit(["suggest", "-"], stdin="\n".join(log) + "\n")
    assert "\nallow **.cdn.example.com 443  # 5 names, 5 conns; 10.0.0.1\n" in r.stdout, r.stdout
    assert reader_accepts(env, r.stdout, "suggested-any-depth") is None, r.stdout


def test_one_label_wildcards_pass_check(env):
    """`*.parent` from five public siblings, seen as report mode's would-be denials."""
    log = sum((synthetic("default", "10.0.0.1", "n%d.cdn.example.com" % i, 443)
               for i in range(5)), [])
    r = run_audit(["suggest", "-"], stdin="\n".join(log) + "\n")
    assert "\nallow *.cdn.example.com 443  # 5 names, 5 conns; 10.0.0.1\n" in r.stdout, r.stdout
    assert reader_accepts(env, r.stdout, "suggested-one-label") is None, r.stdout


@pytest.mark.parametrize("cmd", ["summary", "suggest"])
def test_a_failed_write_is_status_1(cmd):
    line = synthetic("default", "10.0.0.1", "a.example", 443)[0] + "\n"
    with open("/dev/full", "w") as full:
        r = subprocess.run([AUDIT_BIN, cmd], input=line, stdout=full, stderr=subprocess.PIPE,
                           text=True, timeout=scaled(30))
    assert r.returncode == 1, r
    assert r.stderr == "gatehouse-audit: writing the %s: No space left on device\n" % (
        "summary" if cmd == "summary" else "suggestion"), r.stderr


def test_report_mode_and_recent_lines(env):
    """The fields issue 13 adds, as the daemons will write them: report mode's would-be
    denials in the summary; a no-name port with the lookups before it becomes an allow
    line for the name looked up (the port's only name: it routes the port) that passes
    --check."""
    log = synthetic("default", "10.0.0.1", "new.example.com", 443, n=2)
    log += ['{"ts":"2026-12-04T10:00:05Z","event":"conn","client":"10.0.0.1","port":%d,'
            '"verdict":"deny","reason":"no-name","recent":["mx.example.net","new.example.com"]}'
            % p for p in (2525, 2525)]
    text = "\n".join(log) + "\n"
    r = run_audit(["summary"], stdin=text)
    assert r.returncode == 0, r.stderr
    rows = [l.split() for l in r.stdout.splitlines()[1:]]
    # two rows of 2: by name then, a no-name row ("-") first
    assert [r[:-2] for r in rows] == [
        ["default", "10.0.0.1", "conn", "-", "2525", "deny", "no-name", "2"],
        ["default", "10.0.0.1", "conn", "new.example.com", "443", "allow", "would-deny",
         "not-allowed", "2"]], rows
    r = run_audit(["summary", "--json", "--denied"], stdin=text)
    rows = json.loads(r.stdout)["policies"][0]["clients"][0]["rows"]
    assert rows[1] == {"event": "conn", "name": "new.example.com", "port": 443,
                       "verdict": "allow", "enforce_reason": "not-allowed", "enforce": "deny",
                       "count": 2, "first": "2026-12-04T10:00:00Z",
                       "last": "2026-12-04T10:00:01Z"}, rows
    r = run_audit(["suggest"], stdin=text)
    assert r.returncode == 0, r.stderr
    assert "\n# port 2525: routed here while this is the port's only name\n" \
        "allow mx.example.net 2525  # 2 conns; 10.0.0.1\n" \
        in r.stdout, r.stdout
    assert "\nroute " not in r.stdout, r.stdout
    assert "\nallow new.example.com 443  # 2 conns; 10.0.0.1\n" in r.stdout, r.stdout
    assert reader_accepts(env, r.stdout, "suggested-route") is None, r.stdout


def routed(policy, client, port, target, i=0):
    """A conn line of a client that named nothing on a routed port (what the forwarder
    writes for a route and for an implicit route alike)."""
    return ("{\"ts\":\"2026-12-04T10:01:0%dZ\",\"event\":\"conn\",\"client\":\"%s\","
            "\"policy\":\"%s\",\"port\":%d,\"name\":\"%s\",\"via\":\"route\",\"route\":"
            "\"%s\",\"verdict\":\"allow\",\"upstream\":\"93.184.216.34:%s\"}"
            % (i, client, policy, port, target.split(":")[0], target, target.split(":")[1]))


def test_a_no_name_port_is_allowed_in_its_policy_not_routed_for_all(env):
    """A port reached with no name (SMTP, no SNI) takes its target's allow line in the
    policy of the clients that needed it: with the port's only name, that line routes it
    for that policy alone. A `route` line would let every client reach the target, so it
    is proposed only where no allow line can route: a target on another port, a port
    with other names too (marked for review, with a second route on one port left as a
    comment), or a route the configuration has."""
    log = [routed("mail", "10.0.0.2", 465, "smtp.example.com:465"),
           routed("mail", "10.0.0.2", 2525, "mx.example.com:25"),
           routed("ci", "10.0.0.3", 5432, "db.example.com:5432"),
           routed("ci", "10.0.0.5", 6000, "a.example.com:6000"),
           routed("web", "10.0.0.6", 6000, "b.example.com:6000")] + \
        synthetic("web", "10.0.0.4", "other.example.com", 5432)
    text = "\n".join(log) + "\n"
    r = run_audit(["suggest", "-"], stdin=text)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    mail = out[out.index("\npolicy mail "):out.index("\n# ---- policy ci")]
    assert mail.splitlines()[2:] == [
        "# port 465: routed here while this is the port's only name",
        "allow smtp.example.com 465  # 1 conn; 10.0.0.2"], out
    assert "\nroute 465 " not in out, out
    # another target port: only a route does it
    assert "\nroute 2525 mx.example.com:25  # 1 conn, routed; policy mail: 10.0.0.2\n" in out
    # a port with two names: a route, marked: it refuses the other name, and is for all
    assert "\n# review: port 5432 also carries other.example.com, which route 5432 refuses; " \
        "the route is also gateway-wide: every client may reach db.example.com, not only " \
        "policy ci's; better one name per port\nroute 5432 db.example.com:5432  # 1 conn, " \
        "routed; policy ci: 10.0.0.3\n" in out, out
    assert "\nallow other.example.com 5432  # 1 conn; 10.0.0.4\n" in out, out
    # two targets for one port: one route, the other a comment
    assert "\nroute 6000 a.example.com:6000  # 1 conn, routed; policy ci: 10.0.0.5\n" in out
    assert "\n# review: port 6000 also needed b.example.com:6000 (1 conn; policy web: " \
        "10.0.0.6), and a port has one route: give one of them another port\n" in out, out
    assert reader_accepts(env, out, "suggested-no-name") is None, out
    c = check("gatehouse-forwarder", os.path.join(env.dir, "suggested-no-name.conf"))
    assert c.returncode == 0, c.stderr
    assert "# port 465: routed to smtp.example.com on the same port (the only name " \
        "allowed there, " in c.stdout, c.stdout

    # a route the configuration has stays a route (the operator's line), added to nothing
    conf = os.path.join(env.dir, "routed.conf")
    with open(conf, "w") as f:
        f.write("route 465 smtp.example.com:465\n")
    r = run_audit(["suggest", "-c", conf, "-"], stdin=log[0] + "\n")
    assert r.returncode == 0, r.stderr
    assert "\nroute 465 smtp.example.com:465  # 1 conn, routed; policy mail: 10.0.0.2\n" \
        in r.stdout, r.stdout
    assert "\n# to add: nothing (it allows everything seen)\n" in r.stdout, r.stdout
    assert "\nallow smtp.example.com" not in r.stdout, r.stdout


def test_pool_addresses_give_every_connection_its_name(env):
    """`answer pool`: a connection names its host by the address it dialled ("via":
    "address"), whatever the protocol, so two hosts on one port without SNI become two
    allow lines of the client's policy: no route, nothing left without a name."""
    log = ["{\"ts\":\"2026-12-04T10:02:0%dZ\",\"event\":\"conn\",\"client\":\"10.0.0.7\","
           "\"policy\":\"ci\",\"port\":22,\"name\":\"%s\",\"via\":\"address\",\"verdict\":"
           "\"allow\",\"upstream\":\"93.184.216.%d:22\",\"mode\":\"report\",\"enforce\":"
           "\"deny\",\"enforce_reason\":\"not-allowed\"}" % (i, n, 30 + i)
           for i, n in enumerate(("github.com", "gitlab.com", "github.com"))]
    r = run_audit(["suggest", "-"], stdin="\n".join(log) + "\n")
    assert r.returncode == 0, r.stderr
    assert "\npolicy ci 10.0.0.7\nallow github.com 22  # 2 conns; 10.0.0.7\n" \
        "allow gitlab.com 22  # 1 conn; 10.0.0.7\n" in r.stdout, r.stdout
    assert "route " not in r.stdout and "no name" not in r.stdout, r.stdout
    assert reader_accepts(env, r.stdout, "suggested-pool") is None, r.stdout


def test_an_overlong_line_is_skipped_not_held_in_memory():
    """A line longer than any a daemon writes (here 1 MiB without a newline in the middle
    of the input) is skipped as malformed and reading goes on with the next line."""
    good = ('{"ts":"2026-12-04T00:00:00Z","daemon":"resolver","event":"query",'
            '"client":"10.0.0.1","qname":"a.example","qtype":"A","verdict":"allow"}\n')
    r = run_audit(["summary", "--json"], stdin=good + "x" * (1 << 20) + "\n" + good)
    assert r.returncode == 0, r.stderr
    assert "skipped 1 of 3 lines" in r.stderr
    assert '"count":2' in r.stdout.replace(" ", ""), r.stdout
