"""The ip family on the real kernel: every change is read back with the real `ip -j`, independently
of lab's own view; every error changes nothing and names the fix."""
from __future__ import annotations

import json
import time


from tests.conftest import kernel, kernel_json, run_ok


def links(ns=None):
    return {link["ifname"]: link for link in kernel_json(ns, "-d", "link")}


def inet(ns, dev):
    return [(i["local"], i["prefixlen"]) for a in kernel_json(ns, "addr", "show", "dev", dev)
            for i in a["addr_info"] if i["family"] == "inet"]


def routes(ns=None, *extra):
    return kernel_json(ns, "route", "show", *extra)


# ---- netns -------------------------------------------------------------------------------------------
def test_netns_add_list_del_identify(lab, uniq):
    a, b = f"a{uniq}", f"b{uniq}"
    run_ok(lab, f"ip netns add {a}", f"ip netns add {b}")
    listed = kernel(None, "ip", "netns", "list")
    assert a in listed and b in listed
    out = lab.run("ip netns").output
    assert a in out and b in out
    assert lab.run(f"ip -n {a} netns identify").output == a
    r = lab.run(f"ip netns add {a}")
    assert not r.ok and "File exists" in r.error
    run_ok(lab, f"ip netns del {b}")
    assert b not in kernel(None, "ip", "netns", "list")
    r = lab.run(f"ip netns del {b}")
    assert not r.ok and "No such file" in r.error


def test_unknown_namespace_is_named(lab):
    run_ok(lab, "ip netns add blue")
    r = lab.run("ip -n bleu link")
    assert not r.ok and 'Cannot open network namespace "bleu"' in r.error and 'did you mean "blue"' in r.error


def test_netns_exec_and_shorthand_are_the_same(lab):
    run_ok(lab, "ip netns add red", "ip netns exec red ip link set lo up")
    assert "UP" in links("red")["lo"]["flags"]
    run_ok(lab, "red ip link set lo down")
    assert "UP" not in links("red")["lo"]["flags"]
    assert lab.run("ip -n red link show lo").output == lab.run("ip netns exec red ip link show lo").output


# ---- link --------------------------------------------------------------------------------------------
def test_veth_with_peer_created_in_other_namespace(lab):
    run_ok(lab, "ip netns add red", "ip link add v-host type veth peer name v-red netns red")
    assert links(None)["v-host"]["linkinfo"]["info_kind"] == "veth"
    assert "v-red" in links("red")
    out = lab.run("ip link show v-host").output
    assert "v-host@if" in out and "link-netns red" in out


def test_link_set_up_down_mtu_address_name_master(lab):
    run_ok(lab, "ip link add v0 type veth peer name v1", "ip link add br0 type bridge",
           "ip link set v0 mtu 1400", "ip link set v0 address 02:00:00:00:00:aa",
           "ip link set v0 master br0", "ip link set v0 up", "ip link set br0 up")
    link = links()
    assert link["v0"]["mtu"] == 1400 and link["v0"]["address"] == "02:00:00:00:00:aa"
    assert link["v0"]["master"] == "br0" and "UP" in link["v0"]["flags"]
    run_ok(lab, "ip link set v0 nomaster", "ip link set v0 down", "ip link set v0 name v9")
    link = links()
    assert "master" not in link["v9"] and "UP" not in link["v9"]["flags"] and "v0" not in link


def test_rename_up_link_is_refused_with_fix(lab):
    run_ok(lab, "ip link add v0 type veth peer name v1", "ip link set v0 up")
    r = lab.run("ip link set v0 name v2")
    assert not r.ok and "busy" in r.error and "ip link set v0 down" in r.error
    assert "v0" in links()


def test_link_set_netns_moves_it(lab):
    run_ok(lab, "ip netns add red", "ip link add v0 type veth peer name v1", "ip link set v1 netns red")
    assert "v1" in links("red") and "v1" not in links()


