"""Differential conformance on real-world command files (tests/data/conformance/*.sh, each naming its
source at the top): every file runs through lab's engine (what `lab run` executes) and through the real
tools, each in a fresh top namespace of the test sandbox; the kernel state (links, addresses and
routes of both families in every table, ip rules of both families, as the real tools read them) and the
text every show command printed must be the same."""
from __future__ import annotations

import json
import pathlib
import re
import subprocess

import pytest

from lab.backend import nsutil, sandbox
from tests.conftest import kernel

FILES = sorted((pathlib.Path(__file__).parent / "data" / "conformance").glob("*.sh"))


REFUSED = "# both refuse"   # a line the real tool refuses: lab must refuse it too (and change nothing);
                            # "# both refuse: TEXT": lab's error must say TEXT (e.g. the missing kernel feature)


def commands(path: pathlib.Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]


def refused(line: str) -> bool:
    return REFUSED in line


def state() -> dict:
    out = {}
    for ns in [None] + nsutil.list_netns():
        links = sorted((link["ifname"], link.get("linkinfo", {}).get("info_kind", ""), link["mtu"],
                        tuple(sorted(f for f in link["flags"] if f != "M-DOWN")))
                       for link in json.loads(kernel(ns, "ip", "-j", "-d", "link")))
        addrs = sorted((a["ifname"], i["family"], i["local"], i["prefixlen"])
                       for a in json.loads(kernel(ns, "ip", "-j", "addr")) for i in a["addr_info"]
                       if not i["local"].startswith("fe80"))
        st = {"links": links, "addrs": addrs}
        for fam in ("-4", "-6"):
            st[f"routes{fam}"] = sorted(json.dumps(r, sort_keys=True)
                                        for r in json.loads(kernel(ns, "ip", fam, "-j", "route", "show", "table", "all"))
                                        if not r.get("dst", "").startswith(("fe80", "ff00")))
            st[f"rules{fam}"] = kernel(ns, "ip", fam, "rule")
            st[f"rules-json{fam}"] = kernel(ns, "ip", fam, "-j", "rule")
        for tool in ("iptables-save", "ip6tables-save"):   # the rules, without counters and comments
            st[tool] = re.sub(r"\[\d+:\d+\]", "", "\n".join(line for line in kernel(ns, tool).splitlines() if not line.startswith("#")))
        st.update(more_state(ns))
        out[ns or "top"] = st
    return out


AUTO_HANDLE = re.compile(r"\b8[0-9a-f]{3}:")     # qdisc handles the kernel picks (one machine-wide counter)


def more_state(ns) -> dict:
    """The rest of the kernel state a command file can change, as the real tools read it: link kind details,
    neighbours (not the failed probes of traffic) and fdb entries someone added, qdiscs, classes and filters of
    every link, and the namespace's IPv4/IPv6 sysctls. The links' own random MACs read as the link's name."""
    links = json.loads(kernel(ns, "ip", "-j", "-d", "link"))
    macs = {link["address"]: f"<{link['ifname']}>" for link in links if link.get("address")}
    own = lambda text: re.sub(r"(?:[0-9a-f]{2}:){5}[0-9a-f]{2}", lambda m: macs.get(m.group(0), m.group(0)), text)  # noqa: E731
    st = {"details": kind_details(ns)}
    st["neigh"] = sorted(line for line in kernel(ns, "ip", "neigh", "show").splitlines()     # both families
                         if "FAILED" not in line and "INCOMPLETE" not in line and not line.startswith("fe80"))
    st["fdb"] = sorted(own(line) for line in kernel(ns, "bridge", "fdb", "show").splitlines()
                       if ("static" in line or "permanent" in line or " dst " in line) and not re.match(r"(33:33|01:00:5e)", line))
    tc = [kernel(ns, "tc", "qdisc", "show")]
    for link in links:
        for what in ("class", "filter"):
            tc.append(kernel(ns, "tc", what, "show", "dev", link["ifname"]))
        tc.append(kernel(ns, "tc", "filter", "show", "dev", link["ifname"], "ingress"))
    st["tc"] = AUTO_HANDLE.sub("8xxx:", re.sub(r"direct_packets_stat \d+", "direct_packets_stat N", "".join(tc)))
    sysctls = kernel(ns, "sysctl", "-a", "-r", r"^net\.ipv[46]\.(ip_forward|conf\.)")
    st["sysctl"] = sorted(line for line in sysctls.splitlines() if "stable_secret" not in line)
    return st


SHOW = ("show", "list", "lst")


