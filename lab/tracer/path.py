"""Rebuild the packet's path from the kernel's trace events and explain every step.

Events are grouped into chain evaluations (each base-chain run starts with an event carrying the
headers), evaluations into packets (by IP id: it survives forwarding and NAT; replies and ICMP errors
get their own), and each packet's evaluations are ordered from the data: start where the packet was
generated (an OUTPUT evaluation), order hooks inside a namespace by netfilter's flow (with the bridge
hooks and br_netfilter's nesting), and go to the next namespace by following the egress device to its
veth peer (or bridge port). Then what netfilter does not say is asked from the kernel: the routing
decision (RTM_GETROUTE, fib match), the neighbour entry, the bridge fdb, the qdisc, sysctls, and
iptables-legacy tables that the trace cannot see.

Emits lab.model.trace objects only. Leaves to others: capturing (session.py), drawing (lab.ui, fmt.py).
"""
from __future__ import annotations

import errno
import os
import socket
import struct
from dataclasses import dataclass, field, replace

from lab.backend import nsutil
from lab.model.trace import Hop, Packet, TracePath
from lab.render import table_name
from lab.tracer import nfnl as N
from lab.tracer.rules import ENCAP_PORTS, GUARD, OWN_CHAINS, TABLE as OWN_TABLE
from lab.tracer.ruletext import RuleBook, target_of
from lab.tracer.session import Capture, state_of

PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp"}
ICMP_TYPES: dict[int | None, str] = {0: "echo-reply", 3: "destination-unreachable", 5: "redirect", 8: "echo-request",
              11: "time-exceeded", 12: "parameter-problem"}
UNREACH_CODES = {0: "net-unreachable", 1: "host-unreachable", 2: "protocol-unreachable", 3: "port-unreachable",
                 4: "fragmentation-needed", 9: "net-prohibited", 10: "host-prohibited", 13: "admin-prohibited"}
ICMP_ERRORS = (3, 5, 11, 12)
OWN_HOOK = {("ip", "mark_pre"): ("prerouting", -350), ("ip", "mark_out"): ("output", -350),
            ("ip", "ct_pre"): ("prerouting", -199), ("ip", "ct_out"): ("output", -199),
            ("ip", "obs_pre"): ("prerouting", -99), ("ip", "obs_in"): ("input", 500),
            ("ip", "obs_fwd"): ("forward", 500), ("ip", "obs_out"): ("output", 500),
            ("ip", "obs_post"): ("postrouting", 500), ("bridge", "mark_pre"): ("prerouting", -350),
            ("bridge", "obs_in"): ("input", 500), ("bridge", "obs_fwd"): ("forward", 500),
            ("bridge", "obs_post"): ("postrouting", 500)}
# what a route of each special type does to a packet, in the kernel's words (errno) and in plain ones
ROUTE_REASONS = {
    "blackhole": (errno.EINVAL, "is a blackhole", "the packet is discarded silently, nothing goes back"),
    "unreachable": (errno.EHOSTUNREACH, "is unreachable", "the packet is dropped and ICMP host-unreachable goes back"),
    "prohibit": (errno.EACCES, "is prohibited", "the packet is dropped and ICMP host-prohibited goes back"),
    "throw": (errno.ENETUNREACH, "throws the lookup out of this table and no other rule's table has a route",
              "the packet is dropped and ICMP net-unreachable goes back"),
}
CT_PRIO = -200                       # NF_IP_PRI_CONNTRACK: conntrack has seen the packet after this priority
# the first packet of a connection, by its TCP flags (PSH ignored), as conntrack's tcp_conntracks table reads
# it from state NONE (net/netfilter/nf_conntrack_proto_tcp.c) and tcp_valid_flags
TCP_INVALID_WHY = {frozenset(k): v for k, v in {
    "SF": "SYN with FIN is not a valid TCP flag combination",
    "SR": "SYN with RST is not a valid TCP flag combination",
    "SA": "a SYN-ACK that answers no SYN conntrack has seen",
    "F": "a FIN without ACK is not a valid TCP flag combination",
    "AF": "a FIN for a connection conntrack does not know",
    "R": "an RST for a connection conntrack does not know",
    "AR": "an RST for a connection conntrack does not know",
    "A": "an ACK for a connection conntrack does not know, and net.netfilter.nf_conntrack_tcp_loose is 0 "
         "(it does not pick up connections in the middle)",
}.items()}
NAT_TARGETS = {"DNAT": "dnat", "SNAT": "snat", "MASQUERADE": "masquerade", "REDIRECT": "redirect",
               "NETMAP": "netmap"}
TCP_FLAG_ORDER = [(0x02, "S"), (0x10, "A"), (0x01, "F"), (0x04, "R"), (0x08, "P"), (0x20, "U")]


# ---- headers -------------------------------------------------------------------------------------------
@dataclass
class Headers:
    pkt: Packet
    inner_id: int | None = None       # IP id quoted inside an ICMP error
    vni: int | None = None            # a VXLAN datagram (to one of the tracer's ENCAP_PORTS): its VNI
    inner: Packet | None = None
    icmp_code: int | None = None
    icmp_echo: tuple[int, int] | None = None
    ack: int | None = None


def tcp_flags(b: int) -> str:
    return "".join(n for bit, n in TCP_FLAG_ORDER if b & bit)


def parse_headers(nh: bytes, th: bytes | None) -> Headers:
    ihl = (nh[0] & 0x0F) * 4 if nh else 20
    ip_id, = struct.unpack_from(">H", nh, 4)
    ttl, proto = nh[8], nh[9]
    src, dst = socket.inet_ntoa(nh[12:16]), socket.inet_ntoa(nh[16:20])
    th = th or b""
    name = PROTO_NAMES.get(proto, str(proto))
    h = Headers(Packet(src, dst, name, ttl=ttl, ip_id=ip_id))
    if proto in (6, 17) and len(th) >= 4:
        sp, dp = struct.unpack_from(">HH", th, 0)
        flags = tcp_flags(th[13]) if proto == 6 and len(th) >= 14 else ""
        if proto == 6 and len(th) >= 12:
            h.ack = struct.unpack_from(">I", th, 8)[0]
        h.pkt = replace(h.pkt, sport=sp, dport=dp, flags=flags)
        if proto == 17 and dp in ENCAP_PORTS and len(th) >= 16 and th[8] & 0x08:
            h.vni = int.from_bytes(th[12:15], "big")
    elif proto == 1 and len(th) >= 2:
        h.pkt = replace(h.pkt, icmp_type=th[0])
        h.icmp_code = th[1]
        if th[0] in (0, 8) and len(th) >= 8:
            h.icmp_echo = struct.unpack_from(">HH", th, 4)
        if th[0] in ICMP_ERRORS and len(th) >= 28:
            inner = th[8:]
            h.inner_id = struct.unpack_from(">H", inner, 4)[0]
            try:
                ih = parse_headers(inner, inner[(inner[0] & 0x0F) * 4:])
                h.inner = ih.pkt
            except (struct.error, IndexError, OSError):
                pass
    del ihl
    return h


# ---- evaluations ---------------------------------------------------------------------------------------
@dataclass
class Eval:
    ns: str
    family: str
    table: str
    chain: str
    hook: str
    prio: int
    hdr: Headers
    raw: bytes
    ll: bytes | None
    iif: int | None
    oif: int | None
    ct_state: str
    ct_dir: int | None
    order: int
    events: list = field(default_factory=list)

    @property
    def own(self) -> bool:
        return self.table == OWN_TABLE and self.chain in OWN_CHAINS

    @property
    def pkt(self) -> Packet:
        return self.hdr.pkt

    def final(self) -> tuple[str, N.TraceEvent | None]:
        """The evaluation's outcome: accept/drop/queue/stolen (with the event that decided it)."""
        for ev in self.events:
            if ev.type == "rule" and ev.verdict in ("accept", "drop", "queue", "stolen"):
                return ev.verdict, ev
            if ev.type == "policy":
                return {0: "drop", 1: "accept"}.get(ev.policy if ev.policy is not None else 1, "accept"), ev
        return "accept", None


def kernel_reports_ct() -> bool:
    """Whether this kernel's trace events carry conntrack state (Linux 6.3 and later)."""
    import re as _re

    m = _re.match(r"(\d+)\.(\d+)", os.uname().release)
    return m is not None and (int(m.group(1)), int(m.group(2))) >= (6, 3)


def group_evals(cap: Capture, hooks_of) -> list[Eval]:
    evals: list[Eval] = []
    current: dict[tuple, Eval] = {}
    # older kernels (Debian 12's 6.1, seen in tests/vm) put no conntrack data in trace events at all
    # (NFTA_TRACE_CT_*, added in 6.3): there a missing state says nothing, and nothing is called INVALID
    reports_ct = kernel_reports_ct() or any(ev.ct_state is not None for ev in cap.events)
    for ev in cap.events:
        ns = cap.nsid_names.get(ev.nsid)
        if ns is None:
            continue                                   # a namespace outside the lab
        key = (ev.nsid, ev.family, ev.trace_id)
        if ev.nh:
            try:
                hdr = parse_headers(ev.nh, ev.th)
            except (struct.error, IndexError, OSError):
                continue
            hook, prio = hooks_of(ns, ev.family, ev.table, ev.chain)
            ct = ev.ct_state_name
            if not ct and reports_ct and ev.family == "ip" and (prio > CT_PRIO or hook in ("input", "forward",
                                                                                             "postrouting")):
                ct = "invalid"     # after conntrack, the kernel sends no ct data only for a packet it found INVALID
            e = Eval(ns, ev.family, ev.table, ev.chain, hook, prio, hdr, ev.nh + (ev.th or b""), ev.ll,
                     ev.iif, ev.oif, ct, ev.ct_dir, ev.seq, [ev])
            evals.append(e)
            current[key] = e
        elif key in current:
            current[key].events.append(ev)
    return evals


