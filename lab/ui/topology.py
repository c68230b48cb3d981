"""Topology map layout, pure (no widgets): namespaces as boxes, bridges as hub boxes listing their ports,
veth pairs as edges between the interface rows at each end (addresses shown on those rows), down links
drawn dashed in the "down" colour.

Layout is a left-to-right tree per connected component (rooted at the host, or the busiest namespace):
each subtree gets its own horizontal band and each parent's edges get nested trunks, so tree edges never
cross; edges that close a cycle are listed under the map. Namespaces without links flow in a grid at the
bottom. When the full boxes do not fit the height, boxes go compact (no top/bottom borders) so a star of
20 namespaces still fits a projected screen.

A large lab (more than FULL_MAP_MAX namespaces) is drawn as an overview instead (build_overview): the
namespaces that hang off the same node alone (a bridge's ports, or one namespace's veths) fold into one
group box ("1000 namespaces on br0 @ host": their names, how many cables are up and which are down, their
addresses), and the node's rows for those cables into one "▸ 1000 ports" row; a group opens GROUP_PAGE
namespaces at a time, and the selected namespace and those a name filter matches are drawn as boxes of
their own (MapFocus). Past SKELETON_MAX other namespaces, the rest are listed in a "not drawn" box. Work
per namespace is kept per NsState and Link object (they are immutable; a change replaces a few), so a
redraw of a 1,000-namespace overview costs a few milliseconds.
"""
from __future__ import annotations

import functools
from collections import deque
from typing import Sized
from dataclasses import dataclass, field

from rich.text import Text

from lab.model import Link, NsState
from lab.ui.view import addresses_by_dev, ns_label

N, E, S, W = 1, 2, 4, 8
LINE = {E | W: "─", N | S: "│", E | S: "┌", W | S: "┐", N | E: "└", N | W: "┘", N | E | S: "├",
        N | W | S: "┤", E | W | S: "┬", E | W | N: "┴", N | E | S | W: "┼", E: "╶", W: "╴", N: "╵", S: "╷"}
DASHED = {E | W: "┄", N | S: "┆"}


@dataclass
class MapRow:
    key: str                       # interface name
    segs: list[tuple[str, str]]    # (text, meaning or style)

    @functools.cached_property
    def width(self) -> int:   # segs are complete when a row is made (rows are replaced, never edited)
        return sum(len(t) for t, _ in self.segs)


@dataclass
class MapNode:
    id: str
    ns: str
    title: str
    hub: bool = False
    rows: list[MapRow] = field(default_factory=list)
    x: int = 0
    y: int = 0
    depth: int = 0
    children: list = field(default_factory=list)   # (parent_row, child, child_row, up)
    slots: dict = field(default_factory=dict)      # child id -> trunk slot of a bent edge
    group: str | None = None                       # a group box (large labs): the group's id

    def row_of(self, key: str) -> int:
        index = self._memo("rows", lambda: {r.key: i for i, r in reversed(list(enumerate(self.rows)))})
        return index.get(key, 0)

    @property
    def width(self) -> int:
        return self._memo("width", lambda: max([len(self.title) + 6] + [r.width + 4 for r in self.rows]))

    def _memo(self, what: str, fn):
        """fn() computed once per list of rows (a bridge hub of 200 ports is asked hundreds of times)."""
        memo = self.__dict__.setdefault("_memos", {})
        key = (id(self.rows), len(self.rows))
        hit = memo.get(what)
        if hit is None or hit[0] != key:
            hit = memo[what] = (key, fn())
        return hit[1]


@dataclass
class MapEdge:
    a: str
    a_row: str
    b: str
    b_row: str
    up: bool


@dataclass
class MapLayout:
    lines: list[Text]
    regions: list[tuple[int, int, int, int, str]]   # x0, y0, x1, y1 (exclusive), namespace
    width: int
    height: int
    group_regions: list[tuple[int, int, int, int, str]] = field(default_factory=list)   # ..., group id
    groups: dict[str, "MapGroup"] = field(default_factory=dict)   # large labs: the groups drawn
    drawn: int = 0                                                 # namespaces drawn as boxes

    def group_at(self, x: int, y: int) -> str | None:
        for x0, y0, x1, y1, gid in self.group_regions:
            if x0 <= x < x1 and y0 <= y < y1:
                return gid
        return None

    def ns_at(self, x: int, y: int) -> str | None:
        for x0, y0, x1, y1, ns in self.regions:
            if x0 <= x < x1 and y0 <= y < y1:
                return ns
        return None

    def region_of(self, ns: str) -> tuple[int, int, int, int] | None:
        for x0, y0, x1, y1, n in self.regions:
            if n == ns:
                return x0, y0, x1, y1
        return None


