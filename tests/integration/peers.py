"""peers.py: real peers for the gatehouse integration tests, and the daemons' process handling.

Everything here is a real program or a real socket server, started at test time and torn
down by PID even when a test fails:

- TestCA: a throw-away CA and server certificates made with the `openssl` command.
- DnsServer: dnsmasq on its own 127.0.0.x address and port, logging every query to a file
  (so a test can prove a name was never looked up).
- HttpServer: python http.server, plain or TLS, on its own 127.0.0.y address, recording
  every accept, every TLS server name and every request it sees.
- BannerServer: an SMTP-like server that speaks first ("220 ... ready") and echoes lines.
- EofServer: reads until the client half-closes, then answers with a byte count and a hash.
- Forwarder: gatehouse-forwarder started with `-c FILE`, its audit file parsed as JSON
  Lines, its RSS, its signals, and a sanitizer check of its stderr on the way out.
- Procs: every child process by PID; kill_all() sends SIGTERM, then SIGKILL.

Only the standard library and /usr/bin/python3; every socket operation has a timeout.
"""

import contextlib
import hashlib
import http.server
import shutil
import types
import os
import random
import re
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import tempfile
import threading
import time

from gh_testlib import (BUILD, audit_bytes, daemon_env, dns_query, read_audit, sanitizer_marks,
                        scaled, tls_client_start, wait_for)

FORWARDER_BIN = os.path.join(BUILD, "gatehouse-forwarder")
RESOLVER_BIN = os.path.join(BUILD, "gatehouse-resolver")

IO_TIMEOUT = scaled(10.0)  # default for every socket operation in the peers



# ---------------------------------------------------------------------------------------
# processes


def kill_pid(pid, timeout=5.0):
    """SIGTERM pid, wait up to timeout (scaled), then SIGKILL. Never by name."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done == pid:
            return
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


class Proc:
    """A child process whose stdout and stderr go to files."""

    def __init__(self, name, argv, workdir, env=None, nofile=None):
        if env is None:
            env = daemon_env()
        preexec = None
        if nofile is not None:
            import resource

            def preexec():
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.name = name
        self.argv = list(argv)
        self.stdout_path = os.path.join(workdir, name + ".stdout")
        self.stderr_path = os.path.join(workdir, name + ".stderr")
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._out,
                                      stderr=self._err, env=env, close_fds=True,
                                      preexec_fn=preexec)
        self.pid = self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, timeout=5.0):
        """SIGTERM, then SIGKILL after timeout (scaled); returns the exit status (negative:
        killed by a signal)."""
        if self.popen.poll() is None:
            try:
                self.popen.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(scaled(timeout))
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(scaled(5))
        for f in (self._out, self._err):
            if not f.closed:
                f.close()
        return self.popen.returncode


class Procs:
    """Every process a test (or module) started; kill_all() ends them by PID."""

    def __init__(self):
        self.procs = []

    def start(self, name, argv, workdir, env=None, nofile=None):
        p = Proc(name, argv, workdir, env, nofile)
        self.procs.append(p)
        return p

    def kill_all(self):
        for p in reversed(self.procs):
            try:
                p.stop()
            except Exception:       # teardown must reach every process
                kill_pid(p.pid)
        self.procs = []


def make_workdir(prefix="gatehouse-it-"):
    """A temporary directory the daemons can read after dropping to `nobody`."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    return d


