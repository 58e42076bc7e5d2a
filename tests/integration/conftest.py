"""Shared fixtures for the integration tests: start the real gatehouse daemons from
$GATEHOUSE_BUILD (default build/ in this repository: gh_testlib.BUILD), hand the test a
handle, and clean up.

    def test_x(gatehouse):
        port = free_port()
        d = gatehouse.start("gatehouse-resolver", f"allow a.example 443\\ndns-listen 127.0.0.1:{port}\\n",
                            ready=dns_ready("127.0.0.1", port))
        ...
        d.audit()            # the audit lines as parsed JSON (every line must be valid)

Every daemon started through the fixture is killed by PID at teardown, even when the test
fails; the test fails at teardown when a daemon died without being asked to, or wrote an
AddressSanitizer/UndefinedBehaviorSanitizer/LeakSanitizer report to stderr.
"""

import os
import pwd
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile

import pytest

# tests/lib: what this suite shares with the end-to-end tests
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

from gh_testlib import (BUILD, audit_bytes, daemon_env, dns_query, parse_audit,  # noqa: E402
                        sanitizer_marks, scaled, wait_for, wait_until)

START_TIMEOUT = 5.0              # seconds, scaled where it is waited for
STOP_TIMEOUT = scaled(5.0)
# A query name the readiness probe uses; Daemon.audit() leaves its lines out.
PROBE_NAME = "gatehouse-ready.probe.invalid"
# The probe is sent from this loopback address so it never shares a per-client audit
# bucket with the test's own queries (which come from 127.0.0.1).
PROBE_SOURCE4 = "127.0.0.254"


# ---- DNS over TCP framing

def tcp_frame(msg):
    return struct.pack(">H", len(msg)) + msg


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


# ---- readiness probes ---------------------------------------------------------------------

def dns_ready(addr, port, timeout=START_TIMEOUT):
    """A readiness check: the daemon answers a UDP query at addr:port (sent from
    PROBE_SOURCE4 for IPv4, so it is audited apart from the test's own client) within
    timeout seconds (scaled)."""
    def check(daemon):
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = socket.socket(family, socket.SOCK_DGRAM)
        qid = 0x5eed

        def answered():
            daemon.assert_running()
            try:
                s.sendto(dns_query(PROBE_NAME, qid=qid), (addr, port))
                data = s.recv(4096)
                return len(data) >= 2 and data[:2] == struct.pack(">H", qid)
            except (socket.timeout, ConnectionRefusedError):
                return False
        try:
            if family == socket.AF_INET:
                s.bind((PROBE_SOURCE4, 0))
            s.settimeout(0.1)
            wait_for(answered, timeout, what=lambda: f"{daemon.name} to answer on "
                     f"{addr}:{port}; stderr:\n{daemon.stderr()}")
        finally:
            s.close()
    return check


def tcp_ready(addr, port, timeout=START_TIMEOUT):
    """A readiness check: a TCP connect to addr:port succeeds (then closes at once) within
    timeout seconds (scaled)."""
    def check(daemon):
        def accepts():
            daemon.assert_running()
            try:
                socket.create_connection((addr, port), timeout=0.2).close()
                return True
            except OSError:
                return False
        wait_for(accepts, timeout, what=lambda: f"{daemon.name} to accept on {addr}:{port}; "
                 f"stderr:\n{daemon.stderr()}")
    return check


# ---- the daemon handle --------------------------------------------------------------------

