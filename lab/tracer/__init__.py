"""The packet tracer: inject a scapy-built probe in a namespace, trace the real kernel's netfilter
hooks across every lab namespace, and explain each hop. The only package that imports scapy (lazily).

Public API (used by `lab trace`, the engine's `trace` command, the TUI and scenario checks):
    run_trace(backend, spec) -> lab.model.trace.TracePath
    format_text(path) -> str     to_json(path) -> str     write_pcap(path, file) -> int
"""
from __future__ import annotations

from lab.model.trace import TracePath


def run_trace(backend, spec, namespaces: tuple[str, ...] | None = None, then=None) -> TracePath:
    """Trace `spec` ("fox icmp 192.168.202.12", "red tcp 10.0.0.2:80 --flags S", or a TraceSpec).

    `then(path)`, if given, is called with the path as soon as it is built, before the trace tables are taken
    out of the namespaces (the user sees it that much sooner); the path returned afterwards is the same, with
    the removal's timing and any warning it brought. Raises LabError for a malformed spec or an unknown
    namespace."""
    from dataclasses import replace

    from lab.commands.tracespec import TraceSpec, parse_spec
    from lab.tracer.path import build_path
    from lab.tracer.session import run_capture

    if not isinstance(spec, TraceSpec):
        spec = parse_spec(spec, tuple(backend.namespaces()) if namespaces is None else namespaces)
    early: list[TracePath] = []

    def captured(cap) -> None:
        early.append(build_path(cap, backend))
        if then is not None:
            then(early[0])

    with backend.lock:
        cap = run_capture(backend, spec, on_captured=captured)
        if not early:
            return build_path(cap, backend)
        path = early[0]
        known = set(path.warnings)
        return replace(path, warnings=path.warnings + tuple(w for w in cap.warnings if w not in known),
                       timings=tuple((k, round(v * 1000, 3)) for k, v in cap.timings.items())
                       + tuple((k, v) for k, v in path.timings if k == "path"))


def format_text(path: TracePath, verbose: bool = False) -> str:
    from lab.tracer.fmt import format_text as f

    return f(path, verbose)


def to_json(path: TracePath) -> str:
    from lab.tracer.fmt import to_json as f

    return f(path)


def write_pcap(path: TracePath, filename: str) -> int:
    from lab.tracer.fmt import write_pcap as f

    return f(path, filename)
