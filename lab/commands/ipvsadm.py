"""`ipvsadm` parser: IPVS virtual services and their real servers, as ipvsadm 1.31 reads its options.

Supported: -A/-E/-D (-t|-u ADDR[:PORT] | -f FWMARK) [-s SCHED] [-p [TIMEOUT]] [-M NETMASK] [-o/--ops],
-a/-e/-d ... -r ADDR[:PORT] [-g|-i|-m] [-w W] [-x U] [-y L], -C, -Z [SERVICE], -L/-l [SERVICE] [-n] [--stats]
[--rate] [--thresholds] [--persistent-conn] [--nosort] [--exact], -S/--save [-n], and `ipvsadm` alone (list).
Option checking follows ipvsadm's own table (commands_v_options) and its messages. Not supported (said so):
-R/--restore, --set, --start-daemon/--stop-daemon, -c/--connection, --timeout, --daemon, --pe, -b.

Pure: names are resolved from /etc/hosts and /etc/services only (ipvsadm would ask DNS: lab sends no traffic
outside the lab).
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from lab.commands.base import Context, Op, ParseError

CMDNAMES = {"add": "add-service", "edit": "edit-service", "del": "delete-service", "flush": "flush", "list": "list",
            "adddest": "add-server", "deldest": "delete-server", "editdest": "edit-server", "save": "save",
            "zero": "zero"}
# option -> its name in ipvsadm's messages (optnames), in the table's column order
OPTNAMES = ["numeric", "connection", "service-address", "scheduler", "persistent", "netmask", "real-server",
            "forwarding-method", "weight", "u-threshold", "l-threshold", "mcast-interface", "timeout", "daemon",
            "stats", "rate", "thresholds", "persistent-conn", "nosort", "syncid", "exact", "ops"]
# ipvsadm's commands_v_options (1.31 without the pe column): '+' needed, 'x' illegal, '1' exclusive, ' ' optional
_TABLE = {
    "add": 'xx+   xxxxxxxxxxxxxxx ',
    "edit": 'xx+   xxxxxxxxxxxxxxx ',
    "del": 'xx+xxxxxxxxxxxxxxxxxxx',
    "flush": 'xxxxxxxxxxxxxxxxxxxxxx',
    "list": ' 11xxxxxxxxx11       x',
    "adddest": 'xx+xxx+    xxxxxxxxxxx',
    "deldest": 'xx+xxx+xxxxxxxxxxxxxxx',
    "editdest": 'xx+xxx+    xxxxxxxxxxx',
    "save": ' xxxxxxxxxxxxxxxxxxxxx',
    "zero": 'xx xxxxxxxxxxxxxxxxxxx',
}
FWD = {"g": "droute", "i": "tunnel", "m": "masq"}
NOT_YET = {"-R": "--restore", "--restore": "--restore", "--set": "--set", "--start-daemon": "--start-daemon",
           "--stop-daemon": "--stop-daemon", "-c": "--connection", "--connection": "--connection",
           "--timeout": "--timeout", "--daemon": "--daemon", "--pe": "--pe", "-b": "--sched-flags",
           "--sched-flags": "--sched-flags", "--mcast-interface": "--mcast-interface", "--syncid": "--syncid",
           "-j": "--tun-type"}
DEF_SCHED = "wlc"
PERSISTENT_TIMEOUT = 360      # IPVS_SVC_PERSISTENT_TIMEOUT (6 minutes)


@dataclass(frozen=True)
class Service:
    proto: str = "tcp"          # tcp | udp (fwmark services: tcp, unused)
    af: int = socket.AF_INET
    addr: str = "0.0.0.0"
    port: int = 0
    fwmark: int = 0


@dataclass(frozen=True)
class IpvsOp(Op):
    cmd: str = "list"                # add edit del flush list adddest deldest editdest save zero
    svc: Service | None = None
    sched: str = ""
    persistent: int | None = None    # timeout (seconds) when -p
    netmask: str | None = None       # -M (IPv4 dotted mask, or an IPv6 prefix length)
    ops: bool = False
    dest_addr: str | None = None
    dest_port: int = 0
    fwd: str = "droute"
    weight: int = 1
    u_threshold: int = 0
    l_threshold: int = 0
    numeric: bool = False
    fmt: str = ""                    # "" | stats | rate | thresholds | persistent-conn
    nosort: bool = False
    exact: bool = False
    given: frozenset = frozenset()   # the options given (which service fields -E/-e change)

    @property
    def mutates(self) -> bool:
        return self.cmd not in ("list", "save")


def _fail(msg: str) -> ParseError:
    return ParseError(msg, "ipvsadm -h lists the options; lab supports those in `ipvsadm help`.")


def _number(s: str, lo: int, hi: int) -> int | None:
    """string_to_number: a whole decimal number within [lo, hi], else None."""
    try:
        v = int(s, 10)
    except ValueError:
        return None
    return v if lo <= v <= hi and s.strip() == s else None


def _hosts_lookup(name: str) -> str | None:
    try:
        with open("/etc/hosts") as f:
            for line in f:
                words = line.split("#", 1)[0].split()
                if len(words) > 1 and name in words[1:] and ":" not in words[0]:
                    return words[0]
    except OSError:
        pass
    return None


def parse_service(buf: str, proto: str) -> tuple[int, str, int, bool] | None:
    """ipvsadm's parse_service: (family, address, port, port given) or None when illegal."""
    if not buf or buf.isdigit():
        return None
    portp: str | None = None
    if buf.startswith("["):
        end = buf.find("]")
        if end < 0 or buf[end + 1:end + 2] != ":":
            return None
        host, portp = buf[1:end], buf[end + 2:]
    else:
        host = buf
    try:
        ipaddress.IPv6Address(host)
        af, addr = socket.AF_INET6, str(ipaddress.IPv6Address(host))
    except ValueError:
        if portp is None and ":" in host:
            host, portp = host.rsplit(":", 1)
        try:
            addr = socket.inet_ntoa(socket.inet_aton(host))   # inet_aton: 10.1 and 0x0a.1 too, as ipvsadm
        except OSError:
            found = _hosts_lookup(host)
            if found is None:
                return None
            addr = found
        af = socket.AF_INET
    port, given = 0, portp is not None
    if portp is not None:
        n = _number(portp, 0, 65535)
        if n is None:
            try:
                n = socket.getservbyname(portp, proto)
            except OSError:
                return None
        port = n
    return af, addr, port, given


