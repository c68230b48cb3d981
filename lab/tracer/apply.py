"""`trace ...` typed in the command bar, `lab shell`, `lab run` or a scenario: run the tracer (scapy is
imported lazily) and return its timeline as text (-v: with times and phases), or JSON with --json; --pcap
FILE also writes the packet as seen at each hop. Registered with the engine by lab.extensions.load()."""
from __future__ import annotations

from lab.commands.trace import TraceOp
from lab.engine import handles


@handles(TraceOp)
def apply_trace(engine, op: TraceOp) -> str:
    from lab.tracer import format_text, run_trace, to_json, write_pcap

    path = run_trace(engine.backend, op.spec)
    out = to_json(path) if op.json else format_text(path, op.verbose)
    if op.pcap:
        n = write_pcap(path, op.pcap)
        if not op.json:
            out += f"\nwrote {n} packets to {op.pcap}"
    return out
