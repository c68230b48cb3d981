"""Layering: only lab.ui imports textual, only lab.tracer imports scapy (at module import time), and
lab.model is stdlib-only. Each module is imported in a fresh interpreter and sys.modules inspected."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests import labproc

LAB = os.path.join(labproc.ROOT, "lab")


def modules() -> list[str]:
    out = []
    for dirpath, _dirs, files in os.walk(LAB):
        if "__pycache__" in dirpath:
            continue
        for f in files:
            if f.endswith(".py") and f != "__main__.py":
                rel = os.path.relpath(os.path.join(dirpath, f), labproc.ROOT)[:-3].replace(os.sep, ".")
                out.append(rel.removesuffix(".__init__"))
    return sorted(out)


CODE = """
import importlib, sys, json
before = set(sys.modules)
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(m.split('.')[0] for m in set(sys.modules) - before)))
"""


@pytest.mark.parametrize("mod", [m for m in modules() if not m.startswith(("lab.ui", "lab.tracer"))])
def test_headless_modules_do_not_import_textual_or_scapy(mod):
    r = subprocess.run([sys.executable, "-c", CODE, mod], capture_output=True, text=True, cwd=labproc.ROOT,
                       env=labproc.env(), timeout=60)
    assert r.returncode == 0, r.stderr
    loaded = set(__import__("json").loads(r.stdout.splitlines()[-1]))
    assert "textual" not in loaded, f"{mod} imports textual"
    assert "scapy" not in loaded, f"{mod} imports scapy at import time (import it lazily)"
    if mod.startswith("lab.model"):
        assert not loaded & {"pyroute2", "prompt_toolkit", "rich", "yaml"}, f"{mod} must be stdlib-only"
