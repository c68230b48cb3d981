"""Apply `tc` Ops (qdisc, class, filter) with pyroute2 netlink in-process, and print like tc.

Each request is checked first (device, parent qdisc/class, what is already there) so a failing command
changes nothing and says why; a refusal because this kernel lacks a qdisc, classifier or action
(netem, fq_codel, flower, gact... see docs) is reported as such, with what would make it possible.
Requests are built here (not with IPRoute.tc()) so that u32 keys keep tc's 4-byte-aligned layout and
every kind gets exactly its options. Reads qdiscs back as lab.model.Qdisc for the panes
(state.EXTRAS["qdiscs"]) and undoes --host qdiscs for `lab clean` (undo_qdisc). Parsing is
lab.commands.tc's business.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import struct
from typing import Any

from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, NLMSG_ERROR, nla
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTM_DELQDISC, RTM_DELTCLASS, RTM_DELTFILTER, RTM_NEWQDISC, RTM_NEWTCLASS, RTM_NEWTFILTER
from pyroute2.netlink.rtnl.tcmsg import (cls_matchall, cls_u32, sched_cake, sched_htb, sched_pfifo, sched_tbf,
                                         sched_sfq, tcmsg)
from pyroute2.netlink.rtnl.tcmsg import common as tccommon
from pyroute2.netlink.rtnl.tcmsg.common_act import get_tca_action

from lab.backend import state
from lab.backend.core import applies
from lab.backend.journal import NOOP
from lab.backend.rtnl import extack
from lab.commands import tc as c
from lab.commands.tc import INGRESS_HANDLE, TC_H_INGRESS, TC_H_ROOT, handle_str
from lab.errors import LabError, kernel_says
from lab.model import Qdisc, TcClass

FLAGS = {
    "add": NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
    "replace": NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
    "change": NLM_F_REQUEST | NLM_F_ACK,
    "link": NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE,
    "delete": NLM_F_REQUEST | NLM_F_ACK,
}

# kind -> kernel module, for "this kernel has no X support" messages
QDISC_MODULES = {"tbf": "sch_tbf", "htb": "sch_htb", "ingress": "sch_ingress", "clsact": "sch_ingress",
                 "pfifo": "sch_fifo", "bfifo": "sch_fifo", "netem": "sch_netem", "fq_codel": "sch_fq_codel",
                 "sfq": "sch_sfq", "prio": "sch_prio", "codel": "sch_codel", "cake": "sch_cake", "fq": "sch_fq",
                 "pfifo_fast": "sch_generic", "noqueue": "sch_generic"}
FILTER_MODULES = {"u32": "cls_u32", "matchall": "cls_matchall", "flower": "cls_flower", "bpf": "cls_bpf",
                  "basic": "cls_basic", "fw": "cls_fw", "route": "cls_route", "flow": "cls_flow"}
ACTION_MODULES = {"mirred": "act_mirred", "gact": "act_gact"}
WORKS_HERE = {"Qdiscs": "tbf, htb, pfifo, bfifo, ingress", "Filters": "u32", "Actions": "mirred"}


# ---- netlink plumbing ---------------------------------------------------------------------------
class _U32Sel(cls_u32.options.u32_sel):
    """u32 selector encoded as tc does: keys given as (value, mask, offset), kept as they are."""

    def encode(self):
        keys = self["keys"]
        self["nkeys"] = len(keys)
        self["flags"] = 1            # TC_U32_TERMINAL: a match ends classification
        nla.encode(self)
        offset = self.offset + 20    # nla header + struct tc_u32_sel
        for val, mask, off in keys:
            k = self.u32_key(data=self.data)
            k.offset = offset
            k["key_val"], k["key_mask"], k["key_off"], k["key_offmask"] = val, mask, off, 0
            k.encode()
            offset += 16
        self.length = offset - self.offset
        struct.pack_into("H", self.data, self.offset, self.length)


class _U32Options(cls_u32.options):
    _nlmsg_base__compiled_nla = False
    u32_sel = _U32Sel


class _FlowerOptions(nla):
    _nlmsg_base__compiled_nla = False
    nla_map = (
        ("TCA_FLOWER_UNSPEC", "none"), ("TCA_FLOWER_CLASSID", "uint32"), ("TCA_FLOWER_INDEV", "asciiz"),
        ("TCA_FLOWER_ACT", "tca_act_prio"), ("TCA_FLOWER_KEY_ETH_DST", "l2addr"),
        ("TCA_FLOWER_KEY_ETH_DST_MASK", "l2addr"), ("TCA_FLOWER_KEY_ETH_SRC", "l2addr"),
        ("TCA_FLOWER_KEY_ETH_SRC_MASK", "l2addr"), ("TCA_FLOWER_KEY_ETH_TYPE", "be16"),
        ("TCA_FLOWER_KEY_IP_PROTO", "uint8"), ("TCA_FLOWER_KEY_IPV4_SRC", "ip4addr"),
        ("TCA_FLOWER_KEY_IPV4_SRC_MASK", "ip4addr"), ("TCA_FLOWER_KEY_IPV4_DST", "ip4addr"),
        ("TCA_FLOWER_KEY_IPV4_DST_MASK", "ip4addr"), ("TCA_FLOWER_KEY_IPV6_SRC", "hex"),
        ("TCA_FLOWER_KEY_IPV6_SRC_MASK", "hex"), ("TCA_FLOWER_KEY_IPV6_DST", "hex"),
        ("TCA_FLOWER_KEY_IPV6_DST_MASK", "hex"), ("TCA_FLOWER_KEY_TCP_SRC", "be16"),
        ("TCA_FLOWER_KEY_TCP_DST", "be16"), ("TCA_FLOWER_KEY_UDP_SRC", "be16"), ("TCA_FLOWER_KEY_UDP_DST", "be16"),
    )
    tca_act_prio = cls_u32.options.tca_act_prio


class _TbfOptions(sched_tbf.options):
    """tbf options with the attributes pyroute2 0.9.7 lacks: tc sends TCA_TBF_BURST (and PBURST), and the
    kernel then computes the buffer itself (so `burst 1540` at 220kbit reads back as tc's 1539b)."""
    nla_map = sched_tbf.options.nla_map + (("TCA_TBF_RATE64", "uint64"), ("TCA_TBF_PRATE64", "uint64"),
                                           ("TCA_TBF_BURST", "uint32"), ("TCA_TBF_PBURST", "uint32"),
                                           ("TCA_TBF_PAD", "hex"))


_OPTIONS = {"u32": _U32Options, "bfifo": sched_pfifo.options, "flower": _FlowerOptions, "tbf": _TbfOptions}


class _TcMsg(tcmsg):
    """tcmsg whose TCA_OPTIONS class is ours for u32/bfifo/flower and pyroute2's plugin otherwise."""
    _nlmsg_base__compiled_nla = False

    @staticmethod
    def get_options(self, *argv, **kwarg):
        kind = self.get_attr("TCA_KIND")
        if kind in _OPTIONS:
            return _OPTIONS[kind]
        return self.get_plugin("options", *argv, **kwarg)


def _request(ipr, msg_type: int, flags: int, *, index: int, handle: int = 0, parent: int = 0, info: int = 0,
             kind: str | None = None, options: dict | None = None) -> str:
    """Send one tc request on `ipr` (its namespace's socket, NETLINK_EXT_ACK on) and wait for the ack.
    Raises NetlinkError on failure; returns the kernel's warning as tc prints it ("" if none)."""
    m = _TcMsg()
    m["family"] = 0
    m["index"], m["handle"], m["parent"], m["info"] = index, handle, parent, info
    attrs: list = []
    if kind:
        attrs.append(["TCA_KIND", kind])
    if options is not None:
        attrs.append(["TCA_OPTIONS", options])
    m["attrs"] = attrs
    ipr.status.setdefault("nlm_generator", False)   # pyroute2 0.9.7's sync nlm_request expects it
    return _warning(ipr.nlm_request(m, msg_type=msg_type, msg_flags=flags))


def _warning(replies) -> str:
    """tc's line for the warning the kernel may put in a successful ack (NLMSG_ERROR, error 0, with
    NLMSGERR_ATTR_MSG), e.g. htb's "quantum of class 10001 is big": "Warning: TEXT", plus the "." iproute2's
    nl_dump_ext_ack adds when TEXT lacks one. pyroute2 hands the ack back but decodes its TLVs at the
    wrong offset (it skips the whole original request, of which a success echoes only the header), so
    they are read from the message's raw bytes."""
    for r in replies:
        hdr = r.get("header") or {}
        data = getattr(r, "data", None)
        if hdr.get("type") != NLMSG_ERROR or r.get("error") or data is None:
            continue
        text = extack(bytes(data[r.offset: r.offset + hdr["length"]]), hdr.get("flags", 0))
        if text:
            return f"Warning: {text}" + ("" if text.endswith(".") else ".")
    return ""


# ---- units and printing like tc -----------------------------------------------------------------
TICKS_PER_US = tccommon.tick_in_usec


def xmittime(rate: float, size: float) -> int:
    """Ticks needed to send `size` bytes at `rate` bytes/s: tc_calc_xmittime, with its truncations (the
    time in whole microseconds, then whole ticks: tc_core_time2tick takes and returns unsigned int)."""
    return int(int(1e6 * (size / rate)) * TICKS_PER_US)


def xmitsize(rate: int, ticks: int) -> int:
    """Bytes sent in `ticks` at `rate` bytes/s: tc_calc_xmitsize (tc_core_tick2time truncates to whole
    microseconds first; tc prints `burst 1375b` for 1gbit where exact arithmetic gives 1496)."""
    return int(rate * int(ticks / TICKS_PER_US) / 1e6)


def fmt_size(sz: int) -> str:
    """tc's sprint_size: 32Kb, 1Mb, 1600b."""
    if sz >= 1024 * 1024 and abs(1024 * 1024 * round(sz / (1024 * 1024)) - sz) < 1024:
        return f"{round(sz / (1024 * 1024)):g}Mb"
    if sz >= 1024 and abs(1024 * round(sz / 1024) - sz) < 16:
        return f"{round(sz / 1024):g}Kb"
    return f"{sz}b"


def _pct(u32: int) -> str:
    return f"{u32 * 100 / (2**32 - 1):g}%"


# ---- errors -------------------------------------------------------------------------------------
def _missing(what: str, kind: str, module: str, kernel_msg: str) -> LabError:
    option = module.upper().replace("SCH_", "NET_SCH_").replace("CLS_", "NET_CLS_").replace("ACT_", "NET_ACT_")
    return LabError(f"{kernel_msg} (this kernel has no {kind} support: {module} is not built)",
                    f"Needs a kernel with CONFIG_{option} (on a machine that has the module: modprobe {module}, "
                    f"as root outside the lab). {what} that work on this kernel: {WORKS_HERE[what]}.")


def _nl(e: NetlinkError, what: str, hint: str | None = None) -> LabError:
    said = kernel_says(e)
    if said:   # the kernel's own words, as iproute2 prints them
        return LabError(said, hint)
    text = {17: "File exists", 2: "No such file or directory", 22: "Invalid argument", 16: "Device or resource busy",
            95: "Operation not supported", 1: "Operation not permitted", 34: "Numerical result out of range"}
    return LabError(f"RTNETLINK answers: {text.get(e.code, os.strerror(e.code) if e.code else str(e))}"
                    + (f" ({what})" if what else ""), hint)


# ---- reading ------------------------------------------------------------------------------------
def _qdisc_msgs(b, ns, index: int | None = None) -> list:
    ipr = b.ipr(ns)
    msgs = list(ipr.get_qdiscs(index=index) if index is not None else ipr.get_qdiscs())
    return [m for m in msgs if index is None or m["index"] == index]


def _class_msgs(b, ns, index: int) -> list:
    return [m for m in b.ipr(ns).get_classes(index=index) if m["index"] == index]


def _filter_msgs(b, ns, index: int, parent: int) -> list:
    return [m for m in b.ipr(ns).get_filters(index=index, parent=parent) if m["index"] == index]


def _kind(m) -> str:
    return m.get_attr("TCA_KIND") or "?"


def _stats(m) -> dict:
    out = {"bytes": 0, "packets": 0, "drops": 0, "overlimits": 0, "requeues": 0, "backlog": 0, "qlen": 0}
    s2 = m.get_attr("TCA_STATS2")
    if s2 is not None:
        basic = s2.get_attr("TCA_STATS_BASIC") or {}
        queue = s2.get_attr("TCA_STATS_QUEUE") or {}
        out.update(bytes=basic.get("bytes", 0), packets=basic.get("packets", 0), drops=queue.get("drops", 0),
                   overlimits=queue.get("overlimits", 0), requeues=queue.get("requeues", 0),
                   backlog=queue.get("backlog", 0), qlen=queue.get("qlen", 0))
        return out
    s = m.get_attr("TCA_STATS")
    if s is not None:
        out.update(bytes=s["bytes"], packets=s["packets"], drops=s["drop"], overlimits=s["overlimits"],
                   backlog=s["backlog"], qlen=s["qlen"])
    return out


def _stats_lines(st: dict) -> list[str]:
    return [f" Sent {st['bytes']} bytes {st['packets']} pkt (dropped {st['drops']}, overlimits {st['overlimits']} "
            f"requeues {st['requeues']}) ",
            f" backlog {fmt_size(st['backlog'])} {st['qlen']}p requeues {st['requeues']}"]


# ---- netem, fq_codel, sfq, prio: iproute2 6.1's print_opt / print_xstats, from the raw TCA_OPTIONS bytes
# (pyroute2's decoders miss netem's ecn/slot/loss models, fq_codel's selector and prio's nested tail)
U32_MAX = 0xFFFFFFFF


def _raw(a) -> bytes:
    """The payload bytes of a decoded pyroute2 attribute (or of the hex text pyroute2 gives for unknown kinds)."""
    if a is None:
        return b""
    if isinstance(a, str):
        return bytes.fromhex(a.replace(":", ""))
    if isinstance(a, (bytes, bytearray)):
        return bytes(a)
    return bytes(a.data[a.offset + 4: a.offset + a.length])


def _rtas(raw: bytes) -> dict[int, bytes]:
    """iproute2's parse_rtattr: type -> payload (the first of a type wins)."""
    out: dict[int, bytes] = {}
    off = 0
    while off + 4 <= len(raw):
        ln, typ = struct.unpack_from("=HH", raw, off)
        if ln < 4 or off + ln > len(raw):
            break
        out.setdefault(typ, raw[off + 4: off + ln])
        off += (ln + 3) & ~3
    return out


def _u32s(raw: bytes, n: int, fmt: str | None = None) -> tuple:
    """The first n fields of a struct (tc memcpy's what the kernel gave into a zeroed struct)."""
    fmt = fmt or "=" + "I" * n
    size = struct.calcsize(fmt)
    return struct.unpack(fmt, raw[:size].ljust(size, b"\0"))


def _jfloat(x: float) -> str:
    """A JSON number as iproute2's jsonw_float writes it (%g), marked for _dumps."""
    return f"\0g{x:g}"


def _dumps(objs, pretty: bool) -> str:
    out = json.dumps(objs, indent=4) if pretty else json.dumps(objs, separators=(",", ":"))
    return re.sub(r'"\\u0000g([^"]*)"', r"\1", out)


def sprint_time(us: int) -> str:
    """iproute2's sprint_time (print_time): %.3g of seconds or milliseconds, else whole microseconds."""
    if us >= 1_000_000:
        return f"{us / 1_000_000:.3g}s"
    if us >= 1000:
        return f"{us / 1000:.3g}ms"
    return f"{us}us"


def sprint_time64(ns: int) -> str:
    if ns >= 1_000_000_000:
        return f"{ns / 1e9:.3g}s"
    if ns >= 1_000_000:
        return f"{ns / 1e6:.3g}ms"
    if ns >= 1000:
        return f"{ns / 1e3:.3g}us"
    return f"{ns}ns"


def sprint_rate(bytes_per_s: int) -> str:
    """iproute2's print_rate (SI units, integer division as in C)."""
    rate = int(bytes_per_s) * 8
    units = ["", "K", "M", "G", "T"]
    i = 0
    while i < len(units) - 1:
        if rate < 1000 or (rate % 1000 and rate < 1000 * 1000):
            break
        rate //= 1000
        i += 1
    return f"{rate}{units[i]}bit"


def _tick2time(ticks: int) -> int:
    return int(ticks / TICKS_PER_US)


def _netem_opt(raw: bytes) -> tuple[str, dict]:
    if len(raw) < 24:
        return "", {}
    latency, limit, loss, gap, duplicate, jitter = struct.unpack_from("=6I", raw)
    tb = _rtas(raw[24:])
    cor = _u32s(tb[1], 3) if len(tb.get(1, b"")) >= 12 else None
    reorder = _u32s(tb[3], 2) if len(tb.get(3, b"")) >= 8 else None
    corrupt = _u32s(tb[4], 2) if len(tb.get(4, b"")) >= 8 else None
    lb = _rtas(tb[5]) if 5 in tb else {}
    gimodel = _u32s(lb[1], 5) if 1 in lb else None
    gemodel = _u32s(lb[2], 4) if 2 in lb else None
    rate = _u32s(tb[6], 4, "=IiIi") if len(tb.get(6, b"")) >= 16 else None
    ecn = 7 in tb and len(tb[7]) >= 4
    rate64 = struct.unpack("=Q", tb[8][:8])[0] if len(tb.get(8, b"")) >= 8 else 0
    slot = struct.unpack("=qqiiqq", tb[12][:40]) if len(tb.get(12, b"")) >= 40 else None
    t: list[str] = [f"limit {limit}"]
    d: dict = {"limit": limit}

    def pct(label_fp: str, key: str, per: int, o: dict) -> None:
        t.append(f"{label_fp} {100. * per / U32_MAX:g}%")
        o[key] = _jfloat(1. * per / U32_MAX)

    def corr(present: bool, value: int, o: dict) -> None:
        if present:
            t.append(f" {100. * value / U32_MAX:g}%")
        o["correlation"] = _jfloat(1. * value / U32_MAX)

    if latency:
        o: dict = {}
        t.append(f" delay {sprint_time(_tick2time(latency))}")
        if jitter:
            t.append(f"  {sprint_time(_tick2time(jitter))}")
        o["delay"] = _jfloat(_tick2time(latency) / 1e6)
        o["jitter"] = _jfloat(_tick2time(jitter) / 1e6)
        corr(bool(jitter and cor and cor[0]), cor[0] if cor else 0, o)
        d["delay"] = o
    if loss:
        o = {}
        pct(" loss", "loss", loss, o)
        corr(bool(cor and cor[1]), cor[1] if cor else 0, o)
        d["loss-random"] = o
    if gimodel:
        p13, p31, p32, p14, p23 = gimodel
        o = {}
        pct(" loss state p13", "p13", p13, o)
        pct(" p31", "p31", p31, o)
        pct(" p32", "p32", p32, o)
        pct(" p23", "p23", p23, o)
        pct(" p14", "p14", p14, o)
        d["loss-state"] = o
    if gemodel:
        p, r, h, k1 = gemodel
        o = {}
        pct(" loss gemodel p", "p", p, o)
        pct(" r", "r", r, o)
        pct(" 1-h", "1-h", U32_MAX - h, o)
        pct(" 1-k", "1-k", k1, o)
        d["loss-gemodel"] = o
    if duplicate:
        o = {}
        pct(" duplicate", "duplicate", duplicate, o)
        corr(bool(cor and cor[2]), cor[2] if cor else 0, o)
        d["duplicate"] = o
    if reorder and reorder[0]:
        o = {}
        pct(" reorder", "reorder", reorder[0], o)
        corr(bool(reorder[1]), reorder[1], o)
        d["reorder"] = o
    if corrupt and corrupt[0]:
        o = {}
        pct(" corrupt", "corrupt", corrupt[0], o)
        corr(bool(corrupt[1]), corrupt[1], o)
        d["corrupt"] = o
    if rate and rate[0]:
        r64 = rate64 or rate[0]
        o = {"rate": r64}
        t.append(f" rate {sprint_rate(r64)}")
        o["packetoverhead"] = rate[1]
        if rate[1]:
            t.append(f" packetoverhead {rate[1]}")
        o["cellsize"] = rate[2]
        if rate[2]:
            t.append(f" cellsize {rate[2]}")
        o["celloverhead"] = rate[3]
        if rate[3]:
            t.append(f" celloverhead {rate[3]}")
        d["rate"] = o
    if slot:
        min_delay, max_delay, max_packets, max_bytes, dist_delay, dist_jitter = slot
        o = {}
        if dist_jitter > 0:
            t.append(f" slot distribution {sprint_time64(dist_delay)} {sprint_time64(dist_jitter)}")
            o["distribution"], o["jitter"] = _jfloat(dist_delay / 1e9), _jfloat(dist_jitter / 1e9)
        else:
            t.append(f" slot {sprint_time64(min_delay)} {sprint_time64(max_delay)}")
            o["min-delay"], o["max-delay"] = _jfloat(min_delay / 1e9), _jfloat(max_delay / 1e9)
        for key, v in (("packets", max_packets), ("bytes", max_bytes)):
            o[key] = v
            if v:
                t.append(f" {key} {v}")
        d["slot"] = o
    d["ecn"] = ecn
    if ecn:
        t.append(" ecn ")
    d["gap"] = gap
    if gap:
        t.append(f" gap {gap}")
    return "".join(t), d


def _hx(v: int) -> str:
    return f"{v:#x}" if v else "0"     # C's %#x prints 0 without 0x


def _fq_codel_opt(raw: bytes) -> tuple[str, dict]:
    tb = _rtas(raw)
    u32 = lambda k: struct.unpack_from("=I", tb[k])[0] if len(tb.get(k, b"")) >= 4 else None  # noqa: E731
    t: list[str] = []
    d: dict = {}
    for k, key, f in ((2, "limit", "limit {}p "), (5, "flows", "flows {} "), (6, "quantum", "quantum {} ")):
        v = u32(k)
        if v is not None:
            t.append(f.format(v))
            d[key] = v
    for k, key in ((1, "target"), (7, "ce_threshold")):
        v = u32(k)
        if v is not None:
            d[key] = v
            t.append(f"{key} {sprint_time(v)} ")
    selector = tb[10][0] if len(tb.get(10, b"")) >= 1 else 0
    mask = tb[11][0] if len(tb.get(11, b"")) >= 1 else 0
    if mask or selector:
        t.append(f"ce_threshold_selector {_hx(selector)}/{_hx(mask)} ")
        d["ce_threshold_selector"], d["ce_threshold_mask"] = selector, mask
    v = u32(3)
    if v is not None:
        d["interval"] = v
        t.append(f"interval {sprint_time(v)} ")
    v = u32(9)
    if v is not None:
        d["memory_limit"] = v
        t.append(f"memory_limit {fmt_size(v)} ")
    v = u32(4)
    if v:
        d["ecn"] = True
        t.append("ecn ")
    v = u32(8)
    if v:
        d["drop_batch"] = v
        t.append(f"drop_batch {v} ")
    return "".join(t), d


def _sfq_opt(raw: bytes, details: bool, stats: bool) -> tuple[str, dict]:
    if len(raw) < 20:
        return "", {}
    quantum, perturb, limit, divisor, flows = struct.unpack_from("=IiIII", raw)
    ext = struct.unpack_from("=IIIIIBBBBI6I", raw, 20) if len(raw) >= 72 else None
    t = [f"limit {limit}p ", f"quantum {fmt_size(quantum)} "]
    d: dict = {"limit": limit, "quantum": quantum}
    if ext and ext[0]:
        t.append(f"depth {ext[0]} ")
        d["depth"] = ext[0]
    if ext and ext[1]:
        t.append("headdrop ")
        d["headdrop"] = True
    if details:
        t.append(f"flows {flows} ")
        d["flows"] = flows
    t.append(f"divisor {divisor} ")
    d["divisor"] = divisor
    if perturb:
        t.append(f"perturb {perturb}sec ")
        d["perturb"] = perturb
    if ext and ext[3]:
        _depth, _headdrop, _limit, qth_min, qth_max, wlog, _plog, _scell, flags, max_p = ext[:10]
        prob_drop, forced_drop, prob_mark, forced_mark, prob_mark_head, forced_mark_head = ext[10:]
        t += [f"ewma {wlog} ", f"min {fmt_size(qth_min)} ", f"max {fmt_size(qth_max)} ",
              f"probability {max_p / 2**32:g} "]
        d.update(ewma=wlog, min=qth_min, max=qth_max, probability=_jfloat(max_p / 2**32))
        for bit, name in ((1, "ecn"), (2, "harddrop"), (4, "adaptive"), (8, "nodrop")):
            d[name] = bool(flags & bit)
            if flags & bit:
                t.append(f"{name} ")
        if stats:
            t.append(f"\n  prob_mark {prob_mark} prob_mark_head {prob_mark_head} prob_drop {prob_drop}"
                     f"\n  forced_mark {forced_mark} forced_mark_head {forced_mark_head} forced_drop {forced_drop}")
            d.update(prob_mark=prob_mark, prob_mark_head=prob_mark_head, prob_drop=prob_drop,
                     forced_mark=forced_mark, forced_mark_head=forced_mark_head, forced_drop=forced_drop)
    return "".join(t), d


def _prio_opt(raw: bytes) -> tuple[str, dict]:
    """prio_print_opt (tc prints pfifo_fast with it too)."""
    if len(raw) < 20:
        return "", {}
    bands = struct.unpack_from("=i", raw)[0] & U32_MAX
    priomap = list(raw[4:20])
    tb: dict[int, bytes] = {}
    if len(raw) >= 20 + 4:     # parse_rtattr_nested_compat: a nest after the (aligned) struct
        ln = struct.unpack_from("=H", raw, 20)[0]
        tb = _rtas(raw[24: 20 + ln])
    text = f"bands {bands} priomap" + "".join(f" {p}" for p in priomap)
    mq = bool(tb.get(1, b"")[:1].strip(b"\0"))
    if 1 in tb:
        text += f" multiqueue: {'on' if mq else 'off'} "
    d = {"bands": bands, "priomap": priomap, "multiqueue": 1 in tb and mq}
    return text, d


def _xstats(kind: str, raw: bytes | None) -> tuple[list[str], dict]:
    """print_xstats of fq_codel and sfq: (lines, tc -s -j keys)."""
    if raw is None:
        return [], {}
    if kind == "fq_codel":
        typ = struct.unpack_from("=I", raw.ljust(4, b"\0"))[0]
        if typ == 0:
            (maxpacket, drop_overlimit, ecn_mark, new_flow_count, new_flows_len, old_flows_len, ce_mark,
             memory_usage, drop_overmemory) = _u32s(raw[4:], 9)
            d: dict = {"maxpacket": maxpacket, "drop_overlimit": drop_overlimit, "new_flow_count": new_flow_count,
                       "ecn_mark": ecn_mark}
            line = (f"  maxpacket {maxpacket} drop_overlimit {drop_overlimit} new_flow_count {new_flow_count} "
                    f"ecn_mark {ecn_mark}")
            for key, v in (("ce_mark", ce_mark), ("memory_used", memory_usage), ("drop_overmemory", drop_overmemory)):
                if v:
                    line += f" {key} {v}"
                    d[key] = v
            d.update(new_flows_len=new_flows_len, old_flows_len=old_flows_len)
            return [line, f"  new_flows_len {new_flows_len} old_flows_len {old_flows_len}"], d
        if typ == 1:
            deficit, ldelay, count, lastcount, dropping, drop_next = _u32s(raw[4:], 6, "=iIIIIi")
            d = {"deficit": deficit, "count": count, "lastcount": lastcount, "ldelay": ldelay}
            line = f"  deficit {deficit} count {count} lastcount {lastcount} ldelay {sprint_time(ldelay)}"
            if dropping:
                d["dropping"] = True
                d["drop_next"] = drop_next
                line += " dropping" + (f" drop_next -{sprint_time(-drop_next)}" if drop_next < 0 else
                                       f" drop_next {sprint_time(drop_next)}")
            return [line], d
        return [""], {}
    if kind == "sfq":
        if len(raw) < 4:
            return [], {}
        allot = struct.unpack_from("=i", raw)[0]
        return [f"  allot {allot}"], {"allot": allot}
    return [], {}


def _app_stats(m) -> bytes | None:
    """The TCA_STATS_APP bytes of a message (tc's xstats), else its old TCA_XSTATS."""
    s2 = m.get_attr("TCA_STATS2")
    if s2 is not None:
        app = _rtas(_raw(s2)).get(4)
        if app is not None:
            return app
    x = m.get_attr("TCA_XSTATS")
    return _raw(x) if x is not None else None


def qdisc_options(m, details: bool = False, stats: bool = False) -> tuple[str, dict]:
    """(tc's option text, tc -j "options") for one qdisc message (`details`, `stats`: tc's -d, -s)."""
    kind = _kind(m)
    opts = m.get_attr("TCA_OPTIONS")
    if kind in ("ingress", "clsact"):   # tc's q_ingress prints a dash line; q_clsact has no print_opt
        return ("---------------- " if kind == "ingress" else ""), {}
    if opts is None:
        return "", {}
    ga = getattr(opts, "get_attr", lambda *_: None)
    if kind == "tbf":
        p = ga("TCA_TBF_PARMS")
        if not p:
            return "", {}
        rate, peak = p["rate"], p["peak"]
        burst = xmitsize(rate, p["buffer"])
        text = f"rate {sprint_rate(rate)} burst {fmt_size(burst)} "
        d: dict = {"rate": rate, "burst": burst}
        latency = 1e6 * p["limit"] / rate - p["buffer"] / TICKS_PER_US if rate else -1
        if peak:
            minburst = xmitsize(peak, p["mtu"])
            text += f"peakrate {sprint_rate(peak)} minburst {fmt_size(minburst)} "
            d.update(peakrate=peak, minburst=minburst)
            latency = max(latency, 1e6 * p["limit"] / peak - p["mtu"] / TICKS_PER_US)
        if latency >= 0:
            text += f"lat {sprint_time(int(latency))} "     # tc passes it as a __u32
            d["lat"] = int(round(latency))
        else:
            text += f"limit {fmt_size(p['limit'])} "
            d["limit"] = p["limit"]
        return text, d
    if kind == "htb":
        g = ga("TCA_HTB_INIT") or {}
        dq = ga("TCA_HTB_DIRECT_QLEN")
        default = f"{g.get('defcls', 0):#x}" if g.get("defcls") else "0"
        text = f"r2q {g.get('rate2quantum', 10)} default {default} direct_packets_stat {g.get('direct_pkts', 0)}"
        d = {"r2q": g.get("rate2quantum", 10), "default": default, "direct_packets_stat": g.get("direct_pkts", 0)}
        if dq is not None:
            text += f" direct_qlen {dq}"
            d["direct_qlen"] = dq
        return text, d
    if kind in ("pfifo", "bfifo"):
        if isinstance(opts, str):     # bfifo has no pyroute2 plugin: its options arrive as hex text
            raw = bytes.fromhex(opts.replace(":", ""))
            limit = struct.unpack_from("=I", raw)[0] if len(raw) >= 4 else 0
        else:
            limit = opts.get("limit", 0)
        return (f"limit {limit}p" if kind == "pfifo" else f"limit {fmt_size(limit)}"), {"limit": limit}
    if kind == "netem":
        return _netem_opt(_raw(opts))
    if kind == "fq_codel":
        return _fq_codel_opt(_raw(opts))
    if kind == "sfq":
        return _sfq_opt(_raw(opts), details, stats)
    if kind in ("prio", "pfifo_fast"):
        return _prio_opt(_raw(opts))
    return "", {}


def _qdisc_header(m, names: dict[int, str], show_dev: bool) -> tuple[str, dict]:
    handle = f"{m['handle'] >> 16:x}:"
    d: dict = {"kind": _kind(m), "handle": handle}
    s = f"qdisc {_kind(m)} {handle}"
    if show_dev:
        dev = names.get(m["index"], f"if{m['index']}")
        s += f" dev {dev}"
        d["dev"] = dev
    if m["parent"] == TC_H_ROOT:
        s += " root"
        d["root"] = True
    elif m["parent"]:
        s += f" parent {handle_str(m['parent'])}"
        d["parent"] = handle_str(m["parent"])
    if m["info"] != 1:
        s += f" refcnt {m['info']}"
        d["refcnt"] = m["info"]
    return s, d


def _names(b, ns) -> dict[int, str]:
    return {m["index"]: m.get_attr("IFLA_IFNAME") for m in b.ipr(ns).get_links()}


def qdiscs(b, ns: str | None) -> list[Qdisc]:
    """Every qdisc of `ns` as model objects, with statistics (for panes, snapshots and export)."""
    names = _names(b, ns)
    out = []
    for m in _qdisc_msgs(b, ns):
        text, _ = qdisc_options(m)
        st = _stats(m)
        parent = "root" if m["parent"] == TC_H_ROOT else handle_str(m["parent"])
        out.append(Qdisc(ns=ns or "", dev=names.get(m["index"], f"if{m['index']}"), kind=_kind(m),
                         handle=f"{m['handle'] >> 16:x}:", parent=parent, params=text.strip(),
                         sent_bytes=st["bytes"], sent_packets=st["packets"], drops=st["drops"],
                         overlimits=st["overlimits"], requeues=st["requeues"], backlog=st["backlog"], qlen=st["qlen"]))
    return out


state.EXTRAS["qdiscs"] = lambda b, ns: {"qdiscs": tuple(qdiscs(b, ns))}


# ---- qdisc --------------------------------------------------------------------------------------
@applies(c.TcHelp)
def tc_help(b, op: c.TcHelp) -> str:
    return op.text


@applies(c.QdiscShow)
def qdisc_show(b, op: c.QdiscShow) -> str:
    b.require_ns(op.ns)
    index = b.link_index(op.ns, op.dev, "tc") if op.dev else None
    names = _names(b, op.ns)
    lines: list[str] = []
    objs: list[dict] = []
    for m in _qdisc_msgs(b, op.ns, index):
        if op.only == "root" and m["parent"] != TC_H_ROOT:
            continue
        if op.only == "ingress" and m["parent"] != TC_H_INGRESS:
            continue
        if op.handle is not None and m["handle"] != op.handle:
            continue
        head, d = _qdisc_header(m, names, op.dev is None)
        text, od = qdisc_options(m, op.opts.details, op.opts.stats)
        d["options"] = od
        lines.append(f"{head} {text}")
        if op.opts.stats:
            st = _stats(m)
            lines += _stats_lines(st)
            d.update(st)
            xl, xd = _xstats(_kind(m), _app_stats(m))
            lines += xl
            d.update(xd)
        objs.append(d)
    if op.opts.json:
        return _dumps(objs, op.opts.pretty)
    return "\n".join(lines)


def _ifindex(b, ns, dev: str) -> int:
    b.require_ns(ns)
    return b.link_index(ns, dev, "tc")


def _check_parent(b, ns, index: int, parent: int, dev: str, for_what: str) -> None:
    """The qdisc (X:) or class (X:Y) named as parent exists on dev."""
    if parent in (TC_H_ROOT, TC_H_INGRESS, 0):
        return
    if parent & 0xFFFF == 0:
        if not any(m["handle"] == parent for m in _qdisc_msgs(b, ns, index)):
            raise LabError(f"Error: Parent Qdisc doesn't exists. (no qdisc {handle_str(parent)} on {dev})",
                           f"Add it first (e.g. tc qdisc add dev {dev} root handle {handle_str(parent)} htb), "
                           f"then the {for_what}; tc qdisc show dev {dev} lists what is there.")
        return
    if not any(m["handle"] == parent for m in _class_msgs(b, ns, index)):
        raise LabError(f"Error: Specified class not found. (no class {handle_str(parent)} on {dev})",
                       f"Add it first: tc class add dev {dev} parent {parent >> 16:x}: classid {handle_str(parent)} "
                       f"htb rate 1mbit; tc class show dev {dev} lists the classes.")


def _qdisc_opts(op: c.QdiscChange) -> dict | None:
    kind, p = op.kind, dict(op.params)
    if kind == "tbf":
        rate, burst = p["rate"], p["burst"]
        if rate >= 2**32:
            raise LabError("Error: tbf rates of 34gbit and more are not supported by lab.")
        peak, mtu = p.get("peakrate", 0), p.get("mtu", 0)
        limit = p.get("limit")
        if limit is None:
            limit = rate * p["latency"] / 1e6 + burst
            if peak:
                limit = min(limit, peak * p["latency"] / 1e6 + mtu)
        parms = {"rate": rate, "buffer": xmittime(rate, burst), "limit": int(limit), "peak": peak,
                 "mtu": xmittime(peak, mtu) if peak else 0, "rate_mpu": p.get("mpu", 0)}
        attrs = [["TCA_TBF_PARMS", parms], ["TCA_TBF_RTAB", True], ["TCA_TBF_BURST", int(burst)]]
        if peak:
            attrs.append(["TCA_TBF_PBURST", int(mtu)])
        return {"attrs": attrs}
    if kind == "htb":
        o = sched_htb.get_parameters({"default": p.get("default", 0), "r2q": p.get("r2q", 10)})
        if "direct_qlen" in p:
            o["attrs"].append(["TCA_HTB_DIRECT_QLEN", p["direct_qlen"]])
        return o
    if kind in ("pfifo", "bfifo"):
        return {"limit": p["limit"]} if "limit" in p else None
    if kind == "netem":
        return _netem_params(p)
    if kind == "fq_codel":
        names = {"limit": "LIMIT", "flows": "FLOWS", "quantum": "QUANTUM", "target": "TARGET",
                 "interval": "INTERVAL", "ce_threshold": "CE_THRESHOLD", "ecn": "ECN"}
        return {"attrs": [[f"TCA_FQ_CODEL_{names[k]}", int(v)] for k, v in p.items() if k in names]}
    if kind == "sfq":
        return sched_sfq.get_parameters({k: v for k, v in p.items()})
    if kind == "prio":
        return {"bands": p.get("bands", 3), "priomap": [1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]}
    if kind == "cake":
        return sched_cake.get_parameters({"bandwidth": p["bandwidth"]} if "bandwidth" in p else {})
    return None



def _netem_params(p: dict) -> dict:
    """netem_parse_opt's request: struct tc_netem_qopt, then TCA_NETEM_CORR (only when a delay, loss, reorder
    or corrupt correlation was given: tc forgets a lone duplicate correlation), TCA_NETEM_REORDER and
    TCA_NETEM_CORRUPT (when given) and TCA_NETEM_RATE. Percentages as set_percent (rint(pct * UINT32_MAX)),
    times as get_ticks (whole microseconds, then whole ticks)."""
    def pct(key: str) -> int:
        return int(round(float(p.get(key, 0)) / 100. * U32_MAX))

    def ticks(key: str) -> int:
        return int(int(p.get(key, 0)) * TICKS_PER_US) & U32_MAX

    gap = int(p.get("gap", 0))
    if pct("reorder"):
        if not p.get("delay"):
            raise LabError("netem: reordering not possible without specifying some delay",
                           "Example: tc qdisc add dev veth0 root netem delay 10ms reorder 25% 50%")
        gap = gap or 1
    elif gap:
        raise LabError("netem: gap specified without reorder probability",
                       "Example: tc qdisc add dev veth0 root netem delay 10ms reorder 25% gap 5")
    opts: dict = {"delay": ticks("delay"), "limit": int(p.get("limit", 1000)), "loss": pct("loss"), "gap": gap,
                  "duplicate": pct("duplicate"), "jitter": ticks("jitter"), "attrs": []}
    if any(k in p for k in ("delay_corr", "loss_corr", "reorder_corr", "corrupt_corr")):
        opts["attrs"].append(["TCA_NETEM_CORR", {"delay_corr": pct("delay_corr"), "loss_corr": pct("loss_corr"),
                                                 "dup_corr": pct("duplicate_corr")}])
    if "reorder" in p:
        opts["attrs"].append(["TCA_NETEM_REORDER", {"prob_reorder": pct("reorder"),
                                                    "corr_reorder": pct("reorder_corr")}])
    if "corrupt" in p:
        opts["attrs"].append(["TCA_NETEM_CORRUPT", {"prob_corrupt": pct("corrupt"),
                                                    "corr_corrupt": pct("corrupt_corr")}])
    if "rate" in p:
        if p["rate"] >= 2**32:
            raise LabError("Error: netem rates of 34gbit and more are not supported by lab.")
        opts["attrs"].append(["TCA_NETEM_RATE", {"rate": int(p["rate"]), "packet_overhead": 0, "cell_size": 0,
                                                 "cell_overhead": 0}])
    return opts

def _find_qdisc(b, ns, index: int, parent: int, handle: int | None):
    for m in _qdisc_msgs(b, ns, index):
        if handle:
            if m["handle"] == handle:
                return m
        elif m["parent"] == parent:
            return m
    return None


@applies(c.QdiscChange)
def qdisc_change(b, op: c.QdiscChange) -> str:
    index = _ifindex(b, op.ns, op.dev)
    ipr = b.ipr(op.ns)
    existing = _find_qdisc(b, op.ns, index, op.parent, op.handle)
    here = f"on {op.dev}" + (f' in "{op.ns}"' if op.ns else "")
    if op.verb == "delete":
        if existing is None or existing["handle"] == 0:
            what = "ingress qdisc" if op.parent == TC_H_INGRESS else f"qdisc at {handle_str(op.parent or op.handle or 0)}"
            if existing is not None:
                raise LabError("Error: Cannot delete qdisc with handle of zero.",
                               f"{op.dev} has only its default qdisc ({_kind(existing)}); there is nothing to delete.")
            raise LabError(f"Error: Cannot find specified qdisc on specified device. (no {what} {here})",
                           f"tc qdisc show dev {op.dev} lists what is there.")
        if op.kind and op.kind != _kind(existing):
            raise LabError(f"Error: Invalid qdisc name. (the qdisc there is {_kind(existing)}, not {op.kind})",
                           f"Leave the kind out: tc qdisc del dev {op.dev} {handle_str(op.parent)}")
        try:
            warning = _request(ipr, RTM_DELQDISC, FLAGS["delete"], index=index, handle=existing["handle"],
                               parent=existing["parent"])
        except NetlinkError as e:
            raise _nl(e, "deleting the qdisc") from None
        b.retire(op.ns, "qdisc", lambda e: e.get("ifindex") == index and e.get("parent") == (
            "ingress" if op.parent == TC_H_INGRESS else handle_str(op.parent)))
        return warning
    _check_parent(b, op.ns, index, op.parent, op.dev, "qdisc")
    if op.verb == "change" and (existing is None or existing["handle"] == 0):
        raise LabError("Error: Qdisc not found. To create specify NLM_F_CREATE flag.",
                       f"Nothing to change {here}: use tc qdisc add (or replace, which adds or replaces).")
    if op.verb == "change" and existing is not None and _kind(existing) != op.kind:
        raise LabError(f"Error: Invalid qdisc name. (change keeps the kind: the qdisc there is {_kind(existing)})",
                       f"To switch to {op.kind}, use tc qdisc replace dev {op.dev} ...")
    handle = op.handle or 0
    if op.verb == "change" and existing is not None:
        handle = existing["handle"]
    options = _qdisc_opts(op)
    creates = op.verb == "add" or (op.verb == "replace" and (existing is None or existing["handle"] == 0))
    where = handle_str(op.parent) if op.parent != TC_H_INGRESS else "ingress"
    with (b.creating(op.ns, "qdisc", dev=op.dev, parent=where, handle=handle_str(handle) if handle else None,
                     qkind=op.kind, ifindex=index) if creates else contextlib.nullcontext(NOOP)):
        warning = _qdisc_call(ipr, op, index, handle, options, existing)
    return warning


def _qdisc_call(ipr, op, index: int, handle: int, options, existing) -> str:
    try:
        return _request(ipr, RTM_NEWQDISC, FLAGS[op.verb], index=index, handle=handle, parent=op.parent, kind=op.kind,
                 options=options)
    except NetlinkError as e:
        if e.code == 2 and op.kind in QDISC_MODULES:
            raise _missing("Qdiscs", op.kind, QDISC_MODULES[op.kind], "Error: Specified qdisc kind is unknown.") from None
        if e.code == 22 and existing is not None and op.handle and _kind(existing) != op.kind:
            raise LabError(f"Error: Invalid qdisc name. (qdisc {handle_str(op.handle)} is a {_kind(existing)})",
                           "Replace it without a handle, or delete it first.") from None
        if e.code == 17:   # the kernel decides (an add of another kind without a handle grafts over it)
            there = (f"{op.dev} already has a {_kind(existing)} qdisc there ({existing['handle'] >> 16:x}:)"
                     if existing is not None and existing["handle"] else "Something is already there")
            raise LabError(kernel_says(e) or "Error: Exclusivity flag on, cannot modify.",
                           f"{there}; use tc qdisc replace, or delete it first: tc qdisc del dev {op.dev} "
                           f"{'ingress' if op.parent == TC_H_INGRESS else handle_str(op.parent)}") from None
        raise _nl(e, f"{op.verb} {op.kind} qdisc") from None


def undo_qdisc(b, e: dict) -> bool:
    """lab clean (--host): remove a qdisc the lab added, if it is still there (same device and kind);
    True if it removed one."""
    ns = e.get("ns") or None
    idx = b.ipr(ns).link_lookup(ifname=e["dev"])
    if not idx or ("ifindex" in e and idx[0] != e["ifindex"]):
        return False
    parent = TC_H_INGRESS if e.get("parent") == "ingress" else c.parse_handle(e.get("parent") or "root", "parent")
    handle = c.parse_handle(e["handle"], "handle") if e.get("handle") else None
    m = _find_qdisc(b, ns, idx[0], parent, handle)
    if m is not None and m["handle"] != 0 and (not e.get("qkind") or _kind(m) == e["qkind"]):
        try:
            _request(b.ipr(ns), RTM_DELQDISC, FLAGS["delete"], index=idx[0], handle=m["handle"], parent=m["parent"])
            return True
        except NetlinkError:
            pass
    return False


# ---- class --------------------------------------------------------------------------------------
def tc_classes(b, ns: str | None, dev: str) -> list[TcClass]:
    """The classes of `dev` in `ns` as model objects (for checks and export)."""
    out = []
    for m in _class_msgs(b, ns, b.link_index(ns, dev, "tc")):
        parent, leaf, params, _ = _class_fields(m)
        out.append(TcClass(ns=ns or "", dev=dev, kind=_kind(m), classid=handle_str(m["handle"]),
                           parent=parent or "root", leaf=leaf, params=params.strip()))
    return out


def _class_fields(m) -> tuple[str | None, str | None, str, dict]:
    """(parent or None for root, leaf qdisc or None, the options as tc prints them, their JSON)."""
    kind = _kind(m)
    d: dict = {"class": kind, "handle": handle_str(m["handle"])}
    parent = None if m["parent"] == TC_H_ROOT else handle_str(m["parent"])
    if parent is None:
        d["root"] = True
    else:
        d["parent"] = parent
    leaf = f"{m['info'] >> 16:x}:" if m["info"] else None
    if leaf:
        d["leaf"] = leaf
    opts = m.get_attr("TCA_OPTIONS")
    p = opts.get_attr("TCA_HTB_PARMS") if opts is not None and kind == "htb" else None
    s = ""
    if p:
        rate = opts.get_attr("TCA_HTB_RATE64") or p["rate"]
        ceil = opts.get_attr("TCA_HTB_CEIL64") or p["ceil"]
        if p["level"] == 0:
            s += f"prio {p['prio']} "
            d["prio"] = p["prio"]
        burst, cburst = xmitsize(rate, p["buffer"]), xmitsize(ceil, p["cbuffer"])
        s += f"rate {sprint_rate(rate)} ceil {sprint_rate(ceil)} burst {fmt_size(burst)} cburst {fmt_size(cburst)} "
        d.update(rate=rate, ceil=ceil, burst=burst, cburst=cburst)
    return parent, leaf, s, d


def _class_text(m, stats: bool) -> tuple[list[str], dict]:
    kind = _kind(m)
    parent, leaf, params, d = _class_fields(m)
    s = f"class {kind} {handle_str(m['handle'])}" + (f" parent {parent}" if parent else " root")
    if leaf:
        s += f" leaf {leaf}"
    s += " " + params   # tc prints a space after parent/leaf whatever follows (a tbf class: nothing)
    lines = [s]
    if stats:
        st = _stats(m)
        lines += _stats_lines(st)
        d.update(st)
        x = m.get_attr("TCA_XSTATS")
        if x is not None and kind == "htb":
            lines.append(f" lended: {x.get('lends', 0)} borrowed: {x.get('borrows', 0)} giants: {x.get('giants', 0)}")
            lines.append(f" tokens: {x.get('tokens', 0)} ctokens: {x.get('ctokens', 0)}")
        lines.append("")
    return lines, d


@applies(c.ClassShow)
def class_show(b, op: c.ClassShow) -> str:
    index = _ifindex(b, op.ns, op.dev)
    lines: list[str] = []
    objs = []
    for m in _class_msgs(b, op.ns, index):
        if op.parent is not None and m["parent"] != op.parent:
            continue
        if op.classid is not None and m["handle"] != op.classid:
            continue
        ls, d = _class_text(m, op.opts.stats)
        lines += ls
        objs.append(d)
    if op.opts.json:
        return json.dumps(objs, indent=4) if op.opts.pretty else json.dumps(objs, separators=(",", ":"))
    return "\n".join(lines).rstrip("\n") if not op.opts.stats else "\n".join(lines)


@applies(c.ClassChange)
def class_change(b, op: c.ClassChange) -> str:
    assert op.classid is not None    # the parser requires classid (and parent, but for delete)
    index = _ifindex(b, op.ns, op.dev)
    ipr = b.ipr(op.ns)
    classes = {m["handle"]: m for m in _class_msgs(b, op.ns, index)}
    existing = classes.get(op.classid)
    if op.verb == "delete":
        if existing is None:
            raise LabError(f"Error: Specified class not found. (no class {handle_str(op.classid)} on {op.dev})",
                           f"tc class show dev {op.dev} lists the classes.")
        try:
            warning = _request(ipr, RTM_DELTCLASS, FLAGS["delete"], index=index, handle=op.classid,
                               parent=existing["parent"])
        except NetlinkError as e:
            if e.code == 16:
                raise LabError("RTNETLINK answers: Device or resource busy",
                               "The class still has child classes or filters pointing at it; delete those first.") from None
            raise _nl(e, "deleting the class") from None
        return warning
    assert op.parent is not None
    qdisc = next((m for m in _qdisc_msgs(b, op.ns, index) if m["handle"] == (op.classid & 0xFFFF0000)), None)
    if qdisc is None:
        raise LabError(f"Error: Parent Qdisc doesn't exists. (no qdisc {op.classid >> 16:x}: on {op.dev})",
                       f"Add the htb qdisc first: tc qdisc add dev {op.dev} root handle {op.classid >> 16:x}: htb default 10")
    if _kind(qdisc) != op.kind:
        raise LabError(f"Error: qdisc {op.classid >> 16:x}: is {_kind(qdisc)}, not {op.kind}: it has no {op.kind} classes.",
                       f"Replace it: tc qdisc replace dev {op.dev} root handle {op.classid >> 16:x}: htb")
    if op.parent != TC_H_ROOT and op.parent & 0xFFFF and op.parent not in classes:
        raise LabError(f"Error: Specified class not found. (no parent class {handle_str(op.parent)} on {op.dev})",
                       f"Add it first: tc class add dev {op.dev} parent {op.parent >> 16:x}: classid "
                       f"{handle_str(op.parent)} htb rate 10mbit")
    if op.verb == "add" and existing is not None:
        raise LabError("RTNETLINK answers: File exists",
                       f"Class {handle_str(op.classid)} exists; use tc class change (or replace), or pick another classid.")
    if op.verb == "change" and existing is None:
        raise LabError(f"Error: Specified class not found. (no class {handle_str(op.classid)} on {op.dev})",
                       "Use tc class add (or replace).")
    p = dict(op.params)
    kw = {"rate": p["rate"], "ceil": p.get("ceil", 0), "prio": p.get("prio", 0), "quantum": p.get("quantum", 0),
          "mtu": p.get("mtu", 1600), "mpu": p.get("mpu", 0), "overhead": p.get("overhead", 0)}
    if "burst" in p:
        kw["burst"] = p["burst"]
    if "cburst" in p:
        kw["cburst"] = p["cburst"]
    options = sched_htb.get_class_parameters(kw)
    parent = op.parent if op.parent != TC_H_ROOT else op.classid & 0xFFFF0000
    try:
        return _request(ipr, RTM_NEWTCLASS, FLAGS[op.verb], index=index, handle=op.classid, parent=parent,
                        kind=op.kind, options=options)
    except NetlinkError as e:
        raise _nl(e, f"{op.verb} htb class {handle_str(op.classid)}") from None


# ---- filter -------------------------------------------------------------------------------------
def _u32_keys(sel) -> list[tuple[int, int, int, int]]:
    """(value, mask, off, offmask) of a dumped TCA_U32_SEL, read from the raw bytes (pyroute2's decode is off by 4)."""
    data, base = sel.data, sel.offset
    out = []
    for i in range(sel["nkeys"]):
        o = base + 20 + 16 * i
        mask, val = struct.unpack_from(">II", data, o)
        off, offmask = struct.unpack_from("=ii", data, o + 8)
        out.append((val, mask, off, offmask))
    return out


def _u32_handle_str(h: int) -> str:
    htid, hsh, node = h >> 20, (h >> 12) & 0xFF, h & 0xFFF
    s = f"{htid:x}:" if htid else ""
    if hsh or node:
        if hsh:
            s += f"{hsh:x}"
        if node:
            s += f":{node:x}"
    return s or "0"


def _action_lines(acts, names: dict[int, str]) -> list[str]:
    out: list[str] = []
    if acts is None:
        return out
    for i, (name, a) in enumerate(acts["attrs"], start=1):
        if not name.startswith("TCA_ACT_PRIO_"):
            continue
        kind = a.get_attr("TCA_ACT_KIND")
        opts = a.get_attr("TCA_ACT_OPTIONS")
        order = name.rsplit("_", 1)[1]
        if kind == "mirred" and opts is not None:
            p: Any = opts.get_attr("TCA_MIRRED_PARMS") or {}   # pyroute2 nla (untyped), {} if absent
            eaction = {1: "Egress Redirect", 2: "Egress Mirror", 3: "Ingress Redirect", 4: "Ingress Mirror"}
            verdict = {4: "stolen", 3: "pipe", 0: "pass", 2: "drop"}.get(p.get("action"), str(p.get("action")))
            out.append(f"\taction order {order}: mirred ({eaction.get(p.get('eaction'), '?')} to device "
                       f"{names.get(p.get('ifindex'), p.get('ifindex'))}) {verdict}")
            out.append(f"\tindex {p.get('index', 0)} ref {p.get('refcnt', 0)} bind {p.get('bindcnt', 0)}")
        elif kind == "gact" and opts is not None:
            p = opts.get_attr("TCA_GACT_PARMS") or {}
            verdicts = {0: "pass", 2: "drop", 1: "reclassify", 3: "pipe", 4: "stolen", -1: "continue"}
            out.append(f"\taction order {order}: gact action {verdicts.get(p.get('action'), p.get('action'))}")
            out.append(f"\t index {p.get('index', 0)} ref {p.get('refcnt', 0)} bind {p.get('bindcnt', 0)}")
        else:
            out.append(f"\taction order {order}: {kind}")
        out.append("")
    return out


def _filter_text(m, show_parent: bool, names: dict[int, str]) -> tuple[list[str], dict]:
    kind = _kind(m)
    s = "filter "
    d: dict = {}
    if show_parent:
        if m["parent"] == TC_H_ROOT:
            s += "root "
            d["root"] = True
        else:
            s += f"parent {handle_str(m['parent'])} "
            d["parent"] = handle_str(m["parent"])
    info = m["info"]
    if info:
        proto = socket.ntohs(info & 0xFFFF)
        prio = info >> 16
        if proto:
            s += f"protocol {c.PROTOCOL_NAMES.get(proto, f'{proto:04x}')} "
            d["protocol"] = c.PROTOCOL_NAMES.get(proto, f"{proto:04x}")
        s += f"pref {prio} "
        d["pref"] = prio
    s += f"{kind} chain 0 "
    d.update(kind=kind, chain=0)
    opts = m.get_attr("TCA_OPTIONS")
    extra: list[str] = []
    if opts is not None and kind == "u32":
        o: dict = {}
        h = m["handle"]
        if h:
            s += f"fh {_u32_handle_str(h)} "
            o["fh"] = _u32_handle_str(h)
        if h & 0xFFF:
            s += f"order {h & 0xFFF} "
            o["order"] = h & 0xFFF
        sel = opts.get_attr("TCA_U32_SEL")
        div = opts.get_attr("TCA_U32_DIVISOR")
        hsh = opts.get_attr("TCA_U32_HASH")
        if div is not None:
            s += f"ht divisor {div} "
            o["ht_divisor"] = div
        elif hsh is not None:
            s += f"key ht {hsh >> 20:x} bkt {(hsh >> 12) & 0xFF:x} "
            o.update(key_ht=f"{hsh >> 20:x}", bkt=f"{(hsh >> 12) & 0xFF:x}")
        cls = opts.get_attr("TCA_U32_CLASSID")
        if cls is not None:
            star = "*" if sel is not None and sel["flags"] & 1 else ""
            s += f"{star}flowid {handle_str(cls)} not_in_hw "
            o.update(flowid=handle_str(cls), not_in_hw=True)
        if sel is not None:
            matches = []
            for val, mask, off, offmask in _u32_keys(sel):
                extra.append(f"  match {val:08x}/{mask:08x} at {'nexthdr+' if offmask else ''}{off}")
                matches.append({"value": f"{val:x}", "mask": f"{mask:x}", "off": off})
            o["match"] = matches
        extra += _action_lines(opts.get_attr("TCA_U32_ACT"), names)
        d["options"] = o
    elif opts is not None and kind == "matchall":
        cls = opts.get_attr("TCA_MATCHALL_CLASSID")
        if m["handle"]:
            s += f"handle 0x{m['handle']:x} "
        if cls is not None:
            s += f"flowid {handle_str(cls)} "
        extra += _action_lines(opts.get_attr("TCA_MATCHALL_ACT"), names)
    return [s] + extra, d


@applies(c.FilterShow)
def filter_show(b, op: c.FilterShow) -> str:
    index = _ifindex(b, op.ns, op.dev)
    names = _names(b, op.ns)
    parents = [op.parent] if op.parent is not None else \
        [m["handle"] for m in _qdisc_msgs(b, op.ns, index) if m["handle"]] + \
        [m["handle"] for m in _class_msgs(b, op.ns, index)]
    lines: list[str] = []
    objs = []
    for parent in parents:
        for m in _filter_msgs(b, op.ns, index, parent):
            if op.prio is not None and m["info"] >> 16 != op.prio:
                continue
            ls, d = _filter_text(m, op.parent is None or op.parent == INGRESS_HANDLE, names)
            lines += ls
            objs.append(d)
    if op.opts.json:
        return json.dumps(objs, indent=4) if op.opts.pretty else json.dumps(objs, separators=(",", ":"))
    return "\n".join(lines).rstrip("\n")


def _actions(b, op: c.FilterChange) -> dict | None:
    if not op.actions:
        return None
    acts = []
    for a in op.actions:
        if a.kind == "mirred":
            acts.append({"kind": "mirred", "direction": a.direction, "action": a.what,
                         "ifindex": b.link_index(op.ns, a.dev, "tc")})
        else:
            acts.append({"kind": "gact", "action": a.verdict})
    return get_tca_action({"action": acts})


@applies(c.FilterChange)
def filter_change(b, op: c.FilterChange) -> str:
    index = _ifindex(b, op.ns, op.dev)
    ipr = b.ipr(op.ns)
    qds = _qdisc_msgs(b, op.ns, index)
    parent = op.parent
    if parent is None:
        root = next((m for m in qds if m["parent"] == TC_H_ROOT and m["handle"]), None)
        if root is None and op.verb != "delete":
            raise LabError(f'Error: Parent Qdisc doesn\'t exists. ({op.dev} has no root qdisc with a handle to attach '
                           "filters to)",
                           f"Add one first: tc qdisc add dev {op.dev} root handle 1: htb default 10 "
                           f"(or tc qdisc add dev {op.dev} ingress, and use parent ffff:)")
        parent = root["handle"] if root else 0
    elif parent not in (TC_H_ROOT,) and parent & 0xFFFF == 0:
        if not any(m["handle"] == parent for m in qds):
            hint = (f"Add the ingress qdisc first: tc qdisc add dev {op.dev} ingress" if parent == INGRESS_HANDLE else
                    f"Add it first: tc qdisc add dev {op.dev} root handle {handle_str(parent)} htb")
            raise LabError(f"Error: Parent Qdisc doesn't exists. (no qdisc {handle_str(parent)} on {op.dev})", hint)
    else:
        _check_parent(b, op.ns, index, parent, op.dev, "filter")
    prio = op.prio or 0
    protocol = op.protocol if op.protocol is not None else (0 if op.verb == "delete" else 0x0003)
    info = socket.htons(protocol) | (prio << 16)
    if op.verb == "delete":
        if op.handle is None and op.prio is None and op.kind is None and op.parent is None:
            targets = [m["handle"] for m in qds if m["handle"]]
        else:
            targets = [parent]
        warnings = []
        try:
            for t in targets:
                if op.handle is None and op.prio is None and not _filter_msgs(b, op.ns, index, t):
                    continue
                warnings.append(_request(ipr, RTM_DELTFILTER, FLAGS["delete"], index=index, parent=t,
                                         info=info if op.prio else 0, handle=op.handle or 0,
                                         kind=op.kind if op.handle else None))
        except NetlinkError as e:
            if e.code == 2:
                raise LabError("Error: Filter with specified priority/protocol not found.",
                               f"tc filter show dev {op.dev} lists the filters.") from None
            raise _nl(e, "deleting the filter") from None
        return "\n".join(w for w in warnings if w)
    options: dict = {"attrs": []}
    acts = _actions(b, op)
    if op.kind == "u32":
        if op.flowid is not None:
            options["attrs"].append(["TCA_U32_CLASSID", op.flowid])
        options["attrs"].append(["TCA_U32_SEL", {"keys": list(op.keys)}])
        if acts:
            options["attrs"].append(["TCA_U32_ACT", acts])
    elif op.kind == "matchall":
        if op.flowid is not None:
            options["attrs"].append(["TCA_MATCHALL_CLASSID", op.flowid])
        if acts:
            options["attrs"].append(["TCA_MATCHALL_ACT", acts])
        _OPTIONS.setdefault("matchall", cls_matchall.options)
    elif op.kind == "flower":
        fl = dict(op.flower)
        if op.flowid is not None:
            options["attrs"].append(["TCA_FLOWER_CLASSID", op.flowid])
        options["attrs"].append(["TCA_FLOWER_KEY_ETH_TYPE", protocol])
        if "ip_proto" in fl:
            options["attrs"].append(["TCA_FLOWER_KEY_IP_PROTO", fl["ip_proto"]])
        for key, attr in (("src_ip", "IPV4_SRC"), ("dst_ip", "IPV4_DST")):
            if key in fl:
                addr, plen = str(fl[key]).split("/")
                mask = socket.inet_ntoa(struct.pack(">I", (0xFFFFFFFF << (32 - int(plen))) & 0xFFFFFFFF))
                options["attrs"] += [[f"TCA_FLOWER_KEY_{attr}", addr], [f"TCA_FLOWER_KEY_{attr}_MASK", mask]]
        l4 = "TCP" if fl.get("ip_proto") == 6 else "UDP"
        for key, attr in (("src_port", "SRC"), ("dst_port", "DST")):
            if key in fl:
                options["attrs"].append([f"TCA_FLOWER_KEY_{l4}_{attr}", fl[key]])
        if acts:
            options["attrs"].append(["TCA_FLOWER_ACT", acts])
    else:
        raise LabError(f"Error: lab cannot build {op.kind} filters.", "Use u32 (or matchall).")
    try:
        return _request(ipr, RTM_NEWTFILTER, FLAGS[op.verb], index=index, parent=parent, info=info,
                        handle=op.handle or 0, kind=op.kind, options=options)
    except NetlinkError as e:
        if e.code == 2 and op.kind != "u32" and op.kind in FILTER_MODULES:
            raise _missing("Filters", op.kind, FILTER_MODULES[op.kind], "Error: TC classifier not found.") from None
        if e.code in (2, 22) and any(a.kind == "gact" for a in op.actions):
            raise _missing("Actions", "gact", "act_gact", "Error: Failed to load TC action module.") from None
        if e.code == 17:
            raise LabError("RTNETLINK answers: File exists",
                           "A filter with that priority/handle exists; use tc filter replace, or another prio.") from None
        if e.code == 22 and op.verb == "add" and op.prio:
            others = [m for m in _filter_msgs(b, op.ns, index, parent) if m["info"] >> 16 == op.prio]
            if others and _kind(others[0]) != op.kind or others and others[0]["info"] & 0xFFFF != socket.htons(protocol):
                raise LabError("Error: Filter kind and protocol must match the existing filters at this priority.",
                               "Use another prio.") from None
        raise _nl(e, f"{op.verb} {op.kind} filter") from None
