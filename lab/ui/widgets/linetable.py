"""LineTable: a read-mostly table on Textual's Line API, made for panes that change a few rows at a time.

Textual's DataTable drops its render caches on any cell update, so one changed link re-renders every
visible cell of a 200-row pane (~30-60 ms on the dashboard). Here each row is rendered once into a
Strip and cached; `set_rows` compares the new rows with the old and repaints only the lines of rows
that changed (or everything when a column had to grow or the rows moved); `update_rows` patches rows
in place when the caller knows which changed (3,000 rows need not be compared). Horizontal scrolling
crops the cached strips. A fixed header line, a row cursor (keys, mouse) that stays on the same row key
across updates, and the DataTable look (header on $panel, block cursor) are kept.

Leaves what the rows contain to lab.ui.panes.
"""
from __future__ import annotations

from typing import Sequence

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Span, Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = str | Text
PAD = 1   # blank cells each side of a column, as DataTable draws them


def _text(cell: Cell) -> Text:
    """The cell as Text whose whole-text style is a span: Text.render() drops a Text's base style (only
    console printing applies it), which drew every Text("DROP", style=red) cell in the default colour."""
    if not isinstance(cell, Text):
        return Text(str(cell))
    if cell.style:
        cell = cell.copy()
        cell.spans.insert(0, Span(0, len(cell), cell.style))
        cell.style = ""
    return cell


def _width(cell: Cell) -> int:
    return cell_len(cell.plain if isinstance(cell, Text) else str(cell))


