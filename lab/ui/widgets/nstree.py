"""Namespace tree: "all namespaces" at the root, each namespace with its links (state glyph, address).
Updated in place (only namespaces that changed are rebuilt, expansion kept); selecting a node selects
the namespace everywhere."""
from __future__ import annotations

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

    class Chosen(Message):
        def __init__(self, ns: str | None) -> None:
            super().__init__()
            self.ns = ns

    def __init__(self, **kw) -> None:
        super().__init__("all namespaces", data=None, **kw)
        self.show_root = True
        self.guide_depth = 2
        self._ns_nodes: dict[str, TreeNode] = {}
        self._drawn: dict[str, tuple] = {}
        # Tree keeps 1024 rendered lines, each a Strip with its own caches of crops; a relabel makes the
        # old ones unreachable, so under a storm the cache fills with dead lines: a few screens is plenty
        self._line_cache.maxsize = LINE_CACHE

    def show(self, view, theme) -> None:
        if not self.root.is_expanded:
            self.root.expand()
        order = list(view.order)
        for name in list(self._ns_nodes):
            if name not in view.states:
                self._ns_nodes.pop(name).remove()
                self._drawn.pop(name, None)
        for i, name in enumerate(order):
            st = view.states[name]
            sig = (tuple((link.name, link.kind, link.flags, link.operstate) for link in st.links), st.addresses,
                   view.selected == name, theme.name)
            node = self._ns_nodes.get(name)
            if node is None:
                before = next((self._ns_nodes[o] for o in order[i + 1:] if o in self._ns_nodes), None)
                node = self.root.add(self._label(name, view, theme), data=name, before=before,
                                     expand=len(order) <= 12)
                self._ns_nodes[name] = node
            elif self._drawn.get(name) == sig:
                continue
            node.set_label(self._label(name, view, theme))
            addrs = addresses_by_dev(st)
            labels = [self._leaf(link, addrs, theme) for link in st.links]
            kids = list(node.children)
            if len(kids) == len(labels):   # same links: relabel in place (no re-layout)
                for kid, label in zip(kids, labels):
                    if kid.label != label:
                        kid.set_label(label)
                self._drawn[name] = sig
                continue
            node.remove_children()
            for t in labels:
                node.add_leaf(t, data=name)
            self._drawn[name] = sig
        root_label = Text("all namespaces", style="bold reverse" if view.selected is None else "bold")
        if self.root.label != root_label:
            self.root.set_label(root_label)

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

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        event.stop()
        self.post_message(self.Chosen(event.node.data))
