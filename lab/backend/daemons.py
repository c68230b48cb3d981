"""Daemons the lab starts inside its namespaces (BIRD): owned, tracked and stopped by the lab.

The sandbox has no PID namespace, so a daemon that forked into the background would outlive the lab and keep
its (deleted) namespace alive. lab runs each one in the foreground as its own child instead, forked by one
long-lived thread of this process: PR_SET_PDEATHSIG (nsutil.die_with_parent) fires when the *thread* that
forked the child ends, so a command-bar worker that exits must not be the parent. The daemon thus gets
SIGKILL when the lab dies, even by kill -9; and the lab stops it properly (SIGTERM, then SIGKILL after a
bounded wait for it to exit) when its namespace is deleted (ip netns del, a scenario's rebuild:
Backend.stop_daemons), when the backend closes, and when the process exits (atexit).

Its control socket, pid file and log live in the lab temp dir ($TMPDIR/lab-UID, lab.confine), named by this
process and the namespace (two labs of one user each have their own r1), and are removed when it stops.
--host journals each daemon (kind "daemon", identity: pid and start time) so `lab clean` stops one a lab
left behind (lab.backend.clean). What a daemon is for, and its command line, are the caller's (lab.backend.bird).
"""
from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import queue
import re
import signal
import socket as _socket
import subprocess
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from lab import confine
from lab.backend import nsutil
from lab.errors import LabError

if TYPE_CHECKING:
    from lab.backend.journal import Journal

STOP_GRACE = 5.0        # seconds a daemon gets to exit after SIGTERM before SIGKILL
READY_TIMEOUT = 10.0    # seconds a starting daemon gets to open its control socket
SUN_PATH_MAX = 107      # a unix socket's path, in bytes (sun_path is 108 with its NUL)


@dataclass
class Daemon:
    prog: str                     # "bird"
    ns: str                       # "" = the top namespace
    proc: subprocess.Popen
    socket: str                   # its control socket
    files: list[str] = field(default_factory=list)   # what lab named for it in the temp dir: removed when it stops
    log: str = ""
    start_time: int = 0           # /proc/PID/stat field 22: with the pid, its identity for lab clean
    entry_id: str = ""            # its --host journal entry
    journal: Journal | None = None   # ... and that journal

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


_lock = threading.RLock()
_running: dict[tuple[str, str], Daemon] = {}      # (prog, ns) -> the daemon lab runs there
_spawner: _Spawner | None = None


class _Spawner:
    """The one thread that forks every daemon (see the module docstring); lives as long as the process."""

    def __init__(self) -> None:
        self.jobs: queue.Queue = queue.Queue()
        threading.Thread(target=self._loop, name="lab-daemons", daemon=True).start()

    def _loop(self) -> None:
        while True:
            fn, fut = self.jobs.get()
            try:
                fut.set_result(fn())
            except BaseException as e:  # noqa: BLE001  (handed back to the caller)
                fut.set_exception(e)

    def call(self, fn: Callable):
        fut: Future = Future()
        self.jobs.put((fn, fut))
        return fut.result()


def _spawn(fn: Callable):
    global _spawner
    with _lock:
        if _spawner is None:
            _spawner = _Spawner()
            atexit.register(stop_all)
    return _spawner.call(fn)


def temp_path(prog: str, ns: str | None, suffix: str) -> str:
    """$TMPDIR/lab-UID/PROG-PID-NS.SUFFIX: this lab process's file for the daemon of `ns` (a long or odd
    namespace name is replaced by a digest, so the control socket's path fits a unix socket)."""
    d = confine.lab_tmp_dir()
    if d is None:
        raise LabError(f"{prog}: the lab temp dir is not usable (it exists but is not this user's)",
                       "Set TMPDIR to a directory of yours.")
    name = ns or "host"
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", name):
        name = hashlib.sha256(name.encode()).hexdigest()[:16]
    path = os.path.join(d, f"{prog}-{os.getpid()}-{name}.{suffix}")
    if len(path.encode()) > SUN_PATH_MAX:
        raise LabError(f"{prog}: the control socket's path {path} is longer than a unix socket allows "
                       f"({SUN_PATH_MAX} bytes)", "Set TMPDIR to a shorter directory (e.g. TMPDIR=/tmp).")
    return path


def sweep(prog: str) -> None:
    """Remove the temp-dir files (PROG-PID-...) of lab processes that are gone (killed with -9: their daemons
    died with them, by PR_SET_PDEATHSIG, but nobody removed the files)."""
    d = confine.lab_tmp_dir()
    if d is None:
        return
    with contextlib.suppress(OSError):
        for name in os.listdir(d):
            m = re.fullmatch(re.escape(prog) + r"-(\d+)-.+\.(ctl|pid|log)", name)
            if m and not os.path.exists(f"/proc/{m.group(1)}"):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(d, name))


