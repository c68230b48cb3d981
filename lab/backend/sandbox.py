"""The rootless sandbox: move this process into a private user + network + mount namespace.

Inside, the process is root of its own user namespace, its network namespace plays "the host", and
/run/netns is a private tmpfs, so named namespaces live only in the sandbox's mount namespace. When
the last process of the sandbox ends (exit, Ctrl-C, kill -9) the kernel frees every namespace, link
and rule of the lab: nothing is left on the machine. Must run before any thread starts.
Leaves to others: what happens inside (backend.core).
"""
from __future__ import annotations

import os
import threading

from lab.backend import nsutil
from lab.errors import LabError

MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8

_in_sandbox = False
_privileged = False


def in_sandbox() -> bool:
    return _in_sandbox


def where(backend) -> str:
    """What the lab works on, as the dashboard's title, shells and prompts name it."""
    if backend.host:
        return "host, read-only" if backend.read_only else "host (--host)"
    return "privileged sandbox" if _privileged else "sandbox"


def is_machine_root() -> bool:
    """This process is root in the machine's initial user namespace (not root of a user namespace)."""
    try:
        return os.geteuid() == 0 and os.readlink("/proc/self/ns/user") == os.readlink("/proc/1/ns/user")
    except OSError:
        return False


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def userns_restriction() -> str | None:
    """Why unprivileged user namespaces are unavailable here, with what to do; None if nothing is known."""
    if _read("/proc/sys/user/max_user_namespaces") == "0":
        return ("user namespaces are disabled (user.max_user_namespaces = 0).\n"
                "Fix: sudo sysctl -w user.max_user_namespaces=10000, or run with sudo.")
    if _read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        return ("unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0).\n"
                "Fix: sudo sysctl -w kernel.unprivileged_userns_clone=1, or run with sudo.")
    if _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1" and os.geteuid() != 0:
        return ("AppArmor restricts unprivileged user namespaces "
                "(kernel.apparmor_restrict_unprivileged_userns = 1, the Ubuntu 24.04 default).\n"
                "Fix: run with sudo, or sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, "
                "or add an AppArmor profile allowing userns for this python.")
    return None


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def enter_sandbox(userns: bool = True) -> None:
    """Unshare user+net+mount, map the caller to root, give the lab a private /run/netns, bring lo up.

    `userns=False` (lab --privileged, real root only): net+mount without a user namespace, so the lab keeps the
    machine root's capabilities in its own network namespace; what the kernel grants only to them (IPVS's
    netlink commands need CAP_NET_ADMIN in the initial user namespace) then works. The network and /run/netns
    are still the sandbox's own and vanish with it (lab's sysctl changes only net.* keys, the namespace's own;
    programs run with `ip netns exec` run as the machine's root). Raises LabError with the reason and the
    fix when the kernel refuses.
    """
    global _in_sandbox, _privileged
    if _in_sandbox:
        return
    if threading.active_count() > 1:
        raise LabError("internal: the sandbox must be entered before any thread starts")
    uid, gid = os.geteuid(), os.getegid()
    if not userns and uid != 0:
        raise LabError("internal: a sandbox without a user namespace needs real root")
    helper = _start_map_helper() if uid == 0 and userns else None
    try:
        nsutil.unshare((nsutil.CLONE_NEWUSER if userns else 0) | nsutil.CLONE_NEWNET | nsutil.CLONE_NEWNS)
    except OSError as e:
        if helper:
            _finish_map_helper(helper, ok=False)
        why = userns_restriction() or f"unshare(user, net, mount) failed: {e.strerror}."
        raise LabError(f"Cannot create the lab's private sandbox: {why}",
                       "Or use --host (as root) to work on this machine's real namespaces.") from None
    if helper:
        # real root may map every id, but only from the parent user namespace: a forked helper writes it
        _finish_map_helper(helper, ok=True)
    elif userns:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1\n")
        _write("/proc/self/gid_map", f"0 {gid} 1\n")
    nsutil.mount(None, "/", None, MS_REC | MS_PRIVATE)
    if os.path.isdir(nsutil.NETNS_RUN_DIR):
        nsutil.mount("lab-netns", nsutil.NETNS_RUN_DIR, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755")
    else:
        # cannot create /run/netns on the machine: give the sandbox its own /run
        nsutil.mount("lab-run", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
        os.makedirs(nsutil.NETNS_RUN_DIR, exist_ok=True)
    try:  # /sys/class/net of the sandbox's own netns (tools like `ip -d` read it)
        nsutil.mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:
        pass
    nsutil.TOP.reset()
    _in_sandbox = True
    _privileged = not userns
    os.environ["LAB_SANDBOX"] = "1"
    set_lo_up()
    apply_limits(os.environ.pop("LAB_SEAT_LIMITS", ""))


def apply_limits(spec: str) -> None:
    """Limits of a `lab serve` seat ("namespaces=N,processes=M"), kept by the kernel for this sandbox alone:
    user.max_net_namespaces of its own user namespace (the sandbox's own namespace counts as one), and
    RLIMIT_NPROC, which the kernel counts per user namespace (5.14+)."""
    import resource

    limits = dict(part.split("=", 1) for part in spec.split(",") if "=" in part)
    if "namespaces" in limits:
        _write("/proc/sys/user/max_net_namespaces", str(int(limits["namespaces"]) + 1))
        os.environ["LAB_MAX_NAMESPACES"] = str(int(limits["namespaces"]))
    if "processes" in limits:
        n = int(limits["processes"])
        resource.setrlimit(resource.RLIMIT_NPROC, (n, n))


def _start_map_helper() -> tuple[int, int]:
    """Fork a child that stays in the parent user namespace to write a full identity id map for us."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(w)
        code = 1
        try:
            go = os.read(r, 1)
            if go == b"y":
                ppid = os.getppid()
                _write(f"/proc/{ppid}/uid_map", "0 0 4294967295\n")
                _write(f"/proc/{ppid}/gid_map", "0 0 4294967295\n")
                code = 0
        except BaseException:  # noqa: BLE001
            code = 2
        os._exit(code)
    os.close(r)
    return pid, w


def _finish_map_helper(helper: tuple[int, int], ok: bool) -> None:
    pid, w = helper
    os.write(w, b"y" if ok else b"n")
    os.close(w)
    _, status = os.waitpid(pid, 0)
    if ok and os.waitstatus_to_exitcode(status) != 0:
        _write("/proc/self/uid_map", "0 0 1\n")  # fall back to mapping root alone
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/gid_map", "0 0 1\n")


def set_lo_up() -> None:
    from lab.backend.rtnl import Rtnl

    rt = Rtnl()
    try:
        rt.link_set("lo", up=True)
    finally:
        rt.close()


def new_top() -> None:
    """Give the calling thread a fresh, empty top namespace (tests use this for isolation)."""
    nsutil.unshare(nsutil.CLONE_NEWNET)
    nsutil.TOP.reset()
    set_lo_up()
