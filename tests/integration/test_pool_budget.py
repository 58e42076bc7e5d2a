"""`answer pool`'s budget per client (pool-max-per-client), on the real gatehouse-resolver
on loopback: 127/8 is local, so a pool under it passes the start-up check.

A client asking new names under an allowed wildcard (or any name in report mode) would
otherwise take every pool address for a pool-hold; past its budget its new names get the
gateway's own address (the fallback), counted, while names it holds keep theirs and other
clients still get pool addresses.

Run: GATEHOUSE_BUILD=$PWD/build /usr/bin/python3 -m pytest -q tests/integration/test_pool_budget.py
"""

import ipaddress
import os
import urllib.request

import dns.message
import dns.query
import dns.rdatatype
import pytest

from conftest import dns_ready
from gh_testlib import metric_sum, scaled
from peers import free_metrics_port, free_port

GW = "127.0.0.1"
CLIENT_A, CLIENT_B = "127.0.0.2", "127.0.0.3"
POOL = ipaddress.ip_network("127.86.0.0/28")            # 14 addresses
T = scaled(5.0)


def start(gatehouse, settings):
    port, mport = free_port(), free_metrics_port(GW)
    conf = ("dns-listen %s:%d\nanswer pool %s\nforward-listen 0.0.0.0\nmetrics %s:%d\n"
            "pool-state %s\nallow *.w.test 22\n%s" % (
                GW, port, POOL, GW, mport, os.path.join(gatehouse.workdir, "pool"), settings))
    d = gatehouse.start("gatehouse-resolver", conf, ready=dns_ready(GW, port))
    d.port, d.mport = port, mport
    return d


def a(d, src, name):
    q = dns.message.make_query(name, "A")
    r = dns.query.udp(q, GW, port=d.port, timeout=T, source=src, ignore_unexpected=True)
    return [x.address for rr in r.answer if rr.rdtype == dns.rdatatype.A for x in rr]


def metric(d, name):
    with urllib.request.urlopen("http://%s:%d/metrics" % (GW, d.mport), timeout=T) as r:
        return metric_sum(r.read().decode(), name)


def in_pool(addrs):
    return len(addrs) == 1 and ipaddress.ip_address(addrs[0]) in POOL


def test_a_client_past_its_budget_gets_the_gateway_address(gatehouse):
    d = start(gatehouse, "pool-max-per-client 3\n")
    first = [a(d, CLIENT_A, "n%d.w.test" % i) for i in range(3)]
    assert all(in_pool(x) for x in first), first
    assert len({x[0] for x in first}) == 3
    # past the budget: the fallback, counted; the pool is not full
    assert a(d, CLIENT_A, "n3.w.test") == [GW]
    assert a(d, CLIENT_A, "n4.w.test") == [GW]
    assert metric(d, "gatehouse_pool_client_limited_total") == 2
    assert metric(d, "gatehouse_pool_exhausted_total") == 0
    # names it holds keep their address, whatever its budget
    assert a(d, CLIENT_A, "n1.w.test") == first[1]
    # another client has a budget of its own, and a name held for A is no new name for B
    assert a(d, CLIENT_B, "n0.w.test") == first[0]
    b = [a(d, CLIENT_B, "m%d.w.test" % i) for i in range(3)]
    assert all(in_pool(x) for x in b) and len({x[0] for x in b} | {x[0] for x in first}) == 6
    assert a(d, CLIENT_B, "m3.w.test") == [GW]
    assert metric(d, "gatehouse_pool_names") == 6
    assert metric(d, "gatehouse_pool_client_limited_total") == 3


def test_no_budget_with_zero(gatehouse):
    d = start(gatehouse, "pool-max-per-client 0\n")
    got = [a(d, CLIENT_A, "n%d.w.test" % i) for i in range(14)]
    assert all(in_pool(x) for x in got) and len({x[0] for x in got}) == 14
    assert a(d, CLIENT_A, "late.w.test") == [GW]            # the pool is full now
    assert metric(d, "gatehouse_pool_exhausted_total") == 1
    assert metric(d, "gatehouse_pool_client_limited_total") == 0