def running(prog: str, ns: str | None) -> Daemon | None:
    """The daemon lab runs in `ns`, or None (one that exited by itself, e.g. after `birdc down`, is
    reaped and forgotten here)."""
    with _lock:
        d = _running.get((prog, ns or ""))
        if d is not None and not d.alive:
            _forget(d)
            return None
        return d


def all_running() -> list[Daemon]:
    with _lock:
        return [d for d in list(_running.values()) if running(d.prog, d.ns) is not None]


def start(b, prog: str, ns: str | None, argv: list[str], socket: str, files: list[str], log: str) -> Daemon:
    """Run `argv` (a daemon staying in the foreground) in `ns`, its output to `log`; wait until it answers on
    its control socket `socket`. Raises LabError with the daemon's own last words if it exits first.
    `files`: the temp-dir files lab named for it (removed when it stops). --host: journaled first."""
    b.require_ns(ns)
    sweep(prog)
    for f in files:                       # a stale socket of a pid that was reused: ours by name
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f)

    def fork() -> subprocess.Popen:
        with open(log, "wb") as out, nsutil.in_netns(ns):
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    preexec_fn=nsutil.die_with_parent, start_new_session=True)

    with b.creating(ns, "daemon", prog=prog, files=list(files)) as ent:
        try:
            proc = _spawn(fork)
        except FileNotFoundError:
            raise LabError(f"{argv[0]}: command not found") from None
        d = Daemon(prog, ns or "", proc, socket, list(files), log, _start_time(proc.pid), ent.id, ent.journal)
        with _lock:
            _running[(prog, d.ns)] = d
        ent.confirm(pid=d.pid, start=d.start_time)
    said = _wait_ready(d)
    if said is not None:
        stop(d)
        raise LabError(said)
    return d


def _start_time(pid: int) -> int:
    """A process's start time (clock ticks after boot, /proc/PID/stat field 22): with its pid, who it is."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def _answers(path: str) -> bool:
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def _wait_ready(d: Daemon) -> str | None:
    """Wait (bounded) until the daemon's control socket answers: None, or what went wrong."""
    deadline = time.monotonic() + READY_TIMEOUT
    pause = 0.005
    while time.monotonic() < deadline:
        if d.proc.poll() is not None:
            said = _tail(d.log)
            return said or f"{d.prog} exited with status {d.proc.returncode} as it started"
        if _answers(d.socket):
            return None
        time.sleep(pause)      # the socket appears within milliseconds; each look is a connect()
        pause = min(pause * 2, 0.1)
    return f"{d.prog} did not open its control socket {d.socket} within {READY_TIMEOUT:g} s"


def _tail(path: str, lines: int = 5) -> str:
    try:
        with open(path, errors="replace") as f:
            return "\n".join(f.read()[-4000:].strip().splitlines()[-lines:])
    except OSError:
        return ""


def stop(d: Daemon, grace: float = STOP_GRACE) -> None:
    """SIGTERM, then SIGKILL if it has not exited after `grace` seconds; its files removed, its journal entry
    retired (--host)."""
    if d.proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            d.proc.send_signal(signal.SIGTERM)
        try:
            d.proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                d.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                d.proc.wait(grace)
    _forget(d)


def wait_gone(d: Daemon, grace: float = STOP_GRACE) -> None:
    """After asking the daemon to exit (birdc down): wait (bounded) until it has, and forget it."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        d.proc.wait(grace)
    running(d.prog, d.ns)


def _forget(d: Daemon) -> None:
    with _lock:
        if _running.get((d.prog, d.ns)) is d:
            del _running[(d.prog, d.ns)]
    for f in d.files:
        with contextlib.suppress(OSError):
            os.unlink(f)
    if d.journal is not None and d.entry_id:
        with contextlib.suppress(Exception):
            d.journal.retire(d.entry_id)


def stop_in(ns: str | None) -> list[Daemon]:
    """Stop every daemon lab runs in `ns` (its namespace is going). Returns them."""
    with _lock:
        ds = [d for d in _running.values() if d.ns == (ns or "")]
    for d in ds:
        stop(d)
    return ds


def stop_all() -> None:
    """Stop every daemon this process started (the backend closes, or the process exits)."""
    with _lock:
        ds = list(_running.values())
    for d in ds:
        stop(d)
