"""One trace run against the kernel: pick the source address, mark the probe in every lab namespace,
listen with ONE netlink socket across namespaces, send, collect until the kernel falls quiet, and
remove the marking rules again (always, even on error or Ctrl-C).

Keeps per-Backend state (one nfnetlink socket per namespace, the nsid of each namespace as seen
from the top one) so a trace in a 50-namespace lab costs a few milliseconds of set-up.
Leaves to others: what the events mean (path.py).
"""
from __future__ import annotations

import os
import random
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from lab.backend import nsutil
from lab.errors import LabError
from lab.tracer import nfnl as N
from lab.tracer import probe as P
from lab.tracer import rules as R
from lab.commands.tracespec import TraceSpec

NOT_ASSIGNED = (-1, 4294967295, None)


@dataclass
class Capture:
    spec: TraceSpec
    probes: list[P.Probe]
    events: list[N.TraceEvent]
    nsid_names: dict[int | None, str]          # nsid (None = listener's own) -> ns name ("" = top)
    namespaces: list[str]                      # namespaces that had trace rules ("" = top)
    send_error: OSError | None = None          # what sendto() said (no route, too big for the MTU...)
    src_route_error: str | None = None
    overrun: bool = False
    timings: dict = field(default_factory=dict)
    t_send: float = 0.0                        # time.perf_counter() when the probe went out
    warnings: list[str] = field(default_factory=list)
    ctmark: int = 0
    guards: dict[str, dict[int, str]] = field(default_factory=dict)   # --host: ns -> {ifindex: why it leaves}


class TracerState:
    """Cached per Backend: netfilter sockets per namespace and nsids, keyed by namespace inode."""

    def __init__(self) -> None:
        self.socks: dict[tuple[str, int], N.NfnlSocket] = {}
        self.nsids: dict[tuple[int, int], int] = {}
        self.lock = threading.Lock()
        self.bridge_ok: dict[tuple[str, int], bool] = {}
        self.clean: set[tuple[str, int]] = set()      # (ns, inode) where the last trace's tables were removed
        # rule text cached for these namespaces (lab.tracer.ruletext); for each, the nf_tables generation
        # before and after the last trace when the trace's own commits were the only ones in between
        self.gen_watch: set[tuple[str, int]] = set()
        self.quiet: dict[tuple[str, int], set[tuple[int, int]]] = {}

    def sock(self, ns: str) -> N.NfnlSocket:
        key = (ns, nsutil.netns_inode(ns or None))
        s = self.socks.get(key)
        if s is None:
            for k in [k for k in self.socks if k[0] == ns]:
                self.socks.pop(k).close()
            with nsutil.in_netns(ns or None):
                s = N.NfnlSocket()
            s.sock.settimeout(2.0)
            self.socks[key] = s
        return s


def state_of(backend) -> TracerState:
    st = backend.__dict__.get("_lab_tracer_state")
    if st is None:
        st = backend.__dict__["_lab_tracer_state"] = TracerState()
    return st


def lab_namespaces(backend) -> list[str]:
    """Every namespace the trace watches: "" (the top one: the sandbox's, or with --host the machine's own)
    and every named one."""
    return [""] + list(backend.namespaces())


LEAVING_KINDS = {"tun": "a tun/tap device: what goes in is handed to a program, which may send it anywhere",
                 "wireguard": "a WireGuard tunnel to peers elsewhere"}


TUNNEL_REMOTE = {"vxlan": "IFLA_VXLAN_GROUP", "geneve": "IFLA_GENEVE_REMOTE", "gre": "IFLA_GRE_REMOTE",
                 "gretap": "IFLA_GRE_REMOTE", "ipip": "IFLA_IPTUN_REMOTE", "sit": "IFLA_IPTUN_REMOTE"}


