"""The headless scenario player: steps forward and back, rebuilds the lab to any step, runs checks,
gives hints, applies a task's documented solution. Results are data; drawing is the caller's (the
TUI player pane, `lab play`'s text mode, `lab play --check`).

    player = Player(scenario, engine)           # engine: lab.engine.Engine (allow_exec decides ExecOp)
    player.start()                              # reset the lab, run the topology -> list[Result]
    run = player.next()                         # run the next step's commands -> StepRun
    player.check()                              # the current step's checks + task checks -> [CheckResult]
    player.hint()                               # the next rung of the current step's hint ladder (or None)
    player.reveal()                             # may failing checks show their fix yet? (see below)
    player.solve()                              # apply the current task's solution -> [Result]
    player.goto(n)                              # rebuild from scratch up to step n (0-based) -> StepRun
    player.prev(); player.replay()              # goto(index - 1); goto(index)
    player.index, player.step, player.steps     # where we are (-1 = before step 1)

Commands and checks run inside the scenario's lab.confine origin (its files only; no other program
without --allow-exec). Commands go through `runner(line) -> Result` (default: engine.run). The TUI
passes a runner that types each command into its command bar so learners see it run (in the calling
thread, so the origin holds); rebuilds (goto) use `rebuild_runner`
(default: engine.run, no typing). Checks block (probes wait up to a few seconds): call them from a
worker. `on_event(kind, payload)` (optional) reports progress: ("reset", None), ("command", Result),
("step", StepRun), ("check", CheckResult).

A "your turn" task does not give its answer away: its failing checks say what is wrong, and their fix
(CheckResult.fix) is for the learner's eyes only once reveal() says so: after the last rung of the hint
ladder, or once the solution was shown or applied. Outside a task, fixes show at once.

Rebuilding: the first start() captures a Baseline of the lab (lab.scenario.reset); every goto/start
restores it (deleting what the scenario created) and replays setup + the commands of steps 0..n,
applying the solution of every task before step n (and waiting for its checks that have a `timeout`: a
daemon converging), so step n starts exactly as the author intended.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from lab import confine
from lab.scenario.checks import CheckResult, evaluate
from lab.scenario.reset import Baseline
from lab.scenario.schema import Command, Scenario, Step

if TYPE_CHECKING:
    from lab.engine import Result


def missing_program(scenario: Scenario) -> tuple[Command, str] | None:
    """The first command of `scenario` that runs bird or birdc where BIRD is not installed, with the reason
    naming the package; None when nothing is missing."""
    from lab.commands import FAMILIES
    from lab.commands.base import tokenize
    from lab.errors import LabError

    for c in scenario.all_commands():
        try:
            w = tokenize(c.text)
        except LabError:
            continue
        while w[:3] == ["ip", "netns", "exec"] and len(w) > 4:
            w = w[4:]
        if len(w) > 1 and w[0] not in FAMILIES:
            w = w[1:]                            # NS CMD
        if w and w[0] in ("bird", "birdc"):
            from lab.backend.bird import find

            try:
                find(w[0])
            except LabError as e:
                return c, f"this scenario runs {w[0]}: {e}"
    return None


def missing_feature(scenario: Scenario) -> tuple[Command, str] | None:
    """The scenario's `requires:` line with the reason, when this kernel lacks a feature it names ("this scenario
    needs the kernel's vlan (8021q) support, which this kernel lacks"); None when it has them all."""
    if not scenario.requires:
        return None
    from lab.scenario import requires

    lacks = requires.missing(scenario.requires)
    if not lacks:
        return None
    return (Command(f"requires: [{', '.join(scenario.requires)}]", scenario.requires_line),
            f"{requires.message(lacks)}\n{requires.hint(lacks)}")


def unmet(scenario: Scenario) -> tuple[Command, str] | None:
    """What stops the scenario before anything is built: a kernel feature it requires, a program it runs."""
    return missing_feature(scenario) or missing_program(scenario)


@dataclass
class StepRun:
    index: int
    step: Step
    results: list = field(default_factory=list)   # lab.engine.Result of each command, in order
    failed: Result | None = None                   # the first failing Result (the step stopped there)
    failed_command: Command | None = None

    @property
    def ok(self) -> bool:
        return self.failed is None


