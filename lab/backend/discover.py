"""--host: every network namespace on the machine, not only those in /run/netns, named the way their users
know them.

Found in: Docker's /run/docker/netns (named by the container's name from Docker's own metadata,
DATA-ROOT/containers/*/config.v2.json, whose NetworkSettings.SandboxKey points at the file), rootless
podman's /run/user/UID/netns (by its file name), a CNI namespace in /run/netns (cni-UUID, made by containerd or
CRI-O for a Kubernetes pod) under its pod's name when CNI's result cache names the pod (/var/lib/cni/results/*:
libcni writes the netns path and the K8S_POD_NAME argument there; `ip netns` keeps calling it cni-UUID), and any
namespace
a process holds without a bind mount anywhere (most containers: found through /proc/*/ns/net, deduplicated
by inode, named by the process's cgroup: a Docker container's name, a podman container's id, a Kubernetes
pod's name from the kubelet's files; otherwise the process's command and PID, e.g. `sleep-4242`).
The machine's own namespace and those in /run/netns (ip netns, CNI, podman's netns-*) are not repeated.

The result goes to nsutil.EXTRA (name -> path, inode); nsutil.all_netns() refreshes it at most once a
second. A process-held namespace is reached through /proc/PID/ns/net and its inode is checked on every use
(nsutil.in_netns), so a reused PID can never stand for another namespace.
"""
from __future__ import annotations

import json
import os
import re
import threading
import time

from lab.backend import nsutil

MIN_AGE = 1.0
_lock = threading.Lock()


class _State:
    at = -1e9            # when the last scan ended (time.monotonic)
    gen = 0              # changes whenever what was found changes
    sig: tuple = ()


_state = _State()
_why: dict[str, str] = {}          # name -> what it is, in words


def enable() -> None:
    nsutil._discover = refresh


def refresh(max_age: float = MIN_AGE) -> int:
    """Re-scan if the last scan is older than max_age; returns a generation that changes with the result."""
    with _lock:
        now = time.monotonic()
        if now - _state.at < max_age:
            return _state.gen
        found = scan()
        _state.at = time.monotonic()
        sig = tuple(sorted((n, p, i) for n, (p, i, _w) in found.items()))
        if sig != _state.sig:
            _state.sig, _state.gen = sig, _state.gen + 1
            nsutil.EXTRA.clear()
            nsutil.EXTRA.update({n: (p, i) for n, (p, i, _w) in found.items()})
            _why.clear()
            _why.update({n: w for n, (_p, _i, w) in found.items()})
        return _state.gen


def describe(name: str) -> str:
    return _why.get(name, "a namespace lab found on this machine")


