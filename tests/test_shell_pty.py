"""`lab shell` in a real pseudo-terminal: Tab completion of live names (devices, namespaces) works inside
prompt_toolkit's running event loop, with no warning or traceback on the screen, and Ctrl-D exits 0.

The test plays the terminal: it answers prompt_toolkit's cursor-position requests, and it waits for the
shell's own output (with a deadline) before each next step, never for a fixed time."""
from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time

from tests import labproc

DEADLINE = 60.0      # seconds for any one expected output (a loaded CI machine, a cold start)
ANSI = re.compile(rb"\x1b\[[0-9;?<=>]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


class Terminal:
    """A pty with `lab shell` on its other side; `screen` is everything it printed, escapes removed."""

    def __init__(self, argv: list[str], env: dict, rows: int = 40, cols: int = 160):
        self.fd, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        try:
            self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=labproc.ROOT,
                                         env=env, start_new_session=True)
        finally:
            os.close(slave)
        self.raw = b""
        self.eof = False

    @property
    def screen(self) -> str:
        return ANSI.sub(b"", self.raw).decode(errors="replace")

    def _pump(self, timeout: float) -> None:
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return
        try:
            data = os.read(self.fd, 65536)
        except OSError:   # EIO: the shell closed its side
            data = b""
        if not data:
            self.eof = True
            return
        self.raw += data
        for _ in range(data.count(b"\x1b[6n")):   # a cursor-position request: answer as a terminal does
            os.write(self.fd, b"\x1b[1;1R")

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def wait_for(self, cond, what: str, since: int = 0) -> int:
        """Pump output until cond(screen[since:]) holds; the screen's length then. Fails at the deadline."""
        end = time.monotonic() + DEADLINE
        while not cond(self.screen[since:]):
            if self.eof or time.monotonic() > end:
                raise AssertionError(f"no {what} on the screen within {DEADLINE}s "
                                     f"(exited: {self.proc.poll()}); it shows:\n{self.screen[since:][-3000:]}")
            self._pump(0.2)
        return len(self.screen)

    def wait_text(self, text: str, since: int = 0) -> int:
        return self.wait_for(lambda s: text in s, repr(text), since)

    def wait_ready(self) -> None:
        """Until the shell reads key by key (prompt_toolkit's raw mode: the terminal's ICANON is off, as the
        pty's master sees it). Between prompts the tty is in canonical mode, whose line discipline would
        eat a control key typed ahead (Ctrl-D as end-of-file), as it would a person's on a real terminal."""
        end = time.monotonic() + DEADLINE
        while termios.tcgetattr(self.fd)[3] & termios.ICANON:
            if self.eof or time.monotonic() > end:
                raise AssertionError(f"the shell never waited for keys (exited: {self.proc.poll()}); "
                                     f"it shows:\n{self.screen[-3000:]}")
            self._pump(0.05)

    def wait_exit(self) -> int:
        end = time.monotonic() + DEADLINE
        while not self.eof and self.proc.poll() is None and time.monotonic() < end:
            self._pump(0.2)    # keep draining, so the shell never blocks on a full pty
        return self.proc.wait(timeout=max(0.1, end - time.monotonic()))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        os.close(self.fd)


def _words(*words: str):
    return lambda s: all(re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", s) for w in words)


def test_shell_tab_completes_live_names_in_a_terminal(tmp_path, fresh_top):
    term = Terminal(labproc.lab_argv() + ["shell"],
                    labproc.env(LAB_HISTORY=str(tmp_path / "history"), TERM="xterm-256color"))
    n = 0

    def sync() -> int:
        """Run a line whose error text is unique; the screen's length once it shows (past every redraw
        of earlier lines, so what comes later is the new prompt and what we type into it); then wait
        for that prompt to read keys."""
        nonlocal n
        n += 1
        term.type(f"ip link set sync-{n} up\r")
        mark = term.wait_text(f'Cannot find device "sync-{n}"')
        term.wait_ready()   # the next prompt: its own, printed after the error
        return mark

    try:
        term.wait_text("lab[sandbox]>")
        term.wait_ready()
        term.type("ip netns add red\r")    # lines typed ahead are read by the next prompt, as in a terminal
        term.type("ip -n red link add v0 type veth peer name v1\r")
        mark = sync()

        term.type("ip -n red link set dev ")
        term.wait_text("set dev", since=mark)
        term.type("\t")
        term.wait_for(_words("v0", "v1"), "v0 and v1 offered after `ip -n red link set dev `", since=mark)

        term.type("\x03")      # Ctrl-C: abandon the line
        mark = sync()
        term.type("ip -n ")
        term.wait_text("ip -n", since=mark)
        term.type("\t")
        term.wait_for(_words("red"), "red offered after `ip -n `", since=mark)

        term.type("\x03")
        sync()
        term.type("\x04")      # Ctrl-D on an empty line: the shell ends
        assert term.wait_exit() == 0
        screen = term.screen
        assert "RuntimeWarning" not in screen and "never awaited" not in screen, screen
        assert "Traceback" not in screen, screen
    finally:
        term.close()


def test_the_dashboard_opens_over_a_large_lab_read_by_a_forked_child(tmp_path, fresh_top):
    """`lab tui --setup FILE` over a lab past Watcher.PREFETCH_MIN: the first read is done by a child forked
    before the UI loads (lab.backend.watch.prefetch_watcher); the dashboard shows every namespace, then
    a change made after it opened (a namespace added from the command bar), and quits with status 0."""
    from lab.backend.watch import Watcher

    n = Watcher.PREFETCH_MIN + 5
    lines = ["ip link add br0 type bridge", "ip link set br0 up"]
    for i in range(n):
        lines += [f"ip netns add big{i}", f"ip link add v{i} type veth peer name eth0 netns big{i}",
                  f"ip link set v{i} master br0"]
    f = tmp_path / "big.lab"
    f.write_text("\n".join(lines) + "\n")
    t = Terminal(labproc.lab_argv() + ["tui", "--setup", str(f)], labproc.env(LAB_HISTORY=str(tmp_path / "h")))
    try:
        seen = t.wait_text(f"{n + 1} namespaces")
        t.type("\x0c")                        # ctrl+l: the command bar
        t.type("ip netns add late\r")
        t.wait_text(f"{n + 2} namespaces", since=seen)
        t.type("\x11")                        # ctrl+q
        assert t.wait_exit() == 0
        assert "Traceback" not in t.screen
    finally:
        t.close()
