"""Model objects -> iproute2-shaped text and JSON. Pure: no kernel access.

Mirrors `ip link`, `ip -br link`, `ip addr`, `ip -br addr`, `ip route`, `ip neigh` and their `-j` forms,
so that output in the lab reads like the tools learners will use on real machines.
"""
from __future__ import annotations

import json as _json
import re
from typing import Iterable

from lab.model import Address, Link, Neighbour, Route

TABLE_NAMES = {254: "main", 255: "local", 253: "default"}


def table_name(t: int) -> str:
    return TABLE_NAMES.get(t, str(t))


def link_ifname(link: Link, peer_names: dict[int, str] | None = None) -> str:
    """`veth0@if5` / `veth0@veth1` / `mv0@eth0` as iproute2 prints the name column."""
    if link.link_index:
        if link.link_netnsid is None and peer_names and link.link_index in peer_names:
            return f"{link.name}@{peer_names[link.link_index]}"
        return f"{link.name}@if{link.link_index}"
    if link.link_index == 0:
        return f"{link.name}@NONE"
    return link.name


def flag_words(link: Link, by_index: dict[int, Link] | None = None) -> list[str]:
    """iproute2's flag list: NO-CARRIER first when up but not RUNNING (the kernel's RUNNING is
    "operstate UP or UNKNOWN"), M-DOWN last when the same-namespace lower/peer device is down."""
    fl = list(link.flags)
    if "UP" in fl and link.operstate not in ("UP", "UNKNOWN"):
        fl.insert(0, "NO-CARRIER")
    if link.link_index and link.link_netnsid is None and by_index is not None:
        peer = by_index.get(link.link_index)
        if peer is not None and not peer.up:
            fl.append("M-DOWN")
    return fl


def _flags(link: Link, by_index: dict[int, Link] | None = None) -> str:
    return "<" + ",".join(flag_words(link, by_index)) + ">"


LINKMODES = {0: "DEFAULT", 1: "DORMANT"}


def group_name(group: int) -> str:
    """iproute2's rtnl_group_n2a with its stock /etc/iproute2/group (0 is "default")."""
    return "default" if group == 0 else str(group)


def link_header(link: Link, names: dict[int, str], with_mode: bool, netns_names: dict[int, str],
                by_index: dict[int, Link] | None = None) -> list[str]:
    master = f" master {link.master}" if link.master else ""
    mode = f" mode {LINKMODES.get(link.linkmode, 'DEFAULT')}" if with_mode else ""
    first = (f"{link.index}: {link_ifname(link, names)}: {_flags(link, by_index)} mtu {link.mtu} qdisc {link.qdisc}"
             f"{master} state {link.operstate}{mode} group {group_name(link.group)} qlen {link.qlen}")
    second = f"    link/{link.link_type} {link.mac}"      # a tun/wireguard device has no address: "link/none "
    if link.brd:
        second += f" {'peer' if 'POINTOPOINT' in link.flags else 'brd'} {link.brd}"
    if link.perm:
        second += f" permaddr {link.perm}"
    if link.link_netnsid is not None:
        nm = netns_names.get(link.link_netnsid)
        second += f" link-netns {nm}" if nm else f" link-netnsid {link.link_netnsid}"
    return [first, second]


def link_details(link: Link) -> list[str]:
    out = []
    if link.kind == "vxlan":
        s = f"    vxlan id {link.vxlan_id}"
        if link.vxlan_remote:
            s += f" remote {link.vxlan_remote}"
        if link.vxlan_local:
            s += f" local {link.vxlan_local}"
        if link.vxlan_port is not None:
            s += f" dstport {link.vxlan_port}"
        out.append(s)
    elif link.kind:
        out.append(f"    {link.kind}")
    return out


def link_stats(link: Link) -> list[str]:
    rp, rb, tp, tb = link.stats
    return ["    RX:  bytes packets errors dropped  missed   mcast           ",   # iproute2's padding
            f"    {rb:>10} {rp:>7} {0:>6} {0:>7} {0:>7} {0:>7} ",
            "    TX:  bytes packets errors dropped carrier collsns           ",
            f"    {tb:>10} {tp:>7} {0:>6} {0:>7} {0:>7} {0:>7} "]