# ---- graph ----------------------------------------------------------------------------------------
def _iface_row(st: NsState, link, addrs: dict[str, list[str]], names_only: bool = False) -> MapRow:
    up = link.up and link.operstate not in ("DOWN", "LOWERLAYERDOWN")
    glyph = "◆" if link.kind == "bridge" else ("●" if up else "○")
    segs = [(glyph + " ", "up" if up else "down"), (link.name, "bold" if up else "down")]
    if names_only:
        return MapRow(link.name, segs)
    a = addrs.get(link.name, [])
    if a:
        segs.append((" " + a[0] + (f" +{len(a) - 1}" if len(a) > 1 else ""), "address"))
    if link.kind == "vxlan" and link.vxlan_id is not None:
        segs.append((f" vni {link.vxlan_id}" + (f"→{link.vxlan_remote}" if link.vxlan_remote else ""), "muted"))
    return MapRow(link.name, segs)


def build_graph(states: list[NsState], names_only: bool = False, hubs: bool = True,
                folded: dict[tuple[str, str], str] | None = None) -> tuple[dict[str, MapNode], list[MapEdge]]:
    """The map's boxes and cables; for a narrow terminal, names_only: interfaces without their addresses,
    hubs=False: no box per bridge (its ports' cables start at the bridge's row in its namespace).
    `folded` ((namespace, link) -> group id: the near ends of cables into a group box) draws those links
    as one summary row per group, keyed "grp:<group id>" (see overview)."""
    nodes: dict[str, MapNode] = {}
    edges: list[MapEdge] = []
    folded = folded or {}
    for st in states:
        addrs = addresses_by_dev(st)
        bridges = {link.name for link in st.links if link.kind == "bridge"}
        node = MapNode(f"ns:{st.name}", st.name, ns_label(st.name))
        nodes[node.id] = node
        node.rows = _rows(st, [link for link in st.links if not (link.link_type == "loopback" or link.master in bridges
                                                                  or link.kernel_made)],
                          addrs, names_only, folded, "veth")
        if not node.rows:
            lo = next((link for link in st.links if link.link_type == "loopback"), None)
            if lo is not None:   # a fresh namespace: its loopback, so "is lo up?" shows here too
                row = _iface_row(st, lo, addrs)
                node.rows.append(MapRow(row.key, row.segs + [(" (loopback only)", "muted")]))
            else:
                node.rows.append(MapRow("", [("(no links)", "muted")]))
        for br in sorted(bridges) if hubs else ():
            hub = MapNode(f"br:{st.name}:{br}", st.name, f"{br} @ {ns_label(st.name)}", hub=True)
            brl = next(link for link in st.links if link.name == br)
            hub.rows.append(MapRow(br, [("bridge ", "bridge"), ("up" if brl.up else "down",
                                                                  "up" if brl.up else "down")]))
            hub.rows += _rows(st, [link for link in st.links if link.master == br], addrs, False, folded, "port")
            nodes[hub.id] = hub
            edges.append(MapEdge(node.id, br, hub.id, br, brl.up))
    # (ns, link) -> (node id, row, link, peer): a bridge port's cable starts at its row in the bridge's box,
    # or (no hubs) at the bridge's own row in its namespace's box
    ends = _ends(states, hubs)
    done = set()
    for (ns, name), (nid, at, link, peer) in ends.items():
        other = ends.get(peer)
        if other is None or peer in done:
            continue
        done.add((ns, name))
        oid, oat, ol, _ = other
        if nid in nodes and oid in nodes:
            edges.append(MapEdge(nid, at, oid, oat, _cable_up(link, ol)))
    return nodes, edges


def _rows(st: NsState, links: list, addrs: dict[str, list[str]], names_only: bool,
          folded: dict[tuple[str, str], str], noun: str) -> list[MapRow]:
    """A box's interface rows; links folded into a group become one row per group, where the first was."""
    rows: list[MapRow] = []
    tally: dict[str, list[int]] = {}   # group id -> [links, up]
    for link in links:
        gid = folded.get((st.name, link.name)) if folded else None
        if gid is None:
            rows.append(_iface_row(st, link, addrs, names_only))
            continue
        t = tally.get(gid)
        if t is None:
            t = tally[gid] = [0, 0]
            rows.append(MapRow(f"grp:{gid}", []))
        t[0] += 1
        t[1] += _link_up(link)
    for r in rows:
        if r.key.startswith("grp:") and not r.segs:
            n, up = tally[r.key[4:]]
            r.segs = [("▸ ", "muted"), (f"{n} {noun}{'s' if n != 1 else ''}", "bold")]
            r.segs.append((", all up", "up") if up == n else (f", {n - up} down", "down"))
    return rows


