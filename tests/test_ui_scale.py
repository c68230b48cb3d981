"""The dashboard at scale keeps its panes right: the view's bookkeeping when a namespace is re-read with new but
equal objects or with counters only, the Links pane patched row by row in a lab of 60 namespaces equal to the
kernel after changes made outside it, and the command history's file format (written here without
prompt_toolkit) equal to prompt_toolkit's, so `lab shell` and the dashboard share it."""
from __future__ import annotations

import dataclasses
import random
import re

import pytest

from lab.backend.watch import Update
from lab.model import Link, NsState
from lab.ui.history import FileStore
from lab.ui.panes.links import link_state
from lab.ui.view import LabView, ns_label
from tests.conftest import kernel
from tests.test_ui_support import pane_rows, run_ui, wait_for
from tests.test_ui_topology import build_star

fast = pytest.mark.fast


def link(ns: str, index: int, name: str, up: bool = True, stats=(0, 0, 0, 0)) -> Link:
    return Link(ns=ns, index=index, name=name, kind="veth", flags=("UP",) if up else (),
                operstate="UP" if up else "DOWN", stats=stats)


def loaded_view(*states: NsState) -> LabView:
    v = LabView()
    v.apply(Update(states={s.name: s for s in states}, namespaces=tuple(s.name for s in states), initial=True))
    return v


@fast
def test_a_reread_with_equal_links_keeps_the_shown_objects_and_changes_nothing():
    a = NsState("a", links=tuple(link("a", i, f"e{i}") for i in range(5)))
    v = loaded_view(a)
    again = NsState("a", links=tuple(dataclasses.replace(x) for x in a.links))   # new objects, same values
    assert v.apply(Update(states={"a": again}, namespaces=("a",))) == set()
    assert all(x is y for x, y in zip(v.states["a"].links, a.links))
    one_down = NsState("a", links=tuple(link("a", i, f"e{i}", up=i != 3) for i in range(5)))
    assert v.apply(Update(states={"a": one_down}, namespaces=("a",))) == {"links"}
    kept = v.states["a"].links
    assert [x is y for x, y in zip(kept, a.links)] == [True, True, True, False, True]
    assert v.is_hot("a\x1flink\x1fe3") and not v.is_hot("a\x1flink\x1fe2")


@fast
def test_counters_moving_in_one_namespace_do_not_hide_a_link_change_in_another():
    a = NsState("a", links=(link("a", 1, "e0"),))
    b = NsState("b", links=(link("b", 1, "e0"),))
    v = loaded_view(a, b)
    changed = v.apply(Update(states={"a": NsState("a", links=(link("a", 1, "e0", up=False),)),
                                     "b": NsState("b", links=(link("b", 1, "e0", stats=(5, 500, 5, 500)),))},
                             namespaces=("a", "b")))
    assert "links" in changed and "link_stats" in changed
    assert v.is_hot("a\x1flink\x1fe0") and not v.is_hot("b\x1flink\x1fe0")


def test_the_links_pane_of_60_namespaces_equals_the_kernel_after_outside_changes(lab, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_HISTORY", str(tmp_path / "history"))
    build_star(lab, 60)
    rng = random.Random(3)
    flips = [(f"s{rng.randrange(60):02d}", "eth0") if k % 2 else ("", f"v{rng.randrange(60):02d}") for k in range(12)]

    def expected(app) -> list[list[str]]:
        return [[ns_label(st.name), x.name, link_state(x)] for st in app.view.shown() for x in st.links]

    def shown(app) -> list[list[str]]:
        return [[r[0], r[1], r[3]] for r in pane_rows(app, "links")]

    async def body(app, pilot):
        app.show_tab("tab-links")
        await wait_for(pilot, lambda: len(app.view.order) == 61 and shown(app) == expected(app), timeout=15,
                       what="every link in the pane")
        down: set[tuple[str, str]] = set()
        for ns, name in flips:
            up = (ns, name) in down
            assert lab.run(f"ip {'-n ' + ns + ' ' if ns else ''}link set {name} {'up' if up else 'down'}").ok
            (down.discard if up else down.add)((ns, name))

        def settled() -> bool:
            return all(any(x.name == name and x.up == ((ns, name) not in down) for x in app.view.states[ns].links)
                       for ns, name in flips)
        await wait_for(pilot, settled, timeout=15, what="the view has every change")
        await wait_for(pilot, lambda: shown(app) == expected(app), what="the pane equals the view")
        # ... and the kernel: the state word of every link flipped, and of its peer, as `ip -br link` prints it
        rows = {(r[0], r[1]): r[2] for r in shown(app)}
        for ns in {ns for ns, _ in flips} | {""}:
            for line in kernel(ns or None, "ip", "-br", "link").splitlines():
                name, state = line.split()[:2]
                assert rows[(ns_label(ns), name.split("@")[0])] == state, (ns, line)
        assert {(ns_label(ns), name) for ns, name in down} <= {k for k, v in rows.items() if v == "DOWN"}
    run_ui(lab, body, size=(160, 50))


@fast
def test_the_history_file_is_written_and_read_as_prompt_toolkit_does(tmp_path):
    from prompt_toolkit.history import FileHistory

    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    entries = ["ip a", "multi\nline", "", "é ü", "ip -n red link set veth-red up"]
    for e in entries:
        FileStore(str(ours)).store_string(e)
        FileHistory(str(theirs)).store_string(e)
    no_time = lambda p: re.sub(r"(?m)^# .*$", "#", p.read_text())  # noqa: E731  (the timestamps differ)
    assert no_time(ours) == no_time(theirs)
    assert list(FileStore(str(theirs)).load_history_strings()) == list(FileHistory(str(ours)).load_history_strings())
    assert list(FileStore(str(ours)).load_history_strings()) == entries[::-1]