_LONG = {"--add-service": "A", "--edit-service": "E", "--delete-service": "D", "--clear": "C", "--list": "L",
         "--add-server": "a", "--edit-server": "e", "--delete-server": "d", "--zero": "Z", "--save": "S",
         "--tcp-service": "t", "--udp-service": "u", "--fwmark-service": "f", "--scheduler": "s",
         "--persistent": "p", "--netmask": "M", "--real-server": "r", "--gatewaying": "g", "--ipip": "i",
         "--masquerading": "m", "--weight": "w", "--u-threshold": "x", "--l-threshold": "y", "--numeric": "n",
         "--ops": "o", "--stats": "stats", "--rate": "rate", "--thresholds": "thresholds",
         "--persistent-conn": "persistent-conn", "--nosort": "nosort", "--sort": "sort", "--exact": "exact",
         "--help": "h", "--version": "v", "--tun-type": "tun-type"}
_CMDS = {"A": "add", "E": "edit", "D": "del", "C": "flush", "L": "list", "l": "list", "a": "adddest",
         "e": "editdest", "d": "deldest", "Z": "zero", "S": "save"}
_WITH_ARG = set("tufsMrwxy") | {"tun-type"}
_OPT_OF = {"t": "service-address", "u": "service-address", "f": "service-address", "s": "scheduler",
           "p": "persistent", "M": "netmask", "r": "real-server", "g": "forwarding-method",
           "i": "forwarding-method", "m": "forwarding-method", "w": "weight", "x": "u-threshold",
           "y": "l-threshold", "n": "numeric", "o": "ops", "stats": "stats", "rate": "rate",
           "thresholds": "thresholds", "persistent-conn": "persistent-conn", "nosort": "nosort",
           "exact": "exact", "tun-type": "tun-type"}


