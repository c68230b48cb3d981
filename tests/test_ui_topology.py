"""Tests of the topology map: the layout and veth peer resolution across namespaces (pure), and the
overview of a large lab (groups of namespaces, opened a page at a time, a filter, the selection), pure and
through the dashboard over a sandboxed lab of 60 namespaces."""
from __future__ import annotations

import pytest

from lab.backend.watch import resolve_peers
from lab.model import Address, Link, NsState
from lab.ui import topology
from lab.ui.topology import MapFocus, layout
from tests.test_ui_support import run_ui, screen_text, wait_for

fast = pytest.mark.fast   # pure: no kernel, no sandboxed lab (pytest -m fast)


def veth(ns, idx, name, peer_idx, up=True, master=None, **kw):
    return Link(ns=ns, index=idx, name=name, kind="veth", link_index=peer_idx, master=master,
                flags=("UP",) if up else (), operstate="UP" if up else "DOWN", **kw)


def star(n: int) -> list[NsState]:
    host_links = [Link("", 1, "lo", link_type="loopback"), Link("", 2, "br0", kind="bridge", flags=("UP",),
                                                                  operstate="UP")]
    spokes = []
    for k in range(n):
        host_links.append(veth("", 3 + k, f"v{k}", 2, master="br0", up=k != 5))
        spokes.append(NsState(f"ns{k:02d}", links=(Link(f"ns{k:02d}", 1, "lo", link_type="loopback"),
                                                    veth(f"ns{k:02d}", 2, "eth0", 3 + k)),
                              addresses=(Address(f"ns{k:02d}", 2, "eth0", "inet", f"10.0.0.{k + 1}", 24),)))
    states = {"": NsState("", links=tuple(host_links)), **{s.name: s for s in spokes}}
    states.update(resolve_peers(states))
    return list(states.values())


@fast
def test_peers_resolved_by_index_pairs_across_namespaces():
    states = {s.name: s for s in star(3)}
    v1 = next(link for link in states[""].links if link.name == "v1")
    assert (v1.peer_ns, v1.peer_name) == ("ns01", "eth0")
    eth0 = next(link for link in states["ns02"].links if link.name == "eth0")
    assert (eth0.peer_ns, eth0.peer_name) == ("", "v2")


@fast
def test_ambiguous_pairs_use_the_nsid_to_decide():
    # a<->b and c<->d all have index 2 / link 2: only the nsid tells them apart
    mk = lambda ns, nsid: NsState(ns, links=(veth(ns, 2, "e", 2, link_netnsid=nsid),))  # noqa: E731
    states = {"a": mk("a", 0), "b": mk("b", 0), "c": mk("c", 1), "d": mk("d", 1)}
    ids = {("a", "b"): 0, ("b", "a"): 0, ("c", "d"): 1, ("d", "c"): 1}
    out = resolve_peers(states, lambda ns, other: ids.get((ns, other), 7))
    assert out["a"].links[0].peer_ns == "b" and out["c"].links[0].peer_ns == "d"
    assert out["d"].links[0].peer_ns == "c"


@fast
def test_star_of_20_namespaces_is_readable_on_one_screen():
    m = layout(star(20), max_height=38, max_width=120)
    text = "\n".join(t.plain for t in m.lines)
    assert m.height <= 38 and m.width <= 120
    for k in range(20):
        assert f"ns{k:02d}" in text and f"10.0.0.{k + 1}/24" in text
    assert "br0 @ host" in text
    assert "┄" in text            # the down link (v5) is dashed
    x0, y0, x1, y1 = m.region_of("ns07")
    assert m.ns_at(x0 + 1, y0) == "ns07"


@fast
def test_map_copes_with_half_known_objects():
    # a veth whose peer namespace vanished, a bridge port whose bridge is gone, an empty namespace
    odd = NsState("odd", links=(veth("odd", 2, "ghost", 99, peer_ns="gone", peer_name="x"),
                                Link("odd", 3, "port", kind="veth", master="nobridge")))
    m = layout([odd, NsState("empty")], selected="odd")
    text = "\n".join(t.plain for t in m.lines)
    assert "ghost" in text and "(no links)" in text


