"""Every configuration block of README.md and docs/*.md passes `--check` as printed, in
both binaries (issue 11: the README's own `allow ... private` + `route` example was
refused).

The documents mark their fenced blocks: ```conf is a configuration file, ```env an env_file
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

import glob
import os
import re
import shutil
import subprocess
import sys

import pytest

from gh_testlib import REPO, daemon_env, scaled

from conftest import Gatehouse

README = os.path.join(REPO, "README.md")
ARCHITECTURE = os.path.join(REPO, "ARCHITECTURE.md")
DOCS = [README, ARCHITECTURE] + sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))
BINARIES = ["gatehouse-resolver", "gatehouse-forwarder"]
FENCE = re.compile(r"^( *)```(.*)$")


def doc_name(path):
    return os.path.relpath(path, REPO)


def blocks(path=README, text=None):
    """[(line number, info string, text)] of every fenced block of path (or of text,
    a part of it), dedented."""
    out = []
    if text is None:
        text = open(path, encoding="utf-8").read()
    lines = text.split("\n")
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
        assert i < len(lines), "%s:%d: a fence that is never closed" % (doc_name(path), start)
        out.append((start, info, "\n".join(body) + "\n"))
        i += 1
    return out


def config_blocks(paths=DOCS):
    """The conf/env blocks of the documents, each with the expected messages of an
    `error` block."""
    out = []
    for path in paths:
        out += _config_blocks(path)
    return out


def _config_blocks(path):
    bs = blocks(path)
    name = doc_name(path)
    out = []
    for n, (line, info, text) in enumerate(bs):
        kind = info.split()
        if not kind or kind[0] not in ("conf", "env"):
            continue
        expect = None
        if kind[1:] == ["error"]:
            nxt = bs[n + 1] if n + 1 < len(bs) else None
            assert nxt is not None and nxt[1] == "text", \
                "%s:%d: a `%s` block must be followed by a ```text block with its " \
                "message" % (name, line, info)
            expect = [l for l in nxt[2].splitlines() if l.strip()]
        else:
            assert kind[1:] == [], "%s:%d: unknown block kind '%s'" % (name, line, info)
        out.append(pytest.param(kind[0], text, expect, id="%s:%d" % (name, line)))
    return out


@pytest.mark.parametrize("path", DOCS, ids=doc_name)
def test_every_block_is_marked(path):
    unmarked = [line for line, info, _ in blocks(path) if info == ""]
    assert not unmarked, "%s lines %s: fenced blocks without a kind (conf, env, sh, " \
        "console, text, json...)" % (doc_name(path), unmarked)


def test_the_readme_s_examples_are_checked():
    blocks = [(p.values[0], p.values[2] is not None) for p in config_blocks([README])]
    # the README's file example, its environment example and the deliberately bad one
    # (the private-route example is gatehouse.conf(5)'s: test_man.py): losing a marker
    # must not silently drop a test
    assert blocks.count(("conf", False)) >= 1 and blocks.count(("env", False)) >= 1 and \
        blocks.count(("conf", True)) >= 1, blocks


def _use_namespace():
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


def run_check(gatehouse, binary, kind, text, env=None):
    """--check on the block: a conf block as gatehouse.conf in the test's directory, an
    env block's lines as the environment (and /dev/null as the file), plus env. binary: a
    daemon's name (the build's) or a path."""
    argv = [binary if os.path.isabs(binary) else Gatehouse.binary(binary), "--check"]
    env = dict(env or {})
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


# ---- links between the documents

LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, blanks as '-'."""
    h = re.sub(r"[`*_]", "", heading.strip().lower())
    h = re.sub(r"[^\w\- ]", "", h)
    return h.replace(" ", "-")


def anchors(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"^ *```.*?^ *```", "", text, flags=re.S | re.M)   # no headings in blocks
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.*)$", text, re.M)}