def _link_up(link: Link) -> bool:
    return link.up and link.operstate not in ("DOWN", "LOWERLAYERDOWN")


def _cable_up(a: Link, b: Link) -> bool:
    return a.up and b.up and a.operstate != "DOWN" and b.operstate != "DOWN"


def _ends(states: list[NsState], hubs: bool = True) -> dict[tuple[str, str], tuple[str, str, Link, tuple[str, str]]]:
    """(ns, link) -> (node id, row, link, peer) of every veth whose peer is known."""
    ends: dict[tuple[str, str], tuple[str, str, Link, tuple[str, str]]] = {}
    for st in states:
        ends.update(_state_info(st, hubs)[0])
    return ends


_STATE_INFO: dict[tuple[int, bool], tuple[NsState, tuple]] = {}   # (id(state), hubs) -> (state, info)
_END: dict[tuple[int, bool, bool], tuple] = {}   # (id(link), hubs, bridge port) -> (link, ns, ((ns, name), end))
_LEAF: dict[int, tuple] = {}   # id(state) -> (state, the far ends of its cables, (nodes reached, a cable down, near ends))


def _state_info(st: NsState, hubs: bool = True) -> tuple[list, list, bool]:
    """One namespace's part of _ends ((key, end) pairs), its own cables' ends (not a bridge's ports), and
    whether it has a bridge; kept while the NsState object lives on (states are immutable and a change
    replaces only the namespaces it touched: a map of 1,000 namespaces recomputes one or two)."""
    hit = _STATE_INFO.get((id(st), hubs))
    if hit is not None and hit[0] is st:
        return hit[1]
    bridges = {link.name for link in st.links if link.kind == "bridge"}
    pairs, own = [], []
    for link in st.links:
        if link.kind == "veth" and link.peer_name and link.peer_ns is not None:
            port = link.master in bridges
            hit_end = _END.get((id(link), hubs, port))
            if hit_end is not None and hit_end[0] is link and hit_end[1] == st.name:
                pair = hit_end[2]   # the same tuple for an unchanged link: groups_of's cache compares by identity
            else:
                if port:
                    nid, at = ((f"br:{st.name}:{link.master}", link.name) if hubs
                               else (f"ns:{st.name}", link.master or ""))
                else:
                    nid, at = f"ns:{st.name}", link.name
                pair = ((st.name, link.name), (nid, at, link, (link.peer_ns, link.peer_name)))
                _END[(id(link), hubs, port)] = (link, st.name, pair)
            pairs.append(pair)
            if not port:
                own.append(pair[1])
    if len(_STATE_INFO) > 4096:   # forget states long replaced
        _STATE_INFO.clear()
    if len(_END) > 16384:
        _END.clear()
    info = (pairs, own, bool(bridges))
    _STATE_INFO[(id(st), hubs)] = (st, info)
    return info


# ---- large labs: a group box instead of a box per namespace -------------------------------------------
FULL_MAP_MAX = 40     # namespaces: up to this many, each is drawn as its own box (the full map)
GROUP_MIN = 3         # beyond it, namespaces hanging off the same node (a bridge, a namespace) fold into a group
GROUP_PAGE = 12       # an opened group shows this many of its namespaces as boxes at a time
MATCH_MAX = 24        # namespaces matching the map's filter drawn as boxes at most (the rest stay folded)
SKELETON_MAX = 40     # other namespaces (routers, bridge owners...) drawn as boxes at most
MORE = "more"         # the id of the group of namespaces left out past SKELETON_MAX


@dataclass
class MapFocus:
    """What the user asked of a large lab's map: a name filter, and the groups opened (id -> page)."""
    filter: str = ""
    opened: dict[str, int] = field(default_factory=dict)

    def key(self) -> tuple:
        return self.filter, tuple(sorted(self.opened.items()))


@dataclass
class MapGroup:
    id: str              # the node its namespaces hang off ("br:NS:BR", "ns:NS"), "" (no cables) or MORE
    members: list[str]   # every namespace of the group, in the lab's order
    folded: list[str]    # those drawn inside the group box (the rest are boxes of their own)
    down: list[str] = field(default_factory=list)   # folded namespaces with a cable down

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.members) // GROUP_PAGE))


