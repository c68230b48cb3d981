"""Context-aware completion for the command language, as a prompt_toolkit Completer shared by
`lab shell` and the TUI command bar (which feeds the same Completions into a Textual dropdown).

Pure as far as the kernel goes: names of namespaces, devices and chains come from providers that the
engine supplies (cached briefly so typing stays fast). The providers read the kernel in a thread of their
own, whoever calls them: `lab shell` completes inside prompt_toolkit's running asyncio loop, and
pyroute2's sync API must not run in a thread with a running loop (it fails with "coroutine
'AsyncNetlinkSocket.setup_endpoint' was never awaited"). Also a small Lexer for shell highlighting.
"""
from __future__ import annotations

import queue
import threading
import time
import weakref
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Callable, Iterable

from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.document import Document

from lab.commands import FAMILIES, PROGRAMS
from lab.commands import bridge as _br
from lab.commands import ip as _ip
from lab.commands import iptables as _ipt
from lab.commands import tc as _tc
from lab.commands import xtables as _xt

IP_OPTIONS = ["-n", "-j", "-br", "-d", "-s", "-4", "-6", "-c", "-f"]
IP_OBJECTS = ["address", "link", "route", "neighbour", "rule", "netns", "tunnel"]
IP_VERBS = {
    "address": ["add", "del", "show", "flush", "replace"],
    "link": ["add", "set", "del", "show"],
    "route": ["add", "del", "replace", "change", "append", "show", "get", "flush"],
    "neighbour": ["show", "add", "del", "replace", "change", "get", "flush"],
    "rule": ["add", "del", "show"],
    "netns": ["add", "del", "list", "exec", "identify", "set", "list-id"],
    "tunnel": ["add", "change", "del", "show"],
}
# keywords after `ip link add NAME type KIND` / `ip link set DEV type KIND`: the parser's own tables
KIND_WORDS = {"bridge": sorted(_ip.BRIDGE_OPTS), "bridge_slave": sorted(_ip.BRPORT_OPTS), "vxlan": _ip.VXLAN_WORDS,
              "veth": ["peer", "name", "netns"], "macvlan": ["mode"], "vlan": ["id", "protocol"]}
IP_KEYWORDS = {
    # ip link add/set: the words of iproute2's iplink_parse the parser knows (lab.commands.ip.IPLINK_WORDS)
    ("link", "add"): [w for w, opt, _p in _ip.IPLINK_WORDS if opt not in _ip.LINK_NOT_YET and w == opt] + ["dev"],
    ("link", "set"): [w for w, opt, _p in _ip.IPLINK_WORDS if opt not in _ip.LINK_NOT_YET and w == opt
                      and w not in ("index", "link", "numtxqueues", "numrxqueues")] + ["dev"],
    ("link", "show"): ["dev", "type", "master", "up"],
    ("link", "del"): ["dev"],
    ("address", "add"): list(_ip.ADDR_WORDS),
    ("address", "del"): list(_ip.ADDR_WORDS),
    ("address", "show"): list(_ip.ADDR_SHOW_WORDS),
    ("address", "flush"): list(_ip.ADDR_SHOW_WORDS),
    ("route", "add"): _ip.ROUTE_WORDS + ["default", "blackhole", "unreachable", "prohibit", "local", "throw"],
    ("route", "get"): list(_ip.ROUTE_GET_WORDS),
    ("route", "show"): list(_ip.ROUTE_SHOW_WORDS),
    ("route", "flush"): list(_ip.ROUTE_FLUSH_WORDS),
    ("neighbour", "add"): list(_ip.NEIGH_WORDS),
    ("neighbour", "show"): list(_ip.NEIGH_SHOW_WORDS),
    ("rule", "add"): _ip.RULE_WORDS,
    ("rule", "show"): _ip.RULE_SELECTORS,
    ("neighbour", "get"): list(_ip.NEIGH_GET_WORDS),
    ("tunnel", "add"): _ip.TUNNEL_WORDS,
    ("tunnel", "show"): [],
}
for _o, _v, _alias in (("address", "replace", "add"), ("route", "del", "add"), ("route", "replace", "add"),
                       ("route", "change", "add"), ("neighbour", "del", "add"), ("neighbour", "replace", "add"),
                       ("neighbour", "flush", "show"), ("rule", "del", "add"),
                       ("route", "append", "add"), ("neighbour", "change", "add"), ("tunnel", "change", "add")):
    IP_KEYWORDS[(_o, _v)] = IP_KEYWORDS[(_o, _alias)]

