"""The `lab` command line: the TUI (default), `shell`, `run`, `clean`, `trace`, `play`, `export`, `serve`.

Keeps start-up fast: argparse only; textual, prompt_toolkit, pyroute2 and scapy are imported by the
sub-command that needs them. Decides sandbox vs --host before anything else starts a thread.
"""
from __future__ import annotations

import argparse
import sys

from lab import __version__


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lab",
        description="A terminal network lab for Linux networking on the real kernel. "
                    "By default it runs in a private, rootless sandbox that disappears when it exits.")
    p.add_argument("--version", action="version", version=f"lab {__version__}")
    p.add_argument("--host", action="store_true",
                   help="work on this machine's real network namespaces (root); `lab clean` undoes what lab created")
    p.add_argument("--privileged", action="store_true",
                   help="(root) the sandbox without a user namespace: still private and gone when lab ends, and "
                        "what only the machine's root may do works in it (IPVS)")
    p.add_argument("--read-only", action="store_true",
                   help="with --host: look only; every command that would change the machine is refused")
    p.add_argument("--theme", default=None, help="TUI theme name or path to a theme file (see themes/)")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")
    tp = sub.add_parser("tui", help="open the live dashboard (the default)")
    tp.add_argument("--setup", action="append", default=[], metavar="FILE",
                    help="run this lab script first (the sandbox starts empty); repeatable, - for stdin")
    sub.add_parser("shell", help="an interactive prompt over the command engine")
    sub.add_parser("attach", help="the dashboard on this machine's own namespaces, read-only (lab --host "
                                  "--read-only tui): for live troubleshooting")
    r = sub.add_parser("run", help="run a file of lab commands (- for stdin)")
    r.add_argument("file")
    r.add_argument("--keep-going", action="store_true", help="do not stop at the first error")
    r.add_argument("-q", "--quiet", action="store_true", help="do not echo commands")
    r.add_argument("--then-shell", action="store_true", help="open `lab shell` afterwards (the sandbox lives on)")
    r.add_argument("--then-tui", action="store_true", help="open the dashboard afterwards (the sandbox lives on)")
    sub.add_parser("clean", help="--host: remove exactly what lab created on this machine")
    t = sub.add_parser("trace", help="inject a packet and trace it through the kernel's hooks",
                       description="Usage: lab trace [--setup FILE] NS PROTO DST[:PORT] [options]")
    t.add_argument("--setup", action="append", default=[], metavar="FILE",
                   help="run this lab script first (the sandbox starts empty)")
    t.add_argument("--json", action="store_true", help="print the path as data")
    t.add_argument("--pcap", metavar="FILE", help="write the packet as seen at each hop")
    t.add_argument("-v", "--verbose", action="store_true", help="when each step happened, and the trace's phases")
    t.add_argument("args", nargs=argparse.REMAINDER)
    pl = sub.add_parser("play", help="play a guided scenario")
    pl.add_argument("args", nargs=argparse.REMAINDER)
    ex = sub.add_parser("export", help="write the lab as a shell script or a topology graph")
    ex.add_argument("args", nargs=argparse.REMAINDER)
    sv = sub.add_parser("serve", help="serve the lab to browsers: one sandboxed lab per browser session",
                        add_help=False)
    sv.add_argument("args", nargs=argparse.REMAINDER)
    return p


def _die(msg: str, code: int = 1) -> int:
    print(f"lab: {msg}", file=sys.stderr)
    return code


def _die_with_the_seat_server() -> None:
    """A `lab serve` seat (LAB_SEAT_PARENT names the server) gets SIGKILL when the server goes, so a seat's
    sandbox never outlives its room; if the server is already gone, the seat ends now."""
    import os

    want = os.environ.pop("LAB_SEAT_PARENT", None)
    if not want:
        return
    from lab.backend.nsutil import die_with_parent

    die_with_parent()
    if str(os.getppid()) != want:
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> int:
    _die_with_the_seat_server()
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # `lab play --list`, `lab export --sh`: options before the sub-command's first word
        if args.cmd in ("play", "export", "trace", "serve"):
            args.args = extra + list(args.args)
        else:
            parser.error("unrecognized arguments: " + " ".join(extra))
    from lab import engine, extensions
    from lab.errors import LabError

    engine.LOAD_HANDLERS = extensions.load      # trace and grade load when first used
    engine.PRIVILEGED = args.privileged
    try:
        return _dispatch(args)
    except LabError as e:
        return _die(str(e))
    except KeyboardInterrupt:
        return 130


def _dispatch(args) -> int:
    cmd = args.cmd or "tui"
    if cmd == "attach":
        args.host = args.read_only = True
        cmd = "tui"
    if cmd == "clean":
        if args.read_only:
            return _die("clean changes the machine: it does not run in a read-only session (drop --read-only)")
        from lab.backend.clean import clean
        from lab.engine import has_net_admin

        if not has_net_admin():
            return _die("clean works on --host labs and needs root: sudo lab clean")
        report = clean()
        print(report)
        return 0 if report.ok else 1
    if cmd == "run":
        return _run(args)
    if cmd == "trace":
        from lab.tracer.cli import main as trace_main

        return trace_main(args)
    if cmd == "play":
        from lab.scenario.cli import main as play_main

        return play_main(args)
    if cmd == "export":
        from lab.scenario.export import main as export_main

        return export_main(args)
    if cmd == "serve":
        from lab.serve import main as serve_main

        return serve_main(args.args)
    from lab.engine import read_scripts, run_scripts, setup

    scripts = read_scripts(getattr(args, "setup", None) or [])
    engine = setup(args.host, args.read_only)
    run_scripts(engine, scripts)
    if cmd == "tui":
        rc = _dashboard(engine, args.theme)
        if rc is not None:
            return rc
    from lab.shell import run_shell

    return run_shell(engine)


def _dashboard(engine, theme: str | None) -> int | None:
    """Run the dashboard; None if the UI cannot be imported. Its watcher is made and its first read started
    (forked children, for a large lab) before the UI is imported, so the read goes on while textual loads."""
    from lab.backend.watch import prefetch_watcher

    watcher = prefetch_watcher(engine.backend)
    try:
        from lab.ui.app import run_app
    except ImportError:
        watcher.stop()
        return None
    return run_app(engine, theme=theme, watcher=watcher)


def _run(args) -> int:
    from lab.engine import setup
    from lab.safefile import read_script

    name, lines = read_script(args.file)      # LabError (unreadable, not UTF-8, too big) -> lab: message
    engine = setup(args.host, args.read_only)

    def echo(lineno, line):
        if not args.quiet:
            print(f"$ {line.strip()}", flush=True)

    def show(r):
        if r.output:
            print(r.output, flush=True)
        if not r.ok:
            print(f"{name}:{r.lineno}: {r.error}", file=sys.stderr, flush=True)

    results = engine.run_lines(lines, keep_going=args.keep_going, on_result=show, on_start=echo)
    failed = [r for r in results if not r.ok]
    if args.then_tui:
        if _dashboard(engine, args.theme) is None:
            from lab.errors import LabError

            raise LabError("the dashboard cannot start: textual is not importable",
                           "install lab's dependencies (./setup.sh), or use --then-shell")
    elif args.then_shell:
        from lab.shell import run_shell

        run_shell(engine)
    engine.backend.close()
    return 1 if failed else 0