class LineTable(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {"linetable--header", "linetable--cursor"}
    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "cursor_to(0)", "First row", show=False),
        Binding("end", "cursor_to(-1)", "Last row", show=False),
    ]
    DEFAULT_CSS = """
    LineTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        &:focus {
            background-tint: $foreground 5%;
            & > .linetable--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        & > .linetable--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .linetable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._columns: tuple[str, ...] = ()
        self._widths: list[int] = []
        self._rows: list[tuple[str, tuple[Cell, ...], str]] = []   # (key, cells, row style)
        self._strips: dict[int, Strip] = {}      # row index -> full-width strip (cursor not applied)
        self._header: Strip | None = None
        self.cursor_row = 0

    # ---- data -------------------------------------------------------------------------------------
    def add_columns(self, *names: str) -> None:
        self._columns = tuple(names)
        self._widths = [cell_len(n) for n in names]
        self._invalidate_all()

    @property
    def row_count(self) -> int:
        return len(self._rows)

    def get_row_at(self, index: int) -> list[Cell]:
        return list(self._rows[index][1])

    def row_key_at(self, index: int) -> str | None:
        return self._rows[index][0] if 0 <= index < len(self._rows) else None

    def set_rows(self, rows: Sequence[tuple]) -> None:
        """Show these (key, cells) or (key, cells, style) rows, a style covering the whole row (the
        padding between cells too); repaint only what differs from what is shown."""
        old = self._rows
        cur_key = self.row_key_at(self.cursor_row)
        n = len(self._columns)
        rows = [(r[0], (tuple(r[1]) + ("",) * (n - len(r[1])))[:n], r[2] if len(r) > 2 else "")
                for r in rows]   # exactly one cell per column
        same_keys = len(old) == len(rows) and all(a[0] == b[0] for a, b in zip(old, rows))
        changed = [i for i, (a, b) in enumerate(zip(old, rows)) if a[1:] != b[1:]] if same_keys else []
        if same_keys:
            widths = list(self._widths)     # grow only: a column never jitters narrower
            for i in changed:
                for j, c in enumerate(rows[i][1]):
                    widths[j] = max(widths[j], _width(c))
        else:
            widths = [cell_len(n) for n in self._columns]
            for _, cells, _ in rows:
                for j, c in enumerate(cells):
                    widths[j] = max(widths[j], _width(c))
        self._rows = rows
        if widths != self._widths or not same_keys:
            self._widths = widths
            self._invalidate_all()
        else:
            for i in changed:
                self._strips.pop(i, None)
                self._refresh_row(i)
        if not same_keys:
            new_cursor = 0
            if cur_key is not None:
                new_cursor = next((i for i, r in enumerate(rows) if r[0] == cur_key),
                                  min(self.cursor_row, max(0, len(rows) - 1)))
            self.cursor_row = max(0, min(new_cursor, len(rows) - 1))
        self.virtual_size = Size(self._total_width(), len(rows) + 1)

    def update_rows(self, changes: dict[int, tuple]) -> None:
        """Replace rows in place, each (key, cells[, style]) at an index whose key it keeps; repaint only
        those (or all, when a column had to grow)."""
        n = len(self._columns)
        widths = self._widths
        grown = False
        for i, r in changes.items():
            if not 0 <= i < len(self._rows):
                continue
            row = (r[0], (tuple(r[1]) + ("",) * (n - len(r[1])))[:n], r[2] if len(r) > 2 else "")
            self._rows[i] = row
            for j, c in enumerate(row[1]):
                w = _width(c)
                if w > widths[j]:
                    widths[j] = w
                    grown = True
        if grown:
            self._invalidate_all()
            self.virtual_size = Size(self._total_width(), len(self._rows) + 1)
            return
        for i in changes:
            self._strips.pop(i, None)
            self._refresh_row(i)

    def _total_width(self) -> int:
        return sum(w + 2 * PAD for w in self._widths)

    def _invalidate_all(self) -> None:
        self._strips.clear()
        self._header = None
        self.refresh()

    def _refresh_row(self, index: int) -> None:
        y = index + 1 - int(self.scroll_y)
        if 1 <= y < self.scrollable_content_region.height:
            self.refresh(Region(0, y, self.scrollable_content_region.width, 1))

    # ---- rendering --------------------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._header = None

    def _line(self, cells: Sequence[Cell], style: Style) -> Strip:
        console = self.app.console
        segments: list[Segment] = []
        pad = Segment(" " * PAD, style)
        for c, w in zip(cells, self._widths):
            t = _text(c)
            if cell_len(t.plain) > w:
                t = t.copy()
                t.truncate(w, overflow="ellipsis")
            line = Text(" " * (w - cell_len(t.plain)))
            if t.justify == "right":
                line = line + t
            else:
                line = t + line
            segments.append(pad)
            segments.extend(Segment.apply_style(line.render(console), style))
            segments.append(pad)
        return Strip(segments, self._total_width())

    def _row_strip(self, index: int) -> Strip:
        s = self._strips.get(index)
        if s is None:
            _, cells, style = self._rows[index]
            s = self._strips[index] = self._line(cells, self.rich_style + Style.parse(style) if style else self.rich_style)
        return s

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        scroll_x = int(self.scroll_x)
        if y == 0:
            if self._header is None:
                hs = self.get_component_rich_style("linetable--header")
                self._header = self._line([Text(n) for n in self._columns], base + hs)
            hs = self.get_component_rich_style("linetable--header")
            return self._header.crop_extend(scroll_x, scroll_x + width, base + hs)
        index = y - 1 + int(self.scroll_y)
        if not 0 <= index < len(self._rows):
            return Strip.blank(width, base)
        strip = self._row_strip(index).crop_extend(scroll_x, scroll_x + width, base)
        if index == self.cursor_row:
            cs = self.get_component_rich_style("linetable--cursor")
            strip = Strip(Segment.apply_style(strip, post_style=cs), strip.cell_length)
        return strip

    # ---- cursor -----------------------------------------------------------------------------------
    def move_cursor(self, row: int, scroll: bool = True) -> None:
        if not self._rows:
            self.cursor_row = 0
            return
        row = max(0, min(row, len(self._rows) - 1))
        if row != self.cursor_row:
            old, self.cursor_row = self.cursor_row, row
            self._refresh_row(old)
            self._refresh_row(row)
        if scroll:
            top, height = int(self.scroll_y), max(1, self.scrollable_content_region.height - 1)
            if row < top:
                self.scroll_to(y=row, animate=False)
            elif row >= top + height:
                self.scroll_to(y=row - height + 1, animate=False)

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self.cursor_row + direction * max(1, self.scrollable_content_region.height - 2))

    def action_cursor_to(self, row: int) -> None:
        self.move_cursor(row if row >= 0 else len(self._rows) - 1)

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self.move_cursor(event.y - 1 + int(self.scroll_y), scroll=False)