VALUE_KIND = {
    "dev": "device", "master": "device", "iif": "device", "oif": "device", "link": "device",
    "netns": "netns", "-n": "netns", "-netns": "netns",
    "type": "linkkind", "table": "rttable", "lookup": "rttable", "scope": "scope", "proto": "proto",
    "nud": "nud", "mode": "mode", "-f": "family", "-family": "family",
    "-t": "iptable", "--table": "iptable", "-p": "protocol",
    "--protocol": "protocol", "--ctstate": "ctstate", "--state": "ctstate",
    "-A": "chain", "-I": "chain", "-D": "chain", "-R": "chain", "-L": "chain", "-S": "chain", "-F": "chain",
    "-X": "chain", "-P": "chain", "-Z": "chain", "-i": "device", "-o": "device", "--mode": "statmode",
}
STATIC = {
    "linkkind": list(_ip.LINK_KINDS) + ["bridge_slave"],
    "family": ["inet", "inet6"],
    "rttable": list(_ip.TABLES),
    "scope": list(_ip.SCOPES),
    "proto": list(_ip.PROTOS),
    "nud": list(_ip.NUD_STATES),
    "mode": ["bridge", "vepa", "private", "passthru", "source"] + list(_ip.TUNNEL_MODES),
    "iptable": list(_ipt.TABLES),
    "protocol": sorted(_ipt.PROTOCOLS),
    "ctstate": sorted(_ipt.CT_STATES) + ["NEW,ESTABLISHED", "ESTABLISHED,RELATED", "RELATED,ESTABLISHED"],
    "statmode": ["random", "nth"],
}

_reader_local = threading.local()


def _serve(jobs: queue.SimpleQueue) -> None:
    """The body of a Providers' reader thread: run each job, hand its result (or exception) back."""
    _reader_local.jobs = jobs
    while True:
        job = jobs.get()
        if job is None:
            return
        fn, fut = job
        if fut.set_running_or_notify_cancel():   # else its caller gave up waiting
            try:
                fut.set_result(fn())
            except BaseException as e:  # noqa: BLE001  (raised again in the caller)
                fut.set_exception(e)
        del job, fn, fut   # hold nothing of the caller's while idle


