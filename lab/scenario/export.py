"""Export the current lab: a replayable shell script (`--sh`), or the topology as Graphviz (`--dot`)
or Mermaid (`--mermaid`).

Functions (for the TUI, `lab play ... --export-sh OUT`, tests):
    export_sh(backend, host_mode=None) -> str      ip / bridge / tc / iptables / ip6tables / sysctl commands
    export_dot(backend) -> str;  export_mermaid(backend) -> str
    export(backend, fmt) -> str                     fmt in sh, dot, mermaid

The script uses only commands that both `sh` (as root, e.g. in `unshare -rnm`) and `lab run FILE`
understand: `ip netns add`, `ip -n NS ...`, `ip netns exec NS {iptables,tc,sysctl,bridge} ...`.
Running it in a fresh sandbox gives the same namespaces, links (kind, master, MTU, up/down, veth
peers), addresses, routes, ip rules, permanent neighbours, VXLAN FDB entries, sysctls (the usual
net.* keys, where they differ from a fresh namespace's), iptables rules (from iptables-save), and root
qdiscs with htb classes. Not exported: MAC addresses, tc filters, nft tables not made by iptables.

Why a function and a command: a sandboxed lab lives only as long as its process, so `lab export`
on its own sees a fresh, empty sandbox. Use it with `--from FILE` (a scenario or a `lab run` script is
built first, then exported), with `--host` (the machine's namespaces; there, the top namespace's
physical devices, its iptables and sysctls are left out: only the lab's virtual links are written),
or call export_sh() from inside a live lab (the TUI, `lab play --export-sh`).
"""
from __future__ import annotations

import argparse
import ipaddress
import re
import shlex
import sys
import threading
from typing import TYPE_CHECKING

from lab.commands.ip import dev_word
from lab.commands.sysctl import COMMON_KEYS as SYSCTL_KEYS

if TYPE_CHECKING:
    from lab.backend.api import LabBackend
    from lab.model import Qdisc

VIRTUAL = {"veth", "bridge", "vxlan", "macvlan", "ipvlan", "vlan", "dummy", "gre", "gretap", "geneve",
           "tun", "tap", "wireguard"}
DEFAULT_RULES = {(0, "from all lookup local"), (32766, "from all lookup main"), (32767, "from all lookup default")}
DEFAULT_QDISCS = {"noqueue", "pfifo_fast", "noop", "mq", "fq_codel", "pfifo", "bfifo"}
MACVLAN_MODES = {1: "private", 2: "vepa", 4: "bridge", 8: "passthru", 16: "source"}

_fresh_sysctls: dict[str, str] | None = None


def fresh_sysctl_defaults() -> dict[str, str]:
    """The SYSCTL_KEYS values of a brand-new network namespace (read once, in a throwaway thread)."""
    global _fresh_sysctls
    if _fresh_sysctls is None:
        from lab.backend import nsutil

        vals: dict[str, str] = {}

        def worker() -> None:
            try:
                nsutil.unshare(nsutil.CLONE_NEWNET)
            except OSError:
                return
            for k in SYSCTL_KEYS:
                try:
                    with open("/proc/sys/" + k.replace(".", "/")) as f:
                        vals[k] = f.read().strip()
                except OSError:
                    pass

        t = threading.Thread(target=worker, name="lab-sysctl-defaults")
        t.start()
        t.join()
        _fresh_sysctls = vals or {"net.ipv4.ip_forward": "0"}
    return _fresh_sysctls


def _ipn(ns: str) -> str:
    return f"ip -n {ns} " if ns else "ip "


def _exec(ns: str) -> str:
    return f"ip netns exec {ns} " if ns else ""


def _raw_link(backend, ns: str, index: int):
    try:
        return backend.ipr(ns or None).get_links(index)[0]
    except Exception:  # noqa: BLE001
        return None


def _info_data(msg):
    info = msg.get_attr("IFLA_LINKINFO") if msg is not None else None
    return info.get_attr("IFLA_INFO_DATA") if info is not None else None


