"""The command line: fast --help/--version without heavy imports, `lab run` (files, stdin, line numbers,
--keep-going), and the shared completer over a live lab."""
from __future__ import annotations

import subprocess
import sys

from tests import labproc
from tests.conftest import run_ok


def test_help_and_version_are_fast_and_light():
    code = ("import sys, lab.cli\n"
            "try:\n    lab.cli.main(['--version'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('scapy', 'textual', 'pyroute2.iproute', 'prompt_toolkit') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=labproc.ROOT, env=labproc.env())
    assert "lab 0." in r.stdout and "HEAVY []" in r.stdout
    r = labproc.run(labproc.lab_argv() + ["--help"], env=labproc.env())
    assert r.returncode == 0 and "shell" in r.stdout and "run" in r.stdout and "--host" in r.stdout


def test_run_file_stops_at_first_error_with_line_number(tmp_path, fresh_top):
    f = tmp_path / "build.lab"
    f.write_text("# a comment\nip netns add red\n\nip link set nosuch up\nip netns add blue\n")
    r = labproc.run(labproc.lab_argv() + ["run", str(f)], env=labproc.env())
    assert r.returncode == 1
    assert f"{f}:4: Cannot find device \"nosuch\"" in r.stderr
    assert "ip netns add blue" not in r.stdout
    assert "Traceback" not in r.stderr


def test_run_keep_going_and_stdin(fresh_top):
    r = labproc.run(labproc.lab_argv() + ["run", "--keep-going", "-"],
                    input="ip link set nosuch up\nip netns add blue\nip netns\n", env=labproc.env())
    assert r.returncode == 1
    assert "<stdin>:1:" in r.stderr and "blue" in r.stdout


def test_line_continuations(lab):
    res = lab.run_lines(["ip link add v0 \\", "  type veth peer name v1", "ip -br link show v0"])
    assert all(r.ok for r in res) and res[1].output.startswith("v0@v1")


def test_completer_knows_the_live_lab(lab):
    from lab.commands.complete import LabCompleter

    run_ok(lab, "ip netns add red", "ip -n red link add veth-red type veth peer name veth-x",
           "iptables -t nat -N KUBE-SERVICES" if _has("iptables") else "ip netns add blue")
    comp = LabCompleter(lab)
    assert "red" in comp.candidates("ip -n ")[1]
    assert "veth-red" in comp.candidates("ip -n red link set ")[1]
    assert "veth-red" in comp.candidates("red ip link set dev ")[1]
    assert "veth-red" in comp.candidates("ip netns exec red ip addr add 10.0.0.1/24 dev v")[1]
    assert comp.candidates("ip l")[1] == ["link"]
    assert comp.candidates("grade fox")[1] == ["fox-bear"]
    if _has("iptables"):
        assert "KUBE-SERVICES" in comp.candidates("iptables -t nat -A ")[1]


def _has(family: str) -> bool:
    import importlib

    try:
        importlib.import_module(f"lab.commands.{family}")
        return True
    except ImportError:
        return False


def test_shell_runs_commands_from_a_pipe(fresh_top, tmp_path):
    r = labproc.run(labproc.lab_argv() + ["shell"], input="ip netns add red\nip netns\nip link set bogus up\nexit\n",
                    env=labproc.env(LAB_HISTORY=str(tmp_path / "hist")))
    assert r.returncode == 0, r.stderr
    assert "red" in r.stdout and 'Cannot find device "bogus"' in r.stderr


def test_tui_setup_builds_the_lab_before_the_dashboard_opens(tmp_path, fresh_top, monkeypatch):
    """`lab tui --setup FILE` and `lab run FILE --then-tui`: the dashboard opens over the built lab
    (a sandbox starts empty and dies with its process, so this is how a workshop's lab is prepared)."""
    import lab.ui.app
    from lab import cli

    seen = []

    def run_app(engine, watcher=None, **kw):   # the watcher made before the UI loaded: handed over, stopped here
        seen.append(engine.backend.namespaces())
        assert watcher is not None and watcher._thread is None
        watcher.stop()
        return 0
    monkeypatch.setattr(lab.ui.app, "run_app", run_app)
    f = tmp_path / "ws.lab"
    f.write_text("ip netns add tuired\nip netns add tuiblue\n")
    assert cli.main(["tui", "--setup", str(f)]) == 0
    assert {"tuired", "tuiblue"} <= set(seen[-1])
    g = tmp_path / "more.lab"
    g.write_text("ip netns add tuigreen\n")
    assert cli.main(["run", "-q", str(g), "--then-tui"]) == 0
    assert "tuigreen" in seen[-1] and len(seen) == 2


def test_tui_setup_error_names_the_line_and_opens_nothing(tmp_path, fresh_top):
    f = tmp_path / "bad.lab"
    f.write_text("ip netns add ok1\nip link set nosuch up\n")
    r = labproc.run(labproc.lab_argv() + ["tui", "--setup", str(f)], env=labproc.env())
    assert r.returncode == 1 and f"{f}:2: Cannot find device \"nosuch\"" in r.stderr
    assert "Traceback" not in r.stderr and "\x1b[" not in r.stdout   # no dashboard was drawn
    r = labproc.run(labproc.lab_argv() + ["tui", "--setup", str(tmp_path / "missing.lab")], env=labproc.env())
    assert r.returncode == 1 and "cannot read" in r.stderr and "missing.lab" in r.stderr
