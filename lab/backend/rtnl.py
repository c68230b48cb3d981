"""A small synchronous rtnetlink client for the hot path: create/set/delete links and add addresses
with hand-packed messages on a plain netlink socket, one request and one ack each, no event loop.

pyroute2 stays the general tool (dumps, routes, neighbours, tc); this exists because pyroute2's
per-request overhead (an asyncio loop turn and generic encoding, ~0.5 ms) dominates when a lab of
hundreds of namespaces is built. Errors come back as pyroute2's NetlinkError(code) so callers
handle both the same way.
"""
from __future__ import annotations

import dataclasses
import os
import socket
import struct
from typing import AbstractSet, Any

from pyroute2.netlink.exceptions import NetlinkError

from lab.backend.state import (ARPHRD, IFF, OPERSTATES, PROTO_NAMES, ROUTER_PREF, RT_TYPES, SCOPE_NAMES,
                               ifa_flag_words, nud_name)
from lab.model import Address, Link, Neighbour, Route

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK, RTM_NEWADDR = 16, 17, 18, 19, 20
RTM_GETADDR, RTM_GETROUTE, RTM_GETNEIGH, RTM_GETSTATS = 22, 26, 30, 94
IFLA_STATS_LINK_64, IFLA_STATS_FILTER_LINK_64 = 1, 1   # RTM_GETSTATS: the attribute, its filter_mask bit
RTM_F_LOOKUP_TABLE, RTM_F_FIB_MATCH = 0x1000, 0x2000   # route get: report the table that answered / the route
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR = 2
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_FD = 1, 3, 4, 10, 18, 28
IFLA_PARENT_DEV_NAME, IFLA_PARENT_DEV_BUS_NAME = 56, 57
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
IFLA_STATS64 = 23
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST, IFA_FLAGS = 1, 2, 3, 4, 8
IFF_UP = 0x1


def extack(msg: bytes, flags: int) -> str | None:
    """NLMSGERR_ATTR_MSG of an NLMSG_ERROR message (NETLINK_EXT_ACK), or None: the error text of a failure,
    or the warning the kernel may attach to a success (error 0, always NLM_F_CAPPED). `msg` is the whole
    message, header included."""
    if not flags & 0x200:          # NLM_F_ACK_TLVS
        return None
    (orig_len,) = struct.unpack_from("=I", msg, 20)
    off = 20 + (16 if flags & 0x100 else orig_len)   # NLM_F_CAPPED: only the original header is echoed
    off = (off + 3) & ~3
    while off + 4 <= len(msg):
        ln, kind = struct.unpack_from("=HH", msg, off)
        if ln < 4:
            break
        if kind & 0x3FFF == 1:         # NLMSGERR_ATTR_MSG
            return msg[off + 4: off + ln].split(b"\0", 1)[0].decode(errors="replace") or None
        off += (ln + 3) & ~3
    return None


RTA_DST, RTA_SRC, RTA_IIF, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_METRICS = 1, 2, 3, 4, 5, 6, 7, 8
RTA_CACHEINFO, RTA_TABLE, RTA_MARK, RTA_UID = 12, 15, 16, 25


@dataclasses.dataclass
class RouteReply:
    """An RTM_NEWROUTE answer to a route get, decoded (addresses as text, the attributes kept by number)."""
    family: int = 0
    dst_len: int = 0
    src_len: int = 0
    tos: int = 0
    table: int = 0
    proto: int = 0
    scope: int = 0
    type: int = 0
    flags: int = 0
    attrs: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def parse(cls, payload: bytes) -> "RouteReply":
        if len(payload) < 12:
            return cls()
        fam, dl, sl, tos, table, proto, scope, rtype, flags = struct.unpack_from("=BBBBBBBBI", payload, 0)
        return cls(fam, dl, sl, tos, table, proto, scope, rtype, flags, _attrs(payload, 12, len(payload)))

    def addr(self, kind: int) -> str | None:
        v = self.attrs.get(kind)
        return socket.inet_ntop(self.family, v) if v is not None else None

    def u32(self, kind: int) -> int | None:
        v = self.attrs.get(kind)
        return struct.unpack_from("=I", v)[0] if v is not None and len(v) >= 4 else None

    @property
    def table_id(self) -> int:
        t = self.u32(RTA_TABLE)
        return t if t is not None else self.table


