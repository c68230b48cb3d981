"""Command history for the command bar, persisted in the same file and format as `lab shell`
(prompt_toolkit's FileHistory at ~/.local/share/lab/history, or $LAB_HISTORY), so both share it."""
from __future__ import annotations

import os


def history_path() -> str:
    return os.environ.get("LAB_HISTORY") or os.path.join(
        os.environ.get("XDG_DATA_HOME", os.path.expanduser("~/.local/share")), "lab", "history")


class History:
    def __init__(self, path: str | None = None, limit: int = 1000):
        self.path = path or history_path()
        self.entries: list[str] = []     # oldest first
        self.pos: int | None = None      # index while browsing, None = at the fresh line
        self.draft = ""
        self._store = None
        try:
            from prompt_toolkit.history import FileHistory

            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            self._store = FileHistory(self.path)
            self.entries = list(reversed(list(self._store.load_history_strings())))[-limit:]
        except OSError:
            self._store = None

    def add(self, line: str) -> None:
        self.pos = None
        line = line.strip()
        if not line or (self.entries and self.entries[-1] == line):
            return
        self.entries.append(line)
        if self._store is not None:
            try:
                self._store.store_string(line)
            except OSError:
                pass

    def previous(self, current: str) -> str | None:
        if not self.entries:
            return None
        if self.pos is None:
            self.draft = current
            self.pos = len(self.entries)
        if self.pos == 0:
            return None
        self.pos -= 1
        return self.entries[self.pos]

    def next(self) -> str | None:
        if self.pos is None:
            return None
        self.pos += 1
        if self.pos >= len(self.entries):
            self.pos = None
            return self.draft
        return self.entries[self.pos]
