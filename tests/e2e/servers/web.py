#!/usr/bin/env python3
"""The internet namespace's web servers: HTTPS on :443 and plain HTTP on :80 (every address
of the namespace), with a certificate from the test CA. Each request is answered with a
short text naming the host, and recorded as one JSON line in --log:

    {"scheme": "https", "local": "11.1.0.10:443", "peer": "11.0.0.2:40000", "sni": "...",
     "host": "api.example.test", "method": "GET", "path": "/", "len": 0}

so a test can tell which server a request reached, through which address, and that it came
from the gateway. Started by tests/e2e/topology.py; stops on SIGTERM.
"""

import argparse
import hashlib
import http.server
import json
import signal
import socketserver
import ssl
import sys
import threading

_log_lock = threading.Lock()
_log_file = None


def record(entry):
    with _log_lock:
        _log_file.write(json.dumps(entry, sort_keys=True) + "\n")
        _log_file.flush()


def pattern(n):
    """n bytes: the sha256 chain of b"gatehouse", so corruption or reordering shows."""
    out, block = bytearray(), b"gatehouse"
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:n])


def _fmt(addr):
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True      # headers and body go out at once, no 40 ms stall
    server_version = "gatehouse-e2e-web"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet: the JSON log is the record
        pass

    def _serve(self, send_body=True):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if 0 < length <= 64 << 20 else b""
        host = (self.headers.get("Host") or "").lower()
        record({
            "scheme": self.server.scheme,
            "local": _fmt(self.connection.getsockname()),
            "peer": _fmt(self.client_address),
            "sni": getattr(self.connection, "gh_sni", None),
            "host": host,
            "method": self.command,
            "path": self.path,
            "len": len(body),
        })
        if self.path.startswith("/bytes/"):
            # /bytes/N: N bytes of a fixed pattern, for relay integrity checks
            data = pattern(int(self.path.split("/")[2]))
        elif self.command == "POST":
            data = (hashlib.sha256(body).hexdigest() + "\n").encode()
        elif self.path.startswith("/latest/meta-data"):
            data = b"instance-secret-token\n"
        else:
            data = f"hello from {host or '?'} over {self.server.scheme}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if send_body:
            self.wfile.write(data)

    def do_GET(self):
        self._serve()

    def do_POST(self):
        self._serve()

    def do_HEAD(self):
        self._serve(send_body=False)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, scheme, ctx):
        self.scheme = scheme
        self.ctx = ctx
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the request's own thread, so a client that
        # stalls mid-handshake cannot block the accept loop.
        request.settimeout(10)
        if self.ctx is not None:
            try:
                request = self.ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--https-port", type=int, default=443)
    ap.add_argument("--http-port", type=int, default=80)
    args = ap.parse_args()

    global _log_file
    _log_file = open(args.log, "a", buffering=1)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)

    def sni_cb(sslsock, name, _ctx):
        sslsock.gh_sni = name

    ctx.sni_callback = sni_cb

    servers = [Server(("0.0.0.0", args.https_port), "https", ctx),
               Server(("0.0.0.0", args.http_port), "http", None)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("ready", flush=True)
    while not stop.wait(1):
        pass
    for s in servers:
        s.shutdown()
    sys.exit(0)


if __name__ == "__main__":
    main()
