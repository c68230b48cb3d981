"""The dashboard application: wires the engine, the watcher, the view and the screens together.

`make_app(engine, theme)` is the one factory used by `lab` (through `run_app`) and by the UI tests.
Kernel work never runs on the UI thread: the watcher thread posts StateUpdated, command lines run in
worker threads and post CommandDone; only message handlers here touch widgets.

Under an event storm nothing queues up: the watcher's Updates are merged into one inbox (a newer state
of a namespace replaces the older, at most one StateUpdated is ever in the message queue, and the
watcher holds back while the inbox is full), and redraws are spaced by what they cost (at most a third
of the UI thread), so a key typed in the command bar is handled within one redraw. While a typed
command runs (its first COMMAND_FIRST seconds), redraws and the watcher's reads wait: all three share
one interpreter lock, and the answer the user waits for goes first.
"""
from __future__ import annotations

import ctypes
import gc
import json
import os
import sys
import threading
import time
from typing import Any, Callable, Literal

from textual import work
from textual.app import App, SuspendNotSupported
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.timer import Timer

from lab.backend.watch import EXTRA_NAMES, Watcher
from lab.ui.history import History
from lab.ui.messages import CommandDone, StateUpdated, TraceDone
from lab.ui.palette import lab_commands
from lab.ui.screens.help import HelpScreen
from lab.ui.screens.main import MainScreen
from lab.ui.themes import LabTheme, ThemeError, available_themes, load_theme
from lab.ui.view import LabView, ns_label
from lab.ui.widgets.commandbar import CommandBar, CommandInput
from lab.ui.widgets.output import OutputLog
from lab.ui.widgets.topomap import TopologyMap

SHELLS = {"bash", "sh", "zsh", "fish", "dash", "ksh", "ash"}
BASHRC = r"""[ -f ~/.bashrc ] && . ~/.bashrc
PS1='\[\e[1;33m\][%s]\[\e[0m\] '"$PS1"
"""
ZSHRC = r"""[ -f ~/.zshrc ] && ZDOTDIR=~ . ~/.zshrc
PROMPT='%%B%%F{yellow}[%s]%%f%%b '"$PROMPT"
"""


def shell_prompt(shell: tuple[str, ...], label: str):
    """(argv, env, temp dir or None): the shell made to show `label` in its prompt, so a shell opened from
    the dashboard (ctrl+o) is never mistaken for one on the machine: bash gets an rc file that reads the
    user's ~/.bashrc, then puts the label before PS1; zsh a ZDOTDIR that does the same with PROMPT; other
    shells a PS1."""
    import tempfile

    name = os.path.basename(shell[0])
    label = label.replace("'", "").replace("%", "")
    if name in ("bash", "zsh"):
        tmp = tempfile.TemporaryDirectory(prefix="lab-shell-")
        rc = os.path.join(tmp.name, "bashrc" if name == "bash" else ".zshrc")
        with open(rc, "w") as f:
            f.write((BASHRC if name == "bash" else ZSHRC) % label)
        if name == "bash":
            return (shell[0], "--rcfile", rc, "-i"), {}, tmp
        return shell, {"ZDOTDIR": tmp.name}, tmp
    return shell, {"PS1": f"[{label}] $ "}, None
FRAME = 1 / 30       # the shortest time between two redraws of the panes
RENDER_DUTY = 3.0    # ...and at least this many times what the last redraw took
COMMAND_FIRST = 0.5  # for this long after Enter, a typed command runs before redraws and watcher reads


class LabApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "lab"
    BINDINGS = [
        Binding("ctrl+l", "focus_bar", "Command bar", priority=True),
        Binding("colon", "focus_bar", "Command bar", show=False),
        Binding("f1", "help", "Help"),
        Binding("question_mark", "help", "Help", show=False),
        Binding("ctrl+o", "shell", "Shell in namespace", priority=True),
        Binding("ctrl+t", "next_theme", "Theme", priority=True),
        Binding("ctrl+q", "quit", "Quit", priority=True),
        # the scenario player's keys: none is tmux's (ctrl+b) or screen's (ctrl+a) prefix, and none takes a
        # command-bar editing key (ctrl+a/e/u/w, ctrl+left/right); Enter on an empty bar also goes on
        Binding("ctrl+n", "scenario('next')", "Next step", show=False, priority=True),
        Binding("pagedown", "scenario('next')", "Next step", show=False),   # a focused table or log keeps it
        Binding("pageup", "scenario('prev')", "Previous step", show=False),
        Binding("ctrl+r", "scenario('replay')", "Replay step", show=False, priority=True),
        Binding("ctrl+k", "scenario('check')", "Check", show=False, priority=True),
        Binding("ctrl+g", "scenario('hint')", "Hint", show=False, priority=True),
        Binding("ctrl+s", "scenario('solve')", "Solution", show=False, priority=True),
        Binding("ctrl+f", "scenario('toggle_auto')", "Auto-play", show=False, priority=True),
        Binding("ctrl+up", "scenario('faster', 0.7)", "Faster", show=False, priority=True),
        Binding("ctrl+down", "scenario('faster', 1.4)", "Slower", show=False, priority=True),
    ]

    def __init__(self, engine, theme: str | None = None, watch: bool = True, period: float = 1.0,
                 scenario=None, type_delay: float = 0.03, scenario_step: int | None = None,
                 watcher: Watcher | None = None):
        super().__init__()
        self.scenario_step = scenario_step
        self.engine = engine
        self.scenario = scenario
        self.type_delay = type_delay
        self.lab_theme: LabTheme = load_theme(theme)
        self._lab_themes: dict[str, LabTheme] = {}
        self.view = LabView()
        self.history = History()
        if watcher is not None:   # made and prefetching before this module was imported (prefetch_watcher)
            watcher.connect(self._from_watcher, period, FRAME, self._watcher_should_wait)
        elif watch:
            watcher = Watcher(engine.backend, self._from_watcher, period=period, frame=FRAME,
                              busy=self._watcher_should_wait)
            watcher.prefetch()   # a large lab's first read, in a child while the screen is built
        self.watcher = watcher
        self.painted_hooks: list[Callable] = []   # called after a state update is on screen (bench, tests)
        self._expiry_timer: Timer | None = None
        self._visible: tuple[set[str] | None, set[str], bool] | None = None
        self._inbox = None                        # Updates from the watcher not yet applied, merged
        self._command_since: float | None = None  # when the typed command now running started
        self.state_messages_queued = 0            # StateUpdated posted and not handled yet (0 or 1)
        self._inbox_lock = threading.Lock()
        self._unrendered: set[str] = set()
        self._unrendered_news = False             # an Update from kernel events is among them (see _render_pending)
        self._updates: list = []
        self._render_scheduled = False
        self._render_not_before = 0.0
        self._gc_threshold: tuple[int, int, int] | None = None
        self._last_activity = 0.0
        self._seat_status_written: dict | None = None
        self._player_loaded = False               # a scenario player was opened (start_scenario)
        self._first_gc_asked = False              # the deep heap pass after the first state is scheduled
        self.heap_stats = {"young": 0, "deep": 0, "young_ms_max": 0.0, "deep_ms_max": 0.0, "young_ms": 0.0,
                           "deep_ms": 0.0}

    # ---- life cycle -------------------------------------------------------------------------------
    def on_mount(self) -> None:
        if self.watcher is not None:   # first: its first read (~1 s at 1,000 namespaces) runs while the screen is built
            self.watcher.want(set(), (), False)
            self.watcher.start()
        self._install_theme(self.lab_theme)
        self._one_theme_system()
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.push_screen(MainScreen(self.engine, self.history))
        self.set_interval(0.5, self.visibility_changed)
        self._start_heap_policy()
        if os.environ.get("LAB_SEAT_STATUS"):   # a `lab serve` seat: progress for the instructor's page
            self.set_interval(1.0, self._write_seat_status)
        if self.scenario is not None:
            self.call_after_refresh(self.start_scenario, self.scenario, self.scenario_step)

    async def start_scenario(self, scenario, step: int | None = None) -> None:
        """Dock the scenario player beside the panes and start at step 1 (replacing a playing one)."""
        from lab.ui.widgets.player import PlayerPane

        main = self.main
        if main is None:
            return
        self._player_loaded = True
        await main.query(PlayerPane).remove()
        await main.query_one("#body").mount(PlayerPane(scenario, self.engine, self.lab_theme,
                                                       type_delay=self.type_delay, start_step=step))
        main.add_class("playing")
        main.action_tab("tab-map")   # the scenario's lab stays in view beside the narration

    def seat_status(self) -> dict:
        """Where this learner is: the scenario, the step, its checks (what `lab serve` shows the instructor)."""
        panes = self._player_panes()
        if not panes:
            return {"scenario": "", "step": 0, "steps": 0}
        pane = panes[0]
        p = pane.player
        res = pane.check_results if pane.target is None else []
        ok = sum(1 for r in res if r.ok)
        return {"scenario": pane.scenario.title, "step": p.index + 1, "steps": len(p.steps),
                "step_title": p.step.title if p.step is not None else "",
                "checks": f"{ok}/{len(res)} green" if res else "", "green": (ok == len(res)) if res else None,
                "finished": pane.finished}

    def _write_seat_status(self) -> None:
        path = os.environ.get("LAB_SEAT_STATUS", "")
        try:   # a word from the room (lab serve: "idle, closing soon")
            with open(path + ".notice") as f:
                notice = f.read()
            os.unlink(path + ".notice")
            self.notify(notice, title="lab serve", severity="warning", timeout=60)
        except OSError:
            pass
        try:   # the instructor pushed a scenario (and step) to every seat
            with open(path + ".push") as f:
                push = json.load(f)
            os.unlink(path + ".push")
            self._pushed(push)
        except (OSError, ValueError):
            pass
        status = self.seat_status()
        if status == self._seat_status_written:
            return          # (written when it changes: the instructor's page reads the file every second)
        try:
            with open(path + ".tmp", "w") as f:
                json.dump(status, f)
            os.replace(path + ".tmp", path)
            self._seat_status_written = status
        except OSError:
            pass

    def _pushed(self, push: dict) -> None:
        from lab.errors import LabError
        from lab.scenario.loader import load

        try:
            sc = load(str(push.get("scenario", "")))
        except LabError as e:
            self.notify(str(e), title="lab serve", severity="error")
            return
        step = push.get("step")
        self.notify(f"Your instructor started {sc.title}" + (f" at step {step}" if step else "") + ".",
                    title="lab serve")
        self.call_later(self.start_scenario, sc, int(step) if step else None)

    def play_scenario(self, ref: str) -> None:
        """Palette "Play scenario": load a shipped scenario (or a file) and open the player."""
        from lab.errors import LabError
        from lab.scenario.loader import load

        try:
            self.call_later(self.start_scenario, load(ref))
        except LabError as e:
            self.output.error(str(e), self.lab_theme)

    def prefill_bar(self, text: str) -> None:
        self.action_focus_bar()
        if self.main is not None:
            bar = self.main.query_one("#command-input", CommandInput)
            bar.value = text
            bar.cursor_position = len(text)

    def _player_panes(self) -> list:
        """The scenario player, if one was opened (its module, ~0.2 s of imports, is loaded only then)."""
        if not self._player_loaded or self.main is None:
            return []
        from lab.ui.widgets.player import PlayerPane

        return list(self.main.query(PlayerPane))

    def action_scenario(self, what: str, *args) -> None:
        panes = self._player_panes()
        if panes:
            getattr(panes[0], what)(*args)

    def on_unmount(self) -> None:
        self._stop_heap_policy()
        if self.watcher is not None:
            self.watcher.stop()

    @property
    def main(self) -> MainScreen | None:
        for s in reversed(self.screen_stack):
            if isinstance(s, MainScreen):
                return s
        return None

    def available_extras(self) -> set[str]:
        return set(EXTRA_NAMES) if self.watcher is not None else set()

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """$lab-<meaning> for app.tcss before (and whatever) the lab's theme is installed."""
        from lab.ui.themes import _FALLBACK

        return {**super().get_theme_variable_defaults(), **{f"lab-{k}": v for k, v in _FALLBACK.items()}}

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        yield from lab_commands(self)

    # ---- state ------------------------------------------------------------------------------------
    def _from_watcher(self, update) -> None:   # watcher thread
        with self._inbox_lock:
            pending = self._inbox
            self._inbox = update if pending is None else pending.merge(update)
            if pending is None:
                self.state_messages_queued += 1
        if pending is None:   # one wake-up in the queue at most; the handler takes the whole inbox
            self.post_message(StateUpdated(None))

    def _watcher_should_wait(self) -> bool:   # watcher thread
        """The last Update is not applied yet, or a typed command is running: read later."""
        return self._inbox is not None or self._command_first()

    def _command_first(self) -> bool:
        since = self._command_since
        return since is not None and time.monotonic() - since < COMMAND_FIRST

    def on_state_updated(self, msg: StateUpdated) -> None:
        if msg.update is not None:
            self.apply_update(msg.update)
            return
        with self._inbox_lock:
            update, self._inbox = self._inbox, None
            self.state_messages_queued -= 1
        if update is not None:
            self.apply_update(update)
        if self.watcher is not None:
            self.watcher.resume()

    def apply_update(self, update) -> None:
        """Merge an Update into the view at once; draw once for all updates since the last redraw,
        no sooner than the last redraw's cost allows."""
        self._unrendered |= self.view.apply(update)
        self._unrendered_news = self._unrendered_news or update.event_time is not None or update.initial
        if self.painted_hooks:
            self._updates.append(update)
        self._schedule_render()

    def _schedule_render(self) -> None:
        if not self._render_scheduled:
            self._render_scheduled = True
            delay = self._render_not_before - time.monotonic()
            if delay > 0:
                self.set_timer(delay, self._render_pending)
            else:
                self.call_later(self._render_pending)

    def _render_pending(self) -> None:
        if not self._render_scheduled:
            return   # already drawn (a deferred call and the command's end both asked)
        if self._command_first():   # drawn when the command's output is (on_command_done), or at the cap
            assert self._command_since is not None   # _command_first() is False without it
            self.set_timer(max(0.01, COMMAND_FIRST - (time.monotonic() - self._command_since)), self._render_pending)
            return
        main = self.main
        if main is None or not main.is_mounted:   # the first state came before the screen was built: soon
            self.set_timer(0.02, self._render_pending)
            return
        self._render_scheduled = False
        t0 = self._last_activity = time.monotonic()
        changed, self._unrendered = self._unrendered, set()
        news, self._unrendered_news = self._unrendered_news, False
        updates, self._updates = self._updates, []
        if changed:
            try:
                main.render_view(self.view, self.lab_theme, changed)
            except NoMatches:  # the screen is being torn down
                return
            self._schedule_expiry()
            self.action_scenario("state_changed", changed)
            if "namespaces" in changed:
                self.visibility_changed()
        cost = time.monotonic() - t0
        # a frame between two redraws of what events brought; after a redraw of counters or extras only
        # (the once-a-second refresh) the next change is drawn as soon as it comes
        self._render_not_before = t0 + max(FRAME if news else 0.0, RENDER_DUTY * cost)
        if self.view.loaded and not self._first_gc_asked:
            self._first_gc_asked = True
            self.call_after_refresh(self.set_timer, 0.2, self._first_deep_gc)   # once the first state is painted
        for hook in self.painted_hooks:
            for update in updates:
                self.call_after_refresh(hook, update)

    # ---- heap: bounded under storms, full passes only when idle --------------------------------------
    def _start_heap_policy(self) -> None:
        """The cycle collector's pass over the whole dashboard heap (widgets, CSS, Rich caches, the
        state of 100 namespaces: ~150k objects) takes 100-200 ms: left to its own thresholds it lands in
        the middle of redraws. So automatic generation-2 passes are off, and from a 1 s timer:
        - deep pass when idle (no redraw for 1 s) after activity, at most every 30 s unless a burst
          needed young passes: everything is looked at (gc.unfreeze), survivors are frozen (gc.freeze)
          and freed memory is handed back to the system (malloc_trim);
        - young pass whenever generation 2 has taken in enough since the last pass (or 5 s went by
          with any): gc.collect(2) skips the frozen part, so it only scans what is new since the last
          deep pass (tens of ms with 200 namespaces; when it gets slower than YOUNG_SLOW_MS, the next
          pass is a deep one even while busy, at most every 30 s). This is what bounds memory under a storm:
          Textual's Strips reference themselves from their own caches (a crop or a division to their
          full size), so every strip drawn becomes cyclic garbage that only a pass over generation 2
          frees; without these passes an event storm piled up dead strips until the next idle second
          (2 minutes of 50 link flips a second: +50 MB here, more on busier screens), and the heap
          stayed fragmented after.
        Otherwise nothing is frozen while busy: an object frozen alive and dropped later (a cached
        strip) could only be freed by the next deep pass. None of this runs in the first moments of a
        typed command (COMMAND_FIRST)."""
        self._gc_threshold = gc.get_threshold()
        gc.set_threshold(self._gc_threshold[0], self._gc_threshold[1], 1_000_000_000)
        self._last_activity = self._last_young_gc = time.monotonic()
        self._last_deep_gc = 0.0
        self._active_since_deep = True
        self._young_since_deep = 0
        self._young_slow = False
        self.set_interval(1.0, self._idle_gc)

    def _stop_heap_policy(self) -> None:
        if self._gc_threshold is not None:
            gc.set_threshold(*self._gc_threshold)
            gc.unfreeze()
            self._gc_threshold = None

    YOUNG_GC_PASSES = 10   # generation-1 passes (each ~700 net allocations x 10) before a young pass
    YOUNG_SLOW_MS = 40.0   # a young pass this slow means much is unfrozen: a deep pass, even if busy

    def _idle_gc(self) -> None:
        now = time.monotonic()
        if self._command_first() or not self.view.loaded:
            return   # a typed command is running, or the first state is being read (1,000 namespaces: ~1 s): not now
        busy = now - self._last_activity < 1.0 or self._render_scheduled
        if busy:
            self._active_since_deep = True
        since_deep = now - self._last_deep_gc
        if ((not busy and self._active_since_deep and (since_deep >= 30.0 or self._young_since_deep >= 3))
                or (busy and self._young_slow and since_deep >= 30.0)):
            self._deep_gc(busy)
            return
        young = gc.get_count()[2]
        if young >= self.YOUNG_GC_PASSES or (young and now - self._last_young_gc >= 5.0):
            t = time.perf_counter()
            gc.collect(2)
            self._young_slow = self._note_gc("young", t) > self.YOUNG_SLOW_MS
            self._last_young_gc = time.monotonic()
            self._young_since_deep += 1

    def _deep_gc(self, busy: bool = False) -> None:
        t = time.perf_counter()
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        _malloc_trim()
        self._note_gc("deep", t)
        self._last_deep_gc = self._last_young_gc = time.monotonic()
        self._active_since_deep = busy
        self._young_since_deep = 0
        self._young_slow = False

    def _first_deep_gc(self) -> None:
        """Right after the first state is on screen: one deep pass, so what was built to show the lab (a
        large lab: ~1 s of reading, 1,000 namespaces' objects) is frozen at once. Otherwise the first young
        pass and the first idle deep pass, each ~100 ms of the interpreter at 1,000 namespaces, came a few
        seconds later, in the middle of whatever the user (or the watcher) was doing."""
        if self._gc_threshold is not None and self._last_deep_gc == 0.0 and not self._command_first():
            self._deep_gc(busy=True)

    def _note_gc(self, kind: str, t: float) -> float:
        ms = (time.perf_counter() - t) * 1000
        self.heap_stats[kind] += 1
        self.heap_stats[f"{kind}_ms"] += ms
        self.heap_stats[f"{kind}_ms_max"] = max(self.heap_stats[f"{kind}_ms_max"], ms)
        return ms

    def _schedule_expiry(self) -> None:
        """One timer for the end of the earliest highlight (new highlights only end later, so a pending
        timer is never late); under a storm they end in a steady stream: expiries are batched 0.25 s
        apart and drawn by the throttled redraw like any change."""
        if self._expiry_timer is not None:
            return
        nxt = self.view.next_expiry()
        if nxt is None:
            return
        self._expiry_timer = self.set_timer(max(0.05, nxt - time.monotonic() + 0.02), self._expire)

    def _expire(self) -> None:
        self._expiry_timer = None
        if self.view.expire(time.monotonic() + 0.25):   # and those ending in the next 0.25 s
            self._unrendered.add("hot")
            self._schedule_render()
        self._schedule_expiry()

    def visibility_changed(self) -> None:
        """Tell the watcher what is on screen, so counters refresh only for that."""
        main = self.main
        if main is None or self.watcher is None or not main.is_mounted:
            return
        try:
            want = main.on_screen()
        except Exception:  # noqa: BLE001  (mid-compose)
            return
        if want != self._visible:
            self._visible = want
            self.watcher.want(*want)

    def select_ns(self, ns: str | None) -> None:
        """Focus every pane on one namespace (None = all)."""
        if ns is not None and ns not in self.view.states:
            return
        self.view.selected = ns
        if self.main is not None:
            self.main.render_view(self.view, self.lab_theme, None)
        self.visibility_changed()
        if self.watcher is not None and ns is not None:
            self.watcher.refresh([ns])

    def show_tab(self, tab_id: str) -> None:
        if self.main is not None:
            self.main.action_tab(tab_id)

    # ---- commands ---------------------------------------------------------------------------------
    @property
    def output(self) -> OutputLog:
        main = self.main
        assert main is not None   # only used while the main screen is up
        return main.query_one(OutputLog)

    def run_command(self, line: str) -> None:
        s = line.strip()
        if s in ("exit", "quit"):
            self.exit()
            return
        if s == "clear":
            self.output.clear()
            return
        where = ns_label(self.view.selected) if self.view.selected is not None else ""
        self.output.command(line, where, self.lab_theme)
        op = None
        try:
            op = self.engine.parse(line)
        except Exception:  # noqa: BLE001  (the worker reports parse errors in the engine's words)
            pass
        from lab.commands.ip import ExecOp

        if isinstance(op, ExecOp) and op.argv and os.path.basename(op.argv[0]) in SHELLS:
            self.open_shell(op.ns, op.argv)
            return
        from lab.commands.trace import TraceOp

        if isinstance(op, TraceOp) and not op.json and not op.pcap:
            self._trace_worker(line, op)   # shown in the trace view, not as text
            return
        self._command_since = time.monotonic()
        self._run_worker(line)

    @work(thread=True, group="commands")
    def _trace_worker(self, line: str, op) -> None:
        from lab.errors import LabError
        from lab.tracer import run_trace

        try:
            early: list = []

            def show(path) -> None:     # on screen before the trace tables are taken out again
                early.append(path)
                self.post_message(TraceDone(line, path=path))

            path = run_trace(self.engine.backend, op.spec, then=show)
            if not early:
                self.post_message(TraceDone(line, path=path))
        except LabError as e:
            self.post_message(TraceDone(line, error=str(e)))
        except Exception as e:  # noqa: BLE001  (never a traceback in the dashboard)
            self.post_message(TraceDone(line, error=f"internal error: {type(e).__name__}: {e}"))

    def on_trace_done(self, msg: TraceDone) -> None:
        from lab.ui.screens.trace import TraceScreen

        if msg.error is not None:
            self.output.error(msg.error, self.lab_theme)
            return
        self.output.output(f"{msg.path.outcome}: {msg.path.summary}  (trace view: n/p step, space play, esc back)")
        self.push_screen(TraceScreen(msg.path, self.lab_theme))

    @work(thread=True, group="commands")
    def _run_worker(self, line: str) -> None:
        t = time.monotonic()
        res = self.engine.run(line)
        self.post_message(CommandDone(res, time.monotonic() - t))

    def on_command_done(self, msg: CommandDone) -> None:
        self._command_since = None
        if self._render_scheduled:   # what waited for the command is drawn right after its output
            self.call_after_refresh(self._render_pending)
        if self.watcher is not None:
            self.watcher.resume()
        res = msg.result
        out = self.output
        if res.output:
            out.output(res.output)
        if not res.ok:
            out.error(res.error or "error", self.lab_theme)
        op = res.op
        self.action_scenario("learner_ran", res)   # a "your turn" check re-runs after the learner's change
        if op is not None and getattr(op, "mutates", True) and self.watcher is not None:
            self.watcher.refresh([op.ns or ""] if getattr(op, "ns", None) is not None else [""])

    def open_shell(self, ns: str | None, argv=None) -> None:
        """Suspend the dashboard and run a real shell inside `ns`; come back when it exits."""
        from lab.commands.ip import ExecOp
        from lab.errors import LabError

        shell = tuple(argv or (os.environ.get("SHELL") if os.path.basename(os.environ.get("SHELL", "")) in SHELLS
                               else "bash",))
        from lab.backend.sandbox import where as where_of

        where = where_of(self.engine.backend)
        if argv is None:
            cmd, env, tmp = shell_prompt(shell, f"lab {where} · {ns_label(ns or '')}")
        else:
            cmd, env, tmp = shell, {}, None
        op = ExecOp(ns, cmd)
        out = self.output
        try:
            self.engine._check_exec(op)        # no shell without allow_exec (refused before suspending)
            self.engine.backend.require_ns(ns)
            with self.suspend():
                print(f"lab: {shell[0]} in namespace {ns_label(ns or '')} of the lab's {where} (its prompt says so). "
                      "Type exit to return to the dashboard.", file=sys.stderr, flush=True)
                try:
                    self.engine._exec_interactive(op, env)
                except LabError as e:
                    if "exited with status" not in str(e):
                        raise
        except SuspendNotSupported:
            out.error("Cannot open a shell here: this terminal cannot be suspended.", self.lab_theme)
        except LabError as e:
            out.error(str(e), self.lab_theme)
        except OSError as e:
            out.error(f"{shell[0]}: {e.strerror or e}", self.lab_theme)
        else:
            out.note(f"back from {shell[0]} in {ns_label(ns or '')}", self.lab_theme)
        finally:
            if tmp is not None:
                tmp.cleanup()
        if self.watcher is not None:
            self.watcher.refresh(None)
        if self._player_panes():
            from lab.ui.widgets.player import PlayerPane

            # anything may have changed in the shell, sysctls included (no netlink event): check again
            self.action_scenario("state_changed", set(PlayerPane.WATCHED))

    # ---- themes -----------------------------------------------------------------------------------
    def _install_theme(self, t: LabTheme) -> None:
        self._lab_themes[t.textual_name] = t
        self.register_theme(t.to_textual())
        self.lab_theme = t
        self.theme = t.textual_name

    def _one_theme_system(self) -> None:
        """Textual's own theme picker (ctrl+p, Theme) offers the lab's themes only, each applied whole
        (panes, map and header follow: _theme_changed): Textual's built-in themes, which know nothing of
        the lab's meanings (up/down, accept/drop, NAT...), are unregistered."""
        for name in available_themes():
            if any(t.name == name for t in self._lab_themes.values()):
                continue
            try:
                t = load_theme(name)
            except ThemeError:
                continue
            self._lab_themes[t.textual_name] = t
            self.register_theme(t.to_textual())
        for name in list(self.available_themes):
            if name not in self._lab_themes:
                self.unregister_theme(name)

    def set_lab_theme(self, name: str) -> None:
        try:
            t = load_theme(name)
        except ThemeError as e:
            if self.main is not None:
                self.output.error(str(e), self.lab_theme)
            return
        self._install_theme(t)

    def _theme_changed(self, theme) -> None:
        t = self._lab_themes.get(theme.name)
        if t is None:
            return  # not the lab's (none other is registered: _one_theme_system)
        self.lab_theme = t
        if self.main is not None:
            self.main.render_view(self.view, self.lab_theme, None)
            self.main.query_one("#map", TopologyMap).show(self.view, t, force=True)

    # ---- actions ----------------------------------------------------------------------------------
    def action_focus_bar(self) -> None:
        if self.main is not None:
            if self.screen is not self.main:
                self.pop_screen()
            self.main.query_one("#commandbar", CommandBar).focus_input()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_shell(self) -> None:
        self.open_shell(self.view.selected or None)

    def action_next_theme(self) -> None:
        names = available_themes()
        i = names.index(self.lab_theme.name) if self.lab_theme.name in names else -1
        self.set_lab_theme(names[(i + 1) % len(names)])

    def action_select_ns_all(self) -> None:
        self.select_ns(None)

    def action_clear_output(self) -> None:
        if self.main is not None:
            self.output.clear()


