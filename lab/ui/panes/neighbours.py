"""Neighbour pane (ARP and IPv6 neighbour discovery) with iproute2's state words, and the bridge
forwarding database (FDB) pane."""
from __future__ import annotations

from lab.ui.panes.base import TablePane, state_color, styled
from lab.ui.view import row_key


class NeighboursPane(TablePane):
    TITLE = "Neighbours"
    COLUMNS = ("ADDRESS", "DEV", "LLADDR", "STATE", "ROUTER")
    FIELDS = frozenset({"neighbours"})
    EMPTY = "no neighbours (ARP cache empty)"
    SOURCES = ("neighbours",)

    def ns_rows(self, st, theme):
        for n in st.neighbours:
            if n.family == "inet6" and (n.dst or "").startswith("ff"):
                continue   # multicast (MLD, router solicitation) entries: not neighbours anyone asked about
            state = n.state
            yield (row_key(st.name, "neighbour", f"{n.dev} {n.dst}"), st.name,
                   (styled(n.dst, f"bold {theme.color('address')}"), n.dev,
                    styled(n.lladdr or "", theme.color("mac")),
                    styled(state, f"bold {state_color(theme, state.split(',')[0])}"),
                    "router" if n.router else ""))


class FdbPane(TablePane):
    TITLE = "Bridge FDB"
    COLUMNS = ("MAC", "DEV", "MASTER", "VLAN", "STATE", "DST")
    FIELDS = frozenset({"fdb"})
    EXTRA = "fdb"
    EMPTY = "no forwarding entries"
    SOURCES = ("fdb",)

    def ns_rows(self, st, theme):
        for e in st.fdb:
            state = e.state or "dynamic"
            yield (row_key(st.name, "fdb", f"{e.dev} {e.mac} {e.dst}"), st.name,
                   (styled(e.mac, theme.color("mac")), e.dev, styled(e.master or "", theme.color("bridge")),
                    "" if e.vlan is None else str(e.vlan),
                    styled(state + (" self" if e.self_ else ""),
                           theme.color("up") if state == "dynamic" else theme.color("muted")),
                    e.dst or ""))
