"""Apply `ip` Ops with pyroute2: netns, link, addr, route, neigh, rule; and print like iproute2.

Every change is checked before it is made (devices exist, namespaces exist, names free) so a failing
command changes nothing; a multi-step change (veth + peer into a namespace + up) is undone on failure.
"""
from __future__ import annotations

import contextlib
import ipaddress
import json
import errno
import os
import socket
import struct

from pyroute2.netlink.exceptions import NetlinkError

from lab import render
from lab.backend import nsutil, state
from lab.backend.core import applies
from lab.backend.journal import NOOP
from lab.backend.rtnl import RTM_NEWLINK, ifinfo
from lab.commands import ip as c
from lab.errors import LabError, did_you_mean, kernel_says

ERRNO_TEXT = {17: "File exists", 2: "No such file or directory", 19: "No such device", 22: "Invalid argument",
              1: "Operation not permitted", 95: "Operation not supported", 16: "Device or resource busy",
              101: "Network is unreachable", 113: "No route to host", 3: "No such process", 99: "Cannot assign requested address",
              34: "Numerical result out of range", 93: "Protocol not supported"}


def nl_error(e: NetlinkError, what: str = "", hint: str | None = None) -> LabError:
    said = kernel_says(e)
    if said:   # iproute2 prints the kernel's own words instead of the errno text
        return LabError(said, hint)
    code = e.code
    text = ERRNO_TEXT.get(code, os.strerror(code) if code else str(e))
    return LabError(f"RTNETLINK answers: {text}" + (f" ({what})" if what else ""), hint)


def _names(b, ns) -> dict[int, str]:
    return {m["index"]: m.get_attr("IFLA_IFNAME") for m in b.ipr(ns).get_links()}


# ---- netns -------------------------------------------------------------------------------------------
@applies(c.NetnsAdd)
def netns_add(b, op: c.NetnsAdd) -> str:
    if nsutil.netns_exists(op.name):
        raise LabError(f'Cannot create namespace file "/run/netns/{op.name}": File exists',
                       f"The namespace already exists; delete it first: ip netns del {op.name}")
    if b.journal is None:
        _create_netns(op.name)
        return ""
    with b.creating(None, "netns", name=op.name) as ent:
        _create_netns(op.name)
        ent.confirm(ino=nsutil.netns_inode(op.name))   # the identity lab clean checks before deleting
    return ""


def _create_netns(name: str) -> None:
    """nsutil.create_netns, with the kernel's namespace limit (a lab serve seat's, or the machine's) said."""
    try:
        nsutil.create_netns(name)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        most = os.environ.get("LAB_MAX_NAMESPACES")
        raise LabError(f'Failed to create a new network namespace "{name}": No space left on device',
                       f"This lab may hold at most {most} namespaces (a limit of its lab serve seat): "
                       "delete one first (ip netns del NAME)" if most else
                       "The kernel's limit of network namespaces (user.max_net_namespaces) is reached.") from None


@applies(c.NetnsDel)
def netns_del(b, op: c.NetnsDel) -> str:
    if not nsutil.netns_exists(op.name):
        if op.name in nsutil.EXTRA:
            from lab.backend.discover import describe

            raise LabError(f'Cannot remove namespace file "/run/netns/{op.name}": No such file or directory',
                           f"{op.name} is {describe(op.name)}, not a namespace in /run/netns: lab does not delete "
                           "it (it goes when what holds it stops)")
        raise LabError(f'Cannot remove namespace file "/run/netns/{op.name}": No such file or directory'
                       + did_you_mean(op.name, nsutil.list_netns()))
    b.stop_daemons(op.name)      # a daemon lab started there (bird) would keep the namespace alive
    b.forget_ns(op.name)
    nsutil.remove_netns(op.name)
    b.retire(None, "netns", lambda e: e.get("name") == op.name)
    return ""


@applies(c.NetnsList)
def netns_list(b, op: c.NetnsList) -> str:
    names = nsutil.list_netns()
    ids = state.netns_ids(b, op.ns)
    rev = {v: k for k, v in ids.items()}
    if op.opts.json:
        return json.dumps([{"name": n, **({"id": rev[n]} if n in rev else {})} for n in reversed(names)], separators=(",", ":"))
    return "\n".join(f"{n} (id: {rev[n]})" if n in rev else n for n in reversed(names))


