"""`lab shell`: a prompt_toolkit REPL over the command engine, with history, completion (the shared
LabCompleter) and highlighting. Leaves parsing and applying to lab.engine."""
from __future__ import annotations

import os
import sys


def history_path() -> str:
    p = os.environ.get("LAB_HISTORY") or os.path.join(
        os.environ.get("XDG_DATA_HOME", os.path.expanduser("~/.local/share")), "lab", "history")
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def run_shell(engine) -> int:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.styles import Style

    from lab.commands.complete import LabCompleter, make_lexer

    engine.interactive = True
    history: FileHistory | InMemoryHistory
    try:
        history = FileHistory(history_path())
    except OSError:
        history = InMemoryHistory()
    style = Style.from_dict({"command": "bold ansicyan", "option": "ansiyellow", "address": "ansigreen",
                             "target": "bold ansimagenta", "prompt": "bold"})
    from lab.backend.sandbox import where as where_of

    where = where_of(engine.backend).replace(" (--host)", "")
    # the completer reads the kernel in a thread of its own (lab.commands.complete.Providers), never in
    # prompt_toolkit's event loop, where pyroute2's sync API fails
    completer = LabCompleter(engine)
    session: PromptSession[str] = PromptSession(history=history, completer=completer, lexer=make_lexer(), style=style,
                                                complete_while_typing=True)
    print(f"lab shell ({where}). Type commands like `ip netns add red`; Tab completes; `help`; Ctrl-D exits.")
    if not engine.backend.host:
        print(f"Everything you build lives in a private {where} and disappears when you exit.")
    try:
        while True:
            try:
                line = session.prompt([("class:prompt", f"lab[{where}]> ")])
            except KeyboardInterrupt:
                continue
            except EOFError:
                break
            if line.strip() in ("exit", "quit"):
                break
            r = engine.run(line)
            if completer.providers is not None:
                completer.providers.invalidate()   # the line may have made or removed names: offer them now
            if r.output:
                print(r.output)
            if not r.ok:
                print(r.error, file=sys.stderr)
    finally:
        if completer.providers is not None:
            completer.providers.close()
    return 0
