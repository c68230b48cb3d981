"""Pilot tests of the dashboard: type commands into the bar and check what the panes show; changes
made outside the app appear on their own; errors stay inline; history, completion, help, themes."""
from __future__ import annotations

import os

import pytest

from tests.conftest import kernel, run_ok
from tests.test_ui_support import pane_rows, pane_text, run_ui, screen_text, type_command, wait_for


@pytest.fixture(autouse=True)
def private_history(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_HISTORY", str(tmp_path / "history"))
    return tmp_path / "history"


def test_command_bar_has_focus_and_ctrl_l_brings_it_back(lab):
    async def body(app, pilot):
        assert app.focused is not None and app.focused.id == "command-input"
        app.main.query_one("#nstree").focus()
        await pilot.pause()
        assert app.focused.id == "nstree"
        await pilot.press("ctrl+l")
        assert app.focused.id == "command-input"
    run_ui(lab, body)


def test_typed_commands_show_in_every_pane(lab):
    async def body(app, pilot):
        await type_command(pilot, "ip netns add red", keys=True)
        for line in ("ip link add veth-host type veth peer name veth-red netns red",
                     "ip addr add 10.9.0.1/24 dev veth-host", "ip link set veth-host up",
                     "ip -n red addr add 10.9.0.2/24 dev veth-red", "ip -n red link set veth-red up",
                     "ip -n red route add default via 10.9.0.1"):
            await type_command(pilot, line)
        await wait_for(pilot, lambda: "default" in pane_text(app, "routes"), what="default route")
        links = pane_rows(app, "links")
        host = next(r for r in links if r[1] == "veth-host")
        assert host[0] == "host" and host[2] == "veth" and "veth-red @ red" in host[7]
        red = next(r for r in links if r[1] == "veth-red")
        assert red[0] == "red" and "veth-host @ host" in red[7]
        addrs = pane_text(app, "addresses")
        assert "10.9.0.1/24" in addrs and "10.9.0.2/24" in addrs
        routes = pane_rows(app, "routes")
        assert ["red", "main", "default", "default", "10.9.0.1", "veth-red"] == routes[
            [r[2] for r in routes].index("default")][:6]
        assert any(r[0] == "host" and r[2] == "10.9.0.0/24" and r[3] == "connected" for r in routes)
        # the map draws both namespaces joined by the veth pair, addresses at the ends
        app.show_tab("tab-map")
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "veth-host 10.9.0.1/24" in text and "veth-red 10.9.0.2/24" in text
        # iproute2-format output in the scrollback
        await type_command(pilot, "ip -n red addr show dev veth-red")
        assert any("inet 10.9.0.2/24" in line for line in app.output.plain_lines)
    run_ui(lab, body)


def test_ipv6_addresses_routes_and_neighbours_show(lab):
    """IPv6 is part of the kernel's state too: addresses (the automatic link-local ones dimmed, kept off
    the map), routes outside the local table, and neighbour discovery entries, as iproute2 shows them."""
    async def body(app, pilot):
        for line in ("ip netns add six", "ip link add v6h type veth peer name eth0 netns six", "ip link set lo up",
                     "ip addr add fd00:6::1/64 dev v6h nodad", "ip link set v6h up", "ip -n six link set lo up",
                     "ip -n six addr add fd00:6::2/64 dev eth0 nodad", "ip -n six link set eth0 up",
                     "ip -n six route add fd00:7::/64 via fd00:6::1", "six ping -6 -c1 -W2 fd00:6::1"):
            await type_command(pilot, line)
        await wait_for(pilot, lambda: "fd00:7::/64" in pane_text(app, "routes"), what="the IPv6 route")
        await wait_for(pilot, lambda: "fe80::" in pane_text(app, "addresses"), what="link-local addresses")
        addrs = pane_rows(app, "addresses")
        assert any(r[0] == "six" and r[2] == "fd00:6::2/64" for r in addrs)
        routes = pane_rows(app, "routes")
        via = next(r for r in routes if r[2] == "fd00:7::/64")
        assert via[0] == "six" and via[3] == "via" and via[4] == "fd00:6::1"
        assert not any(r[2].startswith("ff00::") or r[1] == "local" and ":" in r[2] for r in routes)
        await wait_for(pilot, lambda: "fd00:6::1" in pane_text(app, "neighbours"), what="the NDP entry")
        app.show_tab("tab-map")
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "eth0 fd00:6::2/64" in text and "fe80::" not in text
    run_ui(lab, body, size=(160, 45))


def test_errors_inline_and_app_keeps_going(lab):
    async def body(app, pilot):
        await type_command(pilot, "ip link set nosuch up")
        assert any('Cannot find device "nosuch"' in line for line in app.output.plain_lines)
        await type_command(pilot, "ip link add name")
        await type_command(pilot, "bogus-command 1 2")
        await type_command(pilot, "ip netns add ok1")
        await wait_for(pilot, lambda: "ok1" in app.view.states, what="ok1")
        assert app.is_running
    run_ui(lab, body)


def test_changes_made_outside_the_app_appear(lab, uniq):
    ns = f"ext{uniq}"

    async def body(app, pilot):
        kernel(None, "ip", "netns", "add", ns)
        await wait_for(pilot, lambda: ns in app.view.states, what="namespace from outside")
        kernel(None, "ip", "link", "add", "out0", "type", "veth", "peer", "name", "out1", "netns", ns)
        kernel(None, "ip", "addr", "add", "10.7.0.1/24", "dev", "out0")
        kernel(None, "ip", "link", "set", "out0", "up")
        await wait_for(pilot, lambda: any(r[1] == "out0" and "out1 @ " + ns in r[7]
                                          for r in pane_rows(app, "links")), what="out0 in links pane")
        await wait_for(pilot, lambda: "10.7.0.0/24" in pane_text(app, "routes"), what="connected route")
        tree = app.main.query_one("#nstree")      # the tree follows the panes on its own refresh: wait for it
        await wait_for(pilot, lambda: any(str(n.label).startswith(ns) for n in tree.root.children), what="ns in tree")
        # link down flushes routes without RTM_DELROUTE: the pane must still drop it
        kernel(None, "ip", "link", "set", "out0", "down")
        await wait_for(pilot, lambda: "10.7.0.0/24" not in pane_text(app, "routes"), what="route gone")
        kernel(None, "ip", "netns", "del", ns)
        await wait_for(pilot, lambda: ns not in app.view.states, what="namespace gone")
        await wait_for(pilot, lambda: not any(r[1] == "out0" for r in pane_rows(app, "links")),
                       what="veth gone with its namespace")
    run_ui(lab, body)


def test_selecting_a_namespace_focuses_every_pane(lab):
    run_ok(lab, "ip netns add red", "ip netns add blue", "ip -n red link set lo up")

    async def body(app, pilot):
        await wait_for(pilot, lambda: {"red", "blue"} <= set(app.view.states))
        tree = app.main.query_one("#nstree")
        node = next(n for n in tree.root.children if n.data == "red")
        tree.focus()
        tree.move_cursor(node)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.view.selected == "red")
        assert {r[0] for r in pane_rows(app, "links")} == {"red"}
        assert {r[0] for r in pane_rows(app, "routes")} <= {"red"}
        assert "showing namespace red" in screen_text(app)
        # clicking a box on the map selects too
        app.show_tab("tab-map")
        await pilot.pause(0.1)
        canvas = app.main.query_one("#map-canvas")
        x0, y0, x1, y1 = canvas.layout_result.region_of("blue")
        await pilot.click("#map-canvas", offset=(x0 + 1, y0 + 1))
        await wait_for(pilot, lambda: app.view.selected == "blue")
        await pilot.press("ctrl+l")
        app.action_select_ns_all()
        await pilot.pause()
        assert {r[0] for r in pane_rows(app, "links")} >= {"red", "blue", "host"}
    run_ui(lab, body)


