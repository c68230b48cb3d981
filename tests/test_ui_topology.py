"""Pure tests of the topology map layout and of veth peer resolution across namespaces."""
from __future__ import annotations

import pytest

from lab.backend.watch import resolve_peers
from lab.model import Address, Link, NsState
from lab.ui.topology import layout

pytestmark = pytest.mark.fast   # pure: no kernel, no sandboxed lab (pytest -m fast)


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


def test_peers_resolved_by_index_pairs_across_namespaces():
    states = {s.name: s for s in star(3)}
    v1 = next(link for link in states[""].links if link.name == "v1")
    assert (v1.peer_ns, v1.peer_name) == ("ns01", "eth0")
    eth0 = next(link for link in states["ns02"].links if link.name == "eth0")
    assert (eth0.peer_ns, eth0.peer_name) == ("", "v2")


def test_ambiguous_pairs_use_the_nsid_to_decide():
    # a<->b and c<->d all have index 2 / link 2: only the nsid tells them apart
    mk = lambda ns, nsid: NsState(ns, links=(veth(ns, 2, "e", 2, link_netnsid=nsid),))  # noqa: E731
    states = {"a": mk("a", 0), "b": mk("b", 0), "c": mk("c", 1), "d": mk("d", 1)}
    ids = {("a", "b"): 0, ("b", "a"): 0, ("c", "d"): 1, ("d", "c"): 1}
    out = resolve_peers(states, lambda ns, other: ids.get((ns, other), 7))
    assert out["a"].links[0].peer_ns == "b" and out["c"].links[0].peer_ns == "d"
    assert out["d"].links[0].peer_ns == "c"


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


def test_map_copes_with_half_known_objects():
    # a veth whose peer namespace vanished, a bridge port whose bridge is gone, an empty namespace
    odd = NsState("odd", links=(veth("odd", 2, "ghost", 99, peer_ns="gone", peer_name="x"),
                                Link("odd", 3, "port", kind="veth", master="nobridge")))
    m = layout([odd, NsState("empty")], selected="odd")
    text = "\n".join(t.plain for t in m.lines)
    assert "ghost" in text and "(no links)" in text


def test_a_namespace_with_only_lo_shows_its_loopback():
    fresh = NsState("fresh", links=(Link("fresh", 1, "lo", link_type="loopback", flags=("LOOPBACK",),
                                         operstate="DOWN"),))
    text = "\n".join(t.plain for t in layout([fresh]).lines)
    assert "○ lo (loopback only)" in text and "(no links)" not in text
