"""The packet tracer on the real kernel: every test builds its own namespaces, injects one probe and
asserts the hop-by-hop path (namespaces, hooks, rules in iptables syntax, verdicts, NAT before/after).
Traffic only flows between the namespaces a test created."""
from __future__ import annotations

import json

import pytest

from tests.conftest import kernel, run_ok

pytestmark = pytest.mark.timeout(120)


def ipt(lab, ns, rule: str):
    run_ok(lab, f"ip netns exec {ns} iptables {rule}")


def sysctl(lab, ns, key, value):
    run_ok(lab, f"ip netns exec {ns} sysctl -w {key}={value}")


def trace(lab, spec):
    """Run a trace, and check the kernel's evidence for it: every rule the trace says matched had its
    counter move (iptables-save -c before and after, in every lab namespace)."""
    from lab.tracer import run_trace

    before = rule_counters(lab)
    path = run_trace(lab.backend, spec)
    after = rule_counters(lab)
    for h in path.hops:
        if h.kind == "hook" and h.rule.startswith("-A "):
            key = (h.ns, h.table, h.rule)
            assert key in after, f"the trace names a rule iptables-save does not list: {key}"
            assert after[key] > before.get(key, 0), f"the trace says {key} matched; its counter did not move"
    return path


def rule_counters(lab) -> dict[tuple[str, str, str], int]:
    """(namespace, table, rule as iptables-save writes it) -> packets, in every lab namespace."""
    import re

    out = {}
    for ns in [""] + list(lab.backend.namespaces()):
        table = ""
        r = lab.backend.run_cmd(ns or None, ["iptables-nft-save", "-c"])
        for line in r.stdout.splitlines():
            if line.startswith("*"):
                table = line[1:]
            m = re.match(r"\[(\d+):\d+\] (-A .*)", line)
            if m:
                out[(ns, table, m.group(2))] = int(m.group(1))
    return out


def steps(path, direction=None, kinds=None):
    return [h for h in path.hops if (direction is None or h.direction == direction)
            and (kinds is None or h.kind in kinds)]


def ns_order(path, direction="request"):
    out = []
    for h in steps(path, direction):
        if not out or out[-1] != h.ns:
            out.append(h.ns)
    return out


def hooks(path, ns, direction="request"):
    return [h.hook for h in steps(path, direction, ("hook",)) if h.ns == ns]


def two_ns(lab):
    run_ok(lab, "ip netns add red", "ip netns add blue",
           "ip link add v-red netns red type veth peer name v-blue netns blue",
           "ip -n red addr add 10.0.0.1/24 dev v-red", "ip -n blue addr add 10.0.0.2/24 dev v-blue",
           "ip -n red link set v-red up", "ip -n blue link set v-blue up",
           "ip -n red link set lo up", "ip -n blue link set lo up")


def router_lab(lab, forward=True):
    """client --(10.1.0.0/24)-- router --(10.2.0.0/24)-- server."""
    run_ok(lab, "ip netns add client", "ip netns add router", "ip netns add server",
           "ip link add c0 netns client type veth peer name r0 netns router",
           "ip link add s0 netns server type veth peer name r1 netns router",
           "ip -n client addr add 10.1.0.2/24 dev c0", "ip -n router addr add 10.1.0.1/24 dev r0",
           "ip -n router addr add 10.2.0.1/24 dev r1", "ip -n server addr add 10.2.0.2/24 dev s0",
           "ip -n client link set c0 up", "ip -n router link set r0 up", "ip -n router link set r1 up",
           "ip -n server link set s0 up", "ip -n client route add default via 10.1.0.1",
           "ip -n server route add default via 10.2.0.1")
    for ns in ("client", "router", "server"):
        run_ok(lab, f"ip -n {ns} link set lo up")
    if forward:
        sysctl(lab, "router", "net.ipv4.ip_forward", 1)


