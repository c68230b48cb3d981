"""Raw nfnetlink for the tracer: encode the few nf_tables messages the trace rules need, decode the
kernel's NFT_MSG_TRACE events, and dump chains/rules of a table. Pure struct packing over plain
sockets (pyroute2 has no trace decoding and its NFTables cannot be given a namespace).

Leaves to others: which rules to install (lab.tracer.rules), what the events mean (lab.tracer.path).
"""
from __future__ import annotations

import errno
import os
import socket
import struct
import time
from dataclasses import dataclass, field

NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
NETLINK_LISTEN_ALL_NSID = 8
NFNLGRP_NFTRACE = 9

NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
NLM_F_DUMP = 0x300
NLM_F_CREATE, NLM_F_EXCL, NLM_F_APPEND = 0x400, 0x200, 0x800
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLA_F_NESTED = 0x8000

NFNL_SUBSYS_NFTABLES = 10
NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END = 0x10, 0x11
NFT_MSG_NEWTABLE, NFT_MSG_DELTABLE = 0, 2
NFT_MSG_NEWCHAIN, NFT_MSG_GETCHAIN = 3, 4
NFT_MSG_NEWRULE, NFT_MSG_GETRULE = 6, 7
NFT_MSG_TRACE = 17
NFT_MSG_NEWGEN, NFT_MSG_GETGEN = 15, 16

NFPROTO_INET, NFPROTO_IPV4, NFPROTO_BRIDGE = 1, 2, 7
FAMILY_NAMES = {1: "inet", 2: "ip", 3: "arp", 5: "netdev", 7: "bridge", 10: "ip6"}

HOOKS = ("prerouting", "input", "forward", "output", "postrouting")
HOOKNUM = {h: i for i, h in enumerate(HOOKS)}

# verdicts (NF_* and NFT_*)
VERDICTS = {0: "drop", 1: "accept", 2: "stolen", 3: "queue", 4: "repeat", 5: "stop",
            -1: "continue", -2: "break", -3: "jump", -4: "goto", -5: "return"}
TRACE_TYPES = {1: "policy", 2: "return", 3: "rule"}
CT_STATE_BITS = [(8, "new"), (2, "established"), (4, "related"), (1, "invalid"), (64, "untracked")]

# registers / expression constants
NFT_REG_1 = 1
NFT_REG_VERDICT = 0
NFT_PAYLOAD_NETWORK, NFT_PAYLOAD_TRANSPORT = 1, 2
NFT_CMP_EQ, NFT_CMP_LTE, NFT_CMP_GTE = 0, 3, 5
NFT_META_PROTOCOL, NFT_META_OIF, NFT_META_NFTRACE = 1, 5, 12
NFT_CT_MARK = 3


# ---- attribute packing ---------------------------------------------------------------------------------
def _pad(b: bytes) -> bytes:
    return b + b"\0" * ((4 - len(b) % 4) % 4)


def attr(t: int, payload: bytes) -> bytes:
    return _pad(struct.pack("=HH", 4 + len(payload), t) + payload)


def nest(t: int, *children: bytes) -> bytes:
    return attr(t | NLA_F_NESTED, b"".join(children))


def astr(t: int, s: str) -> bytes:
    return attr(t, s.encode() + b"\0")


def be32(t: int, v: int) -> bytes:
    return attr(t, struct.pack(">i" if v < 0 else ">I", v))


def be64(t: int, v: int) -> bytes:
    return attr(t, struct.pack(">Q", v))


def parse_attrs(data: bytes, off: int = 0, end: int | None = None) -> dict[int, bytes]:
    """Flat attribute map (type without flags -> payload); last one wins."""
    out: dict[int, bytes] = {}
    end = len(data) if end is None else end
    while off + 4 <= end:
        ln, t = struct.unpack_from("=HH", data, off)
        if ln < 4:
            break
        out[t & 0x3FFF] = data[off + 4:off + ln]
        off += (ln + 3) & ~3
    return out


def u32be(b: bytes | None) -> int | None:
    return struct.unpack(">I", b[:4])[0] if b and len(b) >= 4 else None


def s32be(b: bytes | None) -> int | None:
    return struct.unpack(">i", b[:4])[0] if b and len(b) >= 4 else None


def cstr(b: bytes | None) -> str:
    return b.split(b"\0", 1)[0].decode(errors="replace") if b else ""


# ---- messages ------------------------------------------------------------------------------------------
def nlmsg(mtype: int, flags: int, seq: int, family: int, payload: bytes, res_id: int = 0) -> bytes:
    body = struct.pack("=BBH", family, 0, socket.htons(res_id)) + payload
    return struct.pack("=IHHII", 16 + len(body), mtype, flags, seq, 0) + body


