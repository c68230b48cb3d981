"""The tracer against the kernel's own evidence (issue 11's ground-truth harness): each test builds its
topology, runs a trace, and checks what the trace claims against what the kernel says independently of
the tracer: `ip route get` with the same selectors (run with the real ip), and iptables rule counters in
the namespaces the packet did or did not reach. Traffic flows only between the namespaces a test made."""
from __future__ import annotations


import pytest

from tests.conftest import kernel, run_ok
from tests.test_trace import ns_order, steps, trace

pytestmark = pytest.mark.timeout(120)


def counter(ns: str, chain: str = "INPUT", table: str = "filter") -> int:
    """Packets counted by the first rule of a chain (the test's evidence rule), read with iptables-nft."""
    out = kernel(ns, "iptables-nft", "-t", table, "-L", chain, "-v", "-x", "-n")
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()]
    return int(rows[0][0])


def measured(lab, spec: str, *where: tuple[str, ...]):
    """Trace `spec` (tests.test_trace.trace: every rule it names had its counter move); returns the path and
    how much each counter (ns[, chain[, table]]) moved meanwhile."""
    before = [counter(*w) for w in where]
    path = trace(lab, spec)
    return path, [counter(*w) - b for w, b in zip(where, before)]


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
    path, (via_a, via_b) = measured(lab, "client icmp 10.9.0.1", ("a",), ("b",))
    assert via_b >= 1 and via_a == 0                              # it really went through b
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
    path, (via_a, via_b, marked) = measured(lab, "client icmp 10.9.0.1", ("a",), ("b",), ("router", "PREROUTING", "mangle"))
    assert marked >= 1                                            # the MARK rule matched
    assert via_a >= 1 and via_b == 0                              # and the packet went through a
    hop = route_hop(path, "router")
    assert "via 10.2.0.2" in hop.rule and "(table 200)" in hop.rule, hop.rule
    assert "mark 0x1" in hop.explanation, hop.explanation
    order = ns_order(path)
    assert "a" in order and "b" not in order, order
    mangle = [h.explanation for h in steps(path, "request") if h.ns == "router" and h.table == "mangle"]
    assert any("MARK" in t for t in mangle) and not [t for t in mangle if "no rule matched" in t], mangle


def snmp(ns: str) -> dict[str, int]:
    """/proc/net/snmp of a namespace as {"Ip.FragFails": n, "Icmp.OutDestUnreachs": n, ...}."""
    lines = kernel(ns, "cat", "/proc/net/snmp").splitlines()
    out = {}
    for head, vals in zip(lines[::2], lines[1::2]):
        proto, names = head.split(":", 1)
        for n, v in zip(names.split(), vals.split(":", 1)[1].split()):
            out[f"{proto}.{n}"] = int(v)
    return out


def delta(before: dict, after: dict, key: str) -> int:
    return after[key] - before[key]


@pytest.mark.parametrize("kind,errno_text", [("blackhole", "Invalid argument"), ("unreachable", "No route to host"),
                                             ("prohibit", "Permission denied")])
def test_special_route_at_the_sender_is_named_with_the_kernels_refusal(lab, kind, errno_text):
    two_uplinks(lab)
    run_ok(lab, f"ip -n client route add {kind} 10.5.0.0/16")
    real = lab.backend.run_cmd("client", ["ip", "route", "get", "10.5.0.1"])
    assert real.returncode != 0 and errno_text in real.stderr          # the kernel's own refusal
    path = trace(lab, "client icmp 10.5.0.1")
    assert path.outcome == "dropped"
    drop = steps(path, kinds=("drop",))[-1]
    assert f"route {kind} 10.5.0.0/16 (table main)" in drop.explanation and errno_text in drop.explanation
    assert "martian" not in drop.explanation and "has no route" not in drop.explanation


@pytest.mark.parametrize("kind,icmp_back", [("blackhole", 0), ("unreachable", 1), ("prohibit", 1)])
def test_special_route_at_a_router_drops_as_the_kernel_counts_it(lab, kind, icmp_back):
    two_uplinks(lab)
    run_ok(lab, f"ip -n router route add {kind} 10.5.0.0/16")
    before = snmp("router")
    path = trace(lab, "client icmp 10.5.0.1")
    after = snmp("router")
    assert delta(before, after, "Icmp.OutDestUnreachs") == icmp_back      # an error went back, or none did
    drop = steps(path, "request", ("drop",))[-1]
    assert drop.ns == "router" and f"route {kind} 10.5.0.0/16" in drop.explanation, drop.explanation
    assert ("nothing goes back" in drop.explanation) == (icmp_back == 0)
    assert "martian" not in drop.explanation


