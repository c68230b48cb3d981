"""A scenario's `requires: [vlan, netem, ...]`: the kernel features it needs, checked before anything is built,
so a kernel without one says at once which feature is missing ("this scenario needs the kernel's vlan (8021q)
support, which this kernel lacks") instead of failing halfway through a step.

A feature is asked of the kernel itself, the way a command would meet it: in a throwaway, anonymous network
namespace (a worker thread unshares one, so nothing is named, journaled or seen by the dashboard, and the
namespace is gone when the thread's netlink socket closes), one RTM_NEWLINK for a link kind (the kernel loads
the module on demand, as it would for the real command) or one RTM_NEWQDISC on that namespace's `lo` for a
qdisc kind. The feature is missing only when the kernel says it does not know the kind ("Unknown device type",
"Specified qdisc kind is unknown", EOPNOTSUPP for a bridge's vlan_filtering); any other answer means it has it.
The kernel primitives are the backend's (nsutil.unshare, rtnl.Rtnl); this module only decides what to ask.
What a feature is called in messages follows lab.backend.ip's KERNEL_MISSING and lab.backend.tc's QDISC_MODULES.
"""
from __future__ import annotations

import errno
import socket
import struct
import threading

# name -> (what to probe, kind, how messages name it)
FEATURES: dict[str, tuple[str, str, str]] = {
    "vlan": ("link", "vlan", "vlan (8021q)"),
    "vlan_filtering": ("bridge_vlan", "bridge", "bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)"),
    "gre": ("link", "gre", "GRE (ip_gre)"),
    "gretap": ("link", "gretap", "GRE (ip_gre)"),
    "geneve": ("link", "geneve", "geneve"),
    "vxlan": ("link", "vxlan", "vxlan"),
    "dummy": ("link", "dummy", "dummy link"),
    "macvlan": ("link", "macvlan", "macvlan"),
    "ipvlan": ("link", "ipvlan", "ipvlan"),
    "wireguard": ("link", "wireguard", "wireguard"),
    "netem": ("qdisc", "netem", "netem (sch_netem)"),
    "tbf": ("qdisc", "tbf", "tbf (sch_tbf)"),
    "htb": ("qdisc", "htb", "htb (sch_htb)"),
    "fq_codel": ("qdisc", "fq_codel", "fq_codel (sch_fq_codel)"),
    "sfq": ("qdisc", "sfq", "sfq (sch_sfq)"),
    "prio": ("qdisc", "prio", "prio (sch_prio)"),
    "codel": ("qdisc", "codel", "codel (sch_codel)"),
    "cake": ("qdisc", "cake", "cake (sch_cake)"),
    "fq": ("qdisc", "fq", "fq (sch_fq)"),
    "ipvs": ("ipvs", "IPVS", "IP Virtual Server (ip_vs; its commands need the machine's own root, not a user "
                             "namespace such as lab's rootless sandbox: sudo lab --privileged)"),
}

_have: set[str] = set()       # features found (a missing one is asked again: a module may be loaded meanwhile)
_lock = threading.Lock()


def describe(names) -> str:
    """"vlan (8021q)", "bridge VLAN filtering (...) and vlan (8021q)": how messages name the features."""
    words = [FEATURES[n][2] for n in names]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def message(missing) -> str:
    return f"this scenario needs the kernel's {describe(missing)} support, which this kernel lacks"


def hint(missing) -> str:
    it = "them" if len(missing) > 1 else "it"
    return (f"Play it on a kernel built with {it}: Debian's stock kernel has {it} (there a module loads on first "
            "use).")


def missing(names) -> list[str]:
    """The features of `names` this kernel lacks, in the order given."""
    out = []
    for n in names:
        with _lock:
            if n in _have:
                continue
        if _kernel_has(n):
            with _lock:
                _have.add(n)
        else:
            out.append(n)
    return out


def _kernel_has(name: str) -> bool:
    what, kind, _ = FEATURES[name]
    result: list[bool] = []
    failure: list[BaseException] = []

    def probe() -> None:
        from lab.backend import nsutil

        try:
            nsutil.unshare(nsutil.CLONE_NEWNET)   # this thread only: an anonymous namespace, gone with the thread
            result.append(_ask(what, kind))
        except BaseException as e:  # noqa: BLE001  reported in the caller's thread
            failure.append(e)

    t = threading.Thread(target=probe, name=f"lab-requires-{name}", daemon=True)
    t.start()
    t.join(30)
    if failure:      # no namespace could be made to ask in: say nothing now (the step itself will tell)
        if isinstance(failure[0], OSError):
            return True
        raise failure[0]
    return bool(result) and result[0]


RTM_NEWQDISC, TCA_KIND, TCA_OPTIONS, TC_H_ROOT = 36, 1, 2, 0xFFFFFFFF
IFLA_BR_VLAN_FILTERING = 7


def _ask(what: str, kind: str) -> bool:
    from pyroute2.netlink.exceptions import NetlinkError

    from lab.backend.rtnl import (IFLA_IFNAME, IFLA_INFO_DATA, IFLA_INFO_KIND, IFLA_LINKINFO, NLM_F_CREATE,
                                  NLM_F_EXCL, RTM_NEWLINK, Rtnl, attr, ifinfo, sattr)

    if what == "ipvs":       # the family answers, and its version may be read here (the commands' permission)
        from lab.backend.ipvsadm import Ipvs
        from lab.errors import LabError

        try:
            Ipvs(None, here=True).close()
        except LabError:          # no ip_vs, or a user namespace
            return False
        return True
    r = Rtnl()
    try:
        if what == "qdisc":
            # tcmsg on lo (ifindex 1 in a new namespace), root; netem gets a minimal tc_netem_qopt (limit 1000)
            body = struct.pack("=BxxxiIII", socket.AF_UNSPEC, 1, 0, TC_H_ROOT, 0) + sattr(TCA_KIND, kind)
            if kind == "netem":
                body += attr(TCA_OPTIONS, struct.pack("=6I", 0, 1000, 0, 0, 0, 0))
            mtype = RTM_NEWQDISC
        else:
            info = sattr(IFLA_INFO_KIND, kind)
            if what == "bridge_vlan":
                info += attr(IFLA_INFO_DATA, attr(IFLA_BR_VLAN_FILTERING, struct.pack("=B", 1)))
            body = ifinfo() + sattr(IFLA_IFNAME, "lab-probe0") + attr(IFLA_LINKINFO, info)
            mtype = RTM_NEWLINK
        try:
            r.request(mtype, NLM_F_CREATE | NLM_F_EXCL, body)
        except NetlinkError as e:
            said = str(e.args[1]) if len(e.args) > 1 else ""
            if "Unknown device type" in said or "kind is unknown" in said:
                return False
            if what == "qdisc":
                return e.code != errno.ENOENT
            return e.code != errno.EOPNOTSUPP
        return True
    finally:
        r.close()