def nft(msg: int) -> int:
    return (NFNL_SUBSYS_NFTABLES << 8) | msg


# expressions
def expr(name: str, *data: bytes) -> bytes:
    return nest(1, astr(1, name), nest(2, *data))  # NFTA_LIST_ELEM{NFTA_EXPR_NAME, NFTA_EXPR_DATA}


def e_payload(offset: int, length: int, base: int = NFT_PAYLOAD_NETWORK, dreg: int = NFT_REG_1) -> bytes:
    return expr("payload", be32(1, dreg), be32(2, base), be32(3, offset), be32(4, length))


def e_cmp(value: bytes, op: int = NFT_CMP_EQ, sreg: int = NFT_REG_1) -> bytes:
    return expr("cmp", be32(1, sreg), be32(2, op), nest(3, attr(1, value)))


def e_bitwise(mask: bytes, xor: bytes, sreg: int = NFT_REG_1, dreg: int = NFT_REG_1) -> bytes:
    """reg = (reg & mask) ^ xor, over len(mask) bytes."""
    return expr("bitwise", be32(1, sreg), be32(2, dreg), be32(3, len(mask)), nest(4, attr(1, mask)),
                nest(5, attr(1, xor)))


def e_meta_get(key: int, dreg: int = NFT_REG_1) -> bytes:
    return expr("meta", be32(2, key), be32(1, dreg))


def e_meta_set(key: int, sreg: int = NFT_REG_1) -> bytes:
    return expr("meta", be32(2, key), be32(3, sreg))


def e_imm(value: bytes, dreg: int = NFT_REG_1) -> bytes:
    return expr("immediate", be32(1, dreg), nest(2, attr(1, value)))


def e_drop() -> bytes:
    """immediate verdict drop (NFTA_IMMEDIATE_DATA { NFTA_DATA_VERDICT { NFTA_VERDICT_CODE NF_DROP } })."""
    return expr("immediate", be32(1, NFT_REG_VERDICT), nest(2, nest(2, be32(1, 0))))


def e_ct_get(key: int, dreg: int = NFT_REG_1) -> bytes:
    return expr("ct", be32(2, key), be32(1, dreg))


def e_ct_set(key: int, sreg: int = NFT_REG_1) -> bytes:
    return expr("ct", be32(2, key), be32(4, sreg))


def e_limit(rate: int, per_seconds: int = 1, burst: int = 0) -> bytes:
    return expr("limit", be64(1, rate), be64(2, per_seconds), be32(3, burst), be32(4, 0), be32(5, 0))


def msg_table(family: int, name: str, seq: int) -> bytes:
    return nlmsg(nft(NFT_MSG_NEWTABLE), NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK, seq, family,
                 astr(1, name) + be32(2, 0))


def msg_deltable(family: int, name: str, seq: int) -> bytes:
    return nlmsg(nft(NFT_MSG_DELTABLE), NLM_F_REQUEST | NLM_F_ACK, seq, family, astr(1, name))


def msg_chain(family: int, table: str, name: str, hook: int, prio: int, seq: int) -> bytes:
    body = (astr(1, table) + astr(3, name) + nest(4, be32(1, hook), be32(2, prio))
            + be32(5, 1) + astr(7, "filter"))
    return nlmsg(nft(NFT_MSG_NEWCHAIN), NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK, seq, family, body)


def msg_rule(family: int, table: str, chain: str, exprs: list[bytes], seq: int) -> bytes:
    body = astr(1, table) + astr(2, chain) + nest(4, *exprs)
    return nlmsg(nft(NFT_MSG_NEWRULE), NLM_F_REQUEST | NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, seq, family, body)


def batch(msgs: list[bytes], seq: int) -> bytes:
    begin = nlmsg(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq, 0, b"", res_id=NFNL_SUBSYS_NFTABLES)
    end = nlmsg(NFNL_MSG_BATCH_END, NLM_F_REQUEST, seq + len(msgs) + 1, 0, b"", res_id=NFNL_SUBSYS_NFTABLES)
    return begin + b"".join(msgs) + end


def iter_msgs(data: bytes):
    """(type, flags, seq, payload-after-nlmsghdr) for each message in a recv buffer."""
    off = 0
    while off + 16 <= len(data):
        ln, t, fl, seq, _pid = struct.unpack_from("=IHHII", data, off)
        if ln < 16:
            break
        yield t, fl, seq, data[off + 16:off + ln]
        off += (ln + 3) & ~3


class NfnlError(OSError):
    pass


