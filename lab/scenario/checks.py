"""Evaluate scenario checks against the live lab, as data: `evaluate(check, engine) -> CheckResult`.

Kinds: reachability (ping, tcp, udp, throughput: lab.scenario.probes), trace expectations (through
lab.tracer.run_trace, imported lazily: skipped with a message where the tracer is not available),
state assertions (route, address, neigh, link, rule, qdisc, sysctl: read with lab.backend.state and,
for iptables and tc, the kernel's own tools run inside the namespace), and `output` (a lab command's
printed output; a `matches` regex runs in a child interpreter killed after REGEX_TIMEOUT seconds, since
a scenario's pattern may backtrack for hours). Every failing check says what it expected, what it
found, and where to look.

Safety: probes only go between the lab's namespaces. Inside the sandbox every address is the lab's
(its top namespace has no way out); with --host a probe's destination must be an address assigned
in a namespace the lab created, or the check is refused.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from lab.commands.ip import dev_word
from lab.errors import LabError
from lab.scenario.schema import PING_BOUNDS, Check

PASS, FAIL, SKIP, ERROR = "pass", "fail", "skip", "error"


@dataclass
class CheckResult:
    check: Check
    status: str                  # pass | fail | skip | error
    label: str                   # what was checked, one line ("red can ping 192.168.15.2")
    explanation: str = ""        # why it failed (or was skipped); what was found instead (never the answer)
    data: dict = field(default_factory=dict)  # measurements: rtt_ms, answered_by, rate_bps, trace...
    fix: str = ""                # the command that would fix it, where the check knows one (a "your turn"
                                 # step shows it only once the learner asked for it: Player.reveal)

    @property
    def ok(self) -> bool:
        return self.status in (PASS, SKIP)

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def text(self, reveal: bool = True) -> str:
        """The result as text: a mark, the label, why it failed and (reveal=True) the fix."""
        mark = {PASS: "✓", FAIL: "✗", SKIP: "-", ERROR: "!"}[self.status]
        s = f"{mark} {self.label}"
        if self.status == PASS and self.explanation and (self.check.kind == "throughput" or
                                                         (self.check.kind == "ping" and "sent" in self.data)):
            s += f" ({self.explanation})"
        if self.status != PASS and self.explanation:
            s += "\n    " + self.explanation.replace("\n", "\n    ")
        if self.status != PASS and self.fix and reveal:
            s += f"\n    fix: {self.fix}"
        return s

    def __str__(self) -> str:
        return self.text()


def _n(ns: str | None) -> str:
    return ns or "host"


def label(c: Check) -> str:
    """A one-line description of what the check asserts."""
    if c.title:
        return c.title
    a = c.args
    neg = a.get("expect") == "fail" or a.get("present") is False
    k = c.kind
    if k == "ping":
        s = f"{_n(a.get('from'))} {'cannot' if neg else 'can'} ping {a['to']}"
        bounds = [f"{w} {a[key]:g}{unit}" for key, w, unit in
                  (("rtt_at_least", "RTT >=", " ms"), ("rtt_at_most", "RTT <=", " ms"),
                   ("loss_at_least", "loss >=", "%"), ("loss_at_most", "loss <=", "%")) if key in a]
        if a.get("count", 1) > 1 or bounds:
            s += f" ({a.get('count', 1)}x" + (": " + ", ".join(bounds) if bounds else "") + ")"
        return s
    if k in ("tcp", "udp"):
        addr, port = a["to"]
        s = f"{_n(a.get('from'))} {'cannot reach' if neg else 'reaches'} {addr}:{port} over {k.upper()}"
        if a.get("answered_by"):
            s += f" (answered by {' or '.join(_n(x) for x in a['answered_by'])})"
        return s
    if k == "throughput":
        addr, port = a["to"]
        lims = []
        if "at_least" in a:
            lims.append(f">= {_fmt(a['at_least'])}")
        if "at_most" in a:
            lims.append(f"<= {_fmt(a['at_most'])}")
        return f"TCP throughput {_n(a.get('from'))} -> {addr}:{port} is {' and '.join(lims)}"
    if k == "trace":
        bits = []
        if "outcome" in a:
            bits.append(f"is {a['outcome']}")
        if a.get("passes"):
            bits.append("passes " + " -> ".join(a["passes"]))
        if a.get("dropped_at"):
            bits.append(f"is dropped at {a['dropped_at']}")
        if a.get("dropped_by"):
            bits.append(f"is dropped by \"{a['dropped_by']}\"")
        if a.get("nat_to"):
            bits.append(f"is DNATed to {a['nat_to']}")
        if a.get("snat_to"):
            bits.append(f"is SNATed to {a['snat_to']}")
        if "reply" in a:
            bits.append("gets a reply" if a["reply"] else "gets no reply")
        return f"trace {a['spec']}: " + ", ".join(bits) if bits else f"trace {a['spec']}"
    where = f"in {_n(a.get('ns'))}"
    no = "no " if a.get("present") is False else ""
    if k == "route":
        s = f"{no}route {a['dst']}" + (f" via {a['via']}" if a.get("via") else "") + (f" dev {a['dev']}" if a.get("dev") else "")
        s += f" (proto {a['proto']})" if a.get("proto") else ""
        return f"{s} {where}"
    if k == "address":
        return f"{no}address {a['cidr']}" + (f" on {a['dev']}" if a.get("dev") else "") + f" {where}"
    if k == "neigh":
        return f"{no}neighbour entry {a['dst']}" + (f" {a['state']}" if a.get("state") else "") + f" {where}"
    if k == "link":
        s = f"{no}link {a['name']}"
        if a.get("kind"):
            s += f" ({a['kind']})"
        if a.get("state"):
            s += f" is {a['state']}"
        if a.get("master"):
            s += f" in bridge {a['master']}"
        return f"{s} {where}"
    if k == "rule":
        t = a.get("table", "filter")
        if a.get("policy"):
            return f"{t}/{a['chain']} policy is {a['policy']} {where}"
        return f"{no}iptables rule in {t}/{a['chain']}" + (f" matching \"{a['match']}\"" if a.get("match") else "") + f" {where}"
    if k == "qdisc":
        return f"{no}{a['kind']} qdisc on {a['dev']} {where}"
    if k == "sysctl":
        return f"{a['key']} = {a['value']} {where}"
    if k == "output":
        s = f"`{a['run']}` output"
        if a.get("contains"):
            s += " shows " + ", ".join(f'"{x}"' for x in a["contains"])
        if a.get("absent"):
            s += " does not show " + ", ".join(f'"{x}"' for x in a["absent"])
        if a.get("matches"):
            s += f" matches /{a['matches']}/"
        return s
    return k


def _fmt(bps: float) -> str:
    from lab.scenario.probes import fmt_rate

    return fmt_rate(bps)


def evaluate(c: Check, engine) -> CheckResult:
    """Run one check against the live lab. Never raises: problems become status "error"."""
    lab_ = label(c)
    try:
        fn = _KINDS[c.kind]
        status, why, data = fn(c.args, engine)
    except LabError as e:
        status, why, data = ERROR, str(e), {}
    except Exception as e:  # noqa: BLE001  a check must never crash the player
        status, why, data = ERROR, f"internal error: {type(e).__name__}: {e}", {}
    if status == FAIL and c.explain:
        why = (why + "\n" if why else "") + c.explain.strip()
    fix = data.pop("fix", "") if status == FAIL else ""
    return CheckResult(c, status, lab_, why, data, fix)


# ---- helpers ----------------------------------------------------------------------------------------
def _ns_exists(engine, ns: str) -> None:
    if ns:
        engine.backend.require_ns(ns)


def address_owners(engine) -> dict[str, list[str]]:
    """IPv4 address -> namespaces that have it assigned ("" = top)."""

    out: dict[str, list[str]] = {}
    for ns in [None] + engine.backend.namespaces():
        try:
            for a in engine.backend.addresses(ns, 4):
                out.setdefault(a.local, []).append(ns or "")
        except Exception:  # noqa: BLE001
            continue
    return out


def _guard_destination(engine, addr: str, owners: dict[str, list[str]]) -> None:
    """--host: refuse probes to addresses that are not the lab's."""
    b = engine.backend
    if not getattr(b, "host", False):
        return
    ours = set(b.journal.created_netns()) if b.journal is not None else set()
    if not any(ns in ours for ns in owners.get(addr, [])):
        raise LabError(f"Refusing to probe {addr}: with --host, checks only send to addresses of namespaces "
                       "this lab created.", "Play the scenario in the sandbox (without --host).")