def leaving_links(backend, ns: str) -> dict[int, str]:
    """--host: the interfaces of `ns` through which a packet leaves the machine, and why: a physical NIC
    (the kernel names its parent device: PCI, virtio...), a tun/tap, a WireGuard tunnel, and a tunnel
    (VXLAN, Geneve, GRE, IPIP) whose remote end (its remote/group, or a VXLAN's fdb destinations) this
    namespace reaches through one of those. One hand-parsed link dump per namespace; pyroute2 only for
    the tunnels' details."""
    leaves: dict[int, tuple[str, str]] = {}      # ifindex -> (name, what it is)
    tunnels = []
    for index, name, kind, parent, bus in backend.rtnl(ns or None).link_kinds():
        if parent and not kind:
            leaves[index] = (name, f"a physical interface ({bus + ' ' if bus else ''}device {parent})")
        elif kind in LEAVING_KINDS:
            leaves[index] = (name, LEAVING_KINDS[kind])
        elif kind in TUNNEL_REMOTE:
            tunnels.append((index, name, kind))
    out = {i: f"{name} is {what}" for i, (name, what) in leaves.items()}
    if not tunnels or not leaves:
        return out
    ipr = backend.ipr(ns or None)
    for idx, name, kind in tunnels:
        try:
            info = next(iter(ipr.get_links(idx))).get_attr("IFLA_LINKINFO")
            data = info.get_attr("IFLA_INFO_DATA") if info is not None else None
            remote = data.get_attr(TUNNEL_REMOTE[kind]) if data is not None and hasattr(data, "get_attr") else None
            remotes = [remote] if remote and remote not in ("0.0.0.0", "::") else []
            if kind == "vxlan" and not remotes:       # unicast VXLAN: the destinations in its fdb
                remotes = list(dict.fromkeys(n.get_attr("NDA_DST") for n in
                                             ipr.get_neighbours(family=socket.AF_BRIDGE, ifindex=idx)
                                             if n.get_attr("NDA_DST")))
        except Exception:  # noqa: BLE001  (the tunnel went between the two reads: nothing leaves through it)
            continue
        for r in remotes:
            try:
                oif = next((m.get_attr("RTA_OIF") for m in ipr.route("get", dst=r)), None)
            except Exception:  # noqa: BLE001  (no route: the tunnel sends nothing anywhere)
                continue
            if oif in leaves:
                via, what = leaves[oif]
                where = ns or "this machine's namespace"
                out[idx] = f"{name} ({kind}) carries it, encapsulated, to {r}, which {where} reaches through {via} ({what})"
                break
    return out


def nsid_map(backend, st: TracerState, names: list[str], assigned: list[str] | None = None) -> dict[int | None, str]:
    """nsid (as the top namespace sees it) -> name; assigns nsids where missing (their names go in
    `assigned`)."""
    top_ino = nsutil.netns_inode(None)
    rt = backend.rtnl(None)
    out: dict[int | None, str] = {None: ""}
    for ns in names:
        if not ns:
            continue
        try:
            ino = nsutil.netns_inode(ns)
        except OSError:
            continue
        key = (top_ino, ino)
        nsid = st.nsids.get(key)
        if nsid is None:
            fd = os.open(nsutil.ns_path(ns), os.O_RDONLY | os.O_CLOEXEC)
            try:
                nsid = rt.nsid(fd)
                if nsid in NOT_ASSIGNED:
                    rt.assign_nsid(fd)
                    nsid = rt.nsid(fd)
                    if assigned is not None:
                        assigned.append(ns)
            except OSError:
                nsid = None
            finally:
                os.close(fd)
            if nsid in NOT_ASSIGNED:
                continue
            st.nsids[key] = nsid
        out[nsid] = ns
    return out


def _pipeline(st: TracerState, names: list[str], build) -> dict[str, Exception]:
    """Send one batch to every namespace's socket, then collect the acks. (The kernel runs each batch
    inside send(); threads only contend for the same CPUs, measured slower.)"""
    errs: dict[str, Exception] = {}
    waiting = []
    for ns in names:
        try:
            s = st.sock(ns)
            datas, acks = build(ns, s)
            for data in datas:
                s.sock.send(data)
            waiting.append((ns, s, acks))
        except OSError as e:
            errs[ns] = e
    for ns, s, acks in waiting:
        try:
            _wait_acks(s, acks)
        except OSError as e:
            errs[ns] = e
    return errs


