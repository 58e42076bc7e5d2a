#!/usr/bin/env python3
"""banner_client.py HOST PORT LINE [TIMEOUT]: a client of a server-speaks-first protocol
(as ssh, SMTP, MySQL are), run with `ip netns exec` in a client namespace. It resolves HOST
with the system resolver (getaddrinfo, IPv4: the namespace's resolv.conf; an address is
used as it is), connects, reads the server's first line, sends LINE and QUIT, and reads to
the end. It prints one JSON object and exits 0 whatever happened:

    {"addr": "10.77.0.129", "banner": "220 git1 ready", "reply": "250 LINE\\r\\n221 bye\\r\\n",
     "error": null}

error is the exception's text when anything failed (the lookup, the connect, a close
before the banner); every step is bounded by TIMEOUT seconds (default 10).
"""

import json
import socket
import sys


def main():
    host, port, line = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
    out = {"addr": None, "banner": None, "reply": None, "error": None}
    try:
        addr = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4]
        out["addr"] = addr[0]
        with socket.create_connection(addr, timeout=timeout) as s:
            f = s.makefile("rb")
            first = f.readline()
            if not first:
                raise ConnectionError("closed before the banner")
            out["banner"] = first.decode("utf-8", "replace").rstrip("\r\n")
            s.sendall(line.encode() + b"\r\nQUIT\r\n")
            out["reply"] = f.read().decode("utf-8", "replace")
    except (OSError, ValueError) as e:
        out["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