def diagnose(engine, src: str, dst: str) -> str:
    """A hint about why src cannot reach dst: the route, the link, the neighbour entry."""

    b = engine.backend
    hints = []
    try:
        ipr = b.ipr(src or None)
        try:
            r = ipr.route("get", dst=dst)
        except Exception as e:  # noqa: BLE001
            code = getattr(e, "code", None)
            if code == 101:
                return f"{_n(src)} has no route to {dst} (see: ip -n {src} route)" if src else \
                    f"the host has no route to {dst} (see: ip route)"
            return ""
        m = r[0]
        oif = m.get_attr("RTA_OIF")
        gw = m.get_attr("RTA_GATEWAY")
        links = {lk.index: lk for lk in b.links(src or None)}
        link = links.get(oif)
        if m["type"] == 2:
            return ""
        if link is not None:
            hints.append(f"{_n(src)} sends it out {link.name}" + (f" via {gw}" if gw else " (directly connected)"))
            if not link.up:
                hints.append(f"but {link.name} is DOWN")
            elif link.operstate == "LOWERLAYERDOWN":
                hints.append(f"but the other end of {link.name} is down")
        nh = gw or dst
        for n in b.neighbours(src or None, 4):
            if n.dst == nh and link is not None and n.dev == link.name and ("FAILED" in n.state or "INCOMPLETE" in n.state):
                hints.append(f"and nobody answered ARP for {nh} ({n.state}): is {nh} really on that link, "
                             "with a matching netmask?")
    except Exception:  # noqa: BLE001
        return ""
    return "; ".join(hints)


