"""Pure tests of the tc parser: units, handles, qdisc/class/filter syntax, abbreviations and errors.
No kernel: every input must give an Op or a ParseError/LabError, never another exception."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.commands import parse
from lab.commands import tc as c
from lab.commands.base import Context, ParseError
from lab.errors import LabError

pytestmark = pytest.mark.fast   # pure: no kernel, no sandboxed lab (pytest -m fast)


def p(line: str):
    return parse(line, Context(namespaces=("red", "blue")))


@pytest.mark.parametrize("word,bytes_per_s", [
    ("1mbit", 125000), ("1Mbit", 125000), ("1500kbit", 187500), ("1gbit", 125000000), ("8", 1), ("800bit", 100),
    ("1kibit", 128), ("1mbps", 1000000), ("1MBps", 1000000), ("100KBps", 100000), ("1bps", 1), ("1.5mbit", 187500),
])
def test_rate_units(word, bytes_per_s):
    assert c.parse_rate(word) == bytes_per_s


@pytest.mark.parametrize("word,size", [
    ("32k", 32768), ("32kb", 32768), ("32Kb", 32768), ("1600", 1600), ("1600b", 1600), ("1mb", 1048576),
    ("1m", 1048576), ("32kbit", 4096), ("10kb/8", 10240), ("1g", 1024**3),
])
def test_size_units(word, size):
    assert c.parse_size(word) == size


@pytest.mark.parametrize("word,us", [
    ("50ms", 50000), ("1s", 1000000), ("400", 400), ("400us", 400), ("1.5ms", 1500), ("2secs", 2000000),
    ("100msec", 100000), ("5000ns", 5),
])
def test_time_units(word, us):
    assert c.parse_time(word) == us


@pytest.mark.parametrize("fn,word", [
    (c.parse_rate, "fast"), (c.parse_rate, "1mbitz"), (c.parse_rate, "0"), (c.parse_rate, "-1mbit"),
    (c.parse_size, "1tb"), (c.parse_size, "k"), (c.parse_size, "5gb"), (c.parse_time, "1h"), (c.parse_time, "ms"),
])
def test_bad_units(fn, word):
    with pytest.raises(ParseError):
        fn(word)


@pytest.mark.parametrize("word,qdisc,value", [
    ("1:", True, 0x10000), ("1", True, 0x10000), ("ffff:", True, 0xFFFF0000), ("1:10", False, 0x10010),
    ("1:", False, 0x10000), ("root", False, c.TC_H_ROOT), ("a:b", False, 0xA000B), ("10", False, 0x10),
])
def test_handles(word, qdisc, value):
    assert c.parse_handle(word, qdisc=qdisc) == value


@pytest.mark.parametrize("word,qdisc", [("1:1", True), ("x:", True), ("10000:", True), ("1:10000", False),
                                        ("g:1", False), ("", True), ("1:2:3", False)])
def test_bad_handles(word, qdisc):
    with pytest.raises(ParseError):
        c.parse_handle(word, qdisc=qdisc)


@pytest.mark.parametrize("h,text", [(0x10000, "1:"), (0x10010, "1:10"), (0xFFFFFFF1, "ffff:fff1"),
                                    (c.TC_H_ROOT, "root")])
def test_handle_str(h, text):
    assert c.handle_str(h) == text


# ---- qdisc --------------------------------------------------------------------------------------
@pytest.mark.parametrize("line", ["tc qdisc show", "tc q", "tc qd show", "tc qdisc", "tc qdisc ls", "tc qdisc list",
                                  "tc -s qdisc show dev veth0", "tc -j q show dev veth0", "tc -s -d qdisc"])
def test_qdisc_show_forms(line):
    op = p(line)
    assert isinstance(op, c.QdiscShow)
    assert not op.mutates


def test_show_options():
    op = p("tc -s -j qdisc show dev veth0")
    assert op.opts.stats and op.opts.json and op.dev == "veth0"


def test_namespace_forms():
    assert p("tc -n red qdisc show").ns == "red"
    assert p("red tc qdisc show").ns == "red"
    assert p("ip netns exec blue tc q").ns == "blue"


def test_tbf():
    op = p("tc qdisc add dev veth0 root tbf rate 1mbit burst 32kbit latency 400ms")
    assert isinstance(op, c.QdiscChange)
    assert (op.verb, op.dev, op.parent, op.kind) == ("add", "veth0", c.TC_H_ROOT, "tbf")
    assert op.param("rate") == 125000 and op.param("burst") == 4096 and op.param("latency") == 400000


def test_tbf_limit_peakrate_and_synonyms():
    op = p("tc qdisc replace dev v root handle 1: tbf rate 1500kbit buffer 10kb limit 3000 peakrate 2mbit mtu 1600")
    assert op.verb == "replace" and op.handle == 0x10000
    assert op.param("limit") == 3000 and op.param("peakrate") == 250000 and op.param("mtu") == 1600
    assert p("tc qdisc add dev v root tbf rate 1mbit maxburst 10k lat 1s").param("latency") == 1000000


@pytest.mark.parametrize("line,needle", [
    ("tc qdisc add dev v root tbf rate 1mbit", "tbf: need rate, burst and latency or limit"),
    ("tc qdisc add dev v root tbf burst 10k latency 1ms", "missing: rate"),
    ("tc qdisc add dev v root tbf rate 1mbit burst 10k latency 1ms limit 5", "either"),
    ("tc qdisc add dev v root tbf rate 1mbit burst 10k latency 1ms peakrate 2mbit", "mtu"),
    ("tc qdisc add dev v root tbf rate 2mbit burst 10k latency 1ms peakrate 1mbit mtu 1600", "greater"),
    ("tc qdisc add dev v root tbf rate fast burst 10k latency 1ms", 'Illegal "rate"'),
    ("tc qdisc add dev v root tbf rate 1mbit burst 10k latency 1ms speed 3", 'What is "speed"'),
    ("tc qdisc add root tbf rate 1mbit burst 10k latency 1ms", "dev"),
    ("tc qdisc add dev v tbf rate 1mbit burst 10k latency 1ms", "root"),
    ("tc qdisc add dev v root", "needs a qdisc kind"),
    ("tc qdisc add dev v root bogus", 'Unknown qdisc "bogus"'),
    ("tc qdisc add dev v root handle 1:1 htb", "invalid qdisc handle"),
    ("tc qdisc add dev v root parent 1:1 htb", "duplicate"),
    ("tc qdisc add dev v root htb default zz", "hex"),
    ("tc qdisc add dev v root pfifo limit many", 'Illegal "limit"'),
    ("tc qdisc add dev v root netem reorder 25%", "needs a delay"),
    ("tc qdisc add dev v root netem loss 120%", "between 0% and 100%"),
    ("tc qdisc frob dev v", 'Command "frob" is unknown'),
    ("tc qbert", 'Command "qbert" is unknown'),
])
def test_qdisc_errors(line, needle):
    with pytest.raises(ParseError) as e:
        p(line)
    assert needle in str(e.value)


def test_tbf_error_has_example():
    with pytest.raises(ParseError) as e:
        p("tc qdisc add dev v root tbf rate 1mbit burst 32k")
    assert "Example: tc qdisc add dev veth0 root tbf" in str(e.value)


def test_htb_default_is_hex():
    op = p("tc qdisc add dev v root handle 1: htb default 10 r2q 5")
    assert op.param("default") == 0x10 and op.param("r2q") == 5 and op.handle == 0x10000


@pytest.mark.parametrize("line,kind,params", [
    ("tc qdisc add dev v ingress", "ingress", {}),
    ("tc qdisc add dev v handle ffff: ingress", "ingress", {}),
    ("tc qdisc add dev v root pfifo limit 100", "pfifo", {"limit": 100}),
    ("tc qdisc add dev v parent 1:10 handle 10: bfifo limit 10kb", "bfifo", {"limit": 10240}),
    ("tc qdisc add dev v root netem delay 100ms 10ms 25% loss 1% duplicate 2 corrupt 0.1% rate 1mbit limit 50",
     "netem", {"delay": 100000, "jitter": 10000, "delay_corr": 25.0, "loss": 1.0, "duplicate": 2.0,
               "corrupt": 0.1, "rate": 125000, "limit": 50}),
    ("tc qdisc add dev v root netem delay 10ms reorder 25% 50% gap 5", "netem",
     {"delay": 10000, "reorder": 25.0, "reorder_corr": 50.0, "gap": 5}),
    ("tc qdisc add dev v root netem loss random 5%", "netem", {"loss": 5.0}),
    ("tc qdisc add dev v root fq_codel limit 1000 target 5ms interval 100ms noecn", "fq_codel",
     {"limit": 1000, "target": 5000, "interval": 100000, "ecn": False}),
    ("tc qdisc add dev v root sfq perturb 10", "sfq", {"perturb": 10}),
    ("tc qdisc add dev v root prio bands 4", "prio", {"bands": 4}),
    ("tc qdisc add dev v root cake bandwidth 10mbit", "cake", {"bandwidth": 1250000}),
])
def test_qdisc_kinds(line, kind, params):
    op = p(line)
    assert op.kind == kind
    assert dict(op.params) == params


def test_ingress_parent_and_handle():
    op = p("tc qdisc add dev v ingress")
    assert op.parent == c.TC_H_INGRESS and op.handle == c.INGRESS_HANDLE


@pytest.mark.parametrize("line,verb,parent,kind", [
    ("tc qdisc del dev v root", "delete", c.TC_H_ROOT, None),
    ("tc qdisc delete dev v root tbf", "delete", c.TC_H_ROOT, "tbf"),
    ("tc qdisc del dev v ingress", "delete", c.TC_H_INGRESS, "ingress"),
    ("tc qdisc d dev v parent 1:10", "delete", 0x10010, None),
    ("tc qdisc change dev v root pfifo limit 5", "change", c.TC_H_ROOT, "pfifo"),
    ("tc qdisc a dev v root pfifo", "add", c.TC_H_ROOT, "pfifo"),
    ("tc qdisc r dev v root pfifo", "replace", c.TC_H_ROOT, "pfifo"),
])
def test_qdisc_verbs(line, verb, parent, kind):
    op = p(line)
    assert (op.verb, op.parent, op.kind) == (verb, parent, kind)
    assert op.mutates


# ---- class --------------------------------------------------------------------------------------
def test_class_add():
    op = p("tc class add dev v parent 1:1 classid 1:10 htb rate 1mbit ceil 2mbit burst 15k prio 1")
    assert isinstance(op, c.ClassChange)
    assert (op.parent, op.classid, op.kind) == (0x10001, 0x10010, "htb")
    assert dict(op.params) == {"rate": 125000, "ceil": 250000, "burst": 15360, "prio": 1}


@pytest.mark.parametrize("line,needle", [
    ("tc class add dev v parent 1: classid 1:10 htb", '"rate" is required'),
    ("tc class add dev v parent 1: classid 1:10 htb rate 2mbit ceil 1mbit", "ceil"),
    ("tc class add dev v parent 1: htb rate 1mbit", "classid"),
    ("tc class add dev v classid 1:10 htb rate 1mbit", "parent"),
    ("tc class add dev v parent 1: classid 2:10 htb rate 1mbit", "same major"),
    ("tc class add dev v parent 1: classid 1: htb rate 1mbit", "no minor"),
    ("tc class add dev v parent 1: classid 1:10 htb rate 1mbit prio 9", 'Illegal "prio"'),
    ("tc class add dev v parent 1: classid 1:10 prio", "htb only"),
    ("tc class show", '"dev" is required'),
])
def test_class_errors(line, needle):
    with pytest.raises(ParseError) as e:
        p(line)
    assert needle in str(e.value)


def test_class_show_and_del():
    op = p("tc -s class show dev v")
    assert isinstance(op, c.ClassShow) and op.opts.stats and op.dev == "v"
    op = p("tc class del dev v classid 1:10")
    assert op.verb == "delete" and op.classid == 0x10010


# ---- filter -------------------------------------------------------------------------------------
def test_u32_matches_pack_like_tc():
    op = p("tc filter add dev v parent 1: protocol ip prio 1 u32 match ip dst 10.0.0.2/32 "
           "match ip dport 80 0xffff match ip protocol 6 0xff flowid 1:10")
    assert isinstance(op, c.FilterChange)
    assert (op.parent, op.protocol, op.prio, op.kind, op.flowid) == (0x10000, 0x0800, 1, "u32", 0x10010)
    # tc prints these as: match 0a000002/ffffffff at 16, 00000050/0000ffff at 20, 00060000/00ff0000 at 8
    assert op.keys == ((0x0A000002, 0xFFFFFFFF, 16), (0x50, 0xFFFF, 20), (0x00060000, 0x00FF0000, 8))


def test_u32_sport_and_dport_share_a_key():
    op = p("tc filter add dev v parent 1: protocol ip prio 1 u32 match ip sport 22 0xffff match ip dport 80 0xffff "
           "flowid 1:1")
    assert op.keys == ((0x00160050, 0xFFFFFFFF, 20),)


@pytest.mark.parametrize("line,keys", [
    ("u32 match ip src 10.0.0.0/24 classid 1:1", ((0x0A000000, 0xFFFFFF00, 12),)),
    ("u32 match ip src 0.0.0.0/0 classid 1:1", ((0, 0, 12),)),
    ("u32 match u32 0 0 classid 1:1", ((0, 0, 0),)),
    ("u32 match u16 0x0050 0xffff at 22 flowid 1:1", ((0x50, 0xFFFF, 20),)),
    ("u32 match u8 6 0xff at 9 flowid 1:1", ((0x00060000, 0x00FF0000, 8),)),
    ("u32 match ip protocol tcp 0xff flowid 1:1", ((0x00060000, 0x00FF0000, 8),)),
    ("u32 match ip tos 0x10 0xff flowid 1:1", ((0x00100000, 0x00FF0000, 0),)),
    ("u32 flowid 1:1", ((0, 0, 0),)),
])
def test_u32_keys(line, keys):
    assert p(f"tc filter add dev v parent 1: protocol ip prio 1 {line}").keys == keys


def test_mirred_and_gact():
    op = p("tc filter add dev v parent ffff: protocol ip prio 1 u32 match ip dst 10.0.0.1/32 "
           "action mirred egress redirect dev v1")
    assert op.parent == c.INGRESS_HANDLE and op.flowid is None
    assert op.actions == (c.TcAction(kind="mirred", direction="egress", what="redirect", dev="v1"),)
    op = p("tc filter add dev v parent 1: protocol ip u32 match ip src 1.2.3.4/32 action drop")
    assert op.actions == (c.TcAction(kind="gact", verdict="drop"),)


@pytest.mark.parametrize("line,needle", [
    ("u32 match ip src 10.0.0.0/24", "does nothing"),
    ("u32 match ip src banana flowid 1:1", "prefix"),
    ("u32 match ip dport 80 flowid 1:1", 'Illegal "mask"'),
    ("u32 match ip dport 70000 0xffff flowid 1:1", "between"),
    ("u32 match ip sport 1 0xffff match u16 2 0xffff at 20 flowid 1:1", "conflict"),
    ("u32 match u16 1 0xffff at 3 flowid 1:1", "even offset"),
    ("u32 match u32 1 0xffffffff at 2 flowid 1:1", "multiple of 4"),
    ("u32 match ip6 src ::1 flowid 1:1", "not supported"),
    ("u32 match ip src 10.0.0.1/32 action mirred egress redirect", "dev"),
    ("u32 match ip src 10.0.0.1/32 action police rate 1mbit", "not supported"),
    ("u32 match ip src 10.0.0.1/32 police rate 1mbit", "police"),
    ("u32 ht 800: flowid 1:1", "hash tables"),
    ("bogus flowid 1:1", 'Unknown filter "bogus"'),
    ("flower ip_proto tcp dst_port 80 src_port x classid 1:1", 'Illegal "src_port"'),
    ("flower dst_port 80 classid 1:1", "ip_proto tcp or udp"),
])
def test_filter_errors(line, needle):
    with pytest.raises(ParseError) as e:
        p(f"tc filter add dev v parent 1: protocol ip prio 1 {line}")
    assert needle in str(e.value)


def test_filter_del_and_show():
    op = p("tc filter del dev v parent 1: prio 1")
    assert (op.verb, op.parent, op.prio, op.protocol, op.kind) == ("delete", 0x10000, 1, None, None)
    op = p("tc filter show dev v ingress")
    assert isinstance(op, c.FilterShow) and op.parent == c.INGRESS_HANDLE
    with pytest.raises(ParseError):
        p("tc filter show")


def test_flower_and_matchall_parse():
    op = p("tc filter add dev v parent 1: protocol ip prio 2 flower ip_proto udp dst_port 53 src_ip 10.0.0.0/8 classid 1:2")
    assert dict(op.flower) == {"ip_proto": 17, "dst_port": 53, "src_ip": "10.0.0.0/8"}
    op = p("tc filter add dev v parent 1: matchall action mirred egress mirror dev v2")
    assert op.kind == "matchall" and op.actions[0].what == "mirror"


def test_help_forms():
    for line in ("tc", "tc help", "tc qdisc help", "tc class help", "tc filter help", "tc -V"):
        op = p(line)
        assert isinstance(op, c.TcHelp) and op.text


def test_long_dash_rejected():
    with pytest.raises(ParseError) as e:
        p("tc \u2013s qdisc")
    assert "long dash" in str(e.value)


# ---- properties ---------------------------------------------------------------------------------
WORDS = ["qdisc", "class", "filter", "add", "del", "replace", "change", "show", "dev", "veth0", "root", "ingress",
         "parent", "handle", "1:", "1:10", "ffff:", "tbf", "htb", "netem", "pfifo", "bfifo", "fq_codel", "rate",
         "1mbit", "burst", "32k", "latency", "50ms", "limit", "100", "peakrate", "mtu", "default", "10", "classid",
         "ceil", "prio", "1", "protocol", "ip", "u32", "match", "src", "dst", "sport", "dport", "10.0.0.1/32",
         "0xffff", "0xff", "flowid", "action", "mirred", "egress", "redirect", "drop", "delay", "loss", "1%",
         "-s", "-j", "at", "u16", "8", "matchall", "flower", "ip_proto", "tcp", "dst_port", "80", "-n", "red"]


def _ok_or_user_error(line: str) -> None:
    try:
        op = p(line)
    except (ParseError, LabError):
        return
    assert op is None or hasattr(op, "ns")


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(WORDS), min_size=0, max_size=14))
def test_any_word_soup_parses_or_errors(words):
    _ok_or_user_error("tc " + " ".join(words))


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_any_text_parses_or_errors(text):
    _ok_or_user_error("tc " + text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789.kmgtbitpsuKMGBx%/:", max_size=12))
def test_units_never_crash(word):
    for fn in (c.parse_rate, c.parse_size, c.parse_time):
        try:
            v = fn(word)
        except ParseError:
            continue
        assert isinstance(v, int) and v >= 0
