"""Event storms: links flipped in many namespaces many times a second, from another process, must not
pile work up anywhere. The watcher coalesces (at most one Update per frame interval, none while the
consumer has not taken the last one), the dashboard merges what it has not applied yet (one StateUpdated
in its queue at most), typed commands still answer, dead strips are collected while it is busy, and the
view ends where the kernel is. Bounds are generous (a loaded 2-core machine); every wait is for a
condition, the sleeps only pace the storm and the typing."""
from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from lab.backend.watch import Update, Watcher
from lab.model import NsState
from tests.conftest import ROOT, run_ok
from tests.test_ui_support import run_ui, wait_for

N = 40

FLIPPER = textwrap.dedent("""
    import random, sys, time
    sys.path.insert(0, sys.argv[1])
    from lab.backend import nsutil
    from lab.backend.rtnl import Rtnl
    targets, rate, seconds = sys.argv[2].split(","), float(sys.argv[3]), float(sys.argv[4])
    socks = {}
    def flip(spec, up):
        ns, name = spec.split(":")
        if ns not in socks:
            with nsutil.in_netns(ns or None):
                socks[ns] = Rtnl()
        socks[ns].link_set(name=name, up=up)
    rng, down, k, t0 = random.Random(3), set(), 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        spec = rng.choice(targets)
        flip(spec, spec in down)
        down.symmetric_difference_update({spec})
        k += 1
        delay = t0 + k / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    for spec in down:
        flip(spec, True)
    print(k, flush=True)
""")


def build(engine, uniq: str, n: int = N) -> list[str]:
    """n namespaces, each with lo up and an eth0 paired with a port of one bridge in the top namespace.
    Returns the flip targets, "ns:link": every eth0 and every bridge port."""
    br = f"br{uniq}"
    lines = [f"ip link add {br} type bridge", f"ip link set {br} up"]
    targets = []
    for i in range(n):
        ns, port = f"s{uniq}{i:02d}", f"v{uniq}{i:02d}"
        lines += [f"ip netns add {ns}", f"ip link add {port} type veth peer name eth0 netns {ns}",
                  f"ip link set {port} master {br}", f"ip link set {port} up", f"ip -n {ns} link set lo up",
                  f"ip -n {ns} addr add 10.{i}.0.1/24 dev eth0", f"ip -n {ns} link set eth0 up"]
        targets += [f"{ns}:eth0", f":{port}"]
    run_ok(engine, *lines)
    return targets


def start_flipper(targets: list[str], rate: float, seconds: float) -> subprocess.Popen:
    """The outside loop: another process (it does not share our interpreter lock), in our netns."""
    return subprocess.Popen([sys.executable, "-c", FLIPPER, ROOT, ",".join(targets), str(rate), str(seconds)],
                            stdout=subprocess.PIPE, text=True)


def kernel_all_up(engine, uniq: str, n: int = N) -> bool:
    b = engine.backend
    return all(next(line for line in b.rtnl(f"s{uniq}{i:02d}").links(f"s{uniq}{i:02d}") if line.name == "eth0").up
               for i in range(n))


def view_all_up(states: dict, uniq: str) -> bool:
    shown = [link for name, st in states.items() if name.startswith(f"s{uniq}") or name == ""
             for link in st.links if link.name == "eth0" or link.name.startswith(f"v{uniq}")]
    return len(shown) == 2 * N and all(link.up for link in shown)


def test_update_merge_keeps_only_the_latest_state():
    a = Update(states={"a": NsState("a", links=()), "b": NsState("b")}, removed=("x",), namespaces=("a", "b"),
               event_time=2.0)
    newer_a = NsState("a", sysctls=(("k", "1"),))
    b = Update(states={"a": newer_a, "x": NsState("x")}, removed=("b",), namespaces=("a", "x"), event_time=1.5)
    m = a.merge(b)
    assert m.states == {"a": newer_a, "x": NsState("x")}   # b's state is gone with b; x removed then made again
    assert m.removed == ("x", "b") and m.namespaces == ("a", "x") and m.event_time == 1.5
    assert not m.initial and Update(initial=True).merge(Update()).initial


