"""Guided scenarios: YAML files in scenarios/ that `lab play` (and the TUI's player pane) play step by
step through the same command engine as everything else, with checks, hints and "your turn" tasks.

Modules (no kernel access above the line):
    yamlpos   YAML -> plain values that remember their line numbers (safe: no object tags)
    schema    the format (see its docstring), validated into Scenario/Step/Task/Check dataclasses;
              ScenarioError lists every problem as `file:line: what was expected`
    loader    load(path_or_shipped_name), shipped(), load_all()
    ------
    probes    in-process ping / TCP / UDP / throughput between namespaces (sockets opened inside them)
    checks    evaluate(check, engine) -> CheckResult(status, label, explanation, data)
    reset     Baseline.capture/restore: undo exactly what a scenario added (for "go to step N")
    player    Player: start/next/prev/goto/replay/check/task_checks/hint/solve (API in its docstring)
    headless  check_scenario(scenario, engine) -> Report: `lab play FILE --check`
    export    export_sh/export_dot/export_mermaid(backend): `lab export`, `lab play --export-*`
    cli       `lab play` (--list, --check, text player)

For the TUI player pane:
    from lab.scenario.loader import load
    from lab.scenario.player import Player
    player = Player(load(name), engine, runner=type_into_command_bar, on_event=post_message)
    player.start(); player.next(); player.goto(n); player.check(); player.hint(); player.solve()
Steps carry `narration` (Markdown), `commands` ([Command(text, line)]), `checks`, `hints`, and `task`
(goal, checks, hints ladder, solution, explanation). Checks block for up to a few seconds: run them in a
worker. CheckResult.status is pass | fail | skip (e.g. no tracer) | error (the check itself could not run).
"""
