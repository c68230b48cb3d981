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

pytestmark = pytest.mark.fast   # pure: no kernel, no sandboxed lab (pytest -m fast)


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


# ---- ip link's own words (iproute2's iplink_parse order) --------------------------------------------
def test_ip_link_words_are_completed_in_help_and_parse():
    words = [w for w, opt, _p in c.IPLINK_WORDS if w == opt and opt not in c.LINK_NOT_YET]
    got_add, got_set = offered("ip link add v9 "), offered("ip link set v9 ")
    assert not [w for w in words if w not in got_add]
    assert not [w for w in words if w not in got_set and w not in ("index", "link", "numtxqueues", "numrxqueues")]
    assert not [w for w in words if w not in c.HELP["link"] and w not in ("up", "down", "name", "type")]
    sample = {"lladdr": "ff:ff:ff:ff:ff:ff", "operstate": "up", "linkmode": "dormant", "alias": "x",
              "addrgenmode": "none", "group": "default", "onoff": "on", "int": "1", "uint": "1"}
    for opt, (_num, typ) in c.LINK_ATTRS.items():
        op = parse(f"ip link set v9 {opt} {sample[typ]}", Context())
        assert (opt, op.attrs[0][1]) == op.attrs[0]
    for opt in c.LINK_FLAGS:
        parse(f"ip link add v9 {opt} on type veth", Context())
    for opt in c.LINK_NOT_YET:
        with pytest.raises(ParseError, match="not support"):
            parse(f"ip link set v9 {opt} x", Context())


@pytest.mark.parametrize("word,means", [("a", "address"), ("t", "txqueuelen"), ("ty", "type"), ("br", "broadcast"),
                                        ("m", "master"), ("n", "nomaster"), ("d", "dynamic"), ("al", "alias"),
                                        ("mt", None), ("mo", None), ("veth0", None), ("l", "link")])
def test_iplink_abbreviations_as_iproute2(word, means):
    assert c.iplink_word(word) == means
    assert c.dev_word(word) == (f"dev {word}" if means else word)


# ---- tc: each kind's words, from the parser's tables ----------------------------------------------
TC_VALUES = {"rate": "1mbit", "peakrate": "2mbit", "ceil": "2mbit", "bandwidth": "1mbit", "latency": "10ms",
             "lat": "10ms", "delay": "10ms", "target": "5ms", "interval": "100ms", "ce_threshold": "1ms",
             "loss": "1%", "drop": "1%", "duplicate": "1%", "corrupt": "1%", "reorder": "1%", "ecn": None,
             "noecn": None, "unlimited": None, "default": "10", "bands": "3", "prio": "1", "skip_hw": None, "skip_sw": None,
             "src_ip": "10.0.0.1", "dst_ip": "10.0.0.1", "ip_proto": "tcp", "flowid": "1:1", "classid": "1:1"}


def _tc_word_parses(prefix: str, word: str) -> None:
    val = TC_VALUES.get(word, "1600")
    try:
        parse(f"{prefix} {word}" + (f" {val}" if val else ""), Context())
    except ParseError as e:       # refused for what the kind still needs, never for the word itself
        assert not e.message.startswith("What is"), (prefix, word, e.message)


@pytest.mark.parametrize("kind", sorted(__import__("lab.commands.tc", fromlist=["x"]).QDISC_OPTS))
def test_tc_qdisc_kind_words_are_completed_in_help_and_parse(kind):
    from lab.commands import tc

    words = tc.QDISC_OPTS[kind]
    assert set(words) <= offered(f"tc qdisc add dev v0 root {kind} ")
    assert not [w for w in words if w not in tc.HELP["qdisc"]]
    for w in words:
        _tc_word_parses(f"tc qdisc add dev v0 root {kind}", w)
    with pytest.raises(ParseError, match='What is "bogus"'):
        parse(f"tc qdisc add dev v0 root {kind} bogus 1", Context())
    others = {w for ws in tc.QDISC_OPTS.values() for w in ws} - set(words)   # the table is the whole set
    for w in others:
        with pytest.raises(ParseError):
            parse(f"tc qdisc add dev v0 root {kind} {w} {TC_VALUES.get(w, '1600')}", Context())


def test_tc_class_and_filter_words_are_completed_in_help_and_parse():
    from lab.commands import tc

    assert set(tc.CLASS_OPTS["htb"]) <= offered("tc class add dev v0 parent 1: classid 1:1 htb ")
    assert not [w for w in tc.CLASS_OPTS["htb"] if w not in tc.HELP["class"]]
    for w in tc.CLASS_OPTS["htb"]:
        _tc_word_parses("tc class add dev v0 parent 1: classid 1:1 htb rate 1mbit", w)
    for kind, words in tc.FILTER_OPTS.items():
        assert set(words) <= offered(f"tc filter add dev v0 parent 1: {kind} "), kind
        assert not [w for w in words if w not in tc.HELP["filter"]]
        for w in words:
            if w not in ("match", "action"):
                _tc_word_parses(f"tc filter add dev v0 parent 1: protocol ip prio 1 {kind} flowid 1:1", w)
    assert set(tc.U32_MATCH["ip"]) <= offered("tc filter add dev v0 parent 1: u32 match ip ")
    assert set(tc.ACTIONS) <= offered("tc filter add dev v0 parent 1: u32 match ip dport 80 0xffff action ")
    assert set(tc.QDISC_WORDS) | set(tc.QDISC_KINDS) <= offered("tc qdisc add ")


