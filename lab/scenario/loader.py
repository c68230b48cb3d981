"""Find and load scenario files: a path, or the name of a shipped scenario (`lab play fox-bear`).

Shipped scenarios live in the repository's `scenarios/` directory (or $LAB_SCENARIOS). Loading is
pure: YAML with line numbers (yamlpos) -> validated Scenario (schema). Raises ScenarioError.
"""
from __future__ import annotations

import os
from pathlib import Path

from lab.errors import LabError, did_you_mean
from lab.scenario import yamlpos
from lab.scenario.schema import Scenario, ScenarioError, validate


def scenarios_dir() -> Path:
    env = os.environ.get("LAB_SCENARIOS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "scenarios"


def shipped() -> list[Path]:
    d = scenarios_dir()
    return sorted(p for p in d.glob("*.yaml") if p.is_file()) if d.is_dir() else []


def load_text(text: str, path: str = "<scenario>", name: str = "") -> Scenario:
    try:
        tree = yamlpos.load(text)
    except yamlpos.YamlError as e:
        raise ScenarioError(path, [(e.line, e.message)]) from None
    return validate(tree, path, name)


def resolve(ref: str) -> Path:
    """A file path, or a shipped scenario's name (with or without .yaml)."""
    p = Path(ref)
    if p.is_file():
        return p
    d = scenarios_dir()
    for cand in (d / ref, d / f"{ref}.yaml"):
        if cand.is_file():
            return cand
    import re

    for q in shipped():   # "veth-basics" finds "01-veth-basics.yaml"
        if re.sub(r"^\d+-", "", q.stem) == ref.removesuffix(".yaml"):
            return q
    names = [q.stem for q in shipped()]
    raise LabError(f'No scenario "{ref}": no such file, and no shipped scenario by that name'
                   + did_you_mean(ref, names), "List them: lab play --list")


def load(ref: str) -> Scenario:
    p = resolve(ref)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise LabError(f"cannot read {p}: {e}") from None
    rel = os.path.relpath(p)
    shown = rel if not rel.startswith("..") else str(p.resolve())  # short inside the cwd, absolute outside
    return load_text(text, shown, p.stem)


def load_all() -> list[tuple[Path, Scenario | ScenarioError]]:
    out = []
    for p in shipped():
        try:
            out.append((p, load(str(p))))
        except ScenarioError as e:
            out.append((p, e))
    return out
