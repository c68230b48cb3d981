"""ipvsadm through the kernel's IPVS generic netlink family (what libipvs does), in the op's namespace, and its
listing as ipvsadm prints it. A kernel without IP Virtual Server (ip_vs) is said so, as ipvsadm says it."""
from __future__ import annotations

import functools
import os
import socket
import struct
from dataclasses import dataclass

from pyroute2.netlink.exceptions import NetlinkError

from lab.backend import nsutil, sandbox, state
from lab.backend.core import applies
from lab.backend.rtnl import Rtnl, attr, sattr, u32attr
from lab.commands import ipvsadm as c
from lab.errors import LabError

GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 0x10, 3, 1, 2
(NEW_SERVICE, SET_SERVICE, DEL_SERVICE, GET_SERVICE, NEW_DEST, SET_DEST, DEL_DEST, GET_DEST) = range(1, 9)
GET_INFO, ZERO, FLUSH = 15, 16, 17
CMD_ATTR_SERVICE, CMD_ATTR_DEST = 1, 2
SVC_AF, SVC_PROTOCOL, SVC_ADDR, SVC_PORT, SVC_FWMARK, SVC_SCHED, SVC_FLAGS, SVC_TIMEOUT, SVC_NETMASK = range(1, 10)
SVC_STATS, SVC_PE, SVC_STATS64 = 10, 11, 12
DEST_ADDR, DEST_PORT, DEST_FWD, DEST_WEIGHT, DEST_UTHRESH, DEST_LTHRESH = range(1, 7)
DEST_ACTIVE, DEST_INACT, DEST_PERSIST, DEST_STATS, DEST_AF, DEST_STATS64 = range(7, 13)
F_PERSISTENT, F_ONEPACKET = 0x1, 0x4
FWD_NUM = {"masq": 0, "tunnel": 2, "droute": 3}
FWD_NAME = {0: "Masq", 1: "Local", 2: "Tunnel", 3: "Route"}
FWD_SWITCH = {0: "-m", 1: "-g", 2: "-i", 3: "-g"}
TUN_TYPES = {0: "ipip", 1: "gue", 2: "gre"}
PROTO = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP}
NO_IPVS = ("Can't initialize ipvs: Protocol not available\n"
           "Are you sure that IP Virtual Server is built in the kernel or as module?")
# libipvs's ipvs_strerror: (command, errno) -> its words
STRERROR = {("add", 17): "Service already exists", ("add", 2): "Scheduler or persistence engine not found",
            ("edit", 3): "No such service", ("edit", 2): "Scheduler or persistence engine not found",
            ("del", 3): "No such service", ("zero", 3): "No such service", ("adddest", 3): "Service not defined",
            ("adddest", 17): "Destination already exists", ("editdest", 3): "Service not defined",
            ("editdest", 2): "No such destination", ("deldest", 3): "Service not defined",
            ("deldest", 2): "No such destination", ("list", 3): "No such service",
            (None, 1): "Permission denied (you must be root)",
            (None, 22): "Invalid operation.  Possibly wrong module version, address not unicast, ...",
            (None, 92): "Protocol not available", (None, 12): "Memory allocation problem",
            (None, 95): "Operation not supported with IPv6",
            (None, 97): "Operation not supported with specified address family", (None, 90): "Module is wrong version"}


class Genl(Rtnl):
    """One NETLINK_GENERIC socket in the calling thread's namespace (Rtnl's request/dump, another protocol)."""

    def __init__(self) -> None:   # noqa: D107 - not Rtnl's: another protocol
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)   # NETLINK_GENERIC
        self.sock.setsockopt(270, 11, 1)
        self.sock.bind((0, 0))
        self.seq = 0
        self._link_cache = {}


def _attrs(buf: bytes, off: int = 0) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    while off + 4 <= len(buf):
        ln, t = struct.unpack_from("=HH", buf, off)
        if ln < 4:
            break
        out.setdefault(t & 0x3FFF, buf[off + 4:off + ln])
        off += (ln + 3) & ~3
    return out


