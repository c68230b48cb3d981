"""The one command engine: text -> parse -> apply -> Result. Used by the TUI command bar, `lab shell`,
`lab run`, and scenario steps, so a command behaves the same wherever it is typed.

Never raises for user input: every failure becomes a Result with an iproute2-style error.
Commands from a scenario file (lab.confine's Origin, set by the player and by `grade`) keep their file
arguments inside the scenario's directory and run no other program unless allowed.
"""
from __future__ import annotations

import logging
import os
import subprocess
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Iterable

from lab import confine
from lab.commands import parse
from lab.commands.base import Context, LiveContext, Op
from lab.errors import LabError

if TYPE_CHECKING:
    from lab.backend.api import LabBackend

log = logging.getLogger("lab")


@dataclass
class Result:
    line: str
    op: Op | None = None
    output: str = ""
    error: str | None = None
    lineno: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _what(op: Op) -> str:
    """The command's name for a refusal: "trace", "iptables-restore"..."""
    name = type(op).__name__
    if name == "IptablesRestore":
        return "ip6tables-restore" if getattr(op, "family", 4) == 6 else "iptables-restore"
    return name.removesuffix("Op").lower()


# Ops whose work lives above the engine (trace: lab.tracer; grade: lab.scenario): their layers register a
# runner (engine, op) -> text here when lab.extensions.load() imports them (the entry point hands that
# function over as LOAD_HANDLERS, called on the first such op), so nothing below imports upward.
HANDLERS: dict[type, Callable] = {}
LOAD_HANDLERS: Callable[[], None] | None = None   # set by the entry point: imports them on first need


def handles(*op_types: type):
    def deco(fn):
        for t in op_types:
            HANDLERS[t] = fn
        return fn
    return deco


class Engine:
    """Args:
        backend: the kernel's door (lab.backend.api.LabBackend; lab.backend.core.Backend implements it).
        allow_exec: whether ExecOp (other programs: ping, bash...) may run, captured, interactive or as
            the TUI's shell. Scenario files run with this off unless the user opts in (and `grade` runs a
            scenario's checks with it off whatever this says: lab.confine).
        interactive: run ExecOp attached to the terminal (lab shell) instead of capturing output.

    `files_from` (set by the scenario player: the directory of the scenario being played): a relative file
    argument of a typed command that does not exist from the working directory is taken from there, so a
    learner can type the paths the narration shows (`r2 bird -c bgp-bird/r2.conf`).
    """

    def __init__(self, backend: LabBackend, allow_exec: bool = True, interactive: bool = False):
        self.backend = backend
        self.allow_exec = allow_exec
        self.interactive = interactive
        self.after_change: list[Callable[[Result], None]] = []
        self.files_from: str | None = None

    def context(self) -> Context:
        """Namespace names for the parser, listed when a parser asks for them (LiveContext)."""
        ctx = getattr(self, "_live", None)
        if ctx is None:
            ctx = self._live = LiveContext(self.namespace_names)
        return ctx

    def namespace_names(self) -> tuple[str, ...]:
        """The namespaces' names, re-listed only when /run/netns changed (cheap stat) or, with --host, when the
        namespaces found elsewhere changed (looked for at most once a second)."""
        from lab.backend import nsutil

        try:
            stamp: tuple | None = (os.stat(nsutil.NETNS_RUN_DIR).st_mtime_ns,
                                   nsutil._discover() if nsutil._discover is not None else 0)
        except OSError:
            stamp = None
        cached = getattr(self, "_ctx", None)
        if cached is None or stamp is None or cached[0] != stamp:
            cached = (stamp, tuple(self.backend.namespaces()))
            self._ctx = cached
        return cached[1]

    def parse(self, line: str) -> Op | None:
        return parse(line, self.context())

    def run(self, line: str) -> Result:
        res = Result(line=line)
        try:
            op = self.parse(line)
            res.op = op
            if op is None:
                return res
            if op.mutates and self.backend.read_only:
                from lab.backend.core import refuse_read_only

                refuse_read_only(op, line)     # (the backend refuses too: this names the command as typed)
            res.output = self.apply(op)
        except LabError as e:
            res.error = str(e)
        except OSError as e:
            res.error = f"{e.strerror or e}" + (f": {e.filename}" if getattr(e, "filename", None) else "")
        except Exception as e:  # noqa: BLE001  never a traceback for the user
            log.exception("internal error running %r", line)
            res.error = f"internal error: {type(e).__name__}: {e} (please report this command)"
        if res.op is not None and getattr(res.op, "mutates", True) and res.ok:
            for fn in self.after_change:
                try:
                    fn(res)
                except Exception:  # noqa: BLE001
                    log.exception("after_change listener failed")
        return res

    def apply(self, op: Op) -> str:
        from lab.commands.ip import ExecOp

        if op.file_args and confine.current() is not None:   # a scenario's command: its files stay in its directory
            op = replace(op, **{f: confine.resolve_path(getattr(op, f), _what(op))
                                for f in op.file_args if getattr(op, f)})
        elif op.file_args and self.files_from:
            op = replace(op, **{f: self._typed_path(getattr(op, f)) for f in op.file_args if getattr(op, f)})
        if op.runs_above:
            fn = HANDLERS.get(type(op))
            if fn is None and LOAD_HANDLERS is not None:
                LOAD_HANDLERS()
                fn = HANDLERS.get(type(op))
            if fn is None:
                raise LabError(f"internal: nothing runs {type(op).__name__} (lab.extensions.load() was not called)")
            return fn(self, op)
        if isinstance(op, ExecOp):
            self._check_exec(op)
            if self.interactive:
                return self._exec_interactive(op)
        return self.backend.apply(op)

    def _typed_path(self, path: str) -> str:
        """A typed relative path missing here but present in the played scenario's directory: that one."""
        if os.path.isabs(path) or path == "-" or os.path.exists(path) or not self.files_from:
            return path
        there = os.path.join(self.files_from, path)
        return there if os.path.exists(there) else path

    def _check_exec(self, op) -> None:
        """Other programs run only when allowed: the same rule for captured, interactive and TUI shells."""
        if self.backend.read_only:
            from lab.backend.core import refuse_read_only

            refuse_read_only(op)
        if not confine.exec_allowed(self):
            raise LabError(f'Running "{op.argv[0]}" is not allowed here: scenario files may only run lab commands.',
                           "Play the scenario with --allow-exec to let it run other programs.")

    def _exec_interactive(self, op, env: dict[str, str] | None = None) -> str:
        from lab.backend import nsutil

        self._check_exec(op)
        self.backend.require_ns(op.ns)
        with nsutil.in_netns(op.ns):
            try:
                rc = subprocess.call(list(op.argv), env={**os.environ, "LAB_NETNS": op.ns or "", **(env or {})},
                                     preexec_fn=nsutil.die_with_parent)
            except FileNotFoundError:
                raise LabError(f"{op.argv[0]}: command not found") from None
        if rc != 0:
            raise LabError(f"{op.argv[0]} exited with status {rc}")
        return ""

    def run_lines(self, lines: Iterable[str], keep_going: bool = False,
                  on_result: Callable[[Result], None] | None = None,
                  on_start: Callable[[int, str], None] | None = None) -> list[Result]:
        """Run a script: one command per line, `#` comments, `\\` continuations. Stops at the first error
        unless keep_going. Each Result carries its line number."""
        results = []
        buf, start = "", None
        for n, raw in enumerate(lines, 1):
            line = raw.rstrip("\n")
            if line.rstrip().endswith("\\"):
                buf += line.rstrip()[:-1] + " "
                start = start or n
                continue
            line = buf + line
            lineno = start or n
            buf, start = "", None
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if on_start:
                on_start(lineno, line)
            r = self.run(line)
            r.lineno = lineno
            results.append(r)
            if on_result:
                on_result(r)
            if not r.ok and not keep_going:
                break
        return results