# ---- kernel lookups ------------------------------------------------------------------------------------
@dataclass
class LinkInfo:
    index: int
    name: str
    kind: str
    master: int | None
    peer: int | None
    up: bool
    carrier: bool
    qdisc: str
    mtu: int | None = None
    hairpin: bool = False           # a bridge port's hairpin mode (IFLA_BRPORT_MODE)


class Kernel:
    """Cached, per-trace lookups into the lab's namespaces."""

    def __init__(self, backend):
        self.b = backend
        self.st = state_of(backend)
        self._links: dict[tuple[str, int], LinkInfo | None] = {}
        self._chains: dict[str, list[N.ChainInfo]] = {}
        self._legacy: dict[str, list[str]] = {}
        self._ipvs: dict[str, tuple | None] = {}
        self.rules = RuleBook(backend, self.st, self._chains)

    def link(self, ns: str, idx: int | None) -> LinkInfo | None:
        """One link by index (a targeted RTM_GETLINK: dumping a 100-port bridge namespace costs more)."""
        if idx is None:
            return None
        key = (ns, idx)
        if key not in self._links:
            li = None
            try:
                m = self.b.rtnl(ns or None).link_brief(idx)
            except Exception:  # noqa: BLE001  (the namespace is gone)
                m = None
            if m is not None:
                li = LinkInfo(m["index"], m["name"], m["kind"], m["master"], m["link"], bool(m["flags"] & 1),
                              bool(m["flags"] & 0x10000), m["qdisc"], m["mtu"], m["hairpin"])
            self._links[key] = li
        return self._links[key]

    def ifname(self, ns: str, idx: int | None) -> str:
        if idx is None:
            return ""
        li = self.link(ns, idx)
        return li.name if li else f"if{idx}"

    def chains(self, ns: str) -> list[N.ChainInfo]:
        if ns not in self._chains:
            try:
                self._chains[ns] = N.dump_chains(self.st.sock(ns))
            except OSError:
                self._chains[ns] = []
        return self._chains[ns]

    def hook_of(self, ns: str, family: str, table: str, chain: str) -> tuple[str, int]:
        if table == OWN_TABLE and (family, chain) in OWN_HOOK:
            return OWN_HOOK[(family, chain)]
        for c in self.chains(ns):
            if c.family == family and c.table == table and c.name == chain and c.hook:
                return c.hook, c.prio
        return "", 0

    def route(self, ns: str, dst: str, src: str | None = None, iif: int | None = None, mark: int = 0,
              tos: int = 0):
        """(info dict, None) or (None, errno) for the kernel's routing decision, asked with everything that
        decides it (source and input interface for a forwarded packet, its mark and tos): the table that
        answered (RTM_F_LOOKUP_TABLE) and the route that matched (RTM_F_FIB_MATCH) come back."""
        from lab.backend.rtnl import RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_PREFSRC

        rt = self.b.rtnl(ns or None)
        kw: dict = {"mark": mark, "tos": tos}
        if iif is not None:
            kw.update(iif=iif, src=src)
        else:
            kw["uid"] = os.getuid()     # the probe's raw socket belongs to this process (ip rule uidrange)
        try:
            r = rt.route_get(dst, **kw)
        except Exception as e:  # noqa: BLE001
            return None, getattr(e, "code", None) or errno.EHOSTUNREACH
        info: dict = {"type": r.type, "oif": r.u32(RTA_OIF), "gateway": r.addr(RTA_GATEWAY),
                      "prefsrc": r.addr(RTA_PREFSRC), "table": r.table_id, "mark": mark}
        try:
            f = rt.route_get(dst, fib_match=True, **kw)
            d = f.addr(RTA_DST)
            info["prefix"] = f"{d}/{f.dst_len}" if d else "default"
            info["proto"] = f.proto
            info["scope"] = f.scope
        except Exception:  # noqa: BLE001
            pass
        return info, None

    def special_route(self, ns: str, dst: str):
        """The most specific blackhole/unreachable/prohibit/throw route covering dst in any table, as
        (type, prefix, table), or None: what a routing error (EINVAL, EHOSTUNREACH, EACCES...) came from."""
        import ipaddress

        best = None
        try:
            routes = self.b.rtnl(ns or None).routes(ns or None, {})
        except Exception:  # noqa: BLE001
            return None
        addr = ipaddress.ip_address(dst)
        for r in routes:
            if r.family != "inet":
                continue
            net = ipaddress.ip_network("0.0.0.0/0" if r.dst == "default" else r.dst, strict=False)
            if addr in net and (best is None or net.prefixlen > best[0].prefixlen):
                best = (net, r)
        if best is None or best[1].type not in ROUTE_REASONS:
            return None
        r = best[1]
        return r.type, r.dst, r.table

    def listening(self, ns: str, port: int | None) -> bool:
        """A TCP socket listens on `port` in ns (the kernel's own table, /proc/net/tcp and tcp6)."""
        if port is None:
            return False
        try:
            with nsutil.in_netns(ns or None):
                rows = []
                for f in ("/proc/net/tcp", "/proc/net/tcp6"):
                    with open(f) as fh:
                        rows += fh.read().splitlines()[1:]
        except OSError:
            return False
        return any(r.split()[1].rsplit(":", 1)[1] == f"{port:04X}" and r.split()[3] == "0A" for r in rows if r.strip())

    def mtu(self, ns: str, idx: int | None) -> int | None:
        li = self.link(ns, idx)
        return li.mtu if li else None

    def neighbour(self, ns: str, addr: str, ifindex: int | None):
        from lab.backend.state import nud_name

        try:
            rt = self.b.rtnl(ns or None)
            if ifindex is not None:
                got = rt.neigh_get(addr, ifindex)
                return (nud_name(got[0]), got[1]) if got else (None, None)
            for n in rt.neighbours(ns or None, {}):
                if n.dst == addr:
                    return n.state, n.lladdr
        except Exception:  # noqa: BLE001  (the namespace is gone)
            pass
        return None, None

    def fdb(self, ns: str, bridge: int | None, mac: str) -> tuple[str, str] | None:
        """(port name, how) of the fdb entry for mac on bridge (a targeted `bridge fdb get`), or None."""
        if bridge is None:
            return None
        try:
            got = self.b.rtnl(ns or None).fdb_get(mac, bridge)
        except Exception:  # noqa: BLE001  (the namespace is gone)
            got = None
        if got is None:        # ENOENT: unknown MAC, the bridge floods
            return None
        port, state = got
        how = "the port's own address" if state & 0x80 else ("static" if state & 0x40 else "learned")
        return self.ifname(ns, port), how

    def ipvs(self, ns: str):
        """The namespace's IPVS services and connection table (the kernel's /proc text), or None without ip_vs."""
        if ns not in self._ipvs:
            from lab.backend.ipvsadm import read_proc

            self._ipvs[ns] = read_proc(ns or None)
        return self._ipvs[ns]

    def sysctl(self, ns: str, key: str) -> str | None:
        try:
            return self.b.sysctl_get(ns or None, key)
        except OSError:
            return None

    def legacy_tables(self, ns: str) -> list[str]:
        """iptables-legacy (x_tables) tables that exist in ns: their rules are invisible to nft trace."""
        if ns not in self._legacy:
            names: list[str] = []
            try:
                with nsutil.in_netns(ns or None):
                    with open("/proc/thread-self/net/ip_tables_names") as f:
                        names = [ln.strip() for ln in f if ln.strip()]
            except OSError:
                pass
            self._legacy[ns] = names
        return self._legacy[ns]


# ---- ordering ------------------------------------------------------------------------------------------
def stage_key(e: Eval, bridged: bool, resent: int | None = None) -> tuple:
    if e.family == "bridge":
        s = {"prerouting": 10, "input": 20, "forward": 20, "output": 29, "postrouting": 30}.get(e.hook, 40)
    elif e.hook == "output" and resent is not None and e.order >= resent:
        s = 25                  # IPVS's re-send: OUTPUT again after INPUT (or after the first OUTPUT)
    else:
        s = {"output": 0, "prerouting": 11, "input": 21, "forward": 19 if bridged else 21,
             "postrouting": 31 if bridged else 28}.get(e.hook, 40)
    return (s, e.prio, e.order)


def resent_at(evs: list[Eval]) -> int | None:
    """Where (event order) the packet enters IP OUTPUT a second time in one visit: after PREROUTING (IPVS took
    it in INPUT and sent it on to a real server) or after an OUTPUT pass of its own (IPVS took a local
    client's packet in OUTPUT). Nothing else in the kernel sends the same packet through OUTPUT again."""
    seen: set[tuple[str, str]] = set()
    pre = False
    for e in sorted(evs, key=lambda x: x.order):
        if e.family != "ip":
            continue
        if e.hook == "prerouting":
            pre = True
        elif e.hook == "output":
            if pre or (e.table, e.chain) in seen:
                return e.order
            seen.add((e.table, e.chain))
    return None


def visit_order(evs: list[Eval]) -> list[Eval]:
    """One visit's evaluations in the kernel's processing order."""
    br, rs = is_bridged(evs), resent_at(evs)
    return sorted(evs, key=lambda e: stage_key(e, br, rs))


def is_bridged(evs: list[Eval]) -> bool:
    return any(e.family == "bridge" and e.hook in ("forward",) for e in evs)


def split_visits(evs: list[Eval]) -> list[list[Eval]]:
    """One namespace's evaluations of a packet, cut into visits (in the kernel's processing order): a visit
    ends where the packet leaves (POSTROUTING with an output device) or is delivered (INPUT); an entry hook
    after that starts the next visit (a hairpin through the host and back, a packet that comes home)."""
    out: list[list[Eval]] = []
    cur: list[Eval] = []
    ended = False
    for e in sorted(evs, key=lambda x: x.order):
        starts = (e.hook == "prerouting") or (e.family == "ip" and e.hook == "output")
        if ended and starts and cur:
            out.append(cur)
            cur, ended = [], False
        cur.append(e)
        # delivered means past lab's own INPUT observer (priority 500): a packet IPVS takes in INPUT before it
        # (priority 98-99) is sent on from there through OUTPUT, in the same visit
        if (e.hook == "postrouting" and e.oif) or (e.family == "ip" and e.hook == "input" and e.own):
            ended = True
    if cur:
        out.append(cur)
    return out


