"""`iptables`, `iptables-save`, `iptables-restore` parser (and their `ip6tables` twins): validates a rule
completely before anything is applied (tables, chains, matches and their options, targets and where they
are allowed, addresses of the right family), with iptables' own wording plus the fix. Pure: the rule is kept as the user's argv so it can be handed to
iptables-nft and shown back as typed. Whether a user chain exists is the backend's business."""
from __future__ import annotations

import contextvars
import ipaddress
from dataclasses import dataclass
from typing import ClassVar

from lab.commands.base import Context, Op, ParseError, ReadOp
from lab.errors import did_you_mean

V = "iptables v1.8.9 (nf_tables)"
V6 = "ip6tables v1.8.9 (nf_tables)"
_FAMILY: contextvars.ContextVar[int] = contextvars.ContextVar("iptables_family", default=4)  # while parsing
TABLES = {"filter": ["INPUT", "FORWARD", "OUTPUT"],
          "nat": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
          "mangle": ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
          "raw": ["PREROUTING", "OUTPUT"],
          "security": ["INPUT", "FORWARD", "OUTPUT"]}
PROTOCOLS = {"tcp", "udp", "icmp", "all", "sctp", "udplite", "icmpv6", "esp", "ah", "gre"}
CT_STATES = {"NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED", "SNAT", "DNAT"}
REJECT_WITH6 = {"icmp6-no-route", "no-route", "icmp6-adm-prohibited", "adm-prohibited", "icmp6-addr-unreachable",
                "addr-unreach", "icmp6-port-unreachable", "port-unreach", "icmp6-policy-fail", "policy-fail",
                "icmp6-reject-route", "reject-route", "tcp-reset"}
ICMP6_NAMES = {"icmpv6", "ipv6-icmp", "icmp6"}
REJECT_WITH = {"icmp-net-unreachable", "icmp-host-unreachable", "icmp-port-unreachable", "icmp-proto-unreachable",
               "icmp-net-prohibited", "icmp-host-prohibited", "icmp-admin-prohibited", "tcp-reset"}
ADDRTYPES = {"UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST", "BLACKHOLE", "UNREACHABLE",
             "PROHIBIT", "THROW", "NAT", "XRESOLVE"}
TARGETS = {"ACCEPT", "DROP", "REJECT", "LOG", "RETURN", "DNAT", "SNAT", "MASQUERADE", "REDIRECT", "TRACE", "MARK",
           "CONNMARK", "CT", "NOTRACK", "QUEUE", "NFQUEUE"}
# where NAT/trace targets may go (user chains of the right table are always allowed)
TARGET_PLACES = {"DNAT": ("nat", {"PREROUTING", "OUTPUT"}), "REDIRECT": ("nat", {"PREROUTING", "OUTPUT"}),
                 "SNAT": ("nat", {"POSTROUTING", "INPUT"}), "MASQUERADE": ("nat", {"POSTROUTING"}),
                 "TRACE": ("raw", {"PREROUTING", "OUTPUT"}), "CT": ("raw", {"PREROUTING", "OUTPUT"}),
                 "NOTRACK": ("raw", {"PREROUTING", "OUTPUT"})}
MODULES = {"tcp", "udp", "icmp", "icmp6", "conntrack", "state", "multiport", "statistic", "comment", "mark", "addrtype",
           "limit", "mac", "iprange", "physdev", "connmark", "length", "ttl", "pkttype", "owner"}
