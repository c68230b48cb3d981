"""Find and load scenario files: a path, or the name of a shipped scenario (`lab play fox-bear`).

Shipped scenarios live in the repository's `scenarios/` directory (or $LAB_SCENARIOS). Loading is
pure: YAML with line numbers (yamlpos) -> validated Scenario (schema). Raises ScenarioError.
Bounded: a scenario file is a regular file of at most MAX_SCENARIO bytes of UTF-8 (lab.safefile); when a
scenario names another one (`grade FILE` in its commands) the name resolves inside its directory
(lab.confine) or to a shipped scenario.
"""
from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

from lab import confine
from lab.errors import LabError, did_you_mean
from lab.resources import scenarios_dir, shipped
from lab.scenario import yamlpos
from lab.scenario.schema import NOT_A_SCENARIO, Scenario, ScenarioError, validate

MAX_SCENARIO = 1024 * 1024      # bytes: the shipped scenarios are under 11 KB
_SCENARIO_KEY = re.compile(r"""(title|summary|steps)["']?\s*:""")   # a file that means to be a scenario


def _too_big(size: int | None) -> str:
    return (f"a scenario file may be at most {MAX_SCENARIO // (1024 * 1024)} MB"
            + (f"; this one is {size} bytes" if size else ""))


def load_text(text: str, path: str = "<scenario>", name: str = "", source: str = "") -> Scenario:
    if len(text) > MAX_SCENARIO:
        raise ScenarioError(path, [(0, _too_big(len(text.encode())))])
    try:
        tree = yamlpos.load(text)
    except yamlpos.YamlError as e:
        if not _SCENARIO_KEY.search(text):   # not even trying to be a scenario: say so, quote nothing of it
            raise ScenarioError(path, [(e.line, NOT_A_SCENARIO.format(what="none of them"))]) from None
        raise ScenarioError(path, [(e.line, e.message)]) from None
    sc = validate(tree, path, name)
    return replace(sc, source=source) if source else sc


def _in_shipped(p: Path) -> bool:
    d = os.path.realpath(scenarios_dir())
    return os.path.realpath(p).startswith(d.rstrip(os.sep) + os.sep)


def resolve(ref: str) -> Path:
    """A file path, or a shipped scenario's name (with or without .yaml). From a scenario's own commands
    (lab.confine.current()), a path is taken from that scenario's directory and must stay inside it."""
    origin = confine.current()
    p = Path(ref)
    if origin is not None:
        roots = origin.roots
        cand = Path(roots[0]) / ref if roots and not p.is_absolute() else p
        if not origin.contains(os.path.realpath(cand)) and not _in_shipped(cand):
            if cand.is_file() or os.sep in ref:
                raise confine.refusal(ref, "grade", origin)
        elif cand.is_file():
            return cand
    elif p.is_file():
        return p
    d = scenarios_dir()
    for cand in (d / ref, d / f"{ref}.yaml"):
        if cand.is_file():
            return cand
    for q in shipped():   # "veth-basics" finds "01-veth-basics.yaml"
        if re.sub(r"^\d+-", "", q.stem) == ref.removesuffix(".yaml"):
            return q
    names = [q.stem for q in shipped()]
    raise LabError(f'No scenario "{ref}": no such file, and no shipped scenario by that name'
                   + did_you_mean(ref, names), "List them: lab play --list")


def load(ref: str) -> Scenario:
    from lab.safefile import NotUtf8, TooBig, decode_utf8, read_regular

    p = resolve(ref)
    rel = os.path.relpath(p)
    shown = rel if not rel.startswith("..") else str(p.absolute())  # short inside the cwd, absolute outside
    try:
        data = read_regular(str(p), MAX_SCENARIO, "scenario file")  # a FIFO, a device, 10 GB: refused
    except TooBig as e:
        raise ScenarioError(shown, [(0, _too_big(e.size))]) from None
    try:
        text = decode_utf8(data, shown)
    except NotUtf8 as e:
        raise ScenarioError(shown, [(e.line, e.detail)]) from None
    return load_text(text, shown, p.stem, source=str(p.absolute()))


def load_all() -> list[tuple[Path, Scenario | ScenarioError]]:
    out: list[tuple[Path, Scenario | ScenarioError]] = []
    for p in shipped():
        try:
            out.append((p, load(str(p))))
        except ScenarioError as e:
            out.append((p, e))
    return out
