"""Read the kernel's state back as model objects: links, addresses, routes, neighbours, and the
namespace-wide Snapshot the panes, checks and export use. Other families (iptables, tc, conntrack)
add their part through `EXTRAS`. Leaves formatting to lab.render.
"""
from __future__ import annotations

import socket
from typing import Any, Callable

from lab.model import Address, Link, Neighbour, Nexthop, NsState, Route, Snapshot

IFF = [(0x8, "LOOPBACK"), (0x2, "BROADCAST"), (0x10, "POINTOPOINT"), (0x1000, "MULTICAST"), (0x80, "NOARP"),
       (0x200, "ALLMULTI"), (0x100, "PROMISC"), (0x20, "NOTRAILERS"), (0x4, "DEBUG"), (0x8000, "DYNAMIC"),
       (0x4000, "AUTOMEDIA"), (0x2000, "PORTSEL"), (0x400, "MASTER"), (0x800, "SLAVE"), (0x1, "UP"),
       (0x10000, "LOWER_UP"), (0x20000, "DORMANT"), (0x40000, "ECHO")]
OPERSTATES = ["UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP"]
SCOPE_NAMES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
RT_TYPES = {1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast", 6: "blackhole",
            7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat"}
PROTO_NAMES = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 9: "ra", 11: "zebra",
               12: "bird", 16: "dhcp", 186: "bgp"}
NUD = [(0x01, "INCOMPLETE"), (0x02, "REACHABLE"), (0x04, "STALE"), (0x08, "DELAY"), (0x10, "PROBE"),
       (0x20, "FAILED"), (0x40, "NOARP"), (0x80, "PERMANENT")]
ARPHRD = {1: "ether", 772: "loopback", 65534: "none", 768: "ipip", 778: "gre"}
IP_HW = (768, 769, 776, 778, 823)   # tunnels whose "hardware address" is an IP address (ll_addr_n2a)


def _hw_addresses(m) -> tuple[str, str, str]:
    """(address, broadcast, permanent address) of a tunnel device as iproute2 prints them: 4 or 16 bytes, as IP
    addresses (pyroute2 decodes every IFLA_ADDRESS as 6 bytes of MAC)."""
    from lab.backend import linkdetail as LD

    tb = LD._parse(LD._raw(m), 16 + 16, None, 0)      # after nlmsghdr, ifinfomsg
    return tuple(LD.ll_addr(tb[k], m["ifi_type"]) if k in tb else ""   # type: ignore[return-value]
                 for k in (1, 2, LD.IFLA_PERM_ADDRESS))

# name -> fn(backend, ns) -> dict of NsState fields; registered by iptables/tc/conntrack modules
EXTRAS: dict[str, Callable] = {}


# iproute2's ifa_flag_data order: (mask, word, IPv6 only); IFA_F_PERMANENT prints "dynamic" when absent
IFA_FLAGS = [(0x01, "secondary", False), (0x02, "nodad", True), (0x04, "optimistic", True),
             (0x08, "dadfailed", True), (0x10, "home", True), (0x20, "deprecated", True), (0x40, "tentative", True),
             (0x80, "permanent", True), (0x100, "mngtmpaddr", True), (0x200, "noprefixroute", False),
             (0x400, "autojoin", False), (0x800, "stable-privacy", True)]


def ifa_flag_words(flags: int, v6: bool) -> tuple[str, ...]:
    """The address flags as `ip addr` prints them."""
    out = []
    for mask, word, v6only in IFA_FLAGS:
        if mask == 0x80:
            if v6 and not flags & mask:
                out.append("dynamic")
        elif flags & mask and (v6 or not v6only):
            out.append("temporary" if mask == 0x01 and v6 else word)
    return tuple(out)


def nud_name(state: int) -> str:
    names = [n for bit, n in NUD if state & bit]
    return ",".join(names) if names else "NONE"


def _fam(f: int) -> str:
    return "inet6" if f == socket.AF_INET6 else "inet"


def _link_type(t: int) -> str:
    if t in ARPHRD:
        return ARPHRD[t]
    from lab.backend.linkdetail import ARPHRD_NAMES

    return ARPHRD_NAMES.get(t, f"[{t}]")


