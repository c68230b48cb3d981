"""Benchmark: build then tear down a lab of N namespaces through lab's engine, through `ip -batch`, through
a shell loop of `ip` commands and (where installed) through Mininet, in the same run, inside a private
sandbox. Prints the times, the time per namespace (the curve: flat means linear) and the ratios.

Topologies:
  star  one bridge br0; each namespace s<i> has a veth into it and an address (issue 2's bench)
  tree  Mininet's `--topo tree,depth=2,fanout=F` with Linux bridges (`--switch lxbr`): a root bridge s1,
        F leaf bridges each linked to s1 by a veth pair, N hosts h<i> (namespaces) spread over the leaves
        with a veth and an address each; F = ceil(sqrt(N)), so N = 1,024 is Mininet's tree,depth=2,fanout=32

Targets (issue 17): lab at most 0.5x `ip -batch` at every N, and lab's time per namespace flat (within
1.5x from the smallest N to the largest). `ip -batch` cannot switch namespace per line, so its run is one
batch in the top namespace plus one `ip -n NS -batch` per namespace for what happens inside it (the least a
user can do with ip). The kernel's own cost is the floor: a bridge's ports all get looked at whenever one of
them comes up (br_port_state_selection), so a star's cost per namespace grows with N for every tool alike;
the `kernel` column is lab's time spent waiting for netlink answers and namespace syscalls, and `floor` that time
over ip -batch's total: what lab/batch would be if lab spent no time of its own.

Run: .venv/bin/python bench/bench_core.py [--topo star,tree] [--loop-max 200] [--no-mininet] [N ...]
(default N: 50, 200, 1000 for the star, whose one bridge takes at most 1,023 ports (the kernel's BR_MAX_PORTS:
`Exchange full`); 49, 196, 1024, 2025 for the tree, squares like Mininet's)
"""
from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def star(n: int) -> tuple[list[str], list[str]]:
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


def tree(n: int) -> tuple[list[str], list[str]]:
    """Mininet's tree,depth=2 over Linux bridges: s1 the root, s2..s(F+1) the leaves, h1..hN the hosts."""
    f = math.isqrt(n - 1) + 1 if n > 1 else 1
    leaves = (n + f - 1) // f
    build = ["ip link add s1 type bridge", "ip link set s1 up"]
    teardown = []
    for j in range(2, leaves + 2):
        build += [f"ip link add s{j} type bridge", f"ip link set s{j} up",
                  f"ip link add s1-eth{j - 1} type veth peer name s{j}-eth{f + 1}",
                  f"ip link set s1-eth{j - 1} master s1", f"ip link set s{j}-eth{f + 1} master s{j}",
                  f"ip link set s1-eth{j - 1} up", f"ip link set s{j}-eth{f + 1} up"]
        teardown += [f"ip link del s1-eth{j - 1}", f"ip link del s{j}"]
    for i in range(1, n + 1):
        leaf, port = (i - 1) // f + 2, (i - 1) % f + 1
        build += [f"ip netns add h{i}",
                  f"ip link add s{leaf}-eth{port} type veth peer name h{i}-eth0 netns h{i}",
                  f"ip link set s{leaf}-eth{port} master s{leaf}",
                  f"ip link set s{leaf}-eth{port} up",
                  f"ip -n h{i} addr add 10.{i // 65536}.{i // 256 % 256}.{i % 256}/8 dev h{i}-eth0",
                  f"ip -n h{i} link set h{i}-eth0 up"]
    teardown = [f"ip netns del h{i}" for i in range(1, n + 1)] + teardown + ["ip link del s1"]
    return build, teardown


TOPOS = {"star": star, "tree": tree}


def quiet_ipv6(lines: list[str]) -> list[str]:
    """Every device `addrgenmode none` before it comes up: no IPv6 link-local address, so none of the kernel's
    autoconfiguration traffic (DAD, MLD reports, router solicitations), which a bridge floods to all its ports:
    O(N) per device, O(N^2) for the lab. Both tools run the same lines; it shows lab's own curve without it."""
    out = []
    for line in lines:
        w = line.split()
        if w[-1] == "up" and "link" in w and "set" in w:
            out.append(" ".join(w[:-1]) + " addrgenmode none")
        out.append(line)
    return out


class Timed:
    """lab's time waiting for the kernel: netlink answers and the namespace syscalls (the floor)."""

    def __init__(self) -> None:
        self.kernel = 0.0

    def __enter__(self):
        from lab.backend import nsutil, rtnl

        self.saved = [(rtnl.Rtnl, "request", rtnl.Rtnl.request), (nsutil, "unshare", nsutil.unshare),
                      (nsutil, "umount", nsutil.umount), (nsutil, "mount", nsutil.mount)]
        for owner, name, fn in self.saved:
            setattr(owner, name, self.wrap(fn))
        return self

    def wrap(self, fn):
        def timed(*a, **kw):
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self.kernel += time.perf_counter() - t
        return timed

    def __exit__(self, *exc):
        for owner, name, fn in self.saved:
            setattr(owner, name, fn)


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
    subprocess.run(["sh", "-s"], input=script, text=True, check=True)
    return time.perf_counter() - t