def _tokens(argv: list[str]):
    """(option letter or long name, its argument or None): popt's reading of short clusters (-Ln),
    `--opt=value`, and -p's optional argument (taken when the next word does not start with -)."""
    i = 0
    while i < len(argv):
        w = argv[i]
        i += 1
        if w in NOT_YET or w.split("=", 1)[0] in NOT_YET:
            name = NOT_YET.get(w) or NOT_YET[w.split("=", 1)[0]]
            raise ParseError(f'lab does not support ipvsadm {name} yet.',
                             "Virtual services and real servers (-A/-E/-D, -a/-e/-d), -L, -S, -C and -Z are supported.")
        if w.startswith("--"):
            key, _, val = w.partition("=")
            if key not in _LONG:
                raise _fail(f"{key}: unknown option")
            c = _LONG[key]
            if c in _WITH_ARG or c == "p":
                if not val and c != "p":
                    if i >= len(argv):
                        raise _fail(f"{key}: missing argument")
                    val = argv[i]
                    i += 1
                elif not val and c == "p" and i < len(argv) and not argv[i].startswith("-"):
                    val = argv[i]
                    i += 1
            yield c, (val or None)
            continue
        if not w.startswith("-") or w == "-":
            raise _fail(f"unexpected argument {w}")
        j = 1
        while j < len(w):
            c = w[j]
            j += 1
            if c in _WITH_ARG or c == "p":
                rest = w[j:]
                if rest:
                    yield c, rest
                elif c == "p":
                    if i < len(argv) and not argv[i].startswith("-"):
                        yield c, argv[i]
                        i += 1
                    else:
                        yield c, None
                else:
                    if i >= len(argv):
                        raise _fail(f"-{c}: missing argument")
                    yield c, argv[i]
                    i += 1
                break
            if c not in _CMDS and c not in "gimnohv6":
                if f"-{c}" in NOT_YET:
                    raise ParseError(f'lab does not support ipvsadm {NOT_YET["-" + c]} yet.')
                raise _fail(f"-{c}: unknown option")
            yield c, None


