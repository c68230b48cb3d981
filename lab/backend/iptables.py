"""Apply iptables Ops through iptables-nft inside the namespace (the nf_tables backend, which the
tracer can see), translate its errors into clear ones that name the fix, journal --host rules for
`lab clean`, and read chains/rules/counters back as model objects for the panes."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil

from lab.backend import state
from lab.backend.core import applies
from lab.backend.journal import NOOP
from lab.commands.iptables import IptablesHelp, IptablesOp, IptablesRestore, IptablesSave
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
    lines = [line for line in text.strip().splitlines() if not line.startswith("Try `iptables") and line.strip()]
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
    """iptables refused: its own message, and what lab makes of it (lab's reading of the rule first)."""
    err = _diagnose_chains(b, op, stderr)
    if op.doubt is not None:
        own = _clean_stderr(stderr) or err.message
        why, hint = op.doubt
        why = why.split(": ", 1)[1] if why.startswith(("iptables v", "ip6tables v")) else why
        return LabError(own, "\n".join(x for x in (why if why not in own else None, hint) if x))
    return err


def _diagnose_chains(b, op: IptablesOp, stderr: str) -> LabError:
    """iptables' own message, unchanged, and under it what is wrong here and what to do."""
    ipt = "ip6tables" if op.family == 6 else "iptables"
    msg = _clean_stderr(stderr) or f"{ipt} failed"
    t = f"-t {op.table} " if op.table != "filter" else ""
    hint = None
    if "No chain/target/match by that name" in msg or "does not exist" in msg:
        have = chains_of(b, op.ns, op.table, op.family)
        if op.chain and op.chain not in have and op.command != "new":
            hint = (f'Chain "{op.chain}" does not exist in table {op.table}' + did_you_mean(op.chain, have)
                    + f".\nCreate it first: {ipt} {t}-N {op.chain}")
        elif op.target and op.target not in have and op.target not in BUILTIN_TARGETS:
            near = did_you_mean(op.target, sorted(BUILTIN_TARGETS) + have)
            hint = (f'Target "{op.target}" is neither a target nor a chain of table {op.table}' + near
                    + ("" if near else f".\nCreate the chain first: {ipt} {t}-N {op.target}"))
        elif op.command == "delete":
            hint = f"No rule matches exactly; see them with: {ipt} {t}-S {op.chain}"
    elif "Bad rule" in msg:
        hint = f"No rule in {op.chain} matches exactly; see them with: {ipt} {t}-S {op.chain}"
    elif "Chain already exists" in msg:
        hint = f"It is there: {ipt} -t {op.table} -S {op.chain}"
    elif "Index of insertion too big" in msg or "Index of deletion too big" in msg or "Index of replacement too big" in msg:
        hint = f"See the rule numbers with: {ipt} -t {op.table} -L {op.chain} --line-numbers"
    elif "Directory not empty" in msg or "CHAIN_USER_DEL failed" in msg or "Device or resource busy" in msg:
        hint = (f'Chain "{op.chain}" still has rules or is referenced; flush it and remove the jumps to it first: '
                f"{ipt} -t {op.table} -F {op.chain}")
    return LabError(msg, hint)


@applies(IptablesOp)
def iptables(b, op: IptablesOp) -> str:
    b.require_ns(op.ns)
    if not (op.mutates and op.command != "zero" and b.journaled(op.ns)):
        return _run(b, op)
    # --host: journal what this command creates and retire what it removes, by nf_tables identity
    # (rule handles, chain handles), so lab clean removes exactly that and nothing else
    before = nft_view(b, op.ns, op.family, op.table)
    fam = {"family": 6} if op.family == 6 else {}
    kind = {"append": "iptables", "insert": "iptables", "new": "iptables-chain", "policy": "iptables-policy"}.get(op.command)
    fields: dict = {"table": op.table, "chain": op.chain, **fam}
    if kind == "iptables":
        fields["spec"] = list(op.spec)
    elif kind == "iptables-policy":
        had = (before or {}).get("chains", {}).get(op.chain)
        fields.update(old=(had["policy"] if had and had["policy"] else "ACCEPT"), new=op.spec[0])
        if fields["old"] == fields["new"]:
            kind = None
    with b.creating(op.ns, kind, **fields) if kind else contextlib.nullcontext(NOOP) as ent:
        out = _run(b, op)
        after = nft_view(b, op.ns, op.family, op.table)
        if ent is not NOOP and after is not None:
            new_rules = [h for h, r in after["rules"].items() if h not in (before or {}).get("rules", {})
                         and r["chain"] == op.chain]
            if kind == "iptables" and len(new_rules) == 1:
                ent.confirm(handle=new_rules[0], fp=after["rules"][new_rules[0]]["fp"])
            elif kind == "iptables-chain" and op.chain in after["chains"]:
                ent.confirm(handle=after["chains"][op.chain]["handle"])
    if after is None:
        return out
    if before is None:   # iptables-nft made the table for this command
        with b.creating(op.ns, "iptables-table", table=op.table, **fam) as t:
            t.confirm(handle=after["handle"])
    for name, ch in after["chains"].items():   # base chains iptables-nft made on the way (e.g. FORWARD by -P)
        if ch["hook"] and name not in (before or {}).get("chains", {}):
            with b.creating(op.ns, "nft-chain", table=op.table, chain=name, **fam) as t:
                t.confirm(handle=ch["handle"])
    if before is not None:
        _retire_removed(b, op, before, after)
    return out


def _run(b, op: IptablesOp) -> str:
    r = b.run_cmd(op.ns, [tool_for(op.family)] + op.argv())
    if r.returncode != 0:
        if op.command == "check" and r.returncode == 1:
            raise LabError(f"{'ip6tables' if op.family == 6 else 'iptables'}: Bad rule (does a matching rule exist in that chain?)")
        raise _diagnose(b, op, r.stderr)
    return r.stdout.rstrip("\n")


def _retire_removed(b, op: IptablesOp, before: dict, after: dict) -> None:
    """--host: the lab deleted rules/chains itself (-D, -F, -X, -R, -E): forget the ones it had made; a
    rule that replaced (-R) or a chain renamed (-E) from one of lab's is journaled in its place."""
    fam = 6 if op.family == 6 else 4
    same = lambda e: e.get("table") == op.table and e.get("family", 4) == fam   # noqa: E731
    ours_gone = False
    for eid, e in b.journal.live("iptables", op.ns or ""):
        if same(e) and e.get("handle") in before["rules"] and e["handle"] not in after["rules"]:
            b.journal.retire(eid)
            ours_gone = True
    for kind in ("iptables-chain", "nft-chain"):
        for eid, e in b.journal.live(kind, op.ns or ""):
            if same(e) and e["chain"] in before["chains"] and e["chain"] not in after["chains"]:
                b.journal.retire(eid)
                if kind == "iptables-chain" and op.command == "rename" and op.spec:
                    new = op.spec[0]
                    if new in after["chains"]:
                        with b.creating(op.ns, "iptables-chain", table=op.table, chain=new,
                                        **({"family": 6} if fam == 6 else {})) as t:
                            t.confirm(handle=after["chains"][new]["handle"])
    if op.command == "replace" and ours_gone:
        for h, r in after["rules"].items():
            if h not in before["rules"] and r["chain"] == op.chain:
                with b.creating(op.ns, "iptables", table=op.table, chain=op.chain, spec=list(op.spec),
                                **({"family": 6} if fam == 6 else {})) as t:
                    t.confirm(handle=h, fp=r["fp"])


def _nft_family(family: int) -> str:
    return "ip6" if family == 6 else "ip"


def _nft() -> str | None:
    path = shutil.which("nft") or "/usr/sbin/nft"
    return path if os.path.exists(path) else None


def nft_view(b, ns, family: int, table: str) -> dict | None:
    """The nf_tables table behind an iptables-nft table, by identity: {"handle", "chains": {name: {"handle",
    "hook", "policy"}}, "rules": {handle: {"chain", "fp"}}} (fp: a fingerprint of the rule's expressions,
    counters left out). None if the table does not exist (or nft is missing)."""
    nft = _nft()
    if nft is None:
        return None
    r = b.run_cmd(ns, [nft, "-a", "-j", "list", "table", _nft_family(family), table])
    if r.returncode != 0:
        return None
    try:
        items = json.loads(r.stdout).get("nftables", [])
    except ValueError:
        return None
    view: dict = {"handle": None, "chains": {}, "rules": {}}
    for it in items:
        if "table" in it:
            view["handle"] = it["table"].get("handle")
        elif "chain" in it:
            c = it["chain"]
            view["chains"][c["name"]] = {"handle": c.get("handle"), "hook": c.get("hook"),
                                         "policy": (c.get("policy") or "").upper() or None}
        elif "rule" in it:
            ru = it["rule"]
            expr = [x for x in ru.get("expr", []) if "counter" not in x]
            fp = hashlib.sha1(json.dumps(expr, sort_keys=True).encode()).hexdigest()[:16]
            view["rules"][ru["handle"]] = {"chain": ru["chain"], "fp": fp}
    return view


@applies(IptablesHelp)
def iptables_help(b, op: IptablesHelp) -> str:
    r = b.run_cmd(op.ns, [tool_for(op.family, "iptables"), *op.argv])
    if r.returncode != 0:
        raise LabError(_clean_stderr(r.stderr))
    return r.stdout.rstrip("\n")


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
    from lab.safefile import MAX_RESTORE, decode_utf8, read_regular   # regular files only, bounded

    what = f"{'ip6' if op.family == 6 else 'ip'}tables-restore"
    text = decode_utf8(read_regular(op.path, MAX_RESTORE, what), op.path)
    argv = [tool_for(op.family, "iptables-restore")]
    if op.noflush:
        argv.append("--noflush")
    if op.counters:
        argv.append("--counters")
    if op.test:
        argv.append("--test")
    if op.table:
        argv += ["-T", op.table]
    if b.journaled(op.ns):
        raise LabError("iptables-restore is not allowed on --host namespaces the lab did not create",
                       "lab clean could not undo it; apply rules one by one with iptables instead.")
    r = b.run_cmd(op.ns, argv, input=text)
    if r.returncode != 0:
        raise LabError("iptables-restore: " + (_clean_stderr(r.stderr) or "failed"),
                       "Nothing was applied (the restore is one transaction). Check the file against iptables-save output.")
    return ""


def undo_iptables(b, e: dict) -> str | None:
    """lab clean: remove a journaled rule / chain / policy / table, only if it is still the one lab made
    (same nf_tables handle and rule expressions; policy still what lab set; chain or table empty).
    Returns None when done or already gone; a sentence saying what was left and why otherwise."""
    ns = e.get("ns") or None
    t, fam = e["table"], e.get("family", 4)
    ipt = tool_for(fam)
    kind = e["kind"]
    view = nft_view(b, ns, fam, t)
    nft = _nft()
    where = f"{_nft_family(fam)} {t}"
    if kind == "iptables":
        if view is None:
            return None
        if "handle" not in e:   # journaled where nft could not be read: iptables' own rule match
            b.run_cmd(ns, [ipt, "-t", t, "-D", e["chain"]] + list(e["spec"]))
            return None
        r = view["rules"].get(e["handle"])
        if r is None:
            return None
        if r["chain"] != e["chain"] or r["fp"] != e.get("fp"):
            return f"rule handle {e['handle']} in {where} is no longer the rule lab added"
        b.run_cmd(ns, [nft, "delete", "rule", _nft_family(fam), t, e["chain"], "handle", str(e["handle"])])
        return None
    if view is None or (kind != "iptables-table" and e["chain"] not in view["chains"]):
        return None
    if kind == "iptables-policy":
        now = view["chains"][e["chain"]]["policy"]
        if now != e["new"]:
            return f"policy of {e['chain']} is {now}, not the {e['new']} lab set: left as it is"
        b.run_cmd(ns, [ipt, "-t", t, "-P", e["chain"], e["old"]])
        return None
    if kind in ("iptables-chain", "nft-chain"):
        ch = view["chains"][e["chain"]]
        if "handle" in e and ch["handle"] != e["handle"]:
            return None   # not the chain lab made (deleted and made again by someone else)
        rules = [h for h, r in view["rules"].items() if r["chain"] == e["chain"]]
        if kind == "nft-chain":
            if rules or (ch["policy"] or "ACCEPT") != "ACCEPT":
                return f"chain {e['chain']} in {where} has rules or a policy lab did not leave: left"
            b.run_cmd(ns, [nft, "delete", "chain", _nft_family(fam), t, e["chain"]])
            return None
        b.run_cmd(ns, [ipt, "-t", t, "-F", e["chain"]])
        r = b.run_cmd(ns, [ipt, "-t", t, "-X", e["chain"]])
        if r.returncode != 0:
            return f"chain {e['chain']} in {where} is still referenced by other rules: left"
        return None
    if kind == "iptables-table":
        if view is None or ("handle" in e and view["handle"] != e["handle"]):
            return None
        busy = view["rules"] or any(not c["hook"] or (c["policy"] or "ACCEPT") != "ACCEPT" for c in view["chains"].values())
        if busy:
            return f"table {where} holds rules or chains lab did not make: left"
        b.run_cmd(ns, [nft, "delete", "table", _nft_family(fam), t])
    return None


_COUNTED = re.compile(r"^\[(\d+):(\d+)\] -A (\S+) ?(.*)$")
_CHAIN = re.compile(r"^:(\S+) (\S+) \[(\d+):(\d+)\]$")


def parse_save(ns: str, text: str, family: str = "ip") -> tuple[Chain, ...]:
    """`iptables-save -c` text -> Chains (builtin first, in table order) with rules and counters."""
    out: list[Chain] = []
    table: str | None = None
    chains: dict[str, dict] = {}
    order: list[str] = []

    def flush() -> None:
        assert table is not None   # called at COMMIT, inside a table
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


def chains(b, ns: str | None, table: str | None = None, family: int = 4) -> tuple[Chain, ...]:
    """The chains (policies, rules and counters) of one table, or of all, as iptables-save -c (ip6tables-save)
    reads them from the kernel. Raises LabError when the tool fails; () when ip6tables is not installed."""
    try:
        argv = [tool_for(family, "iptables-save"), "-c"] + (["-t", table] if table else [])
    except LabError:
        if family == 6:
            return ()
        raise
    r = b.run_cmd(ns, argv, timeout=10)
    if r.returncode != 0:
        raise LabError(f"{os.path.basename(argv[0])} failed in {ns or 'the top namespace'}: {r.stderr.strip()}")
    return parse_save(ns or "", r.stdout, "ip6" if family == 6 else "ip")


def pane_chains(b, ns) -> dict:
    """iptables and ip6tables chains (the latter only where ip6tables was used: no tables, no output)."""
    try:
        v6 = chains(b, ns, family=6)
    except LabError:
        v6 = ()
    return {"chains": chains(b, ns) + v6}


def legacy_rules_present(b, ns) -> bool:
    """True if iptables-legacy has rules here (the nft trace cannot see those)."""
    path = shutil.which("iptables-legacy-save")
    if not path:
        return False
    r = b.run_cmd(ns, [path])
    return any(line.startswith("-A") for line in r.stdout.splitlines())


state.EXTRAS["chains"] = pane_chains
