"""The scenario player pane in the dashboard: narration, commands typed into the bar and run, checks
turning green, the hint ladder, and going back (the lab is rebuilt to that step)."""
from __future__ import annotations

import contextlib

import pytest

from lab.scenario.loader import load
from lab.ui.widgets.player import PlayerPane
from tests.conftest import kernel
from tests.test_ui_support import run_ui, screen_text, wait_for


def _pane(app) -> PlayerPane:
    return app.main.query_one(PlayerPane)


def test_player_plays_checks_hints_and_goes_back(lab):
    sc = load("01-veth-basics")

    async def body(app, pilot):
        def step1_drawn():
            text = screen_text(app)
            return ("✓" in text and "Step 1/" in text and "Two empty namespaces" in text
                    and "network namespace" in text)
        await wait_for(pilot, lambda: _pane(app).player.index == 0 and not _pane(app).busy
                       and _pane(app).check_results and step1_drawn(), timeout=20, what="step 1 with its checks drawn")
        pane = _pane(app)
        assert all(r.status == "pass" for r in pane.check_results)
        # the step's commands ran through the command bar's engine: shown in the scrollback
        assert any("ip netns add red" in line for line in app.output.plain_lines)
        assert "red" in kernel(None, "ip", "netns", "list")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: pane.player.index == 1 and not pane.busy, timeout=20, what="step 2")
        await wait_for(pilot, lambda: "A virtual cable" in screen_text(app), what="step 2 narration")
        assert "veth-red" in kernel("red", "ip", "-br", "link")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "hint 1:" in screen_text(app), what="hint 1 drawn")
        await pilot.press("pageup")
        await wait_for(pilot, lambda: pane.player.index == 0 and not pane.busy
                       and "Two empty namespaces" in screen_text(app), timeout=20, what="back to step 1")
        # rebuilt to the start of step 1: the veth of step 2 is gone again
        assert "veth-red" not in kernel("red", "ip", "-br", "link")

    run_ui(lab, body, size=(170, 45), scenario=sc, type_delay=0)


async def _to_the_task(app, pilot) -> PlayerPane:
    """Wait for the player, then press next until the "your turn" step; returns the pane."""
    await wait_for(pilot, lambda: _pane(app) is not None, what="the player pane")
    pane = _pane(app)
    await wait_for(pilot, lambda: pane.player.index == 0 and not pane.busy and pane.check_results,
                   timeout=30, what="step 1")
    while pane.player.step.task is None and not pane.player.at_end:
        await pilot.press("ctrl+n")
        i = pane.player.index
        await wait_for(pilot, lambda: not pane.busy and pane.player.index >= i, timeout=30, what="next")
    return pane


def test_exercise_check_is_red_until_fixed(lab):
    sc = load("21-fix-ip-forward")

    async def body(app, pilot):
        pane = await _to_the_task(app, pilot)
        assert pane.player.step.task is not None
        assert any(r.status == "fail" for r in pane.check_results), "the exercise starts broken"
        await wait_for(pilot, lambda: "Your turn" in screen_text(app) and "✗" in screen_text(app),
                       what="the task and its red check shown")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not pane.busy and pane.check_results
                       and all(r.ok for r in pane.check_results), timeout=30, what="green after the fix")

    run_ui(lab, body, size=(170, 45), scenario=sc, type_delay=0)


def test_a_key_pressed_while_a_check_runs_is_not_lost(lab):
    """ctrl+s pressed while a check is still running (the failing ping takes its time): the solution is
    applied right after that check, and the task turns green."""
    sc = load("21-fix-ip-forward")

    async def body(app, pilot):
        pane = await _to_the_task(app, pilot)
        await pilot.press("ctrl+k")
        await wait_for(pilot, lambda: pane.busy, what="the check running")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not pane.busy and pane.check_results
                       and all(r.ok for r in pane.check_results), timeout=30, what="green after the fix")
        assert kernel("router", "sysctl", "-n", "net.ipv4.ip_forward").strip() == "1"

    run_ui(lab, body, size=(170, 45), scenario=sc, type_delay=0)