@contextlib.contextmanager
def peer_env(prefix):
    """A test module's peers: yields an object with procs (Procs), dir (a work directory),
    servers and close_also (lists the module fills); at the end, whatever happened, every
    server then everything in close_also is closed, every process killed by PID and the
    directory removed."""
    e = types.SimpleNamespace(procs=Procs(), dir=make_workdir(prefix), servers=[],
                              close_also=[])
    try:
        yield e
    finally:
        for s in e.servers + e.close_also:
            try:
                s.close()
            except Exception:
                pass
        e.procs.kill_all()
        shutil.rmtree(e.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# ports


def port_is_free(addr, port, kind="tcp"):
    """True when addr:port can be bound for kind ("tcp" or "udp") now. Without
    SO_REUSEADDR: a port that a connection in TIME_WAIT still holds is not free (a
    listener that does not set the option could not bind it)."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
    try:
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((addr, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def have_ipv6():
    """True when ::1 can be bound here."""
    return port_is_free("::1", 0, "udp")


_handed_out = set()
_rnd = random.Random()


def free_port(addrs=("127.0.0.1", "::1"), kinds=("udp", "tcp")):
    """A port free for every kind ("udp", "tcp") on every address in addrs (an IPv6
    address is skipped where the host has no IPv6), and never one this process was
    handed before. Chosen at random in 20000-59999: another process could still take it
    first, which is unlikely."""
    addrs = [a for a in addrs if ":" not in a or have_ipv6()]
    for _ in range(2000):
        p = _rnd.randrange(20000, 60000)
        if p not in _handed_out and all(port_is_free(a, p, k) for a in addrs for k in kinds):
            _handed_out.add(p)
            return p
    raise RuntimeError(f"no port free for {kinds} on {addrs}")


def free_metrics_port(addr):
    """A port P with P+1 free on addr too (the forwarder serves metrics on P+1)."""
    for _ in range(50):
        p = free_port((addr,))
        if port_is_free(addr, p + 1):
            return p
    raise RuntimeError("no metrics port")


def proc_sys_max(path):
    """The last (largest) number in /proc/sys/PATH, such as net/ipv4/tcp_wmem."""
    with open("/proc/sys/" + path) as f:
        return int(f.read().split()[-1])


def tcp_buffer_max():
    """(send, receive): the most bytes a TCP socket's send and its receive buffer may
    reach on this machine, by autotuning (the tcp_wmem and tcp_rmem maximums) or by
    SO_SNDBUF / SO_RCVBUF (twice wmem_max, rmem_max), whichever is more. How much a peer
    that stops reading leaves queued in the kernel depends on these, not on a fixed
    figure."""
    snd = max(proc_sys_max("net/ipv4/tcp_wmem"), 2 * proc_sys_max("net/core/wmem_max"))
    rcv = max(proc_sys_max("net/ipv4/tcp_rmem"), 2 * proc_sys_max("net/core/rmem_max"))
    return snd, rcv


def tcp_peer_ports(pid):
    """The remote ports of the TCP sockets process pid holds (IPv4 and IPv6), from
    /proc/PID/fd and /proc/PID/net/tcp*: which clients a daemon has accepted (a
    connection still in the listen queue has no descriptor in the daemon yet)."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:                 # closed meanwhile
            continue
        if link.startswith("socket:["):
            inodes.add(link[len("socket:["):-1])
    ports = set()
    for name in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, name)) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[9] in inodes:
                        ports.add(int(parts[2].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def tcp_listening(addr, port):
    """True if something listens on addr:port (from /proc/net/tcp, no connection made)."""
    want = "%08X:%04X" % (struct.unpack("<I", socket.inet_aton(addr))[0], port)
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[1] == want and parts[3] == "0A":
                    return True
    except OSError:
        pass
    return False


# ---------------------------------------------------------------------------------------
# the test CA


def _run(argv, cwd):
    r = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=scaled(30))
    if r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(argv), r.stderr.decode()))


