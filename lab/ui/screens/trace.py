"""The trace view: a packet's path as a step-through timeline (one plain sentence per step), the
netfilter flow diagram of every namespace the packet crosses in that direction (traversed hooks lit, NAT
and drops marked, the step's own hook reversed, its namespace first-marked ▶), and the packet's headers at
that step (before/after when NAT rewrote them). Keys: n/→ next, p/← previous, space play/pause,
+/- faster/slower, r reply path, home/end first/last, escape back to the dashboard."""
from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from lab.model.trace import Hop, TracePath
from lab.ui.widgets.flow import flow_text, headers_text


def ns_name(ns: str) -> str:
    return ns or "host"


class TraceScreen(Screen):
    BINDINGS = [
        Binding("escape,q", "close", "Back"),      # first: the footer of a narrow terminal keeps it
        Binding("n,right,j", "step(1)", "Next"),
        Binding("p,left,k", "step(-1)", "Previous"),
        Binding("space", "play", "Play/pause"),
        Binding("plus,equals_sign", "pace(0.5)", "Faster"),
        Binding("minus", "pace(2)", "Slower"),
        Binding("r", "reply", "Reply path"),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]
    DEFAULT_CSS = """
    TraceScreen #trace-title { height: auto; padding: 0 1; }
    TraceScreen #trace-steps { width: 1fr; min-width: 36; height: 1fr; }
    TraceScreen #trace-right { width: 80; max-width: 60%; }
    TraceScreen #trace-flows { overflow-x: auto; }
    TraceScreen #trace-headers { height: auto; padding: 0 1; border: round $secondary; }
    TraceScreen #trace-flows { height: 1fr; border: round $primary; }
    TraceScreen #trace-flow { height: auto; width: auto; padding: 0 1; }   /* diagrams never wrap: they scroll */
    """

    def __init__(self, path: TracePath, theme, pace: float = 1.0):
        super().__init__()
        self.path = path
        self._theme = theme
        self.pace = pace
        self.index = 0
        self._timer: Timer | None = None

    @property
    def lab_theme(self):
        """The app's current meaning colours (follows ctrl+t), else the one given."""
        try:
            return getattr(self.app, "lab_theme", None) or self._theme
        except Exception:  # noqa: BLE001  (not attached yet)
            return self._theme

    @property
    def hops(self) -> tuple[Hop, ...]:
        return self.path.hops

    def compose(self):
        yield Static(self._title(), id="trace-title")
        with Horizontal():
            yield OptionList(*self._options(), id="trace-steps")
            with Vertical(id="trace-right"):
                yield Static(id="trace-headers")
                with VerticalScroll(id="trace-flows"):
                    yield Static(id="trace-flow")
        yield Footer()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _t: self.call_after_refresh(self.redraw))
        steps = self.query_one("#trace-steps", OptionList)
        steps.focus()
        if self.hops:
            steps.highlighted = 0
        self.show(0)

    def _title(self) -> Text:
        th = self.lab_theme
        colour = {"dropped": "drop", "rejected": "reject", "lost": "unknown"}.get(self.path.outcome, "accept")
        t = Text()
        t.append(f"trace {self.path.spec}  ", "bold")
        t.append(f"{self.path.outcome or '?'}", f"bold {th.color(colour)}")
        t.append(f"  {self.path.summary}\n", "")
        if self._timer is not None:
            t.append(f"▶ playing, {self.pace:g} s a step (space pauses, +/- pace)\n", th.color("muted"))
        for w in self.path.warnings:
            t.append(f"⚠ {w}\n", th.color("unknown"))
        return t

    def _options(self) -> list[Option]:
        th = self.lab_theme
        out, direction = [], None
        for i, h in enumerate(self.hops):
            t = Text()
            if h.direction != direction:
                direction = h.direction
                t.append(f"{direction}: ", f"bold {th.color('muted')}")
            t.append(f"{i + 1:>3}. ", th.color("muted"))
            t.append(f"[{ns_name(h.ns)}] ", th.color("namespace"))
            style = (th.color("drop") if h.kind == "drop" or h.verdict in ("drop", "reject") else
                     th.color("nat") if h.nat or h.kind == "nat" else "")
            t.append(h.explanation or f"{h.kind} {h.hook}", style)
            out.append(Option(t, id=f"step-{i}"))
        return out

    def redraw(self) -> None:
        """Everything again in the current theme's colours (after ctrl+t)."""
        steps = self.query_one("#trace-steps", OptionList)
        steps.clear_options()
        steps.add_options(self._options())
        if self.hops:
            steps.highlighted = self.index
        self.show(self.index)

    def namespaces(self, direction: str, probe: int = 0) -> list[str]:
        """The namespaces the packet (probe N of --count) crosses in one direction, in path order."""
        out: list[str] = []
        for h in self.hops:
            if h.direction == direction and h.probe == probe and h.ns not in out:
                out.append(h.ns)
        return out

    def show(self, i: int) -> None:
        if not self.hops:
            self.query_one("#trace-flow", Static).update("(no steps)")
            return
        self.index = max(0, min(i, len(self.hops) - 1))
        hop = self.hops[self.index]
        th = self.lab_theme
        flows, active_line, line = Text(), 0, 0
        for ns in self.namespaces(hop.direction, hop.probe):
            same = [h for h in self.hops if h.ns == ns and h.direction == hop.direction and h.probe == hop.probe]
            active = ns == hop.ns
            if active:
                active_line = line
            part = flow_text(f"{ns_name(ns)} · {hop.direction}", same, hop if active else None, th, active=active)
            part.append("\n")
            line += part.plain.count("\n")
            flows.append_text(part)
        self.query_one("#trace-flow", Static).update(flows)
        self.query_one("#trace-flows", VerticalScroll).scroll_to(y=active_line, animate=False)
        probe = f" · probe {hop.probe + 1}" if any(h.probe for h in self.hops) else ""
        head = Text(f"step {self.index + 1}/{len(self.hops)} · {ns_name(hop.ns)} · {hop.direction}{probe}\n",
                    th.color("muted"))
        head.append(hop.explanation + "\n\n", "bold")
        head.append_text(headers_text(hop, th))
        self.query_one("#trace-headers", Static).update(head)
        self.query_one("#trace-title", Static).update(self._title())

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.id == "trace-steps" and event.option_index is not None:
            self.show(event.option_index)

    def action_step(self, delta: int) -> None:
        steps = self.query_one("#trace-steps", OptionList)
        steps.highlighted = max(0, min(self.index + delta, len(self.hops) - 1))
        self.show(steps.highlighted)

    def action_first(self) -> None:
        self.action_step(-len(self.hops))

    def action_last(self) -> None:
        self.action_step(len(self.hops))

    def action_pace(self, factor: float) -> None:
        self.pace = max(0.1, min(10.0, self.pace * factor))
        if self._timer is not None:
            self._timer.stop()
            self._timer = self.set_interval(self.pace, self._tick)
        self.query_one("#trace-title", Static).update(self._title())

    def action_reply(self) -> None:
        for i, h in enumerate(self.hops):
            if h.direction == "reply":
                self.query_one("#trace-steps", OptionList).highlighted = i
                self.show(i)
                return

    def action_play(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        else:
            if self.index >= len(self.hops) - 1:
                self.action_first()
            self._timer = self.set_interval(self.pace, self._tick)
        self.query_one("#trace-title", Static).update(self._title())

    def _tick(self) -> None:
        if self.index >= len(self.hops) - 1:
            if self._timer is not None:
                self._timer.stop()
                self._timer = None
                self.query_one("#trace-title", Static).update(self._title())
            return
        self.action_step(1)

    def action_close(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self.app.pop_screen()
