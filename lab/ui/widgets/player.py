"""The scenario player pane, beside the dashboard's map: the step's narration (Markdown), the hint ladder,
its checks turning green or red, "your turn" tasks (their fix hidden until asked for), and a clear end.
Step commands run through the same engine as the command bar and show in its scrollback as they run
(typed out at a readable pace only in auto-play), so learners see them run and the panes change.
Drives lab.scenario.player.Player from worker threads (checks block); only message handlers touch widgets.

Keys (app-wide; none is tmux's or screen's prefix, none is a command-bar editing key):
PgDn / ctrl+n / Enter on an empty command bar: next step · PgUp: back (rebuilds the lab) · ctrl+r replay
· ctrl+k check · ctrl+g hint · ctrl+s solution · ctrl+f auto-play on/off · ctrl+up / ctrl+down faster/slower.
"""
from __future__ import annotations

import re
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

KEYS = ("PgDn or Enter next · PgUp back · ctrl+r replay · ctrl+k check · ctrl+g hint · ctrl+s solution · "
        "ctrl+f auto-play")


def inline_code(text: str, code_style: str, style: str = "") -> Text:
    """A one-line Markdown-ish string (check titles and hints use `backticks`) as rich Text: code spans in
    `code_style`, the rest in `style`, no backticks shown."""
    out = Text()
    for i, part in enumerate(re.split(r"`([^`]*)`", text)):
        out.append(part, code_style if i % 2 else style)
    return out


class PlayerEvent(Message):
    def __init__(self, kind: str, payload=None) -> None:
        super().__init__()
        self.kind = kind
        self.payload = payload