def _reach_verdict(a: dict, probe, engine, what: str) -> tuple[str, str, dict]:
    expect_ok = a.get("expect", "success") == "success"
    data = {"detail": probe.detail, "answered_by": probe.answered_by, "rtt_ms": probe.rtt_ms}
    if probe.ok and expect_ok:
        want = a.get("answered_by")
        if want and probe.answered_by not in want:
            return FAIL, (f"{what}, but it was answered by {_n(probe.answered_by)} instead of "
                          f"{' or '.join(_n(x) for x in want)}"), data
        return PASS, probe.detail, data
    if not probe.ok and not expect_ok:
        return PASS, probe.detail, data
    if probe.ok:
        return FAIL, f"expected this to fail, but it worked: {probe.detail}", data
    diag = diagnose(engine, a.get("from", ""), a["to"] if isinstance(a["to"], str) else a["to"][0])
    return FAIL, probe.detail + (f"\n{diag}" if diag else ""), data


# ---- kinds ------------------------------------------------------------------------------------------
def _ping(a, engine):
    from lab.scenario import probes

    src = a.get("from", "")
    _ns_exists(engine, src)
    owners = address_owners(engine)
    _guard_destination(engine, a["to"], owners)
    timeout = a.get("timeout") or (2.0 if a.get("expect", "success") == "success" else 1.0)
    if a.get("count", 1) == 1 and not any(k in a for k in PING_BOUNDS):
        p = probes.ping(src, a["to"], timeout)
        return _reach_verdict(a, p, engine, f"{_n(src)} pinged {a['to']}")
    p = probes.ping_series(src, a["to"], a.get("count", 1), timeout=timeout)
    data = {"detail": p.detail, "rtt_ms": p.rtt_ms, "sent": p.sent, "received": p.received,
            "loss_pct": p.loss_pct, "rtts_ms": list(p.rtts)}
    if not any(k in a for k in PING_BOUNDS):
        status, why, _ = _reach_verdict(a, p, engine, f"{_n(src)} pinged {a['to']}")
        return status, ("measured " + why) if status == PASS else why, data
    problems = []
    avg = p.rtt_ms
    for key, word, bad in (("rtt_at_least", "at least", lambda x, lim: x < lim),
                           ("rtt_at_most", "at most", lambda x, lim: x > lim)):
        if key in a:
            if avg is None:
                problems.append(f"no reply to measure an RTT from, expected one {word} {a[key]:g} ms")
            elif bad(avg, a[key]):
                problems.append(f"the average RTT is {avg:.3g} ms, expected {word} {a[key]:g} ms")
    for key, word, bad in (("loss_at_least", "at least", lambda x, lim: x < lim),
                           ("loss_at_most", "at most", lambda x, lim: x > lim)):
        if key in a and bad(p.loss_pct, a[key]):
            problems.append(f"the loss is {p.loss_pct:.0f}%, expected {word} {a[key]:g}%")
    if problems:
        diag = "" if p.received else diagnose(engine, src, a["to"])
        return FAIL, (f"measured {p.detail}: " + "; ".join(problems) + (f"\n{diag}" if diag else "")), data
    return PASS, f"measured {p.detail}", data


