"""The probe's bytes are scapy's: lab packs the common probes by hand (importing scapy costs half a second of a
`lab trace` command) and here every one is compared byte for byte with what scapy itself builds for the same
fields: TCP with any flag set, UDP, every ICMP type, payloads, --size padding, DF, TTL, ports, ids."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.commands.tracespec import TraceSpec
from lab.tracer import probe

pytestmark = pytest.mark.fast

addrs = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))


@settings(max_examples=400, deadline=None)
@given(proto=st.sampled_from(["tcp", "udp", "icmp"]), src=addrs, dst=addrs, ttl=st.integers(1, 255),
       ip_id=st.integers(1, 0xFFFF), df=st.booleans(), sport=st.integers(1, 65535), dport=st.integers(1, 65535),
       flags=st.text("FSRPAUEC", min_size=1, max_size=8), seq=st.integers(0, 2**32 - 1),
       icmp_type=st.integers(0, 255), icmp_id=st.integers(0, 0xFFFF), payload=st.text(max_size=40),
       pad=st.integers(0, 64) | st.none())
def test_hand_packed_probe_equals_scapys(proto, src, dst, ttl, ip_id, df, sport, dport, flags, seq, icmp_type, icmp_id,
                                          payload, pad):
    body = payload.encode()
    hdr = probe.l4_header_len(proto, icmp_type)
    size = None if pad is None else 20 + hdr + len(body) + pad
    spec = TraceSpec(ns="a", proto=proto, dst=dst, dport=None if proto == "icmp" else dport, flags=flags, ttl=ttl,
                     payload=payload, df=df, icmp_type=icmp_type, size=size)
    seq = seq if proto == "tcp" else seq & 0xFFFF
    data = body + b"\0" * (pad or 0)
    mine = probe.packet(src, dst, proto, ttl, ip_id, df, sport=sport, dport=spec.dport or 0, flags=flags, seq=seq,
                        icmp_type=icmp_type, icmp_id=icmp_id, data=data)
    ref = probe.by_scapy(spec, src, ip_id, icmp_id, seq, sport=sport)
    if proto == "icmp" and icmp_type in probe.ICMP_BY_SCAPY:
        assert mine is None             # scapy builds these itself (timestamps, RFC 4884 fields)
        return
    assert mine == ref, (mine.hex(), ref.hex())
    if size is not None:
        assert len(mine) == size


def test_every_icmp_type_as_scapy_builds_it():
    for t in range(256):
        spec = TraceSpec(ns="a", proto="icmp", dst="10.0.0.2", icmp_type=t, payload="x", size=40)
        mine = probe.packet("10.0.0.1", "10.0.0.2", "icmp", 64, 7, False, seq=3, icmp_type=t, icmp_id=9,
                            data=b"x" + b"\0" * (40 - 20 - probe.l4_header_len("icmp", t) - 1))
        if t in probe.ICMP_BY_SCAPY:
            assert mine is None
        else:
            assert mine == probe.by_scapy(spec, "10.0.0.1", 7, 9, 3), t


def test_build_gives_the_spec_its_probes_without_importing_scapy():
    """A whole `build` for the usual probes does not need scapy (a fresh interpreter proves it)."""
    import subprocess
    import sys

    code = ("import sys\nfrom lab.commands.tracespec import parse_spec\nfrom lab.tracer import probe\n"
            "for s in ('a icmp 10.0.0.2', 'a tcp 10.0.0.2:80 --flags SA --size 100', 'a udp 10.0.0.2:53 --payload hi'):\n"
            "    ps = probe.build(parse_spec(s, ('a',)), '10.0.0.1', 100)\n"
            "    assert ps and ps[0].data[12:16] == bytes([10, 0, 0, 1])\n"
            "print('scapy' in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stdout + r.stderr
