"""Live view of the lab's kernel state, event-driven: the TUI's only source of data.

One worker thread owns everything here:
- one raw rtnetlink socket per namespace (opened by moving the thread into it with nsutil.in_netns),
  subscribed to the link/address/route/neighbour groups (IPv4 and IPv6). An event marks (namespace, kind)
  dirty, and the state is re-read with netlink dumps (routes are re-read after every link change, because
  a link going down flushes its routes without any RTM_DELROUTE), except links: a link event carries the
  whole link, so the namespace's links are the last ones read with the events' links applied in order
  (`apply_link_events`; a bridge of 1,000 ports re-parses one link when one changes, not 1,000). A
  namespace whose events overran the socket, or that a command asks to refresh, is dumped again;
- inotify (via ctypes) on /run/netns, so namespaces made or deleted by anyone appear and disappear
  (a new file is only a namespace once it is bind-mounted: retried until it is);
- a periodic tick (about once a second) that re-reads counters (RTM_GETSTATS, counters only) and the snapshot extras (iptables chains,
  qdiscs, fdb, conntrack, sysctls: `lab.backend.state.EXTRAS`) only for the namespaces and extras the
  caller says are visible (`want`), plus `refresh` for an immediate re-read after a command.

Each batch of changes becomes one `Update` handed to the `on_update` callback (called in the worker
thread: the UI posts it as a message; the worker never touches widgets). Sockets used for reading are
the watcher's own, so a long command holding the Backend's lock never delays the view.

Event storms are coalesced, never queued: events only mark namespaces dirty, and a batch is read and
published at most once per `frame` (1/30 s), or less often when reading takes long (the worker reads
at most about a third of the time), and not while the consumer says it has not taken the previous
one yet (`busy`, with `resume()` to wake the worker when it has). So a namespace whose links flip 50
times a second is re-read at most once per interval, whatever the rate of events.
Leaves drawing to lab.ui and applying to lab.backend.core.
"""
from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import logging
import os
import select
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import AbstractSet, Any, Callable, Iterable, cast

from lab.backend import nsutil, rtnl, state
from lab.model import Link, NsState, evolve

log = logging.getLogger("lab.watch")
DISCOVER_PERIOD = 1.0     # --host: seconds between looks for namespaces outside /run/netns

RTMGRP_LINK, RTMGRP_NEIGH, RTMGRP_IPV4_IFADDR, RTMGRP_IPV4_ROUTE = 0x1, 0x4, 0x10, 0x40
RTMGRP_IPV6_IFADDR, RTMGRP_IPV6_ROUTE = 0x100, 0x400
GROUPS = (RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR
          | RTMGRP_IPV6_ROUTE)
MSG_KIND = {16: "link", 17: "link", 20: "address", 21: "address", 24: "route", 25: "route",
            28: "neighbour", 29: "neighbour"}
CORE = frozenset({"link", "address", "route", "neighbour"})
# what else must be re-read when one kind changes
# (a link event does not re-dump addresses: the kernel reports every address it adds or removes with a link,
# going down included, and a renamed link's addresses are re-labelled from the new names in _read_core)
IMPLIES = {"link": frozenset({"link", "route", "neighbour"}), "address": frozenset({"address", "route"}),
           "route": frozenset({"route"}),
           "neighbour": frozenset({"neighbour"})}
EXTRA_MODULES = ("lab.backend.iptables", "lab.backend.tc", "lab.backend.bridge", "lab.backend.sysctl",
                 "lab.backend.conntrack_state", "lab.backend.ipvsadm")
# the extras those modules register (a test checks): known before they are imported, which the watcher
# does only when an extra is first read (~65 ms of imports, pyroute2's tc messages among them, kept off the
# dashboard's first paint: nothing wants an extra before the first state is on screen)
EXTRA_NAMES = frozenset({"chains", "qdiscs", "fdb", "sysctls", "conntrack", "ipvs"})

IN_CREATE, IN_DELETE, IN_MOVED_FROM, IN_MOVED_TO = 0x100, 0x200, 0x40, 0x80
IN_NONBLOCK, IN_CLOEXEC = 0o4000, 0o2000000


def load_extras() -> dict[str, Callable]:
    """Import the family modules that register snapshot extras; returns the registry (name -> fn)."""
    import importlib

    for mod in EXTRA_MODULES:
        importlib.import_module(mod)
    return state.EXTRAS


@dataclass
class Update:
    """One batch of changes. `states` holds the full new NsState of every namespace that changed."""
    states: dict[str, NsState] = field(default_factory=dict)
    removed: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()     # every namespace now known ("" = top), in display order
    event_time: float | None = None      # time.monotonic() when the first kernel event was received
    initial: bool = False
    first_read: dict[str, frozenset[str]] = field(default_factory=dict)   # ns -> extras read there for the
                                         # first time (what they hold is not news: no "just changed" marks)

    def merge(self, newer: "Update") -> "Update":
        """This Update followed by `newer`, as one: a namespace's newer state supersedes the older one
        (a consumer that fell behind applies the latest state once, not every step)."""
        states = {n: st for n, st in self.states.items() if n not in newer.removed}
        states.update(newer.states)
        times = [t for t in (self.event_time, newer.event_time) if t is not None]
        first = {n: self.first_read.get(n, frozenset()) | newer.first_read.get(n, frozenset())
                 for n in set(self.first_read) | set(newer.first_read) if n in states}
        return Update(states=states, removed=tuple(dict.fromkeys(self.removed + newer.removed)),
                      namespaces=newer.namespaces or self.namespaces, event_time=min(times) if times else None,
                      initial=self.initial or newer.initial, first_read=first)