def _servers(a, engine, owners) -> list[str]:
    addr, _ = a["to"]
    if a.get("server"):
        servers = list(a["server"])
    elif a.get("answered_by"):
        servers = list(a["answered_by"])
    else:
        servers = owners.get(addr, [])[:1]
        if not servers:
            raise LabError(f"No namespace has the address {addr}, so the check does not know where to listen.",
                           'Say where the server runs: "server: NS" (e.g. the target of a DNAT).')
    for ns in servers:
        _ns_exists(engine, ns)
    return servers


def _l4(proto):
    def run(a, engine):
        from lab.scenario import probes

        src = a.get("from", "")
        _ns_exists(engine, src)
        owners = address_owners(engine)
        addr, port = a["to"]
        servers = _servers(a, engine, owners)
        if getattr(engine.backend, "host", False):
            for ns in servers:
                _guard_destination(engine, next((ad for ad, o in owners.items() if ns in o), addr), owners)
        timeout = a.get("timeout") or (2.0 if a.get("expect", "success") == "success" else 1.0)
        p = (probes.tcp if proto == "tcp" else probes.udp)(src, addr, port, servers, timeout,
                                                            a.get("server_port"))
        return _reach_verdict(a, p, engine, f"{_n(src)} reached {addr}:{port}")
    return run


def _throughput(a, engine):
    from lab.scenario import probes

    src = a.get("from", "")
    _ns_exists(engine, src)
    owners = address_owners(engine)
    addr, port = a["to"]
    server = a["server"] if "server" in a else next(iter(owners.get(addr) or ()), None)
    if server is None:
        raise LabError(f"No namespace has the address {addr}: say where the sink runs with \"server: NS\".")
    _guard_destination(engine, addr, owners)
    p = probes.throughput(src, addr, port, server, a.get("seconds", 1.0))
    data = {"rate_bps": p.rate_bps, "detail": p.detail}
    if not p.ok:
        return FAIL, p.detail + "\n" + diagnose(engine, src, addr), data
    r = p.rate_bps or 0.0
    if "at_least" in a and r < a["at_least"]:
        return FAIL, f"measured {p.detail}, expected at least {_fmt(a['at_least'])}", data
    if "at_most" in a and r > a["at_most"]:
        return FAIL, f"measured {p.detail}, expected at most {_fmt(a['at_most'])}", data
    return PASS, f"measured {p.detail}", data


