"""The trace-marking rules: a table `lab_trace` (ip, and bridge where a bridge exists) in every lab
namespace, installed for one trace and removed after, scoped to the probe:

  ip lab_trace
    mark_pre  prerouting -350 / mark_out output -350:  ip id LO..HI, protocol P, length L -> nftrace;
              the answer's stateless signature (echo id / reply port / ICMP error quoting the id) -> nftrace;
              a VXLAN datagram (ENCAP_PORTS) whose inner packet is the probe or its answer -> nftrace
    ct_pre    prerouting -199 / ct_out   output -199:  the same match -> ct mark set M;
                                                       ct mark M (replies, ICMP errors) -> nftrace
    obs_pre   prerouting  -99 (after DNAT), obs_in / obs_fwd / obs_out / obs_post at 500 (after SNAT):
              empty observers whose policy events show each hook crossed and the rewritten headers
  bridge lab_trace
    mark_pre  prerouting -350 (same matches, requests and answers), obs_in / obs_fwd / obs_post at 500
  guard     (--host only) postrouting 1000 in both families: the probe, its answers and anything of its
            connection leaving through an interface that leaves the machine (a physical NIC, a tun/tap handed
            to a program, a WireGuard tunnel) -> drop: the tracer never sends traffic off the machine

Every marking rule carries a `limit` so a colliding flood can never turn into an event storm.
Leaves to others: sending the probe (probe.py) and reading the events (nfnl.TraceListener).
"""
from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from lab.tracer import nfnl as N

TABLE = "lab_trace"
# VXLAN's UDP ports (IANA's and the kernel's default): an outer datagram to one of them that carries the probe
# or its answer is marked too. Inside it: UDP header 8, VXLAN header 8, inner Ethernet 14, then the inner IP.
ENCAP_PORTS = (4789, 8472)
INNER_IP = 8 + 8 + 14
OWN_CHAINS = {"mark_pre", "mark_out", "ct_pre", "ct_out", "obs_pre", "obs_in", "obs_fwd", "obs_out", "obs_post"}
GUARD = "guard"         # (not an observer: its drop is a hop of the trace)


@dataclass(frozen=True)
class ProbeMatch:
    id_lo: int
    id_hi: int
    proto: int          # IPPROTO_*
    length: int         # IP total length
    ctmark: int         # 32-bit mark put on the probe's conntrack entries
    reply_port: int | None = None   # tcp/udp: the probe's source port, the answer's destination port
    echo_id: int | None = None      # icmp echo request: the identifier its echo reply carries back
    encap_ports: tuple[int, ...] = ENCAP_PORTS   # VXLAN UDP ports whose datagrams may carry the probe


def _id_range(m: ProbeMatch, off: int, base: int = N.NFT_PAYLOAD_NETWORK) -> list[bytes]:
    """The probe's IP id (or id range) at `off` from `base`: its own header, a quoted one, an inner one."""
    out = [N.e_payload(off, 2, base)]
    if m.id_lo == m.id_hi:
        return out + [N.e_cmp(struct.pack(">H", m.id_lo))]
    return out + [N.e_cmp(struct.pack(">H", m.id_lo), N.NFT_CMP_GTE), N.e_cmp(struct.pack(">H", m.id_hi), N.NFT_CMP_LTE)]


def _ip_match(m: ProbeMatch) -> list[bytes]:
    return _id_range(m, 4) + [N.e_payload(9, 1), N.e_cmp(bytes([m.proto])), N.e_payload(2, 2),
                              N.e_cmp(struct.pack(">H", m.length))]


