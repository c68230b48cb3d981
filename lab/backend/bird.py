"""Apply `bird` and `birdc`: the BIRD 2 routing daemon in a namespace, owned by the lab.

`NS bird -c FILE` checks the config (bird -p: bird's own message for a mistake, nothing started), then
starts bird in the foreground as lab's child (lab.backend.daemons: control socket, pid file and log in the lab
temp dir; stopped with its namespace, a scenario's rebuild and lab itself). `NS birdc CMD...` talks to that
daemon: lab adds `-s SOCKET` when none was given, so `r1 birdc show protocols` finds r1's bird.

A scenario's bird config is data like the scenario: it may include files only from the scenario's directory
or the lab temp dir, and may not make bird write files (`log "FILE"`, `mrtdump "FILE"`); bird's config
cannot run programs, so a scenario may start bird without --allow-exec. Leaves parsing to lab.commands.bird.
"""
from __future__ import annotations

import glob
import os
import re
import shutil

from lab import confine
from lab.backend import daemons
from lab.backend.core import applies
from lab.commands import bird as c
from lab.errors import LabError

SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")   # where Debian puts bird, often not on a user's PATH
MAX_CONFIG = 1 << 20


def find(prog: str) -> str:
    """The path of bird or birdc, or LabError naming the Debian package."""
    path = shutil.which(prog) or next((p for p in (os.path.join(d, prog) for d in SBIN) if os.access(p, os.X_OK)),
                                      None)
    if path is None:
        raise LabError(f"{prog}: command not found: the BIRD routing daemon is not installed "
                       f"(Debian: apt-get install {c.PACKAGE})")
    return path


def _where(ns: str | None) -> tuple[str, str]:
    """('namespace "r1"', 'r1 ') or ('the top namespace', '')."""
    return (f'namespace "{ns}"', f"{ns} ") if ns else ("the top namespace", "")


@applies(c.BirdOp)
def bird(b, op: c.BirdOp) -> str:
    exe = find("bird")
    b.require_ns(op.ns)
    if op.version:
        return _output(b.run_cmd(op.ns, [exe, "--version"]))
    config = op.config or c.DEFAULT_CONFIG
    if confine.current() is not None:
        check_config(config, "bird")
    r = b.run_cmd(op.ns, [exe, "-p", "-c", config])
    if r.returncode != 0:
        raise LabError(_output(r) or f"bird: the config {config} does not parse (bird -p exited with {r.returncode})")
    if op.parse_only:
        return _output(r)
    where, pre = _where(op.ns)
    d = daemons.running("bird", op.ns)
    if d is not None:
        raise LabError(f"bird: already running in {where} (pid {d.pid}, control socket {d.socket})",
                       f"Re-read its config: {pre}birdc configure; stop it: {pre}birdc down")
    sock = op.socket or daemons.temp_path("bird", op.ns, "ctl")
    pidfile = op.pidfile or daemons.temp_path("bird", op.ns, "pid")
    log = daemons.temp_path("bird", op.ns, "log")
    argv = [exe, "-f", "-c", config, "-s", sock, "-P", pidfile]
    for flag, val in (("-D", op.debug_file), ("-u", op.user), ("-g", op.group), ("-B", op.block)):
        if val:
            argv += [flag, val]
    argv += (["-d"] if op.debug else []) + (["-R"] if op.recovery else [])
    files = [log] + ([sock] if not op.socket else []) + ([pidfile] if not op.pidfile else [])
    daemons.start(b, "bird", op.ns, argv, sock, files, log)
    return ""


@applies(c.BirdcOp)
def birdc(b, op: c.BirdcOp) -> str:
    exe = find("birdc")
    b.require_ns(op.ns)
    d = daemons.running("bird", op.ns)
    sock = op.socket or (d.socket if d is not None else None)
    command = list(op.command)
    if confine.current() is not None and "configure".startswith(command[0]) and len(command[0]) >= 1:
        # `configure "FILE"`: bird reads another config: held to the scenario's files like bird -c
        for i, w in enumerate(command):
            if w.startswith('"') and w.endswith('"') and len(w) > 1:
                real = confine.resolve_path(w[1:-1], "birdc configure")
                check_config(real, "birdc configure")
                command[i] = f'"{real}"'
    argv = [exe] + (["-s", sock] if sock else []) + (["-v"] if op.verbose else []) + \
        (["-r"] if op.restricted else []) + command
    r = b.run_cmd(op.ns, argv)
    out = _output(r)
    if r.returncode != 0 or out.startswith("Unable to connect"):
        where, pre = _where(op.ns)
        hint = None if sock else f"lab runs no bird in {where}: start one with {pre}bird -c FILE"
        raise LabError(out or f"birdc exited with status {r.returncode}", hint)
    if d is not None and not op.socket and "down".startswith(command[0]):
        daemons.wait_gone(d)         # so `bird -c ...` right after finds the namespace free
    return out


def _output(r) -> str:
    return ((r.stdout or "") + (r.stderr or "")).rstrip("\n")


# ---- a scenario's bird config: data, like the scenario ---------------------------------------------
_FILE_WORDS = re.compile(r'\b(include|log|mrtdump)\s+"([^"]*)"')


def check_config(path: str, what: str, depth: int = 0) -> None:
    """Refuse a config (from a scenario) that includes files outside the scenario's roots or makes bird write
    files. `path` is already confined (lab.confine.resolve_path)."""
    o = confine.current()
    if o is None or depth > 8:
        return
    try:
        with open(path, "rb") as f:
            text = f.read(MAX_CONFIG + 1)
    except OSError as e:
        raise LabError(f'{what}: cannot read "{path}": {e.strerror}') from None
    if len(text) > MAX_CONFIG:
        raise LabError(f'{what}: "{path}" is over {MAX_CONFIG >> 20} MB: not a bird config')
    src = re.sub(r"/\*.*?\*/", " ", text.decode(errors="replace"), flags=re.S)
    src = "\n".join(line.split("#", 1)[0] for line in src.splitlines())
    for m in _FILE_WORDS.finditer(src):
        kw, name = m.group(1), m.group(2)
        if kw != "include":
            raise LabError(f'{what}: {os.path.basename(path)} makes bird write the file "{name}" ({kw} "..."): a '
                           "scenario's bird config may not write files",
                           "Use log stderr all; (lab keeps bird's output) or log syslog all;")
        pattern = os.path.join(os.path.dirname(path), name)
        for real in {os.path.realpath(p) for p in glob.glob(pattern)} or {os.path.realpath(pattern)}:
            if not o.contains(real):
                raise confine.refusal(name, f"{what}: include in {os.path.basename(path)}", o)
            check_config(real, what, depth + 1)
