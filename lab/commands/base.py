"""Shared parsing machinery: tokenizing, the Op base class, iproute2-style prefix matching and errors.

Pure: never touches the kernel. Family parsers (ip, bridge, tc, iptables, sysctl) build on this.
"""
from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass
from typing import Callable, ClassVar

from lab.errors import LabError

LONG_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"


class ParseError(LabError):
    """Malformed input: raised before anything is applied."""


@dataclass(frozen=True)
class Op:
    """A typed intent. `ns` is the namespace it acts in (None = the top namespace)."""

    ns: str | None
    # fields holding file paths: the engine confines them when a scenario file runs the command (lab.confine)
    file_args: ClassVar[tuple[str, ...]] = ()
    # run by a layer above the engine (trace: lab.tracer, grade: lab.scenario), registered with lab.engine.handles
    runs_above: ClassVar[bool] = False

    @property
    def mutates(self) -> bool:
        """False for read-only ops (show/list/get)."""
        return True


@dataclass(frozen=True)
class ReadOp(Op):
    """An Op that only reads the kernel (show, list, get, help)."""

    @property
    def mutates(self) -> bool:
        return False


@dataclass(frozen=True)
class ShowOpts:
    """iproute2's output switches, shared by ip, tc and bridge."""
    json: bool = False
    brief: bool = False
    details: bool = False
    stats: bool = False
    family: int | None = None   # 4, 6 or None
    pretty: bool = False
    oneline: bool = False       # -o: one line per record, its line breaks shown as "\"


IGNORED_OPTIONS = ("color", "colour", "human-readable", "iec", "raw", "graph", "timestamp", "ts",
                   "compressvlans")


def global_options(a: "Args", ns: str | None, tool: str) -> tuple[str | None, ShowOpts, str | None]:
    """Consume the leading options iproute2's tools share (-n NS, -j, -s, -d, -p, -4/-6, ip's -br; display
    switches that change nothing here are accepted and ignored). Returns (ns, opts, special) where special
    is "version" for -V and "help" for -h (ip's -h means human-readable, as in iproute2)."""
    opts: dict = {}
    special = None
    while a and (a.peek() or "").startswith("-") and a.peek() != "-" and special is None:
        o = a.next().lstrip("-")
        if o in ("n", "netns") or (len(o) > 1 and "netns".startswith(o) and o.startswith("ne")):
            ns = need_ns_name(a.next("a namespace name"))
        elif o in ("V", "Version"):
            special = "version"
        elif o in ("h", "help") and tool != "ip":
            special = "help"
        elif tool == "ip" and o in ("br", "bri", "brie", "brief"):
            opts["brief"] = True
        elif o in ("4", "6"):
            opts["family"] = int(o)
        elif o in ("f", "family") or (len(o) > 1 and "family".startswith(o)):
            fam = a.next("a protocol family")
            if fam not in ("inet", "inet6"):
                raise ParseError(f'Error: argument "{fam}" is wrong: lab knows the families inet and inet6 '
                                 f'(as ip -4 / ip -6).' if fam in ("link", "bridge", "mpls") else
                                 f'Error: argument "{fam}" is wrong: invalid protocol family')
            opts["family"] = 4 if fam == "inet" else 6
        elif o in ("o", "oneline") or (len(o) > 1 and "oneline".startswith(o)):
            opts["oneline"] = True
        elif o and "json".startswith(o):
            opts["json"] = True
        elif o and ("statistics".startswith(o) or "stats".startswith(o)):
            opts["stats"] = True
        elif o and "details".startswith(o):
            opts["details"] = True
        elif o and "pretty".startswith(o):
            opts["pretty"] = True
        elif o in ("h", "human") or (o and any(x.startswith(o) for x in IGNORED_OPTIONS)):
            pass
        else:
            raise ParseError(f'Option "-{o}" is unknown, try "{tool} -help".')
    return ns, ShowOpts(**opts), special


@dataclass(frozen=True)
class Context:
    """What a pure parser may know about the lab: names only, for shorthands and did-you-mean."""

    namespaces: tuple[str, ...] = ()


class LiveContext(Context):
    """A Context whose namespace names are listed only when a parser asks for them (a shorthand like `red ping`,
    a did-you-mean): most commands never do, and listing thousands of namespaces per command would make
    building a large lab quadratic."""

    _lister: Callable[[], tuple[str, ...]]

    def __init__(self, lister: Callable[[], tuple[str, ...]]) -> None:   # noqa: D107 - no dataclass fields
        object.__setattr__(self, "_lister", lister)

    @property
    def namespaces(self) -> tuple[str, ...]:
        return self._lister()


