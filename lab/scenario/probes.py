"""In-process reachability probes between the lab's namespaces: ICMP echo, TCP connect, UDP
request/answer, and a short TCP throughput measurement. No ping/nc subprocess: each socket is opened
inside its namespace (nsutil.in_netns moves the calling thread; the socket stays bound there), and one
select loop drives both ends. Everything is bounded in time.

Servers (TCP/UDP listeners) answer with their namespace's name, so a check can tell which backend a
DNAT or a kube-proxy-style Service picked. Callers (lab.scenario.checks) decide which addresses are
allowed: this module never chooses a destination itself.
"""
from __future__ import annotations

import errno
import os
import random
import select
import socket
import struct
import time
from dataclasses import dataclass

from lab.backend import nsutil


@dataclass
class Probe:
    ok: bool
    detail: str                    # one sentence: what happened
    answered_by: str | None = None  # the namespace that answered (tcp/udp)
    rtt_ms: float | None = None
    rate_bps: float | None = None   # throughput
    sent: int = 0                   # ping_series: echo requests sent, replies received, their RTTs (ms)
    received: int = 0
    rtts: tuple[float, ...] = ()

    @property
    def loss_pct(self) -> float:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 100.0

    def stats(self) -> str:
        """As ping's summary says it: "10 sent, 9 received, 10% loss, rtt min/avg/max 0.1/0.2/0.4 ms"."""
        s = f"{self.sent} sent, {self.received} received, {self.loss_pct:.0f}% loss"
        if self.rtts:
            lo, avg, hi = min(self.rtts), sum(self.rtts) / len(self.rtts), max(self.rtts)
            s += f", rtt min/avg/max {lo:.3g}/{avg:.3g}/{hi:.3g} ms"
        return s


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def _errtext(code: int | None) -> str:
    if code is None:   # an OSError raised without an errno
        return "unknown error"
    return {errno.ECONNREFUSED: "connection refused (a TCP RST or ICMP port unreachable came back: "
                                "nothing listens there, or a REJECT rule)",
            errno.EHOSTUNREACH: "no route to host (ICMP host unreachable, or ARP got no answer)",
            errno.ENETUNREACH: "network is unreachable (no route in the sender's table)",
            errno.ETIMEDOUT: "timed out",
            errno.EACCES: "permission denied (a REJECT rule in the sender's OUTPUT chain?)",
            errno.EPERM: "operation not permitted (a DROP/REJECT rule in the sender's OUTPUT chain?)",
            errno.EADDRNOTAVAIL: "cannot assign the source address (is the interface up with an address?)",
            }.get(code, os.strerror(code))


def _sock(ns: str | None, family: int, kind: int, proto: int = 0) -> socket.socket:
    with nsutil.in_netns(ns or None):
        return socket.socket(family, kind, proto)


ICMP_UNREACH = {0: "net unreachable", 1: "host unreachable", 2: "protocol unreachable", 3: "port unreachable",
                9: "network administratively prohibited", 10: "host administratively prohibited",
                13: "communication administratively prohibited (a REJECT rule)"}


