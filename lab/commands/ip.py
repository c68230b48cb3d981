"""`ip` (iproute2) command parser: netns, link, addr, route, neigh, rule -> typed Ops.

Accepts iproute2's abbreviations (`ip a`, `ip r`, `ip l s`, `ip n`) by prefix in iproute2's own order.
Pure: validation of syntax and values only; whether a device exists is the backend's business.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from lab.commands.base import (Args, Context, Op, ParseError, ReadOp, ShowOpts, global_options, matches,
                               need_ip, need_lladdr, need_mac, need_name, need_ns_name, need_prefix, pick)
from lab.errors import did_you_mean

OBJECTS = ["address", "addrlabel", "maddress", "route", "rule", "neighbor", "neighbour", "ntable", "ntbl", "link",
           "l2tp", "fou", "ila", "macsec", "tunnel", "tunl", "tuntap", "tap", "token", "tcpmetrics", "tcp_metrics",
           "monitor", "xfrm", "mroute", "mrule", "netns", "netconf", "vrf", "sr", "nexthop", "mptcp", "ioam", "stats",
           "help"]   # iproute2's order: `ip t` is tunnel, `ip n` neighbor
SUPPORTED = {"address", "route", "rule", "neighbor", "neighbour", "link", "netns", "tunnel", "tunl", "help"}
LINK_KINDS = ["veth", "bridge", "vxlan", "macvlan", "vlan", "gre", "gretap", "geneve", "dummy", "ipvlan",
              "wireguard", "tun", "tap", "ifb", "vrf", "bond"]
ROUTE_TYPES = ["unicast", "local", "broadcast", "multicast", "throw", "unreachable", "prohibit", "blackhole", "nat"]
NUD_STATES = ["permanent", "noarp", "reachable", "stale", "none", "incomplete", "delay", "probe", "failed"]
SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
TABLES = {"main": 254, "local": 255, "default": 253, "all": 0, "unspec": 0}
PROTOS = {"kernel": 2, "boot": 3, "static": 4, "dhcp": 16, "bird": 12, "redirect": 1, "ra": 9, "zebra": 11}


@dataclass(frozen=True)
class ShowOp(ReadOp):
    opts: ShowOpts = ShowOpts()


# ---- netns -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NetnsAdd(Op):
    name: str = ""


@dataclass(frozen=True)
class NetnsDel(Op):
    name: str = ""


@dataclass(frozen=True)
class NetnsList(ShowOp):
    pass


@dataclass(frozen=True)
class NetnsSet(Op):
    """`ip netns set NAME NSID|auto`: the nsid the namespace `ns` knows NAME by (-1 = auto)."""
    name: str = ""
    nsid: int = -1


@dataclass(frozen=True)
class NetnsListId(ShowOp):
    pass


@dataclass(frozen=True)
class NetnsIdentify(ShowOp):
    pid: int | None = None


@dataclass(frozen=True)
class ExecOp(Op):
    """Run another program inside a namespace (ping, tcpdump, a shell...)."""
    argv: tuple[str, ...] = ()


# ---- link --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LinkAdd(Op):
    name: str = ""
    kind: str = ""
    peer: str | None = None
    peer_ns: str | None = None
    netns: str | None = None        # create the link itself in another namespace
    mtu: int | None = None
    address: str | None = None
    peer_address: str | None = None
    peer_mtu: int | None = None
    link: str | None = None         # lower device (vxlan dev, macvlan/vlan link)
    vni: int | None = None
    remote: str | None = None
    local: str | None = None
    group: str | None = None
    dstport: int | None = None
    learning: bool | None = None
    mode: str | None = None         # macvlan mode
    vlan_id: int | None = None
    vlan_protocol: int | None = None  # IFLA_VLAN_PROTOCOL: 0x8100 (802.1Q) or 0x88a8 (802.1ad)
    stp: bool | None = None
    info: tuple = ()                # (option, value) of the kind's IFLA_INFO_DATA (BRIDGE_OPTS, VXLAN_OPTS)
    up: bool = False
    attrs: tuple = ()               # (option, value) of LINK_ATTRS
    flags: tuple = ()               # (option, on) of LINK_FLAGS
    index: int | None = None
    master: str | None = None
    nomaster: bool = False
    master_vrf: bool = False        # `vrf NAME`: the master must be a VRF (iproute2 checks it first)


@dataclass(frozen=True)
class LinkSet(Op):
    dev: str = ""
    up: bool | None = None
    master: str | None = None
    nomaster: bool = False
    master_vrf: bool = False        # `vrf NAME`: the master must be a VRF (iproute2 checks it first)
    netns: str | None = None
    mtu: int | None = None
    address: str | None = None
    newname: str | None = None
    promisc: bool | None = None
    arp: bool | None = None
    kind: str | None = None         # `type bridge ...` / `type bridge_slave ...`
    info: tuple = ()                # (option, value) pairs of BRIDGE_OPTS / BRPORT_OPTS
    attrs: tuple = ()               # (option, value) of LINK_ATTRS
    flags: tuple = ()               # (option, on) of LINK_FLAGS other than promisc/arp


# The kinds' own options, one table each: option -> (netlink attribute number, value type). The parser,
# the backend (which packs IFLA_INFO_DATA / IFLA_INFO_SLAVE_DATA from them) and completion read these.
BRIDGE_OPTS = {   # IFLA_BR_*
    "forward_delay": (1, "u32"), "hello_time": (2, "u32"), "max_age": (3, "u32"), "ageing_time": (4, "u32"),
    "stp_state": (5, "u32"), "priority": (6, "u16"), "vlan_filtering": (7, "u8"), "vlan_protocol": (8, "vproto"),
    "group_fwd_mask": (9, "u16"), "group_address": (20, "mac"), "mcast_router": (22, "u8"),
    "mcast_snooping": (23, "u8"), "mcast_query_use_ifaddr": (24, "u8"), "mcast_querier": (25, "u8"),
    "mcast_hash_elasticity": (26, "u32"), "mcast_hash_max": (27, "u32"), "mcast_last_member_count": (28, "u32"),
    "mcast_startup_query_count": (29, "u32"), "mcast_last_member_interval": (30, "u64"),
    "mcast_membership_interval": (31, "u64"), "mcast_querier_interval": (32, "u64"),
    "mcast_query_interval": (33, "u64"), "mcast_query_response_interval": (34, "u64"),
    "mcast_startup_query_interval": (35, "u64"), "nf_call_iptables": (36, "u8"), "nf_call_ip6tables": (37, "u8"),
    "nf_call_arptables": (38, "u8"), "vlan_default_pvid": (39, "u16"), "vlan_stats_enabled": (41, "u8"),
    "mcast_stats_enabled": (42, "u8"), "mcast_igmp_version": (43, "u8"), "mcast_mld_version": (44, "u8"),
}
BRPORT_OPTS = {   # IFLA_BRPORT_* (ip link set DEV type bridge_slave ...)
    "state": (1, "u8"), "priority": (2, "u16"), "cost": (3, "u32"), "hairpin": (4, "onoff"), "guard": (5, "onoff"),
    "root_block": (6, "onoff"), "fastleave": (7, "onoff"), "mcast_fast_leave": (7, "onoff"),
    "learning": (8, "onoff"), "flood": (9, "onoff"), "proxy_arp": (10, "onoff"), "learning_sync": (11, "onoff"),
    "proxy_arp_wifi": (12, "onoff"), "mcast_router": (25, "u8"), "mcast_flood": (27, "onoff"),
    "mcast_to_unicast": (28, "onoff"), "vlan_tunnel": (29, "onoff"), "bcast_flood": (30, "onoff"),
    "group_fwd_mask": (31, "u16"), "neigh_suppress": (32, "onoff"), "isolated": (33, "onoff"),
    "locked": (39, "onoff"), "mab": (40, "onoff"),
}
VXLAN_OPTS = {    # IFLA_VXLAN_* beyond id/remote/group/local/dev/dstport/[no]learning
    "ttl": (5, "ttl"), "tos": (6, "tos"), "ageing": (8, "u32"), "maxaddress": (9, "u32"), "proxy": (11, "flag"),
    "rsc": (12, "flag"), "l2miss": (13, "flag"), "l3miss": (14, "flag"), "udpcsum": (18, "flag"),
    "udp6zerocsumtx": (19, "flag"), "udp6zerocsumrx": (20, "flag"), "external": (25, "flag"),
}


# The link's own attributes beyond name/mtu/address/master/netns/up (IFLA_*): option -> (attribute, value type).
# `ip link add` sends them in the creating message and `ip link set` in one change, as iproute2 does.
LINK_ATTRS = {
    "broadcast": (2, "lladdr"), "txqueuelen": (13, "int"), "state": (16, "operstate"), "mode": (17, "linkmode"),
    "alias": (20, "alias"), "addrgenmode": (26, "addrgenmode"), "group": (27, "group"), "numtxqueues": (31, "int"),
    "numrxqueues": (32, "int"), "carrier": (33, "onoff"), "link-netnsid": (37, "int"), "protodown": (39, "onoff"),
    "gso_max_segs": (40, "uint"), "gso_max_size": (41, "uint"), "gro_max_size": (58, "uint"),
}
# interface flags set with on/off: option -> (IFF_ flag, True when "on" clears it)
LINK_FLAGS = {"multicast": (0x1000, False), "allmulticast": (0x200, False), "trailers": (0x20, True),
              "dynamic": (0x8000, False), "promisc": (0x100, False), "arp": (0x80, True)}
# iproute2's iplink_parse (ip/iplink.c, 6.1) tries its keywords in this order and the first that fits wins:
# (word, the option it means, whether any abbreviation fits as with iproute2's matches()). A word that fits
# none names the device, so `ip link add a mtu 9000` reads "a" as "address", as iproute2 does.
IPLINK_WORDS = (
    ("up", "up", False), ("down", "down", False), ("name", "name", False), ("index", "index", False),
    ("link", "link", True), ("address", "address", True), ("broadcast", "broadcast", True),
    ("brd", "broadcast", False), ("txqueuelen", "txqueuelen", True), ("qlen", "txqueuelen", False),
    ("txqlen", "txqueuelen", True), ("mtu", "mtu", False), ("xdpgeneric", "xdp", False), ("xdpdrv", "xdp", False),
    ("xdpoffload", "xdp", False), ("xdp", "xdp", False), ("netns", "netns", False),
    ("multicast", "multicast", False), ("allmulticast", "allmulticast", False), ("promisc", "promisc", False),
    ("trailers", "trailers", False), ("arp", "arp", False), ("carrier", "carrier", False), ("vf", "vf", False),
    ("master", "master", True), ("vrf", "vrf", False), ("nomaster", "nomaster", True),
    ("dynamic", "dynamic", True), ("type", "type", True), ("alias", "alias", True), ("group", "group", False),
    ("mode", "mode", False), ("state", "state", False), ("numtxqueues", "numtxqueues", True),
    ("numrxqueues", "numrxqueues", True), ("addrgenmode", "addrgenmode", True), ("link-netns", "link-netns", True),
    ("link-netnsid", "link-netnsid", True), ("protodown", "protodown", False),
    ("protodown_reason", "protodown_reason", False), ("gso_max_size", "gso_max_size", False),
    ("gso_max_segs", "gso_max_segs", False), ("gro_max_size", "gro_max_size", False),
    ("parentdev", "parentdev", False),
)
LINK_NOT_YET = {"xdp": "XDP programs", "vf": "SR-IOV virtual functions",
                "link-netns": "link-netns (use link-netnsid N)", "protodown_reason": "protodown reasons",
                "parentdev": "parent devices"}
OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")
ADDRGENMODES = ("eui64", "none", "stable_secret", "random")


def iplink_word(w: str) -> str | None:
    """The ip link option `w` means, in iproute2's order, or None: then it names the device."""
    for word, opt, prefix in IPLINK_WORDS:
        if w == word or (prefix and matches(w, word)):
            return opt
    return None