def link_from_msg(ns: str | None, m, names: dict[int, str] | None = None) -> Link:
    ga = m.get_attr
    flags = m["flags"]
    info = ga("IFLA_LINKINFO")
    kind = ""
    vx: dict = {}
    vlan_id = None
    if info is not None:
        kind = info.get_attr("IFLA_INFO_KIND") or ""
        data = info.get_attr("IFLA_INFO_DATA")
        if data is not None and kind == "vxlan":
            vx = {"vxlan_id": data.get_attr("IFLA_VXLAN_ID"),
                  "vxlan_remote": data.get_attr("IFLA_VXLAN_GROUP"),
                  "vxlan_local": data.get_attr("IFLA_VXLAN_LOCAL"),
                  "vxlan_port": data.get_attr("IFLA_VXLAN_PORT")}
        if data is not None and kind == "vlan":
            vlan_id = data.get_attr("IFLA_VLAN_ID")
    op = ga("IFLA_OPERSTATE")
    if isinstance(op, int):
        op = OPERSTATES[op] if op < len(OPERSTATES) else "UNKNOWN"
    master = ga("IFLA_MASTER")
    st = ga("IFLA_STATS64") or ga("IFLA_STATS")
    stats = (st["rx_packets"], st["rx_bytes"], st["tx_packets"], st["tx_bytes"]) if st else (0, 0, 0, 0)
    link_idx = ga("IFLA_LINK")
    if m["ifi_type"] in IP_HW:
        mac, brd, perm = _hw_addresses(m)
    else:
        mac, brd, perm = ga("IFLA_ADDRESS") or "", ga("IFLA_BROADCAST") or "", ga("IFLA_PERM_ADDRESS") or ""
    return Link(
        ns=ns or "", index=m["index"], name=ga("IFLA_IFNAME"), kind=kind,
        flags=tuple(n for bit, n in IFF if flags & bit), mtu=ga("IFLA_MTU") or 0,
        mac=mac, brd=brd, perm=perm if perm != mac else "", link_type=_link_type(m["ifi_type"]), operstate=op or "UNKNOWN",
        qdisc=ga("IFLA_QDISC") or "noop", master=(names or {}).get(master) if master else None,
        master_index=master, link_index=link_idx, link_netnsid=ga("IFLA_LINK_NETNSID"),
        qlen=ga("IFLA_TXQLEN") or 0, vlan_id=vlan_id, stats=stats, linkmode=ga("IFLA_LINKMODE") or 0,
        group=ga("IFLA_GROUP") or 0, alias=ga("IFLA_IFALIAS"), **vx)


def links(b, ns: str | None) -> list[Link]:
    msgs = list(b.ipr(ns).get_links())
    names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in msgs}
    return sorted((link_from_msg(ns, m, names) for m in msgs), key=lambda link: link.index)


def addresses(b, ns: str | None, family: int | None = None, names: dict[int, str] | None = None) -> list[Address]:
    ipr = b.ipr(ns)
    if names is None:
        names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in ipr.get_links()}
    out = []
    for m in ipr.get_addr():
        fam = m["family"]
        if family == 4 and fam != socket.AF_INET or family == 6 and fam != socket.AF_INET6:
            continue
        local = m.get_attr("IFA_LOCAL") or m.get_attr("IFA_ADDRESS")
        out.append(Address(ns=ns or "", index=m["index"], dev=names.get(m["index"], f"if{m['index']}"),
                           family=_fam(fam), local=local, prefixlen=m["prefixlen"],
                           scope=SCOPE_NAMES.get(m["scope"], str(m["scope"])),
                           broadcast=m.get_attr("IFA_BROADCAST"), label=m.get_attr("IFA_LABEL"),
                           flags=ifa_flag_words(m.get_attr("IFA_FLAGS") or m["flags"], fam == socket.AF_INET6)))
    return out


ROUTER_PREF = {0: "medium", 1: "high", 3: "low"}


def route_from_msg(ns: str | None, m, names: dict[int, str]) -> Route:
    ga = m.get_attr
    dst = ga("RTA_DST")
    dst_s = f"{dst}/{m['dst_len']}" if dst is not None else "default"
    if dst is not None and m["dst_len"] == (32 if m["family"] == socket.AF_INET else 128):
        dst_s = dst
    oif = ga("RTA_OIF")
    flags = []
    if m["flags"] & 4:
        flags.append("onlink")
    if m["flags"] & 16:
        flags.append("linkdown")
    hops = []
    for nh in ga("RTA_MULTIPATH") or ():
        hops.append(Nexthop(gateway=nh.get_attr("RTA_GATEWAY"), dev=names.get(nh["oif"], f"if{nh['oif']}") if nh["oif"] else None,
                            weight=nh["hops"] + 1, flags=nh_flag_words(nh["flags"])))
    return Route(ns=ns or "", dst=dst_s, family=_fam(m["family"]), table=ga("RTA_TABLE") or m["table"],
                 type=RT_TYPES.get(m["type"], str(m["type"])), gateway=ga("RTA_GATEWAY"),
                 dev=names.get(oif) if oif else None, proto=PROTO_NAMES.get(m["proto"], str(m["proto"])),
                 scope=SCOPE_NAMES.get(m["scope"], str(m["scope"])), prefsrc=ga("RTA_PREFSRC"),
                 metric=ga("RTA_PRIORITY"), flags=tuple(flags), pref=ROUTER_PREF.get(ga("RTA_PREF")),
                 nexthops=tuple(hops))


