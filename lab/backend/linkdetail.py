"""`ip -d link` details, byte-for-byte as iproute2 6.1 prints them.

Given one RTM_NEWLINK message (a pyroute2 message from `ipr.get_links()`, or its raw bytes), this
module re-parses the netlink attributes itself (pyroute2's decoding of nested kind data is lossy: bridge
ids read little-endian, unknown macvlan attributes dropped) and replays iproute2 6.1's print_linkinfo
(ip/ipaddress.c) from the "    link/TYPE" line on, with the kind printers of iplink_bridge.c,
iplink_bridge_slave.c, iplink_vxlan.c, iplink_macvlan.c and iptuntap.c. Text and JSON come from the
same replay (`_Printer` mirrors iproute2's print_* helpers: each call writes the text form, the JSON
form, or both), so the two stay in iproute2's order.

- `detail_lines(msg, names, netns_names=None)`: the lines after `ip -d link`'s first line.
- `detail_json(msg, names)`: the keys `ip -d -j link` adds to a link object, in iproute2's order.
- `fix_json_timers(text)`: iproute2 writes bridge timers as raw `0.00` numbers; json.dumps writes the
  floats `detail_json` returns as `0.0`. Apply to the serialised text for byte equality.

Only attributes iproute2 6.1 knows are printed (a newer kernel sends more; 6.1 ignores them).
Kinds whose 6.1 printer is not replayed here print their kind word only (see KIND_PRINTERS for those
that are: bridge, vxlan, macvlan, tun, vlan, gre, geneve, ipvlan, vrf, bond and their slaves, ...).
"""
from __future__ import annotations

import grp
import pwd
import re
import socket
import struct

NLA_F_NESTED = 0x8000

# if_link.h (iproute2 6.1 uapi)
IFLA_ADDRESS, IFLA_BROADCAST, IFLA_LINKINFO, IFLA_IFALIAS = 1, 2, 18, 20
IFLA_AF_SPEC, IFLA_PROMISCUITY, IFLA_NUM_TX_QUEUES, IFLA_NUM_RX_QUEUES = 26, 30, 31, 32
IFLA_PHYS_PORT_ID, IFLA_PHYS_SWITCH_ID, IFLA_LINK_NETNSID, IFLA_PHYS_PORT_NAME = 34, 36, 37, 38
IFLA_PROTO_DOWN, IFLA_GSO_MAX_SEGS, IFLA_GSO_MAX_SIZE = 39, 40, 41
IFLA_NEW_NETNSID, IFLA_NEW_IFINDEX, IFLA_MIN_MTU, IFLA_MAX_MTU = 45, 49, 50, 51
IFLA_PROP_LIST, IFLA_ALT_IFNAME, IFLA_PERM_ADDRESS, IFLA_PROTO_DOWN_REASON = 52, 53, 54, 55
IFLA_PARENT_DEV_NAME, IFLA_PARENT_DEV_BUS_NAME, IFLA_GRO_MAX_SIZE = 56, 57, 58
IFLA_TSO_MAX_SIZE, IFLA_TSO_MAX_SEGS, IFLA_ALLMULTI = 59, 60, 61
IFLA_INFO_KIND, IFLA_INFO_DATA, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 2, 4, 5
IFLA_INET6_ADDR_GEN_MODE = 8

IFF_POINTOPOINT = 0x10
ARPHRD_TUNNEL, ARPHRD_TUNNEL6, ARPHRD_SIT, ARPHRD_IPGRE, ARPHRD_IP6GRE = 768, 769, 776, 778, 823

# lib/ll_types.c
ARPHRD_NAMES = {
    0: "netrom", 1: "ether", 2: "eether", 3: "ax25", 4: "pronet", 5: "chaos", 6: "ieee802", 7: "arcnet",
    8: "atalk", 15: "dlci", 19: "atm", 23: "metricom", 24: "ieee1394", 32: "infiniband", 256: "slip",
    257: "cslip", 258: "slip6", 259: "cslip6", 260: "rsrvd", 264: "adapt", 270: "rose", 271: "x25",
    272: "hwx25", 280: "can", 512: "ppp", 513: "hdlc", 516: "lapb", 517: "ddcmp", 518: "rawhdlc",
    768: "ipip", 769: "tunnel6", 770: "frad", 771: "skip", 772: "loopback", 773: "ltalk", 774: "fddi",
    775: "bif", 776: "sit", 777: "ip/ddp", 778: "gre", 779: "pimreg", 780: "hippi", 781: "ash",
    782: "econet", 783: "irda", 784: "fcpp", 785: "fcal", 786: "fcpl",
    **{787 + i: f"fcfb{i}" for i in range(13)},
    800: "tr", 801: "ieee802.11", 802: "ieee802.11/prism", 803: "ieee802.11/radiotap",
    804: "ieee802.15.4", 805: "ieee802.15.4/monitor", 820: "phonet", 821: "phonet_pipe", 822: "caif",
    823: "gre6", 824: "netlink", 825: "6lowpan", 65534: "none", 65535: "void",
}

# kinds whose iproute2 6.1 link_util has a print_opt: their JSON linkinfo always carries "info_data"
KINDS_WITH_PRINT_OPT = {
    "amt", "bareudp", "bond", "bond_slave", "bridge", "bridge_slave", "can", "dsa", "geneve", "gtp", "hsr",
    "ipoib", "ipvlan", "ipvtap", "macvlan", "macvtap", "rmnet", "vlan", "vrf", "vrf_slave", "vxlan", "wwan",
    "macsec", "tun", "erspan", "gre", "gretap", "ip6erspan", "ip6gre", "ip6gretap", "ip6tnl", "ipip", "sit",
    "vti", "vti6", "xfrm",
}

TIMER_KEYS = ("hello_timer", "tcn_timer", "topology_change_timer", "gc_timer", "hold_timer",
              "message_age_timer", "forward_delay_timer")


# ---- netlink parsing --------------------------------------------------------------------------------
def _raw(msg) -> bytes:
    """The RTM_NEWLINK message's bytes (header included)."""
    if isinstance(msg, (bytes, bytearray, memoryview)):
        return bytes(msg)
    data, off = msg.data, getattr(msg, "offset", 0) or 0
    length = struct.unpack_from("=I", data, off)[0]
    return bytes(data[off:off + length])


def _parse(buf: bytes, start: int = 0, end: int | None = None, flags: int = NLA_F_NESTED) -> dict[int, bytes]:
    """parse_rtattr_flags: type -> payload, the first attribute of each type wins."""
    end = len(buf) if end is None else end
    tb: dict[int, bytes] = {}
    off = start
    while off + 4 <= end:
        ln, typ = struct.unpack_from("=HH", buf, off)
        if ln < 4 or off + ln > end:
            break
        typ &= ~flags & 0xFFFF
        tb.setdefault(typ, buf[off + 4:off + ln])
        off += (ln + 3) & ~3
    return tb


def _list(payload: bytes) -> list[tuple[int, bytes]]:
    out, off = [], 0
    while off + 4 <= len(payload):
        ln, typ = struct.unpack_from("=HH", payload, off)
        if ln < 4 or off + ln > len(payload):
            break
        out.append((typ, payload[off + 4:off + ln]))
        off += (ln + 3) & ~3
    return out


def _u8(b: bytes) -> int:
    return b[0]


def _u16(b: bytes) -> int:
    return struct.unpack_from("=H", b)[0]


