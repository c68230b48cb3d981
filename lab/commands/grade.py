"""`grade` command: check the lab you built by hand against a scenario's checks, without building
anything: `grade SCENARIO [--step N]` (default: the scenario's last step that has checks or a task).

Pure: validates the shape only; the engine loads the scenario and runs its checks
(lab.scenario.headless.grade_lab) against the live lab.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lab.commands.base import Context, Op, ParseError, ReadOp

HELP = ("Usage: grade SCENARIO [--step N]\n"
        "Checks the lab as it is now against a scenario's checks (nothing is built or changed), e.g.\n"
        "  grade fox-bear            the final step's checks: is my hand-built fox/bear lab complete?\n"
        "  grade fox-bear --step 3   the checks of step 3\n"
        "Scenarios: lab play --list")


@dataclass(frozen=True)
class GradeOp(ReadOp):
    runs_above: ClassVar[bool] = True
    ref: str = ""
    step: int | None = None        # 1-based


def parse(head: str, argv: list[str], ctx: Context, ns: str | None) -> Op:
    if not argv or argv[0] in ("help", "-h", "--help"):
        from lab.commands.ip import HelpOp

        return HelpOp(ns, text=HELP)
    ref, step = None, None
    it = iter(argv)
    for w in it:
        if w in ("--step", "-s"):
            v = next(it, None)
            if v is None or not v.isdigit() or int(v) < 1:
                raise ParseError(f'grade: --step needs a step number (1, 2, ...), not "{v or ""}"',
                                 "Try: grade fox-bear --step 2")
            step = int(v)
        elif w.startswith("-"):
            raise ParseError(f'grade: unknown option "{w}"', HELP.splitlines()[0])
        elif ref is None:
            ref = w
        else:
            raise ParseError(f'grade: one scenario at a time ("{ref}", then "{w}")', HELP.splitlines()[0])
    if ref is None:
        raise ParseError("grade: which scenario?", HELP.splitlines()[0])
    return GradeOp(ns, ref=ref, step=step)
