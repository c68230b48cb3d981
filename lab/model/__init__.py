"""Plain, stdlib-only, frozen dataclasses for everything the lab shows: the currency between backend,
tracer, scenarios and UI. No kernel access, no formatting (see lab.render)."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TypeVar

_T = TypeVar("_T")
_FIELDS: dict[type, frozenset[str]] = {}


def evolve(obj: _T, **changes) -> _T:
    """dataclasses.replace for these frozen dataclasses (no __post_init__, no init=False fields), ~10x
    cheaper: a copy of the instance dict with the changes, no __init__ (the watcher's first read of
    1,000 namespaces makes thousands). An unknown field name is a TypeError, as with replace."""
    cls = type(obj)
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = frozenset(f.name for f in fields(cls))   # type: ignore[arg-type]
    if not names.issuperset(changes):
        raise TypeError(f"{cls.__name__} has no field {sorted(set(changes) - names)[0]!r}")
    new = object.__new__(cls)
    d = new.__dict__
    d.update(obj.__dict__)
    d.update(changes)
    return new


# Made by the kernel in every namespace once their module is loaded (ip_gre, ipip, sit, ip6_tunnel, ip6_gre,
# ip_vti, ip6_vti), named and typed so: nobody's lab made them, and `ip link del` leaves them (ip_tunnel_dellink).
FALLBACK_DEVICES = {"gre0": "gre", "gretap0": "gretap", "erspan0": "erspan", "tunl0": "ipip", "sit0": "sit",
                    "ip6tnl0": "ip6tnl", "ip6gre0": "ip6gre", "ip_vti0": "vti", "ip6_vti0": "vti6"}


@dataclass(frozen=True)
class Namespace:
    name: str            # "" is the top namespace ("host")
    nsid: int | None = None


@dataclass(frozen=True)
class Link:
    ns: str
    index: int
    name: str
    kind: str = ""                   # veth, bridge, vxlan, macvlan, "" for physical/loopback
    flags: tuple[str, ...] = ()      # iproute2 flag words: BROADCAST, MULTICAST, UP, LOWER_UP, ...
    mtu: int = 1500
    mac: str = ""
    brd: str = ""
    perm: str = ""                   # IFLA_PERM_ADDRESS when it differs from the address (iproute2's permaddr)
    link_type: str = "ether"         # ether, loopback, none
    operstate: str = "UNKNOWN"       # UP, DOWN, UNKNOWN, LOWERLAYERDOWN
    qdisc: str = "noop"
    master: str | None = None
    master_index: int | None = None
    link_index: int | None = None    # IFLA_LINK: peer ifindex (veth) or lower dev
    link_netnsid: int | None = None
    peer_ns: str | None = None       # resolved name of the peer's namespace, when known
    peer_name: str | None = None
    qlen: int = 1000
    vxlan_id: int | None = None
    vxlan_remote: str | None = None
    vxlan_local: str | None = None
    vxlan_port: int | None = None
    vlan_id: int | None = None
    stats: tuple[int, int, int, int] = (0, 0, 0, 0)  # rx_packets, rx_bytes, tx_packets, tx_bytes
    linkmode: int = 0                # IFLA_LINKMODE: 0 DEFAULT, 1 DORMANT
    group: int = 0                   # IFLA_GROUP (0: "default")
    alias: str | None = None         # IFLA_IFALIAS

    @property
    def up(self) -> bool:
        return "UP" in self.flags

    @property
    def kernel_made(self) -> bool:
        """A tunnel module's fallback device (gre0, tunl0, ...), there in every namespace."""
        return FALLBACK_DEVICES.get(self.name) == self.kind


@dataclass(frozen=True)
class Address:
    ns: str
    index: int
    dev: str
    family: str          # inet | inet6
    local: str
    prefixlen: int
    scope: str = "global"
    broadcast: str | None = None
    label: str | None = None
    flags: tuple[str, ...] = ()   # iproute2's words: dynamic, nodad, tentative, dadfailed, deprecated...

    @property
    def cidr(self) -> str:
        return f"{self.local}/{self.prefixlen}"


@dataclass(frozen=True)
class Route:
    ns: str
    dst: str             # "default" or prefix "10.0.0.0/24" / host "10.0.0.1"
    family: str = "inet"
    table: int = 254
    type: str = "unicast"  # unicast, local, broadcast, blackhole, unreachable, prohibit
    gateway: str | None = None
    dev: str | None = None
    proto: str = "boot"
    scope: str = "global"
    prefsrc: str | None = None
    metric: int | None = None
    flags: tuple[str, ...] = ()   # linkdown, onlink
    pref: str | None = None       # IPv6 router preference: low, medium, high
    nexthops: tuple["Nexthop", ...] = ()   # a multipath route's paths (gateway/dev above are then None)

    @property
    def is_connected(self) -> bool:
        return self.gateway is None and self.type == "unicast" and self.scope == "link"


@dataclass(frozen=True)
class Nexthop:
    """One path of a multipath route (`nexthop via G dev D weight W`)."""
    gateway: str | None = None
    dev: str | None = None
    weight: int = 1
    flags: tuple[str, ...] = ()   # linkdown, onlink, dead


@dataclass(frozen=True)
class Neighbour:
    ns: str
    dst: str
    dev: str
    lladdr: str | None
    state: str           # REACHABLE STALE DELAY PROBE FAILED INCOMPLETE PERMANENT NOARP NONE
    router: bool = False
    family: str = "inet"


@dataclass(frozen=True)
class FdbEntry:
    ns: str
    mac: str
    dev: str
    master: str | None
    vlan: int | None = None
    state: str = ""       # permanent, static, "" (dynamic)
    self_: bool = False
    dst: str | None = None