def test_abbreviations(lab):
    run_ok(lab, "ip l a v0 type veth peer name v1", "ip l s v0 up", "ip a a 10.9.0.1/24 dev v0")
    assert ("10.9.0.1", 24) in inet(None, "v0")
    assert "10.9.0.1/24" in lab.run("ip a").output
    assert "10.9.0.0/24" in lab.run("ip r").output
    assert lab.run("ip n").ok and lab.run("ip ru").ok


def test_master_must_be_a_bridge(lab):
    run_ok(lab, "ip link add v0 type veth peer name v1")
    r = lab.run("ip link set v0 master v1")
    assert not r.ok and "not a bridge" in r.error
    assert "master" not in links()["v0"]


def test_vxlan_and_macvlan(lab):
    run_ok(lab, "ip link add v0 type veth peer name v1", "ip addr add 10.1.0.1/24 dev v0",
           "ip link add vx42 type vxlan id 42 remote 10.1.0.2 local 10.1.0.1 dev v0 dstport 4789",
           "ip link add mv0 link v0 type macvlan mode bridge")
    link = links()
    data = link["vx42"]["linkinfo"]["info_data"]
    assert data["id"] == 42 and data["remote"] == "10.1.0.2" and data["port"] == 4789
    assert link["mv0"]["linkinfo"]["info_kind"] == "macvlan"
    assert "vxlan id 42 remote 10.1.0.2" in lab.run("ip -d link show vx42").output


def test_link_show_filters_and_formats(lab):
    run_ok(lab, "ip link add br0 type bridge", "ip link add v0 type veth peer name v1", "ip link set v0 master br0",
           "ip link set br0 up")
    assert [link["ifname"] for link in json.loads(lab.run("ip -j link show type bridge").output)] == ["br0"]
    assert [link["ifname"] for link in json.loads(lab.run("ip -j link show master br0").output)] == ["v0"]
    brief = lab.run("ip -br link show br0").output
    assert brief.split()[0] == "br0"
    mine = json.loads(lab.run("ip -j link").output)
    real = kernel_json(None, "link")
    assert [(link["ifname"], link["mtu"], link["address"], link["flags"]) for link in mine] == \
           [(link["ifname"], link["mtu"], link["address"], link["flags"]) for link in real]


def test_link_text_matches_iproute2(lab):
    run_ok(lab, "ip link add br0 type bridge", "ip link add v0 type veth peer name v1", "ip link set v0 master br0")
    assert lab.run("ip link").output.strip() == kernel(None, "ip", "link").strip()
    assert lab.run("ip -br link").output.split() == kernel(None, "ip", "-br", "link").split()


def test_link_del_and_unknown_device(lab):
    run_ok(lab, "ip link add vnet-animals type bridge")
    r = lab.run("ip link set veth-animals up")
    assert not r.ok and 'Cannot find device "veth-animals"' in r.error and 'did you mean "vnet-animals"' in r.error
    run_ok(lab, "ip link del vnet-animals")
    assert "vnet-animals" not in links()


def test_device_in_another_namespace_is_pointed_at(lab):
    run_ok(lab, "ip netns add red", "ip link add v0 type veth peer name veth-red netns red")
    r = lab.run("ip link set veth-red up")
    assert not r.ok and 'namespace "red"' in r.error and "ip -n red" in r.error


def test_link_add_exists_changes_nothing(lab):
    run_ok(lab, "ip netns add red", "ip link add v0 type veth peer name v1")
    r = lab.run("ip link add v0 type veth peer name v2")
    assert not r.ok and "File exists" in r.error
    r = lab.run("ip link add v5 type veth peer name v1")
    assert not r.ok and "File exists" in r.error
    assert set(links()) == {"lo", "v0", "v1"}