class ReadView:
    """The Backend as seen by readers, with the watcher's own netlink sockets (no shared lock)."""

    def __init__(self, backend):
        self._backend = backend
        self._socks: dict[str, Any] = {}

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def ipr(self, ns: str | None):
        key = ns or ""
        s = self._socks.get(key)
        if s is None:
            from pyroute2 import IPRoute

            self._backend.require_ns(ns)
            with nsutil.in_netns(ns):
                s = IPRoute()
            self._socks[key] = s
        return s

    def rtnl(self, ns: str | None):
        """A plain rtnetlink socket in `ns` for the cheap link reads (lab.backend.rtnl)."""
        key = "\0rtnl:" + (ns or "")
        s = self._socks.get(key)
        if s is None:
            from lab.backend.rtnl import Rtnl

            self._backend.require_ns(ns)
            with nsutil.in_netns(ns):
                s = Rtnl()
            self._socks[key] = s
        return s

    def forget_ns(self, ns: str) -> None:
        for key in (ns or "", "\0rtnl:" + (ns or "")):
            s = self._socks.pop(key, None)
            if s is not None:
                with contextlib.suppress(Exception):
                    s.close()

    def close(self) -> None:
        for k in list(self._socks):
            self.forget_ns(k.removeprefix("\0rtnl:"))


# ---- veth peers across namespaces ----------------------------------------------------------------
class PairIndex:
    """(ifindex, peer ifindex) -> the veths with them, over every namespace, kept current namespace by
    namespace (set() diffs the links by identity: unchanged Links are the same objects from one read to
    the next), so a publication looks up a pair without walking the 3,000 links of a 1,000-namespace lab.
    Holding the Links keeps their ids unique."""

    def __init__(self) -> None:
        self.by_pair: dict[tuple[int | None, int | None], list[Link]] = {}
        self._of: dict[str, dict[int, Link]] = {}   # ns -> id(link) -> link, its veths as indexed

    def set(self, ns: str, links: Iterable[Link]) -> None:
        old = self._of.get(ns, {})
        new = {id(link): link for link in links if link.kind == "veth"}
        for i, link in old.items():
            if i not in new:
                lst = self.by_pair.get((link.index, link.link_index))
                if lst is not None:
                    lst[:] = [x for x in lst if x is not link]
                    if not lst:
                        del self.by_pair[(link.index, link.link_index)]
        for i, link in new.items():
            if i not in old:
                self.by_pair.setdefault((link.index, link.link_index), []).append(link)
        if new:
            self._of[ns] = new
        else:
            self._of.pop(ns, None)

    def rebuild(self, states: dict[str, NsState]) -> None:
        self.by_pair, self._of = {}, {}
        for ns, st in states.items():
            self.set(ns, st.links)


def _peer_of(link: Link, by_pair: dict, nsid_of: Callable[[str, str], int | None] | None
             ) -> tuple[str | None, str | None]:
    """(peer namespace, peer name) of one link: None, None for a veth whose peer is not in the lab."""
    if link.kind != "veth" or not link.link_index:
        return None, None
    both = by_pair.get((link.link_index, link.index), ())
    cands = [c for c in both if c.ns != link.ns]
    local = [c for c in both if c.ns == link.ns and c.index != link.index]
    if local and link.link_netnsid is None:
        return None, local[0].name   # both ends here: iproute2 shows the peer as @name, no netns
    if len(cands) > 1 and nsid_of is not None and link.link_netnsid is not None:
        cands = [c for c in cands if nsid_of(link.ns, c.ns) == link.link_netnsid] or cands
    if not cands:
        return None, None
    # still several (the nsid matched none of them: a read older than a move): the first by name, the
    # same whatever order they were found in
    best = cands[0] if len(cands) == 1 else min(cands, key=lambda c: (c.ns, c.name))
    return best.ns, best.name


def _with_peers(st: NsState, check, by_pair: dict, nsid_of) -> NsState | None:
    """st with the peers of the links `check` accepts recomputed; None if none of them changed."""
    new_links, dirty = [], False
    for link in st.links:
        if check(link):
            pns, pname = _peer_of(link, by_pair, nsid_of)
            if link.peer_ns != pns or link.peer_name != pname:
                link = evolve(link, peer_ns=pns, peer_name=pname)
                dirty = True
        new_links.append(link)
    return evolve(st, links=tuple(new_links)) if dirty else None


