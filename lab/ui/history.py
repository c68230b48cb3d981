"""Command history for the command bar, persisted in the same file and format as `lab shell`
(prompt_toolkit's FileHistory at ~/.local/share/lab/history, or $LAB_HISTORY), so both share it.
The format is read and written here (FileStore: the two methods of FileHistory, ported) rather than by
importing prompt_toolkit, which costs the dashboard's start ~0.2 s."""
from __future__ import annotations

import datetime
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
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            self._store = FileStore(self.path)
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


class FileStore:
    """prompt_toolkit.history.FileHistory's file format, byte for byte: each entry is a blank line, a
    "# <timestamp>" line, then its lines each prefixed with "+"."""

    def __init__(self, filename: str) -> None:
        self.filename = filename

    def load_history_strings(self) -> list[str]:
        """The entries, newest first (as FileHistory gives them)."""
        strings: list[str] = []
        lines: list[str] = []
        if os.path.exists(self.filename):
            with open(self.filename, "rb") as f:
                for line_bytes in f:
                    line = line_bytes.decode("utf-8", errors="replace")
                    if line.startswith("+"):
                        lines.append(line[1:])
                    else:
                        if lines:
                            strings.append("".join(lines)[:-1])
                        lines = []
            if lines:
                strings.append("".join(lines)[:-1])
        return strings[::-1]

    def store_string(self, string: str) -> None:
        with open(self.filename, "ab") as f:
            f.write(f"\n# {datetime.datetime.now()}\n".encode("utf-8", errors="replace"))
            for line in string.split("\n"):
                f.write(f"+{line}\n".encode("utf-8", errors="replace"))
