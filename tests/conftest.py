"""Test harness: the whole session runs inside the lab's own rootless sandbox (user+net+mount
namespaces), so no test can touch the machine's network; a guardian forked beforehand proves it by
comparing the root namespace before and after. Each test gets a fresh, empty top namespace and every
named namespace it creates is removed afterwards, even on failure."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.rootguard import Guardian  # noqa: E402

# a pytest-xdist worker (`pytest -n 2`) was started in a sandbox of its own by tests/xdist_python.py; the
# controller (or a plain `pytest`) makes the guardian and enters the sandbox here, before any thread starts
WORKER = os.environ.pop("LAB_TEST_WORKER_SANDBOX", "") == "1"
GUARD = None if WORKER else Guardian.start()

from lab import engine, extensions  # noqa: E402
from lab.backend import nsutil, sandbox  # noqa: E402

if WORKER:
    sandbox._in_sandbox = True
    nsutil.TOP.reset()
else:
    # inside tests/vm/run's throwaway VM only: a second run as the machine's own root (net+mount, no user
    # namespace) for what the kernel grants only to it (IPVS); its tests are marked vm_root
    ROOT_SANDBOX = os.environ.get("LAB_VM") == "1" and os.environ.get("LAB_TEST_ROOT_SANDBOX") == "1"
    sandbox.enter_sandbox(userns=not ROOT_SANDBOX)
engine.LOAD_HANDLERS = extensions.load   # trace and grade, as the entry point does


def pytest_configure(config):
    """`pytest -n N`: each worker's Python is tests/xdist_python.py (a sandbox of its own)."""
    tx = getattr(config.option, "tx", None)
    if tx and getattr(config.option, "numprocesses", None):
        wrapper = os.path.join(ROOT, "tests", "xdist_python.py")
        config.option.tx = [f"popen//python={sys.executable} {wrapper}" if t == "popen" else t for t in tx]


def pytest_sessionfinish(session, exitstatus):
    """After the suite, the machine's root namespace is exactly as before (checked from outside, by the
    guardian the controller forked before it entered its sandbox): any difference fails the run."""
    if GUARD is None:
        return
    diffs = GUARD.differences()
    GUARD.stop()
    if diffs:
        session.config.get_terminal_writer().line(
            "\nthe test suite changed the machine's root namespace:\n" + "\n".join(diffs), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def fresh_top():
    """A new, empty top namespace for this test; named namespaces it makes are removed afterwards."""
    sandbox.new_top()
    before = set(nsutil.list_netns())
    yield
    for ns in set(nsutil.list_netns()) - before:
        try:
            nsutil.remove_netns(ns)
        except OSError:
            pass


@pytest.fixture
def backend(fresh_top):
    from lab.backend.core import Backend

    b = Backend()
    yield b
    b.close()


@pytest.fixture
def lab(backend):
    """An Engine over a fresh sandboxed lab."""
    from lab.engine import Engine

    return Engine(backend)


@pytest.fixture
def uniq():
    """A short unique suffix for names a test owns."""
    return uuid.uuid4().hex[:6]


def run_ok(engine, *lines):
    """Run lines through the engine, failing the test with the error if any fails. Returns outputs."""
    outs = []
    for line in lines:
        r = engine.run(line)
        assert r.ok, f"{line!r} failed: {r.error}"
        outs.append(r.output)
    return outs


def kernel(ns: str | None, *argv: str) -> str:
    """Read the kernel's state independently of lab: run a real tool (ip, iptables...) in `ns`."""
    with nsutil.in_netns(ns):
        r = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"{argv} failed: {r.stderr}"
    return r.stdout


def kernel_json(ns: str | None, *argv: str):
    """`ip -j ...` in `ns`, parsed."""
    return json.loads(kernel(ns, "ip", "-j", *argv) or "[]")
