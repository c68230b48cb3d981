"""`lab trace` on the command line: it enters its own sandbox, builds the lab from --setup FILE, prints
the timeline as text or --json, writes --pcap, and answers usage errors without a traceback."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETUP = """\
# two namespaces on a veth
ip netns add red
ip netns add blue
ip link add v-red netns red type veth peer name v-blue netns blue
ip -n red addr add 10.0.0.1/24 dev v-red
ip -n blue addr add 10.0.0.2/24 dev v-blue
ip -n red link set v-red up
ip -n blue link set v-blue up
"""


def lab(*argv, timeout=60):
    return subprocess.run([sys.executable, "-m", "lab", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def setup_file(tmp_path):
    f = tmp_path / "lab.txt"
    f.write_text(SETUP)
    return str(f)


def test_text_timeline(setup_file):
    r = lab("trace", "--setup", setup_file, "red", "icmp", "10.0.0.2")
    assert r.returncode == 0, r.stderr
    assert "red sends ICMP echo-request 10.0.0.1 -> 10.0.0.2" in r.stdout
    assert "blue accepts it" in r.stdout and "result: answered" in r.stdout
    assert r.stderr == ""        # no noise (pyroute2's async generators left half-read said "Task was destroyed")


def test_json_and_pcap(setup_file, tmp_path):
    pcap = tmp_path / "out.pcap"
    r = lab("trace", "--setup", setup_file, "--json", "--pcap", str(pcap), "red", "tcp", "10.0.0.2:80", "--sport", "1234")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["outcome"] == "answered" and d["hops"][0]["before"]["sport"] == 1234
    assert pcap.stat().st_size > 100


def test_errors_are_plain(setup_file):
    r = lab("trace", "--setup", setup_file, "red", "tcp", "10.0.0.2")
    assert r.returncode != 0 and "port" in r.stderr and "Traceback" not in r.stderr
    r = lab("trace", "--setup", setup_file, "green", "icmp", "10.0.0.2")
    assert r.returncode != 0 and "green" in r.stderr and "Traceback" not in r.stderr
    r = lab("trace")
    assert r.returncode == 2 and "usage" in r.stderr


def test_a_trace_command_starts_light(setup_file):
    """`lab trace` loads what a trace needs and no more (issue 17's start-up: at most 0.6 s in all, measured by
    bench/bench_trace.py --cli): not scapy (the probe is packed by hand; only --pcap and a few ICMP types need it)
    and not pyroute2's package body (all of pyroute2: NDB, IPDB, conntrack...; lab's own netlink does the work)."""
    code = ("import sys\nfrom lab.cli import main\n"
            f"rc = main(['trace', '--setup', {setup_file!r}, 'red', 'tcp', '10.0.0.2:80'])\n"
            "print('RC', rc, 'HEAVY', [m for m in ('scapy', 'pyroute2.iproute', 'pyroute2.ndb', 'textual') "
            "if m in sys.modules])\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "red sends TCP [S]" in r.stdout and "RC 0 HEAVY []" in r.stdout, r.stdout + r.stderr