# option -> (module that provides it, number of arguments)
MATCH_OPTS = {
    "--sport": ("tcpudp", 1), "--source-port": ("tcpudp", 1), "--dport": ("tcpudp", 1),
    "--destination-port": ("tcpudp", 1), "--tcp-flags": ("tcp", 2), "--syn": ("tcp", 0),
    "--icmp-type": ("icmp", 1), "--icmpv6-type": ("icmp6", 1), "--ctstate": ("conntrack", 1), "--ctorigdst": ("conntrack", 1),
    "--ctorigsrc": ("conntrack", 1), "--ctdir": ("conntrack", 1), "--ctorigdstport": ("conntrack", 1),
    "--state": ("state", 1), "--dports": ("multiport", 1), "--sports": ("multiport", 1), "--ports": ("multiport", 1),
    "--mode": ("statistic", 1), "--probability": ("statistic", 1), "--every": ("statistic", 1),
    "--packet": ("statistic", 1), "--comment": ("comment", 1), "--mark": ("mark", 1),
    "--src-type": ("addrtype", 1), "--dst-type": ("addrtype", 1), "--limit-iface-in": ("addrtype", 0),
    "--limit-iface-out": ("addrtype", 0), "--limit": ("limit", 1), "--limit-burst": ("limit", 1),
    "--mac-source": ("mac", 1), "--src-range": ("iprange", 1), "--dst-range": ("iprange", 1),
    "--physdev-in": ("physdev", 1), "--physdev-out": ("physdev", 1), "--physdev-is-bridged": ("physdev", 0),
    "--physdev-is-in": ("physdev", 0), "--physdev-is-out": ("physdev", 0), "--length": ("length", 1),
    "--ttl-eq": ("ttl", 1), "--ttl-lt": ("ttl", 1), "--ttl-gt": ("ttl", 1), "--pkt-type": ("pkttype", 1),
    "--uid-owner": ("owner", 1),
}
TARGET_OPTS = {
    "--reject-with": ("REJECT", 1), "--log-prefix": ("LOG", 1), "--log-level": ("LOG", 1),
    "--to-destination": ("DNAT", 1), "--to-source": ("SNAT", 1), "--to-ports": ("MASQUERADE|REDIRECT", 1),
    "--to": ("DNAT|SNAT", 1), "--random": ("MASQUERADE|SNAT|DNAT|REDIRECT", 0),
    "--random-fully": ("MASQUERADE|SNAT", 0), "--persistent": ("SNAT|DNAT", 0),
    "--set-mark": ("MARK|CONNMARK", 1), "--set-xmark": ("MARK|CONNMARK", 1), "--or-mark": ("MARK", 1),
    "--and-mark": ("MARK", 1), "--xor-mark": ("MARK", 1), "--save-mark": ("CONNMARK", 0),
    "--restore-mark": ("CONNMARK", 0), "--notrack": ("CT", 0), "--queue-num": ("NFQUEUE", 1),
}
COMMANDS = {"-A": "append", "--append": "append", "-I": "insert", "--insert": "insert", "-D": "delete",
            "--delete": "delete", "-R": "replace", "--replace": "replace", "-F": "flush", "--flush": "flush",
            "-Z": "zero", "--zero": "zero", "-N": "new", "--new-chain": "new", "--new": "new",
            "-X": "delete-chain", "--delete-chain": "delete-chain", "-P": "policy", "--policy": "policy",
            "-L": "list", "--list": "list", "-S": "list-rules", "--list-rules": "list-rules",
            "-E": "rename", "--rename-chain": "rename", "-C": "check", "--check": "check"}
# the options iptables itself takes besides the commands (COMMANDS) and the extensions' own (lab.commands.xtables)
GENERAL_OPTS = ("-t", "--table", "-s", "--source", "-d", "--destination", "-i", "--in-interface", "-o",
                "--out-interface", "-p", "--protocol", "-m", "--match", "-j", "--jump", "-g", "--goto", "-f",
                "--fragment", "-c", "--set-counters", "-n", "--numeric", "-v", "--verbose", "-x", "--exact",
                "--line-numbers", "-w", "--wait", "-W", "--wait-interval", "-4", "--ipv4", "-h", "--help",
                "-V", "--version")
SAVE_OPTS = ("-t", "--table", "-c", "--counters")
RESTORE_OPTS = ("-n", "--noflush", "-c", "--counters", "-t", "--test", "-T", "--table", "-w", "--wait", "-W",
                "--wait-interval", "-M", "--modprobe", "-v", "--verbose")
VERDICTS = ("ACCEPT", "DROP", "RETURN", "QUEUE")
FLAG_CMDS = {"append": "-A", "insert": "-I", "delete": "-D", "replace": "-R", "flush": "-F", "zero": "-Z",
             "new": "-N", "delete-chain": "-X", "policy": "-P", "list": "-L", "list-rules": "-S", "rename": "-E",
             "check": "-C"}