def walk(evals: list[Eval], k: Kernel, encaps: list[list[Eval]] | None = None) -> list[tuple[str, list[Eval]]]:
    """Order one packet's evaluations into namespace visits, following devices, not arrival. A namespace
    the packet crosses twice (hairpin NAT) appears twice. Where it enters a VXLAN device, the outer datagram
    that carried it (taken from `encaps`) comes next, then the inner packet where it comes out of the tunnel."""
    segs: dict[str, list[list[Eval]]] = {}
    by_ns: dict[str, list[Eval]] = {}
    for e in evals:
        by_ns.setdefault(e.ns, []).append(e)
    for ns, evs in by_ns.items():
        segs[ns] = split_visits(evs)
    gen = [e for e in evals if e.family == "ip" and e.hook == "output"]
    if gen:
        first = max(gen, key=lambda e: (e.pkt.ttl or 0, -e.order))
    else:
        first = max(evals, key=lambda e: (e.pkt.ttl or 0, -e.order))
    cur: tuple[str, int] | None = (first.ns, next(i for i, sg in enumerate(segs[first.ns]) if first in sg))
    visits: list[tuple[str, list[Eval]]] = []
    used: set[tuple[str, int]] = set()
    while cur is not None and cur not in used:
        used.add(cur)
        ns, i = cur
        evs = visit_order(segs[ns][i])
        visits.append((ns, evs))
        cur = next_visit(ns, evs, segs, used, k)
        if cur is None and encaps:
            cur = through_tunnel(ns, evs, segs, used, k, encaps, visits)
    rest = [(ns, i) for ns, sg in segs.items() for i in range(len(sg)) if (ns, i) not in used]
    rest.sort(key=lambda key: (-max(e.pkt.ttl or 0 for e in segs[key[0]][key[1]]),
                               min(e.order for e in segs[key[0]][key[1]])))
    for ns, i in rest:
        visits.append((ns, visit_order(segs[ns][i])))
    return visits


def through_tunnel(ns: str, evs: list[Eval], segs: dict[str, list[list[Eval]]], used: set[tuple[str, int]], k: Kernel,
                   encaps: list[list[Eval]], visits: list) -> tuple[str, int] | None:
    """The packet left `ns` through a VXLAN device: append the visits of the outer datagram that carried it
    (the first one after it, from that namespace) and return the inner packet's visit at the far end."""
    ex = exit_eval(evs)
    li = k.link(ns, ex.oif) if ex is not None else None
    if ex is None or li is None or li.kind != "vxlan":
        return None
    outer = next((es for es in encaps if min(x.order for x in es) > ex.order and any(x.ns == ns for x in es)), None)
    if outer is None:
        return None
    encaps.remove(outer)
    ov = walk(outer, k)
    visits += ov
    last_order = max(x.order for x in outer)
    cands = []
    for ns2, sg in segs.items():
        for i, nevs in enumerate(sg):
            if (ns2, i) in used:
                continue
            pre = [e for e in nevs if e.hook == "prerouting" and e.iif is not None]
            inl = k.link(ns2, pre[0].iif) if pre else None
            if inl is not None and inl.kind == "vxlan" and min(e.order for e in nevs) > last_order:
                cands.append((ns2 != ov[-1][0], min(e.order for e in nevs), ns2, i))
    if not cands:
        return None
    _other, _order, ns2, i = min(cands)
    return ns2, i


def exit_eval(evs: list[Eval]) -> Eval | None:
    outs = [e for e in evs if e.oif and e.hook == "postrouting"]
    brs = [e for e in outs if e.family == "bridge"]
    last = brs or outs
    return last[-1] if last else None


def next_visit(cur: str, evs: list[Eval], segs: dict[str, list[list[Eval]]], used: set[tuple[str, int]],
               k: Kernel) -> tuple[str, int] | None:
    """The visit the packet makes next: the earliest unused visit of the namespace at the other end of the
    veth it left through (directly, or through a bridge port there)."""
    ex = exit_eval(evs)
    if ex is None:
        return None
    li = k.link(cur, ex.oif)
    if li is None or li.peer is None or li.kind != "veth":
        return None
    cands = []
    for ns, sg in segs.items():
        for i, nevs in enumerate(sg):
            if (ns, i) in used:
                continue
            for e in nevs:
                if e.hook != "prerouting" or e.iif is None:
                    continue
                inl = k.link(ns, e.iif)
                if inl is None:
                    continue
                if e.iif == li.peer and inl.peer == ex.oif:
                    cands.append((0, min(x.order for x in nevs), ns, i))
                elif inl.kind == "bridge":
                    port = k.link(ns, li.peer)
                    if port is not None and port.master == e.iif and port.peer == ex.oif:
                        cands.append((1, min(x.order for x in nevs), ns, i))
    if not cands:
        return None
    _rank, _order, ns, i = min(cands)
    return ns, i


# ---- building the path ---------------------------------------------------------------------------------
def nsname(ns: str) -> str:
    return ns or "host"


def describe(p: Packet, hdr: Headers | None = None) -> str:
    if p.proto == "icmp":
        t = ICMP_TYPES.get(p.icmp_type, f"type {p.icmp_type}")
        if hdr and p.icmp_type == 3 and hdr.icmp_code is not None:
            t += f" ({UNREACH_CODES.get(hdr.icmp_code, f'code {hdr.icmp_code}')})"
        return f"ICMP {t} {p.src} -> {p.dst}"
    fl = f" [{p.flags}]" if p.flags else ""
    return f"{p.proto.upper()}{fl} {p.endpoint('src')} -> {p.endpoint('dst')}"


def addr_change(a: Packet, b: Packet) -> str:
    parts = []
    if (a.src, a.sport) != (b.src, b.sport):
        parts.append(f"source {a.endpoint('src')} -> {b.endpoint('src')}")
    if (a.dst, a.dport) != (b.dst, b.dport):
        parts.append(f"destination {a.endpoint('dst')} -> {b.endpoint('dst')}")
    return " and ".join(parts)


def same_addrs(a: Packet, b: Packet) -> bool:
    return (a.src, a.dst, a.sport, a.dport) == (b.src, b.dst, b.sport, b.dport)


def hook_label(e: Eval) -> str:
    return e.hook if e.family != "bridge" else f"bridge-{e.hook}"


ROUTE_ERR = {errno.ENETUNREACH: "no route", errno.EHOSTUNREACH: "unreachable", errno.EXDEV: "rp_filter",
             errno.EINVAL: "invalid", errno.ENODEV: "no device"}


