"""The trace spec language, parsed without touching the kernel (so lab.commands can validate it):

    NS PROTO DST[:PORT] [--sport N] [--dport N] [--flags SAFRPU] [--ttl N] [--count N]
                        [--payload TEXT] [--size BYTES] [--df] [--src ADDR] [--icmp-type N] [--wait SECONDS]

e.g. `fox icmp 192.168.202.12`, `red tcp 10.0.0.2:80 --sport 1234 --flags S`,
`red udp 10.0.0.2:53 --ttl 5 --count 1 --payload hello --src 10.0.0.9`.
"""
from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass

from lab.errors import LabError

PROTOS = ("icmp", "tcp", "udp")
USAGE = ("trace NS icmp|tcp|udp DST[:PORT] [--sport N] [--flags S] [--ttl N] [--count N] [--payload TEXT] "
         "[--size BYTES] [--df] [--src ADDR]")
OPTIONS = ("--sport", "--dport", "--flags", "--ttl", "--count", "--payload", "--size", "--df", "--src", "--icmp-type",
           "--wait")
FLAGS = ("--df",)                   # options without a value
HEADERS = {"icmp": 28, "udp": 28, "tcp": 40}   # IP + L4 header bytes: the smallest --size
TCP_FLAGS = "FSRPAUEC"
# the largest payload one IPv4 packet carries: 65535 (total length) - 20 (IP header) - the L4 header
MAX_PAYLOAD = {"icmp": 65535 - 20 - 8, "udp": 65535 - 20 - 8, "tcp": 65535 - 20 - 20}


class SpecError(LabError):
    pass


@dataclass(frozen=True)
class TraceSpec:
    ns: str | None                  # source namespace (None = the top namespace)
    proto: str
    dst: str
    dport: int | None = None
    sport: int | None = None
    flags: str = "S"
    ttl: int = 64
    count: int = 1
    payload: str = ""
    src: str | None = None
    icmp_type: int = 8
    wait: float = 1.0               # longest wait for the last event (seconds)
    size: int | None = None         # the IP packet's total length (the payload is padded to it)
    df: bool = False                # the don't-fragment bit

    def text(self) -> str:
        w = [self.ns or "host", self.proto, f"{self.dst}:{self.dport}" if self.dport is not None else self.dst]
        if self.sport is not None:
            w += ["--sport", str(self.sport)]
        if self.proto == "tcp" and self.flags != "S":
            w += ["--flags", self.flags]
        if self.ttl != 64:
            w += ["--ttl", str(self.ttl)]
        if self.count != 1:
            w += ["--count", str(self.count)]
        if self.payload:
            w += ["--payload", shlex.quote(self.payload)]
        if self.size is not None:
            w += ["--size", str(self.size)]
        if self.df:
            w.append("--df")
        if self.src:
            w += ["--src", self.src]
        return " ".join(w)


def _int(word: str, what: str, lo: int, hi: int) -> int:
    try:
        v = int(word, 0)
    except ValueError:
        raise SpecError(f'{what} "{word}" is not a number', USAGE) from None
    if not lo <= v <= hi:
        raise SpecError(f"{what} {v} is out of range ({lo}..{hi})", USAGE)
    return v


def _ip(word: str, what: str) -> str:
    try:
        a = ipaddress.ip_address(word)
    except ValueError:
        raise SpecError(f'{what} "{word}" is not an IPv4 address', USAGE) from None
    if a.version != 4:
        raise SpecError(f"{what} {word}: the tracer handles IPv4 only for now", USAGE)
    return str(a)