def attr(kind: int, data: bytes) -> bytes:
    ln = 4 + len(data)
    return struct.pack("=HH", ln, kind) + data + b"\0" * ((4 - ln % 4) % 4)


def sattr(kind: int, s: str) -> bytes:
    return attr(kind, s.encode() + b"\0")


def u32attr(kind: int, v: int) -> bytes:
    return attr(kind, struct.pack("=I", v))


def mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def ifinfo(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, flags, change)


class Rtnl:
    """One NETLINK_ROUTE socket, opened in whatever netns the calling thread is in."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.setsockopt(270, 11, 1)   # SOL_NETLINK, NETLINK_EXT_ACK: the kernel's error text, as iproute2 shows it
        self.sock.bind((0, 0))
        self.seq = 0
        self._link_cache: dict[bytes, Link] = {}   # the last dump's messages -> their Links (see links)
        self._getstats = True   # RTM_GETSTATS answers here (see link_counters)

    def close(self) -> None:
        self.sock.close()

    def request(self, mtype: int, flags: int, body: bytes) -> bytes | None:
        """Send one request with NLM_F_ACK; return the first non-error reply payload (for GET) or None."""
        self.seq += 1
        seq = self.seq
        msg = struct.pack("=IHHII", 16 + len(body), mtype, flags | NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body
        self.sock.send(msg)
        reply = None
        while True:
            data = self.sock.recv(65536)
            off = 0
            while off + 16 <= len(data):
                ln, t, _f, s, _p = struct.unpack_from("=IHHII", data, off)
                if s == seq:
                    if t == NLMSG_ERROR:
                        (code,) = struct.unpack_from("=i", data, off + 16)
                        if code:
                            raise NetlinkError(-code, extack(data[off: off + ln], _f) or os.strerror(-code))
                        return reply
                    reply = data[off + 16: off + ln]
                off += (ln + 3) & ~3

    def route_get(self, dst: str, src: str | None = None, iif: int = 0, oif: int = 0, mark: int = 0, tos: int = 0,
                  uid: int | None = None, fib_match: bool = False) -> "RouteReply":
        """The kernel's routing decision (RTM_GETROUTE) with everything that decides it, as iproute2 asks:
        RTM_F_LOOKUP_TABLE (IPv4) so the table that answered comes back; RTM_F_FIB_MATCH for the route
        that matched instead of the resulting (cloned) route."""
        fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
        alen = 16 if fam == socket.AF_INET6 else 4
        flags = (RTM_F_LOOKUP_TABLE if fam == socket.AF_INET else 0) | (RTM_F_FIB_MATCH if fib_match else 0)
        body = struct.pack("=BBBBBBBBI", fam, alen * 8, alen * 8 if src else 0, tos, 0, 0, 0, 0, flags)
        body += attr(RTA_DST, socket.inet_pton(fam, dst))
        if src:
            body += attr(RTA_SRC, socket.inet_pton(fam, src))
        if iif:
            body += u32attr(RTA_IIF, iif)
        if oif:
            body += u32attr(RTA_OIF, oif)
        if mark:
            body += u32attr(RTA_MARK, mark)
        if uid is not None:
            body += u32attr(RTA_UID, uid)
        return RouteReply.parse(self.request(RTM_GETROUTE, 0, body) or b"")

    def nsid(self, fd: int) -> int | None:
        """The id this namespace gives the namespace open at `fd` (RTM_GETNSID), or None when it has none."""
        reply = self.request(90, 0, struct.pack("=Bxxx", 0) + u32attr(3, fd)) or b""   # NETNSA_FD
        a = _attrs(reply, 4, len(reply))
        v = a.get(1)                                                                     # NETNSA_NSID
        nsid = struct.unpack_from("=i", v)[0] if v is not None and len(v) >= 4 else -1
        return nsid if nsid >= 0 else None

    def assign_nsid(self, fd: int, nsid: int = -1) -> None:
        """RTM_NEWNSID: give the namespace at `fd` an id here (-1: the kernel picks)."""
        self.request(88, 0, struct.pack("=Bxxx", 0) + attr(1, struct.pack("=i", nsid)) + u32attr(3, fd))

    def dump(self, mtype: int, body: bytes) -> list[bytes]:
        """A NLM_F_DUMP request: every reply payload until NLMSG_DONE."""
        self.seq += 1
        seq = self.seq
        self.sock.send(struct.pack("=IHHII", 16 + len(body), mtype, NLM_F_REQUEST | 0x300, seq, 0) + body)
        out: list[bytes] = []
        while True:
            data = self.sock.recv(1 << 17)
            off = 0
            while off + 16 <= len(data):
                ln, t, _f, s, _p = struct.unpack_from("=IHHII", data, off)
                if s == seq:
                    if t == 3:  # NLMSG_DONE
                        return out
                    if t == NLMSG_ERROR:
                        (code,) = struct.unpack_from("=i", data, off + 16)
                        if code:
                            raise NetlinkError(-code, os.strerror(-code))
                        return out
                    out.append(data[off + 16: off + ln])
                off += (ln + 3) & ~3

    def link_counters(self) -> dict[int, tuple[int, int, int, int]]:
        """ifindex -> (rx_packets, rx_bytes, tx_packets, tx_bytes): the dashboard's once-a-second counters
        refresh. One RTM_GETSTATS dump asking only for IFLA_STATS_LINK_64 (~200 bytes a link, where a link
        dump fills ~2 KB each, IPv6 settings included); a kernel without it (before 4.7): the link dump."""
        if self._getstats:
            out: dict[int, tuple[int, int, int, int]] = {}
            try:
                msgs = self.dump(RTM_GETSTATS, struct.pack("=BxHiI", socket.AF_UNSPEC, 0, 0, IFLA_STATS_FILTER_LINK_64))
            except NetlinkError:
                self._getstats = False
            else:
                for msg in msgs:
                    # struct if_stats_msg (12 bytes), then IFLA_STATS_LINK_64: rtnl_link_stats64
                    if len(msg) >= 12 + 4 + 32 and struct.unpack_from("=H", msg, 14)[0] == IFLA_STATS_LINK_64:
                        rxp, txp, rxb, txb = struct.unpack_from("=QQQQ", msg, 16)
                        out[struct.unpack_from("=i", msg, 4)[0]] = (rxp, rxb, txp, txb)
                return out
        out = {}
        for msg in self.dump(RTM_GETLINK, ifinfo()):
            index = struct.unpack_from("=i", msg, 4)[0]
            off = 16
            while off + 4 <= len(msg):
                ln, kind = struct.unpack_from("=HH", msg, off)
                if ln < 4:
                    break
                if kind == IFLA_STATS64:
                    rxp, txp, rxb, txb = struct.unpack_from("=QQQQ", msg, off + 4)
                    out[index] = (rxp, rxb, txp, txb)
                    break
                off += (ln + 3) & ~3
        return out

    def link_kinds(self) -> list[tuple[int, str, str, str, str]]:
        """(ifindex, name, kind, parent device, its bus) of every link, from one dump parsed only that far:
        what the --host tracer needs each trace to tell which interfaces leave the machine."""
        out = []
        for msg in self.dump(RTM_GETLINK, ifinfo()):
            a = _attrs(msg, 16, len(msg))
            info = a.get(IFLA_LINKINFO)
            ia = _attrs(info, 0, len(info)) if info is not None else {}
            out.append((struct.unpack_from("=i", msg, 4)[0], _asciiz(a.get(IFLA_IFNAME, b"")),
                        _asciiz(ia.get(IFLA_INFO_KIND, b"")), _asciiz(a.get(IFLA_PARENT_DEV_NAME, b"")),
                        _asciiz(a.get(IFLA_PARENT_DEV_BUS_NAME, b""))))
        return out

    def links(self, ns: str | None = None) -> list[Link]:
        """Every link as lab.model.Link, sorted by ifindex, from one dump parsed by hand: the same
        objects lab.backend.state.links builds with pyroute2, ~30x cheaper (the dashboard re-reads a
        namespace's links on each link event; the top namespace of a 100-namespace lab has 100+).

        A message byte-for-byte equal to one of the previous dump's (counters included) gives back the
        very same Link object, unparsed: re-reading 200 links after one of them changed parses one. The
        cache holds only the last dump's links (one socket = one namespace)."""
        msgs = self.dump(RTM_GETLINK, ifinfo())
        out, cache = parse_links(ns, msgs, self._link_cache)
        self._link_cache = cache
        return out

    def addresses(self, ns: str | None, names: dict[int, str]) -> list[Address]:
        """Every address (IPv4 and IPv6) as lab.model.Address, in dump order: what
        lab.backend.state.addresses(b, ns, None, names) builds with pyroute2, parsed by hand."""
        return self._parsed(RTM_GETADDR, struct.pack("=BBBBI", socket.AF_UNSPEC, 0, 0, 0, 0),
                            lambda msg: parse_address(ns, msg, names))

    def routes(self, ns: str | None, names: dict[int, str]) -> list[Route]:
        """What the dashboard's Routes pane shows: IPv4 in every table (`ip route show table all`), IPv6
        outside the local table and without multicast (`ip -6 route`): the kernel's own local and ff00::/8
        entries, several per link, would bury the routes a learner adds. Parsed by hand; those entries
        are skipped from the message header alone."""
        # one dump of every family (the kernel walks them in order: IPv4, then IPv6; others are skipped)
        return self._parsed(RTM_GETROUTE, struct.pack("=BBBBBBBBI", socket.AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0, 0),
                            lambda msg: parse_route(ns, msg, names, skip_v6_local=True))

    def neighbours(self, ns: str | None, names: dict[int, str]) -> list[Neighbour]:
        """ARP and NDP entries as lab.model.Neighbour (state.neighbours(family=0) without the IPv6 NOARP
        multicast entries every link collects)."""
        return self._parsed(RTM_GETNEIGH, struct.pack("=BxxxiHBB", socket.AF_UNSPEC, 0, 0, 0, 0),
                            lambda msg: parse_neighbour(ns, msg, names))

    def _parsed(self, mtype: int, body: bytes, parse) -> list:
        """A dump, each message parsed; the ones the parser skips (None) left out."""
        return [x for x in map(parse, self.dump(mtype, body)) if x is not None]

    # ---- links ------------------------------------------------------------------------------------
    def link_index(self, name: str) -> int:
        """ifindex by name (one RTM_GETLINK); NetlinkError(19) if absent."""
        body = ifinfo() + sattr(IFLA_IFNAME, name)
        reply = self.request(RTM_GETLINK, 0, body)
        if reply is None:
            raise NetlinkError(19, "No such device")
        return struct.unpack_from("=i", reply, 4)[0]

    def link_message(self, index: int) -> bytes | None:
        """One link's RTM_NEWLINK payload as a dump gives it (a targeted RTM_GETLINK), None if it is gone."""
        try:
            reply = self.request(RTM_GETLINK, 0, ifinfo(index))
        except NetlinkError:
            return None
        return reply if reply and len(reply) >= 16 else None

    def link_brief(self, index: int) -> dict | None:
        """One link by index (a targeted RTM_GETLINK): name, kind, master, link (IFLA_LINK), flags, qdisc,
        mtu, and a bridge port's mode (hairpin); None when the kernel has no such link."""
        reply = self.link_message(index)
        if reply is None:
            return None
        _fam, _type, idx, flags, _chg = struct.unpack_from("=BxHiII", reply, 0)
        a = _attrs(reply, 16, len(reply))
        info = _attrs(a.get(IFLA_LINKINFO, b""), 0, len(a.get(IFLA_LINKINFO, b"")))
        slave = info.get(5, b"")                             # IFLA_INFO_SLAVE_DATA
        mode = _attrs(slave, 0, len(slave)).get(4)           # IFLA_BRPORT_MODE
        return {"index": idx, "name": _asciiz(a.get(IFLA_IFNAME, b"")), "flags": flags,
                "kind": _asciiz(info.get(IFLA_INFO_KIND, b"")), "master": _u32(a.get(IFLA_MASTER)),
                "link": _u32(a.get(5)), "qdisc": _asciiz(a.get(6, b"")), "mtu": _u32(a.get(IFLA_MTU)),
                "hairpin": bool(mode and mode[0])}

    def neigh_get(self, addr: str, index: int) -> tuple[int, str | None] | None:
        """(NUD state, link-layer address) of one neighbour entry on a device (`ip neigh get`), or None."""
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        reply = self._neigh_get(struct.pack("=BxxxiHBB", fam, index, 0, 0, 0)
                                + attr(_NDA_DST, socket.inet_pton(fam, addr)))
        if reply is None:
            return None
        state = struct.unpack_from("=H", reply, 8)[0]
        ll = _attrs(reply, 12, len(reply)).get(_NDA_LLADDR)
        return state, (_hwaddr(ll) if ll else None)

    def fdb_get(self, mac: str, bridge: int) -> tuple[int, int] | None:
        """(port ifindex, NUD state) of a bridge's fdb entry for mac (`bridge fdb get MAC br BRIDGE`), or None
        when the bridge does not know that address (it floods)."""
        reply = self._neigh_get(struct.pack("=BxxxiHBB", socket.AF_BRIDGE, 0, 0, 0, 0)
                                + attr(_NDA_LLADDR, mac_bytes(mac)) + u32attr(9, bridge))   # NDA_MASTER
        if reply is None:
            return None
        _fam, port, state = struct.unpack_from("=BxxxiH", reply, 0)
        return port, state

    def _neigh_get(self, body: bytes) -> bytes | None:
        """One RTM_GETNEIGH answer (an ndmsg and its attributes), or None when the kernel has no such entry."""
        try:
            reply = self.request(RTM_GETNEIGH, 0, body)
        except NetlinkError:
            return None
        return reply if reply and len(reply) >= 12 else None

    def link_add(self, name: str, kind: str, peer: str | None = None, peer_netns_fd: int | None = None,
                 mtu: int | None = None, address: str | None = None, peer_address: str | None = None,
                 peer_mtu: int | None = None, extra: tuple[bytes, int, int] = (b"", 0, 0), index: int = 0) -> None:
        """Create a link; `extra` = (more attributes, ifi_flags, ifi_change) as backend.ip.link_extra packs them."""
        attrs = sattr(IFLA_IFNAME, name) + extra[0]
        if mtu:
            attrs += u32attr(IFLA_MTU, mtu)
        if address:
            attrs += attr(IFLA_ADDRESS, mac_bytes(address))
        info = sattr(IFLA_INFO_KIND, kind)
        if kind == "veth" and (peer or peer_netns_fd is not None or peer_address or peer_mtu):
            p = ifinfo()
            if peer:
                p += sattr(IFLA_IFNAME, peer)
            if peer_netns_fd is not None:
                p += u32attr(IFLA_NET_NS_FD, peer_netns_fd)
            if peer_address:
                p += attr(IFLA_ADDRESS, mac_bytes(peer_address))
            if peer_mtu:            # the peer's own (iproute2: `peer name B mtu N`; else the kernel's 1500)
                p += u32attr(IFLA_MTU, peer_mtu)
            info += attr(IFLA_INFO_DATA, attr(VETH_INFO_PEER, p))
        attrs += attr(IFLA_LINKINFO, info)
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, ifinfo(index, extra[1], extra[2]) + attrs)

    def link_set(self, name: str | None = None, index: int = 0, up: bool | None = None, master: int | None = None,
                 mtu: int | None = None, address: str | None = None, netns_fd: int | None = None,
                 newname: str | None = None) -> None:
        """Change a link found by index, or by name when index is 0 (the kernel looks it up)."""
        flags = change = 0
        if up is not None:
            flags, change = (IFF_UP if up else 0), IFF_UP
        attrs = b""
        if not index and name:
            attrs += sattr(IFLA_IFNAME, name)
        if newname:
            attrs += sattr(IFLA_IFNAME, newname)
        if master is not None:
            attrs += u32attr(IFLA_MASTER, master)
        if mtu:
            attrs += u32attr(IFLA_MTU, mtu)
        if address:
            attrs += attr(IFLA_ADDRESS, mac_bytes(address))
        if netns_fd is not None:
            attrs += u32attr(IFLA_NET_NS_FD, netns_fd)
        self.request(RTM_SETLINK, 0, ifinfo(index, flags, change) + attrs)

    def link_del(self, name: str | None = None, index: int = 0) -> None:
        attrs = sattr(IFLA_IFNAME, name) if (name and not index) else b""
        self.request(RTM_DELLINK, 0, ifinfo(index) + attrs)

    # ---- addresses --------------------------------------------------------------------------------
    def addr_add(self, index: int, local: str, prefixlen: int, broadcast: str | None = None,
                 label: str | None = None, scope: int = 0, replace: bool = False, ifa_flags: int = 0) -> None:
        fam = socket.AF_INET6 if ":" in local else socket.AF_INET
        raw = socket.inet_pton(fam, local)
        body = struct.pack("=BBBBI", fam, prefixlen, ifa_flags & 0xFF, scope, index)
        body += attr(IFA_LOCAL, raw) + attr(IFA_ADDRESS, raw)
        if broadcast and fam == socket.AF_INET:
            body += attr(IFA_BROADCAST, socket.inet_pton(fam, broadcast))
        if label:
            body += sattr(IFA_LABEL, label)
        if ifa_flags:
            body += u32attr(IFA_FLAGS, ifa_flags)   # the 32-bit form, as iproute2 sends it
        flags = NLM_F_CREATE | (0x100 if replace else NLM_F_EXCL)  # NLM_F_REPLACE = 0x100
        self.request(RTM_NEWADDR, flags, body)