class TestCA:
    """A CA and server certificates, made with openssl in workdir."""

    __test__ = False        # not a pytest test class

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "ca")
        os.makedirs(self.dir, exist_ok=True)
        self.cert = os.path.join(self.dir, "ca.pem")
        self.key = os.path.join(self.dir, "ca.key")
        _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-nodes", "-keyout", self.key, "-out", self.cert, "-days", "2",
              "-subj", "/CN=gatehouse test CA",
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"], self.dir)
        self._serial = 1

    def issue(self, names):
        """A server certificate and key for names (the first is the CN). (cert, key)."""
        base = os.path.join(self.dir, names[0].replace("*", "_"))
        key, csr, cert, ext = base + ".key", base + ".csr", base + ".pem", base + ".ext"
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\n" % ",".join("DNS:" + n for n in names))
            f.write("extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
        _run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + names[0]], self.dir)
        self._serial += 1
        _run(["openssl", "x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key,
              "-set_serial", str(self._serial), "-days", "2", "-extfile", ext, "-out", cert],
             self.dir)
        return cert, key

    def client_context(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx


# ---------------------------------------------------------------------------------------
# DNS: dnsmasq


class DnsServer:
    """dnsmasq answering `records` {name: address or [addresses]} (IPv4 and/or IPv6).

    Every name under `local_domain` that is not in records gets NXDOMAIN, and an AAAA
    query for a name in records gets NODATA (dnsmasq --host-record + --local), as a real
    zone would. Queries are logged to log_path; queried() reads them back.
    """

    def __init__(self, procs, workdir, addr, port, records, local_domain="test", extra=()):
        self.addr, self.port = addr, port
        self.records = dict(records)
        self.log_path = os.path.join(workdir, "dnsmasq-%s-%d.log" % (addr, port))
        argv = ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                "--bind-interfaces", "--listen-address=" + addr, "--port=%d" % port,
                "--local=/%s/" % local_domain, "--local-ttl=30", "--log-queries",
                "--log-facility=" + self.log_path, "--user=root", "--group=root",
                "--pid-file", "--cache-size=0"]
        for name, ips in self.records.items():
            for ip in ([ips] if isinstance(ips, str) else ips):
                argv.append("--host-record=%s,%s" % (name, ip))
        argv += list(extra)             # more of dnsmasq's records (--srv-host, --cname)
        self.proc = procs.start("dnsmasq-%d" % port, argv, workdir)
        wait_for(self._answers, timeout=10, what="dnsmasq on %s:%d" % (addr, port))

    def _answers(self):
        if not self.proc.alive():
            raise RuntimeError("dnsmasq exited: " + self.proc.stderr())
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.3)
        try:
            s.sendto(dns_query("ready.probe.invalid"), (self.addr, self.port))
            s.recvfrom(512)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def queried(self, name):
        """Every (qtype, name) query dnsmasq logged for name (case-insensitive)."""
        out = []
        for m in re.finditer(r"query\[(\w+)\] (\S+) from", self.log()):
            if m.group(2).lower().rstrip(".") == name.lower().rstrip("."):
                out.append((m.group(1), m.group(2)))
        return out

    def wait_queried(self, name, timeout=5.0):
        return wait_for(lambda: self.queried(name), timeout, what="dnsmasq to log " + name)


class SilentUdp:
    """A UDP socket that reads queries and never answers: a DNS server that is down
    without the ICMP port-unreachable a closed port would give. port 0: one the kernel
    picks (self.port). A subclass answers by overriding handle()."""

    def __init__(self, addr, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, port))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.1)
        self.received = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def handle(self, data, peer):
        """Each datagram received (data from peer), after it is counted: nothing here."""

    def _run(self):
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
                self.received += 1
                self.handle(data, peer)
            except socket.timeout:
                continue
            except OSError:
                return

    def close(self):
        self._stop.set()
        self._t.join(2)
        self.sock.close()


# ---------------------------------------------------------------------------------------
# payloads


BLOCK = random.Random(20261128).randbytes(1 << 20)


def payload_chunks(n):
    """n deterministic bytes, in blocks of at most 1 MiB."""
    left = n
    while left > 0:
        k = min(left, len(BLOCK))
        yield BLOCK[:k]
        left -= k


def payload_sha256(n):
    h = hashlib.sha256()
    for c in payload_chunks(n):
        h.update(c)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------
# HTTP and HTTPS servers


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30

    def log_message(self, fmt, *args):     # quiet
        pass

    def _record(self, body=b""):
        self.server.record_request({
            "method": self.command, "path": self.path, "version": self.request_version,
            "headers": dict(self.headers.items()), "host": self.headers.get("Host"),
            "client": self.client_address, "body": body})

    def _send(self, code, body, ctype="text/plain"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._record()
        path = self.path
        if path.startswith("http://") or path.startswith("https://"):
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        if path.startswith("/big"):
            n = int(path.split("n=", 1)[1]) if "n=" in path else 1 << 20
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            for c in payload_chunks(n):
                self.wfile.write(c)
                self.server.big_sent += len(c)
            return
        self._send(200, ("hello from %s path=%s\n" % (self.server.label, self.path)).encode())

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n) if n else b""
        self._record(body)
        self._send(200, ("%s got %d bytes sha256 %s\n" % (
            self.server.label, len(body), hashlib.sha256(body).hexdigest())).encode())


