"""Apply `sysctl` Ops inside a namespace through /proc/sys (which follows the calling thread's netns),
with sysctl's own output and errors; register the key sysctls the panes show."""
from __future__ import annotations

import os

from lab.backend import nsutil, state
from lab.backend.core import applies
from lab.commands.sysctl import SysctlOp, swap_separators
from lab.errors import LabError, did_you_mean

PANE_KEYS = ("net.ipv4.ip_forward", "net.ipv4.conf.all.rp_filter", "net.ipv4.conf.all.send_redirects",
             "net.bridge.bridge-nf-call-iptables")


def _missing(b, ns, key: str) -> LabError:
    path = b.sysctl_path(key)
    parent, leaf = os.path.split(path)
    hint = ""
    with nsutil.in_netns(ns):
        try:
            hint = did_you_mean(leaf, os.listdir(parent))
        except OSError:
            pass
        if not hint and key.startswith("net.ipv4.conf.") and len(key.split(".")) == 5:
            devs = os.listdir("/proc/sys/net/ipv4/conf")
            hint = f" (devices here: {', '.join(sorted(devs))})"
    return LabError(f"sysctl: cannot stat {path}: No such file or directory{hint}")


@applies(SysctlOp)
def sysctl(b, op: SysctlOp) -> str:
    b.require_ns(op.ns)
    out: list[str] = []
    # check every key before writing any, so nothing is half-applied
    for key, _ in op.writes:
        try:
            b.sysctl_get(op.ns, key)
        except OSError:
            raise _missing(b, op.ns, key) from None
    for key, value in op.writes:
        try:
            b.sysctl_set(op.ns, key, value)
        except OSError as e:
            raise LabError(f'sysctl: setting key "{key}": {e.strerror}',
                           "Check the value (most net.* switches take 0 or 1).") from None
        if not op.quiet:
            out.append(_row(op, key, value))
    for key in op.reads:
        try:
            v = b.sysctl_get(op.ns, key)
        except IsADirectoryError:
            raise LabError(f'sysctl: "{key}" is a directory', f"Try: sysctl -a {key}") from None
        except OSError:
            raise _missing(b, op.ns, key) from None
        out.append(_row(op, key, v))
    if op.all_pattern is not None:
        out += _all(b, op)
    return "\n".join(out)


def _row(op: SysctlOp, key: str, value: str) -> str:
    """One line as procps prints it: `key = value`, the value alone (-n) or the name alone (-N)."""
    return key if op.names_only else value if op.values_only else f"{key} = {value}"


def _all(b, op: SysctlOp) -> list[str]:
    rows = []
    with nsutil.in_netns(op.ns):
        for dirpath, _dirs, files in os.walk("/proc/sys/net"):
            for f in sorted(files):
                path = os.path.join(dirpath, f)
                key = swap_separators(path[len("/proc/sys/"):])
                if op.all_pattern and op.all_pattern not in key:
                    continue
                try:
                    with open(path) as fh:
                        v = fh.read().strip().replace("\n", " ").replace("\t", " ")
                except OSError:
                    continue
                rows.append(_row(op, key, v))
    return sorted(rows) if not op.values_only or op.names_only else rows


def pane_sysctls(b, ns) -> dict:
    vals = []
    for k in PANE_KEYS:
        try:
            vals.append((k, b.sysctl_get(ns, k)))
        except OSError:
            pass
    return {"sysctls": tuple(vals)}


state.EXTRAS["sysctls"] = pane_sysctls