def _u32(b: bytes) -> int:
    return struct.unpack_from("=I", b)[0]


def _s32(b: bytes) -> int:
    return struct.unpack_from("=i", b)[0]


def _u64(b: bytes) -> int:
    return struct.unpack_from("=Q", b)[0]


def _be16(b: bytes) -> int:
    return struct.unpack_from("!H", b)[0]


def _str(b: bytes) -> str:
    return b.split(b"\0", 1)[0].decode("utf-8", "replace")


def _i32(v: int) -> int:
    """A u32 printed with %d."""
    return v - (1 << 32) if v >= 1 << 31 else v


def ll_addr(addr: bytes, ifi_type: int) -> str:
    if len(addr) == 4 and ifi_type in (ARPHRD_TUNNEL, ARPHRD_SIT, ARPHRD_IPGRE):
        return socket.inet_ntop(socket.AF_INET, addr)
    if len(addr) == 16 and ifi_type in (ARPHRD_TUNNEL6, ARPHRD_IP6GRE):
        return socket.inet_ntop(socket.AF_INET6, addr)
    return ":".join(f"{x:02x}" for x in addr)


def _bridge_id(b: bytes) -> str:
    """br_dump_bridge_id: two priority bytes, then ether_ntoa (no zero padding)."""
    return f"{b[0]:02x}{b[1]:02x}." + ":".join(f"{x:x}" for x in b[2:8])


def _timer(b: bytes) -> tuple[str, float]:
    """__jiffies_to_tv (USER_HZ 100): text '%4i.%.2i', JSON the raw number '%i.%.2i'."""
    usec = 10000 * _u64(b)
    sec, cs = usec // 1000000, (usec % 1000000) // 10000
    return f"{sec:4d}.{cs:02d}", float(f"{sec}.{cs:02d}")


def _hex(v: int) -> str:
    """printf %#llx."""
    return f"{v:#x}" if v else "0"


# ---- a print_* replay into text and JSON --------------------------------------------------------------
class _Printer:
    def __init__(self) -> None:
        self.text: list[str] = []
        self.root: dict = {}
        self.stack: list[dict] = [self.root]

    def fp(self, s: str) -> None:
        self.text.append(s)

    def json(self, key: str, value) -> None:
        self.stack[-1][key] = value

    def any(self, key: str, fmt: str, value, text_value=None) -> None:
        self.json(key, value)
        self.fp(fmt % (value if text_value is None else text_value))

    def nl(self) -> None:
        self.fp("\n")

    def open(self, key: str) -> None:
        d: dict = {}
        self.stack[-1][key] = d
        self.stack.append(d)

    def close(self) -> None:
        self.stack.pop()

    def on_off(self, key: str | None, fmt: str, v: int) -> None:
        if key:
            self.json(key, bool(v))
        self.fp(fmt % ("on" if v else "off"))

    def hex(self, key: str, fmt: str, v: int) -> None:
        """print_0xhex: text per fmt (%#llx), JSON the string '%#llx'."""
        self.json(key, _hex(v))
        self.fp(fmt.replace("%#llx", _hex(v)))

    def timer(self, key: str, b: bytes) -> None:
        text, num = _timer(b)
        self.json(key, num)
        self.fp(f"{key} {text} ")


def _name(names: dict[int, str], idx: int) -> str:
    """ll_index_to_name."""
    if idx == 0:
        return "*"
    return names.get(idx) or f"if{idx}"


# ---- kind printers (iproute2 6.1) --------------------------------------------------------------------
_LLPROTO = {0x8100: "802.1Q", 0x88A8: "802.1ad"}


def _bridge(p: _Printer, tb: dict[int, bytes], names) -> None:
    u32 = [(1, "forward_delay", "forward_delay"), (2, "hello_time", "hello_time"), (3, "max_age", "max_age"),
           (4, "ageing_time", "ageing_time"), (5, "stp_state", "stp_state")]
    for a, key, word in u32:
        if a in tb:
            p.any(key, word + " %u ", _u32(tb[a]))
    if 6 in tb:
        p.any("priority", "priority %u ", _u16(tb[6]))
    if 7 in tb:
        p.any("vlan_filtering", "vlan_filtering %u ", _u8(tb[7]))
    if 8 in tb:
        proto = _be16(tb[8])
        p.any("vlan_protocol", "vlan_protocol %s ", _LLPROTO.get(proto, f"[{proto}]"))
    if 11 in tb:
        p.any("bridge_id", "bridge_id %s ", _bridge_id(tb[11]))
    if 10 in tb:  # iproute2 6.1 prints the BRIDGE_ID attribute here, not ROOT_ID
        p.any("root_id", "designated_root %s ", _bridge_id(tb[11]) if 11 in tb else "")
    if 12 in tb:
        p.any("root_port", "root_port %u ", _u16(tb[12]))
    if 13 in tb:
        p.any("root_path_cost", "root_path_cost %u ", _u32(tb[13]))
    if 14 in tb:
        p.any("topology_change", "topology_change %u ", _u8(tb[14]))
    if 15 in tb:
        p.any("topology_change_detected", "topology_change_detected %u ", _u8(tb[15]))
    for a, key in ((16, "hello_timer"), (17, "tcn_timer"), (18, "topology_change_timer"), (19, "gc_timer")):
        if a in tb:
            p.timer(key, tb[a])
    if 39 in tb:
        p.any("vlan_default_pvid", "vlan_default_pvid %u ", _u16(tb[39]))
    if 41 in tb:
        p.any("vlan_stats_enabled", "vlan_stats_enabled %u ", _u8(tb[41]))
    if 45 in tb:
        p.any("vlan_stats_per_port", "vlan_stats_per_port %u ", _u8(tb[45]))
    if 9 in tb:
        p.hex("group_fwd_mask", "group_fwd_mask %#llx ", _u16(tb[9]))
    if 20 in tb:
        p.any("group_addr", "group_address %s ", ll_addr(tb[20], 1))
    if 23 in tb:
        p.any("mcast_snooping", "mcast_snooping %u ", _u8(tb[23]))
    if 46 in tb:
        optval, optmask = struct.unpack_from("=II", tb[46])
        if optmask & 1:
            p.any("no_linklocal_learn", "no_linklocal_learn %u ", int(bool(optval & 1)))
        if optmask & 2:
            p.any("mcast_vlan_snooping", "mcast_vlan_snooping %u ", int(bool(optval & 2)))
    for a, key, word in ((22, "mcast_router", "mcast_router"), (24, "mcast_query_use_ifaddr", "mcast_query_use_ifaddr"),
                         (25, "mcast_querier", "mcast_querier")):
        if a in tb:
            p.any(key, word + " %u ", _u8(tb[a]))
    for a, key, word in ((26, "mcast_hash_elasticity", "mcast_hash_elasticity"),
                         (27, "mcast_hash_max", "mcast_hash_max"),
                         (28, "mcast_last_member_cnt", "mcast_last_member_count"),
                         (29, "mcast_startup_query_cnt", "mcast_startup_query_count")):
        if a in tb:
            p.any(key, word + " %u ", _u32(tb[a]))
    for a, key, word in ((30, "mcast_last_member_intvl", "mcast_last_member_interval"),
                         (31, "mcast_membership_intvl", "mcast_membership_interval"),
                         (32, "mcast_querier_intvl", "mcast_querier_interval"),
                         (33, "mcast_query_intvl", "mcast_query_interval"),
                         (34, "mcast_query_response_intvl", "mcast_query_response_interval"),
                         (35, "mcast_startup_query_intvl", "mcast_startup_query_interval")):
        if a in tb:
            p.any(key, word + " %u ", _u64(tb[a]))
    for a, key in ((42, "mcast_stats_enabled"), (43, "mcast_igmp_version"), (44, "mcast_mld_version"),
                   (36, "nf_call_iptables"), (37, "nf_call_ip6tables"), (38, "nf_call_arptables")):
        if a in tb:
            p.any(key, key + " %u ", _u8(tb[a]))


