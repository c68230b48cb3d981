"""Build the probe and send it from inside the source namespace through an AF_INET/SOCK_RAW/IPPROTO_RAW
socket, so the sender's own routing, OUTPUT and POSTROUTING are part of the trace.

The probe's bytes are scapy's: `IP(...)/TCP|UDP|ICMP(...)/payload` exactly as scapy builds them (tests prove it
byte for byte against scapy for every protocol, flag set and ICMP type). The common ones are packed here by
hand, since importing scapy costs about half a second of a `lab trace` command's start; ICMP types whose
layout scapy fills with the time or with RFC 4884 extensions (3, 11, 12, 13, 14) are built by scapy itself
(imported then, lazily). scapy's process-global routing table is never consulted (src is always given).
Leaves to others: the rules that mark the probe, reading the events.
"""
from __future__ import annotations

import os
import random
import socket
import struct
from dataclasses import dataclass

from lab.backend import nsutil
from lab.commands.tracespec import TraceSpec

_scapy = None


def scapy():
    """The scapy layers module (imported on first use: about half a second)."""
    global _scapy
    if _scapy is None:
        import logging

        logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
        from scapy.layers import inet

        _scapy = inet
    return _scapy


@dataclass(frozen=True)
class Probe:
    index: int
    ip_id: int
    data: bytes
    src: str
    dst: str
    sport: int | None
    seq: int | None            # tcp sequence number, icmp echo seq


TCP_BITS = {c: 1 << i for i, c in enumerate("FSRPAUEC")}
ICMP_ID_SEQ = (0, 8, 15, 16, 17, 18, 37, 38)   # scapy: id and seq after the checksum (17, 18: an address mask too)
ICMP_BY_SCAPY = (3, 11, 12, 13, 14)         # timestamps, RFC 4884 extension fields: scapy builds these


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def packet(src: str, dst: str, proto: str, ttl: int, ip_id: int, df: bool, *, sport: int = 0, dport: int = 0,
           flags: str = "", seq: int = 0, icmp_type: int = 8, icmp_id: int = 0, data: bytes = b"") -> bytes | None:
    """The probe's bytes as scapy builds them, or None for an ICMP type left to scapy (ICMP_BY_SCAPY)."""
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    if proto == "icmp":
        if icmp_type in ICMP_BY_SCAPY:
            return None
        rest = struct.pack("!HH", icmp_id, seq) if icmp_type in ICMP_ID_SEQ else b""
        if icmp_type in (5, 17, 18) or icmp_type not in ICMP_ID_SEQ[:4]:   # gw, addr_mask, or 'unused' (int)
            rest += b"\0\0\0\0"
        l4 = struct.pack("!BBH", icmp_type, 0, 0) + rest + data
        l4 = l4[:2] + struct.pack("!H", _csum(l4)) + l4[4:]
        num = socket.IPPROTO_ICMP
    else:
        if proto == "tcp":
            bits = sum(TCP_BITS[c] for c in set(flags))
            l4 = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, bits, 64240, 0, 0) + data
            num, at = socket.IPPROTO_TCP, 16
        else:
            l4 = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
            num, at = socket.IPPROTO_UDP, 6
        c = _csum(s + d + struct.pack("!BBH", 0, num, len(l4)) + l4)
        if num == socket.IPPROTO_UDP and c == 0:
            c = 0xFFFF
        l4 = l4[:at] + struct.pack("!H", c) + l4[at + 2:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ip_id, 0x4000 if df else 0, ttl, num, 0, s, d)
    return ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:] + l4


def l4_header_len(proto: str, icmp_type: int) -> int:
    """The transport header's length in the probe (what --size pads around)."""
    if proto != "icmp":
        return {"tcp": 20, "udp": 8}[proto]
    return 12 if icmp_type in (17, 18, 37, 38) else 8


def build(spec: TraceSpec, src: str, ip_id0: int) -> list[Probe]:
    out = []
    sport = spec.sport if spec.sport is not None else random.randint(33000, 60999)
    icmp_id = random.randint(1, 0xFFFF)
    payload = spec.payload.encode()
    for i in range(spec.count):
        ip_id = (ip_id0 + i) & 0xFFFF
        seq = i + 1 if spec.proto == "icmp" else random.randint(1, 2**32 - 1) if spec.proto == "tcp" else None
        data = payload
        if spec.size is not None:       # padded to the total length asked for
            data += b"\0" * (spec.size - 20 - l4_header_len(spec.proto, spec.icmp_type) - len(data))
        raw = packet(src, spec.dst, spec.proto, spec.ttl, ip_id, spec.df, sport=sport, dport=spec.dport or 0,
                     flags=spec.flags, seq=seq or 0, icmp_type=spec.icmp_type, icmp_id=icmp_id, data=data)
        if raw is None:
            raw = by_scapy(spec, src, ip_id, icmp_id, seq or 0)
        out.append(Probe(i, ip_id, raw, src, spec.dst, None if spec.proto == "icmp" else sport, seq))
    return out


def by_scapy(spec: TraceSpec, src: str, ip_id: int, icmp_id: int, seq: int, sport: int = 0) -> bytes:
    """The probe built by scapy itself (the ICMP types whose layout it fills; the tests' reference for all)."""
    s = scapy()
    ip = s.IP(src=src, dst=spec.dst, ttl=spec.ttl, id=ip_id, flags="DF" if spec.df else 0)
    if spec.proto == "icmp":
        l4 = s.ICMP(type=spec.icmp_type, id=icmp_id, seq=seq)
    elif spec.proto == "tcp":
        l4 = s.TCP(sport=sport, dport=spec.dport, flags=spec.flags, seq=seq, window=64240)
    else:
        l4 = s.UDP(sport=sport, dport=spec.dport)
    pkt = ip / l4
    data = spec.payload.encode()
    if spec.size is not None:
        data += b"\0" * (spec.size - len(pkt) - len(data))
    return bytes(pkt / data if data else pkt)


def pick_ip_ids(count: int) -> int:
    """A random first IP id such that the range does not wrap and never uses 0 (the kernel fills 0)."""
    return int.from_bytes(os.urandom(2), "big") % (0xFFFF - count - 1) + 1


def send(ns: str | None, probes: list[Probe]) -> OSError | None:
    """Send the probes from inside `ns`; returns the socket's error (no route, too big...) or None."""
    with nsutil.in_netns(ns):
        sk = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        for p in probes:
            try:
                sk.sendto(p.data, (p.dst, 0))
            except OSError as e:
                return e
    finally:
        sk.close()
    return None
