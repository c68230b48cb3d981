"""IPVS pane: virtual services (ipvsadm -Ln) with their scheduler and flags, and under each its real servers
with forwarding method, weight and active/inactive connections."""
from __future__ import annotations

from lab.ui.panes.base import TablePane, num, styled
from lab.ui.view import row_key


class IpvsPane(TablePane):
    TITLE = "IPVS"
    COLUMNS = ("SERVICE", "SCHED", "FLAGS", "REAL SERVER", "FORWARD", "WEIGHT", "ACTIVE", "INACT")
    FIELDS = frozenset({"ipvs"})
    EXTRA = "ipvs"
    EMPTY = "no IPVS virtual services (ipvsadm -A; IPVS needs ip_vs and the machine's own root: sudo lab --privileged)"
    SOURCES = ("ipvs",)

    def ns_rows(self, st, theme):
        for svc in st.ipvs:
            head = (styled(svc.key, "bold"), svc.sched, svc.flags)
            if not svc.dests:
                yield (row_key(st.name, "ipvs", svc.key), st.name, (*head, "", "", "", "", ""))
            for i, d in enumerate(svc.dests):
                key = svc.key if i == 0 else f"{svc.key} {d.addr}"
                yield (row_key(st.name, "ipvs", key), st.name,
                       ((*head,) if i == 0 else ("", "", "")) + (d.addr, d.fwd, num(d.weight), num(d.active),
                                                                num(d.inactive)))