# ---- parsing link messages (RTM_NEWLINK payloads) -----------------------------------------------------
_IFLA_BROADCAST, _IFLA_LINK, _IFLA_QDISC, _IFLA_STATS, _IFLA_TXQLEN, _IFLA_OPERSTATE = 2, 5, 6, 7, 13, 16
_IFLA_LINK_NETNSID = 37
_IFLA_LINKMODE, _IFLA_IFALIAS, _IFLA_GROUP = 17, 20, 27
_VXLAN_ID, _VXLAN_GROUP, _VXLAN_LOCAL, _VXLAN_PORT, _VLAN_ID = 1, 2, 4, 15, 1


_NLA = struct.Struct("=HH").unpack_from


def _attrs(buf: bytes, off: int, end: int, want: AbstractSet[int] | None = None) -> dict[int, bytes]:
    """The attributes from buf[off:end] by type (without NLA_F_NESTED / NLA_F_NET_BYTEORDER); with `want`,
    only those types (a link message has ~42, a link parse reads 16: not copying the rest halves the walk)."""
    out: dict[int, bytes] = {}
    while off + 4 <= end:
        ln, kind = _NLA(buf, off)
        if ln < 4:
            break
        kind &= 0x3FFF
        if want is None or kind in want:
            out[kind] = buf[off + 4: off + ln]
        off += (ln + 3) & ~3
    return out


