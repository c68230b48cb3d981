"""Conntrack entries of a namespace as model.ConntrackEntry, registered as the "conntrack" snapshot extra.

Opens a pyroute2 `Conntrack` socket by moving the calling thread into the namespace (nsutil.in_netns),
dumps, and closes it. A namespace where nothing loaded conntrack simply has no entries.
Leaves formatting to lab.render / lab.ui.
"""
from __future__ import annotations

import socket

from lab.backend import nsutil, state
from lab.model import ConntrackEntry

_PROTO = {socket.IPPROTO_TCP: "tcp", socket.IPPROTO_UDP: "udp", socket.IPPROTO_ICMP: "icmp",
          socket.IPPROTO_ICMPV6: "icmpv6", 132: "sctp"}
MAX_ENTRIES = 500


def _tuple(t) -> tuple[str, str, int | None, int | None]:
    if t.sport is None and t.icmp_id is not None:
        return (t.saddr, t.daddr, t.icmp_type, t.icmp_id)
    return (t.saddr, t.daddr, t.sport, t.dport)


def entries(b, ns: str | None, limit: int = MAX_ENTRIES) -> list[ConntrackEntry]:
    """Up to `limit` conntrack entries of `ns` (None = top), oldest first as the kernel dumps them."""
    from pyroute2 import Conntrack

    b.require_ns(ns)
    out: list[ConntrackEntry] = []
    # pyroute2 opens the socket lazily, on the first request: the whole dump stays inside the namespace
    with nsutil.in_netns(ns):
        ct = Conntrack(nfgen_family=socket.AF_UNSPEC)   # both families (pyroute2 defaults to IPv4)
        try:
            out = _dump(ct, ns, limit)
        finally:
            ct.close()
    return out


def _dump(ct, ns: str | None, limit: int) -> list[ConntrackEntry]:
    out: list[ConntrackEntry] = []
    for e in ct.dump_entries():
        o, r = e.tuple_orig, e.tuple_reply
        tcp_state = e.protoinfo.state_name() if e.protoinfo is not None else ""
        flags = tuple(f for f in (e.status_name() or "").split(",") if f)
        out.append(ConntrackEntry(ns=ns or "", proto=_PROTO.get(o.proto, str(o.proto)),
                                  orig=_tuple(o), reply=_tuple(r), state=tcp_state,
                                  mark=e.mark or 0, timeout=e.timeout or 0, flags=flags))
        if len(out) >= limit:
            break
    return out


def conntrack_extra(b, ns: str | None) -> dict:
    return {"conntrack": tuple(entries(b, ns))}


state.EXTRAS.setdefault("conntrack", conntrack_extra)