_PORT_STATES = ["disabled", "listening", "learning", "forwarding", "blocking"]
_FWD_MASK_TBL = {0: "stp", 2: "lacp", 14: "lldp"}


def _bitmask2str(mask: int) -> str:
    parts = []
    for i in range(16):
        if mask & (1 << i):
            parts.append(_FWD_MASK_TBL.get(i, f"0x{1 << i:x}"))
    return ",".join(parts) if parts else "0x0"


def _bridge_slave(p: _Printer, tb: dict[int, bytes], names) -> None:
    if 1 in tb:
        st = _u8(tb[1])
        if st < len(_PORT_STATES):
            p.any("state", "state %s ", _PORT_STATES[st])
        else:
            p.any("state_index", "state (%d) ", st)
    if 2 in tb:
        p.any("priority", "priority %d ", _u16(tb[2]))
    if 3 in tb:
        p.any("cost", "cost %d ", _i32(_u32(tb[3])))
    for a, key in ((4, "hairpin"), (5, "guard"), (6, "root_block"), (7, "fastleave"), (8, "learning"),
                   (9, "flood")):
        if a in tb:
            p.on_off(key, key + " %s ", _u8(tb[a]))
    if 17 in tb:
        p.hex("id", "port_id %#llx ", _u16(tb[17]))
    if 18 in tb:
        p.hex("no", "port_no %#llx ", _u16(tb[18]))
    if 15 in tb:
        p.any("designated_port", "designated_port %u ", _u16(tb[15]))
    if 16 in tb:
        p.any("designated_cost", "designated_cost %u ", _u16(tb[16]))
    if 14 in tb:
        p.any("bridge_id", "designated_bridge %s ", _bridge_id(tb[14]))
    if 13 in tb:
        p.any("root_id", "designated_root %s ", _bridge_id(tb[13]))
    for a, key in ((23, "hold_timer"), (21, "message_age_timer"), (22, "forward_delay_timer")):
        if a in tb:
            p.timer(key, tb[a])
    if 19 in tb:
        p.any("topology_change_ack", "topology_change_ack %u ", _u8(tb[19]))
    if 20 in tb:
        p.any("config_pending", "config_pending %u ", _u8(tb[20]))
    if 10 in tb:
        p.on_off("proxy_arp", "proxy_arp %s ", _u8(tb[10]))
    if 12 in tb:
        p.on_off("proxy_arp_wifi", "proxy_arp_wifi %s ", _u8(tb[12]))
    if 25 in tb:
        p.any("multicast_router", "mcast_router %u ", _u8(tb[25]))
    if 7 in tb:
        p.on_off(None, "mcast_fast_leave %s ", _u8(tb[7]))
    for a, key, word in ((27, "mcast_flood", "mcast_flood"), (30, "bcast_flood", "bcast_flood"),
                         (28, "mcast_to_unicast", "mcast_to_unicast"), (32, "neigh_suppress", "neigh_suppress")):
        if a in tb:
            p.on_off(key, word + " %s ", _u8(tb[a]))
    if 31 in tb:
        mask = _u16(tb[31])
        p.hex("group_fwd_mask", "group_fwd_mask %#llx ", mask)
        p.any("group_fwd_mask_str", "group_fwd_mask_str %s ", _bitmask2str(mask))
    for a, key in ((29, "vlan_tunnel"), (33, "isolated"), (39, "locked")):
        if a in tb:
            p.on_off(key, key + " %s ", _u8(tb[a]))
    if 34 in tb:
        p.any("backup_port", "backup_port %s ", _name(names, _u32(tb[34])))


def _vxlan(p: _Printer, tb: dict[int, bytes], names) -> None:
    if 25 in tb and _u8(tb[25]):
        p.any("external", "external %s", True, "")
    if 30 in tb and _u8(tb[30]):
        p.any("vnifilter", "vnifilter%s", True, "")
    if 1 in tb and len(tb[1]) >= 4:
        p.any("id", "id %u ", _u32(tb[1]))
    if 2 in tb:
        a = tb[2][:4]
        if a != b"\0\0\0\0":
            s = socket.inet_ntop(socket.AF_INET, a)
            if a[0] & 0xF0 == 0xE0:
                p.any("group", "group %s ", s)
            else:
                p.any("remote", "remote %s ", s)
    elif 16 in tb:
        a = tb[16][:16]
        if a != bytes(16):
            s = socket.inet_ntop(socket.AF_INET6, a)
            if a[0] == 0xFF:
                p.any("group6", "group %s ", s)
            else:
                p.any("remote6", "remote %s ", s)
    if 4 in tb:
        a = tb[4][:4]
        if a != b"\0\0\0\0":
            p.any("local", "local %s ", socket.inet_ntop(socket.AF_INET, a))
    elif 17 in tb:
        a = tb[17][:16]
        if a != bytes(16):
            p.any("local6", "local %s ", socket.inet_ntop(socket.AF_INET6, a))
    _dev(p, tb, 3, names)
    if 10 in tb:
        low, high = struct.unpack_from("!HH", tb[10])
        p.json("port_range", {"low": low, "high": high})
        p.fp(f"srcport {low} {high} ")
    if 15 in tb:
        p.any("port", "dstport %u ", _be16(tb[15]))
    if 7 in tb:
        learning = _u8(tb[7])
        p.json("learning", bool(learning))
        if not learning:
            p.fp("nolearning ")
    for attr, key, word in ((11, "proxy", "proxy"), (12, "rsc", "rsc"), (13, "l2miss", "l2miss"),
                         (14, "l3miss", "l3miss")):
        if attr in tb and _u8(tb[attr]):
            p.any(key, word + " %s", True, "")
    _tos(p, tb, 6)
    if 28 in tb and _u8(tb[28]):
        p.fp("ttl inherit ")
    elif 5 in tb:
        ttl = _u8(tb[5])
        p.json("ttl", ttl)
        p.fp(f"ttl {ttl} " if ttl else "ttl auto ")
    if 29 in tb:
        df = _u8(tb[29])
        if df == 0:
            p.json("df", "unset")
        elif df in (1, 2):
            p.any("df", "df %s ", "set" if df == 1 else "inherit")
    if 26 in tb:
        label = struct.unpack_from("!I", tb[26])[0]
        if label:
            p.hex("label", "flowlabel %#llx ", label)
    if 8 in tb:
        age = _u32(tb[8])
        p.json("ageing", age)
        p.fp(f"ageing {age} " if age else "ageing none ")
    if 9 in tb and _u32(tb[9]):
        p.any("limit", "maxaddr %u ", _u32(tb[9]))
    for attr, key, word in ((18, "udp_csum", "udpcsum"), (19, "udp_zero_csum6_tx", "udp6zerocsumtx"),
                         (20, "udp_zero_csum6_rx", "udp6zerocsumrx")):
        if attr in tb:
            v = _u8(tb[attr])
            p.json(key, bool(v))
            p.fp(("" if v else "no") + word + " ")
    for attr, key, word in ((21, "remcsum_tx", "remcsumtx"), (22, "remcsum_rx", "remcsumrx")):
        if attr in tb and _u8(tb[attr]):
            p.any(key, word + " %s", True, "")
    if 23 in tb:
        p.any("gbp", "gbp %s", True, "")
    if 27 in tb:
        p.any("gpe", "gpe %s", True, "")