@applies(c.NetnsSet)
def netns_set(b, op: c.NetnsSet) -> str:
    """RTM_NEWNSID: NETNSA_NSID (-1 = let the kernel pick) + NETNSA_FD of the named namespace."""
    if not nsutil.netns_exists(op.name):
        raise LabError(f'Cannot open network namespace "{op.name}": No such file or directory'
                       + did_you_mean(op.name, nsutil.list_netns()))
    fd = os.open(nsutil.ns_path(op.name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        b.rtnl(op.ns).assign_nsid(fd, op.nsid)
    except NetlinkError as e:
        # the kernel's own text: "Peer netns already has a nsid assigned" or "The specified nsid is already used"
        raise nl_error(e, hint="See them: ip netns list-id (an nsid cannot be changed once set)"
                       if e.code == 17 else None) from None
    finally:
        os.close(fd)
    return ""


@applies(c.NetnsListId)
def netns_list_id(b, op: c.NetnsListId) -> str:
    ids = sorted((k, v) for k, v in state.netns_ids(b, op.ns).items() if v)
    if op.opts.json:
        return json.dumps([{"nsid": k, "name": v} for k, v in ids], separators=(",", ":"))
    return "\n".join(f"nsid {k} (iproute2 netns name: {v})" for k, v in ids)


@applies(c.NetnsIdentify)
def netns_identify(b, op: c.NetnsIdentify) -> str:
    if op.pid is None:
        return op.ns or ""
    try:
        ino = os.stat(f"/proc/{op.pid}/ns/net").st_ino
    except OSError:
        raise LabError(f"Cannot open network namespace of pid {op.pid}: No such process") from None
    return "\n".join(n for n in nsutil.list_netns() if nsutil.netns_inode(n) == ino)


@applies(c.HelpOp)
def help_op(b, op: c.HelpOp) -> str:
    return op.text


# ---- link --------------------------------------------------------------------------------------------
KERNEL_MISSING = {
    "vlan": "this kernel has no vlan (8021q) support",
    "gre": "this kernel has no GRE support (ip_gre)", "gretap": "this kernel has no GRE support (ip_gre)",
    "geneve": "this kernel has no geneve support", "dummy": "this kernel has no dummy link support",
    "ipvlan": "this kernel has no ipvlan support", "wireguard": "this kernel has no wireguard support",
    "vrf": "this kernel has no vrf support", "bond": "this kernel has no bonding support",
}


def _kind_error(kind: str, e: NetlinkError) -> LabError:
    """The kernel does not know the type only when it says so ("Unknown device type", or no text at all with
    EOPNOTSUPP); any other refusal is the kernel's own (a VLAN on lo: "8021q: VLANs not supported on lo")."""
    said = kernel_says(e)
    unknown = said is None or "Unknown device type" in said
    if unknown and e.code in (95, 22, 2, 93) and kind in KERNEL_MISSING:
        return LabError(f"Error: Unknown device type. ({KERNEL_MISSING[kind]})",
                        "Use a kernel built with it (e.g. modprobe the module as root on the machine), "
                        "or choose another link type: veth, bridge, vxlan, macvlan.")
    return nl_error(e, f"creating {kind}")


def _exists_error(b, op: c.LinkAdd) -> LabError:
    """Which name is taken, said plainly (called only after the kernel answered EEXIST)."""
    where = op.netns or op.ns
    for ns, name in ((op.ns, op.name), (where, op.name), (op.peer_ns or op.ns, op.peer)):
        if name and b._has_link(ns, name):
            place = f' in namespace "{ns}"' if ns else ""
            return LabError("RTNETLINK answers: File exists",
                            f'A device "{name}" already exists{place}; pick another name or delete it: '
                            f'ip {"-n " + ns + " " if ns else ""}link del {name}')
    if op.peer and op.peer == op.name:
        return LabError("RTNETLINK answers: File exists", "The peer needs a name different from the link.")
    return LabError("RTNETLINK answers: File exists")


@applies(c.LinkAdd)
def link_add(b, op: c.LinkAdd) -> str:
    where = op.netns or op.ns
    b.require_ns(op.ns)
    b.require_ns(op.netns)
    b.require_ns(op.peer_ns)
    peer_home = op.peer_ns or op.ns
    if op.master_vrf and op.master:
        _master_is_vrf(b, op.ns, op.master)
    if op.peer and op.peer == op.name and peer_home == op.ns:
        raise LabError("RTNETLINK answers: File exists", "The peer needs a name different from the link.")
    if where != op.ns and b._has_link(where, op.name):
        raise _exists_error(b, op)
    with b.creating(op.ns, "link", name=op.name) as ent, \
            (b.creating(peer_home, "link", name=op.peer) if op.peer and op.kind == "veth"
             else contextlib.nullcontext(NOOP)) as peer_ent:
        _link_add(b, op)
        if ent is not NOOP:
            ent.confirm(ifindex=b.rtnl(op.ns).link_index(op.name))
        if peer_ent is not NOOP:
            peer_ent.confirm(ifindex=b.rtnl(peer_home).link_index(op.peer))
    out = VXLAN_PORT_WARNING if op.kind == "vxlan" and op.dstport is None else ""
    if not (op.netns and op.netns != op.ns) and not op.up:
        return out
    try:
        if op.netns and op.netns != op.ns:
            fd = os.open(nsutil.ns_path(op.netns), os.O_RDONLY)
            try:
                b.rtnl(op.ns).link_set(name=op.name, netns_fd=fd)
            finally:
                os.close(fd)
            _journal_move(b, op.ns, op.name, op.netns, op.name)
        if op.up:
            b.rtnl(where).link_set(name=op.name, up=True)
    except NetlinkError as e:
        for ns in (op.ns, where):  # undo: nothing half-made
            try:
                b.rtnl(ns).link_del(name=op.name)
            except NetlinkError:
                pass
        _journal_link_gone(b, op.ns, op.name)
        _journal_link_gone(b, where, op.name)
        raise nl_error(e) from None
    return out


_PACK = {"u8": "=B", "onoff": "=B", "flag": "=B", "ttl": "=B", "tos": "=B", "u16": "=H", "u32": "=I", "u64": "=Q",
         "vproto": ">H"}
IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 4, 5
_VXLAN = {"id": 1, "group": 2, "link": 3, "local": 4, "learning": 7, "srcport": 10, "port": 15, "group6": 16,
          "local6": 17}


def info_data(table: dict, info) -> bytes:
    """IFLA_INFO_DATA / IFLA_INFO_SLAVE_DATA attributes from (option, value) pairs and the kind's table."""
    from lab.backend.rtnl import attr, mac_bytes

    out = b""
    for opt, val in info:
        if opt == "srcport":
            out += attr(_VXLAN["srcport"], struct.pack(">HH", *val))
            continue
        num, typ = table[opt]
        out += attr(num, mac_bytes(val) if typ == "mac" else struct.pack(_PACK[typ], val))
    return out


def _gre_data(b, op: c.LinkAdd) -> bytes:
    """IFLA_INFO_DATA of a gre/gretap (IFLA_GRE_*): what was given, as iproute2's gre_parse_opt sends it."""
    from lab.backend.rtnl import attr

    out = b""
    opts = dict(op.info)
    for addr, num in ((op.remote, 7), (op.local, 6)):
        if addr:
            out += attr(num, socket.inet_pton(socket.AF_INET, addr))
    if op.link:
        out += attr(1, struct.pack("=I", b.link_index(op.ns, op.link)))
    if "ttl" in opts:
        out += attr(8, struct.pack("B", opts["ttl"]))
    if "pmtudisc" in opts:
        out += attr(10, struct.pack("B", opts["pmtudisc"]))
    for side, key_num, flags_num in (("ikey", 4, 2), ("okey", 5, 3)):
        if side in opts:
            out += attr(key_num, struct.pack(">I", opts[side])) + attr(flags_num, struct.pack(">H", 0x2000))  # GRE_KEY
    return out


def _geneve_data(op: c.LinkAdd) -> bytes:
    """IFLA_INFO_DATA of a geneve (IFLA_GENEVE_*)."""
    from lab.backend.rtnl import attr

    out = b""
    opts = dict(op.info)
    if op.vni is not None:
        out += attr(1, struct.pack("=I", op.vni))
    if op.remote:
        fam = socket.AF_INET6 if ":" in op.remote else socket.AF_INET
        out += attr(7 if fam == socket.AF_INET6 else 2, socket.inet_pton(fam, op.remote))
    if "ttl" in opts:
        out += attr(12, b"\x01") if opts["ttl"] < 0 else attr(3, struct.pack("B", opts["ttl"]))
    if "dstport" in opts:
        out += attr(5, struct.pack(">H", opts["dstport"]))
    return out


def _vxlan_data(b, op: c.LinkAdd) -> bytes:
    """IFLA_INFO_DATA for a vxlan, as iproute2 sends it (no dstport: the kernel's default, 8472)."""
    from lab.backend.rtnl import attr, u32attr

    out = b""
    if op.vni is not None:
        out += u32attr(_VXLAN["id"], op.vni)
    for addr, v4, v6 in ((op.remote or op.group, "group", "group6"), (op.local, "local", "local6")):
        if addr:
            fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
            out += attr(_VXLAN[v6 if fam == socket.AF_INET6 else v4], socket.inet_pton(fam, addr))
    if op.link:
        out += u32attr(_VXLAN["link"], b.link_index(op.ns, op.link))
    if op.learning is not None:
        out += attr(_VXLAN["learning"], struct.pack("=B", 1 if op.learning else 0))
    if op.dstport is not None:
        out += attr(_VXLAN["port"], struct.pack(">H", op.dstport))
    return out + info_data(c.VXLAN_OPTS, op.info)


def _bond_data(b, op: c.LinkAdd) -> bytes:
    """IFLA_INFO_DATA of a bond (IFLA_BOND_*), in the order given, as iproute2's bond_parse_opt sends it."""
    from lab.backend.rtnl import attr

    out = b""
    for opt, v in op.info:
        num, typ, _names = c.BOND_OPTS[opt]
        if typ == "dev":
            out += attr(num, struct.pack("=I", b.link_index(op.ns, v)))
        else:
            out += attr(num, struct.pack("=B" if typ == "u8" else "=I", v))
    return out


def _vrf_data(op: c.LinkAdd) -> bytes:
    """IFLA_INFO_DATA of a vrf: IFLA_VRF_TABLE (the kernel refuses a vrf without it)."""
    from lab.backend.rtnl import attr

    return b"".join(attr(1, struct.pack("=I", v)) for opt, v in op.info if opt == "table")


def _master_is_vrf(b, ns, name: str) -> None:
    """`ip link set DEV vrf NAME`: iproute2 checks NAME is a VRF before it sends anything."""
    link = next((x for x in state.links(b, ns) if x.name == name), None)
    if link is None:
        raise LabError(f'Error: argument "{name}" is wrong: Not a valid VRF name', f'No device "{name}" here; '
                       "ip link show type vrf lists the VRFs.")
    if link.kind != "vrf":
        raise LabError(f'Error: argument "{name}" is wrong: Not a valid VRF name',
                       f'"{name}" is {("a " + link.kind) if link.kind else "not a VRF"}; ip link show type vrf lists the VRFs.')


def link_extra(b, op) -> tuple[bytes, int, int]:
    """An add's or set's LINK_ATTRS, LINK_FLAGS and (add) master, packed as iproute2 sends them in the same
    RTM_NEWLINK: (attributes, ifi_flags, ifi_change)."""
    from lab.backend.rtnl import IFLA_MASTER, attr, mac_bytes, u32attr

    out = b""
    for opt, v in op.attrs:
        num, typ = c.LINK_ATTRS[opt]
        if typ == "addrgenmode":      # IFLA_AF_SPEC { AF_INET6 { IFLA_INET6_ADDR_GEN_MODE } }
            out += attr(num, attr(socket.AF_INET6, attr(8, struct.pack("=B", v))))
            continue
        data = (mac_bytes(v) if typ == "lladdr" else v.encode() if typ == "alias"
                else struct.pack("=B", v) if typ in ("operstate", "linkmode", "onoff") else struct.pack("=I", v))
        out += attr(num, data)
    if isinstance(op, c.LinkAdd) and (op.master or op.nomaster):
        out += u32attr(IFLA_MASTER, b.link_index(op.ns, op.master) if op.master else 0)
    flags = change = 0
    for opt, on in op.flags:
        bit, inverted = c.LINK_FLAGS[opt]
        change |= bit
        if on != inverted:
            flags |= bit
    return out, flags, change


def _link_add_packed(b, op: c.LinkAdd) -> None:
    """bridge / vxlan with their options: one hand-packed RTM_NEWLINK (IFLA_LINKINFO with the kind's data)."""
    from lab.backend.rtnl import (IFLA_ADDRESS, IFLA_IFNAME, IFLA_INFO_DATA, IFLA_INFO_KIND, IFLA_LINKINFO, IFLA_MTU,
                                  NLM_F_CREATE, NLM_F_EXCL, RTM_NEWLINK, attr, ifinfo, mac_bytes, sattr, u32attr)

    attrs = sattr(IFLA_IFNAME, op.name)
    if op.mtu:
        attrs += u32attr(IFLA_MTU, op.mtu)
    if op.address:
        attrs += attr(IFLA_ADDRESS, mac_bytes(op.address))
    info = list(op.info)
    if op.kind == "bridge" and op.stp is not None:
        info.append(("stp_state", 1 if op.stp else 0))
    data = (_vxlan_data(b, op) if op.kind == "vxlan" else _gre_data(b, op) if op.kind in ("gre", "gretap")
            else _geneve_data(op) if op.kind == "geneve" else _bond_data(b, op) if op.kind == "bond"
            else _vrf_data(op) if op.kind == "vrf" else info_data(c.BRIDGE_OPTS, info))
    linkinfo = sattr(IFLA_INFO_KIND, op.kind) + (attr(IFLA_INFO_DATA, data) if data else b"")
    extra, flags, change = link_extra(b, op)
    b.rtnl(op.ns).request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
                          ifinfo(op.index or 0, flags, change) + attrs + extra + attr(IFLA_LINKINFO, linkinfo))


VXLAN_PORT_WARNING = ("vxlan: destination port not specified\nWill use Linux kernel default (non-standard value)\n"
                      "Use 'dstport 4789' to get the IANA assigned value\nUse 'dstport 0' to get default and quiet this message")


def _link_add(b, op: c.LinkAdd) -> None:
    try:
        if op.kind in ("vxlan", "gre", "gretap", "geneve", "bond", "vrf") or \
                (op.kind == "bridge" and (op.info or op.stp is not None)):
            _link_add_packed(b, op)
        elif op.kind in ("veth", "bridge"):
            fd = os.open(nsutil.ns_path(op.peer_ns), os.O_RDONLY) if op.peer_ns else None
            try:
                b.rtnl(op.ns).link_add(op.name, op.kind, peer=op.peer, peer_netns_fd=fd, mtu=op.mtu,
                                       address=op.address, peer_address=op.peer_address, peer_mtu=op.peer_mtu,
                                       extra=link_extra(b, op), index=op.index or 0)
            finally:
                if fd is not None:
                    os.close(fd)
        else:
            if op.index:
                raise LabError(f'lab does not support "index" for type {op.kind} yet.', "Leave it out.")
            b.ipr(op.ns).link("add", **_link_kw(b, op))
            extra, flags, change = link_extra(b, op)
            if extra or change:
                try:
                    b.rtnl(op.ns).request(RTM_NEWLINK, 0, ifinfo(b.rtnl(op.ns).link_index(op.name), flags, change) + extra)
                except NetlinkError:
                    b.rtnl(op.ns).link_del(name=op.name)    # nothing half-made
                    raise
    except NetlinkError as e:
        if e.code == 17:
            raise _exists_error(b, op) from None
        if e.code == 95 and op.kind == "bridge" and any(o == "vlan_filtering" and v for o, v in op.info):
            raise LabError("RTNETLINK answers: Operation not supported",
                           "this kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING); "
                           "leave vlan_filtering out, or use a kernel built with it") from None
        raise _kind_error(op.kind, e) from None
    except ValueError as e:
        raise LabError(f"Error: {e}") from None


def _journal_move(b, ns_from, name_from, ns_to, name_to) -> None:
    """--host: a link the lab made was renamed or moved; follow it (its ifindex may change on a move)."""
    if b.journal is None:
        return
    for eid, e in b.journal.live("link", ns_from or ""):
        if e.get("name") == name_from:
            if ns_to and b._ns_is_ours(ns_to):
                b.journal.retire(eid)          # it now dies with the lab's namespace
                continue
            try:
                idx = b.rtnl(ns_to).link_index(name_to)
            except NetlinkError:
                continue
            b.journal.moved(eid, ns=ns_to or "", nsino=nsutil.netns_inode(ns_to), name=name_to, ifindex=idx)


def _journal_link_gone(b, ns, name) -> None:
    """--host: the lab deleted a link (a veth takes its peer along; lab clean checks ifindex for that)."""
    b.retire(ns, "link", lambda e: e.get("name") == name)


def _link_kw(b, op: c.LinkAdd) -> dict:
    """pyroute2 arguments for the link kinds off the fast path."""
    kw: dict = {"ifname": op.name, "kind": op.kind}
    if op.mtu:
        kw["mtu"] = op.mtu
    if op.address:
        kw["address"] = op.address
    if op.kind == "macvlan":
        kw["link"] = b.link_index(op.ns, op.link)
        kw["macvlan_mode"] = op.mode or "vepa"
    elif op.kind == "ipvlan":
        kw["link"] = b.link_index(op.ns, op.link)
        if op.mode:
            kw["ipvlan_mode"] = {"l2": 0, "l3": 1, "l3s": 2}.get(op.mode, 0)
    elif op.kind == "vlan":
        kw["link"] = b.link_index(op.ns, op.link)
        kw["vlan_id"] = op.vlan_id
        if op.vlan_protocol is not None:
            kw["vlan_protocol"] = op.vlan_protocol
    elif op.kind in ("tun", "tap"):
        kw = {"ifname": op.name, "kind": "tuntap", "mode": op.kind}
    return kw


@applies(c.LinkSet)
def link_set(b, op: c.LinkSet) -> str:
    if op.master_vrf and op.master:
        _master_is_vrf(b, op.ns, op.master)
    if op.attrs or op.flags:
        extra, flags, change = link_extra(b, op)
        try:
            b.rtnl(op.ns).request(RTM_NEWLINK, 0, ifinfo(b.link_index(op.ns, op.dev), flags, change) + extra)
        except NetlinkError as e:
            raise nl_error(e) from None
    if op.info:
        _link_set_info(b, op)
    if not (op.newname or op.promisc is not None or op.arp is not None or op.master or op.nomaster or op.netns
            or op.mtu or op.address or op.up is not None):
        return ""
    if op.newname or op.promisc is not None or op.arp is not None:
        return _link_set_slow(b, op)
    r = b.rtnl(op.ns)
    master = None
    if op.master:
        try:
            master = r.link_index(op.master)
        except NetlinkError:
            b.link_index(op.ns, op.master)  # raises the friendly error
            raise
    elif op.nomaster:
        master = 0
    fd = None
    if op.netns:
        b.require_ns(op.netns)
        if b._has_link(op.netns, op.dev):
            raise LabError("RTNETLINK answers: File exists",
                           f'Namespace "{op.netns}" already has a device "{op.dev}"; rename it first: ip link set {op.dev} name NEW')
        fd = os.open(nsutil.ns_path(op.netns), os.O_RDONLY)
    try:
        if master is not None or op.mtu or op.address or (op.up is not None and not op.netns):
            r.link_set(name=op.dev, master=master, mtu=op.mtu, address=op.address,
                       up=None if op.netns else op.up)
        if fd is not None:
            r.link_set(name=op.dev, netns_fd=fd)
            _journal_move(b, op.ns, op.dev, op.netns, op.dev)
            if op.up is not None:
                b.rtnl(op.netns).link_set(name=op.dev, up=op.up)
    except NetlinkError as e:
        if e.code == 19:
            b.link_index(op.ns, op.dev)  # raises "Cannot find device" with hints
        if e.code == 95 and op.master:
            raise LabError("RTNETLINK answers: Operation not supported",
                           f'"{op.master}" is not a bridge; create one: ip link add {op.master}-br type bridge') from None
        if e.code == 22 and op.master == op.dev:
            raise LabError("RTNETLINK answers: Invalid argument", "A device cannot be its own master.") from None
        if e.code == 54 and op.master:          # EXFULL: br_add_if finds no free port number
            raise LabError("RTNETLINK answers: Exchange full",
                           f'Bridge "{op.master}" has its 1023 ports, the most a Linux bridge takes (port numbers 1-1023: BR_MAX_PORTS): '
                           "put the next ones on another bridge linked to it (a tree of bridges, as Mininet's "
                           "topologies do).") from None
        raise nl_error(e) from None
    finally:
        if fd is not None:
            os.close(fd)
    return ""


def _link_set_info(b, op: c.LinkSet) -> None:
    """`ip link set DEV type bridge OPTS` / `type bridge_slave OPTS`: RTM_NEWLINK with the kind's data, as
    iproute2 sends it (a bridge port's options go in IFLA_INFO_SLAVE_DATA, slave kind "bridge")."""
    from lab.backend.rtnl import IFLA_INFO_DATA, IFLA_INFO_KIND, IFLA_LINKINFO, RTM_NEWLINK, attr, ifinfo, sattr

    idx = b.link_index(op.ns, op.dev)
    if op.kind == "bridge":
        li = sattr(IFLA_INFO_KIND, "bridge") + attr(IFLA_INFO_DATA, info_data(c.BRIDGE_OPTS, op.info))
    else:
        li = sattr(IFLA_INFO_SLAVE_KIND, "bridge") + attr(IFLA_INFO_SLAVE_DATA, info_data(c.BRPORT_OPTS, op.info))
    try:
        b.rtnl(op.ns).request(RTM_NEWLINK, 0, ifinfo(idx) + attr(IFLA_LINKINFO, li))
    except NetlinkError as e:
        if e.code == 95 and op.kind == "bridge" and any(o == "vlan_filtering" and v for o, v in op.info):
            raise LabError("RTNETLINK answers: Operation not supported",
                           "this kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)") from None
        if e.code in (95, 22) and op.kind == "bridge_slave":
            raise LabError(nl_error(e).message, f'"{op.dev}" is not a bridge port: ip link set {op.dev} master BRIDGE first') from None
        raise nl_error(e) from None


def _link_set_slow(b, op: c.LinkSet) -> str:
    """Renames and flag changes: checked step by step with pyroute2."""
    ipr = b.ipr(op.ns)
    idx = b.link_index(op.ns, op.dev)
    kw: dict = {}
    if op.master:
        m = b.link_index(op.ns, op.master)
        if m == idx:
            raise LabError("RTNETLINK answers: Invalid argument", "A device cannot be its own master.")
        kinfo = next(iter(ipr.get_links(m)))
        li = kinfo.get_attr("IFLA_LINKINFO")
        mk = li.get_attr("IFLA_INFO_KIND") if li is not None else None
        if mk not in ("bridge", "bond", "vrf", "team"):
            raise LabError("RTNETLINK answers: Operation not supported",
                           f'"{op.master}" is not a bridge (it is {mk or "a plain device"}); create one: ip link add {op.master}-br type bridge')
        kw["master"] = m
    if op.nomaster:
        kw["master"] = 0
    if op.mtu:
        kw["mtu"] = op.mtu
    if op.address:
        kw["address"] = op.address
    if op.newname:
        if ipr.link_lookup(ifname=op.newname):
            raise LabError("RTNETLINK answers: File exists", f'A device "{op.newname}" already exists.')
        cur = next(iter(ipr.get_links(idx)))
        if cur["flags"] & 1:
            raise LabError("RTNETLINK answers: Device or resource busy",
                           f"Bring it down first: ip link set {op.dev} down")
        kw["ifname"] = op.newname
    if op.promisc is not None or op.arp is not None:
        cur = next(iter(ipr.get_links(idx)))
        flags = cur["flags"]
        mask = 0
        if op.promisc is not None:
            mask |= 0x100
            flags = flags | 0x100 if op.promisc else flags & ~0x100
        if op.arp is not None:
            mask |= 0x80
            flags = flags & ~0x80 if op.arp else flags | 0x80
        kw["flags"] = flags
        kw["change"] = mask
    if op.netns:
        b.require_ns(op.netns)
        target = b.ipr(op.netns)
        name = op.newname or op.dev
        if target.link_lookup(ifname=name):
            raise LabError("RTNETLINK answers: File exists",
                           f'Namespace "{op.netns}" already has a device "{name}"; rename it first: ip link set {op.dev} name NEW')
    try:
        if kw:
            ipr.link("set", index=idx, **kw)
            if op.newname:
                _journal_move(b, op.ns, op.dev, op.ns, op.newname)
        if op.netns:
            ipr.link("set", index=idx, net_ns_fd=nsutil.ns_path(op.netns))
            _journal_move(b, op.ns, op.newname or op.dev, op.netns, op.newname or op.dev)
        if op.up is not None:
            ns = op.netns or op.ns
            name = op.newname or op.dev
            b.ipr(ns).link("set", index=b.link_index(ns, name), state="up" if op.up else "down")
    except NetlinkError as e:
        raise nl_error(e) from None
    return ""


@applies(c.LinkDel)
def link_del(b, op: c.LinkDel) -> str:
    try:
        b.rtnl(op.ns).link_del(name=op.dev)
    except NetlinkError as e:
        if e.code == 19:
            b.link_index(op.ns, op.dev)
        if e.code == 95:
            raise LabError("RTNETLINK answers: Operation not supported",
                           f'"{op.dev}" cannot be deleted (a physical or loopback device).') from None
        raise nl_error(e) from None
    _journal_link_gone(b, op.ns, op.dev)
    return ""


def _netns_names_for_links(b, ns) -> dict[int, str]:
    return {k: v for k, v in state.netns_ids(b, ns).items() if v}


@applies(c.LinkShow)
def link_show(b, op: c.LinkShow) -> str:
    if op.opts.details and not op.opts.brief:
        return _link_show_details(b, op)
    all_links = state.links(b, op.ns)
    ls = _filter_links(b, op, all_links)
    if op.opts.json:
        return render.links_json(ls, all_links)
    if op.opts.oneline and not op.opts.brief:   # -o: each link's lines joined by "\"
        netns = _netns_names_for_links(b, op.ns)
        return "\n".join(render.links_text([link], False, False, op.opts.stats, netns, all_links).replace("\n", "\\")
                         for link in ls)
    return render.links_text(ls, op.opts.brief, op.opts.details, op.opts.stats, _netns_names_for_links(b, op.ns),
                             all_links)


def _link_show_details(b, op: c.LinkShow) -> str:
    """`ip -d link [show ...]`: lab's first line, then iproute2 6.1's detail lines (lab.backend.linkdetail)
    from the same dump."""
    from lab.backend import linkdetail

    msgs = list(b.ipr(op.ns).get_links())
    names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in msgs}
    by_msg = {m["index"]: m for m in msgs}
    all_links = sorted((state.link_from_msg(op.ns, m, names) for m in msgs), key=lambda link: link.index)
    by_index = {link.index: link for link in all_links}
    ls = _filter_links(b, op, all_links)
    netns = _netns_names_for_links(b, op.ns)
    if op.opts.json:
        out = []
        for link in ls:
            d = render.link_json(link, names, by_index)
            d.pop("linkinfo", None)
            alias = d.pop("ifalias", None)       # after the details, as iproute2 prints it
            d.update(linkdetail.detail_json(by_msg[link.index], names))
            if alias is not None:
                d["ifalias"] = alias
            out.append(d)
        return linkdetail.fix_json_timers(json.dumps(out, separators=(",", ":")))
    lines: list[str] = []
    for link in ls:
        rec = render.link_header(link, names, True, netns, by_index)[:1]
        rec += linkdetail.detail_lines(by_msg[link.index], names, netns,
                                       stats=render.link_stats(link) if op.opts.stats else None)
        lines += ["\\".join(rec)] if op.opts.oneline else rec
    return "\n".join(lines)


