"""`sysctl` parser: read and write net.* kernel settings of a namespace (`sysctl -w k=v`, `-n k`, `-a`).

Pure: checks the shape (net.* only, key=value for writes); whether a key exists is the backend's
business (it lives in /proc/sys of the namespace)."""
from __future__ import annotations

from dataclasses import dataclass

from lab.commands.base import Context, Op, ParseError


# the keys the classic labs set (completion offers them first; `lab export` writes those that differ from a
# new namespace's); any net.* key of the namespace is accepted
COMMON_KEYS = ("net.ipv4.ip_forward", "net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter",
               "net.ipv4.conf.all.send_redirects", "net.ipv4.conf.default.send_redirects",
               "net.ipv4.conf.all.route_localnet", "net.ipv4.conf.all.proxy_arp",
               "net.bridge.bridge-nf-call-iptables")
OPTIONS = ("-w", "-n", "-N", "-a", "-q", "-e")


@dataclass(frozen=True)
class SysctlOp(Op):
    writes: tuple[tuple[str, str], ...] = ()   # (key, value)
    reads: tuple[str, ...] = ()
    values_only: bool = False                  # -n
    names_only: bool = False                   # -N
    quiet: bool = False                        # -q
    all_pattern: str | None = None             # -a [pattern]; "" = everything under net.

    @property
    def mutates(self) -> bool:
        return bool(self.writes)


def swap_separators(k: str) -> str:
    """'.' <-> '/': between sysctl's dotted spelling and the /proc/sys path, where a '/' in the dotted
    spelling stands for a dot inside one name (net.ipv4.conf.eth0/100.rp_filter is eth0.100's)."""
    return k.translate(_SWAP)


_SWAP = str.maketrans("./", "/.")


def norm_key(k: str) -> str:
    """Either spelling sysctl(8) accepts -> the dotted one: net/ipv4/ip_forward -> net.ipv4.ip_forward,
    net/ipv4/conf/eth0.100/rp_filter -> net.ipv4.conf.eth0/100.rp_filter (as procps decides: the first
    separator tells which spelling it is)."""
    k = k.lstrip("/") if k.startswith("/") else k
    first = next((c for c in k if c in "./"), ".")
    return swap_separators(k.rstrip("/")) if first == "/" else k


def _check_key(k: str) -> str:
    k = norm_key(k)
    if not k or any(c.isspace() for c in k) or ".." in k:
        raise ParseError(f'sysctl: "{k}" is not a valid key')
    if not (k == "net" or k.startswith("net.")):
        raise ParseError(f'sysctl: "{k}" is outside net.*: the lab only changes network settings of its namespaces.',
                         "Try a key like net.ipv4.ip_forward or net.ipv4.conf.all.rp_filter")
    return k


def parse(head: str, argv: list[str], ctx: Context, ns: str | None) -> Op:
    write = values_only = names_only = quiet = False
    all_pattern = None
    items: list[str] = []
    for w in argv:
        if w.startswith("-") and not items:
            for ch in w.lstrip("-") if not w.startswith("--") else [w[2:]]:
                if ch in ("w", "write"):
                    write = True
                elif ch in ("n", "values"):
                    values_only = True
                elif ch in ("q", "quiet"):
                    quiet = True
                elif ch in ("a", "A", "all"):
                    all_pattern = ""
                elif ch in ("N", "names"):
                    names_only = True
                elif ch in ("e", "ignore"):
                    pass
                else:
                    raise ParseError(f'sysctl: unknown option "{w}"', "sysctl [-n] [-w] key[=value] ...  |  sysctl -a [pattern]")
        else:
            items.append(w)
    if all_pattern is not None:
        return SysctlOp(ns, all_pattern=items[0] if items else "", values_only=values_only, names_only=names_only)
    if not items:
        raise ParseError("sysctl: no variables specified", "Try: sysctl net.ipv4.ip_forward  or  sysctl -w net.ipv4.ip_forward=1")
    writes, reads = [], []
    for it in items:
        if "=" in it:
            k, _, v = it.partition("=")
            if not v.strip():
                raise ParseError(f'sysctl: "{it}" has no value', f"Try: sysctl -w {k}=1")
            writes.append((_check_key(k), v.strip()))
        elif write:
            raise ParseError(f'sysctl: "{it}" must be of the form name=value', f"Try: sysctl -w {norm_key(it)}=1")
        else:
            reads.append(_check_key(it))
    return SysctlOp(ns, writes=tuple(writes), reads=tuple(reads), values_only=values_only, names_only=names_only,
                    quiet=quiet)
