"""Put the lab back to how it was before a scenario started, so "go to step N" can rebuild it from scratch.

`Baseline.capture(backend)` records the named namespaces and what the top namespace holds (links,
addresses, routes and ip rules of both families, iptables rules, a few sysctls, the daemons lab runs);
`baseline.restore(backend)` stops the daemons (bird) started since in the top namespace and in the namespaces
created since, deletes those namespaces (everything inside goes with them), then removes from the top
namespace exactly the links, addresses, routes, ip rules and iptables rules/chains added since and puts the
sysctls back, each as the lab command that undoes it, through the backend like any typed command (so a
--host journal follows). Nothing that was there at capture time is touched, so this is also safe with --host.
"""
from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lab.backend import nsutil
from lab.commands import parse
from lab.commands.ip import dev_word
from lab.errors import LabError

if TYPE_CHECKING:
    from lab.backend.api import LabBackend

SYSCTLS = ("net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding", "net.ipv4.conf.all.rp_filter",
           "net.ipv4.conf.default.rp_filter", "net.ipv4.conf.all.send_redirects",
           "net.ipv4.conf.all.route_localnet", "net.bridge.bridge-nf-call-iptables")
IPT_TABLES = ("raw", "mangle", "nat", "filter")


def _route_key(r) -> tuple:
    return (r.dst, r.table, r.type, r.gateway, r.dev, r.metric)


def iptables_dump(backend: LabBackend, ns: str | None,
                  family: int = 4) -> dict[str, tuple[dict[str, str], list[str]]]:
    """table -> ({chain: policy or '-'}, ["-A CHAIN spec", ...]) as iptables-save (ip6tables-save) prints them,
    from the backend's reader ({} when the tool is missing or fails)."""
    try:
        chains = backend.chains(ns, family=family)
    except LabError:
        return {}
    out: dict[str, tuple[dict[str, str], list[str]]] = {}
    for c in chains:
        pols, rules = out.setdefault(c.table, ({}, []))
        pols[c.name] = c.policy or "-"
        rules += [f"-A {c.name} {r.spec}".rstrip() for r in c.rules]
    return out


@dataclass
class Baseline:
    namespaces: set[str] = field(default_factory=set)
    links: set[str] = field(default_factory=set)
    addresses: set[tuple[str, str]] = field(default_factory=set)
    routes: set[tuple] = field(default_factory=set)
    rules: set[tuple[int, int, str]] = field(default_factory=set)   # (family, priority, text)
    iptables: dict = field(default_factory=dict)
    ip6tables: dict = field(default_factory=dict)
    sysctls: dict[str, str] = field(default_factory=dict)
    daemons: set[int] = field(default_factory=set)    # pids of the daemons (bird) lab ran then

    @classmethod
    def capture(cls, backend: LabBackend) -> "Baseline":
        from lab.backend.ip import rule_lines

        b = cls()
        b.namespaces = set(backend.namespaces())
        b.daemons = {pid for _prog, _ns, pid in backend.running_daemons()}
        b.links = {link.name for link in backend.links(None)}
        for fam in (4, 6):
            b.addresses |= {(a.dev, a.cidr) for a in backend.addresses(None, fam)}
            b.routes |= {(fam,) + _route_key(r) for r in backend.routes(None, None, fam)}
            b.rules |= {(fam,) + x for x in rule_lines(backend, None, fam)}
        b.iptables = iptables_dump(backend, None)
        b.ip6tables = iptables_dump(backend, None, 6)
        for k in SYSCTLS:
            try:
                b.sysctls[k] = backend.sysctl_get(None, k)
            except OSError:
                pass
        return b

    def restore(self, backend: LabBackend) -> list[str]:
        """Undo everything added since capture. Returns notes about what could not be undone."""
        from lab.backend.ip import rule_lines

        notes: list[str] = []
        if any(not ns and pid not in self.daemons for _prog, ns, pid in backend.running_daemons()):
            backend.stop_daemons(None)      # a daemon the scenario started in the top namespace
        for ns in sorted(set(backend.namespaces()) - self.namespaces):
            backend.stop_daemons(ns)        # (it would keep the deleted namespace alive)
            backend.forget_ns(ns)
            try:
                nsutil.remove_netns(ns)
            except OSError as e:
                notes.append(f"could not delete namespace {ns}: {e}")
        undo: list[str] = []
        for link in backend.links(None):
            if link.name not in self.links and not link.kernel_made:   # gre0 & co came with a module
                undo.append(f"ip link del {dev_word(link.name)}")
        for fam in (4, 6):
            for a in backend.addresses(None, fam):
                if (a.dev, a.cidr) not in self.addresses and not a.cidr.startswith("fe80:"):
                    undo.append(f"ip -{fam} addr del {a.cidr} dev {a.dev}")
            for r in backend.routes(None, None, fam):
                if (fam,) + _route_key(r) in self.routes or r.table == 255 or r.proto == "kernel":
                    continue
                cmd = f"ip -{fam} route del " + ("" if r.type == "unicast" else r.type + " ") + r.dst
                cmd += f" table {r.table}" + (f" via {r.gateway}" if r.gateway else "")
                cmd += (f" dev {r.dev}" if r.dev else "") + (f" metric {r.metric}" if r.metric is not None else "")
                undo.append(cmd)
            for prio, text in rule_lines(backend, None, fam):
                if (fam, prio, text) not in self.rules:
                    undo.append(f"ip -{fam} rule del pref {prio}")
        for line in undo:
            try:
                op = parse(line)
                assert op is not None   # one of the lines made just above
                backend.apply(op)
            except LabError as e:
                if "Cannot find" not in str(e) and "No such" not in str(e):   # gone with what went before it
                    notes.append(f"could not undo with `{line}`: {e}")
        notes += self._restore_iptables(backend) + self._restore_iptables(backend, 6)
        if not getattr(backend, "host", False) and shutil.which("conntrack"):
            backend.run_cmd(None, ["conntrack", "-F"])  # sandbox only: forget NAT choices of the old lab
        for k, v in self.sysctls.items():
            try:
                if backend.sysctl_get(None, k) != v:
                    backend.sysctl_set(None, k, v)
            except OSError:
                pass
        return notes

    def _restore_iptables(self, backend: LabBackend, family: int = 4) -> list[str]:
        now = iptables_dump(backend, None, family)
        ipt = "ip6tables" if family == 6 else "iptables"
        notes = []
        for table, (chains, rules) in now.items():
            old_chains, old_rules = (self.ip6tables if family == 6 else self.iptables).get(table, ({}, []))
            pending = list(old_rules)
            for line in reversed(rules):
                if line in pending:
                    pending.remove(line)
                    continue
                argv = [ipt, "-t", table, "-D"] + shlex.split(line)[1:]
                r = backend.run_cmd(None, argv)
                if r.returncode != 0:
                    notes.append(f"could not delete `{line}` from {table}: {r.stderr.strip()}")
            for name, pol in chains.items():
                if name not in old_chains:
                    backend.run_cmd(None, [ipt, "-t", table, "-F", name])
            for name, pol in chains.items():
                if name not in old_chains:
                    backend.run_cmd(None, [ipt, "-t", table, "-X", name])
                elif pol != "-" and old_chains[name] != pol:
                    backend.run_cmd(None, [ipt, "-t", table, "-P", name, old_chains[name]])
        return notes
