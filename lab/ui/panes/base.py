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
    """Subclasses set TITLE, COLUMNS, FIELDS (NsState fields they show), SOURCES (the NsState fields
    ns_rows reads), EXTRA (snapshot extra they need, if any), EMPTY, and implement ns_rows() (the rows of
    one namespace) or build_rows() (all of them).

    With SOURCES, rows are kept per namespace and rebuilt only for a namespace whose sources are new
    objects; the table is then patched row by row where the rows keep their places (a link going down in
    a lab of 1,000 namespaces repaints one row, it does not rebuild 3,000)."""

    TITLE = ""
    COLUMNS: tuple[str, ...] = ()
    FIELDS: frozenset[str] = frozenset()
    SOURCES: tuple[str, ...] = ()
    ROW_CACHE = False   # ns_rows gives the same row object again for an unchanged item (see LinksPane)
    EXTRA: str | None = None
    EMPTY = "nothing here"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._last: list[tuple[str, tuple, str]] | None = None
        self._row_ns: list[str] = []
        self._by_ns: dict[str, tuple[tuple, str, list]] = {}   # ns -> (its sources, theme, finished rows)
        self._segments: list[tuple[str, list]] | None = None  # what is drawn: (ns, its rows) in order
        self._finished: dict[int, tuple[tuple, tuple]] = {}    # id(row from ns_rows) -> (it, finished row)

    def on_mount(self) -> None:
        self.add_columns("NS", *self.COLUMNS)

    # ---- to implement -----------------------------------------------------------------------------
    def build_rows(self, view: LabView, theme) -> Iterable[Row]:
        for st in view.shown():
            yield from self.ns_rows(st, theme)

    def ns_rows(self, st, theme) -> Iterable[Row]:
        raise NotImplementedError

    # ---- drawing ----------------------------------------------------------------------------------
    def show(self, view: LabView, theme, now: float, extra_available: bool = True) -> bool:
        """Redraw from the view if anything visible changed. Returns True if it redrew."""
        if self.SOURCES:
            try:
                segments = self._segments_of(view, theme, now)
            except Exception as e:  # noqa: BLE001  (never let one odd object blank the dashboard)
                error: list[Row] = [("__error__", "", (Text(f"cannot show: {type(e).__name__}: {e}",
                                                            style=theme.color("drop")),))]
                return self._show_rows(error, view, theme, now, extra_available)
            if any(rows for _, rows in segments):
                return self._show_segments(segments)
            return self._show_rows([], view, theme, now, extra_available)
        try:
            built: list[Row] = list(self.build_rows(view, theme))
        except Exception as e:  # noqa: BLE001  (never let one odd object blank the dashboard)
            built = [("__error__", "", (Text(f"cannot show: {type(e).__name__}: {e}", style=theme.color("drop")),))]
        return self._show_rows(built, view, theme, now, extra_available)

    def _show_rows(self, built: list, view: LabView, theme, now: float, extra_available: bool) -> bool:
        """Draw these rows (key, ns, cells) as the whole table."""
        self._segments = None
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

    def _segments_of(self, view: LabView, theme, now: float) -> list[tuple[str, list]]:
        """(namespace, its finished rows (key, cells, style)) for every namespace shown; the rows of a
        namespace whose sources are the same objects as last time are the same list."""
        hot_keys = [k for k, end in view.hot.items() if end > now] if view.hot else []
        hot_ns = {k.partition("\x1f")[0] for k in hot_keys}
        hot = f"on {theme.color('changed')}"
        by_ns = self._by_ns
        segments = []
        for st in view.shown():
            sources = tuple(getattr(st, f) for f in self.SOURCES)
            hit = by_ns.get(st.name)
            if (hit is not None and hit[1] == theme.name and len(hit[0]) == len(sources)
                    and all(a is b for a, b in zip(hit[0], sources))):
                rows = hit[2]
            else:
                rows = self._finish_rows(st.name, self.ns_rows(st, theme), theme)
                by_ns[st.name] = (sources, theme.name, rows)
            if st.name in hot_ns:
                keys = set(hot_keys)
                rows = [(r[0], r[1], hot) if _original_key(r[0]) in keys else r for r in rows]
            segments.append((st.name, rows))
        if len(by_ns) > 2 * len(segments) + 64:   # namespaces gone or not shown any more
            shown = {ns for ns, _ in segments}
            for ns in [ns for ns in by_ns if ns not in shown]:
                del by_ns[ns]
        total = sum(len(rows) for _, rows in segments)
        if len(self._finished) > 2 * total + 1024:   # rows of items long gone
            self._finished.clear()
        self.prune_row_cache(total)
        return segments

    def prune_row_cache(self, rows: int) -> None:
        """A pane with a cache of its own rows (ROW_CACHE) forgets old ones here; `rows`: how many are shown."""

    def _finish_rows(self, ns: str, raw: Iterable[Row], theme) -> list:
        """Rows of one namespace as the table draws them: the NS column first, every column filled,
        duplicate keys made distinct; a row object ns_rows gives again (a pane's own cache of rows) is
        finished once."""
        memo = self._finished if self.ROW_CACHE else None
        ns_cell = None
        seen: set[str] = set()
        out = []
        width = len(self.COLUMNS)
        for row in raw:
            hit = memo.get(id(row)) if memo is not None else None
            if hit is not None and hit[0] is row:
                fin = hit[1]
            else:
                key, row_ns, cells = row
                if ns_cell is None:
                    ns_cell = Text(ns_label(row_ns), style=theme.color("namespace"))
                cells = tuple(cells) + ("",) * (width - len(cells))
                fin = (key, (ns_cell,) + cells, "")
                if memo is not None:
                    memo[id(row)] = (row, fin)
            key = fin[0]
            if key in seen:   # duplicate keys (e.g. equal rules) stay distinct rows
                k, n = key, 1
                while k in seen:
                    n += 1
                    k = f"{key}#{n}"
                fin = (k,) + fin[1:]
                key = k
            seen.add(key)
            out.append(fin)
        return out

    def _show_segments(self, segments: list[tuple[str, list]]) -> bool:
        old = self._segments
        if (old is not None and len(old) == len(segments)
                and all(a[0] == b[0] and len(a[1]) == len(b[1]) for a, b in zip(old, segments))):
            changes: dict[int, tuple] = {}
            moved = False   # a row's key changed: redraw all
            base = 0
            for (_, rows), (_, before) in zip(segments, old):
                if rows is not before:
                    for j, (a, b) in enumerate(zip(before, rows)):
                        if a is not b and a != b:
                            if a[0] != b[0]:
                                moved = True
                                break
                            changes[base + j] = b
                    if moved:
                        break
                base += len(rows)
            if not moved:
                self._segments = segments
                if not changes:
                    return False
                self.update_rows(changes)
                self._last = None
                return True
        rows = [r for _, seg in segments for r in seg]
        self.set_rows(rows)
        self._segments = segments
        self._last = None
        self._row_ns = [ns for ns, seg in segments for _ in seg]
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


def _original_key(key: str) -> str:
    """A row key as ns_rows gave it (a duplicate's "#2" taken off)."""
    if "#" not in key:
        return key
    base, _, n = key.rpartition("#")
    return base if n.isdigit() else key


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