class Providers:
    """Names from the live lab, cached for a moment. Built from an Engine (or anything with .backend).

    Every backend read runs in one reader thread the providers own (started on first use, a daemon),
    never in the caller's: the caller may be an asyncio event loop (prompt_toolkit's, in `lab shell`),
    where pyroute2's sync API breaks; and one thread keeps one set of netlink sockets, however many
    threads ask (the TUI completes from short-lived worker threads). A read that takes longer than
    `timeout` seconds completes nothing rather than freeze the prompt. `invalidate()` forgets the cache
    (`lab shell` calls it after each command, so a namespace made a moment ago is offered at once).
    """

    def __init__(self, engine, ttl: float = 1.5, timeout: float = 5.0):
        self.engine = engine
        self.ttl = ttl
        self.timeout = timeout
        self._cache: dict = {}
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        weakref.finalize(self, self._jobs.put, None)   # the reader holds only the queue: it ends with us

    def _in_reader(self, fn: Callable[[], Any]) -> Any:
        """fn() run in the reader thread; its result, or its exception raised here."""
        if getattr(_reader_local, "jobs", None) is self._jobs:
            return fn()   # already there (a provider that asks another)
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=_serve, args=(self._jobs,), name="lab-complete", daemon=True)
                self._thread.start()
        fut: Future = Future()
        self._jobs.put((fn, fut))
        try:
            return fut.result(timeout=self.timeout)
        except FutureTimeout:
            fut.cancel()
            raise

    def close(self) -> None:
        """Stop the reader thread (a later read starts a new one)."""
        with self._start_lock:
            t, self._thread = self._thread, None
        if t is not None and t.is_alive():
            self._jobs.put(None)
            t.join(self.timeout)

    def invalidate(self) -> None:
        """Forget every cached name (the lab has changed)."""
        self._cache.clear()

    def _cached(self, key, fn: Callable[[], list[str]]) -> list[str]:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit and now - hit[0] < self.ttl:
            return hit[1]
        try:
            val = list(self._in_reader(fn))
        except Exception:  # noqa: BLE001  (a namespace vanished, or the kernel was slow: complete nothing)
            val = []
        self._cache[key] = (now, val)
        return val

    def namespaces(self) -> list[str]:
        return self._cached("ns", lambda: list(self.engine.backend.namespaces()))

    def devices(self, ns: str | None) -> list[str]:
        def get():
            if ns and ns not in self.namespaces():
                return []
            return [m.get_attr("IFLA_IFNAME") for m in self.engine.backend.ipr(ns).get_links()]
        return self._cached(("dev", ns), get)

    def sysctl_keys(self, ns: str | None) -> list[str]:
        """Every net.* key of the namespace (the backend's `sysctl -N -a`)."""
        def get():
            from lab.commands.sysctl import SysctlOp

            return self.engine.backend.apply(SysctlOp(ns, all_pattern="", names_only=True)).split()
        return self._cached(("sysctl", ns), get)

    def chains(self, ns: str | None, table: str) -> list[str]:
        def get():
            return [c.name for c in self.engine.backend.chains(ns, table) if c.policy is None]
        return _ipt.TABLES.get(table, []) + self._cached(("chains", ns, table), get)


