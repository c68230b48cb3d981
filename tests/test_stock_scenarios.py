"""The guided scenarios that need a stock kernel's features (10-vlan-trunk: bridge VLAN filtering and 802.1Q;
11-gre-geneve: GRE and Geneve; 12-netem: netem) and the `requires:` key that says so, plus the ping check's
measuring arguments (count, rtt_at_least/rtt_at_most, loss_at_least/loss_at_most).

Inside tests/vm/run's VM (LAB_VM=1, Debian's stock kernel) each scenario plays headless green; on a kernel
without a feature the report names the missing feature before anything is built. The ping check's figures are
measured on a plain veth pair here; netem's delay and loss are measured by 12-netem in the VM.
"""
from __future__ import annotations

import os

import pytest

from lab.backend import nsutil
from lab.scenario import requires
from lab.scenario.checks import evaluate
from lab.scenario.headless import check_scenario
from lab.scenario.loader import load, load_text
from lab.scenario.player import Player
from lab.scenario.schema import ScenarioError
from tests.conftest import ROOT, run_ok

pytestmark = pytest.mark.vm
IN_VM = os.environ.get("LAB_VM") == "1"

STOCK = {"10-vlan-trunk": ("vlan_filtering", "vlan"), "11-gre-geneve": ("gre", "geneve"), "12-netem": ("netem",)}


@pytest.fixture
def engine(lab):
    lab.allow_exec = False   # scenario files are data: lab commands only
    return lab


def _path(name: str) -> str:
    return os.path.join(ROOT, "scenarios", f"{name}.yaml")


@pytest.mark.parametrize("name", list(STOCK))
def test_stock_scenario_requires_what_it_uses(name):
    assert load(_path(name)).requires == STOCK[name]


@pytest.mark.parametrize("name", list(STOCK))
def test_stock_scenario_plays_green_or_names_the_missing_feature(engine, name):
    sc = load(_path(name))
    lacks = requires.missing(sc.requires)
    if IN_VM:
        assert not lacks, f"the stock kernel lacks {lacks}?"
    rep = check_scenario(sc, engine)
    if lacks:
        assert not rep.ok
        assert rep.failure.startswith(f"{sc.path}:{sc.requires_line}: this scenario needs the kernel's "), rep.failure
        assert requires.message(lacks) in rep.failure
        for n in lacks:
            assert requires.FEATURES[n][2] in rep.failure      # "vlan (8021q)", "netem (sch_netem)"...
        assert nsutil.list_netns() == [], "nothing is built when a required feature is missing"
        return
    assert rep.ok, rep.text
    assert rep.checks_passed >= 3 and rep.checks_skipped == 0, rep.text


def test_the_player_stops_before_building_when_a_feature_is_missing(engine):
    sc = load(_path("12-netem"))
    run = Player(sc, engine).start()
    if requires.missing(sc.requires):
        assert run.failed is not None and "needs the kernel's netem (sch_netem) support" in run.failed.error
        assert run.failed_command is not None and run.failed_command.line == sc.requires_line
        assert nsutil.list_netns() == []
    else:
        assert run.ok and set(nsutil.list_netns()) == {"client", "server"}


def test_requires_names_known_features_only():
    with pytest.raises(ScenarioError) as e:
        load_text("title: t\nsummary: s\nrequires: [vlan, vlna]\nsteps:\n  - title: a\n", "mem.yaml")
    assert 'mem.yaml:3: requires: unknown kernel feature "vlna"' in str(e.value) and "vlan" in str(e.value)
    sc = load_text("title: t\nsummary: s\nrequires: netem\nsteps:\n  - title: a\n", "mem.yaml")
    assert sc.requires == ("netem",) and sc.requires_line == 3


def test_a_feature_the_kernel_has_is_not_missing():
    assert requires.missing(["vxlan", "tbf"]) == []       # lesson 07 and 08 use them on every kernel lab runs on


# ---- the ping check's measuring arguments -----------------------------------------------------------
def _checks(text: str):
    sc = load_text("title: t\nsummary: s\nsteps:\n  - title: a\n    checks:\n" + text, "mem.yaml")
    return sc.steps[0].checks


@pytest.fixture
def veth(engine):
    run_ok(engine, "ip netns add pa", "ip netns add pb", "ip -n pa link set lo up", "ip -n pb link set lo up",
           "ip -n pa link add eth0 type veth peer name eth0 netns pb",
           "ip -n pa addr add 10.61.0.1/24 dev eth0", "ip -n pb addr add 10.61.0.2/24 dev eth0",
           "ip -n pa link set eth0 up", "ip -n pb link set eth0 up")
    return engine