def dev_word(name: str) -> str:
    """A device name as a word of `ip link add/set` that iproute2 reads as that name: "dev NAME" when the
    bare name would be taken for a keyword (a device called "a" or "br": "address", "broadcast")."""
    return f"dev {name}" if iplink_word(name) is not None or matches(name, "help") or name == "dev" else name


def parse_opt_value(a: "Args", opt: str, typ: str):
    """One kind option's value, by its type in the tables above (iproute2's spelling and ranges)."""
    if typ == "flag":
        return 1
    w = a.next(f"a value for {opt}")
    if typ == "onoff":
        if w not in ("on", "off"):
            raise ParseError(f'Error: argument of "{opt}" must be "on" or "off", not "{w}"')
        return 1 if w == "on" else 0
    if typ == "vproto":
        if w not in ("802.1Q", "802.1q", "802.1ad"):
            raise ParseError(f'Error: argument "{w}" is wrong: invalid vlan_protocol', "Use 802.1Q or 802.1ad.")
        return 0x88A8 if w == "802.1ad" else 0x8100
    if typ == "mac":
        return need_mac(w)
    if typ == "lladdr":
        return need_lladdr(w)
    if typ == "alias":
        if len(w) >= 256:
            raise ParseError(f'Error: argument "{w[:40]}..." is wrong: alias too long', "An alias has at most 255 characters.")
        return w
    if typ in ("operstate", "linkmode", "addrgenmode"):
        names = {"operstate": OPERSTATES, "linkmode": ("default", "dormant"), "addrgenmode": ADDRGENMODES}[typ]
        found = [i for i, n in enumerate(names) if n.lower() == w.lower()] if typ != "addrgenmode" else \
            [i for i, n in enumerate(names) if n == w]
        if not found:
            what = {"operstate": "operstate", "linkmode": "link mode", "addrgenmode": "address generation mode"}[typ]
            raise ParseError(f'Error: argument "{w}" is wrong: Invalid {what}', f"{opt} is one of: {', '.join(names)}")
        return found[0]
    if typ == "group" and w == "default":
        return 0
    if typ in ("int", "uint", "group"):
        try:
            v = int(w, 0)
        except ValueError:
            v = -1
        if not 0 <= v <= (2**31 - 1 if typ == "int" else 2**32 - 1):
            raise ParseError(f'Error: argument "{w}" is wrong: Invalid "{opt}" value', f"{opt} takes a number.")
        return v
    if typ == "ttl" and w in ("auto", "inherit"):
        return 0
    if typ == "tos" and w == "inherit":
        return 1
    hi = {"u8": 255, "u16": 65535, "u32": 2**32 - 1, "u64": 2**64 - 1, "ttl": 255, "tos": 255}[typ]
    try:
        v = int(w, 0)
    except ValueError:
        v = -1
    if not 0 <= v <= hi:
        raise ParseError(f'Error: argument "{w}" is wrong: invalid {opt} value', f"{opt} takes a number 0..{hi}")
    return v


@dataclass(frozen=True)
class LinkDel(Op):
    dev: str = ""


@dataclass(frozen=True)
class LinkShow(ShowOp):
    dev: str | None = None
    kind: str | None = None
    master: str | None = None
    up_only: bool = False


# ---- addr --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AddrAdd(Op):
    dev: str = ""
    local: str = ""
    prefixlen: int = 32
    broadcast: str | None = None
    label: str | None = None
    scope: str | None = None
    replace: bool = False
    flags: tuple[str, ...] = ()      # nodad, noprefixroute, home, mngtmpaddr, autojoin


ADDR_FLAGS = {"home": 0x10, "nodad": 0x02, "mngtmpaddr": 0x100, "noprefixroute": 0x200, "autojoin": 0x400}


@dataclass(frozen=True)
class AddrDel(Op):
    dev: str = ""
    local: str = ""
    prefixlen: int | None = None


@dataclass(frozen=True)
class AddrShow(ShowOp):
    dev: str | None = None
    up_only: bool = False


@dataclass(frozen=True)
class AddrFlush(Op):
    dev: str = ""


# ---- route -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RouteChange(Op):
    action: str = "add"             # add, del, replace, change, append, prepend
    dst: str = "default"            # "default" or "a.b.c.d/len"
    type: str = "unicast"
    type_given: bool = False        # a type word was typed (a delete without one matches any type, as iproute2)
    gateway: str | None = None
    dev: str | None = None
    metric: int | None = None
    table: int | None = None
    prefsrc: str | None = None
    scope: str | None = None
    proto: str | None = None
    onlink: bool = False
    mtu: int | None = None
    family: int = 4
    nexthops: tuple = ()            # multipath: ((gateway|None, dev|None, weight, onlink), ...)


@dataclass(frozen=True)
class RouteShow(ShowOp):
    table: int | None = 254
    dev: str | None = None
    dst: str | None = None
    proto: str | None = None
    type: str | None = None


@dataclass(frozen=True)
class RouteGet(ShowOp):
    dst: str = ""
    src: str | None = None
    iif: str | None = None
    oif: str | None = None
    mark: int | None = None


@dataclass(frozen=True)
class RouteFlush(Op):
    table: int | None = 254
    dev: str | None = None
    proto: str | None = None


# ---- neigh -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NeighChange(Op):
    action: str = "add"             # add, del, replace, change
    dst: str = ""
    dev: str = ""
    lladdr: str | None = None
    state: str = "permanent"
    router: bool = False


@dataclass(frozen=True)
class NeighGet(ShowOp):
    dst: str = ""
    dev: str = ""


@dataclass(frozen=True)
class NeighShow(ShowOp):
    dev: str | None = None
    state: str | None = None


@dataclass(frozen=True)
class NeighFlush(Op):
    dev: str | None = None
    state: str | None = None
    family: int | None = None        # -4 / -6; None: both, as iproute2


# ---- rule --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleSelector:
    """What selects ip rules, shared by add/del and show (None = not given)."""
    src: str | None = None          # prefix, or "all"
    dst: str | None = None
    table: int | None = None
    priority: int | None = None
    fwmark: int | None = None
    fwmask: int | None = None
    iif: str | None = None
    oif: str | None = None
    tos: int | None = None


@dataclass(frozen=True)
class RuleChange(RuleSelector, Op):
    """`ip rule add|del`: only what was given is sent (the kernel picks the priority; del matches on the
    given selectors), as iproute2 does. The family comes from -4/-6/-f only (iproute2: default inet)."""
    action: str = "add"
    invert: bool = False            # `not`
    suppress_prefixlength: int | None = None
    rule_type: str | None = None    # None: lookup (add) / any (del); blackhole, unreachable, prohibit
    family: int = 4


@dataclass(frozen=True)
class RuleShow(RuleSelector, ShowOp):
    """`ip rule show [SELECTOR]`: iproute2's filters (each given selector must match)."""


@dataclass(frozen=True)
class HelpOp(ShowOp):
    text: str = ""


