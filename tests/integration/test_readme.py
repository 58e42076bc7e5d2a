"""Every configuration block of README.md passes `--check` as printed, in both binaries
(issue 11: the README's own `allow ... private` + `route` example was refused).

README.md marks its fenced blocks: ```conf is a configuration file, ```env an env_file
(NAME=VALUE lines, no quoting), and `conf error` / `env error` a deliberately bad one,
followed by a ```text block with the message(s) --check prints for it (the file is
gatehouse.conf). Every other block names its kind too (sh, console, text, json), so a
configuration block cannot go untested by being left unmarked.

When run as root, each --check runs in a private mount namespace with a resolv.conf of the
test's own over /etc/resolv.conf, so `upstream system` reads the same servers on every
machine (a host whose resolver is 127.0.0.1:53 would otherwise fail blocks that leave
dns-listen at 0.0.0.0:53, as a start would there).

Run: /usr/bin/python3 -m pytest -q tests/integration/test_readme.py
(the daemons from $GATEHOUSE_BUILD, default build/)
"""

import os
import re
import shutil
import subprocess

import pytest

from gh_testlib import REPO, daemon_env, scaled

from conftest import Gatehouse

README = os.path.join(REPO, "README.md")
BINARIES = ["gatehouse-resolver", "gatehouse-forwarder"]
FENCE = re.compile(r"^( *)```(.*)$")


def blocks():
    """[(line number, info string, text)] of every fenced block, dedented."""
    out = []
    lines = open(README, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, info, start = len(m.group(1)), m.group(2).strip(), i + 1
        body = []
        i += 1
        while i < len(lines) and not re.match(r"^ *```\s*$", lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        assert i < len(lines), "README.md:%d: a fence that is never closed" % start
        out.append((start, info, "\n".join(body) + "\n"))
        i += 1
    return out


def config_blocks():
    """The conf/env blocks, each with the expected messages of an `error` block."""
    bs = blocks()
    out = []
    for n, (line, info, text) in enumerate(bs):
        kind = info.split()
        if not kind or kind[0] not in ("conf", "env"):
            continue
        expect = None
        if kind[1:] == ["error"]:
            nxt = bs[n + 1] if n + 1 < len(bs) else None
            assert nxt is not None and nxt[1] == "text", \
                "README.md:%d: a `%s` block must be followed by a ```text block with its " \
                "message" % (line, info)
            expect = [l for l in nxt[2].splitlines() if l.strip()]
        else:
            assert kind[1:] == [], "README.md:%d: unknown block kind '%s'" % (line, info)
        out.append(pytest.param(kind[0], text, expect, id="README.md:%d" % line))
    return out


def test_every_block_is_marked():
    unmarked = [line for line, info, _ in blocks() if info == ""]
    assert not unmarked, "README.md lines %s: fenced blocks without a kind (conf, env, sh, " \
        "console, text, json...)" % unmarked
    kinds = [p.values[0] for p in config_blocks()]
    # the README's file example, its environment example, the private-route example, and
    # the deliberately bad one: losing a marker must not silently drop a test
    assert kinds.count("conf") >= 3 and kinds.count("env") >= 1, kinds


def _use_namespace():
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


def run_check(gatehouse, binary, kind, text):
    """--check on the block: a conf block as gatehouse.conf in the test's directory, an
    env block's lines as the environment (and /dev/null as the file)."""
    argv = [Gatehouse.binary(binary), "--check"]
    env = {}
    if kind == "conf":
        gatehouse.write("gatehouse.conf", text)
        argv += ["-c", "gatehouse.conf"]
    else:
        for l in text.splitlines():
            if l.strip() and not l.startswith("#"):
                name, _, value = l.partition("=")
                env[name] = value
        argv += ["-c", "/dev/null"]
    if _use_namespace():
        rc = gatehouse.write("resolv.conf", "nameserver 192.0.2.53\n")
        argv = ["unshare", "--mount", "sh", "-c",
                'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"', "sh", rc] + argv
    return subprocess.run(argv, env=daemon_env(env), cwd=gatehouse.workdir,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=scaled(10))


@pytest.mark.parametrize("binary", BINARIES)
@pytest.mark.parametrize("kind,text,expect", config_blocks())
def test_readme_block_passes_check(gatehouse, binary, kind, text, expect):
    r = run_check(gatehouse, binary, kind, text)
    if expect is None:
        assert r.returncode == 0, "--check refused the block:\n%s\n%s" % (text, r.stderr)
        assert "configuration ok" in r.stderr
        return
    assert r.returncode == 2, "--check accepted a block marked error:\n%s" % text
    for want in expect:
        # the message as printed, whichever binary printed it
        msg = re.sub(r"^gatehouse-(resolver|forwarder): ", "", want)
        assert msg in r.stderr, "want %r in:\n%s" % (msg, r.stderr)