# ---- addresses ---------------------------------------------------------------------------------------
def test_addr_add_show_del_flush(lab):
    run_ok(lab, "ip link add v0 type veth peer name v1", "ip addr add 10.0.0.1/24 brd + dev v0",
           "ip addr add 10.0.1.1/24 dev v0 label v0:1")
    got = {a["local"]: a for a in kernel_json(None, "addr", "show", "dev", "v0")[0]["addr_info"] if a["family"] == "inet"}
    assert got["10.0.0.1"]["prefixlen"] == 24 and got["10.0.0.1"]["broadcast"] == "10.0.0.255"
    assert got["10.0.1.1"]["label"] == "v0:1"
    out = lab.run("ip addr show dev v0").output
    assert "inet 10.0.0.1/24 brd 10.0.0.255 scope global v0" in out
    r = lab.run("ip addr add 10.0.0.1/24 dev v0")
    assert not r.ok and "File exists" in r.error
    run_ok(lab, "ip addr del 10.0.0.1/24 dev v0")
    assert inet(None, "v0") == [("10.0.1.1", 24)]
    run_ok(lab, "ip addr flush dev v0")
    assert inet(None, "v0") == []


def test_addr_without_netmask_names_the_fix(lab):
    run_ok(lab, "ip link add v0 type veth peer name v1")
    r = lab.run("ip addr add 10.0.0.1 dev v0")
    assert not r.ok and "no netmask" in r.error and "10.0.0.1/24" in r.error
    assert inet(None, "v0") == []


def test_addr_json_matches_kernel(lab):
    run_ok(lab, "ip link add v0 type veth peer name v1", "ip addr add 10.0.0.1/24 dev v0")
    mine = json.loads(lab.run("ip -j -4 addr show dev v0").output)
    assert mine[0]["addr_info"][0]["local"] == "10.0.0.1"
    assert "10.0.0.1/24" in lab.run("ip -br addr").output


# ---- routes ------------------------------------------------------------------------------------------
def test_routes_add_replace_del_show(lab):
    run_ok(lab, "ip link add v0 type veth peer name v1", "ip link set v0 up", "ip link set v1 up",
           "ip addr add 10.0.0.1/24 dev v0",
           "ip route add 10.2.0.0/16 via 10.0.0.254 metric 10",
           "ip route add default via 10.0.0.254",
           "ip route add blackhole 10.66.0.0/16",
           "ip route add unreachable 10.67.0.0/16",
           "ip route add 10.3.0.0/16 dev v0 table 100 proto static")
    rs = {r["dst"]: r for r in routes()}
    assert rs["10.2.0.0/16"]["gateway"] == "10.0.0.254" and rs["10.2.0.0/16"]["metric"] == 10
    assert rs["default"]["gateway"] == "10.0.0.254"
    assert rs["10.66.0.0/16"]["type"] == "blackhole" and rs["10.67.0.0/16"]["type"] == "unreachable"
    assert rs["10.0.0.0/24"]["protocol"] == "kernel"
    t100 = routes(None, "table", "100")
    assert t100[0]["dst"] == "10.3.0.0/16" and t100[0]["protocol"] == "static"
    assert lab.run("ip route").output.strip() == kernel(None, "ip", "route").strip()
    assert lab.run("ip route show table 100").output.strip() == kernel(None, "ip", "route", "show", "table", "100").strip()
    r = lab.run("ip route add 10.2.0.0/16 via 10.0.0.254 metric 10")
    assert not r.ok and "File exists" in r.error and "replace" in r.error
    run_ok(lab, "ip route replace 10.2.0.0/16 via 10.0.0.253 metric 10")
    assert {r["dst"]: r for r in routes()}["10.2.0.0/16"]["gateway"] == "10.0.0.253"
    run_ok(lab, "ip route del 10.2.0.0/16 metric 10", "ip route del default")
    assert {r["dst"] for r in routes()} == {"10.0.0.0/24", "10.66.0.0/16", "10.67.0.0/16"}
    assert "table local" in lab.run("ip route show table all").output


