"""`ip -d link` / `ip -d -j link` details (lab.backend.linkdetail) against the real iproute2 6.1.

Each test builds a configuration with the real `ip` in a fresh top namespace, then compares link by
link: lines 2..n of `ip -d link show dev X` with `detail_lines`, and the keys `ip -d -j link show dev X`
adds with `detail_json` (values, order, and the serialised text). Bridge timers tick between the two
reads, so only their numbers are normalised.
"""
from __future__ import annotations

import json
import re
import subprocess

import pytest

from lab.backend import linkdetail, state
from tests.conftest import kernel

TIMERS = "|".join(linkdetail.TIMER_KEYS)
TIMER_TEXT = re.compile(r"\b(%s) +\d+\.\d\d " % TIMERS)
TIMER_JSON = re.compile(r'"(%s)":\d+\.\d+' % TIMERS)


def norm_text(s: str) -> str:
    return TIMER_TEXT.sub(lambda m: f"{m.group(1)} T ", s)


def norm_json_text(s: str) -> str:
    return TIMER_JSON.sub(lambda m: f'"{m.group(1)}":T', s)


def norm_obj(o):
    if isinstance(o, dict):
        return {k: ("T" if k in linkdetail.TIMER_KEYS else norm_obj(v)) for k, v in o.items()}
    if isinstance(o, list):
        return [norm_obj(v) for v in o]
    return o


def ip(*argv: str, ns: str | None = None) -> str:
    return kernel(ns, "ip", *argv)


def try_ip(*argv: str) -> bool:
    """For kernel features that may be missing: True when the command worked."""
    from lab.backend import nsutil

    with nsutil.in_netns(None):
        return subprocess.run(["ip", *argv], capture_output=True).returncode == 0


def lab_lines(backend, ns: str | None, dev: str) -> tuple[str, list[str]]:
    """What link_show will print with -d: the first line (lab.render.link_header) + detail_lines."""
    from lab import render

    msgs = list(backend.ipr(ns).get_links())
    names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in msgs}
    msg = next(m for m in msgs if m.get_attr("IFLA_IFNAME") == dev)
    links = state.links(backend, ns)
    link = next(lk for lk in links if lk.name == dev)
    netns = {k: v for k, v in state.netns_ids(backend, ns).items() if v}
    first = render.link_header(link, names, True, netns, {lk.index: lk for lk in links})[0]
    return first, linkdetail.detail_lines(msg, names, netns)


def check_text(backend, dev: str, ns: str | None = None) -> list[str]:
    real = ip("-d", "link", "show", "dev", dev, ns=ns).rstrip("\n").split("\n")
    _first, mine = lab_lines(backend, ns, dev)
    assert [norm_text(x) for x in mine] == [norm_text(x) for x in real[1:]], dev
    return mine


def check_json(backend, dev: str, ns: str | None = None) -> dict:
    raw = ip("-d", "-j", "link", "show", "dev", dev, ns=ns)
    real = json.loads(raw)[0]
    msgs = list(backend.ipr(ns).get_links())
    names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in msgs}
    msg = next(m for m in msgs if m.get_attr("IFLA_IFNAME") == dev)
    mine = linkdetail.detail_json(msg, names)
    keys = list(real)
    start = keys.index(next(iter(mine)))
    assert keys[start:start + len(mine)] == list(mine), dev
    # what precedes is link_json's (proto_down: printed with or without -d)
    assert keys[start - 1] in ("address", "broadcast", "link_netnsid", "link_type", "proto_down"), dev
    assert norm_obj({k: real[k] for k in mine}) == norm_obj(mine), dev
    text = linkdetail.fix_json_timers(json.dumps(mine, separators=(",", ":")))
    assert norm_json_text(text[1:-1]) in norm_json_text(raw), dev
    return mine


def check(backend, *devs: str, ns: str | None = None) -> None:
    for d in devs:
        check_text(backend, d, ns)
        check_json(backend, d, ns)


def test_loopback(backend):
    lines = check_text(backend, "lo")
    assert lines[0].startswith("    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00 promiscuity 0  allmulti 0")
    assert len(lines) == 1
    check_json(backend, "lo")
    ip("link", "set", "lo", "up")
    check(backend, "lo")


def test_veth_both_ends(backend):
    ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
    check(backend, "v0", "v1")
    lines = check_text(backend, "v0")
    assert lines[0].endswith(" promiscuity 0  allmulti 0 minmtu 68 maxmtu 65535 ")
    assert lines[1].startswith("    veth addrgenmode eui64 numtxqueues ")
    ip("link", "set", "v0", "up", "mtu", "9000", "promisc", "on", "allmulticast", "on")
    ip("link", "set", "v1", "up", "address", "02:00:00:00:00:0a")
    check(backend, "v0", "v1")


