"""The topology map widget: draws lab.ui.topology's layout, scrolls when it is bigger than the pane,
and turns a click on a box into a namespace selection. Redraws only when links, addresses, the selection,
the theme or its own size change."""
from __future__ import annotations

from rich.text import Text
from textual import events
from textual.containers import ScrollableContainer
from textual.message import Message
from textual.widgets import Static

from lab.ui import topology


class MapCanvas(Static):
    class Clicked(Message):
        def __init__(self, ns: str | None) -> None:
            super().__init__()
            self.ns = ns

    def __init__(self, **kw) -> None:
        super().__init__("", **kw)
        self.layout_result: topology.MapLayout | None = None

    def on_click(self, event: events.Click) -> None:
        if self.layout_result is not None:
            self.post_message(self.Clicked(self.layout_result.ns_at(event.x, event.y)))


class TopologyMap(ScrollableContainer):
    FIELDS = frozenset({"links", "addresses", "namespaces"})

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._key = None

    def compose(self):
        yield MapCanvas(id="map-canvas")

    def on_resize(self, event: events.Resize) -> None:
        app = self.app
        if getattr(app, "view", None) is not None and app.view.loaded:
            self.show(app.view, app.lab_theme)

    def show(self, view, theme, force: bool = False) -> bool:
        size = (self.size.width, self.size.height)
        key = (view.generation, view.selected, theme.name, size)
        if key == self._key and not force:
            return False
        self._key = key
        canvas = self.query_one(MapCanvas)
        states = [view.states[n] for n in view.order if n in view.states]
        styles = _styles(theme)
        try:
            result = topology.layout(states, view.selected, max_height=max(4, size[1] - 1),
                                     max_width=max(40, size[0] - 2), resolve=lambda m: styles.get(m, m))
        except Exception as e:  # noqa: BLE001  (never let the map take the dashboard down)
            canvas.update(Text(f"cannot draw the map: {type(e).__name__}: {e}", style=theme.color("drop")))
            return True
        canvas.layout_result = result
        if not states:
            canvas.update(Text("no namespaces yet: try  ip netns add red", style=theme.color("muted")))
        else:
            canvas.update(Text("\n").join(result.lines))
        if view.selected is not None:
            reg = result.region_of(view.selected)
            if reg is not None:
                from textual.geometry import Region

                x0, y0, x1, y1 = reg
                self.call_after_refresh(self.scroll_to_region, Region(x0, y0, x1 - x0, y1 - y0), animate=False)
        return True


def _styles(theme) -> dict[str, str]:
    c = theme.color
    return {"up": c("up"), "down": c("down"), "address": c("address"), "namespace": c("namespace"),
            "bridge": c("bridge"), "muted": c("muted"), "selected": f"bold {c('selected')}",
            "title": f"bold {c('namespace')}", "title-bridge": f"bold {c('bridge')}",
            "title-selected": f"bold reverse {c('namespace')}", "bold": "bold"}
