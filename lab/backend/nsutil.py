"""Namespace plumbing: setns/unshare through libc (Python 3.11 has neither), and a context manager that
moves the calling thread into a network namespace and back. Knows nothing of links or rules."""
from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import threading
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/run/netns"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def _check(rc: int, what: str) -> None:
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def setns(fd: int, nstype: int = CLONE_NEWNET) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def umount(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(target.encode(), flags), f"umount {target}")


# --host: namespaces found elsewhere (a container's, one held only by a process: lab.backend.discover),
# by the name lab gives them -> (path, inode). ip netns add/del never act on them.
EXTRA: dict[str, tuple[str, int]] = {}
_discover: Any = None           # set by lab.backend.discover.enable(): refreshes EXTRA (throttled)


def _extra(name: str) -> tuple[str, int] | None:
    """A discovered namespace by name (--host); an unknown name not in /run/netns asks discovery again
    (throttled: at most one scan a second), so a container started a moment ago is found."""
    got = EXTRA.get(name)
    if got is None and _discover is not None and not os.path.exists(os.path.join(NETNS_RUN_DIR, name)):
        _discover()
        got = EXTRA.get(name)
    return got


def ns_path(name: str) -> str:
    extra = _extra(name)
    return extra[0] if extra is not None else os.path.join(NETNS_RUN_DIR, name)


def list_netns() -> list[str]:
    """The names in /run/netns (what `ip netns list` shows)."""
    try:
        return sorted(n for n in os.listdir(NETNS_RUN_DIR) if not n.startswith("."))
    except FileNotFoundError:
        return []


def all_netns() -> list[str]:
    """Every named namespace lab works with: /run/netns, and with --host the discovered ones."""
    if _discover is None:
        return list_netns()
    _discover()
    named = {os.path.basename(p) for p, _i in EXTRA.values() if os.path.dirname(p) == NETNS_RUN_DIR}
    return [n for n in list_netns() if n not in named] + sorted(EXTRA)   # a pod's cni-UUID: by its pod's name


def netns_exists(name: str) -> bool:
    """In /run/netns (ip netns add/del/set act only there)."""
    return os.path.exists(os.path.join(NETNS_RUN_DIR, name))


def ns_known(name: str) -> bool:
    """A namespace commands can address: in /run/netns, or discovered (--host) and still the same one."""
    extra = _extra(name)
    if extra is not None:
        try:
            return os.stat(extra[0]).st_ino == extra[1]
        except OSError:
            return False
    return netns_exists(name)


class _TopNetns:
    """The namespace that plays "the host": where commands without -n act. Held as an open fd."""

    def __init__(self) -> None:
        self.fd = -1
        self.reset()

    def reset(self) -> None:
        """Record the calling thread's current netns as the top (after the sandbox or a test re-unshares)."""
        if self.fd >= 0:
            os.close(self.fd)
        self.fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)


TOP = _TopNetns()
_local = threading.local()


def _current_fd_stack() -> list:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


@contextlib.contextmanager
def in_netns(name: str | None):
    """Run the body with the calling thread inside netns `name` (None or "" = the top namespace).

    Sockets opened inside stay bound to that namespace after the body ends; /proc/sys/net and
    subprocesses started inside follow it too. Raises LabError-friendly FileNotFoundError when absent.
    """
    if name:
        target = os.open(ns_path(name), os.O_RDONLY | os.O_CLOEXEC)
        extra = EXTRA.get(name)
        if extra is not None and os.fstat(target).st_ino != extra[1]:   # its process is gone (pid reused?)
            os.close(target)
            raise FileNotFoundError(errno.ENOENT, "No such file or directory (the namespace is gone)", name)
    else:
        target = os.dup(TOP.fd)
    back = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(target)
        _current_fd_stack().append(name)
        try:
            yield
        finally:
            _current_fd_stack().pop()
            setns(back)
    finally:
        os.close(target)
        os.close(back)


def create_netns(name: str) -> None:
    """Create a named netns like `ip netns add`: a fresh netns bind-mounted on /run/netns/NAME.

    The calling thread unshares into the new namespace, bind-mounts it, and returns to where it was
    (unshare(CLONE_NEWNET) changes only the calling thread). Raises FileExistsError if the name is taken.
    """
    if not os.path.isdir(NETNS_RUN_DIR):
        os.makedirs(NETNS_RUN_DIR, mode=0o755, exist_ok=True)   # as iproute2 (0755, whatever the umask)
        os.chmod(NETNS_RUN_DIR, 0o755)
    path = os.path.join(NETNS_RUN_DIR, name)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444)
    os.close(fd)
    back = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        # unshare(CLONE_NEWNET) moves only the calling thread; it comes straight back below
        unshare(CLONE_NEWNET)
        try:
            mount("/proc/thread-self/ns/net", path, None, 4096)  # MS_BIND
        finally:
            setns(back)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    finally:
        os.close(back)


def remove_netns(name: str) -> None:
    """Delete a named netns like `ip netns del`: unmount and unlink. FileNotFoundError if absent."""
    path = os.path.join(NETNS_RUN_DIR, name)
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
    with contextlib.suppress(OSError):
        umount(path, 2)  # MNT_DETACH
    os.unlink(path)


def netns_inode(name: str | None) -> int:
    if name:
        return os.stat(ns_path(name)).st_ino
    return os.fstat(TOP.fd).st_ino


def die_with_parent() -> None:
    """preexec_fn for children: get SIGKILL when the lab dies, so a killed sandbox leaves no process
    (and so no namespace) behind."""
    PR_SET_PDEATHSIG = 1
    _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
