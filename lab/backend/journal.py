"""The --host journal: a crash-safe, tamper-resistant record of what the lab created on the machine.

Every creation is two lines, both appended and fsync'ed:
    {"id": "...", "kind": "route", "ns": "", "nsino": 4026531840, ...}   BEFORE the kernel call (pending)
    {"ok": "...", "ifindex": 7, ...}                                      AFTER the kernel confirmed it
or {"fail": "..."} when the kernel refused (nothing was made, so `lab clean` must leave the object alone:
it is the machine's). When the lab deletes something it made, {"gone": "..."} retires the entry, so an
object of the same name made later by someone else is never touched. {"at": "...", ...} follows a link
the lab renamed or moved.

The confirmation carries the object's identity (ifindex, namespace inode, nft rule handle, the value the
lab wrote...): `lab clean` (lab/backend/clean.py) removes only confirmed creations whose identity still
matches, and reports pending ones (a crash between the two lines) instead of guessing by name.

The journal is read as hostile input: the state directory is created 0700 whatever the umask; the file
is opened with O_NOFOLLOW and refused unless it is a regular file owned by us and writable only by us;
every field is validated (`validate`) before anything acts on it; unreadable lines are reported, never
fatal. Leaves the undo mechanics to clean.py.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import stat

DEFAULT_DIR = "/run/lab"
MAX_JOURNAL = 64 << 20          # a journal bigger than this is not ours to parse


class JournalError(Exception):
    """The journal or its directory cannot be trusted or read (message says why and what to do)."""


def journal_path() -> str:
    return os.path.join(os.environ.get("LAB_STATE_DIR", DEFAULT_DIR), "host-journal.jsonl")


# ---- field validation (names as the kernel and iproute2 allow them) ------------------------------------
_TABLES = {"filter", "nat", "mangle", "raw", "security"}
DAEMON_PROGS = ("bird",)        # daemons lab starts (lab.backend.daemons); lab clean stops them


def valid_netns_name(name) -> bool:
    """iproute2: not empty, no '/', not '.' or '..', shorter than NAME_MAX; and no NUL."""
    return (isinstance(name, str) and 0 < len(name.encode(errors="replace")) < 255 and "/" not in name
            and "\0" not in name and name not in (".", ".."))


def valid_ifname(name) -> bool:
    """The kernel's dev_valid_name: 1..15 bytes, not '.'/'..', no '/', ':' or whitespace."""
    return (isinstance(name, str) and 0 < len(name.encode(errors="replace")) <= 15 and name not in (".", "..")
            and not any(ch in name for ch in "/:\0") and not any(ch.isspace() for ch in name))


def valid_sysctl_key(key) -> bool:
    """A key under net. (dots or slashes), with no empty, '.' or '..' component: it can only name a
    file below /proc/sys/net."""
    if not isinstance(key, str) or "\0" in key or len(key) > 512:
        return False
    parts = re.split(r"[./]", key) if "/" not in key else key.split("/")
    return parts[0] == "net" and len(parts) >= 2 and all(p and p not in (".", "..") for p in parts)


def _int(v, lo=0, hi=(1 << 64) - 1) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _str(v, n=256) -> bool:
    return isinstance(v, str) and len(v) <= n and "\0" not in v


def _ip(v) -> bool:
    try:
        ipaddress.ip_address(v)
        return True
    except (ValueError, TypeError):
        return False


def _cidr(v) -> bool:
    try:
        ipaddress.ip_interface(v)
        return "/" in v
    except (ValueError, TypeError):
        return False


_SPEC_KEYS = {  # route / rule / fdb specs: the keys lab writes and their checks
    "dst": lambda v: _str(v, 64) and (_cidr(v) or _ip(v)), "src": _ip, "gateway": _ip, "lladdr": lambda v: _str(v, 64),
    "family": _int, "table": _int, "priority": _int, "type": _int, "oif": _int, "ifindex": _int,
    "src_len": _int, "dst_len": _int, "fwmark": _int, "iifname": valid_ifname, "oifname": valid_ifname,
    "action": lambda v: _int(v) or _str(v, 32), "flags": _int, "vlan": _int, "port": _int, "vni": _int, "tos": _int,
    "fwmask": _int, "suppress_prefixlength": _int,
}


def _spec_ok(spec) -> bool:
    return isinstance(spec, dict) and all(k in _SPEC_KEYS and _SPEC_KEYS[k](v) for k, v in spec.items())


