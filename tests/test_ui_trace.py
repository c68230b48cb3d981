"""The trace view: `trace ...` typed in the command bar opens a step-through timeline with the
netfilter flow diagram of each namespace (traversed hooks lit, NAT and drops marked) and the headers at
each step, on the real kernel."""
from __future__ import annotations

from lab.ui.screens.trace import TraceScreen
from tests.conftest import run_ok
from tests.test_ui_support import run_ui, screen_text, wait_for

FOX_BEAR_OUT = [
    "ip netns add fox", "ip netns add outside",
    "ip link add vnet-animals type bridge", "ip addr add 192.168.202.1/24 dev vnet-animals",
    "ip link set vnet-animals up",
    "ip link add veth-fox netns fox type veth peer name veth-fox-br",
    "ip link set veth-fox-br master vnet-animals", "ip link set veth-fox-br up",
    "fox ip addr add 192.168.202.11/24 dev veth-fox", "fox ip link set veth-fox up",
    "fox ip route add default via 192.168.202.1",
    "ip link add eth-out type veth peer name eth0 netns outside", "ip addr add 203.0.113.1/24 dev eth-out",
    "ip link set eth-out up", "outside ip addr add 203.0.113.2/24 dev eth0", "outside ip link set eth0 up",
    "sysctl -w net.ipv4.ip_forward=1",
]


async def _trace(app, pilot, line: str) -> TraceScreen:
    await pilot.press("ctrl+l")
    app.main.query_one("#command-input").value = line
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, TraceScreen), timeout=15, what="the trace view")
    await pilot.pause(0.1)
    return app.screen


def test_trace_view_shows_nat_and_steps_through(lab):
    run_ok(lab, *FOX_BEAR_OUT, "iptables -t nat -A POSTROUTING -s 192.168.202.0/24 -j MASQUERADE")

    async def body(app, pilot):
        scr = await _trace(app, pilot, "trace fox icmp 203.0.113.2")
        assert scr.path.outcome == "answered"
        text = screen_text(app)
        assert "trace fox icmp 203.0.113.2" in text and "answered" in text
        assert "[fox]" in text and "PREROUTING" in text and "POSTROUTING" in text
        # step to the MASQUERADE hop: the headers show before/after and the diagram marks NAT
        nat_i = next(i for i, h in enumerate(scr.path.hops) if h.verdict == "masquerade")
        for _ in range(nat_i):
            await pilot.press("n")
        await pilot.pause(0.05)
        assert scr.index == nat_i
        text = screen_text(app)
        assert "before" in text and "after" in text and "203.0.113.1" in text and "NAT" in text
        assert "-A POSTROUTING -s 192.168.202.0/24 -j MASQUERADE" in text
        await pilot.press("p")
        assert scr.index == nat_i - 1
        await pilot.press("r")
        assert scr.path.hops[scr.index].direction == "reply"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, TraceScreen), what="back to the dashboard")
        assert "answered" in "\n".join(app.output.plain_lines)

    run_ui(lab, body, size=(170, 45))


def test_trace_view_marks_the_drop(lab):
    run_ok(lab, *FOX_BEAR_OUT, "iptables -A FORWARD -d 203.0.113.0/24 -j DROP")

    async def body(app, pilot):
        scr = await _trace(app, pilot, "trace fox icmp 203.0.113.2")
        assert scr.path.outcome == "dropped"
        drop_i = next(i for i, h in enumerate(scr.path.hops) if h.kind == "drop" or h.verdict == "drop")
        scr.action_step(drop_i - scr.index)
        await pilot.pause(0.05)
        text = screen_text(app)
        assert "✗" in text and "-A FORWARD -d 203.0.113.0/24 -j DROP" in text
        # the host's diagram marks the FORWARD hook (its filter table) with the drop
        lines = _flow_lines(app)
        start = next(i for i, line in enumerate(lines) if line.startswith("▶ host"))
        assert any("FORWARD ✗" in line for line in lines[start:start + 7])
        assert not any("INPUT ✗" in line or "POSTROUTING ✗" in line for line in lines)

    run_ui(lab, body, size=(170, 45))


