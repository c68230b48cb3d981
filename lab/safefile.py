"""Bounded reads of the files lab is told to read: lab scripts (`lab run`, `--setup`, `export --from`),
scenario files and `iptables-restore FILE`. A file named by the user or by a scenario may be anything:
/dev/zero (endless), a FIFO (blocks forever), 10 GB of log, Latin-1 text. Every reader here either
returns the text or raises a LabError that names the file and the limit or the byte at fault, in
bounded time and memory.

    read_regular(path, limit, what) -> bytes     regular files only (opened O_NONBLOCK: a FIFO never blocks)
    read_script(path_or_dash, limit) -> (name, lines)    a lab script; pipes and stdin allowed, size bounded
    decode_utf8(data, name) -> str               UTF-8 or an error with the line and byte offset

Leaves what the text means to its reader (engine, scenario loader, iptables-restore).
"""
from __future__ import annotations

import os
import stat
import sys

from lab.errors import LabError

MiB = 1024 * 1024
MAX_SCRIPT = 16 * MiB        # a lab script (lab run FILE, --setup FILE, lab export --from FILE)
MAX_RESTORE = 16 * MiB       # iptables-restore FILE (a big iptables-save dump is a few MB)


class TooBig(LabError):
    """A file over its size limit; `size` in bytes (None when it grew past the limit while being read)."""

    def __init__(self, message: str, size: int | None):
        super().__init__(message)
        self.size = size


def _mb(n: int) -> str:
    return f"{n // MiB} MB" if n >= MiB and n % MiB == 0 else f"{n} bytes"


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def read_regular(path: str, limit: int, what: str) -> bytes:
    """The contents of the regular file `path`, at most `limit` bytes. `what` prefixes errors
    ("iptables-restore"). Raises LabError for a missing/unreadable file, a device, FIFO, socket or
    directory (opened non-blocking, so a FIFO without a writer cannot hang us), or a file over the limit."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as e:
        raise LabError(f"{what}: cannot read {path}: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise LabError(f"{what}: {path} is {_kind(st.st_mode)}; {what} reads regular files only")
        if st.st_size > limit:
            raise TooBig(f"{what}: {path} is {st.st_size} bytes, over the {_mb(limit)} limit", st.st_size)
        chunks, total = [], 0
        while total <= limit:                  # the file may grow while we read: stop one byte past the limit
            b = os.read(fd, min(limit + 1 - total, MiB))
            if not b:
                break
            chunks.append(b)
            total += len(b)
        if total > limit:
            raise TooBig(f"{what}: {path} is over the {_mb(limit)} limit", None)
        return b"".join(chunks)
    except OSError as e:
        raise LabError(f"{what}: cannot read {path}: {e.strerror}") from None
    finally:
        os.close(fd)


def _read_bounded(fh, limit: int, name: str) -> bytes:
    data = fh.read(limit + 1)
    if len(data) > limit:
        raise TooBig(f"{name} is over the {_mb(limit)} limit for a lab script", None)
    return data


class NotUtf8(LabError):
    """Text that is not UTF-8: `line` (1-based) and `detail` (the byte and its offset, no content)."""

    def __init__(self, name: str, line: int, detail: str):
        super().__init__(f"{name}:{line}: {detail}", "lab reads UTF-8 text: convert the file (e.g. iconv -f latin1 -t utf-8).")
        self.line = line
        self.detail = detail


def decode_utf8(data: bytes, name: str) -> str:
    """UTF-8 text, or NotUtf8 "NAME:LINE: byte 0xNN at offset K (column C) is not UTF-8 text" (no content quoted)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise NotUtf8(name, line, f"byte 0x{data[e.start]:02x} at offset {e.start} (column {col}) is not UTF-8 text") from None


def read_script(path: str, limit: int = MAX_SCRIPT) -> tuple[str, list[str]]:
    """A lab script (- = stdin) as (name shown in errors, lines). Pipes and process substitution work; at
    most `limit` bytes are read (so /dev/zero ends with an error, not an exhausted machine)."""
    if path == "-":
        name = "<stdin>"
        data = _read_bounded(sys.stdin.buffer, limit, name)
    else:
        name = path
        try:
            with open(path, "rb") as fh:
                data = _read_bounded(fh, limit, name)
        except OSError as e:
            raise LabError(f"cannot read {path}: {e.strerror}") from None
    if b"\0" in data:
        off = data.index(b"\0")
        line = data.count(b"\n", 0, off) + 1
        raise LabError(f"{name}:{line}: a NUL byte at offset {off}: this is not a text file of lab commands")
    return name, decode_utf8(data, name).splitlines()
