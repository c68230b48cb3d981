"""Apply iptables Ops through iptables-nft inside the namespace (the nf_tables backend, which the
tracer can see), translate its errors into clear ones that name the fix, journal --host rules for
`lab clean`, and read chains/rules/counters back as model objects for the panes."""
from __future__ import annotations

import os
import re
import shutil

from lab.backend import state
from lab.backend.core import applies
from lab.commands.iptables import TABLES, IptablesOp, IptablesRestore, IptablesSave
from lab.errors import LabError, did_you_mean
from lab.model import Chain, Rule

_TOOL: dict[str, str] = {}
BUILTIN_TARGETS = {"ACCEPT", "DROP", "REJECT", "LOG", "RETURN", "DNAT", "SNAT", "MASQUERADE", "REDIRECT", "TRACE",
                   "MARK", "CONNMARK", "CT", "NOTRACK", "QUEUE", "NFQUEUE"}


def tool(name: str = "iptables") -> str:
    """iptables-nft (or iptables when it is the nf_tables build); clear error when missing."""
    if name in _TOOL:
        return _TOOL[name]
    for cand in (f"{name}-nft", name):
        path = shutil.which(cand) or (f"/usr/sbin/{cand}" if os.path.exists(f"/usr/sbin/{cand}") else None)
        if path:
            _TOOL[name] = path
            return path
    raise LabError(f"{name}: command not found", "Install it: apt-get install iptables (the nf_tables build)")


def tool_for(family: int, name: str = "iptables") -> str:
    """The iptables or ip6tables flavour of a tool."""
    return tool(name.replace("iptables", "ip6tables") if family == 6 else name)


def _clean_stderr(text: str) -> str:
    lines = [l for l in text.strip().splitlines() if not l.startswith("Try `iptables") and l.strip()]
    return "\n".join(lines)


def chains_of(b, ns, table: str, family: int = 4) -> list[str]:
    r = b.run_cmd(ns, [tool_for(family), "-t", table, "-S"])
    out = []
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("-P", "-N"):
            out.append(parts[1])
    return out


def _diagnose(b, op: IptablesOp, stderr: str) -> LabError:
    """Turn iptables' terse failures into what is wrong and what to do."""
    ipt = "ip6tables" if op.family == 6 else "iptables"
    msg = _clean_stderr(stderr) or f"{ipt} failed"
    if "No chain/target/match by that name" in msg or "does not exist" in msg:
        have = chains_of(b, op.ns, op.table, op.family)
        t = f"-t {op.table} " if op.table != "filter" else ""
        if op.chain and op.chain not in have and op.command != "new":
            return LabError(f"{ipt}: No chain/target/match by that name (chain \"{op.chain}\" does not exist in table {op.table})"
                            + did_you_mean(op.chain, have), f"Create it first: {ipt} {t}-N {op.chain}")
        if op.target and op.target not in have and op.target not in BUILTIN_TARGETS:
            return LabError(f"{ipt}: No chain/target/match by that name (target chain \"{op.target}\" does not exist in table {op.table})"
                            + did_you_mean(op.target, have), f"Create it first: {ipt} {t}-N {op.target}")
        if op.command == "delete":
            return LabError(f"{ipt}: Bad rule (does a matching rule exist in that chain?)",
                            f"See the rules with: {ipt} {t}-S {op.chain}")
    if "Bad rule" in msg:
        t = f"-t {op.table} " if op.table != "filter" else ""
        return LabError(f"{ipt}: Bad rule (does a matching rule exist in that chain?).",
                        f"No rule in {op.chain} matches exactly; see them with: {ipt} {t}-S {op.chain}")
    if "Chain already exists" in msg:
        return LabError(f"{ipt}: Chain already exists.", f"It is there: {ipt} -t {op.table} -S {op.chain}")
    if "Index of insertion too big" in msg or "Index of deletion too big" in msg or "Index of replacement too big" in msg:
        return LabError(msg, f"See the rule numbers with: {ipt} -t {op.table} -L {op.chain} --line-numbers")
    if "Directory not empty" in msg or "CHAIN_USER_DEL failed" in msg or "Device or resource busy" in msg:
        return LabError(f"{ipt}: Directory not empty (chain \"{op.chain}\" still has rules or is referenced).",
                        f"Flush it and remove the jumps to it first: {ipt} -t {op.table} -F {op.chain}")
    return LabError(msg)


