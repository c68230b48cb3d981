"""`bridge` (iproute2) and `brctl` (bridge-utils) command parsers -> typed Ops.

bridge: `link [show] [dev X]`, `fdb [show] [br BR] [dev X] [vlan N]`,
`fdb add|del|append|replace MAC dev DEV [master|self] [static|dynamic|permanent|local] [dst IP] [vlan N]
[port N] [vni N]`, `vlan [show] [dev X]`, with iproute2's abbreviations (`bridge f`, `bridge l`, `bridge -j fdb`).
brctl: `show [BR]`, `addbr BR`, `delbr BR`, `addif BR IF`, `delif BR IF`, `showmacs BR`, `stp BR on|off`.
Pure: never touches the kernel; lab.backend.bridge applies the Ops.
"""
from __future__ import annotations

from dataclasses import dataclass

from lab.commands.base import (Args, Context, Op, ParseError, ReadOp, ShowOpts, global_options, matches,
                               need_ip, need_mac, need_name, pick)

OBJECTS = ["link", "fdb", "mdb", "vlan", "monitor", "help"]
FDB_VERBS = ["add", "append", "delete", "replace", "show", "list", "get", "flush", "help"]
FDB_STATES = ["static", "dynamic", "permanent", "local", "temp"]
BRCTL_VERBS = ["show", "addbr", "delbr", "addif", "delif", "showmacs", "stp", "help"]
# the words each command takes (the parser's branches; completion and help read these tables)
VERBS = {"link": ("show", "list", "help"), "fdb": tuple(FDB_VERBS),
         "vlan": ("add", "del", "delete", "show", "list", "tunnelshow", "help")}
WORDS = {
    ("link", "show"): ("dev",),
    ("fdb", "show"): ("br", "brport", "dev", "vlan", "state", "dynamic", "self", "master"),
    ("fdb", "add"): ("dev", "master", "self", "local", "permanent", "static", "temp", "dynamic", "dst", "vlan",
                     "port", "dst_port", "vni", "via", "to"),
    ("vlan", "show"): ("dev",),
    ("vlan", "add"): ("dev", "vid", "pvid", "untagged", "master", "self", "tunnel_info"),
}
for _verb in ("append", "delete", "replace", "get"):
    WORDS[("fdb", _verb)] = WORDS[("fdb", "add")]
WORDS[("vlan", "del")] = WORDS[("vlan", "delete")] = WORDS[("vlan", "add")]
WORDS[("vlan", "tunnelshow")] = WORDS[("vlan", "show")]


@dataclass(frozen=True)
class BridgeShowOp(ReadOp):
    opts: ShowOpts = ShowOpts()


@dataclass(frozen=True)
class BridgeHelp(BridgeShowOp):
    text: str = ""


@dataclass(frozen=True)
class BridgeLinkShow(BridgeShowOp):
    dev: str | None = None


@dataclass(frozen=True)
class FdbShow(BridgeShowOp):
    br: str | None = None
    dev: str | None = None
    vlan: int | None = None


@dataclass(frozen=True)
class FdbChange(Op):
    """bridge fdb add|append|del|replace. `master`: the bridge's table; `self_`: the device's own (vxlan)."""
    verb: str = "add"
    mac: str = ""
    dev: str = ""
    master: bool = False
    self_: bool = False
    state: str = "permanent"        # permanent | static | dynamic
    dst: str | None = None
    vlan: int | None = None
    port: int | None = None
    vni: int | None = None
    via: str | None = None          # the vxlan remote's outgoing device (NDA_IFINDEX)


@dataclass(frozen=True)
class VlanShow(BridgeShowOp):
    dev: str | None = None
    tunnels: bool = False           # bridge vlan tunnelshow


@dataclass(frozen=True)
class VlanChange(Op):
    """bridge vlan add|del dev DEV vid VID[-END] [pvid] [untagged] [self] [master] [tunnel_info id ID]."""
    verb: str = "add"
    dev: str = ""
    vid: int = 1
    vid_end: int | None = None
    pvid: bool = False
    untagged: bool = False
    self_: bool = False
    master: bool = False
    tunnel_id: int | None = None
    tunnel_id_end: int | None = None


@dataclass(frozen=True)
class BrctlShow(BridgeShowOp):
    bridge: str | None = None


