"""Key sysctls pane (ip_forward, rp_filter, send_redirects, bridge-nf-call-iptables...) per namespace;
switches that are on are coloured, so a router without ip_forward stands out."""
from __future__ import annotations

from lab.ui.panes.base import TablePane, styled
from lab.ui.view import row_key


class SysctlsPane(TablePane):
    TITLE = "Sysctls"
    COLUMNS = ("KEY", "VALUE")
    FIELDS = frozenset({"sysctls"})
    EXTRA = "sysctls"
    EMPTY = "no sysctls read"
    SOURCES = ("sysctls",)

    def ns_rows(self, st, theme):
        for key, value in st.sysctls:
            color = theme.color("up") if value == "1" else theme.color("muted") if value == "0" else ""
            yield (row_key(st.name, "sysctl", key), st.name, (key, styled(value, f"bold {color}")))