class Ipvs:
    def __init__(self, ns: str | None, here: bool = False) -> None:
        """IPVS in namespace `ns`, or (here=True) in the calling thread's current one. LabError when IPVS
        cannot be used there (no ip_vs; or a user namespace), worded as ipvsadm words it."""
        if here:
            self.open_here()
        else:
            with nsutil.in_netns(ns):
                self.open_here()
        self._init()

    def open_here(self) -> None:
        """The socket, in the calling thread's namespace, and the IPVS family's id (LabError without ip_vs)."""
        self.g = Genl()
        try:
            reply = self.g.request(GENL_ID_CTRL, 0, struct.pack("=BBH", CTRL_CMD_GETFAMILY, 1, 0)
                                   + sattr(CTRL_ATTR_FAMILY_NAME, "IPVS"))
        except NetlinkError:
            self.g.close()
            raise LabError(NO_IPVS, "this kernel has no IP Virtual Server (IPVS) support: the ip_vs module is not "
                                    "built (Debian's and Ubuntu's kernels have it). The iptables statistic-match "
                                    "scenario balances without it.") from None
        self.family = struct.unpack("=H", _attrs(reply or b"", 4)[CTRL_ATTR_FAMILY_ID][:2])[0]

    def _init(self) -> None:
        try:                           # ipvs_init asks for the version first: its failure is "Can't initialize"
            self.info = _attrs(self.do(GET_INFO) or b"", 4)
        except NetlinkError as e:
            self.g.close()
            text = STRERROR.get((None, e.code)) or os.strerror(e.code)
            hint = None
            if e.code == 1 and not sandbox.is_machine_root():
                hint = ("The kernel lets only the machine's own root configure IPVS (CAP_NET_ADMIN in the initial user "
                        "namespace), and lab's rootless sandbox is a user namespace. Run lab in the privileged sandbox "
                        "(a private network namespace as the machine's root, still gone when lab ends): "
                        "sudo lab --privileged")
            raise LabError(f"Can't initialize ipvs: {text}\n"
                           "Are you sure that IP Virtual Server is built in the kernel or as module?", hint) from None

    def close(self) -> None:
        self.g.close()

    def _hdr(self, cmd: int) -> bytes:
        return struct.pack("=BBH", cmd, 1, 0)     # IPVS_GENL_VERSION 1

    def do(self, cmd: int, body: bytes = b"") -> bytes | None:
        return self.g.request(self.family, 0, self._hdr(cmd) + body)

    def dump(self, cmd: int, body: bytes = b"") -> list[dict[int, bytes]]:
        return [_attrs(m, 4) for m in self.g.dump(self.family, self._hdr(cmd) + body)]


def _addr(af: int, addr: str) -> bytes:
    return socket.inet_pton(af, addr)


def _svc_attrs(op: c.IpvsOp, full: bool) -> bytes:
    s = op.svc or c.Service()
    out = attr(SVC_AF, struct.pack("=H", s.af))
    if s.fwmark:
        out += u32attr(SVC_FWMARK, s.fwmark)
    else:
        out += attr(SVC_PROTOCOL, struct.pack("=H", PROTO[s.proto])) + attr(SVC_ADDR, _addr(s.af, s.addr))
        out += attr(SVC_PORT, struct.pack(">H", s.port))
    if full:
        flags = (F_PERSISTENT if op.persistent is not None else 0) | (F_ONEPACKET if op.ops else 0)
        if s.af == socket.AF_INET6:
            netmask = int(op.netmask) if op.netmask else 128
            mask = struct.pack("=I", netmask)
        else:
            mask = socket.inet_aton(op.netmask) if op.netmask else b"\xff\xff\xff\xff"
        out += sattr(SVC_SCHED, op.sched) + attr(SVC_FLAGS, struct.pack("=II", flags, 0xFFFFFFFF))
        out += u32attr(SVC_TIMEOUT, op.persistent or 0) + attr(SVC_NETMASK, mask)
    return attr(CMD_ATTR_SERVICE | 0x8000, out)


