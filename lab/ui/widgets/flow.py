"""The netfilter packet-flow diagram of one namespace, drawn as Rich text: the five IP hooks with their
tables (raw, mangle, nat, filter) around the two routing decisions, plus the bridge hooks when a bridge
was crossed. Hooks and tables the traced packet passed are lit, the current step is reversed, NAT is
marked in the theme's nat colour and a drop in its drop colour. Pure: hops in, Text out.

    in ─▶ PREROUTING ──▶ routing ──▶ INPUT ────────────▶ local process
          raw mangle nat    │        mangle filter nat
                            └──▶ FORWARD ──────▶ POSTROUTING ──▶ out
                                 mangle filter   mangle nat ▲
    local process ─▶ routing ─▶ OUTPUT ─────────────────────┘
                                raw mangle nat filter
"""
from __future__ import annotations

from rich.text import Text

from lab.model.trace import Hop

TABLES = {"prerouting": ("raw", "mangle", "nat"), "input": ("mangle", "filter", "nat"),
          "forward": ("mangle", "filter"), "output": ("raw", "mangle", "nat", "filter"),
          "postrouting": ("mangle", "nat")}
BRIDGE = ("bridge-prerouting", "bridge-input", "bridge-forward", "bridge-output", "bridge-postrouting")
WIDTH = 74


class Marks:
    """What happened at each hook/table for the hops of one namespace and direction."""

    def __init__(self, hops: list[Hop]):
        self.hooks: set[str] = set()
        self.tables: set[tuple[str, str]] = set()
        self.nat: set[str] = set()
        self.drop: set[str] = set()
        self.drop_tables: set[tuple[str, str]] = set()
        self.routes: set[str] = set()
        self.kinds: set[str] = set()
        for h in hops:
            self.kinds.add(h.kind)
            if h.hook and h.kind in ("hook", "nat", "drop", "bridge"):
                self.hooks.add(h.hook)
            if h.hook and h.table:
                self.tables.add((h.hook, h.table))
            if h.nat or h.kind == "nat":
                self.nat.add(h.hook)
            if h.kind == "drop" or h.verdict in ("drop", "reject"):
                self.drop.add(drop_place(h))
                if h.table:
                    self.drop_tables.add((h.hook, h.table))
            if h.kind == "route":
                self.routes.add(h.verdict or "?")


def drop_place(h: Hop) -> str:
    """Where the diagram marks a drop: a hook (a rule or policy dropped it), "route-in"/"route-out" (the
    routing decision: no route, ip_forward off, rp_filter...) or "out" (link down, ARP failed)."""
    if h.table or h.kind != "drop":
        return h.hook or "route-out"
    if h.hook in ("", "output"):
        return "route-out"
    if h.hook in ("prerouting", "bridge-prerouting", "bridge-input"):
        return "route-in"
    if h.hook in ("postrouting", "bridge-postrouting"):
        return "out"
    return h.hook


class Canvas:
    """A few rows of characters with a style each; put() text at (x, y), then to_text()."""

    def __init__(self, height: int, width: int = WIDTH):
        self.chars = [[" "] * width for _ in range(height)]
        self.styles: list[list[str]] = [[""] * width for _ in range(height)]

    def put(self, x: int, y: int, s: str, style: str = "") -> int:
        row, srow = self.chars[y], self.styles[y]
        for i, ch in enumerate(s):
            if x + i >= len(row):
                row.append(" ")
                srow.append("")
            row[x + i] = ch
            srow[x + i] = style
        return x + len(s)

    def to_text(self) -> Text:
        t = Text()
        for row, srow in zip(self.chars, self.styles):
            end = len(row)
            while end and row[end - 1] == " ":
                end -= 1
            i = 0
            while i < end:
                j = i
                while j < end and srow[j] == srow[i]:
                    j += 1
                t.append("".join(row[i:j]), srow[i] or None)
                i = j
            t.append("\n")
        return t