def parse(head: str, argv: list[str], ctx: Context, ns: str | None) -> Op:
    if argv and argv[0] == "help":
        from lab.commands.ip import HelpOp

        return HelpOp(ns, text=__doc__ or "")
    if not argv:
        return IpvsOp(ns, cmd="list")
    cmd = None
    given: list[str] = []
    f: dict = {}
    proto = "tcp"
    svc_word = None
    real_word = None
    for c, val in _tokens(argv):
        if c in ("h", "v"):
            raise ParseError("lab's ipvsadm prints no help or version of its own.", "Try: ipvsadm help")
        if cmd is None:                # ipvsadm reads the command first: anything else there is a usage error
            if c not in _CMDS:
                raise _fail("Try `ipvsadm -h' or 'ipvsadm --help' for more information.")
            cmd = _CMDS[c]
            continue
        if c in _CMDS:                 # a second command: popt knows it, the option loop does not
            raise _fail(f"invalid option `-{c}'" if len(c) == 1 else f"invalid option `{c}'")
        if c == "6":
            raise ParseError("lab does not support ipvsadm -6 (IPv6 fwmark services) yet.")
        if c == "sort":
            continue
        opt = _OPT_OF[c]
        if opt == "tun-type":
            if val != "ipip":
                raise ParseError(f'lab does not support ipvsadm --tun-type {val} yet (ipip is).')
            continue
        if opt in given:
            raise _fail(f"multiple '{opt}' options specified")
        given.append(opt)
        if c in "tu":
            proto = "tcp" if c == "t" else "udp"
            svc_word = val
        elif c == "f":
            try:
                mark = int(val or "", 10)
            except ValueError:
                mark = 0
            if not 0 < mark <= 0xFFFFFFFF:
                raise _fail(f"invalid fwmark value `{val}' specified")
            f["svc"] = Service(fwmark=mark)
        elif c == "s":
            f["sched"] = (val or "")[:15]
        elif c == "p":
            if val is None:
                f["persistent"] = PERSISTENT_TIMEOUT
            else:
                t = _number(val, 1, 86400 * 31)
                if t is None:
                    raise _fail(f"invalid timeout value `{val}' specified")
                f["persistent"] = t
        elif c == "M":
            f["netmask"] = val
        elif c == "r":
            real_word = val
        elif c in FWD:
            f["fwd"] = FWD[c]
        elif c in "wxy":
            hi = 2**31 - 1                 # ipvsadm 1.31: weight, u/l-threshold are 0..INT_MAX
            n = _number(val or "", 0, hi)
            if n is None:
                raise _fail(f"illegal {opt.replace('-', '_') if c != 'w' else 'weight'} specified")
            f[{"w": "weight", "x": "u_threshold", "y": "l_threshold"}[c]] = n
        elif c == "n":
            f["numeric"] = True
        elif c == "o":
            f["ops"] = True
        elif c in ("stats", "rate", "thresholds", "persistent-conn"):
            if f.get("fmt"):
                raise _fail("options conflicts in the list command")
            f["fmt"] = c
        elif c in ("nosort", "exact"):
            f[c] = True
        elif c == "tun-type":              # ipip is IPVS's tunnel (and the default); gue and gre are not yet
            if val != "ipip":
                raise ParseError(f'lab does not support ipvsadm --tun-type {val} yet (ipip is).')
    if cmd is None:
        raise ParseError("ipvsadm: no command specified", "Try: ipvsadm -Ln, or ipvsadm -A -t ADDR:PORT -s rr")
    if svc_word is not None:
        parsed = parse_service(svc_word, proto)
        if parsed is None:
            raise _fail("illegal virtual server address[:port] specified")
        af, addr, port, _given = parsed
        f["svc"] = Service(proto=proto, af=af, addr=addr, port=port)
    if real_word is not None:
        parsed = parse_service(real_word, proto)
        if parsed is None:
            raise _fail("illegal real server address[:port] specified")
        _af, addr, port, port_given = parsed
        f["dest_addr"] = addr
        svc = f.get("svc")
        f["dest_port"] = port if port_given else (svc.port if svc else 0)
    if "netmask" in f and f["netmask"] is not None:
        svc = f.get("svc")
        if svc is not None and svc.af == socket.AF_INET6:
            n = _number(f["netmask"], 1, 128)
            if n is None:
                raise _fail("illegal ipv6 netmask specified")
        else:
            try:
                socket.inet_aton(f["netmask"])
            except OSError:
                raise _fail("illegal virtual server persistent mask specified") from None
    _check_table(cmd, given)
    svc = f.get("svc")
    if cmd in ("add", "edit"):
        if svc is not None and not svc.fwmark and not svc.port and "persistent" not in f:
            raise _fail("Zero port specified for non-persistent service")
        if f.get("ops") and svc is not None and not svc.fwmark and svc.proto != "udp":
            raise _fail("One-Packet Scheduling is only for UDP virtual services")
        if not f.get("sched"):
            f["sched"] = DEF_SCHED
    if cmd in ("adddest", "editdest") and svc is not None and not svc.fwmark and f.get("fwd", "droute") != "masq":
        f["dest_port"] = svc.port      # direct routing and tunnelling keep the service's port
    return IpvsOp(ns, cmd=cmd, given=frozenset(given), **f)


def _check_table(cmd: str, given: list[str]) -> None:
    """generic_opt_check: the options a command needs, forbids, or takes one of."""
    row = _TABLE[cmd]
    last = None
    for j, opt in enumerate(OPTNAMES):
        mark = row[j]
        if opt not in given:
            if mark == "+":
                raise _fail(f"You need to supply the '{opt}' option for the '{CMDNAMES[cmd]}' command")
        elif mark == "x":
            raise _fail(f"Illegal '{opt}' option with the '{CMDNAMES[cmd]}' command")
        elif mark == "1":
            if last is not None:
                raise _fail(f"The option '{opt}' conflicts with the '{last}' option in the '{CMDNAMES[cmd]}' command")
            last = opt
