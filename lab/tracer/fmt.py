"""TracePath -> text (one plain sentence per step), JSON (hops as data) and pcap (the packet as seen
at each hop, from the network headers in the trace events). Leaves drawing to lab.ui."""
from __future__ import annotations

import json
from dataclasses import asdict

from lab.model.trace import Hop, TracePath


def _ns(ns: str) -> str:
    return ns or "host"


def format_text(path: TracePath, verbose: bool = False) -> str:
    """One sentence per step; with `verbose` each step also says when the tracer received the kernel's event
    for it (ms after the send; one burst of kernel work shares one time) and the trace's phases are listed."""
    lines = [f"trace {path.spec}"]
    step = 0
    direction = None
    probe = None
    multi = any(h.probe for h in path.hops)
    for h in path.hops:
        if multi and h.probe != probe:
            probe = h.probe
            direction = None
            lines.append(f"probe {probe + 1}:")
        if h.direction != direction:
            direction = h.direction
            lines.append("  request:" if direction == "request" else "  reply:")
        step += 1
        when = f"  (+{h.t_ms:.3f} ms)" if verbose and h.t_ms is not None else ""
        lines.append(f"  {step:>3}. [{_ns(h.ns)}] {h.explanation}{when}")
    lines.append(f"result: {path.outcome}: {path.summary}")
    for w in path.warnings:
        lines.append(f"warning: {w}")
    if verbose and path.timings:
        lines.append("timings: " + ", ".join(f"{k} {v:.1f} ms" for k, v in path.timings)
                     + f" (total {sum(v for _k, v in path.timings):.1f} ms)")
    return "\n".join(lines)


def hop_dict(h: Hop) -> dict:
    d = asdict(h)
    d.pop("raw", None)
    d["ns"] = h.ns
    d["nat"] = h.nat
    return d


def to_dict(path: TracePath) -> dict:
    dropped = path.dropped_at
    return {"spec": path.spec, "outcome": path.outcome, "summary": path.summary, "reply": path.reply,
            "warnings": list(path.warnings), "dropped_at": hop_dict(dropped) if dropped else None,
            "timings_ms": dict(path.timings), "hops": [hop_dict(h) for h in path.hops]}


def to_json(path: TracePath) -> str:
    return json.dumps(to_dict(path), indent=2)


def write_pcap(path: TracePath, filename: str) -> int:
    """Write one record per hop that carries headers; returns how many. Raw IP link type (Wireshark
    decodes it); truncated captures keep the original length so the payload shows as cut."""
    from lab.tracer.probe import scapy

    inet = scapy()
    from scapy.utils import PcapWriter

    pkts = []
    last = None
    for h in path.hops:
        if not h.raw or (h.ns, h.raw) == last:
            continue
        last = (h.ns, h.raw)
        p = inet.IP(h.raw)
        try:
            p.wirelen = max(len(h.raw), int.from_bytes(h.raw[2:4], "big"))
        except (IndexError, ValueError):
            pass
        p.comment = f"{_ns(h.ns)} {h.hook or h.kind} {h.table}/{h.chain}".strip().encode()
        pkts.append(p)
    w = PcapWriter(filename, linktype=101, sync=True)  # LINKTYPE_RAW
    try:
        for p in pkts:
            w.write(p)
    finally:
        w.close()
    return len(pkts)
