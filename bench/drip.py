#!/usr/bin/python3
"""bench/drip.py: clients that send their first bytes in many small segments, for the peek figures.

  drip.py origin ADDR PORT
      a plain HTTP origin: answers every request head with "200 ok" and closes. Runs until
      SIGTERM.
  drip.py send ADDR PORT N PAR GAP_MS SEGFILE TIMEOUT
      N connections, PAR open at a time. Each sends the segments in SEGFILE (4-byte
      big-endian length, then the bytes; one send() each, TCP_NODELAY), one segment per
      connection per round, GAP_MS between rounds, and reads until the server closes
      (stopping early when the server answers or closes before the last segment). Prints
      "DONE finished segments_sent seconds".
  drip.py load ADDR PORT PAR GAP_MS SEGFILE
      like send, but without end: PAR connections drip SEGFILE over and over, a new
      connection replacing each one the server ends. Prints "READY" once PAR are open and
      stops when stdin closes or says anything, printing "DONE connections segments_sent".
  drip.py probe ADDR PORT HOST N TIMEOUT
      N requests one after another, each on a new connection ("Host: HOST", Connection:
      close), read to the end; prints one line of latencies in microseconds.

Every loop is bounded by its count and TIMEOUT (load: by its parent, which closes stdin).
"""
import os
import select
import selectors
import signal
import socket
import struct
import sys
import time


def origin(addr, port):
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((addr, port))
    lsock.listen(1024)
    lsock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ, None)
    heads = {}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print("LISTENING", flush=True)
    while not stop:
        for key, _ in sel.select(0.5):
            s = key.fileobj
            if s is lsock:
                for _ in range(64):
                    try:
                        c, _ = lsock.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    c.setblocking(False)
                    heads[c] = b""
                    sel.register(c, selectors.EVENT_READ, None)
                continue
            try:
                data = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            heads[s] += data
            if data and b"\r\n\r\n" not in heads[s]:
                continue
            if data:
                try:
                    s.send(reply)
                except OSError:
                    pass
            sel.unregister(s)
            del heads[s]
            s.close()


def read_segments(path):
    segs = []
    with open(path, "rb") as f:
        raw = f.read()
    i = 0
    while i + 4 <= len(raw):
        n = struct.unpack_from(">I", raw, i)[0]
        segs.append(raw[i + 4:i + 4 + n])
        i += 4 + n
    if not segs:
        raise SystemExit(f"drip.py: no segments in {path}")
    return segs


class Dripper:
    """PAR connections, each sending the segments one per round; a connection is done when
    the server has closed it (whatever it answered)."""

    def __init__(self, addr, port, segs, total):
        self.addr, self.port, self.segs = addr, port, segs
        self.total = total          # connections to make; None: no end
        self.started = 0
        self.finished = 0
        self.sent = 0
        self.live = {}              # socket -> [next segment, bytes of it already sent]
        self.poller = select.poll()
        self.byfd = {}

    def open(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(5)
        s.connect((self.addr, self.port))
        s.setblocking(False)
        self.live[s] = [0, 0]
        self.byfd[s.fileno()] = s
        self.poller.register(s, select.POLLIN)
        self.started += 1

    def end(self, s):
        self.poller.unregister(s)
        del self.byfd[s.fileno()]
        del self.live[s]
        s.close()
        self.finished += 1

    def round(self, par):
        while len(self.live) < par and (self.total is None or self.started < self.total):
            self.open()
        for s, at in list(self.live.items()):
            i, off = at
            if i >= len(self.segs):
                continue
            try:
                off += s.send(self.segs[i][off:])
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                at[0] = len(self.segs)          # the server ended it: its EOF/RST follows
                continue
            if off < len(self.segs[i]):
                at[1] = off                     # the rest of it next round
            else:
                at[:] = [i + 1, 0]
                self.sent += 1

    def reap(self, wait_ms):
        for fd, _ in self.poller.poll(wait_ms):
            s = self.byfd.get(fd)
            if s is None:
                continue
            try:
                data = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                self.end(s)
            else:
                self.live[s][0] = len(self.segs)    # answered: send no more, wait for the close


def send(addr, port, n, par, gap_ms, segfile, timeout):
    d = Dripper(addr, port, read_segments(segfile), n)
    t0 = time.monotonic()
    deadline = t0 + timeout
    while d.finished < n and time.monotonic() < deadline:
        d.round(par)
        t = time.monotonic() + gap_ms / 1000.0
        while True:
            d.reap(max(0.0, t - time.monotonic()) * 1000)
            if time.monotonic() >= t:
                break
    print(f"DONE {d.finished} {d.sent} {time.monotonic() - t0:.3f}", flush=True)


def load(addr, port, par, gap_ms, segfile):
    d = Dripper(addr, port, read_segments(segfile), None)
    d.round(par)
    print("READY", flush=True)
    while True:
        r, _, _ = select.select([sys.stdin], [], [], 0)
        if r:
            break
        d.round(par)
        t = time.monotonic() + gap_ms / 1000.0
        while True:
            d.reap(max(0.0, t - time.monotonic()) * 1000)
            if time.monotonic() >= t:
                break
    print(f"DONE {d.started} {d.sent}", flush=True)


def probe(addr, port, host, n, timeout):
    req = f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    lat = []
    deadline = time.monotonic() + timeout
    for _ in range(n):
        if time.monotonic() > deadline:
            break
        t0 = time.perf_counter()
        s = socket.create_connection((addr, port), 5)
        try:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(req)
            resp = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                resp += chunk
        finally:
            s.close()
        if not resp.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"drip.py probe: unexpected answer {resp[:80]!r}")
        lat.append((time.perf_counter() - t0) * 1e6)
    print(" ".join(f"{x:.0f}" for x in lat), flush=True)


def main():
    a = sys.argv[1:]
    if len(a) == 3 and a[0] == "origin":
        origin(a[1], int(a[2]))
    elif len(a) == 8 and a[0] == "send":
        send(a[1], int(a[2]), int(a[3]), int(a[4]), float(a[5]), a[6], float(a[7]))
    elif len(a) == 6 and a[0] == "load":
        load(a[1], int(a[2]), int(a[3]), float(a[4]), a[5])
    elif len(a) == 6 and a[0] == "probe":
        probe(a[1], int(a[2]), a[3], int(a[4]), float(a[5]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
