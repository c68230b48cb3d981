"""iptables pane (ip6tables tables after, as "ip6 filter"...): tables -> chains (with policy and counters) -> rules (spec, target, counters), drawn as
an indented tree; rows whose counters just moved are highlighted; verdicts coloured by meaning."""
from __future__ import annotations

from rich.text import Text

from lab.ui.panes.base import TablePane, num, target_color
from lab.ui.view import row_key

TABLE_ORDER = {"raw": 0, "mangle": 1, "nat": 2, "filter": 3, "security": 4}


class IptablesPane(TablePane):
    TITLE = "iptables"
    COLUMNS = ("TABLE / CHAIN / RULE", "TARGET", "PKTS", "BYTES")
    FIELDS = frozenset({"chains"})
    EXTRA = "chains"
    EMPTY = "no rules"
    SOURCES = ("chains",)

    def ns_rows(self, st, theme):
        table = None
        for c in sorted(st.chains, key=lambda c: (c.family, TABLE_ORDER.get(c.table, 9), c.table,
                                                  c.policy is None)):
            tkey = c.key.rsplit(" ", 1)[0]          # "nat", "ip6 filter"
            if tkey != table:
                table = tkey
                yield (row_key(st.name, "table", table), st.name,
                       (Text(table, style=f"bold {theme.color('namespace')}"), "", "", ""))
            head = Text("  ")
            head.append(c.name, style="bold")
            if c.policy:
                head.append(" (policy ")
                head.append(c.policy, style=f"bold {target_color(theme, c.policy)}")
                head.append(")")
            yield (row_key(st.name, "chain", c.key), st.name,
                   (head, "", num(c.packets) if c.policy else "", num(c.bytes) if c.policy else ""))
            for i, r in enumerate(c.rules):
                spec = Text("    ")
                spec.append(r.spec or "(all)")
                tgt = Text(r.target, style=f"bold {target_color(theme, r.target)}")
                yield (row_key(st.name, "rule", f"{c.key} {i}"), st.name,
                       (spec, tgt, num(r.packets), num(r.bytes)))