def test_route_errors_change_nothing(lab):
    run_ok(lab, "ip link add v0 type veth peer name v1", "ip link set v0 up", "ip addr add 10.0.0.1/24 dev v0")
    before = routes()
    r = lab.run("ip route add 10.5.0.0/16 via 192.168.99.1")
    assert not r.ok and "unreachable" in r.error.lower() and "gateway" in r.error
    r = lab.run("ip route add 10.5.0.1/16 via 10.0.0.2")
    assert not r.ok and "10.5.0.0/16" in r.error
    r = lab.run("ip route add 10.5.0.0/16")
    assert not r.ok and "via" in r.error
    r = lab.run("ip route del 10.77.0.0/16")
    assert not r.ok
    assert routes() == before


def test_route_get(lab):
    run_ok(lab, "ip link add v0 type veth peer name v1", "ip link set v0 up", "ip link set v1 up",
           "ip addr add 10.0.0.1/24 dev v0", "ip route add 10.2.0.0/16 via 10.0.0.254")
    out = lab.run("ip route get 10.2.3.4").output
    assert "10.2.3.4 via 10.0.0.254 dev v0 src 10.0.0.1" in out
    r = lab.run("ip route get 172.31.0.1")
    assert not r.ok and "unreachable" in r.error.lower()
    js = json.loads(lab.run("ip -j route get 10.2.3.4").output)
    assert js[0]["gateway"] == "10.0.0.254"


def test_route_flush(lab):
    run_ok(lab, "ip link add v0 type veth peer name v1", "ip link set v0 up", "ip addr add 10.0.0.1/24 dev v0",
           "ip route add 10.2.0.0/16 via 10.0.0.254 proto static", "ip route flush proto static")
    assert {r["dst"] for r in routes()} == {"10.0.0.0/24"}


# ---- neighbours --------------------------------------------------------------------------------------
def test_neigh_add_replace_del_show(lab):
    run_ok(lab, "ip link add v0 type veth peer name v1", "ip link set v0 up", "ip addr add 10.0.0.1/24 dev v0",
           "ip neigh add 10.0.0.7 lladdr 02:00:00:00:00:07 dev v0",
           "ip neigh add 10.0.0.8 lladdr 02:00:00:00:00:08 nud stale dev v0")
    got = {n["dst"]: n for n in kernel_json(None, "neigh", "show", "dev", "v0")}
    assert got["10.0.0.7"]["state"] == ["PERMANENT"] and got["10.0.0.8"]["state"] == ["STALE"]
    out = lab.run("ip neigh").output
    assert "10.0.0.7 dev v0 lladdr 02:00:00:00:00:07 PERMANENT" in out
    r = lab.run("ip neigh add 10.0.0.7 lladdr 02:00:00:00:00:09 dev v0")
    assert not r.ok and "replace" in r.error
    run_ok(lab, "ip neigh replace 10.0.0.7 lladdr 02:00:00:00:00:09 dev v0")
    assert {n["dst"]: n for n in kernel_json(None, "neigh")}["10.0.0.7"]["lladdr"] == "02:00:00:00:00:09"
    run_ok(lab, "ip neigh del 10.0.0.7 dev v0", "ip neigh flush dev v0")
    assert [n["dst"] for n in kernel_json(None, "neigh", "show", "dev", "v0")] == ["10.0.0.7"] or \
        "10.0.0.8" not in [n["dst"] for n in kernel_json(None, "neigh", "show", "dev", "v0")]


def test_arp_table_after_ping_and_failed_state(lab):
    run_ok(lab, "ip netns add red", "ip netns add blue",
           "ip link add veth-red netns red type veth peer name veth-blue netns blue",
           "red ip addr add 192.168.15.1/24 dev veth-red", "blue ip addr add 192.168.15.2/24 dev veth-blue",
           "red ip link set veth-red up", "blue ip link set veth-blue up")
    assert lab.run("ip -n red neigh").output == ""
    assert lab.run("red ping -c1 -W2 192.168.15.2").ok
    assert "192.168.15.2 dev veth-red lladdr" in lab.run("ip -n red neigh").output
    assert not lab.run("red ping -c1 -W1 192.168.15.9").ok
    out = lab.run("ip -n red neigh show nud all").output
    assert "192.168.15.9 dev veth-red" in out and ("FAILED" in out or "INCOMPLETE" in out)