def test_too_big_with_df_is_dropped_where_the_mtu_shrinks_and_without_df_fragmented(lab):
    two_uplinks(lab)
    run_ok(lab, "ip -n router link set ra mtu 1200", "ip -n a link set a0 mtu 1200")
    before = snmp("router")
    path = trace(lab, "client icmp 10.9.0.1 --size 1400 --df")
    after = snmp("router")
    assert delta(before, after, "Ip.FragFails") == 1 and delta(before, after, "Icmp.OutDestUnreachs") == 1
    drop = steps(path, "request", ("drop",))[-1]
    assert drop.ns == "router" and "too big for ra" in drop.explanation and "mtu 1200" in drop.explanation
    assert "fragmentation-needed" in drop.explanation
    before = snmp("router")
    path = trace(lab, "client icmp 10.9.0.1 --size 1400")
    after = snmp("router")
    # fragmented there (the echo reply, defragmented by conntrack on the way in, is fragmented again)
    assert delta(before, after, "Ip.FragOKs") >= 1 and delta(before, after, "Ip.FragFails") == 0
    assert "a" in ns_order(path)
    leaves = next(h for h in steps(path, "request", ("qdisc",)) if h.ns == "router")
    assert "more than ra's MTU (1200)" in leaves.explanation and "fragments" in leaves.explanation


def test_too_big_at_the_sender_says_mtu_not_route(lab):
    two_uplinks(lab)
    run_ok(lab, "ip -n client link set c0 mtu 1000")
    path = trace(lab, "client icmp 10.9.0.1 --size 1400 --df")
    assert path.outcome == "dropped"
    drop = steps(path, kinds=("drop",))[-1]
    assert "more than the MTU of c0 (1000)" in drop.explanation and "Message too long" in drop.explanation
    assert "no route" not in path.summary


@pytest.fixture
def listener(lab):
    """A real TCP socket listening on 10.9.0.1:80 in namespace a (the kernel answers SYNs by itself)."""
    import socket

    from lab.backend import nsutil

    two_uplinks(lab)
    with nsutil.in_netns("a"):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("10.9.0.1", 80))
    s.listen(8)
    run_ok(lab, "ip netns exec a iptables -I INPUT -p tcp --dport 80 --tcp-flags SYN,ACK,RST SYN -j ACCEPT",
           "ip netns exec client iptables -A OUTPUT -p tcp --tcp-flags RST RST -j ACCEPT")
    yield s
    s.close()


def test_a_real_listener_answers_syn_ack_and_the_senders_kernel_resets(lab, listener):
    path, (syn, rst) = measured(lab, "client tcp 10.9.0.1:80", ("a",), ("client", "OUTPUT"))
    assert syn == 1                                     # the SYN reached the listener's namespace
    assert rst == 1                                     # and the client's kernel sent one RST
    assert path.outcome == "answered", path.summary
    assert "SYN-ACK" in path.summary or "SA" in path.summary or "syn" in path.summary.lower(), path.summary
    assert "nothing listens" not in path.summary
    reply = steps(path, "reply")
    assert any("own kernel then sends" in h.explanation and "R" in (h.before.flags or "") for h in reply), \
        [h.explanation for h in reply]
    assert not [h for h in path.hops if h.kind == "nat"], [h.explanation for h in path.hops if h.kind == "nat"]


def test_a_stray_ack_to_a_listening_port_is_not_called_nothing_listens(lab, listener):
    listening = kernel("a", "cat", "/proc/net/tcp")
    assert ":0050 00000000:0000 0A" in listening        # the kernel's own table: port 80 listens
    path = trace(lab, "client tcp 10.9.0.1:80 --flags A")
    assert path.outcome == "answered", path.summary
    assert "nothing listens" not in path.summary and "no connection" in path.summary, path.summary
    assert "a socket does listen on port 80" in path.summary


