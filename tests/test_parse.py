"""The parser is pure and total: any text gives an Op, None (blank/comment) or a clear ParseError —
never another exception. Plus table tests of iproute2's abbreviations and error wording."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.commands import parse
from lab.commands import ip as c
from lab.commands.base import Context, Op, ParseError
from lab.errors import LabError

pytestmark = pytest.mark.fast   # pure: no kernel, no sandboxed lab (pytest -m fast)

CTX = Context(namespaces=("red", "blue"))
WORDS = ["ip", "-n", "red", "blue", "-j", "-br", "link", "l", "addr", "a", "route", "r", "neigh", "n", "rule",
         "netns", "exec", "add", "del", "set", "s", "show", "get", "flush", "replace", "dev", "veth0", "type",
         "veth", "bridge", "vxlan", "peer", "name", "id", "42", "up", "down", "master", "br0", "mtu", "1400",
         "address", "02:00:00:00:00:01", "10.0.0.1/24", "10.0.0.0/24", "10.0.0.1", "via", "default", "table",
         "100", "metric", "lladdr", "nud", "permanent", "from", "to", "priority", "blackhole", "src", "scope",
         "link", "proto", "static", "–dport", "--", "-", "", "999999999999", "/", "a/b", "help", "tc", "qdisc",
         "iptables", "-t", "nat", "-A", "POSTROUTING", "-j", "MASQUERADE", "sysctl", "-w", "trace", "bridge",
         "fdb", "ping", "'", '"', "#", "\\"]


def _check(line: str) -> None:
    try:
        op = parse(line, CTX)
    except LabError as e:
        assert str(e).strip(), "an error must say something"
        return
    assert op is None or isinstance(op, Op)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(WORDS), min_size=0, max_size=9))
def test_any_word_sequence_gives_op_or_error(words):
    _check(" ".join(words))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_gives_op_or_error(text):
    _check(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ipnetlkadrouvhs -0123456789./:", max_size=40))
def test_ip_ish_text_gives_op_or_error(text):
    _check("ip " + text)


@pytest.mark.parametrize("line,cls", [
    ("ip a", c.AddrShow), ("ip addr", c.AddrShow), ("ip a s", c.AddrShow), ("ip r", c.RouteShow),
    ("ip r s", c.RouteShow), ("ip l", c.LinkShow), ("ip l s veth0 up", c.LinkSet), ("ip n", c.NeighShow),
    ("ip ru", c.RuleShow), ("ip netns", c.NetnsList), ("ip -br -j link", c.LinkShow),
    ("ip link add v0 type veth peer name v1", c.LinkAdd), ("ip r add default via 10.0.0.1", c.RouteChange),
    ("ip route get 10.0.0.1", c.RouteGet), ("ip neigh flush dev v0", c.NeighFlush),
])
def test_abbreviations(line, cls):
    assert isinstance(parse(line, CTX), cls)


def test_namespace_forms_are_equivalent():
    a = parse("ip -n red addr show", CTX)
    b = parse("ip netns exec red ip addr show", CTX)
    d = parse("red ip addr show", CTX)
    assert a == b == d and a.ns == "red"


def test_other_programs_become_exec():
    op = parse("red ping -c1 10.0.0.2", CTX)
    assert isinstance(op, c.ExecOp) and op.ns == "red" and op.argv == ("ping", "-c1", "10.0.0.2")


@pytest.mark.parametrize("line,words", [
    ("ip link set dev veth0 up –dport", ["long dash", "--dport"]),
    ("iptables -A INPUT -p tcp —dport 80 -j ACCEPT", ["long dash", "--dport"]),
    ("ip addr add 10.0.0.1 dev veth0", ["no netmask", "10.0.0.1/24"]),
    ("ip route add 10.0.0.1/24 via 10.0.0.254", ["host bits", "10.0.0.0/24"]),
    ("ip link add foo type bogus", ["Unknown device type"]),
    ("ip lnk", ['Object "lnk" is unknown']),
    ("ipp a", ['did you mean "ip"']),
    ("ip link add vx type vxlan remote 10.0.0.2", ["vxlan", "id N"]),
    ("ip route add 10.1.0.0/16", ["nexthop", "via"]),
    ("ip link set veth0", ["nothing to set"]),
])
def test_errors_read_like_iproute2_and_name_the_fix(line, words):
    with pytest.raises(ParseError) as e:
        parse(line, CTX)
    for w in words:
        assert w in str(e.value)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["fox-bear", "veth-basics", "--step", "-s", "0", "3", "x", "-q", "help", "--help"]),
                max_size=5))
def test_grade_any_words_give_op_or_error(words):
    _check("grade " + " ".join(words))


IPVSADM_WORDS = ["-A", "-E", "-D", "-C", "-L", "-l", "-a", "-e", "-d", "-Z", "-S", "-t", "-u", "-f", "-s", "-p", "-M",
                 "-r", "-g", "-i", "-m", "-w", "-x", "-y", "-n", "-o", "-6", "--stats", "--rate", "--exact",
                 "--tun-type", "ipip", "gue", "10.0.0.1:80", "[2001:db8::1]:443", "[::1", "1.2.3", "rr", "wlc", "0",
                 "-1", "4294967296", "x", "--persistent=3", "-Ln", "-pn", "--weight=5", ":80", "a:b:c", "--nosort",
                 "--thresholds", "-R", "--set", "-c", "help", "255.255.255.0", "http"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(IPVSADM_WORDS), min_size=0, max_size=8))
def test_ipvsadm_any_words_give_op_or_error(words):
    _check("ipvsadm " + " ".join(words))