def _dest_attrs(op: c.IpvsOp, full: bool) -> bytes:
    s = op.svc or c.Service()
    af = socket.AF_INET6 if op.dest_addr and ":" in op.dest_addr else socket.AF_INET
    out = attr(DEST_ADDR, _addr(af, op.dest_addr or "0.0.0.0")) + attr(DEST_PORT, struct.pack(">H", op.dest_port))
    if af != s.af:
        out += attr(DEST_AF, struct.pack("=H", af))
    if full:
        out += u32attr(DEST_FWD, FWD_NUM[op.fwd]) + u32attr(DEST_WEIGHT, op.weight)
        out += u32attr(DEST_UTHRESH, op.u_threshold) + u32attr(DEST_LTHRESH, op.l_threshold)
    return attr(CMD_ATTR_DEST | 0x8000, out)


def _error(op: c.IpvsOp, e: NetlinkError) -> LabError:
    text = STRERROR.get((op.cmd, e.code)) or STRERROR.get((None, e.code)) or os.strerror(e.code)
    return LabError(text)


@applies(c.IpvsOp)
def ipvsadm(b, op: c.IpvsOp) -> str:
    v = Ipvs(op.ns)
    try:
        if op.cmd in ("list", "save"):
            return listing(v, op)
        cmd, body = {
            "add": (NEW_SERVICE, lambda: _svc_attrs(op, True)), "edit": (SET_SERVICE, lambda: _svc_attrs(op, True)),
            "del": (DEL_SERVICE, lambda: _svc_attrs(op, False)), "flush": (FLUSH, lambda: b""),
            "zero": (ZERO, lambda: _svc_attrs(op, False) if op.svc else b""),
            "adddest": (NEW_DEST, lambda: _svc_attrs(op, False) + _dest_attrs(op, True)),
            "editdest": (SET_DEST, lambda: _svc_attrs(op, False) + _dest_attrs(op, True)),
            "deldest": (DEL_DEST, lambda: _svc_attrs(op, False) + _dest_attrs(op, False)),
        }[op.cmd]
        try:
            v.do(cmd, body())
        except NetlinkError as e:
            raise _error(op, e) from None
        return ""
    finally:
        v.close()


# ---- listing --------------------------------------------------------------------------------------------
def _u(b: bytes | None, fmt: str = "=I") -> int:
    return struct.unpack(fmt, b[:struct.calcsize(fmt)])[0] if b else 0


def _ip(af: int, raw: bytes | None) -> str:
    n = 16 if af == socket.AF_INET6 else 4
    return socket.inet_ntop(af, (raw or b"")[:n].ljust(n, b"\0"))


def _stats(a: dict[int, bytes], key32: int, key64: int) -> dict[int, int]:
    if key64 in a:
        return {k: _u(v, "=Q") for k, v in _attrs(a[key64]).items()}
    st = _attrs(a.get(key32, b""))
    return {k: _u(v, "=Q" if k in (4, 5) else "=I") for k, v in st.items()}


def _services(v: Ipvs) -> list[dict]:
    out = []
    for m in v.dump(GET_SERVICE):
        a = _attrs(m.get(CMD_ATTR_SERVICE, b""))
        af = _u(a.get(SVC_AF), "=H")
        flags = _u(a.get(SVC_FLAGS))
        out.append({"af": af, "proto": _u(a.get(SVC_PROTOCOL), "=H"), "addr": _ip(af, a.get(SVC_ADDR)),
                    "raw": (a.get(SVC_ADDR) or b"").ljust(16, b"\0")[:16], "port": _u(a.get(SVC_PORT), ">H"),
                    "fwmark": _u(a.get(SVC_FWMARK)), "sched": (a.get(SVC_SCHED) or b"").split(b"\0")[0].decode(),
                    "flags": flags, "timeout": _u(a.get(SVC_TIMEOUT)), "netmask": a.get(SVC_NETMASK) or b"",
                    "pe": (a.get(SVC_PE) or b"").split(b"\0")[0].decode(), "stats": _stats(a, SVC_STATS, SVC_STATS64),
                    "key": a})
    return out