@dataclass(frozen=True)
class BrctlShowmacs(BridgeShowOp):
    bridge: str = ""


@dataclass(frozen=True)
class BrctlChange(Op):
    verb: str = "addbr"             # addbr | delbr | addif | delif | stp
    bridge: str = ""
    dev: str | None = None
    stp: bool | None = None


HELP = {
    "bridge": "Usage: bridge [ OPTIONS ] OBJECT { COMMAND | help }\n"
              "where  OBJECT := { link | fdb | vlan }\n"
              "       OPTIONS := { -s[tatistics] | -d[etails] | -j[son] | -p[retty] | -n[etns] NAME }",
    "fdb": "Usage: bridge fdb { add | append | del | replace } ADDR dev DEV\n"
           "              [ self ] [ master ] [ local | static | dynamic | permanent ]\n"
           "              [ dst IPADDR ] [ vlan VID ] [ port PORT ] [ vni VNI ] [ via DEV ] [ to ADDR ]\n"
           "       bridge fdb [ show [ br BRDEV ] [ brport DEV ] [ dev DEV ] [ vlan VID ] [ state STATE ] [ dynamic ] [ self ] [ master ] ]\n"
           f"words: {' | '.join(WORDS[('fdb', 'add')])}\n"
           "Example: bridge fdb append 00:00:00:00:00:00 dev vxlan0 dst 10.0.0.2",
    "link": "Usage: bridge link [ show ] [ dev DEV ]",
    "vlan": "Usage: bridge vlan { add | del } vid VLAN_ID dev DEV [ tunnel_info id TUNNEL_ID ]\n"
            "                                                     [ pvid ] [ untagged ]\n"
            "                                                     [ self ] [ master ]\n"
            "       bridge vlan { show | tunnelshow } [ dev DEV ]",
    "brctl": "Usage: brctl [commands]\ncommands:\n"
             "\taddbr     \t<bridge>\t\tadd bridge\n\tdelbr     \t<bridge>\t\tdelete bridge\n"
             "\taddif     \t<bridge> <device>\tadd interface to bridge\n"
             "\tdelif     \t<bridge> <device>\tdelete interface from bridge\n"
             "\tshow      \t[ <bridge> ]\t\tshow a list of bridges\n"
             "\tshowmacs  \t<bridge>\t\tshow a list of mac addrs\n"
             "\tstp       \t<bridge> {on|off}\tturn stp on/off",
}


def parse(head: str, argv: list[str], ctx: Context, ns: str | None) -> Op:
    """Parse the words after `bridge` or `brctl` (head says which)."""
    if head == "brctl":
        return _brctl(Args(argv, "brctl"), ns)
    a = Args(argv, "bridge")
    ns, so, special = global_options(a, ns, "bridge")
    if special == "version":
        return BridgeHelp(ns, text="bridge utility, lab (iproute2-compatible)")
    if special == "help":
        return BridgeHelp(ns, text=HELP["bridge"])
    if not a:
        return BridgeHelp(ns, opts=so, text=HELP["bridge"])
    obj = pick(a.next(), OBJECTS, "bridge object", "bridge")
    if obj == "help":
        return BridgeHelp(ns, opts=so, text=HELP["bridge"])
    if obj in ("mdb", "monitor"):
        raise ParseError(f'"bridge {obj}" is not supported by lab.', "Supported: bridge link, bridge fdb, bridge vlan.")
    if obj == "link":
        return _link(a, ns, so)
    if obj == "vlan":
        return _vlan(a, ns, so)
    return _fdb(a, ns, so)


def _link(a: Args, ns, so: ShowOpts) -> Op:
    dev = None
    if a:
        w = a.next()
        if matches(w, "show") or matches(w, "list"):
            pass
        elif w == "help":
            return BridgeHelp(ns, opts=so, text=HELP["link"])
        elif w == "set":
            raise ParseError('"bridge link set" is not supported by lab.', "Use ip link set DEV master BR / nomaster.")
        elif w == "dev":
            dev = need_name(a.next("a device name"))
        else:
            raise ParseError(f'Command "{w}" is unknown, try "bridge link help".')
    while a:
        w = a.next()
        if w == "dev":
            dev = need_name(a.next("a device name"))
        elif dev is None:
            dev = need_name(w)
        else:
            raise ParseError(f'Error: either "dev" is duplicate, or "{w}" is a garbage.')
    return BridgeLinkShow(ns, opts=so, dev=dev)


