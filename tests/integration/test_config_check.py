"""Fail closed on configuration mistakes (issue 11, item 5), through the real binaries:
unknown and lower-case GATEHOUSE_ variables exit 2; `--check` is a complete pre-flight
(what makes a start fail makes --check fail too, with FILE:LINE and exit 2, in both
binaries); --check and the start-up line say which ports are routed.

Run: /usr/bin/python3 -m pytest -q tests/integration/test_config_check.py
(the daemons from $GATEHOUSE_BUILD, default build/)
"""

import os
import re
import shutil
import subprocess

import pytest

from conftest import tcp_ready
from gh_testlib import daemon_env, scaled
from peers import free_port

RESOLVER = "gatehouse-resolver"
FORWARDER = "gatehouse-forwarder"
BOTH = [RESOLVER, FORWARDER]


def conf_with(gatehouse, text, name="g.conf"):
    """A config file in the test's directory; a `user` line unless text has one."""
    if not re.search(r"^user ", text, re.M):
        text += "\nuser %s\n" % gatehouse.user()
    return gatehouse.write(name, text)


def ok_conf(gatehouse):
    """A valid configuration on free ports (nothing here is ever bound by --check)."""
    return conf_with(gatehouse, "allow a.example 443\ndns-listen 127.0.0.1:%d\n"
                     "forward-listen 127.0.0.1\n" % free_port())


# ---- variables ---------------------------------------------------------------------------

@pytest.mark.parametrize("binary", BOTH)
@pytest.mark.parametrize("var,value,message", [
    ("GATEHOUSE_FORWARD_LISTN", "127.0.0.1",
     "GATEHOUSE_FORWARD_LISTN: not a gatehouse setting; did you mean GATEHOUSE_FORWARD_LISTEN?"),
    ("GATEHOUSE_ALOW", "a.example:443",
     "GATEHOUSE_ALOW: not a gatehouse setting; did you mean GATEHOUSE_ALLOW?"),
    ("GATEHOUSE_FOO", "1", "GATEHOUSE_FOO: not a gatehouse setting (the variables are"),
    ("gatehouse_allow", "a.example:443",
     "gatehouse_allow: gatehouse variables are upper case: write GATEHOUSE_ALLOW"),
    ("Gatehouse_Allow", "a.example:443",
     "Gatehouse_Allow: gatehouse variables are upper case: write GATEHOUSE_ALLOW"),
])
def test_unknown_variable_exits_2(gatehouse, binary, var, value, message):
    """Before: a warning, and --check said "configuration ok" (GATEHOUSE_ALOW gave a
    gateway that denies everything). Now: exit 2 at --check and at start, naming it."""
    conf = ok_conf(gatehouse)
    for args in (["--check"], []):
        r = gatehouse.run(binary, ["-c", conf] + args, env={var: value})
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert message in r.stderr, r.stderr
        assert "configuration ok" not in r.stderr


def test_unknown_variable_leaves_nothing_listening(gatehouse):
    """The issue's case: GATEHOUSE_FORWARD_LISTN left the forwarder listening on every
    address. Now it does not start at all."""
    port = free_port()
    conf = conf_with(gatehouse, "allow a.example %d\ndns-listen 127.0.0.1:%d\n"
                     % (port, free_port()))
    r = gatehouse.run(FORWARDER, ["-c", conf], env={"GATEHOUSE_FORWARD_LISTN": "127.0.0.1"})
    assert r.returncode == 2, r.stderr
    assert "GATEHOUSE_FORWARD_LISTEN" in r.stderr


# ---- --check is the pre-flight a start runs -----------------------------------------------

