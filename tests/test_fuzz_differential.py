"""Differential fuzzing: hypothesis generates command sequences (links, addresses of both families, routes
incl. multipath and other tables, ip rules of both families, neighbours, fdb entries, qdiscs, iptables
rules and chains); each sequence runs through lab's engine and through the real tools, each in a fresh
top namespace of the test sandbox. Every line must be accepted or refused by both, and the kernel state
(as the real tools read it: tests.test_conformance_files.state, which includes link details, neighbours,
fdb, qdiscs/classes/filters and sysctls) and
what the show commands print must be the same.

The suite runs a few dozen sequences; `LAB_FUZZ_SECONDS=600 pytest tests/test_fuzz_differential.py`
runs for ten minutes and prints how many sequences and lines it compared.
"""
from __future__ import annotations

import os
import re
import subprocess
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.backend import sandbox
from tests.test_conformance_files import clear_named, state

DEVS = ["v0", "v1", "v2", "br0", "vx0"]
PORTS = ["v0", "v1", "v2"]
V4 = ["10.0.0.1/24", "10.0.0.2/24", "10.0.1.1/24", "10.0.0.1/16", "192.0.2.7/32"]
V6 = ["fd00::1/64", "fd00::2/64", "fd00:1::1/64"]
GW4 = ["10.0.0.254", "10.0.1.254", "10.9.9.9"]
GW6 = ["fd00::fe", "fd00:1::fe"]
DST4 = ["default", "10.5.0.0/16", "10.6.1.0/24", "192.0.2.0/24", "10.5.0.0/24"]
DST6 = ["default", "fd10::/64", "fd20::/48"]

SETUP = ["ip link add v0 type veth peer name v1", "ip link add v2 type veth peer name v3",
         "ip link set v0 up", "ip link set v1 up", "ip link set v2 up"]

pick = st.sampled_from