@dataclass(frozen=True)
class IptablesOp(Op):
    family: int = 4                 # 6: ip6tables
    table: str = "filter"
    command: str = "list"           # append insert delete replace flush zero new delete-chain policy list list-rules rename check
    chain: str | None = None
    rulenum: int | None = None
    spec: tuple[str, ...] = ()      # the rule as typed (matches + target), or (POLICY,) / (NEWNAME,)
    target: str | None = None
    doubt: tuple | None = None      # lab's own reading of the rule, when it expects iptables to refuse it:
                                    # (message, hint), used to explain iptables' error; iptables decides
    numeric: bool = True
    verbose: bool = False
    exact: bool = False
    line_numbers: bool = False

    @property
    def mutates(self) -> bool:
        return self.command not in ("list", "list-rules", "check")

    def argv(self) -> list[str]:
        """The command for iptables-nft, in canonical order."""
        a = ["-t", self.table, FLAG_CMDS[self.command]]
        if self.chain:
            a.append(self.chain)
        if self.rulenum is not None:
            a.append(str(self.rulenum))
        a += list(self.spec)
        if self.command in ("list", "list-rules"):
            if self.numeric and self.command == "list":
                a.append("-n")
            if self.verbose:
                a.append("-v")
            if self.exact:
                a.append("-x")
            if self.line_numbers and self.command == "list":
                a.append("--line-numbers")
        return a


@dataclass(frozen=True)
class IptablesSave(ReadOp):
    family: int = 4
    table: str | None = None
    counters: bool = False


@dataclass(frozen=True)
class IptablesRestore(Op):
    family: int = 4
    path: str = ""
    noflush: bool = False
    file_args: ClassVar[tuple[str, ...]] = ("path",)
    table: str | None = None
    counters: bool = False          # -c: restore the counters in the file
    test: bool = False              # -t: parse and check only, apply nothing


@dataclass(frozen=True)
class IptablesHelp(ReadOp):
    """`iptables [-m MATCH | -j TARGET | -p PROTO]... -h` / `--help` / `-V`: iptables-nft's own text (it is
    the authority on the options its extensions take)."""
    family: int = 4
    argv: tuple[str, ...] = ()


def err(msg: str, hint: str | None = None) -> ParseError:
    return ParseError(f"{V6 if _FAMILY.get() == 6 else V}: {msg}", hint)


def parse(head: str, argv: list[str], ctx: Context, ns: str | None) -> Op:
    family = 6 if head.startswith("ip6") else 4
    token = _FAMILY.set(family)
    try:
        if head.endswith("-save"):
            return _save(argv, ns, family)
        if head.endswith("-restore"):
            return _restore(argv, ns, family)
        return parse_iptables(argv, ns, family)
    finally:
        _FAMILY.reset(token)


def _save(argv: list[str], ns, family: int = 4) -> IptablesSave:
    table, counters = None, False
    it = iter(argv)
    for w in it:
        if w in ("-t", "--table"):
            table = next(it, None)
            if table not in TABLES:
                raise ParseError(f'iptables-save: table "{table}" does not exist', "Tables: " + ", ".join(TABLES))
        elif w in ("-c", "--counters"):
            counters = True
        else:
            raise ParseError(f'iptables-save: unknown option "{w}"', "iptables-save [-t TABLE] [-c]")
    return IptablesSave(ns, family=family, table=table, counters=counters)


