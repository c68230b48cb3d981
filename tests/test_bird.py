"""BIRD (bird2) in the lab's namespaces, and the scenario 09-bgp-bird: bird runs through the one command
engine (`r1 bird -c FILE`, `r1 birdc show route` finding r1's control socket by itself); the lab owns each
daemon and stops it with its namespace, a scenario's rebuild, the lab process (exit, and kill -9), and
`lab clean` (--host); a scenario may start bird without --allow-exec, with its config held to the scenario's
files; a missing bird is named with its Debian package at once; the routes bird installs appear in the
Routes pane by themselves. After each test no bird of this process is left, nor any of its files."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from lab import confine
from lab.backend import daemons
from lab.scenario.checks import evaluate
from lab.scenario.headless import check_scenario
from lab.scenario.loader import load
from lab.scenario.player import Player
from lab.scenario.schema import Check
from tests import labproc
from tests.conftest import ROOT, run_ok

SCENARIO = os.path.join(ROOT, "scenarios", "09-bgp-bird.yaml")

CONF = """
router id {me};
log stderr all;
protocol device {{}}
protocol direct {{ ipv4; interface "lo"; }}
protocol kernel {{ ipv4 {{ import none; export where source = RTS_BGP; }}; }}
protocol bgp peer {{
  local {me} as {my_as}; neighbor {peer} as {peer_as};
  connect delay time 1; connect retry time 1; error wait time 1, 5;
  ipv4 {{ import all; export where source = RTS_DEVICE; }};
}}
"""

TWO_ROUTERS = ("ip netns add r1", "ip netns add r2",
               "ip -n r1 link add eth0 type veth peer name eth0 netns r2",
               "ip -n r1 addr add 10.0.12.1/24 dev eth0", "ip -n r2 addr add 10.0.12.2/24 dev eth0",
               "ip -n r1 link set eth0 up", "ip -n r2 link set eth0 up",
               "ip -n r1 link set lo up", "ip -n r2 link set lo up",
               "ip -n r1 addr add 10.10.1.1/24 dev lo", "ip -n r2 addr add 10.10.2.1/24 dev lo")


def configs(d) -> tuple[str, str]:
    r1, r2 = d / "r1.conf", d / "r2.conf"
    r1.write_text(CONF.format(me="10.0.12.1", my_as=65001, peer="10.0.12.2", peer_as=65002))
    r2.write_text(CONF.format(me="10.0.12.2", my_as=65002, peer="10.0.12.1", peer_as=65001))
    return str(r1), str(r2)


def our_files(pid: int | None = None) -> list[str]:
    """The files lab process `pid` (default: this one) keeps for its daemons in the lab temp dir."""
    d = confine.lab_tmp_dir()
    return sorted(n for n in os.listdir(d) if n.startswith(f"bird-{pid or os.getpid()}-")) if d else []


def children_named(prog: str) -> list[int]:
    """Processes called `prog` whose parent is this process (another pytest worker's birds are not ours)."""
    out = []
    for p in os.listdir("/proc"):
        try:
            with open(f"/proc/{p}/stat") as f:
                comm, _, rest = f.read().partition(" (")[2].rpartition(") ")
        except OSError:
            continue
        if comm == prog and rest.split()[1] == str(os.getpid()):
            out.append(int(p))
    return out


def gone(pid: int, timeout: float = 10.0) -> bool:
    """Wait (bounded) until process `pid` has exited (or is a zombie nobody reaps yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rpartition(") ")[2].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.02)
    return False


@pytest.fixture(autouse=True)
def nothing_left():
    """No bird of this process and none of its files outlive a test."""
    yield
    daemons.stop_all()     # (a failed test's daemons; the backend fixture's close() normally did it)
    assert not children_named("bird"), "a bird process was left running"
    assert our_files() == [], f"files left in the lab temp dir: {our_files()}"


@pytest.fixture
def engine(lab):
    lab.allow_exec = False      # scenario files are data
    return lab


def route_check(ns: str, dst: str, **args) -> Check:
    return Check("route", {"ns": ns, "dst": dst, **args})


# ---- bird through the command engine ------------------------------------------------------------
def test_bird_runs_in_its_namespace_and_birdc_finds_it_without_s(lab, tmp_path):
    c1, c2 = configs(tmp_path)
    run_ok(lab, *TWO_ROUTERS)
    r = lab.run(f"r1 bird -c {c1}")
    assert r.ok and r.output == "", r.error                # bird says nothing when it starts, as when it daemonizes
    ((prog, ns, pid),) = lab.backend.running_daemons()
    assert (prog, ns) == ("bird", "r1") and os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
    assert our_files() == [f"bird-{os.getpid()}-r1.{x}" for x in ("ctl", "log", "pid")]
    out = run_ok(lab, "r1 birdc show protocols")[0]       # no -s typed: lab gave r1's socket
    assert out.startswith("BIRD 2.") and re.search(r"peer +BGP +--- +start", out), out
    assert not lab.parse("r1 birdc sh pro").mutates and lab.parse("r1 birdc down").mutates
    r = lab.run(f"r1 bird -c {c1}")
    assert not r.ok and 'already running in namespace "r1"' in r.error and "r1 birdc down" in r.error
    run_ok(lab, f"r2 bird -c {c2}")
    got = evaluate(route_check("r1", "10.10.2.0/24", via="10.0.12.2", proto="bird", timeout=15), lab)
    assert got.passed, got.text()
    assert "Established" in run_ok(lab, "r1 birdc show protocols")[0]
    assert "[AS65002i]" in run_ok(lab, "r1 birdc show route")[0]
    pids = {n: p for _, n, p in lab.backend.running_daemons()}
    run_ok(lab, "ip netns del r1")                         # its bird goes with it (it would keep r1 alive)
    assert gone(pids["r1"]) and [n for _, n, _ in lab.backend.running_daemons()] == ["r2"]
    assert not any("-r1." in f for f in our_files())
    assert run_ok(lab, "r2 birdc down")[0].endswith("Shutdown requested")
    assert gone(pids["r2"]) and lab.backend.running_daemons() == [] and our_files() == []
    run_ok(lab, f"r2 bird -c {c2}")                        # the namespace is free again at once
    lab.backend.close()
    assert lab.backend.running_daemons() == [] and not children_named("bird")


def test_birds_own_words_for_a_bad_config_and_bad_options(lab, tmp_path):
    run_ok(lab, "ip netns add r1")
    bad = tmp_path / "bad.conf"
    bad.write_text("router id 10.0.0.1;\nprotocol bgp {\n")
    r = lab.run(f"r1 bird -c {bad}")
    assert not r.ok and r.error.startswith(f"bird: {bad}:") and lab.backend.running_daemons() == []
    r = lab.run("r1 bird -x")
    assert not r.ok and r.error.splitlines()[0] == "bird: invalid option -- 'x'"
    r = lab.run("r1 bird -c")
    assert not r.ok and "option requires an argument -- 'c'" in r.error
    r = lab.run("r1 birdc")
    assert not r.ok and "r1 birdc show protocols" in r.error
    r = lab.run("r1 birdc show status")                    # no bird there: birdc's words, and lab's hint
    assert not r.ok and "Unable to connect" in r.error and "r1 bird -c FILE" in r.error


def test_missing_bird_is_named_with_its_debian_package_at_once(engine, monkeypatch):
    import lab.backend.bird as backend_bird

    monkeypatch.setattr(backend_bird, "SBIN", ())
    monkeypatch.setenv("PATH", "/nonexistent")
    run_ok(engine, "ip netns add r1")
    r = engine.run("r1 bird -c r1.conf")
    assert not r.ok and "\n" not in r.error and "apt-get install bird2" in r.error, r.error
    run_ok(engine, "ip netns del r1")
    started = time.monotonic()
    rep = check_scenario(load(SCENARIO), engine)
    assert not rep.ok and "this scenario runs bird" in rep.failure and "apt-get install bird2" in rep.failure
    assert engine.backend.namespaces() == [] and time.monotonic() - started < 2   # refused before building


HIDE_BIRD = ("import sys; import lab.backend.bird as b; b.SBIN = (); from lab.cli import main; "
             "sys.exit(main(sys.argv[1:]))")


def test_lab_play_check_without_bird_fails_with_the_package_name():
    r = subprocess.run([sys.executable, "-c", HIDE_BIRD, "play", "09-bgp-bird", "--check"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120, env=labproc.env(PATH="/usr/bin:/bin"))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAILED:" in r.stdout and "apt-get install bird2" in r.stdout and "Step 1" not in r.stdout, r.stdout


# ---- scenario files may start bird, with their own files only ----------------------------------
SC = """
title: t
summary: s
steps:
  - title: a
    commands: [ip netns add r1, "r1 bird -c {conf}", r1 birdc show status]
"""


def play(engine, d, conf):
    f = d / "sc.yaml"
    f.write_text(SC.format(conf=conf))
    rep = check_scenario(load(str(f)), engine)
    for ns in engine.backend.namespaces():
        run_ok(engine, f"ip netns del {ns}")
    return rep


def test_a_scenario_starts_bird_without_allow_exec_with_a_config_from_its_directory(engine, tmp_path):
    sc = tmp_path / "sc"
    sc.mkdir()
    configs(sc)
    rep = play(engine, sc, "r1.conf")
    assert rep.ok, rep.text
    assert engine.backend.running_daemons() == []           # went with r1


def test_a_scenario_may_not_point_bird_outside_its_directory(engine, tmp_path):
    sc, elsewhere = tmp_path / "sc", tmp_path / "elsewhere"
    sc.mkdir()
    elsewhere.mkdir()
    configs(elsewhere)
    rep = play(engine, sc, "../elsewhere/r1.conf")
    assert not rep.ok and "outside the scenario's directory" in rep.failure, rep.text
    rep = play(engine, sc, "/etc/bird/bird.conf")
    assert not rep.ok and "outside the scenario's directory" in rep.failure, rep.text
    (sc / "writes.conf").write_text('router id 10.0.0.1;\nlog "/tmp/owned" all;\nprotocol device {}\n')
    rep = play(engine, sc, "writes.conf")
    assert not rep.ok and "may not write files" in rep.failure, rep.text
    (sc / "includes.conf").write_text('include "../elsewhere/r1.conf";\n')
    rep = play(engine, sc, "includes.conf")
    assert not rep.ok and "outside the scenario's directory" in rep.failure, rep.text
    rep = play(engine, sc, "r1.conf -s /tmp/elsewhere.ctl")
    assert not rep.ok and "outside the scenario's directory" in rep.failure, rep.text
    assert engine.backend.running_daemons() == [] and not os.path.exists("/tmp/owned")


# ---- the lab owns its daemons -------------------------------------------------------------------
def test_rebuilding_the_scenario_stops_its_birds(engine):
    p = Player(load(SCENARIO), engine)
    run = p.goto(1)                                         # step 2: bird on r1
    assert run.ok, run.failed and run.failed.error
    ((_, ns, pid),) = engine.backend.running_daemons()
    assert ns == "r1"
    run = p.goto(0)                                         # back to step 1: the lab rebuilt without bird
    assert run.ok and engine.backend.running_daemons() == [] and gone(pid)


LAB_WITH_BIRD = """
import os, sys
from lab.backend import sandbox
sandbox.enter_sandbox()
from lab.backend.core import Backend
from lab.engine import Engine
e = Engine(Backend())
for line in ("ip netns add r1", "r1 bird -c " + sys.argv[1]):
    r = e.run(line)
    assert r.ok, r.error
print(os.getpid(), e.backend.running_daemons()[0][2], flush=True)
if sys.argv[2] == "wait":
    sys.stdin.read()
"""


@pytest.mark.parametrize("how", ["exit", "kill -9"])
def test_bird_ends_with_the_lab_process(tmp_path, how):
    conf, _ = configs(tmp_path)
    p = subprocess.Popen([sys.executable, "-c", LAB_WITH_BIRD, conf, "wait" if how == "kill -9" else "exit"],
                         cwd=ROOT, env=labproc.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        lab_pid, bird_pid = map(int, p.stdout.readline().split())
        if how == "kill -9":
            assert not gone(bird_pid, timeout=0.2)           # running, until...
            p.send_signal(signal.SIGKILL)
        p.wait(30)
        assert gone(bird_pid), "bird outlived the lab"
        if how == "exit":
            assert our_files(lab_pid) == []                  # stopped properly: its files removed
        else:
            daemons.sweep("bird")                            # the next bird lab starts removes a killed lab's files
            assert our_files(lab_pid) == []
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_lab_clean_stops_a_daemon_lab_left_proven_by_pid_and_start_time(tmp_path):
    """--host: a daemon is journaled (pid, start time); lab clean stops it while that pid is still that
    process, and leaves a process whose start time differs (a reused pid) alone."""
    from lab.backend.clean import clean
    from lab.backend.journal import Journal

    conf = tmp_path / "quiet.conf"
    conf.write_text("router id 10.0.0.1;\nprotocol device {}\n")
    sock = daemons.temp_path("bird", "left", "ctl")
    birds = [subprocess.Popen(["/usr/sbin/bird", "-f", "-c", str(conf), "-s", sock + str(i)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in (1, 2)]
    try:
        starts = [daemons._start_time(b.pid) for b in birds]
        j = Journal(str(tmp_path / "journal.jsonl"))
        ent = j.begin(kind="daemon", ns="", nsino=1, prog="bird", files=[sock + "1"])
        ent.confirm(pid=birds[0].pid, start=starts[0])
        ent = j.begin(kind="daemon", ns="r9", nsino=1, prog="bird", files=[])
        ent.confirm(pid=birds[1].pid, start=starts[1] + 1)   # not that process
        rep = clean(Journal(j.path))
        assert f"stopped bird (pid {birds[0].pid})" in str(rep) and rep.ok, str(rep)
        assert birds[0].wait(10) is not None and birds[1].poll() is None
        assert not os.path.exists(sock + "1")
    finally:
        for b in birds:
            b.terminate()
            b.wait(10)
        for i in (1, 2):
            if os.path.exists(sock + str(i)):
                os.unlink(sock + str(i))


HOST_DRIVER = r"""
set -e
mount -t tmpfs lab-host-test /run/netns
"$PY" -m lab --host run - <<EOF
ip netns add r1
r1 bird -c $CONF
EOF
grep -c '"kind": "daemon"' "$LAB_STATE_DIR/host-journal.jsonl"
grep -c '"gone"' "$LAB_STATE_DIR/host-journal.jsonl"
ls "$TMPDIR"/lab-* | wc -l
"""


def test_host_journals_bird_and_retires_it_when_lab_stops_it(tmp_path):
    conf, _ = configs(tmp_path)
    driver = tmp_path / "driver.sh"
    driver.write_text(HOST_DRIVER)
    (tmp_path / "tmp").mkdir()
    r = subprocess.run(["unshare", "--net", "--mount", "bash", str(driver)], capture_output=True, text=True,
                       timeout=120, cwd=ROOT, env=labproc.env(LAB_STATE_DIR=str(tmp_path / "state"), PY=sys.executable,
                                                              CONF=conf, TMPDIR=str(tmp_path / "tmp")))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split()[-3:] == ["1", "1", "0"], r.stdout   # journaled, retired when lab stopped it, no files


# ---- the scenario and the dashboard ------------------------------------------------------------
def test_routes_bird_installs_appear_in_the_routes_pane(lab, tmp_path):
    from tests.test_ui_support import pane_rows, run_ui, type_command, wait_for

    c1, c2 = configs(tmp_path)
    run_ok(lab, *TWO_ROUTERS)

    async def body(app, pilot):
        await type_command(pilot, f"r1 bird -c {c1}")
        await type_command(pilot, f"r2 bird -c {c2}")

        def bird_row():
            return next((r for r in pane_rows(app, "routes") if r[0] == "r1" and r[2] == "10.10.2.0/24"), None)
        await wait_for(pilot, lambda: bird_row() is not None, timeout=15, what="r1's route from BGP")
        row = bird_row()
        assert row[3:7] == ["via", "10.0.12.2", "eth0", "bird"], row
        await type_command(pilot, "r2 birdc disable peer")      # withdrawn: the row goes by itself
        await wait_for(pilot, lambda: bird_row() is None, timeout=15, what="the withdrawn route gone")
    run_ui(lab, body)


# ---- pure: the grammar ---------------------------------------------------------------------------
@pytest.mark.fast
def test_bird_options_parse_like_birds_getopt():
    from lab.commands import parse
    from lab.commands.base import Context, ParseError
    from lab.commands.bird import BirdcOp, BirdOp

    ctx = Context(namespaces=("r1",))
    op = parse("r1 bird -fc r1.conf -P/x.pid", ctx)
    assert isinstance(op, BirdOp) and (op.ns, op.config, op.pidfile) == ("r1", "r1.conf", "/x.pid")
    assert op.file_args == ("config", "debug_file", "pidfile", "socket") and op.mutates
    assert not parse("bird -p -c a.conf", ctx).mutates
    assert parse("r1 bird -l", ctx).config == "bird.conf"
    op = parse("r1 birdc -s /s.ctl show route for 10.0.0.0/8", ctx)
    assert isinstance(op, BirdcOp) and op.socket == "/s.ctl" and op.command[-1] == "10.0.0.0/8"
    assert not op.mutates and parse("r1 birdc disable r2", ctx).mutates and parse("r1 birdc e", ctx).mutates
    for bad in ("r1 bird -x", "r1 bird extra", "r1 bird --nope", "r1 birdc"):
        with pytest.raises(ParseError):
            parse(bad, ctx)


@pytest.mark.fast
def test_route_check_takes_proto_and_timeout():
    from lab.scenario.loader import load_text
    from lab.scenario.schema import ScenarioError

    text = textwrap.dedent("""
        title: t
        summary: s
        steps:
          - title: a
            checks:
              - route: {ns: r1, dst: 10.10.2.0/24, proto: %s, timeout: 5}
              - output: {run: r1 birdc show protocols, contains: [Established], timeout: 5}
        """)
    sc = load_text(text % "bird", "mem.yaml")
    assert sc.steps[0].checks[0].args["proto"] == "bird" and sc.steps[0].checks[1].args["timeout"] == 5
    with pytest.raises(ScenarioError, match='did you mean "bird"'):
        load_text(text % "birdd", "mem.yaml")
