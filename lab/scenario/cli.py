"""`lab play`: list, check or play a scenario.

    lab play --list                     the shipped scenarios
    lab play FILE|NAME --check          play every step and check headless; exit 1 with a report on the
                                        first failure (grading, CI)
    lab play FILE|NAME                  play it: in the TUI when it has a player, else a text player
    options: --allow-exec (let the scenario run other programs), --step N (start at step N),
             --export-sh/--export-dot/--export-mermaid OUT (write the lab when done), -v (show commands)

Runs inside the sandbox unless --host (lab/cli.py's setup()). The lab lives as long as this process.
"""
from __future__ import annotations

import argparse
import os
import sys

from lab.errors import LabError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lab play", description="Play a guided scenario (a file, or a shipped one by name).")
    p.add_argument("scenario", nargs="?", help="scenario file or shipped name (see --list)")
    p.add_argument("--list", action="store_true", help="list the shipped scenarios")
    p.add_argument("--check", action="store_true",
                   help="run every step and check headless; exit non-zero on the first failure")
    p.add_argument("--allow-exec", action="store_true",
                   help="let the scenario run programs other than lab commands (ping, sh, ...)")
    p.add_argument("--step", type=int, metavar="N", help="start at step N (the lab is rebuilt up to it)")
    p.add_argument("--text", action="store_true", help="use the text player even if the TUI is available")
    p.add_argument("-v", "--verbose", action="store_true", help="--check: show each command")
    p.add_argument("--export-sh", metavar="OUT", help="when done, write the lab as a shell script")
    p.add_argument("--export-dot", metavar="OUT", help="when done, write the topology as Graphviz")
    p.add_argument("--export-mermaid", metavar="OUT", help="when done, write the topology as Mermaid")
    return p


def list_scenarios(out=sys.stdout) -> int:
    from lab.scenario.loader import load_all, scenarios_dir
    from lab.scenario.schema import ScenarioError

    items = load_all()
    if not items:
        print(f"No scenarios in {scenarios_dir()}", file=out)
        return 1
    w = max(len(p.stem) for p, _ in items)
    for p, sc in items:
        if isinstance(sc, ScenarioError):
            print(f"{p.stem:<{w}}  (broken: {sc.errors[0][1]})", file=out)
        else:
            meta = ", ".join(x for x in (sc.level, sc.duration, "exercise" if sc.kind == "exercise" else "") if x)
            print(f"{p.stem:<{w}}  {sc.title}  [{meta}]", file=out)
    print("\nPlay one: lab play NAME    Check one: lab play NAME --check", file=out)
    return 0


def _export(engine, ns) -> None:
    from lab.scenario.export import export

    for fmt, path in (("sh", ns.export_sh), ("dot", ns.export_dot), ("mermaid", ns.export_mermaid)):
        if path:
            text = export(engine.backend, fmt)
            try:
                with open(path, "w") as f:
                    f.write(text)
            except OSError as e:
                raise LabError(f"cannot write {path}: {e.strerror}") from None
            print(f"wrote {path}", file=sys.stderr)


def main(args) -> int:
    ns = build_parser().parse_args(list(getattr(args, "args", []) or []))
    if ns.list:
        return list_scenarios()
    if not ns.scenario:
        print("lab play: say which scenario (lab play --list shows them)", file=sys.stderr)
        return 2
    from lab.scenario.loader import load

    sc = load(ns.scenario)           # ScenarioError (a LabError) -> printed by lab.cli, exit 1
    from lab.engine import setup

    engine = setup(bool(getattr(args, "host", False)), bool(getattr(args, "read_only", False)))
    engine.allow_exec = ns.allow_exec
    if ns.check:
        from lab.scenario.headless import check_scenario

        rep = check_scenario(sc, engine, emit=lambda s: print(s, flush=True), verbose=ns.verbose)
        _export(engine, ns)
        return 0 if rep.ok else 1
    # the dashboard on a terminal, or in a browser (`lab serve` seats run under Textual's web driver)
    if not ns.text and (sys.stdin.isatty() or os.environ.get("TEXTUAL_DRIVER")):
        from lab.ui.app import run_app

        rc = run_app(engine, theme=getattr(args, "theme", None), scenario=sc, scenario_step=ns.step)
        _export(engine, ns)
        return rc
    rc = TextPlayer(sc, engine).run(ns.step)
    _export(engine, ns)
    return rc


