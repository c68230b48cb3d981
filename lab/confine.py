"""Where a command came from, and what it may touch: scenario files are data.

A command typed by the user (command bar, `lab shell`, `lab run` of their own script) may name any file
and, where the engine allows it, run other programs. A command that comes from a scenario file (a step,
a task's solution, an output check, and the checks `grade` runs) may not: the player and `grade` set an
Origin for the duration (a ContextVar, so it follows the calling thread: the TUI's player worker and its
typed runner, never the learner's own commands in another worker), and the engine asks it

    resolve_path(path, what) -> str      file arguments (Op.file_args: trace --pcap, iptables-restore FILE):
                                         realpath inside the scenario's directory or the lab temp dir,
                                         relative paths taken from the scenario's directory; else LabError
                                         (`grade FILE`: the same rule in lab.scenario.loader.resolve)
    exec_allowed(engine) -> bool         other programs run only if the engine and the origin both allow it

    with scenario_origin(scenario_file, allow_exec=engine.allow_exec): player.run_step(...)

The lab temp dir is $TMPDIR/lab-UID (created 0700; used only if it is ours and not a symlink).
Leaves parsing to lab.commands and the reading itself to lab.safefile and the backend.
"""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from contextvars import ContextVar
from dataclasses import dataclass

from lab.errors import LabError

MAX_DEPTH = 4          # a scenario grading a scenario grading ...: enough for any real use, never a loop


@dataclass(frozen=True)
class Origin:
    name: str                    # the scenario file as shown in messages
    directory: str | None        # realpath of the scenario's directory (None: a scenario given as text)
    allow_exec: bool = False
    depth: int = 1

    @property
    def roots(self) -> tuple[str, ...]:
        """Realpaths a file argument may resolve into; the first is where relative paths start. The lab
        temp dir is made only when a file argument is checked."""
        tmp = lab_tmp_dir()
        return tuple(r for r in (self.directory, tmp) if r)

    def contains(self, real: str) -> bool:
        return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in self.roots)


_ORIGIN: ContextVar[Origin | None] = ContextVar("lab_origin", default=None)


def current() -> Origin | None:
    """The scenario the running command came from, or None for a command the user typed."""
    return _ORIGIN.get()


def lab_tmp_dir() -> str | None:
    """$TMPDIR/lab-UID as a realpath, created 0700 if missing; None if it exists but is not ours."""
    d = os.path.join(tempfile.gettempdir(), f"lab-{os.getuid()}")
    try:
        os.mkdir(d, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    try:
        st = os.lstat(d)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        return None
    return os.path.realpath(d)


def origin_for(scenario_file: str, allow_exec: bool) -> Origin:
    """The confinement of commands from `scenario_file` ("" = a scenario given as text: temp dir only).
    The root is the directory holding the file as named (a symlinked scenario does not widen it)."""
    parent = current()
    directory = os.path.realpath(os.path.dirname(os.path.abspath(scenario_file))) if scenario_file else None
    allow = allow_exec and (parent is None or parent.allow_exec)
    return Origin(scenario_file or "<scenario>", directory, allow, (parent.depth + 1) if parent else 1)


@contextlib.contextmanager
def scenario_origin(scenario_file: str, allow_exec: bool = False):
    """Run the body's commands as coming from `scenario_file`. Nested origins never widen the outer one."""
    o = origin_for(scenario_file, allow_exec)
    if o.depth > MAX_DEPTH:
        raise LabError(f"{o.name}: scenarios run from scenarios nest more than {MAX_DEPTH} deep (a grade that "
                       "grades itself?)", "A scenario's commands and checks should not grade scenarios.")
    token = _ORIGIN.set(o)
    try:
        yield o
    finally:
        _ORIGIN.reset(token)


def refusal(path: str, what: str, o: Origin) -> LabError:
    places = " or ".join(o.roots) if o.roots else "nowhere"
    return LabError(f'{what}: "{path}" is outside the scenario\'s directory: a scenario file may only use '
                    f"files under {places}",
                    "Scenario files are data. Copy the file next to the scenario, or type the command yourself.")


def resolve_path(path: str, what: str) -> str:
    """`path` as the command should use it: unchanged for typed commands; for a scenario's command, the
    realpath (relative = from the scenario's directory) if it lies inside the origin's roots, else LabError."""
    o = current()
    if o is None:
        return path
    roots = o.roots
    if not roots:
        raise refusal(path, what, o)
    real = os.path.realpath(os.path.join(roots[0], path))
    if not o.contains(real):
        raise refusal(path, what, o)
    return real


def exec_allowed(engine) -> bool:
    """Whether a program other than lab's own commands may run now."""
    o = current()
    return bool(engine.allow_exec) and (o is None or o.allow_exec)