def validate(e: dict) -> str | None:
    """Why entry `e` (a pending creation, its identity merged in) cannot be acted on, or None if fine."""
    kind = e.get("kind")
    ns = e.get("ns", "")
    if not (ns == "" or valid_netns_name(ns)):
        return f"bad namespace name {ns!r}"
    for key in ("nsino", "ino", "ifindex"):
        if key in e and not _int(e[key]):
            return f"bad {key}"
    if kind == "netns":
        return None if valid_netns_name(e.get("name")) else f"bad namespace name {e.get('name')!r}"
    if kind == "link":
        return None if valid_ifname(e.get("name")) else f"bad device name {e.get('name')!r}"
    if kind == "addr":
        return None if valid_ifname(e.get("dev")) and _cidr(e.get("cidr")) else "bad device or address"
    if kind in ("route", "rule", "fdb"):
        return None if _spec_ok(e.get("spec")) else f"bad {kind} spec"
    if kind == "neigh":
        return None if valid_ifname(e.get("dev")) and _ip(e.get("dst")) else "bad device or address"
    if kind == "sysctl":
        if not valid_sysctl_key(e.get("key")):
            return f"bad sysctl key {e.get('key')!r} (only keys under net. are lab's)"
        return None if _str(e.get("old"), 4096) and _str(e.get("new", ""), 4096) else "bad sysctl value"
    if kind in ("iptables", "iptables-chain", "iptables-policy", "iptables-table", "nft-chain"):
        if e.get("table") not in _TABLES or e.get("family", 4) not in (4, 6):
            return "bad iptables table or family"
        if kind != "iptables-table" and not (_str(e.get("chain"), 64) and e["chain"]
                                             and not any(ch.isspace() for ch in e["chain"])):
            return "bad chain name"
        if kind == "iptables" and not (isinstance(e.get("spec"), list) and all(_str(a, 1024) for a in e["spec"])):
            return "bad rule spec"
        if kind == "iptables-policy" and (e.get("old") not in ("ACCEPT", "DROP") or e.get("new") not in ("ACCEPT", "DROP")):
            return "bad policy"
        if "handle" in e and not _int(e["handle"]):
            return "bad rule handle"
        return None
    if kind == "daemon":
        if e.get("prog") not in DAEMON_PROGS:
            return f"bad daemon program {e.get('prog')!r} (only {', '.join(DAEMON_PROGS)} are lab's)"
        files = e.get("files", [])
        if not (isinstance(files, list) and all(_str(f, 512) and os.path.isabs(f) for f in files)):
            return "bad daemon files"
        ok = ("pid" not in e or _int(e["pid"], 2, 1 << 22)) and ("start" not in e or _int(e["start"]))
        return None if ok else "bad daemon pid or start time"   # (both come with the confirmation)
    if kind == "trace-table":
        return None if e.get("table") == "lab_trace" else "bad trace table (only lab_trace is lab's)"
    if kind == "qdisc":
        ok = valid_ifname(e.get("dev")) and _str(e.get("parent"), 16) and (e.get("handle") is None or _str(e["handle"], 16))
        return None if ok and _str(e.get("qkind", ""), 32) else "bad qdisc entry"
    return f"unknown kind {kind!r}"


# ---- the file -----------------------------------------------------------------------------------------
def _secure_dir(path: str, create: bool) -> None:
    """The state directory: made 0700 whatever the umask; refused if a symlink, not ours, or writable
    by others (anyone could then forge the journal root reads)."""
    if create:
        old = os.umask(0o077)
        try:
            os.makedirs(path, mode=0o700, exist_ok=True)
        finally:
            os.umask(old)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise JournalError(f"{path} is not a directory (a symlink?): refusing to use it as lab's state directory",
                           )
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise JournalError(f"{path} is owned by uid {st.st_uid} with mode {stat.S_IMODE(st.st_mode):o}: lab's state "
                           f"directory must be owned by uid {os.geteuid()} and writable only by it "
                           f"(fix: chown {os.geteuid()} {path}; chmod 700 {path}; or set LAB_STATE_DIR elsewhere)")


def _open(path: str, flags: int) -> int:
    """Open the journal itself: no symlinks, a regular file owned by us, writable only by us."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o600)
    except OSError as e:
        if e.errno == 40:   # ELOOP: the last component is a symlink
            raise JournalError(f"{path} is a symlink: refusing to follow it (remove it; lab writes its journal itself)") from None
        raise
    st = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(st.st_mode):
        problem = "is not a regular file"
    elif st.st_uid != os.geteuid():
        problem = f"is owned by uid {st.st_uid}, not {os.geteuid()}"
    elif st.st_mode & 0o022:
        problem = f"has loose permissions ({stat.S_IMODE(st.st_mode):o}: others may write it)"
    if problem:
        os.close(fd)
        raise JournalError(f"{path} {problem}: refusing to trust it as lab's journal",
                           )
    return fd


class Entry:
    """One journaled creation in progress (see Journal.begin)."""

    def __init__(self, journal: "Journal | None", id: str, fields: dict):
        self.journal, self.id, self.fields = journal, id, fields
        self.settled = False

    def confirm(self, **identity) -> None:
        """The kernel made it: write the confirmation with the object's identity."""
        if self.journal is not None and not self.settled:
            self.journal._append({"ok": self.id, **identity})
            self.fields.update(identity)
            self.journal._state[self.id] = "ok"
        self.settled = True

    def fail(self) -> None:
        """The kernel refused: nothing was made, clean must leave the object alone."""
        if self.journal is not None and not self.settled:
            self.journal._append({"fail": self.id})
            self.journal._state[self.id] = "fail"
        self.settled = True


NOOP = Entry(None, "", {})