def name_filter(text: str):
    """A predicate on namespace names: any of the words (a glob when it has * ? [, else a part of the
    name, case ignored); None for an empty filter."""
    import fnmatch

    words = text.lower().split()
    if not words:
        return None
    globs = [w for w in words if any(c in w for c in "*?[")]
    parts = [w for w in words if w not in globs]

    def match(ns: str) -> bool:
        name = ns_label(ns).lower()
        return any(p in name for p in parts) or any(fnmatch.fnmatchcase(name, g) for g in globs)
    return match


def groups_of(states: list[NsState], selected: str | None, focus: MapFocus) -> tuple[list[str], dict[str, MapGroup],
                                                                                     dict[tuple[str, str], str]]:
    """Which namespaces a large map draws as boxes, and the groups the others fold into.
    Returns (namespaces drawn, groups by id, folded near ends: (namespace, link) -> group id)."""
    order = [st.name for st in states]
    infos = [_state_info(st) for st in states]
    ends: dict = {}
    for info in infos:
        ends.update(info[0])
    reach: dict[str, int] = {}           # namespace -> how many nodes its own cables reach
    members: dict[str, list[str]] = {}   # node -> the namespaces hanging off it alone ("": no cables)
    cables: dict[str, tuple[bool, tuple]] = {}   # namespace -> (a cable down, the far ends' keys)
    if len(_LEAF) > 4096 + 2 * len(states):
        _LEAF.clear()
    for ns, st, (_, own, has_bridge) in zip(order, states, infos):
        far = tuple(ends.get(end[3]) for end in own)
        hit = _LEAF.get(id(st))
        if (hit is not None and hit[0] is st and len(hit[1]) == len(far)
                and all(a is b for a, b in zip(hit[1], far))):
            nodes, down, near = hit[2]
        else:
            nodes = frozenset(o[0] for o in far if o is not None)
            down = any(o is not None and not _cable_up(end[2], o[2]) for end, o in zip(own, far))
            near = tuple(end[3] for end, o in zip(own, far) if o is not None)
            _LEAF[id(st)] = (st, far, (nodes, down, near))
        cables[ns] = (down, near)
        reach[ns] = len(nodes)
        if has_bridge or ns == "":
            continue
        if not nodes:
            members.setdefault("", []).append(ns)
        elif len(nodes) == 1:
            parent = next(iter(nodes))
            if parent != f"ns:{ns}":
                members.setdefault(parent, []).append(ns)
    groups = {gid: MapGroup(gid, m, []) for gid, m in members.items() if len(m) >= GROUP_MIN}
    match = name_filter(focus.filter)
    out = {selected} if selected is not None else set()
    if match is not None:
        out.update([ns for ns in order if match(ns)][:MATCH_MAX])
    for gid, page in focus.opened.items():
        g = groups.get(gid)
        if g is not None:
            out.update(g.members[page * GROUP_PAGE:(page + 1) * GROUP_PAGE])
    in_group: set[str] = set()
    for g in groups.values():
        g.folded = [m for m in g.members if m not in out]
        if len(g.folded) < GROUP_MIN and g.id not in focus.opened:
            g.folded = []   # a handful left: drawn as boxes
        in_group.update(g.folded)
    drawn = [ns for ns in order if ns not in in_group]
    # the rest of the lab (routers, bridge owners, odd ones): past SKELETON_MAX, into one more group
    if len(drawn) > SKELETON_MAX + len(out):
        keep = set(out) | ({""} if "" in drawn else set())
        for ns in sorted((ns for ns in drawn if ns not in keep), key=lambda ns: -reach.get(ns, 0)):
            if len(keep) >= SKELETON_MAX + len(out):
                break
            keep.add(ns)
        more = [ns for ns in drawn if ns not in keep]
        drawn = [ns for ns in drawn if ns in keep]
        for g in list(groups.values()):   # a group hanging off a namespace left out goes with it
            owner = _owner(g.id)
            if owner is not None and owner not in keep and g.folded:
                more.extend(g.folded)
                del groups[g.id]
        pos = {ns: i for i, ns in enumerate(order)}
        more.sort(key=pos.__getitem__)
        groups[MORE] = MapGroup(MORE, more, more)
    groups = {gid: g for gid, g in groups.items() if g.folded}
    folded: dict[tuple[str, str], str] = {}
    for g in groups.values():
        for m in g.folded:
            down, near = cables[m]
            if g.id not in ("", MORE):
                for key in near:
                    folded[key] = g.id
            if down:
                g.down.append(m)
    return drawn, groups, folded