def links_text(links: Iterable[Link], brief: bool = False, details: bool = False, stats: bool = False,
               netns_names: dict[int, str] | None = None, context: Iterable[Link] | None = None) -> str:
    """`context`: all links of the namespace (peer names and M-DOWN), when `links` is filtered."""
    links = list(links)
    ctx = list(context) if context is not None else links
    names = {link.index: link.name for link in ctx}
    by_index = {link.index: link for link in ctx}
    out: list[str] = []
    for link in links:
        if brief:
            addr = f"{link.mac} " if link.mac else ""     # iproute2: "%s " (an ether MAC is 17 wide anyway)
            out.append(f"{link_ifname(link, names):<16} {link.operstate:<14} {addr}{_flags(link, by_index)} ")
            continue
        out += link_header(link, names, True, netns_names or {}, by_index)
        if details:
            out += link_details(link)
        if link.alias is not None:
            out.append(f"    alias {link.alias}")
        if stats:
            out += link_stats(link)
    return "\n".join(out)


def link_json(link: Link, names: dict[int, str], by_index: dict[int, Link] | None = None) -> dict:
    d: dict = {"ifindex": link.index}
    if link.link_index == 0:
        d["link"] = None          # iproute2: IFLA_LINK 0 prints "@NONE", null in JSON
    elif link.link_index:
        if link.link_netnsid is None and link.link_index in names:
            d["link"] = names[link.link_index]
        else:
            d["link_index"] = link.link_index
    d.update({"ifname": link.name, "flags": flag_words(link, by_index), "mtu": link.mtu, "qdisc": link.qdisc})
    if link.master:
        d["master"] = link.master
    d.update({"operstate": link.operstate, "linkmode": LINKMODES.get(link.linkmode, "DEFAULT"), "group": group_name(link.group),
              "txqlen": link.qlen,
              "link_type": link.link_type})
    if link.mac:
        d["address"] = link.mac
    if link.brd:
        if "POINTOPOINT" in link.flags:
            d["link_pointtopoint"] = True
        d["broadcast"] = link.brd
    if link.perm:
        d["permaddr"] = link.perm
    if link.link_netnsid is not None:
        d["link_netnsid"] = link.link_netnsid
    if link.alias is not None:
        d["ifalias"] = link.alias
    return d   # linkinfo only with -d (lab.backend.linkdetail), as iproute2


def links_json(links: Iterable[Link], context: Iterable[Link] | None = None) -> str:
    links = list(links)
    ctx = list(context) if context is not None else links
    names = {link.index: link.name for link in ctx}
    by_index = {link.index: link for link in ctx}
    return _json.dumps([link_json(link, names, by_index) for link in links], separators=(",", ":"))


def addr_lines(a: Address) -> list[str]:
    s = f"    {a.family} {a.cidr}"
    if a.broadcast:
        s += f" brd {a.broadcast}"
    s += f" scope {a.scope} " + "".join(f + " " for f in a.flags)
    if a.family == "inet":
        s += a.label or a.dev
    return [s, "       valid_lft forever preferred_lft forever"]


def addrs_text(links: Iterable[Link], addrs: Iterable[Address], brief: bool = False,
               netns_names: dict[int, str] | None = None, context: Iterable[Link] | None = None,
               family: int | None = None) -> str:
    """`ip [-4|-6] addr`. With -4 iproute2 drops the link/ line (its link-netnsid moves to the first
    line); with -6 it prints a short first line (no qdisc, group or @peer) and no link/ line."""
    links = list(links)
    addrs = list(addrs)
    ctx = list(context) if context is not None else links
    names = {link.index: link.name for link in ctx}
    by_index = {link.index: link for link in ctx}
    out: list[str] = []
    for link in links:
        mine = [a for a in addrs if a.index == link.index]
        if brief:
            name = link.name if family == 6 else link_ifname(link, names)
            out.append(f"{name:<16} {link.operstate:<14} " + "".join(f"{a.cidr} " for a in mine))
            continue
        first, second = link_header(link, names, False, netns_names or {}, by_index)
        if family == 4:
            m = re.search(r" link-netns(id)? \S+$", second)
            out.append(first + (m.group(0) if m else ""))
        elif family == 6:
            master = f" master {link.master}" if link.master else ""
            out.append(f"{link.index}: {link.name}: {_flags(link, by_index)} mtu {link.mtu}{master} state {link.operstate}"
                       f" qlen {link.qlen}")
        else:
            out += [first, second]
        for a in mine:
            out += addr_lines(a)
    return "\n".join(out)


def addrs_oneline(links: Iterable[Link], addrs: Iterable[Address]) -> str:
    """`ip -o addr`: one line per address, "INDEX: NAME" then its lines joined by "\"."""
    addrs = list(addrs)
    out = []
    for link in links:
        for a in addrs:
            if a.index == link.index:
                out.append(f"{link.index}: {link.name}" + "\\".join(addr_lines(a)))
    return "\n".join(out)