# ---- a veth between two namespaces ---------------------------------------------------------------------
def test_veth_ping_hop_by_hop(lab):
    two_ns(lab)
    p = trace(lab, "red icmp 10.0.0.2")
    assert p.outcome == "answered" and p.reply
    assert ns_order(p) == ["red", "blue"]
    assert hooks(p, "red") == ["output", "postrouting"]
    assert hooks(p, "blue") == ["prerouting", "input"]
    kinds = [h.kind for h in steps(p, "request")]
    assert kinds[0] == "send" and "route" in kinds and kinds[-1] == "deliver"
    route = next(h for h in p.hops if h.kind == "route")
    assert route.ns == "red" and "10.0.0.0/24" in route.explanation and "v-red" in route.explanation
    neigh = next(h for h in p.hops if h.kind == "neigh")
    assert "REACHABLE" in neigh.explanation or "DELAY" in neigh.explanation or "STALE" in neigh.explanation
    assert ns_order(p, "reply") == ["blue", "red"]
    assert hooks(p, "blue", "reply") == ["output", "postrouting"]
    assert hooks(p, "red", "reply") == ["prerouting", "input"]
    assert steps(p, "reply")[-1].kind == "deliver"
    assert all(h.ct_state in ("", "new") for h in steps(p, "request", ("hook",)))
    assert any(h.ct_state == "established" for h in steps(p, "reply", ("hook",)))
    # nothing left behind
    for ns in ("red", "blue", None):
        assert "lab_trace" not in kernel(ns, "nft", "list", "tables")


def test_engine_command_and_json(lab):
    two_ns(lab)
    r = lab.run("trace red icmp 10.0.0.2")
    assert r.ok, r.error
    assert "blue accepts it" in r.output and "result: answered" in r.output
    r = lab.run("red trace tcp 10.0.0.2:80 --json")
    assert r.ok, r.error
    d = json.loads(r.output)
    assert d["outcome"] == "answered"
    assert {"ns", "hook", "table", "chain", "rule", "verdict", "before", "after", "explanation"} <= set(d["hops"][0])
    r = lab.run("trace nope icmp 10.0.0.2")
    assert not r.ok and "nope" in r.error
    r = lab.run("trace red tcp 10.0.0.2")
    assert not r.ok and "port" in r.error


def test_pcap_export(lab, tmp_path):
    two_ns(lab)
    f = tmp_path / "t.pcap"
    r = lab.run(f"trace red tcp 10.0.0.2:80 --pcap {f}")
    assert r.ok, r.error
    from scapy.utils import rdpcap

    pkts = rdpcap(str(f))
    assert len(pkts) >= 3
    assert pkts[0]["IP"].src == "10.0.0.1" and pkts[0]["TCP"].flags == "S"
    assert any(p["IP"].src == "10.0.0.2" and "R" in str(p["TCP"].flags) for p in pkts)


# ---- a bridge: fox and bear ----------------------------------------------------------------------------
def animals(lab):
    run_ok(lab, "ip netns add fox", "ip netns add bear",
           "ip link add vnet-animals type bridge", "ip link set vnet-animals up",
           "ip link add veth-fox type veth peer name veth-fox-br",
           "ip link add veth-bear type veth peer name veth-bear-br",
           "ip link set veth-fox netns fox", "ip link set veth-bear netns bear",
           "ip link set veth-fox-br master vnet-animals", "ip link set veth-bear-br master vnet-animals",
           "ip link set veth-fox-br up", "ip link set veth-bear-br up",
           "ip -n fox addr add 192.168.202.11/24 dev veth-fox", "ip -n bear addr add 192.168.202.12/24 dev veth-bear",
           "ip -n fox link set veth-fox up", "ip -n bear link set veth-bear up",
           "ip -n fox link set lo up", "ip -n bear link set lo up")


