"""Apply `bridge` and `brctl` Ops with pyroute2 netlink, and print like iproute2's bridge and bridge-utils.

Covers the forwarding database (learned and static entries of bridges, vxlan flood/unicast entries with
dst), bridge ports (`bridge link`), VLANs (`bridge vlan show`), and brctl's show/showmacs/addbr/delbr/
addif/delif/stp. Reads the fdb back as lab.model.FdbEntry for the panes (state.EXTRAS["fdb"], without the
multicast entries every device lists for itself). Parsing is lab.commands.bridge's business; links in
general are lab.backend.ip's.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import struct

from pyroute2.netlink.exceptions import NetlinkError

from lab import render
from lab.backend import state
from lab.backend.core import applies
from lab.backend.journal import NOOP
from lab.commands import bridge as c
from lab.errors import LabError, did_you_mean, kernel_says
from lab.model import FdbEntry, Link

NUD_REACHABLE, NUD_STALE, NUD_NOARP, NUD_PERMANENT = 0x02, 0x04, 0x40, 0x80
NTF_SELF, NTF_MASTER, NTF_EXT_LEARNED, NTF_OFFLOADED, NTF_ROUTER = 0x02, 0x04, 0x10, 0x20, 0x80
PORT_STATES: dict[int | None, str] = {0: "disabled", 1: "listening", 2: "learning", 3: "forwarding", 4: "blocking"}
ADD_STATES = {"permanent": NUD_NOARP | NUD_PERMANENT, "static": NUD_NOARP | NUD_REACHABLE, "dynamic": NUD_REACHABLE}
BRIDGE_VLAN_INFO_PVID, BRIDGE_VLAN_INFO_UNTAGGED = 0x2, 0x4


def _state_name(s: int) -> str:
    """iproute2 bridge's state_n2a."""
    if s & NUD_PERMANENT:
        return "permanent"
    if s & NUD_NOARP:
        return "static"
    if s & NUD_STALE:
        return "stale"
    return ""


def _err(e: NetlinkError, hint: str | None = None) -> LabError:
    said = kernel_says(e)
    if said:   # the kernel's own words, as iproute2 prints them
        return LabError(said, hint)
    text = {17: "File exists", 2: "No such file or directory", 22: "Invalid argument", 95: "Operation not supported",
            19: "No such device", 16: "Device or resource busy"}
    return LabError(f"RTNETLINK answers: {text.get(e.code, os.strerror(e.code) if e.code else str(e))}", hint)


def _links(b, ns) -> list[Link]:
    b.require_ns(ns)
    return state.links(b, ns)


# ---- fdb ----------------------------------------------------------------------------------------
def _fdb_msgs(b, ns) -> list:
    return list(b.ipr(ns).fdb("dump"))


def _fdb_entry(ns, m, names: dict[int, str]) -> FdbEntry:
    ga = m.get_attr
    master = ga("NDA_MASTER")
    return FdbEntry(ns=ns or "", mac=ga("NDA_LLADDR") or "", dev=names.get(m["ifindex"], f"if{m['ifindex']}"),
                    master=names.get(master) if master else None, vlan=ga("NDA_VLAN"),
                    state=_state_name(m["state"]), self_=bool(m["flags"] & NTF_SELF), dst=ga("NDA_DST"))


def fdb_entries(b, ns: str | None, quiet: bool = True) -> list[FdbEntry]:
    """The forwarding database of `ns`; quiet=True leaves out multicast entries a device lists for itself."""
    names = {link.index: link.name for link in _links(b, ns)}
    out = []
    for m in _fdb_msgs(b, ns):
        e = _fdb_entry(ns, m, names)
        if quiet and e.self_ and e.mac and int(e.mac[:2], 16) & 1:
            continue
        out.append(e)
    return out


state.EXTRAS["fdb"] = lambda b, ns: {"fdb": tuple(fdb_entries(b, ns))}