def _cases():
    """(id, config text with {dns} for a free dns-listen port and {dir} for the test's
    directory, the line blamed, a part of the message)."""
    return [
        ("audit-dir-missing", "allow a.example 443\ndns-listen 127.0.0.1:{dns}\n"
         "audit {dir}/missing/a.log\n", 3, "the directory {dir}/missing does not exist"),
        ("audit-is-dir", "allow a.example 443\ndns-listen 127.0.0.1:{dns}\naudit {dir}\n", 3,
         "is a directory"),
        ("unknown-user", "allow a.example 443\ndns-listen 127.0.0.1:{dns}\n"
         "user no-such-user-gatehouse\n", 3, "user 'no-such-user-gatehouse': no such user"),
        ("upstream-loop", "allow a.example 443\ndns-listen 127.0.0.1:{dns}\n"
         "upstream 127.0.0.1:{dns}\n", 3, "is this gateway's own resolver"),
        ("too-many-ports", "dns-listen 127.0.0.1:{dns}\nallow a.example 443\n"
         "allow x.example 1-65535\n", 3,
         "allow x.example 1-65535: with this rule the allowlist names more than 1024 ports"),
        ("metrics-top-port", "allow a.example 443\ndns-listen 127.0.0.1:{dns}\n"
         "metrics 127.0.0.1:65535\n", 3, "one port up (PORT+1)"),
        ("port-clash", "dns-listen 127.0.0.1:{dns}\nforward-listen 127.0.0.1\n"
         "allow a.example {dns}\n", 3, "where the resolver listens"),
        ("allow-private-conflict", "dns-listen 127.0.0.1:{dns}\nallow a.example 443 private\n"
         "allow a.example 443\n", 3, "write 'private' on both or on neither"),
    ]


@pytest.mark.parametrize("binary", BOTH)
@pytest.mark.parametrize("case", _cases(), ids=[c[0] for c in _cases()])
def test_check_fails_where_start_fails(gatehouse, binary, case):
    """Each of these exited at start (or misbehaved after it) while --check passed. Now
    --check and a start both exit 2 with FILE:LINE, in both binaries."""
    _, text, line, part = case
    text = text.format(dns=free_port(), dir=gatehouse.workdir)
    part = part.format(dir=gatehouse.workdir)
    conf = conf_with(gatehouse, text)
    for args in (["--check"], []):
        r = gatehouse.run(binary, ["-c", conf] + args)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert "%s:%d: " % (conf, line) in r.stderr, (args, r.stderr)
        assert part in r.stderr, (args, r.stderr)


def _unshare_works():
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="needs root and unshare --mount")
@pytest.mark.parametrize("binary", BOTH)
def test_upstream_system_loop_reads_resolv_conf(gatehouse, binary):
    """`upstream system` (the default): the servers are read as c-ares reads them, from
    /etc/resolv.conf (here a file bind-mounted over it in a private mount namespace)."""
    conf = conf_with(gatehouse, "allow a.example 443\ndns-listen 0.0.0.0:53\n")

    def check(resolv):
        rc_path = gatehouse.write("resolv.conf", resolv)
        return subprocess.run(
            ["unshare", "--mount", "sh", "-c",
             'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"', "sh", rc_path,
             gatehouse.binary(binary), "-c", conf, "--check"],
            env=daemon_env(), capture_output=True, text=True, timeout=scaled(10))

    r = check("search corp.test\nnameserver 127.0.0.1\n")
    assert r.returncode == 2, r.stderr
    assert ("upstream (the default): the system resolver 127.0.0.1:53 (/etc/resolv.conf) "
            "is this gateway's own resolver (dns-listen 0.0.0.0:53, %s:2)" % conf) in r.stderr
    r = check("nameserver 192.0.2.53\n")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("binary", BOTH)
def test_check_warns_like_a_start(gatehouse, binary):
    """An empty allowlist and a rule written twice are warnings at --check as at start."""
    r = gatehouse.run(binary, ["-c", conf_with(gatehouse, "dns-listen 127.0.0.1:%d\n"
                                               % free_port()), "--check"])
    assert r.returncode == 0, r.stderr
    assert "the allowlist is empty" in r.stderr
    conf = conf_with(gatehouse, "allow a.example 443\ndns-listen 127.0.0.1:%d\n"
                     "allow a.example 443\n" % free_port(), name="twice.conf")
    r = gatehouse.run(binary, ["-c", conf, "--check"])
    assert r.returncode == 0, r.stderr
    assert ("%s:3: allow a.example: port 443 is already allowed by %s:1 (the same rule "
            "written twice?)" % (conf, conf)) in r.stderr


