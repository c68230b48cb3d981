"""`lab clean`: undo exactly what --host sessions created on this machine, from the journal.

Only confirmed creations are undone (the kernel said it made them), and only while they are provably
the object lab made: a namespace by its nsfs inode, a link by its ifindex, an nft rule by its handle
and expressions, a chain or table by its handle, a sysctl while it still holds the value lab wrote, a daemon
(bird) while its pid still has the start time lab recorded, and everything inside a namespace only while that
namespace is still the same one (its inode). Names alone
never decide. Namespaces the lab created are deleted whole (everything inside goes with them).

Unreadable journal lines, invalid fields, unconfirmed creations (a crash between the journal and the
kernel) and objects that changed hands are reported as left, never guessed at; `lab clean` then exits
non-zero. Order: objects newest first (daemons too, even in lab's own namespaces, which they would keep alive), then the nf_tables chains/tables iptables-nft made on the way,
then links, then namespaces. Idempotent: the journal keeps only what could not be removed yet.
"""
from __future__ import annotations

import os
import socket
import stat
from dataclasses import dataclass, field

from pyroute2.netlink.exceptions import NetlinkError

from lab.backend import nsutil
from lab.backend.journal import Journal, JournalError, validate

_CONTAINERS = ("nft-chain", "iptables-table")
_LAST = ("link", "netns")


@dataclass
class Report:
    removed: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.left

    def __str__(self) -> str:
        out = list(self.removed)
        if not self.removed and not self.left:
            out.append("Nothing left to clean (already removed).")
        if self.left:
            out.append(f"lab clean left {len(self.left)} thing(s) it cannot prove it made:")
            out += [f"  {line}" for line in self.left]
        return "\n".join(out)


def _nsfs_dev() -> int:
    return os.stat("/proc/self/ns/net").st_dev


def _netns_is(name: str, ino) -> bool:
    """/run/netns/NAME is a mounted network namespace with inode `ino` (not a symlink, not a plain file)."""
    try:
        st = os.lstat(nsutil.ns_path(name))
    except OSError:
        return False
    return (not stat.S_ISLNK(st.st_mode) and st.st_dev == _nsfs_dev() and ino is not None and st.st_ino == ino)


def _ns_same(ns: str, nsino) -> bool:
    """The namespace an entry was made in is still that namespace."""
    if not ns:
        return nsino is None or os.fstat(nsutil.TOP.fd).st_ino == nsino
    return nsino is not None and _netns_is(ns, nsino)


def clean(journal: Journal | None = None) -> Report:
    from lab.backend.core import Backend

    journal = journal or Journal()
    rep = Report()
    try:
        entries, state, problems = journal.read()
    except (JournalError, OSError) as err:
        rep.left.append(f"the journal: {err}")
        return rep
    rep.left += [f"journal {p}" for p in problems]
    if not entries and not problems:
        rep.removed.append("Nothing to clean: lab has not created anything on this machine.")
        return rep
    todo: list[tuple[str, dict]] = []
    for eid, e in entries.items():
        st = state.get(eid)
        if st in ("fail", "gone"):
            continue
        why = validate(e)
        if why:
            rep.left.append(f"journal entry {eid}: {why}: not acted on")
        elif st == "pending":
            rep.left.append(f"{describe(e)}: lab stopped before the kernel confirmed it made it, so it may be "
                            f"the machine's own: left (if it exists and is lab's, remove it by hand)")
        else:
            todo.append((eid, e))
    b = Backend(host=True, journal=None)
    b.journal = None   # cleaning journals nothing
    ours = {e["name"] for _, e in todo if e["kind"] == "netns" and _netns_is(e["name"], e.get("ino"))}
    keep: list[str] = []

    def run(group):
        for eid, e in reversed(group):
            ns = e.get("ns", "")
            if e["kind"] not in ("netns", "daemon") and (ns in ours or not _ns_same(ns, e.get("nsino"))):
                continue   # dies with lab's namespace, or its namespace is gone / not the same one
                           # (a daemon does not die with its namespace: it is known by its pid and start time)
            try:
                done, left = _undo(b, e)
            except (NetlinkError, OSError) as err:
                done, left = None, f"{describe(e)}: {err}: kept in the journal for the next lab clean"
                keep.append(eid)
            except Exception as err:  # noqa: BLE001  (keep cleaning the rest, say what happened)
                done, left = None, f"{describe(e)}: {type(err).__name__}: {err}"
            if done:
                rep.removed.append(done)
            if left:
                rep.left.append(left)

    run([x for x in todo if x[1]["kind"] not in _CONTAINERS + _LAST])
    run([x for x in todo if x[1]["kind"] in _CONTAINERS])
    run([x for x in todo if x[1]["kind"] == "link"])
    run([x for x in todo if x[1]["kind"] == "netns"])
    b.close()
    journal.rewrite({eid: e for eid, e in todo if eid in keep})
    return rep


