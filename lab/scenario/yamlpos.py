"""YAML with line numbers: load a document into plain dict/list/str/int values that also remember the
line they came from, so schema errors can say `file:line: what was expected`.

Safe by construction: only YAML's plain types (no tags that build Python objects). Duplicate keys in a
mapping are an error (PyYAML silently keeps the last one). Leaves validation to lab.scenario.schema.
"""
from __future__ import annotations

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


_PY_TAGS = ("tag:yaml.org,2002:python/object", "tag:yaml.org,2002:python/name")


class _Loader(yaml.SafeLoader):
    pass


def _convert(loader: _Loader, node) -> object:
    line = node.start_mark.line + 1
    if node.tag and node.tag.startswith("!") or node.tag in _PY_TAGS or node.tag.startswith("tag:yaml.org,2002:python/"):
        raise YamlError(f'the tag "{node.tag}" is not allowed: a scenario is plain data', line)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out = PDict()
        out.line = line
        out.key_lines = {}
        for knode, vnode in node.value:
            key = _convert(loader, knode)
            if isinstance(key, (dict, list)):
                raise YamlError("a mapping key must be a plain word", knode.start_mark.line + 1)
            key = PStr(str(key))
            key.line = knode.start_mark.line + 1
            if key in out:
                raise YamlError(f'duplicate key "{key}" (first on line {out.key_lines[key]})', key.line)
            out.key_lines[key] = key.line
            out[key] = _convert(loader, vnode)
        return out
    if isinstance(node, yaml.SequenceNode):
        out = PList(_convert(loader, n) for n in node.value)
        out.line = line
        return out
    value = loader.construct_object(node, deep=True)
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


def load(text: str):
    """Parse one YAML document into positioned values. Raises YamlError(message, line)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return PNone()
        return _convert(loader, node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        what = " ".join(x for x in (e.context, e.problem) if x)
        ctx = e.context_mark
        if ctx is not None and mark is not None and ctx.line != mark.line:
            what += f" (the construct began on line {ctx.line + 1}; a text with ': ' or ' #' in it needs quotes)"
        raise YamlError(f"not valid YAML: {what}", (mark.line + 1) if mark else 0) from None
    except yaml.YAMLError as e:
        raise YamlError(f"not valid YAML: {e}") from None
    finally:
        loader.dispose()
