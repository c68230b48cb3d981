"""Help screen, generated: every key binding of the app, the screen and the command bar (from their
BINDINGS), and the command families of the language (lab.commands.FAMILIES) with examples."""
from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

EXAMPLES = ["ip netns add red", "ip link add veth-red type veth peer name veth-blue",
            "ip link set veth-red netns red", "ip -n red addr add 10.0.0.1/24 dev veth-red",
            "ip -n red link set veth-red up", "red ping -c1 10.0.0.2", "ip netns exec red bash",
            "iptables -t nat -A POSTROUTING -s 10.0.0.0/24 -j MASQUERADE", "sysctl -w net.ipv4.ip_forward=1",
            "trace red icmp 10.0.0.2", "trace red tcp 10.0.0.2:80 --flags S"]


def bindings_of(*classes) -> list[tuple[str, str]]:
    out, seen = [], set()
    for cls in classes:
        for b in getattr(cls, "BINDINGS", []):
            if not isinstance(b, Binding):
                b = Binding(*b)
            for key in b.key.split(","):
                key = key.strip()
                if (key, b.description) in seen or not b.description:
                    continue
                seen.add((key, b.description))
                out.append((key, b.description))
    return out


def help_renderable(app) -> Table:
    from lab.commands import FAMILIES
    from lab.ui.screens.main import MainScreen
    from lab.ui.widgets.commandbar import CommandInput

    theme = app.lab_theme
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style=f"bold {theme.color('namespace')}", no_wrap=True)
    grid.add_column()
    grid.add_row(Text("Keys", style="bold underline"), "")
    for key, desc in bindings_of(type(app), MainScreen, CommandInput):
        grid.add_row(app.get_key_display(Binding(key, "")), desc)
    from lab.ui.screens.trace import TraceScreen

    grid.add_row("", "")
    grid.add_row(Text("Trace view", style="bold underline"), Text("(opens when you run trace ... in the bar)"))
    for key, desc in bindings_of(TraceScreen):
        grid.add_row(app.get_key_display(Binding(key, "")), desc)
    grid.add_row("", "")
    grid.add_row(Text("Commands", style="bold underline"), Text("(type them in the command bar; Tab completes)"))
    for name, (_, summary) in FAMILIES.items():
        grid.add_row(name, summary)
    grid.add_row("NS CMD", "run a program in namespace NS (e.g. red ping -c1 10.0.0.2)")
    grid.add_row("help", "the command language's own help")
    grid.add_row("", "")
    grid.add_row(Text("Try", style="bold underline"), "")
    for ex in EXAMPLES:
        grid.add_row("", Text(ex, style=theme.color("address")))
    grid.add_row("", "")
    grid.add_row(Text("Colours", style="bold underline"), "")
    for meaning, what in (("up", "link up, ACCEPT, REACHABLE"), ("down", "link down, DROP, FAILED"),
                          ("unknown", "UNKNOWN, STALE, lower layer down"), ("nat", "NAT: DNAT, SNAT, MASQUERADE"),
                          ("via", "route via a gateway"), ("connected", "connected route"),
                          ("default", "default route"), ("changed", "row that just changed (background)")):
        grid.add_row(Text("██", style=theme.color(meaning)), what)
    return grid


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close help")]

    def compose(self):
        with VerticalScroll(id="help-box"):
            yield Static(Text("lab — live network lab   (Esc closes)", style="bold"), id="help-title")
            yield Static(help_renderable(self.app), id="help-body")

    async def action_dismiss(self, result: object = None) -> None:
        self.dismiss()