def resolve_peers(states: dict[str, NsState], nsid_of: Callable[[str, str], int | None] | None = None,
                  index: PairIndex | None = None) -> dict[str, NsState]:
    """Fill Link.peer_ns/peer_name for veth pairs split across namespaces, every link of every namespace
    (after a change, resolve_changed_peers looks only where a peer can have changed).

    A pair is a.link_index == b.index and b.link_index == a.index, both veth, in different namespaces
    (nsids are not relied on). When several candidates match, `nsid_of(ns, other)` (the nsid `other`
    has as seen from `ns`) breaks the tie against the link's IFLA_LINK_NETNSID.
    `index`: the pairs of `states`, if kept (else built here). Returns only the namespaces whose links changed.
    """
    if index is None:
        index = PairIndex()
        index.rebuild(states)
    changed: dict[str, NsState] = {}
    for name, st in states.items():
        new = _with_peers(st, lambda link: True, index.by_pair, nsid_of)
        if new is not None:
            changed[name] = new
    return changed


def _pointing_at(o: Link, ns: str, index: PairIndex, todo: dict[str, set[str]]) -> None:
    """Into todo: the links that may have had `o` (a veth as it was, now changed or gone) as their peer:
    its recorded peer, and every link it was a candidate of (one of several: the nsid chose)."""
    if o.kind != "veth":
        return
    if o.peer_name is not None:
        todo.setdefault(o.peer_ns if o.peer_ns is not None else ns, set()).add(o.peer_name)
    for c in index.by_pair.get((o.link_index, o.index), ()):
        todo.setdefault(c.ns, set()).add(c.name)


def resolve_changed_peers(states: dict[str, NsState], before: dict[str, NsState | None], index: PairIndex,
                          nsid_of: Callable[[str, str], int | None] | None = None) -> dict[str, NsState]:
    """resolve_peers after some namespaces changed (`before`: their states before, None if new), looking
    only at the links whose peer can have changed: the changed namespaces' new or changed links, the
    links that pointed at a changed or vanished veth (its recorded peer), and those that pair with a new
    or changed veth (by the index, already holding `states`). A link outside these keeps its peer: its
    own fields are unchanged and so is every candidate it could pair with. Returns the namespaces whose
    links changed. (Equal to resolve_peers over everything: tests/test_watch.py checks it on random
    changes.)"""
    todo: dict[str, set[str]] = {}
    for ns, old in before.items():
        st = states.get(ns)
        if st is None:
            continue
        was = {link.index: link for link in old.links} if old is not None else {}
        for link in st.links:
            o = was.pop(link.index, None)
            if o is link:
                continue
            todo.setdefault(ns, set()).add(link.name)
            if link.kind == "veth":
                for c in index.by_pair.get((link.link_index, link.index), ()):
                    todo.setdefault(c.ns, set()).add(c.name)
            if o is not None:
                _pointing_at(o, ns, index, todo)
        for o in was.values():   # vanished (deleted, or moved out)
            _pointing_at(o, ns, index, todo)
    changed: dict[str, NsState] = {}
    for ns, names in todo.items():
        st = states.get(ns)
        if st is not None:
            new = _with_peers(st, lambda link: link.name in names, index.by_pair, nsid_of)
            if new is not None:
                changed[ns] = new
    return changed


# ---- inotify ------------------------------------------------------------------------------------
class _Inotify:
    def __init__(self, path: str):
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        wd = libc.inotify_add_watch(self.fd, path.encode(), IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)
        if wd < 0:
            e = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(e, f"inotify_add_watch {path}")

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while os.read(self.fd, 65536):
                pass

    def close(self) -> None:
        os.close(self.fd)


def _msg_kinds(buf: bytes, links: list[tuple[int, bytes]] | None = None) -> set[str]:
    """The kinds of state the messages in `buf` change; link messages (RTM_NEWLINK/DELLINK of family
    AF_UNSPEC, the whole link as a dump gives it) appended to `links` as (type, payload)."""
    kinds, off = set(), 0
    while off + 16 <= len(buf):
        length, mtype = struct.unpack_from("=IH", buf, off)
        if length < 16:
            break
        k = MSG_KIND.get(mtype)
        if k:
            kinds.add(k)
            # a bridge's own port notices (family AF_BRIDGE) carry no counters or flags: only the link kind
            if k == "link" and links is not None and length > 16 and buf[off + 16] == socket.AF_UNSPEC:
                links.append((mtype, buf[off + 16: off + length]))
        off += (length + 3) & ~3
    return kinds


def apply_link_events(ns: str, links: dict[int, Link], msgs: list[tuple[int, bytes]],
                      get: Callable[[int], bytes | None]) -> list[Link]:
    """The links of `ns` after these RTM_NEWLINK/RTM_DELLINK messages (in the kernel's order), from
    `links` (ifindex -> Link) as they were before them: what a dump would give now, parsing only the
    links that changed. Replaying events older than `links` is harmless: each link ends as its last
    message (or, with none, its dump) says, and any later change has a later message.

    One exception, the kernel's: a veth's first message can predate its pairing (veth_newlink announces
    the peer end before the two are linked, and linking them sends nothing), so a veth message without
    its peer's ifindex is replaced by the link as the kernel gives it now (`get(ifindex)`: RTM_GETLINK)."""
    cur = dict(links)
    names = {i: link.name for i, link in cur.items()}
    for mtype, body in msgs:
        if len(body) < 16:
            continue
        index = struct.unpack_from("=i", body, 4)[0]
        if mtype == 17:   # RTM_DELLINK (deleted, or moved to another namespace)
            cur.pop(index, None)
            names.pop(index, None)
            continue
        for link in rtnl.parse_links(ns, [body]):
            if link.kind == "veth" and not link.link_index:
                fresh = get(link.index)
                if fresh is None:   # already gone: its RTM_DELLINK follows
                    continue
                link = next(iter(rtnl.parse_links(ns, [fresh])), link)
            cur[link.index] = link
            names[link.index] = link.name
    out = []
    for i in sorted(cur):
        link = cur[i]
        if link.master_index is not None and names.get(link.master_index) != link.master:   # new, or master renamed
            link = evolve(link, master=names.get(link.master_index))
        out.append(link)
    return out