RULE_TYPES = ("blackhole", "unreachable", "prohibit")
ROUTE_WORDS = ["via", "dev", "metric", "table", "src", "scope", "proto", "onlink", "mtu", "nexthop", "weight"]
RULE_SELECTORS = ["from", "to", "table", "lookup", "priority", "pref", "fwmark", "iif", "oif", "tos", "dsfield"]
RULE_WORDS = RULE_SELECTORS + ["not", "suppress_prefixlength"] + list(RULE_TYPES)
TUNNEL_WORDS = ["mode", "remote", "local", "ttl", "tos", "dev", "key", "ikey", "okey", "pmtudisc", "nopmtudisc", "name"]
VXLAN_WORDS = ["id", "remote", "local", "group", "dev", "dstport", "learning", "nolearning", "srcport"] + list(VXLAN_OPTS)


_VALUE_NAMES = {"lladdr": "LLADDR", "int": "N", "uint": "N", "operstate": "STATE", "linkmode": "{ default | dormant }",
                "alias": "NAME", "addrgenmode": "{ eui64 | none | stable_secret | random }", "group": "GROUP",
                "onoff": "on|off"}


# the words of the other ip objects, one table per command (the parser's branches; completion and help read
# these, tests/test_grammar_coverage.py walks them)
ADDR_WORDS = ("dev", "local", "broadcast", "brd", "label", "scope", "valid_lft", "preferred_lft") + tuple(ADDR_FLAGS)
ADDR_SHOW_WORDS = ("dev", "up")
NEIGH_WORDS = ("dev", "lladdr", "nud", "router", "to")
NEIGH_SHOW_WORDS = ("dev", "nud")
NEIGH_GET_WORDS = ("dev", "to")
ROUTE_SHOW_WORDS = ("table", "dev", "proto", "type", "root", "match", "exact")
ROUTE_FLUSH_WORDS = ("table", "dev", "proto")
ROUTE_GET_WORDS = ("from", "iif", "oif", "mark", "fwmark", "to")


def _opts(table: dict) -> str:
    return " | ".join(sorted(table))


HELP = {   # the option lists come from the same tables the parser reads
    "ip": "Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }\n"
          "where  OBJECT := { address | link | neighbour | netns | route | rule | tunnel }\n"
          "       OPTIONS := { -n[etns] NAME | -j[son] | -br[ief] | -d[etails] | -s[tatistics] | -4 | -6 | -f[amily] { inet | inet6 } }",
    "link": "Usage: ip link add NAME [ LINK_OPTS ] type { veth peer name PEER [netns NS] | bridge [ BRIDGE_OPTS ] | vxlan id VNI [ VXLAN_OPTS ] | macvlan link DEV [mode MODE] | vlan link DEV id ID }\n"
            "       ip link set DEV { up | down | master BR | nomaster | netns NS | mtu MTU | address MAC | name NEW | LINK_OPTS }\n"
            "       ip link set DEV type { bridge BRIDGE_OPTS | bridge_slave BRPORT_OPTS }\n"
            "       ip link del DEV\n"
            "       ip link show [ DEV ] [ type TYPE ] [ master BR ] [ up ]\n"
            f"TYPE := {{ {' | '.join(LINK_KINDS)} }}\n"
            f"LINK_OPTS := {{ index IDX | link DEV | {' | '.join(o + ' on|off' for o in LINK_FLAGS)} | "
            f"{' | '.join(o + ' ' + _VALUE_NAMES[t] for o, (_n, t) in LINK_ATTRS.items())} }}\n"
            f"BRIDGE_OPTS := {{ {_opts(BRIDGE_OPTS)} }} VALUE\n"
            f"BRPORT_OPTS := {{ {_opts(BRPORT_OPTS)} }} VALUE\n"
            f"VXLAN_OPTS := {{ {' | '.join(VXLAN_WORDS)} }}",
    "address": "Usage: ip addr { add | del | replace } [ local ] IFADDR dev DEV [ broadcast ADDR | brd + ] [ label LABEL ] [ scope SCOPE ]\n"
               "                [ valid_lft LFT ] [ preferred_lft LFT ] [ nodad | noprefixroute | home | mngtmpaddr | autojoin ]\n"
               "       ip addr show [ dev DEV ] [ up ]\n       ip addr flush dev DEV",
    "route": "Usage: ip route { add | del | replace | change | append | prepend } ROUTE\n"
             "       ip route show [ table TABLE ] [ dev DEV ] [ proto PROTO ] [ type TYPE ] [ root | match | exact PREFIX ]\n"
             "       ip route get [ to ] ADDR [ from ADDR ] [ iif DEV ] [ oif DEV ] [ mark | fwmark MARK ]\n"
             "       ip route flush [ table TABLE ] [ dev DEV ]\n"
             "ROUTE := [ TYPE ] { PREFIX | default } [ via ADDR ] [ dev DEV ] [ metric N ] [ table TABLE ] [ src ADDR ]\n"
             "         [ scope SCOPE ] [ proto PROTO ] [ onlink ] [ mtu MTU ] [ nexthop NH ]...\n"
             "NH := via ADDR [ dev DEV ] [ weight N ] [ onlink ]\n"
             "TYPE := { unicast | blackhole | unreachable | prohibit | local | throw }",
    "neighbour": "Usage: ip neigh { add | del | replace | change } [ to ] ADDR [ lladdr LLADDR ] [ nud STATE ] dev DEV [ router ]\n"
                 "       ip neigh get [ to ] ADDR dev DEV\n"
                 "       ip neigh { show | flush } [ dev DEV ] [ nud STATE ]",
    "rule": "Usage: ip [ -4 | -6 ] rule { add | del } [ not ] SELECTOR ACTION\n"
            "       ip [ -4 | -6 ] rule show [ SELECTOR ]\n"
            "SELECTOR := [ from PREFIX ] [ to PREFIX ] [ tos TOS | dsfield TOS ] [ fwmark MARK[/MASK] ] [ iif DEV ] [ oif DEV ] [ priority N | pref N ]\n"
            "ACTION := { table TABLE | lookup TABLE } [ suppress_prefixlength N ] | blackhole | unreachable | prohibit",
    "netns": "Usage: ip netns list\n       ip netns add NAME\n       ip netns del NAME\n"
             "       ip netns set NAME NSID|auto\n       ip netns list-id\n"
             "       ip netns exec NAME COMMAND...\n       ip netns identify [PID]",
}


def parse_table(word: str) -> int:
    if word in TABLES:
        return TABLES[word]
    if word.isdigit() and int(word) < 2**32:
        return int(word)
    raise ParseError(f'Error: argument "{word}" is wrong: "table" value is invalid',
                     "Use a number or one of main, local, default, all.")


def parse_dev_arg(a: Args) -> str:
    return need_name(a.next("a device name"))


def parse(argv: list[str], ctx: Context, ns: str | None, parse_argv=None) -> Op:
    """Parse the words after `ip`. `parse_argv` parses a nested command (for `ip netns exec`)."""
    a = Args(argv, "ip")
    ns, so, special = global_options(a, ns, "ip")
    if special == "version":
        return HelpOp(ns, text="ip utility, lab (iproute2-compatible)")
    if not a:
        return HelpOp(ns, opts=so, text=HELP["ip"])
    obj_word = a.next()
    if obj_word in ("help", "-help"):
        return HelpOp(ns, opts=so, text=HELP["ip"])
    obj = None
    for o in OBJECTS:
        if matches(obj_word, o):
            obj = o
            break
    if obj is None:
        raise _unknown_object(obj_word, a.argv[a.i:], ctx, ns)
    if obj not in SUPPORTED:
        raise ParseError(f'"ip {obj}" is not supported by lab.',
                         "Supported: ip address, link, route, neighbour, rule, netns.")
    handlers: dict[str, Callable[..., Op]] = {
        "address": _addr, "route": _route, "rule": _rule, "neighbor": _neigh, "neighbour": _neigh, "link": _link,
        "netns": _netns, "tunnel": _tunnel, "tunl": _tunnel, "help": lambda *x: HelpOp(ns, text=HELP["ip"])}
    handler = handlers[obj]
    if obj == "netns":
        return _netns(a, ns, so, ctx, parse_argv)
    return handler(a, ns, so)


def _unknown_object(word: str, rest: list[str], ctx: Context, ns: str | None) -> ParseError:
    """iproute2's words for an unknown object, then the fix: another tool typed in two words (`ip tables`
    -> iptables), or the nearest object."""
    from lab.commands import split_tool

    split = split_tool("ip", [word] + rest, ctx, ns)
    if split:
        hint = f'"ip {word}"{split[0]}' + (f"\nTry: {split[1]}" if rest else "")
    else:
        near = did_you_mean(word, [o for o in OBJECTS if o != "help"], shown="ip {}")
        hint = (f'"ip {word}"{near}\n' if near else "") + \
            "Objects: address (a), link (l), route (r), neighbour (n), rule (ru), netns, tunnel"
    return ParseError(f'Object "{word}" is unknown, try "ip help".', hint)


