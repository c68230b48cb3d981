"""The --host journal: a crash-safe record of what the lab created on the machine's real namespaces.

Each entry is appended and fsync'ed BEFORE the kernel object is created, so after a crash `lab clean`
still knows about it. `lab clean` undoes entries newest first and tolerates objects already gone;
it never touches anything not in the journal. Leaves the undo mechanics to backend.core.
"""
from __future__ import annotations

import json
import os

DEFAULT_DIR = "/run/lab"


def journal_path() -> str:
    return os.path.join(os.environ.get("LAB_STATE_DIR", DEFAULT_DIR), "host-journal.jsonl")


class Journal:
    def __init__(self, path: str | None = None):
        self.path = path or journal_path()
        self._netns: set[str] | None = None

    def record(self, **entry) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        line = json.dumps(entry, sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        if entry.get("kind") == "netns" and self._netns is not None:
            self._netns.add(entry["name"])

    def entries(self) -> list[dict]:
        try:
            with open(self.path) as f:
                out = []
                for line in f:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        continue  # a torn last line after a crash
                return out
        except FileNotFoundError:
            return []

    def created_netns(self) -> set[str]:
        if self._netns is None:
            self._netns = {e["name"] for e in self.entries() if e.get("kind") == "netns"}
        return self._netns

    def clear(self) -> None:
        self._netns = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
