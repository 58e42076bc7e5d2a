"""bench/dnswire.py: one UDP DNS query and its rcode and A answers, to check every server's answers."""
import random
import socket
import struct


def build_query(name, qtype=1, qid=None):
    qid = random.randrange(65536) if qid is None else qid
    out = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode("ascii")
    return qid, out + b"\x00" + struct.pack("!HH", qtype, 1)


def skip_name(msg, off):
    while True:
        n = msg[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n


def parse_answer(msg):
    """(rcode, [IPv4 strings in the answer section])."""
    _, flags, qd, an, _, _ = struct.unpack("!HHHHHH", msg[:12])
    off = 12
    for _ in range(qd):
        off = skip_name(msg, off) + 4
    addrs = []
    for _ in range(an):
        off = skip_name(msg, off)
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
        off += 10
        if rtype == 1 and rdlen == 4:
            addrs.append(socket.inet_ntoa(msg[off:off + 4]))
        off += rdlen
    return flags & 0xF, addrs


def query(addr, name, port=53, timeout=1.0):
    """(rcode, addrs), or None when no answer came within timeout."""
    qid, q = build_query(name)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(q, (addr, port))
        while True:
            msg, _ = s.recvfrom(4096)
            if len(msg) >= 12 and struct.unpack("!H", msg[:2])[0] == qid:
                return parse_answer(msg)
    except (socket.timeout, OSError):
        return None
    finally:
        s.close()


def check(addr, pairs, answer):
    """Mismatches between the server's answers and the job: [(name, expected, got)].
    answer: the address an allowed name gets, or a function of the answer's addresses
    that says whether they are right."""
    bad = []
    for name, expect in pairs:
        r = query(addr, name)
        if r is None:
            got = "timeout"
        elif r[0] == 0 and (answer(r[1]) if callable(answer) else answer in r[1]):
            got = "allow"
        elif r[0] == 3:
            got = "deny"
        else:
            got = f"rcode {r[0]} {r[1]}"
        if got != expect:
            bad.append((name, expect, got))
    return bad