def _line(draw) -> str:
    kind = draw(pick(["link", "addr", "route4", "route6", "mpath", "rule4", "rule6", "neigh", "fdb", "qdisc",
                      "ipt", "ipt-chain", "bridge"]))
    dev = draw(pick(DEVS))
    if kind == "link":
        return draw(pick([f"ip link set {dev} up", f"ip link set {dev} down", f"ip link set {dev} mtu {draw(pick([1280, 1400, 9000, 60]))}",
                          f"ip link set {draw(pick(PORTS))} master br0", f"ip link set {draw(pick(PORTS))} nomaster",
                          f"ip link del {dev}", "ip link add vx0 type vxlan id 42 dstport 4789 dev v0",
                          f"ip link set {draw(pick(PORTS))} type bridge_slave learning {draw(pick(['on', 'off']))}"]))
    if kind == "bridge":
        return draw(pick(["ip link add br0 type bridge", "ip link add br0 type bridge stp_state 1 forward_delay 400",
                          "ip link set br0 type bridge ageing_time 1000", "ip link add br0 type bridge vlan_filtering 1"]))
    if kind == "addr":
        verb = draw(pick(["add", "del", "replace"]))
        return f"ip addr {verb} {draw(pick(V4 + V6))} dev {dev}" + (" nodad" if verb != "del" and draw(st.booleans()) else "")
    if kind in ("route4", "route6"):
        v6 = kind == "route6"
        verb = draw(pick(["add", "del", "replace", "append", "change"]))
        dst = draw(pick(DST6 if v6 else DST4))
        how = draw(pick([f"via {draw(pick(GW6 if v6 else GW4))}", f"dev {dev}", f"via {draw(pick(GW6 if v6 else GW4))} dev {dev}"]))
        extra = draw(pick(["", " metric 10", " table 100", " table 100 metric 5", " proto static", " onlink"]))
        return f"ip {'-6 ' if v6 else ''}route {verb} {dst} {how}{extra}"
    if kind == "mpath":
        return (f"ip route {draw(pick(['add', 'replace']))} {draw(pick(DST4))} nexthop via {draw(pick(GW4))} "
                f"weight {draw(pick([1, 2, 5]))} nexthop via {draw(pick(GW4))} dev {draw(pick(PORTS))}")
    if kind in ("rule4", "rule6"):
        v6 = kind == "rule6"
        verb = draw(pick(["add", "del"]))
        sel = draw(pick(["from 10.1.0.0/16", "to 10.2.0.0/24", "fwmark 7", "fwmark 0x10/0xff", "iif v0", "oif v2",
                         "tos 0x10", "from all", "not fwmark 9"] if not v6 else
                        ["from fd00::/64", "to fd20::/48", "fwmark 7", "iif v0", "from all", "not fwmark 9"]))
        act = draw(pick(["table 100", "lookup main", "blackhole", "unreachable", "prohibit", "table 100 suppress_prefixlength 0"]))
        prio = draw(pick(["", " priority 100", " pref 200"]))
        return f"ip {'-6 ' if v6 else ''}rule {verb} {sel} {act}{prio}"
    if kind == "neigh":
        verb = draw(pick(["add", "del", "replace", "change"]))
        addr = draw(pick(["10.0.0.9", "10.0.0.10", "fd00::9"]))
        tail = "" if verb == "del" else f" lladdr 02:00:00:00:00:0{draw(pick([1, 2]))} nud {draw(pick(['permanent', 'reachable', 'stale', 'noarp']))}"
        return f"ip neigh {verb} {addr} dev {dev}{tail}"
    if kind == "fdb":
        return (f"bridge fdb {draw(pick(['add', 'del', 'replace', 'append']))} 02:00:00:00:00:4{draw(pick([1, 2]))} "
                f"dev {draw(pick(PORTS + ['vx0']))} {draw(pick(['master static', 'self', 'master', 'dst 10.0.0.8']))}")
    if kind == "qdisc":
        return draw(pick([f"tc qdisc add dev {dev} root tbf rate {draw(pick(['1mbit', '220kbit', '10mbit']))} burst {draw(pick(['1540', '32kb', '15k']))} latency 50ms",
                          f"tc qdisc replace dev {dev} root handle 1: htb default 10",
                          f"tc qdisc del dev {dev} root", f"tc qdisc add dev {dev} ingress",
                          f"tc class add dev {dev} parent 1: classid 1:10 htb rate {draw(pick(['5mbit', '1gbit', '777kbit']))}"]))
    if kind == "ipt":
        tool = draw(pick(["iptables", "ip6tables"]))
        verb = draw(pick(["-A", "-I", "-D"]))
        chain = draw(pick(["INPUT", "FORWARD", "OUTPUT", "LABC"]))
        match = draw(pick(["-p tcp --dport 80", "-m tcp -p tcp --dport 22", "-p udp -m multiport --dports 53,123",
                           "-m conntrack --ctstate NEW", "-i v0", "-o v0", "-m comment --comment hi", "--dport 80",
                           "-m mark --mark 0x4000/0x4000", "-s 10.0.0.0/8" if tool == "iptables" else "-s fd00::/8"]))
        target = draw(pick(["-j ACCEPT", "-j DROP", "-j RETURN", "-j LABC", "-j DROPP", "-j REJECT",
                            "-j LOG --log-prefix x", "-j MARK --set-mark 1"]))
        return f"{tool} {verb} {chain} {match} {target}"
    return draw(pick(["iptables -N LABC", "iptables -X LABC", "iptables -F LABC", "iptables -P FORWARD DROP",
                      "iptables -P FORWARD ACCEPT", "iptables -t nat -A POSTROUTING -s 10.0.0.0/24 -j MASQUERADE",
                      "iptables -t nat -A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 10.0.0.2:8080",
                      "iptables -t nat -A PREROUTING -j DNAT --to-destination 10.0.0.2:8080", "ip6tables -N LABC",
                      "iptables -E LABC LABD"]))


@st.composite
def sequences(draw):
    return SETUP + [_line(draw) for _ in range(draw(st.integers(3, 12)))]