def test_ipv6_neigh_addr_route_output_like_iproute2(lab):
    """`ip neigh` shows both families; `ip -4|-6 addr` and `ip -6 route` (flags, pref) print as iproute2 does."""
    run_ok(lab, "ip netns add six", "ip link add v6h type veth peer name eth0 netns six", "ip link set lo up",
           "ip addr add fd00:6::1/64 dev v6h nodad", "ip link set v6h up", "ip -n six link set lo up",
           "ip -n six addr add fd00:6::2/64 dev eth0 nodad", "ip -n six link set eth0 up")
    for _ in range(10):   # link-local addresses finish their DAD first: neighbour discovery needs them
        if lab.run("six ping -6 -c1 -W1 fd00:6::1").ok:
            break
    ours = lab.run("ip -n six neigh").output
    assert "fd00:6::1 dev eth0 lladdr" in ours
    assert ours.strip() == kernel("six", "ip", "neigh").strip()
    assert "fd00:6::1" not in lab.run("ip -n six -4 neigh").output
    for _ in range(50):   # carrier settles asynchronously (linkwatch): compare once it has
        if "state UP" in kernel("six", "ip", "link", "show", "eth0"):
            break
        time.sleep(0.05)
    for cmd in (["-6", "addr"], ["-4", "addr"], ["-br", "-6", "addr"], ["-6", "route"]):
        assert lab.run(f"ip -n six {' '.join(cmd)}").output.strip() == kernel("six", "ip", *cmd).strip(), cmd
    assert json.loads(lab.run("ip -n six -j -6 route").output) == kernel_json("six", "-6", "route")
    run_ok(lab, "ip -n six -4 neigh flush dev eth0")
    assert "fd00:6::1" in kernel("six", "ip", "neigh")          # -4 leaves IPv6 entries alone
    run_ok(lab, "ip -n six neigh flush dev eth0")
    assert "fd00:6::1" not in kernel("six", "ip", "neigh"), kernel("six", "ip", "neigh")


# ---- rules -------------------------------------------------------------------------------------------
def test_ip_rule_add_show_del(lab):
    run_ok(lab, "ip rule add from 10.8.0.0/16 table 100 priority 1000", "ip rule add fwmark 7 table 7 pref 1001")
    real = kernel(None, "ip", "rule")
    assert "1000:\tfrom 10.8.0.0/16 lookup 100" in real and "fwmark 0x7 lookup 7" in real
    assert "1000:\tfrom 10.8.0.0/16 lookup 100" in lab.run("ip rule").output
    run_ok(lab, "ip rule del priority 1000")
    assert "10.8.0.0/16" not in kernel(None, "ip", "rule")


def test_commands_from_other_threads_hit_the_right_namespace(lab):
    """The TUI runs commands in worker threads: `ip -n red ...` there must act in red, not the top
    namespace (pyroute2 opens a socket per thread, in that thread's namespace)."""
    import threading

    run_ok(lab, "ip netns add red", "ip -n red link add v0 type veth peer name v1", "ip link add topdev type bridge",
           "ip -n red route show")  # a pyroute2 socket for red now exists in this thread
    out: dict = {}

    def worker():
        out["links"] = lab.run("ip -n red -br link").output
        out["route"] = lab.run("ip -n red route add blackhole 10.9.0.0/16")

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert "v0" in out["links"] and "topdev" not in out["links"]
    assert out["route"].ok
    assert [r["dst"] for r in routes("red")] == ["10.9.0.0/16"] and routes(None) == []