_MACVLAN_MODES = {1: "private", 2: "vepa", 4: "bridge", 8: "passthru", 16: "source"}


def _macvlan(p: _Printer, tb: dict[int, bytes], names) -> None:
    if 1 not in tb or len(tb[1]) < 4:
        return
    mode = _u32(tb[1])
    p.any("mode", "mode %s ", _MACVLAN_MODES.get(mode, "unknown"))
    flags = _u16(tb[2]) if 2 in tb and len(tb[2]) >= 2 else 0
    if flags & 1:
        p.any("nopromisc", "nopromisc %s", True, "")
    if flags & 2:
        p.any("nodst", "nodst %s", True, "")
    if 7 in tb and len(tb[7]) >= 4:
        p.any("bcqueuelen", "bcqueuelen %u ", _u32(tb[7]))
    if 8 in tb and len(tb[8]) >= 4:
        p.any("usedbcqueuelen", "usedbcqueuelen %u ", _u32(tb[8]))
    if mode != 16 or 6 not in tb or len(tb[6]) < 4:
        return
    p.any("macaddr_count", "remotes (%d) ", _i32(_u32(tb[6])))
    if 5 not in tb:
        return
    macs = [":".join(f"{x:02x}" for x in v[:6]) for t, v in _list(tb[5]) if t == 4 and len(v) >= 6]
    p.json("macaddr_data", macs)
    p.fp("".join(m + " " for m in macs))


def _tun(p: _Printer, tb: dict[int, bytes], names) -> None:
    if 3 in tb:
        t = _u8(tb[3])
        p.any("type", "type %s ", {1: "tun", 2: "tap"}.get(t, f"UNKNOWN:{t}"))
    if 4 in tb:
        p.on_off("pi", "pi %s ", _u8(tb[4]))
    if 5 in tb:
        p.on_off("vnet_hdr", "vnet_hdr %s ", _u8(tb[5]))
    if 7 not in tb or not _u8(tb[7]):
        p.json("multi_queue", False)
    else:
        p.any("multi_queue", "multi_queue %s", True, "")
        if 8 in tb:
            p.any("numqueues", "numqueues %u ", _u32(tb[8]))
        if 9 in tb:
            p.any("numdisabled", "numdisabled %u ", _u32(tb[9]))
    if 6 in tb:
        p.on_off("persist", "persist %s ", _u8(tb[6]))
    if 1 in tb:
        uid = _u32(tb[1])
        try:
            p.any("user", "user %s ", pwd.getpwuid(uid).pw_name)
        except KeyError:
            p.any("user", "user %u ", uid)
    if 2 in tb:
        gid = _u32(tb[2])
        try:
            p.any("group", "group %s ", grp.getgrgid(gid).gr_name)
        except KeyError:
            p.any("group", "group %u ", gid)


# ip/iplink_vlan.c vlan_print_opt
_VLAN_FLAGS = [(0x1, "REORDER_HDR"), (0x2, "GVRP"), (0x8, "MVRP"), (0x4, "LOOSE_BINDING"), (0x10, "BRIDGE_BINDING")]
_ETH_P = {0x8100: "802.1Q", 0x88A8: "802.1ad"}


def _vlan(p: _Printer, tb: dict[int, bytes], names) -> None:
    if 5 in tb and len(tb[5]) < 2 or 1 not in tb or len(tb[1]) < 2:
        return
    proto = _be16(tb[5]) if 5 in tb else 0x8100
    p.any("protocol", "protocol %s ", _ETH_P.get(proto, f"[{proto}]") if 5 in tb else "802.1q")
    p.any("id", "id %u ", _u16(tb[1]))
    if 2 in tb:
        if len(tb[2]) < 8:
            return
        flags = _u32(tb[2][:4])
        words = []
        for bit, word in _VLAN_FLAGS:
            if flags & bit:
                flags &= ~bit
                words.append(word)
        if flags:
            words.append(f"{flags:x}")
        p.json("flags", words)
        p.fp("<" + ",".join(words) + "> ")
    for t, key, word in ((4, "ingress_qos", "ingress-qos-map"), (3, "egress_qos", "egress-qos-map")):
        if t in tb:
            maps = [(_u32(v[:4]), _u32(v[4:8])) for _t, v in _list(tb[t]) if len(v) >= 8]
            p.json(key, [{"from": a, "to": b} for a, b in maps])
            p.nl()
            p.fp(f"      {word} {{ " + "".join(f"{a}:{b} " for a, b in maps) + "} ")


def _endpoint(p: _Printer, name: str, raw: bytes | None, family: int) -> None:
    """tunnel.c tnl_print_endpoint: "any" for none or 0.0.0.0 / ::."""
    n = 4 if family == socket.AF_INET else 16
    value = "any" if raw is None or len(raw) < n or not any(raw[:n]) else socket.inet_ntop(family, raw[:n])
    p.json(name, value)
    p.fp(f"{name} {value} ")


def _dev(p: _Printer, tb: dict[int, bytes], attr: int, names) -> None:
    """A tunnel's lower device (its IFLA_*_LINK): "dev NAME", nothing for 0."""
    if attr in tb and _u32(tb[attr]):
        p.any("link", "dev %s ", _name(names, _u32(tb[attr])))


def _ttl(p: _Printer, tb: dict[int, bytes], attr: int, word: str = "ttl") -> None:
    """ttl (hoplimit for IPv6 tunnels) N, 0 as "inherit" in text; always the number in JSON."""
    ttl = _u8(tb[attr]) if attr in tb else 0
    p.json("ttl", ttl)
    p.fp(f"{word} {ttl} " if ttl else f"{word} inherit ")


def _tos(p: _Printer, tb: dict[int, bytes], attr: int) -> None:
    """tos, printed only when set: 1 is "inherit" in text, the hex value in JSON."""
    tos = _u8(tb[attr]) if attr in tb else 0
    if tos:
        p.json("tos", _hex(tos))
        p.fp(f"tos {_hex(tos)} " if tos != 1 else "tos inherit ")


def _encap(p: _Printer, tb: dict[int, bytes], t_type: int, t_flags: int, t_sport: int, t_dport: int) -> None:
    """tunnel.c tnl_print_encap (fou/gue encapsulation of a tunnel)."""
    if t_type not in tb or _u16(tb[t_type]) == 0:
        return
    typ, flags = _u16(tb[t_type]), _u16(tb.get(t_flags, b"\0\0"))
    sport, dport = _be16(tb.get(t_sport, b"\0\0")), _be16(tb.get(t_dport, b"\0\0"))
    p.open("encap")
    p.fp("encap ")
    p.any("type", "%s ", {1: "fou", 2: "gue"}.get(typ, "unknown"))
    p.json("sport", sport)
    p.json("dport", dport)
    for bit, word in ((1, "csum"), (2, "csum6"), (4, "remcsum")):
        p.json(word, bool(flags & bit))
    p.close()
    p.fp(f"encap-sport {sport} " if sport else "encap-sport auto ")
    p.fp(f"encap-dport {dport} ")
    for bit, word in ((1, "csum"), (2, "csum6"), (4, "remcsum")):
        p.fp(f"encap-{word} " if flags & bit else f"noencap-{word} ")


