"""The report -> suggest -> enforce round trip of issue 13, on the session topology
(topology.py), with real clients in two network namespaces (test_policies' client2):

  1. both daemons in report mode (a SIGHUP reload), two policies: `web` (the usual client,
     10.77.0.2) and `mail` (the second namespace, 10.79.0.2), each with a few rules the
     operator knew, and a gateway-wide route for SMTP's STARTTLS port 587 (server-first;
     SMTPS on 465 is routed implicitly, as the port's only name);
     a mixed workload from both clients: verified TLS with curl on 443 and SMTPS on 465,
     plain HTTP on 80, SMTP STARTTLS on the routed 587, several names; some of it allowed,
     some only because of report mode (the audit says `"enforce":"deny"`);
  2. `gatehouse-audit suggest -c` (the report configuration: the policies keep their client
     specs) on the two audit files; its output must pass --check as it is;
  3. the gateway's settings plus the suggestion, as it is, loaded in enforce mode (SIGHUP),
     the same workload replayed: zero denials in both audits; a name outside the workload
     refused, in DNS (NXDOMAIN) and by the forwarder (a Host header naming it); mail's
     SMTPS port refused to web's client (the suggested allow line is mail's, no route).
The configuration in force before is restored at the end, also when the test fails.
"""

import os
import subprocess

import dns.rcode

from gh_testlib import BUILD, daemon_env, scaled, scaled_arg, wait_for
import topology as T
from test_policies import ask, client2, curl, reload_with   # noqa: F401 (client2: fixture)

AUDIT_BIN = os.path.join(BUILD, "gatehouse-audit")
OUTSIDE = "blocked.example.test"        # exists upstream; never in the workload

# What the operator knew before learning: a few rules per policy (one the workload never
# uses), the SMTP route. (Two names on 80 and a wildcard on 443: a port with one exact
# name would be routed to it, and a route refuses another name even in report mode.)
REPORT_RULES = ("mode report\n"
                "route 587 smtp.mail.test:587\n"
                "policy web %s\n"
                "allow **.cdn.example.test 443\n"
                "allow www.example.test 80\n"
                "policy mail %s\n"
                "allow smtp.mail.test 465\n"
                "allow one.example.test 80\n" % (T.CLIENT4, T.CLIENT2_4))


def settings_of(text):
    """The configuration's settings: every line but the rules (allow, deny, route)."""
    return "".join(l + "\n" for l in text.splitlines()
                   if (l.split() or [""])[0] not in ("allow", "deny", "route"))


def send_mail(topo, ns, url, tag):
    path = topo.path("learning-%s.eml" % tag)
    with open(path, "w") as f:
        f.write("From: a@client.test\r\nTo: ops@mail.test\r\nSubject: learning-%s\r\n\r\n"
                "hello\r\n" % tag)
    r = topo.run(ns, ["curl", "-sS", "-4", "--max-time", scaled_arg(15), "--ssl-reqd",
                      "--cacert", topo.ca_path, url, "--mail-from", "a@client.test",
                      "--mail-rcpt", "ops@mail.test", "-T", path])
    assert r.returncode == 0, (url, r.stderr)
    wait_for(lambda: [m for m in topo.mails() if "Subject: learning-%s" % tag in m["data"]],
             what="the mail %s to arrive" % tag)


def https(topo, ns, name):
    r = topo.run(ns, ["curl", "-sS", "-4", "--max-time", scaled_arg(10), "--cacert",
                      topo.ca_path, "-o", "-", "-w", "\\n%{http_code}", "https://%s/" % name])
    assert r.returncode == 0, (name, r.stderr)
    return r.stdout.rpartition("\n")[2]


