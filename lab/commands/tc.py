"""`tc` (iproute2 traffic control) command parser: qdisc, class and filter -> typed Ops.

Accepts tc's abbreviations (`tc q`, `tc qd show`, `tc -s q`, `tc -j`), its unit syntax for rates
(kbit, mbit, gbit, bps, KBps, ...), sizes (b, k/kb, m/mb, kbit, ...) and times (us, ms, s, ...), and
validates every parameter before anything is applied, with tc's wording and an example of the fix.
Supported: qdiscs tbf, htb, ingress, pfifo, bfifo, netem, fq_codel (plus sfq, prio, codel, cake, clsact,
pfifo_fast without parameters), htb classes, and u32/matchall filters with mirred and gact actions.
Pure: never touches the kernel; whether the device exists or the kernel has the qdisc is the backend's
business (lab.backend.tc).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from lab.commands.base import (Args, Context, Op, ParseError, ReadOp, ShowOpts, global_options, matches,
                               need_name, need_prefix, pick)

TC_H_ROOT = 0xFFFFFFFF
TC_H_INGRESS = 0xFFFFFFF1     # parent of the ingress/clsact qdisc
INGRESS_HANDLE = 0xFFFF0000

OBJECTS = ["qdisc", "class", "filter", "help"]
VERBS = ["add", "delete", "replace", "change", "link", "show", "list", "lst", "help"]

QDISC_KINDS = ["tbf", "htb", "ingress", "pfifo", "bfifo", "netem", "fq_codel", "sfq", "prio", "codel",
               "cake", "clsact", "pfifo_fast", "fq", "noqueue"]
CLASSFUL = {"htb", "prio"}
# The words each part of the grammar takes, one table each: the parser refuses any other word there, and
# completion and help read the same tables (tests/test_grammar_coverage.py walks them).
QDISC_WORDS = ("dev", "root", "ingress", "clsact", "parent", "handle")      # before the qdisc kind
QDISC_OPTS: dict[str, tuple[str, ...]] = {   # after it
    "tbf": ("rate", "burst", "buffer", "maxburst", "latency", "lat", "limit", "peakrate", "mtu", "minburst", "mpu"),
    "htb": ("default", "r2q", "direct_qlen"),
    "pfifo": ("limit",), "bfifo": ("limit",),
    "netem": ("delay", "latency", "loss", "drop", "duplicate", "corrupt", "reorder", "gap", "rate", "limit"),
    "fq_codel": ("limit", "flows", "quantum", "target", "interval", "ce_threshold", "ecn", "noecn"),
    "prio": ("bands",), "sfq": ("perturb", "limit", "quantum"), "cake": ("bandwidth", "unlimited"),
}
CLASS_WORDS = ("dev", "parent", "root", "classid", "handle")
CLASS_OPTS: dict[str, tuple[str, ...]] = {"htb": ("rate", "ceil", "burst", "buffer", "maxburst", "cburst", "cbuffer", "cmaxburst", "prio",
                      "quantum", "mtu", "mpu", "overhead")}
FILTER_WORDS = ("dev", "parent", "root", "ingress", "egress", "protocol", "prio", "pref", "priority",
                "preference", "handle", "chain")
FILTER_TAIL = ("flowid", "classid", "action", "skip_hw", "skip_sw")     # every filter kind takes these
FILTER_OPTS: dict[str, tuple[str, ...]] = {"u32": ("match",) + FILTER_TAIL, "matchall": FILTER_TAIL,
               "flower": ("src_ip", "dst_ip", "ip_proto", "src_port", "dst_port") + FILTER_TAIL}
U32_MATCH: dict[str, tuple[str, ...]] = {"ip": ("src", "dst", "sport", "dport", "protocol", "tos", "dsfield", "icmp_type", "icmp_code"),
             "u32": ("at",), "u16": ("at",), "u8": ("at",)}
FILTER_KINDS = ["u32", "matchall", "flower", "bpf", "basic", "fw", "route", "flow"]
PROTOCOLS = {"ip": 0x0800, "ipv6": 0x86DD, "all": 0x0003, "arp": 0x0806, "802.1q": 0x8100, "802_1q": 0x8100,
             "vlan": 0x8100, "802.1ad": 0x88A8, "mpls_uc": 0x8847}
PROTOCOL_NAMES = {0x0800: "ip", 0x86DD: "ipv6", 0x0003: "all", 0x0806: "arp", 0x8100: "802.1Q", 0x88A8: "802.1ad",
                  0x8847: "mpls_uc"}
GACT = ["ok", "pass", "drop", "shot", "reclassify", "continue", "pipe", "stolen", "trap"]
ACTIONS = ("mirred", "gact") + tuple(GACT)
IP_PROTOS = {"icmp": 1, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51, "icmpv6": 58, "sctp": 132}

# ---- units ------------------------------------------------------------------------------------------
_NUM = re.compile(r"^([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)([A-Za-z%]*)$")
# tc's get_rate(): suffixes compared case-insensitively, so "mbps" is megaBYTES per second
RATE_UNITS = {"": 1, "bit": 1, "kibit": 1024, "kbit": 1000, "mibit": 1024**2, "mbit": 1000**2,
              "gibit": 1024**3, "gbit": 1000**3, "tibit": 1024**4, "tbit": 1000**4,
              "bps": 8, "kibps": 8 * 1024, "kbps": 8000, "mibps": 8 * 1024**2, "mbps": 8 * 1000**2,
              "gibps": 8 * 1024**3, "gbps": 8 * 1000**3, "tibps": 8 * 1024**4, "tbps": 8 * 1000**4}
SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3,
              "kbit": 1024 / 8, "mbit": 1024**2 / 8, "gbit": 1024**3 / 8}
TIME_UNITS = {"": 1, "us": 1, "usec": 1, "usecs": 1, "ms": 1000, "msec": 1000, "msecs": 1000,
              "s": 1000000, "sec": 1000000, "secs": 1000000, "ns": 0.001, "nsec": 0.001, "nsecs": 0.001}


def _number(word: str, units: dict, what: str, example: str) -> float:
    m = _NUM.match(word)
    unit = m.group(2).lower() if m else None
    if not m or unit not in units:
        raise ParseError(f'Illegal "{what}"', f'"{word}" is not a valid {what}; e.g. {what} {example}.')
    return float(m.group(1)) * units[unit]


def parse_rate(word: str, what: str = "rate") -> int:
    """A tc rate -> bytes per second (tc's unit: no suffix = bit/s; 1mbit = 125000)."""
    bits = _number(word, RATE_UNITS, what, "1mbit (or kbit, gbit, bps, KBps...)")
    if bits < 8 or bits / 8 >= 2**64:
        raise ParseError(f'Illegal "{what}"', f"{what} {word} is out of range (at least 8bit, i.e. 1 byte/s).")
    return int(bits / 8)


def parse_size(word: str, what: str = "size") -> int:
    """A tc size -> bytes (no suffix = bytes; 32k = 32kb = 32768). A `/CELL` tail (burst 10kb/8) is ignored."""
    base = word.split("/", 1)[0]
    if "/" in word and not word.split("/", 1)[1].isdigit():
        raise ParseError(f'Illegal "{what}"', f'"{word}": the part after "/" must be a number (cell size).')
    v = _number(base, SIZE_UNITS, what, "32kb (or b, k, mb, kbit...)")
    if v >= 2**32:
        raise ParseError(f'Illegal "{what}"', f"{what} {word} is too large (at most 4gb).")
    return int(v)


def parse_time(word: str, what: str = "time") -> int:
    """A tc time -> microseconds (no suffix = us; 50ms = 50000)."""
    v = _number(word, TIME_UNITS, what, "50ms (or us, s)")
    if v >= 2**32:
        raise ParseError(f'Illegal "{what}"', f"{what} {word} is too large.")
    return int(round(v))


def parse_percent(word: str, what: str) -> float:
    """netem's percentages: `1%`, `0.5%` or a plain `1` (as tc)."""
    m = _NUM.match(word)
    if not m or m.group(2) not in ("", "%"):
        raise ParseError(f'Illegal "{what}"', f'"{word}" is not a percentage; e.g. {what} 1%.')
    v = float(m.group(1))
    if not 0 <= v <= 100:
        raise ParseError(f'Illegal "{what}"', f"{what} must be between 0% and 100%.")
    return v


def parse_handle(word: str, what: str = "handle", qdisc: bool = False) -> int:
    """`1:`, `1:10`, `ffff:` (hex, as tc) -> the 32-bit handle; `root` -> TC_H_ROOT; `none` -> 0.

    qdisc=True: a qdisc handle, which is `MAJ:` only (its minor is always 0)."""
    w = word.lower()
    if w == "root" and not qdisc:
        return TC_H_ROOT
    if w == "none" and not qdisc:
        return 0
    maj_s, colon, min_s = w.partition(":")
    hexd = re.compile(r"^[0-9a-f]{1,8}$")
    try:
        if qdisc:
            if min_s or not maj_s or not hexd.match(maj_s) or int(maj_s, 16) >= 0x10000:
                raise ValueError
            return int(maj_s, 16) << 16
        if not colon:
            if not hexd.match(maj_s):
                raise ValueError
            return int(maj_s, 16)
        maj = int(maj_s, 16) if maj_s else 0
        mi = int(min_s, 16) if min_s else 0
        if (maj_s and not hexd.match(maj_s)) or (min_s and not hexd.match(min_s)) or maj >= 0x10000 or mi >= 0x10000:
            raise ValueError
        return (maj << 16) | mi
    except ValueError:
        ex = "1:" if qdisc else "1:10"
        raise ParseError(f'Error: invalid {what} "{word}".',
                         f"{what} is MAJOR:{'' if qdisc else 'MINOR'} in hex, e.g. {ex}") from None


def handle_str(h: int) -> str:
    """tc's print of a class id / parent: `root`, `1:`, `1:10`, `ffff:fff1`."""
    if h == TC_H_ROOT:
        return "root"
    if h == 0:
        return "none"
    maj, mi = h >> 16, h & 0xFFFF
    return f"{maj:x}:" if mi == 0 else f"{maj:x}:{mi:x}"


# ---- ops --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TcShowOp(ReadOp):
    opts: ShowOpts = ShowOpts()


@dataclass(frozen=True)
class TcHelp(TcShowOp):
    text: str = ""


@dataclass(frozen=True)
class QdiscChange(Op):
    """tc qdisc add|del|replace|change|link. Units in params: rates bytes/s, sizes bytes, times us."""
    verb: str = "add"
    dev: str = ""
    parent: int = TC_H_ROOT
    handle: int | None = None
    kind: str | None = None       # None: del by parent/handle only
    params: tuple[tuple[str, int | float], ...] = ()   # float: netem percentages; bool (int): fq_codel ecn

    def param(self, name: str, default=None):
        return dict(self.params).get(name, default)


@dataclass(frozen=True)
class QdiscShow(TcShowOp):
    dev: str | None = None
    only: str | None = None       # "root" | "ingress" | None
    handle: int | None = None


@dataclass(frozen=True)
class ClassChange(Op):
    verb: str = "add"
    dev: str = ""
    parent: int | None = None
    classid: int | None = None
    kind: str | None = "htb"
    params: tuple[tuple[str, int], ...] = ()

    def param(self, name: str, default=None):
        return dict(self.params).get(name, default)


@dataclass(frozen=True)
class ClassShow(TcShowOp):
    dev: str = ""
    parent: int | None = None
    classid: int | None = None


@dataclass(frozen=True)
class TcAction:
    """One filter action: mirred (direction, what, dev) or gact (verdict)."""
    kind: str                     # "mirred" | "gact"
    verdict: str = ""             # gact: ok/pass/drop/...
    direction: str = "egress"     # mirred
    what: str = "redirect"        # mirred: redirect | mirror
    dev: str = ""                 # mirred target device


@dataclass(frozen=True)
class FilterChange(Op):
    """tc filter add|del|replace|change. keys: u32 (value, mask, offset) in host order, 4-byte aligned."""
    verb: str = "add"
    dev: str = ""
    parent: int | None = None
    protocol: int | None = None     # None: all (0x0003) for add, any for del
    prio: int | None = None
    kind: str | None = None
    handle: int | None = None
    flowid: int | None = None
    keys: tuple[tuple[int, int, int], ...] = ()
    actions: tuple[TcAction, ...] = ()
    flower: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class FilterShow(TcShowOp):
    dev: str = ""
    parent: int | None = None
    prio: int | None = None


def _takes(table: dict) -> str:
    return "".join(f"{k} takes: {' | '.join(v)}\n" for k, v in table.items())


HELP = {
    "tc": "Usage: tc [ OPTIONS ] OBJECT { COMMAND | help }\n"
          "where  OBJECT := { qdisc | class | filter }\n"
          "       OPTIONS := { -s[tatistics] | -d[etails] | -j[son] | -p[retty] | -n[etns] NAME }",
    "qdisc": "Usage: tc qdisc { add | del | replace | change | show } dev DEV\n"
             "       [ root | ingress | parent CLASSID ] [ handle MAJ: ] QDISC_KIND [ PARAMS ]\n"
             "QDISC_KIND := { tbf rate RATE burst SIZE { latency TIME | limit SIZE } [ peakrate RATE mtu SIZE ]\n"
             "              | htb [ default CLASSID_MINOR ] [ r2q N ] | ingress | pfifo [ limit PKTS ] | bfifo [ limit BYTES ]\n"
             "              | netem [ delay TIME [ JITTER ] ] [ loss PCT ] [ duplicate PCT ] [ corrupt PCT ] [ reorder PCT ] [ rate RATE ] [ limit PKTS ]\n"
             "              | fq_codel [ limit PKTS ] [ target TIME ] [ interval TIME ] [ ecn | noecn ] }\n"
             + _takes(QDISC_OPTS) +
             "Example: tc qdisc add dev veth0 root tbf rate 1mbit burst 32kbit latency 400ms",
    "class": "Usage: tc class { add | del | change | replace | show } dev DEV parent CLASSID classid CLASSID\n"
             "       htb rate RATE [ ceil RATE ] [ burst SIZE ] [ cburst SIZE ] [ prio N ] [ quantum BYTES ]\n"
             + _takes(CLASS_OPTS) +
             "Example: tc class add dev veth0 parent 1: classid 1:10 htb rate 1mbit ceil 2mbit",
    "filter": "Usage: tc filter { add | del | replace | change | show } dev DEV [ parent CLASSID ] [ protocol PROTO ]\n"
              "       [ prio N ] u32 { match ip { src | dst } PREFIX | match ip { sport | dport } N 0xffff\n"
              "       | match ip protocol N 0xff | match { u32 | u16 | u8 } VAL MASK at OFF }... flowid CLASSID\n"
              "       [ action mirred { egress | ingress } { redirect | mirror } dev DEV | action { drop | pass } ]\n"
              + _takes(FILTER_OPTS) + _takes({"match": tuple(f"{k} {' '.join(v)}" for k, v in U32_MATCH.items())})
              + _takes({"action": ACTIONS}) +
              "Example: tc filter add dev veth0 parent 1: protocol ip prio 1 u32 match ip dport 80 0xffff flowid 1:10",
}


# ---- entry ------------------------------------------------------------------------------------------
def parse(head: str, argv: list[str], ctx: Context, ns: str | None) -> Op:
    """Parse the words after `tc`."""
    a = Args(argv, "tc")
    ns, so, special = global_options(a, ns, "tc")
    if special == "version":
        return TcHelp(ns, text="tc utility, lab (iproute2-compatible)")
    if special == "help":
        return TcHelp(ns, text=HELP["tc"])
    if not a:
        return TcHelp(ns, opts=so, text=HELP["tc"])
    obj = pick(a.next(), OBJECTS, "tc object", "tc")
    if obj == "help":
        return TcHelp(ns, opts=so, text=HELP["tc"])
    if not a:
        verb = "show"
    else:
        w = a.next()
        if w in ("del", "delete") or matches(w, "delete"):
            verb = "delete"
        else:
            verb = pick(w, VERBS, f"tc {obj} command", f"tc {obj}")
    if verb in ("list", "lst"):
        verb = "show"
    if verb == "help":
        return TcHelp(ns, opts=so, text=HELP[obj])
    if obj == "qdisc":
        return _qdisc_show(a, ns, so) if verb == "show" else _qdisc_change(a, ns, verb)
    if obj == "class":
        return _class_show(a, ns, so) if verb == "show" else _class_change(a, ns, verb)
    return _filter_show(a, ns, so) if verb == "show" else _filter_change(a, ns, verb)


def _dev(a: Args) -> str:
    return need_name(a.next("a device name"))


# ---- qdisc ------------------------------------------------------------------------------------------
def _qdisc_show(a: Args, ns, so: ShowOpts) -> QdiscShow:
    dev = only = handle = None
    while a:
        w = a.next()
        if w == "dev":
            dev = _dev(a)
        elif w in ("root", "ingress"):
            only = w
        elif w == "handle":
            handle = parse_handle(a.next("a handle"), "handle", qdisc=True)
        elif w in ("invisible",):
            pass
        elif dev is None and not w.startswith("-"):
            dev = need_name(w)
        else:
            raise ParseError(f'What is "{w}"? Try "tc qdisc help".', "tc qdisc show [ dev DEV ] [ root | ingress ]")
    return QdiscShow(ns, opts=so, dev=dev, only=only, handle=handle)


def _qdisc_change(a: Args, ns, verb: str) -> QdiscChange:
    dev = None
    parent: int | None = None
    handle: int | None = None
    kind: str | None = None
    params: tuple = ()
    while a:
        w = a.next()
        if w == "dev":
            if dev is not None:
                raise ParseError('Error: duplicate "dev": "dev" is given twice.')
            dev = _dev(a)
        elif w == "root":
            parent = _set_parent(parent, TC_H_ROOT)
        elif w == "ingress" and kind is None:
            parent = _set_parent(parent, TC_H_INGRESS)
            if handle is None:
                handle = INGRESS_HANDLE
            kind = "ingress"
        elif w == "clsact" and kind is None:
            parent = _set_parent(parent, TC_H_INGRESS)
            handle = INGRESS_HANDLE
            kind = "clsact"
        elif w == "parent":
            parent = _set_parent(parent, parse_handle(a.next("a class id"), "parent"))
        elif w == "handle":
            handle = parse_handle(a.next("a handle"), "qdisc handle", qdisc=True)
        elif w in ("estimator", "stab", "ingress_block", "egress_block"):
            raise ParseError(f'"{w}" is not supported by lab.', "Leave it out.")
        elif w in QDISC_KINDS or w in ("help",):
            if w == "help":
                raise ParseError("Usage: " + HELP["qdisc"])
            kind = w
            params = _qdisc_params(kind, a, verb)
            break
        else:
            raise ParseError(f'Unknown qdisc "{w}", hence option "{" ".join(a.rest()) or w}" is unparsable',
                             "Qdisc kinds: " + ", ".join(QDISC_KINDS[:7]) + ". " + HELP["qdisc"].splitlines()[-1])
    if dev is None:
        raise ParseError('Cannot find device "" (tc needs "dev DEV").',
                         "Example: tc qdisc add dev veth0 root tbf rate 1mbit burst 32kbit latency 400ms")
    if parent is None:
        if verb == "delete" and handle is not None:
            parent = 0
        else:
            raise ParseError('Error: "root", "ingress" or "parent CLASSID" is required.',
                             f"Example: tc qdisc {verb} dev {dev} root ...")
    if verb != "delete" and kind is None:
        raise ParseError(f'Error: tc qdisc {verb} needs a qdisc kind.',
                         f"Example: tc qdisc {verb} dev {dev} root tbf rate 1mbit burst 32kbit latency 400ms")
    if kind in ("ingress", "clsact") and parent != TC_H_INGRESS:
        raise ParseError(f'Error: {kind} must be attached with "{kind}" (parent ffff:fff1), not under root or a class.',
                         f"Example: tc qdisc add dev {dev} {kind}")
    if kind == "ingress" and handle not in (None, INGRESS_HANDLE):
        raise ParseError("Error: the ingress qdisc's handle is always ffff:.", f"Example: tc qdisc add dev {dev} ingress")
    return QdiscChange(ns, verb=verb, dev=dev, parent=parent, handle=handle, kind=kind, params=params)


def _set_parent(old: int | None, new: int) -> int:
    if old is not None and old != new:
        raise ParseError('Error: "root", "ingress" and "parent" are duplicate: give only one.')
    return new


def _need_value(a: Args, kind: str, key: str) -> str:
    if not a:
        raise ParseError(f'{kind}: "{key}" needs a value.', "Usage: " + HELP["qdisc"].split("\n", 1)[1].strip().split("\n")[0])
    return a.next()


TBF_EXAMPLE = "tc qdisc add dev veth0 root tbf rate 1mbit burst 32kbit latency 400ms"


def _qdisc_params(kind: str, a: Args, verb: str) -> tuple[tuple[str, int | float], ...]:
    p: dict[str, int | float] = {}
    if kind == "tbf":
        while a:
            w = a.next()
            if w == "rate":
                p["rate"] = parse_rate(_need_value(a, kind, w))
            elif w in ("burst", "buffer", "maxburst"):
                _once(p, "burst", kind, "burst/buffer/maxburst")
                p["burst"] = parse_size(_need_value(a, kind, w), "burst")
            elif w in ("latency", "lat"):
                _once(p, "latency", kind, "latency")
                if "limit" in p:
                    raise ParseError('tbf: give either "limit" or "latency", not both.', f"Example: {TBF_EXAMPLE}")
                p["latency"] = parse_time(_need_value(a, kind, w), "latency")
            elif w == "limit":
                if "latency" in p:
                    raise ParseError('tbf: give either "limit" or "latency", not both.', f"Example: {TBF_EXAMPLE}")
                p["limit"] = parse_size(_need_value(a, kind, w), "limit")
            elif w in ("peakrate",):
                p["peakrate"] = parse_rate(_need_value(a, kind, w), "peakrate")
            elif w in ("mtu", "minburst"):
                p["mtu"] = parse_size(_need_value(a, kind, w), "mtu")
            elif w == "mpu":
                p["mpu"] = parse_size(_need_value(a, kind, w), "mpu")
            else:
                _unknown(kind, w)
        missing = [k for k in ("rate", "burst") if k not in p]
        if verb == "delete":
            return tuple(sorted(p.items()))
        if missing or ("latency" not in p and "limit" not in p):
            raise ParseError(f"tbf: need rate, burst and latency or limit (missing: "
                             f"{', '.join(missing + ([] if 'latency' in p or 'limit' in p else ['latency or limit']))}).",
                             f"Example: {TBF_EXAMPLE}")
        if p["burst"] == 0:
            raise ParseError("tbf: burst must be more than 0.", f"Example: {TBF_EXAMPLE}")
        if "peakrate" in p:
            if "mtu" not in p:
                raise ParseError('tbf: "peakrate" needs "mtu" (the size of the peak bucket, about one packet).',
                                 "Example: ... peakrate 2mbit mtu 1600")
            if p["peakrate"] <= p["rate"]:
                raise ParseError('tbf: "peakrate" must be greater than "rate".')
    elif kind == "htb":
        while a:
            w = a.next()
            if w == "default":
                p["default"] = _hex(_need_value(a, kind, w), "default", 0xFFFFFFFF)
            elif w == "r2q":
                p["r2q"] = _int(_need_value(a, kind, w), "r2q", 1)
            elif w == "direct_qlen":
                p["direct_qlen"] = _int(_need_value(a, kind, w), "direct_qlen")
            elif w == "offload":
                raise ParseError("htb: offload needs hardware; a veth cannot offload htb.")
            else:
                _unknown(kind, w)
    elif kind in ("pfifo", "bfifo"):
        while a:
            w = a.next()
            if w == "limit":
                v = _need_value(a, kind, w)
                p["limit"] = _int(v, "limit") if kind == "pfifo" else parse_size(v, "limit")
            else:
                _unknown(kind, w)
    elif kind == "netem":
        _netem_params(a, p)
    elif kind == "fq_codel":
        while a:
            w = a.next()
            if w in ("limit", "flows", "quantum"):
                p[w] = _int(_need_value(a, kind, w), w, 1) if w != "quantum" else parse_size(_need_value(a, kind, w), w)
            elif w in ("target", "interval", "ce_threshold"):
                p[w] = parse_time(_need_value(a, kind, w), w)
            elif w in ("ecn", "noecn"):
                p["ecn"] = w == "ecn"
            else:
                _unknown(kind, w)
    elif kind == "prio":
        while a:
            w = a.next()
            if w == "bands":
                p["bands"] = _int(_need_value(a, kind, w), "bands", 2, 16)
            else:
                _unknown(kind, w)
    elif kind == "sfq":
        while a:
            w = a.next()
            if w in ("perturb", "limit", "quantum"):
                p[w] = _int(_need_value(a, kind, w), w)
            else:
                _unknown(kind, w)
    elif kind == "cake":
        while a:
            w = a.next()
            if w == "bandwidth":
                p["bandwidth"] = parse_rate(_need_value(a, kind, w), "bandwidth")
            elif w == "unlimited":
                p["bandwidth"] = 0
            else:
                _unknown(kind, w)
    elif a:
        _unknown(kind, a.next())
    return tuple(sorted(p.items()))


def _netem_params(a: Args, p: dict) -> None:
    kind = "netem"

    def maybe(test) -> str | None:
        w = a.peek()
        if w is not None and test(w):
            return a.next()
        return None

    is_time = lambda w: (m := _NUM.match(w)) is not None and m.group(2).lower() in TIME_UNITS  # noqa: E731
    is_pct = lambda w: (m := _NUM.match(w)) is not None and m.group(2) in ("", "%")  # noqa: E731
    while a:
        w = a.next()
        if w in ("delay", "latency"):
            p["delay"] = parse_time(_need_value(a, kind, w), "delay")
            j = maybe(is_time)
            if j is not None:
                p["jitter"] = parse_time(j, "jitter")
                c = maybe(is_pct)
                if c is not None:
                    p["delay_corr"] = parse_percent(c, "correlation")
        elif w in ("loss", "drop"):
            v = _need_value(a, kind, w)
            if v == "random":
                v = _need_value(a, kind, w)
            elif v in ("state", "gemodel"):
                raise ParseError(f'netem: "loss {v}" is not supported by lab.', "Use: loss 1% [CORRELATION%]")
            p["loss"] = parse_percent(v, "loss")
            c = maybe(is_pct)
            if c is not None:
                p["loss_corr"] = parse_percent(c, "correlation")
        elif w in ("duplicate", "corrupt", "reorder"):
            p[w] = parse_percent(_need_value(a, kind, w), w)
            c = maybe(is_pct)
            if c is not None:
                p[f"{w}_corr"] = parse_percent(c, "correlation")
        elif w == "gap":
            p["gap"] = _int(_need_value(a, kind, w), "gap")
        elif w == "rate":
            p["rate"] = parse_rate(_need_value(a, kind, w))
        elif w == "limit":
            p["limit"] = _int(_need_value(a, kind, w), "limit")
        elif w in ("distribution", "slot", "ecn"):
            raise ParseError(f'netem: "{w}" is not supported by lab.')
        else:
            _unknown(kind, w)
    if ("reorder" in p or "gap" in p) and "delay" not in p:
        raise ParseError("netem: reorder needs a delay (packets are reordered by sending some without it).",
                         "Example: tc qdisc add dev veth0 root netem delay 10ms reorder 25% 50%")


def _once(p: dict, key: str, kind: str, name: str) -> None:
    if key in p:
        raise ParseError(f'{kind}: duplicate "{name}".')


def _unknown(kind: str, w: str, table: dict = QDISC_OPTS) -> None:
    takes = ", ".join(table.get(kind, ())) or "nothing"
    raise ParseError(f'What is "{w}"? ({kind} does not take it.)', f"{kind} takes: {takes}.")


def _int(word: str, what: str, lo: int = 0, hi: int = 2**32 - 1) -> int:
    try:
        v = int(word, 0)
    except ValueError:
        raise ParseError(f'Illegal "{what}"', f'"{word}" is not a number.') from None
    if not lo <= v <= hi:
        raise ParseError(f'Illegal "{what}"', f"{what} must be between {lo} and {hi}.")
    return v


def _hex(word: str, what: str, hi: int) -> int:
    try:
        v = int(word, 16)
    except ValueError:
        raise ParseError(f'Illegal "{what}"', f'"{word}" is not a hex number (tc reads {what} in hex: 10 = 0x10).') from None
    if not 0 <= v <= hi:
        raise ParseError(f'Illegal "{what}"', f"{what} is out of range.")
    return v


# ---- class ------------------------------------------------------------------------------------------
def _class_show(a: Args, ns, so: ShowOpts) -> ClassShow:
    dev = None
    parent = classid = None
    while a:
        w = a.next()
        if w == "dev":
            dev = _dev(a)
        elif w == "parent":
            parent = parse_handle(a.next("a class id"), "parent")
        elif w == "root":
            parent = TC_H_ROOT
        elif w == "classid":
            classid = parse_handle(a.next("a class id"), "classid")
        elif dev is None and not w.startswith("-"):
            dev = need_name(w)
        else:
            raise ParseError(f'What is "{w}"? Try "tc class help".')
    if dev is None:
        raise ParseError('Error: "dev" is required for tc class show.', "Example: tc class show dev veth0")
    return ClassShow(ns, opts=so, dev=dev, parent=parent, classid=classid)


def _class_change(a: Args, ns, verb: str) -> ClassChange:
    if verb == "link":
        raise ParseError('"tc class link" does not exist.', "Use add, del, change or replace.")
    dev = None
    parent = classid = None
    kind = None
    p: dict[str, int] = {}
    while a:
        w = a.next()
        if w == "dev":
            dev = _dev(a)
        elif w == "parent":
            parent = parse_handle(a.next("a class id"), "parent")
        elif w == "root":
            parent = TC_H_ROOT
        elif w in ("classid", "handle"):
            classid = parse_handle(a.next("a class id"), "classid")
        elif w == "htb":
            kind = "htb"
            while a:
                k = a.next()
                if k in ("rate", "ceil"):
                    p[k] = parse_rate(_need_value(a, "htb", k), k)
                elif k in ("burst", "buffer", "maxburst", "cburst", "cbuffer", "cmaxburst"):
                    key = "cburst" if k.startswith("c") else "burst"
                    p[key] = parse_size(_need_value(a, "htb", k), key)
                elif k == "prio":
                    p["prio"] = _int(_need_value(a, "htb", k), "prio", 0, 7)
                elif k == "quantum":
                    p["quantum"] = parse_size(_need_value(a, "htb", k), "quantum")
                elif k in ("mtu", "mpu", "overhead"):
                    p[k] = parse_size(_need_value(a, "htb", k), k)
                else:
                    _unknown("htb", k, CLASS_OPTS)
        elif w in QDISC_KINDS:
            raise ParseError(f'Error: lab supports classes of htb only, not "{w}".',
                             "Example: tc class add dev veth0 parent 1: classid 1:10 htb rate 1mbit")
        else:
            raise ParseError(f'What is "{w}"? Try "tc class help".', HELP["class"].splitlines()[-1])
    if dev is None:
        raise ParseError('Error: "dev" is required.', HELP["class"].splitlines()[-1])
    if classid is None:
        raise ParseError('Error: "classid" is required.', HELP["class"].splitlines()[-1])
    if classid & 0xFFFF == 0 or classid == TC_H_ROOT:
        raise ParseError(f'Error: classid {handle_str(classid)} has no minor number: a class id is MAJ:MIN with MIN > 0.',
                         "Example: classid 1:10")
    if verb != "delete":
        if kind is None:
            raise ParseError(f"Error: tc class {verb} needs a class kind (htb).", HELP["class"].splitlines()[-1])
        if parent is None:
            raise ParseError('Error: "parent" is required (the htb qdisc, e.g. 1:, or a parent class).',
                             HELP["class"].splitlines()[-1])
        if parent != TC_H_ROOT and parent >> 16 != classid >> 16:
            raise ParseError(f"Error: classid {handle_str(classid)} and parent {handle_str(parent)} "
                             "must have the same major number (the qdisc's handle).",
                             f"Example: parent {classid >> 16:x}: classid {handle_str(classid)}")
        if "rate" not in p:
            raise ParseError('htb: "rate" is required.', HELP["class"].splitlines()[-1])
        if "ceil" in p and p["ceil"] < p["rate"]:
            raise ParseError('htb: "ceil" must be at least "rate".')
    return ClassChange(ns, verb=verb, dev=dev, parent=parent, classid=classid, kind=kind,
                       params=tuple(sorted(p.items())))


# ---- filter -----------------------------------------------------------------------------------------
def _filter_show(a: Args, ns, so: ShowOpts) -> FilterShow:
    dev = None
    parent = prio = None
    while a:
        w = a.next()
        if w == "dev":
            dev = _dev(a)
        elif w in ("parent",):
            parent = parse_handle(a.next("a class id"), "parent")
        elif w == "root":
            parent = TC_H_ROOT
        elif w == "ingress":
            parent = INGRESS_HANDLE
        elif w in ("prio", "pref", "priority", "preference"):
            prio = _int(a.next("a priority"), "prio", 0, 0xFFFF)
        elif w == "protocol":
            _protocol(a.next("a protocol"))
        elif dev is None and not w.startswith("-"):
            dev = need_name(w)
        else:
            raise ParseError(f'What is "{w}"? Try "tc filter help".')
    if dev is None:
        raise ParseError('Error: "dev" is required for tc filter show.', "Example: tc filter show dev veth0")
    return FilterShow(ns, opts=so, dev=dev, parent=parent, prio=prio)


def _protocol(word: str) -> int:
    w = word.lower()
    if w in PROTOCOLS:
        return PROTOCOLS[w]
    try:
        v = int(w, 16) if not w.startswith("0x") else int(w, 0)
        if 0 <= v <= 0xFFFF:
            return v
    except ValueError:
        pass
    raise ParseError(f'Error: "{word}" is an invalid protocol.', "protocol is ip, ipv6, arp, all or a hex ethertype")


def _filter_change(a: Args, ns, verb: str) -> FilterChange:
    if verb == "link":
        raise ParseError('"tc filter link" does not exist.', "Use add, del, change or replace.")
    f: dict = {"keys": [], "actions": []}
    dev = None
    while a:
        w = a.next()
        if w == "dev":
            dev = _dev(a)
        elif w == "parent":
            f["parent"] = parse_handle(a.next("a class id"), "parent")
        elif w == "root":
            f["parent"] = TC_H_ROOT
        elif w == "ingress":
            f["parent"] = INGRESS_HANDLE
        elif w == "egress":
            f["parent"] = 0xFFFFFFF3
        elif w == "protocol":
            f["protocol"] = _protocol(a.next("a protocol"))
        elif w in ("prio", "pref", "priority", "preference"):
            f["prio"] = _int(a.next("a priority"), "prio", 1, 0xFFFF)
        elif w == "handle":
            f["handle"] = _u32_handle(a.next("a filter handle"))
        elif w == "chain":
            if _int(a.next("a chain"), "chain") != 0:
                raise ParseError("Error: lab supports chain 0 only.")
        elif w == "estimator":
            raise ParseError('"estimator" is not supported by lab.')
        elif w in FILTER_KINDS:
            f["kind"] = w
            if w == "u32":
                _u32(a, f)
            elif w == "matchall":
                _matchall(a, f)
            elif w == "flower":
                _flower(a, f)
            elif a:
                raise ParseError(f'Error: lab supports u32, matchall and flower filters, not "{w}" with options.',
                                 HELP["filter"].splitlines()[-1])
            break
        else:
            raise ParseError(f'Unknown filter "{w}", hence option "{" ".join(a.rest())}" is unparsable',
                             "Filter kinds: u32, matchall, flower. " + HELP["filter"].splitlines()[-1])
    if dev is None:
        raise ParseError('Error: "dev" is required.', HELP["filter"].splitlines()[-1])
    if verb != "delete":
        if "kind" not in f:
            raise ParseError(f"Error: tc filter {verb} needs a filter kind (u32, matchall).",
                             HELP["filter"].splitlines()[-1])
        if f.get("flowid") is None and not f["actions"]:
            raise ParseError('Error: the filter does nothing: give "flowid CLASSID" or an action.',
                             HELP["filter"].splitlines()[-1])
        if f["kind"] == "u32" and not f["keys"]:
            f["keys"] = [(0, 0, 0)]      # `u32 match u32 0 0`: everything
    elif f.get("handle") is not None and ("prio" not in f or "kind" not in f):
        raise ParseError("Error: deleting one filter by handle needs its prio and kind.",
                         "Example: tc filter del dev veth0 parent 1: prio 1 handle 800::800 u32")
    return FilterChange(ns, verb=verb, dev=dev, parent=f.get("parent"), protocol=f.get("protocol"),
                        prio=f.get("prio"), kind=f.get("kind"), handle=f.get("handle"), flowid=f.get("flowid"),
                        keys=tuple(tuple(k) for k in f["keys"]), actions=tuple(f["actions"]),
                        flower=tuple(sorted(f.get("flower", {}).items())))


def _u32_handle(word: str) -> int:
    """u32 handles are HTID:HASH:NODE in hex (`800::800`); other kinds use plain numbers."""
    parts = word.split(":")
    try:
        if len(parts) == 1:
            return int(word, 0)
        if len(parts) > 3:
            raise ValueError
        htid, hsh, node = (parts + ["", ""])[:3]
        v = (int(htid or "0", 16) << 20) | (int(hsh or "0", 16) << 12) | int(node or "0", 16)
        if int(htid or "0", 16) >= 0x1000 or int(hsh or "0", 16) >= 0x100 or int(node or "0", 16) >= 0x1000:
            raise ValueError
        return v
    except ValueError:
        raise ParseError(f'Illegal "handle" "{word}"', "A u32 handle looks like 800::800.") from None


def _flowid(a: Args, f: dict, w: str) -> None:
    f["flowid"] = parse_handle(a.next("a class id"), w)


def _common_tail(a: Args, f: dict, w: str, kind: str) -> bool:
    """flowid/classid/action words shared by filter kinds; True if consumed."""
    if w in ("flowid", "classid"):
        _flowid(a, f, w)
        return True
    if w in ("action", "actions"):
        f["actions"].append(_action(a))
        return True
    if w in ("police",):
        raise ParseError('"police" is not supported by lab (and this kernel has no act_police).',
                         "Shape with tbf or htb classes instead.")
    if w in ("skip_hw", "skip_sw"):
        return True
    return False


def _action(a: Args) -> TcAction:
    w = a.next("an action")
    if w == "mirred":
        direction = a.next("egress or ingress")
        if direction not in ("egress", "ingress"):
            raise ParseError(f'mirred: "{direction}" is not a direction.', "Example: action mirred egress redirect dev veth1")
        what = a.next("redirect or mirror")
        if what not in ("redirect", "mirror"):
            raise ParseError(f'mirred: "{what}" is not redirect or mirror.', "Example: action mirred egress redirect dev veth1")
        if a.peek() != "dev":
            raise ParseError('mirred: "dev DEV" is required.', "Example: action mirred egress redirect dev veth1")
        a.next()
        return TcAction(kind="mirred", direction=direction, what=what, dev=_dev(a))
    if w == "gact":
        w = a.next("a verdict")
    if w in GACT:
        return TcAction(kind="gact", verdict={"pass": "ok", "shot": "drop"}.get(w, w))
    raise ParseError(f'Error: action "{w}" is not supported by lab.',
                     "Actions: mirred { egress | ingress } { redirect | mirror } dev DEV, drop, pass, continue, reclassify")


def _u32(a: Args, f: dict) -> None:
    keys: list[list[int]] = []
    while a:
        w = a.next()
        if w == "match":
            _u32_match(a, keys)
        elif w in ("ht", "link", "hashkey", "sample", "offset", "divisor", "order", "indev"):
            raise ParseError(f'u32: "{w}" (hash tables and links) is not supported by lab.', "Use plain match rules.")
        elif not _common_tail(a, f, w, "u32"):
            raise ParseError(f'What is "{w}"? (u32 takes match, flowid, classid, action.)', HELP["filter"].splitlines()[-1])
    f["keys"] = [tuple(k) for k in keys]


def _pack(keys: list[list[int]], val: int, mask: int, off: int) -> None:
    """tc's pack_key(): merge into the existing 32-bit key at the same offset, refusing conflicts."""
    val &= mask
    for k in keys:
        if k[2] == off:
            if (k[0] ^ val) & k[1] & mask:
                raise ParseError("u32: key conflict: two matches want different values for the same bits.")
            k[0] |= val
            k[1] |= mask
            return
    if len(keys) >= 128:
        raise ParseError("u32: too many keys.")
    keys.append([val, mask, off])


def _pack16(keys, val: int, mask: int, off: int) -> None:
    if val > 0xFFFF or mask > 0xFFFF:
        raise ParseError("u32: a 16-bit match takes values and masks up to 0xffff.")
    if off % 2:
        raise ParseError("u32: a 16-bit match needs an even offset.")
    shift = 16 if off % 4 == 0 else 0
    _pack(keys, val << shift, mask << shift, off & ~3)


def _pack8(keys, val: int, mask: int, off: int) -> None:
    if val > 0xFF or mask > 0xFF:
        raise ParseError("u32: an 8-bit match takes values and masks up to 0xff.")
    shift = (3 - off % 4) * 8
    _pack(keys, val << shift, mask << shift, off & ~3)


def _u32_match(a: Args, keys: list[list[int]]) -> None:
    what = a.next("ip, u32, u16 or u8")
    if what in ("u32", "u16", "u8"):
        val = _int(a.next("a value"), "value")
        mask = _int(a.next("a mask"), "mask")
        off_w = "0"
        if a.peek() == "at":
            a.next()
            off_w = a.next("an offset")
        if off_w.startswith("nexthdr+"):
            raise ParseError("u32: nexthdr+ offsets are not supported by lab.")
        off = _int(off_w, "offset", 0, 0xFFFF)
        if what == "u32":
            if off % 4:
                raise ParseError("u32: a 32-bit match needs an offset that is a multiple of 4.")
            _pack(keys, val & 0xFFFFFFFF, mask & 0xFFFFFFFF, off)
        elif what == "u16":
            _pack16(keys, val, mask, off)
        else:
            _pack8(keys, val, mask, off)
        return
    if what != "ip":
        raise ParseError(f'u32: "match {what}" is not supported by lab.',
                         "Use match ip { src | dst | sport | dport | protocol | tos }, or match u32/u16/u8.")
    field_ = a.next("src, dst, sport, dport, protocol or tos")
    if field_ in ("src", "dst"):
        addr, plen = need_prefix(a.next("a prefix"), f"ip {field_}")
        if ":" in addr:
            raise ParseError("u32: match ip takes IPv4 prefixes (use match ip6 for IPv6, not supported by lab).")
        import ipaddress

        val = int(ipaddress.IPv4Address(addr))
        mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF if plen else 0
        _pack(keys, val, mask, 12 if field_ == "src" else 16)
    elif field_ in ("sport", "dport"):
        val = _int(a.next("a port"), field_, 0, 0xFFFF)
        mask = _int(a.next("a mask (0xffff)"), "mask", 0, 0xFFFF)
        _pack16(keys, val, mask, 20 if field_ == "sport" else 22)
    elif field_ in ("protocol", "tos", "dsfield", "icmp_type", "icmp_code"):
        v = a.next("a value")
        val = IP_PROTOS[v] if field_ == "protocol" and v in IP_PROTOS else _int(v, field_, 0, 0xFF)
        mask = _int(a.next("a mask (0xff)"), "mask", 0, 0xFF)
        off = {"protocol": 9, "tos": 1, "dsfield": 1, "icmp_type": 20, "icmp_code": 21}[field_]
        _pack8(keys, val, mask, off)
    else:
        raise ParseError(f'u32: "match ip {field_}" is not supported by lab.',
                         "Use match ip { src | dst | sport | dport | protocol | tos }.")


def _matchall(a: Args, f: dict) -> None:
    while a:
        w = a.next()
        if not _common_tail(a, f, w, "matchall"):
            _unknown("matchall", w, FILTER_OPTS)


def _flower(a: Args, f: dict) -> None:
    fl: dict[str, object] = {}
    while a:
        w = a.next()
        if w in ("src_ip", "dst_ip"):
            addr, plen = need_prefix(a.next("a prefix"), w)
            if ":" in addr:
                raise ParseError("flower: lab supports IPv4 src_ip/dst_ip only.")
            fl[w] = f"{addr}/{plen}"
        elif w == "ip_proto":
            v = a.next("tcp, udp, icmp or a number")
            fl[w] = IP_PROTOS[v] if v in IP_PROTOS else _int(v, w, 0, 255)
        elif w in ("src_port", "dst_port"):
            fl[w] = _int(a.next("a port"), w, 0, 0xFFFF)
        elif not _common_tail(a, f, w, "flower"):
            _unknown("flower", w, FILTER_OPTS)
    if ("src_port" in fl or "dst_port" in fl) and fl.get("ip_proto") not in (6, 17):
        raise ParseError("flower: src_port/dst_port need ip_proto tcp or udp first.")
    f["flower"] = fl