def _wait_acks(s: N.NfnlSocket, acks: set[int], ignore: tuple[int, ...] = (2,)) -> None:
    """Wait for the acks of `acks` (a batch asks one, on its last message); an error reported for any other
    message of the batch (the kernel always reports those) counts too."""
    import struct

    pending = set(acks)
    first = None
    while pending:
        try:    # the kernel delivers a batch's acks and errors together, after it: once an error is in, the rest
            data = s.sock.recv(1 << 16, socket.MSG_DONTWAIT if first is not None else 0)   # is already queued
        except BlockingIOError:
            break
        for t, _fl, seq, body in N.iter_msgs(data):
            if t == N.NLMSG_ERROR:
                code = struct.unpack_from("=i", body, 0)[0]
                pending.discard(seq)
                if code and -code not in ignore and first is None:
                    first = N.NfnlError(-code, os.strerror(-code))
    if first:
        raise first


def route_source(backend, ns: str | None, dst: str) -> tuple[str | None, str | None]:
    """The source address the kernel would pick for dst from ns (RTM_GETROUTE), or (None, error)."""
    from lab.backend.rtnl import RTA_PREFSRC

    try:
        r = backend.rtnl(ns).route_get(dst)
    except Exception as e:  # noqa: BLE001  NetlinkError: no route
        return None, _nl_err(e)
    return r.addr(RTA_PREFSRC), None


def _nl_err(e: Exception) -> str:
    code = getattr(e, "code", None)
    if code:
        return os.strerror(code)
    return str(e)


def any_address(backend, ns: str | None) -> str | None:
    for a in backend.rtnl(ns).addresses(ns, {}):
        if a.family == "inet" and not a.local.startswith("127."):
            return a.local
    return None


