"""Compiled bytecode for lab's modules before a start-up is timed, as an installed wheel has it (pip compiles
on install). A checkout run with PYTHONDONTWRITEBYTECODE=1, or whose .pyc files are older than its sources,
otherwise compiles every lab module on every import: ~60-100 ms of each start-up that no user pays."""
from __future__ import annotations

import compileall
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ensure() -> None:
    compileall.compile_dir(os.path.join(ROOT, "lab"), quiet=1)
