"""Links pane: every interface with kind, state (coloured), MTU, MAC, master, veth peer and the peer's
namespace, vxlan id/remote, and traffic counters."""
from __future__ import annotations

from rich.text import Text

from lab.model import Link
from lab.ui.panes.base import TablePane, num, state_color, styled
from lab.ui.view import ns_label, row_key


def link_state(link: Link) -> str:
    """The word iproute2 prints for the link's state."""
    if not link.up:
        return "DOWN"
    return link.operstate


def kind_text(link: Link) -> str:
    if link.kind == "vxlan":
        extra = f" {link.vxlan_id}" if link.vxlan_id is not None else ""
        if link.vxlan_remote:
            extra += f" →{link.vxlan_remote}"
        return "vxlan" + extra
    if link.kind == "vlan" and link.vlan_id is not None:
        return f"vlan {link.vlan_id}"
    return link.kind or (link.link_type if link.link_type != "ether" else "ether")


class LinksPane(TablePane):
    TITLE = "Links"
    COLUMNS = ("IFACE", "KIND", "STATE", "MTU", "MAC", "MASTER", "PEER", "RX pkts", "TX pkts")
    FIELDS = frozenset({"links", "link_stats"})
    EMPTY = "no links"
    SOURCES = ("links",)
    ROW_CACHE = True

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._link_rows: dict[int, tuple] = {}   # id(link) -> (link, theme name, row): rows of unchanged links

    def ns_rows(self, st, theme):
        cache = self._link_rows
        for link in st.links:
            hit = cache.get(id(link))
            if hit is not None and hit[0] is link and hit[1] == theme.name:
                yield hit[2]
                continue
            row = self._row(st.name, link, theme)
            cache[id(link)] = (link, theme.name, row)
            yield row

    def prune_row_cache(self, rows: int) -> None:
        if len(self._link_rows) > 2 * rows + 1024:   # links long replaced
            self._link_rows.clear()

    def _row(self, ns: str, link: Link, theme):
        stt = link_state(link)
        peer = Text("")
        if link.peer_name:
            peer = Text(link.peer_name)
            if link.peer_ns is not None:
                peer.append(" @ ").append(ns_label(link.peer_ns), style=theme.color("namespace"))
        master = styled(link.master, theme.color("bridge")) if link.master else ""
        kind = styled(kind_text(link), theme.color("bridge") if link.kind == "bridge" else "")
        return (row_key(ns, "link", link.name), ns,
                (Text(link.name, style="bold"), kind, styled(stt, f"bold {state_color(theme, stt)}"),
                 str(link.mtu), styled(link.mac, theme.color("mac")), master, peer,
                 num(link.stats[0]), num(link.stats[2])))
