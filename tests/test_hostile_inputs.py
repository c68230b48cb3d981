"""Hostile and broken inputs: scenario files and scripts that try to read or write files outside their
directory, run programs, exhaust memory (billion laughs, /dev/zero, 10 MB of YAML), hang (a FIFO, a
catastrophic regex) or crash the parser (NUL bytes, non-UTF-8, 500 nested `ip netns exec`). Each gets a
clear error (never a traceback or "internal error") within a time bound, and where memory is the risk,
in a `python -m lab` child limited to 1.5 GB of address space."""
from __future__ import annotations

import os
import resource
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from lab import confine
from lab.scenario.loader import load, load_text
from lab.scenario.player import Player
from lab.scenario.schema import Check, ScenarioError
from tests import labproc
from tests.conftest import run_ok

SECRET = "root:$6$S3CRETHASHxyz:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"
LIMIT_AS = 1536 * 1024 * 1024
FAST = 5.0          # seconds: every hostile case ends well inside this


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_AS, LIMIT_AS))


def lab_child(*argv: str, stdin=None, input: str | None = None, timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    """`python -m lab ARGV` with at most 1.5 GB of address space; (result, wall seconds)."""
    t = time.monotonic()
    r = subprocess.run(labproc.lab_argv() + list(argv), stdin=stdin, input=input, capture_output=True, text=True,
                       timeout=timeout, cwd=labproc.ROOT, env=labproc.env(), preexec_fn=_limit_memory)
    return r, time.monotonic() - t


def clear_failure(r: subprocess.CompletedProcess, text: str) -> None:
    assert r.returncode != 0, r.stdout
    assert text in r.stderr, r.stderr[-2000:]
    for bad in ("Traceback", "internal error", "MemoryError", "RecursionError"):
        assert bad not in r.stderr, r.stderr[-2000:]


def scenario(dir_: Path, steps: str, name: str = "s.yaml", topology: str = "topology: {namespaces: [red]}\n") -> Path:
    dir_.mkdir(parents=True, exist_ok=True)
    p = dir_ / name
    p.write_text(f"title: hostile\nsummary: s\n{topology}steps:\n{steps}")
    return p


def play_first_step(lab, path: Path):
    pl = Player(load(str(path)), lab)
    assert pl.start().ok
    return pl.run_step(0)


@pytest.fixture
def secret(tmp_path) -> Path:
    d = tmp_path / "secret"
    d.mkdir()
    (d / "shadow").write_text(SECRET)
    return d / "shadow"


# ---- 1. a scenario's file arguments stay in its directory; errors never echo a file ---------------------
def test_scenario_pcap_outside_its_directory_is_refused(lab, tmp_path):
    out = tmp_path / "outside.pcap"
    t = time.monotonic()
    run = play_first_step(lab, scenario(tmp_path / "scen", f"  - title: a\n    commands: ['trace red icmp 10.0.0.2 --pcap {out}']\n"))
    assert not run.ok and "outside the scenario's directory" in run.failed.error
    assert "a scenario file may only use files under" in run.failed.error
    assert not out.exists() and time.monotonic() - t < FAST


@pytest.mark.parametrize("cmd", ["red iptables-restore ../secret/shadow", "red ip6tables-restore /etc/passwd",
                                 "grade ../secret/shadow", "grade /etc/shadow"])
def test_scenario_file_arguments_outside_its_directory_are_refused(lab, tmp_path, secret, cmd):
    run = play_first_step(lab, scenario(tmp_path / "scen", f"  - title: a\n    commands: ['{cmd}']\n"))
    assert not run.ok and "outside the scenario's directory" in run.failed.error, run.failed.error
    assert "S3CRET" not in run.failed.error and "daemon" not in run.failed.error


def test_symlink_inside_the_directory_pointing_out_is_refused(tmp_path, secret):
    d = tmp_path / "scen"
    d.mkdir()
    (d / "rules.v4").symlink_to(secret)
    with confine.scenario_origin(str(d / "s.yaml")):
        with pytest.raises(Exception) as ei:
            confine.resolve_path("rules.v4", "iptables-restore")
        assert "outside the scenario's directory" in str(ei.value)
        assert confine.resolve_path("sub/../x.pcap", "trace") == os.path.realpath(d / "x.pcap")
        tmp = confine.lab_tmp_dir()
        assert tmp and confine.resolve_path(os.path.join(tmp, "x.pcap"), "trace") == os.path.join(tmp, "x.pcap")
    assert confine.resolve_path("/anywhere/x.pcap", "trace") == "/anywhere/x.pcap"   # typed: any path


@pytest.mark.skipif(not shutil.which("iptables-restore"), reason="iptables-nft not installed")
def test_scenario_file_inside_its_directory_works_and_typed_paths_are_free(lab, tmp_path):
    rules = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n"
    d = tmp_path / "scen"
    p = scenario(d, "  - title: a\n    commands: ['red iptables-restore rules.v4']\n")
    (d / "rules.v4").write_text(rules)
    run = play_first_step(lab, p)
    assert run.ok, run.failed and run.failed.error
    elsewhere = tmp_path / "elsewhere.v4"            # typed by the user: any path
    elsewhere.write_text(rules)
    run_ok(lab, f"red iptables-restore {elsewhere}")


def test_grade_of_a_file_that_is_not_a_scenario_quotes_nothing(lab, secret):
    t = time.monotonic()
    r = lab.run(f"grade {secret}")
    assert not r.ok and "not a scenario file (expected a YAML mapping with keys title, summary, steps" in r.error
    assert "S3CRET" not in r.error and "daemon" not in r.error and time.monotonic() - t < FAST


def test_scenario_symlinked_to_a_secret_file_quotes_nothing(tmp_path, secret):
    link = tmp_path / "innocent.yaml"
    link.symlink_to(secret)
    with pytest.raises(ScenarioError) as ei:
        load(str(link))
    assert "not a scenario file" in str(ei.value) and "S3CRET" not in str(ei.value)
    r, secs = lab_child("play", str(link), "--check")
    clear_failure(r, "not a scenario file")
    assert "S3CRET" not in r.stderr + r.stdout and secs < FAST


def test_graded_scenario_checks_run_no_programs_even_when_the_engine_may(lab, tmp_path):
    pwned = tmp_path / "pwned"
    p = scenario(tmp_path / "scen", "  - title: a\n    checks:\n"
                 f"      - output: {{run: \"red sh -c 'echo x > {pwned}'\", contains: [x]}}\n")
    run_ok(lab, "ip netns add red")
    assert lab.allow_exec
    r = lab.run(f"grade {p}")
    assert not r.ok and "is not allowed here" in r.error and not pwned.exists()


def test_a_scenario_grading_itself_stops_at_the_nesting_limit(lab, tmp_path):
    p = scenario(tmp_path / "scen", "  - title: a\n    checks:\n      - output: {run: grade s.yaml, contains: [x]}\n",
                 topology="")
    t = time.monotonic()
    r = lab.run(f"grade {p}")
    assert not r.ok and f"nest more than {confine.MAX_DEPTH} deep" in r.error and "internal error" not in r.error
    assert time.monotonic() - t < FAST


# ---- 2. iptables-restore reads regular files only, bounded ------------------------------------------
def test_restore_of_a_device_a_fifo_or_a_huge_file_is_refused_fast(lab, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    big = tmp_path / "big.v4"
    with open(big, "wb") as f:
        f.truncate(17 * 1024 * 1024)                   # sparse: 17 MB without writing them
    for path, text in (("/dev/zero", "is a character device; iptables-restore reads regular files only"),
                       (fifo, "is a FIFO"), (tmp_path, "is a directory"), (big, "over the 16 MB limit")):
        t = time.monotonic()
        r = lab.run(f"iptables-restore {path}")
        assert not r.ok and text in r.error, r.error
        assert time.monotonic() - t < FAST


def test_restore_of_dev_zero_in_a_script_stays_small(tmp_path):
    script = tmp_path / "zero.lab"
    script.write_text("ip netns add red\nred iptables-restore /dev/zero\n")
    r, secs = lab_child("run", str(script))
    clear_failure(r, f"{script}:2: iptables-restore: /dev/zero is a character device")
    assert secs < 3 * FAST


@pytest.mark.parametrize("how", ["file", "stdin", "setup"])
def test_endless_script_is_cut_at_the_limit(how):
    with open("/dev/zero", "rb") as zero:
        args = {"file": ["run", "/dev/zero"], "stdin": ["run", "-"], "setup": ["tui", "--setup", "/dev/zero"]}[how]
        r, secs = lab_child(*args, stdin=zero)
    clear_failure(r, "over the 16 MB limit for a lab script")
    assert secs < FAST


# ---- 3. YAML bombs, recursion, depth and size ---------------------------------------------------------
def _billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
    return "title: t\nsummary: s\n" + "\n".join(lines) + "\nsteps: [{title: x, commands: [*i]}]\n"


@pytest.mark.parametrize("name,text,expect", [
    ("laughs", _billion_laughs(), "anchors and aliases (&name, *name) are not allowed"),
    ("recursive", "title: t\nsummary: s\nsteps: &s [*s]\n", "anchors and aliases"),
    ("deep-flow", "title: t\nsummary: s\nsteps: " + "[" * 50000 + "]" * 50000 + "\n", "nest"),
    ("deep-block", "title: t\nsummary: s\nsteps:\n  " + "- " * 50000 + "x\n", "nest"),
    ("10MB", "title: t\nsummary: s\nsteps:\n  - title: a\n" + "".join(f"k{i:06d}: {'v' * 90}\n" for i in range(100000)),
     "a scenario file may be at most 1 MB"),
    ("many-values", "title: t\nsummary: s\nsteps: [" + ",".join("a" for _ in range(60000)) + "]\n",
     "more than 50000 values: too big for a scenario"),
], ids=lambda x: x if isinstance(x, str) and len(x) < 20 else "")
def test_yaml_bombs_end_fast_with_a_clear_error(tmp_path, name, text, expect):
    p = tmp_path / f"{name}.yaml"
    p.write_text(text)
    r, secs = lab_child("play", str(p), "--check")
    clear_failure(r, expect)
    assert f"{p.name}" in r.stderr and secs < FAST, (secs, r.stderr[-500:])


def test_yaml_errors_carry_the_line(tmp_path):
    with pytest.raises(ScenarioError) as ei:
        load_text("title: t\nsummary: s\nsteps:\n" + "".join("  " * i + "- \n" for i in range(1, 100)), "deep.yaml")
    assert "deep.yaml:" in str(ei.value) and ei.value.errors[0][0] > 60
    with pytest.raises(ScenarioError) as ei:
        load_text("title: t\nsummary: s\nx: &x 1\nsteps: [*x]\n", "a.yaml")
    assert ei.value.errors[0][0] == 3


# ---- 4. catastrophic regexes ------------------------------------------------------------------------
def test_catastrophic_regex_check_stops_after_its_time_limit(lab):
    from lab.scenario.checks import REGEX_TIMEOUT, evaluate

    c = Check("output", {"run": "help", "matches": r"^(\s|\S|.)*(\s|\S|.)*Z$"}, line=7)
    t = time.monotonic()
    r = evaluate(c, lab)
    assert r.status == "error" and f"regex check took longer than {REGEX_TIMEOUT:g} s" in r.explanation
    assert time.monotonic() - t < FAST
    ok = evaluate(Check("output", {"run": "help", "matches": r"^\s+ip\s"}, line=7), lab)
    assert ok.passed, ok.explanation


def test_regex_too_long_or_uncompilable_is_a_schema_error():
    for pat, text in (("a" * 1001, "at most 1000 characters"), ("a{4294967296}", "Python can compile"),
                      ("(" * 500 + ")" * 500, "Python can compile")):
        with pytest.raises(ScenarioError) as ei:
            load_text("title: t\nsummary: s\nsteps:\n  - title: a\n    checks:\n"
                      f"      - output: {{run: help, matches: '{pat}'}}\n", "r.yaml")
        assert text in str(ei.value)


# ---- 5. without allow_exec no program runs: captured, interactive, or the TUI's shell -----------------
def test_no_program_runs_without_allow_exec(lab, monkeypatch):
    import lab.engine as engine_mod
    from lab.commands.ip import ExecOp

    calls = []
    monkeypatch.setattr(engine_mod.subprocess, "call", lambda *a, **k: calls.append(a) or 0)
    run_ok(lab, "ip netns add red")
    lab.allow_exec = False
    lab.interactive = True                            # lab shell / the TUI's suspend-to-shell path
    for line in ("red bash", "red ping -c1 10.0.0.1", "ip netns exec red sh"):
        r = lab.run(line)
        assert not r.ok and "is not allowed here" in r.error
    with pytest.raises(Exception, match="is not allowed here"):
        lab._exec_interactive(ExecOp("red", ("bash",)))
    assert calls == []


def test_tui_shell_is_refused_without_allow_exec(lab, monkeypatch):
    from tests.test_ui_support import run_ui, wait_for

    run_ok(lab, "ip netns add red")
    lab.allow_exec = False
    suspended = []

    async def body(app, pilot):
        monkeypatch.setattr(type(app), "suspend", lambda self: suspended.append(1) or (_ for _ in ()).throw(AssertionError))
        app.open_shell("red")
        app.run_command("red bash")
        await wait_for(pilot, lambda: sum("is not allowed here" in line for line in app.output.plain_lines) >= 2,
                       what="two refusals")

    run_ui(lab, body)
    assert suspended == []


# ---- 6. non-UTF-8 scripts, NUL bytes, deep nesting, oversized payloads -------------------------------
@pytest.mark.parametrize("how", [["run"], ["tui", "--setup"], ["trace", "--setup"]])
def test_non_utf8_script_names_file_line_and_byte(tmp_path, how):
    f = tmp_path / "latin1.lab"
    f.write_bytes("ip netns add red\n# caf\u00e9\n".encode("latin-1"))
    args = how + [str(f)] + (["red", "icmp", "10.0.0.2"] if how[0] == "trace" else [])
    r, secs = lab_child(*args)
    clear_failure(r, f"{f}:2: byte 0xe9 at offset 22 (column 6) is not UTF-8 text")
    assert secs < FAST


def test_non_utf8_scenario_and_nul_script(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_bytes(b"title: t\nsummary: caf\xe9\nsteps: [{title: a}]\n")
    with pytest.raises(ScenarioError) as ei:
        load(str(p))
    assert ei.value.errors == [(2, "byte 0xe9 at offset 21 (column 13) is not UTF-8 text")]
    f = tmp_path / "nul.lab"
    f.write_bytes(b"ip netns add red\nip netns add a\0b\n")
    r, _ = lab_child("run", str(f))
    clear_failure(r, f"{f}:2: a NUL byte at offset 31")


def test_nul_in_an_argument_is_refused_at_tokenize_time(lab):
    r = lab.run("ip netns add a\0b")
    assert not r.ok and 'Bad argument "a\\0b": it contains a NUL character' in r.error
    with pytest.raises(ScenarioError) as ei:          # the same from a scenario, at load time, with its line
        load_text('title: t\nsummary: s\nsteps:\n  - title: a\n    commands: ["ip netns add \\"a\\0b\\""]\n', "n.yaml")
    assert ei.value.errors[0][0] == 5 and "NUL character" in ei.value.errors[0][1]


def test_deep_netns_exec_nesting_has_a_limit(lab):
    t = time.monotonic()
    r = lab.run("ip netns exec a " * 500 + "ip link")
    assert not r.ok and "nested more than 8 deep" in r.error and "internal error" not in r.error
    assert time.monotonic() - t < FAST
    from lab.commands import parse
    from lab.commands.base import Context

    assert parse("ip netns exec a " * 8 + "ip link", Context()).ns == "a"   # 8 is fine


@pytest.mark.parametrize("proto,target,limit", [("udp", "10.0.0.2:53", 65507), ("icmp", "10.0.0.2", 65507),
                                                ("tcp", "10.0.0.2:80", 65495)])
def test_trace_payload_over_the_ipv4_maximum(lab, proto, target, limit):
    run_ok(lab, "ip netns add red")
    r = lab.run(f"trace red {proto} {target} --payload {'x' * (limit + 1)}")
    assert not r.ok and f"carries at most {limit}" in r.error and "internal error" not in r.error
    from lab.commands.tracespec import parse_spec

    assert len(parse_spec(["red", proto, target, "--payload", "x" * limit]).payload) == limit
