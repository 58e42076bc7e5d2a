"""`make install` honours PREFIX (default /usr/local) and DESTDIR: the two daemons in
sbin, gatehouse-audit in bin, the man pages in man1, man5 and man8 (naming the documents where they are installed), the
documents and an example configuration in share/doc/gatehouse, nothing in /etc; what it
installs runs, renders and passes --check; `make uninstall` removes it all.

Run: GATEHOUSE_BUILD=$PWD/build /usr/bin/python3 -m pytest -q tests/integration/test_install.py
"""

import glob
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import BUILD
from test_man import need_man
from test_readme import run_check

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make(*args):
    # BUILD: the binaries the rest of the suite tests (build/, or build/san/), already built.
    r = subprocess.run(["make", "-s", "-C", REPO, "BUILD=" + BUILD] + list(args),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def tree(root):
    """{path relative to root: mode} of every file under root."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            out[os.path.relpath(p, root)] = os.stat(p).st_mode & 0o7777
    return out


def expected(prefix):
    p = prefix.strip("/")
    want = {p + "/sbin/gatehouse-resolver": 0o755, p + "/sbin/gatehouse-forwarder": 0o755,
            p + "/share/man/man5/gatehouse.conf.5": 0o644,
            p + "/share/man/man8/gatehouse-resolver.8": 0o644,
            p + "/share/man/man8/gatehouse-forwarder.8": 0o644,
            p + "/bin/gatehouse-audit": 0o755,
            p + "/share/man/man1/gatehouse-audit.1": 0o644,
            p + "/share/doc/gatehouse/README.md": 0o644,
            p + "/share/doc/gatehouse/examples/gatehouse.conf": 0o644}
    for doc in glob.glob(os.path.join(REPO, "docs", "*.md")):
        want[p + "/share/doc/gatehouse/docs/" + os.path.basename(doc)] = 0o644
    return want


@pytest.fixture
def destdir():
    d = tempfile.mkdtemp(prefix="gatehouse-install-")
    try:
        yield d
    finally:
        shutil.rmtree(d)


def test_install_with_prefix_and_destdir(destdir, gatehouse):
    make("install", "DESTDIR=" + destdir, "PREFIX=/usr")
    assert tree(destdir) == expected("/usr")
    usr = os.path.join(destdir, "usr")
    for daemon in ("gatehouse-resolver", "gatehouse-forwarder"):
        r = subprocess.run([os.path.join(usr, "sbin", daemon), "--version"],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 0 and r.stdout.startswith(daemon + " "), r
    r = subprocess.run([os.path.join(usr, "bin", "gatehouse-audit"), "--version"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and r.stdout.startswith("gatehouse-audit "), r
    # the installed pages render without warnings and name the documents where they are
    need_man()
    for page in glob.glob(os.path.join(usr, "share", "man", "man*", "*")):
        r = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                           env=dict(os.environ, MANWIDTH="80", MANPAGER="cat"), timeout=60)
        assert r.returncode == 0 and r.stderr == "", (page, r.stderr)
        text = open(page, encoding="utf-8").read()
        assert "/usr/local/" not in text, page
        assert "/usr/share/doc/gatehouse/" in text, page
    # the example passes --check with the installed daemons
    example = open(os.path.join(usr, "share", "doc", "gatehouse", "examples",
                                "gatehouse.conf")).read()
    for daemon in ("gatehouse-resolver", "gatehouse-forwarder"):
        r = run_check(gatehouse, os.path.join(usr, "sbin", daemon), "conf", example)
        assert r.returncode == 0, r.stderr
    make("uninstall", "DESTDIR=" + destdir, "PREFIX=/usr")
    assert tree(destdir) == {}


def test_prefix_defaults_to_usr_local(destdir):
    make("install", "DESTDIR=" + destdir)
    assert tree(destdir) == expected("/usr/local")
    page = os.path.join(destdir, "usr/local/share/man/man5/gatehouse.conf.5")
    assert "/usr/local/share/doc/gatehouse/examples/gatehouse.conf" in open(page).read()
    assert not os.path.exists(os.path.join(destdir, "etc"))
