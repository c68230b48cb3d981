"""Helpers for the UI tests (no tests here): run a dashboard over the test's sandboxed lab, type into
the command bar, wait for panes, read what a pane shows as plain text."""
from __future__ import annotations

import asyncio
import time

from lab.ui.panes.base import TablePane

from lab.ui.app import make_app


def pane_rows(app, pane_id: str) -> list[list[str]]:
    """What a table pane shows, as plain text cells (NS column first)."""
    t = app.main.query_one(f"#{pane_id}", TablePane)
    app.main.catch_up(t)   # panes in hidden tabs draw lazily
    return [[str(c.plain if hasattr(c, "plain") else c) for c in t.get_row_at(i)] for i in range(t.row_count)]


def pane_text(app, pane_id: str) -> str:
    return "\n".join("  ".join(r) for r in pane_rows(app, pane_id))


def screen_text(app) -> str:
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in s) for s in strips)


async def wait_for(pilot, cond, timeout: float = 5.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if cond():
                return
        except Exception:  # noqa: BLE001  (widgets mid-update)
            pass
        await pilot.pause(0.03)
    raise AssertionError(f"timed out waiting for {what}")


async def type_command(pilot, line: str, wait: bool = True, keys: bool = False) -> None:
    """Put a line in the command bar (keys=True: type it key by key like a user) and press Enter;
    wait for its output."""
    app = pilot.app
    await pilot.press("ctrl+l")
    if keys:
        await pilot.press(*line)
    else:
        app.main.query_one("#command-input").value = line
    before = len(app.output.plain_lines)
    await pilot.press("enter")
    if wait:
        await wait_for(pilot, lambda: len(app.output.plain_lines) > before and not _busy(app),
                       what=f"command {line!r}")


def _busy(app) -> bool:
    return any(w.group == "commands" and not w.is_finished for w in app.workers)


def run_ui(engine, body, size=(140, 40), **kw):
    """Run `await body(app, pilot)` inside a headless dashboard over `engine`, loaded."""
    async def main():
        app = make_app(engine, **kw)
        async with app.run_test(size=size) as pilot:
            await wait_for(pilot, lambda: app.view.loaded, what="first state")
            await body(app, pilot)
    asyncio.run(main())
