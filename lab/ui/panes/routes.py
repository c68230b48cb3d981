"""Routes pane: every IPv4 routing table (main first, local last), then IPv6 routes (outside the local
table), with the connected / via / default distinction named and coloured, and linkdown routes marked."""
from __future__ import annotations

from lab.model import Route
from lab.render import table_name
from lab.ui.panes.base import TablePane, styled
from lab.ui.view import row_key


def route_kind(r: Route) -> str:
    if r.type != "unicast":
        return r.type
    if r.dst == "default":
        return "default"
    if r.gateway:
        return "via"
    if r.scope == "link":
        return "connected"
    return "direct"


def _table_order(r: Route) -> tuple:
    return (0 if r.table == 254 else 2 if r.table == 255 else 1, r.table)


class RoutesPane(TablePane):
    TITLE = "Routes"
    COLUMNS = ("TABLE", "DESTINATION", "KIND", "GATEWAY", "DEV", "PROTO", "SCOPE", "SRC", "METRIC")
    FIELDS = frozenset({"routes"})
    EMPTY = "no routes"
    SOURCES = ("routes",)

    def ns_rows(self, st, theme):
        colors = {"default": theme.color("default"), "via": theme.color("via"),
                  "connected": theme.color("connected"), "blackhole": theme.color("drop"),
                  "unreachable": theme.color("drop"), "prohibit": theme.color("drop")}
        for r in sorted(st.routes, key=lambda r: (r.family != "inet",) + _table_order(r)):
            kind = route_kind(r)
            color = colors.get(kind, theme.color("muted") if r.table == 255 else "")
            dst_style = f"bold {color}" if r.table != 255 else color
            kind_word = kind + (" linkdown" if "linkdown" in r.flags else "")
            yield (row_key(st.name, "route", f"{r.table} {r.dst} {r.metric} {r.dev}"), st.name,
                   (table_name(r.table), styled(r.dst, dst_style), styled(kind_word, color),
                    styled(r.gateway or "", theme.color("via")), r.dev or "", r.proto, r.scope,
                    r.prefsrc or "", "" if r.metric is None else str(r.metric)))