def _asciiz(b: bytes) -> str:
    return b.split(b"\0", 1)[0].decode(errors="replace")


def _hwaddr(b: bytes | None) -> str:
    return b.hex(":") if b else ""


_FLAGS: dict[int, tuple[str, ...]] = {}


def _flag_names(flags: int) -> tuple[str, ...]:
    names = _FLAGS.get(flags)
    if names is None:
        names = _FLAGS[flags] = tuple(n for bit, n in IFF if flags & bit)
    return names


def _u32(b: bytes | None) -> int | None:
    return struct.unpack_from("=I", b)[0] if b is not None and len(b) >= 4 else None


# the attributes parse_links reads
_LINK_ATTRS = frozenset({IFLA_ADDRESS, _IFLA_BROADCAST, IFLA_IFNAME, IFLA_MTU, _IFLA_LINK, _IFLA_QDISC, _IFLA_STATS,
                         IFLA_MASTER, _IFLA_TXQLEN, _IFLA_OPERSTATE, _IFLA_LINKMODE, IFLA_LINKINFO, _IFLA_IFALIAS,
                         IFLA_STATS64, _IFLA_GROUP, _IFLA_LINK_NETNSID})


def parse_links(ns: str | None, msgs: list[bytes], cache: dict[bytes, Link] | None = None):
    """RTM_NEWLINK payloads (ifinfomsg + attributes) -> sorted list of lab.model.Link.

    With `cache` (message bytes -> Link of an earlier parse in the same namespace) returns
    (links, new cache): a message seen before is not parsed again (unless its master was renamed)."""
    parsed: list[tuple[int, int, int, dict[int, bytes] | None, bytes, Link | None]] = []
    names: dict[int, str] = {}
    for msg in msgs:
        if len(msg) < 16:
            continue
        hit = cache.get(msg) if cache is not None else None
        if hit is not None and hit.ns == (ns or ""):
            parsed.append((0, hit.index, 0, None, msg, hit))
            if hit.name:
                names[hit.index] = hit.name
            continue
        _fam, ifi_type, index, flags, _change = struct.unpack_from("=BxHiII", msg, 0)
        attrs = _attrs(msg, 16, len(msg), _LINK_ATTRS)
        parsed.append((ifi_type, index, flags, attrs, msg, None))
        if IFLA_IFNAME in attrs:
            names[index] = _asciiz(attrs[IFLA_IFNAME])
    out = []
    new_cache: dict[bytes, Link] = {}
    for ifi_type, index, flags, a, msg, hit in parsed:
        if hit is not None:
            if hit.master_index is None or names.get(hit.master_index) == hit.master:
                out.append(hit)
                new_cache[msg] = hit
                continue
            _fam, ifi_type, index, flags, _change = struct.unpack_from("=BxHiII", msg, 0)   # master renamed
            a = _attrs(msg, 16, len(msg), _LINK_ATTRS)
        assert a is not None   # parsed above, or just now for a cached link whose master was renamed
        kind, vlan_id = "", None
        vx: dict[str, Any] = {}
        info = a.get(IFLA_LINKINFO)
        if info is not None:
            ia = _attrs(info, 0, len(info))
            kind = _asciiz(ia[IFLA_INFO_KIND]) if IFLA_INFO_KIND in ia else ""
            data = ia.get(IFLA_INFO_DATA)
            if data is not None and kind == "vxlan":
                d = _attrs(data, 0, len(data))
                ip4 = lambda k: socket.inet_ntoa(d[k][:4]) if k in d and len(d[k]) >= 4 else None  # noqa: E731
                vx = {"vxlan_id": _u32(d.get(_VXLAN_ID)), "vxlan_remote": ip4(_VXLAN_GROUP),
                      "vxlan_local": ip4(_VXLAN_LOCAL),
                      "vxlan_port": struct.unpack(">H", d[_VXLAN_PORT][:2])[0] if _VXLAN_PORT in d else None}
            if data is not None and kind == "vlan":
                d = _attrs(data, 0, len(data))
                vlan_id = struct.unpack_from("=H", d[_VLAN_ID])[0] if _VLAN_ID in d else None
        op = a.get(_IFLA_OPERSTATE)
        operstate = (OPERSTATES[op[0]] if op[0] < len(OPERSTATES) else "UNKNOWN") if op else "UNKNOWN"
        if IFLA_STATS64 in a and len(a[IFLA_STATS64]) >= 32:
            rxp, txp, rxb, txb = struct.unpack_from("=QQQQ", a[IFLA_STATS64])
        elif _IFLA_STATS in a and len(a[_IFLA_STATS]) >= 16:
            rxp, txp, rxb, txb = struct.unpack_from("=IIII", a[_IFLA_STATS])
        else:
            rxp = txp = rxb = txb = 0
        master = _u32(a.get(IFLA_MASTER))
        nsid = a.get(_IFLA_LINK_NETNSID)
        out.append(Link(
            ns=ns or "", index=index, name=_asciiz(a[IFLA_IFNAME]) if IFLA_IFNAME in a else "", kind=kind,
            flags=_flag_names(flags), mtu=_u32(a.get(IFLA_MTU)) or 0,
            mac=_hwaddr(a.get(IFLA_ADDRESS)), brd=_hwaddr(a.get(_IFLA_BROADCAST)),
            link_type=ARPHRD.get(ifi_type, str(ifi_type)), operstate=operstate,
            qdisc=_asciiz(a[_IFLA_QDISC]) if _IFLA_QDISC in a else "noop",
            master=names.get(master) if master else None, master_index=master,
            link_index=_u32(a.get(_IFLA_LINK)),
            link_netnsid=struct.unpack_from("=i", nsid)[0] if nsid is not None and len(nsid) >= 4 else None,
            qlen=_u32(a.get(_IFLA_TXQLEN)) or 0, vlan_id=vlan_id, stats=(rxp, rxb, txp, txb),
            linkmode=a[_IFLA_LINKMODE][0] if a.get(_IFLA_LINKMODE) else 0, group=_u32(a.get(_IFLA_GROUP)) or 0,
            alias=_asciiz(a[_IFLA_IFALIAS]) if _IFLA_IFALIAS in a else None, **vx))
        if cache is not None:
            new_cache[msg] = out[-1]
    out.sort(key=lambda link: link.index)
    return out if cache is None else (out, new_cache)


