"""The dashboard's watcher: the hand-written link parser reads the same Link objects as pyroute2,
and link events update the view incrementally (only what the event names is re-read)."""
from __future__ import annotations

import dataclasses
import time

from lab.backend import state
from tests.conftest import run_ok


def test_hand_parsed_links_equal_pyroute2(lab):
    run_ok(lab, "ip netns add wa", "ip link add v0 type veth peer name eth0 netns wa",
           "ip link add br0 type bridge", "ip link set v0 master br0", "ip link set v0 up", "ip link set br0 up",
           "ip addr add 10.1.0.1/24 dev br0", "ip link set v0 mtu 1400", "ip link set dev v0 address 02:00:00:00:00:09",
           "ip link add vx42 type vxlan id 42 remote 10.1.0.2 local 10.1.0.1 dev br0 dstport 4789",
           "ip link add mv0 link br0 type macvlan mode bridge", "ip link add p0 type veth peer name p1",
           "ip -n wa link set eth0 up", "ip -n wa link set lo up")
    b = lab.backend
    for ns in (None, "wa"):
        for _ in range(50):   # carrier and IPv6 chatter settle asynchronously: compare a quiet moment
            before, by_hand, after = state.links(b, ns), b.rtnl(ns).links(ns), state.links(b, ns)
            if before == after:
                break
            time.sleep(0.05)
        assert before == after, "the links never stopped changing"
        assert by_hand == before
    vx = next(link for link in b.rtnl(None).links(None) if link.name == "vx42")
    assert (vx.kind, vx.vxlan_id, vx.vxlan_remote, vx.vxlan_local, vx.vxlan_port) == ("vxlan", 42, "10.1.0.2",
                                                                                      "10.1.0.1", 4789)


def test_hand_parsed_routes_and_neighbours_equal_pyroute2(lab):
    """The watcher's hand-parsed route and neighbour dumps give what the panes showed from pyroute2:
    IPv4 routes in every table, IPv6 outside the local table and multicast, ARP and NDP entries."""
    def shown_routes(routes):   # the spec: IPv4 in every table; IPv6 outside the local table, no multicast
        return [r for r in routes if r.family == "inet" or (r.table != 255 and r.type != "multicast"
                                                              and not r.dst.startswith("ff00::"))]

    run_ok(lab, "ip netns add wr", "ip link add v0 type veth peer name eth0 netns wr", "ip link set lo up",
           "ip addr add 10.3.0.1/24 dev v0", "ip addr add fd00:3::1/64 dev v0 nodad", "ip link set v0 up",
           "ip -n wr link set lo up", "ip -n wr addr add 10.3.0.2/24 dev eth0",
           "ip -n wr addr add fd00:3::2/64 dev eth0 nodad", "ip -n wr link set eth0 up",
           "ip route add 10.4.0.0/16 via 10.3.0.2 metric 7", "ip route add 10.5.0.0/16 dev v0 table 100",
           "ip route add blackhole 10.6.0.0/16", "ip -6 route add fd00:4::/64 via fd00:3::2",
           "ip neigh add 10.3.0.9 lladdr 02:00:00:00:00:09 dev v0", "ip -6 neigh add fd00:3::9 lladdr 02:00:00:00:00:0a dev v0")
    lab.run("wr ping -c1 -W2 10.3.0.1")
    b = lab.backend
    for ns in (None, "wr"):
        names = {link.index: link.name for link in state.links(b, ns)}
        for _ in range(50):   # neighbour states and IPv6 autoconfiguration move on their own: a quiet moment
            r1, n1 = shown_routes(state.routes(b, ns, None, None, names)), state.neighbours(b, ns, names, 0)
            r_hand, n_hand = b.rtnl(ns).routes(ns, names), b.rtnl(ns).neighbours(ns, names)
            r2, n2 = shown_routes(state.routes(b, ns, None, None, names)), state.neighbours(b, ns, names, 0)
            if (r1, n1) == (r2, n2):
                break
            time.sleep(0.05)
        assert r_hand == r1
        assert n_hand == [n for n in n1 if not (n.family == "inet6" and "NOARP" in n.state)]
    top = b.rtnl(None).routes(None, {link.index: link.name for link in state.links(b, None)})
    assert any(r.dst == "fd00:4::/64" and r.gateway == "fd00:3::2" and r.pref == "medium" for r in top)
    assert any(r.table == 100 for r in top) and any(r.type == "blackhole" for r in top)
    assert not any(r.family == "inet6" and (r.table == 255 or r.dst.startswith("ff00::")) for r in top)


