"""Conntrack pane: tracked connections with original and reply tuples; NATed entries (reply not the
mirror of the original) coloured as NAT."""
from __future__ import annotations

from lab.ui.panes.base import TablePane, state_color, styled
from lab.ui.view import row_key


def _end(addr: str, port) -> str:
    return f"{addr}:{port}" if port is not None else str(addr)


class ConntrackPane(TablePane):
    TITLE = "Conntrack"
    COLUMNS = ("PROTO", "ORIGINAL", "REPLY", "STATE", "FLAGS", "TIMEOUT", "MARK")
    FIELDS = frozenset({"conntrack"})
    EXTRA = "conntrack"
    EMPTY = "no tracked connections"
    SOURCES = ("conntrack",)

    def ns_rows(self, st, theme):
        for e in st.conntrack:
            o, r = e.orig, e.reply
            natted = (r[0], r[1]) != (o[1], o[0])
            orig = f"{_end(o[0], o[2])} → {_end(o[1], o[3])}"
            reply = f"{_end(r[0], r[2])} → {_end(r[1], r[3])}"
            yield (row_key(st.name, "conntrack", f"{e.proto} {e.orig}"), st.name,
                   (e.proto, orig, styled(reply, f"bold {theme.color('nat')}" if natted else ""),
                    styled(e.state, state_color(theme, e.state)) if e.state else "",
                    ",".join(f for f in e.flags if f in ("ASSURED", "SEEN_REPLY", "DST_NAT", "SRC_NAT",
                                                          "CONFIRMED")),
                    str(e.timeout), str(e.mark) if e.mark else ""))
