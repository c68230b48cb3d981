"""The trace view: a packet's path as a step-through timeline (one plain sentence per step), the
netfilter flow diagram of the namespace the selected step is in (traversed hooks lit, NAT and drops
marked), and the packet's headers at that step. Keys: n/→ next, p/← previous, space play/pause,
r reply path, escape back to the dashboard."""
from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from lab.model.trace import Hop, TracePath
from lab.ui.widgets.flow import flow_text, headers_text


def ns_name(ns: str) -> str:
    return ns or "host"


class TraceScreen(Screen):
    BINDINGS = [
        Binding("n,right,j", "step(1)", "Next"),
        Binding("p,left,k", "step(-1)", "Previous"),
        Binding("space", "play", "Play/pause"),
        Binding("r", "reply", "Reply path"),
        Binding("escape,q", "close", "Back"),
    ]
    DEFAULT_CSS = """
    TraceScreen #trace-title { height: auto; padding: 0 1; }
    TraceScreen #trace-steps { width: 3fr; height: 1fr; }
    TraceScreen #trace-right { width: 4fr; }
    TraceScreen #trace-flow { height: auto; padding: 0 1; border: round $primary; }
    TraceScreen #trace-headers { height: auto; padding: 0 1; border: round $secondary; }
    """

    def __init__(self, path: TracePath, theme, pace: float = 1.0):
        super().__init__()
        self.path = path
        self.lab_theme = theme
        self.pace = pace
        self.index = 0
        self._timer = None

    @property
    def hops(self) -> tuple[Hop, ...]:
        return self.path.hops

    def compose(self):
        yield Static(self._title(), id="trace-title")
        with Horizontal():
            yield OptionList(*self._options(), id="trace-steps")
            with Vertical(id="trace-right"):
                yield Static(id="trace-flow")
                yield Static(id="trace-headers")
        yield Footer()

    def on_mount(self) -> None:
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

    def show(self, i: int) -> None:
        if not self.hops:
            self.query_one("#trace-flow", Static).update("(no steps)")
            return
        self.index = max(0, min(i, len(self.hops) - 1))
        hop = self.hops[self.index]
        same = [h for h in self.hops if h.ns == hop.ns and h.direction == hop.direction]
        label = f"{ns_name(hop.ns)} · {hop.direction} · step {self.index + 1}/{len(self.hops)}"
        self.query_one("#trace-flow", Static).update(flow_text(label, same, hop, self.lab_theme))
        head = Text(hop.explanation + "\n\n", "bold")
        head.append_text(headers_text(hop, self.lab_theme))
        self.query_one("#trace-headers", Static).update(head)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.id == "trace-steps" and event.option_index is not None:
            self.show(event.option_index)

    def action_step(self, delta: int) -> None:
        steps = self.query_one("#trace-steps", OptionList)
        steps.highlighted = max(0, min(self.index + delta, len(self.hops) - 1))
        self.show(steps.highlighted)

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
            return
        self._timer = self.set_interval(self.pace, self._tick)

    def _tick(self) -> None:
        if self.index >= len(self.hops) - 1:
            if self._timer is not None:
                self._timer.stop()
                self._timer = None
            return
        self.action_step(1)

    def action_close(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self.app.pop_screen()