class Builder:
    def __init__(self, cap: Capture, backend):
        self.cap = cap
        self.k = Kernel(backend)
        self.spec = cap.spec
        self.hops: list[Hop] = []
        self.warnings: list[str] = list(cap.warnings)
        self.routes: dict[tuple, dict] = {}     # (ns, probe, direction) -> the routing decision shown for it
        self.encaps: list[list[Eval]] = []       # VXLAN datagrams not yet placed on a path
        self.now_t = 0.0                          # receive time of the evaluation being described

    # -- helpers
    def add(self, **kw) -> Hop:
        if self.now_t and "t_ms" not in kw:
            kw["t_ms"] = round(max(0.0, self.now_t - self.cap.t_send) * 1000, 3)
        h = Hop(**kw)
        self.hops.append(h)
        return h

    def route_text(self, ns: str, info: dict, dst: str) -> str:
        via = f" via {info['gateway']}" if info.get("gateway") else ""
        dev = self.k.ifname(ns, info.get("oif"))
        table = info.get("table")
        tname = table_name(table) if table is not None else "main"
        prefix = info.get("prefix", dst)
        return f"{prefix}{via} dev {dev} (table {tname})"

    # -- main
    def build(self) -> TracePath:
        cap = self.cap
        evals = group_evals(cap, self.k.hook_of)
        ids = {p.ip_id: p for p in cap.probes}
        pnum = {"icmp": "icmp", "tcp": "tcp", "udp": "udp"}[self.spec.proto]
        # one packet = one IP id, and what no hop changes: its protocol, TCP flags, ICMP type (the kernel's own
        # answers often carry id 0: a SYN-ACK and the RST that answers it must not read as one packet)
        groups: dict[tuple, list[Eval]] = {}
        for e in evals:
            groups.setdefault(packet_key(e.pkt), []).append(e)
        # VXLAN datagrams carrying the probe or its answers: walked where the inner packet enters a tunnel
        encaps = sorted((es for es in groups.values() if es[0].hdr.vni is not None), key=lambda es: min(x.order for x in es))
        self.encaps = encaps
        outcomes = []
        for probe in cap.probes:
            g = [e for e in evals if e.pkt.ip_id == probe.ip_id and e.pkt.proto == pnum]
            others = {k: es for k, es in groups.items() if k[0] not in ids and es[0].hdr.vni is None}
            outcomes.append(self.probe_path(probe, g, others))
        legacy = {ns: self.k.legacy_tables(ns) for ns in cap.namespaces}
        for ns, t in legacy.items():
            if t:
                self.warnings.append(f"iptables-legacy tables ({', '.join(t)}) exist in {nsname(ns)}: "
                                     "the trace cannot see their rules.")
        if cap.overrun:
            self.warnings.append("Some trace events were lost (socket buffer overrun): the path may be incomplete.")
        outcome, summary, reply = outcomes[0]
        if len(outcomes) > 1:
            counts: dict[str, int] = {}
            for o, _, _ in outcomes:
                counts[o] = counts.get(o, 0) + 1
            summary += f" ({len(outcomes)} probes: " + ", ".join(f"{n} {o}" for o, n in counts.items()) + ")"
        return TracePath(spec=self.spec.text(), hops=tuple(self.hops), outcome=outcome, summary=summary,
                         reply=reply, warnings=tuple(self.warnings),
                         timings=tuple((k, round(v * 1000, 3)) for k, v in cap.timings.items()))

    def send_refused(self, ns: str, p: Packet, info: dict | None, err: int | None, sent: OSError | None):
        """Why the sender's kernel refused the probe (sendto failed, no trace event): (step, summary)."""
        code = (sent.errno if sent is not None else None) or err
        said = f"{sent.strerror}" if sent is not None and sent.strerror else os.strerror(code or errno.EHOSTUNREACH)
        size = self.spec.size or len(self.cap.probes[0].data)
        if code == errno.EMSGSIZE:
            dev = self.k.ifname(ns, (info or {}).get("oif"))
            mtu = self.k.mtu(ns, (info or {}).get("oif"))
            why = (f"the packet is {size} bytes, more than the MTU of {dev} ({mtu}); a raw socket does not fragment, "
                   "so the kernel refuses to send it")
            return f"{nsname(ns)}: {why} ({said}).", f"{nsname(ns)} cannot send it: too big for {dev} ({said})."
        special = self.k.special_route(ns, p.dst)
        if special is not None and ROUTE_REASONS[special[0]][0] == code:
            kind, prefix, table = special
            tname = table_name(table)
            return (f"{nsname(ns)} looks up {p.dst}: route {kind} {prefix} (table {tname}) {ROUTE_REASONS[kind][1]}"
                    f": the kernel refuses to send it ({said}).",
                    f"{nsname(ns)} cannot send to {p.dst}: route {kind} {prefix} ({said}).")
        if code in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return (f"{nsname(ns)} has no route to {p.dst}: the kernel refuses to send it ({said}).",
                    f"{nsname(ns)} cannot send to {p.dst}: no route ({said}).")
        return (f"{nsname(ns)}: the kernel refuses to send it ({said}).",
                f"{nsname(ns)} cannot send to {p.dst}: {said}.")

    def probe_path(self, probe, g: list[Eval], others: dict[tuple, list[Eval]]) -> tuple[str, str, bool]:
        start = len(self.hops)
        outcome, summary, reply = self._probe_path(probe, g, others)
        for h in self.hops[start:]:
            if h.table == "ipvs" and h.direction == "request" and " -> " in h.rule:
                svc, rs = h.rule.split(" -> ", 1)
                summary += (f" IPVS in {nsname(h.ns)} gave the connection to real server {rs} (virtual service {svc}, "
                            f"{h.verdict.removeprefix('ipvs ')}).")
        return outcome, summary, reply

    def _probe_path(self, probe, g: list[Eval], others: dict[tuple, list[Eval]]) -> tuple[str, str, bool]:
        spec, src_ns = self.spec, self.spec.ns or ""
        first = Packet(probe.src, probe.dst, spec.proto, probe.sport, spec.dport,
                       spec.flags if spec.proto == "tcp" else "",
                       spec.icmp_type if spec.proto == "icmp" else None, spec.ttl, probe.ip_id)
        pi = probe.index
        self.now_t = self.cap.t_send
        self.add(ns=src_ns, kind="send", before=first, after=first, probe=pi, raw=probe.data[:60],
                 explanation=f"{nsname(src_ns)} sends {describe(first)} (IP id {probe.ip_id}, ttl {spec.ttl}) "
                             "through a raw socket.")
        if not g:
            info, err = self.k.route(src_ns, spec.dst)
            sent = self.cap.send_error
            if err or sent:
                expl, summary = self.send_refused(src_ns, first, info, err, sent)
                self.add(ns=src_ns, kind="drop", verdict="drop", before=first, probe=pi, explanation=expl)
                return "dropped", summary, False
            self.add(ns=src_ns, kind="drop", verdict="drop", before=first, probe=pi,
                     explanation="No trace event at all: the trace rules could not see the packet"
                                 + self.legacy_hint(src_ns) + ".")
            return "lost", "The packet vanished before the first hook the trace can see.", False
        visits = walk(g, self.k, self.encaps)
        request_end = self.emit_visits(visits, "request", pi, origin=src_ns)
        # replies and ICMP errors caused by this probe
        replies = self.replies_for(probe, others)
        answered = False
        reply_desc = ""
        reply_flags = ""
        reply_port = spec.dport
        rejected_by = None
        for rg in replies:
            rv = walk(rg, self.k, self.encaps)
            r_origin = rv[0][0]
            first_e = rv[0][1][0]
            kind = describe(first_e.pkt, first_e.hdr)
            # the sender's own kernel answering what came back (a RST, an ICMP error) sends in the original
            # direction of the probe's connection; the destination's answer goes in the reply direction
            ctdir = next((x.ct_dir for x in rv[0][1] if x.ct_dir is not None), None)
            own = (ctdir == 0 and r_origin == src_ns) if ctdir is not None else (
                first_e.pkt.src == probe.src and first_e.ns == src_ns)
            if own:
                self.add(ns=r_origin, kind="note", direction="reply", probe=pi, before=first_e.pkt,
                         raw=first_e.raw, explanation=f"{nsname(r_origin)}'s own kernel then sends {kind}: "
                                                      "no socket owns the raw probe's connection (this is expected).")
                continue
            self.add(ns=r_origin, kind="send", direction="reply", probe=pi, before=first_e.pkt, after=first_e.pkt,
                     raw=first_e.raw, explanation=f"{nsname(r_origin)} answers with {kind}.")
            end = self.emit_visits(rv, "reply", pi, origin=r_origin)
            if end == ("deliver", src_ns):
                answered = True
                # what the sender received (after the reverse NAT on the way), and how it was sent
                got = next((h.before for h in reversed(self.hops) if h.kind == "deliver" and h.direction == "reply"
                            and h.probe == pi), None)
                seen = describe(got) if got is not None else kind
                reply_desc = seen if seen == kind else f"{seen} ({nsname(r_origin)} sent it as {kind})"
                reply_flags = first_e.pkt.flags
                reply_port = first_e.pkt.sport
                if first_e.pkt.proto == "icmp" and first_e.pkt.icmp_type in ICMP_ERRORS:
                    rejected_by = r_origin
        drop = request_end
        if drop[0] == "deliver":
            dest = drop[1]
            if answered:
                tail = ""
                fe = reply_desc
                if "R" in reply_flags and "S" not in spec.flags:
                    listens = self.k.listening(dest, spec.dport)
                    tail = (f": {nsname(dest)} has no connection this {spec.flags} segment belongs to, so its kernel "
                            "answers RST" + (f" (a socket does listen on port {spec.dport}: only a SYN opens a "
                                             "connection)" if listens else ""))
                elif "R" in reply_flags:
                    tail = f": nothing listens on port {reply_port}"
                elif "port-unreachable" in fe:
                    tail = f": nothing listens on UDP port {spec.dport}"
                return "answered", f"Delivered to {nsname(dest)}, which answered with {fe}{tail}.", True
            return "delivered", f"Delivered to {nsname(dest)}; no answer came back to {nsname(src_ns)}.", False
        hop = drop[2] if len(drop) > 2 else None
        back = f"; {reply_desc} went back to {nsname(src_ns)}" if answered else ""
        if hop is not None and hop.rule == "lab's guard":
            return "stopped", (f"Stopped in {nsname(drop[1])} by lab's guard before it left the machine through "
                               f"{hop.oif}: with --host the tracer sends nothing off the machine{back}."), answered
        if hop is not None and hop.rule:
            by = f"by {hop.table}/{hop.chain} " + (f"rule `{hop.rule}`" if not hop.rule.startswith("policy")
                                                   else hop.rule)
        else:
            by = ""
        if drop[0] == "reject":
            return "rejected", f"Rejected in {nsname(drop[1])} {by}{back}.", answered
        if drop[0] == "drop":
            out = "rejected" if answered and rejected_by else "dropped"
            if by:
                return out, f"Dropped in {nsname(drop[1])} {by}{back}.", answered
            return out, f"Dropped in {nsname(drop[1])}: {hop.explanation if hop else ''}{back}", answered
        return "lost", f"Lost after {nsname(drop[1])}: {hop.explanation if hop else ''}", answered

    def replies_for(self, probe, others: dict[tuple, list[Eval]]) -> list[list[Eval]]:
        """Packets caused by this probe: the answer, ICMP errors quoting it, the sender's own RST."""
        out = []
        for _id, es in others.items():
            e = min(es, key=lambda x: x.order)
            h = e.hdr
            if h.inner_id is not None:
                if h.inner_id == probe.ip_id:
                    out.append(es)
                continue
            if self.spec.count > 1:
                if h.icmp_echo and probe.seq is not None and h.icmp_echo[1] != probe.seq:
                    continue
                if h.ack is not None and probe.seq is not None and self.spec.proto == "tcp" \
                        and h.ack != (probe.seq + 1) & 0xFFFFFFFF and e.ct_dir == 1:
                    continue
            out.append(es)
        out.sort(key=lambda es: min(x.order for x in es))
        return out

    # -- visits
    def emit_visits(self, visits, direction: str, pi: int, origin: str) -> tuple:
        """Hops for one packet's visits. Returns ("deliver", ns) | ("drop"/"reject", ns, hop) | ("lost", ns, hop)."""
        prev_exit: tuple[str, Eval] | None = None
        for vi, (ns, evs) in enumerate(visits):
            outer = evs[0].hdr.vni is not None
            if outer and (vi == 0 or visits[vi - 1][1][0].hdr.vni is None):
                self.encap_hop(ns, evs, prev_exit, direction, pi)
            res = self.emit_ns(ns, evs, direction, pi, is_origin=(vi == 0 or outer) and any(
                e.hook == "output" and e.family == "ip" for e in evs), prev_exit=prev_exit)
            if outer and res is not None and res[0] == "deliver" and vi + 1 < len(visits):
                self.decap_hop(ns, evs, visits[vi + 1], direction, pi)
                prev_exit = None
                continue
            if res is not None:
                return res
            ex = exit_eval(evs)
            prev_exit = (ns, ex) if ex else prev_exit
        # left the last namespace and nobody saw it arrive
        ns, evs = visits[-1]
        hop = self.vanished(ns, evs, direction, pi)
        if hop.kind == "drop" and "cannot see" not in hop.explanation:
            return ("drop", ns, hop)
        return ("lost", ns, hop)

    def encap_hop(self, ns: str, evs: list[Eval], prev_exit, direction: str, pi: int) -> None:
        """The inner packet enters a VXLAN device: the device wraps it in a UDP datagram to the remote end."""
        e = evs[0]
        dev = self.k.ifname(prev_exit[0], prev_exit[1].oif) if prev_exit and prev_exit[1] is not None else "vxlan"
        self.add(ns=ns, kind="encap", hook="output", family="ip", before=prev_exit[1].pkt if prev_exit else e.pkt,
                 after=e.pkt, oif=dev, direction=direction, probe=pi, raw=e.raw, rule=f"vni {e.hdr.vni}",
                 explanation=f"{nsname(ns)}: {dev} wraps it in VXLAN (VNI {e.hdr.vni}): the outer packet is UDP "
                             f"{e.pkt.src}:{e.pkt.sport} -> {e.pkt.dst}:{e.pkt.dport}, which goes through {nsname(ns)}'s "
                             "own hooks and the underlay.")

    def decap_hop(self, ns: str, evs: list[Eval], nxt: tuple, direction: str, pi: int) -> None:
        e = evs[-1]
        ins = [x for x in nxt[1] if x.hook == "prerouting" and x.iif is not None]
        dev = self.k.ifname(nxt[0], ins[0].iif) if ins else "its VXLAN device"
        self.add(ns=ns, kind="decap", hook="input", family="ip", before=e.pkt, after=nxt[1][0].pkt, iif=dev,
                 direction=direction, probe=pi, raw=e.raw, rule=f"vni {evs[0].hdr.vni}",
                 explanation=f"{nsname(ns)}: the VXLAN socket on UDP port {e.pkt.dport} unwraps it (VNI "
                             f"{evs[0].hdr.vni}): the inner packet comes out of {dev}.")

    def emit_ns(self, ns: str, evs: list[Eval], direction: str, pi: int, is_origin: bool, prev_exit) -> tuple | None:
        k = self.k
        if evs and evs[0].events:
            self.now_t = evs[0].events[0].t
        user_hooks = {(e.family, e.hook) for e in evs if not e.own}
        routed = False
        bridged = is_bridged(evs)
        resent = resent_at(evs)

        def between(e: Eval, nx: Eval | None, rule_done: bool = False) -> None:
            """What changed the packet between two evaluations: IPVS (taking it in INPUT and sending it on
            through OUTPUT, or rewriting a real server's answer), else conntrack's NAT."""
            nonlocal routed
            if nx is not None and resent is not None and nx.order >= resent > e.order and nx.family == "ip":
                if not routed and direction == "request" and e.hook != "output":
                    pre = [x for x in evs if x.family == "ip" and x.hook == "prerouting"]
                    self.route_hop(ns, pre[-1] if pre else e, pi, direction, output=False)
                    routed = True
                if self.ipvs_hop(ns, e, nx, direction, pi, resent=True):
                    return
            elif (nx is not None and e.family == nx.family == "ip" and not same_addrs(e.pkt, nx.pkt)
                  and self.ipvs_hop(ns, e, nx, direction, pi)):
                return
            self.nat_between(ns, e, nx, direction, pi, rule_done=rule_done)

        passed_hooks: set[tuple[str, str]] = set()
        if is_origin and direction == "request":
            obs_out = [x for x in evs if x.own and x.chain == "obs_out"]
            self.route_hop(ns, evs[0], pi, direction, output=True, out_mark=_mark(obs_out[-1]) if obs_out else 0)
            routed = True
        if not is_origin and evs:
            e0 = evs[0]
            dev = k.ifname(ns, e0.iif)
            ports = [x for x in evs if x.family == "bridge" and x.iif]
            li0 = k.link(ns, e0.iif)
            if ports and li0 is not None and li0.kind == "bridge":
                dev = k.ifname(ns, ports[0].iif)
            src = prev_exit[0] if prev_exit else None
            came = f" from {nsname(src)}" if src is not None and src != ns else ""
            self.add(ns=ns, kind="note", hook=hook_label(e0), family=e0.family, iif=dev, before=e0.pkt,
                     direction=direction, probe=pi, raw=e0.raw,
                     explanation=f"It arrives in {nsname(ns)} on {dev}{came}.")
        for i, e in enumerate(evs):
            self.now_t = e.events[0].t if e.events else self.now_t
            nxt = evs[i + 1] if i + 1 < len(evs) else None
            if (not routed and e.family == "ip" and e.hook in ("input", "forward") and not bridged
                    and direction == "request"):
                pre = [x for x in evs[:i] if x.family == "ip" and x.hook == "prerouting"]
                self.route_hop(ns, pre[-1] if pre else e, pi, direction, output=False)
                routed = True
            if e.family == "bridge" and e.hook in ("forward", "input") and not any(
                    h.kind == "bridge" and h.ns == ns and h.probe == pi and h.direction == direction
                    for h in self.hops[-12:]):
                self.bridge_hop(ns, evs, e, pi, direction)
            if e.own and e.chain in ("ct_pre", "ct_out") and e.ct_state == "invalid" and not any(
                    h.kind == "note" and h.ns == ns and h.probe == pi and h.direction == direction and h.ct_state == "invalid"
                    for h in self.hops[-12:]):
                self.add(ns=ns, kind="note", hook=hook_label(e), family=e.family, before=e.pkt, ct_state="invalid",
                         direction=direction, probe=pi, raw=e.raw,
                         explanation=f"{nsname(ns)}: conntrack marks it INVALID: {invalid_why(e.pkt)}.")
            if e.own:
                key = (e.family, e.hook)
                last_of_hook = not any(x.own and (x.family, x.hook) == key for x in evs[i + 1:])
                if key not in user_hooks and key not in passed_hooks and last_of_hook:
                    passed_hooks.add(key)
                    self.add(ns=ns, kind="hook", hook=hook_label(e), family=e.family, verdict="accept",
                             before=e.pkt, after=e.pkt, iif=k.ifname(ns, e.iif), oif=k.ifname(ns, e.oif),
                             ct_state=e.ct_state, ct_direction=_ctdir(e.ct_dir), direction=direction, probe=pi,
                             raw=e.raw, explanation=f"{nsname(ns)}: {hook_label(e).upper()} has no rules for it; "
                                                    "it passes.")
                between(e, _next_same(evs, i))
                continue
            res = self.hook_hops(ns, e, nxt, direction, pi)
            if res is not None:
                return res
            between(e, _next_same(evs, i), rule_done=True)
        # the end of this namespace: delivered, or leaving
        if any(e.family == "ip" and e.hook == "input" and e.chain == "obs_in" for e in evs):
            last_in = [e for e in evs if e.family == "ip" and e.hook == "input"][-1]
            who = "the reply" if direction == "reply" else "it"
            what = "; the kernel itself answers pings" if (direction == "request" and last_in.pkt.proto == "icmp"
                                                             and last_in.pkt.icmp_type == 8) else ""
            self.add(ns=ns, kind="deliver", hook="input", verdict="accept", before=last_in.pkt, after=last_in.pkt,
                     iif=k.ifname(ns, last_in.iif), ct_state=last_in.ct_state, direction=direction, probe=pi,
                     raw=last_in.raw, explanation=f"{nsname(ns)} accepts {who} for its own address "
                                                  f"{last_in.pkt.dst}: delivered to its local stack{what}"
                                                  + (self.not_a_service(ns, last_in.pkt) if direction == "request"
                                                     else "") + ".")
            return ("deliver", ns)
        ex = exit_eval(evs)
        if ex is not None and direction == "request":
            self.egress_hops(ns, evs, ex, pi, direction)
        elif ex is not None:
            self.add(ns=ns, kind="qdisc", hook="postrouting", oif=k.ifname(ns, ex.oif), before=ex.pkt,
                     direction=direction, probe=pi, raw=ex.raw,
                     explanation=f"It leaves {nsname(ns)} through {k.ifname(ns, ex.oif)}.")
        return None

    def hook_hops(self, ns: str, e: Eval, nxt: Eval | None, direction: str, pi: int) -> tuple | None:
        k = self.k
        hl = hook_label(e)
        where = f"{nsname(ns)}: {e.table}/{e.chain}" + (f" ({hl.upper()})" if e.chain.upper() != hl.upper() else "")
        common = dict(ns=ns, kind="hook", hook=hl, family=e.family, table=e.table, iif=k.ifname(ns, e.iif),
                      oif=k.ifname(ns, e.oif), ct_state=e.ct_state, ct_direction=_ctdir(e.ct_dir),
                      direction=direction, probe=pi, before=e.pkt, after=e.pkt, raw=e.raw)
        if e.table == OWN_TABLE and e.chain == GUARD:
            if not any(ev.type == "rule" and ev.verdict == "drop" for ev in e.events):
                return None
            why = self.cap.guards.get(ns, {}).get(e.oif or -1, f"{k.ifname(ns, e.oif)} leaves the machine")
            h = self.add(**{**common, "chain": e.chain, "rule": "lab's guard", "verdict": "drop",
                            "explanation": f"{nsname(ns)}: it would leave the machine through "
                                           f"{k.ifname(ns, e.oif)} ({why}): with --host the tracer never sends "
                                           "traffic off the machine, so lab's guard stopped it here, after every "
                                           "hook and NAT of this namespace."})
            return ("drop", ns, h)
        for ev in e.events:
            if ev.type == "rule" and ev.handle is not None and ev.verdict != "break":
                text = k.rules.text(ns, ev.family, ev.table, ev.chain, ev.handle)
                tgt = target_of(text)
                verdict = ev.verdict
                after = e.pkt
                if verdict in ("jump", "goto"):
                    verdict = f"{verdict} {ev.jump_chain}"
                    expl = f"{where}: rule `{text}` matches; it jumps to chain {ev.jump_chain}."
                elif verdict == "accept" and tgt in NAT_TARGETS:
                    verdict = NAT_TARGETS[tgt]
                    if nxt is not None and not same_addrs(e.pkt, nxt.pkt):
                        after = replace(nxt.pkt, ttl=e.pkt.ttl)
                        expl = f"{where}: rule `{text}` rewrites the {addr_change(e.pkt, after)}."
                    else:
                        expl = f"{where}: rule `{text}` matches ({tgt}); the addresses stay as they are."
                elif verdict == "drop" and tgt.upper() == "REJECT":
                    verdict = "reject"
                    expl = f"{where}: rule `{text}` rejects it: dropped, and an error is sent back."
                elif verdict == "drop":
                    expl = f"{where}: rule `{text}` drops it here."
                elif verdict == "accept":
                    expl = f"{where}: rule `{text}` accepts it."
                elif verdict == "continue":
                    expl = f"{where}: rule `{text}` matches ({tgt or 'no verdict'}); the packet goes on."
                elif verdict == "return":
                    expl = f"{where}: rule `{text}` returns to the calling chain."
                else:
                    expl = f"{where}: rule `{text}` gives verdict {verdict}."
                h = self.add(**{**common, "chain": ev.chain, "rule": text, "verdict": verdict, "after": after,
                                "explanation": expl})
                if verdict in ("drop", "reject"):
                    return (verdict, ns, h)
                if verdict == "accept" or verdict in NAT_TARGETS.values():
                    return None
            elif ev.type == "policy":
                pol = {0: "DROP", 1: "ACCEPT"}.get(ev.policy if ev.policy is not None else 1, "ACCEPT")
                # a rule that matched without deciding (MARK, LOG, a chain that returned) came before: say so
                went_on = any(x.type in ("rule", "return") and x.handle is not None and x.chain == ev.chain
                              for x in e.events[:e.events.index(ev)])
                none = "no later rule decided" if went_on else "no rule matched"
                if pol == "DROP":
                    expl = f"{where}: {none}, and the chain policy DROP drops it."
                else:
                    expl = f"{where}: {none}; the chain policy ACCEPT lets it through."
                h = self.add(**{**common, "chain": ev.chain, "rule": f"policy {pol}", "verdict": pol.lower(),
                                "explanation": expl})
                if pol == "DROP":
                    return ("drop", ns, h)
                return None
        return None

    def ipvs_hop(self, ns: str, e: Eval, nx: Eval, direction: str, pi: int, resent: bool = False) -> Hop | None:
        """IPVS's part, from the kernel's own tables (/proc/net/ip_vs and ip_vs_conn in that namespace): which
        virtual service took the packet, the real server its connection entry names, the forwarding method and
        what it rewrote. None when the namespace's IPVS has no connection entry that explains the change."""
        view = self.k.ipvs(ns)
        if view is None:
            return None
        services, conns = view
        a, b = e.pkt, nx.pkt
        proto = a.proto.upper()
        if direction == "request":       # the client's side names the entry; a rewrite must lead to its server
            conn = next((c for c in conns if c.proto == proto and (c.caddr, c.cport, c.vaddr, c.vport) ==
                         (a.src, a.sport, a.dst, a.dport)), None)
            if conn is not None and not resent and b.dst != conn.daddr:
                conn = None
        else:
            conn = next((c for c in conns if c.proto == proto and (c.daddr, c.dport, c.caddr, c.cport) ==
                         (a.src, a.sport, a.dst, a.dport) and (c.vaddr, c.vport) == (b.src, b.sport)), None)
        if conn is None:
            return None
        svc = next((s for s in services if s.proto == conn.proto and (s.addr, s.port) == (conn.vaddr, conn.vport)),
                   None) or next((s for s in services if s.proto == "FWM" and any(
                       (d.addr, d.port) == (conn.daddr, conn.dport) for d in s.dests)), None)
        dest = next((d for d in (svc.dests if svc else ()) if (d.addr, d.port) == (conn.daddr, conn.dport)), None)
        fwd = dest.fwd if dest is not None else ""
        rs = f"{conn.daddr}:{conn.dport}"
        after = replace(b, ttl=a.ttl)
        where = nsname(ns)
        if direction == "reply":
            hook = "forward" if nx.hook in ("forward", "postrouting") else hook_label(nx)
            expl = (f"{where}: IPVS ({hook.upper()}) finds this answer from real server {rs} in its connection "
                    f"table (client {conn.caddr}:{conn.cport}, state now {conn.state}) and rewrites it back to the "
                    f"virtual service's address: {addr_change(a, after)}.")
            return self.add(ns=ns, kind="nat", hook=hook, family="ip", table="ipvs", verdict="ipvs de-nat",
                            rule=f"{svc.name() if svc else conn.vaddr} <- {rs}", before=a, after=after,
                            direction=direction, probe=pi, raw=nx.raw, explanation=expl)
        hook = "output" if e.hook == "output" else "input"
        what = (f"virtual service {svc.name()} (scheduler {svc.sched}"
                + (f", persistent {svc.persistent} s" if svc.persistent is not None else "")
                + f", {len(svc.dests)} real server{'s' if len(svc.dests) != 1 else ''})") if svc else \
            f"virtual service {conn.proto} {conn.vaddr}:{conn.vport}"
        route, _err = self.k.route(ns, conn.daddr)
        via = f" (route {self.route_text(ns, route, conn.daddr)})" if route else ""
        if route:       # its next hop is the real server (or its gateway), whatever the packet's destination says
            self.routes[(ns, pi, direction)] = {**route, "gateway": route.get("gateway") or conn.daddr}
        how = {"Masq": f"Masq (NAT): it rewrites the {addr_change(a, after)} and sends it on through OUTPUT{via}",
               "Route": (f"Route (direct routing): the addresses stay; it sends the frame to {conn.daddr}'s own "
                         f"link-layer address{via}, so {conn.daddr} must hold {conn.vaddr} itself"),
               "Tunnel": (f"Tunnel: it wraps the packet in a new IP header to {conn.daddr}{via}; the trace follows the "
                          "probe's own header, not the tunnel's"),
               "Local": "Local: a server in this namespace takes it"}.get(
                   fwd, f"{fwd or 'unknown'}: {addr_change(a, after) if not same_addrs(a, after) else 'addresses kept'}")
        taken = "INPUT, where packets for its own addresses go" if hook == "input" else "OUTPUT, as a local client sent it"
        expl = (f"{where}: IPVS takes it in {taken}: {conn.vaddr}:{conn.vport} is its {what}. Its connection table "
                f"gives this connection (client {conn.caddr}:{conn.cport}, state now {conn.state}) to real server {rs}; "
                f"forwarding {how}.")
        return self.add(ns=ns, kind="nat", hook=hook, family="ip", table="ipvs", verdict=f"ipvs {fwd or 'NAT'}",
                        rule=f"{svc.name() if svc else conn.vaddr} -> {rs}", before=a, after=after,
                        oif=self.k.ifname(ns, route.get("oif")) if route else "", direction=direction, probe=pi,
                        raw=nx.raw, explanation=expl)

    def ipvs_took(self, ns: str, e: Eval, direction: str, pi: int) -> Hop | None:
        """The packet's last trace event was PREROUTING, and IPVS has a connection entry for it: IPVS took it in
        INPUT and sent it on in a form the trace rules do not follow (an IPIP tunnel to the real server)."""
        view = self.k.ipvs(ns)
        p = e.pkt
        if not view or not any(c.proto == p.proto.upper() and (c.caddr, c.cport, c.vaddr, c.vport) ==
                               (p.src, p.sport, p.dst, p.dport) for c in view[1]):
            return None
        self.route_hop(ns, e, pi, direction, output=False)
        return self.ipvs_hop(ns, e, e, direction, pi, resent=True)

    def ipvs_services_at(self, ns: str, p: Packet) -> list:
        """IPVS virtual services of ns on the packet's destination address (any protocol or port)."""
        view = self.k.ipvs(ns) if p.dst else None
        return [s for s in view[0] if s.addr == p.dst] if view else []

    def not_a_service(self, ns: str, p: Packet) -> str:
        """For a packet delivered to an address where IPVS has virtual services, none of them its own."""
        svcs = self.ipvs_services_at(ns, p)
        if not svcs or any(s.proto == p.proto.upper() and s.port == p.dport for s in svcs):
            return ""
        names = ", ".join(s.name() for s in svcs)
        return (f" (IPVS has virtual service{'s' if len(svcs) > 1 else ''} {names} on this address, but not "
                f"{p.proto.upper()}" + (f" port {p.dport}" if p.dport else "") + ": IPVS leaves it to the local stack)")

    def ipvs_refused(self, ns: str, p: Packet) -> str | None:
        """A packet for a virtual service with no real server that can take it: IPVS drops it (and answers ICMP
        port-unreachable, as ip_vs_leave does). None if that is not the case."""
        svc = next((s for s in self.ipvs_services_at(ns, p) if s.proto == p.proto.upper() and s.port == p.dport), None)
        if svc is None or any(d.weight > 0 for d in svc.dests):
            return None
        why = "has no real server" if not svc.dests else "has only real servers of weight 0 (quiesced)"
        return (f"IPVS in {nsname(ns)} takes it in INPUT for its virtual service {svc.name()} (scheduler {svc.sched}), "
                f"which {why}: no server can take the connection, so IPVS drops it and answers ICMP port-unreachable "
                f"(fix: ipvsadm -a -{'t' if svc.proto == 'TCP' else 'u'} {svc.addr}:{svc.port} -r SERVER -m).")

    def nat_between(self, ns: str, e: Eval, nxt: Eval | None, direction: str, pi: int, rule_done: bool = False):
        """Addresses changed between two evaluations without a NAT rule in between: conntrack did it."""
        if nxt is None or same_addrs(e.pkt, nxt.pkt):
            return None
        if rule_done and self.hops and self.hops[-1].ns == ns and self.hops[-1].nat:
            return None
        if e.family != nxt.family:
            return None
        after = replace(nxt.pkt, ttl=e.pkt.ttl)
        why = ("conntrack undoes the earlier NAT for this reply" if direction == "reply"
               else "conntrack applies this connection's NAT mapping")
        return self.add(ns=ns, kind="nat", hook=hook_label(nxt) if nxt.hook == "postrouting" else hook_label(e),
                        family=e.family, table="conntrack", verdict="de-nat" if direction == "reply" else "nat",
                        before=e.pkt, after=after, ct_state=nxt.ct_state, ct_direction=_ctdir(nxt.ct_dir),
                        direction=direction, probe=pi, raw=nxt.raw,
                        explanation=f"{nsname(ns)}: {why}: {addr_change(e.pkt, after)}.")

    def route_hop(self, ns: str, e: Eval, pi: int, direction: str, output: bool, out_mark: int = 0) -> Hop:
        """The routing decision as the kernel made it: for a forwarded packet with its source, input interface,
        the mark it carries after PREROUTING and its tos; for the probe the raw socket's lookup (no source, no
        mark), then again with the mark OUTPUT gave it (`out_mark`: the kernel routes such a packet again)."""
        k = self.k
        p = e.pkt
        tos, mark = _tos(e), _mark(e)
        if output:
            info, err = k.route(ns, p.dst, tos=tos)
            if not err and out_mark:
                again, err2 = k.route(ns, p.dst, mark=out_mark, tos=tos)
                if not err2 and (again.get("oif"), again.get("gateway"), again.get("table")) != (
                        info.get("oif"), info.get("gateway"), info.get("table")):
                    again["rerouted_from"] = self.route_text(ns, info, p.dst)
                    info = again
        else:
            info, err = k.route(ns, p.dst, p.src, e.iif, mark=mark, tos=tos)
        if err:
            return self.add(ns=ns, kind="route", verdict="drop", before=p, direction=direction, probe=pi,
                            explanation=f"{nsname(ns)} has no usable route to {p.dst}: {os.strerror(err)}.")
        self.routes[(ns, pi, direction)] = info
        rtype = info.get("type")
        marked = f" (mark 0x{info['mark']:x})" if info.get("mark") else ""
        if rtype == 2:
            expl = f"{nsname(ns)} looks up {p.dst}{marked}: it is one of its own addresses (local route), so it goes to INPUT."
        elif output and info.get("rerouted_from"):
            expl = (f"{nsname(ns)} looks up {p.dst}: route {info['rerouted_from']}; OUTPUT then marks it "
                    f"0x{info['mark']:x}, so the kernel routes it again: route {self.route_text(ns, info, p.dst)}.")
        elif output:
            expl = f"{nsname(ns)} looks up {p.dst}: route {self.route_text(ns, info, p.dst)}."
        else:
            expl = (f"{nsname(ns)} looks up {p.dst}{marked}: route {self.route_text(ns, info, p.dst)}; not its own "
                    "address, so it forwards it (FORWARD).")
        return self.add(ns=ns, kind="route", verdict="local" if rtype == 2 else "forward" if not output else "output",
                        before=p, oif=k.ifname(ns, info.get("oif")), direction=direction, probe=pi,
                        rule=self.route_text(ns, info, p.dst), explanation=expl)

    def bridge_hop(self, ns: str, evs: list[Eval], e: Eval, pi: int, direction: str) -> None:
        k = self.k
        pre = [x for x in evs if x.family == "bridge" and x.hook == "prerouting"]
        in_port = k.ifname(ns, (pre[0] if pre else e).iif)
        posts = [x for x in evs if x.family == "bridge" and x.oif]
        out_idx = posts[-1].oif if posts else e.oif
        port = k.link(ns, out_idx) if out_idx else None
        inl = k.link(ns, e.iif)
        br_idx = port.master if port else (inl.master if inl else None)
        br = k.ifname(ns, br_idx) if br_idx else "the bridge"
        # the frame as it leaves (after a routed hairpin its destination MAC is the container's, not the
        # bridge's own that it arrived with): the fdb entry that sent it out that port
        lls = [x.ll for x in ([e] + posts) if x.ll and len(x.ll) >= 6]
        ll = lls[-1] if lls and e.hook != "input" else (pre[0] if pre else e).ll
        fdb = ""
        if ll and len(ll) >= 6:
            mac = ":".join(f"{b:02x}" for b in ll[:6])
            if e.hook == "input":   # addressed to the bridge itself (its MAC is borrowed from a port: not that port)
                fdb = f" (the frame is addressed to {br}'s own address {mac})"
            else:
                got = k.fdb(ns, br_idx, mac)
                fdb = (f" (fdb: {mac} is on {got[0]}, {got[1]})" if got
                       else f" (no fdb entry for {mac}: flooded to every port)")
        if e.hook == "input":
            expl = f"{nsname(ns)}: bridge {br} takes it from port {in_port} up to its own stack{fdb}."
            out = br
        else:
            out = k.ifname(ns, out_idx)
            expl = f"{nsname(ns)}: bridge {br} forwards it from port {in_port} to port {out}{fdb}."
        self.add(ns=ns, kind="bridge", hook="bridge-" + e.hook, family="bridge", iif=in_port, oif=out, before=e.pkt,
                 direction=direction, probe=pi, raw=e.raw, explanation=expl)

    def next_hop(self, ns: str, pi: int, direction: str, p: Packet) -> str:
        """The gateway of the routing decision made for this packet here (the one route_hop showed, with its
        source, mark and table), or the packet's own destination when the route is direct."""
        info = self.routes.get((ns, pi, direction))
        if info is None:
            info, _err = self.k.route(ns, p.dst)
        return (info or {}).get("gateway") or p.dst

    def egress_hops(self, ns: str, evs: list[Eval], ex: Eval, pi: int, direction: str) -> None:
        k = self.k
        li = k.link(ns, ex.oif)
        dev = k.ifname(ns, ex.oif)
        ipx = [x for x in evs if x.family == "ip" and x.hook == "postrouting"]
        if ex.family == "ip" or ipx:
            p = (ipx[-1] if ipx else ex).pkt
            ip_dev_idx = (ipx[-1] if ipx else ex).oif
            nh = self.next_hop(ns, pi, direction, p)
            if ip_dev_idx is not None and not is_bridged(evs):
                state, mac = k.neighbour(ns, nh, ip_dev_idx)
                ipdev = k.ifname(ns, ip_dev_idx)
                if state in ("INCOMPLETE", "FAILED"):
                    expl = (f"{nsname(ns)}: neighbour {nh} on {ipdev} is {state}: it asks by ARP who has {nh} and "
                            "holds the packet until an answer comes.")
                elif state:
                    expl = f"{nsname(ns)}: neighbour {nh} on {ipdev} is {state}" + (f" ({mac})" if mac else "") + "."
                else:
                    expl = f"{nsname(ns)}: no neighbour entry for {nh} on {ipdev} yet."
                self.add(ns=ns, kind="neigh", oif=ipdev, before=p, direction=direction, probe=pi,
                         rule=f"{nh} {state or 'none'}", explanation=expl)
                if state in ("INCOMPLETE", "FAILED"):
                    return
        q = li.qdisc if li else ""
        mtu = k.mtu(ns, ex.oif)
        frag = (f" It is {_length(ex)} bytes, more than {dev}'s MTU ({mtu}): the kernel cuts it into fragments "
                f"of at most {mtu} bytes as it leaves." if mtu and _length(ex) > mtu and not _df(ex) else "")
        self.add(ns=ns, kind="qdisc", hook="postrouting", oif=dev, before=ex.pkt, after=ex.pkt, direction=direction,
                 probe=pi, raw=ex.raw, rule=q,
                 explanation=f"It leaves {nsname(ns)} through {dev}" + (f" (qdisc {q})." if q else ".") + frag)

    # -- diagnosis
    def legacy_hint(self, ns: str) -> str:
        t = self.k.legacy_tables(ns)
        if t:
            return (f"; iptables-legacy tables ({', '.join(t)}) exist in {nsname(ns)} and the trace cannot see "
                    "their rules: the packet most likely met one of them")
        return ""

    def hairpin_refused(self, ns: str, evs: list[Eval], e: Eval, info: dict) -> str | None:
        """A bridged packet (br_netfilter) that DNAT sends back to the port it came in on: the bridge drops it
        unless that port has hairpin mode. None if that is not what happened here."""
        k = self.k
        bpre = [x for x in evs if x.family == "bridge" and x.hook == "prerouting" and x.iif]
        if not bpre:
            return None
        in_port = k.link(ns, bpre[0].iif)
        if in_port is None or not in_port.master or info.get("oif") != in_port.master:
            return None
        nh = info.get("gateway") or e.pkt.dst
        _state, mac = k.neighbour(ns, nh, in_port.master)
        got = k.fdb(ns, in_port.master, mac) if mac else None
        if got is None or got[0] != in_port.name or in_port.hairpin:
            return None
        br = k.ifname(ns, in_port.master)
        return (f"{nsname(ns)} sends it back out {br} to {nh}, whose address {mac} is on port {in_port.name}, the port "
                f"it came in on: a bridge never sends a frame back out the port it arrived on unless that port has "
                f"hairpin mode, so it is dropped (fix, as Docker does: ip {'-n ' + ns + ' ' if ns else ''}link set "
                f"{in_port.name} type bridge_slave hairpin on).")

    def rp_filter_fails(self, ns: str, src: str, iif: int | None, dev: str) -> bool:
        """rp_filter on (max of all and the device) and the route back to src does not use iif."""
        vals = [self.k.sysctl(ns, f"net.ipv4.conf.{d}.rp_filter") for d in ("all", dev) if d]
        mode = max((int(v) for v in vals if v and v.isdigit()), default=0)
        if mode == 0:
            return False
        info, err = self.k.route(ns, src)
        if err or not info:
            return True
        return mode == 1 and info.get("oif") != iif

    def vanished(self, ns: str, evs: list[Eval], direction: str, pi: int) -> Hop:
        k = self.k
        last = evs[-1]
        hook = last.hook
        base = dict(ns=ns, kind="drop", verdict="drop", before=last.pkt, direction=direction, probe=pi, raw=last.raw,
                    hook=hook_label(last))
        hint = self.legacy_hint(ns)
        if hint:
            return self.add(**{**base, "explanation": f"The packet vanishes after {hook_label(last).upper()} in "
                                                      f"{nsname(ns)}{hint}."})
        # after IP PREROUTING (or the bridge handing it up to its own IP stack) comes the routing decision
        if last.family == "ip" and hook == "prerouting" or (last.family == "bridge" and hook in ("prerouting", "input")):
            pre = [x for x in evs if x.family == "ip" and x.hook == "prerouting"]
            e = pre[-1] if pre else last
            info, err = k.route(ns, e.pkt.dst, e.pkt.src, e.iif, mark=_mark(e), tos=_tos(e))
            dev = k.ifname(ns, e.iif)
            sp = k.special_route(ns, e.pkt.dst) if err in (errno.EINVAL, errno.EHOSTUNREACH, errno.EACCES,
                                                            errno.ENETUNREACH) else None
            if sp is not None and ROUTE_REASONS[sp[0]][0] != err:
                sp = None
            if err == errno.ENETUNREACH and sp is None:
                msg = (f"{nsname(ns)} has no route to {e.pkt.dst}: dropped at the routing decision, ICMP "
                       "net-unreachable goes back.")
            elif err == errno.EHOSTUNREACH and (k.sysctl(ns, "net.ipv4.ip_forward") == "0" or (
                    dev and k.sysctl(ns, f"net.ipv4.conf.{dev}.forwarding") == "0")):
                msg = (f"{nsname(ns)} does not forward: ip_forward is off, so it does not route packets for other hosts; it "
                       f"drops this one for {e.pkt.dst} (fix: {ns + ' ' if ns else ''}sysctl -w net.ipv4.ip_forward=1).")
            elif sp is not None:
                msg = (f"{nsname(ns)}'s route to {e.pkt.dst} (route {sp[0]} {sp[1]}, table {table_name(sp[2])}) "
                       f"{ROUTE_REASONS[sp[0]][1]}: {ROUTE_REASONS[sp[0]][2]}.")
            elif err == errno.EHOSTUNREACH:
                msg = f"{nsname(ns)} has no route to {e.pkt.dst}: dropped at the routing decision (no route to host)."
            elif err == errno.EACCES:
                msg = f"{nsname(ns)}'s routing refuses {e.pkt.dst} (prohibited): dropped, ICMP host-prohibited goes back."
            elif err == errno.EXDEV:
                msg = (f"The reverse-path filter (rp_filter) in {nsname(ns)} drops it: the way back to {e.pkt.src} "
                       f"is not through {dev}.")
            elif err == errno.EINVAL and self.rp_filter_fails(ns, e.pkt.src, e.iif, dev):
                msg = (f"The reverse-path filter (rp_filter) in {nsname(ns)} drops it: the way back to {e.pkt.src} "
                       f"is not through {dev}, where it came in.")
            elif err == errno.EINVAL:
                msg = f"{nsname(ns)} drops it as a martian (invalid source {e.pkt.src} on {dev})."
                if self.ipvs_services_at(ns, replace(e.pkt, dst=e.pkt.src)):
                    msg = (f"{nsname(ns)} drops it as a martian: its source {e.pkt.src} is {nsname(ns)}'s own address "
                           f"(an IPVS virtual service's). In IPVS direct routing (-g) the real server answers the client "
                           f"itself, from the virtual address: that answer must reach the client by another way than "
                           f"the director (the real server's own router), or use masquerading (-m).")
            elif info and info.get("type") == 2 and (why := self.ipvs_refused(ns, e.pkt)):
                msg = why
            elif info and info.get("type") == 2 and direction == "request" and (
                    took := self.ipvs_took(ns, e, direction, pi)):
                return took
            elif err:
                msg = f"{nsname(ns)} cannot route it: {os.strerror(err)}."
            elif info and info.get("type") != 2 and (e.pkt.ttl or 0) <= 1:
                msg = f"Its TTL runs out in {nsname(ns)} (ttl {e.pkt.ttl}): dropped, ICMP time-exceeded goes back."
            elif info and (why := self.hairpin_refused(ns, evs, e, info)):
                msg = why
            elif info and info.get("type") != 2 and _df(e) and (mtu := k.mtu(ns, info.get("oif"))) and _length(e) > mtu:
                out = k.ifname(ns, info.get("oif"))
                msg = (f"It is too big for {out} in {nsname(ns)} ({_length(e)} bytes, mtu {mtu}) and its don't-fragment "
                       f"bit is set: dropped before FORWARD, and ICMP fragmentation-needed (mtu {mtu}) goes back.")
            else:
                msg = (f"The packet vanishes after PREROUTING in {nsname(ns)}, where the trace cannot see why "
                       "(no further trace event).")
                return self.add(**{**base, "explanation": msg})
            return self.add(**{**base, "kind": "drop", "explanation": msg})
        ex = exit_eval(evs)
        if ex is not None:
            li = k.link(ns, ex.oif)
            dev = k.ifname(ns, ex.oif)
            ipx = [x for x in evs if x.family == "ip" and x.hook == "postrouting"]
            p = (ipx[-1] if ipx else ex).pkt
            nh = self.next_hop(ns, pi, direction, p)
            state, _mac = k.neighbour(ns, nh, (ipx[-1] if ipx else ex).oif)
            if li is not None and (not li.up or not li.carrier):
                msg = (f"{dev} in {nsname(ns)} is down" if not li.up else
                       f"{dev} in {nsname(ns)} has no carrier (its peer is down)") + ": the packet is dropped."
            elif state in ("FAILED", "INCOMPLETE"):
                msg = (f"ARP for {nh} on {dev} gets no answer (neighbour {state}): {nsname(ns)} cannot deliver it, "
                       "nobody has that address.")
                if li is not None and li.kind == "vxlan":
                    msg = (f"ARP for {nh} on {dev} gets no answer (neighbour {state}): {dev} is a VXLAN device, so the "
                           "ARP request itself travels encapsulated in UDP to the remote end; either nobody there has "
                           f"{nh}, or the underlay does not carry the tunnel's UDP datagrams (the trace follows IP "
                           "packets, not ARP: trace the underlay, or add a static neighbour to see the IP packet's way).")
            elif li is not None and li.kind == "veth" and direction == "request":
                msg = (f"It left {nsname(ns)} through {dev}, but no traced namespace saw it arrive "
                       "(the trace cannot see why).")
                return self.add(**{**base, "explanation": msg})
            else:
                msg = f"It leaves {nsname(ns)} through {dev}, beyond the lab's traced namespaces."
                return self.add(**{**base, "kind": "note", "verdict": "", "explanation": msg})
            return self.add(**{**base, "explanation": msg})
        msg = (f"The packet vanishes after {hook_label(last).upper()} in {nsname(ns)}, where the trace cannot see "
               "why (no further trace event).")
        return self.add(**{**base, "explanation": msg})