def test_veth_peer_in_other_namespace(backend, uniq):
    ns = f"ld{uniq}"
    ip("netns", "add", ns)
    ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
    ip("link", "set", "v1", "netns", ns)
    lines = check_text(backend, "v0")
    assert f" link-netns {ns} promiscuity 0 " in lines[0]
    check_json(backend, "v0")
    check(backend, "v1", ns=ns)


def test_bridge_defaults_and_port(backend):
    ip("link", "add", "br0", "type", "bridge")
    check(backend, "br0")
    ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
    ip("link", "set", "v0", "master", "br0")
    ip("link", "set", "br0", "up")
    ip("link", "set", "v0", "up")
    ip("link", "set", "v1", "up")
    check(backend, "br0", "v0", "v1")
    lines = check_text(backend, "v0")
    assert lines[1] == "    veth "
    assert lines[2].startswith("    bridge_slave state ")
    assert "bridge_id 8000." in check_text(backend, "br0")[1]


def test_bridge_options(backend):
    ip("link", "add", "br1", "type", "bridge", "stp_state", "1", "priority", "4096", "forward_delay", "400",
       "hello_time", "100", "max_age", "1200", "ageing_time", "600", "group_fwd_mask", "0x4008",
       "mcast_snooping", "0", "mcast_querier", "1", "mcast_router", "2", "mcast_hash_max", "512",
       "mcast_igmp_version", "3", "mcast_mld_version", "2", "mcast_stats_enabled", "1",
       "nf_call_iptables", "1", "no_linklocal_learn", "1", "group_address", "01:80:c2:00:00:0e")
    try_ip("link", "set", "br1", "type", "bridge", "vlan_filtering", "1", "vlan_protocol", "802.1ad",
           "vlan_default_pvid", "7", "vlan_stats_enabled", "1")
    ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
    ip("link", "add", "v2", "type", "veth", "peer", "name", "v3")
    ip("link", "set", "v0", "master", "br1")
    ip("link", "set", "v2", "master", "br1")
    for d in ("br1", "v0", "v1", "v2", "v3"):
        ip("link", "set", d, "up")
    check(backend, "br1", "v0", "v2")


def test_bridge_slave_options(backend):
    ip("link", "add", "br0", "type", "bridge")
    for a, b in (("v0", "v1"), ("v2", "v3")):
        ip("link", "add", a, "type", "veth", "peer", "name", b)
        ip("link", "set", a, "master", "br0")
    ip("link", "set", "v0", "type", "bridge_slave", "cost", "5", "priority", "7", "hairpin", "on", "guard", "on",
       "root_block", "on", "fastleave", "on", "learning", "off", "flood", "off", "proxy_arp", "on",
       "mcast_router", "2", "mcast_flood", "off", "bcast_flood", "off", "mcast_to_unicast", "on",
       "group_fwd_mask", "0x4001", "neigh_suppress", "on", "vlan_tunnel", "on", "isolated", "on",
       "backup_port", "v2")
    try_ip("link", "set", "v2", "type", "bridge_slave", "locked", "on", "group_fwd_mask", "0x8")
    check(backend, "v0", "v2", "br0")
    assert "backup_port v2 " in check_text(backend, "v0")[2]


@pytest.mark.parametrize("args", [
    ["id", "42", "remote", "10.0.0.2", "dstport", "4789"],
    ["id", "42", "remote", "10.0.0.2", "local", "10.0.0.1", "dev", "v1", "srcport", "1000", "2000",
     "nolearning", "proxy", "l2miss", "l3miss", "ttl", "5", "tos", "inherit", "ageing", "100",
     "noudpcsum", "udp6zerocsumtx", "gbp"],
    ["id", "7", "group", "239.1.1.1", "dev", "v1", "ttl", "inherit", "tos", "0x10", "df", "set", "maxaddr", "9"],
    ["id", "8", "remote", "2001:db8::2", "local", "2001:db8::1", "dstport", "0", "udp6zerocsumrx",
     "df", "inherit", "flowlabel", "0x12345", "ageing", "0", "remcsumtx", "remcsumrx"],
    ["id", "9", "group", "ff05::1", "dev", "v1", "udpcsum"],
    ["external"],
    ["external", "vnifilter"],
    ["external", "gpe"],
])
def test_vxlan(backend, args):
    ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
    if not try_ip("link", "add", "vx0", "type", "vxlan", *args):
        pytest.skip(f"this kernel refuses vxlan {args}")
    check(backend, "vx0")


def test_vxlan_on_bridge_and_protodown(backend):
    ip("link", "add", "br0", "type", "bridge")
    ip("link", "add", "vx0", "type", "vxlan", "id", "5", "dstport", "4789", "nolearning")
    ip("link", "set", "vx0", "master", "br0", "up")
    try_ip("link", "set", "vx0", "protodown", "on")
    check(backend, "vx0", "br0")


