"""The Backend: the lab's one door to the kernel.

Holds one netlink socket per namespace (opened by moving the calling thread into the namespace, the
fast path), applies Ops by dispatching to the family module that mirrors the Op's command module
(lab.commands.X -> lab.backend.X), reads state back as model objects, and in --host mode journals
every creation before making it. Leaves parsing to lab.commands and drawing to lab.ui.
"""
from __future__ import annotations

import contextlib
import os
import importlib
import subprocess
import threading
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Callable, Iterator

from pyroute2.netlink.exceptions import NetlinkError

from lab.backend import nsutil
from lab.backend.journal import NOOP, Entry, Journal
from lab.errors import LabError, did_you_mean

if TYPE_CHECKING:
    from lab.backend.rtnl import Rtnl
    from lab.commands.base import Op
    from lab.model import Address, Chain, FdbEntry, Link, Neighbour, Qdisc, Route, Snapshot, TcClass

_APPLIERS: dict[type, Callable] = {}
OUTLIVE_NAMESPACE = ("daemon",)   # journaled kinds that do not go with a namespace lab deletes


def applies(*op_types: type):
    """Register a function (backend, op) -> str as the way to apply these Op types."""
    def deco(fn):
        for t in op_types:
            _APPLIERS[t] = fn
        return fn
    return deco