def test_changed_rows_are_highlighted(lab):
    async def body(app, pilot):
        await type_command(pilot, "ip link add hl0 type veth peer name hl1")
        await wait_for(pilot, lambda: any(k.endswith("\x1flink\x1fhl0") for k in app.view.hot), what="hot row")
        links = app.main.query_one("#links")
        app.show_tab("tab-links")
        await pilot.pause(0.1)
        row = [r[1] for r in pane_rows(app, "links")].index("hl0")
        hot = app.lab_theme.color("changed").lower()
        strip = links.render_line(row + 1 - int(links.scroll_y))   # the row as drawn, header above it
        segs = list(strip)
        last = max(i for i, seg in enumerate(segs) if seg.text.strip())
        # every cell and the padding between them (up to the last one) sit on the highlight colour
        assert all(seg.style.bgcolor.triplet.hex == hot for seg in segs[:last + 1]), \
            [(seg.text, seg.style.bgcolor) for seg in segs[:last + 1]]
    run_ui(lab, body)


def test_history_is_persisted_and_browsable(lab, private_history):
    async def first(app, pilot):
        await type_command(pilot, "ip netns add hist1")
        await type_command(pilot, "ip netns list")
    run_ui(lab, first)
    assert "ip netns list" in private_history.read_text()

    async def second(app, pilot):
        await pilot.press("up")
        assert app.main.query_one("#command-input").value == "ip netns list"
        await pilot.press("up")
        assert app.main.query_one("#command-input").value == "ip netns add hist1"
        await pilot.press("down")
        assert app.main.query_one("#command-input").value == "ip netns list"
    run_ui(lab, second)