def test_trace_errors_stay_in_the_command_bar(lab):
    run_ok(lab, "ip netns add fox")

    async def body(app, pilot):
        await pilot.press("ctrl+l")
        app.main.query_one("#command-input").value = "trace fxo icmp 10.0.0.1"
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("fxo" in line for line in app.output.plain_lines), what="the error")
        assert not isinstance(app.screen, TraceScreen)

    run_ui(lab, body)


def _flow_lines(app) -> list[str]:
    return str(app.screen.query_one("#trace-flow").render()).splitlines()


def test_trace_view_diagram_per_namespace_and_stepping(lab):
    """Every namespace on the path gets its diagram; the selected step's namespace is marked ▶ and the
    sentence and headers follow the step."""
    run_ok(lab, *FOX_BEAR_OUT)
    run_ok(lab, "outside ip route add 192.168.202.0/24 via 203.0.113.1")

    async def body(app, pilot):
        scr = await _trace(app, pilot, "trace fox icmp 203.0.113.2")
        assert scr.path.outcome == "answered"
        heads = [line for line in _flow_lines(app) if "· request" in line]
        assert [h.strip(" ▶").split(" ·")[0] for h in heads] == ["fox", "host", "outside"]
        assert heads[0].startswith("▶ fox")
        # the bridge was crossed in the host: its bridge row is drawn there
        assert any(line.startswith("bridge:") for line in _flow_lines(app))
        first = str(scr.query_one("#trace-headers").render())
        assert "step 1/" in first and "fox sends ICMP echo-request" in first
        assert "192.168.202.11 → 203.0.113.2" in first
        host_i = next(i for i, h in enumerate(scr.path.hops) if h.ns == "" and h.hook == "forward")
        await pilot.press("end")
        await pilot.press("home")
        for _ in range(host_i):
            await pilot.press("n")
        await pilot.pause(0.05)
        head = str(scr.query_one("#trace-headers").render())
        assert f"step {host_i + 1}/" in head and scr.path.hops[host_i].explanation in head
        assert any(line.startswith("▶ host") for line in _flow_lines(app))
        # the forwarding namespace's diagram lights FORWARD (its own step, reversed: still in the text)
        assert "FORWARD" in "\n".join(_flow_lines(app))
        # play: steps advance by themselves at the pace, space pauses
        scr.pace = 0.1   # slow enough that a loaded machine still catches it before the last step
        await pilot.press("space")
        await wait_for(pilot, lambda: scr.index > host_i + 2, what="play to advance")
        assert scr.index < len(scr.hops) - 1, "play reached the end before the test could pause it"
        await pilot.press("space")
        stopped = scr.index
        await pilot.pause(0.2)
        assert scr.index == stopped

    run_ui(lab, body, size=(170, 50))


def test_trace_view_routing_drop_ip_forward_off(lab):
    run_ok(lab, *FOX_BEAR_OUT[:-1], "sysctl -w net.ipv4.ip_forward=0")

    async def body(app, pilot):
        scr = await _trace(app, pilot, "trace fox icmp 203.0.113.2")
        assert scr.path.outcome == "dropped"
        drop = scr.path.dropped_at
        assert drop is not None and "ip_forward" in drop.explanation
        scr.action_step(scr.path.hops.index(drop) - scr.index)
        await pilot.pause(0.05)
        assert "ip_forward is off" in str(scr.query_one("#trace-headers").render())
        # the host's diagram marks the routing decision, not a chain
        lines = _flow_lines(app)
        start = next(i for i, line in enumerate(lines) if line.startswith("▶ host"))
        assert "routing ✗" in lines[start + 1]

    run_ui(lab, body, size=(170, 50))


def test_palette_trace_entry_fills_the_bar(lab):
    async def body(app, pilot):
        from lab.ui.palette import lab_commands

        titles = {c.title: c for c in lab_commands(app)}
        assert "Trace a packet" in titles and "Play scenario 03-fox-bear" in titles
        titles["Trace a packet"].callback()
        await pilot.pause(0.05)
        assert app.main.query_one("#command-input").value == "trace "

    run_ui(lab, body)


