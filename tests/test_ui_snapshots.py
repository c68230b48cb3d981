"""Snapshot tests (pytest-textual-snapshot) of the dashboard on a fixed lab: the main screen (map) in
each theme, and the links and routes panes. Deterministic: fixed names and MACs, IPv6 off (no DAD or
router solicitations moving counters), waits until carrier settled, no highlights, no cursor blink.
Update with: pytest tests/test_ui_snapshots.py --snapshot-update"""
from __future__ import annotations

import time

import pytest

from lab.ui.app import make_app
from tests.conftest import run_ok

SIZE = (150, 42)
UP_LINKS = {("", "br0"), ("", "veth-red"), ("", "veth-blue"), ("red", "eth0"), ("blue", "eth0")}


def fixed_lab(lab):
    b = lab.backend
    run_ok(lab, "ip netns add red", "ip netns add blue", "ip netns add green")
    for ns in (None, "red", "blue", "green"):
        for key in ("net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"):
            b.sysctl_set(ns, key, "1")
    run_ok(lab, "ip link add br0 type bridge", "ip link set br0 address 02:00:00:00:00:01")
    # no multicast snooping: otherwise br0 joins 224.0.0.106 and an IGMP report moves the counters
    ipr = b.ipr(None)
    ipr.link("set", index=ipr.link_lookup(ifname="br0")[0], kind="bridge", br_mcast_snooping=0)
    run_ok(lab, "ip addr add 10.0.0.254/24 dev br0", "ip link set br0 up")
    for i, ns in enumerate(("red", "blue"), 1):
        run_ok(lab,
               f"ip link add veth-{ns} type veth peer name eth0 netns {ns}",
               f"ip link set veth-{ns} address 02:00:00:00:0{i}:01",
               f"ip -n {ns} link set eth0 address 02:00:00:00:0{i}:02",
               f"ip link set veth-{ns} master br0", f"ip link set veth-{ns} up",
               f"ip -n {ns} addr add 10.0.0.{i}/24 dev eth0", f"ip -n {ns} link set eth0 up",
               f"ip -n {ns} route add default via 10.0.0.254")
    # green hangs off red with a link that is down: drawn dashed in the "down" colour
    run_ok(lab, "ip -n red link add to-green type veth peer name eth0 netns green",
           "ip -n red link set to-green address 02:00:00:00:03:01",
           "ip -n green link set eth0 address 02:00:00:00:03:02",
           "ip -n red addr add 10.1.0.1/30 dev to-green", "ip -n green addr add 10.1.0.2/30 dev eth0")


def settled(app) -> bool:
    v = app.view
    if set(v.order) != {"", "red", "blue", "green"} or v.hot:
        return False
    for ns, name in UP_LINKS:
        link = next((link for link in v.states[ns].links if link.name == name), None)
        if link is None or link.operstate != "UP":
            return False
    return all(link.peer_name for link in v.states["green"].links if link.kind == "veth")


def before(tab: str | None = None):
    async def run_before(pilot):
        app = pilot.app
        end = time.monotonic() + 10
        while not settled(app) and time.monotonic() < end:
            await pilot.pause(0.05)
        assert settled(app), "the fixed lab did not settle"
        app.main.query_one("#command-input").cursor_blink = False
        if tab:
            app.show_tab(tab)
        await pilot.pause(0.2)
    return run_before


@pytest.mark.parametrize("theme", ["dark", "light", "projector"])
def test_main_screen_each_theme(lab, snap_compare, theme, monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_HISTORY", str(tmp_path / "h"))
    fixed_lab(lab)
    assert snap_compare(make_app(lab, theme=theme, period=3600), terminal_size=SIZE, run_before=before())


@pytest.mark.parametrize("tab", ["tab-links", "tab-routes"])
def test_panes(lab, snap_compare, tab, monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_HISTORY", str(tmp_path / "h"))
    fixed_lab(lab)
    assert snap_compare(make_app(lab, period=3600), terminal_size=SIZE, run_before=before(tab))


@pytest.mark.parametrize("size", [(80, 24), (120, 36), (200, 60)], ids=["80x24", "120x36", "200x60"])
def test_main_screen_each_size(lab, snap_compare, size, monkeypatch, tmp_path):
    """The layout for the terminal there is: compact at 80x24 (no tree, a map of names with a line that
    says the addresses are left out, a short log), a wider tree and a taller log at 200x60."""
    monkeypatch.setenv("LAB_HISTORY", str(tmp_path / "h"))
    fixed_lab(lab)
    assert snap_compare(make_app(lab, period=3600), terminal_size=size, run_before=before())