def describe(e: dict) -> str:
    """An entry in words (fields already validated or not: never raises)."""
    where = f" in {e.get('ns')}" if e.get("ns") else ""
    k = e.get("kind")
    if k == "netns":
        return f"namespace {e.get('name')}"
    if k == "link":
        return f"link {e.get('name')}{where}"
    if k == "addr":
        return f"address {e.get('cidr')} on {e.get('dev')}{where}"
    if k in ("route", "rule", "fdb"):
        got = e.get("spec")
        spec = got if isinstance(got, dict) else {}
        what = spec.get("dst") or spec.get("lladdr") or spec.get("src") or ""
        return f"{'ip rule' if k == 'rule' else k} {what}{where}".replace("  ", " ")
    if k == "neigh":
        return f"neighbour {e.get('dst')} on {e.get('dev')}{where}"
    if k == "sysctl":
        return f"sysctl {e.get('key')}{where}"
    if k == "qdisc":
        return f"qdisc on {e.get('dev')}{where}"
    if k == "daemon":
        return f"{e.get('prog')} (pid {e.get('pid')}){where}"
    if k == "trace-table":
        return "the tracer's nft table lab_trace" + (where or " in the machine's own namespace")
    if isinstance(k, str) and (k.startswith("iptables") or k == "nft-chain"):
        tool = "ip6tables" if e.get("family") == 6 else "iptables"
        return f"{tool} -t {e.get('table')} {k} {e.get('chain') or ''}{where}".rstrip()
    return f"entry of kind {k!r}"