def _reply_matches(m: ProbeMatch) -> list[list[bytes]]:
    """Stateless signatures of what answers the probe, for hooks where its conntrack mark cannot be
    read: before conntrack (the raw table, priority -300) and on a bridge (no conntrack there). The
    answer (echo reply with the probe's identifier, or a segment/datagram to the probe's source port),
    and ICMP errors quoting the probe's IP id."""
    th = N.NFT_PAYLOAD_TRANSPORT
    proto = [N.e_payload(9, 1)]
    out = []
    if m.echo_id is not None:
        out.append(proto + [N.e_cmp(bytes([socket.IPPROTO_ICMP])), N.e_payload(0, 1, th), N.e_cmp(b"\x00"),
                            N.e_payload(4, 2, th), N.e_cmp(struct.pack(">H", m.echo_id))])
    if m.reply_port is not None:
        out.append(proto + [N.e_cmp(bytes([m.proto])), N.e_payload(2, 2, th), N.e_cmp(struct.pack(">H", m.reply_port))])
    # destination unreachable (3) or time exceeded (11), in one rule: (type & 0xf7) == 3 holds for those two
    # types only; the quoted IP header's id
    out.append(proto + [N.e_cmp(bytes([socket.IPPROTO_ICMP])), N.e_payload(0, 1, th), N.e_bitwise(b"\xf7", b"\x00"),
                        N.e_cmp(b"\x03")] + _id_range(m, 12, th))
    return out


def _encap_matches(m: ProbeMatch) -> list[list[bytes]]:
    """Outer VXLAN datagrams carrying the probe (inner IP id and protocol) or its answer (inner echo reply
    with the probe's identifier, or inner segment/datagram to the probe's source port; inner IHL 5)."""
    th = N.NFT_PAYLOAD_TRANSPORT
    ip = INNER_IP
    out = []
    if m.encap_ports:       # one rule per signature for every port: the range between the lowest and highest (a
        # datagram to another port there would still need the probe's id and protocol at the inner offsets)
        lo, hi = min(m.encap_ports), max(m.encap_ports)
        port = [N.e_cmp(struct.pack(">H", lo))] if lo == hi else [
            N.e_cmp(struct.pack(">H", lo), N.NFT_CMP_GTE), N.e_cmp(struct.pack(">H", hi), N.NFT_CMP_LTE)]
        outer = [N.e_payload(9, 1), N.e_cmp(bytes([socket.IPPROTO_UDP])), N.e_payload(2, 2, th)] + port
        out.append(outer + _id_range(m, ip + 4, th) + [N.e_payload(ip + 9, 1, th), N.e_cmp(bytes([m.proto]))])
        if m.echo_id is not None:
            out.append(outer + [N.e_payload(ip + 9, 1, th), N.e_cmp(bytes([socket.IPPROTO_ICMP])),
                                N.e_payload(ip + 20, 1, th), N.e_cmp(b"\x00"), N.e_payload(ip + 24, 2, th),
                                N.e_cmp(struct.pack(">H", m.echo_id))])
        if m.reply_port is not None:
            out.append(outer + [N.e_payload(ip + 9, 1, th), N.e_cmp(bytes([m.proto])), N.e_payload(ip + 22, 2, th),
                                N.e_cmp(struct.pack(">H", m.reply_port))])
    return out


def _nftrace(limit: int) -> list[bytes]:
    return [N.e_limit(limit, 1, limit), N.e_imm(b"\x01"), N.e_meta_set(N.NFT_META_NFTRACE)]


