"""Command palette entries (Ctrl+P) for the dashboard's main actions: focus the bar, select a namespace,
open a shell, switch tab or theme, trace a packet, play a shipped scenario, help, clear the output."""
from __future__ import annotations

from functools import partial
from typing import Iterable

from textual.app import SystemCommand

from lab.ui.themes import available_themes
from lab.ui.view import ns_label


def lab_commands(app) -> Iterable[SystemCommand]:
    from lab.ui.screens.main import TABS

    yield SystemCommand("Command bar", "Put the cursor in the command bar (Ctrl+L)", app.action_focus_bar)
    yield SystemCommand("Show all namespaces", "Every pane shows every namespace", app.action_select_ns_all)
    for ns in app.view.order:
        yield SystemCommand(f"Select namespace {ns_label(ns)}", "Focus every pane on it",
                            partial(app.select_ns, ns))
    for ns in app.view.order:
        yield SystemCommand(f"Shell in {ns_label(ns)}", "Suspend the dashboard and open bash in this namespace",
                            partial(app.open_shell, ns or None, None))
    from lab.ui.topology import is_large

    if is_large(app.view.order) and app.main is not None:
        yield SystemCommand("Filter the map", "Draw the namespaces whose names match as boxes (/)",
                            app.main.action_map_filter)
    for tid, name in TABS:
        yield SystemCommand(f"Show {name}", f"Switch to the {name} pane", partial(app.show_tab, tid))
    for name in available_themes():
        yield SystemCommand(f"Lab theme: {name}", "Colours for up/down, accept/drop, NAT...",
                            partial(app.set_lab_theme, name))
    yield SystemCommand("Trace a packet", "trace NS PROTO DST[:PORT]: the packet's path hook by hook in the trace view",
                        partial(app.prefill_bar, "trace "))
    from lab.scenario.loader import shipped

    for path in shipped():
        yield SystemCommand(f"Play scenario {path.stem}", "Open the guided scenario player beside the panes",
                            partial(app.play_scenario, str(path)))
    yield SystemCommand("Help", "Keys and commands (?)", app.action_help)
    yield SystemCommand("Clear output", "Empty the scrollback panel", app.action_clear_output)