def nh_flag_words(flags: int) -> tuple[str, ...]:
    """RTNH_F_* as iproute2 prints them after a nexthop (dead, pervasive, onlink, ..., linkdown)."""
    return tuple(w for bit, w in ((1, "dead"), (4, "onlink"), (2, "pervasive"), (8, "offload"), (64, "trap"),
                                  (16, "linkdown"), (32, "unresolved")) if flags & bit)


def routes(b, ns: str | None, table: int | None = 254, family: int | None = 4,
           names: dict[int, str] | None = None) -> list[Route]:
    ipr = b.ipr(ns)
    if names is None:
        names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in ipr.get_links()}
    fams = [socket.AF_INET] if family == 4 else [socket.AF_INET6] if family == 6 else [socket.AF_INET, socket.AF_INET6]
    out = []
    for fam in fams:
        for m in ipr.get_routes(family=fam):
            r = route_from_msg(ns, m, names)
            if table not in (None, 0) and r.table != table:
                continue
            if fam == socket.AF_INET6 and r.type == "unicast" and r.dst.startswith("ff00::"):
                pass
            out.append(r)
    return out


def neighbours(b, ns: str | None, names: dict[int, str] | None = None, family: int | None = None) -> list[Neighbour]:
    ipr = b.ipr(ns)
    if names is None:
        names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in ipr.get_links()}
    out = []
    for m in ipr.get_neighbours():
        fam = m["family"]
        if fam not in (socket.AF_INET, socket.AF_INET6):
            continue
        if family == 4 and fam != socket.AF_INET or family == 6 and fam != socket.AF_INET6:
            continue
        if fam == socket.AF_INET6 and family is None:
            continue  # None: ARP only (checks, export); 0: both families, as `ip neigh` shows them
        out.append(Neighbour(ns=ns or "", dst=m.get_attr("NDA_DST"), dev=names.get(m["ifindex"], "?"),
                             lladdr=m.get_attr("NDA_LLADDR"), state=nud_name(m["state"]),
                             router=bool(m["flags"] & 0x80), family=_fam(fam)))
    return out


def netns_ids(b, ns: str | None) -> dict[int, str]:
    """nsid (as seen from `ns`) -> namespace name, for `link-netns NAME` and peer resolution."""
    import os

    from lab.backend import nsutil

    out: dict[int, str] = {}
    rt = b.rtnl(ns)
    for name in nsutil.list_netns():
        if name == ns:
            continue
        try:
            fd = os.open(nsutil.ns_path(name), os.O_RDONLY)
        except OSError:
            continue
        try:
            nsid = rt.nsid(fd)
            if nsid is not None:
                out[nsid] = name
        except Exception:  # noqa: BLE001
            pass
        finally:
            os.close(fd)
    # the top namespace, seen from a named one
    if ns:
        try:
            nsid = rt.nsid(nsutil.TOP.fd)
            if nsid is not None:
                out.setdefault(nsid, "")
        except Exception:  # noqa: BLE001
            pass
    return out


def ns_state(b, ns: str | None, extras: bool = True) -> NsState:
    ls = links(b, ns)
    names = {link.index: link.name for link in ls}
    st: dict[str, Any] = dict(links=tuple(ls), addresses=tuple(addresses(b, ns, 4, names)),
              routes=tuple(routes(b, ns, None, 4, names)), neighbours=tuple(neighbours(b, ns, names, 4)))
    if extras:
        for fn in EXTRAS.values():
            try:
                st.update(fn(b, ns))
            except Exception:  # noqa: BLE001  (an object vanished mid-read: show the rest)
                pass
    return NsState(name=ns or "", **st)


def snapshot(b, namespaces=None, extras: bool = True) -> Snapshot:
    if namespaces is None:
        namespaces = [None] + b.namespaces()
    out = []
    for ns in namespaces:
        try:
            out.append(ns_state(b, ns, extras))
        except Exception:  # noqa: BLE001  (the namespace was deleted while we read it)
            b.forget_ns(ns or "")
    return Snapshot(namespaces=tuple(out))