def test_ct_invalid_is_explained_and_in_the_json(lab):
    """conntrack marks a SYN+FIN INVALID (the kernel's own verdict: the INVALID rules' counters move)."""
    import json as _json

    from lab.tracer import to_json

    two_uplinks(lab)
    run_ok(lab, "ip netns exec a iptables -I INPUT -m conntrack --ctstate INVALID -j DROP",
           "ip netns exec client iptables -A OUTPUT -m conntrack --ctstate INVALID -j ACCEPT")
    path, moved = measured(lab, "client tcp 10.9.0.1:80 --flags SF", ("a",), ("client", "OUTPUT"))
    assert moved == [1, 1]
    notes = [h for h in path.hops if h.ct_state == "invalid" and h.kind == "note"]
    assert {h.ns for h in notes} >= {"client", "a"}
    assert all("SYN with FIN is not a valid TCP flag combination" in h.explanation for h in notes)
    d = _json.loads(to_json(path))
    drop = [h for h in d["hops"] if h["kind"] == "hook" and h["verdict"] == "drop"][-1]
    assert drop["ns"] == "a" and drop["ct_state"] == "invalid"
    ok = trace(lab, "client tcp 10.9.0.1:80")           # a normal SYN: nothing INVALID is claimed
    assert not [h for h in ok.hops if h.ct_state == "invalid"]
    assert any(h["ct_direction"] for h in _json.loads(to_json(ok))["hops"])   # the ct direction is read (a u8)


def docker_host(lab):
    """A docker0-style bridge in namespace host: container c1 (172.17.0.2) publishes port 80 as the host's
    8080 on its address 192.168.50.1 (the host's uplink to lan), with Docker's DNAT and hairpin MASQUERADE."""
    import socket

    from lab.backend import nsutil

    run_ok(lab, *[f"ip netns add {n}" for n in ("host", "c1", "lan")],
           "ip -n host link add docker0 type bridge", "ip -n host addr add 172.17.0.1/16 dev docker0",
           "ip link add eth0 netns c1 type veth peer name vethc1 netns host",
           "ip -n host link set vethc1 master docker0",
           "ip link add up0 netns host type veth peer name lan0 netns lan",
           "ip -n host addr add 192.168.50.1/24 dev up0", "ip -n lan addr add 192.168.50.2/24 dev lan0",
           "ip -n c1 addr add 172.17.0.2/16 dev eth0")
    for ns, dev in (("host", "docker0"), ("host", "vethc1"), ("host", "up0"), ("host", "lo"), ("c1", "eth0"),
                    ("c1", "lo"), ("lan", "lan0"), ("lan", "lo")):
        run_ok(lab, f"ip -n {ns} link set {dev} up")
    run_ok(lab, "ip -n c1 route add default via 172.17.0.1",
           "ip netns exec host sysctl -w net.ipv4.ip_forward=1",
           "ip netns exec host iptables -t nat -A PREROUTING -d 192.168.50.1 -p tcp --dport 8080 "
           "-j DNAT --to-destination 172.17.0.2:80",
           "ip netns exec host iptables -t nat -A POSTROUTING -s 172.17.0.2 -d 172.17.0.2 -p tcp --dport 80 "
           "-j MASQUERADE",
           "ip netns exec c1 iptables -A INPUT -s 172.17.0.1 -p tcp --dport 80 --syn -j ACCEPT")   # the SYN only
    with nsutil.in_netns("c1"):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 80))
    s.listen(8)
    return s


@pytest.mark.parametrize("setup", [
    "ip -n host link set vethc1 type bridge_slave hairpin on",           # Docker: br_netfilter on, hairpin on
    "ip netns exec host sysctl -w net.bridge.bridge-nf-call-iptables=0",  # br_netfilter off: routed by the host
], ids=["br_netfilter-hairpin", "no-br_netfilter"])
def test_hairpin_nat_visits_the_container_twice_with_the_nat_in_the_host(lab, setup):
    sock = docker_host(lab)
    run_ok(lab, setup)
    try:
        path, moved = measured(lab, "c1 tcp 192.168.50.1:8080", ("host", "PREROUTING", "nat"),
                               ("host", "POSTROUTING", "nat"), ("c1",))
    finally:
        sock.close()
    assert moved == [1, 1, 1]                  # DNAT, MASQUERADE, arrival from 172.17.0.1
    assert ns_order(path) == ["c1", "host", "c1"], ns_order(path)
    nat = [h for h in steps(path, "request") if h.nat or h.kind == "nat"]
    assert nat and all(h.ns == "host" for h in nat), [(h.ns, h.explanation) for h in nat]
    text = " ".join(h.explanation for h in nat)
    assert "172.17.0.2:80" in text and "172.17.0.1" in text, text
    assert path.outcome == "answered", path.summary