@pytest.mark.parametrize("src,dst,dst_addr", [("fox", "bear", "192.168.202.12"), ("bear", "fox", "192.168.202.11")])
def test_bridge_both_directions(lab, src, dst, dst_addr):
    animals(lab)
    p = trace(lab, f"{src} icmp {dst_addr}")
    assert p.outcome == "answered", p.summary
    assert ns_order(p) == [src, "", dst]
    br = [h for h in p.hops if h.kind == "bridge" and h.direction == "request"]
    assert br and br[0].ns == "" and br[0].iif == f"veth-{src}-br" and br[0].oif == f"veth-{dst}-br"
    assert "vnet-animals" in br[0].explanation
    top = hooks(p, "")
    assert "bridge-prerouting" in top and "forward" in top and "bridge-postrouting" in top
    assert ns_order(p, "reply") == [dst, "", src]
    # the reply crosses the bridge too, hook by hook, and the port it leaves by is named
    back = hooks(p, "", "reply")
    assert "bridge-prerouting" in back and "bridge-postrouting" in back, back
    rbr = [h for h in p.hops if h.kind == "bridge" and h.direction == "reply"]
    assert rbr and rbr[0].iif == f"veth-{dst}-br" and rbr[0].oif == f"veth-{src}-br"


@pytest.mark.parametrize("proto,dst", [("icmp", "192.168.202.12"), ("tcp", "192.168.202.12:81"),
                                       ("udp", "192.168.202.12:53")])
def test_reply_raw_table_is_traced(lab, proto, dst):
    """Answers are traced from the raw table on (before conntrack marks them): a NOTRACK-style raw rule
    on the reply's way back shows, for the echo reply, a TCP RST and an ICMP port unreachable alike."""
    animals(lab)
    ipt(lab, "fox", "-t raw -A PREROUTING -s 192.168.202.12 -j ACCEPT")
    p = trace(lab, f"fox {proto} {dst}")
    raw = [h for h in steps(p, "reply", ("hook",)) if h.ns == "fox" and h.table == "raw"]
    assert raw and raw[0].rule == "-A PREROUTING -s 192.168.202.12/32 -j ACCEPT", [
        (h.ns, h.hook, h.table, h.rule) for h in steps(p, "reply")]
    assert steps(p, "reply")[-1].kind == "deliver"


# ---- NAT -----------------------------------------------------------------------------------------------
def test_masquerade_to_outside(lab):
    run_ok(lab, "ip netns add inside", "ip netns add gw", "ip netns add outside",
           "ip link add i0 netns inside type veth peer name g0 netns gw",
           "ip link add o0 netns outside type veth peer name g1 netns gw",
           "ip -n inside addr add 192.168.1.2/24 dev i0", "ip -n gw addr add 192.168.1.1/24 dev g0",
           "ip -n gw addr add 203.0.113.1/24 dev g1", "ip -n outside addr add 203.0.113.9/24 dev o0",
           "ip -n inside link set i0 up", "ip -n gw link set g0 up", "ip -n gw link set g1 up",
           "ip -n outside link set o0 up", "ip -n inside route add default via 192.168.1.1")
    sysctl(lab, "gw", "net.ipv4.ip_forward", 1)
    ipt(lab, "gw", "-t nat -A POSTROUTING -s 192.168.1.0/24 -o g1 -j MASQUERADE")
    p = trace(lab, "inside icmp 203.0.113.9")
    assert p.outcome == "answered", p.summary
    assert ns_order(p) == ["inside", "gw", "outside"]
    masq = next(h for h in p.hops if h.verdict == "masquerade")
    assert masq.ns == "gw" and masq.table == "nat" and masq.chain == "POSTROUTING"
    assert masq.rule == "-A POSTROUTING -s 192.168.1.0/24 -o g1 -j MASQUERADE"
    assert masq.before.src == "192.168.1.2" and masq.after.src == "203.0.113.1" and masq.nat
    arrive = [h for h in p.hops if h.ns == "outside" and h.direction == "request" and h.before]
    assert arrive[0].before.src == "203.0.113.1"
    denat = [h for h in p.hops if h.direction == "reply" and h.kind == "nat"]
    assert denat and denat[0].ns == "gw" and denat[0].before.dst == "203.0.113.1" and denat[0].after.dst == "192.168.1.2"
    assert steps(p, "reply")[-1].ns == "inside" and steps(p, "reply")[-1].kind == "deliver"