def install_msgs(s: N.NfnlSocket, m: ProbeMatch, bridge: bool, limit: int = 200,
                 guard: tuple[int, ...] = (), clean: bool = False) -> tuple[list[bytes], set[int]]:
    """One batch that (re)creates the trace tables in the socket's namespace; returns (bytes, ack seqs).
    `guard`: ifindexes (in that namespace) through which the probe must not leave the machine. `clean`: this
    tracer removed its tables there after the last trace, so no table left by a killed one can be in the way."""
    msgs: list[bytes] = []
    seq0 = s.next_seq(64)
    seq = seq0 + 1

    def add(builder, *a):
        nonlocal seq
        msgs.append(builder(*a, seq))
        seq += 1

    ip, br = N.NFPROTO_IPV4, N.NFPROTO_BRIDGE
    mark = struct.pack("=I", m.ctmark)
    for fam in ((ip, br) if bridge else (ip,)):
        add(N.msg_table, fam, TABLE)
        if not clean:
            add(N.msg_deltable, fam, TABLE)      # a table left by a killed trace goes too
            add(N.msg_table, fam, TABLE)
    add(N.msg_chain, ip, TABLE, "mark_pre", 0, -350)
    add(N.msg_chain, ip, TABLE, "mark_out", 3, -350)
    add(N.msg_chain, ip, TABLE, "ct_pre", 0, -199)
    add(N.msg_chain, ip, TABLE, "ct_out", 3, -199)
    add(N.msg_chain, ip, TABLE, "obs_pre", 0, -99)
    for name, hook in (("obs_in", 1), ("obs_fwd", 2), ("obs_out", 3), ("obs_post", 4)):
        add(N.msg_chain, ip, TABLE, name, hook, 500)
    for chain in ("mark_pre", "mark_out"):
        add(N.msg_rule, ip, TABLE, chain, _ip_match(m) + _nftrace(limit))
        for sig in _reply_matches(m) + _encap_matches(m):   # answers, so the raw table shows them too;
            add(N.msg_rule, ip, TABLE, chain, sig + _nftrace(limit))  # and tunnel datagrams carrying either
    for chain in ("ct_pre", "ct_out"):
        add(N.msg_rule, ip, TABLE, chain, _ip_match(m) + [N.e_imm(mark), N.e_ct_set(N.NFT_CT_MARK)])
        add(N.msg_rule, ip, TABLE, chain, [N.e_ct_get(N.NFT_CT_MARK), N.e_cmp(mark)] + _nftrace(limit))
    if guard:
        add(N.msg_chain, ip, TABLE, GUARD, 4, 1000)
        for idx in guard:
            oif = [N.e_meta_get(N.NFT_META_OIF), N.e_cmp(struct.pack("=I", idx))]
            add(N.msg_rule, ip, TABLE, GUARD, oif + _ip_match(m) + [N.e_drop()])
            add(N.msg_rule, ip, TABLE, GUARD, oif + [N.e_ct_get(N.NFT_CT_MARK), N.e_cmp(mark), N.e_drop()])
            for sig in _reply_matches(m):
                add(N.msg_rule, ip, TABLE, GUARD, oif + sig + [N.e_drop()])
    if bridge:
        add(N.msg_chain, br, TABLE, "mark_pre", 0, -350)
        for name, hook in (("obs_in", 1), ("obs_fwd", 2), ("obs_post", 4)):
            add(N.msg_chain, br, TABLE, name, hook, 500)
        is_ip = [N.e_meta_get(N.NFT_META_PROTOCOL), N.e_cmp(struct.pack(">H", 0x0800))]
        add(N.msg_rule, br, TABLE, "mark_pre", is_ip + _ip_match(m) + _nftrace(limit))
        for sig in _reply_matches(m):   # answers crossing the bridge
            add(N.msg_rule, br, TABLE, "mark_pre", is_ip + sig + _nftrace(limit))
        if guard:
            add(N.msg_chain, br, TABLE, GUARD, 4, 1000)
            for idx in guard:
                oif = [N.e_meta_get(N.NFT_META_OIF), N.e_cmp(struct.pack("=I", idx))]
                for sig in [_ip_match(m)] + _reply_matches(m):
                    add(N.msg_rule, br, TABLE, GUARD, oif + is_ip + sig + [N.e_drop()])
    return [N.batch(only_last_acked(msgs), seq0)], {seq - 1}


def only_last_acked(msgs: list[bytes]) -> list[bytes]:
    """The batch's messages with NLM_F_ACK on the last one only: the kernel still reports every message that
    fails (and a failure aborts the whole batch), so one ack says the batch is through; 37 acks per namespace
    were as many kernel replies to build and to read."""
    out = []
    for m in msgs[:-1]:
        flags = struct.unpack_from("=H", m, 6)[0] & ~N.NLM_F_ACK
        out.append(m[:6] + struct.pack("=H", flags) + m[8:])
    return out + msgs[-1:]


def remove_msgs(s: N.NfnlSocket, bridge: bool = True) -> tuple[list[bytes], set[int]]:
    """One batch per table (the kernel stops reading a send at the batch end), so a missing bridge
    table cannot abort removing the ip one."""
    seq0 = s.next_seq(8)
    out = [N.batch([N.msg_deltable(N.NFPROTO_IPV4, TABLE, seq0 + 1)], seq0)]
    acks = {seq0 + 1}
    if bridge:
        out.append(N.batch([N.msg_deltable(N.NFPROTO_BRIDGE, TABLE, seq0 + 4)], seq0 + 3))
        acks.add(seq0 + 4)
    return out, acks


PROTO_NUM = {"icmp": socket.IPPROTO_ICMP, "tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP}