def test_watcher_coalesces_a_storm_and_waits_for_its_consumer(lab, uniq):
    """~150 flips a second over 80 links: the watcher publishes at most about once per frame, never
    while the consumer still holds the last Update, and its final state is the kernel's."""
    targets = build(lab, uniq)
    inbox: list[Update] = []
    lock = threading.Lock()
    state = {"max_inbox": 0, "published_while_full": 0}

    def on_update(u: Update) -> None:   # watcher thread
        with lock:
            if inbox:
                state["published_while_full"] += 1
            inbox.append(u)
            state["max_inbox"] = max(state["max_inbox"], len(inbox))

    w = Watcher(lab.backend, on_update, frame=1 / 30, busy=lambda: bool(inbox))
    w.want(set(), (), False)
    w.start()
    try:
        taken: list[Update] = []

        def take() -> None:   # a slow consumer: takes the pending Update every 0.1 s
            with lock:
                taken.extend(inbox)
                inbox.clear()
            w.resume()

        deadline = time.monotonic() + 30
        while not view_all_up(w.states, uniq):
            assert time.monotonic() < deadline, "the watcher never showed the lab"
            take()
            time.sleep(0.05)
        take()
        pubs0, events0, t0 = w.stats["publications"], w.stats["events"], time.monotonic()
        seconds = 6.0
        flip = start_flipper(targets, rate=150, seconds=seconds)
        while flip.poll() is None:
            time.sleep(0.1)
            take()
        flips = int(flip.stdout.read())
        elapsed = time.monotonic() - t0
        deadline = time.monotonic() + 30
        while not (view_all_up(w.states, uniq) and kernel_all_up(lab, uniq)):
            assert time.monotonic() < deadline, "the watcher's final state is not the kernel's"
            take()
            time.sleep(0.05)
        take()
    finally:
        w.stop()
    pubs, events = w.stats["publications"] - pubs0, w.stats["events"] - events0
    print(f"watcher: {flips} flips in {elapsed:.1f} s, {events} event batches, {pubs} updates, {state}")
    assert flips > 300, f"the storm was too weak to test anything ({flips} flips)"
    assert events > pubs, "events were not coalesced"
    # one per frame at most (plus slack for the end), and in fact held back by the slow consumer
    assert pubs <= elapsed * 30 + 10, f"{pubs} updates in {elapsed:.1f} s"
    assert state["max_inbox"] <= 2 and state["published_while_full"] <= 2 + elapsed / Watcher.MAX_HOLD, state
    assert not w.errors, w.errors


def test_watcher_link_events_keep_addresses_right(lab, uniq):
    """A link event re-reads links, routes and neighbours but not addresses (the kernel reports each
    address it adds or drops): renaming, downing and upping a link must still leave the watcher's
    addresses equal to the kernel's, IPv6 ones flushed on down included."""
    ns = f"a{uniq}"
    run_ok(lab, f"ip netns add {ns}", f"ip link add x{uniq} type veth peer name eth0 netns {ns}",
           f"ip -n {ns} addr add 10.77.0.2/24 dev eth0", f"ip -n {ns} addr add fd00:77::2/64 dev eth0 nodad",
           f"ip -n {ns} link set eth0 up", f"ip link set x{uniq} up")
    got: list[Update] = []
    w = Watcher(lab.backend, got.append)
    w.want(set(), (), False)
    w.start()

    def kernel_addresses():
        r = lab.backend.rtnl(ns)
        return [(a.dev, a.cidr) for a in r.addresses(ns, {link.index: link.name for link in r.links(ns)})]

    def settles(what: str) -> None:
        deadline = time.monotonic() + 15
        while True:
            st = w.states.get(ns)
            shown = [(a.dev, a.cidr) for a in st.addresses] if st is not None else None
            if shown == kernel_addresses():
                return
            assert time.monotonic() < deadline, f"{what}: watcher shows {shown}, kernel {kernel_addresses()}"
            time.sleep(0.05)

    try:
        settles("start")
        assert ("eth0", "fd00:77::2/64") in kernel_addresses()
        run_ok(lab, f"ip -n {ns} link set eth0 down", f"ip -n {ns} link set eth0 name lan0")
        settles("renamed while down")
        assert all(dev == "lan0" for dev, _ in kernel_addresses())
        run_ok(lab, f"ip -n {ns} link set lan0 up")
        settles("up again")
        run_ok(lab, f"ip -n {ns} addr add fd00:78::2/64 dev lan0 nodad", f"ip -n {ns} link set lan0 down")
        settles("down (IPv6 addresses flushed)")
    finally:
        w.stop()
    assert not w.errors, w.errors