def addrs_json(links: Iterable[Link], addrs: Iterable[Address], context: Iterable[Link] | None = None) -> str:
    links = list(links)
    addrs = list(addrs)
    ctx = list(context) if context is not None else links
    names = {link.index: link.name for link in ctx}
    by_index = {link.index: link for link in ctx}
    res = []
    for link in links:
        d = link_json(link, names, by_index)
        d.pop("linkmode", None)   # `ip -j addr` has no linkmode nor alias (`ip -j link` has)
        d.pop("ifalias", None)
        infos = []
        for a in addrs:
            if a.index != link.index:
                continue
            i = {"family": a.family, "local": a.local, "prefixlen": a.prefixlen}
            if a.broadcast:
                i["broadcast"] = a.broadcast
            i["scope"] = a.scope
            i.update({f: True for f in a.flags})
            if a.family == "inet":
                i["label"] = a.label or a.dev
            i.update({"valid_life_time": 4294967295, "preferred_life_time": 4294967295})
            infos.append(i)
        d["addr_info"] = infos
        res.append(d)
    return _json.dumps(res, separators=(",", ":"))   # compact, as iproute2


def route_text(r: Route, show_table: bool) -> str:
    s = "" if r.type == "unicast" else r.type + " "
    s += r.dst
    if r.gateway:
        s += f" via {r.gateway}"
    if r.dev:
        s += f" dev {r.dev}"
    if show_table and r.table != 254:
        s += f" table {table_name(r.table)}"
    if r.proto != "boot":
        s += f" proto {r.proto}"
    if r.scope != "global":
        s += f" scope {r.scope}"
    if r.prefsrc:
        s += f" src {r.prefsrc}"
    if r.metric is not None:
        s += f" metric {r.metric}"
    for f in r.flags:
        s += f" {f}"
    s += " " + (f"pref {r.pref}" if r.pref else "")
    for h in r.nexthops:   # a multipath route: one tab-indented line per path, as iproute2
        s += "\n\tnexthop" + (f" via {h.gateway}" if h.gateway else "") + (f" dev {h.dev}" if h.dev else "")
        s += f" weight {h.weight} " + "".join(f"{f} " for f in h.flags)
    return s


def routes_text(routes: Iterable[Route], show_table: bool = False) -> str:
    return "\n".join(route_text(r, show_table) for r in routes)


def route_json(r: Route, show_table: bool = False) -> dict:
    d: dict = {}
    if r.type != "unicast":
        d["type"] = r.type
    d["dst"] = r.dst
    if r.gateway:
        d["gateway"] = r.gateway
    if r.dev:
        d["dev"] = r.dev
    if show_table and r.table != 254:
        d["table"] = table_name(r.table)
    if r.proto != "boot":
        d["protocol"] = r.proto
    if r.scope != "global":
        d["scope"] = r.scope
    if r.prefsrc:
        d["prefsrc"] = r.prefsrc
    if r.metric is not None:
        d["metric"] = r.metric
    d["flags"] = list(r.flags)
    if r.pref:
        d["pref"] = r.pref
    if r.nexthops:
        d["nexthops"] = [{**({"gateway": h.gateway} if h.gateway else {}), **({"dev": h.dev} if h.dev else {}),
                          "weight": h.weight, "flags": list(h.flags)} for h in r.nexthops]
    return d


def routes_json(routes: Iterable[Route], show_table: bool = False) -> str:
    return _json.dumps([route_json(r, show_table) for r in routes], separators=(",", ":"))


def neigh_text(n: Neighbour) -> str:
    s = f"{n.dst} dev {n.dev}"
    if n.lladdr:
        s += f" lladdr {n.lladdr}"
    if n.router:
        s += " router"
    return s + f" {n.state} "   # iproute2 ends the line with a space


def neighs_text(ns: Iterable[Neighbour]) -> str:
    return "\n".join(neigh_text(n) for n in ns)


def neighs_json(ns: Iterable[Neighbour]) -> str:
    res = []
    for n in ns:
        d: dict[str, object] = {"dst": n.dst, "dev": n.dev}
        if n.lladdr:
            d["lladdr"] = n.lladdr
        if n.router:
            d["router"] = None
        d["state"] = n.state.split(",")
        res.append(d)
    return _json.dumps(res, separators=(",", ":"))   # compact, as iproute2