def parse_spec(spec: str | list[str], namespaces: tuple[str, ...] | None = None,
               default_ns: str | None = None) -> TraceSpec:
    """Parse a spec; `namespaces` (if given) validates the source name; with `default_ns` set
    (e.g. `red trace icmp ...`) the namespace word may be left out."""
    try:
        words = shlex.split(spec) if isinstance(spec, str) else list(spec)
    except ValueError as e:
        raise SpecError(f"trace: cannot parse the spec: {e} (an unclosed quote?)", USAGE) from None
    if not words:
        raise SpecError("trace: say what to send", USAGE)
    ns = default_ns
    if words[0].lower() not in PROTOS:
        ns = words.pop(0)
        if ns in ("host", "-", "top"):
            ns = None
        elif namespaces is not None and ns not in namespaces:
            from lab.errors import did_you_mean

            raise SpecError(f'Cannot open network namespace "{ns}": No such file or directory'
                            + did_you_mean(ns, list(namespaces)), USAGE)
    if not words:
        raise SpecError("trace: the protocol is missing (icmp, tcp or udp)", USAGE)
    proto = words.pop(0).lower()
    if proto not in PROTOS:
        raise SpecError(f'trace: unknown protocol "{proto}" (icmp, tcp or udp)', USAGE)
    if not words or words[0].startswith("--"):
        raise SpecError("trace: the destination address is missing", USAGE)
    target = words.pop(0)
    dport = None
    if target.count(":") == 1:
        host, _, port = target.rpartition(":")
        if proto == "icmp":
            raise SpecError(f"trace: icmp has no ports ({target})", "Drop the :PORT, or use tcp/udp.")
        dport = _int(port, "port", 1, 65535)
        target = host
    dst = _ip(target, "destination")
    kw: dict = {}
    while words:
        opt = words.pop(0)
        if opt not in OPTIONS:
            from lab.errors import did_you_mean

            raise SpecError(f'trace: unknown option "{opt}"' + did_you_mean(opt, list(OPTIONS)), USAGE)
        if opt in FLAGS:
            kw["df"] = True
            continue
        if not words:
            raise SpecError(f"trace: {opt} needs a value", USAGE)
        val = words.pop(0)
        if opt == "--sport":
            kw["sport"] = _int(val, "source port", 1, 65535)
        elif opt == "--dport":
            dport = _int(val, "port", 1, 65535)
        elif opt == "--flags":
            f = val.upper()
            bad = [c for c in f if c not in TCP_FLAGS]
            if bad or not f:
                raise SpecError(f'trace: bad TCP flags "{val}"', f"Use letters from {TCP_FLAGS} (e.g. S, SA, R)")
            kw["flags"] = f
        elif opt == "--ttl":
            kw["ttl"] = _int(val, "ttl", 1, 255)
        elif opt == "--count":
            kw["count"] = _int(val, "count", 1, 100)
        elif opt == "--payload":
            kw["payload"] = val
        elif opt == "--size":
            kw["size"] = _int(val, "size", HEADERS[proto], 65535)
        elif opt == "--src":
            kw["src"] = _ip(val, "source")
        elif opt == "--icmp-type":
            kw["icmp_type"] = _int(val, "icmp type", 0, 255)
        elif opt == "--wait":
            try:
                kw["wait"] = max(0.05, min(10.0, float(val)))
            except ValueError:
                raise SpecError(f'trace: --wait "{val}" is not a number of seconds', USAGE) from None
    size = len(kw.get("payload", "").encode())
    if size > MAX_PAYLOAD[proto]:
        raise SpecError(f"trace: --payload is {size} bytes; one IPv4 {proto} packet carries at most "
                        f"{MAX_PAYLOAD[proto]} (65535 minus the IP and {proto.upper()} headers)", USAGE)
    if "size" in kw and size + HEADERS[proto] > kw["size"]:
        raise SpecError(f"trace: --size {kw['size']} is smaller than the headers and the --payload "
                        f"({HEADERS[proto]} + {size} bytes)", USAGE)
    if proto in ("tcp", "udp") and dport is None:
        raise SpecError(f"trace: {proto} needs a destination port (DST:PORT)", f"e.g. {proto} {dst}:80")
    if proto != "tcp" and "flags" in kw:
        raise SpecError("trace: --flags is for tcp", USAGE)
    if proto == "icmp" and "sport" in kw:
        raise SpecError("trace: --sport is for tcp and udp", USAGE)
    return TraceSpec(ns=ns, proto=proto, dst=dst, dport=dport, **kw)
