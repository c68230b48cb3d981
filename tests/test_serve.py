"""`lab serve`: the dashboard in a browser, a sandboxed lab per seat. The server runs as a real process
inside the test session's sandbox (so its loopback is the sandbox's own); a browser is played by aiohttp:
the page, then the seat's websocket, as textual-serve's JavaScript does."""
from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest

from tests import labproc

aiohttp = pytest.importorskip("aiohttp")


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Served:
    def __init__(self, *args: str, env: dict | None = None):
        self.proc = subprocess.Popen([sys.executable, "-m", "lab", "serve", *args], cwd=labproc.ROOT,
                                     env={**labproc.env(), **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        end = time.monotonic() + 60
        while time.monotonic() < end:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            m = re.search(r"open (http://\S+)", line)
            if m:
                self.url = m.group(1)
                import threading      # keep reading what it prints, so a full pipe can never stop it

                threading.Thread(target=self._drain, daemon=True).start()
                return
        self.stop()
        raise AssertionError("lab serve did not start:\n" + "".join(self.lines))

    def _drain(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def children(self) -> set[int]:
        """Every process below the server (its seats and what they run)."""
        out, todo = set(), [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    kids = {int(x) for x in f.read().split()}
            except OSError:
                kids = set()
            todo += list(kids - out)
            out |= kids
        return out

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


async def _page(session, url: str) -> tuple[int, str]:
    async with session.get(url) as r:
        return r.status, await r.text()


def _ws_url(page: str) -> str:
    return re.search(r'data-session-websocket-url="([^"]+)"', page).group(1)


def test_each_browser_gets_its_own_sandboxed_seat_and_a_full_room_says_so():
    srv = Served("--port", str(_free_port()), "--seats", "1", "--grace", "0")

    async def browse():
        async with aiohttp.ClientSession() as s:
            status, page = await _page(s, srv.url)
            assert status == 200 and "/ws/" in _ws_url(page)
            ws = await s.ws_connect(_ws_url(page) + "?width=120&height=36")
            got = b""
            end = time.monotonic() + 60
            while b"sandbox" not in got and time.monotonic() < end:
                msg = await ws.receive(timeout=max(0.1, end - time.monotonic()))
                if msg.type == aiohttp.WSMsgType.BINARY:
                    got += msg.data
                elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    break
            assert b"sandbox" in got, got[-500:]          # the dashboard's header: a lab of its own
            seats = srv.children()
            assert seats, "the seat runs as a process of its own"
            status, text = await _page(s, srv.url)
            assert status == 503 and "all 1 seats are taken" in text
            status, _ = await _page(s, srv.url.rstrip("/") + "/ws/not-a-seat")
            assert status == 403
            await ws.close()
            end = time.monotonic() + 30
            while srv.children() and time.monotonic() < end:
                await asyncio.sleep(0.1)
            assert not srv.children(), "a seat that disconnects leaves no process (so no namespace) behind"
            status, _ = await _page(s, srv.url)
            assert status == 200, "the freed seat is offered again"
    try:
        asyncio.run(browse())
    finally:
        srv.stop()


def test_any_other_address_needs_the_printed_token():
    port = _free_port("127.0.0.2")
    srv = Served("--host", "127.0.0.2", "--port", str(port))

    async def browse():
        assert "?token=" in srv.url and any("share the URL only" in line for line in srv.lines)
        bare = srv.url.split("?")[0]
        async with aiohttp.ClientSession() as s:
            status, text = await _page(s, bare)
            assert status == 403 and "token" in text
            status, _ = await _page(s, bare + "?token=wrong")
            assert status == 403
            status, page = await _page(s, srv.url)
            assert status == 200 and _ws_url(page).startswith(f"ws://127.0.0.2:{port}/ws/")
            other = _ws_url((await _page(s, srv.url))[1])
            assert other != _ws_url(page), "each page gets a seat URL of its own"
    try:
        asyncio.run(browse())
    finally:
        srv.stop()


@pytest.mark.parametrize("args, says", [
    (["--seats", "0"], "a room needs at least one seat"),
    (["--scenario", "fox-baer"], 'did you mean "03-fox-bear"'),
    (["--host", "example.org"], "give an address of this machine"),
])
def test_serve_refuses_bad_options_clearly(args, says):
    r = subprocess.run([sys.executable, "-m", "lab", "serve", *args], cwd=labproc.ROOT, env=labproc.env(),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and says in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_serve_on_a_port_in_use_says_so():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "lab", "serve", "--host", "127.0.0.1", "--port", str(port)],
                           cwd=labproc.ROOT, env=labproc.env(), capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and f"cannot listen on 127.0.0.1:{port}" in r.stderr and "--port" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_a_killed_server_takes_its_seats_with_it():
    """SIGKILL to `lab serve` (no clean-up of its own runs): every seat process dies with it, so no learner's
    sandbox outlives the room."""
    srv = Served("--port", str(_free_port()))

    async def browse():
        async with aiohttp.ClientSession() as s:
            _, page = await _page(s, srv.url)
            ws = await s.ws_connect(_ws_url(page) + "?width=100&height=30")
            end = time.monotonic() + 60
            got = b""
            while b"sandbox" not in got and time.monotonic() < end:
                msg = await ws.receive(timeout=max(0.1, end - time.monotonic()))
                if msg.type != aiohttp.WSMsgType.BINARY:
                    break
                got += msg.data
            assert b"sandbox" in got
            return srv.children()
    try:
        seats = asyncio.run(browse())
    except BaseException:
        srv.stop()
        raise
    assert seats
    srv.proc.kill()
    srv.proc.wait(timeout=10)
    end = time.monotonic() + 30
    while any(os.path.exists(f"/proc/{pid}") for pid in seats) and time.monotonic() < end:
        time.sleep(0.1)
    assert not [pid for pid in seats if os.path.exists(f"/proc/{pid}")], "a seat outlived its server"


def test_the_instructors_page_shows_each_seats_progress_and_exports_it():
    """The instructor's page (its own token) lists every seat with the learner's name, the scenario step and
    whether its checks are green, live, and exports the room as CSV and JSON."""
    srv = Served("--port", str(_free_port()), "--scenario", "21-fix-ip-forward", "--stuck-minutes", "0")
    teacher = next(re.search(r"(http://\S+/instructor\?token=\S+)", ln).group(1) for ln in srv.lines
                   if "/instructor?token=" in ln)

    async def browse():
        async with aiohttp.ClientSession() as s:
            status, _ = await _page(s, teacher.split("?")[0] + "?token=nope")
            assert status == 403
            status, _ = await _page(s, srv.url.rstrip("/") + "/instructor")
            assert status == 403, "the learners' URL does not open the instructor's page"
            _, page = await _page(s, srv.url + ("&" if "?" in srv.url else "?") + "name=Ada")
            ws = await s.ws_connect(_ws_url(page) + "?width=140&height=40")

            async def pump():
                while True:
                    msg = await ws.receive()
                    if msg.type != aiohttp.WSMsgType.BINARY:
                        return
            reader = asyncio.ensure_future(pump())
            rows: list = []
            end = time.monotonic() + 90
            while time.monotonic() < end:
                _, text = await _page(s, teacher.replace("/instructor?", "/instructor.json?"))
                rows = json.loads(text)
                if rows and rows[0]["step"] == 1 and rows[0]["green"] is False:
                    break
                await asyncio.sleep(0.5)
            assert rows and rows[0]["name"] == "Ada" and rows[0]["connected"], rows
            assert rows[0]["scenario"] and rows[0]["green"] is False and rows[0]["stuck"], rows   # red: the task
            status, html_page = await _page(s, teacher)
            assert status == 200 and "Ada" in html_page and "stuck" in html_page
            _, csv_text = await _page(s, teacher.replace("/instructor?", "/instructor.csv?"))
            assert csv_text.splitlines()[0].startswith("seat,name,connected") and "Ada" in csv_text
            push = teacher.replace("/instructor?", "/instructor/push?")
            async with s.post(push, data={"scenario": "no-such-lab"}) as r:
                assert r.status == 400 and "no-such-lab" in await r.text()
            async with s.post(push, data={"scenario": "01-veth-basics", "step": "2"}) as r:
                assert r.status == 200      # (redirected back to the room)
            end = time.monotonic() + 60
            while time.monotonic() < end:
                _, text = await _page(s, teacher.replace("/instructor?", "/instructor.json?"))
                rows = json.loads(text)
                if rows[0]["step"] == 2 and "veth" in rows[0]["scenario"].lower():
                    break
                await asyncio.sleep(0.5)
            assert rows[0]["step"] == 2 and "veth" in rows[0]["scenario"].lower(), rows
            await ws.close()
            reader.cancel()
    try:
        asyncio.run(browse())
    finally:
        srv.stop()


async def _until(ws, want: bytes, got: bytes = b"", timeout: float = 60) -> bytes:
    """Read a seat's (or a watch's) screen bytes until `want` is among them (or it closes, or time is up)."""
    end = time.monotonic() + timeout
    while want not in got and time.monotonic() < end:
        msg = await ws.receive(timeout=max(0.1, end - time.monotonic()))
        if msg.type != aiohttp.WSMsgType.BINARY:
            break
        got += msg.data
    return got


def test_the_instructor_watches_a_seat_read_only():
    """From the instructor's page, any live seat can be watched: the learner's screen as it is (drawn again in
    full for the watcher) and as it changes; what the watcher types reaches nobody; the learners' token does
    not open it; when the seat closes, so does the watch."""
    srv = Served("--port", str(_free_port()), "--grace", "0")
    teacher = next(re.search(r"(http://\S+/instructor\?token=\S+)", ln).group(1) for ln in srv.lines
                   if "/instructor?token=" in ln)
    base = teacher.split("/instructor?")[0]
    token = teacher.split("token=")[1]

    async def browse():
        async with aiohttp.ClientSession() as s:
            _, page = await _page(s, srv.url + ("&" if "?" in srv.url else "?") + "name=Ada")
            ws = await s.ws_connect(_ws_url(page) + "?width=130&height=38")
            assert b"sandbox" in await _until(ws, b"sandbox")
            await ws.send_json(["stdin", "ip netns add before\r"])
            assert b"before" in await _until(ws, b"before")
            end = time.monotonic() + 30    # the seat: the server's child whose sandbox has "before"
            while not (seat := [p for p in _seat_pids(srv) if os.path.exists(f"/proc/{p}/root/run/netns/before")]):
                assert time.monotonic() < end, _seat_pids(srv)
                await asyncio.sleep(0.1)
            seat_pid = seat[0]
            _, room = await _page(s, f"{base}/instructor/room?token={token}")
            link = re.search(r"href='(watch/[^?']+)\?token=", room)
            assert link and "Ada" in room, room
            status, _ = await _page(s, f"{base}/{link.group(1)}?token=nope")
            assert status == 403
            status, _ = await _page(s, f"{base}/{link.group(1)}" + srv.url[len(base) + 1:])
            assert status == 403, "the learners' URL does not open a watch"
            status, _ = await _page(s, f"{base}/watch/zzzzzz?token={token}")
            assert status == 404
            status, wpage = await _page(s, f"{base}/{link.group(1)}?token={token}")
            assert status == 200 and "read-only: Ada" in wpage and "130x38" in wpage
            wurl = _ws_url(wpage)
            assert "/ws-watch/" in wurl
            watch = await s.ws_connect(wurl + "?width=90&height=20")
            assert b"before" in await _until(watch, b"before"), "the watcher sees the screen as it is"
            await watch.send_json(["stdin", "ip netns add intruder\r"])
            await watch.send_json(["resize", {"width": 40, "height": 10}])
            await ws.send_json(["stdin", "ip netns add later\r"])
            assert b"later" in await _until(watch, b"later"), "and as it changes"
            end = time.monotonic() + 30
            while not os.path.exists(f"/proc/{seat_pid}/root/run/netns/later") and time.monotonic() < end:
                await asyncio.sleep(0.1)
            netns = set(os.listdir(f"/proc/{seat_pid}/root/run/netns"))
            assert {"before", "later"} <= netns and "intruder" not in netns, netns
            status, _ = await _page(s, f"{base}/ws-watch/{wurl.rsplit('/', 1)[1]}")
            assert status == 403, "a watch URL is good for one websocket"
            await ws.close()
            await _until(watch, b"\0never\0", timeout=30)          # (the rest of the seat's screen, then)
            assert watch.closed, "the watch ends with the seat"
            status, _ = await _page(s, f"{base}/{link.group(1)}?token={token}")
            assert status == 404, "a closed seat cannot be watched"
    try:
        asyncio.run(browse())
    finally:
        srv.stop()


def _netns_inodes() -> set[int]:
    """Every network namespace a process in this sandbox is in."""
    out = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                out.add(os.stat(f"/proc/{pid}/ns/net").st_ino)
            except OSError:
                pass
    return out


def test_thirty_seats_opened_and_closed_leave_nothing_behind(tmp_path):
    """30 seats, five at a time, each opened until its dashboard is drawn and then closed: afterwards no
    process below the server, no network namespace a process holds, no file but the seats' last progress, no
    open file of the server's that was not open before, and the room counts no seat as taken; once the server
    stops, its files are gone too."""
    srv = Served("--port", str(_free_port()), "--seats", "5", "--grace", "0", env={"TMPDIR": str(tmp_path)})
    teacher = next(re.search(r"(http://\S+/instructor\?token=\S+)", ln).group(1) for ln in srv.lines
                   if "/instructor?token=" in ln)

    def fds() -> int:
        return len(os.listdir(f"/proc/{srv.proc.pid}/fd"))

    async def one(s) -> None:
        _, page = await _page(s, srv.url)
        ws = await s.ws_connect(_ws_url(page) + "?width=100&height=30")
        assert b"sandbox" in await _until(ws, b"sandbox", timeout=120), "the seat's dashboard was drawn"
        await ws.close()

    async def browse():
        async with aiohttp.ClientSession() as s:
            await _page(s, teacher)                       # (the server's own first-use allocations)
            inodes, files = _netns_inodes(), fds()
            (status_dir,) = list(tmp_path.iterdir())
            for _ in range(6):
                await asyncio.gather(*(one(s) for _ in range(5)))
            end = time.monotonic() + 60
            while (srv.children() or _netns_inodes() - inodes) and time.monotonic() < end:
                await asyncio.sleep(0.2)
            assert not srv.children(), "no seat process left"
            assert not _netns_inodes() - inodes, "no network namespace left"
            _, text = await _page(s, teacher.replace("/instructor?", "/instructor.json?"))
            rows = json.loads(text)
            assert len(rows) == 30 and not any(r["connected"] for r in rows), rows
            _, room = await _page(s, teacher.replace("/instructor?", "/instructor/room?"))
            assert "0/5 seats taken" in room and "watch/" not in room
            assert not [f for f in os.listdir(status_dir) if not f.endswith(".json")], \
                "no notice, push or temporary file left"
            assert fds() <= files, f"the server holds {fds()} files, {files} before the seats"
    try:
        asyncio.run(browse())
    finally:
        srv.stop()
    assert not list(tmp_path.iterdir()), "the server's files went with it"


def test_jupyter_server_proxy_launches_a_seat_behind_its_prefix(tmp_path):
    """A real jupyter-server with jupyter-server-proxy (what JupyterHub runs per user): the "Network lab"
    entry starts `lab serve` and proxies it under /network-lab/; the page and its seat's websocket work
    behind that prefix, with jupyter's login (its token, then its cookie) in front."""
    pytest.importorskip("jupyter_server_proxy")
    port, token = _free_port(), "t0k3n-for-this-test"
    argv = [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}", "--ServerApp.open_browser=False"]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    env = labproc.env(JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"), JUPYTER_DATA_DIR=str(tmp_path / "data"),
                      JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"

    async def browse():
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            end = time.monotonic() + 90
            status, page = 0, ""
            while time.monotonic() < end:
                try:
                    status, page = await _page(s, f"{base}/network-lab/?token={token}")
                except aiohttp.ClientError:
                    status = 0
                if status == 200 and "data-session-websocket-url" in page:
                    break
                await asyncio.sleep(0.5)
            assert status == 200 and "data-session-websocket-url" in page, (status, page[-500:])
            assert 'src="static/js/textual.js"' in page, "the page's scripts are found relative to it"
            seat = re.search(r'new URL\("(ws/[^"]+)"', page).group(1)
            ws = await s.ws_connect(f"ws://127.0.0.1:{port}/network-lab/{seat}?width=120&height=36")
            got = b""
            end = time.monotonic() + 90
            while b"sandbox" not in got and time.monotonic() < end:
                msg = await ws.receive(timeout=max(0.1, end - time.monotonic()))
                if msg.type != aiohttp.WSMsgType.BINARY:
                    break
                got += msg.data
            assert b"sandbox" in got, got[-300:]
            await ws.close()
            status, _ = await _page(s, f"{base}/network-lab/static/js/textual.js")
            assert status == 200
        async with aiohttp.ClientSession() as anon:   # no token, no cookie: jupyter's login page, not the lab
            status, text = await _page(anon, f"{base}/network-lab/")
            assert "data-session-websocket-url" not in text and (status in (401, 403) or "login" in text.lower())
    try:
        asyncio.run(browse())
    except AssertionError as e:     # say why: jupyter's own log (an entry point it could not load, a timeout...)
        proc.terminate()
        log = proc.communicate(timeout=30)[0]
        raise AssertionError(f"{e}\n--- jupyter-server's log:\n{log[-4000:]}") from None
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_an_idle_seat_is_warned_then_closed_and_freed():
    """--idle-minutes: a seat nobody types in gets a warning on its screen, then is closed; its process goes."""
    srv = Served("--port", str(_free_port()), "--idle-minutes", "0.15")   # 9 s; warned half-way

    async def browse():
        async with aiohttp.ClientSession() as s:
            _, page = await _page(s, srv.url)
            ws = await s.ws_connect(_ws_url(page) + "?width=120&height=36")
            got, closed = b"", False
            end = time.monotonic() + 90
            while time.monotonic() < end:
                msg = await ws.receive(timeout=max(0.1, end - time.monotonic()))
                if msg.type != aiohttp.WSMsgType.BINARY:
                    closed = True
                    break
                got += msg.data
            assert b"idle" in got and b"closes" in got, "the warning was on the seat's screen"
            assert closed, "the idle seat was closed"
            end = time.monotonic() + 30
            while srv.children() and time.monotonic() < end:
                await asyncio.sleep(0.1)
            assert not srv.children()
    try:
        asyncio.run(browse())
    finally:
        srv.stop()


def test_a_reload_within_the_grace_period_gets_the_same_seat_back():
    """The learner reloads the page (same browser, its lab_seat cookie): the same seat, with the lab they built,
    not a new empty one; another browser gets a seat of its own."""
    srv = Served("--port", str(_free_port()), "--grace", "60")

    async def browse():
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            _, page = await _page(s, srv.url)
            first = _ws_url(page)
            ws = await s.ws_connect(first + "?width=120&height=36")
            assert b"sandbox" in await _until(ws, b"sandbox")
            await ws.send_json(["stdin", "ip netns add keepme\r"])
            assert b"keepme" in await _until(ws, b"keepme")
            seats = srv.children()
            await ws.close()
            _, page = await _page(s, srv.url)                 # the reload
            assert _ws_url(page) == first, "the same seat"
            ws = await s.ws_connect(_ws_url(page) + "?width=120&height=36")
            assert b"keepme" in await _until(ws, b"keepme"), "the lab they built is still there"
            assert srv.children() == seats, "no new process"
            async with aiohttp.ClientSession() as other:
                _, page2 = await _page(other, srv.url)
                assert _ws_url(page2) != first
            await ws.close()
    try:
        asyncio.run(browse())
    finally:
        srv.stop()


def test_a_seats_limits_are_kept_by_the_kernel(tmp_path):
    """LAB_SEAT_LIMITS (what lab serve gives each seat): its lab may hold N namespaces (user.max_net_namespaces
    of its own user namespace) and run M processes (RLIMIT_NPROC, counted per user namespace; root is exempt,
    so that part runs as nobody), each refused with a clear message."""
    script = tmp_path / "many.lab"
    script.write_text("ip netns add s1\nip netns add s2\nip netns add s3\n")
    r = subprocess.run([sys.executable, "-m", "lab", "run", str(script)], cwd=labproc.ROOT, capture_output=True,
                       text=True, timeout=120, env=labproc.env(LAB_SEAT_LIMITS="namespaces=2"))
    assert r.returncode == 1 and ':3: Failed to create a new network namespace "s3": No space left on device' \
        in r.stderr and "at most 2 namespaces" in r.stderr, r.stderr
    forks = ('ip netns add p1\nip netns exec p1 sh -c "i=0; while [ $i -lt 60 ]; do sleep 2 & '
             'i=$((i+1)); done; wait; echo all-started"\n')
    nobody = labproc.unprivileged_argv()
    if nobody is None:
        pytest.skip("the checkout is not readable by nobody here")
    argv, env = nobody
    for limits, started in (("processes=40", False), ("", True)):
        r = subprocess.run(argv + ["run", "-"], input=forks, cwd=labproc.ROOT, capture_output=True, text=True,
                           timeout=120, env=dict(env, LAB_SEAT_LIMITS=limits))
        assert ("all-started" in r.stdout.splitlines()) == started, (limits, r.stdout[-300:], r.stderr[-300:])
        if not started:
            assert "Cannot fork" in r.stderr or "Resource temporarily unavailable" in r.stderr, r.stderr


def test_the_kubernetes_manifest_is_valid_and_unprivileged():
    """docs/k8s/lab-serve.yaml passes the Kubernetes API schema (kubernetes-validate, strict: no unknown
    field) and asks for no privilege: not root, no capabilities, no escalation; only the seccomp/AppArmor
    settings user namespaces need, and lab serve listening for the room."""
    kv = pytest.importorskip("kubernetes_validate")
    import yaml

    docs = [d for d in yaml.safe_load_all(open(os.path.join(labproc.ROOT, "docs", "k8s", "lab-serve.yaml"))) if d]
    for d in docs:
        kv.validate(d, "1.33.0", strict=True)
    dep = next(d for d in docs if d["kind"] == "Deployment")
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "Unconfined"
    assert c["securityContext"]["allowPrivilegeEscalation"] is False and c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert "privileged" not in c["securityContext"] and "add" not in c["securityContext"]["capabilities"]
    assert c["args"][:3] == ["serve", "--host", "0.0.0.0"]
    from lab.cli import build_parser

    args, extra = build_parser().parse_known_args(c["args"])
    assert args.cmd == "serve"
    from lab.serve import main as serve_main

    with pytest.raises(SystemExit) as e:     # the same options lab serve takes (--help stops before serving)
        serve_main(c["args"][1:] + ["--help"])
    assert e.value.code == 0
    assert any(d["kind"] == "Service" for d in docs)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _seat_pids(srv: Served) -> list[int]:
    with open(f"/proc/{srv.proc.pid}/task/{srv.proc.pid}/children") as f:
        return [int(x) for x in f.read().split()]


def test_a_real_browser_two_learners_and_their_instructor():
    """Headless Chromium (Playwright, the machine's chromium) opens two seats of an exercise: what one learner
    types changes only their own lab (the other seat's kernel has no such namespace), and the instructor's page
    shows both, the first turning green once that learner has fixed the exercise in the browser; from there the
    instructor opens that learner's seat, read-only."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("no chromium here (./setup.sh test installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    srv = Served("--port", str(_free_port()), "--scenario", "21-fix-ip-forward", "--seats", "2")
    teacher = next(re.search(r"(http://\S+/instructor\?token=\S+)", ln).group(1) for ln in srv.lines
                   if "/instructor?token=" in ln)

    def room() -> list[dict]:
        import urllib.request

        with urllib.request.urlopen(teacher.replace("/instructor?", "/instructor.json?"), timeout=10) as r:
            return json.loads(r.read())

    def wait(cond, what: str, timeout: float = 90) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}")

    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pages = []
            for name in ("ann", "bob"):
                page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
                page.goto(srv.url + ("&" if "?" in srv.url else "?") + f"name={name}")
                page.wait_for_selector("body.-first-byte", timeout=90_000)   # the seat's first screen
                pages.append(page)
            wait(lambda: len(room()) == 2 and all(r["step"] == 1 and r["green"] is False for r in room()),
                 "both seats on the exercise, red")
            ann_pid = _seat_pids(srv)[0]
            bob_pid = _seat_pids(srv)[1]
            pages[0].mouse.click(300, 900 - 28)        # the command bar: the row above the footer
            pages[0].keyboard.type("ip netns add red\n", delay=20)
            wait(lambda: os.path.exists(f"/proc/{ann_pid}/root/run/netns/red"), "red in ann's lab")
            assert not os.path.exists(f"/proc/{bob_pid}/root/run/netns/red"), "bob's lab does not have red"
            pages[0].keyboard.type("ip netns exec router sysctl -w net.ipv4.ip_forward=1\n", delay=20)
            wait(lambda: {r["name"]: r["green"] for r in room()} == {"ann": True, "bob": False},
                 "ann's check green on the instructor's page, bob's still red")
            teacher_page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            teacher_page.goto(teacher)
            html_text = teacher_page.content()
            assert "ann" in html_text and "bob" in html_text and "green" in html_text
            teacher_page.wait_for_selector("a[href^='watch/']", timeout=30_000)   # (the room, refreshed live)
            with teacher_page.context.expect_page() as opened:        # (a tab of its own)
                teacher_page.locator("tr", has_text="ann").locator("a", has_text="watch").click()
            watch = opened.value
            watch.wait_for_selector("body.-first-byte", timeout=90_000)   # ann's screen, read-only
            assert "read-only: ann" in watch.content()
            browser.close()
    finally:
        srv.stop()


def test_a_real_browser_is_refused_without_the_token_off_localhost():
    if not os.path.exists(CHROMIUM):
        pytest.skip("no chromium here (./setup.sh test installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    port = _free_port("127.0.0.2")
    srv = Served("--host", "127.0.0.2", "--port", str(port))
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            r = page.goto(srv.url.split("?")[0])
            assert r is not None and r.status == 403 and "token" in page.content()
            r = page.goto(srv.url)
            assert r is not None and r.status == 200
            page.wait_for_selector("body.-first-byte", timeout=90_000)
            browser.close()
    finally:
        srv.stop()


def test_a_server_whose_output_nobody_reads_keeps_serving():
    """lab serve logs no line per request (the instructor's page asks every second): started with its output
    going to a pipe nobody reads, it still answers a thousand requests (a logged request a time filled the
    pipe after a few hundred and stopped the whole room)."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "lab", "serve", "--port", str(port)], cwd=labproc.ROOT,
                            env=labproc.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert proc.stdout is not None
        head = b""
        while b"/instructor?token=" not in head:
            line = proc.stdout.readline()
            assert line, "lab serve did not start: " + head.decode()
            head += line
        teacher = re.search(rb"(http://\S+/instructor\?token=\S+)", head).group(1).decode()

        async def ask():
            async with aiohttp.ClientSession() as s:
                for _ in range(1000):
                    async with s.get(teacher.replace("/instructor?", "/instructor.json?"),
                                     timeout=aiohttp.ClientTimeout(total=30)) as r:
                        assert r.status == 200
        asyncio.run(ask())
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