class Backend:
    """Apply Ops to the kernel and read its state.

    Args:
        host: True to act on the machine's real namespaces (needs CAP_NET_ADMIN); False when the
            process is already inside the sandbox (lab.backend.sandbox).
        journal: where --host records creations (default: /run/lab/host-journal.jsonl).
    """

    def __init__(self, host: bool = False, journal: Journal | None = None, read_only: bool = False):
        self.host = host
        self.read_only = read_only
        self.journal = journal or (Journal() if host else None)
        self._socks: dict[str, Rtnl] = {}             # fast-path rtnl sockets, by namespace
        self._ipr: dict[tuple[int, str], Any] = {}     # pyroute2 sockets, by (thread, namespace)
        self.lock = threading.RLock()
        self.listeners: list[Callable[[object], None]] = []

    # ---- namespaces -------------------------------------------------------------------------------
    def namespaces(self) -> list[str]:
        """Named namespaces (/run/netns, as `ip netns list`; with --host also the discovered ones: containers',
        those held only by a process), without the top one."""
        return nsutil.all_netns()

    def require_ns(self, ns: str | None) -> None:
        if ns and not nsutil.ns_known(ns):
            raise LabError(f'Cannot open network namespace "{ns}": No such file or directory'
                           + did_you_mean(ns, self.namespaces()),
                           f"Create it first: ip netns add {ns}")

    def ipr(self, ns: str | None) -> Any:
        """The calling thread's cached IPRoute socket bound inside `ns` (None = top).

        One per thread: pyroute2's sync API opens a new socket on first use in each thread, in that
        thread's namespace, so a socket shared across threads would silently talk to the wrong one.
        """
        key = (threading.get_ident(), ns or "")
        with self.lock:
            s = self._ipr.get(key)
            if s is None:
                self.require_ns(ns)
                self._prune_dead_threads()
                from pyroute2 import IPRoute

                with nsutil.in_netns(ns):
                    s = IPRoute(ext_ack=True)   # the kernel's own error text (extack), as iproute2 shows it
                    s.get_links(1)  # first request now, so the socket is made inside the namespace
                self._ipr[key] = s
            return s

    def _prune_dead_threads(self) -> None:
        alive = {t.ident for t in threading.enumerate()}
        for key in [k for k in self._ipr if k[0] not in alive]:
            _close(self._ipr.pop(key))

    def rtnl(self, ns: str | None) -> Rtnl:
        """The cached fast-path rtnetlink socket (lab.backend.rtnl.Rtnl) bound inside `ns`."""
        key = "\0rtnl:" + (ns or "")
        with self.lock:
            s = self._socks.get(key)
            if s is None:
                self.require_ns(ns)
                from lab.backend.rtnl import Rtnl

                with nsutil.in_netns(ns):
                    s = Rtnl()
                self._socks[key] = s
            return s

    def forget_ns(self, ns: str) -> None:
        if ns and not nsutil.ns_known(ns):     # deleted behind lab's back: its daemons would keep it alive
            self.stop_daemons(ns)
        with self.lock:
            for key in [k for k in self._ipr if k[1] == ns]:
                _close(self._ipr.pop(key))
            s = self._socks.pop("\0rtnl:" + ns, None)
            if s is not None:
                _close(s)

    def stop_daemons(self, ns: str | None) -> None:
        """Stop the daemons (bird) lab started in `ns` (None = the top namespace): before deleting it."""
        from lab.backend import daemons

        daemons.stop_in(ns)

    def running_daemons(self) -> list[tuple[str, str, int]]:
        """(program, namespace, pid) of every daemon lab runs ("" = the top namespace)."""
        from lab.backend import daemons

        return [(d.prog, d.ns, d.pid) for d in daemons.all_running()]

    def close(self) -> None:
        from lab.backend import daemons

        daemons.stop_all()
        with self.lock:
            for key in list(self._ipr):
                _close(self._ipr.pop(key))
            for name in list(self._socks):
                _close(self._socks.pop(name))

    # ---- helpers for family modules ---------------------------------------------------------------
    def run_cmd(self, ns: str | None, argv: list[str], input: str | None = None,
                timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a program inside `ns`, capturing output (the subprocess inherits the thread's netns)."""
        self.require_ns(ns)
        with nsutil.in_netns(ns):
            try:
                return subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout,
                                      stdin=None if input is not None else subprocess.DEVNULL,
                                      preexec_fn=nsutil.die_with_parent)
            except FileNotFoundError:
                raise LabError(f"{argv[0]}: command not found",
                               f"Install it (Debian: apt-get install {_PKG.get(argv[0], argv[0])}).") from None
            except subprocess.TimeoutExpired:
                raise LabError(f"{argv[0]}: timed out after {timeout:.0f} s") from None

    def sysctl_path(self, key: str) -> str:
        from lab.commands.sysctl import swap_separators

        return "/proc/sys/" + swap_separators(key)   # net.ipv4.conf.eth0/100.x -> net/ipv4/conf/eth0.100/x

    def sysctl_get(self, ns: str | None, key: str) -> str:
        self.require_ns(ns)
        with nsutil.in_netns(ns):
            with open(self.sysctl_path(key)) as f:
                return f.read().strip()

    def sysctl_set(self, ns: str | None, key: str, value: str) -> None:
        self.require_ns(ns)
        old = None
        if self.journaled(ns):
            try:
                old = self.sysctl_get(ns, key)
            except OSError:
                old = None
        with (self.creating(ns, "sysctl", key=key, old=old, new=value) if old is not None and old != value
              else contextlib.nullcontext(NOOP)):
            with nsutil.in_netns(ns):
                with open(self.sysctl_path(key), "w") as f:
                    f.write(value)

    # ---- the --host journal -----------------------------------------------------------------------
    def _ns_is_ours(self, ns: str | None) -> bool:
        """True if everything in `ns` dies with it because the lab created it (--host)."""
        return bool(ns) and self.journal is not None and ns in self.journal.created_netns()

    def journaled(self, ns: str | None) -> bool:
        """--host, and `ns` is one the lab did not create: its creations there must be journaled."""
        return self.journal is not None and not self._ns_is_ours(ns)

    def creating(self, ns: str | None, kind: str, **fields: Any) -> AbstractContextManager[Entry]:
        """Context manager around one kernel creation in --host mode.

        Journals the intent (fsync'ed) before the body runs; the body makes the object and calls
        `entry.confirm(**identity)` (ifindex, handle...) once the kernel accepted it; leaving the body
        normally confirms without identity, an Exception marks it failed (the kernel made nothing, so
        `lab clean` leaves that name alone). Yields a no-op entry in the sandbox or in lab's own namespaces
        (except for a daemon: a process does not die with its namespace, it keeps it alive).
        """
        if not self.journaled(ns) and not (self.journal is not None and kind in OUTLIVE_NAMESPACE):
            return contextlib.nullcontext(NOOP)
        return self._creating(ns, kind, fields)

    @contextlib.contextmanager
    def _creating(self, ns: str | None, kind: str, fields: dict) -> Iterator[Entry]:
        from lab.backend.journal import JournalError

        assert self.journal is not None   # journaled() said so
        try:
            ent = self.journal.begin(kind=kind, ns=ns or "", nsino=nsutil.netns_inode(ns), **fields)
        except JournalError as e:
            raise LabError(f"--host journal: {e}", "Nothing was changed: lab only acts when it can record it.") from None
        try:
            yield ent
        except Exception:
            ent.fail()
            raise
        ent.confirm()

    def retire(self, ns: str | None, kind: str, match: Callable[[dict], bool]) -> None:
        """--host: the lab deleted objects it had created (`match` picks their entries): forget them."""
        if self.journal is None:
            return
        for eid, e in self.journal.live(kind, ns or ""):
            if match(e):
                self.journal.retire(eid)

    def link_index(self, ns: str | None, name: str, tool: str = "ip") -> int:
        """ifindex of `name` in `ns`, or the iproute2 error with a did-you-mean.

        When `name` is in another namespace the hint says how to reach it with the tool that was typed
        (`tool`: "ip", "tc" or "bridge"; all three take -n NS)."""
        try:                      # one RTM_GETLINK by name, as iproute2 asks (the kernel knows altnames too)
            return self.rtnl(ns).link_index(name)
        except NetlinkError as e:     # ENODEV: the friendly error below
            if e.code != 19:
                raise
        names = [link.name for link in self.rtnl(ns).links(ns)]
        where = f' in namespace "{ns}"' if ns else ""
        near = did_you_mean(name, names)
        hint = f"Devices here: {', '.join(names)}" if len(names) <= 12 else None
        elsewhere = [other for other in [None] + self.namespaces()
                     if other != ns and self._has_link(other, name)]
        if elsewhere:
            o = elsewhere[0]
            near = ""   # the very name is elsewhere: a look-alike here would mislead
            hint = (f'"{name}" is in namespace "{o}": use {tool} -n {o} ... (or {o} {tool} ...)' if o
                    else f'"{name}" is in the top namespace: drop -n / the namespace prefix')
        raise LabError(f'Cannot find device "{name}"{where}' + near, hint)

    def _has_link(self, ns: str | None, name: str) -> bool:
        try:
            self.rtnl(ns).link_index(name)
            return True
        except Exception:  # noqa: BLE001  (ENODEV; or the namespace is gone)
            return False

    # ---- apply ------------------------------------------------------------------------------------
    def apply(self, op: Op) -> str:
        """Apply one Op; returns the text to print. Raises LabError (nothing applied) on failure."""
        if self.read_only and op.mutates:
            refuse_read_only(op)
        fn = _APPLIERS.get(type(op))
        if fn is None:
            mod = type(op).__module__.replace("lab.commands.", "lab.backend.")
            importlib.import_module(mod)
            fn = _APPLIERS.get(type(op))
            if fn is None:
                raise LabError(f"internal: no way to apply {type(op).__name__}")
        with self.lock:
            return fn(self, op) or ""

    # ---- snapshots (state for panes, checks, export) ----------------------------------------------
    def snapshot(self, namespaces: list[str | None] | None = None, extras: bool = True) -> Snapshot:
        """A model.Snapshot of the given namespaces (default: top + all named)."""
        from lab.backend import state

        return state.snapshot(self, namespaces, extras)

    # ---- readers: one namespace's kernel state as model objects (lab.backend.api.LabBackend) ------
    def links(self, ns: str | None) -> list[Link]:
        from lab.backend import state

        return state.links(self, ns)

    def addresses(self, ns: str | None, family: int | None = None) -> list[Address]:
        from lab.backend import state

        return state.addresses(self, ns, family)

    def routes(self, ns: str | None, table: int | None = 254, family: int | None = 4) -> list[Route]:
        from lab.backend import state

        return state.routes(self, ns, table, family)

    def neighbours(self, ns: str | None, family: int | None = None) -> list[Neighbour]:
        from lab.backend import state

        return state.neighbours(self, ns, family=family)

    def fdb(self, ns: str | None) -> list[FdbEntry]:
        from lab.backend import bridge

        return bridge.fdb_entries(self, ns)

    def chains(self, ns: str | None, table: str | None = None, family: int = 4) -> tuple[Chain, ...]:
        from lab.backend import iptables

        return iptables.chains(self, ns, table, family)

    def qdiscs(self, ns: str | None) -> list[Qdisc]:
        from lab.backend import tc

        return tc.qdiscs(self, ns)

    def tc_classes(self, ns: str | None, dev: str) -> list[TcClass]:
        from lab.backend import tc

        return tc.tc_classes(self, ns, dev)


def _close(sock) -> None:
    try:
        sock.close()
    except Exception:  # noqa: BLE001
        pass


_PKG = {"iptables": "iptables", "iptables-nft": "iptables", "nft": "nftables", "conntrack": "conntrack",
        "ping": "iputils-ping", "tcpdump": "tcpdump", "bird": "bird2", "birdc": "bird2"}


# programs a read-only session (lab attach) may run: they look, or send test traffic, but change no setting
READ_ONLY_PROGRAMS = ("ping", "tracepath", "traceroute", "ss", "nstat", "tcpdump")


def refuse_read_only(op: Op, line: str = "") -> None:
    """The message for a change in a read-only session (lab attach, --read-only): what was refused, why, how."""
    from lab.commands.ip import ExecOp

    if isinstance(op, ExecOp):
        prog = os.path.basename(op.argv[0]) if op.argv else ""
        if prog in READ_ONLY_PROGRAMS:
            return
        raise LabError(f'read-only session: "{prog}" is not run here: it could change the machine, and this session '
                       f"only looks (programs it runs: {', '.join(READ_ONLY_PROGRAMS)}). Nothing was changed.",
                       "To change things, use lab --host without --read-only (as root).")
    what = f'"{line.strip()}"' if line.strip() else f"that command ({type(op).__name__})"
    raise LabError(f"read-only session: {what} would change the machine, so it is refused. Nothing was changed.",
                   "To change things, use lab --host without --read-only (as root).")
