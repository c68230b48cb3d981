"""`lab export`: the --sh script replayed in a fresh sandbox gives the same state (read back with the
kernel's own tools), through `sh` and through `lab run`; --dot/--mermaid describe the topology."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from lab.backend import nsutil, sandbox
from lab.scenario.export import export_dot, export_mermaid, export_sh
from tests.conftest import ROOT, kernel, run_ok

BUILD = """
ip netns add red
ip netns add blue
ip link add v-net-0 type bridge
ip link set v-net-0 up
ip addr add 192.168.15.5/24 dev v-net-0
ip link add veth-red type veth peer name veth-red-br
ip link add veth-blue type veth peer name veth-blue-br
ip link set veth-red netns red
ip link set veth-blue netns blue
ip link set veth-red-br master v-net-0
ip link set veth-blue-br master v-net-0
ip link set veth-red-br up
ip link set veth-blue-br mtu 1400
ip -n red addr add 192.168.15.1/24 dev veth-red
ip -n blue addr add 192.168.15.2/24 dev veth-blue
ip -n red link set veth-red up
ip -n red link set lo up
ip -n red route add default via 192.168.15.5
ip -n red route add 10.20.0.0/16 via 192.168.15.2 metric 50 table 100
ip -n red rule add from 192.168.15.0/24 lookup 100 priority 1000
ip -n red neigh add 192.168.15.9 lladdr 02:00:00:00:00:09 dev veth-red nud permanent
ip link add vx0 type vxlan id 42 remote 192.168.15.2 local 192.168.15.5 dstport 4789
ip link add dev br type bridge
ip link set dev br up
sysctl -w net.ipv4.ip_forward=1
ip netns exec red sysctl -w net.ipv4.conf.all.rp_filter=2
iptables -t nat -A POSTROUTING -s 192.168.15.0/24 ! -o v-net-0 -j MASQUERADE
iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 192.168.15.2:80
iptables -N LAB-IN
iptables -A INPUT -j LAB-IN
iptables -A LAB-IN -p udp -m comment --comment "two words" -j RETURN
iptables -P FORWARD DROP
iptables -A FORWARD -i v-net-0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
ip netns exec blue iptables -A INPUT -p tcp --dport 22 -j REJECT
ip6tables -A INPUT -s fd00:15::/64 -p icmpv6 -j ACCEPT
ip netns exec blue ip6tables -P FORWARD DROP
ip netns exec red tc qdisc add dev veth-red root tbf rate 1mbit burst 32kbit latency 400ms
ip netns exec red tc qdisc add dev veth-red ingress
ip netns exec blue tc qdisc add dev veth-blue root handle 1: htb default 20
ip netns exec blue tc class add dev veth-blue parent 1: classid 1:1 htb rate 10mbit
ip netns exec blue tc class add dev veth-blue parent 1:1 classid 1:10 htb rate 5mbit ceil 10mbit prio 1
ip netns exec blue tc class add dev veth-blue parent 1:1 classid 1:20 htb rate 1mbit ceil 2mbit
bridge fdb append 00:00:00:00:00:00 dev vx0 dst 192.168.15.3
bridge fdb add 02:00:00:00:00:42 dev vx0 dst 192.168.15.2
"""


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def read_state(ns: str | None) -> dict:
    """The namespace's state through ip -j / iptables-save / tc, normalised (no ifindexes or MACs)."""
    links = json.loads(kernel(ns, "ip", "-j", "-d", "link"))
    names = {link["ifindex"]: link["ifname"] for link in links}
    st: dict = {}
    st["links"] = sorted((link["ifname"], link.get("linkinfo", {}).get("info_kind", ""), link.get("master"),
                          "UP" in link["flags"], link["mtu"],
                          link.get("linkinfo", {}).get("info_data", {}).get("id"))
                         for link in links)
    st["addrs"] = sorted((a["ifname"], i["local"], i["prefixlen"], i.get("broadcast"))
                         for a in json.loads(kernel(ns, "ip", "-j", "addr")) for i in a["addr_info"]
                         if i["family"] == "inet")
    st["routes"] = sorted(json.dumps(r, sort_keys=True)
                          for r in json.loads(kernel(ns, "ip", "-j", "route", "show", "table", "all"))
                          if r.get("table") != "local")
    st["rules"] = sorted(json.dumps(r, sort_keys=True) for r in json.loads(kernel(ns, "ip", "-j", "rule")))
    st["neigh"] = sorted((n["dst"], n.get("lladdr"), tuple(n.get("state", [])))
                         for n in json.loads(kernel(ns, "ip", "-j", "neigh")) if "PERMANENT" in n.get("state", []))
    st["ip6t"] = [re.sub(r"\[\d+:\d+\]", "", line) for line in kernel(ns, "ip6tables-save").splitlines()
                  if line.startswith(("-A", ":", "*"))]
    st["ipt"] = [re.sub(r"\[\d+:\d+\]", "", line) for line in kernel(ns, "iptables-save").splitlines()
                 if not line.startswith("#")]
    st["tc"] = sorted(re.sub(r"refcnt \d+ ", "", line) for line in kernel(ns, "tc", "qdisc", "show").splitlines()
                      if " root " in line or "ingress" in line)
    st["tc_class"] = sorted(line for n in names.values() for line in kernel(ns, "tc", "class", "show", "dev", n).splitlines())
    st["fdb"] = sorted(line for line in kernel(ns, "bridge", "fdb", "show").splitlines() if " dst " in line)
    st["sysctl"] = [kernel(ns, "sysctl", "-n", k).strip() for k in
                    ("net.ipv4.ip_forward", "net.ipv4.conf.all.rp_filter")]
    st["_names"] = sorted(names.values())
    return st


