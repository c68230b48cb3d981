"""Benchmark: build then tear down a star of N namespaces (each with a veth into one bridge and an
address) through lab's engine, through a shell loop of `ip` commands, and through `ip -batch`, all
in the same run, inside a private sandbox. Prints times and ratios.

Targets (issue 2): lab <= 0.7x the time of `ip -batch`; lab under 1 s for N = 100.
`ip -batch` cannot switch namespace per line, so its run is one batch in the top namespace plus one
`ip -n NS -batch` per namespace for the address and link-up inside it (the least a user can do).

Run: .venv/bin/python bench/bench_core.py [N ...]
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def commands(n: int) -> tuple[list[str], list[str]]:
    build = ["ip link add br0 type bridge", "ip link set br0 up"]
    for i in range(n):
        build += [f"ip netns add s{i}",
                  f"ip link add v{i} type veth peer name e{i} netns s{i}",
                  f"ip link set v{i} master br0",
                  f"ip link set v{i} up",
                  f"ip -n s{i} addr add 10.{i // 250}.{i % 250 + 1}.1/8 dev e{i}",
                  f"ip -n s{i} link set e{i} up"]
    teardown = [f"ip netns del s{i}" for i in range(n)] + ["ip link del br0"]
    return build, teardown


def run_lab(engine, lines: list[str]) -> float:
    t = time.perf_counter()
    for line in lines:
        r = engine.run(line)
        if not r.ok:
            raise SystemExit(f"lab failed on {line!r}: {r.error}")
    return time.perf_counter() - t


def run_shell_loop(lines: list[str]) -> float:
    script = "set -e\n" + "\n".join(lines) + "\n"
    t = time.perf_counter()
    subprocess.run(["sh", "-c", script], check=True)
    return time.perf_counter() - t


def run_batch(n: int, lines: list[str], teardown: bool) -> float:
    with tempfile.TemporaryDirectory() as d:
        top = [line[3:] for line in lines if not line.startswith("ip -n ")]
        per_ns: dict[str, list[str]] = {}
        for line in lines:
            if line.startswith("ip -n "):
                _, _, ns, rest = line.split(" ", 3)
                per_ns.setdefault(ns, []).append(rest)
        path = os.path.join(d, "top.batch")
        with open(path, "w") as f:
            f.write("\n".join(top) + "\n")
        t = time.perf_counter()
        subprocess.run(["ip", "-batch", path], check=True)
        for ns, cmds in per_ns.items():
            subprocess.run(["ip", "-n", ns, "-batch", "-"], input="\n".join(cmds) + "\n", text=True, check=True)
        return time.perf_counter() - t


def main(ns_counts: list[int]) -> None:
    from lab.backend import sandbox

    sandbox.enter_sandbox()
    from lab.backend.core import Backend
    from lab.engine import Engine

    print(f"{'N':>5} {'phase':<9} {'lab':>8} {'ip loop':>8} {'ip -batch':>9} {'lab/batch':>9} {'lab/loop':>8}")
    for n in ns_counts:
        build, teardown = commands(n)
        figures = {}
        for name in ("lab", "loop", "batch"):
            sandbox.new_top()
            if name == "lab":
                eng = Engine(Backend())
                run_lab(eng, ["ip link show", "ip netns list"])  # warm: imports done once per process
                b = run_lab(eng, build)
                t = run_lab(eng, teardown)
                eng.backend.close()
            elif name == "loop":
                b = run_shell_loop(build)
                t = run_shell_loop(teardown)
            else:
                b = run_batch(n, build, False)
                t = run_batch(n, teardown, True)
            figures[name] = (b, t)
        for i, phase in enumerate(("build", "teardown", "total")):
            pick = (lambda x: x[i]) if i < 2 else (lambda x: x[0] + x[1])
            lab_t, loop_t, batch_t = (pick(figures[k]) for k in ("lab", "loop", "batch"))
            print(f"{n:>5} {phase:<9} {lab_t:>7.3f}s {loop_t:>7.3f}s {batch_t:>8.3f}s {lab_t / batch_t:>8.2f}x {lab_t / loop_t:>7.2f}x")
    print("targets: lab/batch <= 0.70x; lab total < 1 s at N = 100")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [50, 100, 200])
