"""The scenario file format: what a scenario YAML may contain, validated into frozen dataclasses.

Every error names the file, the line and what was expected (`fox-bear.yaml:42: step 3, check 1 (ping):
"to" must be an IP address like 10.0.0.2, not "10.0.0"`). All errors of a file are collected, not just
the first. Pure: no kernel access; the topology is compiled to ordinary lab commands here so the
player, the TUI and `lab export` all see one list of commands.

Format (see scenarios/README.md for the prose version):

    title: str                 (required)
    summary: str               (required, Markdown)
    level: beginner | intermediate | advanced
    duration: str or minutes   ("15 min" or 15)
    kind: lesson | exercise    (exercise = troubleshooting: a broken lab and a task to fix it)
    tags: [str]
    requires: [feature]        (kernel features it needs: vlan, vlan_filtering, gre, geneve, netem... checked
                               first: lab.scenario.requires)
    topology:                  (optional, declarative; compiled to commands run before step 1)
      namespaces: [name, ...]
      bridges: [{name, ns?, address?, up?}]
      links: [{veth: END, peer: END}]        END = {name, ns?, address?, master?, mtu?, up?}
      routes: [{ns?, to, via?, dev?}]
      sysctls: [{ns?, key, value}]
    steps:
      - title: str
        narration: Markdown
        commands: [lab command, ...]
        checks: [CHECK, ...]
        hints: [Markdown, ...]              (a ladder: each one says a little more)
        task:                               ("your turn": the learner types the commands)
          goal: Markdown
          checks: [CHECK, ...]              (red until the learner has done it)
          hints: [Markdown, ...]
          solution: [lab command, ...]      (the documented fix; `lab play --check` applies it)
          explanation: Markdown             (why the fix works; shown after success)
          red_before: bool                  (default true: --check verifies the checks fail first)

    CHECK = {KIND: {args}, title?: str, explain?: str}, KIND one of CHECK_KINDS below.
    A namespace omitted (or "host") is the top namespace, "the host" of the classic tutorials.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from lab.commands.ip import dev_word
from lab.errors import LabError, did_you_mean
from lab.scenario.yamlpos import PDict, is_none, line_of, plain

LEVELS = ("beginner", "intermediate", "advanced")
KINDS = ("lesson", "exercise")
EXPECT = ("success", "fail")
TRACE_OUTCOMES = ("delivered", "dropped", "rejected", "answered", "lost", "stopped")
IPT_TABLES = ("raw", "mangle", "nat", "filter", "security")
HOST_ALIASES = ("", "host")


class ScenarioError(LabError):
    """A malformed scenario file. `errors` is a list of (line, message); str() is the report."""

    def __init__(self, path: str, errors: list[tuple[int, str]]):
        self.path = path
        self.errors = sorted(errors, key=lambda e: e[0])
        lines = [f"{path}:{ln}: {msg}" if ln else f"{path}: {msg}" for ln, msg in self.errors]
        more = f"\n... and {len(lines) - 20} more" if len(lines) > 20 else ""
        super().__init__("\n".join(lines[:20]) + more)


@dataclass(frozen=True)
class Command:
    text: str
    line: int = 0


@dataclass(frozen=True)
class Check:
    kind: str
    args: dict = field(hash=False)
    line: int = 0
    title: str = ""
    explain: str = ""


@dataclass(frozen=True)
class Task:
    goal: str
    checks: tuple[Check, ...]
    hints: tuple[str, ...] = ()
    solution: tuple[Command, ...] = ()
    explanation: str = ""
    red_before: bool = True
    line: int = 0


@dataclass(frozen=True)
class Step:
    title: str
    narration: str = ""
    commands: tuple[Command, ...] = ()
    checks: tuple[Check, ...] = ()
    hints: tuple[str, ...] = ()
    task: Task | None = None
    line: int = 0


@dataclass(frozen=True)
class Scenario:
    title: str
    summary: str
    steps: tuple[Step, ...]
    level: str = "beginner"
    duration: str = ""
    kind: str = "lesson"
    tags: tuple[str, ...] = ()
    setup: tuple[Command, ...] = ()     # the topology, compiled to lab commands
    path: str = ""
    name: str = ""
    source: str = ""                    # the file's absolute path ("" = given as text): lab.confine's root
    requires: tuple[str, ...] = ()      # kernel features (lab.scenario.requires.FEATURES), checked before building
    requires_line: int = 0

    def all_commands(self) -> list[Command]:
        out = list(self.setup)
        for s in self.steps:
            out += s.commands
            if s.task:
                out += s.task.solution
        return out


# ---- argument types ---------------------------------------------------------------------------------
class Bad(Exception):
    """A value of the wrong shape; the message says what was expected."""


def _show(v) -> str:
    v = plain(v)
    s = repr(v) if not isinstance(v, str) else f'"{v}"'
    return s if len(s) < 60 else s[:57] + "..."


def t_str(v):
    if isinstance(v, bool) or isinstance(v, (dict, list)) or is_none(v):
        raise Bad(f"a text value, not {_show(v)}")
    return str(v)


def t_ns(v):
    s = t_str(v)
    if s in HOST_ALIASES:
        return ""
    if "/" in s or " " in s:
        raise Bad(f"a namespace name, not {_show(v)}")
    return s


def t_ns_list(v):
    if isinstance(v, list):
        if not v:
            raise Bad("at least one namespace")
        return [t_ns(x) for x in v]
    return [t_ns(v)]


def t_ip(v):
    s = t_str(v)
    try:
        return str(ipaddress.ip_address(s))
    except ValueError:
        raise Bad(f"an IP address like 10.0.0.2, not {_show(v)}") from None


def t_cidr(v):
    s = t_str(v)
    if "/" not in s:
        raise Bad(f"an address with its prefix length like 10.0.0.1/24, not {_show(v)}")
    try:
        ipaddress.ip_interface(s)
    except ValueError:
        raise Bad(f"an address with its prefix length like 10.0.0.1/24, not {_show(v)}") from None
    return s


def t_cidr_list(v):
    return [t_cidr(x) for x in v] if isinstance(v, list) else [t_cidr(v)]


def t_dst(v):
    s = t_str(v)
    if s == "default":
        return s
    try:
        if "/" in s:
            ipaddress.ip_network(s, strict=False)
        else:
            ipaddress.ip_address(s)
    except ValueError:
        raise Bad(f'"default", an address or a prefix like 10.0.0.0/24, not {_show(v)}') from None
    return s


def t_endpoint(v):
    s = t_str(v)
    addr, sep, port = s.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise Bad(f"ADDRESS:PORT like 10.0.0.2:80, not {_show(v)}")
    try:
        ipaddress.ip_address(addr)
    except ValueError:
        raise Bad(f"ADDRESS:PORT like 10.0.0.2:80, not {_show(v)}") from None
    return (addr, int(port))


def t_bool(v):
    if not isinstance(v, bool):
        raise Bad(f"true or false, not {_show(v)}")
    return v


def t_int(v):
    if isinstance(v, bool) or not isinstance(v, int):
        raise Bad(f"a whole number, not {_show(v)}")
    return int(v)


def t_port(v):
    p = t_int(v)
    if not 0 < p < 65536:
        raise Bad(f"a port number 1-65535, not {p}")
    return p


def t_number(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
        raise Bad(f"a positive number, not {_show(v)}")
    return float(v)


MAX_SECONDS = 30.0   # a check's timeout or measuring time: a check must end


def t_seconds(v):
    n = t_number(v)
    if n > MAX_SECONDS:
        raise Bad(f"at most {MAX_SECONDS:g} seconds, not {_show(v)}")
    return n


_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(bit|bps)?\s*$", re.I)


def parse_rate(s: str) -> float:
    """tc-style rate -> bits per second ("1mbit", "500kbit", "2Mbps" = bytes)."""
    m = _RATE.match(s)
    if not m:
        raise ValueError(s)
    n = float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}[m.group(2).lower()]
    return n * 8 if (m.group(3) or "bit").lower() == "bps" else n


def t_rate(v):
    s = t_str(v)
    try:
        return parse_rate(s)
    except ValueError:
        raise Bad(f'a rate like 2mbit or 500kbit, not {_show(v)}') from None


MAX_PINGS = 50      # a ping check's `count`


def t_count(v):
    n = t_int(v)
    if not 1 <= n <= MAX_PINGS:
        raise Bad(f"a number of echo requests from 1 to {MAX_PINGS}, not {n}")
    return n


_TIME = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(us|usec|ms|msec|s|sec|secs)\s*$", re.I)


def t_ms(v):
    """A time as tc and ping write it ("90ms", "1.5s", "500us") -> milliseconds."""
    m = _TIME.match(t_str(v)) if not isinstance(v, bool) else None
    if not m:
        raise Bad(f"a time like 90ms or 1s, not {_show(v)}")
    unit = m.group(2).lower()
    ms = float(m.group(1)) * (0.001 if unit.startswith("u") else 1.0 if unit.startswith("m") else 1000.0)
    if ms > MAX_SECONDS * 1000:
        raise Bad(f"at most {MAX_SECONDS:g} s, not {_show(v)}")
    return ms


_PCT = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*%\s*$")


def t_pct(v):
    """A percentage ("20%") -> 0..100."""
    m = _PCT.match(t_str(v)) if not isinstance(v, bool) else None
    if not m or float(m.group(1)) > 100:
        raise Bad(f"a percentage from 0% to 100% like 20%, not {_show(v)}")
    return float(m.group(1))


PING_BOUNDS = ("rtt_at_least", "rtt_at_most", "loss_at_least", "loss_at_most")


def t_str_list(v):
    if isinstance(v, list):
        return [t_str(x) for x in v]
    return [t_str(v)]


MAX_REGEX = 1000    # characters in a `matches` pattern


def t_regex(v):
    s = t_str(v)
    if len(s) > MAX_REGEX:
        raise Bad(f"a regular expression of at most {MAX_REGEX} characters, not {len(s)}")
    try:
        re.compile(s)
    except re.error as e:
        raise Bad(f"a regular expression ({e})") from None
    except (OverflowError, RecursionError):
        raise Bad("a regular expression Python can compile (a repeat count or nesting too large)") from None
    return s


def enum(*choices):
    def t(v):
        s = t_str(v)
        if s not in choices:
            raise Bad(f'one of {", ".join(choices)}, not {_show(v)}{did_you_mean(s, choices)}')
        return s
    t.__name__ = "enum"
    return t


# a route's protocol as `ip route` names it (lab.backend.state.PROTO_NAMES): bird = installed by BIRD
ROUTE_PROTOS = ("kernel", "boot", "static", "redirect", "ra", "dhcp", "bird", "zebra", "bgp")


def t_proto(v):
    return enum(*ROUTE_PROTOS)(v)


def t_expect(v):
    return enum(*EXPECT)(v)


# kind -> {key: (type, required)}
_NS = (t_ns, False)
CHECK_KINDS: dict[str, dict[str, tuple[Any, bool]]] = {
    "ping": {"from": _NS, "to": (t_ip, True), "expect": (t_expect, False), "timeout": (t_seconds, False),
             "count": (t_count, False), "rtt_at_least": (t_ms, False), "rtt_at_most": (t_ms, False),
             "loss_at_least": (t_pct, False), "loss_at_most": (t_pct, False)},
    "tcp": {"from": _NS, "to": (t_endpoint, True), "server": (t_ns_list, False), "server_port": (t_port, False),
            "expect": (t_expect, False),
            "answered_by": (t_ns_list, False), "timeout": (t_seconds, False)},
    "udp": {"from": _NS, "to": (t_endpoint, True), "server": (t_ns_list, False), "server_port": (t_port, False),
            "expect": (t_expect, False),
            "answered_by": (t_ns_list, False), "timeout": (t_seconds, False)},
    "trace": {"spec": (t_str, True), "outcome": (enum(*TRACE_OUTCOMES), False), "passes": (t_str_list, False),
              "dropped_at": (t_str, False), "dropped_by": (t_str, False), "nat_to": (t_str, False),
              "snat_to": (t_str, False), "reply": (t_bool, False)},
    "route": {"ns": _NS, "dst": (t_dst, True), "via": (t_ip, False), "dev": (t_str, False),
              "table": (t_str, False), "proto": (t_proto, False), "present": (t_bool, False),
              "timeout": (t_seconds, False)},
    "address": {"ns": _NS, "dev": (t_str, False), "cidr": (t_cidr, True), "present": (t_bool, False)},
    "neigh": {"ns": _NS, "dst": (t_ip, True), "dev": (t_str, False), "lladdr": (t_str, False),
              "state": (t_str, False), "present": (t_bool, False)},
    "link": {"ns": _NS, "name": (t_str, True), "state": (enum("up", "down"), False), "master": (t_str, False),
             "kind": (t_str, False), "present": (t_bool, False)},
    "rule": {"ns": _NS, "table": (enum(*IPT_TABLES), False), "chain": (t_str, True), "match": (t_str, False),
             "policy": (t_str, False), "present": (t_bool, False)},
    "qdisc": {"ns": _NS, "dev": (t_str, True), "kind": (t_str, True), "present": (t_bool, False)},
    "sysctl": {"ns": _NS, "key": (t_str, True), "value": (t_str, True)},
    "output": {"run": (t_str, True), "contains": (t_str_list, False), "absent": (t_str_list, False),
               "matches": (t_regex, False), "timeout": (t_seconds, False)},
    "throughput": {"from": _NS, "to": (t_endpoint, True), "server": (t_ns, False), "seconds": (t_seconds, False),
                   "at_least": (t_rate, False), "at_most": (t_rate, False)},
}
CHECK_COMMON = ("title", "explain")


# ---- the validator ----------------------------------------------------------------------------------
class _V:
    def __init__(self, path: str):
        self.path = path
        self.errors: list[tuple[int, str]] = []

    def err(self, line: int, where: str, msg: str) -> None:
        self.errors.append((line, f"{where}: {msg}" if where else msg))

    def mapping(self, v, where: str, line: int, keys: dict[str, bool]) -> PDict | None:
        """Check v is a mapping with only `keys` (name -> required). Returns it or None."""
        if not isinstance(v, PDict):   # every mapping of a yamlpos tree is a PDict
            self.err(line_of(v, line), where, f"expected a mapping with keys {', '.join(keys)}, "
                                              f"not {_show(v)}")
            return None
        for k in v:
            if k not in keys:
                self.err(v.key_lines.get(k, line_of(v, line)), where,
                         f'unknown key "{k}"{did_you_mean(k, keys)} (expected one of: {", ".join(keys)})')
        for k, req in keys.items():
            if req and (k not in v or is_none(v[k])):
                self.err(line_of(v, line), where, f'"{k}" is required')
        return v

    def value(self, d: PDict, key: str, typ, where: str, default=None):
        if key not in d or is_none(d[key]):
            return default
        v = d[key]
        try:
            return typ(v)
        except Bad as e:
            self.err(line_of(v, d.key_lines.get(key, d.line)), where, f'"{key}" must be {e}')
            return default

    def seq(self, d: PDict, key: str, where: str) -> list:
        if key not in d or is_none(d[key]):
            return []
        v = d[key]
        if not isinstance(v, list):
            self.err(line_of(v, d.key_lines.get(key, 0)), where, f'"{key}" must be a list (lines starting with "- ")')
            return []
        return v

    def text_list(self, d: PDict, key: str, where: str) -> tuple[str, ...]:
        out = []
        for i, x in enumerate(self.seq(d, key, where), 1):
            try:
                out.append(t_str(x))
            except Bad as e:
                self.err(line_of(x, d.line), f"{where}, {key} {i}", f"must be {e}")
        return tuple(out)

    def commands(self, d: PDict, key: str, where: str) -> tuple[Command, ...]:
        from lab.commands.base import tokenize

        out = []
        for i, x in enumerate(self.seq(d, key, where), 1):
            ln = line_of(x, d.line)
            try:
                text = t_str(x)
            except Bad:
                self.err(ln, f"{where}, command {i}", f"must be a lab command as text, not {_show(x)}")
                continue
            try:
                words = tokenize(text)
            except LabError as e:
                self.err(ln, f"{where}, command {i}", str(e).replace("\n", " "))
                continue
            if not words:
                self.err(ln, f"{where}, command {i}", "is empty")
                continue
            out.append(Command(text.strip(), ln))
        return tuple(out)

    def check(self, c, where: str, line: int) -> Check | None:
        if not isinstance(c, PDict):
            self.err(line_of(c, line), where,
                     f"a check is a mapping like `ping: {{from: red, to: 10.0.0.2}}`, not {_show(c)}")
            return None
        kinds = [k for k in c if k in CHECK_KINDS]
        others = [k for k in c if k not in CHECK_KINDS and k not in CHECK_COMMON]
        if len(kinds) != 1:
            if others and not kinds:
                k = others[0]
                self.err(c.key_lines.get(k, c.line), where,
                         f'unknown check "{k}"{did_you_mean(k, CHECK_KINDS)} '
                         f'(expected one of: {", ".join(CHECK_KINDS)})')
            elif not kinds:
                self.err(c.line, where, f'a check needs one of: {", ".join(CHECK_KINDS)}')
            else:
                self.err(c.line, where, f'one check per list item, found {", ".join(kinds)}')
            return None
        for k in others:
            self.err(c.key_lines.get(k, c.line), where,
                     f'unknown key "{k}"{did_you_mean(k, list(CHECK_KINDS) + list(CHECK_COMMON))} '
                     f'(next to the check kind, only {", ".join(CHECK_COMMON)} are allowed)')
        kind = kinds[0]
        spec = CHECK_KINDS[kind]
        where = f"{where} ({kind})"
        body = self.mapping(c[kind], where, c.key_lines[kind], {k: r for k, (_, r) in spec.items()})
        if body is None:
            return None
        args = {}
        for key, (typ, _req) in spec.items():
            val = self.value(body, key, typ, where)
            if val is not None:
                args[key] = val
        if kind == "throughput" and "at_least" not in args and "at_most" not in args:
            self.err(body.line, where, 'say what to expect: "at_least" and/or "at_most" (a rate like 2mbit)')
        if kind == "ping" and args.get("expect") == "fail" and any(k in args for k in PING_BOUNDS):
            self.err(body.line, where, '"rtt_at_..." and "loss_at_..." measure replies: they make no sense with '
                                       '"expect: fail"')
        if kind == "output" and not any(k in args for k in ("contains", "absent", "matches")):
            self.err(body.line, where, 'say what to expect: "contains", "absent" or "matches"')
        if kind in ("tcp", "udp") and "answered_by" in args and args.get("expect", "success") == "fail":
            self.err(body.line, where, '"answered_by" makes no sense with "expect: fail"')
        title = self.value(c, "title", t_str, where, "")
        explain = self.value(c, "explain", t_str, where, "")
        return Check(kind, args, c.line, title, explain)

    def checks(self, d: PDict, key: str, where: str) -> tuple[Check, ...]:
        out = []
        for i, c in enumerate(self.seq(d, key, where), 1):
            chk = self.check(c, f"{where}, check {i}", d.line)
            if chk:
                out.append(chk)
        return tuple(out)


TOP_KEYS = {"title": True, "summary": True, "level": False, "duration": False, "kind": False, "tags": False,
            "requires": False, "topology": False, "steps": True}
STEP_KEYS = {"title": True, "narration": False, "commands": False, "checks": False, "hints": False, "task": False}
TASK_KEYS = {"goal": True, "checks": True, "hints": False, "solution": False, "explanation": False,
             "red_before": False}
REQUIRED_TOP = tuple(k for k, req in TOP_KEYS.items() if req)
NOT_A_SCENARIO = ("not a scenario file (expected a YAML mapping with keys "
                  f"{', '.join(REQUIRED_TOP)}; found {{what}})")
TOPO_KEYS = {"namespaces": False, "bridges": False, "links": False, "routes": False, "sysctls": False}


def _shape(tree) -> str:
    if isinstance(tree, dict):
        return "a mapping with none of them"
    if isinstance(tree, list):
        return "a list"
    return "nothing" if is_none(tree) else "plain text"


def validate(tree, path: str = "<scenario>", name: str = "") -> Scenario:
    """Positioned YAML tree -> Scenario, or ScenarioError listing every problem with its line."""
    v = _V(path)
    if not isinstance(tree, dict) or not any(k in tree for k in REQUIRED_TOP):
        # a file that is not a scenario at all (a grade or a symlink pointed at /etc/shadow, a config file):
        # say so without quoting any of its keys or values
        raise ScenarioError(path, [(line_of(tree, 1), NOT_A_SCENARIO.format(what=_shape(tree)))])
    top = v.mapping(tree, "", 1, TOP_KEYS)
    if top is None:
        raise ScenarioError(path, v.errors)
    title = v.value(top, "title", t_str, "", "")
    summary = v.value(top, "summary", t_str, "", "")
    level = v.value(top, "level", enum(*LEVELS), "", "beginner")
    kind = v.value(top, "kind", enum(*KINDS), "", "lesson")
    dur = top.get("duration")
    duration = ""
    if not is_none(dur):
        if isinstance(dur, int) and not isinstance(dur, bool):
            duration = f"{int(dur)} min"
        else:
            duration = v.value(top, "duration", t_str, "", "")
    tags = v.text_list(top, "tags", "")
    requires = _requires(v, top)
    setup = compile_topology(v, top["topology"]) if "topology" in top and not is_none(top["topology"]) else ()
    steps = []
    raw_steps = v.seq(top, "steps", "")
    if "steps" in top and isinstance(top["steps"], list) and not raw_steps:
        v.err(line_of(top["steps"], top.key_lines.get("steps", 0)), "", "a scenario needs at least one step")
    for i, s in enumerate(raw_steps, 1):
        where = f"step {i}"
        d = v.mapping(s, where, line_of(s, top.line), STEP_KEYS)
        if d is None:
            continue
        task = None
        if "task" in d and not is_none(d["task"]):
            td = v.mapping(d["task"], f"{where}, task", d.key_lines["task"], TASK_KEYS)
            if td is not None:
                tchecks = v.checks(td, "checks", f"{where}, task")
                if "checks" in td and not tchecks and isinstance(td["checks"], list) and not td["checks"]:
                    v.err(td.line, f"{where}, task", "a task needs at least one check (how else would it turn green?)")
                task = Task(goal=v.value(td, "goal", t_str, where, ""), checks=tchecks,
                            hints=v.text_list(td, "hints", f"{where}, task"),
                            solution=v.commands(td, "solution", f"{where}, task solution"),
                            explanation=v.value(td, "explanation", t_str, where, ""),
                            red_before=v.value(td, "red_before", t_bool, where, True), line=td.line)
        steps.append(Step(title=v.value(d, "title", t_str, where, ""), narration=v.value(d, "narration", t_str, where, ""),
                          commands=v.commands(d, "commands", where), checks=v.checks(d, "checks", where),
                          hints=v.text_list(d, "hints", where), task=task, line=d.line))
    _check_commands(v, setup, steps)
    if kind == "exercise" and steps and not any(s.task for s in steps):
        v.err(top.line, "", 'an exercise ("kind: exercise") needs a step with a "task" for the learner to fix')
    if v.errors:
        raise ScenarioError(path, v.errors)
    return Scenario(title=title, summary=summary, steps=tuple(steps), level=level, duration=duration, kind=kind,
                    tags=tags, setup=tuple(setup), path=path, name=name, requires=requires,
                    requires_line=top.key_lines.get("requires", 0) if requires else 0)


def _requires(v: _V, top: PDict) -> tuple[str, ...]:
    """`requires: [vlan, netem]` (or one name): known kernel features, each once."""
    from lab.scenario.requires import FEATURES

    if "requires" not in top or is_none(top["requires"]):
        return ()
    raw = top["requires"] if isinstance(top["requires"], list) else [top["requires"]]
    out: list[str] = []
    for x in raw:
        ln = line_of(x, top.key_lines.get("requires", top.line))
        try:
            name = t_str(x)
        except Bad as e:
            v.err(ln, "requires", f"each must be a kernel feature's name, {e}")
            continue
        if name not in FEATURES:
            v.err(ln, "requires", f'unknown kernel feature "{name}"{did_you_mean(name, list(FEATURES))} '
                                  f'(expected some of: {", ".join(FEATURES)})')
        elif name not in out:
            out.append(name)
    return tuple(out)


def _check_commands(v: _V, setup, steps) -> None:
    """Every command of the scenario parses with the grammar the command bar uses (lab.commands.parse), so a
    typo is reported at load time with its line, not when the learner reaches the step. Namespace names for
    the `NS CMD` shorthand are the ones the scenario adds."""
    from lab.commands import parse
    from lab.commands.base import Context

    groups = [("topology", setup)] + [(f"step {i}", s.commands) for i, s in enumerate(steps, 1)]
    groups += [(f"step {i}, task solution", s.task.solution) for i, s in enumerate(steps, 1) if s.task]
    names = {c.text.split()[3] for _w, cmds in groups for c in cmds
             if c.text.split()[:3] == ["ip", "netns", "add"] and len(c.text.split()) > 3}
    ctx = Context(namespaces=tuple(sorted(names)))
    for where, cmds in groups:
        for i, c in enumerate(cmds, 1):
            try:
                parse(c.text, ctx)
            except LabError as e:
                v.err(c.line, f"{where}, command {i}", str(e).replace("\n", " "))


# ---- topology -> commands ---------------------------------------------------------------------------
def _in(ns: str) -> str:
    return f"ip -n {ns} " if ns else "ip "


def compile_topology(v: _V, topo) -> list[Command]:
    """The declarative topology as the lab commands a learner would type (run before step 1)."""
    d = v.mapping(topo, "topology", line_of(topo, 1), TOPO_KEYS)
    if d is None:
        return []
    out: list[Command] = []
    up: list[Command] = []
    for x in v.seq(d, "namespaces", "topology"):
        ln = line_of(x, d.line)
        try:
            ns = t_ns(x)
        except Bad as why:
            v.err(ln, "topology, namespaces", f"each must be {why}")
            continue
        if not ns:
            v.err(ln, "topology, namespaces", '"host" is the top namespace; it always exists')
            continue
        out.append(Command(f"ip netns add {ns}", ln))
        up.append(Command(f"ip -n {ns} link set lo up", ln))
    out += up
    end_keys = {"name": True, "ns": False, "address": False, "master": False, "mtu": False, "up": False}
    after: list[Command] = []
    for i, b in enumerate(v.seq(d, "bridges", "topology"), 1):
        w = f"topology, bridge {i}"
        bd = v.mapping(b, w, line_of(b, d.line), {"name": True, "ns": False, "address": False, "up": False})
        if bd is None or "name" not in bd:
            continue
        ns = v.value(bd, "ns", t_ns, w, "")
        name = v.value(bd, "name", t_str, w, "")
        out.append(Command(f"{_in(ns)}link add {dev_word(name)} type bridge", bd.line))
        for a in v.value(bd, "address", t_cidr_list, w, []) or []:
            after.append(Command(f"{_in(ns)}addr add {a} dev {name}", bd.line))
        if v.value(bd, "up", t_bool, w, True):
            after.append(Command(f"{_in(ns)}link set {dev_word(name)} up", bd.line))
    for i, link in enumerate(v.seq(d, "links", "topology"), 1):
        w = f"topology, link {i}"
        ld = v.mapping(link, w, line_of(link, d.line), {"veth": True, "peer": True})
        if ld is None or "veth" not in ld or "peer" not in ld:
            continue
        ends: list[dict[str, Any]] = []
        for key in ("veth", "peer"):
            ed = v.mapping(ld[key], f"{w}, {key}", ld.key_lines[key], end_keys)
            if ed is None:
                break
            ends.append(dict(ns=v.value(ed, "ns", t_ns, f"{w}, {key}", ""),
                             name=v.value(ed, "name", t_str, f"{w}, {key}", "?"),
                             address=v.value(ed, "address", t_cidr_list, f"{w}, {key}", []),
                             master=v.value(ed, "master", t_str, f"{w}, {key}", None),
                             mtu=v.value(ed, "mtu", t_int, f"{w}, {key}", None),
                             up=v.value(ed, "up", t_bool, f"{w}, {key}", True), line=ed.line))
        if len(ends) != 2:
            continue
        a, b = ends
        if a["ns"] and not b["ns"]:
            a, b = b, a  # create from the top namespace (it has no name to say "netns" to)
        cmd = f"{_in(a['ns'])}link add {dev_word(a['name'])} type veth peer name {b['name']}"
        if b["ns"] != a["ns"]:
            cmd += f" netns {b['ns']}"
        out.append(Command(cmd, ld.line))
        for e in (a, b):
            ln = e["line"]
            if e["mtu"]:
                after.append(Command(f"{_in(e['ns'])}link set {dev_word(e['name'])} mtu {e['mtu']}", ln))
            if e["master"]:
                after.append(Command(f"{_in(e['ns'])}link set {dev_word(e['name'])} master {e['master']}", ln))
            for addr in e["address"] or []:
                after.append(Command(f"{_in(e['ns'])}addr add {addr} dev {e['name']}", ln))
            if e["up"]:
                after.append(Command(f"{_in(e['ns'])}link set {dev_word(e['name'])} up", ln))
    out += after
    for i, r in enumerate(v.seq(d, "routes", "topology"), 1):
        w = f"topology, route {i}"
        rd = v.mapping(r, w, line_of(r, d.line), {"ns": False, "to": True, "via": False, "dev": False})
        if rd is None:
            continue
        ns = v.value(rd, "ns", t_ns, w, "")
        cmd = f"{_in(ns)}route add {v.value(rd, 'to', t_dst, w, 'default')}"
        via = v.value(rd, "via", t_ip, w)
        dev = v.value(rd, "dev", t_str, w)
        if not via and not dev:
            v.err(rd.line, w, 'a route needs "via" or "dev"')
        cmd += (f" via {via}" if via else "") + (f" dev {dev}" if dev else "")
        out.append(Command(cmd, rd.line))
    for i, s in enumerate(v.seq(d, "sysctls", "topology"), 1):
        w = f"topology, sysctl {i}"
        sd = v.mapping(s, w, line_of(s, d.line), {"ns": False, "key": True, "value": True})
        if sd is None:
            continue
        ns = v.value(sd, "ns", t_ns, w, "")
        key = v.value(sd, "key", t_str, w, "")
        val = sd.get("value")
        val = ("1" if val else "0") if isinstance(val, bool) else v.value(sd, "value", t_str, w, "")
        out.append(Command((f"ip netns exec {ns} " if ns else "") + f"sysctl -w {key}={val}", sd.line))
    return out