def test_ping_count_and_rtt_bounds_show_the_measured_figures(veth):
    ok, slow = _checks("      - ping: {from: pa, to: 10.61.0.2, count: 5, rtt_at_most: 1000ms, loss_at_most: 0%}\n"
                       "      - ping: {from: pa, to: 10.61.0.2, count: 3, rtt_at_least: 5000ms}\n")
    r = evaluate(ok, veth)
    assert r.passed, r.text()
    assert r.data["sent"] == 5 and r.data["received"] == 5 and r.data["loss_pct"] == 0
    assert "5 sent, 5 received, 0% loss, rtt min/avg/max " in r.explanation
    assert "5 sent, 5 received" in r.text()                        # shown next to the green mark too
    assert r.label == "pa can ping 10.61.0.2 (5x: RTT <= 1000 ms, loss <= 0%)"
    r = evaluate(slow, veth)
    assert r.status == "fail"
    avg = r.data["rtt_ms"]
    assert 0 < avg < 5000
    assert r.explanation.startswith("measured 3 sent, 3 received, 0% loss, rtt min/avg/max ")
    assert f"the average RTT is {avg:.3g} ms, expected at least 5000 ms" in r.explanation


def test_ping_loss_bounds_measure_the_loss(veth):
    none_lost, all_lost, count_only = _checks(
        "      - ping: {from: pa, to: 10.61.0.2, count: 4, loss_at_least: 50%}\n"
        "      - ping: {from: pa, to: 10.61.0.9, count: 3, timeout: 0.5, loss_at_most: 10%}\n"
        "      - ping: {from: pa, to: 10.61.0.2, count: 3}\n")
    r = evaluate(none_lost, veth)
    assert r.status == "fail" and "the loss is 0%, expected at least 50%" in r.explanation, r.text()
    r = evaluate(all_lost, veth)                   # nobody has 10.61.0.9: every request is lost
    assert r.status == "fail" and "3 sent, 0 received, 100% loss" in r.explanation, r.text()
    assert "the loss is 100%, expected at most 10%" in r.explanation
    r = evaluate(count_only, veth)
    assert r.passed and r.explanation.startswith("measured 3 sent, 3 received, 0% loss"), r.text()


@pytest.mark.parametrize("args, error", [
    ("count: 51", "a number of echo requests from 1 to 50, not 51"),
    ("count: 0", "a number of echo requests from 1 to 50, not 0"),
    ("rtt_at_most: 90", "a time like 90ms or 1s, not 90"),
    ("rtt_at_least: fast", 'a time like 90ms or 1s, not "fast"'),
    ("loss_at_most: 120%", 'a percentage from 0% to 100% like 20%, not "120%"'),
    ("loss_at_least: 0.5", "a percentage from 0% to 100% like 20%, not 0.5"),
    ("expect: fail, loss_at_most: 10%", '"rtt_at_..." and "loss_at_..." measure replies'),
])
def test_ping_measuring_arguments_are_validated(args, error):
    with pytest.raises(ScenarioError) as e:
        _checks(f"      - ping: {{from: pa, to: 10.61.0.2, {args}}}\n")
    assert error in str(e.value)


def test_ping_time_units():
    (c,) = _checks("      - ping: {from: pa, to: 10.61.0.2, rtt_at_least: 1.5s, rtt_at_most: 1600ms, "
                   "loss_at_most: 12.5%}\n")
    assert c.args["rtt_at_least"] == 1500 and c.args["rtt_at_most"] == 1600 and c.args["loss_at_most"] == 12.5


@pytest.mark.skipif(not IN_VM, reason="netem: measured inside tests/vm/run's VM (this kernel has no sch_netem)")
def test_ping_measures_netem_delay_in_the_vm(veth):
    run_ok(veth, "ip netns exec pa tc qdisc add dev eth0 root netem delay 100ms")
    (c,) = _checks("      - ping: {from: pa, to: 10.61.0.2, count: 3, rtt_at_least: 100ms, rtt_at_most: 2s}\n")
    r = evaluate(c, veth)
    assert r.passed, r.text()
    assert min(r.data["rtts_ms"]) >= 100


@pytest.mark.vm_root
def test_ipvs_round_robin_plays_green_as_root_or_says_what_it_needs(engine):
    """13-ipvs-round-robin needs IPVS, which needs the machine's own root: green in tests/vm/run's second pass
    (the VM's root, no user namespace); elsewhere refused at its requires: line, naming both."""
    sc = load(_path("13-ipvs-round-robin"))
    assert sc.requires == ("ipvs",)
    lacks = requires.missing(sc.requires)
    as_root = IN_VM and os.environ.get("LAB_TEST_ROOT_SANDBOX") == "1"
    assert bool(lacks) != as_root, (lacks, as_root)
    rep = check_scenario(sc, engine)
    if lacks:
        assert not rep.ok and requires.message(lacks) in rep.failure, rep.failure
        assert "IP Virtual Server (ip_vs; its commands need the machine's own root" in rep.failure
        assert nsutil.list_netns() == []
        return
    assert rep.ok, rep.text
    assert rep.checks_passed >= 8 and rep.checks_skipped == 0, rep.text
