"""Scenarios on the real kernel: every shipped scenario plays headless green; every troubleshooting
exercise is red before its documented fix and green after; the player steps back and forth by
rebuilding the lab; checks explain their failures; `lab play` works as a real subprocess."""
from __future__ import annotations

import subprocess
import sys

import pytest

from lab.backend import nsutil
from lab.scenario import requires
from lab.scenario.checks import evaluate
from lab.scenario.headless import check_scenario
from lab.scenario.loader import load, load_text, shipped
from lab.scenario.player import Player
from lab.scenario.schema import Check
from tests.conftest import ROOT, run_ok

SCENARIOS = shipped()
EXERCISES = [p for p in SCENARIOS if load(str(p)).kind == "exercise"]


@pytest.fixture
def engine(lab):
    lab.allow_exec = False   # scenario files are data: lab commands only
    return lab


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_plays_headless_green(engine, path):
    sc = load(str(path))
    rep = check_scenario(sc, engine)
    lacks = requires.missing(sc.requires)
    if lacks:    # 10-12 on a kernel without vlan, gre, netem...: said at once (tests/vm/run plays them green)
        assert not rep.ok and requires.message(lacks) in rep.failure, rep.text
        pytest.skip(rep.failure.splitlines()[0])
    assert rep.ok, rep.text
    assert rep.checks_passed >= 3 and rep.checks_skipped == 0, rep.text


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.stem)
def test_exercise_is_red_until_the_documented_fix(engine, path):
    sc = load(str(path))
    p = Player(sc, engine)
    i = next(k for k, st in enumerate(sc.steps) if st.task)
    run = p.goto(i)
    assert run.ok, run.failed and run.failed.error
    before = p.task_checks()
    assert not all(r.passed for r in before), "the exercise is not broken"
    failing = [r for r in before if not r.passed]
    assert all(r.explanation for r in failing), "each red check explains itself"
    assert p.hint() == sc.steps[i].task.hints[0] and p.hint() == sc.steps[i].task.hints[1]
    assert all(r.ok for r in p.solve())
    after = p.task_checks()
    assert all(r.passed for r in after), "\n".join(str(r) for r in after)


VETH = """
title: mini
summary: s
topology:
  namespaces: [red, blue]
  links:
    - veth: {ns: red, name: veth-red, address: 10.7.0.1/24}
      peer: {ns: blue, name: veth-blue, address: 10.7.0.2/24}
steps:
  - title: one
    narration: n
    commands: [ip netns add green]
    checks: [{ping: {from: red, to: 10.7.0.2}}]
  - title: two
    narration: n
    commands: [ip link add br-x type bridge, ip link set br-x up, "ip addr add 10.8.0.1/24 dev lo", "ip route add 10.9.0.0/24 dev br-x"]
  - title: three
    narration: n
    task:
      goal: take veth-blue down
      checks: [{link: {ns: blue, name: veth-blue, state: down}}]
      hints: [h1, h2]
      solution: [ip -n blue link set veth-blue down]
  - title: four
    narration: n
    commands: [iptables -t nat -A POSTROUTING -s 10.7.0.0/24 -j MASQUERADE, sysctl -w net.ipv4.ip_forward=1]
"""


def test_player_steps_back_and_goto_rebuilds_from_scratch(engine):
    p = Player(load_text(VETH, "mem.yaml"), engine)
    run_ok(engine, "ip netns add bystander")          # there before the scenario: must survive
    p.start()
    for _ in range(4):
        assert p.next().ok
    assert p.at_end and p.next() is None
    assert set(nsutil.list_netns()) == {"red", "blue", "green", "bystander"}
    assert "MASQUERADE" in engine.run("iptables-save -t nat").output
    back = p.goto(1)                                   # rebuild: step 1 and 2 only
    assert back.ok and p.index == 1
    assert set(nsutil.list_netns()) == {"red", "blue", "green", "bystander"}
    assert "MASQUERADE" not in engine.run("iptables-save -t nat").output
    assert engine.backend.sysctl_get(None, "net.ipv4.ip_forward") == "0"
    assert "br-x" in engine.run("ip -br link").output
    p.prev()
    assert p.index == 0 and "br-x" not in engine.run("ip -br link").output
    assert "10.8.0.1" not in engine.run("ip addr show dev lo").output
    p.goto(3)                                          # passing step 3 applies its task's solution
    assert "state DOWN" in engine.run("ip -n blue link show veth-blue").output
    p.reset()
    assert set(nsutil.list_netns()) == {"bystander"}


