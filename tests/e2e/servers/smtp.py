#!/usr/bin/env python3
"""The internet namespace's mail server (aiosmtpd): implicit TLS (SMTPS) on :465 and
STARTTLS required on :587, with a certificate from the test CA. Every delivered message is
recorded as one JSON line in --log:

    {"port": 465, "peer": "11.0.0.2:40000", "tls": true, "mail_from": "...",
     "rcpt_tos": ["..."], "data": "..."}

Started by tests/e2e/topology.py; stops on SIGTERM.
"""

import argparse
import json
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller


class Recorder:
    def __init__(self, port, log, lock):
        self.port = port
        self.log = log
        self.lock = lock

    async def handle_DATA(self, server, session, envelope):
        peer = session.peer
        tls = session.ssl is not None
        if not tls and server.transport is not None:
            tls = server.transport.get_extra_info("sslcontext") is not None
        entry = {
            "port": self.port,
            "peer": f"{peer[0]}:{peer[1]}" if peer else None,
            "tls": tls,
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data": envelope.content.decode("utf-8", "replace"),
        }
        with self.lock:
            self.log.write(json.dumps(entry, sort_keys=True) + "\n")
            self.log.flush()
        return "250 Message accepted for delivery"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--addr", required=True)
    ap.add_argument("--hostname", default="smtp.mail.test")
    args = ap.parse_args()

    log = open(args.log, "a", buffering=1)
    lock = threading.Lock()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)

    smtps = Controller(Recorder(465, log, lock), hostname=args.addr, port=465,
                       ssl_context=ctx, server_hostname=args.hostname, ready_timeout=10)
    submission = Controller(Recorder(587, log, lock), hostname=args.addr, port=587,
                            tls_context=ctx, require_starttls=True,
                            server_hostname=args.hostname, ready_timeout=10)
    smtps.start()
    submission.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("ready", flush=True)
    while not stop.wait(1):
        pass
    smtps.stop()
    submission.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