def _hop_matches(h, pattern: str) -> bool:
    toks = [t.strip().lower() for t in re.split(r"[/:\s]+", pattern) if t.strip()]
    fields = {(h.ns or "host").lower(), h.hook.lower(), h.table.lower(), h.chain.lower(), h.kind.lower()}
    return all(t in fields for t in toks)


def _trace(a, engine):
    from lab.tracer import run_trace

    path = run_trace(engine.backend, a["spec"])
    hops = list(path.hops)
    data = {"outcome": path.outcome, "summary": path.summary, "trace": path}
    # the tracer's own sentences, one per step, as `lab trace` prints them
    shown = "\n".join(f"  {i:>2}. [{h.ns or 'host'}] {h.explanation or (h.hook or h.kind)}"
                      for i, h in enumerate(hops[:40], 1)) + ("\n  …" if len(hops) > 40 else "")
    problems = []
    if "outcome" in a and path.outcome != a["outcome"]:
        problems.append(f"the packet was {path.outcome or 'unaccounted for'}, expected {a['outcome']}"
                        + (f": {path.summary.rstrip('.')}" if path.summary else ""))
    if a.get("passes"):
        i = 0
        for want in a["passes"]:
            while i < len(hops) and not _hop_matches(hops[i], want):
                i += 1
            if i == len(hops):
                problems.append(f'the path never passes "{want}" (after the earlier expectations)')
                break
            i += 1
    drop = path.dropped_at
    if a.get("dropped_at") and (drop is None or not _hop_matches(drop, a["dropped_at"])):
        problems.append(f"expected a drop at {a['dropped_at']}, " +
                        ("but nothing dropped it" if drop is None else f"but it was dropped at {drop.ns or 'host'} "
                                                                        f"{drop.hook} {drop.table}/{drop.chain}"))
    if a.get("dropped_by") and (drop is None or a["dropped_by"] not in (drop.rule or "")):
        problems.append(f"expected a drop by a rule containing \"{a['dropped_by']}\", " +
                        ("but nothing dropped it" if drop is None else f"but it was: {drop.rule or drop.verdict}"))
    for key, which in (("nat_to", "dst"), ("snat_to", "src")):
        if a.get(key):
            seen = [h.after.endpoint(which) for h in hops if h.nat and h.after is not None]
            if a[key] not in seen and a[key] not in [s.rsplit(":", 1)[0] for s in seen]:
                problems.append(f"expected {'DNAT' if which == 'dst' else 'SNAT'} to {a[key]}, saw " +
                                (", ".join(seen) if seen else "no NAT on the path"))
    if "reply" in a and bool(path.reply) != a["reply"]:
        problems.append("a reply came back" if path.reply else "no reply came back")
    if problems:
        return FAIL, "\n".join(problems) + (f"\nthe path:\n{shown}" if hops else ""), data
    return PASS, path.summary or f"{len(hops)} hops", data


def _present(a) -> bool:
    return a.get("present", True)