def run_batch(lines: list[str]) -> float:
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


def run_mininet(n: int) -> tuple[float, float] | None:
    """Mininet 2.3's own tree (Linux bridges, no controller; fanout ceil(sqrt N), so F*F hosts: give N = F*F for the
    same lab): build + start, then stop, as Mininet's own API times them (needs Debian's mininet and bridge-utils)."""
    mn = shutil.which("mn")
    if mn is None:
        return None
    f = math.isqrt(n - 1) + 1 if n > 1 else 1
    code = ("import time,sys\nfrom mininet.net import Mininet\nfrom mininet.topolib import TreeTopo\n"
            "from mininet.nodelib import LinuxBridge\n"
            f"net=Mininet(topo=TreeTopo(depth=2,fanout={f}),switch=LinuxBridge,controller=None,build=False)\n"
            "t=time.perf_counter();net.build();net.start();b=time.perf_counter()-t\n"
            "t=time.perf_counter();net.stop();print(b,time.perf_counter()-t)\n")
    # Debian's mininet package is for the system python; it runs in this process's sandbox (a user, network and
    # mount namespace of its own), so its bridges and hosts never touch the machine's network either
    r = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"(mininet did not run: {r.stderr.strip().splitlines()[-1:] or r.returncode})", flush=True)
        return None
    b, t = (float(x) for x in r.stdout.split()[-2:])
    return b, t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--topo", default="star,tree")
    ap.add_argument("--loop-max", type=int, default=200, help="the shell loop only up to this N (it is slow)")
    ap.add_argument("--no-mininet", action="store_true")
    ap.add_argument("--quiet-ipv6", action="store_true",
                    help="every device addrgenmode none before it comes up (both tools): the curve without the "
                         "kernel's IPv6 autoconfiguration floods")
    ap.add_argument("n", nargs="*", type=int)
    a = ap.parse_args()
    counts = a.n or []
    from lab.backend import sandbox

    sandbox.enter_sandbox()
    from lab.backend.core import Backend
    from lab.engine import Engine

    print(f"{'topo':<5} {'N':>5} {'phase':<9} {'lab':>8} {'kernel':>8} {'ms/ns':>6} {'ip -batch':>9} {'ms/ns':>6} "
          f"{'lab/batch':>9} {'floor':>6} {'ip loop':>8} {'mininet':>8}")
    for topo in a.topo.split(","):
        first_per_ns = None
        # the tree's default sizes are squares, so Mininet's tree,depth=2,fanout=F builds the same N hosts
        for n in counts or ([49, 196, 1024, 2025] if topo == "tree" else [50, 200, 1000]):
            build, teardown = TOPOS[topo](n)
            if a.quiet_ipv6:
                build = quiet_ipv6(build)
            figures: dict[str, tuple[float, float]] = {}
            kernel = [0.0, 0.0]
            sandbox.new_top()
            eng = Engine(Backend())
            run_lab(eng, ["ip link show", "ip netns list"])  # warm: imports done once per process
            with Timed() as tm:
                b = run_lab(eng, build)
                kernel[0] = tm.kernel
                t = run_lab(eng, teardown)
                kernel[1] = tm.kernel - kernel[0]
            eng.backend.close()
            figures["lab"] = (b, t)
            sandbox.new_top()
            figures["batch"] = (run_batch(build), run_batch(teardown))
            if n <= a.loop_max:
                sandbox.new_top()
                figures["loop"] = (run_shell_loop(build), run_shell_loop(teardown))
            mini = None if a.no_mininet or topo != "tree" else run_mininet(n)
            if mini:
                figures["mininet"] = mini
            for i, phase in enumerate(("build", "teardown", "total")):
                def pick(x, i=i):
                    return x[i] if i < 2 else x[0] + x[1]
                lab_t, batch_t = pick(figures["lab"]), pick(figures["batch"])
                kern = kernel[i] if i < 2 else sum(kernel)
                loop = f"{pick(figures['loop']):>7.3f}s" if "loop" in figures else f"{'-':>8}"
                mn = f"{pick(figures['mininet']):>7.3f}s" if "mininet" in figures else f"{'-':>8}"
                print(f"{topo:<5} {n:>5} {phase:<9} {lab_t:>7.3f}s {kern:>7.3f}s {lab_t / n * 1000:>6.2f} "
                      f"{batch_t:>8.3f}s {batch_t / n * 1000:>6.2f} {lab_t / batch_t:>8.2f}x {kern / batch_t:>5.2f}x {loop} {mn}",
                      flush=True)
                if phase == "total":
                    per_ns = lab_t / n
                    first_per_ns = first_per_ns or per_ns
                    print(f"{'':<5} {'':>5} per-namespace time vs the smallest N: {per_ns / first_per_ns:.2f}x", flush=True)
    print("targets: lab/batch <= 0.50x at every N; lab's ms/ns within 1.5x of the smallest N's\n"
          "floor: lab's time waiting for the kernel alone, over ip -batch's total (what lab/batch would be with no\n"
          "time of its own: above 0.50x, the target cannot be met by lab)")


if __name__ == "__main__":
    main()