def _restore(argv: list[str], ns, family: int = 4) -> IptablesRestore:
    """iptables-restore's options (as kube-proxy passes them: -w 5 -W 100000 --noflush --counters) and the
    file, also as `< FILE` typed like a shell redirection."""
    path, noflush, table = None, False, None
    flags = {"counters": False, "test": False}
    i = 0
    while i < len(argv):
        w = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if w in ("-n", "--noflush"):
            noflush = True
        elif w in ("-T", "--table"):
            table, i = nxt, i + 1
            if table not in TABLES:
                raise ParseError(f'iptables-restore: table "{table}" does not exist')
        elif w in ("-c", "--counters"):
            flags["counters"] = True
        elif w in ("-t", "--test"):
            flags["test"] = True
        elif w in ("-v", "--verbose"):
            pass
        elif w in ("-w", "--wait"):          # an optional number of seconds
            if nxt is not None and nxt.isdigit():
                i += 1
        elif w in ("-W", "--wait-interval", "-M", "--modprobe"):
            if nxt is None:
                raise ParseError(f'iptables-restore: option "{w}" requires an argument')
            i += 1
        elif w.startswith(("--wait=", "--wait-interval=", "--modprobe=")):
            pass
        elif w == "<":                       # iptables-restore < FILE, as typed in a shell
            if nxt is None:
                raise ParseError("iptables-restore: < needs a file name")
            path, i = nxt, i + 1
        elif w.startswith("<"):
            path = w[1:]
        elif w.startswith("-"):
            raise ParseError(f'iptables-restore: unknown option "{w}"', "iptables-restore [-n] [-c] [-w] FILE")
        elif path is None:
            path = w
        else:
            raise ParseError("iptables-restore: only one file", "iptables-restore [-n] FILE")
        i += 1
    if path is None:
        raise ParseError("iptables-restore: give the file to load", "iptables-restore rules.v4  (made by iptables-save)")
    return IptablesRestore(ns, family=family, path=path, noflush=noflush, table=table, **flags)


def _expand_bundles(argv: list[str]) -> list[str]:
    """`-nvL` -> `-n -v -L` (short flags bundled, the command letter last), as iptables accepts."""
    out = []
    for w in argv:
        if len(w) > 2 and w[0] == "-" and w[1] != "-" and set(w[1:]) <= set("nvxLSFZ") and \
                sum(ch in "LSFZ" for ch in w[1:]) <= 1:
            out += ["-" + ch for ch in w[1:]]
        else:
            out.append(w)
    return out