def _owner(node_id: str) -> str | None:
    """The namespace of a node id ("ns:NS", "br:NS:BR")."""
    if node_id.startswith("ns:"):
        return node_id[3:]
    if node_id.startswith("br:"):
        return node_id[3:].rsplit(":", 1)[0]
    return None


def build_overview(states: list[NsState], selected: str | None, focus: MapFocus,
                   names_only: bool = False) -> tuple[dict[str, MapNode], list[MapEdge], dict[str, MapGroup]]:
    """The large lab's map: the namespaces groups_of draws, each group as one box with a cable to the
    row that stands for its cables in the node they hang off."""
    drawn, groups, folded = groups_of(states, selected, focus)
    by_name = {st.name: st for st in states}
    nodes, edges = build_graph([by_name[n] for n in drawn], names_only, True, folded)
    match = name_filter(focus.filter)
    for g in groups.values():
        node = MapNode(f"grp:{g.id}", "", _group_title(g), group=g.id)
        node.rows = _group_rows(g, by_name, focus, match, names_only)
        nodes[node.id] = node
        parent = nodes.get(g.id)
        if parent is not None and any(r.key == node.id for r in parent.rows):
            edges.append(MapEdge(parent.id, node.id, node.id, "names", len(g.down) < len(g.folded)))
    return nodes, edges, groups


def _group_title(g: MapGroup) -> str:
    n = len(g.folded)
    count = f"{n} {'more ' if n < len(g.members) else ''}namespace{'s' if n != 1 else ''}"
    if g.id == MORE:
        return f"{count} not drawn"
    if g.id == "":
        return f"{count} without cables"
    if g.id.startswith("br:"):
        ns, br = g.id[3:].rsplit(":", 1)   # (an interface name has no colon)
        return f"{count} on {br} @ {ns_label(ns)}"
    return f"{count} on {ns_label(g.id[3:])}"


def _group_rows(g: MapGroup, by_name: dict[str, NsState], focus: MapFocus, match, names_only: bool) -> list[MapRow]:
    f = g.folded
    names = ", ".join(ns_label(n) for n in f) if len(f) <= 3 else f"{ns_label(f[0])} … {ns_label(f[-1])}"
    rows = [MapRow("names", [(names, "bold")])]
    if g.id == MORE:
        rows.append(MapRow("why", [("a filter (/) or the tree shows them", "muted")]))
    elif g.id == "":
        rows.append(MapRow("why", [("no veth to another namespace", "muted")]))
    else:
        up, down = len(f) - len(g.down), g.down
        segs: list[tuple[str, str]] = [("● ", "up"), (f"{up} up", "up")] if up else []
        if down:
            shown = ", ".join(ns_label(n) for n in down[:4]) + (f" +{len(down) - 4}" if len(down) > 4 else "")
            segs += [("  " if up else "", ""), ("○ ", "down"), (f"{len(down)} down: {shown}", "down")]
        rows.append(MapRow("state", segs))
        if not names_only:
            first, last = _cable_address(by_name[f[0]]), _cable_address(by_name[f[-1]])
            if first or last:
                rows.append(MapRow("addr", [(" … ".join(a for a in (first, last) if a), "address")]))
    if match is not None:
        hits = sum(1 for n in f if match(n))
        if hits:
            rows.append(MapRow("hits", [(f"{hits} more match the filter", "address")]))
    page = focus.opened.get(g.id)
    if page is not None and g.id in focus.opened:
        a, b = page * GROUP_PAGE + 1, min(len(g.members), (page + 1) * GROUP_PAGE)
        nxt = "close" if page + 1 >= g.pages else f"the next {GROUP_PAGE}"
        rows.append(MapRow("hint", [(f"open: {a}-{b} of {len(g.members)} · click: {nxt}", "muted")]))
    else:
        rows.append(MapRow("hint", [(f"click: open {GROUP_PAGE} at a time", "muted")]))
    return rows


def _cable_address(st: NsState) -> str:
    """The first address on the namespace's first cable (its veth), else its first address."""
    addrs = addresses_by_dev(st)
    for link in st.links:
        if link.kind == "veth" and addrs.get(link.name):
            return addrs[link.name][0]
    return next((a[0] for a in addrs.values() if a), "")


# ---- layout ---------------------------------------------------------------------------------------
def _components(nodes: dict[str, MapNode], edges: list[MapEdge]) -> list[list[str]]:
    adj: dict[str, set[str]] = {n: set() for n in nodes}
    for e in edges:
        adj[e.a].add(e.b)
        adj[e.b].add(e.a)
    seen, comps = set(), []
    for n in nodes:
        if n in seen:
            continue
        comp, q = [], deque([n])
        seen.add(n)
        while q:
            c = q.popleft()
            comp.append(c)
            for o in adj[c]:
                if o not in seen:
                    seen.add(o)
                    q.append(o)
        comps.append(comp)
    return comps


