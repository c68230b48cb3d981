"""The command language: text -> Op. One table of command families drives parsing, help and completion.

Pure: never touches the kernel. `parse(line, ctx)` returns an Op, None for a blank/comment line, or
raises ParseError (a LabError) with iproute2's wording and the fix.
"""
from __future__ import annotations

import importlib

from lab.commands.base import Context, Op, ParseError, tokenize
from lab.errors import closest, did_you_mean

# first word -> module with parse(argv, ctx, ns[, parse_argv]) ; help summaries for `help` and completion
FAMILIES: dict[str, tuple[str, str]] = {
    "ip": ("lab.commands.ip", "namespaces, links, addresses, routes, neighbours, rules"),
    "bridge": ("lab.commands.bridge", "bridge ports and forwarding database"),
    "brctl": ("lab.commands.bridge", "brctl show: bridges and their ports"),
    "tc": ("lab.commands.tc", "traffic control: qdiscs, classes, filters"),
    "iptables": ("lab.commands.iptables", "packet filter and NAT rules (iptables-nft)"),
    "iptables-save": ("lab.commands.iptables", "dump rules in iptables-restore format"),
    "iptables-restore": ("lab.commands.iptables", "load rules from iptables-save format"),
    "ip6tables": ("lab.commands.iptables", "IPv6 packet filter and NAT rules (ip6tables-nft)"),
    "ip6tables-save": ("lab.commands.iptables", "dump IPv6 rules in ip6tables-restore format"),
    "ip6tables-restore": ("lab.commands.iptables", "load IPv6 rules from ip6tables-save format"),
    "sysctl": ("lab.commands.sysctl", "read and write net.* kernel settings"),
    "trace": ("lab.commands.trace", "inject a packet and trace it hook by hook"),
    "grade": ("lab.commands.grade", "check the lab as built against a scenario's checks"),
    "ipvsadm": ("lab.commands.ipvsadm", "IP Virtual Server: virtual services and their real servers (kube-proxy's ipvs mode)"),
    "bird": ("lab.commands.bird", "the BIRD routing daemon (BGP, OSPF), one per namespace: NS bird -c FILE"),
    "birdc": ("lab.commands.bird", "ask a namespace's BIRD daemon: NS birdc show protocols / show route"),
}

# other programs that may run inside a namespace (`red ping ...`, `ip netns exec red tcpdump ...`)
PROGRAMS = ("ping", "ping6", "tcpdump", "bash", "sh", "zsh", "nc", "ncat", "curl", "wget", "traceroute",
            "tracepath", "arping", "ss", "netstat", "python3", "socat", "nft", "conntrack", "ethtool",
            "iperf3", "hostname", "cat", "echo", "sleep", "true", "false", "ls", "env", "id")


_loaded: dict[str, object] = {}


def family_parser(head: str):
    mod = _loaded.get(head)
    if mod is None:
        mod = _loaded[head] = importlib.import_module(FAMILIES[head][0])
    return mod


def parse(line: str, ctx: Context | None = None) -> Op | None:
    words = tokenize(line)
    if not words:
        return None
    return parse_argv(words, ctx or Context(), None)


MAX_NESTING = 8   # `ip netns exec A ip netns exec B ...`: iproute2 nests without end; a command runs in one namespace


def parse_argv(words: list[str], ctx: Context, ns: str | None, depth: int = 0) -> Op:
    """Parse a command's words; `depth` counts the `ip netns exec` / `NS CMD` wrappers around it."""
    from lab.commands.ip import ExecOp

    if depth > MAX_NESTING:
        raise ParseError(f"ip netns exec: nested more than {MAX_NESTING} deep; lab stops there",
                         "A command runs in one namespace: say `ip netns exec NS CMD` once (the innermost NS wins).")
    head = words[0]
    if head in ("help", "?"):
        from lab.commands.ip import HelpOp

        return HelpOp(ns, text=help_text())
    if head in FAMILIES:
        mod = family_parser(head)
        if head == "ip":
            return mod.parse(words[1:], ctx, ns, lambda w, c, n: parse_argv(w, c, n, depth + 1))
        return mod.parse(head, words[1:], ctx, ns)
    if head in ctx.namespaces and len(words) > 1 and ns is None:
        # Mininet-style shorthand: `red ping 10.0.0.2`, `red ip addr`
        return parse_argv(words[1:], ctx, head, depth + 1)
    if head in ctx.namespaces:
        raise ParseError(f'"{head}" is a namespace: say what to run in it.', f"Try: {head} ip addr, or {head} ping ADDR")
    if head in PROGRAMS or head.startswith(("/", "./")):
        return ExecOp(ns, argv=tuple(words))
    split = split_tool(head, words[1:], ctx, ns)
    if split:
        raise ParseError(f'Unknown command "{head} {words[1]}"{split[0]}', f"Try: {split[1]}" if words[2:] else None)
    hint = did_you_mean(head, list(FAMILIES) + list(ctx.namespaces) + list(PROGRAMS))
    raise ParseError(f'Unknown command "{head}"{hint}',
                     "Commands: " + ", ".join(k for k in FAMILIES if k != "brctl") +
                     "; or NAMESPACE COMMAND (e.g. red ping 10.0.0.2); `help` lists them.")


def split_tool(head: str, rest: list[str], ctx: Context, ns: str | None) -> tuple[str, str] | None:
    """`ip tables -L`, `ip6 tables -L`: a tool's name typed in two words. Returns the did-you-mean suffix
    (` — did you mean "iptables"?`) and the command to run instead (in `ns`, as lab accepts it), or None."""
    if not rest or rest[0].startswith("-"):
        return None
    tools = [t for t in list(FAMILIES) + list(PROGRAMS) if t != head]
    tool = closest(head + rest[0], tools, cutoff=0.85, prefixes=False)
    if tool is None:
        return None
    where = "" if ns is None else f"{ns} " if ns in ctx.namespaces else f"ip netns exec {ns} "
    return did_you_mean(head + rest[0], [tool]), " ".join([where + tool] + rest[1:])


def help_text() -> str:
    lines = ["Commands (iproute2/iptables syntax; `CMD help` for details):"]
    for k, (_, summary) in FAMILIES.items():
        lines.append(f"  {k:<17} {summary}")
    lines.append("  NS CMD            run CMD in namespace NS (e.g. red ping 10.0.0.2, red ip addr)")
    lines.append("  ip netns exec NS CMD   the same, iproute2's way")
    return "\n".join(lines)
