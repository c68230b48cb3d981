"""The tracer against the kernel's own evidence (issue 11's ground-truth harness): each test builds its
topology, runs a trace, and checks what the trace claims against what the kernel says independently of
the tracer: `ip route get` with the same selectors (run with the real ip), and iptables rule counters in
the namespaces the packet did or did not reach. Traffic flows only between the namespaces a test made."""
from __future__ import annotations

import re

import pytest

from tests.conftest import kernel, run_ok
from tests.test_trace import ns_order, steps, trace

pytestmark = pytest.mark.timeout(120)


def counter(ns: str, chain: str = "INPUT", table: str = "filter") -> int:
    """Packets counted by the first rule of a chain (the test's evidence rule), read with iptables-nft."""
    out = kernel(ns, "iptables-nft", "-t", table, "-L", chain, "-v", "-x", "-n")
    rows = [l.split() for l in out.splitlines()[2:] if l.strip()]
    return int(rows[0][0])


def two_uplinks(lab):
    """client --(10.1.0.0/24)-- router, which reaches 10.9.0.1 both through a (10.2.0.2, main table's
    default) and through b (10.3.0.2): a and b each hold 10.9.0.1 and count the probes that reach it."""
    run_ok(lab, *[f"ip netns add {n}" for n in ("client", "router", "a", "b")],
           "ip link add c0 netns client type veth peer name r0 netns router",
           "ip link add a0 netns a type veth peer name ra netns router",
           "ip link add b0 netns b type veth peer name rb netns router",
           "ip -n client addr add 10.1.0.2/24 dev c0", "ip -n router addr add 10.1.0.1/24 dev r0",
           "ip -n router addr add 10.2.0.1/24 dev ra", "ip -n a addr add 10.2.0.2/24 dev a0",
           "ip -n router addr add 10.3.0.1/24 dev rb", "ip -n b addr add 10.3.0.2/24 dev b0",
           "ip -n a addr add 10.9.0.1/32 dev lo", "ip -n b addr add 10.9.0.1/32 dev lo")
    for ns in ("client", "router", "a", "b"):
        run_ok(lab, f"ip -n {ns} link set lo up")
    for ns, dev in (("client", "c0"), ("router", "r0"), ("router", "ra"), ("router", "rb"), ("a", "a0"), ("b", "b0")):
        run_ok(lab, f"ip -n {ns} link set {dev} up")
    run_ok(lab, "ip -n client route add default via 10.1.0.1",
           "ip -n a route add default via 10.2.0.1", "ip -n b route add default via 10.3.0.1",
           "ip -n router route add default via 10.2.0.2",
           "ip -n router route add default via 10.3.0.2 table 100",
           "ip -n router route add default via 10.2.0.2 table 200",
           "ip netns exec router sysctl -w net.ipv4.ip_forward=1")
    for ns in ("a", "b"):
        run_ok(lab, f"ip netns exec {ns} iptables -A INPUT -p icmp -d 10.9.0.1 -j ACCEPT")


def route_hop(path, ns):
    return next(h for h in steps(path, "request", ("route",)) if h.ns == ns)


def test_policy_routing_by_source_follows_the_rule_table(lab):
    two_uplinks(lab)
    run_ok(lab, "ip -n router rule add from 10.1.0.2 lookup 100")
    real = kernel("router", "ip", "route", "get", "10.9.0.1", "from", "10.1.0.2", "iif", "r0")
    assert "via 10.3.0.2" in real and "table 100" in real       # the kernel's own answer
    before = counter("a"), counter("b")
    path = trace(lab, "client icmp 10.9.0.1")
    after = counter("a"), counter("b")
    assert after[1] - before[1] >= 1 and after[0] == before[0]   # it really went through b
    hop = route_hop(path, "router")
    assert "via 10.3.0.2" in hop.rule and "(table 100)" in hop.rule, hop.rule
    order = ns_order(path)
    assert "b" in order and "a" not in order, order
    nh = [h.explanation for h in steps(path, "request") if h.ns == "router" and "neighbour" in h.explanation]
    assert nh and all("10.3.0.2" in t for t in nh), nh             # the next hop of table 100, not main's
    assert path.outcome == "answered", path.summary


def test_mark_based_routing_uses_the_mark_prerouting_set(lab):
    two_uplinks(lab)
    run_ok(lab, "ip -n router rule add from 10.1.0.2 lookup 100 pref 200",
           "ip -n router rule add fwmark 1 lookup 200 pref 100",
           "ip netns exec router iptables -t mangle -A PREROUTING -s 10.1.0.2 -p icmp -j MARK --set-mark 1")
    real = kernel("router", "ip", "route", "get", "10.9.0.1", "from", "10.1.0.2", "iif", "r0", "mark", "1")
    assert "via 10.2.0.2" in real and "table 200" in real
    before = counter("a"), counter("b"), counter("router", "PREROUTING", "mangle")
    path = trace(lab, "client icmp 10.9.0.1")
    after = counter("a"), counter("b"), counter("router", "PREROUTING", "mangle")
    assert after[2] > before[2]                                   # the MARK rule matched
    assert after[0] - before[0] >= 1 and after[1] == before[1]    # and the packet went through a
    hop = route_hop(path, "router")
    assert "via 10.2.0.2" in hop.rule and "(table 200)" in hop.rule, hop.rule
    assert "mark 0x1" in hop.explanation, hop.explanation
    order = ns_order(path)
    assert "a" in order and "b" not in order, order
    assert not re.search(r"no rule matched", " ".join(h.explanation for h in path.hops))
