"""The man pages in man/: each renders with `man -l` without a warning and within 80
columns; gatehouse.conf(5) documents every setting the code has (the settings
`gatehouse-resolver --check` prints), with the default the code uses, the bounds it
enforces and the variable it reads; and the page's marked examples pass `--check` (or fail
with the message printed after them).

In the page source, `.\\" test_man.py: conf` (or `env`, `conf error`) before an .EX block
marks an example to check, as the fences of README.md are (test_readme.py).

Run: GATEHOUSE_BUILD=$PWD/build /usr/bin/python3 -m pytest -q tests/integration/test_man.py
"""

import os
import re
import shutil
import subprocess

import pytest

from test_readme import run_check

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAN_DIR = os.path.join(REPO, "man")
PAGES = sorted(os.listdir(MAN_DIR))
CONF5 = os.path.join(MAN_DIR, "gatehouse.conf.5")
WIDTH = 80


def need_man():
    if shutil.which("man") is None:
        pytest.fail("`man` is not installed: apt-get install man-db groff-base "
                    "(.ci/packages)")


def render(path, width):
    """The page as man shows it, as plain text."""
    env = dict(os.environ, MANWIDTH=str(width), MANPAGER="cat", PAGER="cat", LANG="C.UTF-8")
    r = subprocess.run(["man", "--warnings", "-l", path], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    text = re.sub(r"\x1b\[[0-9;]*m", "", r.stdout)
    return re.sub(r".\x08", "", text), r.stderr


def test_the_four_pages_are_there():
    assert PAGES == ["gatehouse-audit.1", "gatehouse-forwarder.8", "gatehouse-resolver.8",
                     "gatehouse.conf.5"]


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_warnings(page):
    need_man()
    # the check the Makefile's users run by hand: nothing on stderr
    r = subprocess.run("MANWIDTH=%d man --warnings -l %s 2>&1 >/dev/null"
                       % (WIDTH, os.path.join(MAN_DIR, page)),
                       shell=True, capture_output=True, text=True, timeout=60)
    assert r.stdout == "", r.stdout
    text, _ = render(os.path.join(MAN_DIR, page), WIDTH)
    wide = [l for l in text.splitlines() if len(l) > WIDTH]
    assert not wide, "lines wider than %d columns:\n%s" % (WIDTH, "\n".join(wide))


# ---- gatehouse.conf(5) against the code

def code_settings(gatehouse):
    """{setting: value as --check prints it} for an empty configuration (the defaults)."""
    r = run_check(gatehouse, "gatehouse-resolver", "conf", "")
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition(" ")
        out[name] = value
    assert len(out) >= 20, r.stdout
    return out


def page_settings():
    """{setting: (default, bounds text or None, environment variable)} from the rendered
    SETTINGS section of gatehouse.conf(5)."""
    need_man()
    text, _ = render(CONF5, 200)
    m = re.search(r"^SETTINGS\n(.*?)^\S", text, re.S | re.M)
    assert m, "no SETTINGS section"
    # An entry: its tag (the setting's name at the left margin of the list), then its
    # paragraph, which holds a Default: line and an Environment: line.
    out, cur = {}, None
    for line in m.group(1).splitlines():
        tag = re.match(r"^ {7}([a-z][a-z-]*)( |$)", line)
        if tag:
            cur = tag.group(1)
            continue
        d = re.match(r"^ +Default: (.+?)(?:; (.+))?\.$", line)
        if d and cur:
            out[cur] = [d.group(1), d.group(2), None]
        e = re.match(r"^ +Environment: (\S+)$", line)
        if e and cur in out:
            out[cur][2] = e.group(1)
    return {k: tuple(v) for k, v in out.items()}


def env_name(setting):
    return "GATEHOUSE_" + setting.upper().replace("-", "_")


def test_every_setting_of_the_code_is_documented_with_its_default(gatehouse):
    code = code_settings(gatehouse)
    page = page_settings()
    assert sorted(code) == sorted(page), \
        "settings in the code but not in gatehouse.conf(5): %s; in the page but not in the " \
        "code: %s" % (sorted(set(code) - set(page)), sorted(set(page) - set(code)))
    for name, value in code.items():
        default, _, env = page[name]
        assert default == value, "gatehouse.conf(5) says %s defaults to %r, the code %r" % (
            name, default, value)
        assert env == env_name(name), "%s: Environment: %r" % (name, env)


def bound_cases():
    """(setting, value, accepted) at and just past the bounds gatehouse.conf(5) states."""
    cases = []
    for name, (_, bounds, _) in sorted(page_settings().items()):
        if bounds is None:
            continue
        m = re.fullmatch(r"(\d+) to (\d+)", bounds)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            cases += [(name, str(lo), True), (name, str(hi), True), (name, str(hi + 1), False)]
            if lo > 0:
                cases.append((name, str(lo - 1), False))
        elif bounds == "more than 0, at most 7 days":
            cases += [(name, "0", False), (name, "1ms", True), (name, "10080m", True),
                      (name, "604800001ms", False)]
        else:
            raise AssertionError("%s: bounds %r are in no form this test reads" % (name, bounds))
    return cases


# The other settings a value needs to be valid on its own (cache-min-ttl <= cache-max-ttl).
COMPANION = {("cache-min-ttl", "86400"): "cache-max-ttl 86400\n",
             ("cache-max-ttl", "1"): "cache-min-ttl 0\n"}


def test_the_stated_bounds_are_the_code_s(gatehouse):
    cases = bound_cases()
    assert len(cases) >= 40, cases
    wrong = []
    for name, value, accepted in cases:
        text = COMPANION.get((name, value), "") + "%s %s\n" % (name, value)
        r = run_check(gatehouse, "gatehouse-resolver", "conf", text)
        if (r.returncode == 0) != accepted or (not accepted and (
                r.returncode != 2 or name not in r.stderr)):
            wrong.append("%s %s: %s, exit %d: %s" % (name, value, "should pass" if accepted
                         else "should fail", r.returncode, r.stderr.strip()))
    assert not wrong, "\n".join(wrong)


# ---- the page's examples

def roff_text(lines):
    """Source lines of an .EX block as the reader sees them."""
    out = []
    for l in lines:
        l = re.sub(r"\\f[BIRP]", "", l)
        for esc, ch in (("\\-", "-"), ("\\(aq", "'"), ("\\(ga", "`"), ("\\(dq", '"'),
                        ("\\&", ""), ("\\e", "\\")):
            l = l.replace(esc, ch)
        assert "\\" not in l, "an escape this test does not read: %r" % l
        out.append(l)
    return out


def ex_blocks(lines, i):
    """The first .EX block at or after line i: (its lines, the index after .EE)."""
    while lines[i] != ".EX":
        assert lines[i].startswith("."), "text between a test_man.py mark and .EX"
        i += 1
    j = lines.index(".EE", i)
    return lines[i + 1:j], j + 1


def page_examples():
    out = []
    for page in PAGES:
        lines = open(os.path.join(MAN_DIR, page), encoding="utf-8").read().split("\n")
        for n, l in enumerate(lines):
            m = re.match(r'^\.\\" test_man\.py: (.*)$', l)
            if not m:
                continue
            kind = m.group(1).split()
            assert kind[0] in ("conf", "env") and kind[1:] in ([], ["error"]), l
            body, after = ex_blocks(lines, n + 1)
            expect = None
            if kind[1:] == ["error"]:
                msg, _ = ex_blocks(lines, after)
                expect = [" ".join(roff_text(msg))]
            out.append(pytest.param(kind[0], "\n".join(roff_text(body)) + "\n", expect,
                                    id="%s:%d" % (page, n + 1)))
    return out


def test_conf5_has_checked_examples():
    kinds = [p.values[0] for p in page_examples()]
    assert kinds.count("conf") >= 3 and kinds.count("env") >= 1, kinds


@pytest.mark.parametrize("binary", ["gatehouse-resolver", "gatehouse-forwarder"])
@pytest.mark.parametrize("kind,text,expect", page_examples())
def test_page_example_passes_check(gatehouse, binary, kind, text, expect):
    r = run_check(gatehouse, binary, kind, text)
    if expect is None:
        assert r.returncode == 0, "--check refused the example:\n%s\n%s" % (text, r.stderr)
        return
    assert r.returncode == 2, "--check accepted an example marked error:\n%s" % text
    for want in expect:
        msg = re.sub(r"^gatehouse-(resolver|forwarder): ", "", want)
        assert msg in r.stderr, "want %r in:\n%s" % (msg, r.stderr)


@pytest.mark.parametrize("binary", ["gatehouse-resolver", "gatehouse-forwarder"])
def test_help_points_at_the_man_pages(gatehouse, binary):
    r = gatehouse.run(binary, ["--help"])
    assert r.returncode == 0, r.stderr
    assert "man 8 %s" % binary in r.stdout and "man 5 gatehouse.conf" in r.stdout, r.stdout
    page = "%s.8" % binary
    assert page in PAGES


def test_audit_help_points_at_its_page(gatehouse):
    r = gatehouse.run("gatehouse-audit", ["--help"])
    assert r.returncode == 0, r.stderr
    assert "man 1 gatehouse-audit" in r.stdout, r.stdout
    assert "gatehouse-audit.1" in PAGES