def _erspan_and_encap(p: _Printer, tb: dict[int, bytes]) -> None:
    """The tail gre_print_opt and ip6gre's print alike: ERSPAN's fields (IFLA_GRE_ERSPAN_*), then fou/gue."""
    if 21 in tb:
        p.any("erspan_index", "erspan_index %u ", _u32(tb[21]))
    if 22 in tb:
        p.any("erspan_ver", "erspan_ver %u ", _u8(tb[22]))
    if 23 in tb:
        p.any("erspan_dir", "erspan_dir %s ", "ingress" if _u8(tb[23]) == 0 else "egress")
    if 24 in tb:
        p.hex("erspan_hwid", "erspan_hwid %#llx ", _u16(tb[24]))
    _encap(p, tb, 14, 15, 16, 17)


def _gre(p: _Printer, tb: dict[int, bytes], names) -> None:
    """ip/link_gre.c gre_print_opt (gre, gretap, erspan)."""
    if 18 in tb:
        p.any("external", "external %s", True, "")
    _endpoint(p, "remote", tb.get(7), socket.AF_INET)
    _endpoint(p, "local", tb.get(6), socket.AF_INET)
    _dev(p, tb, 1, names)
    _ttl(p, tb, 8)
    _tos(p, tb, 9)
    if 10 in tb:
        if not _u8(tb[10]):
            p.any("pmtudisc", "nopmtudisc %s", False, "")
        else:
            p.json("pmtudisc", True)
    if 19 in tb and _u8(tb[19]):
        p.any("ignore_df", "ignore-df %s", True, "")
    iflags = _be16(tb[2]) if 2 in tb else 0
    oflags = _be16(tb[3]) if 3 in tb else 0
    if iflags & 0x2000 and 4 in tb:
        p.any("ikey", "ikey %s ", socket.inet_ntop(socket.AF_INET, tb[4][:4]))
    if oflags & 0x2000 and 5 in tb:
        p.any("okey", "okey %s ", socket.inet_ntop(socket.AF_INET, tb[5][:4]))
    for flags, bit, key in ((iflags, 0x1000, "iseq"), (oflags, 0x1000, "oseq"), (iflags, 0x8000, "icsum"),
                            (oflags, 0x8000, "ocsum")):
        if flags & bit:
            p.any(key, key + " %s", True, "")
    if 20 in tb and _u32(tb[20]):
        p.hex("fwmark", "fwmark %#llx ", _u32(tb[20]))
    _erspan_and_encap(p, tb)


def _geneve(p: _Printer, tb: dict[int, bytes], names) -> None:
    """ip/iplink_geneve.c geneve_print_opt."""
    if 6 in tb:
        p.any("external", "external %s", True, "")
    if 1 in tb and len(tb[1]) >= 4:
        p.any("id", "id %u ", _u32(tb[1]))
    if 2 in tb:
        if any(tb[2][:4]):
            p.any("remote", "remote %s ", socket.inet_ntop(socket.AF_INET, tb[2][:4]))
    elif 7 in tb and len(tb[7]) >= 16:
        a = tb[7][:16]
        if any(a) and a[0] != 0xFF:
            p.any("remote6", "remote %s ", socket.inet_ntop(socket.AF_INET6, a))
    if 12 in tb and _u8(tb[12]):
        p.fp("ttl inherit ")
    elif 3 in tb:
        ttl = _u8(tb[3])
        p.json("ttl", ttl)
        p.fp(f"ttl {ttl} " if ttl else "ttl auto ")
    _tos(p, tb, 4)
    if 13 in tb:
        df = _u8(tb[13])
        if df == 0:
            p.json("df", "unset")
        elif df in (1, 2):
            p.any("df", "df %s ", "set" if df == 1 else "inherit")
    if 11 in tb and _u32(tb[11]):
        p.hex("label", "flowlabel %#llx ", int.from_bytes(tb[11][:4], "big"))
    if 5 in tb:
        p.any("port", "dstport %u ", _be16(tb[5]))
    for t, key, word in ((8, "udp_csum", "udpcsum"), (9, "udp_zero_csum6_tx", "udp6zerocsumtx"),
                         (10, "udp_zero_csum6_rx", "udp6zerocsumrx")):
        if t in tb:
            v = _u8(tb[t])
            p.json(key, bool(v))
            p.fp(("" if v else "no") + word + " ")
    if 14 in tb:
        p.any("inner_proto_inherit", "innerprotoinherit %s", True, "")


def _ipvlan(p: _Printer, tb: dict[int, bytes], names) -> None:
    """ip/iplink_ipvlan.c ipvlan_print_opt."""
    if 1 in tb and len(tb[1]) == 2:
        p.any("mode", " mode %s ", {0: "l2", 1: "l3", 2: "l3s"}.get(_u16(tb[1]), "unknown"))
    if 2 in tb and len(tb[2]) == 2:
        flags = _u16(tb[2])
        key = "private" if flags & 1 else "vepa" if flags & 2 else "bridge"
        p.any(key, key + " %s", True, "")


def _flag(p: _Printer, key: str, text: str) -> None:
    """print_bool(PRINT_ANY, key, text, true)."""
    p.json(key, True)
    p.fp(text)


def _iptnl(p: _Printer, tb: dict[int, bytes], names) -> None:
    """ip/link_iptnl.c iptunnel_print_opt (ipip, sit)."""
    if 19 in tb:
        _flag(p, "external", "external ")
    if 9 in tb:
        word = {4: "ipip", 41: "ip6ip", 137: "mplsip", 0: "any"}.get(_u8(tb[9]))
        if word:
            p.any("proto", "%s ", word)
    _endpoint(p, "remote", tb.get(3), socket.AF_INET)
    _endpoint(p, "local", tb.get(2), socket.AF_INET)
    _dev(p, tb, 1, names)
    _ttl(p, tb, 4)
    _tos(p, tb, 5)
    on = 10 in tb and _u8(tb[10])
    p.json("pmtudisc", bool(on))
    p.fp("pmtudisc " if on else "nopmtudisc ")
    if 8 in tb and _u16(tb[8]) & 0x1:
        _flag(p, "isatap", "isatap ")
    plen = _u16(tb[13]) if 13 in tb else 0
    if plen:
        rlen = _u16(tb[14]) if 14 in tb else 0
        relay = tb.get(12, b"\0\0\0\0")[:4]
        prefix = socket.inet_ntop(socket.AF_INET6, tb[11][:16])
        p.json("prefix", prefix)
        p.json("prefixlen", plen)
        p.fp(f"6rd-prefix {prefix}/{plen} ")
        if any(relay):
            p.json("relay_prefix", socket.inet_ntop(socket.AF_INET, relay))
            p.json("relay_prefixlen", rlen)
            p.fp(f"6rd-relay_prefix {socket.inet_ntop(socket.AF_INET, relay)}/{rlen} ")
    if 20 in tb and _u32(tb[20]):
        p.hex("fwmark", "fwmark %#llx ", _u32(tb[20]))
    _encap(p, tb, 15, 16, 17, 18)


def _vti(p: _Printer, tb: dict[int, bytes], names) -> None:
    """ip/link_vti.c vti_print_opt and link_vti6.c vti6_print_opt (the same but for the address family)."""
    _vti_any(p, tb, names, socket.AF_INET)