class PlayerPane(VerticalScroll):
    if TYPE_CHECKING:
        app = getters.app(LabApp)

    DEFAULT_CSS = """
    PlayerPane { width: 40%; min-width: 38; max-width: 72; height: 1fr; border-left: wide $primary;
                 padding: 0 1; }
    PlayerPane #player-title { text-style: bold; }
    PlayerPane #player-hint { margin-top: 1; color: $warning; }
    PlayerPane #player-checks { margin-top: 1; }
    PlayerPane #player-done { margin-top: 1; }
    PlayerPane #player-keys { margin-top: 1; color: $text-muted; }
    """

    def __init__(self, scenario, engine, theme, pace: float = 4.0, type_delay: float = 0.03,
                 start_step: int | None = None):
        super().__init__(id="player")
        self.scenario = scenario
        self.engine = engine
        self._theme = theme
        self.pace = pace
        self.type_delay = type_delay    # per chunk of a command typed into the bar, in auto-play only
        self.player = Player(scenario, engine, runner=self._runner,
                             on_event=lambda k, p: self.post_message(PlayerEvent(k, p)))
        self.busy = False
        self.doing = ""                 # what the running work is, in words ("running the step's commands")
        self.target: int | None = None  # the step being gone to (shown at once, before its commands ran)
        self.finished = False           # next was pressed at the last step: the end is shown
        self.note = ""                  # one line for the learner (e.g. why Enter did not go on)
        self.auto = False
        self._auto_timer: Timer | None = None
        self.check_results: list = []
        self.hint_lines: list[str] = []
        self._recheck_timer: Timer | None = None
        self._changed_at = self._checked_at = 0.0
        self._building = False          # the running work changes the lab itself (a step, a rebuild, a solution)
        self._built_at = 0.0            # when such work last ended
        self._pending = None            # a key pressed while a step or check was running: done right after it
        self._md: str | None = None
        self._done_md = ""
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
        yield Static(id="player-hint")
        yield Static(id="player-checks")
        yield Markdown(id="player-done")
        yield Static(id="player-keys")

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _t: self.call_after_refresh(self.show_step))
        if self.start_step and self.start_step > 1:
            n = self.start_step - 1
            self.target = min(n, len(self.player.steps) - 1)
            self._run(lambda: (self.player.goto(n), self._check()), "building the lab up to this step")
        else:
            self.target = 0
            self._run(lambda: (self.player.start(runner=self.engine.run), self.player.next(), self._check()),
                      "building the lab")
        self.show_step()

    # ---- worker side --------------------------------------------------------------------------------
    def _runner(self, line: str):
        """Run one of the step's commands like the learner would: shown in the scrollback as it runs (in
        auto-play, first typed into the command bar at a readable pace)."""
        app = self.app
        if self.auto and self.type_delay > 0 and app.main is not None:
            bar = app.main.query_one("#command-input")
            for i in range(1, len(line) + 1, max(1, len(line) // 20)):
                app.call_from_thread(setattr, bar, "value", line[:i])
                time.sleep(self.type_delay)
            app.call_from_thread(setattr, bar, "value", "")
        where = self.app.view.selected or ""
        app.call_from_thread(app.output.command, line, where, self.lab_theme)
        res = self.engine.run(line)
        self.post_message(PlayerEvent("ran", res))
        return res

    def _check(self):
        if self._building:   # the step or rebuild before this check is done: its own events end about now
            self._built_at, self._building = time.monotonic(), False
        self._checked_at = time.monotonic()
        self.post_message(PlayerEvent("doing", "checking"))
        self.check_results = self.player.check()
        self.post_message(PlayerEvent("checked", self.check_results))

    def _run(self, fn, doing: str) -> None:
        """Run a step or check in a thread. `busy` is set here, in the UI thread, before the thread starts:
        a timer or key handled meanwhile sees it and waits (a worker that replaced a not-yet-started one
        could drop a solution the learner asked for)."""
        self.busy = True
        self.doing = doing
        self._building = doing != "checking"
        self.post_message(PlayerEvent("busy", True))
        self._work(fn)

    @work(thread=True, group="player")
    def _work(self, fn) -> None:
        try:
            fn()
        except Exception as e:  # noqa: BLE001  (shown in the pane, never a crash)
            self.post_message(PlayerEvent("error", str(e)))
        finally:
            if self._building:   # (a step whose check did not run: it failed)
                self._built_at, self._building = time.monotonic(), False
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

    def _go(self, n: int, fn, doing: str) -> None:
        self.hint_lines = []
        self.check_results = []
        self.finished = False
        self.note = ""
        self.target = n
        self._run(fn, doing)
        self.show_step()

    def next(self) -> None:
        if self._later(self.next):
            return
        if self.player.at_end:
            if self.player.step is not None and not self.finished:
                self.finished = True
                self.show_step()
                self.call_after_refresh(self._bring_into_view, "#player-done")
            return
        self._go(self.player.index + 1, lambda: (self.player.next(), self._check()), "running the step's commands")

    def enter(self) -> None:
        """Enter on an empty command bar: the next step, once this one is done (a task: once its checks
        are green; ctrl+n / PgDn skip it anyway)."""
        if self._later(self.enter):
            return
        st = self.player.step
        if st is not None and st.task is not None and not self._task_done():
            self.note = "The task is not done yet: ctrl+g for a hint, ctrl+s for the solution, PgDn to skip it."
            self.show_step()
            return
        self.next()

    def prev(self) -> None:
        if self._later(self.prev):
            return
        if self.finished:
            self.finished = False
            self.show_step()
            return
        if self.player.index > 0:
            self._go(self.player.index - 1, lambda: (self.player.prev(), self._check()),
                     "rebuilding the lab to this step")

    def replay(self) -> None:
        if not self._later(self.replay):
            i = max(self.player.index, 0)
            self._go(i, lambda: (self.player.replay(), self._check()), "rebuilding the lab to this step")

    def check(self) -> None:
        if not self._later(self.check):
            self._run(self._check, "checking")
            self.show_step()

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
                self._run(self._check, "checking")

    # state a learner changes (not what checks themselves stir: neighbours, conntrack, counters)
    WATCHED = frozenset({"links", "addresses", "routes", "sysctls", "chains", "qdiscs", "namespaces"})
    RECHECK_AFTER = 0.4   # seconds of quiet before re-checking
    OWN_CHANGES = 1.0     # seconds after a step or rebuild during which the events are its own

    def state_changed(self, fields: set[str]) -> None:
        """The kernel state changed (a ctrl+o shell, another terminal, anything outside the bar): at a
        "your turn" step, check again once things settle, so the fix turns the check green wherever
        it was made."""
        if not (fields & self.WATCHED) or self.player.step is None or self.player.step.task is None:
            return
        if (self.busy and self._building) or time.monotonic() - self._built_at < self.OWN_CHANGES:
            return   # the player's own step or rebuild (its events arrive late): the check after it covers them
        self._changed_at = time.monotonic()
        if self._recheck_timer is not None:
            self._recheck_timer.stop()
        self._recheck_timer = self.set_timer(self.RECHECK_AFTER, self._recheck)

    def _recheck(self) -> None:
        self._recheck_timer = None
        if self.busy:   # a step or check is running: look again after it
            self._recheck_timer = self.set_timer(self.RECHECK_AFTER, self._recheck)
        elif self._checked_at < self._changed_at and self.player.step is not None and self.player.step.task:
            self._run(self._check, "checking")

    def hint(self) -> None:
        if self.player.step is None:
            return
        h = self.player.hint()
        self.hint_lines.append(h or "No more hints for this step: ctrl+s shows the solution.")
        self.show_step()
        self.call_after_refresh(self._bring_into_view, "#player-hint")

    def solve(self) -> None:
        if self._later(self.solve):
            return
        if self.player.step is not None and self.player.step.task is not None:
            self._run(lambda: (self.player.solve(), self._check()), "applying the solution")
            self.show_step()

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
            self.next()     # shows the end
        elif not self.busy:
            self.next()

    def _bring_into_view(self, selector: str) -> None:
        try:
            self.scroll_to_widget(self.query_one(selector), animate=False, top=False)
        except Exception:  # noqa: BLE001  (the pane went away meanwhile)
            pass

    def _task_done(self) -> bool:
        st = self.player.step
        if st is None or st.task is None:
            return True
        task = [r for r in self.check_results if r.check in st.task.checks]
        return bool(task) and all(r.ok for r in task)

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
        elif msg.kind == "doing":
            self.doing = msg.payload
        elif msg.kind == "busy" and not msg.payload:
            if self.target is not None and self.target == self.player.index:
                self.target = None
            if self.player.step is not None and self.player.step.task is not None and self._task_done():
                self.call_after_refresh(self._bring_into_view, "#player-done")
            if self._pending is not None and not self.busy:
                action, self._pending = self._pending, None
                action()
        if msg.kind in ("ran", "command"):
            return   # a step's commands: the scrollback shows them; the pane changes when the step is done
        self.show_step()

    def _status(self) -> str:
        if self.busy:
            return f"⏳ {self.doing or 'working'}…"
        if self.auto:
            return f"auto-play on: the next step in {self.pace:g} s (ctrl+up/down: faster/slower, ctrl+f: stop)"
        return "auto-play off (ctrl+f plays the steps one after another)"

    def show_step(self) -> None:
        th = self.lab_theme
        p = self.player
        n = len(p.steps)
        shown = self.target if self.target is not None else p.index
        step = p.steps[shown] if 0 <= shown < n else None
        title = Text()
        title.append(f"{self.scenario.title}\n", f"bold {th.color('namespace')}")
        if step is None:
            title.append("getting ready…" if self.busy else "PgDn to start")
        elif self.finished:
            title.append(f"Finished: all {n} steps", "bold")
        else:
            title.append(f"Step {shown + 1}/{n}: {step.title}", "bold")
        title.append(f"\n{self._status()}", th.color("muted"))
        if self.note:
            title.append(f"\n{self.note}", th.color("unknown"))
        self.query_one("#player-title", Static).update(title)
        if self.finished:
            md = self._end_text()
        else:
            md = (step.narration if step is not None else self.scenario.summary) or ""
            if step is not None and step.task is not None:
                md += f"\n\n**Your turn:** {step.task.goal}"
        if md != self._md:  # Markdown re-mounts its blocks: only when the text changed
            self._md = md
            self.query_one("#player-narration", Markdown).update(md)
        hint = Text()
        if not self.finished:
            for i, h in enumerate(self.hint_lines, 1):
                hint.append(f"hint {i}: ", "bold")
                hint.append_text(inline_code(h.strip(), f"bold {th.color('address')}"))
                hint.append("\n")
        self.query_one("#player-hint", Static).update(hint)
        self.query_one("#player-hint", Static).display = bool(hint.plain)
        checks = Text()
        fresh = not self.finished and (self.target is None or self.target == p.index)
        reveal = p.reveal()
        for r in self.check_results if fresh else []:
            ok = r.status == "pass"
            mark, colour = ("✓", "accept") if ok else ("–", "muted") if r.status == "skip" else ("✗", "drop")
            checks.append(f"{mark} ", f"bold {th.color(colour)}")
            checks.append_text(inline_code(r.label, f"bold {th.color('address')}", f"bold {th.color(colour)}"))
            checks.append("\n")
            if not ok and r.explanation:
                checks.append("   " + r.explanation.replace("\n", "\n   ") + "\n", th.color("muted"))
            if not ok and r.fix and reveal:
                checks.append(f"   fix: {r.fix}\n", th.color("address"))
        self.query_one("#player-checks", Static).update(checks)
        done = ""
        if fresh and step is not None and step.task is not None and self._task_done() and not self.busy:
            done = "**Well done.** " + (step.task.explanation or "").strip()
            self.note = ""
        if done != self._done_md:
            self._done_md = done
            self.query_one("#player-done", Markdown).update(done)
        self.query_one("#player-done", Markdown).display = bool(done)
        self.query_one("#player-keys", Static).update(KEYS)

    def _end_text(self) -> str:
        """What the learner sees after the last step: what they did, and where to go from here."""
        sc = self.scenario
        lines = [f"## You finished *{sc.title}*", ""]
        if sc.summary:
            lines += [sc.summary.strip(), ""]
        lines += ["What you did:", ""]
        lines += [f"{i}. {st.title}" + (" (your turn)" if st.task else "") for i, st in enumerate(sc.steps, 1)]
        lines += ["", "**Next:** the lab stays as it is: try your own commands in the bar, or trace a packet "
                  "(`trace NS icmp ADDR`).", "",
                  "- PgUp: back to the last step; ctrl+r: replay it",
                  "- ctrl+p, then *Play scenario*: choose another lab (`lab play --list` lists them)"]
        return "\n".join(lines)