class _Lab:
    """Everything read once: per namespace links (by index), addresses, routes..."""

    def __init__(self, backend, host_mode: bool):
        from lab.backend import state

        self.b = backend
        self.host_mode = host_mode
        self.nss = [""] + backend.namespaces()
        self.links = {ns: backend.links(ns or None) for ns in self.nss}
        self.nsids = {ns: state.netns_ids(backend, ns or None) for ns in self.nss}
        self.by_index = {ns: {link.index: link for link in ls} for ns, ls in self.links.items()}

    def keep(self, ns: str, link) -> bool:
        if link.name == "lo" and not ns or link.kernel_made:   # gre0 & co: the kernel makes them everywhere
            return False
        if ns or not self.host_mode:
            return True
        return link.kind in VIRTUAL

    def peer(self, ns: str, link):
        """(peer namespace, peer Link) of a veth, or None."""
        if link.kind != "veth" or link.link_index is None:
            return None
        pns = ns if link.link_netnsid is None else self.nsids[ns].get(link.link_netnsid)
        if pns is None:
            return None
        p = self.by_index.get(pns, {}).get(link.link_index)
        return (pns, p) if p is not None else None


def export_sh(backend, host_mode: bool | None = None) -> str:
    """The lab as a script of lab/iproute2 commands. See the module docstring for what is covered."""
    from lab.backend.ip import rule_lines

    host_mode = bool(getattr(backend, "host", False)) if host_mode is None else host_mode
    L = _Lab(backend, host_mode)
    out: list[str] = ["#!/bin/sh",
                      "# Written by `lab export --sh`. Replay in a fresh sandbox with `lab run FILE`,",
                      "# or as root in an empty network namespace: unshare -rnm sh -c 'mount -t tmpfs none /run; sh FILE'"]
    sec = lambda title: out.extend(["", f"# ---- {title}"])  # noqa: E731
    named = [ns for ns in L.nss if ns]
    if named:
        sec("namespaces")
        out += [f"ip netns add {ns}" for ns in named]
    # links
    creates, after, ups = [], [], []
    done: set[tuple[str, str]] = set()
    order = sorted(((ns, link) for ns in L.nss for link in L.links[ns]), key=lambda x: (x[1].kind != "bridge", x[0], x[1].index))
    kept_names: dict[str, set[str]] = {ns: set() for ns in L.nss}
    for ns, link in order:
        if not L.keep(ns, link):
            continue
        kept_names[ns].add(link.name)
        key = (ns, link.name)
        if link.name == "lo":
            if link.up:
                ups.append(f"{_ipn(ns)}link set lo up")
            continue
        if key not in done:
            if link.kind == "veth":
                pr = L.peer(ns, link)
                if pr is None:
                    creates.append(f"# {ns or 'host'}: veth {link.name} has no peer the lab can see: skipped")
                    continue
                pns, p = pr
                a_ns, a, b_ns, b = (ns, link, pns, p) if not ns or pns else (pns, p, ns, link)
                cmd = f"{_ipn(a_ns)}link add {dev_word(a.name)} type veth peer name {b.name}"
                if b_ns != a_ns:
                    cmd += f" netns {b_ns}"
                creates.append(cmd)
                done.add((pns, p.name))
            elif link.kind == "vxlan":
                cmd = f"{_ipn(ns)}link add {dev_word(link.name)} type vxlan id {link.vxlan_id}"
                if link.vxlan_remote:
                    cmd += (" group " if ipaddress.ip_address(link.vxlan_remote).is_multicast else " remote ") + link.vxlan_remote
                if link.vxlan_local:
                    cmd += f" local {link.vxlan_local}"
                data = _info_data(_raw_link(backend, ns, link.index))
                lower = data.get_attr("IFLA_VXLAN_LINK") if data is not None else None
                if lower and lower in L.by_index[ns]:
                    cmd += f" dev {L.by_index[ns][lower].name}"
                cmd += f" dstport {link.vxlan_port if link.vxlan_port is not None else 4789}"
                if data is not None and data.get_attr("IFLA_VXLAN_LEARNING") == 0:
                    cmd += " nolearning"
                creates.append(cmd)
            elif link.kind in ("macvlan", "ipvlan", "vlan"):
                lower = L.by_index[ns].get(link.link_index) if link.link_netnsid is None and link.link_index is not None else None
                if lower is None:
                    creates.append(f"# {ns or 'host'}: {link.kind} {link.name}: its lower device is elsewhere: skipped")
                    continue
                cmd = f"{_ipn(ns)}link add link {lower.name} name {link.name} type {link.kind}"
                if link.kind == "vlan":
                    cmd += f" id {link.vlan_id}"
                elif link.kind == "macvlan":
                    data = _info_data(_raw_link(backend, ns, link.index))
                    mode = data.get_attr("IFLA_MACVLAN_MODE") if data is not None else None
                    if mode in MACVLAN_MODES:
                        cmd += f" mode {MACVLAN_MODES[mode]}"
                creates.append(cmd)
            elif link.kind in VIRTUAL:
                creates.append(f"{_ipn(ns)}link add {dev_word(link.name)} type {link.kind}")
            else:
                creates.append(f"# {ns or 'host'}: {link.name} ({link.kind or 'physical'}) cannot be created by a script: skipped")
                continue
            done.add(key)
        if link.mtu and link.mtu != 1500 and link.kind not in ("bridge",):
            after.append(f"{_ipn(ns)}link set {dev_word(link.name)} mtu {link.mtu}")
        if link.master:
            after.append(f"{_ipn(ns)}link set {dev_word(link.name)} master {link.master}")
        if link.up:
            ups.append(f"{_ipn(ns)}link set {dev_word(link.name)} up")
    if creates or after:
        sec("links")
        out += creates + after
    # addresses
    addrs = []
    for ns in L.nss:
        for a in backend.addresses(ns or None, 4):
            if a.dev not in kept_names[ns] or a.dev == "lo" and a.local.startswith("127."):
                continue
            cmd = f"{_ipn(ns)}addr add {a.cidr}"
            if a.broadcast:
                net = ipaddress.ip_network(a.cidr, strict=False)
                cmd += " brd +" if a.broadcast == str(net.broadcast_address) else f" brd {a.broadcast}"
            if a.scope != "global":
                cmd += f" scope {a.scope}"
            addrs.append(cmd + f" dev {a.dev}")
    if addrs:
        sec("addresses")
        out += addrs
    if ups:
        sec("links up")
        out += ups
    # routes, rules, neighbours
    routes = []
    for ns in L.nss:
        for r in backend.routes(ns or None, None, 4):
            if r.proto == "kernel" or r.table == 255 or r.type in ("local", "broadcast", "multicast"):
                continue
            if r.dev and r.dev not in kept_names[ns]:
                continue
            if not r.dev and host_mode and not ns:
                continue
            cmd = f"{_ipn(ns)}route add " + ("" if r.type == "unicast" else r.type + " ") + r.dst
            if r.gateway:
                cmd += f" via {r.gateway}"
            if r.dev:
                cmd += f" dev {r.dev}"
            if r.proto not in ("boot",):
                cmd += f" proto {r.proto}"
            natural = "link" if (r.type == "unicast" and not r.gateway) else "global"
            if r.type == "unicast" and r.scope != natural:
                cmd += f" scope {r.scope}"
            if r.prefsrc:
                cmd += f" src {r.prefsrc}"
            if r.metric:
                cmd += f" metric {r.metric}"
            if r.table != 254:
                cmd += f" table {r.table}"
            if "onlink" in r.flags:
                cmd += " onlink"
            routes.append((0 if not r.gateway else 1, cmd))
    if routes:
        sec("routes")
        out += [c for _, c in sorted(routes, key=lambda x: x[0])]
    rules = []
    for ns in L.nss:
        if host_mode and not ns:
            continue
        for prio, text in rule_lines(backend, ns or None):
            if (prio, text) not in DEFAULT_RULES:
                rules.append(f"{_ipn(ns)}rule add {text} priority {prio}")
        for prio, text in rule_lines(backend, ns or None, 6):
            if (prio, text) not in DEFAULT_RULES:   # IPv6 has local and main (no default rule)
                rules.append(f"{_ipn(ns)}-6 rule add {text} priority {prio}")
    if rules:
        sec("policy routing rules")
        out += rules
    neigh = []
    for ns in L.nss:
        for n in backend.neighbours(ns or None, 4):
            if "PERMANENT" in n.state and n.lladdr and n.dev in kept_names[ns]:
                neigh.append(f"{_ipn(ns)}neigh add {n.dst} lladdr {n.lladdr} dev {n.dev} nud permanent")
    if neigh:
        sec("static neighbours")
        out += neigh
    fdb = _fdb_lines(L, kept_names)
    if fdb:
        sec("bridge forwarding database (VXLAN remotes)")
        out += fdb
    # sysctls
    defaults = fresh_sysctl_defaults()
    sysctls = []
    for ns in L.nss:
        if host_mode and not ns:
            continue
        for k in SYSCTL_KEYS:
            try:
                v = backend.sysctl_get(ns or None, k)
            except OSError:
                continue
            if k in defaults and v != defaults[k]:
                sysctls.append(f"{_exec(ns)}sysctl -w {k}={v}")
    if sysctls:
        sec("sysctls")
        out += sysctls
    ipt = []
    for ns in L.nss:
        if host_mode and not ns:
            continue
        ipt += _iptables_lines(backend, ns)
    if ipt:
        sec("iptables")
        out += ipt
    tc = []
    for ns in L.nss:
        qdiscs = backend.qdiscs(ns or None) if kept_names[ns] else []
        for name in sorted(kept_names[ns]):
            tc += _tc_lines(backend, ns, name, qdiscs)
    if tc:
        sec("traffic control")
        out += tc
    ipvs = [line for ns in L.nss if not (host_mode and not ns) for line in _ipvs_lines(backend, ns)]
    if ipvs:
        sec("IP virtual servers")
        out += ipvs
    return "\n".join(out) + "\n"


