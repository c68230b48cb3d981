"""Benchmark of `lab serve` (issue 14's figures): what one seat costs, so a room can be sized.

Starts `lab serve --scenario fox-bear` on a free loopback port (inside the lab's own sandbox, so nothing
touches the machine's network), connects N browsers as textual-serve's JavaScript does (the page, then the
seat's websocket), waits until every seat's dashboard has played step 1, and prints:
- RSS per seat (the seat's lab process with its children), mean and max, and seats per GB;
- CPU per idle seat (% of one core over --idle seconds, dashboards open and untouched);
- CPU per busy seat (% of one core while every seat steps through the scenario: PgDn every 2 s);
- the time from websocket open to the seat's first screen (step 1 of the scenario drawn).
No peer runs here: the tools a seat replaces (a VM or container per learner, as hosted labs give) do not
run on this machine; a VM's RSS alone is a few hundred MB. Run: python bench/bench_serve.py [--seats N]
[--idle S]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def tree(pid: int) -> set[int]:
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                kids = {int(x) for x in f.read().split()}
        except OSError:
            kids = set()
        todo += list(kids - out)
        out |= kids
    return out


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0


def cpu_ticks(pids) -> int:
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            total += int(parts[11]) + int(parts[12])
        except (OSError, IndexError):
            pass
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seats", type=int, default=4)
    ap.add_argument("--idle", type=float, default=10.0)
    args = ap.parse_args()
    from lab.backend.sandbox import enter_sandbox

    enter_sandbox()
    import aiohttp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = subprocess.Popen([sys.executable, "-m", "lab", "serve", "--port", str(port), "--seats", str(args.seats),
                            "--scenario", "fox-bear"], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONPATH": ROOT})
    url = None
    for line in srv.stdout:
        m = re.search(r"open (http://\S+)", line)
        if m:
            url = m.group(1)
            break
    assert url, "lab serve did not start"
    hz = os.sysconf("SC_CLK_TCK")

    async def run() -> None:
        async with aiohttp.ClientSession() as s:
            sockets, firsts = [], []
            for _ in range(args.seats):
                async with s.get(url) as r:
                    page = await r.text()
                ws_url = re.search(r'data-session-websocket-url="([^"]+)"', page).group(1)
                t0 = time.monotonic()
                ws = await s.ws_connect(ws_url + "?width=120&height=36")
                got = b""
                while b"Step 1/" not in got:
                    msg = await ws.receive(timeout=120)
                    got += msg.data if msg.type == aiohttp.WSMsgType.BINARY else b""
                firsts.append(time.monotonic() - t0)
                sockets.append(ws)

            async def drain(ws):
                while True:
                    msg = await ws.receive()
                    if msg.type != aiohttp.WSMsgType.BINARY:
                        return
            readers = [asyncio.ensure_future(drain(ws)) for ws in sockets]
            tops = _children(srv.pid)      # one lab process per seat (the shell exec'd it)
            per_seat = [rss_kb(t) + sum(rss_kb(c) for c in tree(t)) for t in tops]
            await asyncio.sleep(2)
            c0 = cpu_ticks(tree(srv.pid))
            await asyncio.sleep(args.idle)
            idle = (cpu_ticks(tree(srv.pid)) - c0) / hz / args.idle * 100 / len(tops)
            c0, t0 = cpu_ticks(tree(srv.pid)), time.monotonic()
            for _ in range(5):
                for ws in sockets:
                    await ws.send_json(["stdin", "\x1b[6~"])    # PgDn: the next step
                await asyncio.sleep(2)
            busy = (cpu_ticks(tree(srv.pid)) - c0) / hz / (time.monotonic() - t0) * 100 / len(tops)
            for ws in sockets:
                await ws.close()
            for r in readers:
                r.cancel()
            mean = sum(per_seat) / len(per_seat) / 1024
            print(f"seats: {len(tops)} (fox-bear, 120x36)")
            print(f"RSS per seat: mean {mean:.0f} MB, max {max(per_seat) / 1024:.0f} MB -> about "
                  f"{1024 / mean:.0f} seats per GB")
            print(f"CPU per idle seat: {idle:.1f} % of a core; per busy seat (a step every 2 s): {busy:.1f} %")
            print(f"first screen after the websocket opens: mean {sum(firsts) / len(firsts):.2f} s, "
                  f"max {max(firsts):.2f} s")
            print(f"server process RSS: {rss_kb(srv.pid) / 1024:.0f} MB")

    try:
        asyncio.run(run())
    finally:
        srv.terminate()
        srv.wait(timeout=30)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


if __name__ == "__main__":
    main()