def run_capture(backend, spec: TraceSpec, idle: float = 0.012, on_captured=None) -> Capture:
    """Run one trace and return the raw material (events, probes, namespace names). `on_captured(cap)` runs
    once the events are in, before the trace tables are removed (timings then lack "remove")."""
    t0 = time.perf_counter()
    backend.require_ns(spec.ns)
    st = state_of(backend)
    names = lab_namespaces(backend)
    src = spec.src
    src_err = None
    if src is None:
        src, src_err = route_source(backend, spec.ns, spec.dst)
        if src is None:
            src = any_address(backend, spec.ns) or "0.0.0.0"
    ip_id0 = P.pick_ip_ids(spec.count)
    probes = P.build(spec, src, ip_id0)
    ctmark = random.randint(0x10000, 0x7FFFFFFF)
    first = probes[0].data
    match = R.ProbeMatch(ip_id0, ip_id0 + spec.count - 1, R.PROTO_NUM[spec.proto], len(first), ctmark,
                         reply_port=probes[0].sport,
                         echo_id=int.from_bytes(first[24:26], "big") if spec.proto == "icmp" and first[20] == 8 else None)
    t1 = time.perf_counter()
    with st.lock:
        assigned: list[str] = []
        nsids = nsid_map(backend, st, names, assigned)
        t2 = time.perf_counter()
        cap = Capture(spec, probes, [], nsids, names, src_route_error=src_err, ctmark=ctmark)
        if backend.read_only:
            cap.warnings.append("read-only session: this trace's one change was its own nft table lab_trace in each "
                                "namespace, installed for the probe and removed after"
                                + (f"; and the kernel now keeps an nsid for {', '.join(assigned)} (the trace's one "
                                   "listener needs it; `ip netns list-id`)" if assigned else "") + ".")
        if backend.host:      # never off the machine: a guard drops the probe where it would leave
            cap.guards = {ns: g for ns in names if (g := leaving_links(backend, ns))}
        listener = None
        journaled: dict[str, Any] = {}
        watched: list[tuple[str, int]] = []
        gen0: dict[tuple[str, int], int | None] = {}
        failed: set[str] = set()
        try:
            prebuilt: dict[tuple, tuple] = {}   # the same bytes serve every namespace (sequence numbers are per socket)

            def build(ns, s):
                key = (ns, nsutil.netns_inode(ns or None))
                br = st.bridge_ok.get(key, True)
                guard = tuple(sorted(cap.guards.get(ns, ())))
                clean = key in st.clean
                st.clean.discard(key)
                if (br, guard, clean) not in prebuilt:
                    prebuilt[br, guard, clean] = R.install_msgs(s, match, bridge=br, guard=guard, clean=clean)
                return prebuilt[br, guard, clean]

            journaled = _journal_tables(backend, names)
            watched = [k for k in st.gen_watch if k[0] in names]
            gen0 = _genids(st, watched)
            errs = _pipeline(st, names, build)
            for ns, e in list(errs.items()):   # a kernel without nf_tables bridge: retry ip only
                key = (ns, nsutil.netns_inode(ns or None))
                st.bridge_ok[key] = False
                e2 = _pipeline(st, [ns], build)
                if e2:
                    failed.add(ns)
                    cap.warnings.append(f'Could not install the trace rules in "{ns or "host"}": {e2[ns]}; '
                                        "that namespace is invisible to this trace.")
            t3 = time.perf_counter()
            with nsutil.in_netns(None):
                listener = N.TraceListener()
            early = _Reader(listener)      # reads (and timestamps) the events while sendto() still runs
            try:
                cap.t_send = time.perf_counter()
                cap.send_error = P.send(spec.ns, probes)
            finally:
                early.stop()
            t4 = time.perf_counter()
            src_nsid = next((i for i, n in nsids.items() if n == (spec.ns or "")), None)
            cap.events = _collect(listener, idle, spec.wait, src_nsid, set(range(ip_id0, ip_id0 + spec.count)),
                                  early.events)
            cap.overrun = listener.overrun
            t5 = time.perf_counter()
            if on_captured is not None:
                listener.close()
                listener = None
                cap.timings = {"build": t1 - t0, "nsid": t2 - t1, "install": t3 - t2, "send": t4 - t3,
                               "collect": t5 - t4}
                on_captured(cap)
            t5b = time.perf_counter()
        finally:
            if listener is not None:
                listener.close()
            errs = _pipeline(st, names, lambda ns, s: R.remove_msgs(
                s, bridge=st.bridge_ok.get((ns, nsutil.netns_inode(ns or None)), True)))
            for ns, e in errs.items():
                cap.warnings.append(f'Could not remove the trace table in "{ns or "host"}": {e}')
            st.clean.update((ns, nsutil.netns_inode(ns or None)) for ns in names if ns not in errs and ns not in failed)
            # nobody else changed these rulesets during the trace: their rule text stays good. The path is built
            # after the install (generation g0 + 1) and before the removal, so what was read then is good when
            # the next trace builds its path: one removal and one install later. A namespace whose text was
            # first read in this trace (not watched at its start) was read at gen1 - removal.
            now = [k for k in st.gen_watch if k[0] in names]
            if now:
                gen1 = _genids(st, now)
                for k in now:
                    ours = 2 + (1 if st.bridge_ok.get(k, True) else 0)   # install; remove ip (and bridge)
                    g0, g1 = gen0.get(k), gen1.get(k)
                    if k[0] in failed or k[0] in errs or g1 is None:
                        st.quiet.pop(k, None)
                    elif g0 is not None and g1 == g0 + ours:
                        st.quiet[k] = {(g0, g0 + ours), (g0 + 1, g1 + 1)}
                    elif g0 is None:
                        st.quiet[k] = {(g1 - ours + 1, g1 + 1)}
                    else:
                        st.quiet.pop(k, None)
            for ns, ent in journaled.items():
                if ns not in errs and backend.journal is not None:
                    backend.journal.retire(ent.id)      # removed: nothing for lab clean
        t6 = time.perf_counter()
    cap.timings = {"build": t1 - t0, "nsid": t2 - t1, "install": t3 - t2, "send": t4 - t3,
                   "collect": t5 - t4, "remove": t6 - t5b}
    return cap