# ---- snapshot ------------------------------------------------------------------------------------
def _fixed_veth_lab(lab):
    """red/blue on a veth, fixed MACs, static neighbours (no ARP timing), IPv6 off, an INPUT rule in blue."""
    run_ok(lab, "ip netns add red", "ip netns add blue")
    for ns in ("red", "blue"):
        for key in ("net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"):
            lab.backend.sysctl_set(ns, key, "1")
    run_ok(lab, "ip link add veth-red netns red type veth peer name veth-blue netns blue",
           "red ip link set veth-red address 02:00:00:00:00:0a",
           "blue ip link set veth-blue address 02:00:00:00:00:0b",
           "red ip addr add 10.0.0.1/24 dev veth-red", "blue ip addr add 10.0.0.2/24 dev veth-blue",
           "red ip link set veth-red up", "blue ip link set veth-blue up",
           "red ip neigh add 10.0.0.2 lladdr 02:00:00:00:00:0b dev veth-red nud permanent",
           "blue ip neigh add 10.0.0.1 lladdr 02:00:00:00:00:0a dev veth-blue nud permanent",
           "blue iptables -A INPUT -p icmp -j ACCEPT")


def test_trace_screen_snapshot(lab, snap_compare, monkeypatch, tmp_path):
    """The trace view of red -> blue on a veth, at blue's INPUT step (fixed IP id: no randomness)."""
    import lab.tracer.probe as probe
    from lab.ui.app import make_app

    monkeypatch.setenv("LAB_HISTORY", str(tmp_path / "h"))
    monkeypatch.setattr(probe, "pick_ip_ids", lambda count: 4242)
    _fixed_veth_lab(lab)

    async def run_before(pilot):
        app = pilot.app
        await wait_for(pilot, lambda: app.view.loaded, what="first state")
        scr = await _trace(app, pilot, "trace red icmp 10.0.0.2")
        assert scr.path.outcome == "answered", scr.path.summary
        i = next(i for i, h in enumerate(scr.path.hops) if h.ns == "blue" and h.hook == "input" and h.kind == "hook")
        scr.action_step(i - scr.index)
        await pilot.pause(0.2)

    assert snap_compare(make_app(lab, period=3600), terminal_size=(150, 42), run_before=run_before)


def test_trace_view_follows_the_theme(lab):
    _fixed_veth_lab(lab)
    run_ok(lab, "red iptables -A OUTPUT -p icmp -j DROP")

    async def body(app, pilot):
        scr = await _trace(app, pilot, "trace red icmp 10.0.0.2")
        assert scr.path.outcome == "dropped"
        scr.action_step(len(scr.hops))
        await pilot.pause(0.05)

        from rich.color import Color
        from rich.style import Style

        def drop_colour():
            t = scr.query_one("#trace-flow").render()
            style = next(sp.style for sp in t.spans if "✗" in t.plain[sp.start:sp.end])
            return Style.parse(str(style)).color.get_truecolor()

        def meaning(name: str):
            return Color.parse(app.lab_theme.color(name)).get_truecolor()
        colour = meaning("drop")
        assert drop_colour() == colour
        await pilot.press("ctrl+t")
        await pilot.pause(0.2)
        assert isinstance(app.screen, type(scr)) and meaning("drop") != colour
        assert drop_colour() == meaning("drop")
        assert scr.index == len(scr.hops) - 1

    run_ui(lab, body, size=(170, 50))


def test_one_engine_across_several_dashboards_traces_the_namespace_asked(lab):
    """The engine outlives its dashboards (lab play, the palette, tests): each new one's trace starts in
    the namespace asked for, with every worker thread back in its own namespace."""
    import os

    from lab.backend import nsutil

    run_ok(lab, *FOX_BEAR_OUT)
    here = lambda: os.stat("/proc/thread-self/ns/net").st_ino  # noqa: E731

    for _ in range(3):
        async def body(app, pilot):
            app.select_ns("outside")
            scr = await _trace(app, pilot, "trace fox icmp 203.0.113.2")
            hops = scr.path.hops
            assert hops and hops[0].ns == "fox", [h.ns for h in hops[:3]]
            await pilot.press("escape")
        run_ui(lab, body)
        assert here() == nsutil.netns_inode(None), "the calling thread was left in another namespace"
        r = lab.run("ip -br link")
        assert r.ok and "veth-fox-br" in r.output, r.output   # this thread is still in the top namespace