# ---- tunnel ------------------------------------------------------------------------------------------
# `ip tunnel` mode -> (link kind, the kernel's fallback device iproute2 names in its errors, module)
TUNNEL_MODES = {"ipip": ("ipip", "tunl0", "ipip"), "gre": ("gre", "gre0", "ip_gre"), "sit": ("sit", "sit0", "sit"),
                "isatap": ("sit", "sit0", "sit"), "vti": ("vti", "ip_vti0", "ip_vti"),
                "ip6ip6": ("ip6tnl", "ip6tnl0", "ip6_tunnel"), "ipip6": ("ip6tnl", "ip6tnl0", "ip6_tunnel"),
                "ip6gre": ("ip6gre", "ip6gre0", "ip6_gre"), "vti6": ("vti6", "ip6_vti0", "ip6_vti"),
                "any": ("ip6tnl", "ip6tnl0", "ip6_tunnel")}


@dataclass(frozen=True)
class TunnelChange(Op):
    verb: str = "add"               # add, change, del
    name: str = ""
    mode: str = ""                  # "": not given (iproute2 then goes by the name: gre*, ipip*, sit*, vti*)
    remote: str | None = None
    local: str | None = None
    ttl: int | None = None          # None: not given or inherit (iproute2 leaves the TTL as it was)
    tos: int | None = None          # 1: inherit
    dev: str | None = None
    ikey: int | None = None
    okey: int | None = None
    pmtudisc: bool | None = None    # None: not given
    name_first: bool = False        # `change NAME ...`: iproute2 starts from NAME's parameters
    family: int | None = None       # -6: the IPv6 tunnel code (as an IPv6 mode)


@dataclass(frozen=True)
class TunnelShow(ShowOp):
    name: str | None = None
    mode: str | None = None         # `ip tunnel show mode ip6gre`: an IPv6 mode lists the IPv6 tunnels


def _tunnel(a: Args, ns, so) -> Op:
    if not a:
        return TunnelShow(ns, opts=so)
    verb = pick(a.next(), ["add", "change", "delete", "show", "list", "lst", "prl", "6rd", "help"], "ip tunnel command",
                "ip tunnel")
    if verb in ("prl", "6rd"):
        raise ParseError(f'lab does not support "ip tunnel {verb}" yet.')
    if verb == "help":
        return HelpOp(ns, text="Usage: ip tunnel { add | change | del | show } [ NAME ]\n"
                               "          [ mode { ipip | gre | sit | isatap | vti | ip6ip6 | ipip6 | ip6gre | vti6 | any } ]\n"
                               "          [ remote ADDR ] [ local ADDR ] [ [i|o]key KEY ] [ ttl TTL ] [ tos TOS ] [ dev PHYS_DEV ] [ [no]pmtudisc ]")
    f: dict = {}
    name = None
    count = 0
    while a:
        w = a.next()
        count += 1
        if w == "mode":
            m = a.next("a mode")
            if m not in TUNNEL_MODES:
                raise ParseError(f'Error: argument "{m}" is wrong: unknown tunnel mode',
                                 "Modes: " + ", ".join(TUNNEL_MODES))
            f["mode"] = m
        elif w in ("remote", "local"):
            v = a.next("an address")
            if v != "any":
                f[w] = need_ip(v, w)
        elif w in ("ttl", "hoplimit", "hlim"):
            v = a.next("a TTL")
            if v != "inherit":
                f["ttl"] = _num(v, "TTL", 255)
        elif w in ("tos", "dsfield", "tclass"):
            v = a.next("a TOS")
            f["tos"] = 1 if v == "inherit" else _num(v, "TOS", 255)
        elif w == "dev":
            f["dev"] = need_name(a.next("a device name"))
        elif w in ("key", "ikey", "okey"):
            k = _tunnel_key(a.next("a key"))
            if w != "okey":
                f["ikey"] = k
            if w != "ikey":
                f["okey"] = k
        elif w in ("nopmtudisc", "pmtudisc"):
            f["pmtudisc"] = w == "pmtudisc"
        elif w == "name":
            name = need_name(a.next("a tunnel name"))
            f["name_first"] = count == 1
        elif w in ("csum", "icsum", "ocsum", "seq", "iseq", "oseq", "encap", "noencap", "prl-default", "6rd-prefix",
                   "encaplimit", "flowlabel", "ignore-df", "nopmtudisc6"):
            raise ParseError(f'lab does not support "{w}" in ip tunnel yet.')
        elif name is None:
            name = need_name(w)
            f["name_first"] = count == 1
        else:
            raise ParseError(f'Error: either "name" is duplicate, or "{w}" is a garbage.')
    if verb in ("show", "list", "lst"):
        return TunnelShow(ns, opts=so, name=name, mode=f.get("mode"))
    if name is None:
        raise ParseError("Error: tunnel name is required.", "Try: ip tunnel add tun0 mode ipip remote 192.0.2.2 local 192.0.2.1")
    return TunnelChange(ns, verb="del" if verb == "delete" else verb, name=name, family=so.family, **f)


def _tunnel_key(w: str) -> int:
    if "." in w:
        return int.from_bytes(bytes(int(x) for x in need_ip(w, "key").split(".")), "big")
    return _num(w, "key")


# ---- netns -------------------------------------------------------------------------------------------
def _netns(a: Args, ns, so, ctx, parse_argv) -> Op:
    if not a:
        return NetnsList(ns, opts=so)
    verb = pick(a.next(), ["list", "add", "attach", "set", "delete", "identify", "pids", "exec", "monitor",
                           "show", "help", "list-id"], "ip netns command", "ip netns")
    if verb in ("list", "show"):
        return NetnsList(ns, opts=so)
    if verb == "help":
        return HelpOp(ns, text=HELP["netns"])
    if verb == "add":
        name = need_ns_name(a.next("a namespace name"))
        _no_more(a, "ip netns add")
        return NetnsAdd(ns, name=name)
    if verb == "delete":
        name = need_ns_name(a.next("a namespace name"))
        _no_more(a, "ip netns del")
        return NetnsDel(ns, name=name)
    if verb == "identify":
        pid = a.int("pid") if a else None
        return NetnsIdentify(ns, opts=so, pid=pid)
    if verb == "set":
        name = need_ns_name(a.next("a namespace name"))
        w = a.next("a nsid (a number or auto)")
        if w == "auto":
            nsid = -1
        else:
            try:
                nsid = int(w, 0)
            except ValueError:
                nsid = -2
            if not 0 <= nsid < 2**31:
                raise ParseError('Invalid "netnsid" value', "Use a number (0 or more) or auto.")
        _no_more(a, "ip netns set")
        return NetnsSet(ns, name=name, nsid=nsid)
    if verb == "list-id":
        target = None
        while a:
            w = a.next()
            if w in ("target-nsid", "nsid"):
                target = (w, a.int("a nsid", 0, 2**31 - 1))
            else:
                raise ParseError(f'Error: argument "{w}" is wrong', "ip netns list-id [target-nsid POSITIVE-INT] [nsid POSITIVE-INT]")
        if target is not None:
            raise ParseError(f'lab does not support "ip netns list-id {target[0]}" yet.', "ip netns list-id lists all.")
        return NetnsListId(ns, opts=so)
    if verb == "exec":
        name = need_ns_name(a.next("a namespace name"))
        rest = a.rest()
        if not rest:
            raise ParseError("No command specified", f"Try: ip netns exec {name} ip addr")
        if parse_argv is not None:
            return parse_argv(rest, ctx, name)
        return ExecOp(name, argv=tuple(rest))
    raise ParseError(f'"ip netns {verb}" is not supported by lab.')


def _no_more(a: Args, cmd: str) -> None:
    if a:
        raise ParseError(f'Error: either "dev" is duplicate, or "{a.peek()}" is a garbage.',
                         f'"{cmd}" takes nothing after that.')


# ---- link --------------------------------------------------------------------------------------------
def _link(a: Args, ns, so) -> Op:
    if not a:
        return LinkShow(ns, opts=so)
    verb = pick(a.next(), ["add", "set", "change", "replace", "delete", "show", "list", "lst", "help"],
                "ip link command", "ip link")
    if verb == "help":
        return HelpOp(ns, text=HELP["link"])
    if verb == "add":
        return _link_add(a, ns)
    if verb in ("set", "change"):
        return _link_set(a, ns)
    if verb == "delete":
        if not a:
            raise ParseError('Not enough information: "dev" argument is required.', "Try: ip link del veth0")
        w = a.next()
        if w == "dev":
            w = a.next("a device name")
        gone = need_name(w)
        if a and a.peek() == "type":
            a.next()
            a.next("a link type")
        _no_more(a, "ip link del")
        return LinkDel(ns, dev=gone)
    if verb == "replace":
        raise ParseError('"ip link replace" is not supported by lab.', "Delete the link and add it again.")
    dev: str | None = None
    kind: str | None = None
    master: str | None = None
    up = False
    while a:
        w = a.next()
        if w == "dev":
            dev = need_name(a.next("a device name"))
        elif w == "type":
            kind = a.next("a link type")
        elif w == "master":
            master = need_name(a.next("a bridge name"))
        elif w == "up":
            up = True
        elif dev is None and not w.startswith("-"):
            dev = need_name(w)
        else:
            raise ParseError(f'Error: either "dev" is duplicate, or "{w}" is a garbage.')
    return LinkShow(ns, opts=so, dev=dev, kind=kind, master=master, up_only=up)