@applies(IptablesOp)
def iptables(b, op: IptablesOp) -> str:
    b.require_ns(op.ns)
    fam = {"family": 6} if op.family == 6 else {}
    if op.command in ("append", "insert", "new", "policy") and b.journal is not None:
        _record_table_if_new(b, op)
    if op.command in ("append", "insert"):
        b.record(op.ns, kind="iptables", table=op.table, chain=op.chain, spec=list(op.spec), **fam)
    elif op.command == "new":
        b.record(op.ns, kind="iptables-chain", table=op.table, chain=op.chain, **fam)
    elif op.command == "policy" and op.chain:
        old = _policy(b, op.ns, op.table, op.chain, op.family)
        if old and old != op.spec[0]:
            b.record(op.ns, kind="iptables-policy", table=op.table, chain=op.chain, old=old, **fam)
    r = b.run_cmd(op.ns, [tool_for(op.family)] + op.argv())
    if r.returncode != 0:
        if op.command == "check" and r.returncode == 1:
            raise LabError(f"{'ip6tables' if op.family == 6 else 'iptables'}: Bad rule (does a matching rule exist in that chain?)")
        raise _diagnose(b, op, r.stderr)
    return r.stdout.rstrip("\n")


def _nft_family(family: int) -> str:
    return "ip6" if family == 6 else "ip"


def _record_table_if_new(b, op: IptablesOp) -> None:
    """--host: iptables-nft creates the nf_tables table with the first rule; journal that, so `lab clean`
    removes the table too (once it is empty again) and leaves nft's ruleset as it found it."""
    seen = b.__dict__.setdefault("_ipt_tables_seen", set())
    key = (op.ns, op.family, op.table)
    nft = shutil.which("nft") or "/usr/sbin/nft"
    if key in seen or not os.path.exists(nft):
        return
    seen.add(key)
    r = b.run_cmd(op.ns, [nft, "list", "table", _nft_family(op.family), op.table])
    if r.returncode != 0:
        b.record(op.ns, kind="iptables-table", table=op.table, **({"family": 6} if op.family == 6 else {}))


def _policy(b, ns, table: str, chain: str, family: int = 4) -> str | None:
    r = b.run_cmd(ns, [tool_for(family), "-t", table, "-S", chain])
    for line in r.stdout.splitlines():
        p = line.split()
        if len(p) == 3 and p[0] == "-P":
            return p[2]
    return None


@applies(IptablesSave)
def iptables_save(b, op: IptablesSave) -> str:
    argv = [tool_for(op.family, "iptables-save")]
    if op.table:
        argv += ["-t", op.table]
    if op.counters:
        argv.append("-c")
    r = b.run_cmd(op.ns, argv)
    if r.returncode != 0:
        raise LabError(_clean_stderr(r.stderr))
    return r.stdout.rstrip("\n")


@applies(IptablesRestore)
def iptables_restore(b, op: IptablesRestore) -> str:
    try:
        with open(op.path) as f:
            text = f.read()
    except OSError as e:
        raise LabError(f"{'ip6' if op.family == 6 else 'ip'}tables-restore: cannot read {op.path}: {e.strerror}") from None
    argv = [tool_for(op.family, "iptables-restore")]
    if op.noflush:
        argv.append("--noflush")
    if op.table:
        argv += ["-T", op.table]
    if b.journal is not None and op.ns is None or (b.journal is not None and op.ns and not b._ns_is_ours(op.ns)):
        raise LabError("iptables-restore is not allowed on --host namespaces the lab did not create",
                       "lab clean could not undo it; apply rules one by one with iptables instead.")
    r = b.run_cmd(op.ns, argv, input=text)
    if r.returncode != 0:
        raise LabError("iptables-restore: " + (_clean_stderr(r.stderr) or "failed"),
                       "Nothing was applied (the restore is one transaction). Check the file against iptables-save output.")
    return ""


