"""The iptables pane over the "chains" snapshot extra (when the iptables family has registered it):
tables -> chains with policies -> rules with targets, counters that move are highlighted."""
from __future__ import annotations

import pytest

from lab.backend import state
from lab.backend.watch import load_extras
from tests.conftest import kernel, run_ok
from tests.test_ui_support import pane_rows, run_ui, wait_for


def test_iptables_pane_shows_tables_chains_rules_and_counters(lab, monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_HISTORY", str(tmp_path / "h"))
    if "chains" not in load_extras():
        pytest.skip("the iptables family registers no chains extra yet")
    run_ok(lab, "ip netns add fw", "ip -n fw link set lo up",
           "fw iptables -A INPUT -p icmp -j ACCEPT", "fw iptables -t nat -A POSTROUTING -o eth9 -j MASQUERADE",
           "fw ip6tables -A INPUT -s fd00::/64 -j DROP")

    async def body(app, pilot):
        app.select_ns("fw")
        app.show_tab("tab-iptables")
        await wait_for(pilot, lambda: any("MASQUERADE" in r[2] for r in pane_rows(app, "iptables")),
                       what="rules in the pane")
        rows = pane_rows(app, "iptables")
        texts = [r[1].strip() for r in rows]
        assert "filter" in texts and "nat" in texts
        assert "ip6 filter" in texts and texts.index("ip6 filter") > texts.index("nat")   # IPv6 tables after
        assert any(r[1].strip() == "-s fd00::/64 -j DROP" and r[2] == "DROP" for r in rows), rows
        assert any(t.startswith("INPUT (policy ACCEPT)") for t in texts)
        kernel("fw", "ping", "-c2", "-i0.2", "-W1", "127.0.0.1")
        await wait_for(pilot, lambda: any(r[2] == "ACCEPT" and r[3].strip() not in ("", "0")
                                          for r in pane_rows(app, "iptables")), timeout=6, what="counters")
        assert any("\x1frule\x1f" in k for k in app.view.hot), "moving counters are highlighted"
    run_ui(lab, body)
    assert state.EXTRAS  # registry untouched


def test_opening_the_iptables_tab_marks_nothing_changed_and_drop_is_red(lab, monkeypatch, tmp_path):
    """The chains are read when their tab opens: that first read is not a change (no row highlighted);
    a rule added afterwards is. Targets are drawn in their meaning's colour (DROP in the theme's drop)."""
    monkeypatch.setenv("LAB_HISTORY", str(tmp_path / "h"))
    run_ok(lab, "ip netns add fw", "fw iptables -A INPUT -p tcp --dport 22 -j DROP")

    async def body(app, pilot):
        app.select_ns("fw")
        app.show_tab("tab-iptables")
        await wait_for(pilot, lambda: any(r[2] == "DROP" for r in pane_rows(app, "iptables")), what="the rule")
        assert not [k for k in app.view.hot if "\x1fchain\x1f" in k or "\x1frule\x1f" in k], app.view.hot
        drop = app.lab_theme.color("drop").lower()
        strips = app.screen._compositor.render_strips()
        styles = [seg.style for s in strips for seg in s if seg.text.strip() == "DROP"]
        assert styles and all(st is not None and st.color is not None and st.color.name.lower() == drop
                              for st in styles), styles
        run_ok(lab, "fw iptables -A INPUT -p udp --dport 53 -j ACCEPT")
        await wait_for(pilot, lambda: any("\x1frule\x1f" in k for k in app.view.hot), what="the new rule highlighted")
    run_ui(lab, body)


def test_qdiscs_and_sysctls_tabs_show_every_namespace(lab, monkeypatch, tmp_path):
    """With all namespaces shown, the Qdiscs and Sysctls tabs list every namespace's, not only the host's
    (a namespace's extras were read only once it had rows on screen, which it could not have before)."""
    monkeypatch.setenv("LAB_HISTORY", str(tmp_path / "h"))
    run_ok(lab, "ip netns add qa", "ip netns add qb", "ip -n qa link add d0 type veth peer name d1",
           "ip netns exec qa tc qdisc add dev d0 root tbf rate 1mbit burst 32kbit latency 400ms",
           "ip netns exec qb sysctl -w net.ipv4.ip_forward=1")

    async def body(app, pilot):
        app.show_tab("tab-qdiscs")
        await wait_for(pilot, lambda: any(r[0] == "qa" and "tbf" in "".join(r) for r in pane_rows(app, "qdiscs")),
                       what="qa's tbf in the Qdiscs tab")
        app.show_tab("tab-sysctls")
        await wait_for(pilot, lambda: {"qa", "qb"} <= {r[0] for r in pane_rows(app, "sysctls")},
                       what="qa's and qb's sysctls in the Sysctls tab")
    run_ui(lab, body)
