"""Apply a TraceOp: run the tracer (lab.tracer, which imports scapy lazily) and return its timeline as
text, or JSON with --json; --pcap FILE also writes the packet as seen at each hop."""
from __future__ import annotations

from lab.backend.core import applies
from lab.commands.trace import TraceOp


@applies(TraceOp)
def apply_trace(backend, op: TraceOp) -> str:
    from lab.tracer import format_text, run_trace, to_json, write_pcap

    path = run_trace(backend, op.spec)
    out = to_json(path) if op.json else format_text(path, op.verbose)
    if op.pcap:
        n = write_pcap(path, op.pcap)
        if not op.json:
            out += f"\nwrote {n} packets to {op.pcap}"
    return out