def _fdb_line(m, names: dict[int, str], show_dev: bool) -> tuple[str, dict]:
    ga = m.get_attr
    parts = [ga("NDA_LLADDR") or "00:00:00:00:00:00"]
    d: dict = {"mac": parts[0]}
    if show_dev:
        dev = names.get(m["ifindex"], f"if{m['ifindex']}")
        parts.append(f"dev {dev}")
        d["ifname"] = dev
    for attr, word in (("NDA_VLAN", "vlan"), ("NDA_DST", "dst"), ("NDA_PORT", "port"), ("NDA_VNI", "vni"),
                       ("NDA_IFINDEX", "via")):
        v = ga(attr)
        if v is not None:
            if word == "via":
                v = names.get(v, f"if{v}")
            parts.append(f"{word} {v}")
            d["viaIf" if word == "via" else word] = v
    flags = []
    for bit, word in ((NTF_SELF, "self"), (NTF_ROUTER, "router"), (NTF_EXT_LEARNED, "extern_learn"),
                      (NTF_OFFLOADED, "offload")):
        if m["flags"] & bit:
            flags.append(word)
    parts += flags
    d["flags"] = flags
    master = ga("NDA_MASTER")
    if master:
        parts.append(f"master {names.get(master, master)}")
        d["master"] = names.get(master, str(master))
    st = _state_name(m["state"])
    d["state"] = st
    return " ".join(parts) + " " + st if st else " ".join(parts) + " ", d


@applies(c.FdbShow)
def fdb_show(b, op: c.FdbShow) -> str:
    links = _links(b, op.ns)
    names = {link.index: link.name for link in links}
    br = b.link_index(op.ns, op.br, "bridge") if op.br else None
    if br is not None and not any(link.index == br and link.kind == "bridge" for link in links):
        raise LabError(f'"{op.br}" is not a bridge.', "Bridges here: " + (", ".join(link.name for link in links if link.kind == "bridge") or "none"))
    dev = b.link_index(op.ns, op.dev, "bridge") if op.dev else None
    lines, objs = [], []
    for m in _fdb_msgs(b, op.ns):
        if dev is not None and m["ifindex"] != dev:
            continue
        if br is not None and m["ifindex"] != br and m.get_attr("NDA_MASTER") != br:
            if not (m["flags"] & NTF_SELF and any(link.index == m["ifindex"] and link.master_index == br for link in links)):
                continue
        if op.vlan is not None and m.get_attr("NDA_VLAN") != op.vlan:
            continue
        line, d = _fdb_line(m, names, dev is None)
        lines.append(line)
        objs.append(d)
    if op.opts.json:
        return json.dumps(objs, indent=4) if op.opts.pretty else json.dumps(objs, separators=(",", ":"))
    return "\n".join(lines)


@applies(c.FdbChange)
def fdb_change(b, op: c.FdbChange) -> str:
    b.require_ns(op.ns)
    idx = b.link_index(op.ns, op.dev, "bridge")
    link = next(lk for lk in state.links(b, op.ns) if lk.index == idx)
    if op.master and link.master is None:
        raise LabError("RTNETLINK answers: Operation not supported",
                       f'"{op.dev}" is not a bridge port, so it has no master fdb. Put it in a bridge first '
                       f"(ip link set {op.dev} master BR), or use self (a vxlan's own table).")
    flags = (NTF_MASTER if op.master else 0) | (NTF_SELF if op.self_ else 0)
    kw: dict = {"ifindex": idx, "lladdr": op.mac, "flags": flags, "family": socket.AF_BRIDGE,
                "state": ADD_STATES[op.state]}
    for key in ("dst", "vlan", "port", "vni"):
        v = getattr(op, key)
        if v is not None:
            kw[key] = v
    if op.via:
        kw["NDA_IFINDEX"] = b.link_index(op.ns, op.via, "bridge")
    verb = {"delete": "del"}.get(op.verb, op.verb)
    spec = {k: v for k, v in kw.items() if k not in ("state", "NDA_IFINDEX")}
    creates = verb in ("add", "append") or (verb == "replace" and b.journaled(op.ns)
                                            and not _fdb_exists(b, op.ns, idx, op.mac, op.vlan))
    with b.creating(op.ns, "fdb", spec=spec) if creates else contextlib.nullcontext(NOOP):
        _fdb_call(b, op, verb, kw)
    if verb == "del":
        b.retire(op.ns, "fdb", lambda e: e["spec"].get("ifindex") == idx and e["spec"].get("lladdr") == op.mac)
    return ""


def _fdb_exists(b, ns, idx: int, mac: str, vlan) -> bool:
    return any(m.get_attr("NDA_LLADDR") == mac and m.get_attr("NDA_VLAN") == vlan
               for m in b.ipr(ns).get_neighbours(family=socket.AF_BRIDGE, ifindex=idx))