def _malloc_trim() -> None:
    """Hand the C allocator's free memory back to the system (glibc; a no-op elsewhere)."""
    global _libc_trim
    if _libc_trim is None:
        try:
            _libc_trim = ctypes.CDLL(None).malloc_trim
        except (OSError, AttributeError):
            _libc_trim = False
    if _libc_trim:
        _libc_trim(0)


_libc_trim: Callable[[int], Any] | Literal[False] | None = None   # malloc_trim; False where there is none


def make_app(engine, theme: str | None = None, watch: bool = True, period: float = 1.0, scenario=None,
             type_delay: float = 0.03, scenario_step: int | None = None, watcher: Watcher | None = None) -> LabApp:
    """The dashboard over `engine` (raises lab.ui.themes.ThemeError for an unknown theme); with a
    scenario (lab.scenario.schema.Scenario) the player pane opens beside the panes."""
    return LabApp(engine, theme=theme, watch=watch, period=period, scenario=scenario, type_delay=type_delay,
                  scenario_step=scenario_step, watcher=watcher)


def run_app(engine, theme: str | None = None, scenario=None, scenario_step: int | None = None,
            watcher: Watcher | None = None) -> int:
    """Run the dashboard in this terminal until the user quits. Returns the exit status. `watcher`: one
    lab.backend.watch.prefetch_watcher made before this module was imported."""
    try:
        app = make_app(engine, theme=theme, scenario=scenario, scenario_step=scenario_step, watcher=watcher)
    except ThemeError as e:
        if watcher is not None:
            watcher.stop()   # and its prefetch children
        print(f"lab: {e}", file=sys.stderr)
        return 2
    app.run()
    return app.return_code or 0
