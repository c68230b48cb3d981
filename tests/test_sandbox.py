"""The sandbox: an unprivileged user builds a lab that the machine never sees, and a lab killed
with SIGKILL leaves nothing (no process, so no namespace, link or rule, survives it)."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests import labproc
from tests.conftest import kernel

SCRIPT = """# red/blue on a veth
ip netns add red
ip netns add blue
ip link add veth-red type veth peer name veth-blue
ip link set veth-red netns red
ip link set veth-blue netns blue
ip -n red addr add 192.168.15.1/24 dev veth-red
ip -n blue addr add 192.168.15.2/24 dev veth-blue
ip -n red link set veth-red up
ip -n blue link set veth-blue up
ip link add v-net-0 type bridge
ip -n red -br addr
"""


def visible_state():
    return (kernel(None, "ip", "netns", "list"), kernel(None, "ip", "-br", "link"), kernel(None, "ip", "route"),
            kernel(None, "ip", "rule"))


def test_unprivileged_user_builds_a_lab_the_machine_never_sees(tmp_path, fresh_top):
    how = labproc.unprivileged_argv()
    if how is None:
        pytest.skip("the checkout or its packages are not readable by user nobody (e.g. under /root)")
    argv, env = how
    before = visible_state()
    r = labproc.run(argv + ["run", "-"], input=SCRIPT, env=env)
    if r.returncode != 0 and "sandbox" in r.stderr:
        pytest.fail("the sandbox refused an unprivileged user: " + r.stderr)
    assert r.returncode == 0, r.stderr
    assert "192.168.15.1/24" in r.stdout
    assert visible_state() == before


def test_host_mode_refused_without_privileges(fresh_top):
    how = labproc.unprivileged_argv()
    if how is None:
        pytest.skip("the checkout is not readable by user nobody")
    argv, env = how
    r = labproc.run(argv + ["--host", "run", "-"], input="ip netns add x\n", env=env)
    assert r.returncode != 0
    assert "--host needs root" in r.stderr and "sudo" in r.stderr
    assert "Traceback" not in r.stderr
    r = labproc.run(argv + ["--host", "--read-only", "run", "-"], input="ip link\n", env=env)
    assert r.returncode != 0 and "lab attach (--host --read-only) needs root" in r.stderr, r.stderr


def test_privileged_sandbox_needs_the_machines_own_root_and_is_not_host(fresh_top):
    """lab --privileged (the sandbox without a user namespace, for IPVS) asks for the machine's own root: root of
    a user namespace (this suite's own sandbox) is not it. It is a sandbox: not with --host. (It works in
    tests/vm/run's root pass: tests/test_ipvs.py.)"""
    if os.environ.get("LAB_TEST_ROOT_SANDBOX") == "1":
        pytest.skip("here the machine's root runs the suite: --privileged works (tests/test_ipvs.py)")
    r = labproc.run(labproc.lab_argv() + ["--privileged", "run", "-"], input="ip netns add x\n", env=labproc.env())
    assert r.returncode == 1 and r.stderr.startswith("lab: --privileged needs the machine's own root"), r.stderr
    assert "sudo lab --privileged" in r.stderr and "Traceback" not in r.stderr
    r = labproc.run(labproc.lab_argv() + ["--privileged", "--host", "run", "-"], input="ip link\n", env=labproc.env())
    assert r.returncode == 1 and "--privileged is a kind of sandbox" in r.stderr, r.stderr


def test_sandbox_as_root_in_process_tree_then_gone(fresh_top):
    r = labproc.run(labproc.lab_argv() + ["run", "-"], input=SCRIPT, env=labproc.env())
    assert r.returncode == 0, r.stderr
    assert "red" not in kernel(None, "ip", "netns", "list")


def _holders(ino: int) -> list[int]:
    pids = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if os.stat(f"/proc/{p}/ns/net").st_ino == ino:
                    pids.append(int(p))
            except OSError:
                pass
    return pids


def test_sigkill_leaves_nothing(fresh_top):
    before = visible_state()
    p = subprocess.Popen(labproc.lab_argv() + ["run", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=labproc.ROOT, env=labproc.env())
    p.stdin.write(SCRIPT + "red sleep 60\n")
    p.stdin.close()
    deadline = time.time() + 30
    line = ""
    while time.time() < deadline:
        line = p.stdout.readline()
        if "sleep 60" in line or not line:
            break
    assert "sleep 60" in line, p.stderr.read()
    time.sleep(0.3)
    top_ino = os.stat(f"/proc/{p.pid}/ns/net").st_ino
    children = [int(c) for c in open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()]
    red_ino = os.stat(f"/proc/{children[0]}/ns/net").st_ino if children else None
    os.kill(p.pid, signal.SIGKILL)
    p.wait(10)
    deadline = time.time() + 10
    while time.time() < deadline and (_holders(top_ino) or (red_ino and _holders(red_ino))):
        time.sleep(0.1)
    assert _holders(top_ino) == [], "a process still holds the killed sandbox's namespace"
    if red_ino:
        assert _holders(red_ino) == [], "the child in namespace red outlived the killed lab"
    assert visible_state() == before


def test_disabled_user_namespaces_get_a_clear_message(fresh_top):
    """user.max_user_namespaces = 0 (set inside a throwaway user namespace, where it is local)."""
    script = ('echo 0 > /proc/sys/user/max_user_namespaces && echo "ip netns add x" | '
              + " ".join(labproc.lab_argv()) + " run -")
    r = labproc.run(["unshare", "--user", "--map-root-user", "sh", "-c", script], env=labproc.env())
    assert r.returncode == 1
    assert "Cannot create the lab's private sandbox" in r.stderr
    assert "user.max_user_namespaces" in r.stderr and "sudo" in r.stderr
    assert "Traceback" not in r.stderr