def _iplink_parse(a: Args, verb: str) -> tuple[str | None, str | None, dict]:
    """iproute2's iplink_parse for `ip link add` and `ip link set`: the words up to `type KIND` (read here),
    keywords matched in iproute2's order (IPLINK_WORDS). Returns (dev, name, fields)."""
    f: dict = {}
    attrs: list = []
    flags: dict = {}
    dev = name = None
    while a:
        w = a.next()
        opt = iplink_word(w)
        if opt == "type":
            f["kind"] = a.next("a link type")
            break
        if opt is None:
            if matches(w, "help"):
                raise ParseError("Usage: " + HELP["link"])
            if w == "dev":
                w = a.next("a device name")
            if dev is not None and dev != name:
                raise ParseError(f'Error: either "dev" is duplicate, or "{w}" is a garbage.', "Try: ip link help")
            dev = need_name(w)
        elif opt == "name":
            v = a.next("a device name")
            if name is not None:
                raise ParseError(f'Error: duplicate "name": "{v}" is the second value.')
            name = need_name(v)
            dev = dev or name
        elif opt in ("up", "down"):
            f["up"] = opt == "up"
        elif opt == "index":
            v = a.next("an interface index")
            if not v.lstrip("-").isdigit() or int(v) <= 0:
                raise ParseError(f'Error: argument "{v}" is wrong: Invalid "index" value')
            f["index"] = int(v)
        elif opt == "link":
            f["link"] = need_name(a.next("a device name"))
        elif opt == "address":
            f["address"] = need_mac(a.next("a link address"))
        elif opt == "mtu":
            if "mtu" in f:
                raise ParseError('Error: duplicate "mtu": give it once.')
            f["mtu"] = a.int("mtu", 0, 2**32 - 1)   # the device decides (lo: 0..)
        elif opt == "netns":
            f["netns"] = need_ns_name(a.next("a namespace name"))
        elif opt == "master":
            f["master"] = need_name(a.next("a bridge name"))
        elif opt == "vrf":
            f["master"], f["master_vrf"] = need_name(a.next("a VRF name")), True
        elif opt == "nomaster":
            f["nomaster"] = True
        elif opt in LINK_FLAGS:
            flags[opt] = _onoff(a, opt)
        elif opt in LINK_ATTRS:
            if any(o == opt for o, _ in attrs) and opt in ("txqueuelen", "group", "numtxqueues", "numrxqueues"):
                raise ParseError(f'Error: duplicate "{opt}": give it once.')
            attrs.append((opt, parse_opt_value(a, opt, LINK_ATTRS[opt][1])))
        else:
            raise ParseError(f'lab does not support "{w}" ({LINK_NOT_YET[opt]}) in ip link yet.',
                             "Leave it out, or use the real ip for it.")
    if name is None:
        name = dev
    elif dev is None:
        dev = name
    if "index" in f and verb != "add" and "netns" not in f:
        raise ParseError("index can be used only when creating devices or when moving device to another netns.")
    if attrs:
        f["attrs"] = tuple(attrs)
    if flags:
        f["flags"] = tuple(sorted(flags.items()))
    return dev, name, f


def link_kinds_hint(kind: str | None = None) -> str:
    """The one list of link types every message names (LINK_KINDS), after a did-you-mean for `kind`."""
    near = did_you_mean(kind, LINK_KINDS) if kind else ""
    return (f'Link type "{kind}"{near}\n' if near else "") + "Link types: " + ", ".join(LINK_KINDS)


def unknown_kind(kind: str) -> ParseError:
    """`ip link add X type brige`: iproute2's (the kernel's) words, then the kind lab would take."""
    return ParseError("Error: Unknown device type.", link_kinds_hint(kind))


# what iproute2 6.1 takes for these kinds and lab does not send yet: said plainly, never a guess
TUNNEL_NOT_YET = {
    "gre": ("tos", "tclass", "dsfield", "seq", "iseq", "oseq", "csum", "icsum", "ocsum", "ignore-df", "noignore-df",
            "fwmark", "encap", "noencap", "encap-sport", "encap-dport", "encap-csum", "encap-remcsum",
            "external", "erspan", "erspan_ver", "erspan_dir", "erspan_hwid"),
    "geneve": ("tos", "df", "flowlabel", "label", "external", "noexternal", "udpcsum", "noudpcsum",
               "udp6zerocsumtx", "noudp6zerocsumtx", "udp6zerocsumrx", "noudp6zerocsumrx", "innerprotoinherit"),
}
TUNNEL_NOT_YET["gretap"] = TUNNEL_NOT_YET["gre"]


# ip/iplink_bond.c bond_parse_opt: the words it tries, in its order ((word, whether any abbreviation fits)), and
# the ones lab sends: option -> (IFLA_BOND_* attribute, value type, the names iproute2 takes for its values)
BOND_WORDS = (
    ("mode", True), ("active_slave", True), ("clear_active_slave", True), ("miimon", True), ("updelay", True),
    ("downdelay", True), ("peer_notify_delay", True), ("use_carrier", True), ("arp_interval", True),
    ("arp_ip_target", True), ("ns_ip6_target", False), ("arp_validate", True), ("arp_all_targets", True),
    ("arp_missed_max", False), ("primary", True), ("primary_reselect", True), ("fail_over_mac", True),
    ("xmit_hash_policy", True), ("resend_igmp", True), ("num_grat_arp", True), ("num_unsol_na", True),
    ("all_slaves_active", True), ("min_links", True), ("lp_interval", True), ("packets_per_slave", True),
    ("lacp_rate", True), ("lacp_active", False), ("ad_select", True), ("ad_user_port_key", True),
    ("ad_actor_sys_prio", True), ("ad_actor_system", True), ("tlb_dynamic_lb", True), ("help", True),
)
BOND_MODES = ("balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb")
BOND_XMIT_HASH_POLICIES = ("layer2", "layer3+4", "layer2+3", "encap2+3", "encap3+4", "vlan+srcmac")
BOND_OPTS: dict[str, tuple[int, str, tuple[str, ...]]] = {
    "mode": (1, "u8", BOND_MODES), "miimon": (3, "u32", ()), "updelay": (4, "u32", ()), "downdelay": (5, "u32", ()),
    "primary": (11, "dev", ()), "xmit_hash_policy": (14, "u8", BOND_XMIT_HASH_POLICIES), "min_links": (18, "u32", ()),
    "lacp_rate": (21, "u8", ("slow", "fast")), "ad_select": (22, "u8", ("stable", "bandwidth", "count")),
}
BOND_USAGE = ("Usage: ... bond [ mode BONDMODE ] [ miimon MIIMON ] [ updelay UPDELAY ] [ downdelay DOWNDELAY ]\n"
              "                [ primary SLAVE_DEV ] [ xmit_hash_policy XMIT_HASH_POLICY ] [ min_links MIN_LINKS ]\n"
              "                [ lacp_rate LACP_RATE ] [ ad_select AD_SELECT ]\n"
              "BONDMODE := " + "|".join(BOND_MODES) + "\n"
              "XMIT_HASH_POLICY := layer2|layer2+3|layer3+4|encap2+3|encap3+4|vlan+srcmac\n"
              "LACP_RATE := slow|fast\nAD_SELECT := stable|bandwidth|count")


def strtoul(word: str, bits: int = 32) -> int | None:
    """iproute2's get_u32/get_u8 (strtoul, base 0: 0x.. hex, 0.. octal), or None when it refuses the word."""
    w = word.lower()
    try:
        v = int(w, 16) if w.startswith("0x") and len(w) > 2 else int(w, 8) if w.startswith("0") and len(w) > 1 \
            else int(w, 10) if w.isdigit() else -1
    except ValueError:
        return None
    return v if 0 <= v < 2**bits else None


def _bond_opt(a: Args, w: str) -> tuple[str, object]:
    """One bond_parse_opt word and its value: (option, value) for BOND_OPTS, or a ParseError as iproute2's."""
    opt = next((word for word, prefix in BOND_WORDS if w == word or (prefix and matches(w, word))), None)
    if opt is None:
        raise ParseError(f'bond: unknown command "{w}"?', BOND_USAGE)
    if opt == "help":
        raise ParseError(BOND_USAGE)
    if opt not in BOND_OPTS:
        raise ParseError(f'lab does not support "{w}" for type bond yet.',
                         "Leave it out, or make the device with the real ip (lab shows it either way).")
    _num, typ, names = BOND_OPTS[opt]
    v = a.next(f"a value for {opt}")
    if typ == "dev":
        return opt, need_name(v)
    if names:     # get_index: an index in range, else the name
        n = strtoul(v) if v.lstrip("-").isdigit() else None
        if n is not None and n < len(names):
            return opt, n
        if v in names:
            return opt, names.index(v)
    else:
        n = strtoul(v, 8 if typ == "u8" else 32)
        if n is not None:
            return opt, n
    raise ParseError(f'Error: argument "{v}" is wrong: invalid {opt}',
                     f"{opt} is one of: {', '.join(names)}" if names else f"{opt} takes a number.")


def _tunnel_ttl(word: str, auto: bool = False) -> int:
    """gre's `ttl inherit|N` (geneve: `ttl auto|inherit|N`), as iproute2 reads it: 0 is inherit (auto)."""
    if word == "inherit" and not auto or word == "auto" and auto:
        return 0
    if word == "inherit":
        return -1                 # geneve: IFLA_GENEVE_TTL_INHERIT
    try:
        v = int(word, 0)
    except ValueError:
        v = -1
    if not 0 <= v <= 255:
        raise ParseError(f'Error: argument "{word}" is wrong: invalid TTL')
    return v


