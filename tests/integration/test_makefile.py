"""The Makefile's own recipes, run by make with its default shell (/bin/sh: dash on
Debian). `make fuzz` once used bash's PIPESTATUS, which dash rejects, so it failed on every
run whatever the fuzzers did. Here the recipe runs two stand-in targets (the recipe's exit
status is under test, not a fuzzer): one that succeeds, one that reports a crash."""

import os
import stat
import subprocess
import tempfile

import pytest

from gh_testlib import BUILD, REPO


def _target(d, name, text, rc):
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write("#!/bin/sh\nprintf '%s\\n'\nexit %d\n" % (text, rc))
    os.chmod(p, os.stat(p).st_mode | stat.S_IXUSR)
    return p


def _make_fuzz(targets, d):
    return subprocess.run(["make", "-s", "-C", REPO, "fuzz", "FUZZ_SECONDS=1",
                           "FUZZ_BUILD=" + d, "FUZZ_TARGETS=" + " ".join(targets)],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory(prefix="gatehouse-make-") as d:
        yield d


def test_make_fuzz_passes_when_the_fuzzers_pass(workdir):
    ok = _target(workdir, "fuzz_ok", "stat::number_of_executed_units: 7", 0)
    r = _make_fuzz([ok], workdir)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "stat::number_of_executed_units: 7" in r.stdout


def test_make_fuzz_fails_when_a_fuzzer_fails(workdir):
    ok = _target(workdir, "fuzz_ok", "Done 3 runs", 0)
    bad = _target(workdir, "fuzz_bad", "==1==ERROR: libFuzzer: deadly signal", 1)
    r = _make_fuzz([ok, bad], workdir)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "ERROR: libFuzzer: deadly signal" in r.stdout


# ---- include paths -------------------------------------------------------------------------

def _include_dirs(target, workdir):
    """The tree's -I directories make would compile target with (printed, not run; a
    library's absolute path from pkg-config is not the tree's)."""
    r = subprocess.run(["make", "-n", "-B", "-C", REPO, "BUILD=" + workdir,
                        os.path.join(workdir, target)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    line = [ln for ln in r.stdout.splitlines() if " -o %s/%s " % (workdir, target) in ln][-1]
    return sorted(w[2:] for w in line.split() if w.startswith("-I") and w[2:3] not in ("", "/"))


@pytest.mark.parametrize("obj,dirs", [
    ("obj/common/preflight.o", ["common"]),
    ("obj/resolver/server.o", ["common", "resolver"]),
    ("obj/forwarder/dns.o", ["common", "forwarder"]),
])
def test_each_directory_sees_only_its_headers(workdir, obj, dirs):
    """common/ cannot include a daemon's header, nor one daemon the other's."""
    assert _include_dirs(obj, workdir) == dirs


# ---- libraries -----------------------------------------------------------------------------

def _needed(binary):
    """The shared libraries binary names in its dynamic section (DT_NEEDED)."""
    r = subprocess.run(["readelf", "-d", os.path.join(BUILD, binary)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return [ln.split("[", 1)[1].rstrip("]") for ln in r.stdout.splitlines() if "(NEEDED)" in ln]


@pytest.mark.parametrize("binary,has,lacks", [
    ("gatehouse-resolver", "libldns.so", "libcares.so"),
    ("gatehouse-forwarder", "libcares.so", "libldns.so"),
    ("gatehouse-forwarder", "libcares.so", "libjansson.so"),
    ("gatehouse-resolver", "libldns.so", "libjansson.so"),
    ("gatehouse-audit", "libjansson.so", "libldns.so"),
    ("gatehouse-audit", "libpsl.so", "libcares.so"),
])
def test_each_daemon_links_only_its_dns_library(binary, has, lacks):
    """ldns only in the resolver (it builds answers), c-ares only in the forwarder (it
    resolves): a daemon carries no library it never calls."""
    needed = _needed(binary)
    assert any(n.startswith(has) for n in needed), needed
    assert not any(n.startswith(lacks) for n in needed), needed