def parse_iptables(argv: list[str], ns, family: int = 4) -> IptablesOp | IptablesHelp:
    argv = _expand_bundles(argv)
    if any(w in ("-h", "--help", "-V", "--version") for w in argv):
        return IptablesHelp(ns, family=family, argv=tuple(argv))
    table = "filter"
    command = chain = None
    rulenum = None
    extra: list[str] = []           # command arguments (policy target, new name)
    spec: list[str] = []
    flags = {"numeric": True, "verbose": False, "exact": False, "line_numbers": False}
    i = 0

    def need(what: str) -> str:
        nonlocal i
        if i + 1 >= len(argv) or (argv[i + 1].startswith("-") and argv[i + 1] != "-" and what != "value"):
            raise err(f'option "{argv[i]}" requires an argument', f"{argv[i]} needs {what}")
        i += 1
        return argv[i]

    while i < len(argv):
        w = argv[i]
        if w in ("-t", "--table"):
            table = need("a table")
            if table not in TABLES:
                raise err(f"can't initialize iptables table `{table}': Table does not exist",
                          "Tables: filter, nat, mangle, raw, security")
        elif w in COMMANDS:
            if command is not None:
                raise err("Cannot use -%s with -%s" % (FLAG_CMDS[COMMANDS[w]][1], FLAG_CMDS[command][1]),
                          "Give one command per line.")
            command = COMMANDS[w]
            # chain and numeric arguments that follow the command
            if i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                i += 1
                chain = argv[i]
                if command in ("insert", "delete", "replace", "zero", "list-rules") and i + 1 < len(argv) \
                        and argv[i + 1].isdigit():
                    i += 1
                    rulenum = int(argv[i])
                    if rulenum < 1:
                        raise err(f"Invalid rule number `{argv[i]}'", "Rules are numbered from 1 (see --line-numbers)")
                if command in ("policy", "rename"):
                    if i + 1 >= len(argv):
                        raise err(f"-{FLAG_CMDS[command][1]} requires {'a policy' if command == 'policy' else 'a new name'}")
                    i += 1
                    extra.append(argv[i])
        elif w in ("-n", "--numeric"):
            flags["numeric"] = True
        elif w in ("-v", "--verbose"):
            flags["verbose"] = True
        elif w in ("-x", "--exact"):
            flags["exact"] = True
        elif w == "--line-numbers":
            flags["line_numbers"] = True
        elif w in ("-w", "--wait"):      # kube-proxy and kubelet pass -w 5 -W 100000 on every call
            if i + 1 < len(argv) and argv[i + 1].isdigit():
                i += 1
        elif w in ("-W", "--wait-interval"):
            need("microseconds")
        elif w.startswith("--wait=") or w.startswith("--wait-interval="):
            pass
        elif w in ("-4", "--ipv4"):
            pass
        elif w in ("-6", "--ipv6"):
            raise err("-6 is not supported by lab's iptables", "The lab's labs are IPv4.")
        elif w.isdigit() and command == "insert" and rulenum is None and chain and not spec:
            rulenum = int(w)
        else:
            spec.append(w)
        i += 1
    if command is None:
        raise err("no command specified", "Try: iptables -L -n -v, iptables -A INPUT -p tcp --dport 22 -j ACCEPT")
    if chain is not None:
        _check_chain_name(chain, table, command)
    if command in ("append", "insert", "delete", "replace", "check", "new", "policy", "rename") and chain is None:
        raise err(f"option \"-{FLAG_CMDS[command][1]}\" requires an argument", f"give the chain, e.g. iptables {FLAG_CMDS[command]} INPUT ...")
    if command == "replace" and rulenum is None:
        raise err("-R requires a rule number", "iptables -R CHAIN N RULE (see --line-numbers)")
    target = doubt = None
    if command in ("append", "insert", "replace", "check") or (command == "delete" and rulenum is None):
        if not spec and command == "delete":
            raise err("-D requires a rule number or a rule", "iptables -D CHAIN N  or  iptables -D CHAIN RULE")
        # iptables-nft is the authority on what a rule means: lab's checks only explain its refusals
        target = _target_of(spec)
        try:
            validate_spec(spec, table, chain)
        except ParseError as e:
            doubt = (e.message, e.hint)
    elif command == "delete" and spec:
        raise err(f"Bad argument `{spec[0]}'", "Delete by number (iptables -D CHAIN N) or by the full rule")
    elif spec:
        raise err(f"Bad argument `{spec[0]}'", f"-{FLAG_CMDS[command][1]} takes no rule")
    if command == "policy":
        pol = extra[0]
        if chain not in TABLES[table]:
            raise err(f"-P {chain}: only built-in chains have a policy", f"Built-in chains of {table}: {', '.join(TABLES[table])}")
        if pol not in ("ACCEPT", "DROP"):
            raise err(f"Bad policy name `{pol}'", "A policy is ACCEPT or DROP")
        spec = [pol]
    if command == "rename":
        _check_chain_name(extra[0], table, "new")
        spec = [extra[0]]
    return IptablesOp(ns, family=family, table=table, command=command, chain=chain, rulenum=rulenum,
                      spec=tuple(spec), target=target, doubt=doubt, **flags)


def _target_of(spec: list[str]) -> str | None:
    """The rule's -j/-g target as written (the last one: iptables refuses two)."""
    target = None
    for k, w in enumerate(spec[:-1]):
        if w in ("-j", "--jump", "-g", "--goto"):
            target = spec[k + 1]
    return target


def _check_chain_name(chain: str, table: str, command: str) -> None:
    if command == "new" or chain not in TABLES[table]:
        if len(chain) > 28:
            raise err(f"chain name `{chain}' too long (must be under 29 chars)")
        if chain in TARGETS:
            raise err(f"chain name `{chain}' is a target name", "Pick another name for your chain.")
        if chain == "fwd":
            raise err('chain name "fwd" is an nft keyword and cannot be used with the nf_tables backend',
                      "Pick another name, e.g. fwd-rules")
        if command == "new" and chain in TABLES[table]:
            raise err("Chain already exists.", f"{chain} is a built-in chain of {table}")
    if command == "new" and chain in sum(TABLES.values(), []):
        if chain in TABLES[table]:
            raise err("Chain already exists.")


