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
import hmac
import ipaddress
import os
import secrets
import shlex
import sys
import time
from typing import Any

LOCAL = {"localhost", "127.0.0.1", "::1"}
SEAT_URL_TTL = 60.0     # seconds a page's seat URL stays good for its websocket


def needs_token(host: str) -> bool:
    return host not in LOCAL


def seat_command(scenario: str | None, theme: str | None) -> str:
    """The shell line textual-serve runs for a seat: lab replaces the shell (exec), and LAB_SEAT_PARENT
    makes it die with this server however the server ends (SIGKILL included: lab.cli.main)."""
    argv = [sys.executable, "-m", "lab"] + (["--theme", theme] if theme else [])
    argv += ["play", scenario] if scenario else ["tui"]
    return f"LAB_SEAT_PARENT={os.getpid()} exec {shlex.join(argv)}"


def make_server(host: str = "localhost", port: int = 8000, seats: int = 8, scenario: str | None = None,
                theme: str | None = None, token: str | None = None):
    """The textual-serve Server for `lab serve`, with the token, the seat URLs and the seat limit."""
    import aiohttp_jinja2
    import jinja2
    from aiohttp import web
    from textual_serve.server import Server

    class LabServer(Server):
        def __init__(self) -> None:
            super().__init__(seat_command(scenario, theme), host=host, port=port, title="lab")
            self.token = token if token is not None else (secrets.token_urlsafe(24) if needs_token(host) else "")
            self.seats = seats
            self.active = 0
            self.issued: dict[str, float] = {}     # seat id -> when its page was served

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
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", self.statics_path, name="static"),
            ])
            return app

        def serve(self, debug: bool = False) -> None:
            """Run until Ctrl+C (or SIGTERM); says where to point the browsers once it is listening."""
            import asyncio
            import signal

            self.debug = debug
            self.initialize_logging()
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.request_exit)
            web.run_app(self._make_app(), host=self.host, port=self.port, handle_signals=False, loop=loop,
                        print=lambda *_a: self.ready())

        async def index(self, request: web.Request) -> web.StreamResponse:
            if not self._authorised(request):
                return web.Response(status=403, text="lab serve: this address needs the URL with its token "
                                                     "(lab serve printed it when it started).\n")
            if self.active >= self.seats:
                return web.Response(status=503, text=f"lab serve: all {self.seats} seats are taken. "
                                                     "Try again when a learner leaves.\n")
            now = time.monotonic()
            self.issued = {k: t for k, t in self.issued.items() if now - t < SEAT_URL_TTL}
            seat = secrets.token_urlsafe(18)
            self.issued[seat] = now
            context: dict[str, Any] = await self._context(request)
            context["app_websocket_url"] = context["app_websocket_url"].rsplit("/ws", 1)[0] + f"/ws/{seat}"
            return aiohttp_jinja2.render_template("app_index.html", request, context)

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

        async def seat(self, request: web.Request) -> web.StreamResponse:
            seat = request.match_info["seat"]
            issued = self.issued.pop(seat, None)
            if issued is None or time.monotonic() - issued > SEAT_URL_TTL:
                return web.Response(status=403, text="lab serve: not a seat of this server (reload the page).\n")
            if self.active >= self.seats:
                return web.Response(status=503, text=f"lab serve: all {self.seats} seats are taken.\n")
            self.active += 1
            try:
                return await self.handle_websocket(request)
            finally:
                self.active -= 1

        def ready(self) -> None:
            print(f"lab serve: {self.seats} seat{'s' if self.seats != 1 else ''}, each a sandboxed lab of its "
                  f"own ({'scenario ' + scenario if scenario else 'the dashboard'}).", flush=True)
            if self.token:
                print("lab serve: the token is the key to this room: share the URL only with its learners.",
                      flush=True)
            print("lab serve: Ctrl+C stops it (and every seat).", flush=True)
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
        server = make_server(args.host, args.port, args.seats, args.scenario, args.theme)
    except ImportError as e:
        raise LabError(f"lab serve needs textual-serve: {e}", "pip install textual-serve") from None
    server.serve()
    return 0