# ---- bridge ---------------------------------------------------------------------------------------
def test_bridge_words_are_completed_in_help_and_parse():
    from lab.commands import bridge as br

    for (obj, verb), words in br.WORDS.items():
        got = offered(f"bridge {obj} {verb} ")
        assert set(words) <= got, (obj, verb, set(words) - got)
        assert not [w for w in words if w not in br.HELP[obj]], (obj, verb)
    for w in br.WORDS[("fdb", "add")]:
        val = {"dst": "10.0.0.1", "to": "", "via": "v0", "dev": "v0"}.get(w, "1")
        line = f"bridge fdb add 02:00:00:00:00:01 dev v0 {w} {val}" if w not in br.FDB_STATES + ["self", "master"] \
            else f"bridge fdb add 02:00:00:00:00:01 dev v0 {w}"
        try:
            if w == "to":      # `to` names the address: bridge fdb add to MAC dev DEV
                line = "bridge fdb add to 02:00:00:00:00:01 dev v0"
            parse(line.replace(" dev v0 dev v0", " dev v0"), Context())
        except ParseError as e:
            assert "garbage" not in e.message, (w, e.message)


# ---- iptables: every extension's options (lab.commands.xtables, made from iptables' own --help) -------
def test_iptables_extension_options_are_completed_and_help_is_iptables_own():
    from lab.commands import iptables as ipt
    from lab.commands import xtables as xt

    for fam, matches, targets in ((4, xt.MATCHES, xt.TARGETS), (6, xt.MATCHES6, xt.TARGETS6)):
        tool = "ip6tables" if fam == 6 else "iptables"
        assert set(matches) <= offered(f"{tool} -A INPUT -m ")
        assert set(targets) <= offered(f"{tool} -A INPUT -j ")
        for m, opts in matches.items():
            assert set(opts) <= offered(f"{tool} -A INPUT -m {m} "), m
        for t, opts in targets.items():
            assert set(opts) <= offered(f"{tool} -t nat -A PREROUTING -j {t} "), t
        assert isinstance(parse(f"{tool} -m tcp -j DNAT -h", Context()), ipt.IptablesHelp)
    assert set(ipt.RESTORE_OPTS) <= offered("iptables-restore ") and set(ipt.SAVE_OPTS) <= offered("iptables-save ")
    for o in ipt.RESTORE_OPTS:
        parse(f"iptables-restore {o}" + (" filter" if o in ("-T", "--table") else " 1" if o in ("-W", "--wait-interval", "-M", "--modprobe") else "") + " f.rules", Context())


def test_trace_options_are_completed():
    from lab.commands.tracespec import OPTIONS, PROTOS

    assert set(OPTIONS) | set(PROTOS) <= offered("trace red ")
    from lab.commands.trace import HELP

    assert not [o for o in OPTIONS if o not in HELP]


@pytest.mark.parametrize("prefix,words,help_key,line", [
    ("ip addr add ", c.ADDR_WORDS, "address", "ip addr add 10.0.0.1/24 dev v0 {w} {v}"),
    ("ip addr show ", c.ADDR_SHOW_WORDS, "address", "ip addr show {w} {v}"),
    ("ip neigh add ", c.NEIGH_WORDS, "neighbour", "ip neigh add 10.0.0.2 nud noarp dev v0 {w} {v}"),
    ("ip neigh show ", c.NEIGH_SHOW_WORDS, "neighbour", "ip neigh show {w} {v}"),
    ("ip neigh get ", c.NEIGH_GET_WORDS, "neighbour", "ip neigh get 10.0.0.2 dev v0 {w} {v}"),
    ("ip route show ", c.ROUTE_SHOW_WORDS, "route", "ip route show {w} {v}"),
    ("ip route flush ", c.ROUTE_FLUSH_WORDS, "route", "ip route flush {w} {v}"),
    ("ip route get ", c.ROUTE_GET_WORDS, "route", "ip route get 10.0.0.2 {w} {v}"),
])
def test_ip_object_words_are_completed_in_help_and_parse(prefix, words, help_key, line):
    assert set(words) <= offered(prefix), set(words) - offered(prefix)
    assert not [w for w in words if w not in c.HELP[help_key]]
    values = {"dev": "v0", "iif": "v0", "oif": "v0", "table": "main", "proto": "static", "type": "unicast",
              "root": "10.0.0.0/8", "match": "10.0.0.0/8", "exact": "10.0.0.0/8", "from": "10.0.0.1", "to": "10.0.0.3",
              "lladdr": "02:00:00:00:00:01", "nud": "noarp", "local": "10.0.0.1/24", "broadcast": "10.0.0.255",
              "brd": "+", "label": "v0:1", "scope": "link", "valid_lft": "forever", "preferred_lft": "forever",
              "mark": "1", "fwmark": "1"}
    for w in words:
        text = line.format(w=w, v=values.get(w, "")).strip()
        if w in ("dev", "to", "local"):
            text = text.replace(" dev v0 dev v0", " dev v0").replace("10.0.0.2 dev v0 to 10.0.0.3", "to 10.0.0.3 dev v0")
            text = text.replace("10.0.0.2 nud noarp dev v0 to 10.0.0.3", "to 10.0.0.3 nud noarp dev v0")
            text = text.replace("ip addr add 10.0.0.1/24 dev v0 local 10.0.0.1/24", "ip addr add local 10.0.0.1/24 dev v0")
            text = text.replace("ip route get 10.0.0.2 to 10.0.0.3", "ip route get to 10.0.0.3")
        try:
            parse(text, Context())
        except ParseError as e:
            pytest.fail(f"{text!r}: {e}")