def _addr_list(v: str, opt: str) -> None:
    v6 = _FAMILY.get() == 6
    example = "fd00::/64" if v6 else "10.0.0.0/24"
    for part in v.split(","):
        try:
            net = ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise err(f"host/network `{part}' not found", f"{opt} takes an address or CIDR like {example}") from None
        if net.version != (6 if v6 else 4):
            other = "iptables" if v6 else "ip6tables"
            raise err(f"host/network `{part}' not found",
                      f"{part} is an IPv{net.version} address: use {other} for it ({opt} takes one like {example})")


def _port(v: str, opt: str, allow_range: bool = True) -> None:
    parts = v.split(":") if allow_range else [v]
    if len(parts) > 2 or not all(p.isdigit() and 0 <= int(p) <= 65535 for p in parts if p != "") or v == "":
        raise err(f"invalid port/service `{v}' specified", f"{opt} takes a port 0-65535 or a range like 1000:2000")


def validate_spec(spec: list[str], table: str, chain: str | None) -> str | None:
    """Check a rule's matches and target; returns the target name. Raises ParseError."""
    proto = None
    modules: set[str] = set()
    target = None
    target_opts: list[str] = []
    i = 0
    negate = False

    def arg(n: int = 1) -> list[str]:
        nonlocal i
        vals = spec[i + 1:i + 1 + n]
        if len(vals) < n or any(v.startswith("--") for v in vals):
            raise err(f'option "{spec[i]}" requires an argument')
        i += n
        return vals

    while i < len(spec):
        w = spec[i]
        if w == "!":
            negate = True
            i += 1
            continue
        if w in ("-s", "--source", "--src", "-d", "--destination", "--dst"):
            _addr_list(arg()[0], w)
        elif w in ("-i", "--in-interface", "-o", "--out-interface"):
            v = arg()[0]
            if len(v) > 15 or "/" in v:
                raise err(f"interface name `{v}' must be shorter than IFNAMSIZ (15)")
            if w in ("-i", "--in-interface") and chain in ("OUTPUT", "POSTROUTING"):
                raise err(f"Can't use -i with {chain}", "Packets leaving have no input interface: use -o")
            if w in ("-o", "--out-interface") and chain in ("PREROUTING", "INPUT"):
                raise err(f"Can't use -o with {chain}", "Packets arriving have no output interface yet: use -i")
        elif w in ("-p", "--protocol"):
            proto = arg()[0].lower()
            if proto not in PROTOCOLS | ICMP6_NAMES and not (proto.isdigit() and int(proto) < 256):
                raise err(f"unknown protocol \"{proto}\" specified", "Protocols: tcp, udp, icmp, all, or a number")
            if proto in ("tcp", "udp", "icmp"):
                modules.add(proto)
            if proto in ICMP6_NAMES:
                modules.add("icmp6")
        elif w in ("-m", "--match"):
            m = arg()[0]
            if m not in MODULES:
                raise err(f"Couldn't load match `{m}':No such file or directory",
                          "Matches: " + ", ".join(sorted(MODULES)))
            if (m == "icmp") != (_FAMILY.get() == 4) and m in ("icmp", "icmp6"):
                raise err(f"Couldn't load match `{m}':No such file or directory",
                          "ip6tables: -p icmpv6 -m icmp6" if m == "icmp" else "iptables: -p icmp -m icmp")
            if m in ("tcp", "udp", "icmp") and proto != m:
                raise err(f"-m {m} needs -p {m} before it")
            if m == "icmp6" and proto not in ICMP6_NAMES:
                raise err("-m icmp6 needs -p icmpv6 before it")
            modules.add(m)
        elif w in ("-j", "--jump", "-g", "--goto"):
            if target is not None:
                raise err("multiple -j flags not allowed")
            target = arg()[0]
        elif w == "-f" or w == "--fragment":
            pass
        elif w in MATCH_OPTS:
            mod, n = MATCH_OPTS[w]
            vals = arg(n) if n else []
            if mod == "tcpudp":
                if not modules & {"tcp", "udp"}:
                    raise err(f'unknown option "{w}"',
                              f"{w} needs -p tcp or -p udp before it, e.g. -p tcp {w} {vals[0] if vals else 80}")
                _port(vals[0], w)
            elif mod == "tcp" and "tcp" not in modules:
                raise err(f'unknown option "{w}"', f"{w} needs -p tcp before it")
            elif mod == "icmp" and _FAMILY.get() == 6:
                raise err(f'unknown option "{w}"', "ip6tables matches ICMPv6: -p icmpv6 --icmpv6-type TYPE")
            elif mod == "icmp6" and _FAMILY.get() == 4:
                raise err(f'unknown option "{w}"', "--icmpv6-type is ip6tables'; iptables uses -p icmp --icmp-type")
            elif mod == "icmp" and "icmp" not in modules:
                raise err(f'unknown option "{w}"', f"{w} needs -p icmp before it")
            elif mod == "icmp6" and "icmp6" not in modules:
                raise err(f'unknown option "{w}"', f"{w} needs -p icmpv6 before it")
            elif mod not in ("tcpudp", "tcp", "icmp", "icmp6") and mod not in modules:
                raise err(f'unknown option "{w}"', f"{w} needs -m {mod} before it, e.g. -m {mod} {w} ...")
            _check_match_value(w, vals, proto, modules)
        elif w in TARGET_OPTS:
            if target is None:
                raise err(f'unknown option "{w}"', f"{w} belongs after its target, e.g. -j {TARGET_OPTS[w][0].split('|')[0]} {w} ...")
            allowed, n = TARGET_OPTS[w]
            if target not in allowed.split("|"):
                # `-j REJECTT --reject-with ...`: the option says which target was meant
                near = "" if target in TARGETS else (did_you_mean(target, allowed.split("|"))
                                                     or did_you_mean(target, TARGETS | {"ACCEPT", "DROP", "RETURN"}))
                raise err(f'unknown option "{w}"',
                          f"{w} is an option of {allowed.replace('|', ', ')}, not of {target}{near}")
            vals = arg(n) if n else []
            target_opts.append(w)
            _check_target_value(w, vals, proto)
        elif w.startswith("-"):
            if w.startswith("-") and not w.startswith("--") and len(w) > 2:
                raise err(f"unknown option \"{w}\"", f"did you mean -{w[1:2]} {w[2:]} or --{w[1:]}?")
            raise err(f'unknown option "{w}"', "Try `iptables -h' for the options of iptables")
        else:
            raise err(f"Bad argument `{w}'", "Options start with - or --; values follow their option")
        negate = False
        i += 1
    if negate:
        raise err("! must come before an option")
    if target is not None:
        _check_target(target, table, chain, target_opts, proto)
    return target


