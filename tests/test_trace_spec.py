"""The trace spec language and the `trace` command parser: pure, no kernel."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from lab.commands import parse
from lab.commands.base import Context
from lab.errors import LabError
from lab.commands.tracespec import TraceSpec, parse_spec

pytestmark = pytest.mark.fast   # pure: no kernel, no sandboxed lab (pytest -m fast)


def test_examples_from_the_issue():
    s = parse_spec("fox icmp 192.168.202.12")
    assert (s.ns, s.proto, s.dst, s.dport) == ("fox", "icmp", "192.168.202.12", None)
    s = parse_spec("red tcp 10.0.0.2:80 --sport 1234 --flags S")
    assert (s.ns, s.proto, s.dport, s.sport, s.flags) == ("red", "tcp", 80, 1234, "S")
    s = parse_spec("red udp 10.0.0.2:53 --ttl 5 --count 1 --payload hello --src 10.0.0.9")
    assert (s.ttl, s.count, s.payload, s.src) == (5, 1, "hello", "10.0.0.9")
    assert parse_spec("host icmp 10.0.0.1").ns is None
    assert parse_spec("icmp 10.0.0.1", default_ns="red").ns == "red"


@pytest.mark.parametrize("bad,word", [
    ("", "say what"), ("red", "protocol"), ("red sctp 10.0.0.1", "unknown protocol"),
    ("red tcp 10.0.0.1", "port"), ("red icmp 10.0.0.1:80", "no ports"), ("red tcp 10.0.0.1:0", "range"),
    ("red icmp 10.0.0.300", "IPv4"), ("red tcp 10.0.0.1:80 --flags Z", "flags"),
    ("red icmp 10.0.0.1 --ttl 0", "range"), ("red icmp 10.0.0.1 --spurt 3", "unknown option"),
    ("red udp 10.0.0.1:53 --flags S", "for tcp"), ("red icmp 10.0.0.1 --count", "needs a value"),
    ("red icmp ::1", "IPv4"),
])
def test_bad_specs_say_why(bad, word):
    with pytest.raises(LabError) as e:
        parse_spec(bad)
    assert word in str(e.value)


def test_unknown_namespace_did_you_mean():
    with pytest.raises(LabError) as e:
        parse_spec("foxx icmp 10.0.0.1", namespaces=("fox", "bear"))
    assert 'did you mean "fox"' in str(e.value)


def test_command_forms():
    ctx = Context(namespaces=("red", "blue"))
    op = parse("trace red tcp 10.0.0.2:80 --json --pcap /tmp/x.pcap", ctx)
    assert op.ns == "red" and op.json and op.pcap == "/tmp/x.pcap" and op.spec.dport == 80 and not op.mutates
    op = parse("red trace icmp 10.0.0.2", ctx)
    assert op.ns == "red" and op.spec.proto == "icmp"
    op = parse("ip netns exec blue trace udp 10.0.0.1:53", ctx)
    assert op.ns == "blue"
    assert "Usage: trace" in parse("trace help", ctx).text


def test_spec_text_round_trips():
    s = parse_spec("red udp 10.0.0.2:53 --ttl 5 --count 2 --payload 'a b' --src 10.0.0.9 --sport 99")
    assert parse_spec(s.text()) == s


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_string_is_a_spec_or_a_clear_error(text):
    try:
        r = parse_spec(text)
    except LabError:
        return
    except ValueError:  # shlex: unclosed quote
        return
    assert isinstance(r, TraceSpec)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["red", "icmp", "tcp", "udp", "10.0.0.1", "10.0.0.1:80", "--ttl", "5",
                                 "--flags", "SA", "--count", "--sport", "--payload", "x", "--json", "-j"]),
                max_size=8))
def test_command_never_raises_other_errors(words):
    try:
        parse("trace " + " ".join(words), Context(namespaces=("red",)))
    except LabError:
        pass