class Journal:
    def __init__(self, path: str | None = None):
        self.path = path or journal_path()
        self._entries: dict[str, dict] | None = None   # id -> fields (identity merged in)
        self._state: dict[str, str] = {}                # id -> pending / ok / fail / gone
        self._session = f"{os.getpid():x}-{secrets.token_hex(3)}"
        self._seq = 0

    # writing
    def _append(self, obj: dict) -> None:
        _secure_dir(os.path.dirname(self.path) or ".", create=True)
        fd = _open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, (json.dumps(obj, sort_keys=True) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def begin(self, **fields) -> Entry:
        """Journal a creation about to be attempted (pending until confirm/fail). Raises JournalError."""
        entries = self._load()
        problem = validate(fields)
        if problem:
            raise JournalError(f"internal: refusing to journal {fields.get('kind')}: {problem}")
        self._seq += 1
        eid = f"{self._session}-{self._seq}"
        self._append({"id": eid, **fields})
        entries[eid] = dict(fields)
        self._state[eid] = "pending"
        return Entry(self, eid, entries[eid])

    def retire(self, eid: str) -> None:
        """The lab deleted this object itself: never touch that name again."""
        if self._state.get(eid) in ("ok", "pending"):
            self._append({"gone": eid})
            self._state[eid] = "gone"

    def moved(self, eid: str, **where) -> None:
        """A journaled link was renamed or moved: where it is now."""
        self._append({"at": eid, **where})
        self._load()[eid].update(where)

    def live(self, kind: str | None = None, ns: str | None = None) -> list[tuple[str, dict]]:
        """Confirmed creations not retired, oldest first (optionally of one kind / in one namespace)."""
        return [(i, e) for i, e in self._load().items() if self._state.get(i) == "ok"
                and (kind is None or e.get("kind") == kind) and (ns is None or e.get("ns", "") == ns)]

    def created_netns(self) -> set[str]:
        """Names of the namespaces the lab created and still owns (everything inside dies with them)."""
        return {e["name"] for _, e in self.live("netns")}

    # reading
    def _load(self) -> dict[str, dict]:
        if self._entries is None:
            try:
                entries, state, _ = self.read()
            except (JournalError, OSError):
                entries, state = {}, {}
            self._entries, self._state = entries, state
        return self._entries

    def read(self) -> tuple[dict[str, dict], dict[str, str], list[str]]:
        """Parse the journal: (entries by id, state by id, problems). Never raises for bad content;
        raises JournalError when the file itself is not to be trusted."""
        _secure_dir(os.path.dirname(self.path) or ".", create=False)
        try:
            fd = _open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return {}, {}, []
        try:
            if os.fstat(fd).st_size > MAX_JOURNAL:
                raise JournalError(f"{self.path} is over {MAX_JOURNAL >> 20} MB: not a journal lab wrote")
            chunks = []
            while True:
                b = os.read(fd, 1 << 20)
                if not b:
                    break
                chunks.append(b)
        finally:
            os.close(fd)
        entries: dict[str, dict] = {}
        state: dict[str, str] = {}
        problems: list[str] = []
        for n, raw in enumerate(b"".join(chunks).split(b"\n"), 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                problems.append(f"line {n}: not UTF-8 text, skipped")
                continue
            except ValueError:
                problems.append(f"line {n}: not a complete JSON object (cut short by a crash?), skipped")
                continue
            if not isinstance(obj, dict):
                problems.append(f"line {n}: a JSON {type(obj).__name__}, not an entry, skipped")
                continue
            if "id" in obj:
                eid = obj.pop("id")
                if not isinstance(eid, str) or eid in entries:
                    problems.append(f"line {n}: bad or repeated entry id, skipped")
                    continue
                entries[eid] = obj
                state[eid] = "pending"
                continue
            for verb, new in (("ok", "ok"), ("fail", "fail"), ("gone", "gone"), ("at", None)):
                if verb in obj:
                    eid = obj.pop(verb)
                    if not isinstance(eid, str) or eid not in entries:
                        problems.append(f"line {n}: '{verb}' for an unknown entry, skipped")
                    elif new is None:
                        entries[eid].update({k: v for k, v in obj.items() if k in ("ns", "nsino", "name", "ifindex")})
                    else:
                        if new == "ok":
                            entries[eid].update({k: v for k, v in obj.items() if k not in ("id", "kind")})
                        if not (new == "ok" and state[eid] == "gone"):
                            state[eid] = new
                    break
            else:
                what = obj.get("kind") if isinstance(obj.get("kind"), str) else None
                problems.append(f"line {n}: an entry without an id (" + (f"kind {what!r}" if what else "no kind")
                                + "): not written by this version of lab, skipped")
        return entries, state, problems

    def rewrite(self, keep: dict[str, dict]) -> None:
        """After clean: the journal holds only `keep` (id -> entry: confirmed creations not removed yet)."""
        if not keep:
            self.clear()
            return
        lines = []
        for eid, e in keep.items():
            lines.append(json.dumps({"id": eid, **e}, sort_keys=True))
            lines.append(json.dumps({"ok": eid}, sort_keys=True))
        tmp = self.path + ".new"
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, ("\n".join(lines) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)

    def clear(self) -> None:
        self._entries, self._state = {}, {}
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