def _check_match_value(opt: str, vals: list[str], proto, modules) -> None:
    if opt in ("--ctstate", "--state"):
        bad = [s for s in vals[0].split(",") if s not in CT_STATES]
        if bad:
            raise err(f"Bad ctstate \"{bad[0]}\"", "States: NEW, ESTABLISHED, RELATED, INVALID, UNTRACKED")
    elif opt in ("--dports", "--sports", "--ports"):
        if not proto or proto not in ("tcp", "udp", "sctp", "udplite"):
            raise err("multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp'",
                      f"e.g. -p tcp -m multiport {opt} 80,443")
        ports = vals[0].split(",")
        if len(ports) > 15:
            raise err("too many ports specified", "multiport takes at most 15 ports")
        for p in ports:
            _port(p, opt)
    elif opt == "--mode":
        if vals[0] not in ("random", "nth"):
            raise err(f"Bad mode \"{vals[0]}\"", "--mode random --probability P  or  --mode nth --every N --packet P")
    elif opt == "--probability":
        try:
            prob = float(vals[0])
        except ValueError:
            prob = -1
        if not 0.0 <= prob <= 1.0:
            raise err(f"--probability must be between 0 and 1, not \"{vals[0]}\"")
    elif opt in ("--every", "--packet", "--limit-burst", "--length"):
        if not vals[0].replace(":", "").isdigit():
            raise err(f"{opt} takes a number, not \"{vals[0]}\"")
    elif opt == "--icmp-type":
        pass
    elif opt in ("--src-type", "--dst-type"):
        if any(t not in ADDRTYPES for t in vals[0].split(",")):
            raise err(f"addrtype: bad type \"{vals[0]}\"", "Types: LOCAL, UNICAST, BROADCAST, MULTICAST, ...")
    elif opt == "--comment" and len(vals[0]) > 255:
        raise err("COMMENT must be shorter than 256 characters")
    elif opt in ("--ctorigdst", "--ctorigsrc"):
        _addr_list(vals[0], opt)


