"""Quality gates that run with the suite (so in CI): ruff, with the rule set pyproject.toml writes down,
over the package, the tests and the benchmarks; mypy over the package, with its settings there too."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests import labproc

@pytest.mark.fast
def test_ruff_finds_nothing():
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "lab", "tests", "bench"],
                       cwd=labproc.ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-1000:]


def test_mypy_finds_nothing():
    """mypy over lab/ with the settings pyproject.toml writes down (check_untyped_defs among them); the
    Protocol lab.backend.api.LabBackend is checked against lab.backend.core.Backend where the engine is made.
    Its incremental cache lives beside the interpreter (the venv), never in the checkout."""
    cache = os.path.join(os.path.dirname(os.path.dirname(sys.executable)), ".mypy_cache")
    r = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", cache],
                       cwd=labproc.ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-1000:]
    assert "Success: no issues found" in r.stdout