def _process_is(pid: int, start: int, prog: str) -> bool:
    """Process `pid` is still the one lab started: same start time and program (a reused pid is not), and
    not a zombie (already gone, waiting for its parent)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat_ = f.read()
    except OSError:
        return False
    comm, _, rest = stat_.partition(" (")[2].rpartition(") ")
    fields = rest.split()
    return comm == prog[:15] and len(fields) > 19 and fields[0] != "Z" and fields[19] == str(start)


def _stop_daemon(e: dict) -> tuple[str | None, str | None]:
    """A daemon lab started (bird), while it is provably that process: SIGTERM, SIGKILL if it has not exited
    after 5 s; then its files in the lab temp dir."""
    import signal
    import time

    pid, start, prog = e.get("pid", 0), e.get("start", 0), e["prog"]
    done = None
    if _process_is(pid, start, prog):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + 5
            while _process_is(pid, start, prog) and time.monotonic() < deadline:
                time.sleep(0.02)      # not our child: no wait(); its /proc entry tells
            if not _process_is(pid, start, prog):
                break
        if _process_is(pid, start, prog):
            raise OSError("still running after SIGKILL")
        done = f"stopped {describe(e)}"
    _remove_files(e)
    return done, None


def _remove_files(e: dict) -> None:
    """The daemon's control socket, pid file and log: only lab's own names in the lab temp dir."""
    from lab import confine

    tmp = confine.lab_tmp_dir()
    for f in e.get("files", []):
        if (tmp and os.path.dirname(f) == tmp and os.path.basename(f).startswith(e["prog"] + "-")
                and not os.path.islink(f)):
            try:
                os.unlink(f)
            except OSError:
                pass


def _link_name(b, ns, ifindex: int) -> str | None:
    try:
        msgs = list(b.ipr(ns).get_links(ifindex))
    except NetlinkError:
        return None
    return msgs[0].get_attr("IFLA_IFNAME") if msgs else None


def _undo(b, e: dict) -> tuple[str | None, str | None]:
    """Undo one confirmed entry: (what was removed, what was left and why); (None, None) = already gone."""
    ns = e.get("ns") or None
    k = e["kind"]
    where = f" in {ns}" if ns else ""
    if k == "netns":
        if not _netns_is(e["name"], e.get("ino")):
            return None, None   # gone, or someone else's namespace by that name now
        b.forget_ns(e["name"])
        nsutil.remove_netns(e["name"])
        return f"deleted namespace {e['name']}", None
    if k == "daemon":
        return _stop_daemon(e)
    ipr = b.ipr(ns)
    if k == "link":
        if _link_name(b, ns, e.get("ifindex", 0)) != e["name"]:
            return None, None   # gone (or a different device now has that name: not lab's)
        ipr.link("del", index=e["ifindex"])
        return f"deleted link {e['name']}{where}", None
    if k == "addr":
        if _link_name(b, ns, e["ifindex"]) != e["dev"]:
            return None, None
        addr, _, plen = e["cidr"].partition("/")
        try:
            ipr.addr("del", index=e["ifindex"], address=addr, prefixlen=int(plen))
        except NetlinkError as err:
            if err.code in (99, 2, 19):
                return None, None
            raise
        return f"deleted address {e['cidr']} from {e['dev']}{where}", None
    if k in ("route", "neigh", "fdb", "rule"):
        if k == "rule" and "priority" not in e["spec"]:
            return None, f"{describe(e)}: its priority was not recorded, so it cannot be told from an identical rule: left"
        try:
            if k == "route":
                ipr.route("del", **e["spec"])
            elif k == "rule":
                from lab.backend.ip import rule_request

                rule_request(b, ns, False, e["spec"])
            elif k == "fdb":
                ipr.neigh("del", **e["spec"])
            else:
                if _link_name(b, ns, e["ifindex"]) != e["dev"]:
                    return None, None
                ipr.neigh("del", dst=e["dst"], ifindex=e["ifindex"],
                          family=socket.AF_INET6 if ":" in e["dst"] else socket.AF_INET)
        except NetlinkError as err:
            if err.code in (2, 3, 19, 99):
                return None, None   # already gone
            raise
        return f"deleted {describe(e)}", None
    if k == "sysctl":
        now = b.sysctl_get(ns, e["key"])
        if now != e.get("new", now):
            return None, f"{describe(e)} is {now}, not the {e['new']} lab set: left as it is"
        b.sysctl_set(ns, e["key"], e["old"])
        return f"restored {e['key']} = {e['old']}{where}", None
    if k == "trace-table":     # a trace killed before it removed its table (ip, and bridge if any)
        gone = [fam for fam in ("ip", "bridge")
                if b.run_cmd(ns, ["nft", "delete", "table", fam, "lab_trace"]).returncode == 0]
        return (f"removed {describe(e)} ({', '.join(gone)})" if gone else None), None
    if k == "qdisc":
        from lab.backend.tc import undo_qdisc

        return (f"removed qdisc on {e['dev']}{where}" if undo_qdisc(b, e) else None), None
    from lab.backend.iptables import undo_iptables

    left = undo_iptables(b, e)
    if left:
        return None, left + where
    tool = "ip6tables" if e.get("family") == 6 else "iptables"
    if k == "iptables-table":
        return f"removed the {tool} table {e['table']} it created{where}", None
    if k == "nft-chain":
        return f"removed the empty {tool} chain {e['chain']} iptables-nft created in table {e['table']}{where}", None
    what = (f"-A {e['chain']} {' '.join(e['spec'])}" if k == "iptables" else f"-N {e['chain']}" if k == "iptables-chain"
            else f"-P {e['chain']} (back to {e['old']})")
    return f"removed {tool} -t {e['table']} {what}{where}", None