def _ipvs_lines(backend, ns: str) -> list[str]:
    """The namespace's IPVS table as `ipvsadm -S -n` writes it (nothing where IPVS cannot be read: no ip_vs in
    the kernel, or lab's rootless sandbox, where the kernel refuses IPVS's commands)."""
    from lab.commands.ipvsadm import IpvsOp
    from lab.errors import LabError

    try:
        text = backend.apply(IpvsOp(ns or None, cmd="save", numeric=True))
    except LabError:
        return []
    return [f"{_exec(ns)}ipvsadm {line}" for line in text.splitlines() if line.strip()]

def _fdb_lines(L: _Lab, kept: dict[str, set[str]]) -> list[str]:
    """Static VXLAN FDB entries with a remote (`bridge fdb append MAC dev vxlan0 dst ADDR`)."""
    out: list[str] = []
    for ns in L.nss:
        vx = {lk.name: lk for lk in L.links[ns] if lk.kind == "vxlan" and lk.name in kept[ns]}
        if not vx:
            continue
        for e in L.b.fdb(ns or None):
            link = vx.get(e.dev)
            if link is None or not e.dst or e.state not in ("permanent", "static"):
                continue
            if e.mac == "00:00:00:00:00:00" and e.dst == link.vxlan_remote:
                continue  # made by `remote` itself
            out.append(f"{_exec(ns)}bridge fdb append {e.mac} dev {e.dev} dst {e.dst}")
    return out


