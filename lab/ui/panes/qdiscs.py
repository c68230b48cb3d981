"""Qdiscs pane: queueing disciplines per device with parameters and statistics (sent, drops,
overlimits, backlog)."""
from __future__ import annotations

from lab.ui.panes.base import TablePane, num, styled
from lab.ui.view import row_key


class QdiscsPane(TablePane):
    TITLE = "Qdiscs"
    COLUMNS = ("DEV", "KIND", "HANDLE", "PARENT", "PARAMS", "SENT B", "PKTS", "DROPS", "OVERLIM", "BACKLOG")
    FIELDS = frozenset({"qdiscs"})
    EXTRA = "qdiscs"
    EMPTY = "no qdiscs"
    SOURCES = ("qdiscs",)

    def ns_rows(self, st, theme):
        for q in st.qdiscs:
            yield (row_key(st.name, "qdisc", f"{q.dev} {q.handle} {q.parent}"), st.name,
                   (q.dev, styled(q.kind, "bold"), q.handle, q.parent, q.params, num(q.sent_bytes),
                    num(q.sent_packets),
                    styled(num(q.drops).plain, theme.color("drop") if q.drops else ""),
                    num(q.overlimits), num(q.backlog)))