class NfnlSocket:
    """A NETLINK_NETFILTER socket opened in the calling thread's current namespace."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.bind((0, 0))
        self.seq = int.from_bytes(os.urandom(2), "big") << 8

    def close(self) -> None:
        self.sock.close()

    def next_seq(self, n: int = 1) -> int:
        s = self.seq
        self.seq += n
        return s

    def transact(self, payload: bytes, expect_acks: set[int], ignore: tuple[int, ...] = ()) -> None:
        """Send a batch/message and wait for the acks of `expect_acks` seqs; raise the first error."""
        self.sock.send(payload)
        pending = set(expect_acks)
        first_err = None
        while pending:
            data = self.sock.recv(1 << 16)
            for t, _fl, seq, body in iter_msgs(data):
                if t == NLMSG_ERROR:
                    code = struct.unpack_from("=i", body, 0)[0]
                    pending.discard(seq)
                    if code and -code not in ignore and first_err is None:
                        first_err = NfnlError(-code, os.strerror(-code))
        if first_err:
            raise first_err

    def genid(self) -> int | None:
        """The namespace's nf_tables generation (NFT_MSG_GETGEN): it moves with every committed change."""
        seq = self.next_seq()
        self.sock.send(nlmsg(nft(NFT_MSG_GETGEN), NLM_F_REQUEST, seq, 0, b""))
        while True:
            data = self.sock.recv(1 << 16)
            for t, _fl, sq, body in iter_msgs(data):
                if sq != seq:
                    continue
                if t == nft(NFT_MSG_NEWGEN):
                    return u32be(parse_attrs(body, 4).get(1))
                if t == NLMSG_ERROR:
                    return None

    def dump(self, msgtype: int, family: int, body: bytes = b"") -> list[tuple[int, bytes]]:
        """NLM_F_DUMP request; returns (nfgen family, attrs bytes) per message."""
        seq = self.next_seq()
        self.sock.send(nlmsg(nft(msgtype), NLM_F_REQUEST | NLM_F_DUMP, seq, family, body))
        out: list[tuple[int, bytes]] = []
        while True:
            data = self.sock.recv(1 << 20)
            for t, _fl, s, b in iter_msgs(data):
                if s != seq:
                    continue
                if t == NLMSG_DONE:
                    return out
                if t == NLMSG_ERROR:
                    code = struct.unpack_from("=i", b, 0)[0]
                    if code:
                        if -code == errno.ENOENT:
                            return out
                        raise NfnlError(-code, os.strerror(-code))
                    return out
                out.append((b[0], b[4:]))


# ---- dumps ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChainInfo:
    family: str
    table: str
    name: str
    hook: str | None           # None for a regular (jump target) chain
    prio: int = 0
    policy: str = ""
    type: str = ""


def dump_chains(s: NfnlSocket) -> list[ChainInfo]:
    out = []
    for fam, body in s.dump(NFT_MSG_GETCHAIN, 0):
        a = parse_attrs(body)
        hook = prio = None
        if 4 in a:
            h = parse_attrs(a[4])
            hn = u32be(h.get(1))
            hook = HOOKS[hn] if hn is not None and hn < len(HOOKS) else None
            prio = s32be(h.get(2))
        pol = u32be(a.get(5))
        out.append(ChainInfo(FAMILY_NAMES.get(fam, str(fam)), cstr(a.get(1)), cstr(a.get(3)), hook, prio or 0,
                             {0: "drop", 1: "accept"}.get(pol, "") if pol is not None else "", cstr(a.get(7))))
    return out


def dump_rule_handles(s: NfnlSocket, family: int, table: str, chain: str | None = None) -> list[tuple[str, int]]:
    """(chain, handle) of every rule of `table`, in evaluation order. Read in place from the receive buffers,
    each message only as far as its handle (a node's 10,000 rules: the expressions are never looked at)."""
    body = astr(1, table) + (astr(2, chain) if chain else b"")
    seq = s.next_seq()
    s.sock.send(nlmsg(nft(NFT_MSG_GETRULE), NLM_F_REQUEST | NLM_F_DUMP, seq, family, body))
    out: list[tuple[str, int]] = []
    names: dict[bytes, str] = {}
    unpack = struct.unpack_from
    while True:
        data = s.sock.recv(1 << 20)
        off, n = 0, len(data)
        while off + 16 <= n:
            ln, t, _fl, sq, _pid = unpack("=IHHII", data, off)
            if ln < 16:
                break
            if sq == seq:
                if t == NLMSG_DONE:
                    return out
                if t == NLMSG_ERROR:
                    code = unpack("=i", data, off + 16)[0]
                    if code and -code != errno.ENOENT:
                        raise NfnlError(-code, os.strerror(-code))
                    return out
                a, end = off + 20, off + ln          # after the nlmsghdr and the nfgenmsg
                cname, handle = b"", 0
                while a + 4 <= end:
                    alen, atype = unpack("=HH", data, a)
                    if alen < 4:
                        break
                    atype &= 0x3FFF
                    if atype == 2:
                        cname = data[a + 4:a + alen]
                    elif atype == 3:
                        handle = unpack(">Q", data, a + 4)[0]
                        break                         # (table, chain, handle come first)
                    a += (alen + 3) & ~3
                name = names.get(cname)
                if name is None:
                    name = names[cname] = cname.split(b"\0", 1)[0].decode(errors="replace")
                out.append((name, handle))
            off += (ln + 3) & ~3


