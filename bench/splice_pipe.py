#!/usr/bin/python3
"""bench/splice_pipe.py: how big the forwarder's splice pipe should be (issue 11, item 6).

In splice mode each direction of a bulk transfer holds up to one pipe of bytes in kernel
memory. This measures, for forwarders built with different PUMP_PIPE sizes, on loopback:

  bulk      one 1 GiB download through the forwarder: MiB/s and forwarder CPU s/GiB
  held      N downloads that stall after 1 MiB (the client stops reading, the origin keeps
            sending): the bytes the forwarder's pipes hold per connection (each pipe read
            through /proc/PID/fd with FIONREAD: spliced socket pages are charged to no
            cgroup, so this is the honest count), the capacities the pipes got, and the
            change in the system's MemAvailable. The forwarder runs as `nobody`, as in the
            image, so the per-user pipe quota (fs.pipe-user-pages-soft: 16384 pages, 64 MiB)
            applies: past it, F_SETPIPE_SZ fails and new pipes get 2 pages.

  /usr/bin/python3 bench/splice_pipe.py [--sizes 65536,131072,262144,524288] [--conns 512]

Root (binding 127.0.78.x, reading another user's pipes, dropping the forwarder to nobody).
Builds each variant into build/pipe-SIZE with `make`. Prints a table; every process started
is stopped by pid. Loopback only.
"""
import argparse
import collections
import fcntl
import os
import struct
import termios
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from procs import proc_cpu  # noqa: E402

FWD, ORIGIN, DNS = "127.0.78.10", "127.0.78.20", "127.0.78.30"
PORT = 8088
F_GETPIPE_SZ = 1032
BULK = 1 << 30
STALL_AFTER = 1 << 20      # past PUMP_SPLICE_AFTER (256 KiB): the direction is spliced


def build(size):
    out = os.path.join(ROOT, "build", f"pipe-{size}")
    subprocess.run(["make", "-s", "-C", ROOT, f"BUILD={out}",
                    f"CFLAGS=-O2 -g -DPUMP_PIPE={size}", f"{out}/gatehouse-forwarder"],
                   check=True)
    return os.path.join(out, "gatehouse-forwarder")


class Origin:
    """Answers a request head with /SIZE bytes (sendfile from a sparse file), or endless
    bytes for /stall until the peer goes away."""

    def __init__(self, work):
        self.blob = os.path.join(work, "blob")
        with open(self.blob, "wb") as f:
            f.truncate(BULK)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ORIGIN, PORT))
        self.sock.listen(4096)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 8192:
                d = c.recv(4096)
                if not d:
                    return
                head += d
            path = head.split(b" ")[1].decode()
            with open(self.blob, "rb") as f:
                if path == "/stall":
                    while not self.stop.is_set():
                        f.seek(0)
                        c.sendfile(f, 0, BULK)
                else:
                    c.sendfile(f, 0, int(path[1:]))
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        self.stop.set()
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def connect(path):
    s = socket.create_connection((FWD, PORT), timeout=30)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: bulk.test\r\n\r\n" % path.encode())
    return s


def read_n(s, n):
    buf = bytearray(1 << 20)
    got = 0
    while got < n:
        r = s.recv_into(buf, min(len(buf), n - got))
        if r == 0:
            break
        got += r
    return got