class TextPlayer:
    """A plain-terminal player: narration, commands as they run, checks, hints; the learner may type
    lab commands at the prompt for "your turn" tasks."""

    HELP = ("Enter/n next step · b back · r replay · g N go to step N · c check · h hint · s show the solution "
            "· q quit · anything else runs as a lab command")

    def __init__(self, scenario, engine, out=None, inp=None):
        from lab.scenario.player import Player

        self.sc = scenario
        self.engine = engine
        self.out = out or sys.stdout
        self.inp = inp or sys.stdin
        self.player = Player(scenario, engine, runner=self._run_visibly)

    def say(self, s: str = "") -> None:
        print(s, file=self.out, flush=True)

    def _run_visibly(self, line: str):
        self.say(f"$ {line}")
        r = self.engine.run(line)
        if r.output:
            self.say(r.output)
        if not r.ok:
            self.say(f"error: {r.error}")
        return r

    def show_step(self, run) -> None:
        st = run.step
        self.say("")
        self.say(f"== Step {run.index + 1}/{len(self.sc.steps)}: {st.title}")
        if st.narration:
            self.say(st.narration.rstrip())
        if st.task:
            self.say("\n>> Your turn: " + st.task.goal.strip())
        self.show_checks(task=False)

    def show_checks(self, task: bool = True) -> bool:
        st = self.player.step
        if st is None:
            return True
        res = self.player.check(task=task)
        for r in res:
            self.say(r.text(reveal=self.player.reveal()))
        return all(r.ok for r in res)

    def run(self, start: int | None = None) -> int:
        self.say(f"# {self.sc.title}")
        self.say(self.sc.summary.rstrip())
        if self.sc.setup:
            self.say("\n(building the topology)")
        setup = self.player.start()
        if setup.failed is not None:
            line = setup.failed_command.line if setup.failed_command else "?"
            self.say(f"the topology failed at line {line}: {setup.failed.error}")
            return 1
        if start:
            self.show_step(self.player.goto(start - 1))
        else:
            self.show_step(self.player.next())
        self.say(self.HELP)
        while True:
            try:
                self.out.write(f"[{self.player.index + 1}/{len(self.sc.steps)}]> ")
                self.out.flush()
                line = self.inp.readline()
            except KeyboardInterrupt:
                return 130
            if not line:
                return 0
            cmd = line.strip()
            if cmd in ("", "n"):
                st = self.player.step
                if st and st.task and self.player.index not in self.player.solved:
                    if not all(r.ok for r in self.player.task_checks()):
                        self.say("The task is not done yet (c to check, h for a hint, s for the solution).")
                        if cmd == "":
                            continue
                run = self.player.next()
                if run is None:
                    self.say("That was the last step. q to quit, b to go back.")
                else:
                    self.show_step(run)
            elif cmd == "b":
                run = self.player.prev()
                if run:
                    self.show_step(run)
            elif cmd == "r":
                self.show_step(self.player.replay())
            elif cmd.startswith("g ") and cmd[2:].strip().isdigit():
                self.show_step(self.player.goto(int(cmd[2:]) - 1))
            elif cmd == "c":
                if self.show_checks() and self.player.step and self.player.step.task:
                    if self.player.step.task.explanation:
                        self.say("Well done. " + self.player.step.task.explanation.strip())
            elif cmd == "h":
                h = self.player.hint()
                self.say(h.strip() if h else "No more hints (s shows the solution).")
            elif cmd == "s":
                st = self.player.step
                if st and st.task and st.task.solution:
                    self.say("The solution:")
                    for c in self.player.show_solution():
                        self.say(f"  {c.text}")
                    if st.task.explanation:
                        self.say(st.task.explanation.rstrip())
                else:
                    self.say("This step has no task.")
            elif cmd in ("q", "quit", "exit"):
                return 0
            elif cmd in ("?", "help"):
                self.say(self.HELP)
            else:
                self._run_visibly(cmd)