def _vti6(p: _Printer, tb: dict[int, bytes], names) -> None:
    _vti_any(p, tb, names, socket.AF_INET6)


def _vti_any(p: _Printer, tb: dict[int, bytes], names, family: int) -> None:
    _endpoint(p, "remote", tb.get(5), family)
    _endpoint(p, "local", tb.get(4), family)
    _dev(p, tb, 1, names)
    for a, key in ((2, "ikey"), (3, "okey")):
        if a in tb and _u32(tb[a]):
            p.any(key, key + " %s ", socket.inet_ntop(socket.AF_INET, tb[a][:4]))
    if 6 in tb and _u32(tb[6]):
        p.hex("fwmark", "fwmark %#llx ", _u32(tb[6]))


def _ip6_flow(p: _Printer, tb: dict[int, bytes], flags: int, limit_attr: int, flow_attr: int) -> None:
    """encaplimit, tclass and flowlabel of link_ip6tnl.c / link_gre6.c."""
    if flags & 0x1:
        _flag(p, "ip6_tnl_f_ign_encap_limit", "encaplimit none ")
    elif limit_attr in tb:
        p.any("encap_limit", "encaplimit %u ", _u8(tb[limit_attr]))
    flowinfo = int.from_bytes(tb[flow_attr][:4], "big") if flow_attr in tb else 0
    if flags & 0x2:
        _flag(p, "ip6_tnl_f_use_orig_tclass", "tclass inherit ")
    elif flow_attr in tb:
        p.any("tclass", "tclass %s ", f"0x{(flowinfo & 0x0FF00000) >> 20:02x}")
    if flags & 0x4:
        _flag(p, "ip6_tnl_f_use_orig_flowlabel", "flowlabel inherit ")
    elif flow_attr in tb:
        p.any("flowlabel", "flowlabel %s ", f"0x{flowinfo & 0xFFFFF:05x}")
    if flags & 0x10:
        _flag(p, "ip6_tnl_f_rcv_dscp_copy", "dscp inherit ")


def _fwmark6(p: _Printer, tb: dict[int, bytes], flags: int, attr: int) -> None:
    if flags & 0x20:
        _flag(p, "ip6_tnl_f_use_orig_fwmark", "fwmark inherit ")
    elif attr in tb and _u32(tb[attr]):
        p.hex("fwmark", "fwmark %#llx ", _u32(tb[attr]))


def _ip6tnl(p: _Printer, tb: dict[int, bytes], names) -> None:
    """ip/link_ip6tnl.c ip6tunnel_print_opt."""
    if 19 in tb:
        _flag(p, "external", "external ")
    flags = _u32(tb[8]) if 8 in tb else 0
    if 9 in tb:
        word = {4: "ipip6", 41: "ip6ip6", 0: "any"}.get(_u8(tb[9]))
        if word:
            p.any("proto", "%s ", word)
    _endpoint(p, "remote", tb.get(3), socket.AF_INET6)
    _endpoint(p, "local", tb.get(2), socket.AF_INET6)
    _dev(p, tb, 1, names)
    _ttl(p, tb, 4, "hoplimit")
    _ip6_flow(p, tb, flags, 6, 7)
    if flags & 0x8:
        _flag(p, "ip6_tnl_f_mip6_dev", "mip6 ")
    if flags & 0x40:
        _flag(p, "ip6_tnl_f_allow_local_remote", "allow-localremote ")
    _fwmark6(p, tb, flags, 20)
    _encap(p, tb, 15, 16, 17, 18)


def _gre6(p: _Printer, tb: dict[int, bytes], names) -> None:
    """ip/link_gre6.c gre_print_opt (ip6gre, ip6gretap, ip6erspan)."""
    if 18 in tb:
        _flag(p, "external", "external ")
    flags = _u32(tb[13]) if 13 in tb else 0
    _endpoint(p, "remote", tb.get(7), socket.AF_INET6)
    _endpoint(p, "local", tb.get(6), socket.AF_INET6)
    _dev(p, tb, 1, names)
    _ttl(p, tb, 8, "hoplimit")
    _ip6_flow(p, tb, flags, 11, 12)
    iflags = _be16(tb[2]) if 2 in tb else 0
    oflags = _be16(tb[3]) if 3 in tb else 0
    if iflags & 0x2000 and 4 in tb:
        p.any("ikey", "ikey %s ", socket.inet_ntop(socket.AF_INET, tb[4][:4]))
    if oflags & 0x2000 and 5 in tb:
        p.any("okey", "okey %s ", socket.inet_ntop(socket.AF_INET, tb[5][:4]))
    for flg, bit, key in ((iflags, 0x1000, "iseq"), (oflags, 0x1000, "oseq"), (iflags, 0x8000, "icsum"),
                          (oflags, 0x8000, "ocsum")):
        if flg & bit:
            _flag(p, key, key + " ")
    if flags & 0x40:
        _flag(p, "ip6_tnl_f_allow_local_remote", "allow-localremote ")
    _fwmark6(p, tb, flags, 20)
    _erspan_and_encap(p, tb)


def _vrf(p: _Printer, tb: dict[int, bytes], names) -> None:
    """ip/iplink_vrf.c vrf_print_opt and vrf_slave_print_opt (IFLA_VRF_TABLE, IFLA_VRF_PORT_TABLE: both 1)."""
    if 1 in tb:
        p.any("table", "table %u ", _u32(tb[1]))


# ip/iplink_bond.c
_BOND_MODES = ("balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb")
_ARP_VALIDATE = ("none", "active", "backup", "all", "filter", "filter_active", "filter_backup")
_ARP_ALL_TARGETS = ("any", "all")
_PRIMARY_RESELECT = ("always", "better", "failure")
_FAIL_OVER_MAC = ("none", "active", "follow")
_XMIT_HASH_POLICY = ("layer2", "layer3+4", "layer2+3", "encap2+3", "encap3+4", "vlan+srcmac")
_ON_OFF = ("off", "on")
_LACP_RATE = ("slow", "fast")
_AD_SELECT = ("stable", "bandwidth", "count")


def _get_name(tbl: tuple[str, ...], i: int) -> str:
    return tbl[i] if 0 <= i < len(tbl) else "UNKNOWN"


def _mac(b: bytes) -> str:
    """ll_addr_n2a for an Ethernet-like address: colon-separated hex."""
    return ":".join(f"{x:02x}" for x in b)


def _bond_targets(p: _Printer, raw: bytes, key: str, family: int) -> None:
    """arp_ip_target / ns_ip6_target: the nested list (attributes 0..15), comma-separated."""
    tb: dict[int, bytes] = {}
    for t, v in _list(raw):
        if t <= 16:
            tb.setdefault(t, v)
    if 0 not in tb:
        return
    n = 4 if family == socket.AF_INET else 16
    addrs = [socket.inet_ntop(family, tb[i][:n].ljust(n, b"\0")) for i in range(16) if i in tb]
    p.json(key, addrs)
    text = ""
    for i in range(16):
        if i in tb:
            text += socket.inet_ntop(family, tb[i][:n].ljust(n, b"\0"))
        if i < 15 and i + 1 in tb:
            text += ","
    p.fp(f"{key} {text} ")