def _ino(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def docker_root() -> str:
    try:
        with open("/etc/docker/daemon.json") as f:
            root = json.load(f).get("data-root")
        if isinstance(root, str) and root.startswith("/"):
            return root
    except (OSError, ValueError, AttributeError):
        pass
    return "/var/lib/docker"


def docker_containers() -> tuple[dict[str, str], dict[str, str]]:
    """Docker's metadata: (sandbox file name -> container name, container id -> container name)."""
    by_sandbox: dict[str, str] = {}
    by_id: dict[str, str] = {}
    base = os.path.join(docker_root(), "containers")
    try:
        ids = os.listdir(base)
    except OSError:
        return by_sandbox, by_id
    for cid in ids:
        try:
            with open(os.path.join(base, cid, "config.v2.json")) as f:
                meta = json.load(f)
        except (OSError, ValueError):
            continue
        if not isinstance(meta, dict):
            continue
        name = str(meta.get("Name") or "").lstrip("/") or cid[:12]
        by_id[cid] = name
        key = ((meta.get("NetworkSettings") or {}).get("SandboxKey") or "") if isinstance(
            meta.get("NetworkSettings"), dict) else ""
        if key:
            by_sandbox[os.path.basename(key)] = name
    return by_sandbox, by_id


CNI_RESULTS = "/var/lib/cni/results"


def cni_pods() -> dict[str, tuple[str, str]]:
    """/run/netns file name -> (pod name, its Kubernetes namespace), from libcni's result cache
    ({"kind": "cniCacheV1", "netns": PATH, "cniArgs": [[K, V], ...], ...}, one file per attachment)."""
    out: dict[str, tuple[str, str]] = {}
    try:
        files = sorted(os.listdir(CNI_RESULTS))
    except OSError:
        return out
    for f in files:
        try:
            with open(os.path.join(CNI_RESULTS, f)) as fh:
                meta = json.load(fh)
            netns = meta.get("netns") or ""
            args = {k: v for k, v in meta.get("cniArgs") or [] if isinstance(k, str) and isinstance(v, str)}
        except (OSError, ValueError, AttributeError, TypeError):
            continue
        pod = args.get("K8S_POD_NAME")
        if isinstance(netns, str) and os.path.dirname(netns) in ("/run/netns", "/var/run/netns") and pod:
            out[os.path.basename(netns)] = (pod, args.get("K8S_POD_NAMESPACE", ""))
    return out


def pod_name(uid: str) -> str | None:
    """A Kubernetes pod's name from the kubelet's files: the hosts file it writes ends with `IP NAME`."""
    try:
        with open(f"/var/lib/kubelet/pods/{uid}/etc-hosts") as f:
            lines = [ln.split() for ln in f if ln.strip() and not ln.startswith("#")]
    except OSError:
        return None
    names = [p[1] for p in lines if len(p) >= 2 and not p[1].startswith(("localhost", "ip6-"))]
    return names[-1] if names else None


_DOCKER = re.compile(r"(?:docker-|/docker/)([0-9a-f]{64})")
_PODMAN = re.compile(r"libpod-(?:conmon-)?([0-9a-f]{64})")
_POD = re.compile(r"pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})")


def name_of_process(pid: int, docker_ids: dict[str, str]) -> tuple[str, str]:
    """(name, what it is) for the namespace a process holds: from its cgroup, else command-PID."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            cg = f.read()
    except OSError:
        cg = ""
    m = _DOCKER.search(cg)
    if m:
        name = docker_ids.get(m.group(1), "docker-" + m.group(1)[:12])
        return name, f"Docker container {name}'s namespace (process {pid})"
    m = _POD.search(cg)
    if m:
        uid = m.group(1).replace("_", "-")
        name = pod_name(uid) or "pod-" + uid[:8]
        return name, f"Kubernetes pod {name}'s namespace (process {pid})"
    m = _PODMAN.search(cg)
    if m:
        return "podman-" + m.group(1)[:12], f"podman container {m.group(1)[:12]}'s namespace (process {pid})"
    try:
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
    except OSError:
        comm = "process"
    return f"{comm}-{pid}", f"the namespace of process {pid} ({comm}), held by no file"


def _clean_name(name: str) -> str:
    name = re.sub(r"[\s/\0]+", "-", name).strip(".") or "netns"
    return name[:200]


def scan() -> dict[str, tuple[str, int, str]]:
    """name -> (path, inode, what it is) for every namespace outside /run/netns and the top one."""
    known: set[int] = set()
    top = os.fstat(nsutil.TOP.fd).st_ino
    known.add(top)
    taken = set(nsutil.list_netns())
    for n in taken:
        ino = _ino(os.path.join(nsutil.NETNS_RUN_DIR, n))
        if ino is not None:
            known.add(ino)
    out: dict[str, tuple[str, int, str]] = {}

    def add(name: str, path: str, ino: int, why: str) -> None:
        base = _clean_name(name)
        name, k = base, 2
        while name in taken:
            name, k = f"{base}-{k}", k + 1
        taken.add(name)
        known.add(ino)
        out[name] = (path, ino, why)

    def files(d: str):
        """(file name, path, inode) of the namespaces bind-mounted in directory d not seen yet."""
        try:
            names = sorted(os.listdir(d))
        except OSError:
            return
        for f in names:
            path = os.path.join(d, f)
            ino = _ino(path)
            if ino is not None and ino not in known:
                yield f, path, ino

    pods = cni_pods()
    for n in sorted(taken):       # a pod's CNI namespace: by its pod's name (ip netns keeps the file name)
        if n in pods:
            pod, kns = pods[n]
            path = os.path.join(nsutil.NETNS_RUN_DIR, n)
            ino = _ino(path)
            if ino is not None:
                add(pod, path, ino, f"Kubernetes pod {kns + '/' if kns else ''}{pod}'s namespace ({path}: "
                                    f"`ip netns` calls it {n})")
    by_sandbox, by_id = docker_containers()
    for f, path, ino in files("/run/docker/netns"):
        name = by_sandbox.get(f)
        add(name or f"docker-{f[:12]}", path, ino,
            f"Docker container {name}'s namespace" if name else f"a Docker namespace ({path}) no container names")
    try:
        users = sorted(os.listdir("/run/user"))
    except OSError:
        users = []
    for uid in users:        # rootless podman (and other per-user tools): /run/user/UID/netns
        for f, path, ino in files(f"/run/user/{uid}/netns"):
            add(f, path, ino, f"user {uid}'s namespace {path} (rootless podman keeps its own there)")
    holders: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        ino = _ino(f"/proc/{entry.name}/ns/net")
        if ino is None or ino in known:
            continue
        pid = int(entry.name)
        if ino not in holders or pid < holders[ino]:
            holders[ino] = pid
    for ino, pid in sorted(holders.items(), key=lambda kv: kv[1]):
        name, why = name_of_process(pid, by_id)
        add(name, f"/proc/{pid}/ns/net", ino, why)
    return out
