"""`lab serve`: the dashboard in the browser, one seat per browser session (textual-serve).

Each seat is a process of its own (`lab tui`, or `lab play SCENARIO`), so each learner has a sandbox of
their own: their own user+network+mount namespaces, invisible to the other seats, gone with the process
when the browser disconnects (textual-serve stops the process; lab's sandbox dies with it).

Safety: binds to localhost by default. On any other address a token is required: the start-up message
prints the URL with it; a page or websocket request without it is refused (403). The page hands each
browser a seat URL of its own (a fresh random id, good for one websocket, for a minute), so one seat's
URL says nothing about another's. At most --seats seats at once: past that the page says the room is full
(503) instead of starting a process.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import hmac
import html
import io
import json
import ipaddress
import os
import secrets
import shlex
import sys
import time
from typing import Any

LOCAL = {"localhost", "127.0.0.1", "::1"}
# run before textual.js reads it (on load): the seat's websocket, relative to wherever the page was served
RELATIVE_SEAT = """<script>(() => {
  const u = new URL(%s, window.location.href.split("?")[0]);
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";   // (textual.js adds ?width=..&height=..)
  for (const e of document.querySelectorAll("[data-session-websocket-url]")) e.dataset.sessionWebsocketUrl = u.href;
})();</script>"""
SEAT_URL_TTL = 60.0     # seconds a page's seat URL stays good for its websocket
SEAT_STOP_WAIT = 5.0    # seconds a closed seat's dashboard has to quit before it is killed


def needs_token(host: str) -> bool:
    return host not in LOCAL


def seat_command(scenario: str | None, theme: str | None, status: str = "", limits: str = "") -> str:
    """The shell line textual-serve runs for a seat: lab replaces the shell (exec), LAB_SEAT_PARENT makes
    it die with this server however the server ends (SIGKILL included: lab.cli.main), LAB_SEAT_STATUS is
    the file where the seat's dashboard keeps its progress for the instructor's page (lab.ui.app)."""
    argv = [sys.executable, "-m", "lab"] + (["--theme", theme] if theme else [])
    argv += ["play", scenario] if scenario else ["tui"]
    env = f"LAB_SEAT_PARENT={os.getpid()}" + (f" LAB_SEAT_STATUS={shlex.quote(status)}" if status else "")
    env += f" LAB_SEAT_LIMITS={shlex.quote(limits)}" if limits else ""   # lab.backend.sandbox.apply_limits
    return f"{env} exec {shlex.join(argv)}"


def stuck_rows(seats: dict, now: float, stuck_after: float) -> list[dict]:
    """The instructor's table: one row per seat (connected or gone), with how long it has been red on its
    current step; `stuck` when that is more than stuck_after seconds."""
    rows = []
    for sid, s in seats.items():
        st = s.get("status") or {}
        red_for = now - s["red_since"] if s.get("red_since") is not None else 0.0
        rows.append({"seat": sid[:6], "name": s["name"], "connected": s["connected"],
                     "scenario": st.get("scenario", ""), "step": st.get("step", 0), "steps": st.get("steps", 0),
                     "step_title": st.get("step_title", ""), "checks": st.get("checks", ""),
                     "green": st.get("green"), "red_minutes": round(red_for / 60, 1),
                     "stuck": bool(st) and st.get("green") is False and red_for > stuck_after,
                     "finished": bool(st.get("finished"))})
    return rows


def idle_warning_at(idle: float) -> float:
    """Seconds of quiet after which an idle seat is warned: two minutes before it closes (half-way for short
    limits)."""
    return max(idle - 120.0, idle / 2)


def make_server(host: str = "localhost", port: int = 8000, seats: int = 8, scenario: str | None = None,
                theme: str | None = None, token: str | None = None, stuck_minutes: float = 5.0,
                idle_minutes: float = 30.0, grace: float = 60.0, max_namespaces: int = 50,
                max_processes: int = 256):
    """The textual-serve Server for `lab serve`, with the token, the seat URLs and the seat limit."""
    import aiohttp_jinja2
    import jinja2
    from aiohttp import web
    from textual_serve.server import Server

    class LabServer(Server):
        def __init__(self) -> None:
            super().__init__(seat_command(scenario, theme), host=host, port=port, title="lab")
            self.token = token if token is not None else (secrets.token_urlsafe(24) if needs_token(host) else "")
            self.instructor_token = secrets.token_urlsafe(24)
            self.seats = seats
            self.issued: dict[str, tuple[float, str, str]] = {}   # seat id -> (when its page was served, name,
            #                                                        the browser's lab_seat cookie)
            self.room: dict[str, dict] = {}     # seat id -> name, connected, status path, last status, red_since
            self.watch_ids: dict[str, tuple[float, str]] = {}   # watch id -> (when its page was served, seat id)
            import tempfile

            self.status_dir = tempfile.mkdtemp(prefix="lab-serve-")

        @property
        def url(self) -> str:
            return self.public_url + "/" + (f"?token={self.token}" if self.token else "")

        def _authorised(self, request: web.Request) -> bool:
            return not self.token or hmac.compare_digest(request.query.get("token", ""), self.token)

        async def _make_app(self) -> web.Application:
            app = web.Application()
            aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
            app.add_routes([
                web.get("/", self.index, name="index"),
                web.get("/ws/{seat}", self.seat, name="websocket"),
                web.get("/instructor", self.instructor),
                web.get("/instructor/room", self.instructor_room),
                web.get("/watch/{seat}", self.watch_page),
                web.get("/ws-watch/{wid}", self.watch),
                web.get("/instructor.json", self.instructor_data),
                web.get("/instructor.csv", self.instructor_data),
                web.post("/instructor/push", self.push),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", self.statics_path, name="static"),
            ])
            app.on_startup.append(self._start_idle_watch)
            app.on_cleanup.append(self._cleanup)
            return app

        async def _cleanup(self, app: web.Application) -> None:
            import shutil

            if "idle-watch" in app:
                app["idle-watch"].cancel()
            for r in self.room.values():        # the server stops: every seat still running goes with it
                proc = getattr(r.get("service"), "_process", None)
                if proc is not None and proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
            shutil.rmtree(self.status_dir, ignore_errors=True)

        def serve(self, debug: bool = False) -> None:
            """Run until Ctrl+C (or SIGTERM); says where to point the browsers once it is listening."""
            import asyncio
            import signal

            import logging

            self.debug = debug
            self.initialize_logging()
            web_log = logging.getLogger("aiohttp.access")
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.request_exit)
            web.run_app(self._make_app(), host=self.host, port=self.port, handle_signals=False, loop=loop,
                        shutdown_timeout=3,   # Ctrl+C: seats (kept for a reload too) go within seconds
                        # no line per request (the instructor's page asks every second; and a stdout nobody
                        # reads must never stop the room): --debug logs them
                        access_log=web_log if debug else None, print=lambda *_a: self.ready())

        def _taken(self) -> int:
            """Seats in use: connected, or kept for a learner who may come back (--grace)."""
            return sum(1 for r in self.room.values() if r["connected"] or r.get("service") is not None)

        async def index(self, request: web.Request) -> web.StreamResponse:
            if not self._authorised(request):
                return web.Response(status=403, text="lab serve: this address needs the URL with its token "
                                                     "(lab serve printed it when it started).\n")
            owner = request.cookies.get("lab_seat", "")
            mine = next((sid for sid, r in self.room.items() if owner and r.get("owner") == owner
                         and not r["connected"] and r.get("service") is not None), None)
            if mine is None and self._taken() >= self.seats:
                return web.Response(status=503, text=f"lab serve: all {self.seats} seats are taken. "
                                                     "Try again when a learner leaves.\n")
            now = time.monotonic()
            self.issued = {k: v for k, v in self.issued.items() if now - v[0] < SEAT_URL_TTL}
            owner = owner or secrets.token_urlsafe(18)
            seat = mine or secrets.token_urlsafe(18)     # a reload within the grace period: the same seat
            self.issued[seat] = (now, request.query.get("name", "")[:40], owner)
            page = await self._terminal_page(request, f"ws/{seat}", "")
            resp = web.Response(text=page, content_type="text/html")
            resp.set_cookie("lab_seat", owner, httponly=True, samesite="Strict")
            return resp

        async def seat(self, request: web.Request) -> web.StreamResponse:
            from textual_serve.app_service import AppService
            from textual_serve.server import to_int

            seat = request.match_info["seat"]
            issued = self.issued.pop(seat, None)
            if issued is None or time.monotonic() - issued[0] > SEAT_URL_TTL:
                return web.Response(status=403, text="lab serve: not a seat of this server (reload the page).\n")
            room = self.room.get(seat)
            back = room is not None and room.get("service") is not None and not room["connected"]
            if not back and self._taken() >= self.seats:
                return web.Response(status=503, text=f"lab serve: all {self.seats} seats are taken.\n")
            websocket = web.WebSocketResponse(heartbeat=15)
            width, height = to_int(request.query.get("width", "80"), 80), to_int(request.query.get("height", "24"), 24)

            async def close() -> None:
                await websocket.close()
            await websocket.prepare(request)
            if back:
                assert room is not None
                service = room["service"]
                room.update(connected=True, input_at=time.monotonic(), warned=False, close=close,
                            send_bytes=websocket.send_bytes, size=(width, height))
                service.remote_write_str = websocket.send_str
                service.remote_close = close
                await service.set_terminal_size(max(1, width - 1), height)   # a new screen: draw it all again
                await service.set_terminal_size(width, height)
            else:
                status = os.path.join(self.status_dir, f"{seat}.json")
                room = self.room[seat] = {"name": issued[1], "owner": issued[2], "connected": True, "path": status,
                                          "status": None, "red_since": None, "step": None, "warned": False,
                                          "input_at": time.monotonic(), "close": close, "service": None,
                                          "send_bytes": websocket.send_bytes, "watchers": set(),
                                          "size": (width, height)}
                limits = f"namespaces={max_namespaces},processes={max_processes}"
                service = AppService(seat_command(scenario, theme, status, limits), write_bytes=self._fan_out(room),
                                     write_str=websocket.send_str, close=close,
                                     download_manager=self.download_manager, debug=self.debug)
                room["service"] = service
                await service.start(width, height)
            try:
                await self._messages(seat, websocket, service)
            except asyncio.CancelledError:
                await websocket.close()
            finally:
                self._read_status(seat)
                room["connected"] = False
                await self._detach(seat, service)
            return websocket

        async def _terminal_page(self, request: web.Request, ws_path: str, up: str, banner: str = "") -> str:
            """textual-serve's page for a terminal whose websocket is ws_path. Behind a proxy that adds a path
            prefix (jupyter-server-proxy: /user/NAME/network-lab/) the browser must find the scripts and the
            websocket relative to the page (`up`: "../" per level below the root), not at this server's URL."""
            context: dict[str, Any] = await self._context(request)
            context["app_websocket_url"] = context["app_websocket_url"].rsplit("/ws", 1)[0] + "/" + ws_path
            page = aiohttp_jinja2.render_string("app_index.html", request, context)
            page = page.replace(context["config"]["static"]["url"], up + "static/")
            return page.replace("</body>", banner + RELATIVE_SEAT % json.dumps(up + ws_path) + "</body>", 1)

        async def _context(self, request: web.Request) -> dict[str, Any]:
            router = request.app.router
            base = self.public_url
            ws = ("wss:" if base.startswith("https") else "ws:") + base.split(":", 1)[1]
            fs = request.query.get("fontsize", "16")
            return {"font_size": int(fs) if fs.isdigit() else 16,
                    "app_websocket_url": ws + "/ws",
                    "config": {"static": {"url": base + str(router["static"].url_for(filename="/")).rstrip("/")
                                          + "/"}},
                    "application": {"name": self.title}}

        async def _detach(self, seat: str, service: Any) -> None:
            """The browser went: keep the seat --grace seconds for a reload (its output goes nowhere
            meanwhile), then stop it; at once when the lab itself has ended or there is no grace."""
            room = self.room[seat]

            async def nowhere(*_a) -> None:
                return None
            ended = service._task is None or service._task.done()
            if grace <= 0 or ended or room.get("idle_closed"):
                room["service"] = None
                await self._end_watching(room)
                await self._stop_seat(service)
                return
            room["send_bytes"] = None       # (the instructor, if watching, still sees the seat)
            service.remote_write_str = nowhere
            service.remote_close = nowhere
            room["detached_at"] = detached = time.monotonic()
            await asyncio.sleep(grace)
            still_away = not room["connected"] and room.get("detached_at") == detached
            if still_away and room.get("service") is not None and room["service"] is service:
                room["service"] = None
                await self._end_watching(room)
                await self._stop_seat(service)

        async def _stop_seat(self, service: Any) -> None:
            """Ask the seat's dashboard to quit; a seat that does not end within seconds (stuck, or starved on a
            busy machine) is killed, so a closed seat never lingers."""
            try:
                await asyncio.wait_for(asyncio.shield(service.stop()), timeout=SEAT_STOP_WAIT)
            except (asyncio.TimeoutError, ConnectionError, RuntimeError):
                proc = getattr(service, "_process", None)
                if proc is not None and proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()

        @staticmethod
        def _fan_out(room: dict):
            """The seat's screen goes to its learner and to whoever of the instructors is watching it."""
            async def write_bytes(data: bytes) -> None:
                send = room.get("send_bytes")
                if send is not None:
                    try:
                        await send(data)
                    except (ConnectionError, RuntimeError):
                        pass
                for w in list(room["watchers"]):
                    try:
                        await w.send_bytes(data)
                    except (ConnectionError, RuntimeError):
                        room["watchers"].discard(w)
            return write_bytes

        @staticmethod
        async def _end_watching(room: dict) -> None:
            for w in list(room["watchers"]):
                await w.close()
            room["watchers"].clear()

        async def _messages(self, seat: str, websocket: web.WebSocketResponse, service: Any) -> None:
            """The browser's messages to the seat (as textual-serve's), noting when the learner last typed."""
            async for message in websocket:
                if message.type != web.WSMsgType.TEXT:
                    continue
                kind, *data = message.json()
                if kind == "stdin":
                    self.room[seat]["input_at"], self.room[seat]["warned"] = time.monotonic(), False
                    await service.send_bytes(data[0].encode("utf-8"))
                elif kind == "resize":
                    self.room[seat]["size"] = (data[0]["width"], data[0]["height"])
                    await service.set_terminal_size(data[0]["width"], data[0]["height"])
                elif kind == "ping":
                    await websocket.send_json(["pong", data[0]])
                elif kind == "blur":
                    await service.blur()
                elif kind == "focus":
                    await service.focus()

        async def _watch_idle(self, app: web.Application) -> None:
            """Close a seat nobody has typed in for --idle-minutes, after a warning on its screen."""
            idle = idle_minutes * 60
            while True:
                await asyncio.sleep(min(5.0, max(0.2, idle / 20)))
                now = time.monotonic()
                for s in self.room.values():
                    if not s["connected"] or s["close"] is None:
                        continue
                    quiet = now - s["input_at"]
                    if quiet >= idle:
                        s["idle_closed"] = True      # freed at once, no grace for a reload
                        await s["close"]()
                    elif quiet >= idle_warning_at(idle) and not s["warned"]:
                        s["warned"] = True
                        left = max(1, round((idle - quiet) / 60))
                        self._notice(s, f"This seat has been idle for {quiet / 60:.0f} min: it closes in about "
                                        f"{left} min (and its lab with it) unless you type something.")

        @staticmethod
        def _notice(s: dict, text: str, kind: str = ".notice") -> None:
            try:
                with open(s["path"] + kind + ".tmp", "w") as f:
                    f.write(text)
                os.replace(s["path"] + kind + ".tmp", s["path"] + kind)
            except OSError:
                pass

        async def _start_idle_watch(self, app: web.Application) -> None:
            if idle_minutes > 0:
                app["idle-watch"] = asyncio.ensure_future(self._watch_idle(app))

        def _read_status(self, seat: str) -> None:
            s = self.room[seat]
            try:
                with open(s["path"]) as f:
                    st = json.load(f)
            except (OSError, ValueError):
                return
            key = (st.get("scenario"), st.get("step"))
            if st.get("green") is False:
                if s["red_since"] is None or s["step"] != key:
                    s["red_since"] = time.monotonic()
            else:
                s["red_since"] = None
            s["step"], s["status"] = key, st

        def _rows(self) -> list[dict]:
            for seat, s in self.room.items():
                if s["connected"]:
                    self._read_status(seat)
            return stuck_rows(self.room, time.monotonic(), stuck_minutes * 60)

        def _instructor_ok(self, request: web.Request) -> bool:
            return hmac.compare_digest(request.query.get("token", ""), self.instructor_token)

        def _room_html(self, token: str) -> str:
            """The room as HTML (the instructor's page shows it and refreshes it every second)."""
            q = html.escape(token)
            trs = []
            for r, sid in zip(self._rows(), self.room):
                state = ("stuck" if r["stuck"] else "finished" if r["finished"] else "green" if r["green"]
                         else "red" if r["green"] is False else "")
                colour = {"stuck": "#ff3030", "red": "#d29922", "green": "#3fb950", "finished": "#58a6ff"}.get(state, "#888")
                red_for = f" ({r['red_minutes']} min)" if state in ("red", "stuck") else ""
                live = self.room[sid].get("service") is not None
                watch = (f"<a href='watch/{html.escape(r['seat'])}?token={q}' target='_blank'>watch</a>" if live
                         else "")
                trs.append(f"<tr><td>{html.escape(r['seat'])}</td><td>{html.escape(r['name'] or '-')}</td>"
                           f"<td>{'yes' if r['connected'] else 'left'}</td><td>{html.escape(r['scenario'])}</td>"
                           f"<td>{r['step']}/{r['steps']} {html.escape(r['step_title'])}</td>"
                           f"<td>{html.escape(str(r['checks']))}</td>"
                           f"<td style='color:{colour};font-weight:bold'>{state or '-'}{red_for}</td>"
                           f"<td>{watch}</td></tr>")
            return (f"<h1>lab serve: {self._taken()}/{self.seats} seats taken</h1>"
                    "<table cellpadding=6><tr><th>seat</th><th>name</th><th>here</th><th>scenario</th>"
                    "<th>step</th><th>checks</th><th>state</th><th></th></tr>" + "".join(trs) + "</table>")

        async def instructor(self, request: web.Request) -> web.StreamResponse:
            """The room at a glance: every seat's name, scenario step and checks, live (refreshed every second
            in place); a seat red on the same step for more than --stuck-minutes is marked stuck; any live seat
            can be watched, read-only."""
            if not self._instructor_ok(request):
                return web.Response(status=403, text="lab serve: the instructor's page needs its own token.\n")
            token = request.query.get("token", "")
            q = html.escape(token)
            # every link is relative to this page, so the page works behind a proxy's path prefix too
            page = ("<!doctype html><meta charset=utf-8><title>lab: the room"
                    "</title><body style='font-family:monospace;background:#0d1117;color:#e6edf3'>"
                    "<style>a{color:#58a6ff}</style>"
                    f"<div id=room>{self._room_html(token)}</div>"
                    f"<p>export: <a href='instructor.csv?token={q}'>CSV</a> · "
                    f"<a href='instructor.json?token={q}'>JSON</a></p>"
                    f"<form method=post action='instructor/push?token={q}'>start on every seat: scenario "
                    "<input name=scenario size=24> step <input name=step size=3> <button>push</button></form>"
                    "<script>const t = new URLSearchParams(location.search).get('token');"
                    "setInterval(async () => { try { const r = await fetch('instructor/room?token=' + "
                    "encodeURIComponent(t)); if (r.ok) document.getElementById('room').innerHTML = await r.text(); }"
                    " catch (e) {} }, 1000)</script></body>")
            return web.Response(text=page, content_type="text/html")

        async def instructor_room(self, request: web.Request) -> web.StreamResponse:
            if not self._instructor_ok(request):
                return web.Response(status=403, text="lab serve: the instructor's page needs its own token.\n")
            return web.Response(text=self._room_html(request.query.get("token", "")), content_type="text/html")

        def _live_seat(self, prefix: str) -> str | None:
            return next((sid for sid, r in self.room.items() if sid.startswith(prefix) and prefix
                         and r.get("service") is not None), None)

        async def watch_page(self, request: web.Request) -> web.StreamResponse:
            """A seat's dashboard for the instructor, read-only: what the learner sees, as they see it (drawn
            at the learner's terminal size); keys typed here go nowhere."""
            if not self._instructor_ok(request):
                return web.Response(status=403, text="lab serve: the instructor's page needs its own token.\n")
            seat = self._live_seat(request.match_info["seat"])
            if seat is None:
                return web.Response(status=404, text="lab serve: no such seat (or it has closed).\n")
            now = time.monotonic()
            self.watch_ids = {k: v for k, v in self.watch_ids.items() if now - v[0] < SEAT_URL_TTL}
            wid = secrets.token_urlsafe(18)
            self.watch_ids[wid] = (now, seat)
            r = self.room[seat]
            who = html.escape(r["name"] or seat[:6])
            banner = ("<div style='position:fixed;top:0;right:0;z-index:100;background:#d29922;color:#000;"
                      f"padding:2px 10px;font:13px monospace'>read-only: {who}'s seat, at its size "
                      f"{r['size'][0]}x{r['size'][1]}</div>")
            page = await self._terminal_page(request, f"ws-watch/{wid}", "../", banner)
            return web.Response(text=page, content_type="text/html")

        async def watch(self, request: web.Request) -> web.StreamResponse:
            issued = self.watch_ids.pop(request.match_info["wid"], None)
            if issued is None or time.monotonic() - issued[0] > SEAT_URL_TTL:
                return web.Response(status=403, text="lab serve: not a watch of this server (reload the page).\n")
            room = self.room.get(issued[1])
            service = room.get("service") if room is not None else None
            if room is None or service is None:
                return web.Response(status=410, text="lab serve: that seat has closed.\n")
            websocket = web.WebSocketResponse(heartbeat=15)
            await websocket.prepare(request)
            room["watchers"].add(websocket)
            width, height = room["size"]
            await service.set_terminal_size(max(1, width - 1), height)   # the whole screen again, for the watcher
            await service.set_terminal_size(width, height)
            try:
                async for message in websocket:      # read-only: keys, resizes and focus go nowhere
                    if message.type == web.WSMsgType.TEXT:
                        kind, *data = message.json()
                        if kind == "ping":
                            await websocket.send_json(["pong", data[0]])
            finally:
                room["watchers"].discard(websocket)
            return websocket

        async def push(self, request: web.Request) -> web.StreamResponse:
            """Start a scenario (at a step) on every connected seat: each seat's dashboard picks it up within
            a second (its LAB_SEAT_STATUS + ".push" file)."""
            if not self._instructor_ok(request):
                return web.Response(status=403, text="lab serve: the instructor's page needs its own token.\n")
            form = await request.post()
            name = str(form.get("scenario", "")).strip()
            step = str(form.get("step", "")).strip()
            from lab.errors import LabError
            from lab.scenario.loader import load

            try:
                load(name)
            except LabError as e:
                return web.Response(status=400, text=f"lab serve: {e}\n")
            if step and not step.isdigit():
                return web.Response(status=400, text=f"lab serve: step {step!r}: a step number (1, 2, ...)\n")
            sent = 0
            for s in self.room.values():
                if s["connected"]:
                    self._notice(s, json.dumps({"scenario": name, "step": int(step) if step else None}), ".push")
                    sent += 1
            raise web.HTTPSeeOther(f"../instructor?token={self.instructor_token}&pushed={sent}")   # (relative)

        async def instructor_data(self, request: web.Request) -> web.StreamResponse:
            if not self._instructor_ok(request):
                return web.Response(status=403, text="lab serve: the instructor's page needs its own token.\n")
            rows = self._rows()
            if request.path.endswith(".json"):
                return web.json_response(rows)
            out = io.StringIO()
            w = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["seat"])
            w.writeheader()
            w.writerows(rows)
            return web.Response(text=out.getvalue(), content_type="text/csv")

        def ready(self) -> None:
            print(f"lab serve: {self.seats} seat{'s' if self.seats != 1 else ''}, each a sandboxed lab of its "
                  f"own ({'scenario ' + scenario if scenario else 'the dashboard'}).", flush=True)
            if self.token:
                print("lab serve: the token is the key to this room: share the URL only with its learners.",
                      flush=True)
            if os.geteuid() == 0:
                print("lab serve: running as root, so the kernel does not hold seats to --seat-processes (root is "
                      "exempt from RLIMIT_NPROC); lab serve needs no root: run it as an ordinary user.", flush=True)
            print("lab serve: Ctrl+C stops it (and every seat).", flush=True)
            print(f"lab serve: the instructor's view: {self.public_url}/instructor?token={self.instructor_token}",
                  flush=True)
            print(f"lab serve: open {self.url}", flush=True)

    return LabServer()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="lab serve", description="Serve the lab to browsers: one sandboxed lab "
                                "per browser session.")
    p.add_argument("--scenario", metavar="NAME|FILE", help="start every seat on this scenario")
    p.add_argument("--host", default="localhost", metavar="ADDR",
                   help="address to listen on (default localhost; any other needs the printed token)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--seats", type=int, default=8, help="at most this many learners at once (default 8)")
    p.add_argument("--theme", default=None)
    p.add_argument("--seat-namespaces", type=int, default=50, metavar="N",
                   help="namespaces a seat's lab may hold (default 50; the kernel keeps the limit)")
    p.add_argument("--seat-processes", type=int, default=256, metavar="N",
                   help="processes a seat may run (default 256; RLIMIT_NPROC, counted per seat by the kernel)")
    p.add_argument("--grace", type=float, default=60.0, metavar="SECONDS",
                   help="a learner who reloads the page within this many seconds gets their own seat back "
                        "(default 60; 0: a closed page frees its seat at once)")
    p.add_argument("--idle-minutes", type=float, default=30.0,
                   help="close a seat nobody typed in for this long, after a warning (default 30; 0: never)")
    p.add_argument("--stuck-minutes", type=float, default=5.0,
                   help="the instructor's page marks a seat stuck when red on one step this long (default 5)")
    p.add_argument("--debug", action="store_true", help="log every request (and textual-serve's debugging)")
    args = p.parse_args(argv)
    from lab.errors import LabError

    if args.seats < 1:
        raise LabError(f"--seats {args.seats}: a room needs at least one seat")
    if not 0 < args.port < 65536:
        raise LabError(f"--port {args.port}: not a TCP port (1-65535)")
    if args.host not in LOCAL:
        try:
            ipaddress.ip_address(args.host)
        except ValueError:
            raise LabError(f'--host {args.host}: give an address of this machine (e.g. 0.0.0.0), not a name') \
                from None
    if args.scenario:
        from lab.scenario.loader import load

        load(args.scenario)     # a wrong name fails here, with its did-you-mean, not in every seat
    try:
        server = make_server(args.host, args.port, args.seats, args.scenario, args.theme,
                             stuck_minutes=args.stuck_minutes, idle_minutes=args.idle_minutes, grace=args.grace,
                             max_namespaces=args.seat_namespaces, max_processes=args.seat_processes)
    except ImportError as e:
        raise LabError(f"lab serve needs textual-serve: {e}", "pip install textual-serve") from None
    try:
        server.serve(debug=args.debug)
    except OSError as e:
        raise LabError(f"lab serve: cannot listen on {args.host}:{args.port}: {e.strerror or e}",
                       "Choose another --port (or stop what holds this one).") from None
    return 0
