"""`lab play FILE --check`: play every step and check headless, stop at the first failure with a
clear report. For troubleshooting tasks it proves the exercise is sound: the task's checks are red on
the broken lab (unless `red_before: false`), the documented solution applies cleanly, then they are green.

`check_scenario(scenario, engine, emit=print) -> Report`. Used by the CLI and by the tests in-process.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from lab import confine
from lab.commands import FAMILIES, PROGRAMS
from lab.commands.base import tokenize
from lab.commands.grade import GradeOp
from lab.engine import handles
from lab.errors import LabError
from lab.scenario.player import Player, unmet
from lab.scenario.schema import Command, Scenario


@dataclass
class Report:
    scenario: Scenario
    ok: bool = True
    failure: str = ""                  # the first failure, explained
    lines: list[str] = field(default_factory=list)
    checks_passed: int = 0
    checks_skipped: int = 0

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def families_used(scenario: Scenario) -> set[str]:
    """The command families (first words) a scenario's commands use: ip, iptables, tc, ..."""
    used = set()
    nss = set()
    for c in scenario.all_commands():
        try:
            w = tokenize(c.text)
        except Exception:  # noqa: BLE001
            continue
        if w[:3] == ["ip", "netns", "add"] and len(w) > 3:
            nss.add(w[3])
        while w:
            if w[:3] == ["ip", "netns", "exec"] and len(w) > 4:
                w = w[4:]
                continue
            if w[0] not in FAMILIES and w[0] not in PROGRAMS and len(w) > 1 and (w[0] in nss or w[1] in FAMILIES):
                w = w[1:]   # NS CMD shorthand
                continue
            break
        if w:
            used.add(w[0])
    return used


def _where(scenario: Scenario, cmd: Command | None, line: int = 0) -> str:
    ln = cmd.line if cmd else line
    return f"{scenario.path}:{ln}: " if ln else f"{scenario.path}: "


def check_scenario(scenario: Scenario, engine, emit: Callable[[str], None] | None = None,
                   verbose: bool = False) -> Report:
    rep = Report(scenario)

    def say(s: str) -> None:
        rep.lines.append(s)
        if emit:
            emit(s)

    def fail(msg: str) -> Report:
        rep.ok = False
        rep.failure = msg
        say("FAILED: " + msg)
        return rep

    say(f"Scenario: {scenario.title} ({scenario.path})")
    missing = unmet(scenario)
    if missing is not None:                  # at once, before building anything
        return fail(f"{_where(scenario, missing[0])}{missing[1]}")
    p = Player(scenario, engine)
    setup = p.start()
    if setup.failed is not None:
        return fail(f"{_where(scenario, setup.failed_command)}topology: `{setup.failed.line}` failed: {setup.failed.error}")
    if scenario.setup:
        say(f"  topology: {len(scenario.setup)} commands ok")
    n = len(scenario.steps)
    for i, st in enumerate(scenario.steps):
        run = p.run_step(i)
        say(f"Step {i + 1}/{n}: {st.title}")
        if verbose:
            for r in run.results:
                say(f"  $ {r.line}")
        if run.failed is not None:
            return fail(f"{_where(scenario, run.failed_command)}step {i + 1}: `{run.failed.line}` failed: "
                        f"{run.failed.error}")
        for r in p.check(i, task=False):
            say("  " + str(r).replace("\n", "\n  "))
            if r.status == "skip":
                rep.checks_skipped += 1
            elif not r.passed:
                return fail(f"{_where(scenario, None, r.check.line)}step {i + 1}: check failed: {r.label}\n"
                            f"  {r.explanation}".rstrip())
            else:
                rep.checks_passed += 1
        if st.task:
            t = st.task
            if t.red_before:
                before = p.task_checks(i)
                if before and all(r.ok for r in before):
                    return fail(f"{_where(scenario, None, t.line)}step {i + 1}: the task's checks already pass "
                                "before the learner does anything (set red_before: false if that is intended)")
                for r in before:
                    say("  before the fix: " + str(r).split("\n")[0])
            res = p.solve(i)
            for r in res:
                if not r.ok:
                    return fail(f"{_where(scenario, None, r.lineno or 0)}step {i + 1}: solution `{r.line}` failed: "
                                f"{r.error}")
            say(f"  applied the solution ({len(res)} commands)")
            for r in p.task_checks(i):
                say("  " + str(r).replace("\n", "\n  "))
                if r.status == "skip":
                    rep.checks_skipped += 1
                elif not r.passed:
                    return fail(f"{_where(scenario, None, r.check.line)}step {i + 1}: after the solution, "
                                f"check failed: {r.label}\n  {r.explanation}".rstrip())
                else:
                    rep.checks_passed += 1
    say(f"OK: {n} steps, {rep.checks_passed} checks passed"
        + (f", {rep.checks_skipped} skipped" if rep.checks_skipped else ""))
    return rep


def grade_lab(scenario: Scenario, engine, step: int | None = None) -> tuple[bool, str]:
    """The `grade` command: check the lab as it is (nothing built or changed) against one step of a
    scenario: its checks and its task's. Default: the last step that has any (the finished lab).
    Returns (all passed, report). Raises LabError for a step that does not exist or has no checks."""
    from lab.errors import LabError
    from lab.scenario.checks import evaluate

    steps = scenario.steps
    if step is None:
        step = next((i + 1 for i, s in reversed(list(enumerate(steps)))
                     if s.checks or (s.task and s.task.checks)), None)
        if step is None:
            raise LabError(f'grade: "{scenario.title}" has no checks to grade against')
    if not 1 <= step <= len(steps):
        raise LabError(f'grade: "{scenario.title}" has steps 1 to {len(steps)}, not {step}')
    st = steps[step - 1]
    checks = st.checks + (st.task.checks if st.task else ())
    if not checks:
        with_checks = [i + 1 for i, s in enumerate(steps) if s.checks or (s.task and s.task.checks)]
        raise LabError(f"grade: step {step} of \"{scenario.title}\" has no checks",
                       f"Steps with checks: {', '.join(map(str, with_checks))}")
    results = [evaluate(c, engine) for c in checks]
    passed = sum(r.passed for r in results)
    counted = sum(r.status != "skip" for r in results)
    ok = all(r.ok for r in results)
    lines = [f'grading the lab against "{scenario.title}", step {step}/{len(steps)}: {st.title}']
    lines += ["  " + str(r).replace("\n", "\n  ") for r in results]
    if ok:
        lines.append(f"{passed}/{counted} checks pass: the lab does what step {step} asks.")
    else:
        lines.append(f"{passed}/{counted} checks pass.")
        hints = (st.task.hints if st.task else ()) + st.hints
        if hints:
            lines.append(f"hint: {hints[0]}")
    return ok, "\n".join(lines)


@handles(GradeOp)
def run_grade(engine, op: GradeOp) -> str:
    """`grade SCENARIO [--step N]` typed anywhere: the scenario's checks against the live lab, as data (its
    checks may run no program)."""
    from lab.scenario.loader import load

    sc = load(op.ref)
    with confine.scenario_origin(sc.source, allow_exec=False):
        ok, report = grade_lab(sc, engine, op.step)
    if not ok:
        raise LabError(report)
    return report
