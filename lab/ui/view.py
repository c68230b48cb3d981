"""The dashboard's model of the lab: the latest NsState of every namespace (fed by lab.backend.watch
Updates), the selected namespace, and which rows changed recently (from lab.model.diff) so panes can
highlight them briefly. Pure Python, no widgets: easy to test, safe to read from the UI thread.
A link re-read unchanged keeps the object the view already has, so the widgets' caches (rows, map
cables) recognise it by identity: in a lab of 1,000 namespaces one link going down redraws one row.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any

from lab.model import Change, NsState, Snapshot, diff

HIGHLIGHT_SECONDS = 2.0
FIELDS = tuple(f.name for f in dataclasses.fields(NsState) if f.name != "name")
# an extra read for the first time (its tab just opened): its rows are not "just changed"
FIRST_READ_KINDS = {"chains": ("chain", "rule"), "qdiscs": ("qdisc",), "fdb": ("fdb",), "conntrack": ("conntrack",),
                    "sysctls": ("sysctl",), "ipvs": ("ipvs",)}


def row_key(ns: str, kind: str, key: str) -> str:
    """The key a pane gives a row: the same (namespace, kind, key) triple lab.model.diff reports."""
    return f"{ns}\x1f{kind}\x1f{key}"


def ns_label(ns: str) -> str:
    return ns if ns else "host"


def addresses_by_dev(st) -> dict[str, list[str]]:
    """dev -> the addresses worth drawing on a map or tree row: IPv4 first, then IPv6 other than the
    link-local one every interface gets by itself."""
    out: dict[str, list[str]] = {}
    for a in sorted(st.addresses, key=lambda a: a.family != "inet"):
        if a.family == "inet6" and a.scope == "link":
            continue
        out.setdefault(a.dev, []).append(a.cidr)
    return out


class LabView:
    def __init__(self) -> None:
        self.states: dict[str, NsState] = {}
        self.order: tuple[str, ...] = ()
        self.selected: str | None = None        # None = all namespaces
        self.hot: dict[str, float] = {}          # row key -> time its highlight ends
        self.extras_read: dict[str, set[str]] = {}   # ns -> extras (chains, qdiscs...) read there at least once
        self.loaded = False
        self.generation = 0

    # ---- reading ----------------------------------------------------------------------------------
    def shown(self) -> list[NsState]:
        """The namespaces panes show: the selected one, or all in order."""
        if self.selected is not None:
            st = self.states.get(self.selected)
            return [st] if st is not None else []
        return [self.states[n] for n in self.order if n in self.states]

    def snapshot(self) -> Snapshot:
        return Snapshot(namespaces=tuple(self.states[n] for n in self.order if n in self.states))

    def is_hot(self, key: str, now: float | None = None) -> bool:
        end = self.hot.get(key)
        return end is not None and end > (now if now is not None else time.monotonic())

    def next_expiry(self) -> float | None:
        return min(self.hot.values()) if self.hot else None

    def expire(self, now: float) -> bool:
        """Forget highlights that ended; True if any did."""
        gone = [k for k, t in self.hot.items() if t <= now]
        for k in gone:
            del self.hot[k]
        return bool(gone)

    # ---- updating ---------------------------------------------------------------------------------
    def apply(self, update, now: float | None = None) -> set[str]:
        """Merge a watch.Update. Returns the NsState fields that changed (+ "namespaces" if the set of
        namespaces did), so only the panes showing them redraw."""
        now = time.monotonic() if now is None else now
        changed: set[str] = set()
        changes: list[Change] = []
        for name in update.removed:
            self.extras_read.pop(name, None)
            if self.states.pop(name, None) is not None:
                changed.add("namespaces")
        for name, fields in update.first_read.items():
            self.extras_read.setdefault(name, set()).update(fields)
        for name, new in update.states.items():
            old = self.states.get(name)
            if old is None:
                changed.add("namespaces")
                changed.update(f for f in FIELDS if getattr(new, f))
                if self.loaded and not update.initial:
                    changes.append(Change(name, "namespace", name, "added"))
            else:
                if new.links is not old.links:
                    new = _keep_equal_links(old, new)
                fields = {f for f in FIELDS if getattr(old, f) != getattr(new, f)}
                if "links" in fields and _same_but_counters(old.links, new.links):
                    fields.discard("links")
                    fields.add("link_stats")
                changed |= fields   # (per namespace: counters here do not hide a real change elsewhere)
                if self.loaded and not update.initial and fields - {"link_stats"}:
                    first = {k for f in update.first_read.get(name, ()) for k in FIRST_READ_KINDS.get(f, ())}
                    changes.extend(c for c in _changes(old, new, fields) if c.kind not in first)
            self.states[name] = new
        order = tuple(n for n in update.namespaces if n in self.states) or tuple(
            sorted(self.states, key=lambda n: (n != "", n)))
        if order != self.order:
            self.order = order
            changed.add("namespaces")
        if self.selected is not None and self.selected not in self.states and self.loaded:
            self.selected = None
            changed.add("namespaces")
        for c in changes:
            self.hot[row_key(c.ns, c.kind, c.key)] = now + HIGHLIGHT_SECONDS
        if update.initial or update.namespaces:
            self.loaded = True
        if changed:
            self.generation += 1
        return changed


def _keep_equal_links(old: NsState, new: NsState) -> NsState:
    """`new` with each link equal to the one the view has (same name, same values) replaced by that
    object: a re-read of a namespace gives new Link objects even for links that did not change (the top
    namespace of a large lab: 1,000 of them), and the panes, tree and map recognise an unchanged link by
    identity (their row caches), so one link going down redraws one row, not 1,000."""
    olds, news = old.links, new.links
    by_name = None
    kept = []
    changed = len(olds) != len(news)
    for i, link in enumerate(news):
        o = olds[i] if i < len(olds) else None
        if o is None or o.name != link.name:   # moved: look it up by name
            if by_name is None:
                by_name = {x.name: x for x in olds}
            o = by_name.get(link.name)
        if o is link or (o is not None and _same_values(o, link)):
            kept.append(o)
        else:
            kept.append(link)
            changed = True
    links = tuple(kept)
    if not changed and all(a is b for a, b in zip(links, olds)):
        return new if new.links is olds else dataclasses.replace(new, links=olds)
    return dataclasses.replace(new, links=links)


def _same_values(x, y) -> bool:
    if type(x) is not type(y):
        return False
    dx, dy = getattr(x, "__dict__", None), getattr(y, "__dict__", None)
    return dx == dy if dx is not None and dy is not None else x == y


def _same_but_counters(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(x is y or _same_but_stats(x, y) for x, y in zip(a, b))


def _same_but_stats(x, y) -> bool:
    """Two Links equal but for their traffic counters (compared as dicts: dataclasses.replace costs
    ~25 us a link, and the top namespace of a large lab has 1,000 of them)."""
    if type(x) is not type(y):
        return False
    dx, dy = getattr(x, "__dict__", None), getattr(y, "__dict__", None)
    if dx is None or dy is None:
        return x == dataclasses.replace(y, stats=x.stats)
    return {**dx, "stats": None} == {**dy, "stats": None}


def _changes(old: NsState, new: NsState, fields: set[str] | None = None) -> list[Change]:
    """diff() of one namespace, minus noise (link counters), plus rule/sysctl-level detail. `fields`: the
    NsState fields that differ (the others are left out of the diff). Links are compared here, an
    unchanged link by identity first (the top namespace of a large lab has 1,000 of them)."""
    out = _link_changes(old, new) if fields is None or "links" in fields else []
    blank: dict[str, Any] = {f: () for f in FIELDS if f == "links" or (fields is not None and f not in fields)}
    a_st, b_st = dataclasses.replace(old, **blank), dataclasses.replace(new, **blank)
    for c in diff(Snapshot((a_st,)), Snapshot((b_st,))):
        if c.kind == "chain" and c.what == "changed":
            out.extend(_rule_changes(old, new, c.key))
        out.append(c)
    if old.sysctls != new.sysctls:
        before = dict(old.sysctls)
        out.extend(Change(new.name, "sysctl", k, "changed") for k, v in new.sysctls if before.get(k) != v)
    if old.conntrack != new.conntrack:
        seen = {(e.proto, e.orig) for e in old.conntrack}
        out.extend(Change(new.name, "conntrack", f"{e.proto} {e.orig}", "added")
                   for e in new.conntrack if (e.proto, e.orig) not in seen)
    return out


def _link_changes(old: NsState, new: NsState) -> list[Change]:
    """Links added, removed, or changed other than in their counters (lab.model.diff's "link" changes)."""
    a = {link.name: link for link in old.links}
    b = {link.name: link for link in new.links}
    out = [Change(new.name, "link", k, "added") for k in b.keys() - a.keys()]
    out += [Change(new.name, "link", k, "removed") for k in a.keys() - b.keys()]
    for k, link in b.items():
        o = a.get(k)
        if o is not None and o is not link and not _same_but_stats(o, link):
            out.append(Change(new.name, "link", k, "changed"))
    return out


def _rule_changes(old: NsState, new: NsState, chain_key: str) -> list[Change]:
    a = next((c for c in old.chains if c.key == chain_key), None)
    b = next((c for c in new.chains if c.key == chain_key), None)
    if a is None or b is None:
        return []
    out = []
    for i, r in enumerate(b.rules):
        prev = a.rules[i] if i < len(a.rules) else None
        if prev != r:
            out.append(Change(new.name, "rule", f"{chain_key} {i}", "changed"))
    return out