def test_auto_play_advances_at_its_pace(lab):
    sc = load("01-veth-basics")

    async def body(app, pilot):
        await wait_for(pilot, lambda: _pane(app) is not None, what="the player pane")
        pane = _pane(app)
        await wait_for(pilot, lambda: pane.player.index == 0 and not pane.busy, timeout=20, what="step 1")
        pane.pace = 4.0
        await pilot.press("ctrl+up")   # faster: 4.0 s * 0.7
        assert abs(pane.pace - 2.8) < 1e-6
        pane.pace = 0.5
        await pilot.press("ctrl+f")
        assert pane.auto
        await wait_for(pilot, lambda: "auto-play on" in screen_text(app), what="auto on drawn")
        await wait_for(pilot, lambda: pane.player.index >= 2, timeout=20, what="two steps played by themselves")
        await pilot.press("ctrl+f")
        assert not pane.auto

    run_ui(lab, body, size=(170, 45), scenario=sc, type_delay=0)


def test_learner_fix_turns_the_task_green(lab):
    """At a "your turn" step the learner types the fix in the command bar; the task's check re-runs by
    itself and turns green."""
    from tests.test_ui_support import type_command

    sc = load("21-fix-ip-forward")

    async def body(app, pilot):
        await wait_for(pilot, lambda: _pane(app) is not None, what="the player pane")
        pane = _pane(app)
        await wait_for(pilot, lambda: pane.player.index == 0 and not pane.busy and pane.check_results,
                       timeout=30, what="step 1")
        assert pane.player.step.task is not None
        assert any(not r.ok for r in pane.check_results)
        await pilot.press("ctrl+g")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: all(w in screen_text(app) for w in ("hint 1:", "hint 2:", "Trace it")),
                       what="both hints drawn")
        await type_command(pilot, "ip netns exec router sysctl -w net.ipv4.ip_forward=1")
        await wait_for(pilot, lambda: not pane.busy and pane.check_results
                       and all(r.ok for r in pane.check_results), timeout=30, what="green after the learner's fix")
        await wait_for(pilot, lambda: "✗" not in str(app.main.query_one("#player-checks").render())
                       and "✓" in str(app.main.query_one("#player-checks").render()), what="the checks drawn green")

    run_ui(lab, body, size=(170, 45), scenario=sc, type_delay=0)


def test_palette_plays_a_scenario(lab):
    async def body(app, pilot):
        from lab.ui.palette import lab_commands

        cmd = next(c for c in lab_commands(app) if c.title == "Play scenario 01-veth-basics")
        cmd.callback()
        await wait_for(pilot, lambda: _pane(app) is not None and _pane(app).player.index == 0
                       and not _pane(app).busy, timeout=20, what="the player started from the palette")
        # drawn on the next (throttled) redraw: wait for what the test asserts
        await wait_for(pilot, lambda: "Two empty namespaces" in screen_text(app) or "Step 1/" in screen_text(app),
                       timeout=20, what="the first step drawn")

    run_ui(lab, body, size=(170, 45))


def test_start_at_a_step_rebuilds_up_to_it(lab):
    """`lab play FILE --step 2` in the TUI: the lab is rebuilt through step 1, then step 2 runs."""
    sc = load("01-veth-basics")

    async def body(app, pilot):
        await wait_for(pilot, lambda: _pane(app).player.index == 1 and not _pane(app).busy
                       and "A virtual cable" in screen_text(app) and "Step 2/" in screen_text(app),
                       timeout=20, what="step 2")
        assert "veth-red" in kernel("red", "ip", "-br", "link")

    run_ui(lab, body, size=(170, 45), scenario=sc, scenario_step=2, type_delay=0)


async def _at_red_task(app, pilot) -> PlayerPane:
    """Wait for the exercise's "your turn" step, checked and still red."""
    await wait_for(pilot, lambda: _pane(app) is not None, what="the player pane")
    pane = _pane(app)
    await wait_for(pilot, lambda: pane.player.step is not None and pane.player.step.task is not None
                   and not pane.busy and pane.check_results, timeout=30, what="the exercise step")
    assert any(not r.ok for r in pane.check_results)
    return pane


def test_fix_made_outside_the_app_turns_the_task_green(lab):
    """At a "your turn" step the learner fixes it elsewhere (another terminal's `ip`): the watcher
    sees the route appear and the task's checks re-run by themselves."""
    sc = load("20-fix-missing-route")

    async def body(app, pilot):
        pane = await _at_red_task(app, pilot)
        kernel("server", "ip", "route", "add", "default", "via", "10.2.0.1")
        await wait_for(pilot, lambda: not pane.busy and pane.check_results
                       and all(r.ok for r in pane.check_results), timeout=30, what="green after the outside fix")

    run_ui(lab, body, size=(170, 45), scenario=sc, type_delay=0)