def _vlan(a: Args, ns, so: ShowOpts) -> Op:
    dev = None
    tunnels = False
    if a:
        w = a.next()
        if w in ("set", "global"):
            raise ParseError(f'lab does not support "bridge vlan {w}" yet.', "Supported: bridge vlan add|del|show|tunnelshow")
        if w in ("add", "del", "delete"):
            return _vlan_change(a, ns, "del" if w != "add" else "add")
        if w == "tunnelshow":
            tunnels = True
        elif w == "help":
            return BridgeHelp(ns, opts=so, text=HELP["vlan"])
        elif not (matches(w, "show") or matches(w, "list")):
            raise ParseError(f'Command "{w}" is unknown, try "bridge vlan help".')
    while a:
        w = a.next()
        if w == "dev":
            dev = need_name(a.next("a device name"))
        else:
            raise ParseError(f'Error: either "dev" is duplicate, or "{w}" is a garbage.')
    return VlanShow(ns, opts=so, dev=dev, tunnels=tunnels)


def _vlan_change(a: Args, ns, verb: str) -> VlanChange:
    f: dict = {}
    dev = vid = None
    while a:
        w = a.next()
        if w == "dev":
            dev = need_name(a.next("a device name"))
        elif w == "vid":
            v = a.next("a vlan id")
            lo, _, hi = v.partition("-")
            try:
                vid, end = int(lo), (int(hi) if hi else None)
            except ValueError:
                raise ParseError(f'Invalid VLAN ID "{v}"') from None
            if not 1 <= vid <= 4094 or (end is not None and not vid < end <= 4094):
                raise ParseError(f'Invalid VLAN ID "{v}"', "VLAN ids are 1..4094; a range is VID-END with END > VID.")
            f["vid_end"] = end
        elif w in ("pvid", "untagged", "master"):
            f[w] = True
        elif w == "self":
            f["self_"] = True
        elif w == "tunnel_info":         # iproute2's parse_tunnel_info: id ID or id ID-END, below 2^24
            k = a.next('"id"')
            if not matches(k, "id"):
                raise ParseError(f'Error: argument "{k}" is wrong: tunnel id expected', "tunnel_info id ID[-END]")
            v = a.next("a tunnel id")
            lo, dash, hi = v.partition("-")
            try:
                ids = [int(x, 0) for x in ([lo, hi] if dash else [lo])]
            except ValueError:
                ids = [-1]
            if not all(0 <= i < 1 << 24 for i in ids):
                raise ParseError(f'Error: argument "{lo}" is wrong: invalid tun id', "A tunnel id is 0..16777215.")
            f["tunnel_id"] = ids[0]
            if dash:
                f["tunnel_id_end"] = ids[1]
        else:
            raise ParseError(f'Error: either "dev" is duplicate, or "{w}" is a garbage.',
                             "bridge vlan { add | del } vid VLAN_ID dev DEV [ pvid ] [ untagged ] [ self ] [ master ]")
    if dev is None or vid is None:
        raise ParseError("Device and VLAN ID are required arguments.", "Try: bridge vlan add vid 10 dev veth0")
    return VlanChange(ns, verb=verb, dev=dev, vid=vid, **f)


def _fdb(a: Args, ns, so: ShowOpts) -> Op:
    verb = "show"
    if a:
        w = a.next()
        verb = "delete" if w in ("del", "delete") else pick(w, FDB_VERBS, "bridge fdb command", "bridge fdb")
    if verb == "help":
        return BridgeHelp(ns, opts=so, text=HELP["fdb"])
    if verb in ("get", "flush"):
        raise ParseError(f'"bridge fdb {verb}" is not supported by lab.', "Use bridge fdb show [br BR] [dev DEV].")
    if verb in ("show", "list"):
        br = dev = vlan = None
        while a:
            w = a.next()
            if w in ("br", "brport", "dev"):
                v = need_name(a.next("a device name"))
                if w == "br":
                    br = v
                else:
                    dev = v
            elif w == "vlan":
                vlan = a.int("a vlan id", 1, 4094)
            elif w in ("state", "dynamic", "self", "master"):
                raise ParseError(f'"bridge fdb show {w}" filtering is not supported by lab.')
            elif br is None and dev is None:
                br = need_name(w)
            else:
                raise ParseError(f'Error: either "dev" is duplicate, or "{w}" is a garbage.')
        return FdbShow(ns, opts=so, br=br, dev=dev, vlan=vlan)
    return _fdb_change(a, ns, verb)


