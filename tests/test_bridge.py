"""bridge / brctl: parsing (pure, with hypothesis) and the real kernel's forwarding database, read back
independently with the real `bridge -j` tool. Traffic flows only between namespaces the test creates."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.commands import bridge as c
from lab.commands import parse
from lab.commands.base import Context, ParseError
from lab.errors import LabError
from tests.conftest import kernel, kernel_json, run_ok


def p(line: str):
    return parse(line, Context(namespaces=("red",)))


# ---- parsing ------------------------------------------------------------------------------------
@pytest.mark.parametrize("line,typ", [
    ("bridge fdb", c.FdbShow), ("bridge f", c.FdbShow), ("bridge fdb show", c.FdbShow), ("bridge -j fdb show", c.FdbShow),
    ("bridge fdb show br br0", c.FdbShow), ("bridge fdb show dev veth0 vlan 5", c.FdbShow),
    ("bridge link", c.BridgeLinkShow), ("bridge l", c.BridgeLinkShow), ("bridge link show dev veth0", c.BridgeLinkShow),
    ("bridge vlan", c.VlanShow), ("bridge v show dev br0", c.VlanShow), ("brctl show", c.BrctlShow),
    ("brctl show br0", c.BrctlShow), ("brctl showmacs br0", c.BrctlShowmacs), ("bridge", c.BridgeHelp),
    ("brctl", c.BridgeHelp), ("bridge fdb help", c.BridgeHelp),
])
def test_show_forms(line, typ):
    op = p(line)
    assert isinstance(op, typ) and not op.mutates


def test_fdb_show_filters():
    op = p("bridge -j -n red fdb show br br0 dev veth0 vlan 10")
    assert (op.ns, op.br, op.dev, op.vlan, op.opts.json) == ("red", "br0", "veth0", 10, True)


@pytest.mark.parametrize("line,expect", [
    ("bridge fdb add 02:11:22:33:44:55 dev veth0 master static",
     dict(verb="add", mac="02:11:22:33:44:55", dev="veth0", master=True, self_=False, state="static")),
    ("bridge fdb add 2:11:22:33:44:AA dev veth0", dict(mac="02:11:22:33:44:aa", self_=True, master=False, state="permanent")),
    ("bridge fdb append 00:00:00:00:00:00 dev vxlan0 dst 10.0.0.2",
     dict(verb="append", dst="10.0.0.2", self_=True)),
    ("bridge fdb del 02:11:22:33:44:55 dev veth0 master", dict(verb="delete", master=True)),
    ("bridge fdb replace 02:11:22:33:44:55 dev veth0 master dynamic vlan 5", dict(verb="replace", state="dynamic", vlan=5)),
    ("bridge fdb add 02:11:22:33:44:55 dev vx self permanent dst 10.1.1.1 port 4790 vni 7",
     dict(port=4790, vni=7, state="permanent")),
])
def test_fdb_change(line, expect):
    op = p(line)
    assert isinstance(op, c.FdbChange) and op.mutates
    for k, v in expect.items():
        assert getattr(op, k) == v, k


@pytest.mark.parametrize("line,needle", [
    ("bridge fdb add dev veth0", "MAC address"),
    ("bridge fdb add 02:11:22:33:44:55", "Device and address"),
    ("bridge fdb add 02:11:22:33:44 dev veth0", "Invalid mac address 02:11:22:33:44"),
    ("bridge fdb add 02:11:22:33:44:55 dev veth0 dst 10.0.0.300", "valid prefix"),
    ("bridge fdb add 02:11:22:33:44:55 dev veth0 vlan 5000", "between"),
    ("bridge fdb add 02:11:22:33:44:55 dev veth0 02:11:22:33:44:56", "garbage"),
    ("bridge fdb flush dev veth0", "not supported"),
    ("bridge mdb", "not supported"),
    ("bridge frob", 'Command "frob" is unknown'),
    ("brctl frob", "never heard of command [frob]"),
    ("brctl addif br0", "device name"),
    ("brctl stp br0 maybe", "on or off"),
    ("brctl show br0 extra", "Too many"),
])
def test_parse_errors(line, needle):
    with pytest.raises(ParseError) as e:
        p(line)
    assert needle in str(e.value)


@pytest.mark.parametrize("line,expect", [
    ("brctl addbr br1", c.BrctlChange(None, verb="addbr", bridge="br1")),
    ("brctl delbr br1", c.BrctlChange(None, verb="delbr", bridge="br1")),
    ("brctl addif br1 veth0", c.BrctlChange(None, verb="addif", bridge="br1", dev="veth0")),
    ("brctl delif br1 veth0", c.BrctlChange(None, verb="delif", bridge="br1", dev="veth0")),
    ("brctl stp br1 on", c.BrctlChange(None, verb="stp", bridge="br1", stp=True)),
    ("red brctl stp br1 off", c.BrctlChange("red", verb="stp", bridge="br1", stp=False)),
])
def test_brctl_changes(line, expect):
    assert p(line) == expect


WORDS = ["fdb", "link", "vlan", "show", "add", "del", "append", "replace", "dev", "br", "br0", "veth0", "vxlan0",
         "master", "self", "static", "dynamic", "permanent", "dst", "10.0.0.2", "vlan", "5", "port", "vni",
         "02:11:22:33:44:55", "00:00:00:00:00:00", "-j", "-s", "-n", "red", "help", "0"]


def _ok_or_user_error(line: str) -> None:
    try:
        op = p(line)
    except (ParseError, LabError):
        return
    assert op is None or hasattr(op, "ns")


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(WORDS), min_size=0, max_size=12))
def test_bridge_word_soup(words):
    _ok_or_user_error("bridge " + " ".join(words))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_bridge_any_text(text):
    _ok_or_user_error("bridge " + text)
    _ok_or_user_error("brctl " + text)


# ---- real kernel --------------------------------------------------------------------------------
def fdb_json(ns=None, *argv: str) -> list[dict]:
    return json.loads(kernel(ns, "bridge", "-j", "fdb", "show", *argv) or "[]")


def bridge_with_two_hosts(lab) -> None:
    """br0 in the top namespace; red (10.88.0.1) and blue (10.88.0.2) each behind a veth port."""
    run_ok(lab, "ip link add br0 type bridge", "ip link set br0 up", "ip netns add red", "ip netns add blue")
    for ns, ip in (("red", "10.88.0.1"), ("blue", "10.88.0.2")):
        run_ok(lab, f"ip link add p-{ns} type veth peer name eth0 netns {ns}",
               f"ip link set p-{ns} master br0", f"ip link set p-{ns} up",
               f"ip -n {ns} addr add {ip}/24 dev eth0", f"ip -n {ns} link set eth0 up")


def test_fdb_learns_the_mac_behind_a_bridge(lab):
    bridge_with_two_hosts(lab)
    red_mac = next(link["address"] for link in kernel_json("red", "link") if link["ifname"] == "eth0")
    assert lab.run("red ping -c 2 -i 0.2 -W 2 10.88.0.2").ok
    learned = [e for e in fdb_json(None, "br", "br0") if e["mac"] == red_mac]
    assert learned and learned[0]["ifname"] == "p-red" and learned[0].get("master") == "br0"
    assert learned[0]["state"] not in ("permanent", "static")
    out = run_ok(lab, "bridge fdb show br br0")[0]
    assert f"{red_mac} dev p-red master br0 " in out.splitlines() or any(
        line.startswith(f"{red_mac} dev p-red") and "master br0" in line for line in out.splitlines())
    assert f"{red_mac} master br0 " in run_ok(lab, "bridge fdb show dev p-red")[0].splitlines()
    # the panes' view: learned entries, none of the multicast self entries
    st = lab.backend.snapshot([None]).namespaces[0]
    macs = {(e.mac, e.dev, e.master, e.state) for e in st.fdb}
    assert (red_mac, "p-red", "br0", "") in macs
    assert not [e for e in st.fdb if e.self_ and int(e.mac[:2], 16) & 1]
    # brctl showmacs lists it as not local
    rows = run_ok(lab, "brctl showmacs br0")[0].splitlines()
    assert rows[0] == "port no\tmac addr\t\tis local?\tageing timer"
    assert any(red_mac in r and "\tno\t" in r for r in rows[1:])


def test_static_fdb_add_and_del(lab):
    run_ok(lab, "ip link add br0 type bridge", "ip link add veth0 type veth peer name veth1",
           "ip link set veth0 master br0")
    r = lab.run("bridge fdb add 02:11:22:33:44:66 dev veth0 master dynamic")
    assert not r.ok and "Operation not permitted" in r.error and "ip link set veth0 up" in r.error
    run_ok(lab, "ip link set br0 up", "ip link set veth1 up", "ip link set veth0 up")
    run_ok(lab, "bridge fdb add 02:11:22:33:44:55 dev veth0 master static",
           "bridge fdb add 02:11:22:33:44:66 dev veth0 master dynamic",
           "bridge fdb add 02:11:22:33:44:77 dev veth0 master")
    got = {e["mac"]: e for e in fdb_json(None, "dev", "veth0")}
    assert got["02:11:22:33:44:55"]["state"] == "static" and got["02:11:22:33:44:55"]["master"] == "br0"
    assert got["02:11:22:33:44:66"]["state"] == ""
    assert got["02:11:22:33:44:77"]["state"] == "permanent"
    mine = {line.split()[0]: line for line in run_ok(lab, "bridge fdb show dev veth0")[0].splitlines()}
    assert mine["02:11:22:33:44:55"] == "02:11:22:33:44:55 master br0 static"
    r = lab.run("bridge fdb add 02:11:22:33:44:55 dev veth0 master static")
    assert not r.ok and "File exists" in r.error and "replace" in r.error
    run_ok(lab, "bridge fdb replace 02:11:22:33:44:55 dev veth0 master permanent")
    assert {e["mac"]: e for e in fdb_json(None, "dev", "veth0")}["02:11:22:33:44:55"]["state"] == "permanent"
    run_ok(lab, "bridge fdb del 02:11:22:33:44:55 dev veth0 master")
    assert "02:11:22:33:44:55" not in {e["mac"] for e in fdb_json(None, "dev", "veth0")}
    r = lab.run("bridge fdb del 02:11:22:33:44:55 dev veth0 master")
    assert not r.ok and "No such file or directory" in r.error
    r = lab.run("bridge fdb add 02:11:22:33:44:99 dev veth1 master")
    assert not r.ok and "not a bridge port" in r.error
    r = lab.run("bridge fdb add 02:11:22:33:44:99 dev vethX master")
    assert not r.ok and 'Cannot find device "vethX"' in r.error


def test_vxlan_fdb_append_with_dst(lab):
    run_ok(lab, "ip link add vxlan0 type vxlan id 42 dstport 4789 local 10.0.0.1")
    run_ok(lab, "bridge fdb append 00:00:00:00:00:00 dev vxlan0 dst 10.0.0.2",
           "bridge fdb append 00:00:00:00:00:00 dev vxlan0 dst 10.0.0.3",
           "bridge fdb add 02:aa:bb:cc:dd:ee dev vxlan0 dst 10.0.0.4 self permanent")
    got = fdb_json(None, "dev", "vxlan0")
    flood = sorted(e["dst"] for e in got if e["mac"] == "00:00:00:00:00:00")
    assert flood == ["10.0.0.2", "10.0.0.3"]
    assert all("self" in e["flags"] and e["state"] == "permanent" for e in got)
    assert any(e["mac"] == "02:aa:bb:cc:dd:ee" and e["dst"] == "10.0.0.4" for e in got)
    out = run_ok(lab, "bridge fdb show")[0].splitlines()
    assert "00:00:00:00:00:00 dev vxlan0 dst 10.0.0.2 self permanent" in out
    mine = json.loads(run_ok(lab, "bridge -j fdb show dev vxlan0")[0])
    assert sorted((e["mac"], e["dst"]) for e in mine) == sorted((e["mac"], e["dst"]) for e in got)
    run_ok(lab, "bridge fdb del 00:00:00:00:00:00 dev vxlan0 dst 10.0.0.2")
    assert sorted(e["dst"] for e in fdb_json(None, "dev", "vxlan0") if e["mac"] == "00:00:00:00:00:00") == ["10.0.0.3"]
    r = lab.run("bridge fdb append 00:00:00:00:00:00 dev lo dst 10.0.0.2")
    assert not r.ok and r.error.startswith("Error: FDB add only supported for Ethernet devices.")   # the kernel, as bridge(8)


def test_brctl_show_lists_bridges_and_ports(lab):
    run_ok(lab, "ip link add br0 type bridge", "ip link add b1 type veth peer name b2",
           "ip link add a1 type veth peer name a2", "ip link set b1 master br0", "ip link set a1 master br0",
           "brctl addbr br9")
    mac = next(link["address"] for link in kernel_json(None, "link") if link["ifname"] == "br0")
    out = run_ok(lab, "brctl show")[0].splitlines()
    assert out[0] == "bridge name\tbridge id\t\tSTP enabled\tinterfaces"
    assert out[1] == f"br0\t\t8000.{mac.replace(':', '')}\tno\t\ta1"
    assert out[2] == "\t\t\t\t\t\t\tb1"
    assert out[3].startswith("br9\t\t8000.") and out[3].endswith("\tno\t\t")
    run_ok(lab, "brctl addif br9 a2", "brctl stp br9 on")
    assert kernel_json(None, "link", "show", "a2")[0]["master"] == "br9"
    assert run_ok(lab, "brctl show br9")[0].splitlines()[1].endswith("\tyes\t\ta2")
    r = lab.run("brctl addif br9 b1")
    assert not r.ok and "already a member of a bridge" in r.error
    run_ok(lab, "brctl delif br9 a2", "brctl delbr br9")
    assert not [link for link in kernel_json(None, "link") if link["ifname"] == "br9"]
    r = lab.run("brctl show nosuch")
    assert not r.ok and "bridge nosuch does not exist" in r.error


def test_bridge_link_show(lab):
    run_ok(lab, "ip link add br0 type bridge", "ip link add veth0 type veth peer name veth1",
           "ip link set veth0 master br0", "ip link set br0 up", "ip link set veth0 up", "ip link set veth1 up")
    real = kernel(None, "bridge", "link", "show").strip()
    assert run_ok(lab, "bridge link")[0].strip() == real
    mine = json.loads(run_ok(lab, "bridge -j link show dev veth0")[0])
    real_j = json.loads(kernel(None, "bridge", "-j", "link", "show", "dev", "veth0"))
    assert mine == real_j
    assert "port              vlan-id" in run_ok(lab, "bridge vlan show")[0]


def test_bridge_in_a_namespace(lab):
    run_ok(lab, "ip netns add red", "red ip link add br0 type bridge", "red ip link add v0 type veth peer name v1",
           "red brctl addif br0 v0", "bridge -n red fdb add 02:00:00:00:00:01 dev v0 master static")
    assert any(e["mac"] == "02:00:00:00:00:01" for e in fdb_json("red", "br", "br0"))
    assert "v0" in run_ok(lab, "red brctl show")[0]