def _route(a, engine):
    ns = a.get("ns", "")
    _ns_exists(engine, ns)
    table = a.get("table")
    tnum = None if table in (None, "all") else {"main": 254, "local": 255, "default": 253}.get(table, None)
    if tnum is None and table not in (None, "all"):
        tnum = int(table) if str(table).isdigit() else 254
    dst = a["dst"]
    if dst != "default" and "/" in dst:
        import ipaddress
        n = ipaddress.ip_network(dst, strict=False)
        dst = str(n) if n.prefixlen != 32 else str(n.network_address)

    def look():
        rs = engine.backend.routes(ns or None, tnum if tnum is not None else (None if table == "all" else 254), 4)
        found = [r for r in rs if r.dst == dst and (not a.get("via") or r.gateway == a["via"])
                 and (not a.get("dev") or r.dev == a["dev"]) and (not a.get("proto") or r.proto == a["proto"])]
        return rs, bool(found) == _present(a)

    rs, ok = _wait_for_routes(ns, look, a.get("timeout") or 0.0)
    if ok:
        return PASS, "", {}
    have = "\n".join(f"  {r.dst}" + (f" via {r.gateway}" if r.gateway else "") + (f" dev {r.dev}" if r.dev else "")
                     + (f" proto {r.proto}" if r.proto not in ("boot", "kernel") else "") for r in rs) or "  (no routes)"
    waited = f" (waited {a['timeout']:g} s)" if a.get("timeout") else ""
    if _present(a):
        same = [r for r in rs if r.dst == dst]
        if same:
            r = same[0]
            return FAIL, (f"{_n(ns)} routes {dst}" + (f" via {r.gateway}" if r.gateway else "") +
                          (f" dev {r.dev}" if r.dev else "") + (f" proto {r.proto}" if a.get("proto") else "")
                          + f", not as expected{waited}"), {}
        return FAIL, f"{_n(ns)} has no route to {dst}{waited}. Its routes:\n{have}", {}
    return FAIL, f"{_n(ns)} still has the route {dst}{waited}", {}


def _wait_for_routes(ns: str, look, timeout: float):
    """look() -> (routes, ok), again at each IPv4 route change in `ns` (netlink RTMGRP_IPV4_ROUTE) until ok
    or `timeout` seconds have passed: a route a routing daemon installs (bird, after its BGP session comes
    up) turns the check green as soon as it is there."""
    import select
    import socket
    import time

    from lab.backend import nsutil

    rs, ok = look()
    if ok or timeout <= 0:
        return rs, ok
    with nsutil.in_netns(ns or None):
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    try:
        s.bind((0, 0x40))            # RTMGRP_IPV4_ROUTE: subscribed before the second look, so no change is missed
        deadline = time.monotonic() + timeout
        rs, ok = look()
        while not ok:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([s], [], [], left)[0]:
                break
            try:
                while s.recv(65536, socket.MSG_DONTWAIT):
                    pass
            except BlockingIOError:
                pass
            rs, ok = look()
        return rs, ok
    finally:
        s.close()


def _address(a, engine):

    ns = a.get("ns", "")
    _ns_exists(engine, ns)
    addrs = engine.backend.addresses(ns or None, 4)
    found = [x for x in addrs if x.cidr == a["cidr"] and (not a.get("dev") or x.dev == a["dev"])]
    if bool(found) == _present(a):
        return PASS, "", {}
    have = ", ".join(f"{x.cidr} on {x.dev}" for x in addrs if x.dev != "lo") or "none"
    if _present(a):
        ip = a["cidr"].split("/")[0]
        near = [x for x in addrs if x.local == ip]
        if near:
            return FAIL, (f"{ip} is there with prefix /{near[0].prefixlen} on {near[0].dev}, "
                          f"expected {a['cidr']}" + (f" on {a['dev']}" if a.get("dev") else "")), {}
        return FAIL, f"{_n(ns)} has no {a['cidr']}; its addresses: {have}", {}
    return FAIL, f"{_n(ns)} still has {a['cidr']}", {}


def _neigh(a, engine):

    ns = a.get("ns", "")
    _ns_exists(engine, ns)
    ns_ = engine.backend.neighbours(ns or None, 4)
    cand = [n for n in ns_ if n.dst == a["dst"] and (not a.get("dev") or n.dev == a["dev"])]
    found = [n for n in cand if (not a.get("lladdr") or (n.lladdr or "").lower() == a["lladdr"].lower())
             and (not a.get("state") or a["state"].upper() in n.state.split(","))]
    if bool(found) == _present(a):
        return PASS, "", {}
    if _present(a):
        if cand:
            n = cand[0]
            return FAIL, f"{_n(ns)} has {n.dst} lladdr {n.lladdr} {n.state}, not as expected", {}
        have = ", ".join(f"{n.dst} {n.state}" for n in ns_) or "empty"
        return FAIL, f"{_n(ns)} has no neighbour entry for {a['dst']} (its ARP table: {have})", {}
    return FAIL, f"{_n(ns)} still has a neighbour entry for {a['dst']} ({found[0].state})", {}


