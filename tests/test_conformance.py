"""Conformance: the classic command sequences give the same kernel state through lab's engine (what
`lab run` executes) as through iproute2/iptables/sysctl themselves. State is read back with the real
tools and normalised (no ifindexes, MACs or counters)."""
from __future__ import annotations

import json
import re
import subprocess

import pytest

from lab.backend import nsutil, sandbox
from tests.conftest import kernel

VETH = """
ip netns add red
ip netns add blue
ip link add veth-red type veth peer name veth-blue
ip link set veth-red netns red
ip link set veth-blue netns blue
ip -n red addr add 192.168.15.1/24 dev veth-red
ip -n blue addr add 192.168.15.2/24 dev veth-blue
ip -n red link set veth-red up
ip -n blue link set veth-blue up
ip -n red link set lo up
"""

BRIDGE_NAT = """
ip netns add red
ip netns add blue
ip netns add outside
ip link add v-net-0 type bridge
ip link set dev v-net-0 up
ip addr add 192.168.15.5/24 dev v-net-0
ip link add veth-red type veth peer name veth-red-br
ip link add veth-blue type veth peer name veth-blue-br
ip link set veth-red netns red
ip link set veth-blue netns blue
ip link set veth-red-br master v-net-0
ip link set veth-blue-br master v-net-0
ip -n red addr add 192.168.15.1/24 dev veth-red
ip -n blue addr add 192.168.15.2/24 dev veth-blue
ip -n red link set veth-red up
ip -n blue link set veth-blue up
ip link set veth-red-br up
ip link set veth-blue-br up
ip netns exec blue ip route add 192.168.1.0/24 via 192.168.15.5
ip netns exec blue ip route add default via 192.168.15.5
ip -n red route add default via 192.168.15.5
ip link add eth-out type veth peer name eth0 netns outside
ip addr add 203.0.113.1/24 dev eth-out
ip link set eth-out up
ip -n outside addr add 203.0.113.2/24 dev eth0
ip -n outside link set eth0 up
sysctl -w net.ipv4.ip_forward=1
iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE
iptables -t nat -A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 192.168.15.2:8080
"""


def state(namespaces: list[str]) -> dict:
    out = {}
    for ns in [None] + namespaces:
        links = sorted((link["ifname"], link.get("linkinfo", {}).get("info_kind", ""), link.get("master", ""),
                        tuple(sorted(f for f in link["flags"] if f != "M-DOWN")), link["mtu"])
                       for link in json.loads(kernel(ns, "ip", "-j", "-d", "link")))
        addrs = sorted((a["ifname"], i["local"], i["prefixlen"]) for a in json.loads(kernel(ns, "ip", "-j", "addr"))
                       for i in a["addr_info"] if i["family"] == "inet")
        routes = sorted(json.dumps(r, sort_keys=True) for r in json.loads(kernel(ns, "ip", "-j", "route", "show", "table", "all"))
                        if "::" not in r.get("dst", "") and not r.get("dst", "").startswith("fe80"))
        ipt = re.sub(r"\[\d+:\d+\]", "", "\n".join(line for line in kernel(ns, "iptables-save").splitlines()
                                                     if not line.startswith("#")))
        fwd = open_sysctl(ns, "net/ipv4/ip_forward")
        out[ns or "top"] = {"links": links, "addrs": addrs, "routes": routes, "iptables": ipt, "forward": fwd}
    return out


def open_sysctl(ns, key):
    with nsutil.in_netns(ns):
        with open("/proc/sys/" + key) as f:
            return f.read().strip()


def via_lab(script: str) -> dict:
    from lab.backend.core import Backend
    from lab.engine import Engine

    sandbox.new_top()
    eng = Engine(Backend())
    res = eng.run_lines(script.splitlines())
    assert all(r.ok for r in res), [(r.line, r.error) for r in res if not r.ok]
    st = state(nsutil.list_netns())
    eng.backend.close()
    return st


def via_tools(script: str) -> dict:
    sandbox.new_top()
    r = subprocess.run(["sh", "-ec", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return state(nsutil.list_netns())


def clear_named():
    for ns in nsutil.list_netns():
        nsutil.remove_netns(ns)


@pytest.mark.parametrize("script", [VETH, BRIDGE_NAT], ids=["veth", "bridge-nat"])
def test_same_kernel_state_as_the_real_tools(script, fresh_top):
    try:
        mine = via_lab(script)
    finally:
        pass
    clear_named()
    theirs = via_tools(script)
    clear_named()
    assert mine.keys() == theirs.keys()
    for ns in mine:
        for what in mine[ns]:
            assert mine[ns][what] == theirs[ns][what], f"{ns} {what} differs"
