"""`make demo` on a machine that lacks what it runs: a sentence naming the Debian packages
and exit status 1, before anything is built (it used to end in a Python traceback when
dnsmasq was missing); as a non-root user, that it needs root.

Run: /usr/bin/python3 -m pytest -q tests/integration/test_demo.py
"""

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "demo"))

import demo  # noqa: E402

PYTHON = "/usr/bin/python3"


def ci_packages():
    with open(os.path.join(REPO, ".ci", "packages")) as f:
        return {l.strip() for l in f if l.strip() and not l.startswith("#")}


def readable_copy():
    """A copy of what demo.py reads (demo/, tests/e2e/, tests/lib/) that any user can read:
    the checkout itself may sit in a directory only root can enter (a clone into a
    mkdtemp directory is 0700). The caller removes it."""
    root = tempfile.mkdtemp(prefix="gatehouse-demo-tree-")
    os.chmod(root, 0o755)
    for part in ("demo", os.path.join("tests", "e2e"), os.path.join("tests", "lib")):
        shutil.copytree(os.path.join(REPO, part), os.path.join(root, part),
                        ignore=shutil.ignore_patterns("__pycache__"))
    for d, _, _ in os.walk(root):
        os.chmod(d, 0o755)
    return root


def run_demo(path_dir, user=None):
    tree = REPO if user is None else readable_copy()
    argv = [PYTHON, os.path.join(tree, "demo", "demo.py"), "--build",
            os.path.join(tempfile.gettempdir(), "gatehouse-no-build")]
    if user is not None:
        argv = [shutil.which("setpriv"), "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + argv
    env = {"PATH": path_dir, "LANG": "C.UTF-8"}
    try:
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    finally:
        if tree != REPO:
            shutil.rmtree(tree)


@pytest.fixture
def path_without_dnsmasq():
    """A PATH directory holding every program the demo runs but dnsmasq."""
    d = tempfile.mkdtemp(prefix="gatehouse-demo-path-")
    os.chmod(d, 0o755)          # the non-root run reads it too
    try:
        for prog, _ in demo.PROGRAMS:
            where = shutil.which(prog)
            if prog != "dnsmasq" and where is not None:
                os.symlink(where, os.path.join(d, prog))
        yield d
    finally:
        shutil.rmtree(d)


def test_every_package_the_demo_names_is_in_ci_packages():
    named = {pkg for _, pkg in demo.PROGRAMS + demo.MODULES} - {"libc-bin"}  # essential
    assert named <= ci_packages(), named - ci_packages()


def test_missing_dnsmasq_is_a_sentence_naming_the_package(path_without_dnsmasq):
    if os.geteuid() != 0:
        pytest.skip("the dependency check after the root check needs root")
    r = run_demo(path_without_dnsmasq)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    # exactly what is missing, and the package to install
    assert "does not have: dnsmasq.\n" in r.stderr, r.stderr
    assert "sudo apt-get install dnsmasq-base\n" in r.stderr, r.stderr
    assert "needs root" not in r.stderr
    assert "starting" not in r.stdout        # stopped before building anything


def test_non_root_is_told_it_needs_root_and_what_is_missing(path_without_dnsmasq):
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("runs the demo as another user: needs root and setpriv")
    r = run_demo(path_without_dnsmasq, user=65534)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    assert "needs root" in r.stderr and "sudo make demo" in r.stderr, r.stderr
    assert "does not have: dnsmasq.\n" in r.stderr, r.stderr
    assert "sudo apt-get install dnsmasq-base\n" in r.stderr, r.stderr