def test_dnat_port_forward(lab):
    router_lab(lab)
    ipt(lab, "router", "-t nat -A PREROUTING -i r0 -p tcp --dport 8080 -j DNAT --to-destination 10.2.0.2:80")
    p = trace(lab, "client tcp 10.1.0.1:8080 --sport 40000")
    dnat = next(h for h in p.hops if h.verdict == "dnat")
    assert dnat.ns == "router" and dnat.hook == "prerouting" and dnat.table == "nat"
    assert "-j DNAT --to-destination 10.2.0.2:80" in dnat.rule
    assert dnat.before.endpoint("dst") == "10.1.0.1:8080" and dnat.after.endpoint("dst") == "10.2.0.2:80"
    assert ns_order(p) == ["client", "router", "server"]
    route = [h for h in p.hops if h.kind == "route" and h.ns == "router"]
    assert route and route[0].verdict == "forward" and "r1" in route[0].explanation
    # closed port 80 on server: RST back, de-DNAT'd on the way
    assert p.outcome == "answered" and "R" in next(h for h in steps(p, "reply", ("send",))).before.flags
    denat = [h for h in p.hops if h.direction == "reply" and h.kind == "nat"]
    assert denat and denat[0].ns == "router" and denat[0].after.endpoint("src") == "10.1.0.1:8080"


# ---- drops ---------------------------------------------------------------------------------------------
def test_forward_drop_rule(lab):
    router_lab(lab)
    ipt(lab, "router", "-A FORWARD -d 10.2.0.2/32 -p icmp -j DROP")
    p = trace(lab, "client icmp 10.2.0.2")
    assert p.outcome == "dropped" and not p.reply
    d = p.dropped_at
    assert d.ns == "router" and d.hook == "forward" and d.table == "filter" and d.chain == "FORWARD"
    assert d.rule == "-A FORWARD -d 10.2.0.2/32 -p icmp -j DROP" and d.verdict == "drop"
    assert "server" not in ns_order(p)


def test_rule_text_follows_changes_made_between_traces_by_anyone(lab, monkeypatch):
    """The rule text is cached while the namespace's nf_tables generation shows only the tracer's own table
    came and went: a rule replaced between two traces by the real iptables (outside lab), or by lab, is the one
    the next trace names; unchanged, the second trace reads no rule dump and still names the rule."""
    from lab.tracer import nfnl

    dumps = []
    real = nfnl.dump_rule_handles
    monkeypatch.setattr(nfnl, "dump_rule_handles", lambda *a, **k: dumps.append(a[2]) or real(*a, **k))
    router_lab(lab)
    ipt(lab, "router", "-A FORWARD -d 10.2.0.2/32 -p icmp -j DROP")
    assert trace(lab, "client icmp 10.2.0.2").dropped_at.rule == "-A FORWARD -d 10.2.0.2/32 -p icmp -j DROP"
    first = len(dumps)
    assert first >= 1
    assert trace(lab, "client icmp 10.2.0.2").dropped_at.rule == "-A FORWARD -d 10.2.0.2/32 -p icmp -j DROP"
    assert len(dumps) == first, "nothing changed: the rule text came from the cache"
    kernel("router", "iptables", "-R", "FORWARD", "1", "-d", "10.2.0.0/24", "-p", "icmp", "-j", "DROP")
    assert trace(lab, "client icmp 10.2.0.2").dropped_at.rule == "-A FORWARD -d 10.2.0.0/24 -p icmp -j DROP"
    kernel("router", "iptables", "-I", "FORWARD", "1", "-s", "10.1.0.2/32", "-p", "icmp", "-j", "REJECT")
    d = trace(lab, "client icmp 10.2.0.2").dropped_at
    assert d.rule == "-A FORWARD -s 10.1.0.2/32 -p icmp -j REJECT --reject-with icmp-port-unreachable", d.rule
    ipt(lab, "router", "-D FORWARD 1")
    assert trace(lab, "client icmp 10.2.0.2").dropped_at.rule == "-A FORWARD -d 10.2.0.0/24 -p icmp -j DROP"