def _dests(v: Ipvs, svc: dict) -> list[dict]:
    a = svc["key"]
    sel = attr(SVC_AF, a[SVC_AF])
    if SVC_FWMARK in a and _u(a[SVC_FWMARK]):
        sel += attr(SVC_FWMARK, a[SVC_FWMARK])
    else:
        sel += attr(SVC_PROTOCOL, a[SVC_PROTOCOL]) + attr(SVC_ADDR, a[SVC_ADDR]) + attr(SVC_PORT, a[SVC_PORT])
    out = []
    for m in v.dump(GET_DEST, attr(CMD_ATTR_SERVICE | 0x8000, sel)):
        d = _attrs(m.get(CMD_ATTR_DEST, b""))
        af = _u(d.get(DEST_AF), "=H") if DEST_AF in d else svc["af"]
        out.append({"af": af, "addr": _ip(af, d.get(DEST_ADDR)), "raw": (d.get(DEST_ADDR) or b"").ljust(16, b"\0")[:16],
                    "port": _u(d.get(DEST_PORT), ">H"), "fwd": _u(d.get(DEST_FWD)) & 7,
                    "weight": _u(d.get(DEST_WEIGHT), "=i"), "u": _u(d.get(DEST_UTHRESH)), "l": _u(d.get(DEST_LTHRESH)),
                    "active": _u(d.get(DEST_ACTIVE)), "inact": _u(d.get(DEST_INACT)),
                    "persist": _u(d.get(DEST_PERSIST)), "stats": _stats(d, DEST_STATS, DEST_STATS64),
                    "tun": _u(d.get(13), "=B")})
    return out


def _s32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x >= 1 << 31 else x


def _cmp_addr(af: int, r1: bytes, r2: bytes) -> int:
    """libipvs compares addresses as ntohl(a) - ntohl(b) in an int (word by word for IPv6)."""
    for i in range(4 if af == socket.AF_INET6 else 1):
        r = _s32(struct.unpack_from(">I", r1, 4 * i)[0] - struct.unpack_from(">I", r2, 4 * i)[0])
        if r:
            return r
    return 0


def _cmp_services(s1: dict, s2: dict) -> int:
    for k in ("fwmark", "af", "proto"):
        r = _s32(s1[k] - s2[k])
        if r:
            return r
    return _cmp_addr(s1["af"], s1["raw"], s2["raw"]) or s1["port"] - s2["port"]


def _cmp_dests(d1: dict, d2: dict) -> int:
    return _cmp_addr(d1["af"], d1["raw"], d2["raw"]) or d1["port"] - d2["port"]


def _hosts_name(addr: str) -> str | None:
    try:
        with open("/etc/hosts") as f:
            for line in f:
                words = line.split("#", 1)[0].split()
                if len(words) > 1 and words[0] == addr:
                    return words[1]
    except OSError:
        pass
    return None


def _anyname(af: int, addr: str, port: int, proto: int, numeric: bool) -> str:
    """addrport_to_anyname (names from /etc/hosts and /etc/services only: lab asks no DNS server)."""
    if not numeric:
        host = _hosts_name(addr) or addr
        try:
            serv = socket.getservbyport(port, "udp" if proto == socket.IPPROTO_UDP else "tcp")
        except OSError:
            serv = str(port)
        name_port = serv
    else:
        host, name_port = addr, str(port)
    return f"[{host}]:{name_port}" if af == socket.AF_INET6 else f"{host}:{name_port}"