@pytest.mark.parametrize("path", DOCS, ids=doc_name)
def test_relative_links_resolve(path):
    """Every link to a file of the tree (and to a heading in it) leads somewhere: files
    move, and a document must not be left pointing at the old place."""
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"^ *```.*?^ *```", "", text, flags=re.S | re.M)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue                          # http:, https:, mailto:
        file, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
        if not os.path.exists(dest):
            broken.append(target)
        elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
            broken.append(target + " (no such heading)")
    assert not broken, "%s: links that lead nowhere: %s" % (doc_name(path), broken)


# ---- ARCHITECTURE.md is the layout: every source file, no file that is gone

def architecture_tables():
    """{directory: [file names in the first column of its table]} for the sections
    "## common/: ...", "## resolver/: ...", "## forwarder/: ...", "## tools/: ..." of
    ARCHITECTURE.md."""
    text = open(ARCHITECTURE, encoding="utf-8").read()
    out = {}
    for m in re.finditer(r"^## (common|resolver|forwarder|tools)/:.*?$(.*?)(?=^## |\Z)", text,
                         re.S | re.M):
        out[m.group(1)] = re.findall(r"^\| `([a-z_]+\.[ch])` \|", m.group(2), re.M)
    return out


def test_architecture_names_every_source_file_and_only_those():
    """Each .c of common/, resolver/, forwarder/ and tools/ has its row (who owns what); each
    file a row names exists. A file added, renamed or deleted without its row fails."""
    tables = architecture_tables()
    assert sorted(tables) == ["common", "forwarder", "resolver", "tools"], tables
    for d, named in tables.items():
        there = set(os.listdir(os.path.join(REPO, d)))
        missing = sorted(f for f in there if f.endswith(".c") and f not in named)
        gone = sorted(f for f in named if f not in there)
        assert not missing, "ARCHITECTURE.md has no row for %s/%s" % (d, missing)
        assert not gone, "ARCHITECTURE.md names files %s/ does not have: %s" % (d, gone)
        assert len(named) == len(set(named)), "a file with two rows in %s/" % d


# ---- the README's Install section names what the machine needs

def install_packages():
    """(packages the Install section's apt-get lines name, packages its `sudo make demo`
    comment names)."""
    text = open(README, encoding="utf-8").read()
    section = re.search(r"^## Install\n(.*?)^## ", text, re.S | re.M).group(1)
    body = "\n".join(t for _, info, t in blocks(README, section) if info == "sh")
    body = body.replace("\\\n", " ")
    apt, demo = set(), set()
    for line in body.splitlines():
        m = re.search(r"apt-get install (.*)", line)
        if m:
            apt |= set(m.group(1).split())
        m = re.search(r"# sudo make demo needs, of those: (.*)", line)
        if m:
            demo |= set(m.group(1).split())
            continue
        if demo and line.startswith("# ") and not line.startswith("# make") and \
                not line.startswith("# build"):
            demo |= set(line[2:].split())
    return apt, demo


def test_install_names_every_package_of_ci_packages():
    with open(os.path.join(REPO, ".ci", "packages")) as f:
        ci = {l.strip() for l in f if l.strip() and not l.startswith("#")}
    # and what .ci/run installs by name, beside the list (kubernetes-client, where no
    # kubectl is installed)
    with open(os.path.join(REPO, ".ci", "run")) as f:
        ci |= set(re.findall(r"apt-get install -y -q --no-install-recommends ([a-z0-9][a-z0-9.+-]*)$",
                             f.read(), re.M))
    assert "kubernetes-client" in ci
    apt, demo = install_packages()
    assert apt == ci, "README Install and .ci/packages differ: only in the README %s, only " \
        "in .ci/packages %s" % (sorted(apt - ci), sorted(ci - apt))
    sys.path.insert(0, os.path.join(REPO, "demo"))
    import demo as demo_py
    needed = {pkg for _, pkg in demo_py.PROGRAMS + demo_py.MODULES} - {"libc-bin"}
    assert demo == needed, "the README's list for sudo make demo %s, demo.py's %s" % (
        sorted(demo), sorted(needed))