def is_show(line: str) -> bool:
    words = [w for w in line.split() if not w.startswith("-")]
    if words[0].startswith(("iptables", "ip6tables")) and not words[0].endswith("-restore"):
        return any(w in ("-S", "-L", "--list", "--list-rules") or (w.startswith("-") and w[1:2] != "-"
                   and set(w[1:]) <= set("nvxLS") and ("L" in w or "S" in w)) for w in line.split())
    return (any(w in SHOW + ("get", "list-id") for w in words[1:4])
            or (len(words) <= 2 and words[-1] in ("rule", "route", "link", "addr")))


def via_lab(lines: list[str]) -> tuple[dict, list[str]]:
    from lab.backend.core import Backend
    from lab.engine import Engine

    sandbox.new_top()
    eng = Engine(Backend())
    shown = []
    for line in lines:
        r = eng.run(line.split(REFUSED)[0])
        assert r.ok != refused(line), (line, r.error or "lab accepted it")
        want = line.split(REFUSED + ":")[1].strip() if REFUSED + ":" in line else None
        assert want is None or want in r.error, (line, r.error)
        if is_show(line):
            shown.append(r.output.rstrip("\n"))
    st = state()
    eng.backend.close()
    return st, shown


def via_tools(lines: list[str]) -> tuple[dict, list[str]]:
    sandbox.new_top()
    shown = []
    for line in lines:
        r = subprocess.run(["sh", "-ec", line.split(REFUSED)[0]], capture_output=True, text=True, timeout=30)
        assert (r.returncode == 0) != refused(line), (line, r.stderr or "the real tool accepted it")
        if is_show(line):
            shown.append(r.stdout.rstrip("\n"))
    return state(), shown


def clear_named():
    for ns in nsutil.list_netns():
        nsutil.remove_netns(ns)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_real_world_file_gives_the_same_state_and_output(path, fresh_top):
    assert "Source:" in path.read_text()[:400], "record the file's source at its top"
    lines = commands(path)
    try:
        mine, mine_shown = via_lab(lines)
    finally:
        clear_named()
    try:
        theirs, theirs_shown = via_tools(lines)
    finally:
        clear_named()
    assert mine.keys() == theirs.keys()
    for ns in mine:
        for what in mine[ns]:
            assert mine[ns][what] == theirs[ns][what], f"{path.name}: {ns} {what} differs"
    mac = re.compile(r"(?<![0-9a-f:])(?:[0-9a-f]{2}:){5}[0-9a-f]{2}(?![0-9a-f:])")
    for line, a, b in zip([line for line in lines if is_show(line)], mine_shown, theirs_shown):
        # random MACs of the links each side made: the same where the file set them
        a, b = mac.sub("MAC", a) if mac.findall(a) != mac.findall(b) else a, mac.sub("MAC", b) if mac.findall(a) != mac.findall(b) else b
        brid = re.compile(r"\b([0-9a-f]{4})\.[0-9a-f]{1,2}(?::[0-9a-f]{1,2}){5}\b")   # bridge ids: %x, no padding
        a, b = brid.sub(r"\1.MAC", a), brid.sub(r"\1.MAC", b)
        # qdisc handles the kernel picks come from one machine-wide counter: 8001:, 8002:... differ by run
        auto = re.compile(r"\b8[0-9a-f]{3}:")
        a, b = auto.sub("8xxx:", a), auto.sub("8xxx:", b)
        timer = re.compile(r'(_timer"?:?)\s*[0-9.]+')   # bridge timers run: their value is not state
        a, b = timer.sub(r"\1 T", a), timer.sub(r"\1 T", b)
        if a != b:
            import difflib
            diff = "\n".join(difflib.unified_diff(b.splitlines(), a.splitlines(), "real tool", "lab", lineterm="", n=0))
            raise AssertionError(f"{path.name}: `{line}` prints differently:\n{diff}")


DETAIL_FIELDS = ("vxlan", "bridge", "bridge_slave")


def kind_details(ns=None) -> dict:
    """`ip -d -j link`'s kind data (linkinfo info_data / info_slave_data), without timers and ids."""
    out = {}
    for link in json.loads(kernel(ns, "ip", "-d", "-j", "link")):
        li = link.get("linkinfo", {})
        d = {k: v for k, v in {**li.get("info_data", {}), **li.get("info_slave_data", {})}.items()
             if "timer" not in k and not k.endswith(("_id", "_root", "bridge")) and k not in ("no", "id", "port_no", "port_id")}
        out[link["ifname"]] = d
    return out


def test_link_kind_options_reach_the_kernel_as_with_iproute2(fresh_top):
    path = pathlib.Path(__file__).parent / "data" / "conformance" / "kernel-vxlan-bridge.sh"
    lines = commands(path)
    try:
        via_lab(lines)
        mine = kind_details()
    finally:
        clear_named()
    via_tools(lines)
    theirs = kind_details()
    assert mine == theirs