class _RecordingHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, addr, label, tls_ctx):
        self.label = label
        self.tls_ctx = tls_ctx
        self.lock = threading.Lock()
        self.accepts = []           # client addresses, at accept (before any TLS)
        self.requests = []
        self.snis = []              # server names the TLS clients sent
        self.tls_errors = []
        self.big_sent = 0
        super().__init__(addr, _Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        with self.lock:
            self.accepts.append(addr)
        return sock, addr

    def record_request(self, r):
        with self.lock:
            self.requests.append(r)

    def finish_request(self, request, client_address):
        request.settimeout(IO_TIMEOUT * 3)
        if self.tls_ctx is None:
            return super().finish_request(request, client_address)
        try:
            tls = self.tls_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            with self.lock:
                self.tls_errors.append(repr(e))
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()

    def handle_error(self, request, client_address):   # a test's abrupt client is fine
        pass


class HttpServer:
    """http.server on addr:port; TLS with a certificate for names when ca is given."""

    def __init__(self, addr, port, label, ca=None, names=None):
        self.addr, self.port, self.label = addr, port, label
        ctx = None
        if ca is not None:
            cert, key = ca.issue(names or [label])
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            ctx.sni_callback = lambda obj, name, c: self._sni(name)
        self.srv = _RecordingHTTPServer((addr, port), label, ctx)
        self.thread = threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def _sni(self, name):
        with self.srv.lock:
            self.srv.snis.append(name)
        return None

    @property
    def accepts(self):
        with self.srv.lock:
            return list(self.srv.accepts)

    @property
    def requests(self):
        with self.srv.lock:
            return list(self.srv.requests)

    @property
    def snis(self):
        with self.srv.lock:
            return list(self.srv.snis)

    def reset(self):
        with self.srv.lock:
            self.srv.accepts.clear()
            self.srv.requests.clear()
            self.srv.snis.clear()
            self.srv.tls_errors.clear()
            self.srv.big_sent = 0

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()
        self.thread.join(5)


# ---------------------------------------------------------------------------------------
# raw TCP servers


class _TcpServer:
    """A threaded TCP server; handle(conn_record, sock) does the talking."""

    def __init__(self, addr, port, label):
        self.addr, self.port, self.label = addr, port, label
        self.lock = threading.Lock()
        self.conns = []             # one dict per accepted connection
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, port))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self._stop = threading.Event()
        self._threads = []
        self._t = threading.Thread(target=self._accept_loop, daemon=True)
        self._t.start()

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                s, a = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            rec = {"client": a, "received": bytearray(), "sent": 0, "eof": threading.Event(),
                   "closed": threading.Event()}
            with self.lock:
                self.conns.append(rec)
            t = threading.Thread(target=self._serve, args=(rec, s), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, rec, s):
        s.settimeout(IO_TIMEOUT * 3)
        try:
            self.handle(rec, s)
        except OSError as e:
            rec["error"] = e
        finally:
            rec["closed"].set()
            try:
                s.close()
            except OSError:
                pass

    def send(self, rec, s, data):
        s.sendall(data)
        rec["sent"] += len(data)

    def snapshot(self):
        with self.lock:
            return list(self.conns)

    def reset(self):
        with self.lock:
            self.conns.clear()

    def close(self):
        self._stop.set()
        self._t.join(2)
        self.sock.close()


class Blackhole:
    """A listener whose accept queue is full (backlog 0, one connection parked, never
    accepted): further connection attempts get no SYN-ACK and hang, like a dropped
    route, without a packet leaving the machine."""

    def __init__(self, addr, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, port))
        self.sock.listen(0)
        self.filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.filler.settimeout(scaled(2))
        self.filler.connect((addr, port))
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.settimeout(0.3)
        try:
            probe.connect((addr, port))
            self.works = False          # the queue took another: no black hole here
        except (socket.timeout, OSError):
            self.works = True
        finally:
            probe.close()

    def close(self):
        self.filler.close()
        self.sock.close()


class BannerServer(_TcpServer):
    """SMTP-like: says "220 <label> ready" first, answers each line with "250 <line>",
    "QUIT" with "221 bye" and a close."""

    def handle(self, rec, s):
        self.send(rec, s, ("220 %s ready\r\n" % self.label).encode())
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                rec["eof"].set()
                return
            rec["received"] += chunk
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line = line.rstrip(b"\r")
                if line.upper() == b"QUIT":
                    self.send(rec, s, b"221 bye\r\n")
                    s.shutdown(socket.SHUT_WR)
                    # read to the client's EOF so the close is a FIN, not a reset
                    while s.recv(65536):
                        pass
                    rec["eof"].set()
                    return
                self.send(rec, s, b"250 " + line + b"\r\n")