@fast
def test_a_namespace_with_only_lo_shows_its_loopback():
    fresh = NsState("fresh", links=(Link("fresh", 1, "lo", link_type="loopback", flags=("LOOPBACK",),
                                         operstate="DOWN"),))
    text = "\n".join(t.plain for t in layout([fresh]).lines)
    assert "○ lo (loopback only)" in text and "(no links)" not in text


# ---- large labs: the overview ------------------------------------------------------------------------
def text_of(m) -> str:
    return "\n".join(t.plain for t in m.lines)


def boxes(m) -> set[str]:
    """The namespaces drawn as boxes of their own."""
    return {ns for *_, ns in m.regions}


@fast
def test_up_to_FULL_MAP_MAX_namespaces_each_has_its_box():
    states = star(topology.FULL_MAP_MAX - 1)      # + the host
    assert not topology.is_large(states)
    m = layout(states, max_height=500, max_width=200)
    assert boxes(m) == {st.name for st in states} and not m.group_regions


@fast
def test_a_large_star_is_one_group_box_on_its_bridge():
    m = layout(star(60), max_height=38, max_width=120)
    text = text_of(m)
    assert m.height <= 12 and boxes(m) == {""}
    assert "60 namespaces on br0 @ host" in text and "ns00 … ns59" in text
    assert "59 up" in text and "1 down: ns05" in text               # v5 is down
    assert "10.0.0.1/24 … 10.0.0.60/24" in text
    assert "▸ 60 ports, 1 down" in text                            # the hub's rows for them, folded
    assert "click: open 12 at a time" in text
    (x0, y0, x1, y1, gid), = m.group_regions
    assert gid == "br::br0" and m.group_at(x0 + 1, y0 + 1) == gid and m.ns_at(x0 + 1, y0 + 1) is None
    assert m.groups[gid].folded == [f"ns{k:02d}" for k in range(60)]


@fast
def test_selection_filter_and_pages_pull_namespaces_out_of_the_group():
    states = star(60)
    m = layout(states, selected="ns07", max_height=38, max_width=120)
    assert boxes(m) == {"", "ns07"} and "59 more namespaces on br0 @ host" in text_of(m)
    assert "● v7" in text_of(m)                                      # its cable starts at its own port row
    m = layout(states, focus=MapFocus(filter="ns1*"), max_height=80, max_width=120)
    assert boxes(m) == {""} | {f"ns{k}" for k in range(10, 20)} and "50 more namespaces" in text_of(m)
    m = layout(states, focus=MapFocus(filter="NS42 ns43"), max_height=80, max_width=120)   # words: any; case ignored
    assert boxes(m) == {"", "ns42", "ns43"}
    m = layout(states, focus=MapFocus(opened={"br::br0": 0}), max_height=80, max_width=120)
    assert boxes(m) == {""} | {f"ns{k:02d}" for k in range(12)} and "open: 1-12 of 60 · click: the next 12" in text_of(m)
    m = layout(states, focus=MapFocus(opened={"br::br0": 4}), max_height=80, max_width=120)
    assert boxes(m) >= {f"ns{k}" for k in range(48, 60)} and "open: 49-60 of 60 · click: close" in text_of(m)


@fast
def test_a_lab_of_1000_namespaces_draws_a_map_that_fits_a_screen():
    m = layout(star(1000), max_height=38, max_width=120)
    assert m.height <= 12 and m.width <= 120
    assert "1000 namespaces on br0 @ host" in text_of(m)


@fast
def test_namespaces_without_cables_and_more_than_SKELETON_MAX_others_are_folded_too():
    lone = [NsState(f"lone{k:03d}") for k in range(100)]
    pairs = []
    for k in range(50):   # a veth pair between two namespaces: neither hangs off a shared node
        a, b = f"pa{k:02d}", f"pb{k:02d}"
        pairs += [NsState(a, links=(veth(a, 2, "e", 2, peer_ns=b, peer_name="e"),)),
                  NsState(b, links=(veth(b, 2, "e", 2, peer_ns=a, peer_name="e"),))]
    m = layout(lone + pairs, max_height=400, max_width=160)
    text = text_of(m)
    assert "100 namespaces without cables" in text
    assert len(boxes(m)) == topology.SKELETON_MAX and f"{100 - topology.SKELETON_MAX} namespaces not drawn" in text


