"""tc warnings: when the kernel accepts a request but attaches an extended-ack warning to its ack
(NLMSG_ERROR, error 0, NLMSGERR_ATTR_MSG), lab prints it as the real `tc` does. On the real kernel:
lab works in the test's top namespace, the real tc in a second namespace of the same sandbox, with the
same commands; errors keep reading as before."""
from __future__ import annotations

import struct
import subprocess

import pytest

from lab.backend import nsutil
from lab.backend.tc import _warning
from tests.conftest import run_ok

SETUP = ["ip link add v0 type veth peer name v1", "tc qdisc add dev v0 root handle 1: htb"]
HTB_WARNING = "Warning: sch_htb: quantum of class 10001 is big. Consider r2q change."


@pytest.fixture
def real(fresh_top, uniq):
    """Run a shell line in a second, named namespace with the real tools: (returncode, stdout, stderr)."""
    ns = f"real-{uniq}"
    nsutil.create_netns(ns)

    def run(line: str) -> tuple[int, str, str]:
        with nsutil.in_netns(ns):
            r = subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=30)
        return r.returncode, r.stdout, r.stderr

    for line in SETUP:
        assert run(line) == (0, "", ""), line
    return run


def test_htb_quantum_warning_reads_as_real_tc(lab, real):
    run_ok(lab, *SETUP)
    for verb in ("add", "change", "replace"):
        line = f"tc class {verb} dev v0 parent 1: classid 1:1 htb rate 10gbit"
        rc, out, err = real(line)
        assert (rc, out) == (0, "") and err.rstrip("\n") == HTB_WARNING, (line, rc, out, err)
        r = lab.run(line)
        assert r.ok, r.error
        assert r.output == err.rstrip("\n"), line


def test_no_warning_prints_nothing(lab, real):
    run_ok(lab, *SETUP)
    lines = ["tc class add dev v0 parent 1: classid 1:2 htb rate 10mbit",
             "tc class change dev v0 parent 1: classid 1:2 htb rate 12mbit",
             "tc filter add dev v0 parent 1: protocol ip prio 1 u32 match ip dst 10.9.0.1/32 flowid 1:2",
             "tc filter del dev v0 parent 1: prio 1",
             "tc class del dev v0 classid 1:2",
             "tc qdisc add dev v0 ingress",
             "tc qdisc del dev v0 ingress",
             "tc qdisc replace dev v0 root handle 2: tbf rate 1mbit burst 32k latency 50ms",
             "tc qdisc del dev v0 root"]
    for line in lines:
        assert real(line) == (0, "", ""), line
        r = lab.run(line)
        assert r.ok, (line, r.error)
        assert r.output == "", line


def test_errors_read_as_before(lab, real):
    run_ok(lab, *SETUP, "tc qdisc add dev v0 ingress")
    assert real("tc qdisc add dev v0 ingress") == (0, "", "")
    cases = {   # the kernel's extack error, through lab's kernel_says path, as real tc prints it
        "tc qdisc change dev v0 root handle 1: htb r2q 5": "Error: Change operation not supported by specified qdisc.",
        "tc qdisc add dev v0 parent ffff: handle 5: pfifo": "Error: Cannot add children to ingress/clsact qdisc.",
    }
    for line, text in cases.items():
        rc, out, err = real(line)
        assert rc != 0 and err.splitlines()[0] == text, (line, err)
        r = lab.run(line)
        assert not r.ok and r.error == text, (line, r.error)
        assert r.output == ""
    # a refusal lab words itself is unchanged too
    r = lab.run("tc class add dev v0 parent 1: classid 1:1 htb rate 10mbit ceil 1mbit")
    assert not r.ok and r.error == 'htb: "ceil" must be at least "rate".'


class _Ack(dict):
    """What pyroute2 hands back for an ack: a dict with the raw message in data/offset."""

    def __init__(self, raw: bytes, error: int = 0):
        flags, = struct.unpack_from("=H", raw, 6)
        super().__init__(header={"type": 2, "flags": flags, "length": len(raw)}, error=error)
        self.data, self.offset = b"\0" * 8 + raw, 8


def _ack(text: bytes | None, error: int = 0) -> bytes:
    tlv = b""
    if text is not None:
        body = text + b"\0"
        tlv = struct.pack("=HH", 4 + len(body), 1) + body + b"\0" * (-len(body) % 4)
    flags = 0x100 | (0x200 if tlv else 0)             # NLM_F_CAPPED | NLM_F_ACK_TLVS
    echoed = struct.pack("=IHHII", 2152, 44, 0x405, 7, 0)  # the request's header only
    payload = struct.pack("=i", error) + echoed + tlv
    return struct.pack("=IHHII", 16 + len(payload), 2, flags, 7, 0) + payload


def test_warning_wording():
    assert _warning([_Ack(_ack(b"sch_htb: quantum of class 10001 is big. Consider r2q change."))]) == HTB_WARNING
    assert _warning([_Ack(_ack(b"no full stop here"))]) == "Warning: no full stop here."   # tc adds the "."
    assert _warning([_Ack(_ack(None))]) == ""
    assert _warning([_Ack(_ack(b""))]) == ""
    assert _warning([]) == ""
