"""`trace` command: `trace NS icmp|tcp|udp DST[:PORT] [options] [--json] [--pcap FILE]`, also as
`NS trace PROTO DST...` (the Mininet-style shorthand picks the source). Pure: validates the spec with
lab.commands.tracespec (no scapy, no kernel); lab.tracer.apply runs it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lab.commands.base import Context, Op, ParseError, ReadOp
from lab.commands.tracespec import TraceSpec, parse_spec
from lab.errors import LabError

HELP = ("Usage: trace NS icmp|tcp|udp DST[:PORT] [--sport N] [--dport N] [--flags S] [--ttl N] [--count N]\n"
        "                [--payload TEXT] [--size BYTES] [--df] [--src ADDR] [--icmp-type N] [--wait SECONDS]\n"
        "                [--json] [--pcap FILE] [-v]\n"
        "Injects one packet from namespace NS and explains its path hook by hook, e.g.\n"
        "  trace fox icmp 192.168.202.12\n"
        "  trace red tcp 10.0.0.2:80 --sport 1234 --flags S")


@dataclass(frozen=True)
class TraceOp(ReadOp):
    runs_above: ClassVar[bool] = True
    spec: TraceSpec | None = None
    json: bool = False
    pcap: str | None = None
    verbose: bool = False        # -v: when each step's event came, and the trace's phases
    file_args: ClassVar[tuple[str, ...]] = ("pcap",)


def parse(head: str, argv: list[str], ctx: Context, ns: str | None) -> Op:
    if not argv or argv[0] in ("help", "-h", "--help"):
        from lab.commands.ip import HelpOp

        return HelpOp(ns, text=HELP)
    words, as_json, pcap, verbose = [], False, None, False
    it = iter(argv)
    for w in it:
        if w in ("--json", "-j"):
            as_json = True
        elif w in ("-v", "--verbose"):
            verbose = True
        elif w == "--pcap":
            pcap = next(it, None)
            if not pcap:
                raise ParseError("trace: --pcap needs a file name", HELP)
        else:
            words.append(w)
    try:
        spec = parse_spec(words, ctx.namespaces or None, default_ns=ns)
    except LabError as e:
        raise ParseError(e.message, e.hint or HELP) from None
    return TraceOp(spec.ns, spec=spec, json=as_json, pcap=pcap, verbose=verbose)