def _bond(p: _Printer, tb: dict[int, bytes], names) -> None:
    """ip/iplink_bond.c bond_print_opt."""
    if 1 in tb:
        p.any("mode", "mode %s ", _get_name(_BOND_MODES, _u8(tb[1])))
    if 2 in tb and _u32(tb[2]):
        p.any("active_slave", "active_slave %s ", _name(names, _u32(tb[2])))
    for a, key in ((3, "miimon"), (4, "updelay"), (5, "downdelay"), (28, "peer_notify_delay")):
        if a in tb:
            p.any(key, key + " %u ", _u32(tb[a]))
    if 6 in tb:
        p.any("use_carrier", "use_carrier %u ", _u8(tb[6]))
    if 7 in tb:
        p.any("arp_interval", "arp_interval %u ", _u32(tb[7]))
    if 30 in tb:
        p.any("arp_missed_max", "arp_missed_max %u ", _u8(tb[30]))
    if 8 in tb:
        _bond_targets(p, tb[8], "arp_ip_target", socket.AF_INET)
    if 31 in tb:
        _bond_targets(p, tb[31], "ns_ip6_target", socket.AF_INET6)
    if 9 in tb:
        v = _u32(tb[9])
        p.json("arp_validate", None if not v else _get_name(_ARP_VALIDATE, v))
        p.fp(f"arp_validate {_get_name(_ARP_VALIDATE, v)} ")
    if 10 in tb:
        p.any("arp_all_targets", "arp_all_targets %s ", _get_name(_ARP_ALL_TARGETS, _u32(tb[10])))
    if 11 in tb and _u32(tb[11]):
        p.any("primary", "primary %s ", _name(names, _u32(tb[11])))
    tbl: tuple[str, ...]
    for a, key, tbl in ((12, "primary_reselect", _PRIMARY_RESELECT), (13, "fail_over_mac", _FAIL_OVER_MAC),
                        (14, "xmit_hash_policy", _XMIT_HASH_POLICY)):
        if a in tb:
            p.any(key, key + " %s ", _get_name(tbl, _u8(tb[a])))
    if 15 in tb:
        p.any("resend_igmp", "resend_igmp %u ", _u32(tb[15]))
    if 16 in tb:
        p.any("num_peer_notif", "num_grat_arp %u ", _u8(tb[16]))
    if 17 in tb:
        p.any("all_slaves_active", "all_slaves_active %u ", _u8(tb[17]))
    for a, key in ((18, "min_links"), (19, "lp_interval"), (20, "packets_per_slave")):
        if a in tb:
            p.any(key, key + " %u ", _u32(tb[a]))
    for a, key, word, tbl in ((29, "ad_lacp_active", "lacp_active", _ON_OFF),
                              (21, "ad_lacp_rate", "lacp_rate", _LACP_RATE),
                              (22, "ad_select", "ad_select", _AD_SELECT)):
        if a in tb:
            p.any(key, word + " %s ", _get_name(tbl, _u8(tb[a])))
    if 23 in tb:
        ad = _parse(tb[23])
        p.open("ad_info")
        for a, key, word in ((1, "aggregator", "ad_aggregator"), (2, "num_ports", "ad_num_ports"),
                             (3, "actor_key", "ad_actor_key"), (4, "partner_key", "ad_partner_key")):
            if a in ad:
                p.any(key, word + " %d ", _u16(ad[a]))
        if 5 in ad:
            p.any("partner_mac", "ad_partner_mac %s ", _mac(ad[5][:6]))
        p.close()
    if 24 in tb:
        p.any("ad_actor_sys_prio", "ad_actor_sys_prio %u ", _u16(tb[24]))
    if 25 in tb:
        p.any("ad_user_port_key", "ad_user_port_key %u ", _u16(tb[25]))
    if 26 in tb:
        p.any("ad_actor_system", "ad_actor_system %s ", _mac(tb[26]))
    if 27 in tb:
        p.any("tlb_dynamic_lb", "tlb_dynamic_lb %u ", _u8(tb[27]))


_LACP_STATES = ((0x1, "active"), (0x2, "short_timeout"), (0x4, "aggregating"), (0x8, "in_sync"),
                (0x10, "collecting"), (0x20, "distributing"), (0x40, "defaulted"), (0x80, "expired"))


def _oper_state(p: _Printer, key: str, state: int) -> None:
    """iplink_bond_slave.c print_slave_oper_state (the text names the JSON array first, as 6.1 does)."""
    words = []
    for bit, word in _LACP_STATES:
        if state & bit:
            state &= ~bit
            words.append(word)
    p.json(key, words)
    p.fp(key + " <" + ",".join(words) + "> ")


def _bond_slave(p: _Printer, tb: dict[int, bytes], names) -> None:
    """ip/iplink_bond_slave.c bond_slave_print_opt."""
    if 1 in tb:
        st = _u8(tb[1])
        if st < 2:
            p.any("state", "state %s ", ("ACTIVE", "BACKUP")[st])
        else:
            p.any("state_index", "state %d ", st)
    if 2 in tb:
        st = _u8(tb[2])
        if st < 4:
            p.any("mii_status", "mii_status %s ", ("UP", "GOING_DOWN", "DOWN", "GOING_BACK")[st])
        else:
            p.any("mii_status_index", "mii_status %d ", st)
    if 3 in tb:
        p.any("link_failure_count", "link_failure_count %d ", _i32(_u32(tb[3])))
    if 4 in tb:
        p.any("perm_hwaddr", "perm_hwaddr %s ", _mac(tb[4]))
    if 5 in tb:
        p.any("queue_id", "queue_id %d ", _u16(tb[5]))
    if 9 in tb:
        p.any("prio", "prio %d ", _s32(tb[9]))
    if 6 in tb:
        p.any("ad_aggregator_id", "ad_aggregator_id %d ", _u16(tb[6]))
    for a, key in ((7, "ad_actor_oper_port_state"), (8, "ad_partner_oper_port_state")):
        if a in tb:
            st = _u8(tb[a])
            p.any(key, key + " %d ", st)
            _oper_state(p, key + "_str", st)


KIND_PRINTERS = {"ipip": _iptnl, "sit": _iptnl, "vti": _vti, "vti6": _vti6, "ip6tnl": _ip6tnl, "ip6gre": _gre6,
                 "ip6gretap": _gre6, "ip6erspan": _gre6, "vrf": _vrf, "vrf_slave": _vrf, "bond": _bond, "bond_slave": _bond_slave, "bridge": _bridge, "bridge_slave": _bridge_slave, "vxlan": _vxlan, "macvlan": _macvlan,
                 "macvtap": _macvlan, "tun": _tun, "vlan": _vlan, "gre": _gre, "gretap": _gre, "erspan": _gre,
                 "geneve": _geneve, "ipvlan": _ipvlan, "ipvtap": _ipvlan}


# ---- print_linkinfo from the link/ line on ------------------------------------------------------------
def _kind_block(p: _Printer, kind: str, data: bytes | None, names, fmt: str, kind_key: str,
                data_key: str) -> None:
    p.nl()
    p.any(kind_key, fmt, kind)
    lu = kind + ("_slave" if kind_key == "info_slave_kind" else "")
    if lu in KIND_PRINTERS or lu in KINDS_WITH_PRINT_OPT:
        p.open(data_key)
        printer = KIND_PRINTERS.get(lu)
        if printer is not None and data is not None:
            printer(p, _parse(data), names)
        p.close()


_ADDRGENMODES = {0: "eui64", 1: "none", 2: "stable_secret", 3: "random"}


