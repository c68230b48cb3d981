"""Topology map layout, pure (no widgets): namespaces as boxes, bridges as hub boxes listing their ports,
veth pairs as edges between the interface rows at each end (addresses shown on those rows), down links
drawn dashed in the "down" colour.

Layout is a left-to-right tree per connected component (rooted at the host, or the busiest namespace):
each subtree gets its own horizontal band and each parent's edges get nested trunks, so tree edges never
cross; edges that close a cycle are listed under the map. Namespaces without links flow in a grid at the
bottom. When the full boxes do not fit the height, boxes go compact (no top/bottom borders) so a star of
20 namespaces still fits a projected screen.
"""
from __future__ import annotations

import functools
from collections import deque
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


def build_graph(states: list[NsState], names_only: bool = False,
                hubs: bool = True) -> tuple[dict[str, MapNode], list[MapEdge]]:
    """The map's boxes and cables; for a narrow terminal, names_only: interfaces without their addresses,
    hubs=False: no box per bridge (its ports' cables start at the bridge's row in its namespace)."""
    nodes: dict[str, MapNode] = {}
    edges: list[MapEdge] = []
    for st in states:
        addrs = addresses_by_dev(st)
        bridges = {link.name for link in st.links if link.kind == "bridge"}
        node = MapNode(f"ns:{st.name}", st.name, ns_label(st.name))
        nodes[node.id] = node
        for link in st.links:
            if link.link_type == "loopback" or link.master in bridges or link.kernel_made:
                continue
            node.rows.append(_iface_row(st, link, addrs, names_only))
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
            for link in st.links:
                if link.master == br:
                    hub.rows.append(_iface_row(st, link, addrs))
            nodes[hub.id] = hub
            edges.append(MapEdge(node.id, br, hub.id, br, brl.up))
    # (ns, link) -> (node id, row, link, peer): a bridge port's cable starts at its row in the bridge's box,
    # or (no hubs) at the bridge's own row in its namespace's box
    ends: dict[tuple[str, str], tuple[str, str, Link, tuple[str, str]]] = {}
    for st in states:
        bridges = {link.name for link in st.links if link.kind == "bridge"}
        for link in st.links:
            if link.kind == "veth" and link.peer_name and link.peer_ns is not None:
                if link.master in bridges:
                    nid, at = ((f"br:{st.name}:{link.master}", link.name) if hubs
                               else (f"ns:{st.name}", link.master or ""))
                else:
                    nid, at = f"ns:{st.name}", link.name
                ends[(st.name, link.name)] = (nid, at, link, (link.peer_ns, link.peer_name))
    done = set()
    for (ns, name), (nid, at, link, peer) in ends.items():
        other = ends.get(peer)
        if other is None or peer in done:
            continue
        done.add((ns, name))
        oid, oat, ol, _ = other
        if nid in nodes and oid in nodes:
            edges.append(MapEdge(nid, at, oid, oat, link.up and ol.up and link.operstate != "DOWN"
                                 and ol.operstate != "DOWN"))
    return nodes, edges


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


def layout(states: list[NsState], selected: str | None = None, max_height: int | None = None,
           max_width: int = 120, resolve=lambda meaning: meaning, cache: dict | None = None) -> MapLayout:
    """Lay out and draw the map. `resolve` turns a meaning (up, down, address, title...) into a
    Rich style; regions map screen cells back to namespaces for mouse selection. `cache` (a dict the
    caller keeps, one per `resolve`) gives back the previous call's Text for every line drawn the same:
    a link going down in a 200-namespace map builds two or three lines anew, not 600."""
    nodes, edges = build_graph(states)
    placed, extra, height = _arrange(nodes, edges, False, max_width)
    note = None
    wide = lambda: max([n.x + n.width for n in placed] + [0]) > max_width  # noqa: E731
    if wide():
        # too wide for the terminal: the same map with interface names only, then without a box per
        # bridge, and a line that says so (a value is never cut silently)
        nodes, edges = build_graph(states, names_only=True)
        placed, extra, height = _arrange(nodes, edges, False, max_width)
        note = "(narrow: no addresses here; see Addresses)"
        if wide():
            nodes, edges = build_graph(states, names_only=True, hubs=False)
            placed, extra, height = _arrange(nodes, edges, False, max_width)
            note = "(narrow: bridge ports are the cables from the bridge's row; no addresses here)"
    if max_height is not None and height > max_height:
        for n in nodes.values():
            pad = " " * (len(n.title) + 1)
            n.rows = [MapRow(r.key, [(pad, "")] + r.segs) for r in n.rows]
        placed, extra, height = _arrange(nodes, edges, True, max_width)
        return _draw(nodes, placed, extra, height, selected, 0, resolve, cache, note)
    return _draw(nodes, placed, extra, height, selected, 1, resolve, cache, note)


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
    regions = [(n.x, n.y, n.x + n.width, n.y + len(n.rows) + 2 * off, n.ns) for n in placed]
    return MapLayout(lines=lines, regions=regions, width=width, height=len(lines))


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
    sel = selected is not None and n.ns == selected
    border = "selected" if sel else ("bridge" if n.hub else "namespace")
    title_style = "title-selected" if sel else ("title-bridge" if n.hub else "title")
    if off:
        tl, tr, bl, br, h = ("╔", "╗", "╚", "╝", "═") if n.hub else ("╭", "╮", "╰", "╯", "─")
        c.put(n.x, n.y, tl + h + " " + n.title + " " + h * (w - len(n.title) - 5) + tr, border)
        c.put(n.x + 3, n.y, n.title, title_style)
        c.put(n.x, n.y + len(n.rows) + 1, bl + h * (w - 2) + br, border)
    v = "║" if n.hub else ("┃" if off == 0 else "│")
    for i, r in enumerate(n.rows):
        y = n.y + off + i
        c.put(n.x, y, v + " " * (w - 2) + v, border)
        x = n.x + 2
        for text, style in r.segs:
            c.put(x, y, text, style)
            x += len(text)
    if off == 0:  # compact boxes carry their title on the first row
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
