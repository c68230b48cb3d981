"""The main dashboard screen: namespace tree on the left, tabbed panes (map, links, addresses, routes,
neighbours + FDB, iptables, qdiscs, conntrack, sysctls) with the scrollback under them, the command bar
at the bottom. Distributes the LabView to the widgets that show what changed, and tells the app which
namespaces and extras are on screen."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

from textual import getters
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label, Static, TabbedContent, TabPane

from lab.ui.panes import (AddressesPane, ConntrackPane, FdbPane, IptablesPane, LinksPane, NeighboursPane,
                          IpvsPane, QdiscsPane, RoutesPane, SysctlsPane)
from lab.backend.sandbox import where as where_of
from lab.ui.panes.base import TablePane
from lab.ui.topology import FULL_MAP_MAX, is_large
from lab.ui.view import ns_label
from lab.ui.widgets.commandbar import CommandBar
from lab.ui.widgets.nstree import NamespaceTree
from lab.ui.widgets.output import OutputLog
from lab.ui.widgets.topomap import MapCanvas, TopologyMap

if TYPE_CHECKING:
    from lab.ui.app import LabApp

ALL = {"all", "namespaces", "hot", "links", "addresses", "routes", "neighbours", "fdb", "chains", "qdiscs",
       "conntrack", "sysctls", "ipvs"}
TABS = [("tab-map", "Map"), ("tab-links", "Links"), ("tab-addresses", "Addresses"), ("tab-routes", "Routes"),
        ("tab-neigh", "Neighbours"), ("tab-iptables", "iptables"), ("tab-qdiscs", "Qdiscs"),
        ("tab-conntrack", "Conntrack"), ("tab-sysctls", "Sysctls"), ("tab-ipvs", "IPVS")]


class MainScreen(Screen):
    if TYPE_CHECKING:
        app = getters.app(LabApp)

    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(f"f{i + 2}", f"tab('{tid}')", name, show=False) for i, (tid, name) in enumerate(TABS)),
        *(Binding(str(i + 1), f"tab('{tid}')", name, show=False) for i, (tid, name) in enumerate(TABS) if i < 9),
        Binding("a", "app.select_ns_all", "All namespaces", show=False),
        Binding("n", "focus_tree", "Namespaces tree", show=False),
        Binding("!", "app.shell", "Shell here", show=False),
        Binding("slash", "map_filter", f"Filter the map by name (labs of more than {FULL_MAP_MAX} namespaces)",
                show=False),
    ]

    def __init__(self, engine, history) -> None:
        super().__init__()
        self.engine = engine
        self.history = history
        self._pending: dict[str | None, set[str]] = {}    # widget id -> fields changed while it was hidden
        self._tab_cache: dict[str | None, str | None] = {}
        self._title = ""
        self._panes: list[TablePane] | None = None

    def compose(self):
        yield Static(id="titlebar")
        with Horizontal(id="body"):
            yield NamespaceTree(id="nstree")
            with Vertical(id="main"):
                with TabbedContent(id="tabs", initial="tab-map"):
                    with TabPane("Map", id="tab-map"):
                        yield TopologyMap(id="map")
                    with TabPane("Links", id="tab-links"):
                        yield LinksPane(id="links")
                    with TabPane("Addresses", id="tab-addresses"):
                        yield AddressesPane(id="addresses")
                    with TabPane("Routes", id="tab-routes"):
                        yield RoutesPane(id="routes")
                    with TabPane("Neighbours", id="tab-neigh"):
                        with Vertical():
                            yield Label("ARP / neighbours  (ip neigh)", classes="pane-title")
                            yield NeighboursPane(id="neighbours")
                            yield Label("bridge FDB  (bridge fdb)", classes="pane-title")
                            yield FdbPane(id="fdb")
                    with TabPane("iptables", id="tab-iptables"):
                        yield IptablesPane(id="iptables")
                    with TabPane("Qdiscs", id="tab-qdiscs"):
                        yield QdiscsPane(id="qdiscs")
                    with TabPane("Conntrack", id="tab-conntrack"):
                        yield ConntrackPane(id="conntrack")
                    with TabPane("Sysctls", id="tab-sysctls"):
                        yield SysctlsPane(id="sysctls")
                    with TabPane("IPVS", id="tab-ipvs"):
                        yield IpvsPane(id="ipvs")
                yield OutputLog(id="output")
                yield Static(id="last-error")
            with Vertical(id="side"):   # a projector-size terminal shows more at once (roomy: app.tcss)
                yield Label("links  (ip link)", classes="pane-title")
                yield LinksPane(id="side-links")
                yield Label("iptables  (iptables -S)", classes="pane-title")
                yield IptablesPane(id="side-iptables")
        yield CommandBar(self.engine, self.history, id="commandbar")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(CommandBar).focus_input()
        self.update_title()

    # ---- drawing ----------------------------------------------------------------------------------
    def panes(self) -> list[TablePane]:
        """Every table pane (the same for the screen's life: looked up once)."""
        if self._panes is not None:
            return self._panes
        panes = list(self.query(TablePane))
        if self.is_mounted and panes:
            self._panes = panes
        return panes

    def active_tab(self) -> str:
        return self.query_one("#tabs", TabbedContent).active or "tab-map"

    def active_panes(self) -> list[TablePane]:
        tab = self.query_one(f"#{self.active_tab()}", TabPane)
        return list(tab.query(TablePane)) + self.side_panes()

    def side_panes(self) -> list[TablePane]:
        """The panes beside the tabs, when the terminal is roomy enough to show them."""
        side = self.query_one("#side")
        return list(side.query(TablePane)) if side.display else []

    def render_view(self, view, theme, changed: set[str] | None = None) -> None:
        """Redraw the widgets on screen that show any of `changed` (None = everything); widgets in
        hidden tabs only remember what they missed and catch up when their tab is shown."""
        now = time.monotonic()
        extras = self.app.available_extras()
        tab = self.active_tab()
        side = self.side_panes()
        for pane in self.panes():
            pending = self._pending.setdefault(pane.id, set())
            pending |= ALL if changed is None else changed
            if self._tab_of(pane) != tab and pane not in side:
                continue
            if pane.FIELDS & pending or pending & {"namespaces", "hot", "all"}:
                pane.show(view, theme, now, extra_available=pane.EXTRA is None or pane.EXTRA in extras)
            pending.clear()
        if changed is None or changed & NamespaceTree.FIELDS:
            self.query_one(NamespaceTree).show(view, theme)
        mp = self.query_one(TopologyMap)
        pending = self._pending.setdefault("map", set())
        pending |= ALL if changed is None else changed
        if tab == "tab-map" and pending & (TopologyMap.FIELDS | {"all"}):
            mp.show(view, theme, force="all" in pending)
            pending.clear()
        self.update_title()

    def catch_up(self, pane: TablePane) -> None:
        """Bring a pane up to date now even if its tab is hidden (tests, copy/export)."""
        app = self.app
        pane.show(app.view, app.lab_theme, time.monotonic(),
                  extra_available=pane.EXTRA is None or pane.EXTRA in app.available_extras())
        self._pending.get(pane.id, set()).clear()

    def _tab_of(self, widget) -> str | None:
        tab = self._tab_cache.get(widget.id)
        if tab is None:
            for anc in widget.ancestors:
                if isinstance(anc, TabPane):
                    tab = self._tab_cache[widget.id] = anc.id
                    break
        return tab

    def update_title(self) -> None:
        app = self.app
        view = getattr(app, "view", None)
        backend = self.engine.backend
        where = where_of(backend)
        showing = "all namespaces" if view is None or view.selected is None else f"namespace {ns_label(view.selected)}"
        count = len(view.order) if view is not None else 0
        # what fits the width, most useful first; a title cut anyway ends in an ellipsis, never mid-word
        title = f" lab · {where} · {count} namespace{'s' if count != 1 else ''} · showing {showing}"
        width = self.size.width or 200
        for part in (f" · theme {app.lab_theme.name}", "   ? help", " · tab: choose namespace",
                     " · ctrl+p palette", " · ctrl+l command bar"):
            if len(title) + len(part) <= width - 1:
                title += part
        if len(title) > width - 1:
            title = title[: width - 2] + "…"
        if title != self._title:
            self._title = title
            self.query_one("#titlebar", Static).update(title)

    def on_screen(self) -> tuple[set[str] | None, set[str], bool]:
        """(namespaces on screen, extras they need, whether link counters are on screen)."""
        view = self.app.view
        panes = self.active_panes()
        extras = {p.EXTRA for p in panes if p.EXTRA}
        stats = any(isinstance(p, LinksPane) for p in panes)
        if not panes:
            return set(), set(), False
        if view.selected is not None:
            return {view.selected}, extras, stats
        seen: set[str] = set()
        for p in panes:
            seen |= p.visible_namespaces()
        if extras:
            # a namespace whose extra was never read has no rows to be "on screen" by: read every namespace
            # of a lab of workshop size; in a larger one, those not read yet (then the rows in view)
            if len(view.order) <= self.READ_ALL_EXTRAS:
                seen |= set(view.order)
            else:
                seen |= {ns for ns in view.order if not extras <= view.extras_read.get(ns, set())}
        return seen, extras, stats

    READ_ALL_EXTRAS = 64   # namespaces

    # ---- events -----------------------------------------------------------------------------------
    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.render_view(self.app.view, self.app.lab_theme, set())
        self.app.visibility_changed()

    def on_namespace_tree_chosen(self, msg: NamespaceTree.Chosen) -> None:
        self.app.select_ns(msg.ns)

    def on_map_canvas_clicked(self, msg: MapCanvas.Clicked) -> None:
        if msg.ns is not None:
            self.app.select_ns(msg.ns)

    def on_command_bar_submitted(self, msg: CommandBar.Submitted) -> None:
        self.app.run_command(msg.line)

    def on_command_bar_empty_submitted(self, _msg: CommandBar.EmptySubmitted) -> None:
        self.app.action_scenario("enter")

    def on_resize(self, event) -> None:
        """The layout follows the terminal (app.tcss): compact below 100 columns or 30 rows (the tree
        folds away, the log shrinks), roomy from 170 columns and 50 rows (a wider tree, a taller log)."""
        w, h = event.size.width, event.size.height
        was = self.has_class("roomy")
        want = {"compact": w < 100, "wide": w >= 170, "short": h < 30, "tall": h >= 50, "roomy": w >= 200 and h >= 50}
        # all at once: each class changed alone restyles the whole screen (twice at start: tens of ms)
        add = [c for c, on in want.items() if on and not self.has_class(c)]
        remove = [c for c, on in want.items() if not on and self.has_class(c)]
        if add:
            self.add_class(*add)
        if remove:
            self.remove_class(*remove)
        if self.has_class("roomy") and not was:
            self.call_after_refresh(self._side_shown)
        self.update_title()

    def action_map_filter(self) -> None:
        """The map's filter by name, when the lab is large enough to be drawn in groups."""
        if not is_large(self.app.view.order):
            return
        self.action_tab("tab-map")
        mp = self.query_one(TopologyMap)
        mp.add_class("large")
        mp.query_one("#map-filter").focus()

    def action_tab(self, tab_id: str) -> None:
        self.query_one("#tabs", TabbedContent).active = tab_id

    def action_focus_tree(self) -> None:
        """Tab on an empty command bar (or n outside it): the namespaces tree, to choose the namespace every
        pane shows (brought back where the layout folded it away); Esc returns to the bar."""
        tree = self.query_one(NamespaceTree)
        if self.has_class("tree-open") and tree.has_focus:
            self.action_leave_tree()
            return
        self.add_class("tree-open")
        tree.focus()

    def _side_shown(self) -> None:
        app = self.app
        if getattr(app, "view", None) is not None:
            self.render_view(app.view, app.lab_theme, None)
            app.visibility_changed()

    def action_leave_tree(self) -> None:
        self.remove_class("tree-open")
        self.query_one(CommandBar).focus_input()