def _gre_key(opt: str, word: str) -> int:
    """tnl_parse_key: a dotted quad or an unsigned number (32 bits)."""
    import ipaddress

    try:
        v = int(ipaddress.IPv4Address(word)) if "." in word else int(word, 0)
        if 0 <= v < 2**32:
            return v
    except ValueError:
        pass
    raise ParseError(f'Error: argument "{word}" is wrong: invalid value for "{opt}": "{word}"; it should be an '
                     "unsigned integer")


def _vlan_protocol(word: str) -> int:
    """iproute2's ll_proto_a2n for a vlan's protocol: 802.1Q / 802.1ad (any case), or a 16-bit number."""
    named = {"802.1q": 0x8100, "802.1ad": 0x88A8}
    if word.lower() in named:
        return named[word.lower()]
    try:
        v = int(word, 0)
    except ValueError:
        v = -1
    if not 0 <= v <= 0xFFFF:
        raise ParseError(f'Error: argument "{word}" is wrong: protocol is invalid', "Use: protocol 802.1Q or 802.1ad")
    return v


def _link_add(a: Args, ns) -> LinkAdd:
    _dev, name, f = _iplink_parse(a, "add")
    if "kind" not in f:
        raise ParseError('Not enough information: "type" argument is required.',
                         "Try: ip link add veth0 type veth peer name veth1")
    kind = f["kind"]
    if kind not in LINK_KINDS:
        raise unknown_kind(kind)
    if name is None:
        raise ParseError('Not enough information: a device name is required.',
                         f"Try: ip link add NAME type {kind} ...")
    info: list = []
    while a:
        w = a.next()
        if kind == "veth" and w == "peer":
            if a.peek() == "name":
                a.next()
            f["peer"] = need_name(a.next("a peer name"))
            while a and a.peek() in ("netns", "address", "mtu"):
                k = a.next()
                if k == "netns":
                    f["peer_ns"] = need_ns_name(a.next("a namespace name"))
                elif k == "address":
                    f["peer_address"] = need_mac(a.next("a MAC address"))
                else:
                    f["peer_mtu"] = a.int("mtu", 0, 2**32 - 1)
        elif kind == "vxlan" and w in ("id", "vni"):
            f["vni"] = a.int("vxlan id", 0, 2**24 - 1)
        elif kind == "vxlan" and w == "remote":
            f["remote"] = need_ip(a.next("an address"), "remote")
        elif kind in ("vxlan", "gre", "gretap") and w == "local":
            f["local"] = need_ip(a.next("an address"), "local")
        elif kind in ("gre", "gretap") and w in ("ttl", "hoplimit", "hlim"):
            info.append(("ttl", _tunnel_ttl(a.next("a TTL"))))
        elif kind in ("gre", "gretap") and w in ("key", "ikey", "okey"):
            v = a.next("a key")
            for side in (("ikey", "okey") if w == "key" else (w,)):
                info.append((side, _gre_key(w, v)))
        elif kind in ("gre", "gretap") and w in ("pmtudisc", "nopmtudisc"):
            info.append(("pmtudisc", 1 if w == "pmtudisc" else 0))
        elif kind in ("gre", "gretap") and w == "dev":
            f["link"] = need_name(a.next("a device name"))
        elif kind == "geneve" and w in ("ttl", "hoplimit"):
            info.append(("ttl", _tunnel_ttl(a.next("a TTL"), auto=True)))
        elif kind == "geneve" and w == "dstport":
            info.append(("dstport", a.int("dstport", 0, 65535)))
        elif kind == "geneve" and w == "vni":
            f["vni"] = a.int("id", 0, 2**24 - 1)
        elif kind in ("gre", "gretap", "geneve") and w == "remote":
            f["remote"] = need_ip(a.next("an address"), "remote")
        elif kind == "vxlan" and w == "group":
            f["group"] = need_ip(a.next("an address"), "group")
        elif kind == "vxlan" and w == "dstport":
            f["dstport"] = a.int("dstport", 0, 65535)
        elif kind == "vxlan" and w in ("nolearning", "learning"):
            f["learning"] = w == "learning"
        elif kind == "vxlan" and w in ("noudpcsum", "noudp6zerocsumtx", "noudp6zerocsumrx", "noproxy", "norsc",
                                       "nol2miss", "nol3miss", "noexternal"):
            info.append((w[2:], 0))
        elif kind == "vxlan" and w in VXLAN_OPTS:
            info.append((w, parse_opt_value(a, w, VXLAN_OPTS[w][1])))
            if w == "external":
                f["learning"] = False    # iproute2: external turns learning off (unless "learning" follows)
        elif kind == "vxlan" and w in ("srcport", "port"):
            lo, hi = a.int("srcport min", 0, 65535), a.int("srcport max", 0, 65535)
            info.append(("srcport", (lo, hi)))
        elif kind in ("vxlan",) and w == "dev":
            f["link"] = need_name(a.next("a device name"))
        elif kind in ("macvlan", "ipvlan") and w == "mode":
            m = a.next("a mode")
            if m not in ("private", "vepa", "bridge", "passthru", "source", "l2", "l3", "l3s"):
                raise ParseError(f'Error: argument of "mode" must be "private", "vepa", "bridge", "passthru" or "source", not "{m}"')
            f["mode"] = m
        elif kind in ("vlan", "geneve") and w == "id":
            f["vlan_id" if kind == "vlan" else "vni"] = a.int("id", 0, 4094 if kind == "vlan" else 2**24 - 1)
        elif kind == "vlan" and w == "protocol":
            f["vlan_protocol"] = _vlan_protocol(a.next("a protocol"))
        elif kind == "bridge" and w in BRIDGE_OPTS:
            info.append((w, parse_opt_value(a, w, BRIDGE_OPTS[w][1])))
        elif kind == "vrf" and matches(w, "table"):
            v = a.next("a table")
            try:
                info.append(("table", parse_table(v)))
            except ParseError:
                raise ParseError(f'Error: argument "{v}" is wrong: invalid table ID',
                                 "Use a number or one of main, local, default.") from None
        elif kind == "vrf":
            raise ParseError(f'vrf: unknown option "{w}"?' if not matches(w, "help") else "Usage: ... vrf table TABLEID",
                             "Usage: ... vrf table TABLEID")
        elif kind == "bond":
            info.append(_bond_opt(a, w))
        elif w in TUNNEL_NOT_YET.get(kind, ()):
            raise ParseError(f'lab does not support "{w}" for type {kind} yet.',
                             "Leave it out, or make the device with the real ip (lab shows it either way).")
        elif kind == "geneve":
            raise ParseError(f'geneve: unknown command "{w}"?')
        else:
            raise ParseError(f'Garbage instead of arguments "{w} ...". Try "ip link help".')
    if kind == "veth" and not f.get("peer"):
        f["peer"] = None  # the kernel names it vethN, like iproute2
    if info:
        f["info"] = tuple(info)
    if kind == "vxlan":
        if f.get("vni") is None and ("external", 1) not in info:
            raise ParseError('vxlan: missing virtual network identifier', "Add: id N (e.g. id 42)")
        if f.get("remote") and f.get("group"):
            raise ParseError('vxlan: both group and remote cannot be specified')
    if kind in ("macvlan", "vlan", "ipvlan") and not f.get("link"):
        raise ParseError(f'Not enough information: "link" argument is required for {kind}.',
                         f"Try: ip link add {name} link eth0 type {kind}" + (" id 10" if kind == "vlan" else ""))
    if kind == "geneve" and f.get("vni") is None:
        raise ParseError("geneve: missing virtual network identifier", "Add: id N (e.g. id 5)")
    if kind == "geneve" and not f.get("remote"):
        raise ParseError("geneve: remote link partner not specified", "Add: remote ADDRESS")
    if kind == "vlan" and f.get("vlan_id") is None:
        raise ParseError("8021q: VLAN device needs VLAN ID", "Add: id N")
    return LinkAdd(ns, name=name, **f)


def _link_set(a: Args, ns) -> LinkSet:
    if not a:
        raise ParseError('Not enough information: "dev" argument is required.', "Try: ip link set veth0 up")
    dev, name, f = _iplink_parse(a, "set")
    if dev is None:
        raise ParseError('Not enough information: "dev" argument is required.')
    if name != dev:
        f["newname"] = name
    flags = dict(f.pop("flags", ()))
    for flag in ("promisc", "arp"):
        if flag in flags:
            f[flag] = flags.pop(flag)
    if flags:
        f["flags"] = tuple(sorted(flags.items()))
    for word in ("link", "index"):
        if f.get(word):
            raise ParseError(f'lab does not support "{word}" in ip link set yet.', "Leave it out, or use the real ip for it.")
    kind = f.pop("kind", None)
    if kind is not None:
        table = {"bridge": BRIDGE_OPTS, "bridge_slave": BRPORT_OPTS}.get(kind)
        if table is None:
            raise ParseError(f'lab does not support "ip link set ... type {kind}" yet'
                             + (did_you_mean(kind, ["bridge", "bridge_slave"]) or "."),
                             "Supported: type bridge OPTIONS, type bridge_slave OPTIONS.")
        info = []
        while a and a.peek() in table:
            opt = a.next()
            info.append((opt, parse_opt_value(a, opt, table[opt][1])))
        if a:
            raise ParseError(f'Garbage instead of arguments "{a.peek()} ...". Try "ip link help".',
                             "Options: " + ", ".join(sorted(table)))
        if not info:
            raise ParseError(f'Not enough information: no {kind} option after "type {kind}".',
                             "Options: " + ", ".join(sorted(table)))
        f["kind"], f["info"] = kind, tuple(info)
    if not f:
        raise ParseError(f'Not enough information: nothing to set on "{dev}".', f"Try: ip link set {dev} up")
    if f.get("master") and f.get("nomaster"):
        raise ParseError('Error: "master" and "nomaster" together make no sense.')
    return LinkSet(ns, dev=dev, **f)