def _link(a, engine):

    ns = a.get("ns", "")
    _ns_exists(engine, ns)
    ls = {link.name: link for link in engine.backend.links(ns or None)}
    link = ls.get(a["name"])
    if not _present(a):
        return (PASS, "", {}) if link is None else (FAIL, f"{_n(ns)} still has the link {a['name']}", {})
    if link is None:
        from lab.errors import did_you_mean
        return FAIL, f"{_n(ns)} has no link {a['name']}{did_you_mean(a['name'], ls)}; links: {', '.join(ls)}", {}
    probs = []
    if a.get("kind") and link.kind != a["kind"]:
        probs.append(f"it is a {link.kind or 'physical/loopback'} link, not {a['kind']}")
    fix = {}
    if a.get("state") == "up" and not link.up:
        probs.append("it is DOWN")
        fix["fix"] = f"ip {'-n ' + ns + ' ' if ns else ''}link set {dev_word(link.name)} up"
    if a.get("state") == "down" and link.up:
        probs.append("it is UP")
    if a.get("master") and link.master != a["master"]:
        probs.append(f"its master is {link.master or 'none'}, not {a['master']}")
    return (FAIL, f"{a['name']} in {_n(ns)}: " + "; ".join(probs), fix) if probs else (PASS, "", {})


def _norm_rule(s: str) -> list[str]:
    try:
        return shlex.split(s)
    except ValueError:
        return s.split()


def _contains_words(spec: list[str], want: list[str]) -> bool:
    n = len(want)
    return any(spec[i:i + n] == want for i in range(len(spec) - n + 1)) if n else True


def _rule(a, engine):
    ns = a.get("ns", "")
    _ns_exists(engine, ns)
    table = a.get("table", "filter")
    chain = a["chain"]
    # the kernel's view (iptables-save through the backend's reader), independent of the lab's parser
    have = engine.backend.chains(ns or None, table)
    chains = {c.name: c.policy or "-" for c in have}
    rules = [_norm_rule(r.spec) for c in have if c.name == chain for r in c.rules]
    if a.get("policy"):
        if chain not in chains:
            return FAIL, f"there is no chain {chain} in the {table} table of {_n(ns)}", {}
        if chains[chain] != a["policy"].upper():
            return FAIL, f"{table}/{chain} policy is {chains[chain]}, not {a['policy'].upper()}", {}
        return PASS, "", {}
    want = _norm_rule(a.get("match", ""))
    found = [r for r in rules if _contains_words(r, want)]
    if bool(found) == _present(a):
        return PASS, "", {}
    if _present(a):
        if chain not in chains:
            return FAIL, f"there is no chain {chain} in the {table} table of {_n(ns)}", {}
        have = "\n".join("  -A " + chain + " " + shlex.join(r) for r in rules) or "  (empty)"
        return FAIL, f"no rule in {table}/{chain} of {_n(ns)} matches \"{a.get('match', '')}\"; it has:\n{have}", {}
    return FAIL, f"{table}/{chain} of {_n(ns)} still has: -A {chain} {shlex.join(found[0])}", {}


def _qdisc(a, engine):
    ns = a.get("ns", "")
    _ns_exists(engine, ns)

    engine.backend.link_index(ns or None, a["dev"])
    kinds = [q.kind for q in engine.backend.qdiscs(ns or None) if q.dev == a["dev"]]
    found = a["kind"] in kinds
    if found == _present(a):
        return PASS, "", {}
    if _present(a):
        return FAIL, f"{a['dev']} in {_n(ns)} has qdiscs: {', '.join(kinds) or 'none'} (no {a['kind']})", {}
    return FAIL, f"{a['dev']} in {_n(ns)} still has a {a['kind']} qdisc", {}