def workload(topo, ns2, run):
    """The mixed workload from both clients: (client, port, name) of every connection."""
    web, mail = topo.client_ns, ns2
    assert https(topo, web, "api.example.test") == "200"
    assert https(topo, web, "assets.cdn.example.test") == "200"
    assert curl(topo, web, "http://www.example.test/learn")[0] == "200"
    send_mail(topo, mail, "smtps://smtp.mail.test:465", "%s-465" % run)
    send_mail(topo, mail, "smtp://smtp.mail.test:587", "%s-587" % run)
    assert https(topo, mail, "api.example.test") == "200"
    assert curl(topo, mail, "http://two.example.test/learn")[0] == "200"
    return [(T.CLIENT4, 443, "api.example.test"), (T.CLIENT4, 443, "assets.cdn.example.test"),
            (T.CLIENT4, 80, "www.example.test"), (T.CLIENT2_4, 465, "smtp.mail.test"),
            (T.CLIENT2_4, 587, "smtp.mail.test"), (T.CLIENT2_4, 443, "api.example.test"),
            (T.CLIENT2_4, 80, "two.example.test")]


def conns_since(topo, mark, want):
    """The forwarder's conn lines after mark, once one is there for each of want."""
    def seen():
        lines = [e for e in topo.audit("gatehouse-forwarder")[mark["gatehouse-forwarder"]:]
                 if e.get("event") == "conn"]
        have = {(e.get("client"), e.get("port"), e.get("name")) for e in lines}
        return lines if set(want) <= have else None
    return wait_for(seen, what="a conn line for each of %s" % (want,))


def queries_since(topo, mark):
    return [e for e in topo.audit("gatehouse-resolver")[mark["gatehouse-resolver"]:]
            if e.get("event") == "query"]


def window_files(topo, start, end):
    """The audit lines each daemon wrote between two marks, copied to a file of their
    own (the session's audit files hold every other test's lines too); their paths."""
    out = []
    for d in T.DAEMONS:
        with open(topo.audit_path(d)) as f:
            lines = f.read().splitlines(True)[start[d]:end[d]]
        path = topo.path("learning-%s.jsonl" % d)
        with open(path, "w") as f:
            f.writelines(lines)
        out.append(path)
    return out


def check(path):
    return subprocess.run([os.path.join(BUILD, "gatehouse-resolver"), "--check", "-c", path],
                          capture_output=True, text=True, timeout=scaled(10),
                          env=daemon_env({}))