def invalid_why(p: Packet) -> str:
    """Why conntrack calls a packet INVALID, where its rules make it plain; else how to make the kernel say."""
    if p.proto == "tcp":
        why = TCP_INVALID_WHY.get(frozenset(p.flags.replace("P", "")))
        if why:
            return why
    if p.proto == "icmp" and p.icmp_type in ICMP_ERRORS:
        return "an ICMP error that quotes no connection conntrack knows"
    if p.proto == "icmp" and p.icmp_type not in (8, 13, 15, 17):
        return f"ICMP type {p.icmp_type} cannot open a connection (only requests do)"
    return ("the trace cannot tell why (the kernel logs its reason with "
            "sysctl -w net.netfilter.nf_conntrack_log_invalid=255)")


def packet_key(p: Packet) -> tuple:
    return (p.ip_id, p.proto, p.flags if p.proto == "tcp" else "", p.icmp_type if p.proto == "icmp" else None)


def _df(e: Eval) -> bool:
    return bool(e.raw and len(e.raw) > 6 and e.raw[6] & 0x40)


def _length(e: Eval) -> int:
    return struct.unpack_from(">H", e.raw, 2)[0] if e.raw and len(e.raw) >= 4 else 0


def _next_same(evs: list[Eval], i: int) -> Eval | None:
    """After an IP evaluation, the next IP one (a bridge's hooks in between change no address: conntrack's
    reverse NAT at POSTROUTING shows after the bridge's own hooks); after any other, the next one."""
    if evs[i].family != "ip":
        return evs[i + 1] if i + 1 < len(evs) else None
    return next((x for x in evs[i + 1:] if x.family == "ip"), None)


def _tos(e: Eval) -> int:
    return e.raw[1] if e.raw and len(e.raw) > 1 else 0


def _mark(e: Eval) -> int:
    """The packet's mark when this evaluation saw it (its first event carries the meta data)."""
    return next((ev.mark for ev in e.events if ev.mark is not None), 0) or 0


def _ctdir(d: int | None) -> str:
    return {0: "original", 1: "reply"}.get(d, "") if d is not None else ""


def build_path(cap: Capture, backend) -> TracePath:
    import time

    t0 = time.perf_counter()
    path = Builder(cap, backend).build()
    return replace(path, timings=path.timings + (("path", round((time.perf_counter() - t0) * 1000, 3)),))