def test_hairpin_without_hairpin_mode_is_dropped_by_the_bridge_and_said_so(lab):
    sock = docker_host(lab)       # br_netfilter on (the namespace default here), the port's hairpin mode off
    assert kernel("host", "sysctl", "-n", "net.bridge.bridge-nf-call-iptables").strip() == "1"
    try:
        path, moved = measured(lab, "c1 tcp 192.168.50.1:8080", ("host", "PREROUTING", "nat"),
                               ("host", "POSTROUTING", "nat"), ("c1",))
    finally:
        sock.close()
    assert moved == [1, 0, 0]                  # DNAT'd, then never left the host
    assert path.outcome == "dropped", path.summary
    drop = steps(path, "request", ("drop",))[-1]
    assert drop.ns == "host" and "hairpin" in drop.explanation and "vethc1" in drop.explanation
    assert "ip -n host link set vethc1 type bridge_slave hairpin on" in drop.explanation


def kube_node(lab):
    """A node (namespace node) with a cni0 bridge and two pods behind a kube-proxy style ClusterIP service
    10.96.0.10:80 (KUBE-SERVICES -> KUBE-SVC -> statistic random -> KUBE-SEP DNAT), a client namespace cl
    outside the node. Each pod counts the SYNs that reach it and has a real listener on 8080."""
    import socket

    from lab.backend import nsutil

    run_ok(lab, *[f"ip netns add {n}" for n in ("node", "p1", "p2", "cl")],
           "ip -n node link add cni0 type bridge", "ip -n node addr add 10.244.0.1/24 dev cni0",
           "ip link add eth0 netns p1 type veth peer name veth1 netns node",
           "ip link add eth0 netns p2 type veth peer name veth2 netns node",
           "ip -n node link set veth1 master cni0", "ip -n node link set veth2 master cni0",
           "ip link add up0 netns node type veth peer name eth0 netns cl",
           "ip -n node addr add 192.168.60.1/24 dev up0", "ip -n cl addr add 192.168.60.2/24 dev eth0",
           "ip -n p1 addr add 10.244.0.2/24 dev eth0", "ip -n p2 addr add 10.244.0.3/24 dev eth0")
    for ns, dev in (("node", "cni0"), ("node", "veth1"), ("node", "veth2"), ("node", "up0"), ("node", "lo"),
                    ("p1", "eth0"), ("p1", "lo"), ("p2", "eth0"), ("p2", "lo"), ("cl", "eth0"), ("cl", "lo")):
        run_ok(lab, f"ip -n {ns} link set {dev} up")
    run_ok(lab, "ip -n p1 route add default via 10.244.0.1", "ip -n p2 route add default via 10.244.0.1",
           "ip -n cl route add 10.96.0.0/12 via 192.168.60.1", "ip -n cl route add 10.244.0.0/16 via 192.168.60.1",
           "ip netns exec node sysctl -w net.ipv4.ip_forward=1")
    rules = """*nat
:KUBE-SERVICES - [0:0]
:KUBE-SVC-WEB - [0:0]
:KUBE-SEP-P1 - [0:0]
:KUBE-SEP-P2 - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment "default/web cluster IP" -m tcp --dport 80 -j KUBE-SVC-WEB
-A KUBE-SVC-WEB -m comment --comment "default/web -> 10.244.0.2:8080" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-P1
-A KUBE-SVC-WEB -m comment --comment "default/web -> 10.244.0.3:8080" -j KUBE-SEP-P2
-A KUBE-SEP-P1 -p tcp -m comment --comment "default/web" -m tcp -j DNAT --to-destination 10.244.0.2:8080
-A KUBE-SEP-P2 -p tcp -m comment --comment "default/web" -m tcp -j DNAT --to-destination 10.244.0.3:8080
COMMIT
"""
    r = lab.backend.run_cmd("node", ["iptables-nft-restore", "--noflush"], input=rules)
    assert r.returncode == 0, r.stderr
    socks = []
    for pod in ("p1", "p2"):
        run_ok(lab, f"ip netns exec {pod} iptables -A INPUT -p tcp --dport 8080 --syn -j ACCEPT")
        with nsutil.in_netns(pod):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", 8080))
        s.listen(8)
        socks.append(s)
    return socks