def _iptables_lines(backend, ns: str) -> list[str]:
    from lab.scenario.reset import iptables_dump

    out = []
    for family in (4, 6):
        pre = f"{_exec(ns)}{'ip6tables' if family == 6 else 'iptables'}"
        for table, (chains, rules) in iptables_dump(backend, ns or None, family).items():
            for name, pol in chains.items():
                if pol == "-":
                    out.append(f"{pre} -t {table} -N {name}")
            for name, pol in chains.items():
                if pol not in ("-", "ACCEPT"):
                    out.append(f"{pre} -t {table} -P {name} {pol}")
            for line in rules:
                out.append(f"{pre} -t {table} {shlex.join(shlex.split(line))}")
    return out


def _tc_lines(backend: LabBackend, ns: str, dev: str, qdiscs: list[Qdisc]) -> list[str]:
    pre = f"{_exec(ns)}tc"
    out = []
    htb = False
    for q in qdiscs:
        if q.dev != dev:
            continue
        if q.kind == "ingress":
            out.append(f"{pre} qdisc add dev {dev} ingress")
            continue
        if q.parent != "root" or q.kind in DEFAULT_QDISCS:
            continue
        params = ["latency" if p == "lat" else p for p in q.params.split()]
        if q.kind in EXPORT_WORDS:    # tc prints what it does not take back (sfq's depth, prio's priomap)
            params = _export_words(params, EXPORT_WORDS[q.kind])
        if q.kind == "htb":
            htb = True
            params = _drop_pairs(params, ("direct_packets_stat",))
            params = [p for p in params if p != "offload"]
        out.append(f"{pre} qdisc add dev {dev} root handle {q.handle} {q.kind} {' '.join(params)}".rstrip())
    if htb:
        # the kernel dumps classes in hash order: a class is written after its parent class
        todo = [c for c in backend.tc_classes(ns or None, dev) if c.kind == "htb"]
        made: set[str] = set()
        while todo:
            ready = [c for c in todo if c.parent == "root" or c.parent.endswith(":") or c.parent in made
                     or all(o.classid != c.parent for o in todo)]
            for c in ready:
                parent = c.classid.split(":")[0] + ":" if c.parent == "root" else c.parent
                out.append(f"{pre} class add dev {dev} parent {parent} classid {c.classid} htb {c.params}")
                made.add(c.classid)
            todo = [c for c in todo if c not in ready]
    return out