class LabCompleter(Completer):
    """Completes lab commands: words, options, namespace/device/chain names, in context."""

    def __init__(self, engine=None, providers: Providers | None = None):
        self.providers = providers or (Providers(engine) if engine is not None else None)

    # -- the core, usable without prompt_toolkit objects (the TUI calls this) --
    def candidates(self, text: str) -> tuple[str, list[str]]:
        """(word being completed, sorted candidate words) for the text before the cursor."""
        words = text.split()
        cur = "" if (not text or text[-1].isspace()) else words.pop()
        return cur, sorted(set(c for c in self._for(words, cur) if c.startswith(cur) and c != cur),
                           key=lambda c: (c.startswith("-"), c))

    def get_completions(self, document: Document, complete_event) -> Iterable[Completion]:
        cur, cands = self.candidates(document.text_before_cursor)
        for c in cands:
            yield Completion(c, start_position=-len(cur), display_meta=_meta(c))

    # -- context rules --
    def _ns_names(self) -> list[str]:
        return self.providers.namespaces() if self.providers else []

    def _value(self, kind: str, ns: str | None, table: str) -> list[str]:
        p = self.providers
        if kind in STATIC:
            return STATIC[kind]
        if p is None:
            return []
        if kind == "device":
            return p.devices(ns)
        if kind == "netns":
            return p.namespaces()
        if kind == "chain":
            return p.chains(ns, table)
        return []

    def _for(self, words: list[str], cur: str) -> list[str]:
        ns = None
        if not words:
            return list(FAMILIES) + list(PROGRAMS[:6]) + self._ns_names() + ["help", "exit"]
        if words[0] in self._ns_names():
            ns, words = words[0], words[1:]
            if not words:
                return list(FAMILIES) + list(PROGRAMS)
        if words[:3] and words[0] == "ip" and "netns" in words and "exec" in words:
            i = words.index("exec")
            if len(words) == i + 1:
                return self._ns_names()
            ns, words = words[i + 1], words[i + 2:]
            if not words:
                return list(FAMILIES) + list(PROGRAMS)
        head, rest = words[0], words[1:]
        if head == "ip":
            return self._ip(rest, ns)
        if head in ("iptables-save", "ip6tables-save"):
            return list(_ipt.SAVE_OPTS)
        if head in ("iptables-restore", "ip6tables-restore"):
            return list(_ipt.RESTORE_OPTS)
        if head in ("iptables", "ip6tables"):
            return self._iptables(rest, ns, 6 if head == "ip6tables" else 4)
        if head == "tc":
            return self._tc(rest, ns)
        if head == "bridge":
            return self._bridge(rest, ns)
        if head == "sysctl":
            from lab.commands import sysctl

            keys = list(sysctl.COMMON_KEYS) + (self.providers.sysctl_keys(ns) if self.providers else [])
            return list(sysctl.OPTIONS) + keys + [k + "=" for k in keys]
        if head == "trace":
            if not rest:
                return self._ns_names()
            from lab.commands.tracespec import OPTIONS, PROTOS

            return list(PROTOS) + list(OPTIONS) + ["--json", "--pcap", "-v"]
        if head in ("bird", "birdc"):
            from lab.commands import bird

            if head == "bird":
                return ["-c", "-p", "-d", "-D", "-P", "-s", "-u", "-g", "-l", "-R", "--version"]
            words_ = [w for w in rest if not w.startswith("-")]
            if not words_:
                return ["show", "configure", "down", "enable", "disable", "restart", "reload", "-s"]
            return list(bird.BIRDC_SHOW) if words_[0] == "show" and len(words_) == 1 else []
        if head == "grade":
            if not rest:
                import re

                from lab.resources import shipped

                return [re.sub(r"^\d+-", "", p.stem) for p in shipped()]
            return ["--step"]
        return []

    def _ip(self, rest: list[str], ns: str | None) -> list[str]:
        i = 0
        while i < len(rest) and rest[i].startswith("-"):
            if rest[i] in ("-n", "-netns"):
                if i + 1 == len(rest):
                    return self._ns_names()
                ns = rest[i + 1]
                i += 1
            i += 1
        rest = rest[i:]
        if not rest:
            return IP_OBJECTS + IP_OPTIONS
        obj = next((o for o in IP_OBJECTS if o.startswith(rest[0]) or (rest[0] == "neigh" and o == "neighbour")), None)
        if obj is None:
            return []
        if len(rest) == 1:
            return IP_VERBS[obj]
        verb = next((v for v in IP_VERBS[obj] if v.startswith(rest[1])), None)
        if obj == "netns" and verb in ("del", "exec"):
            return self._ns_names() if len(rest) == 2 else []
        prev = rest[-1]
        if prev in VALUE_KIND:
            return self._value(VALUE_KIND[prev], ns, "filter")
        kws = IP_KEYWORDS.get((obj, verb or ""), [])
        if obj == "link" and verb in ("add", "set") and "type" in rest[:-1]:
            kind = rest[rest.index("type") + 1]
            kws = KIND_WORDS.get(kind, kws) + (["up"] if verb == "add" else [])
        devs = []
        if obj == "link" and verb in ("set", "del", "show") and len(rest) == 2:
            devs = self._value("device", ns, "filter")
        return kws + devs

    def _iptables(self, rest: list[str], ns: str | None, family: int = 4) -> list[str]:
        """iptables' own options, and those of every extension the line has loaded: `-m NAME`, `-p PROTO`
        (which loads the protocol's match, as iptables does) and `-j TARGET` (lab.commands.xtables)."""
        matches, targets = (_xt.MATCHES6, _xt.TARGETS6) if family == 6 else (_xt.MATCHES, _xt.TARGETS)
        table = "filter"
        for a, b in zip(rest, rest[1:]):
            if a in ("-t", "--table"):
                table = b
        prev = rest[-1] if rest else None
        if prev == "-N":
            return []  # a new chain's name is the user's to choose
        if prev in ("-m", "--match"):
            return sorted(matches)
        if prev in ("-j", "--jump", "-g", "--goto"):
            chains = self.providers.chains(ns, table) if self.providers else []
            user = [c for c in chains if c not in sum(_ipt.TABLES.values(), [])]
            return list(_ipt.VERDICTS) + sorted(targets) + user if prev in ("-j", "--jump") else user
        if prev in VALUE_KIND:
            return self._value(VALUE_KIND[prev], ns, table)
        if len(rest) >= 2 and rest[-2] == "-P":
            return ["ACCEPT", "DROP"]
        opts = list(_ipt.COMMANDS) + list(_ipt.GENERAL_OPTS)
        for a, b in zip(rest, rest[1:]):
            if a in ("-m", "--match", "-p", "--protocol"):
                opts += matches.get(b, ())
            elif a in ("-j", "--jump"):
                opts += targets.get(b, ())
        return opts

    def _tc(self, rest: list[str], ns: str | None) -> list[str]:
        """tc's words from lab.commands.tc's tables: the words before the kind, the kinds, each kind's own."""
        if rest and rest[-1] == "dev":
            return self._value("device", ns, "filter")
        if not rest:
            return ["qdisc", "class", "filter", "-s", "-j", "-d", "-n"]
        obj = next((o for o in ("qdisc", "class", "filter") if o.startswith(rest[0])), None)
        if obj is None:
            return []
        if len(rest) == 1:
            return ["add", "del", "replace", "change", "show"]
        words = rest[2:]
        opts: dict[str, tuple[str, ...]] = {"qdisc": _tc.QDISC_OPTS, "class": _tc.CLASS_OPTS, "filter": _tc.FILTER_OPTS}[obj]
        kinds = _tc.QDISC_KINDS if obj == "qdisc" else list(opts)
        kind = next((w for w in words if w in kinds), None)
        if kind is None:
            first: dict[str, tuple[str, ...]] = {"qdisc": _tc.QDISC_WORDS, "class": _tc.CLASS_WORDS,
                                                 "filter": _tc.FILTER_WORDS}
            return list(first[obj]) + kinds
        if obj == "filter" and words[-1] == "match":
            return list(_tc.U32_MATCH)
        if obj == "filter" and len(words) >= 2 and words[-2] == "match" and words[-1] in _tc.U32_MATCH:
            return list(_tc.U32_MATCH[words[-1]])
        if obj == "filter" and words[-1] in ("action", "actions"):
            return list(_tc.ACTIONS)
        return list(opts.get(kind, ()))

    def _bridge(self, rest: list[str], ns: str | None) -> list[str]:
        """bridge's words from lab.commands.bridge's tables."""
        if rest and rest[-1] in ("dev", "br", "brport", "master", "via"):
            return self._value("device", ns, "filter")
        if not rest:
            return ["link", "fdb", "vlan", "-s", "-j", "-d", "-n"]
        obj = next((o for o in _br.VERBS if o.startswith(rest[0])), None)
        if obj is None:
            return []
        if len(rest) == 1:
            return list(_br.VERBS[obj])
        verb = next((v for v in _br.VERBS[obj] if v.startswith(rest[1])), "show")
        return list(_br.WORDS.get((obj, "show" if verb == "list" else verb), ()))