def parse_address(ns: str | None, msg: bytes, names: dict[int, str]) -> Address | None:
    """One RTM_NEWADDR payload (ifaddrmsg + attributes) -> lab.model.Address, as state.addresses builds
    it with pyroute2 (local = IFA_LOCAL or IFA_ADDRESS; flags from IFA_FLAGS, else the header's)."""
    if len(msg) < 8:
        return None
    fam, prefixlen, hdr_flags, scope, index = struct.unpack_from("=BBBBI", msg, 0)
    if fam not in (socket.AF_INET, socket.AF_INET6):
        return None
    a = _attrs(msg, 8, len(msg))
    local = _ip(fam, a.get(IFA_LOCAL)) or _ip(fam, a.get(IFA_ADDRESS))
    if local is None:
        return None
    brd, label = a.get(IFA_BROADCAST), a.get(IFA_LABEL)
    v6 = fam == socket.AF_INET6
    return Address(ns=ns or "", index=index, dev=names.get(index, f"if{index}"), family="inet6" if v6 else "inet",
                   local=local, prefixlen=prefixlen, scope=SCOPE_NAMES.get(scope, str(scope)),
                   broadcast=_ip(fam, brd), label=_asciiz(label) if label is not None else None,
                   flags=ifa_flag_words(_u32(a.get(IFA_FLAGS)) or hdr_flags, v6))