@pytest.mark.timeout(240)
def test_dashboard_stays_responsive_and_bounded_in_a_storm(lab, uniq):
    """15 s of ~100 flips a second over 80 links while a command is typed every 0.5 s: every command
    answers, at most one state message waits in the app's queue, the storm's dead strips are
    collected while it lasts, memory does not run away, and the panes end where the kernel is."""
    targets = build(lab, uniq)
    from textual import events
    from textual.strip import Strip

    def rss_mb() -> float:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS"))

    async def body(app, pilot):
        await wait_for(pilot, lambda: view_all_up(app.view.states, uniq), timeout=30, what="the lab")
        app.show_tab("tab-links")    # the busiest tab: a row per link, counters, highlights
        await pilot.pause(0.5)
        rss0 = rss_mb()
        young0 = app.heap_stats["young"] + app.heap_stats["deep"]
        flip = start_flipper(targets, rate=100, seconds=15)
        latencies, queued, backlog, strips = [], 0, 0, 0
        try:
            i = 0
            while flip.poll() is None:
                ns = f"s{uniq}{i % N:02d}"
                i += 1
                bar = app.main.query_one("#command-input")
                app.action_focus_bar()
                bar.value = f"ip -n {ns} route show table local"
                before = len(app.output.plain_lines)
                t = time.monotonic()
                # Enter as the terminal's input thread delivers it (Pilot.press would also wait for the
                # process to go idle, which it never does in a storm)
                app._driver.send_message(events.Key("enter", "\r"))
                await wait_for(pilot, lambda: any("127.0.0.1" in line for line in app.output.plain_lines[before:]),
                               timeout=20, what=f"the output of a command typed during the storm ({ns})")
                latencies.append(time.monotonic() - t)
                queued = max(queued, app.state_messages_queued)
                backlog = max(backlog, app.message_queue_size)
                await pilot.pause(0.5)
            strips = sum(1 for o in gc.get_objects() if type(o) is Strip)   # not yet frozen: what a pass can free
            grown = rss_mb() - rss0
        finally:
            if flip.poll() is None:
                flip.kill()
            flips = int(flip.stdout.read() or 0)
        print(f"storm: {flips} flips; typed command p50 {sorted(latencies)[len(latencies) // 2]:.3f} s, max"
              f" {max(latencies, default=0):.3f} s; queued {queued}, backlog {backlog}, strips {strips},"
              f" RSS +{grown:.0f} MB, heap passes {app.heap_stats}")
        assert flips > 500, f"the storm was too weak to test anything ({flips} flips)"
        assert len(latencies) >= 5
        latencies.sort()
        # typically ~0.1 s here; before the fix up to 6.5 s behind the backlog (200 namespaces)
        assert latencies[len(latencies) // 2] < 2.0 and latencies[-1] < 8.0, latencies
        assert queued <= 1, f"{queued} state messages waited in the queue"
        assert backlog < 50, f"{backlog} messages waited in the app's queue"
        assert app.heap_stats["young"] + app.heap_stats["deep"] > young0, "no heap pass while busy"
        assert strips < 40_000, f"{strips} strips alive after the storm"
        assert grown < 80, f"RSS grew {grown:.0f} MB in a 15 s storm"
        await wait_for(pilot, lambda: kernel_all_up(app.engine, uniq) and view_all_up(app.view.states, uniq),
                       timeout=30, what="the panes back in sync with the kernel")
        rows = [r for r in app.main.query_one("#links")._rows if f"\x1f{'link'}\x1f" in r[0]]
        assert rows

    run_ui(lab, body, size=(160, 50))
