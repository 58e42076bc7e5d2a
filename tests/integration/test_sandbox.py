"""The seccomp sandbox (common/sandbox.c): each daemon runs under its filter once started
(`Seccomp: 2` in /proc/PID/status), `sandbox off` leaves it out, and a forbidden system
call stops the daemon with status 159 and one stderr line naming the call.

Forbidden calls are tried by the test-only daemons in BUILD/testhooks/ (built with
-DGATEHOUSE_TEST_HOOKS by `make check`): SIGUSR2 makes them attempt the call named by
GH_TEST_FORBIDDEN. Every other test file runs the normal daemons, whose filter is on by
default, so the whole suite shows that serving, reloads, rotation and metrics keep working
under it.

Run: /usr/bin/python3 -m pytest -q tests/integration/test_sandbox.py
(the daemons from $GATEHOUSE_BUILD, default build/)
"""

import os
import signal
import socket
import urllib.request

import dns.message
import dns.query
import pytest

from conftest import BUILD, dns_ready, tcp_ready
from gh_testlib import daemon_env, scaled, wait_for
from peers import free_metrics_port, free_port

RESOLVER = "gatehouse-resolver"
FORWARDER = "gatehouse-forwarder"
SANDBOX_EXIT = 159              # SANDBOX_EXIT_STATUS in common/sandbox.h
T = 3.0
HOOK_MARK = b"GH_TEST_FORBIDDEN"


def seccomp_mode(d):
    """The Seccomp: field of the daemon's /proc/PID/status (0 none, 2 filter). The
    forwarder accepts connections before it enters the sandbox (the kernel completes
    them on its listening sockets): use sandboxed() to wait for the filter."""
    with open(f"/proc/{d.pid}/status") as f:
        for line in f:
            if line.startswith("Seccomp:"):
                return int(line.split()[1])
    raise AssertionError("no Seccomp line in /proc/PID/status")


def sandboxed(d):
    """Wait until the daemon runs under its filter (the last step of its start-up)."""
    wait_for(lambda: d.assert_running() or seccomp_mode(d) == 2, timeout=T, what="Seccomp: 2")


def start_resolver(gh, binary=RESOLVER, extra="", **kw):
    port = free_port(addrs=("127.0.0.1",))
    d = gh.start(binary, f"allow a.example 443\ndns-listen 127.0.0.1:{port}\n{extra}",
                 ready=dns_ready("127.0.0.1", port), **kw)
    d.port = port
    return d


def start_forwarder(gh, binary=FORWARDER, extra="", **kw):
    port, dead = free_port(addrs=("127.0.0.1",)), free_port(addrs=("127.0.0.1",))
    # two rules on the port, so that it peeks for the name (one exact name would route)
    d = gh.start(binary, f"allow a.example {port}\nallow **.a.example {port}\n"
                 f"forward-listen 127.0.0.1\n"
                 f"upstream 127.0.0.1:{dead}\n{extra}", ready=tcp_ready("127.0.0.1", port),
                 **kw)
    d.port = port
    return d


def query(d, name="a.example"):
    q = dns.message.make_query(name, "A")
    return dns.query.udp(q, "127.0.0.1", port=d.port, timeout=T, ignore_unexpected=True)


def scrape(port, path="/metrics"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=T) as r:
        return r.read().decode()


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


# ---- the filter is on, and off when asked

@pytest.mark.parametrize("daemon", ["resolver", "forwarder"])
def test_filter_installed_by_default(gatehouse, daemon):
    d = (start_resolver if daemon == "resolver" else start_forwarder)(gatehouse)
    sandboxed(d)
    assert "sandbox off" not in d.stderr()


@pytest.mark.parametrize("daemon", ["resolver", "forwarder"])
@pytest.mark.parametrize("how", ["file", "env"])
def test_sandbox_off(gatehouse, daemon, how):
    starter = start_resolver if daemon == "resolver" else start_forwarder
    if how == "file":
        d = starter(gatehouse, extra="sandbox off\n")
    else:
        d = starter(gatehouse, env={"GATEHOUSE_SANDBOX": "off"})
    d.wait_stderr("sandbox off: no seccomp filter (for debugging only)")   # start-up done
    assert seccomp_mode(d) == 0


@pytest.mark.parametrize("binary", [RESOLVER, FORWARDER])
def test_check_prints_the_setting(gatehouse, binary):
    conf = gatehouse.write("c.conf", "allow a.example 443\n")
    r = gatehouse.run(binary, ["-c", conf, "--check"])
    assert r.returncode == 0, r.stderr
    assert "sandbox on" in r.stdout.splitlines()
    r = gatehouse.run(binary, ["-c", conf, "--check"], env={"GATEHOUSE_SANDBOX": "maybe"})
    assert r.returncode == 2
    assert "'sandbox maybe': expected on or off" in r.stderr


# ---- everything a running daemon does keeps working under the filter