def test_player_reports_a_failing_command_with_its_line(engine):
    sc = load_text("title: t\nsummary: s\nsteps:\n  - title: a\n    commands:\n      - ip link set nope up\n",
                   "mem.yaml")
    rep = check_scenario(sc, engine)
    assert not rep.ok and rep.failure.startswith("mem.yaml:6: step 1: `ip link set nope up` failed")
    assert 'Cannot find device "nope"' in rep.failure


def test_scenarios_cannot_run_other_programs_without_opt_in(engine):
    sc = load_text("title: t\nsummary: s\nsteps:\n  - title: a\n    commands: [ip netns add x, ip -n x link set lo up, x ping -c1 127.0.0.1]\n",
                   "mem.yaml")
    rep = check_scenario(sc, engine)
    assert not rep.ok and "--allow-exec" in rep.failure
    run_ok(engine, "ip netns del x")
    engine.allow_exec = True
    assert check_scenario(sc, engine).ok


def _chk(kind, **args):
    from lab.scenario.schema import CHECK_KINDS

    conv = {k: CHECK_KINDS[kind][k][0](v) for k, v in args.items()}
    return Check(kind, conv)


def test_checks_explain_their_failures(engine):
    run_ok(engine, "ip netns add red", "ip netns add blue", "ip link add dev a type veth peer name b netns blue",
           "ip link set dev a netns red", "ip -n red addr add 10.3.0.1/24 dev a", "ip -n blue addr add 10.3.0.2/25 dev b",
           "ip -n red link set dev a up")   # "dev": a bare "a" means "address" to iproute2
    r = evaluate(_chk("ping", **{"from": "red", "to": "10.3.0.2", "timeout": 0.5}), engine)
    assert r.status == "fail" and "no echo reply" in r.explanation and "DOWN" not in r.explanation
    r = evaluate(_chk("ping", **{"from": "red", "to": "10.9.9.9"}), engine)
    assert r.status == "fail" and "no route" in r.explanation.lower()
    r = evaluate(_chk("address", ns="blue", cidr="10.3.0.2/24"), engine)
    assert r.status == "fail" and "prefix /25" in r.explanation
    r = evaluate(_chk("link", ns="blue", name="b", state="up"), engine)
    assert r.status == "fail" and "is DOWN" in r.explanation and "link set" not in r.explanation
    assert r.fix == "ip -n blue link set dev b up"   # "b" alone: broadcast
    r = evaluate(_chk("link", ns="blue", name="bb"), engine)
    assert 'did you mean "b"' in r.explanation
    r = evaluate(_chk("route", ns="red", dst="default"), engine)
    assert r.status == "fail" and "10.3.0.0/24" in r.explanation
    r = evaluate(_chk("sysctl", ns="red", key="net.ipv4.ip_forward", value="1"), engine)
    assert "net.ipv4.ip_forward is 0 in red, not 1" in r.explanation
    assert r.fix == "ip netns exec red sysctl -w net.ipv4.ip_forward=1" and "fix: " + r.fix in str(r)
    r = evaluate(_chk("rule", ns="red", table="nat", chain="POSTROUTING", match="-j MASQUERADE"), engine)
    assert r.status == "fail"
    r = evaluate(_chk("tcp", **{"from": "red", "to": "10.3.0.9:80"}), engine)
    assert r.status == "error" and "server: NS" in r.explanation
    r = evaluate(_chk("output", run="ip netns add zz", contains="x"), engine)
    assert r.status == "error" and "changes the lab" in r.explanation
    assert "zz" not in nsutil.list_netns()
    r = evaluate(Check("ping", {"from": "nosuch", "to": "10.0.0.1"}), engine)
    assert r.status == "error" and "nosuch" in r.explanation