def _onoff(a: Args, what: str) -> bool:
    w = a.next('"on" or "off"')
    if w not in ("on", "off"):
        raise ParseError(f'Error: argument of "{what}" must be "on" or "off", not "{w}"')
    return w == "on"


# ---- address -----------------------------------------------------------------------------------------
def _addr(a: Args, ns, so) -> Op:
    if not a:
        return AddrShow(ns, opts=so)
    verb = pick(a.next(), ["add", "change", "replace", "delete", "list", "show", "lst", "flush", "save", "help"],
                "ip address command", "ip address")
    if verb == "help":
        return HelpOp(ns, text=HELP["address"])
    if verb in ("show", "list", "lst"):
        dev = None
        up = False
        while a:
            w = a.next()
            if w == "dev":
                dev = need_name(a.next("a device name"))
            elif w == "up":
                up = True
            elif dev is None:
                dev = need_name(w)
            else:
                raise ParseError(f'Error: either "dev" is duplicate, or "{w}" is a garbage.')
        return AddrShow(ns, opts=so, dev=dev, up_only=up)
    if verb == "flush":
        dev = None
        while a:
            w = a.next()
            dev = need_name(a.next("a device name")) if w == "dev" else need_name(w)
        if dev is None:
            raise ParseError("Flush requires arguments.", "Try: ip addr flush dev veth0")
        return AddrFlush(ns, dev=dev)
    if verb == "save":
        raise ParseError('"ip addr save" is not supported by lab.', "Use: lab export --sh")
    local: str | None = None
    dev = None
    plen = 0   # set with local
    f: dict = {}
    while a:
        w = a.next()
        if w == "dev":
            dev = need_name(a.next("a device name"))
        elif w in ("local",):
            local, plen = need_prefix(a.next("an address"), require_len=False)
        elif w in ("broadcast", "brd"):
            b = a.next("an address")
            f["broadcast"] = b if b in ("+", "-") else need_ip(b, "broadcast")
        elif w == "label":
            f["label"] = a.next("a label")
        elif w == "scope":
            s = a.next("a scope")
            if s not in SCOPES:
                raise ParseError(f'Error: argument "{s}" is wrong: invalid scope value.', "Scopes: global, link, host")
            f["scope"] = s
        elif w in ("valid_lft", "preferred_lft"):
            a.next("a lifetime")
        elif w in ADDR_FLAGS:
            f["flags"] = f.get("flags", ()) + (w,)
        elif local is None:
            local, plen = need_prefix(w, require_len=verb in ("add", "replace", "change") and ":" not in w)
            f["_had_len"] = "/" in w
        else:
            raise ParseError(f'Error: either "local" is duplicate, or "{w}" is a garbage.')
    if local is None:
        raise ParseError("Not enough information: an address is required.", "Try: ip addr add 10.0.0.1/24 dev veth0")
    if dev is None:
        raise ParseError('Not enough information: "dev" argument is required.',
                         f"Try: ip addr {verb if verb != 'delete' else 'del'} {local}/{plen} dev veth0")
    had_len = f.pop("_had_len", True)
    if verb == "delete":
        f.pop("flags", None)
        return AddrDel(ns, dev=dev, local=local, prefixlen=plen if had_len else None)
    return AddrAdd(ns, dev=dev, local=local, prefixlen=plen, replace=verb in ("replace", "change"), **f)


# ---- route -------------------------------------------------------------------------------------------
def _route(a: Args, ns, so) -> Op:
    if not a:
        return RouteShow(ns, opts=so)
    verb = pick(a.next(), ["add", "change", "replace", "prepend", "append", "test", "delete", "list", "show",
                           "lst", "flush", "get", "help"], "ip route command", "ip route")
    if verb == "help":
        return HelpOp(ns, text=HELP["route"])
    if verb in ("list", "show", "lst"):
        f: dict = {}
        while a:
            w = a.next()
            if w == "table":
                f["table"] = parse_table(a.next("a table"))
            elif w == "dev":
                f["dev"] = need_name(a.next("a device name"))
            elif w == "proto":
                f["proto"] = a.next("a protocol")
            elif w == "type":
                f["type"] = a.next("a route type")
            elif w in ("root", "match", "exact"):
                f["dst"] = _route_dst(a.next("a prefix"))
            else:
                f["dst"] = _route_dst(w)
        return RouteShow(ns, opts=so, **f)
    if verb == "flush":
        f = {}
        while a:
            w = a.next()
            if w == "table":
                f["table"] = parse_table(a.next("a table"))
            elif w == "dev":
                f["dev"] = need_name(a.next("a device name"))
            elif w == "proto":
                f["proto"] = a.next("a protocol")
            else:
                raise ParseError(f'Error: "{w}" is a garbage.', "ip route flush [ table TABLE ] [ dev DEV ] [ proto P ]")
        return RouteFlush(ns, **f)
    if verb == "get":
        f = {}
        dst = None
        while a:
            w = a.next()
            if w in ("from",):
                f["src"] = need_ip(a.next("an address"), "from")
            elif w == "iif":
                f["iif"] = need_name(a.next("a device name"))
            elif w == "oif":
                f["oif"] = need_name(a.next("a device name"))
            elif w in ("mark", "fwmark"):
                f["mark"] = a.int("mark")
            elif w == "to":
                dst = need_ip(a.next("an address"), "destination")
            elif dst is None:
                dst = need_ip(w.split("/")[0], "destination")
            else:
                raise ParseError(f'Error: "{w}" is a garbage.')
        if dst is None:
            raise ParseError("need at least a destination address", "Try: ip route get 10.0.0.2")
        return RouteGet(ns, opts=so, dst=dst, **f)
    if verb == "test":
        raise ParseError('"ip route test" is not supported by lab.')
    action = {"delete": "del", "prepend": "prepend"}.get(verb, verb)
    f = {}
    dst = None
    rtype = "unicast"
    while a:
        w = a.next()
        if w == "via":
            v = a.next("a gateway")
            if v in ("inet", "inet6"):
                v = a.next("a gateway")
            f["gateway"] = need_ip(v, "gateway")
        elif w in ("dev", "oif"):
            f["dev"] = need_name(a.next("a device name"))
        elif w in ("metric", "priority", "preference"):
            f["metric"] = a.int("metric")
        elif w == "table":
            f["table"] = parse_table(a.next("a table"))
        elif w == "src":
            f["prefsrc"] = need_ip(a.next("an address"), "src")
        elif w == "scope":
            s = a.next("a scope")
            if s not in SCOPES:
                raise ParseError(f'Error: argument "{s}" is wrong: invalid scope value.', "Scopes: global, link, host")
            f["scope"] = s
        elif w in ("proto", "protocol"):
            p = a.next("a protocol")
            if p not in PROTOS and not (p.isdigit() and int(p) < 256):
                raise ParseError(f'Error: argument "{p}" is wrong: invalid "protocol" value',
                                 "Protocols: static, kernel, boot, dhcp, or a number")
            f["proto"] = p
        elif w == "onlink":
            f["onlink"] = True
        elif w == "nexthop":
            hops = list(f.get("nexthops", ()))
            gw = dev = None
            weight, onlink = 1, False
            while a and a.peek() in ("via", "dev", "weight", "onlink"):
                k = a.next()
                if k == "via":
                    v = a.next("a gateway")
                    if v in ("inet", "inet6"):
                        v = a.next("a gateway")
                    gw = need_ip(v, "gateway")
                elif k == "dev":
                    dev = need_name(a.next("a device name"))
                elif k == "weight":
                    weight = a.int("weight", 1, 256)
                else:
                    onlink = True
            if gw is None and dev is None:
                raise ParseError("Error: nexthop needs a gateway or a device: nexthop via ADDR [ dev DEV ] [ weight N ].")
            hops.append((gw, dev, weight, onlink))
            f["nexthops"] = tuple(hops)
        elif w == "mtu":
            f["mtu"] = a.int("mtu", 0, 2**32 - 1)   # the device decides (lo: 0..)
        elif w in ROUTE_TYPES and dst is None:
            rtype = w
            f["type_given"] = True
        elif w == "to":
            dst = _route_dst(a.next("a prefix"))
        elif dst is None:
            dst = _route_dst(w)
        else:
            raise ParseError(f'Error: either "to" is duplicate, or "{w}" is a garbage.',
                             "ip route add PREFIX [ via ADDR ] [ dev DEV ] [ metric N ] [ table T ]")
    if dst is None:
        raise ParseError("Not enough information: a destination prefix is required.",
                         "Try: ip route add 10.0.2.0/24 via 10.0.1.1")
    fam = _route_family(so.family, dst, f.get("gateway") or next((h[0] for h in f.get("nexthops", ()) if h[0]), None))
    if f.get("nexthops") and (f.get("gateway") or f.get("dev")):
        raise ParseError('lab does not support "via"/"dev" beside "nexthop" yet.', "Give every path as nexthop via ADDR dev DEV.")
    if action != "del" and rtype in ("unicast", "local") and not f.get("gateway") and not f.get("dev") and not f.get("nexthops"):
        raise ParseError('Error: Device for nexthop is not specified.',
                         f"Add 'via GATEWAY' or 'dev DEVICE', e.g. ip route add {dst} via 10.0.0.1")
    return RouteChange(ns, action=action, dst=dst, type=rtype, family=fam, **f)