def test_resolver_reload_rotation_metrics_under_filter(gatehouse):
    mport = free_port(addrs=("127.0.0.1",))
    d = start_resolver(gatehouse, extra=f"metrics 127.0.0.1:{mport}\n")
    sandboxed(d)
    assert query(d).answer
    # reload: the file is reread, the interfaces are listed again (netlink, if_nametoindex)
    with open(d.config_path, "a") as f:
        f.write("allow b.example 443\n")
    d.send_signal(signal.SIGHUP)
    d.wait_stderr("configuration reloaded")
    assert query(d, "b.example").answer
    # rotation: the audit file is created again after a rename
    os.rename(d.audit_path, d.audit_path + ".1")
    d.send_signal(signal.SIGUSR1)
    d.wait_stderr("audit file reopened")
    query(d, "b.example")
    wait_for(lambda: d.audit(), timeout=T, what="a line in the new audit file")
    assert "gatehouse_reloads_total" in scrape(mport)
    assert scrape(mport, "/healthz").startswith("ok")
    assert seccomp_mode(d) == 2
    assert d.stop() == 0


def test_forwarder_reload_rotation_metrics_under_filter(gatehouse):
    mport = free_metrics_port("127.0.0.1")      # the forwarder serves on mport + 1
    d = start_forwarder(gatehouse, extra=f"metrics 127.0.0.1:{mport}\n")
    sandboxed(d)
    # a denied connection: accepted, peeked, audited
    with socket.create_connection(("127.0.0.1", d.port), timeout=T) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 403")
    d.wait_audit(lambda l: l.get("reason") == "not-allowed")
    # a reload that adds a port: socket, bind and listen after start-up
    new_port = free_port(addrs=("127.0.0.1",))
    with open(d.config_path, "a") as f:
        f.write(f"allow b.example {new_port}\nallow **.b.example {new_port}\n")
    d.send_signal(signal.SIGHUP)
    d.wait_stderr("configuration reloaded")
    wait_for(lambda: listening(new_port), timeout=T, what=f"a listener on {new_port}")
    os.rename(d.audit_path, d.audit_path + ".1")
    d.send_signal(signal.SIGUSR1)
    d.wait_stderr("audit file reopened")
    with socket.create_connection(("127.0.0.1", new_port), timeout=T) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n")
        s.recv(100)
    d.wait_audit(lambda l: l.get("reason") == "not-allowed")
    assert "gatehouse_reloads_total" in scrape(mport + 1)
    assert seccomp_mode(d) == 2
    assert d.stop() == 0


# ---- a forbidden call stops the daemon

def hooks_binary(name):
    p = os.path.join(BUILD, "testhooks", name)
    if not os.access(p, os.X_OK):
        pytest.skip(f"{p} is not built (make testhooks)")
    return os.path.join("testhooks", name)


# (daemon, GH_TEST_FORBIDDEN, the call the stderr line must name)
FORBIDDEN = [
    ("resolver", "execve", "execve"),
    ("forwarder", "execve", "execve"),
    ("resolver", "socket-packet", "socket"),
    ("forwarder", "socket-packet", "socket"),
    ("resolver", "socket-inet", "socket"),      # an IP socket after start: resolver only
    ("resolver", "open-write", "openat"),
    ("forwarder", "open-write", "openat"),
    ("resolver", "ptrace", "ptrace"),
    ("forwarder", "ptrace", "ptrace"),
    ("resolver", "fork", "clone"),
    ("forwarder", "fork", "clone"),
]


@pytest.mark.parametrize("daemon,call,name", FORBIDDEN)
def test_forbidden_call_stops_the_daemon(gatehouse, daemon, call, name):
    binary = hooks_binary(RESOLVER if daemon == "resolver" else FORWARDER)
    starter = start_resolver if daemon == "resolver" else start_forwarder
    d = starter(gatehouse, binary=binary, env={"GH_TEST_FORBIDDEN": call})
    sandboxed(d)                # the SIGUSR2 handler is installed just before the filter
    d.expect_exit = True
    os.kill(d.pid, signal.SIGUSR2)
    rc = d.proc.wait(timeout=scaled(10))
    err = d.stderr()
    assert rc == SANDBOX_EXIT, f"exit status {rc}, stderr:\n{err}"
    lines = [l for l in err.splitlines() if ": sandbox: system call " in l]
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith(f"gatehouse-{daemon}: sandbox: system call ")
    assert f"({name})" in line
    assert "on arch 0x" in line and "exiting with status 159" in line
    assert "`sandbox off` (GATEHOUSE_SANDBOX=off)" in line
    assert "test hook:" not in err          # the call never came back
    assert not os.path.exists(os.path.join(d.workdir, "sandbox-forbidden"))


def test_allowed_call_in_hook_build_goes_on(gatehouse):
    """The hook itself does not stop the daemon: an IP socket is allowed in the forwarder."""
    d = start_forwarder(gatehouse, binary=hooks_binary(FORWARDER),
                        env={"GH_TEST_FORBIDDEN": "socket-inet"})
    sandboxed(d)
    d.send_signal(signal.SIGUSR2)
    d.wait_stderr("test hook: socket-inet returned")
    wait_for(lambda: listening(d.port), timeout=T, what="the forwarder still accepting")
    assert d.stop() == 0


