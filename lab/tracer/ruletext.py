"""Turn a traced (namespace, family, table, chain, rule handle) into the rule as the user typed it:
iptables syntax (`-A FORWARD -d 10.0.0.2/32 -j DROP`) for the tables iptables-nft manages, nft syntax
for other tables. The handle's position in its chain comes from an in-process netlink rule dump; the
text from `iptables-nft -t TABLE -S` (or `nft -a list table`), cached until the namespace's nf_tables
generation moves for anything but the tracer's own table, so a trace over a 10,000-rule table runs the
subprocess and dumps the handles once.
"""
from __future__ import annotations

import re

from lab.backend import nsutil
from lab.tracer import nfnl as N

IPT_TABLES = ("filter", "nat", "mangle", "raw", "security")
FAM_NUM = {"ip": 2, "ip6": 10, "inet": 1, "bridge": 7, "arp": 3, "netdev": 5}


class RuleBook:
    """Per trace: lookups for one or more namespaces, backed by a cache that outlives the trace."""

    def __init__(self, backend, state, chains_by_ns: dict[str, list[N.ChainInfo]]):
        self.backend = backend
        self.state = state
        self.cache: dict = state.__dict__.setdefault("rule_text_cache", {})
        self.chains_by_ns = chains_by_ns
        self._tables: dict[tuple[str, str, str], dict] = {}

    def policy(self, ns: str, family: str, table: str, chain: str) -> str:
        for c in self.chains_by_ns.get(ns, []):
            if c.family == family and c.table == table and c.name == chain:
                return c.policy
        return ""

    def text(self, ns: str, family: str, table: str, chain: str, handle: int | None) -> str:
        if handle is None:
            return ""
        t = self._table(ns, family, table)
        return t.get("rules", {}).get(handle, f"rule handle {handle} in {family} {table} {chain}")

    def is_iptables(self, ns: str, family: str, table: str) -> bool:
        return bool(self._table(ns, family, table).get("iptables"))

    def _table(self, ns: str, family: str, table: str) -> dict:
        """The table's rules as text: from the cache while the namespace's nf_tables generation says nothing
        changed (only the tracer's own table came and went: TracerState.quiet), else rendered again from a
        dump of the rule handles and the tool's listing (a replaced rule keeps its handle, so the handles
        alone cannot tell that a rule changed)."""
        key = (ns, family, table)
        if key in self._tables:
            return self._tables[key]
        pol = tuple(sorted((c.name, c.policy) for c in self.chains_by_ns.get(ns, [])
                           if c.family == family and c.table == table))
        try:
            nskey = (ns, nsutil.netns_inode(ns or None))
            s = self.state.sock(ns)
            gen = s.genid()
        except OSError:
            nskey, s, gen = (ns, 0), None, None
        ckey = (nskey, family, table)
        cached = self.cache.get(ckey)      # (generation it was good at, policies, handles, text)
        if cached is not None and gen is not None and cached[1] == pol and (
                cached[0] == gen or (cached[0], gen) in self.state.quiet.get(nskey, ())):
            self.cache[ckey] = (gen,) + cached[1:]
            self._tables[key] = cached[3]
            return cached[3]
        try:
            handles = N.dump_rule_handles(s, FAM_NUM.get(family, 2), table) if s is not None else []
        except OSError:
            handles = []
        out = self._render(ns, family, table, handles)   # (not by handles: `iptables -R` keeps the handle)
        self.cache[ckey] = (gen, pol, tuple(handles), out)
        self.state.gen_watch.add(nskey)
        self._tables[key] = out
        return out

    def _render(self, ns: str, family: str, table: str, handles: list[tuple[str, int]]) -> dict:
        per_chain: dict[str, list[int]] = {}
        for chain, h in handles:
            per_chain.setdefault(chain, []).append(h)
        if family == "ip" and table in IPT_TABLES:
            try:
                r = self.backend.run_cmd(ns or None, ["iptables-nft", "-t", table, "-S"], timeout=10)
            except Exception:  # noqa: BLE001
                r = None
            if r is not None and r.returncode == 0:
                lines: dict[str, list[str]] = {}
                for line in r.stdout.splitlines():
                    if line.startswith("-A "):
                        lines.setdefault(line.split()[1], []).append(line)
                if all(len(lines.get(c, [])) == len(hs) for c, hs in per_chain.items()):
                    rules = {}
                    for c, hs in per_chain.items():
                        for h, line in zip(hs, lines.get(c, [])):
                            rules[h] = line
                    return {"iptables": True, "rules": rules}
        try:
            r = self.backend.run_cmd(ns or None, ["nft", "-a", "list", "table", family, table], timeout=10)
        except Exception:  # noqa: BLE001
            return {"rules": {}}
        rules = {}
        for line in r.stdout.splitlines():
            m = re.match(r"\s*(.*?)\s*# handle (\d+)\s*$", line)
            if m and not line.strip().startswith(("table", "chain")):
                rules[int(m.group(2))] = re.sub(r"counter packets \d+ bytes \d+ ?", "", m.group(1)).strip()
        return {"rules": rules}


def target_of(rule: str) -> str:
    """The iptables target of a rule line (`-j DNAT ...` -> DNAT), or an nft statement keyword."""
    m = re.search(r"(?:^|\s)-[jg] (\S+)", rule)
    if m:
        return m.group(1)
    for kw in ("dnat", "snat", "masquerade", "redirect", "reject", "drop", "accept"):
        if re.search(rf"\b{kw}\b", rule):
            return kw.upper()
    return ""