def test_line_table_repaints_only_changed_rows_and_keeps_the_cursor():
    """The panes' table (lab.ui.widgets.linetable): one changed row re-renders one row; the cursor
    follows its row key when rows move; keys and clicks move it."""
    import asyncio

    from textual.app import App

    from lab.ui.widgets.linetable import LineTable

    class T(App):
        def compose(self):
            yield LineTable(id="t")

    rows = [(f"k{i}", (f"row{i}", str(i))) for i in range(30)]

    async def main():
        app = T()
        async with app.run_test(size=(60, 12)) as pilot:
            t = app.query_one(LineTable)
            t.add_columns("NAME", "N")
            t.set_rows(rows)
            t.focus()
            await pilot.pause()
            cached = set(t._strips)
            assert cached and 0 in cached
            changed = list(rows)
            changed[3] = ("k3", ("row3", "33"))
            t.set_rows(changed)
            assert set(t._strips) == cached - {3}, "only the changed row is re-rendered"
            await pilot.pause()
            assert t.get_row_at(3)[1] == "33" and 3 in t._strips
            changed[4] = ("k4", ("row4", "wider"))
            t.set_rows(changed)                     # a column grows: every row is redrawn
            assert not t._strips
            await pilot.pause()
            await pilot.press("down", "down")
            assert t.cursor_row == 2
            t.set_rows([("new", ("first", "0"))] + changed)       # a row inserted above: cursor follows k2
            assert t.row_key_at(t.cursor_row) == "k2"
            await pilot.press("end")
            assert t.cursor_row == 30 and t.scroll_y > 0
            await pilot.press("home")
            assert t.cursor_row == 0 and t.scroll_y == 0
            await pilot.click(LineTable, offset=(2, 4))
            assert t.cursor_row == 3
            lines = [t.render_line(y).text for y in range(3)]
            assert lines[0].split() == ["NAME", "N"] and lines[1].split() == ["first", "0"]

    asyncio.run(main())


def test_map_canvas_repaints_only_changed_lines():
    """The topology map's canvas caches one strip per line; a new layout that differs in one line
    drops only that line's strip; clicks are mapped through the scroll offset."""
    import asyncio

    from rich.text import Text
    from textual.app import App

    from lab.ui.widgets.topomap import MapCanvas

    class T(App):
        def compose(self):
            yield MapCanvas(id="c")

    async def main():
        app = T()
        async with app.run_test(size=(40, 10)) as pilot:
            c = app.query_one(MapCanvas)
            lines = [Text(f"line {i:02d} " + "x" * 50) for i in range(30)]
            c.set_lines(lines)
            await pilot.pause()
            cached = set(c._strips)
            assert cached == set(range(10))
            new = list(lines)
            new[4] = Text("line 04 " + "y" * 50)
            c.set_lines(new)
            assert set(c._strips) == cached - {4}
            await pilot.pause()
            assert c.render_line(4).text.startswith("line 04 yyy")
            assert c.virtual_size.width == 58 and c.virtual_size.height == 30
            c.scroll_to(x=5, y=12, animate=False)
            await pilot.pause()
            assert c.render_line(0).text.startswith("12 xxx")

    asyncio.run(main())