@pytest.mark.parametrize("daemon", ["resolver", "forwarder"])
def test_abort_still_dies_of_sigabrt(gatehouse, daemon):
    """abort() (libevent's and assert's way out) is not turned into a filter violation."""
    binary = hooks_binary(RESOLVER if daemon == "resolver" else FORWARDER)
    d = (start_resolver if daemon == "resolver" else start_forwarder)(
        gatehouse, binary=binary, env={"GH_TEST_FORBIDDEN": "abort"})
    sandboxed(d)
    d.expect_exit = True
    os.kill(d.pid, signal.SIGUSR2)
    assert d.proc.wait(timeout=scaled(10)) == -signal.SIGABRT, d.stderr()
    assert ": sandbox: system call" not in d.stderr()


def test_hook_build_refuses_an_unknown_hook(gatehouse):
    d = gatehouse.start(hooks_binary(RESOLVER), "allow a.example 443\n"
                        f"dns-listen 127.0.0.1:{free_port(addrs=('127.0.0.1',))}\n",
                        env={"GH_TEST_FORBIDDEN": "nonsense"})
    d.expect_exit = True
    assert d.proc.wait(timeout=scaled(10)) == 1
    assert "GH_TEST_FORBIDDEN=nonsense: not a test hook" in d.stderr()


# ---- sanitizer builds: reports still come out under the filter

def sanitized(binary):
    with open(os.path.join(BUILD, binary), "rb") as f:
        return b"__asan_init" in f.read()


def mode(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return int([l for l in f if l.startswith("Seccomp:")][0].split()[1])
    except (OSError, IndexError):
        return -1


def run_hook_raw(gh, daemon, hook, stop_sig=None):
    """A hooks daemon outside the fixture (whose teardown fails on any sanitizer report,
    which is what this test wants to see): SIGUSR2, then stop_sig; (status, stderr)."""
    import subprocess
    binary = hooks_binary(RESOLVER if daemon == "resolver" else FORWARDER)
    if not sanitized(RESOLVER if daemon == "resolver" else FORWARDER):
        pytest.skip("not a sanitizer build")
    # two ports: the pre-flight refuses a forwarder port where the resolver listens
    port, dport = free_port(addrs=("127.0.0.1",)), free_port(addrs=("127.0.0.1",))
    conf = gh.write(f"{daemon}-{hook}.conf", f"allow a.example {port}\nallow **.a.example {port}\n"
                    f"dns-listen 127.0.0.1:{dport}\nforward-listen 127.0.0.1\n"
                    f"upstream 127.0.0.1:{free_port(addrs=('127.0.0.1',))}\naudit off\n"
                    f"user {gh.user()}\n")
    err_path = gh.path(f"{daemon}-{hook}.stderr")
    with open(err_path, "wb") as err:
        p = subprocess.Popen([os.path.join(BUILD, binary), "-c", conf], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err, cwd=gh.workdir,
                             env=daemon_env({"GH_TEST_FORBIDDEN": hook}))
    try:
        read = lambda: open(err_path, errors="replace").read()
        wait_for(lambda: p.poll() is not None or mode(p.pid) == 2, timeout=10,
                 what="the daemon under its filter")
        os.kill(p.pid, signal.SIGUSR2)
        if stop_sig is not None:
            wait_for(lambda: f"test hook: {hook} returned" in read(), timeout=T,
                     what="the hook ran")
            os.kill(p.pid, stop_sig)
        rc = p.wait(timeout=scaled(30))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return rc, read()


@pytest.mark.parametrize("daemon", ["resolver", "forwarder"])
def test_leak_reported_at_exit_under_filter(gatehouse, daemon):
    """LeakSanitizer's check at exit (clone, ptrace, /proc/self/task...) still runs."""
    rc, err = run_hook_raw(gatehouse, daemon, "leak", stop_sig=signal.SIGTERM)
    assert "ERROR: LeakSanitizer: detected memory leaks" in err, err
    assert "4242 byte(s) leaked in 1 allocation(s)" in err
    assert "in on_sigusr2 common/sandbox.c" in err         # symbolized
    assert ": sandbox: system call" not in err
    assert rc not in (0, SANDBOX_EXIT) and rc > 0, rc


@pytest.mark.parametrize("daemon", ["resolver", "forwarder"])
def test_asan_report_under_filter(gatehouse, daemon):
    rc, err = run_hook_raw(gatehouse, daemon, "overflow")
    assert "ERROR: AddressSanitizer: heap-buffer-overflow" in err, err
    assert "in on_sigusr2 common/sandbox.c" in err
    assert ": sandbox: system call" not in err
    assert rc not in (0, SANDBOX_EXIT) and rc > 0, rc


@pytest.mark.parametrize("binary", [RESOLVER, FORWARDER])
def test_hooks_only_in_the_test_build(binary):
    hooks_binary(binary)
    with open(os.path.join(BUILD, binary), "rb") as f:
        assert HOOK_MARK not in f.read()
    with open(os.path.join(BUILD, "testhooks", binary), "rb") as f:
        assert HOOK_MARK in f.read()