def test_report_suggest_enforce_round_trip(topo, client2):
    orig = open(topo.config_path).read()
    settings = settings_of(orig)
    report_conf = settings + REPORT_RULES
    # the names the run may look up upstream (test_whole_run's leak check)
    topo.allow += "".join("allow %s %d\n" % (n, p) for n, p in (
        ("api.example.test", 443), ("assets.cdn.example.test", 443), ("www.example.test", 80),
        ("smtp.mail.test", 465), ("two.example.test", 80)))
    try:
        # 1. report mode: the workload passes, the audit says what enforce would deny
        reload_with(topo, report_conf)
        mark = topo.mark()
        want = workload(topo, client2, "report")
        conns = conns_since(topo, mark, want)
        assert not [e for e in conns if e["verdict"] != "allow"], conns
        would = {(e["client"], e["port"], e["name"]) for e in conns
                 if e.get("enforce") == "deny"}
        assert would == {(T.CLIENT4, 443, "api.example.test"),
                         (T.CLIENT2_4, 443, "api.example.test"),
                         (T.CLIENT2_4, 80, "two.example.test")}, conns
        assert {e["policy"] for e in conns} == {"web", "mail"}, conns
        assert all(e.get("mode") == "report" for e in conns), conns
        qs = queries_since(topo, mark)
        assert qs and not [e for e in qs if e["verdict"] != "allow"], qs

        # 2. suggest from the two audit files, against the report configuration
        conf_path = topo.path("learning-report.conf")
        with open(conf_path, "w") as f:
            f.write(report_conf)
        files = window_files(topo, mark, topo.mark())
        r = subprocess.run([AUDIT_BIN, "suggest", "-c", conf_path] + files,
                           capture_output=True, text=True, timeout=scaled(30),
                           env=daemon_env({}))
        assert r.returncode == 0, r.stderr
        suggestion = r.stdout
        lines = suggestion.splitlines()
        assert "policy web %s" % T.CLIENT4 in lines, suggestion
        assert "policy mail %s" % T.CLIENT2_4 in lines, suggestion
        # 587's route is the configuration's own (a route line); 465 reached no name
        # either (SMTPS is implicitly routed: the port's only name), and its allow line in
        # policy mail routes it for mail's clients alone: no gateway-wide `route 465`
        assert any(l.startswith("route 587 smtp.mail.test:587  #") for l in lines), suggestion
        assert not any(l.startswith("route 465 ") for l in lines), suggestion
        mail = lines[lines.index("policy mail %s" % T.CLIENT2_4):]
        assert any(l.startswith("allow smtp.mail.test 465  #") for l in mail), suggestion
        assert [l for l in lines if l.startswith("# to add: ")] == [
            "# to add: policy web: allow api.example.test 443",
            "# to add: policy mail: allow api.example.test 443",
            "# to add: policy mail: allow two.example.test 80"], suggestion
        assert [l.split(" (")[0] for l in lines if l.startswith("# unused in the window: ")] \
            == ["# unused in the window: policy mail: allow one.example.test 80"], suggestion
        enforce_conf = settings + suggestion
        path = topo.path("learning-enforce.conf")
        with open(path, "w") as f:
            f.write(enforce_conf)
        c = check(path)
        assert c.returncode == 0, "--check refused the suggestion:\n%s\n%s" % (
            suggestion, c.stderr)

        # 3. enforce mode on the suggestion: the same workload, zero denials
        reload_with(topo, enforce_conf)
        mark = topo.mark()
        want = workload(topo, client2, "enforce")
        conns = conns_since(topo, mark, want)
        assert not [e for e in conns if e["verdict"] != "allow"], conns
        assert not [e for e in conns if "mode" in e], conns
        qs = queries_since(topo, mark)
        assert qs and not [e for e in qs if e["verdict"] != "allow"], qs
        # a name outside the workload: refused by the resolver and by the forwarder
        assert ask(topo, topo.client_ns, T.CLIENT4, OUTSIDE).rcode() == dns.rcode.NXDOMAIN
        assert ask(topo, client2, T.CLIENT2_4, OUTSIDE).rcode() == dns.rcode.NXDOMAIN
        code, _ = curl(topo, topo.client_ns, "http://%s/outside" % T.GW_IN4, host=OUTSIDE)
        assert code == "403"
        topo.expect_query(OUTSIDE, "deny", (T.CLIENT4, T.CLIENT2_4))
        topo.expect_conn(80, "deny", OUTSIDE, (T.CLIENT4,), reason="not-allowed")
        assert not [w for w in topo.web_requests() if w.get("path") == "/outside"]
        # mail's SMTPS port is routed for mail's clients only: web's client is refused at
        # the port (a `route 465` would have let it through). (The name resolves for it:
        # the operator's `route 587` is gateway-wide.)
        mark = topo.mark()
        r = topo.run(topo.client_ns, [
            "curl", "-sS", "-4", "--max-time", scaled_arg(10), "--cacert", topo.ca_path,
            "--resolve", "smtp.mail.test:465:%s" % T.GW_IN4, "smtps://smtp.mail.test:465/"])
        assert r.returncode != 0, r.stdout
        refused = conns_since(topo, mark, [(T.CLIENT4, 465, "smtp.mail.test")])
        assert [(e["verdict"], e.get("reason"), e.get("policy")) for e in refused
                if e["client"] == T.CLIENT4] == [("deny", "not-allowed", "web")], refused
        topo.expect_conn(465, "deny", "smtp.mail.test", (T.CLIENT4,), reason="not-allowed")
    finally:
        reload_with(topo, orig)
