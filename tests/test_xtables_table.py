"""lab.commands.xtables (the static table of every iptables match/target extension option) against what
iptables-nft / ip6tables-nft --help print on this machine, and against the parser's own option tables."""
from __future__ import annotations

import functools
import glob
import os
import re
import shutil
import subprocess

import pytest

from lab.commands import xtables
from lab.commands.iptables import MATCH_OPTS, TARGET_OPTS

XT_DIR = "/usr/lib/x86_64-linux-gnu/xtables"
TOOLS = {4: "iptables-nft", 6: "ip6tables-nft"}
TABLES = {(4, "m"): xtables.MATCHES, (4, "j"): xtables.TARGETS,
          (6, "m"): xtables.MATCHES6, (6, "j"): xtables.TARGETS6}
TOK = re.compile(r"(?<![\w-])--[A-Za-z0-9][A-Za-z0-9_-]*")
SAMPLE_MATCHES = ["tcp", "udp", "multiport", "conntrack", "comment", "mark", "addrtype", "recent", "hashlimit",
                  "string", "limit", "statistic"]
SAMPLE_TARGETS = ["DNAT", "SNAT", "MASQUERADE", "MARK", "CONNMARK", "CT", "LOG", "REJECT", "TPROXY", "TCPMSS"]


def _path(tool: str) -> str | None:
    return shutil.which(tool) or (f"/usr/sbin/{tool}" if os.access(f"/usr/sbin/{tool}", os.X_OK) else None)


@functools.lru_cache(maxsize=None)
def _why_not_comparable() -> str | None:
    """None when both tools are here at the version the table was generated from, else the skip reason."""
    for tool in TOOLS.values():
        path = _path(tool)
        if path is None:
            return f"{tool} is not installed: cannot compare the table with its --help"
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
        m = re.search(r"v(\d+(?:\.\d+)+)", out)
        if not m or m.group(1) != xtables.IPTABLES_VERSION:
            return (f"{tool} is {m.group(1) if m else 'of unknown version'}, the table was generated from "
                    f"{xtables.IPTABLES_VERSION}: its options may legitimately differ")
    return None


@pytest.fixture
def needs_iptables():
    reason = _why_not_comparable()
    if reason:
        pytest.skip(reason)


def _help(fam: int, *args: str) -> tuple[int, str]:
    r = subprocess.run([_path(TOOLS[fam]), *args, "--help"], capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout


@functools.lru_cache(maxsize=None)
def _generic(fam: int) -> str:
    rc, out = _help(fam)
    assert rc == 0 and out, f"{TOOLS[fam]} --help failed"
    return out


@functools.lru_cache(maxsize=None)
def live(fam: int, kind: str, name: str) -> tuple[str, ...] | None:
    """The options `TOOL -m/-j NAME --help` documents, or None when TOOL has no such extension."""
    rc, out = _help(fam, f"-{kind}", name)
    if rc != 0:
        return None                      # -m: "Couldn't load match"
    assert out.startswith(_generic(fam)), f"{TOOLS[fam]} -{kind} {name} --help: generic help is not a prefix"
    section = out[len(_generic(fam)):]
    if not section.strip():
        return None                      # -j: an unknown NAME is taken for a user chain
    return tuple(sorted(set(TOK.findall(section))))


def _check(fam: int, kind: str, name: str) -> None:
    table = TABLES[(fam, kind)]
    assert table.get(name) == live(fam, kind, name), \
        f"{TOOLS[fam]} -{kind} {name}: table {table.get(name)} != --help {live(fam, kind, name)}"


@pytest.mark.parametrize("kind,name", [("m", n) for n in SAMPLE_MATCHES] + [("j", n) for n in SAMPLE_TARGETS])
def test_common_extensions_match_help(needs_iptables, kind, name):
    assert name in TABLES[(4, kind)], f"{name} missing from the IPv4 table"
    for fam in TOOLS:
        _check(fam, kind, name)


def test_every_extension_matches_help(needs_iptables):
    """Both ways: every table entry equals its --help, and every extension the xtables directory yields
    (the generator's rule: each lib file name tried as -m lower and -j UPPER) is in the table."""
    assert os.path.isdir(XT_DIR), f"{XT_DIR} missing"
    found: dict[tuple[int, str], set[str]] = {k: set() for k in TABLES}
    for path in glob.glob(f"{XT_DIR}/lib*.so"):
        prefix, name = os.path.basename(path)[:-3].split("_", 1)
        for fam in {"libxt": (4, 6), "libipt": (4,), "libip6t": (6,)}.get(prefix, ()):
            for kind, ext in (("m", name.lower()), ("j", name.upper())):
                if live(fam, kind, ext) is not None:
                    found[(fam, kind)].add(ext)
    for (fam, kind), table in TABLES.items():
        what = f"{TOOLS[fam]} -{kind}"
        assert not found[(fam, kind)] - set(table), f"{what}: missing from the table"
        assert not set(table) - found[(fam, kind)], f"{what}: in the table but not an extension here"
        for name in table:
            _check(fam, kind, name)


def _accepts(opts: tuple[str, ...], opt: str) -> bool:
    """opt is one of opts, or a getopt_long abbreviation of exactly one (iptables accepts `-j DNAT --to`
    for --to-destination; --help lists only the full name)."""
    return opt in opts or len([o for o in opts if o.startswith(opt)]) == 1


def _options(kind: str, name: str) -> tuple[str, ...] | None:
    v4, v6 = TABLES[(4, kind)].get(name), TABLES[(6, kind)].get(name)
    if v4 is None and v6 is None:
        return None
    return tuple(sorted(set(v4 or ()) | set(v6 or ())))


def test_parser_options_are_in_the_table():
    problems = []
    for kind, opts, split in (("m", MATCH_OPTS, lambda m: ["tcp", "udp"] if m == "tcpudp" else [m]),
                              ("j", TARGET_OPTS, lambda m: m.split("|"))):
        for opt, (owner, _nargs) in opts.items():
            for name in split(owner):
                have = _options(kind, name)
                if have is None:
                    problems.append(f"-{kind} {name} (for {opt}) is not in the table")
                elif not _accepts(have, opt):
                    problems.append(f"-{kind} {name} {opt} is not in the table ({have})")
    assert not problems, "\n".join(problems)
