"""The netfilter packet-flow diagram of one namespace, drawn as Rich text: the five IP hooks with their
tables (raw, mangle, nat, filter) around the routing decisions, plus the bridge hooks when a bridge was
crossed. Hooks and tables the traced packet passed are lit, the current step is reversed, NAT is marked
in the theme's nat colour and a drop in its drop colour. Pure: hops in, Text out."""
from __future__ import annotations

from rich.text import Text

from lab.model.trace import Hop

TABLES = {"prerouting": ("raw", "mangle", "nat"), "input": ("mangle", "filter", "nat"),
          "forward": ("mangle", "filter"), "output": ("raw", "mangle", "nat", "filter"),
          "postrouting": ("mangle", "nat")}
BRIDGE = ("bridge-prerouting", "bridge-input", "bridge-forward", "bridge-output", "bridge-postrouting")


class Marks:
    """What happened at each hook/table for the hops of one namespace and direction."""

    def __init__(self, hops: list[Hop]):
        self.hooks: set[str] = set()
        self.tables: set[tuple[str, str]] = set()
        self.nat: set[str] = set()
        self.drop: set[str] = set()
        self.routes: list[str] = []
        for h in hops:
            if h.hook:
                self.hooks.add(h.hook)
            if h.hook and h.table:
                self.tables.add((h.hook, h.table))
            if h.nat or h.kind == "nat":
                self.nat.add(h.hook)
            if h.kind == "drop" or h.verdict in ("drop", "reject"):
                self.drop.add(h.hook or "route")
            if h.kind == "route":
                self.routes.append(h.verdict)


def _box(t: Text, hook: str, m: Marks, current: Hop | None, theme) -> None:
    label = hook.upper().replace("BRIDGE-", "br:")
    lit = hook in m.hooks
    style = "bold" if lit else "dim"
    if hook in m.drop:
        style = f"bold {theme.color('drop')}"
    elif hook in m.nat:
        style = f"bold {theme.color('nat')}"
    elif lit:
        style = f"bold {theme.color('accept')}"
    if current is not None and current.hook == hook:
        style += " reverse"
    t.append(f"[{label}", style)
    for table in TABLES.get(hook, ()):
        hit = (hook, table) in m.tables
        tstyle = (f"{theme.color('nat')}" if table == "nat" and hook in m.nat else
                  f"{theme.color('accept')}" if hit else "dim")
        t.append(f" {table}", tstyle)
    if hook in m.drop:
        t.append(" ✗", f"bold {theme.color('drop')}")
    elif hook in m.nat:
        t.append(" NAT", f"bold {theme.color('nat')}")
    t.append("]", style)


def _arrow(t: Text, lit: bool) -> None:
    t.append(" ─▶ ", "bold" if lit else "dim")


def _route(t: Text, m: Marks, kind: str, current: Hop | None, theme) -> None:
    lit = kind in m.routes
    style = f"bold {theme.color('via')}" if lit else "dim"
    if "route" in m.drop and kind == "forward" and not lit:
        style = "dim"
    if current is not None and current.kind == "route" and current.verdict == kind:
        style += " reverse"
    t.append("(routing)", style)


def flow_text(ns_label: str, hops: list[Hop], current: Hop | None, theme) -> Text:
    """The diagram for one namespace: `hops` are that namespace's hops in one direction."""
    m = Marks(hops)
    t = Text()
    t.append(f"{ns_label}\n", f"bold {theme.color('namespace')}")
    # in: PREROUTING -> routing -> INPUT -> local
    _box(t, "prerouting", m, current, theme)
    _arrow(t, "prerouting" in m.hooks)
    rlit = any(r in m.routes for r in ("local", "forward")) or "prerouting" in m.hooks
    t.append("(routing)", f"bold {theme.color('via')}" if rlit and ("input" in m.hooks or "forward" in m.hooks)
             else "dim")
    _arrow(t, "input" in m.hooks)
    _box(t, "input", m, current, theme)
    _arrow(t, "input" in m.hooks)
    t.append("local process\n", "bold" if "input" in m.hooks or "output" in m.hooks else "dim")
    # forward: routing -> FORWARD -> POSTROUTING
    t.append(" " * 20 + "└─▶ ", "bold" if "forward" in m.hooks else "dim")
    _box(t, "forward", m, current, theme)
    _arrow(t, "forward" in m.hooks)
    _box(t, "postrouting", m, current if "forward" in m.hooks else None, theme)
    t.append(" ─▶ out\n", "bold" if "forward" in m.hooks and "postrouting" in m.hooks else "dim")
    # local out: OUTPUT -> routing -> POSTROUTING
    t.append("local process", "bold" if "output" in m.hooks else "dim")
    _arrow(t, "output" in m.hooks)
    _route(t, m, "output", current, theme)
    _arrow(t, "output" in m.hooks)
    _box(t, "output", m, current, theme)
    _arrow(t, "output" in m.hooks)
    _box(t, "postrouting", m, current if "output" in m.hooks else None, theme)
    t.append(" ─▶ out\n", "bold" if "output" in m.hooks and "postrouting" in m.hooks else "dim")
    if m.hooks & set(BRIDGE):
        t.append("bridge: ", f"bold {theme.color('bridge')}")
        for i, h in enumerate(BRIDGE):
            if i:
                t.append(" ", "dim")
            _box(t, h, m, current, theme)
        t.append("\n")
    return t


def headers_text(hop: Hop, theme) -> Text:
    """The packet at this step; before/after when NAT rewrote it."""
    t = Text()
    if hop.before is None:
        return t
    def line(label: str, p) -> None:
        t.append(f"{label:<7}", "bold")
        t.append(f"{p.proto} ", "bold")
        t.append(p.endpoint("src"), theme.color("address"))
        t.append(" → ")
        t.append(p.endpoint("dst"), theme.color("address"))
        extra = []
        if p.flags:
            extra.append(f"flags {p.flags}")
        if p.icmp_type is not None:
            extra.append(f"icmp type {p.icmp_type}")
        if p.ttl is not None:
            extra.append(f"ttl {p.ttl}")
        if p.ip_id is not None:
            extra.append(f"id {p.ip_id}")
        t.append("   " + ", ".join(extra) + "\n", theme.color("muted"))
    line("before" if hop.nat else "packet", hop.before)
    if hop.nat and hop.after is not None:
        line("after", hop.after)
        t.append(f"NAT: {hop.verdict or 'rewritten'}\n", f"bold {theme.color('nat')}")
    where = []
    if hop.iif:
        where.append(f"in {hop.iif}")
    if hop.oif:
        where.append(f"out {hop.oif}")
    if hop.table or hop.chain:
        where.append(f"{hop.table}/{hop.chain}".strip("/"))
    if hop.ct_state:
        where.append(f"ct {hop.ct_state}" + (f" ({hop.ct_direction})" if hop.ct_direction else ""))
    if where:
        t.append(" · ".join(where) + "\n", theme.color("muted"))
    if hop.rule:
        t.append(hop.rule + "\n", theme.color("log"))
    return t