def _largenum(i: int, exact: bool) -> str:
    if exact:
        n = len(str(i))
        return f"{i:>{9 if n <= 8 else n + 1}}"
    if i < 100000000:
        return f"{i:>9}"
    for lim, div, unit in ((10**9, 1000, "K"), (10**11, 10**6, "M"), (10**14, 10**9, "G")):
        if i < lim:
            return f"{i // div:>8}{unit}"
    return f"{i // 10**12:>8}T"


def _title(fmt: str) -> list[str]:
    if fmt == "stats":
        return [f"{'Prot LocalAddress:Port':<33} {'Conns':>8} {'InPkts':>8} {'OutPkts':>8} {'InBytes':>8} {'OutBytes':>8}",
                "  -> RemoteAddress:Port"]
    if fmt == "rate":
        return [f"{'Prot LocalAddress:Port':<33} {'CPS':>8} {'InPPS':>8} {'OutPPS':>8} {'InBPS':>8} {'OutBPS':>8}",
                "  -> RemoteAddress:Port"]
    if fmt == "thresholds":
        return [f"{'Prot LocalAddress:Port':<33} {'Uthreshold':<10} {'Lthreshold':<10} {'ActiveConn':<10} {'InActConn':<10}",
                "  -> RemoteAddress:Port"]
    if fmt == "persistent-conn":
        return [f"{'Prot LocalAddress:Port':<33} {'Weight':<9} {'PersistConn':<11} {'ActiveConn':<10} {'InActConn':<10}",
                "  -> RemoteAddress:Port"]
    return ["Prot LocalAddress:Port Scheduler Flags",
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn"]


def _svc_name(se: dict, numeric: bool, rule: bool) -> str:
    """How ipvsadm names a service: "TCP  10.0.0.1:80" / "FWM  7" in a listing, "-t 10.0.0.1:80" in -S."""
    v6 = se["af"] == socket.AF_INET6
    if se["fwmark"]:
        return (f"-f {se['fwmark']}" + (" -6" if v6 else "")) if rule else (f"FWM  {se['fwmark']}" + (" IPv6" if v6 else ""))
    vname = _anyname(se["af"], se["addr"], se["port"], se["proto"], numeric)
    tcp = se["proto"] == socket.IPPROTO_TCP
    if rule:
        return f"{'-t' if tcp else '-u'} {vname}"
    name = f"{'TCP' if tcp else 'UDP'}  {vname}"
    return name if v6 else name[:33]


def _svc_flags(se: dict) -> str:
    """What a listing prints after the scheduler: " persistent T [mask M] [pe P] [ops]"."""
    if not se["flags"] & F_PERSISTENT:
        return ""
    out = f" persistent {se['timeout']}" + _mask(se, "mask")
    if se["pe"]:
        out += f" pe {se['pe']}"
    if se["flags"] & F_ONEPACKET:
        out += " ops"
    return out


def _service_lines(v: Ipvs, se: dict, op: c.IpvsOp, rule: bool) -> list[str]:
    numeric, exact = op.numeric, op.exact
    v6 = se["af"] == socket.AF_INET6
    name = _svc_name(se, numeric, rule)
    st = se["stats"]
    if rule:
        line = f"-A {name} -s {se['sched']}"
        if se["flags"] & F_PERSISTENT:
            line += f" -p {se['timeout']}"
            line += _mask(se, "-M")
        if se["pe"]:
            line += f" pe {se['pe']}"
        if se["flags"] & F_ONEPACKET:
            line += " ops"
    elif op.fmt == "stats":
        line = f"{name:<33}" + "".join(_largenum(st.get(k, 0), exact) for k in (1, 2, 3, 4, 5))
    elif op.fmt == "rate":
        line = f"{name:<33}" + "".join(_largenum(st.get(k, 0), exact) for k in (6, 7, 8, 9, 10))
    else:
        line = f"{name} {se['sched']}" + _svc_flags(se)
    out = [line]
    dests = _dests(v, se)
    if not op.nosort:
        dests.sort(key=functools.cmp_to_key(_cmp_dests))
    for d in dests:
        dname = _anyname(se["af"], d["addr"], d["port"], se["proto"], numeric)
        if not rule and not v6:
            dname = dname[:28]
        ds = d["stats"]
        if rule:
            line = f"-a {name} -r {dname} {FWD_SWITCH.get(d['fwd'], '-g')} -w {d['weight']}"
            if d["fwd"] == 2:            # ipvsadm 1.31 names the tunnel's type
                line += f" --tun-type {TUN_TYPES.get(d['tun'], 'ipip')}"
            out.append(line)
        elif op.fmt == "stats":
            out.append(f"  -> {dname:<28}" + "".join(_largenum(ds.get(k, 0), exact) for k in (1, 2, 3, 4, 5)))
        elif op.fmt == "rate":
            out.append(f"  -> {dname:<28} {ds.get(6, 0):>8} {ds.get(7, 0):>8} {ds.get(8, 0):>8}"
                       + _largenum(ds.get(9, 0), exact) + _largenum(ds.get(10, 0), exact))
        elif op.fmt == "thresholds":
            out.append(f"  -> {dname:<28} {d['u']:<10} {d['l']:<10} {d['active']:<10} {d['inact']:<10}")
        elif op.fmt == "persistent-conn":
            out.append(f"  -> {dname:<28} {d['weight']:<9} {d['persist']:<11} {d['active']:<10} {d['inact']:<10}")
        else:
            out.append(f"  -> {dname:<28} {FWD_NAME.get(d['fwd'], ''):<7} {d['weight']:<6} {d['active']:<10} "
                       f"{d['inact']:<10}")
    return out


def _mask(se: dict, word: str) -> str:
    nm = se["netmask"]
    if se["af"] == socket.AF_INET:
        return f" {word} {socket.inet_ntoa(nm[:4])}" if nm[:4] != b"\xff\xff\xff\xff" else ""
    n = _u(nm)
    return f" {word} {n}" if n != 128 else ""


def listing(v: Ipvs, op: c.IpvsOp) -> str:
    rule = op.cmd == "save"
    out: list[str] = []
    if op.svc is not None and not rule:          # ipvsadm -L -t ADDR:PORT: that service only
        found = [s for s in _services(v) if _same(s, op.svc)]
        if not found:
            raise LabError("No such service")
        return "\n".join(_title(op.fmt) + _service_lines(v, found[0], op, False))
    if not rule:
        info = v.info
        ver = _u(info.get(1))
        out.append(f"IP Virtual Server version {ver >> 16 & 0xFF}.{ver >> 8 & 0xFF}.{ver & 0xFF} "
                   f"(size={_u(info.get(2))})")
        out += _title(op.fmt)
    services = _services(v)
    if not op.nosort:
        services.sort(key=functools.cmp_to_key(_cmp_services))
    for se in services:
        out += _service_lines(v, se, op, rule)
    return "\n".join(out)


def _same(s: dict, svc: c.Service) -> bool:
    if svc.fwmark:
        return s["fwmark"] == svc.fwmark
    return (not s["fwmark"] and s["af"] == svc.af and s["proto"] == PROTO[svc.proto] and s["addr"] == svc.addr
            and s["port"] == svc.port)


def services(b, ns: str | None) -> list:
    """The namespace's virtual services for the IPVS pane (none where IPVS cannot be read: no ip_vs, or a user
    namespace such as the rootless sandbox)."""
    from lab.model import IpvsDest, IpvsService

    try:
        v = Ipvs(ns)
    except (LabError, OSError):
        return []
    out = []
    try:
        svcs = _services(v)
        svcs.sort(key=functools.cmp_to_key(_cmp_services))
        for se in svcs:
            dests = _dests(v, se)
            dests.sort(key=functools.cmp_to_key(_cmp_dests))
            out.append(IpvsService(ns=ns or "", key=_svc_name(se, True, False), sched=se["sched"],
                                   flags=_svc_flags(se).strip(), dests=tuple(
                IpvsDest(_anyname(se["af"], d["addr"], d["port"], se["proto"], True), FWD_NAME.get(d["fwd"], "?"),
                         d["weight"], d["active"], d["inact"]) for d in dests)))
    except NetlinkError:
        return []
    finally:
        v.close()
    return out


state.EXTRAS["ipvs"] = lambda b, ns: {"ipvs": tuple(services(b, ns))}


# ---- the kernel's own text view (/proc/net/ip_vs, /proc/net/ip_vs_conn): what the tracer reads -----------------
@dataclass(frozen=True)
class ProcDest:
    addr: str
    port: int
    fwd: str            # Masq, Local, Tunnel, Route (the kernel's ip_vs_fwd_name)
    weight: int


@dataclass(frozen=True)
class ProcService:
    proto: str          # TCP, UDP, SCTP; FWM for a firewall-mark service
    addr: str           # "" for a firewall-mark service
    port: int
    fwmark: int
    sched: str
    persistent: int | None
    dests: tuple[ProcDest, ...]

    def name(self) -> str:
        return f"firewall-mark {self.fwmark}" if self.proto == "FWM" else f"{self.proto} {self.addr}:{self.port}"


@dataclass(frozen=True)
class ProcConn:
    proto: str
    caddr: str          # the client
    cport: int
    vaddr: str          # the virtual service's address and port it asked for
    vport: int
    daddr: str          # the real server IPVS chose
    dport: int
    state: str
    expires: int


def _hex_ip(h: str) -> str:
    return socket.inet_ntoa(struct.pack(">I", int(h, 16)))


def read_proc(ns: str | None) -> tuple[list[ProcService], list[ProcConn]] | None:
    """The namespace's IPv4 virtual services and IPVS connection table as the kernel prints them (readable
    wherever the namespace is, user namespace or not; no ipvs genl access needed). None without ip_vs."""
    try:
        with nsutil.in_netns(ns):
            with open("/proc/thread-self/net/ip_vs") as f:
                svc_text = f.read()
            with open("/proc/thread-self/net/ip_vs_conn") as f:
                conn_text = f.read()
    except OSError:
        return None
    services: list[ProcService] = []
    cur: dict | None = None

    def close() -> None:
        if cur is not None:
            services.append(ProcService(**cur))

    for line in svc_text.splitlines()[3:]:
        w = line.split()
        try:
            if line.startswith("  -> ") and cur is not None and len(w) >= 4 and ":" in w[1] and "[" not in w[1]:
                a, p = w[1].split(":")
                cur["dests"] += (ProcDest(_hex_ip(a), int(p, 16), w[2], int(w[3])),)
            elif w and w[0] == "FWM" and len(w) >= 3:
                close()
                cur = dict(proto="FWM", addr="", port=0, fwmark=int(w[1], 16), sched=w[2], dests=(),
                           persistent=int(w[w.index("persistent") + 1]) if "persistent" in w else None)
            elif w and len(w) >= 3 and ":" in w[1] and "[" not in w[1]:
                close()
                a, p = w[1].split(":")
                cur = dict(proto=w[0], addr=_hex_ip(a), port=int(p, 16), fwmark=0, sched=w[2], dests=(),
                           persistent=int(w[w.index("persistent") + 1]) if "persistent" in w else None)
            else:
                close()
                cur = None          # an IPv6 service: the tracer follows IPv4
        except (ValueError, IndexError, struct.error):
            cur = None
    close()
    conns: list[ProcConn] = []
    for line in conn_text.splitlines()[1:]:
        w = line.split()
        if len(w) < 9 or len(w[1]) != 8:
            continue
        try:
            conns.append(ProcConn(w[0], _hex_ip(w[1]), int(w[2], 16), _hex_ip(w[3]), int(w[4], 16), _hex_ip(w[5]),
                                  int(w[6], 16), w[7], int(w[8])))
        except (ValueError, struct.error):
            continue
    return services, conns