def _filter_links(b, op: c.LinkShow, ls: list) -> list:
    if op.dev:
        b.link_index(op.ns, op.dev)
        ls = [link for link in ls if link.name == op.dev]
    if op.kind:
        ls = [link for link in ls if link.kind == op.kind]
    if op.master:
        m = b.link_index(op.ns, op.master)
        ls = [link for link in ls if link.master_index == m]
    if op.up_only:
        ls = [link for link in ls if link.up]
    return ls


# ---- address -----------------------------------------------------------------------------------------
def _broadcast(op: c.AddrAdd) -> str | None:
    if op.broadcast == "+":
        if ":" in op.local:
            return None
        return str(ipaddress.ip_network(f"{op.local}/{op.prefixlen}", strict=False).broadcast_address)
    if op.broadcast == "-":
        return None
    return op.broadcast


@applies(c.AddrAdd)
def addr_add(b, op: c.AddrAdd) -> str:
    r = b.rtnl(op.ns)
    try:
        idx = r.link_index(op.dev)
    except NetlinkError:
        b.link_index(op.ns, op.dev)  # raises "Cannot find device" with hints
        raise
    cidr = f"{op.local}/{op.prefixlen}"
    if op.replace and b.journaled(op.ns) and _has_addr(b, op.ns, idx, op.local, op.prefixlen):
        ent_cm = contextlib.nullcontext(NOOP)   # replacing the machine's own address: not a creation
    else:
        ent_cm = b.creating(op.ns, "addr", dev=op.dev, cidr=cidr, ifindex=idx)
    with ent_cm:
        _addr_add(b, op, r, idx)
    return ""