# ---- trace events --------------------------------------------------------------------------------------
@dataclass
class TraceEvent:
    seq: int                        # arrival index (only used to group events of one chain evaluation)
    nsid: int | None                # namespace id seen from the listener; None = the listener's own
    family: str
    table: str
    chain: str
    type: str                       # rule | policy | return
    handle: int | None = None
    verdict: str = ""
    verdict_code: int | None = None
    jump_chain: str = ""
    trace_id: int = 0
    ll: bytes | None = None
    nh: bytes | None = None
    th: bytes | None = None
    iif: int | None = None
    oif: int | None = None
    mark: int | None = None
    nfproto: int | None = None
    policy: int | None = None
    ct_id: int | None = None
    ct_dir: int | None = None
    ct_status: int | None = None
    ct_state: int | None = None
    extra: dict = field(default_factory=dict)
    t: float = 0.0                  # time.perf_counter() when the tracer received it

    @property
    def ct_state_name(self) -> str:
        if self.ct_state is None:
            return ""
        names = [n for bit, n in CT_STATE_BITS if self.ct_state & bit]
        return ",".join(names)


def _u8_or_be32(v: bytes | None) -> int | None:
    """NFTA_TRACE_CT_DIRECTION is a u8 (nla_put_u8 in nf_trace_fill_ct_info)."""
    if not v:
        return None
    return v[0] if len(v) < 4 else struct.unpack(">I", v[:4])[0]


def decode_trace(body: bytes, nsid: int | None, seq: int) -> TraceEvent:
    fam = body[0]
    a = parse_attrs(body, 4)
    v = parse_attrs(a[5]) if 5 in a else {}
    code = s32be(v.get(1))
    h = a.get(3)
    return TraceEvent(
        seq=seq, nsid=nsid, family=FAMILY_NAMES.get(fam, str(fam)), table=cstr(a.get(1)), chain=cstr(a.get(2)),
        type=TRACE_TYPES.get(u32be(a.get(4)) or 0, "?"), handle=struct.unpack(">Q", h)[0] if h else None,
        verdict=VERDICTS.get(code, str(code)) if code is not None else "", verdict_code=code,
        jump_chain=cstr(v.get(2)), trace_id=u32be(a.get(6)) or 0, ll=a.get(7), nh=a.get(8), th=a.get(9),
        iif=u32be(a.get(10)), oif=u32be(a.get(12)), mark=u32be(a.get(14)), nfproto=u32be(a.get(15)),
        policy=u32be(a.get(16)), ct_id=u32be(a.get(18)), ct_dir=_u8_or_be32(a.get(19)),
        ct_status=u32be(a.get(20)), ct_state=u32be(a.get(21)))


class TraceListener:
    """ONE NETLINK_NETFILTER socket in the calling thread's namespace that hears NFT trace events of
    every namespace having an nsid there (NETLINK_LISTEN_ALL_NSID)."""

    def __init__(self, rcvbuf: int = 4 << 20) -> None:
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:
            s.setsockopt(socket.SOL_SOCKET, 33, rcvbuf)  # SO_RCVBUFFORCE (root in this user ns may be refused)
        except OSError:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.bind((0, 0))
        s.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, NFNLGRP_NFTRACE)
        s.setsockopt(SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, 1)
        s.setblocking(False)
        self.sock = s
        self.count = 0
        self.overrun = False

    def close(self) -> None:
        self.sock.close()

    def fileno(self) -> int:
        return self.sock.fileno()

    def read_ready(self) -> list[TraceEvent]:
        """Every event queued now (non-blocking)."""
        out: list[TraceEvent] = []
        while True:
            try:
                data, anc, _fl, _addr = self.sock.recvmsg(1 << 17, socket.CMSG_SPACE(4))
            except BlockingIOError:
                return out
            except OSError as e:
                if e.errno == errno.ENOBUFS:
                    self.overrun = True
                    continue
                raise
            nsid = None
            for lvl, typ, cd in anc:
                if lvl == SOL_NETLINK and typ == NETLINK_LISTEN_ALL_NSID and len(cd) >= 4:
                    nsid = struct.unpack("=i", cd[:4])[0]
            now = time.perf_counter()
            for t, _fl, _seq, body in iter_msgs(data):
                if t == nft(NFT_MSG_TRACE):
                    ev = decode_trace(body, nsid, self.count)
                    ev.t = now
                    out.append(ev)
                    self.count += 1
