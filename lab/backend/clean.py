"""`lab clean`: undo exactly what --host sessions created on this machine, from the journal.

Namespaces the lab created are deleted (everything inside goes with them). Objects it created in
namespaces it did not create (links, addresses, routes, neighbours, rules, iptables rules and chains,
qdiscs, sysctl values) are removed or restored one by one, newest first. Objects already gone are
fine; nothing outside the journal is touched. Idempotent: the journal is cleared at the end.
"""
from __future__ import annotations

import importlib
import socket

from pyroute2.netlink.exceptions import NetlinkError

from lab.backend import nsutil
from lab.backend.journal import Journal


def _final_links(entries: list[dict]) -> dict[tuple[str, str], bool]:
    """Follow creations, renames and moves forward: where each created link is now."""
    live: dict[tuple[str, str], bool] = {}
    for e in entries:
        k = e.get("kind")
        key = (e.get("ns", ""), e.get("name", ""))
        if k == "link":
            live[key] = True
        elif k == "rename" and key in live:
            del live[key]
            live[(key[0], e["new"])] = True
        elif k == "move" and key in live:
            del live[key]
            live[(e["to"], key[1])] = True
    return live


def clean(journal: Journal | None = None) -> str:
    from lab.backend.core import Backend

    journal = journal or Journal()
    entries = journal.entries()
    if not entries:
        return "Nothing to clean: lab has not created anything on this machine."
    b = Backend(host=True, journal=None)
    b.journal = None  # cleaning records nothing
    ours = {e["name"] for e in entries if e.get("kind") == "netns"}
    done: list[str] = []

    def alive(ns: str) -> bool:
        return not ns or nsutil.netns_exists(ns)

    # 1. objects in namespaces the lab did not create, newest first
    links = _final_links(entries)
    for e in reversed(entries):
        ns = e.get("ns", "")
        k = e.get("kind")
        if k in ("netns", "link", "rename", "move") or ns in ours or not alive(ns):
            continue
        try:
            msg = _undo(b, e)
        except (NetlinkError, OSError):
            msg = None
        except Exception:  # noqa: BLE001  (keep cleaning the rest)
            msg = None
        if msg:
            done.append(msg)
    for (ns, name) in reversed(list(links)):
        if ns in ours or not alive(ns):
            continue
        ipr = b.ipr(ns or None)
        idx = ipr.link_lookup(ifname=name)
        if idx:
            try:
                ipr.link("del", index=idx[0])
                done.append(f"deleted link {name}" + (f" in {ns}" if ns else ""))
            except NetlinkError:
                pass
    # 2. the namespaces themselves
    for name in sorted(ours):
        if nsutil.netns_exists(name):
            b.forget_ns(name)
            try:
                nsutil.remove_netns(name)
                done.append(f"deleted namespace {name}")
            except OSError:
                pass
    b.close()
    journal.clear()
    return "\n".join(done) if done else "Nothing left to clean (already removed)."


def _undo(b, e: dict) -> str | None:
    ns = e.get("ns") or None
    k = e["kind"]
    ipr = b.ipr(ns)
    where = f" in {ns}" if ns else ""
    if k == "addr":
        idx = ipr.link_lookup(ifname=e["dev"])
        if idx:
            addr, _, plen = e["cidr"].partition("/")
            ipr.addr("del", index=idx[0], address=addr, prefixlen=int(plen))
            return f"deleted address {e['cidr']} from {e['dev']}{where}"
    elif k == "route":
        ipr.route("del", **e["spec"])
        return f"deleted route {e['spec'].get('dst')}{where}"
    elif k == "neigh":
        idx = ipr.link_lookup(ifname=e["dev"])
        if idx:
            ipr.neigh("del", dst=e["dst"], ifindex=idx[0], family=socket.AF_INET6 if ":" in e["dst"] else socket.AF_INET)
            return f"deleted neighbour {e['dst']}{where}"
    elif k == "fdb":
        ipr.neigh("del", **e["spec"])
        return f"deleted fdb entry {e['spec'].get('lladdr')}{where}"
    elif k == "rule":
        ipr.rule("del", **e["spec"])
        return f"deleted ip rule{where}"
    elif k == "sysctl":
        b.sysctl_set(ns, e["key"], e["old"])
        return f"restored {e['key']} = {e['old']}{where}"
    elif k in ("iptables", "iptables-chain", "iptables-policy", "iptables-table", "qdisc"):
        mod = importlib.import_module("lab.backend.iptables" if k.startswith("iptables") else "lab.backend.tc")
        fn = getattr(mod, "undo_iptables" if k.startswith("iptables") else "undo_qdisc", None)
        if fn is not None:
            fn(b, e)
            if k == "qdisc":
                return f"removed qdisc on {e.get('dev', '')}{where}"
            tool = "ip6tables" if e.get("family") == 6 else "iptables"
            if k == "iptables-table":
                return f"removed the {tool} table {e.get('table')} it created (if empty){where}"
            what = f"-t {e.get('table')} " + (f"-A {e.get('chain')} {' '.join(e.get('spec', []))}" if k == "iptables"
                                              else f"-N {e.get('chain')}" if k == "iptables-chain"
                                              else f"-P {e.get('chain')} (back to {e.get('old')})")
            return f"removed {tool} {what}{where}"
    return None
