"""The topology map widget: draws lab.ui.topology's layout on Textual's Line API, scrolls when it is
bigger than the pane, and turns a click on a box into a namespace selection.

A large lab (topology.is_large: past FULL_MAP_MAX namespaces) is drawn as its overview, namespaces
hanging off the same bridge or namespace folded into a group box; a bar above the map then says what is
drawn and holds a filter by name (/ puts the cursor there; Esc goes back to the command bar): the
namespaces it matches are drawn as boxes. A click on a group box opens it GROUP_PAGE namespaces at a
time (each click the next page, then closed); the selected namespace is always drawn.

Each map line is rendered once into a Strip and cached; a new layout is compared line by line with the
one on screen and only lines that differ are repainted (a link going down changes two or three lines
of a 100-namespace map, not the whole canvas). Redraws only when links, addresses, the selection, the
theme or its own size change."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.segment import Segment
from rich.text import Text
from textual import events, getters
from textual.binding import Binding
from textual.containers import Container, Horizontal
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

from lab.ui import topology

if TYPE_CHECKING:
    from lab.ui.app import LabApp


class MapCanvas(ScrollView):
    DEFAULT_CSS = """
    MapCanvas { height: 1fr; width: 1fr; }
    """

    class Clicked(Message):
        def __init__(self, ns: str | None) -> None:
            super().__init__()
            self.ns = ns

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.layout_result: topology.MapLayout | None = None
        self._lines: list[Text] = []
        self._strips: dict[int, Strip] = {}

    @property
    def lines(self) -> list[Text]:
        return self._lines

    def set_lines(self, lines: list[Text]) -> None:
        """Show these lines; repaint only those that differ from what is shown."""
        width = max((cell_len(line.plain) for line in lines), default=0)
        old = self._lines
        self._lines = lines
        if len(old) != len(lines) or width != self.virtual_size.width:
            self._strips.clear()
            self.virtual_size = Size(width, len(lines))
            self.refresh()
            return
        top, height = int(self.scroll_y), self.scrollable_content_region.height
        for i, (a, b) in enumerate(zip(old, lines)):
            if a is not b and a != b:
                self._strips.pop(i, None)
                if top <= i < top + height:
                    self.refresh(Region(0, i - top, self.scrollable_content_region.width, 1))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def render_line(self, y: int) -> Strip:
        base = self.rich_style
        width = self.scrollable_content_region.width
        i = y + int(self.scroll_y)
        if not 0 <= i < len(self._lines):
            return Strip.blank(width, base)
        strip = self._strips.get(i)
        if strip is None:
            line = self._lines[i]
            strip = self._strips[i] = Strip(Segment.apply_style(line.render(self.app.console), base),
                                            cell_len(line.plain))
        x = int(self.scroll_x)
        return strip.crop_extend(x, x + width, base)

    class GroupClicked(Message):
        def __init__(self, group: str) -> None:
            super().__init__()
            self.group = group

    def on_click(self, event: events.Click) -> None:
        if self.layout_result is not None:
            x, y = event.x + int(self.scroll_x), event.y + int(self.scroll_y)
            group = self.layout_result.group_at(x, y)
            if group is not None:
                self.post_message(self.GroupClicked(group))
                return
            self.post_message(self.Clicked(self.layout_result.ns_at(x, y)))


class MapFilter(Input):
    """The large map's filter by name; Esc goes back to the command bar (the filter stays)."""
    BINDINGS = [Binding("escape", "back_to_bar", "Back to the command bar", show=False)]

    async def action_back_to_bar(self) -> None:
        await self.screen.run_action("leave_tree")


