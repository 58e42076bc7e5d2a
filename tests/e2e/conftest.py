"""End-to-end tests in network namespaces: fixtures and run order.

One topology (tests/e2e/topology.py) is built for the whole session and torn down at its
end, also on failure or Ctrl-C. Tests record what they did in topo.ledger; the tests marked
end_of_run run last and check the run as a whole (no DNS leak, no direct route out, every
lookup and connection audited, clean daemon exit with no sanitizer report). A module may
build a topology of its own (test_pool.py: a bridge and `answer pool`; test_kubernetes.py:
kube-proxy's node and two replicas); every test fails when a daemon of a topology it uses
died or printed a sanitizer report, and a failing test's report carries those daemons'
last audit lines and stderr.

Environment: GATEHOUSE_BUILD (directory with the daemons, default build/),
GATEHOUSE_E2E_KEEP=1 keeps the work directory (audit files, server logs) for a look after
the run, GATEHOUSE_E2E_TIMEOUT bounds each test (seconds, default 90 times
TEST_TIME_SCALE, which scales every deadline: gh_testlib.scaled).

Skips (with the reason) when not root or when `ip netns` cannot be used.
"""

import os
import signal
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
# this directory, and tests/lib: what this suite shares with the integration tests
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))

import helpers  # noqa: E402
from gh_testlib import BUILD, REPO, scaled  # noqa: E402
import topology as T  # noqa: E402

TEST_TIMEOUT = int(os.environ.get("GATEHOUSE_E2E_TIMEOUT") or scaled(90))
CLIENT_BIN_DIR = os.path.join(REPO, "build", "e2e-clients")


class TestTimeout(BaseException):
    __test__ = False


def pytest_configure(config):
    config.addinivalue_line("markers", "end_of_run(order): runs after every other e2e test, "
                            "in order, to check the run as a whole")


def _is_ours(item):
    return str(item.fspath).startswith(HERE + os.sep)


def pytest_collection_modifyitems(config, items):
    ours = [it for it in items if _is_ours(it)]
    if not ours:
        return
    reason = T.unavailable_reason()
    if reason:
        for it in ours:
            it.add_marker(pytest.mark.skip(reason=f"e2e: {reason}"))

    def key(it):
        if not _is_ours(it):
            return (0, 0)
        m = it.get_closest_marker("end_of_run")
        return (2, m.kwargs.get("order", 0)) if m else (1, 0)
    items.sort(key=key)     # stable: file order is kept inside each group


@pytest.fixture(scope="session")
def topo():
    t = T.Topology(BUILD, keep=bool(os.environ.get("GATEHOUSE_E2E_KEEP")))
    try:
        t.up()
        yield t
    finally:
        if t.keep and t.workdir:
            sys.stderr.write(f"\ne2e: work directory kept: {t.workdir}\n")
        t.down()


@pytest.fixture(scope="session")
def lookup_bins():
    return helpers.build_clients(CLIENT_BIN_DIR)


@pytest.fixture(autouse=True)
def _bounded_and_healthy(request):
    """Each test is bounded in time, and fails when a daemon died or printed a sanitizer
    report during it."""
    def on_alarm(signum, frame):
        # Not an OSError (as TimeoutError is), so no `except OSError` in a test swallows it.
        raise TestTimeout(f"test exceeded {TEST_TIMEOUT}s (GATEHOUSE_E2E_TIMEOUT)")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    problems = [p for t in _topologies(request.node) for p in t.daemon_problems()]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def _topologies(item):
    """The topologies a test uses (the session's `topo`, a module's own)."""
    return [v for v in getattr(item, "funcargs", {}).values() if isinstance(v, T.Topology)]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed and _is_ours(item):
        for t in _topologies(item):
            rep.sections.extend(t.report_sections())
