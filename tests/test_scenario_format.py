"""Scenario format: every malformed file in tests/data/scenarios_bad/ (one per failure mode) gives its
expected error with the file and line; YAML positions; topology compilation. Pure: no kernel."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab.scenario import yamlpos
from lab.scenario.loader import load, load_text, shipped
from lab.scenario.schema import ScenarioError

pytestmark = pytest.mark.fast   # pure: no kernel, no sandboxed lab (pytest -m fast)

BAD = Path(__file__).parent / "data" / "scenarios_bad"


def _expectation(p: Path) -> tuple[int, str]:
    m = re.match(r"# expect: (\d+): (.*)", p.read_text().splitlines()[0]) if p.read_text() else None
    assert m, f"{p.name} lacks its '# expect: LINE: text' header"
    return int(m.group(1)), m.group(2)


@pytest.mark.parametrize("path", sorted(BAD.glob("*.yaml")), ids=lambda p: p.stem)
def test_malformed_file_gives_its_clear_error(path):
    line, text = _expectation(path)
    with pytest.raises(ScenarioError) as ei:
        load(str(path))
    msg = str(ei.value)
    assert any(ln == line and text in m for ln, m in ei.value.errors), msg
    assert f"{path.name}:{line}: " in msg   # file and line in the report


def test_every_failure_mode_has_its_own_file():
    assert len(list(BAD.glob("*.yaml"))) >= 25


def test_all_errors_are_collected_not_just_the_first():
    text = "title: t\nsummary: s\nlevel: expert\nsteps:\n  - title: a\n    checks:\n      - ping: {to: x}\n"
    with pytest.raises(ScenarioError) as ei:
        load_text(text, "mem.yaml")
    assert [ln for ln, _ in ei.value.errors] == [3, 7]


def test_positions_survive_loading():
    tree = yamlpos.load("a:\n  b: [1, two]\n  c: {d: null}\n")
    assert tree.line == 1 and tree["a"].line == 2 and tree["a"].key_lines["c"] == 3
    assert tree["a"]["b"][1] == "two" and tree["a"]["b"][1].line == 2
    assert yamlpos.is_none(tree["a"]["c"]["d"])
    assert yamlpos.plain(tree) == {"a": {"b": [1, "two"], "c": {"d": None}}}


def test_yaml_tags_cannot_build_python_objects():
    with pytest.raises(yamlpos.YamlError):
        yamlpos.load("x: !!python/object/apply:os.system ['true']\n")


def test_topology_compiles_to_lab_commands():
    sc = load_text("""
title: t
summary: s
topology:
  namespaces: [red]
  bridges: [{name: br0, address: 10.0.0.1/24}]
  links:
    - veth: {ns: red, name: veth-red, address: 10.0.0.2/24}
      peer: {name: veth-red-br, master: br0}
  routes: [{ns: red, to: default, via: 10.0.0.1}]
  sysctls: [{key: net.ipv4.ip_forward, value: 1}]
steps: [{title: one}]
""")
    cmds = [c.text for c in sc.setup]
    assert cmds == ["ip netns add red", "ip -n red link set lo up", "ip link add br0 type bridge",
                    "ip link add veth-red-br type veth peer name veth-red netns red",
                    "ip addr add 10.0.0.1/24 dev br0", "ip link set br0 up",
                    "ip link set veth-red-br master br0", "ip link set veth-red-br up",
                    "ip -n red addr add 10.0.0.2/24 dev veth-red", "ip -n red link set veth-red up",
                    "ip -n red route add default via 10.0.0.1", "sysctl -w net.ipv4.ip_forward=1"]
    assert all(c.line > 0 for c in sc.setup)


@pytest.mark.parametrize("path", shipped(), ids=lambda p: p.stem)
def test_shipped_scenarios_are_valid_and_documented(path):
    sc = load(str(path))
    assert sc.title and sc.summary and sc.steps
    assert all(st.narration for st in sc.steps), "every step explains itself"
    for st in sc.steps:
        if st.task:
            assert st.task.hints and st.task.solution, f"{st.title}: a task needs a hint ladder and a solution"
    if sc.kind == "exercise":
        assert len([s for s in sc.steps if s.task]) >= 1


def test_shipped_set_covers_the_classics():
    names = {p.stem for p in shipped()}
    for want in ("veth-basics", "red-blue", "fox-bear", "iptables-chains", "docker-bridge", "kube-proxy-service",
                 "tc-tbf", "vxlan-overlay"):
        assert any(n.endswith(want) for n in names), want
    exercises = [p for p in shipped() if load(str(p)).kind == "exercise"]
    assert len(exercises) >= 4