def test_tcp_and_udp_probes_say_who_answered(engine):
    run_ok(engine, "ip netns add a", "ip netns add b", "ip link add x type veth peer name y netns b",
           "ip link set x netns a", "ip -n a addr add 10.4.0.1/24 dev x", "ip -n b addr add 10.4.0.2/24 dev y",
           "ip -n a link set x up", "ip -n b link set y up")
    for kind in ("tcp", "udp"):
        r = evaluate(_chk(kind, **{"from": "a", "to": "10.4.0.2:7000", "answered_by": ["b"]}), engine)
        assert r.passed and r.data["answered_by"] == "b", r
    run_ok(engine, "ip netns exec b iptables -A INPUT -p tcp --dport 7001 -j REJECT --reject-with tcp-reset")
    r = evaluate(_chk("tcp", **{"from": "a", "to": "10.4.0.2:7001"}), engine)
    assert r.status == "fail" and "refused" in r.explanation
    r = evaluate(_chk("tcp", **{"from": "a", "to": "10.4.0.2:7001", "expect": "fail"}), engine)
    assert r.passed


def test_lab_play_check_as_a_real_subprocess(tmp_path):
    r = subprocess.run([sys.executable, "-m", "lab", "play", "veth-basics", "--check",
                        "--export-sh", str(tmp_path / "out.sh")], cwd=ROOT, capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK: 6 steps" in r.stdout
    assert "ip netns add red" in (tmp_path / "out.sh").read_text()


def test_lab_play_check_fails_with_a_clear_report(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: t\nsummary: s\nsteps:\n  - title: a\n    narration: n\n    commands: [ip netns add red]\n"
                   "    checks:\n      - ping: {from: red, to: 10.1.1.1}\n")
    r = subprocess.run([sys.executable, "-m", "lab", "play", str(bad), "--check"], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1
    assert f"FAILED: {bad}:8: step 1: check failed: red can ping 10.1.1.1" in r.stdout
    assert "no route" in r.stdout


def test_lab_play_list_and_malformed_file():
    r = subprocess.run([sys.executable, "-m", "lab", "play", "--list"], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0
    assert len([line for line in r.stdout.splitlines() if "[" in line]) == len(SCENARIOS)
    assert "fox-bear" in r.stdout and "exercise" in r.stdout
    r = subprocess.run([sys.executable, "-m", "lab", "play", "tests/data/scenarios_bad/check-bad-address.yaml",
                        "--check"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "check-bad-address.yaml:7:" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "lab", "play", "fox-baer"], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and 'did you mean "03-fox-bear"' in r.stderr


def test_text_player_scripted_session():
    script = "n\nn\nh\nc\ns\nq\n"
    r = subprocess.run([sys.executable, "-m", "lab", "play", "fix-ip-forward", "--text"], cwd=ROOT, input=script,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "== Step 1/1: The broken lab" in out and ">> Your turn" in out
    assert "Trace it" in out                                  # first hint
    assert "✗ client can ping 10.2.0.2" in out                # check is red
    assert "ip netns exec router sysctl -w net.ipv4.ip_forward=1" in out   # the solution shown


def test_grade_checks_a_hand_built_lab_without_changing_it(lab):
    """`grade SCENARIO [--step N]` in the command language: the learner's own build is checked against
    the scenario's final step (or step N); failures say what is wrong; nothing is built or changed."""
    r = lab.run("grade veth-basics")
    assert not r.ok and "0/1 checks pass" in r.error and 'Cannot open network namespace "red"' in r.error
    assert lab.backend.namespaces() == []                       # grading built nothing
    run_ok(lab, "ip netns add red", "ip netns add blue",
           "ip link add veth-red netns red type veth peer name veth-blue netns blue",
           "ip -n red addr add 192.168.15.1/24 dev veth-red", "ip -n blue addr add 192.168.15.2/24 dev veth-blue",
           "ip -n red link set veth-red up")
    r = lab.run("grade veth-basics")
    assert not r.ok and "✗ red can ping 192.168.15.2" in r.error
    run_ok(lab, "ip -n blue link set veth-blue up")
    r = lab.run("grade veth-basics")
    assert r.ok and "1/1 checks pass: the lab does what step 6 asks" in r.output, r.error
    r = lab.run("grade veth-basics --step 5")          # the task: the cable cut
    assert not r.ok and "✗ link veth-blue" in r.error and "hint:" in r.error
    r = lab.run("grade veth-basics --step 9")
    assert not r.ok and "has steps 1 to 6, not 9" in r.error
    assert "grade" in lab.run("help").output


def test_baseline_restore_undoes_ip6tables_too(lab):
    """Rebuilding to a step (back, goto) returns the top namespace to its baseline, IPv6 rules included."""
    from lab.scenario.reset import Baseline
    from tests.conftest import kernel

    run_ok(lab, "ip6tables -A INPUT -s fd00:1::/64 -j ACCEPT")
    base = Baseline.capture(lab.backend)
    run_ok(lab, "ip6tables -N LAB6", "ip6tables -A INPUT -s fd00:2::/64 -j LAB6", "ip6tables -P FORWARD DROP",
           "iptables -A INPUT -s 10.2.0.0/16 -j ACCEPT")
    base.restore(lab.backend)
    v6 = kernel(None, "ip6tables-nft", "-S")
    assert "fd00:1::/64" in v6 and "fd00:2::/64" not in v6 and "LAB6" not in v6 and "-P FORWARD ACCEPT" in v6
    assert "10.2.0.0/16" not in kernel(None, "iptables-nft", "-S")


def test_baseline_restore_undoes_both_families_through_the_engine(lab):
    """Links, addresses, routes and ip rules of both families added since the baseline go; what was there
    stays (the undo runs as lab commands, so nothing outside them is touched)."""
    from lab.scenario.reset import Baseline
    from tests.conftest import kernel

    run_ok(lab, "ip link add keep0 type veth peer name keep1", "ip link set keep0 up",
           "ip addr add 10.7.0.1/24 dev keep0", "ip -6 addr add fd00:7::1/64 dev keep0 nodad",
           "ip -6 rule add from fd00:7::/64 lookup 70", "ip rule add from 10.7.0.0/24 lookup 70")
    base = Baseline.capture(lab.backend)
    before = {f: kernel(None, "ip", f, "-o", "addr") for f in ("-4", "-6")}
    run_ok(lab, "ip link add br9 type bridge", "ip link set br9 up", "ip addr add 10.8.0.1/24 dev keep0",
           "ip -6 addr add fd00:8::1/64 dev keep0 nodad", "ip -6 route add fd00:99::/64 dev keep0 table 80",
           "ip route add 10.99.0.0/16 dev keep0 table 80", "ip -6 rule add from fd00:8::/64 lookup 80",
           "ip rule add fwmark 8 lookup 80", "ip route add blackhole 10.66.0.0/16")
    notes = base.restore(lab.backend)
    assert notes == []
    assert "br9" not in kernel(None, "ip", "-o", "link") and "keep0" in kernel(None, "ip", "-o", "link")
    assert {f: kernel(None, "ip", f, "-o", "addr") for f in ("-4", "-6")} == before
    assert kernel(None, "ip", "-6", "route", "show", "table", "80") == "" == kernel(None, "ip", "route", "show", "table", "80")
    assert "10.66.0.0" not in kernel(None, "ip", "route")
    rules6, rules4 = kernel(None, "ip", "-6", "rule"), kernel(None, "ip", "rule")
    assert "fd00:8::/64" not in rules6 and "fd00:7::/64" in rules6
    assert "fwmark 0x8" not in rules4 and "10.7.0.0/24" in rules4


def test_text_player_hides_a_tasks_fix_until_the_last_hint():
    """`lab play --text`: at a "your turn" task a red check says what is wrong; its fix shows only after
    the last hint (or with the solution)."""
    script = "c\nh\nh\nh\nc\nq\n"
    r = subprocess.run([sys.executable, "-m", "lab", "play", "24-fix-link-down", "--text"], cwd=ROOT, input=script,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    before, _, after = r.stdout.partition("ip link set veth-bear-br up`")   # the last hint
    assert "is DOWN" in before and "fix: ip link set veth-bear-br up" not in before
    assert "fix: ip link set veth-bear-br up" in after
