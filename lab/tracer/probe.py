"""Build the probe with scapy (imported here, lazily) and send it from inside the source namespace
through an AF_INET/SOCK_RAW/IPPROTO_RAW socket, so the sender's own routing, OUTPUT and POSTROUTING
are part of the trace. scapy only builds bytes: its process-global routing table is never consulted
(src is always given). Leaves to others: the rules that mark the probe, reading the events.
"""
from __future__ import annotations

import os
import random
import socket
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


def build(spec: TraceSpec, src: str, ip_id0: int) -> list[Probe]:
    s = scapy()
    out = []
    sport = spec.sport if spec.sport is not None else random.randint(33000, 60999)
    icmp_id = random.randint(1, 0xFFFF)
    for i in range(spec.count):
        ip = s.IP(src=src, dst=spec.dst, ttl=spec.ttl, id=(ip_id0 + i) & 0xFFFF, flags="DF" if spec.df else 0)
        if spec.proto == "icmp":
            l4 = s.ICMP(type=spec.icmp_type, id=icmp_id, seq=i + 1)
            seq = i + 1
        elif spec.proto == "tcp":
            seq = random.randint(1, 2**32 - 1)
            l4 = s.TCP(sport=sport, dport=spec.dport, flags=spec.flags, seq=seq, window=64240)
        else:
            l4 = s.UDP(sport=sport, dport=spec.dport)
            seq = None
        pkt = ip / l4
        data = spec.payload.encode()
        if spec.size is not None:       # padded to the total length asked for
            data += b"\0" * (spec.size - len(ip / l4) - len(data))
        if data:
            pkt = pkt / data
        out.append(Probe(i, (ip_id0 + i) & 0xFFFF, bytes(pkt), src, spec.dst,
                         None if spec.proto == "icmp" else sport, seq))
    return out


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