def test_completion_dropdown_uses_the_shared_completer(lab):
    run_ok(lab, "ip netns add compl")

    async def body(app, pilot):
        inp = app.main.query_one("#command-input")
        dd = app.main.query_one("#completions")
        await pilot.press(*"ip netns d")
        await wait_for(pilot, lambda: dd.display and dd.option_count >= 1, what="dropdown")
        await pilot.press("tab")
        assert inp.value == "ip netns del "
        await wait_for(pilot, lambda: dd.display and "compl" in str(dd.get_option_at_index(0).prompt),
                       what="namespace names offered")
        await pilot.press("tab")
        assert inp.value == "ip netns del compl "
        await pilot.press("escape")
        assert not dd.display
    run_ui(lab, body)


def test_help_screen_lists_keys_and_commands(lab):
    async def body(app, pilot):
        app.main.query_one("#nstree").focus()
        await pilot.press("question_mark")
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "Command bar" in text and "iptables" in text and "Shell in namespace" in text
        await pilot.press("escape")
        await pilot.pause(0.05)
        assert type(app.screen).__name__ == "MainScreen"
    run_ui(lab, body)


def test_themes_switch_at_run_time_and_from_files(lab, tmp_path):
    custom = tmp_path / "mine.toml"
    custom.write_text('name = "mine"\ndark = true\n[textual]\nprimary = "#ff00ff"\n[meaning]\nup = "#00ff00"\n')

    async def body(app, pilot):
        assert app.theme == "lab-dark"
        await pilot.press("ctrl+t")
        assert app.theme == "lab-light" and app.lab_theme.name == "light"
        app.set_lab_theme("projector")
        assert app.theme == "lab-projector" and app.lab_theme.color("up") == "#00ff5f"
        app.set_lab_theme(str(custom))
        assert app.theme == "lab-mine" and app.lab_theme.color("up") == "#00ff00"
        app.set_lab_theme("no-such-theme")
        assert any("Unknown theme" in line for line in app.output.plain_lines)
    run_ui(lab, body)
    from lab.ui.app import make_app
    from lab.ui.themes import ThemeError
    with pytest.raises(ThemeError):
        make_app(lab, theme="nope")


def test_shell_in_the_bar_without_a_terminal_says_so(lab):
    run_ok(lab, "ip netns add sh1")

    async def body(app, pilot):
        await type_command(pilot, "ip netns exec sh1 bash")
        assert any("Cannot open a shell here" in line for line in app.output.plain_lines)
        await type_command(pilot, "sh1 ip -br link")
        assert any(line.startswith("lo") for line in app.output.plain_lines)
    run_ui(lab, body)


def test_namespaces_vanishing_mid_render_do_not_crash(lab, uniq):
    async def body(app, pilot):
        for i in range(8):
            name = f"v{uniq}{i}"
            kernel(None, "ip", "netns", "add", name)
            kernel(None, "ip", "link", "add", f"a{i}", "type", "veth", "peer", "name", f"b{i}", "netns", name)
            if i % 2:
                kernel(None, "ip", "netns", "del", name)
            await pilot.pause(0.01)
        await wait_for(pilot, lambda: sum(1 for n in app.view.states if n.startswith(f"v{uniq}")) == 4,
                       what="the 4 surviving namespaces")
        assert app.is_running
        app.show_tab("tab-map")
        await pilot.pause(0.1)
    run_ui(lab, body)


def test_palette_has_lab_actions(lab):
    async def body(app, pilot):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for t in ("Command bar", "Show all namespaces", "Select namespace host", "Shell in host",
                  "Lab theme: projector", "Help", "Show iptables"):
            assert t in titles
    run_ui(lab, body)