@dataclass(frozen=True)
class RuleEntry:
    ns: str
    priority: int
    text: str            # "from all lookup main"


@dataclass(frozen=True)
class Rule:
    """One iptables rule, as iptables -S prints it (without the -A CHAIN prefix)."""
    ns: str
    table: str
    chain: str
    spec: str
    packets: int = 0
    bytes: int = 0
    target: str = ""


@dataclass(frozen=True)
class Chain:
    ns: str
    table: str
    name: str
    policy: str | None   # None for user chains
    packets: int = 0
    bytes: int = 0
    rules: tuple[Rule, ...] = ()
    family: str = "ip"   # ip (iptables) | ip6 (ip6tables)

    @property
    def key(self) -> str:
        """"filter INPUT", "ip6 filter INPUT": how diffs and panes name the chain."""
        return f"{'ip6 ' if self.family == 'ip6' else ''}{self.table} {self.name}"


@dataclass(frozen=True)
class Qdisc:
    ns: str
    dev: str
    kind: str
    handle: str
    parent: str          # "root", "ffff:fff1" (ingress), or a class id
    params: str = ""
    sent_bytes: int = 0
    sent_packets: int = 0
    drops: int = 0
    overlimits: int = 0
    requeues: int = 0
    backlog: int = 0
    qlen: int = 0


@dataclass(frozen=True)
class TcClass:
    ns: str
    dev: str
    kind: str
    classid: str         # "1:10"
    parent: str          # "root" or a class/qdisc id ("1:", "1:1")
    leaf: str | None = None   # the qdisc attached to it ("10:"), if any
    params: str = ""     # as tc prints them after parent/leaf ("prio 0 rate 1Mbit ceil 1Mbit burst ...")


@dataclass(frozen=True)
class ConntrackEntry:
    ns: str
    proto: str
    orig: tuple[str, str, int | None, int | None]   # src, dst, sport, dport
    reply: tuple[str, str, int | None, int | None]
    state: str = ""
    mark: int = 0
    timeout: int = 0
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class IpvsDest:
    """A real server of an IPVS virtual service, as `ipvsadm -Ln` lists it."""
    addr: str            # "10.10.0.11:8080", "[2001:db8::20]:8443"
    fwd: str             # Masq, Route, Tunnel, Local
    weight: int
    active: int = 0
    inactive: int = 0


@dataclass(frozen=True)
class IpvsService:
    """An IPVS virtual service: `key` as ipvsadm names it ("TCP  10.0.0.1:80", "FWM  7")."""
    ns: str
    key: str
    sched: str
    flags: str = ""      # "persistent 360 mask 255.255.255.0", "ops"
    dests: tuple[IpvsDest, ...] = ()


@dataclass(frozen=True)
class NsState:
    """Everything the panes show about one namespace."""
    name: str
    links: tuple[Link, ...] = ()
    addresses: tuple[Address, ...] = ()
    routes: tuple[Route, ...] = ()
    neighbours: tuple[Neighbour, ...] = ()
    fdb: tuple[FdbEntry, ...] = ()
    chains: tuple[Chain, ...] = ()
    qdiscs: tuple[Qdisc, ...] = ()
    ipvs: tuple[IpvsService, ...] = ()
    conntrack: tuple[ConntrackEntry, ...] = ()
    sysctls: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Snapshot:
    namespaces: tuple[NsState, ...] = ()

    def ns(self, name: str) -> NsState | None:
        for n in self.namespaces:
            if n.name == name:
                return n
        return None


@dataclass(frozen=True)
class Change:
    ns: str
    kind: str            # "link", "address", "route", "neighbour", "chain", "qdisc", "namespace", ...
    key: str
    what: str            # "added", "removed", "changed"


_KEYS = {
    "links": ("link", lambda o: o.name),
    "addresses": ("address", lambda o: f"{o.dev} {o.cidr}"),
    "routes": ("route", lambda o: f"{o.table} {o.dst} {o.metric} {o.dev}"),   # fe80::/64 is on every link
    "neighbours": ("neighbour", lambda o: f"{o.dev} {o.dst}"),
    "fdb": ("fdb", lambda o: f"{o.dev} {o.mac} {o.dst}"),
    "chains": ("chain", lambda o: o.key),
    "qdiscs": ("qdisc", lambda o: f"{o.dev} {o.handle} {o.parent}"),
    "ipvs": ("ipvs", lambda o: o.key),
}


def diff(old: Snapshot, new: Snapshot) -> list[Change]:
    """What changed between two snapshots, keyed so the UI can highlight exactly those rows."""
    out: list[Change] = []
    old_ns = {n.name: n for n in old.namespaces}
    new_ns = {n.name: n for n in new.namespaces}
    for name in new_ns.keys() - old_ns.keys():
        out.append(Change(name, "namespace", name, "added"))
    for name in old_ns.keys() - new_ns.keys():
        out.append(Change(name, "namespace", name, "removed"))
    for name in new_ns.keys() & old_ns.keys():
        a, b = old_ns[name], new_ns[name]
        for attr, (kind, key) in _KEYS.items():
            ma = {key(o): o for o in getattr(a, attr)}
            mb = {key(o): o for o in getattr(b, attr)}
            for k in mb.keys() - ma.keys():
                out.append(Change(name, kind, k, "added"))
            for k in ma.keys() - mb.keys():
                out.append(Change(name, kind, k, "removed"))
            for k in ma.keys() & mb.keys():
                if ma[k] != mb[k]:
                    out.append(Change(name, kind, k, "changed"))
    return out