# the options lab's tc takes back, from what `tc qdisc show` prints, without their printed units
EXPORT_WORDS = {"sfq": {"limit": "p", "quantum": "b", "perturb": "sec"}, "prio": {"bands": ""}}


def _export_words(words: list[str], keep: dict[str, str]) -> list[str]:
    out = []
    for k, v in zip(words, words[1:]):
        if k in keep:
            out += [k, v.removesuffix(keep[k]) if keep[k] else v]
    return out


def _drop_pairs(words: list[str], keys: tuple[str, ...]) -> list[str]:
    out, skip = [], False
    for w in words:
        if skip:
            skip = False
            continue
        if w in keys:
            skip = True
            continue
        out.append(w)
    return out


# ---- topology graphs --------------------------------------------------------------------------------
def _nid(ns: str, name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{ns or 'host'}__{name}")


def _graph(backend) -> tuple[list[str], dict[str, list], list[tuple[str, str, str]]]:
    """(namespaces -> [(node id, label, kind, up)], edges [(a, b, style)])."""

    L = _Lab(backend, bool(getattr(backend, "host", False)))
    addrs: dict[tuple[str, str], list[str]] = {}
    owner: dict[str, tuple[str, str]] = {}
    for ns in L.nss:
        for a in backend.addresses(ns or None, 4):
            if a.dev != "lo":
                addrs.setdefault((ns, a.dev), []).append(a.cidr)
                owner[a.local] = (ns, a.dev)
    nodes: dict[str, list] = {}
    edges: list[tuple[str, str, str]] = []
    seen: set[frozenset] = set()
    for ns in L.nss:
        for link in L.links[ns]:
            if link.name == "lo" or not L.keep(ns, link):
                continue
            nodes.setdefault(ns, []).append((_nid(ns, link.name), link.name, addrs.get((ns, link.name), []), link.kind, link.up))
            if link.master:
                edges.append((_nid(ns, link.name), _nid(ns, link.master), "master"))
            pr = L.peer(ns, link)
            if pr:
                k = frozenset({(ns, link.name), (pr[0], pr[1].name)})
                if k not in seen:
                    seen.add(k)
                    edges.append((_nid(ns, link.name), _nid(pr[0], pr[1].name), "veth"))
            if link.kind == "vxlan" and link.vxlan_remote and link.vxlan_remote in owner:
                rns, rdev = owner[link.vxlan_remote]
                remote_vx = [x for x in L.links[rns] if x.kind == "vxlan" and x.vxlan_id == link.vxlan_id]
                tgt = _nid(rns, remote_vx[0].name) if remote_vx else _nid(rns, rdev)
                kv = frozenset({_nid(ns, link.name), tgt})
                if kv not in seen:
                    seen.add(kv)
                    edges.append((_nid(ns, link.name), tgt, f"vxlan {link.vxlan_id}"))
    return L.nss, nodes, edges


def export_dot(backend) -> str:
    nss, nodes, edges = _graph(backend)
    out = ["graph lab {", "  rankdir=LR;", '  node [shape=box, fontname="monospace", fontsize=10];', "  compound=true;"]
    for i, ns in enumerate(nss):
        if ns not in nodes:
            continue
        out.append(f'  subgraph cluster_{i} {{')
        out.append(f'    label="{ns or "host"}"; style=rounded;')
        for nid, name, addrs, kind, up in nodes[ns]:
            lab_ = "\\n".join([name] + addrs)
            attrs = [f'label="{lab_}"']
            if kind == "bridge":
                attrs.append("shape=hexagon")
            if not up:
                attrs.append("style=dashed, color=gray50")
            out.append(f"    {nid} [{', '.join(attrs)}];")
        out.append("  }")
    for a, b, style in edges:
        if style == "master":
            out.append(f"  {a} -- {b} [style=dotted];")
        elif style.startswith("vxlan"):
            out.append(f'  {a} -- {b} [style=dashed, label="{style}"];')
        else:
            out.append(f"  {a} -- {b} [penwidth=2];")
    out.append("}")
    return "\n".join(out) + "\n"


def export_mermaid(backend) -> str:
    nss, nodes, edges = _graph(backend)
    out = ["flowchart LR"]
    down = []
    for ns in nss:
        if ns not in nodes:
            continue
        sid = re.sub(r"[^A-Za-z0-9_]", "_", f"ns_{ns or 'host'}")
        out.append(f'  subgraph {sid}["{ns or "host"}"]')
        for nid, name, addrs, kind, up in nodes[ns]:
            text = "<br/>".join([name] + addrs)
            out.append(f'    {nid}{{{{"{text}"}}}}' if kind == "bridge" else f'    {nid}["{text}"]')
            if not up:
                down.append(nid)
        out.append("  end")
    for a, b, style in edges:
        if style == "master":
            out.append(f"  {a} -.- {b}")
        elif style.startswith("vxlan"):
            out.append(f'  {a} -. "{style}" .- {b}')
        else:
            out.append(f"  {a} === {b}")
    if down:
        out.append("  classDef down stroke-dasharray: 5 5,color:#888")
        out.append(f"  class {','.join(down)} down")
    return "\n".join(out) + "\n"


def export(backend, fmt: str) -> str:
    return {"sh": export_sh, "dot": export_dot, "mermaid": export_mermaid}[fmt](backend)


# ---- `lab export` -----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lab export", description=(
        "Write the lab as a replayable shell script (--sh) or its topology as a graph (--dot, --mermaid). "
        "A sandboxed lab lives only as long as its process: build one with --from FILE (a scenario or a "
        "`lab run` script), or use --host to export this machine's lab namespaces."))
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--sh", dest="fmt", action="store_const", const="sh", help="ip/tc/iptables/sysctl script")
    g.add_argument("--dot", dest="fmt", action="store_const", const="dot", help="Graphviz topology")
    g.add_argument("--mermaid", dest="fmt", action="store_const", const="mermaid", help="Mermaid topology")
    p.add_argument("--from", dest="source", metavar="FILE",
                   help="build this first: a scenario (.yaml or a shipped name) or a file of lab commands")
    p.add_argument("--step", type=int, metavar="N", help="with a scenario: stop after step N (1-based; default: all)")
    p.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
    p.add_argument("--allow-exec", action="store_true", help="let the scenario or script run other programs")
    return p