def _has_addr(b, ns, idx: int, local: str, plen: int) -> bool:
    fam = socket.AF_INET6 if ":" in local else socket.AF_INET
    return any((a.get_attr("IFA_LOCAL") or a.get_attr("IFA_ADDRESS")) == local and a["prefixlen"] == plen
               for a in b.ipr(ns).get_addr(index=idx, family=fam))


def _addr_add(b, op: c.AddrAdd, r, idx: int) -> None:
    try:
        r.addr_add(idx, op.local, op.prefixlen, broadcast=_broadcast(op), label=op.label,
                   scope=c.SCOPES[op.scope] if op.scope else 0, replace=op.replace,
                   ifa_flags=sum(c.ADDR_FLAGS[f] for f in set(op.flags)))
    except NetlinkError as e:
        if e.code == 17:
            raise LabError("RTNETLINK answers: File exists",
                           f"{op.local}/{op.prefixlen} is already on {op.dev}; use ip addr replace, or ip addr del it first.") from None
        raise nl_error(e) from None


@applies(c.AddrDel)
def addr_del(b, op: c.AddrDel) -> str:
    idx = b.link_index(op.ns, op.dev)
    ipr = b.ipr(op.ns)
    fam = socket.AF_INET6 if ":" in op.local else socket.AF_INET
    have = [a for a in ipr.get_addr(index=idx, family=fam)
            if (a.get_attr("IFA_LOCAL") or a.get_attr("IFA_ADDRESS")) == op.local
            and (op.prefixlen is None or a["prefixlen"] == op.prefixlen)]
    if not have:
        on = [f"{a.get_attr('IFA_LOCAL') or a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}" for a in ipr.get_addr(index=idx)]
        raise LabError("RTNETLINK answers: Cannot assign requested address",
                       f"{op.dev} has no address {op.local}" + (f"/{op.prefixlen}" if op.prefixlen else "")
                       + (f"; it has: {', '.join(on)}" if on else "; it has none"))
    try:
        ipr.addr("del", index=idx, address=op.local, prefixlen=have[0]["prefixlen"])
    except NetlinkError as e:
        raise nl_error(e) from None
    _journal_addr_gone(b, op.ns, idx, op.local, have[0]["prefixlen"])
    return ""


def _journal_addr_gone(b, ns, idx: int, local: str, plen: int) -> None:
    b.retire(ns, "addr", lambda e: e.get("ifindex") == idx and e.get("cidr") == f"{local}/{plen}")


@applies(c.AddrFlush)
def addr_flush(b, op: c.AddrFlush) -> str:
    idx = b.link_index(op.ns, op.dev)
    ipr = b.ipr(op.ns)
    for a in list(ipr.get_addr(index=idx)):
        try:
            ipr.addr("del", index=idx, address=a.get_attr("IFA_LOCAL") or a.get_attr("IFA_ADDRESS"),
                     prefixlen=a["prefixlen"])
        except NetlinkError as e:
            if e.code not in (99, 2):
                raise nl_error(e) from None
    b.retire(op.ns, "addr", lambda e: e.get("ifindex") == idx)
    return ""


@applies(c.AddrShow)
def addr_show(b, op: c.AddrShow) -> str:
    ls = all_links = state.links(b, op.ns)
    names = {link.index: link.name for link in ls}
    addrs = state.addresses(b, op.ns, op.opts.family, names)
    if op.dev:
        b.link_index(op.ns, op.dev)
        ls = [link for link in ls if link.name == op.dev]
    if op.up_only:
        ls = [link for link in ls if link.up]
    if op.opts.family in (4, 6):   # `ip -4 addr` / `ip -6 addr`: only links that have such an address
        has = {a.index for a in addrs}
        ls = [link for link in ls if link.index in has]
    if op.opts.json:
        return render.addrs_json(ls, addrs, all_links)
    if op.opts.oneline and not op.opts.brief:
        return render.addrs_oneline(ls, addrs)
    return render.addrs_text(ls, addrs, op.opts.brief, _netns_names_for_links(b, op.ns), all_links,
                             family=op.opts.family)


# ---- route -------------------------------------------------------------------------------------------
RT_TYPE_NUM = {v: k for k, v in state.RT_TYPES.items()}


def _route_kw(b, op: c.RouteChange) -> dict:
    kw: dict = {"family": socket.AF_INET6 if op.family == 6 else socket.AF_INET}
    if op.dst == "default":
        kw["dst"] = "0.0.0.0/0" if op.family == 4 else "::/0"
    else:
        kw["dst"] = op.dst if "/" in op.dst else f"{op.dst}/{32 if op.family == 4 else 128}"
    if op.action != "del" or op.type_given:   # iproute2's delete: type 0 and scope NOWHERE match any route
        kw["type"] = RT_TYPE_NUM[op.type] if op.type in RT_TYPE_NUM else 1
    if op.gateway:
        kw["gateway"] = op.gateway
    if op.dev:
        kw["oif"] = b.link_index(op.ns, op.dev)
    if op.metric is not None:
        kw["priority"] = op.metric
    if op.table is not None:
        kw["table"] = op.table
    if op.prefsrc:
        kw["prefsrc"] = op.prefsrc
    if op.scope:
        kw["scope"] = c.SCOPES[op.scope]
    elif op.action == "del":
        kw["scope"] = 255
    elif op.type == "unicast" and not op.gateway and op.dev:
        kw["scope"] = 253  # a direct route, as iproute2 sets it
    elif op.type == "local":
        kw["scope"] = 254
    if op.proto:
        kw["proto"] = c.PROTOS.get(op.proto, int(op.proto) if op.proto.isdigit() else 4)
    elif op.action != "del":
        kw["proto"] = 3  # boot, iproute2's default
    if op.onlink:
        kw["flags"] = 4
    if op.mtu:
        kw["metrics"] = {"RTAX_MTU": op.mtu}
    if op.nexthops:
        kw["multipath"] = [{**({"gateway": gw} if gw else {}), **({"oif": b.link_index(op.ns, dev)} if dev else {}),
                            "hops": weight - 1, **({"flags": 4} if onlink else {})}
                           for gw, dev, weight, onlink in op.nexthops]
    return kw


@applies(c.RouteChange)
def route_change(b, op: c.RouteChange) -> str:
    kw = _route_kw(b, op)
    ipr = b.ipr(op.ns)
    cmd = {"append": "append", "prepend": "add", "change": "change"}.get(op.action, op.action)
    creates = op.action in ("add", "append", "prepend") or (
        op.action == "replace" and b.journaled(op.ns) and not _route_exists(b, op.ns, kw))
    spec = {k: v for k, v in kw.items() if k in ("dst", "family", "table", "priority", "type", "gateway", "oif", "tos")}
    with b.creating(op.ns, "route", spec=spec) if creates else contextlib.nullcontext(NOOP):
        _route_call(b, op, ipr, cmd, kw)
    if op.action == "del":
        b.retire(op.ns, "route", lambda e: all(e["spec"].get(k) == v for k, v in spec.items()
                                               if k in ("dst", "family", "table", "priority", "gateway", "oif")))
    return ""


def _route_exists(b, ns, kw: dict) -> bool:
    """Is there already a route `replace` would replace (same table, destination and metric)?"""
    dst, _, plen = kw["dst"].partition("/")
    for m in b.ipr(ns).get_routes(family=kw["family"], table=kw.get("table", 254)):
        if (m["dst_len"] == int(plen) and (m.get_attr("RTA_DST") or ("0.0.0.0" if kw["family"] == socket.AF_INET else "::")) == dst
                and (m.get_attr("RTA_PRIORITY") or 0) == kw.get("priority", 0) and m["tos"] == kw.get("tos", 0)
                and (m.get_attr("RTA_TABLE") or m["table"]) == kw.get("table", 254)):
            return True
    return False


def _route_call(b, op: c.RouteChange, ipr, cmd: str, kw: dict) -> None:
    try:
        ipr.route(cmd, **kw)
    except NetlinkError as e:
        dst = op.dst
        if e.code == 17:
            raise LabError("RTNETLINK answers: File exists",
                           f"A route to {dst} already exists; use ip route replace, or delete it first.") from None
        if e.code == 3:
            raise LabError("RTNETLINK answers: No such process",
                           f"No route to {dst} matches (see: ip route show{' table ' + str(op.table) if op.table else ''}).") from None
        if e.code == 101:
            raise LabError("RTNETLINK answers: Network is unreachable",
                           f"The gateway {op.gateway} is not on a directly connected network here: add an address in its subnet "
                           f"or a route to it first (or use 'onlink').") from None
        if e.code == 22 and op.prefsrc:
            raise LabError("RTNETLINK answers: Invalid argument",
                           f"src {op.prefsrc} must be an address of this namespace.") from None
        raise nl_error(e) from None


