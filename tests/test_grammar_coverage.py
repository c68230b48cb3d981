"""Completion and help cover what the parser accepts: every option of the parser's own tables (bridge,
bridge_slave and vxlan options, rule selectors and actions, route words, tunnel words, link kinds, iptables
matches and targets) is offered by the completer where it belongs and named in the help text; and every
option the completer offers parses (no completion leads to a refusal of the word itself)."""
from __future__ import annotations

import pytest

from lab.commands import ip as c
from lab.commands import parse
from lab.commands.base import Context, ParseError
from lab.commands.complete import LabCompleter


def offered(text: str) -> set[str]:
    return set(LabCompleter().candidates(text)[1])


@pytest.mark.parametrize("kind,table,prefix", [
    ("bridge", c.BRIDGE_OPTS, "ip link add br9 type bridge "),
    ("bridge_slave", c.BRPORT_OPTS, "ip link set v0 type bridge_slave "),
    ("bridge", c.BRIDGE_OPTS, "ip link set br9 type bridge "),
    ("vxlan", dict.fromkeys(c.VXLAN_WORDS), "ip link add vx9 type vxlan id 5 "),
])
def test_kind_options_are_completed_and_in_help(kind, table, prefix):
    got = offered(prefix)
    missing = [o for o in table if o not in got]
    assert not missing, f"completion after '{prefix}' lacks {missing}"
    help_text = c.HELP["link"]
    assert all(o in help_text for o in table), [o for o in table if o not in help_text]


@pytest.mark.parametrize("prefix,words,help_key", [
    ("ip rule add ", c.RULE_WORDS, "rule"),
    ("ip rule show ", c.RULE_SELECTORS, "rule"),
    ("ip route add 10.0.0.0/8 ", c.ROUTE_WORDS, "route"),
    ("ip tunnel add t0 ", c.TUNNEL_WORDS, None),
])
def test_object_words_are_completed_and_in_help(prefix, words, help_key):
    got = offered(prefix)
    assert not [w for w in words if w not in got], [w for w in words if w not in got]
    if help_key:
        assert not [w for w in words if w not in c.HELP[help_key]], [w for w in words if w not in c.HELP[help_key]]


def test_link_kinds_and_objects_are_completed():
    assert set(c.LINK_KINDS) <= offered("ip link add x type ")
    assert {"address", "link", "route", "neighbour", "rule", "netns", "tunnel"} <= offered("ip ")
    assert {"set", "list-id"} <= offered("ip netns ") and "get" in offered("ip neigh ")


VALUES = {"bridge": "1", "bridge_slave": "on"}


@pytest.mark.parametrize("kind,prefix,table", [
    ("bridge", "ip link add br9 type bridge", c.BRIDGE_OPTS),
    ("bridge_slave", "ip link set v0 type bridge_slave", c.BRPORT_OPTS),
])
def test_every_completed_kind_option_parses(kind, prefix, table):
    opts = offered(prefix + " ") & set(table)
    assert opts == set(table)
    for opt in opts:
        typ = table[opt][1]
        val = {"onoff": "on", "vproto": "802.1Q", "mac": "01:80:c2:00:00:00", "flag": ""}.get(typ, "1")
        try:
            parse(f"{prefix} {opt} {val}".strip(), Context())
        except ParseError as e:
            pytest.fail(f"completion offered {opt!r}, the parser refuses it: {e}")
