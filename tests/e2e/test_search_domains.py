"""The forwarder asks its upstream for exactly the name it allowed, whatever the gateway's
resolver settings say (invariant 8). Docker copies the host's `search` line into every
container's resolv.conf, so a gateway with a search list is the ordinary case.

With each setting below, the forwarder is restarted and clients name three hosts in their
ClientHello: `nx.ok.test` (allowed by `**.ok.test`, no such name upstream),
`api.example.test` (allowed, exists) and `intranet` (allowed, one label, no such name). The
upstream zone answers every name under the search domain corp.test with TRAP_ADDR, where a
listener records any connection. A resolver that appended the search domain would relay
`nx.ok.test` to nx.ok.test.corp.test, and with ndots:5 even `api.example.test`; and every
such lookup would carry the client's labels to whoever serves the search domain.

Each case asserts: the upstream DNS server's query log holds only the names as written
(from the gateway), the trap saw no connection, and each connection was audited with the
verdict a correct resolver gives.
"""

import os
import socket
import threading

import pytest

from gh_testlib import client_hello_bytes, wait_until
import topology as T

PORT = 9443
NAMES = ("nx.ok.test", "api.example.test", "intranet")

CASES = {
    "search": {"resolv": f"search {T.SEARCH_DOMAIN}\n"},
    "ndots": {"resolv": f"search {T.SEARCH_DOMAIN}\noptions ndots:5\n"},
    "LOCALDOMAIN": {"env": {"LOCALDOMAIN": T.SEARCH_DOMAIN}},
    "RES_OPTIONS": {"resolv": f"search {T.SEARCH_DOMAIN}\n", "env": {"RES_OPTIONS": "ndots:5"}},
    "HOSTALIASES": {"env": {"HOSTALIASES": "@ALIASES@"}},
}


class Trap:
    """A listener on TRAP_ADDR:PORT in the internet namespace that records every accept."""

    def __init__(self, topo):
        self.sock = topo.socket(topo.inet_ns, socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((T.TRAP_ADDR, PORT))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.accepted = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                c, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted.append(peer)
            c.close()

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture(scope="module")
def trap(topo):
    t = Trap(topo)
    try:
        yield t
    finally:
        t.close()


def _hello_exchange(topo, name):
    """Send a ClientHello naming name to the gateway from the client namespace and read
    until the forwarder closes (a TLS alert) or the upstream answers; returns the bytes."""
    s = topo.socket(topo.client_ns, socket.AF_INET, socket.SOCK_STREAM, bind=T.CLIENT4)
    got = b""
    try:
        s.settimeout(10)
        s.connect((T.GW_IN4, PORT))
        s.sendall(client_hello_bytes(name))
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    finally:
        s.close()
    return got


@pytest.mark.parametrize("case", list(CASES))
def test_upstream_is_asked_only_the_exact_name(topo, trap, case):
    spec = CASES[case]
    env = dict(spec.get("env", {}))
    if env.get("HOSTALIASES") == "@ALIASES@":
        # HOSTALIASES maps one-label names: intranet -> a host under the search domain
        aliases = topo.path("hostaliases")
        with open(aliases, "w") as f:
            f.write(f"intranet trap.{T.SEARCH_DOMAIN}\n")
        os.chmod(aliases, 0o644)
        env["HOSTALIASES"] = aliases
    topo.set_gateway_resolv(spec.get("resolv", ""))
    try:
        topo.restart_daemon("gatehouse-forwarder", env)
        before = len(topo.upstream_queries())
        mark = topo.mark()
        for name in NAMES:
            _hello_exchange(topo, name)
        # nx.ok.test and intranet do not exist; api.example.test does, but nothing listens
        # on its port 9443: connect-failed (the trap would have accepted)
        want = {"nx.ok.test": "resolve-failed", "intranet": "resolve-failed",
                "api.example.test": "connect-failed"}
        for name, reason in want.items():
            topo.expect_conn(PORT, "deny", name, (T.CLIENT4,), reason=reason)
            e = topo.wait_audit("gatehouse-forwarder", lambda e, n=name: e.get("name") == n,
                                since=mark, timeout=15)[-1]
            assert (e["verdict"], e["reason"]) == ("deny", reason), e
        # dnsmasq writes its log as it goes
        asked = wait_until(lambda: topo.upstream_queries()[before:],
                           lambda asked: {n for _, n, _ in asked} >= set(NAMES), 10,
                           interval=0.05)
        assert {src for _, _, src in asked} == {T.GW_OUT4}, asked
        wrong = sorted({n for _, n, _ in asked if n not in NAMES})
        assert not wrong, f"{case}: the upstream was asked for {wrong}"
        assert {n for _, n, _ in asked} == set(NAMES), asked
        assert not trap.accepted, f"{case}: the search-domain host was dialled: {trap.accepted}"
    finally:
        topo.set_gateway_resolv()
        topo.restart_daemon("gatehouse-forwarder")
