"""The command bar: an Input with persisted history (Up/Down), and a completion dropdown fed by the
shared prompt_toolkit completer (lab.commands.complete.LabCompleter) that `lab shell` uses.

Completion runs in a worker thread (it may read device and chain names from the kernel) and the
results come back to the UI thread; Tab accepts, Up/Down move in the open dropdown, Escape closes it.
Submitting posts CommandBar.Submitted; running the command is the app's business.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from lab.ui.history import History

if TYPE_CHECKING:
    from lab.commands.complete import LabCompleter


class CommandInput(Input):
    BINDINGS = [
        Binding("tab", "complete", "Complete", show=False, priority=True),
        Binding("up", "up", "History back", show=False),
        Binding("down", "down", "History forward", show=False),
        Binding("escape", "dismiss", "Close completions", show=False),
    ]

    async def _on_key(self, event) -> None:
        # "?" on an empty bar opens the help the header promises (in a command it is just a character)
        if event.character == "?" and not self.value:
            event.stop()
            event.prevent_default()
            await self.app.run_action("help")
            return
        await super()._on_key(event)

    async def action_complete(self) -> None:
        if not self.value.strip():   # Tab on an empty bar: choose the namespace to show (the tree)
            await self.screen.run_action("focus_tree")
            return
        self.bar.accept_completion()

    def action_up(self) -> None:
        self.bar.move(-1)

    def action_down(self) -> None:
        self.bar.move(1)

    def action_dismiss(self) -> None:
        self.bar.hide_completions()

    @property
    def bar(self) -> "CommandBar":
        return self.query_ancestor(CommandBar)


class CommandBar(Vertical):
    class Submitted(Message):
        def __init__(self, line: str) -> None:
            super().__init__()
            self.line = line

    class EmptySubmitted(Message):
        """Enter on an empty bar (the scenario player's "go on")."""

    def __init__(self, engine, history: History | None = None, **kw) -> None:
        super().__init__(**kw)
        self.engine = engine
        self.history = history or History()
        self._completer: LabCompleter | Literal[False] | None = None
        self._candidates: list[tuple[str, int, str]] = []   # (text, start_position, meta)
        self._quiet = False   # the next Input.Changed came from us (history, completion), not typing

    def compose(self):
        yield OptionList(id="completions")
        with Horizontal(id="prompt-row"):
            yield Label("lab› ", id="prompt")
            yield CommandInput(placeholder="type a command: ip netns add red · ip link add ... · help",
                               id="command-input")

    @property
    def input(self) -> CommandInput:
        return self.query_one(CommandInput)

    @property
    def dropdown(self) -> OptionList:
        return self.query_one("#completions", OptionList)

    def on_mount(self) -> None:
        self.dropdown.display = False

    # ---- completion -------------------------------------------------------------------------------
    def completer(self):
        if self._completer is None:
            try:
                from lab.commands.complete import LabCompleter

                self._completer = LabCompleter(self.engine)
            except Exception:  # noqa: BLE001  (no completer: the bar still works)
                self._completer = False
        return self._completer or None

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input is not self.input:
            return
        if self._quiet:
            self._quiet = False
            self.hide_completions()
            return
        text = event.value[: self.input.cursor_position]
        if not text.strip():
            self.hide_completions()
            return
        self._complete(text)

    @work(thread=True, exclusive=True, group="complete")
    def _complete(self, text: str) -> None:
        comp = self.completer()
        if comp is None:
            return
        from prompt_toolkit.completion import CompleteEvent
        from prompt_toolkit.document import Document

        try:
            items = [(c.text, c.start_position, c.display_meta_text if hasattr(c, "display_meta_text") else "")
                     for c in comp.get_completions(Document(text, len(text)), CompleteEvent(completion_requested=True))]
        except Exception:  # noqa: BLE001
            items = []
        self.app.call_from_thread(self._show_completions, text, items[:50])

    def _show_completions(self, text: str, items: list[tuple[str, int, str]]) -> None:
        if self.input.value[: self.input.cursor_position] != text:
            return  # typed on since
        self._candidates = items
        dd = self.dropdown
        dd.clear_options()
        if not items:
            dd.display = False
            return
        for word, _, meta in items:
            t = Text(word, style="bold")
            if meta:
                t.append("  " + meta, style="italic dim")
            dd.add_option(Option(t))
        dd.highlighted = 0
        dd.display = True

    def hide_completions(self) -> None:
        self._candidates = []
        self.dropdown.display = False

    def accept_completion(self) -> None:
        if not self._candidates:
            text = self.input.value[: self.input.cursor_position]
            if text.strip():
                self._complete(text)
            return
        idx = self.dropdown.highlighted or 0
        word, start, _ = self._candidates[min(idx, len(self._candidates) - 1)]
        value, cur = self.input.value, self.input.cursor_position
        before = value[: cur + start] + word
        if not word.endswith(("=", "/")):
            before += " "
        self.input.value = before + value[cur:]
        self.input.cursor_position = len(before)
        self.hide_completions()

    # ---- history ----------------------------------------------------------------------------------
    def move(self, step: int) -> None:
        if self.dropdown.display and self._candidates:
            n = len(self._candidates)
            self.dropdown.highlighted = ((self.dropdown.highlighted or 0) + step) % n
            return
        line = self.history.previous(self.input.value) if step < 0 else self.history.next()
        if line is not None and line != self.input.value:
            self._quiet = True
            self.input.value = line
            self.input.cursor_position = len(line)
            self.hide_completions()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dropdown.highlighted = event.option_index
        self.accept_completion()
        self.input.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        line = event.value
        self.hide_completions()
        self.input.value = ""
        self.history.add(line)
        if line.strip():
            self.post_message(self.Submitted(line))
        else:
            self.post_message(self.EmptySubmitted())

    def focus_input(self) -> None:
        self.input.focus()
