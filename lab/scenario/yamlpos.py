"""YAML with line numbers: load a document into plain dict/list/str/int values that also remember the
line they came from, so schema errors can say `file:line: what was expected`.

Safe by construction: only YAML's plain types (no tags that build Python objects). Duplicate keys in a
mapping are an error (PyYAML silently keeps the last one). Bounded: built from parser events without
recursion; anchors/aliases and merge keys are refused (billion laughs, self-reference), nesting stops at
MAX_DEPTH and a document at MAX_NODES values; the caller bounds the text (lab.scenario.loader: 1 MB).
Leaves validation to lab.scenario.schema.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import yaml


class Pos:
    """Mixin: where a value came from (1-based line; 0 = unknown)."""
    line: int = 0
    key_lines: dict


class PStr(str, Pos):
    pass


class PInt(int, Pos):
    pass


class PFloat(float, Pos):
    pass


class PDict(dict, Pos):
    """A mapping; `key_lines[k]` is the line of key k."""


class PList(list, Pos):
    pass


class PNone(Pos):
    """A null that remembers its line (falsy; compare with `is_none`)."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "None"


class YamlError(Exception):
    def __init__(self, message: str, line: int = 0):
        super().__init__(message)
        self.message = message
        self.line = line


def line_of(value, default: int = 0) -> int:
    return getattr(value, "line", 0) or default


def is_none(value) -> bool:
    return value is None or isinstance(value, PNone)


def plain(value):
    """Strip positions: plain Python values (for tests and dumping)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, PNone):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


_PY_TAGS = "tag:yaml.org,2002:python/"
_MERGE = "tag:yaml.org,2002:merge"
MAX_DEPTH = 64          # nesting of mappings/lists (shipped scenarios use 8)
MAX_NODES = 50_000      # values in one document (shipped scenarios use under 2,000)

if TYPE_CHECKING:
    _Base = yaml.SafeLoader
else:
    _Base = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader   # libyaml's parser is ~10x faster when present


class _Loader(_Base):
    pass


class _Frame:
    __slots__ = ("value", "key")

    def __init__(self, value):
        self.value = value
        self.key = None          # a mapping's key waiting for its value


def _check_event(ev, line: int) -> None:
    if isinstance(ev, yaml.AliasEvent) or getattr(ev, "anchor", None):
        raise YamlError("anchors and aliases (&name, *name) are not allowed in a scenario: write the value out",
                        line)
    tag = getattr(ev, "tag", None)
    if tag and tag != "!" and (tag.startswith("!") or tag.startswith(_PY_TAGS)):
        raise YamlError(f'the tag "{_short(tag)}" is not allowed: a scenario is plain data', line)


def _short(s: str, n: int = 40) -> str:
    return s if len(s) <= n else s[:n - 3] + "..."


def _scalar(loader: _Loader, ev, line: int):
    tag = ev.tag
    if tag is None or tag == "!":
        tag = loader.resolve(yaml.ScalarNode, ev.value, ev.implicit)
    if tag == _MERGE:
        raise YamlError("merge keys (<<) are not allowed in a scenario: write the keys out", line)
    node = yaml.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, style=ev.style)
    value = loader.construct_object(node, deep=True)
    loader.constructed_objects.pop(node, None)
    n: Pos
    if value is None:
        n = PNone()
    elif isinstance(value, bool):
        return value  # bool cannot be subclassed; its line is its parent's
    elif isinstance(value, int):
        n = PInt(value)
    elif isinstance(value, float):
        n = PFloat(value)
    else:
        n = PStr(str(value))
    n.line = line
    return n


def _build(loader: _Loader):
    """Events -> positioned values, without recursion: depth, size, anchors and tags checked as they come."""
    loader.get_event()                                   # stream start
    if loader.check_event(yaml.StreamEndEvent):
        return PNone()
    loader.get_event()                                   # document start
    stack: list[_Frame] = []
    root, nodes = None, 0

    def attach(value, line: int) -> None:
        nonlocal root
        if not stack:
            root = value
            return
        top = stack[-1]
        if isinstance(top.value, list):
            top.value.append(value)
        elif top.key is None:
            key = PStr(str(value))
            key.line = line
            if key in top.value:
                raise YamlError(f'duplicate key "{_short(key)}" (first on line {top.value.key_lines[key]})', line)
            top.value.key_lines[key] = line
            top.key = key
        else:
            top.value[top.key] = value
            top.key = None

    while True:
        ev = loader.get_event()
        line = ev.start_mark.line + 1 if ev.start_mark is not None else 0
        _check_event(ev, line)
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if stack and isinstance(stack[-1].value, dict) and stack[-1].key is None:
                raise YamlError("a mapping key must be a plain word", line)
            if len(stack) >= MAX_DEPTH:
                raise YamlError(f"nested more than {MAX_DEPTH} levels deep: a scenario is not that deep", line)
            nodes += 1
            c: PDict | PList
            if isinstance(ev, yaml.MappingStartEvent):
                c = PDict()
                c.key_lines = {}
            else:
                c = PList()
            c.line = line
            stack.append(_Frame(c))
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            f = stack.pop()
            attach(f.value, f.value.line)
        elif isinstance(ev, yaml.ScalarEvent):
            nodes += 1
            attach(_scalar(loader, ev, line), line)
        elif isinstance(ev, yaml.DocumentEndEvent):
            break
        if nodes > MAX_NODES:
            raise YamlError(f"more than {MAX_NODES} values: too big for a scenario", line)
    if not loader.check_event(yaml.StreamEndEvent):
        ev = loader.peek_event()
        raise YamlError("one document per file: found a second one (a line with ---)",
                        ev.start_mark.line + 1 if ev.start_mark is not None else 0)
    return root


def _quiet(problem: str) -> str:
    """A parser message without long quoted fragments: errors must not echo a file that is not a scenario."""
    import re

    return re.sub(r"'([^']{21,})'", "'...'", problem)


def load(text: str):
    """Parse one YAML document into positioned values. Raises YamlError(message, line): also for anchors
    and aliases (billion laughs, recursion), nesting over MAX_DEPTH and more than MAX_NODES values, so
    time and memory stay proportional to the text (whose size the caller bounds)."""
    loader = _Loader(text)
    try:
        return _build(loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        what = _quiet(" ".join(x for x in (e.context, e.problem) if x))
        ctx = e.context_mark
        if ctx is not None and mark is not None and ctx.line != mark.line:
            what += f" (the construct began on line {ctx.line + 1}; a text with ': ' or ' #' in it needs quotes)"
        raise YamlError(f"not valid YAML: {what}", (mark.line + 1) if mark else 0) from None
    except yaml.YAMLError as e:
        raise YamlError(f"not valid YAML: {_quiet(str(e))}") from None
    finally:
        loader.dispose()
