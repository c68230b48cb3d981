"""Benchmark of the scenario player in the dashboard (issue 13's figures): how long a learner waits.

Plays a shipped scenario (default fox-bear) in a headless dashboard of the given size and prints, per step:
- shown: from the key (PgDn) until the new step's title and narration are on screen;
- done: until its commands ran and its checks are drawn (the pane is idle again);
then the same for going back one step (PgUp: the lab is rebuilt from scratch up to that step), and the
time from launch until step 1 is done. The commands are not typed out (as when a learner steps by hand;
auto-play types them at a readable pace). Targets: a step done within 2 s, back within 3 s.
Peer in the same run: the scenario's own commands run through the engine with no dashboard (the floor).
Runs inside the lab's rootless sandbox: python bench/bench_player.py [SCENARIO] [--size 120x36] [--steps K]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def screen_text(app) -> str:
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in s) for s in strips)


async def until(pilot, cond, timeout: float = 60.0) -> float:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise SystemExit("timed out")
        await pilot.pause(0.01)
    return time.monotonic() - t0


def floor(engine, sc) -> float:
    """The scenario's setup and every step's commands (and task solutions), through the engine alone."""
    from lab.scenario.player import Player

    p = Player(sc, engine)
    t0 = time.monotonic()
    p.start()
    for i in range(len(sc.steps)):
        p.run_step(i)
        if sc.steps[i].task:
            p.solve(i)
    return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", nargs="?", default="fox-bear")
    ap.add_argument("--size", default="120x36")
    ap.add_argument("--steps", type=int, default=0, help="how many steps to go forward (default: all)")
    args = ap.parse_args()
    from lab.engine import setup
    from lab.scenario.loader import load
    from lab.ui.app import make_app
    from lab.ui.widgets.player import PlayerPane

    engine = setup(False)
    sc = load(args.scenario)
    w, h = (int(x) for x in args.size.split("x"))
    out: dict[str, list[float]] = {"shown": [], "done": []}

    async def run() -> None:
        t0 = time.monotonic()
        app = make_app(engine, scenario=sc)
        async with app.run_test(size=(w, h)) as pilot:
            await until(pilot, lambda: bool(app.main and app.main.query(PlayerPane)))
            pane = app.main.query_one(PlayerPane)
            await until(pilot, lambda: pane.player.index == 0 and not pane.busy and "Step 1/" in screen_text(app))
            print(f"launch until step 1 is done: {time.monotonic() - t0:.2f} s")
            n = min(len(sc.steps) - 1, args.steps or len(sc.steps))
            for i in range(1, n + 1):
                await pilot.press("pagedown")
                shown = await until(pilot, lambda: f"Step {i + 1}/" in screen_text(app))
                done = shown + await until(pilot, lambda: pane.player.index == i and not pane.busy)
                out["shown"].append(shown)
                out["done"].append(done)
                print(f"  next to step {i + 1}: shown {shown * 1000:.0f} ms, done {done * 1000:.0f} ms"
                      + ("  (a task step)" if sc.steps[i].task else ""))
            back = []
            for _ in range(2):
                i = pane.player.index
                await pilot.press("pageup")
                shown = await until(pilot, lambda: f"Step {i}/" in screen_text(app))
                done = shown + await until(pilot, lambda: pane.player.index == i - 1 and not pane.busy)
                back.append(done)
                print(f"  back to step {i}: shown {shown * 1000:.0f} ms, done (lab rebuilt) {done * 1000:.0f} ms")
            print(f"next: done p50 {statistics.median(out['done']) * 1000:.0f} ms, max {max(out['done']) * 1000:.0f} ms; "
                  f"back: max {max(back) * 1000:.0f} ms (targets: 2000 / 3000 ms)")

    asyncio.run(run())
    print(f"floor (the scenario's commands through the engine, no dashboard): {floor(engine, sc) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