SHOWS = ["ip route show table all", "ip -6 route show table all", "ip rule", "ip -6 rule", "ip neigh show",
         "bridge fdb show", "tc qdisc show", "tc class show dev v0", "iptables -S", "ip6tables -S"]


def settled(st_: dict) -> dict:
    """Carrier flags follow the peer asynchronously (linkwatch): not what a command did."""
    for d in st_.values():
        d["links"] = [(n, k, mtu, tuple(f for f in fl if f not in ("NO-CARRIER", "LOWER_UP"))) for n, k, mtu, fl in d["links"]]
    return st_


def run_lab(lines):
    from lab.backend.core import Backend
    from lab.engine import Engine

    sandbox.new_top()
    eng = Engine(Backend())
    oks = [eng.run(line).ok for line in lines]
    shown = [eng.run(s).output for s in SHOWS]
    st_ = settled(state())
    eng.backend.close()
    return oks, st_, shown


def run_tools(lines):
    sandbox.new_top()
    oks = [subprocess.run(["sh", "-c", line], capture_output=True, timeout=30).returncode == 0 for line in lines]
    shown = [subprocess.run(["sh", "-c", s], capture_output=True, text=True, timeout=30).stdout.rstrip("\n") for s in SHOWS]
    st_ = settled(state())
    return oks, st_, shown


def normal(text: str) -> str:
    text = re.sub(r"direct_packets_stat \d+", "direct_packets_stat N", text)
    text = re.sub(r"(?<![0-9a-f:])(?:[0-9a-f]{2}:){5}[0-9a-f]{2}(?![0-9a-f:])", "MAC", text)
    return re.sub(r"\b8[0-9a-f]{3}:", "8xxx:", text)


COMPARED = {"sequences": 0, "lines": 0}


def compare(lines) -> None:
    try:
        mine = run_lab(lines)
    finally:
        clear_named()
    try:
        theirs = run_tools(lines)
    finally:
        clear_named()
    COMPARED["sequences"] += 1
    COMPARED["lines"] += len(lines)
    for line, a, b in zip(lines, mine[0], theirs[0]):
        assert a == b, f"`{line}`: lab {'accepted' if a else 'refused'} it, the real tool {'accepted' if b else 'refused'} it\n" + "\n".join(lines)
    for ns in mine[1]:
        for what in mine[1][ns]:
            assert mine[1][ns][what] == theirs[1][ns][what], f"{ns} {what} differs after:\n" + "\n".join(lines)
    for cmd, a, b in zip(SHOWS, mine[2], theirs[2]):
        if cmd == "bridge fdb show":   # a link's multicast memberships come and go with IPv6 addrconf after
            # carrier (asynchronous: two runs differ); the entries commands make are compared
            a, b = ("\n".join(line for line in x.splitlines() if not re.match(r"(33:33|01:00:5e):", line)) for x in (a, b))
        a, b = normal(a), normal(b)
        if cmd in HASH_ORDERED:   # the kernel dumps these in hash-table order, which differs between runs
            a, b = "\n".join(sorted(a.splitlines())), "\n".join(sorted(b.splitlines()))
        assert a == b, f"`{cmd}` prints differently after:\n" + "\n".join(lines)


HASH_ORDERED = {"ip neigh show", "bridge fdb show"}


SECONDS = float(os.environ.get("LAB_FUZZ_SECONDS", "0"))


@pytest.mark.timeout(int(SECONDS) + 600 if SECONDS else 300)   # a long run outlives the suite's per-test limit
@settings(max_examples=int(SECONDS * 2) if SECONDS else 25, deadline=None, derandomize=not SECONDS, report_multiple_bugs=False,
          suppress_health_check=list(HealthCheck), database=None)
@given(sequences())
def test_lab_and_the_real_tools_agree_on_generated_sequences(fresh_top, seq):
    if SECONDS and time.monotonic() > START + SECONDS:
        return
    compare(seq)


START = time.monotonic()


def teardown_module(module):
    if SECONDS:
        print(f"\ndifferential fuzzing: {COMPARED['sequences']} sequences, {COMPARED['lines']} lines compared")