def test_extras_panes_render(lab):
    """Sysctls (always) and conntrack (where iptables can load it) show in their panes."""
    run_ok(lab, "ip netns add ct", "ip -n ct link set lo up")

    async def body(app, pilot):
        app.select_ns("ct")
        app.show_tab("tab-sysctls")
        await wait_for(pilot, lambda: "net.ipv4.ip_forward" in pane_text(app, "sysctls"), what="sysctls")
        if os.path.exists("/usr/sbin/iptables-nft") or os.path.exists("/sbin/iptables-nft"):
            kernel("ct", "iptables-nft", "-A", "INPUT", "-m", "conntrack", "--ctstate", "NEW", "-j", "ACCEPT")
            kernel("ct", "ping", "-c1", "-W1", "127.0.0.1")
            kernel("ct", "ip6tables-nft", "-A", "INPUT", "-m", "conntrack", "--ctstate", "NEW", "-j", "ACCEPT")
            kernel("ct", "ping", "-6", "-c1", "-W1", "::1")
            app.show_tab("tab-conntrack")
            await wait_for(pilot, lambda: "127.0.0.1" in pane_text(app, "conntrack"), what="conntrack entry")
            await wait_for(pilot, lambda: "::1" in pane_text(app, "conntrack"), what="the IPv6 conntrack entry")
    run_ui(lab, body)


def test_one_theme_system_textuals_picker_offers_and_applies_the_labs_themes(lab):
    """Textual's own theme picker (ctrl+p, Theme) lists only the lab's themes, and picking one there
    applies it whole: the lab's meaning colours and the header follow."""
    from lab.ui.themes import available_themes

    async def body(app, pilot):
        assert set(app.available_themes) == {f"lab-{n}" for n in available_themes()}
        app.theme = "lab-projector"     # what the picker does
        await wait_for(pilot, lambda: "theme projector" in screen_text(app), what="the header follows")
        assert app.lab_theme.name == "projector" and app.lab_theme.color("up") == "#00ff5f"
    run_ui(lab, body)


def test_question_mark_on_an_empty_bar_opens_help_and_is_typed_in_a_command(lab):
    async def body(app, pilot):
        bar = app.main.query_one("#command-input")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen", what="help opened by ?")
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "MainScreen", what="back")
        app.action_focus_bar()
        await pilot.press("i", "p", "space", "question_mark")
        assert bar.value == "ip ?" and type(app.screen).__name__ == "MainScreen"
    run_ui(lab, body)


@pytest.mark.parametrize("sh", ["bash", "sh"])
def test_the_dashboards_shell_prompt_names_the_lab_and_namespace(tmp_path, sh):
    """ctrl+o opens a real shell: its prompt must say it is the lab's namespace, not the machine (bash
    keeps the user's ~/.bashrc and puts the label before its PS1)."""
    import pty
    import select
    import shutil
    import subprocess
    import time

    from lab.ui.app import shell_prompt

    if not shutil.which(sh):
        pytest.skip(f"no {sh} here")
    (tmp_path / ".bashrc").write_text("PS1='mine$ '\n")
    argv, env, tmp = shell_prompt((shutil.which(sh),), "lab sandbox · red")
    master, slave = pty.openpty()
    p = subprocess.Popen(list(argv), stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                         env={"HOME": str(tmp_path), "PATH": os.environ["PATH"], "TERM": "dumb", **env})
    os.close(slave)
    out = b""
    try:
        end = time.monotonic() + 20
        while b"[lab sandbox \xc2\xb7 red]" not in out and time.monotonic() < end:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    out += os.read(master, 4096)
                except OSError:
                    break
        os.write(master, b"exit\n")
        p.wait(timeout=20)
    finally:
        p.kill()
        os.close(master)
        if tmp is not None:
            tmp.cleanup()
    assert b"[lab sandbox \xc2\xb7 red]" in out, out
    if sh == "bash":
        assert b"mine$" in out, out    # the user's own prompt follows the label


def test_long_output_wraps_and_the_last_error_stays_in_view(lab):
    """The scrollback wraps long lines (never cuts them) and keeps the last error under the log until the
    next command, however much output scrolls by."""
    async def body(app, pilot):
        end = "THE-END-OF-A-LONG-LINE"
        app.output.output("word " * 60 + end)
        await wait_for(pilot, lambda: end in screen_text(app), what="the whole long line on screen")
        await type_command(pilot, "ip link add x type brige")
        sticky = app.main.query_one("#last-error")
        await wait_for(pilot, lambda: sticky.display and "brige" in str(sticky.render()), what="the error kept")
        for i in range(30):
            app.output.output(f"filler {i}")
        await pilot.pause(0.1)
        assert sticky.display and "brige" in screen_text(app)
        await type_command(pilot, "ip -br link")
        await wait_for(pilot, lambda: not sticky.display, what="cleared by the next command")
    run_ui(lab, body, size=(100, 30))