def _check_target_value(opt: str, vals: list[str], proto) -> None:
    if opt in ("--to-destination", "--to-source", "--to"):
        v = vals[0]
        if _FAMILY.get() == 6:   # [fd00::2]:8080, fd00::2, [fd00::2-fd00::9]
            if v.startswith("["):
                addr, _, rest = v[1:].partition("]")
                port = rest[1:] if rest.startswith(":") else ""
            else:
                addr, port = v, ""
        else:
            addr, _, port = v.partition(":")
        if addr:
            for a in addr.split("-"):
                try:
                    ok = ipaddress.ip_address(a).version == _FAMILY.get()
                except ValueError:
                    ok = False
                if not ok:
                    raise err(f"Bad IP address \"{addr}\"", f"{opt} takes ADDR[:PORT], e.g. "
                              + ("[fd00::2]:8080" if _FAMILY.get() == 6 else "192.168.15.2:8080"))
        if port:
            if proto not in ("tcp", "udp", "sctp", "dccp"):
                raise err("Need TCP, UDP, SCTP or DCCP with port specification",
                          f"Add -p tcp (or udp) to the rule to rewrite the port: -p tcp ... {opt} {v}")
            for p in port.split("-"):
                _port(p, opt, allow_range=False)
    elif opt == "--to-ports":
        if proto not in ("tcp", "udp", "sctp", "dccp"):
            raise err("Need TCP, UDP, SCTP or DCCP with port specification", "Add -p tcp (or udp)")
        for p in vals[0].split("-"):
            _port(p, opt, allow_range=False)
    elif opt == "--reject-with":
        kinds = REJECT_WITH6 if _FAMILY.get() == 6 else REJECT_WITH
        if vals[0] not in kinds:
            raise err(f"unknown reject type \"{vals[0]}\"", "Types: " + ", ".join(sorted(kinds)))
        if vals[0] == "tcp-reset" and proto != "tcp":
            raise err("TCP_RESET invalid for non-tcp", "Use -p tcp with --reject-with tcp-reset")
    elif opt in ("--set-mark", "--set-xmark", "--or-mark", "--and-mark", "--xor-mark"):
        try:
            int(vals[0].split("/")[0], 0)
        except ValueError:
            raise err(f"Bad MARK value \"{vals[0]}\"") from None
    elif opt == "--log-prefix" and len(vals[0]) > 29:
        raise err("Maximum prefix length 29 for --log-prefix")


def _first_chain(chains: set[str]) -> str:
    for c in ("PREROUTING", "POSTROUTING", "OUTPUT", "INPUT"):
        if c in chains:
            return c
    return sorted(chains)[0]


def _check_target(target: str, table: str, chain: str | None, opts: list[str], proto) -> None:
    builtin = chain in TABLES[table]
    if target in TARGET_PLACES:
        t, chains = TARGET_PLACES[target]
        if table != t:
            raise err(f"{target} is only valid in the {t} table, not {table}",
                      f"Use: iptables -t {t} -A {_first_chain(chains)} ... -j {target} ...")
        if builtin and chain not in chains:
            raise err(f"{target} is not valid in the {chain} chain",
                      f"{target} goes in {' or '.join(sorted(chains))} (or a user chain called from there)")
    if target == "DNAT" and not ({"--to-destination", "--to"} & set(opts)):
        raise err("DNAT needs --to-destination", "e.g. -j DNAT --to-destination 192.168.15.2:80")
    if target == "SNAT" and not ({"--to-source", "--to"} & set(opts)):
        raise err("SNAT needs --to-source", "e.g. -j SNAT --to-source 203.0.113.1")
    if target == "DROP" and table == "nat":
        raise err('The "nat" table is not intended for filtering, the use of DROP is therefore inhibited.',
                  "Filter in the filter table: iptables -A FORWARD ... -j DROP")
    if target.startswith("-") or not target:
        raise err(f"Bad target `{target}'")