def _sysctl(a, engine):
    ns = a.get("ns", "")
    _ns_exists(engine, ns)
    try:
        v = engine.backend.sysctl_get(ns or None, a["key"])
    except OSError:
        return FAIL, f"there is no sysctl {a['key']} in {_n(ns)}", {}
    if v.split() == str(a["value"]).split():
        return PASS, "", {}
    where = f"ip netns exec {ns} " if ns else ""
    return (FAIL, f"{a['key']} is {v} in {_n(ns)}, not {a['value']}",
            {"fix": f"{where}sysctl -w {a['key']}={a['value']}"})


def _output(a, engine):
    from lab.commands.ip import ExecOp

    op = engine.parse(a["run"])
    if op is not None and op.mutates and not isinstance(op, ExecOp):
        raise LabError(f"`{a['run']}` changes the lab: an output check may only run commands that show things.")
    import time

    deadline = time.monotonic() + (a.get("timeout") or 0.0)
    pause = 0.1
    while True:
        r = engine.run(a["run"])
        out = r.output
        probs = [] if not r.ok else [f'it does not show "{x}"' for x in a.get("contains", []) if x not in out]
        probs += [f'it shows "{x}"' for x in a.get("absent", []) if r.ok and x in out]
        if r.ok and a.get("matches") and not search_bounded(a["matches"], out):
            probs.append(f"it does not match /{a['matches']}/")
        if (r.ok and not probs) or time.monotonic() + pause > deadline:
            break
        time.sleep(pause)    # output has no change event: ask again (a daemon's state, e.g. BGP Established)
        pause = min(pause * 1.5, 0.5)
    if not r.ok:
        return FAIL, f"`{a['run']}` failed: {r.error}", {}
    if probs:
        return FAIL, "; ".join(probs) + "\nthe output was:\n" + (out or "(empty)"), {"output": out}
    return PASS, "", {"output": out}


REGEX_TIMEOUT = 2.0       # seconds for one `matches` regex (a sane one takes microseconds)
_REGEX_CHILD = ("import json, re, resource, sys\n"
                "resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))\n"
                "p, t = json.loads(sys.stdin.read())\n"
                "sys.stdout.write('1' if re.search(p, t, re.M) else '0')\n")


def search_bounded(pattern: str, text: str, timeout: float = REGEX_TIMEOUT) -> bool:
    """re.search(pattern, text, re.M) with a time limit. Python's re cannot be interrupted, and a pattern
    from a scenario file may backtrack for hours (`^(\\s|\\S|.)*(\\s|\\S|.)*Z$`), so the match runs in a
    child interpreter (-I -S: ~30 ms, 512 MB address space) that is killed after `timeout` seconds."""
    import json
    import subprocess
    import sys

    try:
        r = subprocess.run([sys.executable, "-I", "-S", "-c", _REGEX_CHILD], input=json.dumps([pattern, text]),
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise LabError(f"regex check took longer than {timeout:g} s: /{_short(pattern)}/ backtracks too much",
                       "Simplify the pattern: nested or adjacent repeats such as (a|.)* or .*.* can take "
                       "exponential time; prefer `contains`.") from None
    if r.returncode != 0 or r.stdout not in ("0", "1"):
        err = (r.stderr.strip().splitlines() or ["no answer"])[-1]
        raise LabError(f"regex check /{_short(pattern)}/ failed: {_short(err, 120)}")
    return r.stdout == "1"


def _short(s: str, n: int = 60) -> str:
    return s if len(s) <= n else s[:n - 3] + "..."


_KINDS = {"ping": _ping, "tcp": _l4("tcp"), "udp": _l4("udp"), "throughput": _throughput, "trace": _trace,
          "route": _route, "address": _address, "neigh": _neigh, "link": _link, "rule": _rule,
          "qdisc": _qdisc, "sysctl": _sysctl, "output": _output}
