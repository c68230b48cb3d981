"""Links pane: every interface with kind, state (coloured), MTU, MAC, master, veth peer and the peer's
namespace, vxlan id/remote, and traffic counters."""
from __future__ import annotations

from rich.text import Text

from lab.model import Link
from lab.ui.panes.base import TablePane, num, state_color, styled
from lab.ui.view import ns_label, row_key


def link_state(l: Link) -> str:
    """The word iproute2 prints for the link's state."""
    if not l.up:
        return "DOWN"
    return l.operstate


def kind_text(l: Link) -> str:
    if l.kind == "vxlan":
        extra = f" {l.vxlan_id}" if l.vxlan_id is not None else ""
        if l.vxlan_remote:
            extra += f" →{l.vxlan_remote}"
        return "vxlan" + extra
    if l.kind == "vlan" and l.vlan_id is not None:
        return f"vlan {l.vlan_id}"
    return l.kind or (l.link_type if l.link_type != "ether" else "ether")


class LinksPane(TablePane):
    TITLE = "Links"
    COLUMNS = ("IFACE", "KIND", "STATE", "MTU", "MAC", "MASTER", "PEER", "RX pkts", "TX pkts")
    FIELDS = frozenset({"links", "link_stats"})
    EMPTY = "no links"

    def build_rows(self, view, theme):
        for st in view.shown():
            for l in st.links:
                stt = link_state(l)
                peer = Text("")
                if l.peer_name:
                    peer = Text(l.peer_name)
                    if l.peer_ns is not None:
                        peer.append(" @ ").append(ns_label(l.peer_ns), style=theme.color("namespace"))
                master = styled(l.master, theme.color("bridge")) if l.master else ""
                kind = styled(kind_text(l), theme.color("bridge") if l.kind == "bridge" else "")
                yield (row_key(st.name, "link", l.name), st.name,
                       (Text(l.name, style="bold"), kind, styled(stt, f"bold {state_color(theme, stt)}"),
                        str(l.mtu), styled(l.mac, theme.color("mac")), master, peer,
                        num(l.stats[0]), num(l.stats[2])))