def test_link_events_applied_without_dumps_equal_the_kernels_links(lab, uniq):
    """After the first read, the watcher builds a namespace's links from the link events' own messages
    (no dump): a bridge renamed under its ports, links downed, re-addressed, moved to another namespace,
    deleted and added must end equal to a fresh dump of the kernel's (counters aside: they move on their
    own), and with no link dump of that namespace since the first."""
    from lab.backend.watch import Watcher
    ns, other = f"le{uniq}", f"lo{uniq}"
    run_ok(lab, f"ip netns add {ns}", f"ip netns add {other}", f"ip -n {ns} link add br0 type bridge",
           *(f"ip -n {ns} link add p{i} type veth peer name q{i}" for i in range(4)),
           *(f"ip -n {ns} link set p{i} master br0" for i in range(4)), f"ip -n {ns} link set br0 up")
    w = Watcher(lab.backend, lambda update: None)
    w.want(set(), (), False)   # nothing visible: no counters tick, no extras; only events
    w.start()

    def shown():
        st = w.states.get(ns)
        return None if st is None else [dataclasses.replace(link, stats=(0, 0, 0, 0), peer_ns=None, peer_name=None)
                                        for link in st.links]

    def kernel():
        return [dataclasses.replace(link, stats=(0, 0, 0, 0)) for link in lab.backend.rtnl(ns).links(ns)]

    def settles(what: str) -> None:
        deadline = time.monotonic() + 15
        while shown() != kernel():
            assert time.monotonic() < deadline, f"{what}: watcher shows {shown()}, kernel {kernel()}"
            time.sleep(0.05)

    try:
        settles("start")
        dumps, events = w.stats["link_dumps"], w.stats["link_events"]
        run_ok(lab, f"ip -n {ns} link set br0 down", f"ip -n {ns} link set br0 name core0",
               f"ip -n {ns} link set core0 up")
        settles("bridge renamed")
        assert {link.master for link in w.states[ns].links if link.name.startswith("p")} == {"core0"}
        run_ok(lab, f"ip -n {ns} link set p1 down", f"ip -n {ns} link set q2 mtu 1400",
               f"ip -n {ns} link set dev q3 address 02:00:00:00:00:33", f"ip -n {ns} link set q0 netns {other}",
               f"ip -n {ns} link del p2", f"ip -n {ns} link add x0 type bridge",
               f"ip -n {ns} link set p3 nomaster", f"ip -n {ns} link set p0 master x0", f"ip -n {ns} link set p1 up",
               # veths made across namespaces, either end here (the kernel announces the peer end unpaired)
               f"ip -n {ns} link add v9 type veth peer name w9 netns {other}",
               f"ip -n {other} link add y0 type veth peer name y1 netns {ns}")
        settles("after ten changes")
        peers = {link.name: (link.peer_ns, link.peer_name) for link in w.states[ns].links}
        assert peers["v9"] == (other, "w9") and peers["y1"] == (other, "y0"), peers
        names = {link.name for link in w.states[ns].links}
        assert "q0" not in names and "p2" not in names and "q2" not in names and {"x0", "v9", "y1"} <= names
        assert next(link for link in w.states[ns].links if link.name == "p0").master == "x0"
        assert w.stats["link_dumps"] == dumps, "the namespace's links were dumped again"
        assert w.stats["link_events"] > events
    finally:
        w.stop()
    assert not w.errors, w.errors


def test_counters_from_getstats_equal_the_link_dumps(lab, uniq):
    """The once-a-second counters come from RTM_GETSTATS (counters only); they are the link dump's
    IFLA_STATS64, link for link (read at a quiet moment: traffic is made first, then compared)."""
    ns = f"ct{uniq}"
    run_ok(lab, f"ip netns add {ns}", f"ip -n {ns} link set lo up", f"ip -n {ns} link add c0 type veth peer name c1",
           f"ip -n {ns} addr add 10.88.0.1/24 dev c0", f"ip -n {ns} link set c0 up", f"ip -n {ns} link set c1 up")
    lab.run(f"{ns} ping -c2 -i0.2 -W1 127.0.0.1")
    r = lab.backend.rtnl(ns)
    try:
        for _ in range(50):
            fast = r.link_counters()
            r._getstats = False
            slow = r.link_counters()
            r._getstats = True
            if fast == r.link_counters():
                break
            time.sleep(0.05)
        assert fast == slow
        assert len(fast) == 3 and fast[1][0] >= 4   # lo: the pings, both ways
    finally:
        r._getstats = True