@applies(c.RouteShow)
def route_show(b, op: c.RouteShow) -> str:
    names = _names(b, op.ns)
    fam = op.opts.family or (None if op.table == 0 else 4)   # iproute2: `table all` lists every family
    rs = state.routes(b, op.ns, op.table, fam, names)
    if op.dev:
        b.link_index(op.ns, op.dev)
        rs = [r for r in rs if r.dev == op.dev]
    if op.proto:
        rs = [r for r in rs if r.proto == op.proto]
    if op.type:
        rs = [r for r in rs if r.type == op.type]
    if op.dst:
        rs = [r for r in rs if r.dst == op.dst or (op.dst != "default" and r.dst == op.dst.split("/")[0] and op.dst.endswith("/32"))]
    show_table = op.table in (None, 0)
    if op.dev:
        rs = [r.__class__(**{**r.__dict__, "dev": None}) for r in rs]
    if op.opts.json:
        return render.routes_json(rs, show_table)
    return render.routes_text(rs, show_table)


@applies(c.RouteGet)
def route_get(b, op: c.RouteGet) -> str:
    """`ip route get`: the kernel's decision, asked and printed as iproute2 6.1 does (iproute_get, print_route)."""
    iif = b.link_index(op.ns, op.iif) if op.iif else 0
    oif = b.link_index(op.ns, op.oif) if op.oif else 0
    try:
        r = b.rtnl(op.ns).route_get(op.dst, op.src, iif=iif, oif=oif, mark=op.mark or 0)
    except NetlinkError as e:
        if e.code == 101 and not kernel_says(e):
            raise LabError("RTNETLINK answers: Network is unreachable",
                           f"No route matches {op.dst}: add one (ip route add {op.dst} via GATEWAY) or a default route.") from None
        raise nl_error(e) from None
    names = _names(b, op.ns)
    text, d = route_reply_text(r, names)
    return json.dumps([d], separators=(",", ":")) if op.opts.json else text


CACHE_FLAGS = ((0x80000000, "local"), (0x40000000, "reject"), (0x20000000, "mc"), (0x10000000, "brd"),   # RTCF_*,
               (0x08000000, "dst-nat"), (0x00800000, "src-nat"), (0x00400000, "masq"),              # print_cache_flags
               (0x00020000, "dst-direct"), (0x04000000, "src-direct"), (0x00040000, "redirected"),  # order
               (0x01000000, "redirect"), (0x00200000, "fastroute"), (0x00010000, "notify"), (0x00080000, "proxy"))
RT_FLAGS = ((1, "dead"), (4, "onlink"), (2, "pervasive"), (8, "offload"), (64, "trap"), (0x100, "notify"),
            (16, "linkdown"), (32, "unresolved"))


