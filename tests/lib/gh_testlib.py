"""gh_testlib.py: what the integration tests (tests/integration), the end-to-end tests
(tests/e2e), the soak (tests/soak) and the demo share. Each of them puts tests/lib on
sys.path (the two conftest.py files, soak.py, demo.py) and imports from here.

- REPO, BUILD: the repository, and the build directory the daemons are taken from
  ($GATEHOUSE_BUILD, default REPO/build; `make check` sets it to its own build).
- TIME_SCALE, scaled(), scaled_arg(): every deadline of the tests, times TEST_TIME_SCALE.
- wait_for(), wait_until(): polling a condition up to a (scaled) deadline.
- daemon_env(): the environment a daemon is started with.
- SANITIZER_MARKS, sanitizer_marks(): a sanitizer's report on a daemon's stderr.
- audit_bytes(), parse_audit(), read_audit(): an audit file, every line a JSON object.
- dns_name(), dns_header(), dns_question(), dns_query(): a DNS query's bytes.
- tls_client_start(), client_hello_bytes(): a TLS client's first flight, no network.

Only the standard library.
"""

import json
import math
import os
import random
import re
import ssl
import struct
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("GATEHOUSE_BUILD") or os.path.join(REPO, "build")


def _time_scale():
    raw = os.environ.get("TEST_TIME_SCALE", "1")
    try:
        v = float(raw)
    except ValueError:
        v = 0.0
    if not 0 < v <= 100:
        raise RuntimeError(f"TEST_TIME_SCALE={raw!r}: want a positive number up to 100 "
                           "(default 1, 3 for a sanitizer build)")
    return v


# TEST_TIME_SCALE (a float, default 1) multiplies every deadline of the tests: how long
# they wait for something to happen before they fail. A slow build (ASan) or a loaded
# machine gets longer to get there (.ci/run raises it for the sanitizer run). Durations
# that are the behaviour under test (a daemon's configured timeouts, a client's pacing,
# a window in which nothing may happen) are not scaled: a scaled deadline makes a failing
# test slower to fail, never a failing behaviour pass.
TIME_SCALE = _time_scale()


def scaled(seconds, below=None):
    """seconds * TEST_TIME_SCALE: a deadline. below: a duration that a wrong behaviour
    would take (a configured timeout it would wait for); the deadline stays under it
    (below - 0.1, or seconds if that is more) whatever the scale."""
    t = seconds * TIME_SCALE
    if below is not None:
        t = min(t, max(seconds, below - 0.1))
    return t


def scaled_arg(seconds):
    """scaled(seconds) in whole seconds, as a command-line argument (curl --max-time)."""
    return str(math.ceil(scaled(seconds)))


def wait_until(fetch, done, timeout=5.0, interval=0.02):
    """Call fetch() until done(its value) is true or timeout seconds (scaled: the caller
    gives the unscaled figure) have passed; returns the last value either way, for the
    caller to assert on with the details it wants."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        v = fetch()
        if done(v) or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def wait_for(pred, timeout=5.0, what="condition", interval=0.02):
    """Poll pred() until it returns something truthy; return that, or raise
    AssertionError after timeout seconds (scaled). what names the condition in the
    message; a callable is called then, so that the message shows the state at the
    failure."""
    v = wait_until(pred, bool, timeout, interval)
    if not v:
        raise AssertionError(f"timed out after {scaled(timeout):.1f}s waiting for "
                             f"{what() if callable(what) else what}")
    return v


def daemon_env(extra=None):
    """The environment for a daemon: ours without any GATEHOUSE_* variable (the daemons
    read every GATEHOUSE_* as configuration and refuse unknown ones, GATEHOUSE_BUILD
    included), sanitizer options that put a report on stderr and end the process (unless
    ours set them), plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    env.update(extra or {})
    return env


# What the sanitizer runtimes (ASan, LSan, UBSan; TSan too) write when they report.
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "UndefinedBehaviorSanitizer", "AddressSanitizer:DEADLYSIGNAL",
                   "ThreadSanitizer", "SUMMARY: AddressSanitizer",
                   "SUMMARY: UndefinedBehaviorSanitizer", "SUMMARY: LeakSanitizer",
                   "Sanitizer has encountered a fatal error")


def sanitizer_marks(text):
    """The SANITIZER_MARKS in text (a daemon's stderr): empty when it holds no report."""
    return [m for m in SANITIZER_MARKS if m in text]


def audit_bytes(path):
    """The bytes of the audit file at path (b"" while it does not exist)."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def parse_audit(raw, complete=False, source="audit file"):
    """Every line of raw (an audit file's bytes) as a parsed JSON object; a line that is
    not UTF-8 JSON, or not an object, fails the test (AssertionError naming source and
    the line). With complete=True raw must end with a newline (the daemon has stopped:
    no line may be cut); with complete=False a line the daemon is still writing (after
    the last newline) is left out, not parsed: a reader may see a write() half done."""
    if complete and raw and not raw.endswith(b"\n"):
        raise AssertionError(f"{source} ends in a partial line: {raw[-200:]!r}")
    out = []
    for n, line in enumerate(raw.split(b"\n")[:-1], 1):
        try:
            obj = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise AssertionError(f"{source} line {n} is not JSON ({e}): {line!r}")
        if not isinstance(obj, dict):
            raise AssertionError(f"{source} line {n} is not an object: {line!r}")
        out.append(obj)
    return out


def read_audit(path, complete=False, source=None):
    """parse_audit of the file at path ([] while it does not exist)."""
    return parse_audit(audit_bytes(path), complete, source or path)


def dns_name(name):
    """name (dotted text; a trailing dot is the root's) in wire form: each label as a
    length byte and its bytes, then the root's empty label."""
    labels = name.rstrip(".").split(".") if name.rstrip(".") else []
    return b"".join(bytes([len(l.encode())]) + l.encode() for l in labels) + b"\x00"


def dns_header(qid, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    """The 12 header bytes: ID, flags (default RD alone), the four section counts."""
    return struct.pack(">HHHHHH", qid, flags, qd, an, ns, ar)


def dns_question(name, qtype=1, qclass=1):
    """A question: name, QTYPE (default A), QCLASS (default IN)."""
    return dns_name(name) + struct.pack(">HH", qtype, qclass)


def dns_query(name, qtype=1, qid=None):
    """A standard query for name (RD set, one question, no EDNS); qid None: a random ID."""
    qid = random.randrange(65536) if qid is None else qid
    return dns_header(qid) + dns_question(name, qtype)


def tls_client_start(server_name, ctx=None):
    """A TLS client for server_name over memory BIOs, its ClientHello written and not yet
    read: (SSLObject, incoming BIO, outgoing BIO). ctx None: Python's default context
    without verification (only the bytes matter)."""
    if ctx is None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=server_name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return obj, inc, out


def client_hello_bytes(server_name):
    """The bytes of the ClientHello Python's TLS stack (OpenSSL) sends for server_name."""
    return tls_client_start(server_name)[2].read()


def metric_sum(text, name, **labels):
    """The sum of the Prometheus series called name in text whose labels include labels
    (0 when none)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        m = re.match(r"^(\w+)(\{[^}]*\})?\s+(\S+)$", line)
        if not m or m.group(1) != name:
            continue
        lab = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(lab.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
    return total