class Daemon:
    """One running daemon: its process, files and helpers."""

    def __init__(self, name, proc, workdir, config_path, audit_path, stdout_path, stderr_path):
        self.name = name
        self.proc = proc
        self.pid = proc.pid
        self.workdir = workdir
        self.config_path = config_path
        self.audit_path = audit_path
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path
        self.expect_exit = False    # set by stop(); an exit is then not a failure

    # -- process
    def running(self):
        return self.proc.poll() is None

    def assert_running(self):
        if not self.running():
            raise AssertionError(f"{self.name} (pid {self.pid}) exited with "
                                 f"{self.proc.returncode}; stderr:\n{self.stderr()}")

    def send_signal(self, sig):
        self.assert_running()
        os.kill(self.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Ask it to exit; returns the exit status (KILLs it and fails after timeout)."""
        self.expect_exit = True
        if self.running():
            os.kill(self.pid, sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait(timeout=timeout)
            raise AssertionError(f"{self.name} did not exit within {timeout}s of signal {sig}")

    def rss_kb(self):
        """VmRSS from /proc/PID/status, in kB."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    # -- output
    def stderr(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stdout(self):
        try:
            with open(self.stdout_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_stderr(self, text, timeout=3.0):
        """Wait until stderr contains text (up to timeout seconds, scaled); returns all of
        stderr."""
        def said():
            err = self.stderr()
            return err if text in err else None
        return wait_for(said, timeout,
                        what=lambda: f"stderr of {self.name} to say {text!r}:\n{self.stderr()}")

    # -- the audit stream
    def audit_raw(self, path=None):
        """The audit file's bytes (b"" when it does not exist yet)."""
        return audit_bytes(path or self.audit_path)

    def audit(self, path=None, probe=False, complete=True):
        """Every audit line as parsed JSON (gh_testlib.parse_audit: a line that is not a
        JSON object fails the test; complete=False leaves out a line still being written).
        The readiness probe's lines are left out unless probe=True."""
        return [obj for obj in parse_audit(self.audit_raw(path), complete, path or self.audit_path)
                if probe or obj.get("qname") != PROBE_NAME]

    def wait_audit(self, pred, count=1, timeout=3.0, path=None):
        """Wait until at least count audit lines satisfy pred (up to timeout seconds,
        scaled); returns those lines. The daemons flush at the end of each event callback
        or once a second."""
        got = wait_until(lambda: [l for l in self.audit(path=path, complete=False) if pred(l)],
                         lambda got: len(got) >= count, timeout)
        if len(got) < count:
            raise AssertionError(f"wanted {count} audit lines matching, have {len(got)}; "
                                 f"last lines: {self.audit(path=path, complete=False)[-5:]}")
        return got


def add_settings(config, lines):
    """config with the setting lines added: at the end, or before the first `policy` line
    (settings are gateway-wide: after it they would belong to the policy, an error)."""
    if not lines:
        return config
    text = config.splitlines(keepends=True)
    for i, l in enumerate(text):
        if l.split()[:1] == ["policy"]:
            return "".join(text[:i]) + lines + "".join(text[i:])
    return config + "\n" + lines


class Gatehouse:
    """Starts daemons for one test and cleans up after it."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.daemons = []
        self.n = 0

    def path(self, name):
        return os.path.join(self.workdir, name)

    def write(self, name, text, mode=0o644):
        """Write a file in the test's directory (readable by the unprivileged user)."""
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    @staticmethod
    def binary(name):
        p = os.path.join(BUILD, name)
        if not os.access(p, os.X_OK):
            pytest.skip(f"{p} is not built")
        return p

    @staticmethod
    def user():
        """The `user` setting the tests use: nobody when root (the daemon drops to it),
        else the current user (no drop happens)."""
        if os.geteuid() == 0:
            return "nobody"
        return pwd.getpwuid(os.geteuid()).pw_name

    def start(self, binary, config=None, ready=None, env=None, args=(), audit=True, user=True,
              preexec_fn=None):
        """Start BUILD/binary. config: the text of the configuration file (written to the
        test's directory and passed as -c FILE), or None for no -c (environment only).
        audit=True adds `audit DIR/NAME.audit` when config has no audit line; user=True
        adds the `user` line (see user()). preexec_fn runs in the child before exec (e.g.
        resource.setrlimit). ready(daemon) is called until it returns; it raises on
        timeout. Returns a Daemon."""
        self.n += 1
        tag = f"{os.path.basename(binary)}-{self.n}"
        audit_path = None
        argv = [self.binary(binary)]
        config_path = None
        if config is not None:
            lines = config.splitlines()
            has = lambda kw: any(l.split()[:1] == [kw] for l in lines if l.strip())
            extra = ""
            if audit and not has("audit"):
                audit_path = self.path(f"{tag}.audit")
                extra += f"audit {audit_path}\n"
            elif has("audit"):
                audit_path = [l.split()[1] for l in lines if l.split()[:1] == ["audit"]][0]
            if user and not has("user"):
                extra += f"user {self.user()}\n"
            config = add_settings(config, extra)
            config_path = self.write(f"{tag}.conf", config)
            argv += ["-c", config_path]
        else:
            env = dict(env or {})
            if audit and "GATEHOUSE_AUDIT" not in env:
                audit_path = self.path(f"{tag}.audit")
                env["GATEHOUSE_AUDIT"] = audit_path
            elif "GATEHOUSE_AUDIT" in env:
                audit_path = env["GATEHOUSE_AUDIT"]
            if user and "GATEHOUSE_USER" not in env:
                env["GATEHOUSE_USER"] = self.user()
        argv += list(args)
        out_path = self.path(f"{tag}.stdout")
        err_path = self.path(f"{tag}.stderr")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    env=daemon_env(env), cwd=self.workdir,
                                    preexec_fn=preexec_fn)
        d = Daemon(tag, proc, self.workdir, config_path, audit_path, out_path, err_path)
        self.daemons.append(d)
        if ready is not None:
            ready(d)
        return d

    def run(self, binary, args=(), env=None, timeout=10):
        """Run BUILD/binary to completion (e.g. --check) within timeout seconds (scaled);
        a CompletedProcess with text."""
        return subprocess.run([self.binary(binary)] + list(args), env=daemon_env(env),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              errors="replace", timeout=scaled(timeout), cwd=self.workdir)

    def cleanup(self):
        """Kill every daemon by PID; the list of problems found."""
        problems = []
        for d in self.daemons:
            if d.running():
                try:
                    os.kill(d.pid, signal.SIGTERM)
                    d.proc.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    os.kill(d.pid, signal.SIGKILL)
                    d.proc.wait(timeout=STOP_TIMEOUT)
                    problems.append(f"{d.name} (pid {d.pid}) ignored SIGTERM for "
                                    f"{STOP_TIMEOUT}s and was killed")
                except ProcessLookupError:
                    d.proc.wait(timeout=STOP_TIMEOUT)
                else:
                    if d.proc.returncode != 0:
                        problems.append(f"{d.name} (pid {d.pid}) exited with "
                                        f"{d.proc.returncode} on SIGTERM")
            elif not d.expect_exit:
                problems.append(f"{d.name} (pid {d.pid}) died during the test with status "
                                f"{d.proc.returncode}")
            err = d.stderr()
            marks = sanitizer_marks(err)
            if marks:
                problems.append(f"{d.name} (pid {d.pid}) wrote a sanitizer report "
                                f"({', '.join(marks)}):\n{err[-6000:]}")
            elif problems and problems[-1].startswith(d.name):
                problems[-1] += f"\nstderr:\n{err[-3000:]}"
        return problems


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's report on the item (the fixture keeps files of failed tests)."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def gatehouse(request):
    """A Gatehouse for this test, in a fresh directory that the daemons' unprivileged
    user can write (audit files are reopened after the privilege drop)."""
    workdir = tempfile.mkdtemp(prefix="gatehouse-it-", dir="/tmp")
    os.chmod(workdir, 0o1777)
    g = Gatehouse(workdir)
    yield g
    problems = g.cleanup()
    failed = getattr(request.node, "rep_call", None)
    if problems or (failed is not None and failed.failed):
        print(f"files of {request.node.name} kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def dns_sinks():
    """A UDP socket and a listening TCP socket on one port of 127.0.0.1, non-blocking,
    that should receive nothing: (port, udp socket, tcp socket). Closed at teardown. A
    port the kernel gives for UDP may be taken for TCP (by a connection's local end, or
    one in TIME_WAIT after an earlier test): then another is tried."""
    for _ in range(100):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        try:
            t.bind(("127.0.0.1", port))
        except OSError:
            u.close()
            t.close()
            continue
        break
    else:
        raise RuntimeError("no port free for both UDP and TCP on 127.0.0.1")
    t.listen(8)
    u.setblocking(False)
    t.setblocking(False)
    yield port, u, t
    u.close()
    t.close()
