"""Run the real `lab` command as a separate process (as root-in-sandbox, as an unprivileged user, or
inside a private network namespace for --host), for the tests of the sandbox and --host."""
from __future__ import annotations

import os
import site
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lab_argv() -> list[str]:
    return [sys.executable, "-m", "lab"]


def env(**extra) -> dict:
    e = {**os.environ, "PYTHONPATH": ROOT, **extra}
    e.pop("LAB_SANDBOX", None)
    return e


def unprivileged_argv() -> tuple[list[str], dict] | None:
    """argv prefix + env to run `lab` as the user `nobody` with the system python, or None if the
    checkout or the packages are not readable by that user."""
    py = "/usr/bin/python3"
    sp = [p for p in site.getsitepackages() if os.path.isdir(p)]
    if not os.path.exists(py) or not sp:
        return None
    for path in [ROOT] + sp:
        p = path
        while p not in ("/", ""):
            if not os.stat(p).st_mode & 0o001:
                return None
            p = os.path.dirname(p)
    e = env(PYTHONPATH=":".join([ROOT] + sp), HOME="/tmp", LAB_HISTORY="/tmp/lab-nobody-history")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", py, "-m", "lab"], e


def run(argv: list[str], input: str | None = None, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout, cwd=ROOT, **kw)