def _root(comp: list[str], nodes: dict[str, MapNode], edges: list[MapEdge]) -> str:
    if "ns:" in comp:
        return "ns:"
    deg: dict[str, int] = {n: 0 for n in comp}
    for e in edges:
        for end in (e.a, e.b):
            if end in deg:
                owner = f"ns:{nodes[end].ns}"
                deg[owner if owner in deg else end] += 1
    return max((n for n in comp if not nodes[n].hub), key=lambda n: (deg[n], -len(n)), default=comp[0])


def is_large(states: Sized) -> bool:
    """Past FULL_MAP_MAX namespaces the map groups them (build_overview) instead of a box for each."""
    return len(states) > FULL_MAP_MAX


def layout(states: list[NsState], selected: str | None = None, max_height: int | None = None,
           max_width: int = 120, resolve=lambda meaning: meaning, cache: dict | None = None,
           focus: MapFocus | None = None) -> MapLayout:
    """Lay out and draw the map. `resolve` turns a meaning (up, down, address, title...) into a
    Rich style; regions map screen cells back to namespaces for mouse selection. `cache` (a dict the
    caller keeps, one per `resolve`) gives back the previous call's Text for every line drawn the same:
    a link going down in a 200-namespace map builds two or three lines anew, not 600.
    A large lab (is_large) is drawn as its overview: namespaces hanging off the same bridge or namespace
    folded into one group box, opened a page at a time or picked out by `focus` (filter, opened groups)
    and by the selection."""
    groups: dict[str, MapGroup] = {}
    if is_large(states):
        focus = focus or MapFocus()

        def graph(names_only: bool = False, hubs: bool = True):
            nodes, edges, gs = build_overview(states, selected, focus, names_only)
            groups.clear()
            groups.update(gs)
            return nodes, edges
    else:
        def graph(names_only: bool = False, hubs: bool = True):
            return build_graph(states, names_only, hubs)
    nodes, edges = graph()
    placed, extra, height = _arrange(nodes, edges, False, max_width)
    note = None
    wide = lambda: max([n.x + n.width for n in placed] + [0]) > max_width  # noqa: E731
    if wide():
        # too wide for the terminal: the same map with interface names only, then without a box per
        # bridge, and a line that says so (a value is never cut silently)
        nodes, edges = graph(names_only=True)
        placed, extra, height = _arrange(nodes, edges, False, max_width)
        note = "(narrow: no addresses here; see Addresses)"
        if wide() and not is_large(states):
            nodes, edges = graph(names_only=True, hubs=False)
            placed, extra, height = _arrange(nodes, edges, False, max_width)
            note = "(narrow: bridge ports are the cables from the bridge's row; no addresses here)"
    off = 1
    if max_height is not None and height > max_height:
        for n in nodes.values():
            if n.group is not None:   # a group's title is long: a row of its own, above the others
                n.rows = [MapRow("title", [(n.title, "title")])] + n.rows
                continue
            pad = " " * (len(n.title) + 1)
            n.rows = [MapRow(r.key, [(pad, "")] + r.segs) for r in n.rows]
        placed, extra, height = _arrange(nodes, edges, True, max_width)
        off = 0
    out = _draw(nodes, placed, extra, height, selected, off, resolve, cache, note)
    out.drawn = sum(1 for n in placed if n.group is None and not n.hub)
    out.groups = groups
    return out


def _arrange(nodes, edges, compact: bool, max_width: int) -> tuple[list[MapNode], list[MapEdge], int]:
    off = 0 if compact else 1
    for n in nodes.values():
        n.children = []
    comps = _components(nodes, edges)
    multi = [c for c in comps if len(c) > 1]
    single = [c[0] for c in comps if len(c) == 1]
    multi.sort(key=lambda c: ("ns:" not in c, -len(c), min(c)))
    extra: list[MapEdge] = []
    placed: list[MapNode] = []
    y = 0
    for comp in multi:
        root = nodes[_root(comp, nodes, edges)]
        tree_nodes = _bfs_tree(root, nodes, edges, extra)
        _place(root, y, off)
        y = max(n.y + len(n.rows) + 2 * off for n in tree_nodes) + 1
        _columns(tree_nodes, off)
        placed.extend(tree_nodes)
    # namespaces with no links at all: a flowing grid
    x = 0
    row_h = 0
    for nid in sorted(single, key=lambda i: (i != "ns:", i)):
        n = nodes[nid]
        if x and x + n.width > max_width:
            x, y = 0, y + row_h + 1
            row_h = 0
        n.x, n.y = x, y
        x += n.width + 2
        row_h = max(row_h, len(n.rows) + 2 * off)
        placed.append(n)
    if single:
        y += row_h + 1
    return placed, extra, y + len(extra)