def ping(src_ns: str | None, dst: str, timeout: float = 2.0) -> Probe:
    """ICMP echo from src_ns to dst: success on an echo reply with our id."""
    s = _sock(src_ns, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    try:
        ident = random.randrange(1, 0xFFFF)
        payload = b"lab-check-" + os.urandom(6)
        deadline = time.monotonic() + timeout
        seq = 0
        next_send = 0.0
        sent_at = 0.0
        last: Probe | None = None
        while True:
            now = time.monotonic()
            if now >= deadline:
                return last or Probe(False, f"no echo reply from {dst} within {timeout:g} s "
                                            "(the request or the reply was dropped or got lost on the way)")
            if now >= next_send:
                seq += 1
                hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
                pkt = struct.pack("!BBHHH", 8, 0, _checksum(hdr + payload), ident, seq) + payload
                try:
                    s.sendto(pkt, (dst, 0))
                except OSError as e:
                    return Probe(False, f"cannot send to {dst}: {_errtext(e.errno)}")
                sent_at = time.monotonic()
                next_send = sent_at + 0.7
            r, _, _ = select.select([s], [], [], max(0.0, min(deadline, next_send) - time.monotonic()))
            if not r:
                continue
            data, addr = s.recvfrom(65535)
            ihl = (data[0] & 0x0F) * 4
            icmp = data[ihl:]
            if len(icmp) < 8:
                continue
            typ, code, _, rid, _rseq = struct.unpack("!BBHHH", icmp[:8])
            if typ == 0 and rid == ident and icmp[8:] == payload:
                return Probe(True, f"echo reply from {addr[0]}", rtt_ms=(time.monotonic() - sent_at) * 1000)
            if typ in (3, 11) and len(icmp) >= 8 + 20 + 8:
                inner = icmp[8:]
                iihl = (inner[0] & 0x0F) * 4
                ityp, _, _, iid = struct.unpack("!BBHH", inner[iihl:iihl + 6])
                if ityp == 8 and iid == ident:
                    why = ICMP_UNREACH.get(code, f"code {code}") if typ == 3 else "TTL exceeded (a routing loop?)"
                    failed = Probe(False, f"{addr[0]} answered: destination unreachable, {why}"
                                   if typ == 3 else f"{addr[0]} answered: {why}")
                    if typ == 3 and code == 1 and time.monotonic() + 0.7 < deadline:
                        last = failed   # host unreachable (ARP failed): a link just brought up may still be
                        continue        # settling (carrier, a stale FAILED entry): keep asking until the deadline
                    return failed
    finally:
        s.close()


def ping_series(src_ns: str | None, dst: str, count: int, interval: float = 0.1, timeout: float = 2.0) -> Probe:
    """`count` ICMP echo requests from src_ns to dst, one every `interval` seconds, each sent once (a lost one
    counts as lost), then up to `timeout` seconds for the last replies: what ping's summary reports (sent,
    received, loss, RTT min/avg/max). ok when at least one reply came back; an ICMP error (unreachable) ends it."""
    s = _sock(src_ns, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    try:
        ident = random.randrange(1, 0xFFFF)
        payload = b"lab-check-" + os.urandom(6)
        sent_at: dict[int, float] = {}
        rtts: dict[int, float] = {}
        next_send = time.monotonic()
        deadline = None
        error = ""
        while True:
            now = time.monotonic()
            if len(sent_at) < count and now >= next_send:
                seq = len(sent_at) + 1
                hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
                pkt = struct.pack("!BBHHH", 8, 0, _checksum(hdr + payload), ident, seq) + payload
                try:
                    s.sendto(pkt, (dst, 0))
                except OSError as e:
                    if not sent_at:
                        return Probe(False, f"cannot send to {dst}: {_errtext(e.errno)}")
                    error = f"cannot send to {dst}: {_errtext(e.errno)}"
                    break
                sent_at[seq] = time.monotonic()
                next_send = sent_at[seq] + interval
                if len(sent_at) == count:
                    deadline = sent_at[seq] + timeout
            if deadline is not None and (now >= deadline or len(rtts) == count):
                break
            wait_until = deadline if deadline is not None else next_send
            r, _, _ = select.select([s], [], [], max(0.0, wait_until - time.monotonic()))
            if not r:
                continue
            data, addr = s.recvfrom(65535)
            t = time.monotonic()
            ihl = (data[0] & 0x0F) * 4
            icmp = data[ihl:]
            if len(icmp) < 8:
                continue
            typ, code, _, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
            if typ == 0 and rid == ident and icmp[8:] == payload and rseq in sent_at and rseq not in rtts:
                rtts[rseq] = (t - sent_at[rseq]) * 1000
            elif typ in (3, 11) and len(icmp) >= 8 + 20 + 8:
                inner = icmp[8:]
                iihl = (inner[0] & 0x0F) * 4
                ityp, _, _, iid = struct.unpack("!BBHH", inner[iihl:iihl + 6])
                if ityp == 8 and iid == ident and not (typ == 3 and code == 1):
                    why = ICMP_UNREACH.get(code, f"code {code}") if typ == 3 else "TTL exceeded (a routing loop?)"
                    error = f"{addr[0]} answered: " + (f"destination unreachable, {why}" if typ == 3 else why)
                    break
        p = Probe(bool(rtts), "", sent=len(sent_at), received=len(rtts), rtts=tuple(rtts[k] for k in sorted(rtts)))
        if p.rtts:
            p.rtt_ms = sum(p.rtts) / len(p.rtts)
        p.detail = p.stats() + (f"; {error}" if error else "" if rtts else
                                f" (no echo reply from {dst} within {timeout:g} s of the last request)")
        return p
    finally:
        s.close()


def _listen(ns: str | None, kind: int, port: int) -> socket.socket | None:
    s = _sock(ns, socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("0.0.0.0", port))
    except OSError as e:
        s.close()
        if e.errno == errno.EADDRINUSE:
            return None  # something of the learner's listens there already: let it answer
        raise
    if kind == socket.SOCK_STREAM:
        s.listen(16)
    s.setblocking(False)
    return s


def tcp(src_ns: str | None, addr: str, port: int, servers: list[str], timeout: float = 2.0,
        server_port: int | None = None) -> Probe:
    """TCP connect from src_ns to addr:port, with a listener on `server_port` (default: port) in each
    server namespace (a DNAT may change the port)."""
    listeners: dict[socket.socket, str] = {}
    conns: list[socket.socket] = []
    c = None
    try:
        for ns in servers:
            ls = _listen(ns, socket.SOCK_STREAM, server_port or port)
            if ls is not None:
                listeners[ls] = ns
        c = _sock(src_ns, socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        rc = c.connect_ex((addr, port))
        if rc not in (0, errno.EINPROGRESS):
            return Probe(False, f"connect to {addr}:{port} failed: {_errtext(rc)}")
        deadline = time.monotonic() + timeout
        connected = False
        got = b""
        t0 = time.monotonic()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                if connected:
                    return Probe(True, f"connected to {addr}:{port} (the server did not say who it is)",
                                 rtt_ms=None)
                return Probe(False, f"no answer from {addr}:{port} within {timeout:g} s (the SYN or the "
                                    "SYN/ACK was dropped silently: a DROP rule, a missing route or return route, "
                                    "ip_forward off, a link down...)")
            rl = list(listeners) + ([c] if connected else [])
            wl = [] if connected else [c]
            r, w, _ = select.select(rl, wl, [], left)
            for s in r:
                if s in listeners:
                    try:
                        conn, _ = s.accept()
                    except BlockingIOError:
                        continue
                    conn.setblocking(True)
                    try:
                        conn.sendall(listeners[s].encode() or b"host")
                    except OSError:
                        pass
                    conn.close()
                elif s is c:
                    try:
                        data = c.recv(256)
                    except OSError as e:
                        return Probe(False, f"connected to {addr}:{port}, then: {_errtext(e.errno)}")
                    if not data:
                        who = got.decode(errors="replace") or None
                        if who == "host" and "" in servers:
                            who = ""
                        return Probe(True, f"connected to {addr}:{port}" + (f", answered by {who or 'host'}"
                                                                            if got else ""),
                                     answered_by=who, rtt_ms=(time.monotonic() - t0) * 1000)
                    got += data
            if w and not connected:
                err = c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    return Probe(False, f"connect to {addr}:{port} failed: {_errtext(err)}")
                connected = True
    finally:
        for s in list(listeners) + conns + ([c] if c else []):
            s.close()


def udp(src_ns: str | None, addr: str, port: int, servers: list[str], timeout: float = 2.0,
        server_port: int | None = None) -> Probe:
    """A UDP datagram from src_ns to addr:port; success when a server namespace's answer comes back."""
    listeners: dict[socket.socket, str] = {}
    c = None
    try:
        for ns in servers:
            ls = _listen(ns, socket.SOCK_DGRAM, server_port or port)
            if ls is not None:
                listeners[ls] = ns
        c = _sock(src_ns, socket.AF_INET, socket.SOCK_DGRAM)
        c.setblocking(False)
        try:
            c.connect((addr, port))
        except OSError as e:
            return Probe(False, f"cannot send to {addr}:{port}: {_errtext(e.errno)}")
        deadline = time.monotonic() + timeout
        next_send = 0.0
        t0 = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= deadline:
                return Probe(False, f"no UDP answer from {addr}:{port} within {timeout:g} s (dropped on the way "
                                    "there or back)")
            if now >= next_send:
                try:
                    c.send(b"lab-check")
                except OSError as e:
                    if e.errno != errno.ECONNREFUSED:
                        return Probe(False, f"cannot send to {addr}:{port}: {_errtext(e.errno)}")
                next_send = now + 0.5
            r, _, _ = select.select(list(listeners) + [c], [], [], max(0.0, min(deadline, next_send) - now))
            for s in r:
                if s is c:
                    try:
                        data = c.recv(256)
                    except OSError as e:
                        return Probe(False, f"{addr}:{port}: {_errtext(e.errno)}")
                    who = data.decode(errors="replace")
                    who = "" if who == "host" else who
                    return Probe(True, f"answer from {addr}:{port}, sent by {who or 'host'}", answered_by=who,
                                 rtt_ms=(time.monotonic() - t0) * 1000)
                try:
                    _, peer = s.recvfrom(256)
                    s.sendto(listeners[s].encode() or b"host", peer)
                except OSError:
                    pass
    finally:
        for s in list(listeners) + ([c] if c else []):
            s.close()


def throughput(src_ns: str | None, addr: str, port: int, server: str, seconds: float = 1.0,
               timeout: float = 2.0) -> Probe:
    """Push TCP data from src_ns to a sink in `server` for `seconds`; the rate the sink received."""
    ls = _listen(server, socket.SOCK_STREAM, port)
    if ls is None:
        return Probe(False, f"port {port} is already in use in {server or 'host'}: pick another port")
    c = sink = None
    try:
        c = _sock(src_ns, socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        rc = c.connect_ex((addr, port))
        if rc not in (0, errno.EINPROGRESS):
            return Probe(False, f"connect to {addr}:{port} failed: {_errtext(rc)}")
        chunk = b"\0" * 65536
        start = time.monotonic()
        received = 0
        t_first = None
        end = None
        while True:
            now = time.monotonic()
            if sink is None and now - start > timeout:
                return Probe(False, f"could not connect to {addr}:{port} within {timeout:g} s")
            if end is not None and now >= end:
                break
            rl = [ls] if sink is None else [sink]
            r, w, _ = select.select(rl, [c], [], 0.05)
            for s in r:
                if s is ls:
                    sink, _ = ls.accept()
                    sink.setblocking(False)
                    t_first = time.monotonic()
                    end = t_first + seconds
                else:
                    assert sink is not None   # rl is [sink] once it is accepted
                    try:
                        n = len(sink.recv(1 << 20))
                    except BlockingIOError:
                        n = 0
                    received += n
            if w:
                try:
                    c.send(chunk)
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError as e:
                    return Probe(False, f"sending to {addr}:{port} failed: {_errtext(e.errno)}")
        elapsed = time.monotonic() - (t_first or start)
        rate = received * 8 / elapsed if elapsed > 0 else 0.0
        return Probe(True, f"{fmt_rate(rate)} ({received} bytes in {elapsed:.2f} s)", rate_bps=rate)
    finally:
        for sk in (ls, c, sink):
            if sk is not None:
                sk.close()


def fmt_rate(bps: float) -> str:
    for unit, f in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bps >= f:
            return f"{bps / f:.2f} {unit}"
    return f"{bps:.0f} bit/s"