@pytest.mark.parametrize("kind,mode", [("macvlan", "private"), ("macvlan", "vepa"), ("macvlan", "bridge"),
                                       ("macvlan", "passthru"), ("macvlan", "source"), ("macvtap", "vepa"),
                                       ("macvtap", "bridge")])
def test_macvlan(backend, kind, mode):
    ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
    ip("link", "add", "mv0", "link", "v0", "type", kind, "mode", mode)
    if mode == "source":
        ip("link", "set", "mv0", "type", kind, "macaddr", "add", "00:11:22:33:44:55")
        ip("link", "set", "mv0", "type", kind, "macaddr", "add", "00:11:22:33:44:66")
    check(backend, "mv0", "v0")


def test_macvlan_flags(backend):
    ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
    ip("link", "add", "mv0", "link", "v0", "type", "macvlan", "mode", "passthru", "nopromisc")
    ip("link", "add", "v2", "type", "veth", "peer", "name", "v3")
    if try_ip("link", "add", "mv1", "link", "v2", "type", "macvlan", "mode", "source", "nodst"):
        check(backend, "mv1")
    try_ip("link", "set", "mv0", "type", "macvlan", "bcqueuelen", "77")
    check(backend, "mv0", "v0")


def test_tun_tap(backend):
    ip("tuntap", "add", "tap0", "mode", "tap")
    ip("tuntap", "add", "tun0", "mode", "tun")
    ip("tuntap", "add", "tap1", "mode", "tap", "multi_queue", "vnet_hdr", "user", "0", "group", "0")
    ip("tuntap", "add", "tun1", "mode", "tun", "pi", "user", "54321", "group", "54321")
    check(backend, "tap0", "tun0", "tap1", "tun1")
    assert check_text(backend, "tun0")[0] == "    link/none  promiscuity 0  allmulti 0 minmtu 68 maxmtu 65535 "


def test_ifb(backend):
    if not try_ip("link", "add", "ifb0", "type", "ifb"):
        pytest.skip("no ifb")
    check(backend, "ifb0")


def test_alias_altname_addrgenmode(backend):
    ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
    ip("link", "add", "v2", "type", "veth", "peer", "name", "v3")
    ip("link", "set", "v0", "alias", "the uplink")
    try_ip("link", "property", "add", "dev", "v0", "altname", "uplink0")
    ip("link", "set", "v0", "addrgenmode", "none")
    ip("link", "set", "v1", "addrgenmode", "random")
    kernel(None, "sysctl", "-qw", "net.ipv6.conf.v2.stable_secret=2001:db8:1:2:3:4:5:6")
    ip("link", "set", "v2", "addrgenmode", "stable_secret")
    check(backend, "v0", "v1", "v2", "v3")
    assert "    alias the uplink" in check_text(backend, "v0")


def test_fix_json_timers():
    assert linkdetail.fix_json_timers('{"hello_timer":0.0,"gc_timer":12.3,"x":1.5}') == \
        '{"hello_timer":0.00,"gc_timer":12.30,"x":1.5}'
    assert linkdetail.fix_json_timers('{"hold_timer":1.25}') == '{"hold_timer":1.25}'


def test_timer_format():
    import struct

    assert linkdetail._timer(struct.pack("=Q", 0)) == ("   0.00", 0.0)
    assert linkdetail._timer(struct.pack("=Q", 123)) == ("   1.23", 1.23)
    assert linkdetail._timer(struct.pack("=Q", 3_000_007)) == ("30000.07", 30000.07)


def test_stats_go_before_altnames(backend):
    ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
    ip("link", "set", "v0", "alias", "up1")
    if not try_ip("link", "property", "add", "dev", "v0", "altname", "uplink0"):
        pytest.skip("no altnames")
    real = ip("-d", "-s", "link", "show", "dev", "v0").rstrip("\n").split("\n")
    msgs = list(backend.ipr(None).get_links())
    names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in msgs}
    msg = next(m for m in msgs if m.get_attr("IFLA_IFNAME") == "v0")
    assert real[3] == "    alias up1" and real[-1] == "    altname uplink0"
    stats = real[4:8]  # the four RX/TX lines, whoever renders them
    assert real[1:] == linkdetail.detail_lines(msg, names, {}, stats=stats)


def test_accepts_raw_bytes(backend):
    ip("link", "add", "br0", "type", "bridge")
    msg = next(m for m in backend.ipr(None).get_links() if m.get_attr("IFLA_IFNAME") == "br0")
    raw = bytes(msg.data[msg.offset:msg.offset + msg["header"]["length"]])
    assert linkdetail.detail_lines(raw, {}) == linkdetail.detail_lines(msg, {})