def _replay(msg, names: dict[int, str], netns_names: dict[int, str] | None) -> _Printer:
    buf = _raw(msg)
    _family, ifi_type, _index, ifi_flags = struct.unpack_from("=BxHiI", buf, 16)
    tb = _parse(buf, 32)
    p = _Printer()
    p.fp(f"    link/{ARPHRD_NAMES.get(ifi_type, f'[{ifi_type}]')} ")
    if IFLA_ADDRESS in tb:
        p.fp(ll_addr(tb[IFLA_ADDRESS], ifi_type))
    if IFLA_BROADCAST in tb:
        p.fp(" peer " if ifi_flags & IFF_POINTOPOINT else " brd ")
        p.fp(ll_addr(tb[IFLA_BROADCAST], ifi_type))
    if IFLA_PERM_ADDRESS in tb and tb.get(IFLA_ADDRESS) != tb[IFLA_PERM_ADDRESS]:
        p.fp(" permaddr " + ll_addr(tb[IFLA_PERM_ADDRESS], ifi_type))
    if IFLA_LINK_NETNSID in tb:
        nsid = _s32(tb[IFLA_LINK_NETNSID])
        name = (netns_names or {}).get(nsid) if nsid >= 0 else None
        p.fp(f" link-netns {name}" if name else f" link-netnsid {nsid if nsid >= 0 else 'unknown'}")
    if IFLA_NEW_NETNSID in tb:
        nsid = _s32(tb[IFLA_NEW_NETNSID])
        name = (netns_names or {}).get(nsid)
        p.fp(f" new-netns {name}" if name else f" new-netnsid {nsid}")
    if IFLA_NEW_IFINDEX in tb:
        p.fp(f" new-ifindex {_s32(tb[IFLA_NEW_IFINDEX])}")
    if IFLA_PROTO_DOWN in tb and _u8(tb[IFLA_PROTO_DOWN]):
        p.fp(" protodown on ")  # JSON "proto_down" is not a -d key: left to link_json
        # protodown_reason <...> (named from /etc/iproute2/protodown_reasons.d) is not replayed

    if IFLA_PROMISCUITY in tb:
        p.any("promiscuity", " promiscuity %u ", _u32(tb[IFLA_PROMISCUITY]))
    if IFLA_ALLMULTI in tb:
        p.any("allmulti", " allmulti %u ", _u32(tb[IFLA_ALLMULTI]))
    if IFLA_MIN_MTU in tb:
        p.any("min_mtu", "minmtu %u ", _u32(tb[IFLA_MIN_MTU]))
    if IFLA_MAX_MTU in tb:
        p.any("max_mtu", "maxmtu %u ", _u32(tb[IFLA_MAX_MTU]))
    if IFLA_LINKINFO in tb:
        li = _parse(tb[IFLA_LINKINFO])
        p.open("linkinfo")
        if IFLA_INFO_KIND in li:
            _kind_block(p, _str(li[IFLA_INFO_KIND]), li.get(IFLA_INFO_DATA), names, "    %s ",
                        "info_kind", "info_data")
        if IFLA_INFO_SLAVE_KIND in li:
            _kind_block(p, _str(li[IFLA_INFO_SLAVE_KIND]), li.get(IFLA_INFO_SLAVE_DATA), names, "    %s_slave ",
                        "info_slave_kind", "info_slave_data")
        p.close()
    if IFLA_AF_SPEC in tb:
        inet6 = next((v for t, v in _list(tb[IFLA_AF_SPEC]) if t == socket.AF_INET6), None)
        if inet6 is not None:
            i6 = _parse(inet6)
            if IFLA_INET6_ADDR_GEN_MODE in i6:
                mode = _u8(i6[IFLA_INET6_ADDR_GEN_MODE])
                p.any("inet6_addr_gen_mode", "addrgenmode %s ", _ADDRGENMODES.get(mode, f"0x{mode:02x}"))
    for a, key, word in ((IFLA_NUM_TX_QUEUES, "num_tx_queues", "numtxqueues"),
                         (IFLA_NUM_RX_QUEUES, "num_rx_queues", "numrxqueues"),
                         (IFLA_GSO_MAX_SIZE, "gso_max_size", "gso_max_size"),
                         (IFLA_GSO_MAX_SEGS, "gso_max_segs", "gso_max_segs"),
                         (IFLA_TSO_MAX_SIZE, "tso_max_size", "tso_max_size"),
                         (IFLA_TSO_MAX_SEGS, "tso_max_segs", "tso_max_segs"),
                         (IFLA_GRO_MAX_SIZE, "gro_max_size", "gro_max_size")):
        if a in tb:
            p.any(key, word + " %u ", _u32(tb[a]))
    if IFLA_PHYS_PORT_NAME in tb:
        p.any("phys_port_name", "portname %s ", _str(tb[IFLA_PHYS_PORT_NAME]))
    if IFLA_PHYS_PORT_ID in tb:
        p.any("phys_port_id", "portid %s ", tb[IFLA_PHYS_PORT_ID].hex())
    if IFLA_PHYS_SWITCH_ID in tb:
        p.any("phys_switch_id", "switchid %s ", tb[IFLA_PHYS_SWITCH_ID].hex())
    if IFLA_PARENT_DEV_BUS_NAME in tb:
        p.any("parentbus", "parentbus %s ", _str(tb[IFLA_PARENT_DEV_BUS_NAME]))
    if IFLA_PARENT_DEV_NAME in tb:
        p.any("parentdev", "parentdev %s ", _str(tb[IFLA_PARENT_DEV_NAME]))
    # not -d keys (lab's link_json decides about them): text only
    if IFLA_IFALIAS in tb:
        p.fp("\n    alias " + _str(tb[IFLA_IFALIAS]))
    if IFLA_PROP_LIST in tb:
        for t, v in _list(tb[IFLA_PROP_LIST]):
            if t == IFLA_ALT_IFNAME:
                p.fp("\n    altname " + _str(v))
    return p


def detail_lines(msg, names: dict[int, str], netns_names: dict[int, str] | None = None,
                 stats: list[str] | None = None) -> list[str]:
    """The lines `ip -d link show` prints after a link's first line: the link/TYPE line (with
    promiscuity/allmulti/minmtu/maxmtu, trailing space included), the kind and slave-kind lines, the
    generic tail (addrgenmode, queues, gso/tso/gro), the alias line, then altname lines. `names`:
    ifindex -> name in the link's namespace (vxlan `dev`, bridge `backup_port`); `netns_names`: nsid ->
    namespace name (" link-netns NAME"; an nsid not in it prints " link-netnsid N"). `stats`: the
    `-s` lines (render.link_stats), placed where iproute2 prints them: after alias, before altnames."""
    lines = "".join(_replay(msg, names, netns_names).text).split("\n")
    if stats:
        at = next((i for i, line in enumerate(lines) if line.startswith("    altname ")), len(lines))
        lines[at:at] = stats
    return lines


def detail_json(msg, names: dict[int, str]) -> dict:
    """The keys `ip -d -j link` adds after "link_netnsid" (promiscuity ... parentdev, linkinfo
    included), in iproute2's order. Bridge timers are floats: serialise, then `fix_json_timers`."""
    return _replay(msg, names, None).root


_TIMER_RE = re.compile(r'("(?:%s)":)(\d+)\.(\d)(?=[,}])' % "|".join(TIMER_KEYS))


def fix_json_timers(text: str) -> str:
    """json.dumps writes 0.0 where iproute2 writes 0.00 (bridge/bridge_slave timers)."""
    return _TIMER_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}.{m.group(3)}0", text)