class Watcher:
    """Watch every namespace of the lab and report state changes.

    Args:
        backend: the lab's Backend (used for names, require_ns, run_cmd; never its sockets).
        on_update: called in the worker thread with each Update.
        period: seconds between refreshes of counters and extras for what is visible.
        frame: the shortest time between two Updates (events in between are coalesced).
        busy: optional, called in the worker thread: True while the consumer has not taken the last
            Update (or wants the interpreter to itself); the next one waits, up to MAX_HOLD seconds,
            and the consumer calls resume() when it may come.
    """

    DUTY = 3.0         # the interval between two reads is at least DUTY x the time the last one took
    MAX_HOLD = 1.0     # a consumer busy longer than this gets the next Update anyway

    def __init__(self, backend, on_update: Callable[[Update], None], period: float = 1.0,
                 frame: float = 1 / 30, busy: Callable[[], bool] | None = None):
        self.backend = backend
        self.on_update = on_update
        self.period = period
        self._next_discover = 0.0
        self._discover_gen = -1
        self.frame = frame
        self.busy = busy
        self._extras: dict[str, Callable] | None = None   # see extras
        self.view = ReadView(backend)
        self.states: dict[str, NsState] = {}
        self._socks: dict[str, tuple[socket.socket, int]] = {}  # ns -> (event socket, netns inode)
        self._pending: set[str] = set()          # files in /run/netns not yet mounted
        self._want_ns: frozenset[str] | None = None
        self._want_extras: frozenset[str] = frozenset()
        self._want_stats = True
        self._pokes: list[tuple[frozenset[str] | None, bool, bool]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._sel = selectors.DefaultSelector()
        self._thread: threading.Thread | None = None
        self._next_tick = 0.0
        self.errors: list[str] = []
        # the batch being gathered between two publications
        self._dirty: dict[str, set[str]] = {}
        self._extras_for: set[str] = set()
        self._removed: set[str] = set()
        self._t_event: float | None = None
        self._not_before = 0.0                 # no publication before this time (frame / read cost)
        self._held_since: float | None = None  # the consumer was busy when a batch was ready
        self._raw_links: dict[str, dict[int, Link]] = {}   # ns -> the Links of its last dump, by ifindex
        self._raw_next: dict[str, dict[int, Link]] = {}
        self._link_msgs: dict[str, list[tuple[int, bytes]]] = {}   # ns -> link events not applied yet, in order
        self._full_links: set[str] = set()   # namespaces whose links must be dumped again (events lost, refresh)
        self._extras_seen: dict[str, set[str]] = {}      # ns -> extras read there so far
        self._first_read: dict[str, frozenset[str]] = {}  # ns -> extras read there for the first time, unpublished
        self.stats = {"publications": 0, "events": 0, "held": 0, "link_dumps": 0, "link_events": 0}
        self._prefetch: tuple[list[tuple[int, int]], list[str]] | None = None   # ([(child, pipe)], namespaces)
        self._prefetched: dict[str, NsState] = {}   # the children's first read, taken by _read_core
        self._pairs = PairIndex()   # the veths of self.states by (ifindex, peer ifindex)
        self._names: tuple[str, ...] = ()   # self.states' names in order, as last published
        self._names_set: frozenset[str] = frozenset()

    @property
    def extras(self) -> dict[str, Callable]:
        """name -> reader of each snapshot extra (their modules imported on first use)."""
        if self._extras is None:
            self._extras = load_extras()
        return self._extras

    # ---- the first read, in parallel --------------------------------------------------------------
    PREFETCH_MIN = 100   # namespaces: below this the first read (~0.4 ms a namespace) is not worth a process
    PREFETCH_CHILDREN: int | None = None   # None: one per CPU but one, from 4 x PREFETCH_MIN namespaces

    def prefetch(self) -> bool:
        """Start the first read now, in forked children, while this process builds its screen: with 1,000
        namespaces the read (4 dumps each, ~0.4 s of Python) and the dashboard's start (~0.4 s of Textual)
        otherwise take turns on one interpreter lock; children read on the other cores (one per CPU, each
        a share of the namespaces) and hand the states over as pickles (~40 ms to load). The event sockets
        are opened here first, so whatever changes after this is an event: a namespace with events queued
        when the states are taken is read again. Only from a process with one thread (a fork copies just the
        calling thread: a lock another one held would stay locked in the child), before start(); otherwise,
        or for a small lab, or with --host discovery, nothing is forked and start() reads as usual.
        Returns whether children were started."""
        if (self._thread is not None or self._prefetch is not None or nsutil._discover is not None
                or len(os.listdir("/proc/self/task")) != 1):
            return False
        self._dir_mtime = self._netns_dir_mtime()
        added, _ = self._sync_namespaces()
        self._prefetch = ([], added)
        if len(added) < self.PREFETCH_MIN:
            return False
        k = self.PREFETCH_CHILDREN or (max(1, min(os.cpu_count() or 1, 4) - 1)
                                       if len(added) >= 4 * self.PREFETCH_MIN else 1)
        for i in range(k):
            r, w = os.pipe2(os.O_CLOEXEC)
            pid = os.fork()
            if pid == 0:   # a child: read its share, write it, leave without running anything of the parent's
                code = 1
                try:
                    nsutil.die_with_parent()   # a killed lab's sandbox must not outlive it in a child
                    os.close(r)
                    import pickle

                    out = {}
                    for ns in added[i::k]:
                        with contextlib.suppress(Exception):   # gone already: the parent reads what is left
                            out[ns] = self._read_core(ns, set(CORE), None)
                    data = memoryview(pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL))
                    while data:
                        data = data[os.write(w, data):]
                    code = 0
                finally:
                    os._exit(code)
            os.close(w)
            self._prefetch[0].append((pid, r))
        self.stats["prefetch_children"] = k
        return True

    def _adopt_prefetch(self, timeout: float = 30.0) -> list[str]:
        """In the worker: take the children's states (see prefetch); the namespaces whose sockets were opened."""
        if self._prefetch is None:
            return []
        children, added = self._prefetch
        self._prefetch = None
        import pickle

        states: dict[str, NsState] = {}
        deadline = time.monotonic() + timeout
        for pid, r in children:
            chunks: list[bytes] = []
            try:
                while True:
                    if not select.select([r], [], [], max(0.0, deadline - time.monotonic()))[0]:
                        raise TimeoutError("the first read's child took too long")
                    b = os.read(r, 1 << 20)
                    if not b:
                        break
                    chunks.append(b)
                _, status = os.waitpid(pid, 0)
                if status != 0:
                    raise OSError(f"the first read's child ended with status {status}")
                states.update(pickle.loads(b"".join(chunks)))
            except Exception as e:  # noqa: BLE001  (its share is read here instead, as without children)
                log.warning("first read in a child failed: %s", e)
                self.errors.append(f"prefetch: {e}")
                _end_child(pid)
            finally:
                os.close(r)
        for ns in added:   # events since the sockets opened: that namespace's read may be older than them
            sock = self._socks.get(ns)
            if sock is not None and ns in states and self._drain(sock[0], ns):
                del states[ns]
        self._prefetched = states
        self.stats["prefetched"] = len(states)   # namespaces whose first read a child's was
        return added

    # ---- control (any thread) ---------------------------------------------------------------------
    def connect(self, on_update: Callable[[Update], None], period: float, frame: float,
                busy: Callable[[], bool] | None) -> None:
        """Set the consumer of a watcher made before it (prefetch_watcher), before start()."""
        self.on_update, self.period, self.frame, self.busy = on_update, period, frame, busy

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="lab-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._wake()
        if self._thread is None and self._prefetch is not None:   # prefetched, never started: end the children
            children, _ = self._prefetch
            self._prefetch = None
            for pid, r in children:
                _end_child(pid)
                os.close(r)
            self._close_all(None)   # and the sockets it opened (they would keep deleted namespaces alive)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def want(self, namespaces: Iterable[str] | None, extras: Iterable[str] = (), stats: bool = True) -> None:
        """What is visible: these namespaces (None = all) with these extras; refreshed every period."""
        ns = None if namespaces is None else frozenset(namespaces)
        ex = frozenset(e for e in extras if e in EXTRA_NAMES)
        newly = (ex - self._want_extras) or (ns is not None and self._want_ns is not None and ns - self._want_ns)
        self._want_ns, self._want_extras, self._want_stats = ns, ex, stats
        if newly:   # counters and extras now (the core state is kept current by events)
            self.refresh(ns, extras=True, core=False)

    def refresh(self, namespaces: Iterable[str] | None = None, extras: bool = True, core: bool = True) -> None:
        """Re-read now (e.g. after a command): core state (links dumped again) or, core=False, only the
        counters; and the wanted extras of these namespaces."""
        with self._lock:
            self._pokes.append((None if namespaces is None else frozenset(n or "" for n in namespaces), extras,
                                core))
        self._wake()

    def resume(self) -> None:
        """The consumer took the last Update: publish what was held back, if anything."""
        if self._held_since is not None:
            self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    # ---- the worker -------------------------------------------------------------------------------
    def _main(self) -> None:
        ino = None
        try:
            self._sel.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
            try:
                ino = _Inotify(nsutil.NETNS_RUN_DIR)
                self._sel.register(ino.fd, selectors.EVENT_READ, ("inotify", ino))
            except OSError as e:  # no inotify: fall back to a cheap stat poll of /run/netns
                self.errors.append(f"inotify: {e}")
            if self._prefetch is None:
                self._dir_mtime = self._netns_dir_mtime()
            prefetched = self._adopt_prefetch()
            added, removed = self._sync_namespaces()
            for ns in (*added, *removed):   # gone, or deleted and made again, since the child read it
                self._prefetched.pop(ns, None)
            added = [ns for ns in prefetched if ns not in removed and ns not in added] + added
            self._next_tick = time.monotonic() + self.period
            dirty = {ns: set(CORE) for ns in added}
            wanted = set(added) if self._want_ns is None else self._want_ns & set(added)
            self._publish(dirty, wanted if self._want_extras else set(), (), None, initial=True)
            self._prefetched = {}   # what the first read did not take (a namespace gone meanwhile)
            while not self._stop.is_set():
                self._loop_once(ino)
        except Exception as e:  # noqa: BLE001
            log.exception("watcher died")
            self.errors.append(f"watcher: {type(e).__name__}: {e}")
        finally:
            self._close_all(ino)

    def _loop_once(self, ino) -> None:
        now = time.monotonic()
        timeout = max(0.0, self._next_tick - now)
        if self._pending or ino is None:
            timeout = min(timeout, 0.05 if self._pending else 0.25)
        if self._held_since is not None:
            # held back by the consumer: sleep until resume() (or a frame), not on every event (they
            # wait in the sockets' buffers); each wake-up would take the interpreter lock from it
            select.select([self._wake_r], [], [], min(timeout, self.frame))
            timeout = 0.0
        elif self._dirty or self._removed or self._extras_for:   # a batch waits for its turn
            timeout = min(timeout, max(0.0, self._not_before - now))
        ready = self._sel.select(timeout)
        now = time.monotonic()
        dirty = self._dirty
        ns_changed = bool(self._pending)
        pokes: list = []
        for key, _ in ready:
            kind, obj = key.data
            if kind == "wake":
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 4096)
                with self._lock:
                    pokes, self._pokes = self._pokes, []
            elif kind == "inotify":
                obj.drain()
                ns_changed, self._t_event = True, self._t_event or now
            else:
                kinds = self._drain(cast(socket.socket, key.fileobj), obj)
                if kinds:
                    self._t_event = self._t_event or now
                    self.stats["events"] += 1
                    dirty.setdefault(obj, set()).update(kinds)
        if ino is None:
            m = self._netns_dir_mtime()
            if m != self._dir_mtime:
                self._dir_mtime, ns_changed = m, True
        if nsutil._discover is not None and now >= self._next_discover:   # --host: containers come and go
            self._next_discover = now + DISCOVER_PERIOD
            gen = nsutil._discover()
            if gen != self._discover_gen:
                self._discover_gen, ns_changed = gen, True
        if ns_changed:   # at once, whatever the batch: sockets must be open before the next events
            added, removed = self._sync_namespaces()
            for ns in added:
                dirty[ns] = set(CORE)
                self._removed.discard(ns)
            for ns in removed:
                dirty.pop(ns, None)
                self._extras_for.discard(ns)
                self._removed.add(ns)
        for targets, with_extras, core in pokes:
            names = set(self._socks) if targets is None else targets & set(self._socks)
            for ns in names:
                if core:
                    dirty.setdefault(ns, set()).update(CORE)
                    self._full_links.add(ns)
                elif self._want_stats:
                    dirty.setdefault(ns, set()).add("stats")
            if with_extras:
                self._extras_for |= names
        if time.monotonic() >= self._next_tick:
            self._next_tick = time.monotonic() + self.period
            visible = set(self._socks) if self._want_ns is None else self._want_ns & set(self._socks)
            self._extras_for |= visible
            if self._want_stats:
                for ns in visible:
                    if not dirty.get(ns):
                        dirty[ns] = {"stats"}   # counters only: a cheap check first (see _read_core)
        if not (dirty or self._removed or self._extras_for):
            return
        now = time.monotonic()
        if now < self._not_before:
            return   # coalesce: more events may join this batch
        if self.busy is not None and self.busy():
            if self._held_since is None:
                self._held_since = now
                self.stats["held"] += 1
            if now - self._held_since < self.MAX_HOLD:
                return   # the consumer has not taken the last Update: no point reading a newer one yet
        self._held_since = None
        self._dirty = {}
        extras_for, self._extras_for = self._extras_for, set()
        removed, self._removed = tuple(sorted(self._removed)), set()
        t_event, self._t_event = self._t_event, None
        self._publish(dirty, extras_for, removed, t_event)
        # the frame coalesces what events bring; after the once-a-second refresh (no event) an event may
        # come at once (else a change landing just after a counters tick waited up to a frame)
        self._not_before = now + max(self.frame if t_event is not None else 0.0, self.DUTY * (time.monotonic() - now))

    def _drain(self, sock: socket.socket, ns: str) -> set[str]:
        kinds: set[str] = set()
        msgs = self._link_msgs.setdefault(ns, [])
        while True:
            try:
                buf = sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as e:
                if e.errno == errno.ENOBUFS:  # overrun: we lost events, re-read everything
                    kinds |= CORE
                    self._full_links.add(ns)
                    continue
                break
            if not buf:
                break
            kinds |= _msg_kinds(buf, msgs)
        out: set[str] = set()
        for k in kinds:
            out |= IMPLIES[k]
        return out

    # ---- reading ----------------------------------------------------------------------------------
    def _read_core(self, ns: str, kinds: set[str], old: NsState | None) -> NsState:
        b, key = self.view, ns or None
        if old is None and ns in self._prefetched:   # the first read, done by the prefetch child
            st = self._prefetched.pop(ns)
            self._raw_next[ns] = {link.index: link for link in st.links}
            return st
        st = old or NsState(name=ns)
        if kinds == {"stats"} and old is not None:
            # the once-a-second refresh: counters only (every other change of a link comes as an event)
            counters = b.rtnl(key).link_counters()
            moved = {link.index: counters[link.index] for link in old.links
                     if counters.get(link.index, link.stats) != link.stats}
            if not moved:
                return old
            return evolve(old, links=tuple(
                evolve(link, stats=moved[link.index]) if link.index in moved else link
                for link in old.links))
        new: dict[str, Any] = {}   # the fields read, set in one copy (1,000 namespaces: 4,000 copies less)
        if "link" in kinds or old is None:
            msgs = self._link_msgs.pop(ns, [])
            if old is None or ns in self._full_links or ns not in self._raw_links:
                self._full_links.discard(ns)
                raw = b.rtnl(key).links(key)   # hand-parsed dump: same Links as state.links, ~30x cheaper
                self.stats["link_dumps"] += 1
            else:   # the events' own messages: a namespace of 1,000 links re-parses only the ones that changed
                raw = apply_link_events(ns, self._raw_links[ns], msgs, b.rtnl(key).link_message)
                self.stats["link_events"] += len(msgs)
            last = self._raw_links.get(ns, {})
            prev = {link.index: link for link in st.links}
            ls = []
            for link in raw:
                p = prev.get(link.index)
                if p is None:
                    ls.append(link)
                elif last.get(link.index) is link:
                    ls.append(p)   # the same message as last time: the link as shown, peer included
                elif p.kind == link.kind:   # keep peer info until resolve_peers recomputes it
                    ls.append(evolve(link, peer_ns=p.peer_ns, peer_name=p.peer_name))
                else:
                    ls.append(link)
            self._raw_next[ns] = {link.index: link for link in raw}   # kept once the whole read succeeds
            new["links"] = tuple(ls)
        names = {link.index: link.name for link in new.get("links", st.links)}
        if "address" in kinds or old is None:
            new["addresses"] = tuple(b.rtnl(key).addresses(key, names))
        elif any(names.get(a.index, a.dev) != a.dev for a in st.addresses):   # a link was renamed
            new["addresses"] = tuple(evolve(a, dev=names.get(a.index, a.dev)) for a in st.addresses)
        if "route" in kinds or old is None:
            new["routes"] = tuple(b.rtnl(key).routes(key, names))
        if "neighbour" in kinds or old is None:
            new["neighbours"] = tuple(b.rtnl(key).neighbours(key, names))
        return evolve(st, **new) if new else st

    def _read_extras(self, ns: str, st: NsState) -> NsState:
        fields: dict = {}
        for name in self._want_extras:
            fn = self.extras.get(name)
            if fn is None:
                continue
            try:
                fields.update(fn(self.view, ns or None))
            except Exception:  # noqa: BLE001  (a tool missing or an object vanished: show the rest)
                log.debug("extra %s failed in %r", name, ns, exc_info=True)
        valid = {f.name for f in dataclasses.fields(NsState)} - {"name"}
        fields = {k: v for k, v in fields.items() if k in valid}
        seen = self._extras_seen.setdefault(ns, set())
        if fields.keys() - seen:
            self._first_read[ns] = self._first_read.get(ns, frozenset()) | (fields.keys() - seen)
            seen.update(fields)
        return evolve(st, **fields) if fields else st

    def _publish(self, dirty: dict[str, set[str]], extras_for: AbstractSet[str], removed: tuple[str, ...],
                 t_event: float | None, initial: bool = False) -> None:
        changed: dict[str, NsState] = {}
        for ns in set(dirty) | extras_for:
            if ns not in self._socks:
                continue
            old = self.states.get(ns)
            try:
                st = self._read_core(ns, dirty.get(ns, set()), old)
                if ns in extras_for and self._want_extras:
                    st = self._read_extras(ns, st)
            except Exception:  # noqa: BLE001  (the namespace vanished mid-read: inotify will tell)
                log.debug("read failed in %r", ns, exc_info=True)
                self._raw_next.pop(ns, None)
                self._full_links.add(ns)   # its link events were taken: dump it next time
                continue
            if ns in self._raw_next:
                self._raw_links[ns] = self._raw_next.pop(ns)
            if st != old:
                changed[ns] = st
        # peers: everything again after a namespace went (or the first time), else only the links
        # whose peer can have changed (resolve_changed_peers)
        before = {ns: self.states.get(ns) for ns in changed}
        for ns in removed:
            self.states.pop(ns, None)
        self.states.update(changed)
        if removed or initial:
            self._pairs.rebuild(self.states)
            peers = resolve_peers(self.states, self._nsid_of, index=self._pairs)
        elif changed:
            for ns in changed:
                self._pairs.set(ns, self.states[ns].links)
            peers = resolve_changed_peers(self.states, before, self._pairs, self._nsid_of)
        else:
            peers = {}
        for ns, st in peers.items():
            self.states[ns] = st
            self._pairs.set(ns, st.links)
        changed.update(peers)
        if changed or removed or initial:
            self.stats["publications"] += 1
            if removed or len(self._names) != len(self.states) or not self._names_set.issuperset(changed):
                self._names = tuple(sorted(self.states, key=lambda n: (n != "", n)))
                self._names_set = frozenset(self._names)
            names = self._names
            first = {ns: f for ns, f in self._first_read.items() if ns in changed}
            self._first_read.clear()
            try:
                self.on_update(Update(states=changed, removed=tuple(removed), namespaces=names,
                                      event_time=t_event, initial=initial, first_read=first))
            except Exception:  # noqa: BLE001
                log.exception("on_update failed")

    def _nsid_of(self, ns: str, other: str) -> int | None:
        try:
            fd = os.open(nsutil.ns_path(other), os.O_RDONLY) if other else os.dup(nsutil.TOP.fd)
        except OSError:
            return None
        try:
            r = self.view.ipr(ns or None).get_netnsid(fd=fd)
            nsid = r.get("nsid") if isinstance(r, dict) else None
            return nsid if nsid is not None and nsid >= 0 else None
        except Exception:  # noqa: BLE001
            return None
        finally:
            os.close(fd)

    # ---- namespaces -------------------------------------------------------------------------------
    @staticmethod
    def _netns_dir_mtime() -> float:
        try:
            return os.stat(nsutil.NETNS_RUN_DIR).st_mtime_ns
        except OSError:
            return 0

    def _sync_namespaces(self) -> tuple[list[str], tuple[str, ...]]:
        """Open sockets for new namespaces, close those of vanished ones. Returns (added, removed)."""
        names = nsutil.all_netns()
        try:
            dir_dev = os.stat(nsutil.NETNS_RUN_DIR).st_dev
        except OSError:
            dir_dev = None
        current: dict[str, int] = {}
        self._pending = set()
        for n in names:
            try:
                st = os.stat(nsutil.ns_path(n))
            except OSError:
                continue
            if st.st_dev == dir_dev:  # created but not yet bind-mounted by `ip netns add`
                self._pending.add(n)
                continue
            current[n] = st.st_ino
        added: list[str] = []
        removed: list[str] = []
        if "" not in self._socks:
            if self._open("", os.fstat(nsutil.TOP.fd).st_ino):
                added.append("")
        for n, (_, ino) in list(self._socks.items()):
            if n and current.get(n) != ino:
                self._close(n)
                removed.append(n)
        for n, ino in current.items():
            if n not in self._socks:
                if self._open(n, ino):
                    added.append(n)
                else:
                    self._pending.add(n)
        # a name deleted and re-created is both removed and added: report it as added only
        return added, tuple(n for n in removed if n not in added)

    def _open(self, ns: str, ino: int) -> bool:
        try:
            with nsutil.in_netns(ns or None):
                s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                                  socket.NETLINK_ROUTE)
            with contextlib.suppress(OSError):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            s.bind((0, GROUPS))
        except OSError:
            return False
        self._socks[ns] = (s, ino)
        self._sel.register(s, selectors.EVENT_READ, ("netlink", ns))
        return True

    def _close(self, ns: str) -> None:
        """Drop every socket we hold in `ns` (they would keep a deleted namespace alive)."""
        s, _ = self._socks.pop(ns)
        with contextlib.suppress(Exception):
            self._sel.unregister(s)
        s.close()
        self.view.forget_ns(ns)
        self.states.pop(ns, None)
        self._raw_links.pop(ns, None)
        self._link_msgs.pop(ns, None)
        self._full_links.discard(ns)
        self._extras_seen.pop(ns, None)
        threading.Thread(target=self._forget_in_backend, args=(ns,), daemon=True).start()

    def _forget_in_backend(self, ns: str) -> None:
        # the Backend's cached socket too, unless the namespace was re-created under the same name
        with contextlib.suppress(Exception):
            if not nsutil.ns_known(ns):
                self.backend.forget_ns(ns)

    def _close_all(self, ino) -> None:
        for ns in list(self._socks):
            s, _ = self._socks.pop(ns)
            with contextlib.suppress(Exception):
                s.close()
        self.view.close()
        if ino is not None:
            with contextlib.suppress(OSError):
                ino.close()
        with contextlib.suppress(Exception):
            self._sel.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)


def _end_child(pid: int) -> None:
    """Kill and reap a prefetch child (it may have ended already)."""
    with contextlib.suppress(OSError):
        os.kill(pid, 9)
        os.waitpid(pid, 0)


def prefetch_watcher(backend) -> Watcher:
    """A Watcher for the dashboard, its first read already started (Watcher.prefetch), made before the UI
    is imported: the children read while textual and the panes load (~0.3 s) and the screen is built.
    The app (lab.ui.app.make_app(watcher=...)) takes it over: its callbacks are set there."""
    w = Watcher(backend, lambda update: None)
    w.prefetch()
    return w