def tokenize(line: str) -> list[str]:
    """Split like a shell would; reject long dashes pasted from web pages with the fix, and NUL characters
    (no name or argument can hold one: the kernel and every tool would cut the word there)."""
    if "\0" in line:
        word = next((w for w in line.split() if "\0" in w), "")
        shown = word.replace("\0", "\\0")
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise ParseError(f'Bad argument "{shown}": it contains a NUL character (\\0), which no name or argument '
                         "can hold.", "Remove the NUL character (did a file or a paste bring binary data?)")
    if not any(ch in line for ch in "'\"\\#"):
        words = line.split()  # the common case, without shlex's per-character state machine
    else:
        try:
            words = shlex.split(line, comments=True)
        except ValueError as e:
            raise ParseError(f"Cannot parse line: {e} (an unclosed quote?)") from None
    for w in words:
        if w and w[0] in LONG_DASHES:
            fixed = "--" + w.lstrip(LONG_DASHES) if len(w.lstrip(LONG_DASHES)) > 1 else "-" + w.lstrip(LONG_DASHES)
            raise ParseError(
                f'Bad argument "{w}": it starts with a long dash ({w[0]}), as text copied from web pages does.',
                f"Use ASCII hyphens: {fixed}")
    return words


def matches(word: str, full: str) -> bool:
    """iproute2's matches(): `word` is a non-empty prefix of `full`."""
    return bool(word) and full.startswith(word)


def pick(word: str, choices: list[str], what: str, cmd: str) -> str:
    """The first choice `word` abbreviates (iproute2 order decides ties), or a ParseError naming the valid ones."""
    for c in choices:
        if matches(word, c):
            return c
    raise ParseError(f'Command "{word}" is unknown, try "{cmd} help".',
                     f"{what} is one of: {', '.join(choices)}")


class Args:
    """A cursor over argv with iproute2-flavoured helpers."""

    def __init__(self, argv: list[str], cmd: str):
        self.argv = list(argv)
        self.i = 0
        self.cmd = cmd

    def __bool__(self) -> bool:
        return self.i < len(self.argv)

    def peek(self) -> str | None:
        return self.argv[self.i] if self.i < len(self.argv) else None

    def next(self, what: str = "argument") -> str:
        if self.i >= len(self.argv):
            prev = self.argv[self.i - 1] if self.i else self.cmd
            raise ParseError('Command line is not complete. Try option "help"',
                             f'"{prev}" needs {what} after it.')
        w = self.argv[self.i]
        self.i += 1
        return w

    def rest(self) -> list[str]:
        r = self.argv[self.i:]
        self.i = len(self.argv)
        return r

    def int(self, what: str, lo: int = 0, hi: int = 2**32 - 1) -> int:
        w = self.next(what)
        try:
            v = int(w, 0)
        except ValueError:
            raise ParseError(f'Error: argument "{w}" is wrong: {what} must be a number') from None
        if not lo <= v <= hi:
            raise ParseError(f'Error: argument "{w}" is wrong: {what} must be between {lo} and {hi}')
        return v


def need_ip(word: str, what: str = "address", family: int | None = None) -> str:
    try:
        a = ipaddress.ip_address(word)
    except ValueError:
        raise ParseError(f'Error: any valid prefix is expected rather than "{word}".',
                         f"{what} must be an IP address like 10.0.0.1") from None
    if family and a.version != family:
        raise ParseError(f'Error: {what} "{word}" is not IPv{family}.')
    return str(a)


def need_prefix(word: str, what: str = "prefix", require_len: bool = False) -> tuple[str, int]:
    """Parse ADDR[/LEN]; the host part may be non-zero (like `ip addr add 10.0.0.1/24`)."""
    if "/" in word:
        addr, _, plen = word.partition("/")
    else:
        if require_len:
            raise ParseError(f'Error: "{word}" has no netmask.',
                             f"Add the prefix length, e.g. {word}/24 (without it the kernel assumes /32).")
        addr, plen = word, ""
    try:
        a = ipaddress.ip_address(addr)
    except ValueError:
        raise ParseError(f'Error: any valid prefix is expected rather than "{word}".',
                         f"{what} must look like 10.0.0.1/24") from None
    maxlen = 32 if a.version == 4 else 128
    if plen == "":
        return str(a), maxlen
    if not plen.isdigit() or int(plen) > maxlen:
        raise ParseError(f'Error: any valid prefix is expected rather than "{word}".',
                         f"the prefix length must be 0..{maxlen}")
    return str(a), int(plen)


def need_mac(word: str, bridge: bool = False) -> str:
    parts = word.split(":")
    if len(parts) != 6 or not all(len(p) in (1, 2) and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        raise ParseError(f"Invalid mac address {word}" if bridge else f'"{word}" is invalid lladdr.',
                         "A link address reads aa:bb:cc:dd:ee:ff.")
    return ":".join(p.zfill(2).lower() for p in parts)


def need_lladdr(word: str) -> str:
    """iproute2's ll_addr_a2n: hex bytes separated by colons, any count (a broadcast or tunnel address)."""
    parts = word.split(":")
    if not word or not all(0 < len(p) <= 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        raise ParseError(f'"{word}" is invalid lladdr.', "A link address reads aa:bb:cc:dd:ee:ff.")
    return ":".join(p.zfill(2).lower() for p in parts)


def need_name(word: str, what: str = "device name") -> str:
    if not word or len(word) > 15 or "/" in word or any(c.isspace() for c in word) or word in (".", ".."):
        raise ParseError(f'Error: "{word}" is not a valid {what}.',
                         "Names are 1-15 characters, with no spaces or slashes.")
    return word


def need_ns_name(word: str) -> str:
    if not word or "/" in word or word in (".", "..") or any(c.isspace() for c in word) or len(word) > 200:
        raise ParseError(f'Invalid netns name "{word}"')
    return word