class Player:
    def __init__(self, scenario: Scenario, engine, runner: Callable | None = None,
                 rebuild_runner: Callable | None = None, on_event: Callable | None = None):
        self.scenario = scenario
        self.engine = engine
        self.runner = runner or engine.run
        self.rebuild_runner = rebuild_runner or engine.run
        self.on_event = on_event or (lambda kind, payload: None)
        if scenario.source:     # the learner types the narration's relative paths (bgp-bird/r2.conf)
            import os

            engine.files_from = os.path.dirname(os.path.abspath(scenario.source))
        self.index = -1
        self.baseline: Baseline | None = None
        self.solved: set[int] = set()
        self._hints_shown: dict[int, int] = {}
        self._revealed: set[int] = set()
        self.setup_results: list = []

    # ---- where we are -------------------------------------------------------------------------------
    @property
    def steps(self) -> tuple[Step, ...]:
        return self.scenario.steps

    @property
    def step(self) -> Step | None:
        return self.steps[self.index] if 0 <= self.index < len(self.steps) else None

    @property
    def at_end(self) -> bool:
        return self.index >= len(self.steps) - 1

    # ---- running ------------------------------------------------------------------------------------
    def _origin(self):
        """The scenario's commands and checks run as data (lab.confine): files stay in its directory, and
        other programs run only if the engine allows them (lab play --allow-exec)."""
        return confine.scenario_origin(self.scenario.source, allow_exec=self.engine.allow_exec)

    def _run(self, cmds, runner) -> tuple[list, Result | None, Command | None]:
        results = []
        for c in cmds:
            with self._origin():
                r = runner(c.text)
            r.lineno = c.line
            results.append(r)
            self.on_event("command", r)
            if not r.ok:
                return results, r, c
        return results, None, None

    def _evaluate(self, c):
        with self._origin():
            r = evaluate(c, self.engine)
        self.on_event("check", r)
        return r

    def reset(self) -> list[str]:
        """Back to the lab as it was before the scenario (captured on first use)."""
        if self.baseline is None:
            self.baseline = Baseline.capture(self.engine.backend)
            notes = []
        else:
            notes = self.baseline.restore(self.engine.backend)
        self.index = -1
        self.solved.clear()
        self._hints_shown.clear()
        self._revealed.clear()
        self.on_event("reset", None)
        return notes

    def start(self, runner: Callable | None = None) -> StepRun:
        """Reset the lab and build the scenario's topology. Returns a pseudo step run (index -1); one that
        failed at once, building nothing, when the kernel lacks a feature the scenario requires (vlan, netem...)
        or the scenario runs a program that is not installed (bird)."""
        missing = unmet(self.scenario)
        if missing is not None:
            from lab.engine import Result

            refused = Result(line=missing[0].text, error=missing[1], lineno=missing[0].line)
            return StepRun(-1, Step(title="Topology"), [refused], refused, missing[0])
        self.reset()
        results, bad, cmd = self._run(self.scenario.setup, runner or self.runner)
        self.setup_results = results
        run = StepRun(-1, Step(title="Topology"), results, bad, cmd)
        return run

    def run_step(self, i: int, runner: Callable | None = None) -> StepRun:
        """Run step i's commands (the lab should be at step i-1). Moves the player to step i."""
        st = self.steps[i]
        results, bad, cmd = self._run(st.commands, runner or self.runner)
        self.index = i
        run = StepRun(i, st, results, bad, cmd)
        self.on_event("step", run)
        return run

    def next(self) -> StepRun | None:
        if self.at_end:
            return None
        if self.index == -1 and self.baseline is None:
            self.start()
        return self.run_step(self.index + 1)

    def goto(self, n: int) -> StepRun:
        """Rebuild the lab from scratch up to and including step n (solutions of earlier tasks applied)."""
        n = max(0, min(n, len(self.steps) - 1))
        setup = self.start(self.rebuild_runner)
        if not setup.ok:
            return StepRun(-1, setup.step, setup.results, setup.failed, setup.failed_command)
        for i in range(n):
            run = self.run_step(i, self.rebuild_runner)
            if not run.ok:
                return run
            if self.steps[i].task:
                res = self.solve(i, self.rebuild_runner)
                if res and not res[-1].ok:
                    return StepRun(i, self.steps[i], res, res[-1], None)
                self._settle(i)
        return self.run_step(n)

    def _settle(self, i: int) -> None:
        """During a rebuild, after step i's solution: wait for its task's checks that have a `timeout` (the
        author's word that the fix takes a while to show: a routing daemon converging), so the next step's
        commands see the lab as the learner would have."""
        task = self.steps[i].task
        for c in task.checks if task else ():
            if c.args.get("timeout") and c.kind not in ("ping", "tcp", "udp", "throughput"):
                with self._origin():
                    evaluate(c, self.engine)

    def prev(self) -> StepRun | None:
        return self.goto(self.index - 1) if self.index > 0 else None

    def replay(self) -> StepRun:
        return self.goto(max(self.index, 0))

    # ---- checks, hints, solutions -------------------------------------------------------------------
    def check(self, i: int | None = None, task: bool = True) -> list[CheckResult]:
        """Evaluate step i's checks (default: the current step), then its task's checks, in order (a check
        may look at what an earlier one stirred: "no ARP entry yet", then a ping). Ping checks next to each
        other run side by side (each waits up to its timeout when the path is broken, as a task's checks
        are at first: one after another they made a learner wait seconds); a tcp or udp check listens on
        its server's port, so those run alone."""
        i = self.index if i is None else i
        st = self.steps[i]
        checks = list(st.checks + (st.task.checks if task and st.task else ()))
        out: list[CheckResult] = []
        k = 0
        while k < len(checks):
            run = 1
            while checks[k].kind == "ping" and k + run < len(checks) and checks[k + run].kind == "ping":
                run += 1
            if run == 1:
                out.append(self._evaluate(checks[k]))
            else:
                with ThreadPoolExecutor(min(run, 8), thread_name_prefix="lab-check") as ex:
                    out += ex.map(self._evaluate, checks[k:k + run])
            k += run
        return out

    def task_checks(self, i: int | None = None) -> list[CheckResult]:
        i = self.index if i is None else i
        st = self.steps[i]
        return [self._evaluate(c) for c in (st.task.checks if st.task else ())]

    def hints(self, i: int | None = None) -> tuple[str, ...]:
        i = self.index if i is None else i
        st = self.steps[i]
        return (st.task.hints if st.task else ()) + st.hints

    def hint(self, i: int | None = None) -> str | None:
        """The next hint of the ladder (each call says a little more); None when there are no more."""
        i = self.index if i is None else i
        ladder = self.hints(i)
        k = self._hints_shown.get(i, 0)
        if k + 1 >= len(ladder):
            self._revealed.add(i)      # the last rung (or none left): the checks' fixes may show now
        if k >= len(ladder):
            return None
        self._hints_shown[i] = k + 1
        return ladder[k]

    def hints_left(self, i: int | None = None) -> int:
        i = self.index if i is None else i
        return len(self.hints(i)) - self._hints_shown.get(i, 0)

    def reveal(self, i: int | None = None) -> bool:
        """May step i's failing checks show their fix? Always outside a task; in a task only after the last
        hint, or once its solution was shown (show_solution) or applied."""
        i = self.index if i is None else i
        if not 0 <= i < len(self.steps) or self.steps[i].task is None:
            return True
        return i in self._revealed or i in self.solved

    def show_solution(self, i: int | None = None) -> tuple[Command, ...]:
        """The task's solution, to show (not apply); from now on its checks' fixes show too."""
        i = self.index if i is None else i
        st = self.steps[i]
        self._revealed.add(i)
        return st.task.solution if st.task else ()

    def solve(self, i: int | None = None, runner: Callable | None = None) -> list:
        """Apply the documented solution of step i's task. Returns the Results."""
        i = self.index if i is None else i
        st = self.steps[i]
        if not st.task:
            return []
        self._revealed.add(i)
        results, bad, _ = self._run(st.task.solution, runner or self.runner)
        if bad is None:
            self.solved.add(i)
        return results