def _draw(nodes, placed, extra, height, selected, off, resolve, cache=None, note: str | None = None) -> MapLayout:
    width = max([n.x + n.width for n in placed] + [1]) + 1
    canvas = _Canvas(width, height - len(extra))
    for n in placed:
        _draw_box(canvas, n, off, selected)
    for n in placed:
        for prow, child, crow, up in n.children:
            _draw_edge(canvas, n, prow, child, crow, up, n.slots.get(child.id, 0), off)
    lines = canvas.texts(resolve, cache)
    for e in extra:
        a, b = nodes[e.a], nodes[e.b]
        t = Text("  ")
        t.append(f"{ns_label(a.ns)}:{e.a_row}", style="bold")
        t.append(" ──── " if e.up else " ┄┄┄┄ ", style=resolve("up" if e.up else "down"))
        t.append(f"{ns_label(b.ns)}:{e.b_row}", style="bold")
        lines.append(t)
    if note:
        import textwrap

        lines += [Text(part, style=resolve("muted")) for part in textwrap.wrap(note, max(20, width - 1))]
    regions = [(n.x, n.y, n.x + n.width, n.y + len(n.rows) + 2 * off, n.ns) for n in placed if n.group is None]
    group_regions = [(n.x, n.y, n.x + n.width, n.y + len(n.rows) + 2 * off, n.group) for n in placed
                     if n.group is not None]
    return MapLayout(lines=lines, regions=regions, width=width, height=len(lines), group_regions=group_regions)


def _bfs_tree(root: MapNode, nodes, edges: list[MapEdge], extra: list[MapEdge]) -> list[MapNode]:
    adj: dict[str, list[tuple[MapEdge, bool]]] = {}
    for e in edges:
        adj.setdefault(e.a, []).append((e, True))
        adj.setdefault(e.b, []).append((e, False))
    seen = {root.id}
    order = [root]
    root.depth = 0
    used = set()
    q = deque([root])
    while q:
        n = q.popleft()
        for e, forward in adj.get(n.id, []):
            if id(e) in used:
                continue
            used.add(id(e))
            other_id, my_row, other_row = (e.b, e.a_row, e.b_row) if forward else (e.a, e.b_row, e.a_row)
            if other_id in seen:
                extra.append(e)
                continue
            child = nodes[other_id]
            seen.add(other_id)
            child.depth = n.depth + 1
            n.children.append((n.row_of(my_row), child, child.row_of(other_row), e.up))
            order.append(child)
            q.append(child)
    for n in order:
        n.children.sort(key=lambda c: (c[0], c[1].title))
    return order


def _place(node: MapNode, y0: int, off: int) -> int:
    """Place the subtree in a band starting at y0; returns the band's bottom (exclusive)."""
    node.y = y0
    cursor = y0
    bottom = y0 + len(node.rows) + 2 * off
    for prow, child, crow, _ in node.children:
        want = y0 + off + prow - off - crow   # the child's row level with the parent's row
        top = max(cursor, want)
        cbottom = _place(child, top, off)
        cursor = cbottom + (0 if off == 0 else 1)
        bottom = max(bottom, cbottom)
    return bottom


def _columns(tree_nodes: list[MapNode], off: int) -> None:
    """x of each depth column; edges that must bend get nested trunk slots (straight ones need none)."""
    depth = max(n.depth for n in tree_nodes)
    widths = [0] * (depth + 1)
    trunks = [0] * (depth + 1)
    for n in tree_nodes:
        widths[n.depth] = max(widths[n.depth], n.width)
        bent = [c for prow, c, crow, _ in n.children if c.y + off + crow != n.y + off + prow]
        n.slots = {c.id: len(bent) - 1 - i for i, c in enumerate(bent)}
        trunks[n.depth] = max(trunks[n.depth], len(bent))
    xs = [0]
    for d in range(depth):
        xs.append(xs[-1] + widths[d] + 2 * trunks[d] + 5)
    for n in tree_nodes:
        n.x = xs[n.depth]