# ---- opening a lab (the CLI's sub-commands share these) --------------------------------------------
def has_net_admin() -> bool:
    """CAP_NET_ADMIN in the effective set (root normally has it; a capability-less root does not)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) & (1 << 12))
    except OSError:
        pass
    return False


PRIVILEGED = False     # lab --privileged: the sandbox without a user namespace (set by lab.cli)


def setup(host: bool, read_only: bool = False):
    """Enter the sandbox (or check --host rights) and return a ready Engine (`read_only`: lab attach, every
    change refused)."""
    from lab.errors import LabError

    if read_only and not host:
        raise LabError("--read-only looks at this machine's own namespaces: use it with --host (or: lab attach).",
                       "The sandbox is yours to change: drop --read-only there.")
    if host and PRIVILEGED:
        raise LabError("--privileged is a kind of sandbox, and --host works on this machine's own namespaces: "
                       "use one of them.", "sudo lab --privileged: a private lab as the machine's root (IPVS works).")
    if host:
        if not has_net_admin():
            if read_only:
                raise LabError("lab attach (--host --read-only) needs root (CAP_NET_ADMIN): it enters every "
                               "namespace of this machine, and the tracer puts its own table in them.",
                               "Run it with sudo.")
            raise LabError("--host needs root (CAP_NET_ADMIN) to change this machine's network.",
                           "Run it with sudo, or drop --host to use the rootless sandbox.")
        from lab.backend import discover

        discover.enable()      # every namespace of the machine, containers' included, not only /run/netns
    else:
        from lab.backend.sandbox import enter_sandbox, is_machine_root

        if PRIVILEGED and not is_machine_root():
            raise LabError("--privileged needs the machine's own root: the sandbox then has no user namespace, so "
                           "what only that root may do (IPVS) works in it.",
                           "Run it with sudo: sudo lab --privileged ... (without it, the rootless sandbox).")
        enter_sandbox(userns=not PRIVILEGED)
    from lab.backend.core import Backend

    return Engine(Backend(host=host, read_only=read_only))


def read_scripts(files: list[str]) -> list[tuple[str, list[str]]]:
    """The lab scripts named by --setup (- = stdin), read before anything is built (UTF-8, bounded:
    lab.safefile). Raises LabError naming the file that cannot be read and why."""
    from lab.safefile import read_script

    return [read_script(f) for f in files]


def run_scripts(engine: Engine, scripts: list[tuple[str, list[str]]]) -> None:
    """Run --setup scripts through the engine; raises LabError "FILE:LINE: error" at the first failure."""
    from lab.errors import LabError

    for name, lines in scripts:
        bad = next((r for r in engine.run_lines(lines) if not r.ok), None)
        if bad is not None:
            raise LabError(f"{name}:{bad.lineno}: {bad.error}")