def test_kube_proxy_service_named_backend_is_where_the_packet_went(lab):
    """30 traces through a statistic-random ClusterIP: each trace's backend is the pod whose SYN counter
    moved; the reply is de-NATed back to the service address the client asked for."""
    socks = kube_node(lab)
    seen = set()
    try:
        for _ in range(30):
            path, moved = measured(lab, "cl tcp 10.96.0.10:80", ("p1",), ("p2",))
            went = dict(zip(("p1", "p2"), moved))
            assert sorted(went.values()) == [0, 1], went
            pod = "p1" if went["p1"] else "p2"
            seen.add(pod)
            deliver = [h for h in steps(path, "request", ("deliver",))]
            assert deliver and deliver[-1].ns == pod, (pod, path.summary)
            assert path.outcome == "answered", path.summary
            assert "10.96.0.10:80 -> 192.168.60.2" in path.summary, path.summary   # what the client saw
            port = {"p1": "veth1", "p2": "veth2"}[pod]
            up = [h for h in steps(path, "reply", ("bridge",)) if h.ns == "node"]
            assert up and f"from port {port}" in up[0].explanation and "own address" in up[0].explanation, \
                [h.explanation for h in up]                   # the port it came from, not the one whose MAC cni0 has
            assert "veth1, the port's own" not in up[0].explanation
            denat = [h for h in steps(path, "reply") if h.kind == "nat" and h.ns == "node"]
            assert denat and "10.96.0.10:80" in " ".join(h.explanation for h in denat)
    finally:
        for s in socks:
            s.close()
    assert seen == {"p1", "p2"}       # both backends were picked (probability 1 - 2**-29)


def vxlan_overlay(lab):
    """Two nodes on an underlay veth (192.168.70.0/24), each with vxlan0 (VNI 42, port 4789) carrying the
    overlay 10.200.0.0/24. Each node counts the outer VXLAN datagrams that reach it."""
    run_ok(lab, "ip netns add n1", "ip netns add n2",
           *[f"ip netns exec {ns} sysctl -w net.ipv6.conf.{w}.disable_ipv6=1" for ns in ("n1", "n2")
             for w in ("all", "default")],          # no IPv6 chatter in the tunnel: the counters count the probe
           "ip link add u1 netns n1 type veth peer name u2 netns n2",
           "ip -n n1 addr add 192.168.70.1/24 dev u1", "ip -n n2 addr add 192.168.70.2/24 dev u2",
           "ip -n n1 link set u1 up", "ip -n n2 link set u2 up", "ip -n n1 link set lo up", "ip -n n2 link set lo up",
           "ip -n n1 link add vxlan0 type vxlan id 42 remote 192.168.70.2 local 192.168.70.1 dstport 4789 dev u1",
           "ip -n n2 link add vxlan0 type vxlan id 42 remote 192.168.70.1 local 192.168.70.2 dstport 4789 dev u2",
           "ip -n n1 addr add 10.200.0.1/24 dev vxlan0", "ip -n n2 addr add 10.200.0.2/24 dev vxlan0",
           "ip -n n1 link set vxlan0 up", "ip -n n2 link set vxlan0 up")
    for ns in ("n1", "n2"):
        run_ok(lab, f"ip netns exec {ns} iptables -A INPUT -p udp --dport 4789 -j ACCEPT")


def _static_overlay_neighbours(lab):
    """Static overlay neighbours: the probe's own datagrams carry it (ARP would travel encapsulated first)."""
    import json as _json

    mac = {}
    for ns in ("n1", "n2"):
        mac[ns] = _json.loads(kernel(ns, "ip", "-j", "link", "show", "vxlan0"))[0]["address"]
    run_ok(lab, f"ip -n n1 neigh add 10.200.0.2 lladdr {mac['n2']} dev vxlan0 nud permanent",
           f"ip -n n2 neigh add 10.200.0.1 lladdr {mac['n1']} dev vxlan0 nud permanent")


