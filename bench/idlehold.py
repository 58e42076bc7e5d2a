#!/usr/bin/python3
"""bench/idlehold.py: hold many idle relayed connections, for the memory-per-connection figure.

  idlehold.py sink ADDR PORT REPLY_BYTES
      accept connections; on a connection's first bytes answer REPLY_BYTES once (a stand-in
      for ServerHello + certificate), then keep it open and idle. Runs until SIGTERM.
  idlehold.py client ADDR PORT N HELLO_FILE REPLY_BYTES TIMEOUT
      open N connections, send the ClientHello in HELLO_FILE on each, read REPLY_BYTES back
      on each (so both directions went through the proxy), print "READY ok" and hold them
      until stdin closes or says anything; then close all and exit.

No TLS is computed: the proxies under test only read the ClientHello and then relay, so
the same bytes on every connection measure the proxy and not the handshake.
"""
import os
import selectors
import signal
import socket
import sys
import time


def sink(addr, port, reply_len):
    reply = b"\x16\x03\x03" + b"\x00" * (reply_len - 3)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((addr, port))
    lsock.listen(4096)
    lsock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ, None)
    answered = set()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print("LISTENING", flush=True)
    while not stop:
        for key, _ in sel.select(0.5):
            s = key.fileobj
            if s is lsock:
                for _ in range(256):
                    try:
                        c, _ = lsock.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    c.setblocking(False)
                    sel.register(c, selectors.EVENT_READ, None)
                continue
            try:
                data = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                answered.discard(s.fileno())
                s.close()
            elif s.fileno() not in answered:
                answered.add(s.fileno())
                try:
                    s.sendall(reply)
                except OSError:
                    pass


def client(addr, port, n, hello_file, reply_len, timeout):
    with open(hello_file, "rb") as f:
        hello = f.read()
    sel = selectors.DefaultSelector()
    got = {}
    socks = []
    deadline = time.monotonic() + timeout
    # connect in slices so the proxy's accept queue never overflows
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            s.connect((addr, port))
            s.sendall(hello)
        except OSError:
            s.close()
            continue
        s.setblocking(False)
        socks.append(s)
        got[s] = 0
        sel.register(s, selectors.EVENT_READ, None)
        if i % 64 == 63:
            drain(sel, got, reply_len, 0)
    while time.monotonic() < deadline and sum(1 for v in got.values() if v >= reply_len) < len(socks):
        drain(sel, got, reply_len, 0.2)
    ok = sum(1 for v in got.values() if v >= reply_len)
    print(f"READY {ok}", flush=True)
    sys.stdin.readline()
    for s in socks:
        s.close()


def drain(sel, got, reply_len, wait):
    for key, _ in sel.select(wait):
        s = key.fileobj
        try:
            data = s.recv(65536)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            data = b""
        if not data:
            sel.unregister(s)
            continue
        got[s] += len(data)
        if got[s] >= reply_len:
            sel.unregister(s)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "sink":
        sink(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) == 8 and sys.argv[1] == "client":
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6]),
               float(sys.argv[7]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
