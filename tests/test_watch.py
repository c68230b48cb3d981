"""The dashboard's watcher: the hand-written link parser reads the same Link objects as pyroute2,
and link events update the view incrementally (only what the event names is re-read)."""
from __future__ import annotations

import threading
import time

from lab.backend import state
from lab.backend.watch import Watcher
from tests.conftest import run_ok


def test_hand_parsed_links_equal_pyroute2(lab):
    run_ok(lab, "ip netns add wa", "ip link add v0 type veth peer name eth0 netns wa",
           "ip link add br0 type bridge", "ip link set v0 master br0", "ip link set v0 up", "ip link set br0 up",
           "ip addr add 10.1.0.1/24 dev br0", "ip link set v0 mtu 1400", "ip link set dev v0 address 02:00:00:00:00:09",
           "ip link add vx42 type vxlan id 42 remote 10.1.0.2 local 10.1.0.1 dev br0 dstport 4789",
           "ip link add mv0 link br0 type macvlan mode bridge", "ip link add p0 type veth peer name p1",
           "ip -n wa link set eth0 up", "ip -n wa link set lo up")
    b = lab.backend
    for ns in (None, "wa"):
        with_pyroute2 = state.links(b, ns)
        assert b.rtnl(ns).links(ns) == with_pyroute2
    vx = next(l for l in b.rtnl(None).links(None) if l.name == "vx42")
    assert (vx.kind, vx.vxlan_id, vx.vxlan_remote, vx.vxlan_local, vx.vxlan_port) == ("vxlan", 42, "10.1.0.2",
                                                                                      "10.1.0.1", 4789)