class Flow:
    def __init__(self, hops: list[Hop], current: Hop | None, theme):
        self.m = Marks(hops)
        self.cur = current
        self.th = theme

    def c(self, meaning: str) -> str:
        return self.th.color(meaning)

    def lit(self, on: bool) -> str:
        return "bold" if on else "dim"

    def is_current(self, *, hook: str = "", kinds: tuple[str, ...] = ()) -> bool:
        h = self.cur
        if h is None:
            return False
        if hook:
            return (h.hook == hook and h.kind in ("hook", "nat", "drop", "bridge")
                    and (h.kind != "drop" or drop_place(h) == hook))
        return h.kind in kinds

    def hook(self, cv: Canvas, x: int, y: int, hook: str, label: str | None = None) -> None:
        m = self.m
        label = label or hook.upper()
        on = hook in m.hooks
        if hook in m.drop:
            style, tag = f"bold {self.c('drop')}", " ✗"
        elif hook in m.nat:
            style, tag = f"bold {self.c('nat')}", " NAT"
        elif on:
            style, tag = f"bold {self.c('accept')}", ""
        else:
            style, tag = "dim", ""
        if self.is_current(hook=hook):
            style += " reverse"
        end = cv.put(x, y, label, style)
        if tag:
            cv.put(end, y, tag, style.replace(" reverse", ""))
        tx = x
        for table in TABLES.get(hook, ()):
            if (hook, table) in m.drop_tables:
                ts = f"bold {self.c('drop')}"
            elif table == "nat" and hook in m.nat:
                ts = f"bold {self.c('nat')}"
            elif (hook, table) in m.tables:
                ts = self.c("accept")
            else:
                ts = "dim"
            if self.cur is not None and self.cur.hook == hook and self.cur.table == table:
                ts += " reverse"
            tx = cv.put(tx, y + 1, table, ts) + 1

    def routing(self, cv: Canvas, x: int, y: int, which: str) -> None:
        m = self.m
        on = bool(m.routes & ({"output"} if which == "out" else {"local", "forward", "?"}))
        if which == "in" and not on:
            on = "input" in m.hooks or "forward" in m.hooks
        style = f"bold {self.c('via')}" if on else "dim"
        if f"route-{which}" in m.drop:
            style = f"bold {self.c('drop')}"
        cur = self.cur
        if cur is not None and cur.kind == "route" and ((cur.verdict == "output") == (which == "out")):
            style += " reverse"
        elif cur is not None and cur.kind == "drop" and drop_place(cur) == f"route-{which}":
            style += " reverse"
        label = "routing" + (" ✗" if f"route-{which}" in m.drop else "")
        cv.put(x, y, label, style)

    def draw(self) -> Text:
        m = self.m
        cv = Canvas(6)
        pre, inp, fwd = "prerouting" in m.hooks, "input" in m.hooks, "forward" in m.hooks
        out, post = "output" in m.hooks, "postrouting" in m.hooks
        arrived = pre or "note" in m.kinds and not out
        # row 0: in -> PREROUTING -> routing -> INPUT -> local process
        cv.put(0, 0, "in", self.lit(arrived) + (" reverse" if self.is_current(kinds=("note",)) else ""))
        cv.put(2, 0, " ─▶ ", self.lit(arrived))
        self.hook(cv, 6, 0, "prerouting")
        cv.put(20, 0, " ──▶ ", self.lit(pre))
        self.routing(cv, 25, 0, "in")
        cv.put(34, 0, " ─▶ ", self.lit(inp))
        self.hook(cv, 38, 0, "input")
        delivered = "deliver" in m.kinds
        cv.put(47, 0, " ──────▶ ", self.lit(inp))
        cv.put(56, 0, "local process",
               self.lit(delivered) + (" reverse" if self.is_current(kinds=("deliver",)) else ""))
        # rows 1-2: routing -> FORWARD -> POSTROUTING -> out
        cv.put(28, 1, "│", self.lit(fwd))
        cv.put(28, 2, "└──▶ ", self.lit(fwd))
        self.hook(cv, 33, 2, "forward")
        cv.put(42, 2, " ────▶ ", self.lit(fwd))
        self.hook(cv, 49, 2, "postrouting")
        left = "qdisc" in m.kinds or "neigh" in m.kinds
        cv.put(64, 2, " ─▶ ", self.lit(post))
        if "out" in m.drop:
            cv.put(68, 2, "out ✗", f"bold {self.c('drop')}" + (" reverse" if self.is_current(kinds=("drop",)) else ""))
        else:
            cv.put(68, 2, "out", self.lit(left) + (" reverse" if self.is_current(kinds=("qdisc", "neigh")) else ""))
        # row 4: local process -> routing -> OUTPUT -> (up to POSTROUTING)
        sent = "send" in m.kinds
        cv.put(0, 4, "local process", self.lit(sent) + (" reverse" if self.is_current(kinds=("send",)) else ""))
        cv.put(13, 4, " ─▶ ", self.lit(sent))
        self.routing(cv, 17, 4, "out")
        cv.put(26, 4, " ─▶ ", self.lit(out))
        self.hook(cv, 30, 4, "output")
        cv.put(40, 4, " " + "─" * 20 + "┘", self.lit(out))
        cv.put(61, 3, "▲", self.lit(out))
        t = cv.to_text()
        if m.hooks & set(BRIDGE) or "bridge" in m.kinds:
            t.append_text(self.bridge_row())
        return t

    def bridge_row(self) -> Text:
        cv = Canvas(1)
        m = self.m
        x = cv.put(0, 0, "bridge: ", f"bold {self.c('bridge')}")
        parts = [("bridge-prerouting", "PREROUTING", " ─▶ "), ("bridge-input", "INPUT↑", " │ "),
                 ("bridge-forward", "FORWARD", " ─▶ "), ("bridge-postrouting", "POSTROUTING", " ◀─ "),
                 ("bridge-output", "OUTPUT", "")]
        for hook, label, sep in parts:
            on = hook in m.hooks
            style = (f"bold {self.c('drop')}" if hook in m.drop else
                     f"bold {self.c('accept')}" if on else "dim")
            if self.is_current(hook=hook) or (self.cur is not None and self.cur.kind == "bridge"
                                              and self.cur.hook == hook):
                style += " reverse"
            x = cv.put(x, 0, label + (" ✗" if hook in m.drop else ""), style)
            if sep:
                x = cv.put(x, 0, sep, "dim")
        return cv.to_text()


def flow_text(ns_label: str, hops: list[Hop], current: Hop | None, theme, active: bool = True) -> Text:
    """The diagram for one namespace: `hops` are that namespace's hops in one direction; `current` the
    selected step when it is in this namespace (reversed in the diagram)."""
    t = Text()
    t.append(("▶ " if active else "  ") + ns_label + "\n",
             f"bold {theme.color('namespace')}" + ("" if active else " dim"))
    t.append_text(Flow(hops, current, theme).draw())
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
        t.append((hop.rule if hop.kind in ("hook", "nat", "drop") else f"{hop.kind}: {hop.rule}") + "\n",
                 theme.color("log"))
    return t