@pytest.mark.parametrize("binary", BOTH)
def test_check_and_start_warn_of_a_private_suffix_wildcard(gatehouse, binary):
    """A wildcard over a private-section public suffix (libpsl) is a warning at --check and
    at start; one over an ICANN suffix is refused with its place; deny lines are printed
    as written."""
    text = ("allow api.example 443\nallow *.github.io 443\ndeny vault.example\n"
            "deny *.tmp.example 443\ndns-listen 127.0.0.1:%d\nforward-listen 127.0.0.1\n"
            % free_port())
    conf = conf_with(gatehouse, text)
    warning = ("%s:2: allow *.github.io: github.io is a public suffix (private section of "
               "the Public Suffix List): anyone can create names below it, and this wildcard "
               "covers them all" % conf)
    r = gatehouse.run(binary, ["-c", conf, "--check"])
    assert r.returncode == 0, r.stderr
    assert warning in r.stderr, r.stderr
    assert re.search(r"^deny vault\.example\t# %s:3$" % re.escape(conf), r.stdout, re.M)
    assert re.search(r"^deny \*\.tmp\.example 443\t# %s:4$" % re.escape(conf), r.stdout,
                     re.M)
    d = gatehouse.start(binary, text)
    d.wait_stderr("allow *.github.io: github.io is a public suffix")
    bad = conf_with(gatehouse, "allow **.co.uk 443\n", name="bad.conf")
    r = gatehouse.run(binary, ["-c", bad, "--check"])
    assert r.returncode == 2
    assert ("%s:1: allow '**.co.uk' is too broad: it covers a whole public suffix" % bad
            in r.stderr), r.stderr


# ---- routed ports --------------------------------------------------------------------------

def test_check_and_start_line_say_which_ports_are_routed(gatehouse):
    p_smtps, p_sub, p_https, p_wild = (free_port() for _ in range(4))
    conf_text = ("allow smtp.example %d,%d private\nroute %d smtp.example:587\n"
                 "allow api.example %d\nallow other.example %d\nallow **.cdn.example %d\n"
                 "dns-listen 127.0.0.1:%d\nforward-listen 127.0.0.1\n"
                 % (p_smtps, p_sub, p_sub, p_https, p_https, p_wild, free_port()))
    conf = conf_with(gatehouse, conf_text)
    r = gatehouse.run(FORWARDER, ["-c", conf, "--check"])
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert ("# port %d: routed to smtp.example on the same port (the only name allowed "
            "there, %s:1)" % (p_smtps, conf)) in out, out
    assert "# port %d: routed to smtp.example:587 (the route at %s:2)" % (p_sub, conf) in out
    assert "# port %d: the name from the client's TLS SNI or HTTP Host" % p_https in out
    assert "# port %d: the name from the client's TLS SNI or HTTP Host" % p_wild in out
    # the route takes 'private' from the allow rule of its name (the README's example)
    assert re.search(r"^route %d smtp\.example:587\t# %s:2; private from the allow rule at "
                     r"%s:1$" % (p_sub, re.escape(conf), re.escape(conf)), out, re.M), out
    assert "routed: " in r.stderr and "%d -> smtp.example" % p_smtps in r.stderr
    # the same in the start-up line
    d = gatehouse.start(FORWARDER, conf_text, ready=tcp_ready("127.0.0.1", p_https))
    line = [l for l in d.stderr().splitlines() if "listening sockets" in l]
    assert line, d.stderr()
    assert ("%d -> smtp.example" % p_smtps) in line[0], line
    assert ("%d -> smtp.example:587" % p_sub) in line[0], line
    assert ("%d ->" % p_https) not in line[0], line