def _fdb_call(b, op, verb: str, kw: dict) -> None:
    try:
        b.ipr(op.ns).neigh(verb, **kw)   # not fdb(): it forces NUD_NOARP, which turns "dynamic" into static
    except NetlinkError as e:
        if e.code == 17:
            raise _err(e, f"{op.mac} is already in the table of {op.dev}; use bridge fdb replace"
                          + (" (or append, for one more vxlan dst)" if op.dst else "") + ".") from None
        if e.code == 2 and op.verb == "delete":
            raise _err(e, f"No such entry; bridge fdb show dev {op.dev} lists them.") from None
        if e.code == 1 and op.state == "dynamic":
            raise _err(e, f"A dynamic entry needs the port to be learning or forwarding, and {op.dev} is not: "
                          f"ip link set {op.dev} up (and its bridge), or add a static entry.") from None
        if e.code == 22 and op.vlan is not None:
            raise _err(e, f"vlan {op.vlan} is not configured on {op.dev} (is VLAN filtering on? bridge vlan show)") from None
        raise _err(e) from None


# ---- link / vlan --------------------------------------------------------------------------------
def _bridge_ports(b, ns) -> list:
    return list(b.ipr(ns).get_links(family=socket.AF_BRIDGE))


@applies(c.BridgeLinkShow)
def bridge_link_show(b, op: c.BridgeLinkShow) -> str:
    links = _links(b, op.ns)
    by_index = {link.index: link for link in links}
    names = {link.index: link.name for link in links}
    dev = b.link_index(op.ns, op.dev, "bridge") if op.dev else None
    lines, objs = [], []
    for m in _bridge_ports(b, op.ns):
        if dev is not None and m["index"] != dev:
            continue
        link = by_index.get(m["index"])
        if link is None:
            continue
        pi = m.get_attr("IFLA_PROTINFO")
        get = pi.get_attr if pi is not None else (lambda _k: None)
        code = get("IFLA_BRPORT_STATE")
        port_state = PORT_STATES.get(code, str(code))
        s = f"{link.index}: {render.link_ifname(link, names)}: <{','.join(link.flags)}> mtu {link.mtu}"
        d: dict = {"ifindex": link.index}
        if link.link_index and link.link_index != link.index and link.link_netnsid is None and link.link_index in names:
            d["link"] = names[link.link_index]
        d.update(ifname=link.name, flags=list(link.flags), mtu=link.mtu)
        if link.master:
            s += f" master {link.master}"
            d["master"] = link.master
        s += f" state {port_state}"
        d["state"] = port_state
        for key, word in (("IFLA_BRPORT_PRIORITY", "priority"), ("IFLA_BRPORT_COST", "cost")):
            v = get(key)
            if v is not None:
                s += f" {word} {v}"
                d[word] = v
        lines.append(s + " ")
        objs.append(d)
    if op.opts.json:
        return json.dumps(objs, indent=4) if op.opts.pretty else json.dumps(objs, separators=(",", ":"))
    return "\n".join(lines)


@applies(c.VlanShow)
def vlan_show(b, op: c.VlanShow) -> str:
    links = _links(b, op.ns)
    names = {link.index: link.name for link in links}
    dev = b.link_index(op.ns, op.dev, "bridge") if op.dev else None
    lines = ["port              vlan-id    tunnel-id" if op.tunnels else "port              vlan-id  "]
    objs = []
    for m in b.ipr(op.ns).get_links(family=socket.AF_BRIDGE, ext_mask=2):
        if dev is not None and m["index"] != dev:
            continue
        spec = m.get_attr("IFLA_AF_SPEC")
        if spec is None:
            continue
        if op.tunnels:
            if any("TUNNEL" in str(k) for k, _ in spec["attrs"]):
                raise LabError("lab cannot show VLAN-to-tunnel mappings yet (bridge vlan tunnelshow).",
                               "Read them with the real tool: ip netns exec NS bridge vlan tunnelshow")
            continue
        vlans = [v for k, v in spec["attrs"] if k == "IFLA_BRIDGE_VLAN_INFO"]
        if not vlans:
            continue
        name = names.get(m["index"], str(m["index"]))
        entries = []
        for i, v in enumerate(vlans):
            fl = (["PVID"] if v["flags"] & BRIDGE_VLAN_INFO_PVID else []) + \
                 (["Egress Untagged"] if v["flags"] & BRIDGE_VLAN_INFO_UNTAGGED else [])
            lines.append(f"{name if i == 0 else '':<17} {v['vid']}" + "".join(" " + f for f in fl))
            entries.append({"vlan": v["vid"], "flags": fl})
        objs.append({"ifname": name, "vlans": entries})
    if op.opts.json:
        return json.dumps(objs, indent=4) if op.opts.pretty else json.dumps(objs, separators=(",", ":"))
    return "\n".join(lines)


