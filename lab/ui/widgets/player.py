"""The scenario player pane, docked beside the dashboard: the step's narration (Markdown), its checks
turning green or red with their explanations, the hint ladder, and "your turn" tasks. Step commands
are typed into the command bar at a readable pace and run through the same engine, so learners see
them run and the panes change. Drives lab.scenario.player.Player from worker threads (checks block);
only message handlers touch widgets.

Keys (app-wide): ctrl+n next step, ctrl+b previous (rebuilds the lab), ctrl+r replay, ctrl+k check,
ctrl+g hint, ctrl+s show/apply the solution, ctrl+a auto-play on/off, ctrl+right/left faster/slower.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text
from textual import getters, work
from textual.containers import VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Markdown, Static

from lab.scenario.player import Player

if TYPE_CHECKING:
    from lab.ui.app import LabApp


class PlayerEvent(Message):
    def __init__(self, kind: str, payload=None) -> None:
        super().__init__()
        self.kind = kind
        self.payload = payload


class PlayerPane(VerticalScroll):
    if TYPE_CHECKING:
        app = getters.app(LabApp)

    DEFAULT_CSS = """
    PlayerPane { dock: right; width: 56; border-left: wide $primary; padding: 0 1; }
    PlayerPane #player-title { text-style: bold; }
    PlayerPane #player-checks { margin-top: 1; }
    PlayerPane #player-hint { margin-top: 1; color: $warning; }
    """

    def __init__(self, scenario, engine, theme, pace: float = 4.0, type_delay: float = 0.012,
                 start_step: int | None = None):
        super().__init__(id="player")
        self.scenario = scenario
        self.engine = engine
        self._theme = theme
        self.pace = pace
        self.type_delay = type_delay
        self.player = Player(scenario, engine, runner=self._typed_runner,
                             on_event=lambda k, p: self.post_message(PlayerEvent(k, p)))
        self.busy = False
        self.auto = False
        self._auto_timer: Timer | None = None
        self.check_results: list = []
        self.hint_lines: list[str] = []
        self._recheck_timer: Timer | None = None
        self._changed_at = self._checked_at = 0.0
        self._pending = None            # a key pressed while a step or check was running: done right after it
        self.start_step = start_step   # 1-based (`lab play FILE --step N`): the lab is rebuilt up to it

    @property
    def lab_theme(self):
        """The app's current meaning colours (follows ctrl+t), else the one given."""
        try:
            return getattr(self.app, "lab_theme", None) or self._theme
        except Exception:  # noqa: BLE001  (not attached yet)
            return self._theme

    def compose(self):
        yield Static(id="player-title")
        yield Markdown(id="player-narration")
        yield Static(id="player-checks")
        yield Static(id="player-hint")

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _t: self.call_after_refresh(self.show_step))
        self.show_step()
        if self.start_step and self.start_step > 1:
            self._run(lambda: (self.player.goto(self.start_step - 1), self._check()))
        else:
            self._run(lambda: (self.player.start(runner=self.engine.run), self.player.next(), self._check()))

    # ---- worker side --------------------------------------------------------------------------------
    def _typed_runner(self, line: str):
        """Type the command into the bar (visibly), then run it like the learner would."""
        app = self.app
        bar = app.main.query_one("#command-input") if app.main is not None else None
        if bar is not None and self.type_delay > 0:
            for i in range(1, len(line) + 1, max(1, len(line) // 25)):
                app.call_from_thread(setattr, bar, "value", line[:i])
                time.sleep(self.type_delay)
            app.call_from_thread(setattr, bar, "value", "")
        where = self.app.view.selected or ""
        app.call_from_thread(app.output.command, line, where, self.lab_theme)
        res = self.engine.run(line)
        self.post_message(PlayerEvent("ran", res))
        return res

    def _check(self):
        self._checked_at = time.monotonic()
        self.check_results = self.player.check()
        self.post_message(PlayerEvent("checked", self.check_results))

    def _run(self, fn) -> None:
        """Run a step or check in a thread. `busy` is set here, in the UI thread, before the thread starts:
        a timer or key handled meanwhile sees it and waits (a worker that replaced a not-yet-started one
        could drop a solution the learner asked for)."""
        self.busy = True
        self.post_message(PlayerEvent("busy", True))
        self._work(fn)

    @work(thread=True, group="player")
    def _work(self, fn) -> None:
        try:
            fn()
        except Exception as e:  # noqa: BLE001  (shown in the pane, never a crash)
            self.post_message(PlayerEvent("error", str(e)))
        finally:
            self.busy = False
            self.post_message(PlayerEvent("busy", False))

    # ---- actions ------------------------------------------------------------------------------------
    def _later(self, action) -> bool:
        """While a step or check runs, keep the learner's key and act on it when that work ends (a key
        pressed during a re-check must not be lost). True if it was kept."""
        if self.busy:
            self._pending = action
            return True
        return False

    def next(self) -> None:
        if self._later(self.next):
            return
        if not self.player.at_end:
            self.hint_lines = []
            self._run(lambda: (self.player.next(), self._check()))

    def prev(self) -> None:
        if self._later(self.prev):
            return
        if self.player.index > 0:
            self.hint_lines = []
            self._run(lambda: (self.player.prev(), self._check()))

    def replay(self) -> None:
        if not self._later(self.replay):
            self._run(lambda: (self.player.replay(), self._check()))

    def check(self) -> None:
        if not self._later(self.check):
            self._run(self._check)

    def learner_ran(self, res) -> None:
        """A command the learner typed finished: at a "your turn" step, check again so the task's
        check turns green as soon as the fix is in."""
        op = getattr(res, "op", None)
        if (res.ok and op is not None and getattr(op, "mutates", False)
                and self.player.step is not None and self.player.step.task is not None):
            if self.busy:   # a check is running (it may predate the fix): check again right after it
                self._changed_at = time.monotonic()
                if self._recheck_timer is not None:
                    self._recheck_timer.stop()
                self._recheck_timer = self.set_timer(self.RECHECK_AFTER, self._recheck)
            else:
                self._run(self._check)

    # state a learner changes (not what checks themselves stir: neighbours, conntrack, counters)
    WATCHED = frozenset({"links", "addresses", "routes", "sysctls", "chains", "qdiscs", "namespaces"})
    RECHECK_AFTER = 0.4   # seconds of quiet before re-checking

    def state_changed(self, fields: set[str]) -> None:
        """The kernel state changed (a ctrl+o shell, another terminal, anything outside the bar): at a
        "your turn" step, check again once things settle, so the fix turns the check green wherever
        it was made."""
        if not (fields & self.WATCHED) or self.player.step is None or self.player.step.task is None:
            return
        self._changed_at = time.monotonic()
        if self._recheck_timer is not None:
            self._recheck_timer.stop()
        self._recheck_timer = self.set_timer(self.RECHECK_AFTER, self._recheck)

    def _recheck(self) -> None:
        self._recheck_timer = None
        if self.busy:   # a step or check is running: look again after it
            self._recheck_timer = self.set_timer(self.RECHECK_AFTER, self._recheck)
        elif self._checked_at < self._changed_at and self.player.step is not None and self.player.step.task:
            self._run(self._check)

    def hint(self) -> None:
        h = self.player.hint()
        self.hint_lines.append(h or "No more hints for this step.")
        self.show_step()

    def solve(self) -> None:
        if self._later(self.solve):
            return
        if self.player.step is not None and self.player.step.task is not None:
            self._run(lambda: (self.player.solve(), self._check()))

    def toggle_auto(self) -> None:
        self.auto = not self.auto
        if self.auto:
            self._auto_timer = self.set_interval(self.pace, self._auto_step)
        elif self._auto_timer is not None:
            self._auto_timer.stop()
            self._auto_timer = None
        self.show_step()

    def faster(self, factor: float) -> None:
        self.pace = max(0.5, min(30.0, self.pace * factor))
        if self.auto:
            self.toggle_auto()
            self.toggle_auto()
        self.show_step()

    def _auto_step(self) -> None:
        if self.player.at_end:
            self.toggle_auto()
        elif not self.busy:
            self.next()

    # ---- drawing ------------------------------------------------------------------------------------
    def on_player_event(self, msg: PlayerEvent) -> None:
        if msg.kind == "ran":
            res = msg.payload
            if res.output:
                self.app.output.output(res.output)
            if not res.ok:
                self.app.output.error(res.error or "error", self.lab_theme)
        elif msg.kind == "error":
            self.app.output.error(f"scenario: {msg.payload}", self.lab_theme)
        elif msg.kind == "busy" and not msg.payload and self._pending is not None and not self.busy:
            action, self._pending = self._pending, None
            action()
        self.show_step()

    def show_step(self) -> None:
        th = self.lab_theme
        p = self.player
        n = len(p.steps)
        step = p.step
        title = Text()
        title.append(f"{self.scenario.title}\n", f"bold {th.color('namespace')}")
        if step is None:
            title.append("getting ready…" if self.busy else "press ctrl+n to start")
        else:
            title.append(f"Step {p.index + 1}/{n}: {step.title}", "bold")
        title.append(f"\n{'⏳ running' if self.busy else ''}  auto {'on' if self.auto else 'off'} · {self.pace:.1f} s",
                     th.color("muted"))
        self.query_one("#player-title", Static).update(title)
        md = (step.narration if step is not None else self.scenario.summary) or ""
        if step is not None and step.task is not None:
            md += f"\n\n**Your turn:** {step.task.goal}"
        if md != getattr(self, "_md", None):  # Markdown re-mounts its blocks: only when the text changed
            self._md = md
            self.query_one("#player-narration", Markdown).update(md)
        checks = Text()
        for r in self.check_results:
            ok = r.status == "pass"
            mark, colour = ("✓", "accept") if ok else ("–", "muted") if r.status == "skip" else ("✗", "drop")
            checks.append(f"{mark} {r.label}\n", f"bold {th.color(colour)}")
            if not ok and r.explanation:
                checks.append(f"   {r.explanation}\n", th.color("muted"))
        self.query_one("#player-checks", Static).update(checks)
        hint = Text()
        for i, h in enumerate(self.hint_lines, 1):
            hint.append(f"hint {i}: {h}\n")
        hint.append("ctrl+n next · ctrl+b back · ctrl+r replay · ctrl+k check · ctrl+g hint · ctrl+s solution · "
                    "ctrl+a auto", th.color("muted"))
        self.query_one("#player-hint", Static).update(hint)