def lab_state() -> dict:
    return {ns or "": read_state(ns) for ns in [None] + nsutil.list_netns()}


def wipe(backend) -> None:
    """A fresh sandbox: no named namespaces, a new empty top namespace."""
    for ns in nsutil.list_netns():
        backend.forget_ns(ns)
        nsutil.remove_netns(ns)
    backend.forget_ns("")
    sandbox.new_top()


@pytest.fixture
def built(lab):
    run_ok(lab, *_lines(BUILD))
    return lab


def test_export_sh_replayed_with_sh_gives_same_state(built, tmp_path):
    script = export_sh(built.backend)
    before = lab_state()
    assert "ip netns add red" in script and "MASQUERADE" in script and "tbf" in script
    assert "classid 1:10 htb" in script and "bridge fdb append 02:00:00:00:00:42 dev vx0 dst 192.168.15.2" in script
    path = tmp_path / "lab.sh"
    path.write_text(script)
    wipe(built.backend)
    assert nsutil.list_netns() == []
    r = built.backend.run_cmd(None, ["sh", "-e", str(path)])
    assert r.returncode == 0, r.stderr
    after = lab_state()
    assert after.keys() == before.keys()
    for ns in before:
        for k in before[ns]:
            assert after[ns][k] == before[ns][k], f"{ns or 'host'}: {k} differs"


def test_export_sh_replayed_with_lab_run_gives_same_state(built):
    script = export_sh(built.backend)
    before = lab_state()
    wipe(built.backend)
    results = built.run_lines(script.splitlines())
    bad = [r for r in results if not r.ok]
    assert not bad, f"line {bad[0].lineno}: {bad[0].line}: {bad[0].error}"
    after = lab_state()
    for ns in before:
        for k in before[ns]:
            assert after[ns][k] == before[ns][k], f"{ns or 'host'}: {k} differs"


def test_export_is_a_fixed_point(built):
    """Export, replay, export again: the same script."""
    first = export_sh(built.backend)
    wipe(built.backend)
    built.backend.run_cmd(None, ["sh", "-c", first])
    assert export_sh(built.backend) == first


def test_export_of_an_empty_lab_is_just_the_header(lab):
    assert _lines(export_sh(lab.backend)) == ["ip link set lo up"] or _lines(export_sh(lab.backend)) == []


def test_dot_and_mermaid_describe_the_topology(built):
    run_ok(built, "ip link set veth-blue-br down")
    dot = export_dot(built.backend)
    assert dot.startswith("graph lab {") and dot.rstrip().endswith("}")
    assert 'label="red"' in dot and "red__veth_red -- host__veth_red_br" in dot.replace("host__veth_red_br -- red__veth_red", "red__veth_red -- host__veth_red_br")
    assert "host__veth_red_br -- host__v_net_0 [style=dotted]" in dot
    assert "shape=hexagon" in dot and "style=dashed, color=gray50" in dot
    mm = export_mermaid(built.backend)
    assert mm.startswith("flowchart LR")
    assert 'subgraph ns_red["red"]' in mm and "192.168.15.1/24" in mm
    assert "===" in mm and "-.-" in mm and "class " in mm
    if subprocess.run(["which", "dot"], capture_output=True).returncode == 0:
        r = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr


def test_lab_export_cli_from_a_scenario(tmp_path):
    out = tmp_path / "v.sh"
    r = subprocess.run([sys.executable, "-m", "lab", "export", "--sh", "--from", "veth-basics", "--step", "3",
                        "-o", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "ip -n red addr add 192.168.15.1/24 dev veth-red" in text
    r = subprocess.run([sys.executable, "-m", "lab", "export", "--mermaid"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "empty sandbox" in r.stderr