def _route_family(explicit: int | None, dst: str, gateway: str | None) -> int:
    """The family as iproute2 decides it: -4/-6/-f, else the destination, else the gateway, else inet."""
    fam = explicit
    if dst != "default":
        dfam = 6 if ":" in dst else 4
        if fam is not None and dfam != fam:
            raise ParseError(f'Error: {"inet6" if fam == 6 else "inet"} prefix is expected rather than "{dst}".')
        fam = dfam
    if gateway:
        gfam = 6 if ":" in gateway else 4
        if explicit is not None and gfam != explicit:
            raise ParseError(f'Error: {"inet6" if explicit == 6 else "inet"} address is expected rather than "{gateway}".')
        if fam is None:
            fam = gfam
        elif gfam != fam:
            if fam == 4:
                raise ParseError(f'lab does not support IPv4 routes via an IPv6 gateway yet (RTA_VIA): "via {gateway}".',
                                 "Use an IPv4 gateway, or ip -6 route for an IPv6 destination.")
            raise ParseError(f'Error: inet6 address is expected rather than "{gateway}".')
    return fam or 4


def _route_dst(w: str) -> str:
    if w in ("default", "all", "any"):
        return "default"
    addr, plen = need_prefix(w, "destination")
    import ipaddress
    try:
        net = ipaddress.ip_network(f"{addr}/{plen}", strict=True)
    except ValueError:
        net = ipaddress.ip_network(f"{addr}/{plen}", strict=False)
        raise ParseError('Error: Invalid prefix for given prefix length.',
                         f"{w} has host bits set: did you mean {net}?") from None
    return str(net) if net.prefixlen != net.max_prefixlen or "/" in w else str(net.network_address) + f"/{plen}"


# ---- neighbour ---------------------------------------------------------------------------------------
def _neigh(a: Args, ns, so) -> Op:
    if not a:
        return NeighShow(ns, opts=so)
    verb = pick(a.next(), ["add", "change", "replace", "delete", "list", "show", "lst", "flush", "get", "help"],
                "ip neigh command", "ip neigh")
    if verb == "help":
        return HelpOp(ns, text=HELP["neighbour"])
    if verb in ("list", "show", "lst", "flush"):
        f: dict = {}
        while a:
            w = a.next()
            if w == "dev":
                f["dev"] = need_name(a.next("a device name"))
            elif w == "nud":
                s = a.next("a state")
                if s not in NUD_STATES + ["all"]:
                    raise ParseError(f'Error: argument "{s}" is wrong: nud state is bad', "States: " + ", ".join(NUD_STATES))
                f["state"] = s
            elif w in NUD_STATES and verb == "flush":
                f["state"] = w
            else:
                raise ParseError(f'Error: "{w}" is a garbage.', "ip neigh show [ dev DEV ] [ nud STATE ]")
        return NeighFlush(ns, family=so.family, **f) if verb == "flush" else NeighShow(ns, opts=so, **f)
    if verb == "get":
        dst = dev = None
        while a:
            w = a.next()
            if w == "dev":
                dev = need_name(a.next("a device name"))
            elif w == "to" or dst is None:
                dst = need_ip(a.next("an address") if w == "to" else w, "neighbour")
            elif w == "proxy":
                raise ParseError('lab does not support "ip neigh get proxy" yet.')
            else:
                raise ParseError(f'Error: "{w}" is a garbage.', "ip neigh get ADDR dev DEV")
        if dst is None or dev is None:
            raise ParseError("Device and address are required arguments.", "ip neigh get ADDR dev DEV")
        return NeighGet(ns, opts=so, dst=dst, dev=dev)
    action = "del" if verb == "delete" else verb
    f = {}
    dst = dev = None
    while a:
        w = a.next()
        if w == "dev":
            dev = need_name(a.next("a device name"))
        elif w == "lladdr":
            f["lladdr"] = need_mac(a.next("a link address"))
        elif w == "nud":
            s = a.next("a state")
            if s not in NUD_STATES:
                raise ParseError(f'Error: argument "{s}" is wrong: nud state is bad', "States: " + ", ".join(NUD_STATES))
            f["state"] = s
        elif w == "router":
            f["router"] = True
        elif w in ("to",):
            dst = need_ip(a.next("an address"))
        elif dst is None:
            dst = need_ip(w, "neighbour address")
        else:
            raise ParseError(f'Error: either "to" is duplicate, or "{w}" is a garbage.')
    if dst is None or dev is None:
        raise ParseError("Device and destination are required arguments.",
                         "Try: ip neigh add 10.0.0.2 lladdr aa:bb:cc:dd:ee:ff dev veth0")
    if action in ("add", "replace", "change") and "lladdr" not in f and f.get("state", "permanent") not in ("noarp", "none", "incomplete", "failed"):
        raise ParseError('Error: a permanent neighbour needs "lladdr".', f"Try: ip neigh {action} {dst} lladdr aa:bb:cc:dd:ee:ff dev {dev}")
    return NeighChange(ns, action=action, dst=dst, dev=dev, **f)


# ---- rule --------------------------------------------------------------------------------------------
RULE_UNSUPPORTED = ("goto", "nat", "map-to", "realms", "uidrange", "ipproto", "sport", "dport", "protocol", "l3mdev",
                    "suppress_ifgroup", "sup_group")


def _rule(a: Args, ns, so) -> Op:
    if not a:
        return RuleShow(ns, opts=so)
    verb = pick(a.next(), ["add", "delete", "flush", "list", "show", "lst", "help"], "ip rule command", "ip rule")
    if verb == "help":
        return HelpOp(ns, text=HELP["rule"])
    if verb == "flush":
        raise ParseError('"ip rule flush" is not supported by lab (it would remove the main table rule).',
                         "Delete rules one by one: ip rule del priority N")
    show = verb in ("list", "show", "lst")
    fam = so.family or 4
    strict = show or so.family is not None
    f: dict = {}
    while a:
        w = a.next()
        if w == "from":
            f["src"] = _rule_prefix(a.next("a prefix"), fam, "source", strict)
        elif w == "to":
            f["dst"] = _rule_prefix(a.next("a prefix"), fam, "destination", strict)
        elif w in ("table", "lookup"):
            f["table"] = parse_table(a.next("a table"))
        elif w in ("priority", "pref", "preference", "order"):
            f["priority"] = a.int("priority", 0, 2**32 - 1)
        elif w == "fwmark":
            mark, _, mask = a.next("a mark").partition("/")
            f["fwmark"] = _num(mark, "fwmark")
            if mask:
                f["fwmask"] = _num(mask, "fwmask")
        elif w in ("iif", "dev"):
            f["iif"] = need_name(a.next("a device name"))
        elif w == "oif":
            f["oif"] = need_name(a.next("a device name"))
        elif w in ("tos", "dsfield"):
            f["tos"] = _num(a.next("a TOS value"), "tos", 255)
        elif w == "not" and not show:
            f["invert"] = True
        elif w in ("suppress_prefixlength", "sup_pl") and not show:
            f["suppress_prefixlength"] = a.int("suppress_prefixlength", 0, 128)
        elif w in ("type", "unicast") or w in RULE_TYPES:
            t = a.next("a rule type") if w == "type" else w
            if t not in RULE_TYPES + ("unicast",):
                raise ParseError(f'Error: argument "{t}" is wrong: Failed to parse rule type')
            if not show:
                f["rule_type"] = None if t == "unicast" else t
        elif w in RULE_UNSUPPORTED:
            raise ParseError(f'lab does not support "{w}" in ip rule yet.',
                             "Supported: from, to, table, priority, fwmark[/mask], iif, oif, tos, not, "
                             "suppress_prefixlength, blackhole, unreachable, prohibit.")
        else:
            raise ParseError(f'Error: argument "{w}" is wrong: Failed to parse rule type', "ip rule add [ from PREFIX ] [ to PREFIX ] table TABLE")
    if show:
        return RuleShow(ns, opts=so, **f)
    action = "del" if verb == "delete" else "add"
    if action == "add" and f.get("table") is None and f.get("rule_type") is None:
        f["table"] = 254    # iproute2: a rule without a table looks up main
    return RuleChange(ns, action=action, family=fam, **f)


def _num(w: str, what: str, hi: int = 2**32 - 1) -> int:
    try:
        v = int(w, 0)
    except ValueError:
        v = -1
    if not 0 <= v <= hi:
        raise ParseError(f'Error: argument "{w}" is wrong: {what} value is invalid')
    return v


def _rule_prefix(w: str, fam: int, what: str, strict: bool = False) -> str:
    """A rule's from/to prefix in the rule's family (iproute2 takes the family from -4/-6/-f only: an IPv6
    prefix in an inet rule is the kernel's "Invalid source address")."""
    if w in ("all", "any", "default"):
        return "all"
    addr, plen = need_prefix(w)
    v6 = ":" in addr
    if v6 != (fam == 6):
        if strict:   # -4/-6/-f given: iproute2's own refusal
            raise ParseError(f'Error: {"inet6" if fam == 6 else "inet"} prefix is expected rather than "{w}".')
        raise ParseError(f"Error: Invalid {what} address.",
                         f"{w} is IPv{6 if v6 else 4}: use ip {'-6' if v6 else '-4'} rule ...")
    return f"{addr}/{plen}"