def pipes_of(pid):
    """(bytes held, Counter of capacities) over every pipe pid has open (both ends of a
    pipe are counted once: by the read end's inode)."""
    held, caps, seen = 0, collections.Counter(), set()
    d = f"/proc/{pid}/fd"
    for fd in os.listdir(d):
        try:
            target = os.readlink(os.path.join(d, fd))
        except OSError:
            continue
        if not target.startswith("pipe:") or target in seen:
            continue
        seen.add(target)
        try:
            pfd = os.open(os.path.join(d, fd), os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            held += struct.unpack("i", fcntl.ioctl(pfd, termios.FIONREAD, b"\0" * 4))[0]
            caps[fcntl.fcntl(pfd, F_GETPIPE_SZ)] += 1
        finally:
            os.close(pfd)
    return held, caps


def mem_available_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def settle(pid, limit=20.0):
    """Wait until the forwarder uses no CPU for half a second (the stalled transfers have
    filled every buffer)."""
    t0 = time.monotonic()
    last = proc_cpu(pid)
    while time.monotonic() - t0 < limit:
        time.sleep(0.5)
        now = proc_cpu(pid)
        if now - last < 0.01:
            return
        last = now


def run_one(binary, work, conns):
    conf = os.path.join(work, "fwd.conf")
    with open(conf, "w") as f:
        f.write(f"forward-listen {FWD}\nupstream {DNS}:53\naudit off\nuser nobody\n"
                f"max-conns 10000\nmax-conns-per-client 10000\nidle-timeout 600\n"
                f"allow bulk.test {PORT} private\n")
    os.chmod(conf, 0o644)
    p = subprocess.Popen(["taskset", "-c", "1", binary, "-c", conf], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            try:
                socket.create_connection((FWD, PORT), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        s = connect("/4096")            # warm: the name is resolved and cached
        read_n(s, 4096)
        s.close()
        # bulk
        c0, t0 = proc_cpu(p.pid), time.monotonic()
        s = connect("/%d" % BULK)
        got = read_n(s, BULK)
        secs = time.monotonic() - t0
        cpu = proc_cpu(p.pid) - c0
        s.close()
        assert got == BULK, got
        time.sleep(0.5)
        # held
        avail0 = mem_available_kib()
        held = []
        for _ in range(conns):
            s = connect("/stall")
            held.append(s)
            read_n(s, STALL_AFTER)
        settle(p.pid)
        in_pipes, caps = pipes_of(p.pid)
        avail1 = mem_available_kib()
        for s in held:
            s.close()
        return {"mibps": BULK / secs / 2**20, "cpu_s_gib": cpu / (BULK / 2**30),
                "held_kib": in_pipes / conns / 1024, "avail_kib": (avail0 - avail1) / conns,
                "caps": dict(caps)}
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="65536,131072,262144,524288")
    ap.add_argument("--conns", type=int, default=512)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("splice_pipe.py: needs root (memory cgroup, 127.0.78.x, user nobody)")
    sizes = [int(x) for x in args.sizes.split(",")]
    bins = {n: build(n) for n in sizes}
    work = tempfile.mkdtemp(prefix="gatehouse-splice-")
    os.chmod(work, 0o755)
    dns = subprocess.Popen(["dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv",
                            "--no-hosts", "--bind-interfaces", f"--listen-address={DNS}",
                            "--port=53", "--user=root", "--pid-file=",
                            f"--address=/bulk.test/{ORIGIN}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    origin = Origin(work)
    results = {n: [] for n in sizes}
    try:
        for run in range(args.runs):
            for n in sizes if run % 2 == 0 else list(reversed(sizes)):
                r = run_one(bins[n], work, args.conns)
                results[n].append(r)
                caps = ", ".join(f"{c} x {k // 1024} KiB" for k, c in sorted(r["caps"].items()))
                print(f"run {run + 1} pipe {n // 1024:4d} KiB: {r['mibps']:7.0f} MiB/s  "
                      f"{r['cpu_s_gib']:.3f} CPU s/GiB  in pipes {r['held_kib']:6.1f} KiB per "
                      f"stalled connection, MemAvailable -{r['avail_kib']:.0f} KiB per "
                      f"connection; pipes: {caps}", flush=True)
    finally:
        origin.close()
        dns.send_signal(signal.SIGTERM)
        dns.wait(10)
    print(f"\nmedian of {args.runs} runs, {args.conns} stalled connections, forwarder as nobody "
          f"(fs.pipe-user-pages-soft {open('/proc/sys/fs/pipe-user-pages-soft').read().strip()} "
          "pages):")
    print("| pipe | MiB/s | CPU s/GiB | bytes in pipes per stalled connection | MemAvailable "
          "per stalled connection |")
    print("|---|---|---|---|---|")
    for n in sizes:
        rs = results[n]

        def med(k):
            v = sorted(r[k] for r in rs)
            return v[len(v) // 2]
        print(f"| {n // 1024} KiB | {med('mibps'):.0f} | {med('cpu_s_gib'):.3f} | "
              f"{med('held_kib'):.0f} KiB | {med('avail_kib'):.0f} KiB |")


if __name__ == "__main__":
    main()