def test_extras_are_named_before_their_modules_load():
    """The watcher knows the extras' names without importing their modules (kept off the first paint);
    the names are exactly what those modules register, and a reader is there once asked for."""
    import subprocess
    import sys

    from lab.backend import watch

    assert set(watch.load_extras()) == watch.EXTRA_NAMES
    code = ("import sys; from lab.backend.watch import Watcher; w = Watcher(object(), print); "
            "assert not any(m in sys.modules for m in ('lab.backend.tc', 'lab.backend.iptables')), 'imported'; "
            "assert callable(w.extras['qdiscs']) and 'lab.backend.tc' in sys.modules; print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "ok", r.stderr


def test_evolve_is_dataclasses_replace():
    from lab.model import Address, Link, NsState, evolve

    link = Link(ns="a", index=3, name="eth0", kind="veth", link_index=4, stats=(1, 2, 3, 4))
    for changes in ({"name": "e1"}, {"peer_ns": "b", "peer_name": "v0"}, {}, {"stats": (0, 0, 0, 0)}):
        new = evolve(link, **changes)
        want = dataclasses.replace(link, **changes)
        assert new == want and hash(new) == hash(want) and repr(new) == repr(want) and type(new) is Link
    assert link.name == "eth0"   # the original is untouched
    st = evolve(NsState(name="a"), links=(link,), addresses=(Address(ns="a", index=3, dev="eth0", family="inet",
                                                                       local="10.0.0.1", prefixlen=24),))
    assert st == NsState(name="a", links=(link,), addresses=st.addresses)
    try:
        evolve(link, nmae="x")
    except TypeError as e:
        assert "nmae" in str(e)
    else:
        raise AssertionError("an unknown field was accepted")


PREFETCH_LAB = r"""
import dataclasses, json, os, select, sys, threading, time
from lab.backend import sandbox
sandbox.enter_sandbox()
from lab.backend.core import Backend
from lab.backend.watch import Watcher
from lab.engine import Engine

e = Engine(Backend())
b = e.backend
n = Watcher.PREFETCH_MIN + 10
lines = ["ip link add br0 type bridge", "ip link set br0 up"]
for i in range(n):
    lines += [f"ip netns add p{i}", f"ip link add v{i} type veth peer name eth0 netns p{i}", f"ip link set v{i} master br0",
              f"ip link set v{i} up", f"ip -n p{i} addr add 10.9.{i // 200}.{i % 200 + 1}/16 dev eth0",
              f"ip -n p{i} link set eth0 up"]
for key in ("net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"):   # no autoconf chatter
    b.sysctl_set(None, key, "1")
for r in e.run_lines(lines[:2]):
    assert r.ok, r.error
for i in range(n):
    assert e.run(f"ip netns add p{i}").ok
    for key in ("net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"):
        b.sysctl_set(f"p{i}", key, "1")
for r in e.run_lines([x for x in lines[2:] if not x.startswith("ip netns add")]):
    assert r.ok, (r.line, r.error)

def watch(how):
    got = threading.Event()
    w = Watcher(b, lambda u: got.set() if u.initial else None)
    w.want(set(), (), False)
    if how == "two":
        w.PREFETCH_CHILDREN = 2   # the split between children (by CPUs, more than one only on 3+ CPUs)
    forked = w.prefetch() if how != "thread" else False
    if forked:
        for _pid, r in w._prefetch[0]:   # the children have written: what changes now, they did not see
            select.select([r], [], [], 30)
        if how == "killed":
            for pid, _r in w._prefetch[0]:
                os.kill(pid, 9)
        for cmd in ("ip -n p7 addr add 10.99.0.7/24 dev eth0", "ip netns del p11", "ip netns add pnew",
                    "ip link add vnew type veth peer name eth0 netns pnew", "ip -n p3 link set eth0 mtu 1400"):
            r = e.run(cmd)
            assert r.ok, r.error
    w.start()
    assert got.wait(60), "no first update"
    return w, forked

def core(states):   # counters aside: they are read by the once-a-second tick, off here (IGMP reports move them)
    return {ns: dataclasses.replace(st, links=tuple(dataclasses.replace(l, stats=(0, 0, 0, 0)) for l in st.links))
            for ns, st in states.items()}

out = {}
for how in ("child", "two", "killed"):
    w, forked = watch(how)
    ref, _ = watch("thread")   # a read of the kernel now, in the worker (this process has threads now: no fork)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and core(w.states) != core(ref.states):
        time.sleep(0.05)
    out[how] = {"forked": forked, "equal": core(w.states) == core(ref.states), "n": len(w.states),
                "dumps": w.stats["link_dumps"], "errors": w.errors, "children": w.stats.get("prefetch_children"),
                "p7": sorted(a.cidr for a in w.states["p7"].addresses), "p11": "p11" in w.states,
                "pnew": "pnew" in w.states, "p3": [l.mtu for l in w.states["p3"].links if l.name == "eth0"],
                "peer": [(l.peer_ns, l.peer_name) for l in w.states[""].links if l.name == "v5"]}
    w.stop(); ref.stop()
    for cmd in ("ip -n p7 addr del 10.99.0.7/24 dev eth0", "ip netns add p11", "ip netns del pnew",
                "ip -n p3 link set eth0 mtu 1500"):
        assert e.run(cmd).ok
print(json.dumps(out))
"""


def test_first_read_in_a_child_equals_a_read_in_the_worker():
    """A large lab's first read is done by a forked child while the screen is built (Watcher.prefetch):
    its states, taken over by the worker, equal the worker's own read of the kernel, changes made after
    the child had read (an address, a namespace deleted and one made, an mtu) included: they came as
    events on the sockets opened before the fork; the same with the namespaces split between two children.
    A child killed before it could hand over: its share is read by the worker instead."""
    import json
    import subprocess
    import sys

    from tests import labproc

    r = subprocess.run([sys.executable, "-c", PREFETCH_LAB], env=labproc.env(), capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    for how in ("child", "two", "killed"):
        got = out[how]
        assert got["forked"] and got["equal"], (how, got)
        assert (got["p7"], got["p11"], got["pnew"], got["p3"]) == (["10.9.0.8/16", "10.99.0.7/24"], False, True,
                                                                   [1400]), (how, got)
        assert got["peer"] == [["p5", "eth0"]], (how, got)
    # the child's states were used: the worker dumped links only where events came after the child's read
    assert out["child"]["dumps"] <= 8 and out["child"]["errors"] == [], out["child"]
    assert out["two"]["children"] == 2 and out["two"]["dumps"] <= 8 and out["two"]["errors"] == [], out["two"]
    # the killed child: noted, and every namespace read by the worker
    assert out["killed"]["dumps"] > 100 and any("prefetch" in x for x in out["killed"]["errors"]), out["killed"]


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as hst  # noqa: E402


@settings(max_examples=150, deadline=None)
@given(hst.integers(0, 2**32 - 1))
def test_changed_peers_equal_peers_resolved_from_scratch(seed):
    """The watcher resolves veth peers after a change only where they can have changed
    (resolve_changed_peers, with the kept PairIndex); after any sequence of changes (pairs made, deleted,
    renamed, moved to another namespace, flags flipped; small ifindexes so that pairs are ambiguous and
    the nsid decides) every link's peer equals a resolution of everything from scratch."""
    import random

    from lab.backend.watch import PairIndex, resolve_changed_peers, resolve_peers
    from lab.model import Link, NsState, evolve

    rng = random.Random(seed)
    names = ["", "a", "b", "c", "d"]

    def nsid_of(ns, other):
        return names.index(other) * 3 + 1 if other != ns else None

    raw: dict[str, dict[int, Link]] = {ns: {} for ns in names}   # the kernel: ns -> ifindex -> link (no peers)
    counter = [0]

    def free_index(ns):
        i = rng.randint(2, 6)
        while i in raw[ns]:
            i += 1
        return i

    def add_pair():
        a, b = rng.choice(names), rng.choice(names)
        ia = free_index(a)
        raw[a][ia] = Link(ns=a, index=ia, name="tmp", kind="veth")
        ib = free_index(b)
        del raw[a][ia]
        counter[0] += 1
        la = Link(ns=a, index=ia, name=f"x{counter[0]}", kind="veth", link_index=ib,
                  link_netnsid=None if a == b else nsid_of(a, b))
        lb = Link(ns=b, index=ib, name=f"y{counter[0]}", kind="veth", link_index=ia,
                  link_netnsid=None if a == b else nsid_of(b, a))
        raw[a][ia], raw[b][ib] = la, lb

    def veths():
        return [(ns, i) for ns in names for i, link in raw[ns].items() if link.kind == "veth"]

    def peer_of(ns, i):
        link = raw[ns][i]
        for other in names:
            p = raw[other].get(link.link_index)
            if p is not None and p.link_index == i and (p.ns, p.index) != (ns, i) and (
                    (other == ns) == (link.link_netnsid is None)) and (
                    link.link_netnsid is None or nsid_of(ns, other) == link.link_netnsid):
                return other, link.link_index
        return None

    def op():
        k = rng.randrange(5)
        vs = veths()
        if k == 0 or not vs:
            add_pair()
            return
        ns, i = rng.choice(vs)
        link = raw[ns][i]
        if k == 1:   # delete the pair
            p = peer_of(ns, i)
            del raw[ns][i]
            if p is not None:
                raw[p[0]].pop(p[1], None)
        elif k == 2:
            counter[0] += 1
            raw[ns][i] = evolve(link, name=f"r{counter[0]}")
        elif k == 3:   # move this end to another namespace (its ifindex may change there)
            p = peer_of(ns, i)
            to = rng.choice(names)
            j = i if i not in raw[to] else free_index(to)
            del raw[ns][i]
            raw[to][j] = evolve(link, ns=to, index=j,
                                link_netnsid=None if p is not None and p[0] == to else
                                (nsid_of(to, p[0]) if p is not None else link.link_netnsid))
            if p is not None and (j != i or rng.random() < 0.5):   # else no event for the peer: it stays as read
                q = raw[p[0]][p[1]]
                raw[p[0]][p[1]] = evolve(q, link_index=j, link_netnsid=None if p[0] == to else nsid_of(p[0], to))
        else:
            raw[ns][i] = evolve(link, flags=() if link.flags else ("UP",))

    def snapshot():
        return {ns: NsState(name=ns, links=tuple(raw[ns][i] for i in sorted(raw[ns]))) for ns in names}

    for _ in range(3):
        add_pair()
    states = snapshot()
    index = PairIndex()
    index.rebuild(states)
    states.update(resolve_peers(states, nsid_of, index=index))
    for _ in range(12):
        op()
        fresh = snapshot()
        before = {}
        for ns in names:   # as _read_core: unchanged links are the objects shown (peers included)
            shown = {link.index: link for link in states[ns].links}
            links = []
            for link in fresh[ns].links:
                s = shown.get(link.index)
                if s is not None and evolve(s, peer_ns=None, peer_name=None) == link:
                    links.append(s)
                elif s is not None and s.kind == link.kind and rng.random() < 0.5:   # peer kept until resolved
                    links.append(evolve(link, peer_ns=s.peer_ns, peer_name=s.peer_name))
                else:
                    links.append(link)
            if tuple(links) != states[ns].links or any(a is not b for a, b in zip(links, states[ns].links)):
                before[ns] = states[ns]
                states[ns] = NsState(name=ns, links=tuple(links))
                index.set(ns, states[ns].links)
        for ns, st in resolve_changed_peers(states, before, index, nsid_of).items():
            states[ns] = st
            index.set(ns, st.links)
        want = snapshot()
        want.update(resolve_peers(want, nsid_of))
        assert states == want, [(a.ns, a.name, (a.peer_ns, a.peer_name), "want", (b.peer_ns, b.peer_name))
                                for ns in names for a, b in zip(states[ns].links, want[ns].links) if a != b]
