"""TablePane: a LineTable (lab.ui.widgets.linetable) that shows rows built from the LabView, repaints
only the rows that change, keeps the cursor on the same row across redraws, highlights recently changed
rows, and says which namespaces are on screen (so the watcher refreshes counters only for those).
"""
from __future__ import annotations

from typing import Iterable

from rich.text import Text

from lab.ui.view import LabView, ns_label
from lab.ui.widgets.linetable import LineTable

Cell = str | Text
Row = tuple[str, str, tuple[Cell, ...]]   # (row key, namespace, cells without the NS column)


class TablePane(LineTable):
    """Subclasses set TITLE, COLUMNS, FIELDS (NsState fields they show), EXTRA (snapshot extra they
    need, if any), EMPTY, and implement build_rows()."""

    TITLE = ""
    COLUMNS: tuple[str, ...] = ()
    FIELDS: frozenset[str] = frozenset()
    EXTRA: str | None = None
    EMPTY = "nothing here"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._last: list[tuple[str, tuple, str]] | None = None
        self._row_ns: list[str] = []

    def on_mount(self) -> None:
        self.add_columns("NS", *self.COLUMNS)

    # ---- to implement -----------------------------------------------------------------------------
    def build_rows(self, view: LabView, theme) -> Iterable[Row]:
        raise NotImplementedError

    # ---- drawing ----------------------------------------------------------------------------------
    def show(self, view: LabView, theme, now: float, extra_available: bool = True) -> bool:
        """Redraw from the view if anything visible changed. Returns True if it redrew."""
        try:
            built = list(self.build_rows(view, theme))
        except Exception as e:  # noqa: BLE001  (never let one odd object blank the dashboard)
            built = [("__error__", "", (Text(f"cannot show: {type(e).__name__}: {e}", style=theme.color("drop")),))]
        if not built:
            why = self.EMPTY if extra_available else f"not available: this lab has no {self.EXTRA} reader"
            built = [("__empty__", "", (Text(why, style=f"italic {theme.color('muted')}"),))]
        hot = f"on {theme.color('changed')}"
        ns_col = theme.color("namespace")
        rendered = []
        for key, ns, cells in built:
            cells = tuple(cells) + ("",) * (len(self.COLUMNS) - len(cells))
            full = (Text(ns_label(ns) if key not in ("__empty__", "__error__") else "", style=ns_col),) + cells
            rendered.append((key, full, hot if view.is_hot(key, now) else ""))
        if rendered == self._last:
            return False
        self._redraw(rendered)
        self._row_ns = [ns for _, ns, _ in built]
        return True

    def _redraw(self, rendered: list[tuple[str, tuple, str]]) -> None:
        seen: set[str] = set()
        rows = []
        for key, cells, style in rendered:
            k, n = key, 1
            while k in seen:  # duplicate keys (e.g. equal rules) stay distinct rows
                n += 1
                k = f"{key}#{n}"
            seen.add(k)
            rows.append((k, cells, style))
        self.set_rows(rows)
        self._last = rendered

    def visible_namespaces(self) -> set[str]:
        """Namespaces whose rows are in the viewport."""
        if not self._row_ns:
            return set()
        top = int(self.scroll_y)
        height = max(1, self.scrollable_content_region.height - 1)
        return {ns for ns in self._row_ns[top:top + height + 1]}

    def row_namespace(self, row: int) -> str | None:
        return self._row_ns[row] if 0 <= row < len(self._row_ns) else None


def styled(text: object, style: str) -> Text:
    return Text(str(text), style=style)


def num(n: int | None) -> Text:
    """Counters right-aligned, with k/M/G so they stay readable from the back of the room."""
    if n is None:
        return Text("")
    for unit, size in (("G", 10 ** 9), ("M", 10 ** 6), ("k", 10 ** 4)):
        if n >= size:
            scaled = n / (size if unit != "k" else 1000)
            return Text(f"{scaled:.1f}{unit}", justify="right")
    return Text(str(n), justify="right")


def state_color(theme, state: str) -> str:
    s = state.upper()
    if s in ("UP", "REACHABLE", "PERMANENT", "NOARP", "ACCEPT", "ESTABLISHED"):
        return theme.color("up")
    if s in ("DOWN", "FAILED", "INCOMPLETE", "NOTPRESENT", "DROP"):
        return theme.color("down")
    return theme.color("unknown")


def target_color(theme, target: str) -> str:
    t = (target or "").upper()
    if t == "ACCEPT":
        return theme.color("accept")
    if t == "DROP":
        return theme.color("drop")
    if t == "REJECT":
        return theme.color("reject")
    if t in ("DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP"):
        return theme.color("nat")
    if t in ("LOG", "TRACE", "MARK", "CONNMARK", "NFLOG"):
        return theme.color("log")
    return theme.color("jump")