# ---- parsing route and neighbour messages ------------------------------------------------------------
_RTA_DST, _RTA_OIF, _RTA_GATEWAY, _RTA_PRIORITY, _RTA_PREFSRC, _RTA_TABLE, _RTA_PREF = 1, 4, 5, 6, 7, 15, 20
_NDA_DST, _NDA_LLADDR = 1, 2


def _ip(fam: int, b: bytes | None) -> str | None:
    return socket.inet_ntop(fam, b) if b else None


def parse_route(ns: str | None, msg: bytes, names: dict[int, str], skip_v6_local: bool = False) -> Route | None:
    """One RTM_NEWROUTE payload -> lab.model.Route, as state.route_from_msg builds it with pyroute2."""
    if len(msg) < 12:
        return None
    fam, dst_len, _src_len, _tos, table, proto, scope, rtype, flags = struct.unpack_from("=BBBBBBBBI", msg, 0)
    if fam not in (socket.AF_INET, socket.AF_INET6):
        return None
    a = _attrs(msg, 12, len(msg))
    table = _u32(a.get(_RTA_TABLE)) or table
    if skip_v6_local and fam == socket.AF_INET6 and (table == 255 or rtype == 5):
        return None
    dst = _ip(fam, a.get(_RTA_DST))
    if dst is None:
        dst_s = "default"
    elif dst_len == (32 if fam == socket.AF_INET else 128):
        dst_s = dst
    else:
        dst_s = f"{dst}/{dst_len}"
    if skip_v6_local and fam == socket.AF_INET6 and dst_s.startswith("ff00::"):
        return None
    oif = _u32(a.get(_RTA_OIF))
    pref = a.get(_RTA_PREF)
    return Route(ns=ns or "", dst=dst_s, family="inet6" if fam == socket.AF_INET6 else "inet", table=table,
                 type=RT_TYPES.get(rtype, str(rtype)), gateway=_ip(fam, a.get(_RTA_GATEWAY)),
                 dev=names.get(oif) if oif else None, proto=PROTO_NAMES.get(proto, str(proto)),
                 scope=SCOPE_NAMES.get(scope, str(scope)), prefsrc=_ip(fam, a.get(_RTA_PREFSRC)),
                 metric=_u32(a.get(_RTA_PRIORITY)),
                 flags=tuple(w for bit, w in ((4, "onlink"), (16, "linkdown")) if flags & bit),
                 pref=ROUTER_PREF.get(pref[0]) if pref else None)


def parse_neighbour(ns: str | None, msg: bytes, names: dict[int, str]) -> Neighbour | None:
    """One RTM_NEWNEIGH payload -> lab.model.Neighbour (None for other families and IPv6 NOARP entries)."""
    if len(msg) < 12:
        return None
    fam, ifindex, state, flags, _type = struct.unpack_from("=BxxxiHBB", msg, 0)
    if fam not in (socket.AF_INET, socket.AF_INET6) or (fam == socket.AF_INET6 and state & 0x40):
        return None
    a = _attrs(msg, 12, len(msg))
    ll, dst = a.get(_NDA_LLADDR), _ip(fam, a.get(_NDA_DST))
    if dst is None:
        return None
    return Neighbour(ns=ns or "", dst=dst, dev=names.get(ifindex, "?"),
                     lladdr=_hwaddr(ll) if ll else None, state=nud_name(state), router=bool(flags & 0x80),
                     family="inet6" if fam == socket.AF_INET6 else "inet")