def test_projector_theme_is_high_contrast_in_tabs_and_tree(lab):
    """Projector: idle tabs and the tree's guides are drawn bright, not in dim grey."""
    from textual.color import Color

    async def body(app, pilot):
        app.set_lab_theme("projector")
        await pilot.pause(0.2)
        bright = Color.parse(app.lab_theme.color("muted"))
        idle = [t for t in app.main.query("Tab") if not t.has_class("-active")]
        assert idle and all(t.styles.color.brightness >= bright.brightness - 0.01 for t in idle)
        tree = app.main.query_one("#nstree")
        guides = tree.get_component_rich_style("tree--guides")
        assert guides.color is not None and Color.from_rich_color(guides.color).brightness >= 0.7
    run_ui(lab, body, size=(180, 40))


def test_tab_on_an_empty_bar_chooses_the_namespace_by_keyboard(lab):
    """At 80 columns the tree is folded away; Tab on the empty bar brings it with the focus, arrows and
    Enter choose the namespace every pane shows, Esc goes back to the bar (and folds the tree again)."""
    run_ok(lab, "ip netns add kb1", "ip netns add kb2")

    async def body(app, pilot):
        tree = app.main.query_one("#nstree")
        assert not tree.display
        await pilot.press("tab")
        await wait_for(pilot, lambda: tree.display and tree.has_focus, what="the tree, focused")
        for _ in range(12):
            if app.view.selected == "kb2":
                break
            await pilot.press("down", "enter")
        await wait_for(pilot, lambda: app.view.selected == "kb2" and "showing namespace kb2" in screen_text(app),
                       what="kb2 chosen with the keyboard")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not tree.display and app.focused is app.main.query_one("#command-input"),
                       what="back in the bar, the tree folded")
    run_ui(lab, body, size=(80, 24))


def test_tree_labels_never_cut_an_address_silently(lab):
    """A tree label too long for the tree ends in an ellipsis: `10.0.0.2/2` (a cut /24) never shows."""
    run_ok(lab, "ip netns add longaddr", "ip -n longaddr link add a-long-name-15 type veth peer name b",
           "ip -n longaddr addr add 10.123.234.201/24 dev a-long-name-15")

    async def body(app, pilot):
        width = app.main.query_one("#nstree").size.width
        left = lambda: [ln[:width] for ln in screen_text(app).splitlines()]  # noqa: E731  (the tree's columns)
        await wait_for(pilot, lambda: any("a-long-name" in ln for ln in left()), what="the link in the tree")
        row = next(ln for ln in left() if "a-long-name" in ln)
        assert row.rstrip(" │").endswith("…") and "10.123.234.201/2 " not in row + " ", row
    run_ui(lab, body, size=(140, 40))


def test_a_projector_size_terminal_shows_links_and_rules_beside_the_map(lab):
    """At 200x60 the map, the links and the iptables rules are on screen at once (and kept up to date)."""
    run_ok(lab, "ip netns add side1", "side1 iptables -A INPUT -p tcp --dport 22 -j DROP")

    async def body(app, pilot):
        assert app.main.query_one("#side").display
        await wait_for(pilot, lambda: any(r[0] == "side1" for r in pane_rows(app, "side-links"))
                       and any(r[2] == "DROP" for r in pane_rows(app, "side-iptables")), what="links and rules beside")
        run_ok(lab, "ip -n side1 link add sd0 type veth peer name sd1")
        side = app.main.query_one("#side-links")
        drawn = lambda: [str(side.get_row_at(i)[1]) for i in range(side.row_count)]  # noqa: E731  (no catch-up)
        await wait_for(pilot, lambda: "sd0" in drawn(), what="a new link drawn by itself")
        assert "Map" in screen_text(app) and "side1" in screen_text(app)
    run_ui(lab, body, size=(200, 60))


def test_the_side_panes_stay_away_below_projector_size(lab):
    async def body(app, pilot):
        assert not app.main.query_one("#side").display
    run_ui(lab, body, size=(180, 45))


def test_a_read_only_dashboard_refuses_changes_and_still_shows_the_lab(lab, uniq):
    """lab attach's dashboard (a read-only backend): a change typed in the bar is refused with the command named,
    the kernel is untouched, and a change made outside the app still appears in the panes."""
    lab.backend.read_only = True
    ns = f"ro{uniq}"

    async def body(app, pilot):
        await type_command(pilot, f"ip netns add {ns}")
        await wait_for(pilot, lambda: any("read-only session" in line for line in app.output.plain_lines),
                       what="the refusal")
        assert any(f'"ip netns add {ns}" would change the machine' in line for line in app.output.plain_lines)
        assert ns not in kernel(None, "ip", "netns", "list")
        kernel(None, "ip", "netns", "add", ns)           # the machine changes by itself: the panes follow
        await wait_for(pilot, lambda: ns in app.view.states, what="the namespace made outside")
    try:
        run_ui(lab, body)
    finally:
        lab.backend.read_only = False