class TopologyMap(Container):
    if TYPE_CHECKING:
        app = getters.app(LabApp)

    FIELDS = frozenset({"links", "addresses", "namespaces"})
    DEFAULT_CSS = """
    TopologyMap #map-bar { height: 1; display: none; }
    TopologyMap.large #map-bar { display: block; }
    TopologyMap #map-filter { width: 1fr; height: 1; border: none; padding: 0 1; }
    TopologyMap #map-summary { width: auto; height: 1; padding: 0 1; color: $lab-muted; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._key: tuple | None = None
        self._line_cache: dict = {}     # topology.layout's per-line Text cache, for one theme
        self._cache_theme = None
        self.focus_state = topology.MapFocus()   # a large lab's filter and opened groups

    def compose(self):
        with Horizontal(id="map-bar"):
            yield Static(id="map-summary")
            yield MapFilter(placeholder="/ filter: a name, part of one or a glob (web-*)", id="map-filter")
        yield MapCanvas(id="map-canvas")

    def on_resize(self, event: events.Resize) -> None:
        app = self.app
        if getattr(app, "view", None) is not None and app.view.loaded:
            self.show(app.view, app.lab_theme)

    # ---- the large lab's overview: filter and groups ------------------------------------------------
    def set_filter(self, text: str) -> None:
        if text != self.focus_state.filter:
            self.focus_state.filter = text
            self._redraw()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "map-filter":
            event.stop()
            self.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "map-filter":
            event.stop()
            self.set_filter(event.value)

    def on_map_canvas_group_clicked(self, msg: MapCanvas.GroupClicked) -> None:
        self.open_group(msg.group)

    def open_group(self, gid: str) -> None:
        """Show the group's next GROUP_PAGE namespaces as boxes; past the last page, close it."""
        canvas = self.query_one(MapCanvas)
        g = canvas.layout_result.groups.get(gid) if canvas.layout_result is not None else None
        opened = self.focus_state.opened
        page = opened.get(gid)
        nxt = 0 if page is None else page + 1
        if g is None or nxt >= g.pages:
            opened.pop(gid, None)
        else:
            opened[gid] = nxt
        self._redraw()

    def _redraw(self) -> None:
        app = self.app
        if getattr(app, "view", None) is not None and app.view.loaded:
            self.show(app.view, app.lab_theme, force=True)

    def show(self, view, theme, force: bool = False) -> bool:
        size = (self.size.width, self.size.height)
        key = (view.generation, view.selected, theme.name, size, self.focus_state.key())
        if key == self._key and not force:
            return False
        self._key = key
        canvas = self.query_one(MapCanvas)
        states = [view.states[n] for n in view.order if n in view.states]
        large = topology.is_large(states)
        if large != self.has_class("large"):
            self.set_class(large, "large")
        height = size[1] - (1 if large else 0)
        styles = _styles(theme)
        if self._cache_theme != theme.name:
            self._line_cache, self._cache_theme = {}, theme.name
        try:
            result = topology.layout(states, view.selected, max_height=max(4, height - 1),
                                     max_width=max(40, size[0] - 2), resolve=lambda m: styles.get(m, m),
                                     cache=self._line_cache, focus=self.focus_state)
        except Exception as e:  # noqa: BLE001  (never let the map take the dashboard down)
            canvas.set_lines([Text(f"cannot draw the map: {type(e).__name__}: {e}", style=theme.color("drop"))])
            return True
        canvas.layout_result = result
        if large:
            self._summarize(len(states), result)
        if not states:
            canvas.set_lines([Text("no namespaces yet: try  ip netns add red", style=theme.color("muted"))])
        else:
            canvas.set_lines(list(result.lines))
        if view.selected is not None:
            reg = result.region_of(view.selected)
            if reg is not None:
                x0, y0, x1, y1 = reg
                self.call_after_refresh(canvas.scroll_to_region, Region(x0, y0, x1 - x0, y1 - y0), animate=False)
        return True

    def _summarize(self, total: int, result) -> None:
        folded = sum(len(g.folded) for g in result.groups.values())
        k = len(result.groups)
        text = (f"{total} namespaces: {total - folded} drawn, {folded} in {k} group{'s' if k != 1 else ''}"
                + (" (click: open)" if k else ""))
        summary = self.query_one("#map-summary", Static)
        if getattr(summary, "_lab_text", None) != text:
            summary._lab_text = text   # type: ignore[attr-defined]
            summary.update(text)


def _styles(theme) -> dict[str, str]:
    c = theme.color
    return {"up": c("up"), "down": c("down"), "address": c("address"), "namespace": c("namespace"),
            "bridge": c("bridge"), "muted": c("muted"), "group": c("namespace"), "selected": f"bold {c('selected')}",
            "title": f"bold {c('namespace')}", "title-bridge": f"bold {c('bridge')}",
            "title-selected": f"bold reverse {c('namespace')}", "bold": "bold"}