def test_forward_policy_drop(lab):
    router_lab(lab)
    ipt(lab, "router", "-P FORWARD DROP")
    p = trace(lab, "client icmp 10.2.0.2")
    d = p.dropped_at
    assert p.outcome == "dropped" and d.ns == "router" and d.rule == "policy DROP" and d.chain == "FORWARD"


def test_ip_forward_off(lab):
    router_lab(lab, forward=False)
    p = trace(lab, "client icmp 10.2.0.2")
    assert p.outcome == "dropped"
    d = p.dropped_at
    assert d.ns == "router" and d.kind == "drop" and "ip_forward is off" in d.explanation


def test_missing_route_in_router(lab):
    router_lab(lab)
    p = trace(lab, "client icmp 10.9.9.9")
    d = p.dropped_at
    assert p.outcome in ("dropped", "rejected") and d.ns == "router" and "no route" in d.explanation


def test_missing_route_at_sender(lab):
    two_ns(lab)
    p = trace(lab, "red icmp 10.9.9.9")
    assert p.outcome == "dropped" and p.dropped_at.ns == "red" and "no route" in p.dropped_at.explanation


def test_reject_rule(lab):
    router_lab(lab)
    ipt(lab, "router", "-A FORWARD -p udp --dport 53 -j REJECT")
    p = trace(lab, "client udp 10.2.0.2:53")
    assert p.outcome == "rejected", p.summary
    d = p.dropped_at
    assert d.ns == "router" and d.verdict == "reject" and d.rule == "-A FORWARD -p udp -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable"
    back = steps(p, "reply", ("send",))
    assert back and back[0].ns == "router" and back[0].before.icmp_type == 3
    assert steps(p, "reply")[-1].ns == "client" and steps(p, "reply")[-1].kind == "deliver"


def test_tcp_syn_closed_port_rst(lab):
    router_lab(lab)
    p = trace(lab, "client tcp 10.2.0.2:81 --flags S")
    assert p.outcome == "answered" and "nothing listens on port 81" in p.summary
    back = steps(p, "reply", ("send",))[0]
    assert back.ns == "server" and "R" in back.before.flags
    assert ns_order(p, "reply") == ["server", "router", "client"]


def test_arp_failure(lab):
    two_ns(lab)
    p = trace(lab, "red icmp 10.0.0.77")
    d = p.dropped_at
    assert p.outcome == "dropped" and d.ns == "red" and "ARP" in d.explanation


def test_link_down(lab):
    two_ns(lab)
    run_ok(lab, "ip -n blue link set v-blue down")
    run_ok(lab, "ip -n red neigh replace 10.0.0.2 lladdr 02:00:00:00:00:02 dev v-red nud permanent")
    p = trace(lab, "red icmp 10.0.0.2")
    d = p.dropped_at
    assert p.outcome == "dropped" and d.ns == "red" and "carrier" in d.explanation


def test_legacy_rules_are_named(lab):
    two_ns(lab)
    r = lab.backend.run_cmd("blue", ["iptables-legacy", "-A", "INPUT", "-j", "DROP"])
    if r.returncode != 0:
        pytest.skip("iptables-legacy unavailable: " + r.stderr)
    p = trace(lab, "red icmp 10.0.0.2")
    assert p.outcome == "lost"
    assert any("iptables-legacy" in w for w in p.warnings)
    assert "iptables-legacy" in p.dropped_at.explanation and p.dropped_at.ns == "blue"