# ---- drawing --------------------------------------------------------------------------------------
class _Canvas:
    def __init__(self, width: int, height: int):
        self.w, self.h = width, height
        self.chars = [[" "] * width for _ in range(height)]
        self.styles: list[list[str]] = [[""] * width for _ in range(height)]
        self.bits = [[0] * width for _ in range(height)]
        self.dashed = [[False] * width for _ in range(height)]

    def put(self, x: int, y: int, text: str, style: str = "") -> None:
        if not 0 <= y < self.h:
            return
        start, end = max(0, x), min(self.w, x + len(text))
        if start < end:
            self.chars[y][start:end] = text[start - x:end - x]
            self.styles[y][start:end] = [style] * (end - start)

    def line(self, x: int, y: int, bits: int, style: str, dashed: bool) -> None:
        if not (0 <= x < self.w and 0 <= y < self.h):
            return
        self.bits[y][x] |= bits
        self.dashed[y][x] = self.dashed[y][x] or dashed
        b = self.bits[y][x]
        ch = DASHED[b] if self.dashed[y][x] and b in DASHED else LINE.get(b, "┼")
        self.chars[y][x] = ch
        if not self.styles[y][x] or style == "down":
            self.styles[y][x] = style

    def texts(self, resolve, cache: dict | None = None) -> list[Text]:
        """One Text per line; with `cache` (line -> Text of the previous call, replaced by this call's)
        a line drawn exactly as before is the same Text object, not built again."""
        out = []
        seen: dict = {}
        for y in range(self.h):
            row, st = self.chars[y], self.styles[y]
            key = ("".join(row), tuple(st))
            t = seen.get(key) or (cache.get(key) if cache is not None else None)
            if t is None:
                t = Text(no_wrap=True)
                start = 0
                for x in range(1, self.w + 1):
                    if x == self.w or st[x] != st[start]:
                        t.append(key[0][start:x], style=resolve(st[start]) if st[start] else None)
                        start = x
                t.rstrip()
            seen[key] = t
            out.append(t)
        if cache is not None:
            cache.clear()
            cache.update(seen)
        return out


def _draw_box(c: _Canvas, n: MapNode, off: int, selected: str | None) -> None:
    w = n.width
    sel = selected is not None and n.ns == selected and n.group is None
    border = "selected" if sel else ("bridge" if n.hub else ("group" if n.group is not None else "namespace"))
    title_style = "title-selected" if sel else ("title-bridge" if n.hub else "title")
    if off:
        tl, tr, bl, br, h = (("╔", "╗", "╚", "╝", "═") if n.hub else ("┏", "┓", "┗", "┛", "━") if n.group is not None
                             else ("╭", "╮", "╰", "╯", "─"))
        c.put(n.x, n.y, tl + h + " " + n.title + " " + h * (w - len(n.title) - 5) + tr, border)
        c.put(n.x + 3, n.y, n.title, title_style)
        c.put(n.x, n.y + len(n.rows) + 1, bl + h * (w - 2) + br, border)
    v = "║" if n.hub else ("┃" if off == 0 or n.group is not None else "│")
    for i, r in enumerate(n.rows):
        y = n.y + off + i
        c.put(n.x, y, v + " " * (w - 2) + v, border)
        x = n.x + 2
        for text, style in r.segs:
            c.put(x, y, text, style)
            x += len(text)
    if off == 0 and n.group is None:  # compact boxes carry their title on the first row (a group's is a row)
        c.put(n.x + 2, n.y, n.title, title_style)


def _draw_edge(c: _Canvas, p: MapNode, prow: int, ch: MapNode, crow: int, up: bool, slot: int,
               off: int) -> None:
    style = "up" if up else "down"
    dashed = not up
    yp = p.y + off + prow
    yc = ch.y + off + crow
    xr = p.x + p.width - 1
    xl = ch.x
    c.put(xr, yp, "╟" if p.hub else "├", style)
    c.put(xl, yc, "╢" if ch.hub else "┤", style)
    xt = xr + 2 + 2 * slot
    for x in range(xr + 1, xt):
        c.line(x, yp, E | W, style, dashed)
    if yc == yp:
        for x in range(xt, xl):
            c.line(x, yp, E | W, style, dashed)
        return
    c.line(xt, yp, W | (S if yc > yp else N), style, dashed)
    step = 1 if yc > yp else -1
    for y in range(yp + step, yc, step):
        c.line(xt, y, N | S, style, dashed)
    c.line(xt, yc, (N if yc > yp else S) | E, style, dashed)
    for x in range(xt + 1, xl):
        c.line(x, yc, E | W, style, dashed)
