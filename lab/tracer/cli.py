"""`lab trace [--setup FILE] [--json] [--pcap FILE] NS PROTO DST[:PORT] [options]`.

Enters the sandbox (unless --host); since a sandbox starts empty, --setup FILE first runs a lab script
(one command per line) through the engine. Prints the timeline as text, or as data with --json.
"""
from __future__ import annotations

import sys

USAGE = ("usage: lab trace [--setup FILE] [--json] [--pcap FILE] [-v] NS icmp|tcp|udp DST[:PORT]\n"
         "                 [--sport N] [--flags S] [--ttl N] [--count N] [--payload TEXT] [--size BYTES] [--df]\n"
         "                 [--src ADDR]")


def main(args) -> int:
    from lab.errors import LabError

    argv = list(getattr(args, "args", []) or [])
    if argv and argv[0] == "--":
        argv = argv[1:]
    setups: list[str] = list(getattr(args, "setup", None) or [])
    as_json, pcap, rest = bool(getattr(args, "json", False)), getattr(args, "pcap", None), []
    verbose = bool(getattr(args, "verbose", False))
    i = 0
    while i < len(argv):
        w = argv[i]
        if w in ("-h", "--help"):
            print(USAGE)
            return 0
        if w == "--setup" and i + 1 < len(argv):
            setups.append(argv[i + 1])
            i += 2
            continue
        if w == "--pcap" and i + 1 < len(argv):
            pcap = argv[i + 1]
            i += 2
            continue
        if w in ("--json", "-j"):
            as_json = True
        elif w in ("-v", "--verbose"):
            verbose = True
        elif w == "--host":
            args.host = True
        else:
            rest.append(w)
        i += 1
    if not rest:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        from lab.commands.tracespec import parse_spec

        parse_spec(rest)                       # syntax errors before any sandbox or import
        from lab.engine import read_scripts, run_scripts, setup

        scripts = read_scripts(setups)
        engine = setup(bool(getattr(args, "host", False)), bool(getattr(args, "read_only", False)))
        run_scripts(engine, scripts)
        from lab.tracer import format_text, run_trace, to_json, write_pcap

        shown: list = []

        def show(early) -> None:     # the path as soon as it is built; the trace tables are removed after
            if not as_json and not verbose:
                print(format_text(early), flush=True)
                shown.append(early)

        path = run_trace(engine.backend, parse_spec(rest, tuple(engine.backend.namespaces())), then=show)
        if shown:
            for w in path.warnings[len(shown[0].warnings):]:     # what removing the tables had to say
                print(f"warning: {w}")
        else:
            print(to_json(path) if as_json else format_text(path, verbose))
        if pcap:
            n = write_pcap(path, pcap)
            print(f"wrote {n} packets to {pcap}", file=sys.stderr)
    except LabError as e:
        print(f"lab: {e}", file=sys.stderr)
        return 1
    return 0 if path.outcome in ("answered", "delivered") else 3