def undo_iptables(b, entry: dict) -> None:
    """lab clean: remove a journaled rule / chain / policy; already gone is fine."""
    ns = entry.get("ns") or None
    t = entry["table"]
    ipt = tool_for(entry.get("family", 4))
    if entry["kind"] == "iptables":
        b.run_cmd(ns, [ipt, "-t", t, "-D", entry["chain"]] + list(entry["spec"]))
    elif entry["kind"] == "iptables-chain":
        b.run_cmd(ns, [ipt, "-t", t, "-F", entry["chain"]])
        b.run_cmd(ns, [ipt, "-t", t, "-X", entry["chain"]])
    elif entry["kind"] == "iptables-policy":
        b.run_cmd(ns, [ipt, "-t", t, "-P", entry["chain"], entry["old"]])
    elif entry["kind"] == "iptables-table":
        # the table the lab's first rule created: delete it if nothing but the lab's (undone) work was in it
        save = b.run_cmd(ns, [tool_for(entry.get("family", 4), "iptables-save"), "-t", t]).stdout
        busy = any(l.startswith("-A") or (l.startswith(":") and not l.split()[1] == "ACCEPT") for l in save.splitlines())
        nft = shutil.which("nft") or "/usr/sbin/nft"
        if not busy and os.path.exists(nft):
            b.run_cmd(ns, [nft, "delete", "table", _nft_family(entry.get("family", 4)), t])


_COUNTED = re.compile(r"^\[(\d+):(\d+)\] -A (\S+) ?(.*)$")
_CHAIN = re.compile(r"^:(\S+) (\S+) \[(\d+):(\d+)\]$")


def parse_save(ns: str, text: str, family: str = "ip") -> tuple[Chain, ...]:
    """`iptables-save -c` text -> Chains (builtin first, in table order) with rules and counters."""
    out: list[Chain] = []
    table = None
    chains: dict[str, dict] = {}
    order: list[str] = []

    def flush():
        for name in order:
            c = chains[name]
            out.append(Chain(ns=ns, table=table, name=name, policy=c["policy"], packets=c["p"], bytes=c["b"],
                             rules=tuple(c["rules"]), family=family))

    for line in text.splitlines():
        if line.startswith("*"):
            table, chains, order = line[1:].strip(), {}, []
        elif line.startswith(":") and table:
            m = _CHAIN.match(line.strip())
            if m:
                name, pol = m.group(1), m.group(2)
                chains[name] = {"policy": None if pol == "-" else pol, "p": int(m.group(3)), "b": int(m.group(4)),
                                "rules": []}
                order.append(name)
        elif line.startswith("[") and table:
            m = _COUNTED.match(line.strip())
            if m and m.group(3) in chains:
                spec = m.group(4)
                tgt = re.search(r"(?:-j|-g) (\S+)", spec)
                chains[m.group(3)]["rules"].append(
                    Rule(ns=ns, table=table, chain=m.group(3), spec=spec, packets=int(m.group(1)),
                         bytes=int(m.group(2)), target=tgt.group(1) if tgt else ""))
        elif line.startswith("COMMIT") and table:
            flush()
            table = None
    return tuple(out)


def pane_chains(b, ns) -> dict:
    """iptables and ip6tables chains (the latter only where ip6tables was used: no tables, no output)."""
    chains = parse_save(ns or "", b.run_cmd(ns, [tool("iptables-save"), "-c"], timeout=10).stdout)
    try:
        v6 = b.run_cmd(ns, [tool("ip6tables-save"), "-c"], timeout=10).stdout
    except LabError:   # no ip6tables on this machine
        v6 = ""
    return {"chains": chains + parse_save(ns or "", v6, "ip6")}


def legacy_rules_present(b, ns) -> bool:
    """True if iptables-legacy has rules here (the nft trace cannot see those)."""
    path = shutil.which("iptables-legacy-save")
    if not path:
        return False
    r = b.run_cmd(ns, [path])
    return any(l.startswith("-A") for l in r.stdout.splitlines())


state.EXTRAS["chains"] = pane_chains
