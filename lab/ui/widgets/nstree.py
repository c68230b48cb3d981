"""Namespace tree: "all namespaces" at the root, each namespace with its links (state glyph, address).
Updated in place (only namespaces that changed are rebuilt, expansion kept; a collapsed namespace gets
its link rows when it is opened, and nodes added in one pass re-layout the tree once); selecting a node
selects the namespace everywhere."""
from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from lab.ui.view import addresses_by_dev, ns_label

LINE_CACHE = 256


class NamespaceTree(Tree):
    BINDINGS = [Binding("escape", "back_to_bar", "Back to the command bar", show=False)]
    FIELDS = frozenset({"links", "addresses", "namespaces"})
    _batch = False          # inside show(): node additions re-layout once, at its end
    _batch_dirty = False

    class Chosen(Message):
        def __init__(self, ns: str | None) -> None:
            super().__init__()
            self.ns = ns

    def __init__(self, **kw) -> None:
        super().__init__("all namespaces", data=None, **kw)
        self.show_root = True
        self.guide_depth = 2
        self._ns_nodes: dict[str, TreeNode] = {}
        self._drawn: dict[str, tuple] = {}   # ns -> (links, addresses, selected, theme, signature) drawn
        self._stale: set[str] = set()        # collapsed namespaces whose links are not added yet
        # Tree keeps 1024 rendered lines, each a Strip with its own caches of crops; a relabel makes the
        # old ones unreachable, so under a storm the cache fills with dead lines: a few screens is plenty
        self._line_cache.maxsize = LINE_CACHE

    def show(self, view, theme) -> None:
        if not self.root.is_expanded:
            self.root.expand()
        order = list(view.order)
        self._batch = True   # one re-layout for the whole pass, not one per node added (_invalidate)
        try:
            for name in list(self._ns_nodes):
                if name not in view.states:
                    self._ns_nodes.pop(name).remove()
                    self._drawn.pop(name, None)
                    self._stale.discard(name)
            before_of = self._insertion_points(order)
            for name in order:
                st = view.states[name]
                sel = view.selected == name
                last = self._drawn.get(name)
                if (last is not None and last[0] is st.links and last[1] is st.addresses and last[2] == sel
                        and last[3] == theme.name):
                    continue   # the same objects as drawn: nothing to compare
                sig = (tuple((link.name, link.kind, link.flags, link.operstate) for link in st.links), st.addresses,
                       sel, theme.name)
                node = self._ns_nodes.get(name)
                if node is None:
                    node = self.root.add(self._label(name, view, theme), data=name, before=before_of.get(name),
                                         expand=len(order) <= 12)
                    self._ns_nodes[name] = node
                elif last is not None and last[4] == sig:
                    self._drawn[name] = (st.links, st.addresses, sel, theme.name, sig)
                    continue
                else:
                    node.set_label(self._label(name, view, theme))
                self._drawn[name] = (st.links, st.addresses, sel, theme.name, sig)
                if not node.is_expanded:   # its links are added when it is opened (a lab of 1,000: 3,000 rows)
                    self._stale.add(name)
                    continue
                self._fill(node, st, theme)
            root_label = Text("all namespaces", style="bold reverse" if view.selected is None else "bold")
            if self.root.label != root_label:
                self.root.set_label(root_label)
        finally:
            self._batch = False
            if self._batch_dirty:
                self._batch_dirty = False
                super()._invalidate()

    def _fill(self, node: TreeNode, st, theme) -> None:
        """The namespace's links as its children (relabelled in place when the same links)."""
        self._stale.discard(st.name)
        addrs = addresses_by_dev(st)
        labels = [self._leaf(link, addrs, theme) for link in st.links]
        kids = list(node.children)
        if len(kids) == len(labels):   # same links: relabel in place (no re-layout)
            for kid, label in zip(kids, labels):
                if kid.label != label:
                    kid.set_label(label)
        else:
            node.remove_children()
            for t in labels:
                node.add_leaf(t, data=st.name)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded) -> None:
        name = event.node.data
        view, theme = getattr(self.app, "view", None), getattr(self.app, "lab_theme", None)
        if name in self._stale and view is not None and theme is not None and name in view.states:
            self._fill(event.node, view.states[name], theme)

    def _insertion_points(self, order: list[str]) -> dict[str, TreeNode]:
        """For each namespace without a node yet: the node it goes before (the next one in order that
        has a node), so the tree keeps the lab's order; none for those that go at the end."""
        out: dict[str, TreeNode] = {}
        nxt = None
        for name in reversed(order):
            node = self._ns_nodes.get(name)
            if node is not None:
                nxt = node
            elif nxt is not None:
                out[name] = nxt
        return out

    def _invalidate(self) -> None:
        if self._batch:
            self._batch_dirty = True
            return
        super()._invalidate()

    def _leaf(self, link, addrs: dict[str, list[str]], theme) -> Text:
        up = link.up and link.operstate not in ("DOWN", "LOWERLAYERDOWN")
        t = Text("● " if up else "○ ", style=theme.color("up") if up else theme.color("down"))
        t.append(link.name, style="" if up else theme.color("down"))
        if link.kind:
            t.append(f" {link.kind}", style=theme.color("bridge") if link.kind == "bridge" else theme.color("muted"))
        if addrs.get(link.name):
            t.append(" " + addrs[link.name][0], style=theme.color("address"))
        return t

    def _label(self, name: str, view, theme) -> Text:
        sel = view.selected == name
        t = Text(ns_label(name), style=f"bold {'reverse ' if sel else ''}{theme.color('namespace')}")
        if name == "":
            t.append("  top", style=theme.color("muted"))
        return t

    async def action_back_to_bar(self) -> None:
        await self.screen.run_action("leave_tree")

    def render_label(self, node: TreeNode, base_style, style) -> Text:
        """A label wider than the tree ends in an ellipsis (Textual's Tree crops it: an address cut
        mid-prefix would read as another netmask)."""
        text = super().render_label(node, base_style, style)
        depth, n = 0, node
        while n.parent is not None:
            depth, n = depth + 1, n.parent
        room = self.scrollable_content_region.width - (depth + (1 if self.show_root else 0)) * self.guide_depth - 1
        if room > 3 and text.cell_len > room:
            text.truncate(room, overflow="ellipsis")
        return text

    def get_label_width(self, node: TreeNode) -> int:
        """render_label's width without rendering the label (Textual asks it of every line on each
        re-layout: 1,000 labels rendered for nothing in a large lab)."""
        prefix = (self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE) if node.allow_expand else ""
        label = node.label
        width = cell_len(prefix) + (label.cell_len if isinstance(label, Text) else cell_len(str(label)))
        depth, n = 0, node
        while n.parent is not None:
            depth, n = depth + 1, n.parent
        room = self.scrollable_content_region.width - (depth + (1 if self.show_root else 0)) * self.guide_depth - 1
        return min(width, room) if room > 3 else width

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        event.stop()
        self.post_message(self.Chosen(event.node.data))