class EofServer(_TcpServer):
    """Reads everything until the client half-closes, then answers
    "got N bytes sha256 HEX" and closes. With answer=False it never answers (and keeps
    the connection open until the other side closes it)."""

    def __init__(self, addr, port, label, answer=True):
        self.answer = answer
        super().__init__(addr, port, label)

    def handle(self, rec, s):
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            rec["received"] += chunk
        rec["eof"].set()
        if not self.answer:
            # hold the connection open, answering nothing, until the server is closed
            # (the other side's close cannot be seen once its FIN has arrived)
            self._stop.wait(15)
            return
        data = bytes(rec["received"])
        self.send(rec, s, ("got %d bytes sha256 %s\n" % (
            len(data), hashlib.sha256(data).hexdigest())).encode())
        s.shutdown(socket.SHUT_WR)


# ---------------------------------------------------------------------------------------
# TLS over a socket by hand (byte-at-a-time ClientHellos, raw ClientHello bytes)


class BioTLS:
    """A TLS client driven over a plain socket through memory BIOs, so a test decides
    how the ClientHello is written (split, byte at a time) and then talks normally."""

    def __init__(self, sock, ctx, server_name):
        self.sock = sock
        self.obj, self.inc, self.out = tls_client_start(server_name, ctx)
        self.hello = self.out.read()

    def _pump_in(self):
        data = self.sock.recv(65536)
        if not data:
            self.inc.write_eof()
        else:
            self.inc.write(data)
        return data

    def finish_handshake(self):
        while True:
            try:
                self.obj.do_handshake()
            except ssl.SSLWantReadError:
                pending = self.out.read()
                if pending:
                    self.sock.sendall(pending)
                if not self._pump_in():
                    raise ConnectionError("EOF during the TLS handshake")
                continue
            pending = self.out.read()
            if pending:
                self.sock.sendall(pending)
            return

    def sendall(self, data):
        self.obj.write(data)
        self.sock.sendall(self.out.read())

    def recv_all(self):
        """Everything until the server's close_notify or EOF."""
        buf = b""
        while True:
            try:
                chunk = self.obj.read(65536)
                if not chunk:
                    return buf
                buf += chunk
            except ssl.SSLWantReadError:
                if not self._pump_in():
                    return buf
            except ssl.SSLZeroReturnError:
                return buf


# ---------------------------------------------------------------------------------------
# the forwarder


class Forwarder:
    """gatehouse-forwarder with a config file and an audit file in workdir.

    lines: the configuration lines (forward-listen, audit and any defaults the caller
    wants are the caller's business; see the tests' helper). start() waits until the
    daemon logged its start-up line; stop() ends it by PID and returns a list of problems
    seen on its stderr (sanitizer reports)."""

    def __init__(self, procs, workdir, lines, name="fwd", binary=None, extra_args=()):
        self.procs = procs
        self.workdir = workdir
        self.name = name
        self.binary = binary or FORWARDER_BIN
        self.conf = os.path.join(workdir, name + ".conf")
        self.audit_path = os.path.join(workdir, name + "-audit.log")
        self.extra_args = list(extra_args)
        self.expected_rc = (0,)     # exit statuses stop() accepts
        self.proc = None
        self.write_config(lines)

    def write_config(self, lines):
        tmp = self.conf + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.conf)

    def start(self, wait=True, env=None, nofile=None):
        """env: GATEHOUSE_* variables to give the daemon (nothing else of ours leaks in);
        nofile: an RLIMIT_NOFILE for it."""
        self.proc = self.procs.start(self.name, [self.binary, "-c", self.conf] + self.extra_args,
                                     self.workdir, env=daemon_env(env), nofile=nofile)
        if wait:
            wait_for(self._started, timeout=15, what="gatehouse-forwarder start-up")
        return self

    def _started(self):
        err = self.proc.stderr()
        if "listening sockets" in err:
            return True
        if not self.proc.alive():
            raise RuntimeError("gatehouse-forwarder exited with %s:\n%s" % (
                self.proc.popen.returncode, err))
        return False

    @property
    def pid(self):
        return self.proc.pid

    def stderr(self):
        return self.proc.stderr()

    def rss_kb(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self):
        """User plus system CPU time the daemon has used."""
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def signal(self, sig):
        os.kill(self.pid, sig)

    def reload(self, lines=None, expect="configuration reloaded", timeout=5.0):
        """Write lines (if given), SIGHUP, and wait (timeout, scaled) for the daemon to log
        expect."""
        before = self.stderr().count(expect)
        if lines is not None:
            self.write_config(lines)
        self.signal(signal.SIGHUP)
        wait_for(lambda: self.stderr().count(expect) > before, timeout,
                 what="'%s' on stderr after SIGHUP" % expect)

    def audit_raw(self):
        """The audit file's bytes (b"" when it does not exist yet)."""
        return audit_bytes(self.audit_path)

    def audit(self, complete=False):
        """Every audit line, parsed (gh_testlib.read_audit); complete=True once the daemon
        has stopped."""
        return read_audit(self.audit_path, complete)

    def conn_lines(self, client_port=None):
        out = [a for a in self.audit() if a.get("event") == "conn"]
        if client_port is not None:
            out = [a for a in out if a.get("client_port") == int(client_port)]
        return out

    def wait_conn(self, client_port, timeout=6.0):
        """The one audit line of the connection from local port client_port (waited for up
        to timeout seconds, scaled)."""
        lines = wait_for(lambda: self.conn_lines(client_port), timeout,
                         what="the audit line for client port %s" % client_port)
        time.sleep(0.05)
        lines = self.conn_lines(client_port)
        assert len(lines) == 1, "client port %s has %d audit lines: %r" % (
            client_port, len(lines), lines)
        return lines[0]

    def sanitizer_reports(self):
        err = self.stderr() if self.proc else ""
        return sanitizer_marks(err)

    def stop(self):
        """End the daemon by PID; returns (exit status, problems on stderr)."""
        if self.proc is None:
            return None, []
        rc = self.proc.stop()
        problems = []
        for mark in self.sanitizer_reports():
            problems.append("sanitizer report (%s) on stderr" % mark)
        if rc not in self.expected_rc and rc is not None and not problems:
            problems.append("exit status %s after SIGTERM" % rc)
        return rc, problems