class _Reader:
    """A thread reading the listener while the probe is being sent: the kernel runs the whole path of a
    veth lab inside sendto(), so this is when the events arrive, and their times mean something."""

    def __init__(self, listener: N.TraceListener) -> None:
        self.listener = listener
        self.events: list[N.TraceEvent] = []
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, name="lab-trace-reader", daemon=True)
        self._th.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            r, _w, _x = select.select([self.listener.fileno()], [], [], 0.002)
            if r:
                self.events.extend(self.listener.read_ready())

    def stop(self) -> None:
        self._stop.set()
        self._th.join()


IN_FLIGHT = 0.3      # seconds: the longest wait for a leaving packet's next event (ARP on a busy machine)


def _collect(listener: N.TraceListener, idle: float, wait: float, src_nsid: int | None = None,
             probe_ids: set[int] | None = None, first: list | None = None) -> list[N.TraceEvent]:
    """Read events until none came for `idle` seconds (everything on a veth path happens inside
    sendto(); the idle gap covers softirq deferral), at most `wait` seconds. Once every probe's answer has
    reached the sender's INPUT, a short gap is enough (for the sender's own RST). While the last event is a
    packet leaving a namespace (lab's POSTROUTING observer) and no answer is in yet, the gap is IN_FLIGHT:
    the kernel may hold that packet for ARP, whose answer takes longer than `idle` on a busy machine (a
    request flooded over a 200-port bridge), and stopping then would report an ARP failure that is not one."""
    events: list[N.TraceEvent] = []
    deadline = time.perf_counter() + wait
    last = time.perf_counter()
    answered = 0
    gap = idle
    in_flight = False
    pending = list(first or [])          # read while the probe was sent: taken as the first batch
    while True:
        got, pending = pending + listener.read_ready(), []
        now = time.perf_counter()
        if got:
            events.extend(got)
            last = now
            in_flight = got[-1].chain == "obs_post" and got[-1].table == R.TABLE
            if probe_ids:
                for ev in got:
                    if (ev.nsid == src_nsid and ev.chain == "obs_in" and ev.table == R.TABLE and ev.nh
                            and int.from_bytes(ev.nh[4:6], "big") not in probe_ids):
                        answered += 1
                if answered >= len(probe_ids):
                    gap = min(idle, 0.002)
        g = max(gap, IN_FLIGHT) if in_flight and not answered else gap
        if now >= deadline or now - last >= g:
            break
        select.select([listener.fileno()], [], [], max(0.0, min(g - (now - last), deadline - now)))
    return events


def _genids(st: TracerState, keys: list[tuple[str, int]]) -> dict[tuple[str, int], int | None]:
    out: dict[tuple[str, int], int | None] = {}
    for k in keys:
        try:
            out[k] = st.sock(k[0]).genid() if nsutil.netns_inode(k[0] or None) == k[1] else None
        except OSError:
            out[k] = None
    return out


def _journal_tables(backend, names: list[str]) -> dict[str, Any]:
    """--host: journal the trace table in every namespace that is not lab's own (the machine's, a
    container's) before it is installed, so `lab clean` removes it after a SIGKILL; confirmed at once
    (the install batch replaces any lab_trace table, so the name alone is lab's)."""
    from lab.backend.journal import JournalError

    out: dict[str, Any] = {}
    if backend.journal is None:
        return out
    for ns in names:
        if backend.journaled(ns or None):
            try:
                ent = backend.journal.begin(kind="trace-table", ns=ns, nsino=nsutil.netns_inode(ns or None),
                                            table=R.TABLE)
            except JournalError as e:
                raise LabError(f"--host journal: {e}", "Nothing was changed: lab only acts when it can record "
                                                       "it.") from None
            ent.confirm()
            out[ns] = ent
    return out