IFLA_AF_SPEC, IFLA_BRIDGE_FLAGS, IFLA_BRIDGE_VLAN_INFO, IFLA_BRIDGE_VLAN_TUNNEL_INFO = 26, 0, 2, 3
BRIDGE_FLAGS_MASTER, BRIDGE_FLAGS_SELF = 1, 2
VLAN_RANGE_BEGIN, VLAN_RANGE_END = 8, 16


@applies(c.VlanChange)
def vlan_change(b, op: c.VlanChange) -> str:
    """RTM_SETLINK / RTM_DELLINK (AF_BRIDGE) with IFLA_AF_SPEC {IFLA_BRIDGE_FLAGS, IFLA_BRIDGE_VLAN_INFO}, as
    iproute2's bridge vlan add/del sends them."""
    from lab.backend.rtnl import attr

    idx = b.link_index(op.ns, op.dev, "bridge")
    flags = (BRIDGE_VLAN_INFO_PVID if op.pvid else 0) | (BRIDGE_VLAN_INFO_UNTAGGED if op.untagged else 0)
    spec = b""
    if op.self_ or op.master:
        spec += attr(IFLA_BRIDGE_FLAGS, struct.pack("=H", (BRIDGE_FLAGS_SELF if op.self_ else 0)
                                                    | (BRIDGE_FLAGS_MASTER if op.master else 0)))
    def tunnel(vid: int, tid: int, fl: int) -> bytes:   # IFLA_BRIDGE_VLAN_TUNNEL_{ID,VID,FLAGS}
        return attr(IFLA_BRIDGE_VLAN_TUNNEL_INFO, attr(1, struct.pack("=I", tid)) + attr(2, struct.pack("=H", vid))
                    + attr(3, struct.pack("=H", fl)))

    if op.tunnel_id is not None:     # iproute2 sends the tunnel mapping instead of the vlan, never both
        if op.vid_end is not None:
            spec += tunnel(op.vid, op.tunnel_id, VLAN_RANGE_BEGIN)
            spec += tunnel(op.vid_end, op.tunnel_id_end or 0, VLAN_RANGE_END)
        else:
            spec += tunnel(op.vid, op.tunnel_id, 0)
    elif op.vid_end is None:
        spec += attr(IFLA_BRIDGE_VLAN_INFO, struct.pack("=HH", flags, op.vid))
    else:
        spec += attr(IFLA_BRIDGE_VLAN_INFO, struct.pack("=HH", flags | VLAN_RANGE_BEGIN, op.vid))
        spec += attr(IFLA_BRIDGE_VLAN_INFO, struct.pack("=HH", flags | VLAN_RANGE_END, op.vid_end))
    body = struct.pack("=BxHiII", socket.AF_BRIDGE, 0, idx, 0, 0) + attr(IFLA_AF_SPEC, spec)
    try:
        b.rtnl(op.ns).request(19 if op.verb == "add" else 17, 0, body)   # RTM_SETLINK / RTM_DELLINK
    except NetlinkError as e:
        if e.code == 95:
            raise LabError("RTNETLINK answers: Operation not supported",
                           f"{op.dev} is not a bridge port, or this kernel has no bridge VLAN filtering "
                           "(CONFIG_BRIDGE_VLAN_FILTERING)") from None
        raise _err(e) from None
    return ""


@applies(c.BridgeHelp)
def bridge_help(b, op: c.BridgeHelp) -> str:
    return op.text


# ---- brctl --------------------------------------------------------------------------------------
def _bridge_id(b, ns, link: Link) -> tuple[str, bool]:
    msg = b.ipr(ns).get_links(link.index)[0]
    data = msg.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_DATA")
    prio = data.get_attr("IFLA_BR_PRIORITY") if data is not None else 32768
    stp = bool(data.get_attr("IFLA_BR_STP_STATE")) if data is not None else False
    return f"{prio or 0:04x}.{link.mac.replace(':', '')}", stp


def _need_bridge(links: list[Link], name: str, ns) -> Link:
    br = next((link for link in links if link.name == name), None)
    if br is None or br.kind != "bridge":
        bridges = [link.name for link in links if link.kind == "bridge"]
        why = "No such device" if br is None else "it is not a bridge"
        raise LabError(f"bridge {name} does not exist!" + (did_you_mean(name, bridges) if br is None else f" ({why})"),
                       "Bridges here: " + (", ".join(bridges) or "none (brctl addbr BR, or ip link add BR type bridge)"))
    return br


