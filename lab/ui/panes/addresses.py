"""Addresses pane: IPv4 and IPv6 addresses per interface, as `ip addr` has them (link-local IPv6
addresses, which every interface gets by itself, dimmed)."""
from __future__ import annotations

from lab.ui.panes.base import TablePane, styled
from lab.ui.view import row_key


class AddressesPane(TablePane):
    TITLE = "Addresses"
    COLUMNS = ("IFACE", "ADDRESS", "SCOPE", "BROADCAST", "LABEL")
    FIELDS = frozenset({"addresses", "links"})
    EMPTY = "no addresses"
    SOURCES = ("addresses", "links")

    def ns_rows(self, st, theme):
        up = {link.name: link.up for link in st.links}
        for a in st.addresses:
            auto = a.family == "inet6" and a.scope == "link"
            yield (row_key(st.name, "address", f"{a.dev} {a.cidr}"), st.name,
                   (styled(a.dev, "bold" if up.get(a.dev, True) else theme.color("down")),
                    styled(a.cidr, theme.color("muted") if auto else f"bold {theme.color('address')}"),
                    a.scope, a.broadcast or "",
                    a.label if a.label and a.label != a.dev else ""))
