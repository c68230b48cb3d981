"""Table panes: one module per kind of kernel object, all built on panes.base.TablePane."""
from __future__ import annotations

from lab.ui.panes.addresses import AddressesPane
from lab.ui.panes.conntrack import ConntrackPane
from lab.ui.panes.iptables import IptablesPane
from lab.ui.panes.ipvs import IpvsPane
from lab.ui.panes.links import LinksPane
from lab.ui.panes.neighbours import FdbPane, NeighboursPane
from lab.ui.panes.qdiscs import QdiscsPane
from lab.ui.panes.routes import RoutesPane
from lab.ui.panes.sysctls import SysctlsPane

ALL_PANES = (LinksPane, AddressesPane, RoutesPane, NeighboursPane, FdbPane, IptablesPane, QdiscsPane,
             ConntrackPane, SysctlsPane, IpvsPane)
