"""The scrollback panel: each command echoed, then its output exactly as the engine rendered it
(iproute2's format), errors inline in the "drop" colour with the hint on the next line. Long lines wrap
(never cut); the last error also stays in a line of its own under the log (#last-error) until the next
command, so scrolling output cannot push it out of sight."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog, Static


class OutputLog(RichLog):
    def __init__(self, **kw) -> None:
        super().__init__(max_lines=5000, wrap=True, min_width=20, markup=False, highlight=False, auto_scroll=True,
                         **kw)   # min_width: RichLog renders 78 columns at least, which cut lines beside the player
        self.plain_lines: list[str] = []   # what was written, for tests and copy
        self._line_cache.maxsize = 256     # rendered (cropped) lines: a few screens, not 1024

    def _put(self, t: Text) -> None:
        self.plain_lines.extend(t.plain.splitlines() or [""])
        del self.plain_lines[:-5000]
        self.write(t)

    def _sticky(self, t: Text | None) -> None:
        try:
            w = self.screen.query_one("#last-error", Static)
        except Exception:  # noqa: BLE001  (not on the main screen)
            return
        if t is not None:
            w.update(t)
        w.display = t is not None

    def command(self, line: str, where: str, theme) -> None:
        self._sticky(None)
        t = Text(f"{where}$ ", style=theme.color("muted"))
        t.append(line, style="bold")
        self._put(t)

    def output(self, text: str) -> None:
        if text:
            self._put(Text(text.rstrip("\n")))

    def error(self, text: str, theme) -> None:
        t = Text(text, style=f"bold {theme.color('drop')}")
        self._put(t)
        self._sticky(t)

    def note(self, text: str, theme) -> None:
        self._put(Text(text, style=f"italic {theme.color('muted')}"))