def _fdb_change(a: Args, ns, verb: str) -> FdbChange:
    mac = dev = None
    f: dict = {}
    state = None
    while a:
        w = a.next()
        if w == "dev":
            dev = need_name(a.next("a device name"))
        elif w == "master":
            f["master"] = True
        elif w == "self":
            f["self_"] = True
        elif w in ("local", "permanent"):
            state = "permanent"
        elif w in ("static", "temp"):
            state = "static"
        elif w == "dynamic":
            state = "dynamic"
        elif w == "dst":
            f["dst"] = need_ip(a.next("an IP address"), "dst")
        elif w == "vlan":
            f["vlan"] = a.int("a vlan id", 1, 4094)
        elif w in ("port", "dst_port"):
            f["port"] = a.int("a UDP port", 0, 65535)
        elif w == "vni":
            f["vni"] = a.int("a VNI", 0, 2**24 - 1)
        elif w == "via":
            f["via"] = need_name(a.next("a device name"))
        elif w == "to" and mac is None:
            continue                # `bridge fdb add to MAC ...` (the kernel's vxlan document spells it so)
        elif w in ("router", "use", "extern_learn", "sticky", "src_vni", "nhid", "activity_notify"):
            raise ParseError(f'"{w}" is not supported by lab.')
        elif mac is None:
            mac = need_mac(w, bridge=True)
        else:
            raise ParseError(f'Error: either "dev" is duplicate, or "{w}" is a garbage.', HELP["fdb"].splitlines()[-1])
    if mac is None:
        raise ParseError('Error: the MAC address (ADDR) is required.', HELP["fdb"].splitlines()[-1])
    if dev is None:
        raise ParseError('Device and address are required arguments.', HELP["fdb"].splitlines()[-1])
    if not f.get("master") and not f.get("self_"):
        f["self_"] = True           # iproute2's default
    return FdbChange(ns, verb=verb, mac=mac, dev=dev, state=state or "permanent", **f)


def _brctl(a: Args, ns) -> Op:
    if not a:
        return BridgeHelp(ns, text=HELP["brctl"])
    w = a.next()
    if w in ("-h", "--help", "help"):
        return BridgeHelp(ns, text=HELP["brctl"])
    if w not in BRCTL_VERBS:
        hint = "brctl commands: " + ", ".join(BRCTL_VERBS[:-1])
        raise ParseError(f"never heard of command [{w}]", hint)
    if w == "show":
        br = need_name(a.next()) if a else None
        _none_left(a, "brctl show [BRIDGE]")
        return BrctlShow(ns, bridge=br)
    br = need_name(a.next("a bridge name"), "bridge name")
    if w == "showmacs":
        _none_left(a, "brctl showmacs BRIDGE")
        return BrctlShowmacs(ns, bridge=br)
    if w in ("addbr", "delbr"):
        _none_left(a, f"brctl {w} BRIDGE")
        return BrctlChange(ns, verb=w, bridge=br)
    if w in ("addif", "delif"):
        dev = need_name(a.next("a device name"))
        _none_left(a, f"brctl {w} BRIDGE DEVICE")
        return BrctlChange(ns, verb=w, bridge=br, dev=dev)
    v = a.next("on or off")
    if v not in ("on", "off", "yes", "no", "1", "0"):
        raise ParseError(f'brctl stp: "{v}" is not on or off.', f"Example: brctl stp {br} on")
    _none_left(a, "brctl stp BRIDGE on|off")
    return BrctlChange(ns, verb="stp", bridge=br, stp=v in ("on", "yes", "1"))


def _none_left(a: Args, usage: str) -> None:
    if a:
        raise ParseError(f'Too many arguments: "{a.peek()}".', f"Usage: {usage}")