@applies(c.BrctlShow)
def brctl_show(b, op: c.BrctlShow) -> str:
    links = _links(b, op.ns)
    bridges = sorted((link for link in links if link.kind == "bridge"), key=lambda link: link.name)
    if op.bridge:
        bridges = [_need_bridge(links, op.bridge, op.ns)]
    out = ["bridge name\tbridge id\t\tSTP enabled\tinterfaces"]
    for br in bridges:
        bid, stp = _bridge_id(b, op.ns, br)
        ports = sorted(link.name for link in links if link.master_index == br.index)
        first = ports[0] if ports else ""
        out.append(f"{br.name}\t\t{bid}\t{'yes' if stp else 'no'}\t\t{first}")
        out += [f"\t\t\t\t\t\t\t{p}" for p in ports[1:]]
    return "\n".join(out)


@applies(c.BrctlShowmacs)
def brctl_showmacs(b, op: c.BrctlShowmacs) -> str:
    links = _links(b, op.ns)
    br = _need_bridge(links, op.bridge, op.ns)
    port_no = {}
    for m in _bridge_ports(b, op.ns):
        pi = m.get_attr("IFLA_PROTINFO")
        if pi is not None and m.get_attr("IFLA_MASTER") == br.index:
            port_no[m["index"]] = pi.get_attr("IFLA_BRPORT_NO") or 0
    rows = []
    for m in _fdb_msgs(b, op.ns):
        if m.get_attr("NDA_MASTER") != br.index or m["ifindex"] not in port_no or m.get_attr("NDA_VLAN"):
            continue
        ci = m.get_attr("NDA_CACHEINFO") or {}
        local = bool(m["state"] & NUD_PERMANENT)
        age = 0.0 if local else (ci.get("ndm_updated", 0) / 100)
        rows.append((port_no[m["ifindex"]], m.get_attr("NDA_LLADDR"), local, age))
    out = ["port no\tmac addr\t\tis local?\tageing timer"]
    for no, mac, local, age in sorted(rows):
        out.append(f"{no:3d}\t{mac}\t{'yes' if local else 'no'}\t\t{age:7.2f}")
    return "\n".join(out)


@applies(c.BrctlChange)
def brctl_change(b, op: c.BrctlChange) -> str:
    links = _links(b, op.ns)
    ipr = b.ipr(op.ns)
    if op.verb == "addbr":
        if any(link.name == op.bridge for link in links):
            raise LabError(f"device {op.bridge} already exists; can't create bridge with the same name")
        with b.creating(op.ns, "link", name=op.bridge) as ent:
            try:
                ipr.link("add", ifname=op.bridge, kind="bridge")
            except NetlinkError as e:
                raise _err(e) from None
            if ent is not NOOP:
                ent.confirm(ifindex=ipr.link_lookup(ifname=op.bridge)[0])
        return ""
    br = _need_bridge(links, op.bridge, op.ns)
    if op.verb == "delbr":
        if "UP" in br.flags:
            raise LabError(f"bridge {op.bridge} is still up; can't delete it", f"ip link set {op.bridge} down first.")
        ipr.link("del", index=br.index)
        b.retire(op.ns, "link", lambda e: e.get("ifindex") == br.index)
        return ""
    if op.verb == "stp":
        ipr.link("set", index=br.index, kind="bridge", br_stp_state=1 if op.stp else 0)
        return ""
    dev = next((link for link in links if link.name == op.dev), None)
    if dev is None:
        raise LabError(f"interface {op.dev} does not exist!" + did_you_mean(op.dev or "", [link.name for link in links]))
    if op.verb == "addif":
        if dev.master_index == br.index:
            raise LabError(f"device {op.dev} is already a member of a bridge; can't enslave it to bridge {op.bridge}.")
        if dev.master is not None:
            raise LabError(f"device {op.dev} is already a member of a bridge; can't enslave it to bridge {op.bridge}.",
                           f"It is in {dev.master}: brctl delif {dev.master} {op.dev} first.")
        if dev.index == br.index or dev.kind == "bridge":
            raise LabError(f"device {op.dev} is a bridge device itself; can't enslave a bridge device to a bridge device.")
        ipr.link("set", index=dev.index, master=br.index)
        return ""
    if dev.master_index != br.index:
        raise LabError(f"device {op.dev} is not a slave of {op.bridge}")
    ipr.link("set", index=dev.index, master=0)
    return ""