def _meta(word: str) -> str:
    if word in FAMILIES:
        return FAMILIES[word][1]
    return ""


def make_lexer():
    """A prompt_toolkit Lexer that colours commands, options, namespaces-free words and addresses."""
    import re

    from prompt_toolkit.lexers import Lexer

    patterns = [(re.compile(r"^\s*(ip|tc|bridge|brctl|ip6?tables(-save|-restore)?|sysctl|trace)\b"), "class:command"),
                (re.compile(r"(?<=\s)--?[A-Za-z][\w-]*"), "class:option"),
                (re.compile(r"\b\d{1,3}(\.\d{1,3}){3}(/\d{1,2})?(:\d+)?\b"), "class:address"),
                (re.compile(r"\b(ACCEPT|DROP|REJECT|DNAT|SNAT|MASQUERADE|RETURN|LOG)\b"), "class:target")]

    class LabLexer(Lexer):
        def lex_document(self, document):
            def get_line(n):
                line = document.lines[n]
                styles = ["" for _ in line]
                for rx, style in patterns:
                    for m in rx.finditer(line):
                        for i in range(m.start(), m.end()):
                            styles[i] = style
                out, prev, buf = [], None, ""
                for ch, st in zip(line, styles):
                    if st != prev and buf:
                        out.append((prev or "", buf))
                        buf = ""
                    prev = st
                    buf += ch
                if buf:
                    out.append((prev or "", buf))
                return out
            return get_line

    return LabLexer()