def _build_from(engine, source: str, step: int | None) -> None:
    from lab.errors import LabError

    import os

    if source.endswith((".yaml", ".yml")) or not os.path.exists(source):
        from lab.scenario.loader import load
        from lab.scenario.player import Player

        sc = load(source)
        pl = Player(sc, engine)
        n = len(sc.steps) if step is None else step
        if not 1 <= n <= len(sc.steps):
            raise LabError(f"--step must be between 1 and {len(sc.steps)}")
        run = pl.goto(n - 1)
        if run.failed is not None:
            raise LabError(f"{sc.path}:{run.failed.lineno}: `{run.failed.line}` failed: {run.failed.error}")
        if pl.steps[n - 1].task:
            pl.solve(n - 1)
        return
    from lab.safefile import read_script

    _, lines = read_script(source)
    for r in engine.run_lines(lines):
        if not r.ok:
            raise LabError(f"{source}:{r.lineno}: {r.error}")


def main(args) -> int:
    from lab.engine import setup
    from lab.errors import LabError

    ns = build_parser().parse_args(list(getattr(args, "args", []) or []))
    host = bool(getattr(args, "host", False))
    engine = setup(host, bool(getattr(args, "read_only", False)))
    engine.allow_exec = ns.allow_exec
    if ns.source:
        _build_from(engine, ns.source, ns.step)
    elif not host:
        print("lab export: note: this is a new, empty sandbox; use --from FILE to build a lab first, "
              "or --host", file=sys.stderr)
    text = export(engine.backend, ns.fmt)
    if ns.output:
        try:
            with open(ns.output, "w") as f:
                f.write(text)
        except OSError as e:
            raise LabError(f"cannot write {ns.output}: {e.strerror}") from None
    else:
        sys.stdout.write(text)
    return 0