def test_vxlan_shows_the_outer_packet_through_the_underlay_hooks(lab):
    vxlan_overlay(lab)
    _static_overlay_neighbours(lab)
    path, moved = measured(lab, "n1 icmp 10.200.0.2", ("n1",), ("n2",))
    assert moved == [1, 1]                                        # one datagram each way reached a node
    assert path.outcome == "answered", path.summary
    req = steps(path, "request")
    enc = [h for h in req if h.kind == "encap"]
    dec = [h for h in req if h.kind == "decap"]
    assert enc and "VNI 42" in enc[0].explanation and "192.168.70.2:4789" in enc[0].explanation
    assert dec and dec[0].ns == "n2" and "vxlan0" in dec[0].explanation
    outer_hooks = [h for h in req if h.kind == "hook" and h.before is not None and h.before.dport == 4789]
    assert {h.ns for h in outer_hooks} == {"n1", "n2"}                # the underlay's own hooks are shown
    assert req.index(enc[0]) < req.index(dec[0]) < max(i for i, h in enumerate(req) if h.kind == "deliver")


def test_vxlan_outer_packet_dropped_in_the_underlay_is_named(lab):
    vxlan_overlay(lab)
    _static_overlay_neighbours(lab)
    run_ok(lab, "ip netns exec n2 iptables -I INPUT -p udp --dport 4789 -j DROP")
    path, moved = measured(lab, "n1 icmp 10.200.0.2", ("n2",))
    assert moved == [1]                                           # the node's INPUT rule dropped it
    assert path.outcome == "dropped", path.summary
    assert "n2" in path.summary and "--dport 4789 -j DROP" in path.summary, path.summary
    assert "beyond" not in path.summary


def test_timings_per_hop_and_phases(lab):
    import json as _json

    from lab.tracer import to_json

    two_uplinks(lab)
    path = trace(lab, "client icmp 10.9.0.1")
    d = _json.loads(to_json(path))
    assert set(d["timings_ms"]) >= {"build", "install", "send", "collect", "remove", "path"}
    ts = [h["t_ms"] for h in d["hops"] if h["direction"] == "request"]
    assert ts[0] == 0 and all(t is not None and t >= 0 for t in ts)
    assert ts == sorted(ts)                       # in the order the kernel's events came
    out = lab.run("trace client icmp 10.9.0.1 -v").output
    assert "(+0.000 ms)" in out.splitlines()[2] and out.splitlines()[-1].startswith("timings: build")
    assert "ms)" not in lab.run("trace client icmp 10.9.0.1").output   # not without -v


def test_a_real_udp_echo_answers_and_the_answer_is_matched(lab):
    import socket
    import threading

    from lab.backend import nsutil

    two_uplinks(lab)
    with nsutil.in_netns("a"):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.9.0.1", 7))
    s.settimeout(10)

    def echo():
        try:
            data, peer = s.recvfrom(2048)
            s.sendto(data, peer)
        except OSError:
            pass
    th = threading.Thread(target=echo, daemon=True)
    th.start()
    run_ok(lab, "ip netns exec client iptables -A INPUT -p udp --sport 7 -j ACCEPT")
    try:
        before = counter("client")
        path = trace(lab, "client udp 10.9.0.1:7 --payload hello --wait 3")
        th.join(5)
        assert counter("client") - before == 1          # the echo reached the client
    finally:
        s.close()
    assert path.outcome == "answered", path.summary
    assert "UDP 10.9.0.1:7 -> 10.1.0.2" in path.summary, path.summary


def test_ttl_expiry_and_throw_routes_get_their_own_reason(lab):
    two_uplinks(lab)
    before = snmp("router")
    path = trace(lab, "client icmp 10.9.0.1 --ttl 1")
    assert delta(before, snmp("router"), "Icmp.OutTimeExcds") == 1       # the router sent time-exceeded
    drop = steps(path, "request", ("drop",))[-1]
    assert drop.ns == "router" and "TTL runs out" in drop.explanation and "time-exceeded" in drop.explanation
    run_ok(lab, "ip -n router route del default", "ip -n router rule add from 10.1.0.2 lookup 300",
           "ip -n router route add throw 10.5.0.0/16 table 300")
    real = lab.backend.run_cmd("router", ["ip", "route", "get", "10.5.0.1", "from", "10.1.0.2", "iif", "r0"])
    assert "Network is unreachable" in real.stderr                          # the kernel's own answer
    before = snmp("router")
    path = trace(lab, "client icmp 10.5.0.1")
    assert delta(before, snmp("router"), "Icmp.OutDestUnreachs") == 1     # net-unreachable went back
    drop = steps(path, "request", ("drop",))[-1]
    assert "route throw 10.5.0.0/16, table 300" in drop.explanation and "net-unreachable" in drop.explanation