def route_reply_text(r, names: dict[int, str]) -> tuple[str, dict]:
    """iproute2's print_route for a route get answer: its text (trailing spaces and the cache line as
    iproute2 prints them) and its JSON object."""
    from lab.backend.rtnl import (RTA_CACHEINFO, RTA_DST, RTA_GATEWAY, RTA_IIF, RTA_MARK, RTA_OIF, RTA_PREFSRC,
                                  RTA_PRIORITY, RTA_SRC, RTA_UID)

    host = 128 if r.family == socket.AF_INET6 else 32
    out: list[str] = []
    d: dict = {}

    def put(key: str, value, text: str) -> None:
        d[key] = value
        out.append(text)

    if r.type != 1:
        t = state.RT_TYPES.get(r.type, str(r.type))
        put("type", t, f"{t} ")
    dst = r.addr(RTA_DST)
    dst = (dst if r.dst_len == host else f"{dst}/{r.dst_len}") if dst else (f"0/{r.dst_len}" if r.dst_len else "default")
    put("dst", dst, f"{dst} ")
    src = r.addr(RTA_SRC)
    if src:
        src = src if r.src_len == host else f"{src}/{r.src_len}"
        put("from", src, f"from {src} ")
    if r.tos:
        put("tos", f"0x{r.tos:02x}", f"tos 0x{r.tos:02x} ")
    if r.addr(RTA_GATEWAY):
        put("gateway", r.addr(RTA_GATEWAY), f"via {r.addr(RTA_GATEWAY)} ")
    if r.u32(RTA_OIF) is not None:
        dev = names.get(r.u32(RTA_OIF), f"if{r.u32(RTA_OIF)}")
        put("dev", dev, f"dev {dev} ")
    if r.table_id and r.table_id != 254:
        put("table", render.table_name(r.table_id), f"table {render.table_name(r.table_id)} ")
    if not r.flags & 0x200:          # RTM_F_CLONED: proto and scope belong to routes, not to a lookup's result
        if r.proto != 3:
            p = state.PROTO_NAMES.get(r.proto, str(r.proto))
            put("protocol", p, f"proto {p} ")
        if r.scope != 0:
            sc = state.SCOPE_NAMES.get(r.scope, str(r.scope))
            put("scope", sc, f"scope {sc} ")
    if r.addr(RTA_PREFSRC):
        put("prefsrc", r.addr(RTA_PREFSRC), f"src {r.addr(RTA_PREFSRC)} ")
    if r.u32(RTA_PRIORITY) is not None:
        put("metric", r.u32(RTA_PRIORITY), f"metric {r.u32(RTA_PRIORITY)} ")
    flags = [n for bit, n in RT_FLAGS if r.flags & bit]
    put("flags", flags, "".join(f + " " for f in flags))
    mark = r.u32(RTA_MARK)
    if mark:
        put("mark", mark, f"mark 0x{mark:x} " if mark >= 16 else f"mark {mark} ")
    if r.u32(RTA_UID) is not None:
        put("uid", r.u32(RTA_UID), f"uid {r.u32(RTA_UID)} ")
    if r.family == socket.AF_INET and r.flags & 0x200:
        fl = [n for bit, n in CACHE_FLAGS if r.flags & ~0xFFFF & bit]
        put("cache", fl, "\n    cache " + ("<" + ",".join(fl) + "> " if fl else ""))
    ci = r.attrs.get(RTA_CACHEINFO)
    if ci is not None and len(ci) >= 24:
        _clntref, _last, expires, error, _used, ipid = struct.unpack_from("=IIiIII", ci)
        if expires:
            put("expires", expires // 100, f"expires {expires // 100}sec ")
        if error:
            put("error", error, f"error {error} ")
        if ipid:
            put("ipid", f"0x{ipid:04x}", f"ipid 0x{ipid:04x} ")
    if r.u32(RTA_IIF) is not None:
        iif = names.get(r.u32(RTA_IIF), f"if{r.u32(RTA_IIF)}")
        put("iif", iif, f"iif {iif} ")
    pref = r.attrs.get(20)          # RTA_PREF (IPv6)
    if pref:
        pn = {0: "medium", 1: "high", 3: "low"}.get(pref[0])
        put("pref", pn or pref[0], f"pref {pn}" if pn else str(pref[0]))
    return "".join(out), d


@applies(c.RouteFlush)
def route_flush(b, op: c.RouteFlush) -> str:
    ipr = b.ipr(op.ns)
    names = _names(b, op.ns)
    for m in list(ipr.get_routes(family=socket.AF_INET)):
        r = state.route_from_msg(op.ns, m, names)
        if op.table not in (None, 0) and r.table != op.table:
            continue
        if op.dev and r.dev != op.dev:
            continue
        if op.proto and r.proto != op.proto:
            continue
        try:
            ipr.route("del", **{"dst": m.get_attr("RTA_DST") or "0.0.0.0", "dst_len": m["dst_len"], "table": r.table,
                                "type": m["type"], "family": m["family"],
                                **({"priority": r.metric} if r.metric is not None else {}),
                                **({"oif": m.get_attr("RTA_OIF")} if m.get_attr("RTA_OIF") else {})})
        except NetlinkError:
            pass
    if b.journal is not None:
        b.retire(op.ns, "route", lambda e: not _route_exists(b, op.ns, e["spec"]))
    return ""


# ---- neighbour ---------------------------------------------------------------------------------------
NUD_NUM = {"incomplete": 0x01, "reachable": 0x02, "stale": 0x04, "delay": 0x08, "probe": 0x10, "failed": 0x20,
           "noarp": 0x40, "permanent": 0x80, "none": 0x00}


@applies(c.NeighChange)
def neigh_change(b, op: c.NeighChange) -> str:
    idx = b.link_index(op.ns, op.dev)
    ipr = b.ipr(op.ns)
    fam = socket.AF_INET6 if ":" in op.dst else socket.AF_INET
    kw: dict = {"dst": op.dst, "ifindex": idx, "family": fam}
    if op.action != "del":
        kw["state"] = NUD_NUM[op.state]
        if op.lladdr:
            kw["lladdr"] = op.lladdr
        if op.router:
            kw["flags"] = 0x80
    creates = op.action == "add" or (op.action == "replace" and b.journaled(op.ns)
                                     and not _neigh_exists(b, op.ns, idx, op.dst))
    with b.creating(op.ns, "neigh", dev=op.dev, dst=op.dst, ifindex=idx) if creates else contextlib.nullcontext(NOOP):
        _neigh_call(b, op, ipr, kw)
    if op.action == "del":
        b.retire(op.ns, "neigh", lambda e: e.get("ifindex") == idx and e.get("dst") == op.dst)
    return ""


def _neigh_exists(b, ns, idx: int, dst: str) -> bool:
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    return any(m.get_attr("NDA_DST") == dst for m in list(b.ipr(ns).get_neighbours(ifindex=idx, family=fam)))


def _neigh_call(b, op: c.NeighChange, ipr, kw: dict) -> None:
    try:
        ipr.neigh({"add": "add", "del": "del", "replace": "replace", "change": "change"}[op.action], **kw)
    except NetlinkError as e:
        if e.code == 17:
            raise LabError("RTNETLINK answers: File exists",
                           f"{op.dst} already has an entry on {op.dev}; use ip neigh replace.") from None
        if e.code == 2:
            raise LabError("RTNETLINK answers: No such file or directory",
                           f"There is no neighbour entry for {op.dst} on {op.dev} (see: ip neigh show dev {op.dev}).") from None
        raise nl_error(e) from None


@applies(c.NeighGet)
def neigh_get(b, op: c.NeighGet) -> str:
    idx = b.link_index(op.ns, op.dev)
    fam = socket.AF_INET6 if ":" in op.dst else socket.AF_INET
    try:
        msgs = list(b.ipr(op.ns).neigh("get", dst=op.dst, ifindex=idx, family=fam))
    except NetlinkError as e:
        if e.code == 2:
            raise LabError("Error: Neighbour entry not found.", f"See: ip neigh show dev {op.dev}") from None
        raise nl_error(e) from None
    names = _names(b, op.ns)
    got = [n for n in state.neighbours(b, op.ns, names, 0) if n.dst == op.dst and n.dev == op.dev] if msgs else []
    return render.neighs_text(got)   # iproute2 6.1 prints text here even with -j


@applies(c.NeighShow)
def neigh_show(b, op: c.NeighShow) -> str:
    names = _names(b, op.ns)
    ns_ = state.neighbours(b, op.ns, names, op.opts.family or 0)   # both families, as iproute2
    if op.dev:
        b.link_index(op.ns, op.dev)
        ns_ = [n for n in ns_ if n.dev == op.dev]
    if op.state and op.state != "all":
        ns_ = [n for n in ns_ if op.state.upper() in n.state.split(",")]
    elif not op.state:
        ns_ = [n for n in ns_ if n.state != "NOARP"]
    if op.opts.json:
        return render.neighs_json(ns_)
    if op.dev:
        return "\n".join(render.neigh_text(n).replace(f" dev {op.dev}", "", 1) for n in ns_)
    return render.neighs_text(ns_)


@applies(c.NeighFlush)
def neigh_flush(b, op: c.NeighFlush) -> str:
    ipr = b.ipr(op.ns)
    names = _names(b, op.ns)
    if op.dev:
        b.link_index(op.ns, op.dev)
    rev = {v: k for k, v in names.items()}
    for n in state.neighbours(b, op.ns, names, op.family or 0):
        if op.dev and n.dev != op.dev:
            continue
        if op.state and op.state != "all" and op.state.upper() not in n.state:
            continue
        if not op.state and ("PERMANENT" in n.state or "NOARP" in n.state):
            continue  # iproute2 flush leaves permanent entries unless asked
        try:
            ipr.neigh("del", dst=n.dst, ifindex=rev[n.dev],
                      family=socket.AF_INET6 if n.family == "inet6" else socket.AF_INET)
        except NetlinkError:
            pass
    if b.journal is not None:
        b.retire(op.ns, "neigh", lambda e: not _neigh_exists(b, op.ns, e.get("ifindex", 0), e.get("dst", "")))
    return ""


# ---- rule --------------------------------------------------------------------------------------------
FRA_DST, FRA_SRC, FRA_IIFNAME, FRA_PRIORITY, FRA_FWMARK, FRA_TABLE, FRA_FWMASK, FRA_OIFNAME = 1, 2, 3, 6, 10, 15, 16, 17
FRA_SUPPRESS_PREFIXLEN = 14
RTM_NEWRULE, RTM_DELRULE = 32, 33
FR_ACT = {None: 1, "blackhole": 6, "unreachable": 7, "prohibit": 8}
FR_ACT_NAME = {6: "blackhole", 7: "unreachable", 8: "prohibit"}
FIB_RULE_INVERT = 0x2


def rule_spec(op: c.RuleChange) -> dict:
    """What `ip rule add|del` sends, as a plain dict (also the journal's record of a rule)."""
    spec: dict = {"family": socket.AF_INET6 if op.family == 6 else socket.AF_INET}
    for key, pfx in (("src", op.src), ("dst", op.dst)):
        if pfx and pfx != "all":
            a, _, plen = pfx.partition("/")
            spec.update({key: a, f"{key}_len": int(plen)})
    for key, val in (("table", op.table), ("priority", op.priority), ("fwmark", op.fwmark), ("fwmask", op.fwmask),
                     ("iifname", op.iif), ("oifname", op.oif), ("tos", op.tos),
                     ("suppress_prefixlength", op.suppress_prefixlength)):
        if val is not None:
            spec[key] = val
    if op.action == "add" or op.rule_type is not None:
        spec["action"] = FR_ACT[op.rule_type]
    if op.invert:
        spec["flags"] = FIB_RULE_INVERT
    return spec


def rule_request(b, ns, add: bool, spec: dict) -> None:
    """RTM_NEWRULE (create, exclusive) / RTM_DELRULE carrying exactly the given selectors. pyroute2 would
    add priority 32000 to every request; iproute2 lets the kernel choose (and del match any priority)."""
    from lab.backend.rtnl import attr, sattr, u32attr

    fam = spec["family"]
    table = spec.get("table", 0)
    hdr = struct.pack("=BBBBBBBBI", fam, spec.get("dst_len", 0), spec.get("src_len", 0), spec.get("tos", 0),
                      table if table < 256 else 0, 0, 0, spec.get("action", 0), spec.get("flags", 0))
    body = hdr
    for key, kind in (("dst", FRA_DST), ("src", FRA_SRC)):
        if key in spec:
            body += attr(kind, socket.inet_pton(fam, spec[key]))
    if "iifname" in spec:
        body += sattr(FRA_IIFNAME, spec["iifname"])
    if "oifname" in spec:
        body += sattr(FRA_OIFNAME, spec["oifname"])
    for key, kind in (("priority", FRA_PRIORITY), ("fwmark", FRA_FWMARK), ("fwmask", FRA_FWMASK),
                      ("suppress_prefixlength", FRA_SUPPRESS_PREFIXLEN)):
        if key in spec:
            body += u32attr(kind, spec[key])
    if table >= 256:
        body += u32attr(FRA_TABLE, table)
    b.rtnl(ns).request(RTM_NEWRULE if add else RTM_DELRULE, 0x400 | 0x200 if add else 0, body)


@applies(c.RuleChange)
def rule_change(b, op: c.RuleChange) -> str:
    spec = rule_spec(op)
    add = op.action == "add"
    journaled = add and b.journaled(op.ns)
    before = _rule_keys(b, op.ns, spec["family"]) if journaled else set()
    for dev in (op.iif, op.oif):
        if dev:
            b.require_ns(op.ns)
    with b.creating(op.ns, "rule", spec=spec) if add else contextlib.nullcontext(NOOP) as ent:
        try:
            rule_request(b, op.ns, add, spec)
        except NetlinkError as e:
            if e.code == 2 and not add:
                raise LabError("RTNETLINK answers: No such file or directory", "No rule matches (see: ip rule show).") from None
            if e.code == 17:
                raise LabError("RTNETLINK answers: File exists", "The same rule is already there (see: ip rule show).") from None
            raise nl_error(e) from None
        if journaled and "priority" not in spec:
            new = _rule_keys(b, op.ns, spec["family"]) - before   # the priority the kernel chose
            if len(new) == 1:
                ent.confirm(spec={**spec, "priority": next(iter(new))[0]})
    if not add and b.journal is not None:
        now = _rule_keys(b, op.ns, spec["family"])
        b.retire(op.ns, "rule", lambda e: "priority" in e["spec"] and _rule_key(e["spec"]) not in now)
    return ""


def _rule_key(spec: dict) -> tuple:
    """What identifies an ip rule: its priority and selectors (as journaled / as dumped)."""
    return (spec.get("priority", 0), spec.get("src"), spec.get("src_len", 0), spec.get("dst"), spec.get("dst_len", 0),
            spec.get("fwmark"), spec.get("iifname"), spec.get("oifname"), spec.get("tos", 0))


def _rules(b, ns, family) -> list[dict]:
    """The rules of one family as dicts: priority, src/src_len, dst/dst_len, tos, fwmark/fwmask, iifname,
    oifname, table, action, flags, suppress_prefixlength."""
    out = []
    for m in b.ipr(ns).get_rules(family=family):
        ga = m.get_attr
        d = {"priority": ga("FRA_PRIORITY") or 0, "src": ga("FRA_SRC"), "src_len": m["src_len"], "dst": ga("FRA_DST"),
             "dst_len": m["dst_len"], "tos": m["tos"], "fwmark": ga("FRA_FWMARK"), "fwmask": ga("FRA_FWMASK"),
             "iifname": ga("FRA_IIFNAME"), "oifname": ga("FRA_OIFNAME"), "table": ga("FRA_TABLE") or m["table"],
             "action": m["action"], "flags": m["flags"], "suppress_prefixlength": ga("FRA_SUPPRESS_PREFIXLEN")}
        out.append(d)
    return sorted(out, key=lambda d: d["priority"])


def _rule_keys(b, ns, family) -> set[tuple]:
    return {_rule_key(d) for d in _rules(b, ns, family)}


def _rule_text(d: dict, host: int) -> tuple[str, dict]:
    """One rule as `ip rule` prints it (after "PRIO:\t") and as `ip -j rule` does."""
    j: dict = {"priority": d["priority"]}
    s = "not " if d["flags"] & FIB_RULE_INVERT else ""
    if d["flags"] & FIB_RULE_INVERT:
        j["not"] = None
    if d["src"]:
        s += f"from {d['src']}" + (f"/{d['src_len']}" if d["src_len"] != host else "")
        j["src"] = d["src"]
        if d["src_len"] != host:
            j["srclen"] = d["src_len"]
    else:
        s += "from all"
        j["src"] = "all"
    if d["dst"]:
        s += f" to {d['dst']}" + (f"/{d['dst_len']}" if d["dst_len"] != host else "")
        j["dst"] = d["dst"]
        if d["dst_len"] != host:
            j["dstlen"] = d["dst_len"]
    if d["tos"]:
        s += f" tos {d['tos']:#04x}"
        j["tos"] = f"{d['tos']:#04x}"
    if d["fwmark"] or (d["fwmask"] not in (None, 0xFFFFFFFF)):
        mark = f"{(d['fwmark'] or 0):#x}"
        s += f" fwmark {mark}"
        j["fwmark"] = mark
        if d["fwmask"] not in (None, 0xFFFFFFFF):
            s += f"/{d['fwmask']:#x}"
            j["fwmask"] = f"{d['fwmask']:#x}"
    if d["iifname"]:
        s += f" iif {d['iifname']}"
        j["iif"] = d["iifname"]
    if d["oifname"]:
        s += f" oif {d['oifname']}"
        j["oif"] = d["oifname"]
    if d["action"] == 1:
        s += f" lookup {render.table_name(d['table'])}"
        j["table"] = render.table_name(d["table"])
        if d["suppress_prefixlength"] not in (None, 0xFFFFFFFF):
            s += f" suppress_prefixlength {d['suppress_prefixlength']}"
            j["suppress_prefixlen"] = d["suppress_prefixlength"]
    else:
        name = FR_ACT_NAME.get(d["action"], f"action {d['action']}")
        s += " " + name
        j["action"] = name
    return s, j


def rule_lines(b, ns, family: int = 4) -> list[tuple[int, str]]:
    host = 128 if family == 6 else 32
    return [(d["priority"], _rule_text(d, host)[0])
            for d in _rules(b, ns, socket.AF_INET6 if family == 6 else socket.AF_INET)]


def _rule_matches(d: dict, op: c.RuleShow) -> bool:
    """iproute2's `ip rule show` selectors: each one given must match."""
    for want, have in ((op.table, d["table"]), (op.priority, d["priority"]), (op.tos, d["tos"]),
                       (op.fwmark, d["fwmark"] or 0), (op.fwmask, d["fwmask"]), (op.iif, d["iifname"]),
                       (op.oif, d["oifname"])):
        if want is not None and have != want:
            return False
    for key, val in (("src", op.src), ("dst", op.dst)):
        if val is not None:
            if val == "all":
                if d[key]:
                    return False
            else:
                a, _, plen = val.partition("/")
                if d[key] != a or d[f"{key}_len"] != int(plen):
                    return False
    return True


@applies(c.RuleShow)
def rule_show(b, op: c.RuleShow) -> str:
    fam = op.opts.family or 4
    host = 128 if fam == 6 else 32
    rows = [d for d in _rules(b, op.ns, socket.AF_INET6 if fam == 6 else socket.AF_INET) if _rule_matches(d, op)]
    texts = [_rule_text(d, host) for d in rows]
    if op.opts.json:
        return json.dumps([j for _, j in texts], separators=(",", ":"))
    return "\n".join(f"{d['priority']}:\t{t}" for d, (t, _) in zip(rows, texts))


@applies(c.ExecOp)
def exec_op(b, op: c.ExecOp) -> str:
    """Run a program in a namespace, capturing its output (interactive runs are the caller's: see engine)."""
    r = b.run_cmd(op.ns, list(op.argv), timeout=60)
    out = (r.stdout or "") + (r.stderr or "")
    if r.returncode != 0:
        raise LabError(out.rstrip() or f"{op.argv[0]} exited with status {r.returncode}")
    return out.rstrip("\n")


# ---- tunnel ------------------------------------------------------------------------------------------
# `ip tunnel` is iproute2's ioctl code (ip/iptunnel.c, ip/ip6tunnel.c): SIOCADDTUNNEL / SIOCCHGTUNNEL on the
# mode's fallback device (gre0, tunl0, sit0, ip_vti0, ip6tnl0, ip6gre0, ip6_vti0), SIOCDELTUNNEL, SIOCGETTUNNEL.
# lab makes the same calls in the namespace, so the kernel makes the same device (a tunnel made by netlink
# differs: no min/max MTU, proto "any"), and the errors are iproute2's.
SIOCGETTUNNEL, SIOCADDTUNNEL, SIOCDELTUNNEL, SIOCCHGTUNNEL, SIOCGET6RD = 0x89F0, 0x89F1, 0x89F2, 0x89F3, 0x89F8
GRE_KEY = 0x2000
TUNNEL_KINDS = {"ipip", "sit", "gre", "vti", "ip6tnl", "ip6gre", "vti6"}
TUNNEL_V6_MODES = ("ip6ip6", "vti6", "ipip6", "ip6gre", "any")    # iptunnel.c tunnel_mode_is_ipv6 (lab's spellings)
_V4_PROTO = {"ipip": 4, "gre": 47, "sit": 41, "isatap": 41, "vti": 4}
_V6_PROTO = {"ip6ip6": 41, "vti6": 41, "ipip6": 4, "ip6gre": 47, "any": 0}
_ISVTI = 0x0100       # VTI_ISVTI / SIT_ISATAP: (__be16)0x0001, i.e. 0x0100 read big-endian
IP6_PARM_SIZE = 76    # struct ip6_tnl_parm2


def _tunnel_ioctl(ns, ifname: str, cmd: int, parm: bytes, family: int) -> tuple[int, bytes]:
    """One tunnel ioctl on `ifname` in namespace `ns`, with `parm` as its ifru_data: (errno or 0, parm after)."""
    import ctypes
    import fcntl

    buf = ctypes.create_string_buffer(parm, len(parm))
    ifr = struct.pack("16sP", ifname.encode()[:15], ctypes.addressof(buf)).ljust(40, b"\0")
    with nsutil.in_netns(ns):
        sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        fcntl.ioctl(sock.fileno(), cmd, ifr)
    except OSError as e:
        return e.errno or errno.EIO, buf.raw
    finally:
        sock.close()
    return 0, buf.raw


def _tunnel_get(ns, name: str, parm: bytes, family: int, cmd: int = SIOCGETTUNNEL) -> bytes | None:
    """SIOCGETTUNNEL on `name`, as iproute2's tnl_get_ioctl: the kernel's own tunnel parameters (some, such as a
    vti's DF bit, are in no netlink attribute), or None when the device answers no."""
    err, out = _tunnel_ioctl(ns, name, cmd, parm, family)
    return None if err else out


def _parm4(b, op: c.TunnelChange) -> tuple[bytes, str]:
    """iptunnel.c parse_args: a struct ip_tunnel_parm, and the fallback device the ioctl goes to."""
    name = op.name.encode()
    if op.verb == "change" and op.name_first:
        old = _tunnel_get(op.ns, op.name, bytes(52), socket.AF_INET)
        if old is None:
            raise LabError(f'get tunnel "{op.name}" failed: No such device')
        link = struct.unpack_from("=i", old, 16)[0]
        iflags, oflags, ikey, okey = struct.unpack_from(">HHII", old, 20)
        iph = bytearray(old[32:52])
    else:
        link, iflags, oflags, ikey, okey = 0, 0, 0, 0, 0
        iph = bytearray(20)
        iph[0] = 0x45
        struct.pack_into(">H", iph, 6, 0x4000)               # IP_DF
    if op.mode:
        iph[9] = _V4_PROTO[op.mode]
        if op.mode == "vti":
            iflags |= _ISVTI
    if op.ikey is not None:
        iflags, ikey = iflags | GRE_KEY, op.ikey
    if op.okey is not None:
        oflags, okey = oflags | GRE_KEY, op.okey
    if op.pmtudisc is not None:
        struct.pack_into(">H", iph, 6, 0x4000 if op.pmtudisc else 0)
    if op.remote:
        iph[16:20] = socket.inet_pton(socket.AF_INET, op.remote)
    if op.local:
        iph[12:16] = socket.inet_pton(socket.AF_INET, op.local)
    if op.ttl is not None:
        iph[8] = op.ttl
    if op.tos is not None:
        iph[1] = op.tos
    isatap = op.mode == "isatap"
    if iph[9] == 0:
        for prefix, proto in (("gre", 47), ("ipip", 4), ("sit", 41), ("isatap", 41), ("vti", 4)):
            if op.name.startswith(prefix):
                iph[9] = proto
                isatap = prefix == "isatap"
                if prefix == "vti":
                    iflags |= _ISVTI
                break
    if (iflags | oflags) & GRE_KEY and not iflags & _ISVTI and iph[9] != 47:
        raise LabError("Keys are not allowed with ipip and sit tunnels", "Keys are for mode gre or vti.")
    if op.dev:
        link = b.link_index(op.ns, op.dev)
    daddr = int.from_bytes(iph[16:20], "big")
    if daddr >> 28 == 0xE:                                 # IN_MULTICAST: the group is the key
        if ikey == 0:
            iflags, ikey = iflags | GRE_KEY, daddr
        if okey == 0:
            oflags, okey = oflags | GRE_KEY, daddr
        if not any(iph[12:16]):
            raise LabError("A broadcast tunnel requires a source address", "Add: local ADDRESS")
    if isatap:
        iflags |= _ISVTI
    parm = name.ljust(16, b"\0")[:16] + struct.pack("=i", link) + struct.pack(">HHII", iflags, oflags, ikey, okey) + bytes(iph)
    base = {4: "ip_vti0" if iflags & _ISVTI and not isatap else "tunl0", 47: "gre0", 41: "sit0"}.get(iph[9], "")
    return parm, base


def _parm6(b, op: c.TunnelChange) -> tuple[bytes, str]:
    """ip6tunnel.c ip6_tnl_parm_init(p, 1) + parse_args: a struct ip6_tnl_parm2, and the fallback device."""
    if op.verb == "change" and op.name_first:
        old = _tunnel_get(op.ns, op.name, bytes(IP6_PARM_SIZE), socket.AF_INET6)
        if old is None:
            raise LabError(f'get tunnel "{op.name}" failed: No such device')
        p = bytearray(old)
    else:
        p = bytearray(IP6_PARM_SIZE)
        p[20], p[21], p[22] = 41, 4, 64                      # proto IPv6, encaplimit 4, hoplimit 64
    p[:16] = op.name.encode().ljust(16, b"\0")[:16]
    iflags, oflags, ikey, okey = struct.unpack_from(">HHII", p, 64)
    if op.mode:
        p[20] = _V6_PROTO[op.mode]
        if op.mode == "vti6":
            iflags |= _ISVTI
    for key, addr in (("remote", op.remote), ("local", op.local)):
        if addr:
            at = 48 if key == "remote" else 32
            p[at:at + 16] = socket.inet_pton(socket.AF_INET6, addr)
    if op.dev:
        struct.pack_into("=i", p, 16, b.link_index(op.ns, op.dev))
    if op.ttl is not None:
        p[22] = op.ttl
    if op.tos is not None:
        flowinfo, flags = struct.unpack_from(">I", p, 24)[0] & ~0x0FF00000, struct.unpack_from("=I", p, 28)[0]
        if op.tos == 1:
            flags |= 0x2                                       # IP6_TNL_F_USE_ORIG_TCLASS
        else:
            flowinfo |= (op.tos << 20) & 0x0FF00000
            flags &= ~0x2
        struct.pack_into(">I", p, 24, flowinfo)
        struct.pack_into("=I", p, 28, flags)
    if op.ikey is not None:
        iflags, ikey = iflags | GRE_KEY, op.ikey
    if op.okey is not None:
        oflags, okey = oflags | GRE_KEY, op.okey
    struct.pack_into(">HHII", p, 64, iflags, oflags, ikey, okey)
    base = "ip6gre0" if p[20] == 47 else "ip6_vti0" if iflags & _ISVTI else "ip6tnl0"
    return bytes(p), base


@applies(c.TunnelChange)
def tunnel_change(b, op: c.TunnelChange) -> str:
    """`ip tunnel add|change|del`: iproute2's ioctls (see above), in the namespace."""
    v6 = op.family == 6 or op.mode in TUNNEL_V6_MODES
    family = socket.AF_INET6 if v6 else socket.AF_INET
    for addr in (op.remote, op.local):
        if addr and (":" in addr) != v6:
            raise LabError(f'Error: {"an IPv6" if v6 else "an IPv4"} address is expected for mode '
                           f'{op.mode or "ipip"}, not "{addr}".')
    parm, base = _parm6(b, op) if v6 else _parm4(b, op)
    if op.verb == "del":
        target = op.name or base
        err, _ = _tunnel_ioctl(op.ns, target, SIOCDELTUNNEL, parm.ljust(IP6_PARM_SIZE, b"\0"), family)
        if err:
            raise LabError(f'delete tunnel "{target}" failed: {os.strerror(err)}')
        _journal_link_gone(b, op.ns, op.name)
        return ""
    if not v6:
        if parm[40] and not struct.unpack_from(">H", parm, 38)[0]:
            raise LabError("ttl != 0 and nopmtudisc are incompatible", "Leave out ttl, or nopmtudisc.")
        if not base:
            raise LabError("cannot determine tunnel mode (ipip, gre, vti or sit)", "Add: mode ipip|gre|sit|vti")
    cmd = SIOCCHGTUNNEL if op.verb == "change" else SIOCADDTUNNEL
    target = op.name if cmd == SIOCCHGTUNNEL and op.name else base
    with b.creating(op.ns, "link", name=op.name) if op.verb == "add" else contextlib.nullcontext(NOOP) as ent:
        err, _ = _tunnel_ioctl(op.ns, target, cmd, parm, family)
        if err:
            hint = None
            if err == errno.ENODEV and target == base:
                mode = next((m for m, (_k, dev, _mod) in c.TUNNEL_MODES.items() if dev == base), op.mode)
                module = c.TUNNEL_MODES.get(mode, ("", "", ""))[2]
                hint = (f"this kernel has no {mode} tunnel support (module {module}); use a kernel built with it, "
                        "or a vxlan (ip link add NAME type vxlan ...)" if not os.path.isdir(f"/sys/module/{module}")
                        else f"the kernel made no {base} in this namespace (sysctl net.core.fb_tunnels_only_for_init_net)")
            raise LabError(f'add tunnel "{target}" failed: {os.strerror(err)}', hint)
        if ent is not NOOP:
            ent.confirm(ifindex=b.rtnl(op.ns).link_index(op.name))
    return ""


_TNL_PROTO = {4: "ip", 47: "gre", 41: "ipv6", 50: "esp", 137: "mpls", 0: "any"}   # tunnel.c tnl_strproto


def _gre_flags(p, proto: int, iflags: int, oflags: int, ikey: int, okey: int, sl: str) -> None:
    """tunnel.c tnl_print_gre_flags (keys are network order: printed as ntohl)."""
    if iflags & GRE_KEY and oflags & GRE_KEY and ikey == okey:
        p.any("key", " key %u", ikey)
    else:
        if iflags & GRE_KEY:
            p.any("ikey", " ikey %u", ikey)
        if oflags & GRE_KEY:
            p.any("okey", " okey %u", okey)
    if proto != 47:
        return
    words = []
    for flags, bit, word, text in ((iflags, 0x1000, "rx_drop_ooseq", "Drop packets out of sequence."),
                                   (iflags, 0x8000, "rx_csum", "Checksum in received packet is required."),
                                   (oflags, 0x1000, "tx_seq", "Sequence packets on output."),
                                   (oflags, 0x8000, "tx_csum", "Checksum output packets.")):
        if flags & bit:
            words.append(word)
            p.fp(f"{sl}  {text}")
    p.json("flags", words)


def _print_tunnel4(p, ns, parm: bytes, names: dict[int, str], sl: str) -> None:
    """iptunnel.c print_tunnel, from a struct ip_tunnel_parm."""
    name = parm[:16].split(b"\0", 1)[0].decode()
    link = struct.unpack_from("=i", parm, 16)[0]
    iflags, oflags, ikey, okey = struct.unpack_from(">HHII", parm, 20)
    iph = parm[32:52]
    tos, frag_off, ttl, proto = iph[1], struct.unpack_from(">H", iph, 6)[0], iph[8], iph[9]
    saddr, daddr = iph[12:16], iph[16:20]
    p.any("ifname", "%s: ", name)
    p.any("mode", "%s ", f"{_TNL_PROTO.get(proto, 'unknown')}/ip")
    remote = socket.inet_ntop(socket.AF_INET, daddr)
    local = socket.inet_ntop(socket.AF_INET, saddr)
    p.fp("remote ")
    p.any("remote", "%s ", remote, remote if any(daddr) else "any")
    p.fp("local ")
    p.any("local", "%s", local, local if any(saddr) else "any")
    if link:
        p.any("dev", " dev %s", names.get(link) or f"if{link}")
    if ttl:
        p.any("ttl", " ttl %u", ttl)
    else:
        p.fp(" ttl inherit")
    if tos:
        if tos != 1:
            text = f"inherit/0x{tos & ~1:02x}" if tos & 1 else f"0x{tos:02x}"
            p.any("tos", " tos %s", f"0x{tos:02x}", text)
        else:
            p.fp(" tos inherit")
    if not frag_off & 0x4000:
        p.any("nopmtudisc", " nopmtudisc%s", None, "")
    if proto == 41:
        rd = _tunnel_get(ns, name, bytes(24), socket.AF_INET, SIOCGET6RD)
        if rd is not None and struct.unpack_from("=H", rd, 20)[0]:
            p.any("6rd-prefix", " 6rd-prefix %s", socket.inet_ntop(socket.AF_INET6, rd[:16]))
            p.any("6rd-prefixlen", "/%u", struct.unpack_from("=H", rd, 20)[0])
            if any(rd[16:20]):
                p.any("6rd-relay_prefix", " 6rd-relay_prefix %s", socket.inet_ntop(socket.AF_INET, rd[16:20]))
                p.any("6rd-relay_prefixlen", "/%u", struct.unpack_from("=H", rd, 22)[0])
    _gre_flags(p, proto, iflags, oflags, ikey, okey, sl)


def _print_tunnel6(p, ns, parm: bytes, names: dict[int, str], sl: str) -> None:
    """ip6tunnel.c print_tunnel, from a struct ip6_tnl_parm2."""
    name = parm[:16].split(b"\0", 1)[0].decode()
    link, proto, encap_limit, hop_limit = struct.unpack_from("=iBBB", parm, 16)
    flowinfo, flags = struct.unpack_from(">I", parm, 24)[0], struct.unpack_from("=I", parm, 28)[0]
    laddr, raddr = parm[32:48], parm[48:64]
    iflags, oflags, ikey, okey = struct.unpack_from(">HHII", parm, 64)
    p.any("ifname", "%s: ", name)
    p.any("mode", "%s ", f"{_TNL_PROTO.get(proto, 'unknown')}/ipv6")
    p.fp("remote ")
    p.any("remote", "%s ", socket.inet_ntop(socket.AF_INET6, raddr))
    p.fp("local ")
    p.any("local", "%s", socket.inet_ntop(socket.AF_INET6, laddr))
    if link:
        p.any("link", " dev %s", names.get(link) or f"if{link}")
    if flags & 0x1:
        p.any("ip6_tnl_f_ign_encap_limit", " encaplimit none%s", None, "")
    else:
        p.any("encap_limit", " encaplimit %u", encap_limit)
    if hop_limit:
        p.any("hoplimit", " hoplimit %u", hop_limit)
    else:
        p.fp(" hoplimit inherit")
    if flags & 0x2:
        p.any("ip6_tnl_f_use_orig_tclass", " tclass inherit%s", None, "")
    else:
        p.any("tclass", " tclass %s", f"0x{(flowinfo & 0x0FF00000) >> 20:02x}")
    if flags & 0x4:
        p.any("ip6_tnl_f_use_orig_flowlabel", " flowlabel inherit%s", None, "")
    else:
        p.any("flowlabel", " flowlabel %s", f"0x{flowinfo & 0x000FFFFF:05x}")
    p.any("flowinfo", " (flowinfo %s)", f"0x{flowinfo:08x}")
    if flags & 0x10:
        p.any("ip6_tnl_f_rcv_dscp_copy", " dscp inherit%s", None, "")
    if flags & 0x40:
        p.any("ip6_tnl_f_allow_local_remote", " allow-localremote%s", None, "")
    _gre_flags(p, proto, iflags, oflags, ikey, okey, sl)


@applies(c.TunnelShow)
def tunnel_show(b, op: c.TunnelShow) -> str:
    """`ip tunnel show` as iproute2's do_tunnels_list: the links of the family's tunnel types (IPv4: ipip, vti,
    gre, sit; IPv6 with -6 or an IPv6 mode: ip6tnl, vti6, ip6gre), each read with SIOCGETTUNNEL and printed by
    print_tunnel. `ip -6 tunnel show NAME` reads that device alone (and, as 6.1, ends without a newline)."""
    from lab.backend.linkdetail import _Printer, _raw

    v6 = op.opts.family == 6 or (op.mode in TUNNEL_V6_MODES)
    family = socket.AF_INET6 if v6 else socket.AF_INET
    msgs = list(b.ipr(op.ns).get_links())
    names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in msgs}
    sl = "\\" if op.opts.oneline else "\n"
    types = (769, 823) if v6 else (768, 778, 776)
    printer = _print_tunnel6 if v6 else _print_tunnel4
    if v6 and op.name:                      # tnl_get_ioctl on the name itself
        parm = _tunnel_get(op.ns, op.name, op.name.encode().ljust(16, b"\0")[:16] + bytes(60), family)
        if parm is None:
            raise LabError(f'get tunnel "{op.name}" failed: No such device')
        p = _Printer()
        printer(p, op.ns, parm, names, sl)
        return json.dumps(p.root, separators=(",", ":")) if op.opts.json else "".join(p.text)
    out, objs = [], []
    for m in sorted(msgs, key=lambda m: m["index"]):
        raw = _raw(m)
        ifi_type, index = struct.unpack_from("=HI", raw, 18)
        name = m.get_attr("IFLA_IFNAME")
        if ifi_type not in types or (op.name and name != op.name):
            continue
        if v6:
            proto = 47 if ifi_type == 823 else 41
            init = name.encode().ljust(16, b"\0")[:16] + struct.pack("=iBBBx", index, proto, 0, 0) + bytes(52)
        else:
            init = bytes(52)
        parm = _tunnel_get(op.ns, name, init, family)
        if parm is None:
            continue
        p = _Printer()
        printer(p, op.ns, parm, names, sl)
        out.append("".join(p.text))
        objs.append(p.root)
    if op.opts.json:
        return json.dumps(objs, separators=(",", ":"))
    return "\n".join(out)