def test_ttl_and_count_and_payload(lab):
    router_lab(lab)
    p = trace(lab, "client udp 10.2.0.2:53 --ttl 1 --payload hello --src 10.1.0.2")
    assert p.outcome in ("dropped", "rejected")
    assert p.dropped_at.ns == "router" and "TTL" in p.dropped_at.explanation
    back = steps(p, "reply", ("send",))
    assert back and back[0].before.icmp_type == 11
    p = trace(lab, "client icmp 10.2.0.2 --count 3")
    assert {h.probe for h in p.hops} == {0, 1, 2}
    assert "3 answered" in p.summary


def test_rules_removed_even_on_error(lab, monkeypatch):
    two_ns(lab)
    from lab.tracer import probe

    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(probe, "send", boom)
    with pytest.raises(RuntimeError):
        trace(lab, "red icmp 10.0.0.2")
    for ns in ("red", "blue", None):
        assert "lab_trace" not in kernel(ns, "nft", "list", "tables")


def test_rp_filter_drop(lab):
    router_lab(lab)
    sysctl(lab, "router", "net.ipv4.conf.all.rp_filter", 1)
    sysctl(lab, "router", "net.ipv4.conf.r0.rp_filter", 1)
    # a spoofed source that the router would answer through r1, not r0 where it came in
    p = trace(lab, "client icmp 10.2.0.2 --src 10.2.0.77")
    d = p.dropped_at
    assert p.outcome == "dropped" and d.ns == "router" and "rp_filter" in d.explanation


def test_native_nft_rule_is_shown_in_nft_syntax(lab):
    router_lab(lab)
    r = lab.backend.run_cmd("router", ["nft", "-f", "-"], input=(
        "table inet fw {\n chain fwd_filter {\n  type filter hook forward priority 0; policy accept;\n"
        "  ip daddr 10.2.0.2 icmp type echo-request counter drop\n }\n}\n"))
    assert r.returncode == 0, r.stderr
    p = trace(lab, "client icmp 10.2.0.2")
    d = p.dropped_at
    assert p.outcome == "dropped" and d.ns == "router" and d.family == "inet" and d.table == "fw"
    assert d.hook == "forward" and d.chain == "fwd_filter"
    assert d.rule.startswith("ip daddr 10.2.0.2") and d.rule.endswith("drop")


def test_ip_forward_off_on_a_bridge_host_is_named(lab):
    """fox behind the host's bridge, routed out through the host with ip_forward off: the drop is
    explained at the host's routing decision, not as a packet that vanished after BRIDGE-INPUT."""
    from lab.tracer import run_trace

    for line in FWD_LAB.strip().splitlines():
        r = lab.run(line)
        assert r.ok, (line, r.error)
    path = run_trace(lab.backend, "fox icmp 203.0.113.2")
    drop = path.dropped_at
    assert path.outcome == "dropped" and drop is not None and drop.ns == ""
    assert "ip_forward is off" in drop.explanation and "(fix: sysctl -w net.ipv4.ip_forward=1)" in drop.explanation


FWD_LAB = """
ip netns add fox
ip netns add outside
ip link add vnet-animals type bridge
ip addr add 192.168.202.1/24 dev vnet-animals
ip link set vnet-animals up
ip link add veth-fox netns fox type veth peer name veth-fox-br
ip link set veth-fox-br master vnet-animals
ip link set veth-fox-br up
fox ip addr add 192.168.202.11/24 dev veth-fox
fox ip link set veth-fox up
fox ip route add default via 192.168.202.1
ip link add eth-out type veth peer name eth0 netns outside
ip addr add 203.0.113.1/24 dev eth-out
ip link set eth-out up
outside ip addr add 203.0.113.2/24 dev eth0
outside ip link set eth0 up
"""
