"""The result of a packet trace, as plain data (built by lab.tracer, shown by lab.ui and the CLI,
asserted by scenario checks). Stdlib only."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Packet:
    """Header fields at one point of the path."""
    src: str
    dst: str
    proto: str                      # icmp, tcp, udp
    sport: int | None = None
    dport: int | None = None
    flags: str = ""                 # TCP flags like "S", "SA", "R"
    icmp_type: int | None = None
    ttl: int | None = None
    ip_id: int | None = None

    def endpoint(self, which: str) -> str:
        addr, port = (self.src, self.sport) if which == "src" else (self.dst, self.dport)
        return f"{addr}:{port}" if port is not None else addr


@dataclass(frozen=True)
class Hop:
    """One step of the path: a chain evaluated, a routing decision, a neighbour lookup, a bridge port..."""
    ns: str                         # namespace ("" = top)
    kind: str                       # "hook" | "route" | "neigh" | "bridge" | "qdisc" | "deliver" | "drop" | "send" | "note"
                                    # | "nat" (conntrack rewrote it without a NAT rule: de-NAT of replies)
    hook: str = ""                  # prerouting, input, forward, output, postrouting (or bridge-*)
    family: str = "ip"
    table: str = ""                 # raw, mangle, nat, filter (iptables) or the nft table name
    chain: str = ""
    rule: str = ""                  # the rule that matched, in iptables syntax, or "policy ACCEPT"
    verdict: str = ""               # accept, drop, reject, continue, jump X, return, dnat, snat, masquerade
    before: Packet | None = None
    after: Packet | None = None     # differs from before when NAT rewrote it
    iif: str = ""
    oif: str = ""
    ct_state: str = ""              # new, established, related, reply...
    ct_direction: str = ""          # original | reply
    explanation: str = ""           # one plain sentence
    direction: str = "request"      # request | reply
    probe: int = 0                  # which probe (0-based) with --count N
    t_ms: float | None = None       # when the tracer received the kernel's event for this step, in ms after the
                                    # probe was sent (events of one burst of kernel work share one time)
    raw: bytes = field(default=b"", compare=False, repr=False)  # IP + transport headers at this hop (pcap)

    @property
    def nat(self) -> bool:
        return self.before is not None and self.after is not None and self.before != self.after


@dataclass(frozen=True)
class TracePath:
    spec: str                       # what the user asked: "fox icmp 192.168.202.12"
    hops: tuple[Hop, ...] = ()
    outcome: str = ""               # "delivered", "dropped", "rejected", "answered", "lost"
    summary: str = ""               # one sentence
    reply: bool = False             # a reply came back
    warnings: tuple[str, ...] = ()  # e.g. iptables-legacy rules present: the trace cannot see them
    timings: tuple[tuple[str, float], ...] = ()   # the trace's own phases: (name, ms)

    @property
    def dropped_at(self) -> Hop | None:
        for h in self.hops:
            if h.kind == "drop" or h.verdict in ("drop", "reject"):
                return h
        return None