def test_shell_return_rechecks_even_without_netlink_events(lab, monkeypatch):
    """Back from a ctrl+o shell (where a sysctl, which sends no netlink event, may have been set), the
    task is checked again."""
    sc = load("21-fix-ip-forward")

    async def body(app, pilot):
        pane = await _at_red_task(app, pilot)

        def fake_shell(op, env=None):   # what the learner does in the suspended terminal
            lab.backend.sysctl_set("router", "net.ipv4.ip_forward", "1")

        monkeypatch.setattr(app.engine, "_exec_interactive", fake_shell)
        monkeypatch.setattr(type(app), "suspend", lambda self: contextlib.nullcontext())  # no terminal here
        app.open_shell("router")
        await wait_for(pilot, lambda: not pane.busy and pane.check_results
                       and all(r.ok for r in pane.check_results), timeout=30, what="green after the shell")

    run_ui(lab, body, size=(170, 45), scenario=sc, type_delay=0)



@pytest.mark.parametrize("size", [(80, 24), (120, 36), (200, 60)], ids=["80x24", "120x36", "200x60"])
def test_fox_bear_keeps_its_lab_beside_the_narration(lab, size):
    """The player sits beside the map (not over the header and footer), the namespace tree folds away
    to make room (below 170 columns), every namespace of the scenario is on the map while the narration
    is read, and a hint asked for is on screen."""
    sc = load("fox-bear")

    async def body(app, pilot):
        await wait_for(pilot, lambda: _pane(app) is not None, what="the player pane")
        pane = _pane(app)

        def drawn():
            text = screen_text(app)
            return (pane.player.index == 0 and not pane.busy and "Step 1/" in text
                    and all(f"─ {ns} " in text for ns in ("fox", "bear", "host")))
        await wait_for(pilot, drawn, timeout=30, what="step 1 with fox, bear and the host on the map")
        lines = screen_text(app).splitlines()
        assert lines[0].lstrip().startswith("lab ·"), "the header is not covered"
        assert "Quit" in lines[-1], "the footer is not covered"
        assert app.main.query_one("#nstree").display == (size[0] >= 170)
        while not pane.player.steps[pane.player.index].hints and not pane.player.at_end:
            i = pane.player.index
            await pilot.press("pagedown")
            await wait_for(pilot, lambda: pane.player.index == i + 1 and not pane.busy, timeout=30, what="next")
        await wait_for(pilot, lambda: all(f"─ {ns} " in screen_text(app) for ns in ("fox", "bear", "world")),
                       what="the whole lab on the map")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "hint 1:" in screen_text(app), what="the hint on screen")

    run_ui(lab, body, size=size, scenario=sc, type_delay=0)


def test_your_turn_hides_the_fix_until_asked_and_ends_clearly(lab):
    """A "your turn" task says what is wrong, not what to type; hints appear where the learner looks;
    the fix shows after the last hint; Enter on an empty bar goes on only once the task is done; the
    task's explanation shows when it turns green; after the last step, a clear end."""
    sc = load("24-fix-link-down")

    async def body(app, pilot):
        pane = await _at_red_task(app, pilot)
        checks = lambda: str(app.main.query_one("#player-checks").render())  # noqa: E731
        await wait_for(pilot, lambda: "is DOWN" in checks(), what="the red check says what is wrong")
        assert "link set veth-bear-br up" not in screen_text(app) and "fix:" not in checks()
        await pilot.press("enter")   # empty bar: not done yet
        await wait_for(pilot, lambda: "not done yet" in pane.note, timeout=20, what="Enter refused while red")
        await wait_for(pilot, lambda: "The task is not" in screen_text(app), what="the refusal on screen")
        assert pane.player.index == 0 and not pane.finished
        ladder = len(pane.player.hints())
        for i in range(1, ladder + 1):
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: f"hint {i}:" in screen_text(app), what=f"hint {i} on screen")
        await wait_for(pilot, lambda: "fix: ip link set veth-bear-br up" in checks(), what="the fix after the last hint")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not pane.busy and pane.check_results and all(r.ok for r in pane.check_results)
                       and "Well done" in screen_text(app) and "both ends are up" in screen_text(app),
                       timeout=30, what="green, with the task's explanation on screen")
        await pilot.press("enter")   # done: Enter goes on; this was the last step
        await wait_for(pilot, lambda: pane.finished and "You finished" in screen_text(app), what="the end")

    run_ui(lab, body, size=(120, 36), scenario=sc, type_delay=0)
