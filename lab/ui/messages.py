"""Messages the dashboard's threads post to the UI thread (threads never touch widgets)."""
from __future__ import annotations

from textual.message import Message


class StateUpdated(Message):
    """The watcher read new kernel state (a lab.backend.watch.Update)."""

    def __init__(self, update) -> None:
        super().__init__()
        self.update = update


class CommandDone(Message):
    """A command bar line finished in its worker (a lab.engine.Result)."""

    def __init__(self, result, elapsed: float) -> None:
        super().__init__()
        self.result = result
        self.elapsed = elapsed


class TraceDone(Message):
    """A `trace` typed in the command bar finished in its worker (a TracePath, or an error text)."""

    def __init__(self, line: str, path=None, error: str | None = None) -> None:
        super().__init__()
        self.line = line
        self.path = path
        self.error = error
