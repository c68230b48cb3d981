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
new = set(sys.modules) - before
# lab/_lazy.py registers pyroute2 whose body has not run (it has a module __getattr__ until then): not loaded
new = {m for m in new if not (m == "pyroute2" and "__getattr__" in vars(sys.modules[m]))}
print(json.dumps(sorted(m.split('.')[0] for m in new)))
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


# ---- the import layers: every import in lab/ (module level or inside a function) goes down, never up ----
RANK = {"_lazy": 0, "model": 0, "errors": 0, "confine": 0, "safefile": 0, "resources": 0, "render": 1, "commands": 1, "backend": 2,
        "engine": 3, "tracer": 4, "scenario": 5, "ui": 6, "cli": 7, "shell": 7, "__main__": 7, "extensions": 7,
        "serve": 7, "jupyter": 7}
TOP = 7     # the entry points: lab.cli, lab.shell, lab.__main__, lab.extensions and every package's cli module


def rank(mod: str) -> int:
    parts = mod.split(".")
    if parts[-1] == "cli" or len(parts) == 1:
        return TOP if parts[-1] == "cli" else 0
    if parts[1] not in RANK:
        raise AssertionError(f"{mod}: not in any layer (add it to tests/test_layers.py RANK)")
    return RANK[parts[1]]


def imports_of(path: str, mod: str) -> list[tuple[str, int]]:
    """Every lab module `path` imports, wherever the import statement is (ast: lazy imports count too)."""
    import ast

    out = []
    for n in ast.walk(ast.parse(open(path).read())):
        if isinstance(n, ast.Import):
            out += [(a.name, n.lineno) for a in n.names if a.name.split(".")[0] == "lab"]
        elif isinstance(n, ast.ImportFrom) and n.module and n.level == 0 and n.module.split(".")[0] == "lab":
            if n.module == "lab":     # from lab import render, confine: the modules themselves
                out += [(f"lab.{a.name}" if not a.name.startswith("__") else "lab", n.lineno) for a in n.names]
            else:
                out.append((n.module, n.lineno))
        elif isinstance(n, ast.Call) and getattr(n.func, "attr", getattr(n.func, "id", "")) in (
                "import_module", "__import__") and n.args and isinstance(n.args[0], ast.Constant) \
                and str(n.args[0].value).startswith("lab."):
            out.append((n.args[0].value, n.lineno))       # a string import is an import too
    return out


def test_imports_only_go_down_the_layers():
    """model/errors/confine/safefile <- render/commands <- backend <- engine <- tracer <- scenario <- ui <-
    the entry points. (Work that lives above the engine, trace and grade, registers itself with it.)"""
    bad = []
    for mod in modules():
        path = os.path.join(labproc.ROOT, *mod.split(".")) + (".py" if not os.path.isdir(
            os.path.join(labproc.ROOT, *mod.split("."))) else "/__init__.py")
        for target, line in imports_of(path, mod):
            if target.split(".")[:2] == mod.split(".")[:2]:
                continue              # within a package
            if rank(target) > rank(mod):
                bad.append(f"{path.removeprefix(labproc.ROOT + '/')}:{line}: {mod} imports {target}")
    assert not bad, "imports that go up a layer:\n" + "\n".join(bad)