# ---- the overview in the dashboard -------------------------------------------------------------------
def build_star(engine, n: int) -> None:
    """n namespaces s00.. with a veth each into br0 in the top namespace (as bench/bench_tui.py builds)."""
    r = engine.run_lines(["ip link add br0 type bridge", "ip link set br0 up"])
    assert all(x.ok for x in r), [x.error for x in r]
    for i in range(n):
        assert engine.run(f"ip netns add s{i:02d}").ok
    lines = []
    for i in range(n):
        lines += [f"ip link add v{i:02d} type veth peer name eth0 netns s{i:02d}", f"ip link set v{i:02d} master br0",
                  f"ip link set v{i:02d} up", f"ip -n s{i:02d} addr add 10.7.0.{i + 1}/24 dev eth0",
                  f"ip -n s{i:02d} link set eth0 up"]
    r = engine.run_lines(lines)
    assert all(x.ok for x in r), [x.error for x in r if not x.ok][:3]


@pytest.fixture
def private_history(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_HISTORY", str(tmp_path / "history"))


def test_the_map_of_60_namespaces_groups_them_and_opens_the_group_a_page_at_a_time(lab, private_history):
    build_star(lab, 60)

    async def body(app, pilot):
        canvas = app.main.query_one("#map-canvas")
        await wait_for(pilot, lambda: "60 namespaces on br0 @ host" in screen_text(app)
                       and "61 namespaces: 1 drawn, 60 in 1 group" in screen_text(app), timeout=15,
                       what="the group box and the bar above the map (painted apart)")
        text = screen_text(app)
        assert "s00 … s59" in text and "60 up" in text and "▸ 60 ports, all up" in text
        assert "61 namespaces: 1 drawn, 60 in 1 group" in text      # the bar above the map
        # a change made outside the dashboard shows in the group box
        assert lab.run("ip -n s07 link set eth0 down").ok
        await wait_for(pilot, lambda: "1 down: s07" in screen_text(app), what="s07 down in the group box")
        # a click on the group opens its first 12 namespaces as boxes, the next click the next 12
        for page, first in ((0, 0), (1, 12)):
            (x0, y0, *_), = canvas.layout_result.group_regions
            await pilot.click("#map-canvas", offset=(x0 + 2 - int(canvas.scroll_x), y0 + 1 - int(canvas.scroll_y)))
            want = {f"s{k:02d}" for k in range(first, first + 12)}
            await wait_for(pilot, lambda: want <= boxes(canvas.layout_result), what=f"page {page + 1} open")
            assert f"open: {first + 1}-{first + 12} of 60" in text_of(canvas.layout_result)
            assert not {f"s{k:02d}" for k in range(60)} - want & boxes(canvas.layout_result)
    run_ui(lab, body, size=(160, 60))


def test_the_selection_and_the_filter_draw_namespaces_of_a_large_lab_as_boxes(lab, private_history):
    build_star(lab, 60)

    async def body(app, pilot):
        canvas = app.main.query_one("#map-canvas")
        await wait_for(pilot, lambda: canvas.layout_result is not None and canvas.layout_result.groups, timeout=15,
                       what="the overview")
        app.select_ns("s42")
        await wait_for(pilot, lambda: boxes(canvas.layout_result) == {"", "s42"}, what="s42 drawn")
        assert "59 more namespaces on br0 @ host" in screen_text(app)
        app.select_ns(None)
        await wait_for(pilot, lambda: boxes(canvas.layout_result) == {""}, what="s42 back in its group")
        # / is the map's filter (from anywhere but a text field); Esc goes back to the command bar
        app.main.query_one("#nstree").focus()
        await pilot.press("slash")
        assert app.focused is not None and app.focused.id == "map-filter"
        await pilot.press("s", "5", "asterisk")
        await wait_for(pilot, lambda: boxes(canvas.layout_result) == {""} | {f"s5{k}" for k in range(10)},
                       what="s50..s59 drawn")
        assert "50 more namespaces" in screen_text(app)
        await pilot.press("escape")
        assert app.focused is not None and app.focused.id == "command-input"
    run_ui(lab, body, size=(160, 60))