def recv_until_eof(s, limit=1 << 24):
    """Bytes read from s until EOF, a reset, or limit bytes."""
    buf = b""
    while len(buf) < limit:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        buf += chunk
    return buf


def keepalive_get(s, host, path="/"):
    """One request on a kept-alive HTTP connection; the body."""
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        assert chunk, "connection closed mid-response: %r" % head
        head += chunk
    head, body = head.split(b"\r\n\r\n", 1)
    n = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    while len(body) < n:
        chunk = s.recv(4096)
        assert chunk, "connection closed mid-body"
        body += chunk
    assert head.startswith(b"HTTP/1.1 200"), head
    return body


class ForwarderFactory:
    """Starts forwarders for one test: `rules` plus the suite's `defaults` (overridden by
    keyword settings, `lookup_timeout="1"` for `lookup-timeout 1`; None drops a line),
    an audit file per forwarder, optionally a metrics address (True: a free one). finish() stops them all and
    returns the problems (unexpected exits, sanitizer reports); with check_audit every
    line of every audit file must also be valid JSON."""

    def __init__(self, env, request, listen, dns_addr, defaults, check_audit=True):
        self.env = env
        self.listen = listen
        self.dns_addr = dns_addr
        self.defaults = defaults
        self.check_audit = check_audit
        self.fwds = []
        self.n = 0
        self.test = re.sub(r"\W", "_", request.node.name)[:60]

    def lines(self, rules, **settings):
        s = {"forward-listen": self.listen, "upstream": "%s:%d" % (self.dns_addr, self.env.p_dns)}
        s.update(self.defaults)
        s.update({k.replace("_", "-"): v for k, v in settings.items()})
        return list(rules) + ["%s %s" % kv for kv in s.items() if kv[1] is not None]

    def __call__(self, rules, start=True, env_vars=None, nofile=None, metrics=False,
                 audit=None, **settings):
        self.n += 1
        name = "%s-%d" % (self.test, self.n)
        if metrics is True:     # any free address; a string is used as given
            settings["metrics"] = "%s:%d" % (self.listen, free_metrics_port(self.listen))
        elif metrics:
            settings["metrics"] = metrics
        lines = self.lines(rules, **settings)
        lines.append("audit " + (audit or os.path.join(self.env.dir, name + "-audit.log")))
        f = Forwarder(self.env.procs, self.env.dir, lines, name=name)
        if audit:
            f.audit_path = audit
        f.settings = settings
        self.fwds.append(f)
        if start:
            f.start(env=env_vars, nofile=nofile)
        return f

    def finish(self):
        problems = []
        for f in self.fwds:
            rc, p = f.stop()
            if p:
                problems.append("%s: %s\n--- stderr ---\n%s" % (f.name, "; ".join(p),
                                                                f.stderr()[-6000:]))
            if self.check_audit:
                # invariant 4 and the audit format: every line of every run is a JSON object
                f.audit(complete=True)
        return problems
