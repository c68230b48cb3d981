"""Benchmark of `lab serve` (issue 14's figures): what one seat costs, so a room can be sized.

Starts `lab serve --scenario fox-bear` on a free loopback port (inside the lab's own sandbox, so nothing
touches the machine's network), connects N browsers as textual-serve's JavaScript does (the page, then the
seat's websocket), waits until every seat's dashboard has played step 1, and prints:
- RSS per seat (the seat's lab process with its children), mean and max, and seats per GB;
- CPU per idle seat (% of one core over --idle seconds, dashboards open and untouched);
- CPU per busy seat (% of one core while every seat steps through the scenario: PgDn every 2 s);
- the time from websocket open to the seat's first paint (its first screen bytes) and to step 1 of the
  scenario drawn;
- the room (--room N seats, default 30, on the exercise 21-fix-ip-forward): the instructor's room view (the
  fragment its page fetches every second) request time with N seats, and the latency from a learner typing the
  fix to the instructor's view showing that seat green, for several learners in turn (the seat's check run
  included; the page itself adds up to its 1 s refresh on top).
No peer runs here: the tools a seat replaces (a VM or container per learner, as hosted labs give) do not
run on this machine; a VM's RSS alone is a few hundred MB. Run: python bench/bench_serve.py [--seats N]
[--idle S] [--room N] [--fixes K]
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
    ap.add_argument("--room", type=int, default=30, help="seats for the instructor-latency part (0: skip)")
    ap.add_argument("--fixes", type=int, default=8, help="learners who fix the exercise in turn")
    args = ap.parse_args()
    from lab.backend.sandbox import enter_sandbox

    enter_sandbox()
    import aiohttp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv, url, _ = serve(port, args.seats, "fox-bear")
    hz = os.sysconf("SC_CLK_TCK")

    async def run() -> None:
        async with aiohttp.ClientSession() as s:
            sockets, firsts, paints = [], [], []
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
                    if got and len(paints) < len(firsts) + 1:
                        paints.append(time.monotonic() - t0)
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
            print(f"seat start, websocket open to first paint: mean {sum(paints) / len(paints):.2f} s, max "
                  f"{max(paints):.2f} s; to step 1 drawn: mean {sum(firsts) / len(firsts):.2f} s, "
                  f"max {max(firsts):.2f} s")
            print(f"server process RSS: {rss_kb(srv.pid) / 1024:.0f} MB")

    try:
        asyncio.run(run())
    finally:
        srv.terminate()
        srv.wait(timeout=30)
    if args.room:
        room(args.room, args.fixes)


def serve(port: int, seats: int, scenario: str) -> tuple[subprocess.Popen, str, str]:
    """A `lab serve` on this sandbox's loopback: the process, the learners' URL, the instructor's URL."""
    srv = subprocess.Popen([sys.executable, "-m", "lab", "serve", "--port", str(port), "--seats", str(seats),
                            "--scenario", scenario, "--grace", "0"], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONPATH": ROOT})
    url = teacher = ""
    assert srv.stdout is not None
    for line in srv.stdout:
        m = re.search(r"(http://\S+/instructor\?token=\S+)", line)
        if m:
            teacher = m.group(1)
        m = re.search(r"open (http://\S+)", line)
        if m:
            url = m.group(1)
            break
    assert url and teacher, "lab serve did not start"
    import threading      # keep reading what it prints, so a full pipe can never stop it

    threading.Thread(target=lambda: [None for _ in srv.stdout or ()], daemon=True).start()
    return srv, url, teacher


def room(n: int, fixes: int) -> None:
    """n seats on an exercise; learners fix it one after another; how soon does the instructor see green?"""
    import aiohttp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv, url, teacher = serve(port, n, "21-fix-ip-forward")
    room_url = teacher.replace("/instructor?", "/instructor/room?")
    json_url = teacher.replace("/instructor?", "/instructor.json?")

    async def drain(ws):
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.BINARY:
                return

    async def run() -> None:
        async with aiohttp.ClientSession() as s:
            sockets: list = []
            readers: list = []
            for i in range(n):
                async with s.get(url + ("&" if "?" in url else "?") + f"name=L{i:02d}") as r:
                    page = await r.text()
                ws_url = re.search(r'data-session-websocket-url="([^"]+)"', page).group(1)
                ws = await s.ws_connect(ws_url + "?width=120&height=36")
                got = b""
                while b"Step 1/" not in got:
                    msg = await ws.receive(timeout=180)
                    got += msg.data if msg.type == aiohttp.WSMsgType.BINARY else b""
                sockets.append(ws)
                readers.append(asyncio.ensure_future(drain(ws)))   # (read at once: the server's heartbeat)

            async def rows() -> dict:
                async with s.get(json_url) as r:
                    return {row["name"]: row for row in await r.json()}
            t_end = time.monotonic() + 180
            while not all(r["green"] is False for r in (await rows()).values()) or len(await rows()) < n:
                assert time.monotonic() < t_end, "the seats did not all reach their red check"
                await asyncio.sleep(0.5)
            fetch = []
            for _ in range(20):
                t0 = time.monotonic()
                async with s.get(room_url) as r:
                    await r.text()
                fetch.append(time.monotonic() - t0)
            lat = []
            for i in range(min(fixes, n)):
                ws = sockets[i]
                t0 = time.monotonic()
                await ws.send_json(["stdin", "\x0c"])         # Ctrl+L: the command bar
                await ws.send_json(["stdin", "ip netns exec router sysctl -w net.ipv4.ip_forward=1\r"])
                while (await rows())[f"L{i:02d}"]["green"] is not True:
                    assert time.monotonic() - t0 < 120, f"L{i:02d} never turned green"
                    await asyncio.sleep(0.02)
                lat.append(time.monotonic() - t0)
            for ws in sockets:
                await ws.close()
            for r in readers:
                r.cancel()
            fetch.sort()
            lat.sort()
            print(f"room: {n} seats (21-fix-ip-forward); the instructor's room view: median "
                  f"{fetch[len(fetch) // 2] * 1000:.1f} ms, max {fetch[-1] * 1000:.1f} ms per request")
            print(f"room: a learner types the fix -> the instructor's data shows them green: median "
                  f"{lat[len(lat) // 2]:.2f} s, max {lat[-1]:.2f} s over {len(lat)} learners (their check runs "
                  "included; the page's 1 s refresh comes on top)")

    try:
        asyncio.run(run())
    finally:
        srv.terminate()
        srv.wait(timeout=60)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


if __name__ == "__main__":
    main()
