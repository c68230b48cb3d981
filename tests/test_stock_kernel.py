"""Features this machine's kernel may lack (vlan, gre, geneve, dummy, ipvlan, wireguard, netem, fq_codel, sfq,
prio): on a kernel without them, lab's refusal names the missing feature and changes nothing; on a kernel
with them (tests/vm/run boots Debian's stock kernel and runs these with LAB_VM=1, where a missing feature
fails the test), lab does what iproute2/tc do: the same commands, run by lab in the test's namespace and by
the real tools in a twin namespace, give the same kernel state, and lab's `ip -d link show` / `tc -s qdisc
show` print what the real tools print for it.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest

from lab.backend import nsutil
from tests.conftest import kernel

pytestmark = pytest.mark.vm
IN_VM = os.environ.get("LAB_VM") == "1"


@pytest.fixture
def twin(fresh_top, uniq):
    """Run a shell line with the real tools in a second namespace: (returncode, stdout, stderr)."""
    ns = f"twin-{uniq}"
    nsutil.create_netns(ns)
    kernel(ns, "ip", "link", "set", "lo", "up")     # as in the test's own namespace

    def run(line: str) -> tuple[int, str, str]:
        with nsutil.in_netns(ns):
            r = subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=30)
        return r.returncode, r.stdout, r.stderr

    run.ns = ns  # type: ignore[attr-defined]
    return run


def made(lab, twin, lines: list[str], feature: str) -> bool:
    """Run `lines` with lab and with the real tools. False (after checking lab's message) when this kernel lacks
    `feature`; in the VM that fails the test."""
    for line in lines:
        r = lab.run(line)
        rc, _out, err = twin(line)
        if not r.ok and "this kernel has no" in r.error:
            assert not IN_VM, f"the stock kernel lacks {feature}? {line}: {r.error}"
            assert feature in r.error and "Unknown device type" in r.error, r.error
            assert rc != 0 and "Unknown device type" in err, (line, err)   # the real ip agrees
            return False
        assert r.ok, (line, r.error)
        assert rc == 0, (line, err)
    return True


def links_state(ns: str | None) -> list[dict]:
    """`ip -d -j link` without what differs between two namespaces made the same way (ifindex, MACs, ids)."""
    out = []
    for link in json.loads(kernel(ns, "ip", "-d", "-j", "link")):
        for k in ("ifindex", "address", "link_index", "link_netnsid", "perm_address", "parent_devname",
                  "parentbus", "inet6_addr_gen_mode", "permaddr"):
            link.pop(k, None)
        info = link.get("linkinfo", {}).get("info_data", {})
        info.pop("public_key", None)
        out.append(link)
    return sorted(out, key=lambda x: x["ifname"])


def same_show(lab, twin, *devs: str) -> None:
    """lab's `ip -d link show dev X` prints what the real ip prints, for the device lab made (in the test's
    namespace), and the twin's device (made by the real ip) is in the same state."""
    # operstate follows the kernel's linkwatch work (a VLAN's carrier comes from its lower device, up to a second
    # later): the two namespaces settle to the same state, so wait until they agree (or time out and show how not)
    end = time.monotonic() + 15
    while links_state(None) != links_state(twin.ns) and time.monotonic() < end:
        time.sleep(0.1)
    assert links_state(None) == links_state(twin.ns)
    for dev in devs:
        for opts in ("-d", "-d -j"):
            mine = lab.run(f"ip {opts} link show dev {dev}")
            assert mine.ok, mine.error
            real = kernel(None, "ip", *opts.split(), "link", "show", "dev", dev)
            assert norm(mine.output) == norm(real), (dev, opts)


def norm(s: str) -> str:
    return s.rstrip("\n")


LINK_CASES = {
    "dummy": (["ip link add d0 type dummy", "ip link set d0 up mtu 9000"], ["d0"]),
    "vlan": (["ip link add d0 type dummy", "ip link add link d0 name d0.10 type vlan id 10",
              "ip link set d0 up", "ip link set d0.10 up"], ["d0.10", "d0"]),
    "vlan 802.1ad": (["ip link add d0 type dummy",
                      "ip link add link d0 name d0.20 type vlan protocol 802.1ad id 20"], ["d0.20"]),
    "gre": (["ip link add g0 type gre remote 10.0.0.2 local 10.0.0.1", "ip link set g0 up"], ["g0", "gre0"]),
    "gretap": (["ip link add gt0 type gretap remote 10.0.0.2 local 10.0.0.1"], ["gt0", "gretap0"]),
    "geneve": (["ip link add gn0 type geneve id 5 remote 10.0.0.2"], ["gn0"]),
    "ipvlan": (["ip link add d0 type dummy", "ip link add iv0 link d0 type ipvlan mode l2",
                "ip link add iv1 link d0 type ipvlan mode l3"], ["iv0", "iv1"]),
    "wireguard": (["ip link add wg0 type wireguard"], ["wg0"]),
    "gre ttl key": (["ip link add v0 type veth peer name v1",
                     "ip link add g1 type gre remote 10.0.0.2 local 10.0.0.1 ttl 64 key 42 dev v0"], ["g1"]),
    "gretap ikey nopmtudisc": (["ip link add gt1 type gretap remote 10.0.0.2 ikey 1.2.3.4 okey 7 nopmtudisc"],
                               ["gt1"]),
    "geneve dstport ttl": (["ip link add gn1 type geneve id 7 remote 10.0.0.2 dstport 6082 ttl 32"], ["gn1"]),
    "geneve ttl inherit v6": (["ip link add gn2 type geneve vni 8 remote 2001:db8::2 ttl inherit"], ["gn2"]),
    "vrf": (["ip link add vrf-blue type vrf table 10", "ip link add d0 type dummy", "ip link set d0 master vrf-blue",
             "ip link set vrf-blue up", "ip link set d0 up"], ["vrf-blue", "d0"]),
    "vrf slave by vrf": (["ip link add vrf-red type vrf table main", "ip link add d0 type dummy",
                          "ip link set d0 vrf vrf-red"], ["vrf-red", "d0"]),
    "bond active-backup": (["ip link add bond0 type bond mode active-backup miimon 100",
                            "ip link add d0 address 02:00:00:00:00:01 type dummy",
                            "ip link add d1 address 02:00:00:00:00:02 type dummy",
                            "ip link set d0 master bond0", "ip link set d1 master bond0", "ip link set bond0 up"],
                           ["bond0", "d0", "d1"]),
    "bond options": (["ip link add bond1 type bond mode balance-xor xmit_hash_policy layer3+4 updelay 200 "
                      "downdelay 200 miimon 100 min_links 1", "ip link add d0 address 02:00:00:00:00:01 type dummy",
                      "ip link set d0 master bond1"], ["bond1", "d0"]),
    "bond 802.3ad": (["ip link add bond2 type bond mode 802.3ad lacp_rate fast ad_select bandwidth miimon 50"],
                     ["bond2"]),
    "bond primary": (["ip link add d0 address 02:00:00:00:00:01 type dummy",
                      "ip link add d1 address 02:00:00:00:00:02 type dummy",
                      "ip link add bond3 type bond mode active-backup primary d1", "ip link set d0 master bond3",
                      "ip link set d1 master bond3"], ["bond3"]),
}
FEATURE = {"dummy": "dummy", "vlan": "vlan", "vlan 802.1ad": "vlan", "gre": "GRE", "gretap": "GRE",
           "geneve": "geneve", "ipvlan": "dummy", "wireguard": "wireguard", "gre ttl key": "GRE",
           "gretap ikey nopmtudisc": "GRE", "geneve dstport ttl": "geneve", "geneve ttl inherit v6": "geneve",
           "vrf": "vrf", "vrf slave by vrf": "vrf", "bond active-backup": "bonding", "bond options": "bonding",
           "bond 802.3ad": "bonding", "bond primary": "dummy"}


@pytest.mark.parametrize("line,error", [
    ("ip link add g0 type gre remote 10.0.0.2 csum", 'lab does not support "csum" for type gre yet.'),
    ("ip link add g0 type gre remote 10.0.0.2 ttl 300", 'Error: argument "300" is wrong: invalid TTL'),
    ("ip link add gn0 type geneve id 5 remote 10.0.0.2 local 10.0.0.1", 'geneve: unknown command "local"?'),
    ("ip link add gn0 type geneve remote 10.0.0.2", "geneve: missing virtual network identifier"),
    ("ip link add gn0 type geneve id 5", "geneve: remote link partner not specified"),
])
def test_tunnel_options_lab_does_not_take_are_said_plainly(lab, twin, line, error):
    """A tunnel option iproute2 takes and lab does not send yet is refused as such, never dropped; a wrong one
    reads as iproute2's error (the real ip refuses the same lines except lab's not-yet ones)."""
    r = lab.run(line)
    assert not r.ok and r.error.splitlines()[0] == error, r.error
    assert [link["ifname"] for link in json.loads(kernel(None, "ip", "-j", "link")) if link["ifname"] in ("g0", "gn0")] == []
    rc, _o, err = twin(line)
    if "lab does not support" not in error and "Unknown device type" not in err:
        assert rc != 0 and err.strip().splitlines()[0].rstrip() == error.rstrip(), err


@pytest.mark.parametrize("case", list(LINK_CASES))
def test_link_kind_as_iproute2_makes_and_shows_it(lab, twin, case):
    lines, devs = LINK_CASES[case]
    if not made(lab, twin, lines, FEATURE[case]):
        made_before = {w for line in lines[:-1] for w in line.split()[3:4]} | {"v1"}   # `ip link add NAME` of earlier lines, and a veth's peer
        assert {link["ifname"] for link in json.loads(kernel(None, "ip", "-j", "link"))} <= {"lo"} | made_before, \
            "a refused command leaves nothing half-made"
        return
    same_show(lab, twin, *devs)


def test_a_vlan_on_loopback_is_the_kernels_refusal_not_a_missing_feature(lab, twin):
    """lo cannot carry VLANs on any kernel (VLAN_CHALLENGED): on a kernel with 8021q lab prints the kernel's own
    words, as ip does; it says vlan is missing only where it is."""
    r = lab.run("ip link add v10 link lo type vlan id 10")
    rc, _o, err = twin("ip link add v10 link lo type vlan id 10")
    assert not r.ok and rc != 0
    if "this kernel has no vlan" in r.error:
        assert not IN_VM, r.error
        return
    assert r.error.splitlines()[0] == err.strip().splitlines()[0]
    assert r.error.startswith("Error: 8021q: VLANs not supported on "), r.error


def test_kernel_made_fallback_devices_are_shown_as_ip_shows_them_and_left_out_of_what_lab_builds(lab, twin, tmp_path):
    """With ip_gre loaded the kernel puts gre0, gretap0 and erspan0 in every namespace: lab lists them as ip
    does, and its export, map and scenario reset leave them alone (nobody made them; the kernel keeps them when
    asked to delete them)."""
    from lab.scenario.export import export_sh
    from lab.backend import state
    from lab.ui.topology import build_graph

    if not made(lab, twin, ["ip link add g0 type gre remote 10.0.0.2 local 10.0.0.1"], "GRE"):
        return
    names = [link["ifname"] for link in json.loads(kernel(None, "ip", "-j", "link"))]
    assert "gre0" in names and "gretap0" in names
    assert lab.run("ip link").output.rstrip("\n") == kernel(None, "ip", "link").rstrip("\n")
    assert lab.run("ip -br link").output.rstrip("\n") == kernel(None, "ip", "-br", "link").rstrip("\n")
    script = export_sh(lab.backend)
    assert "g0" in script and not re.search(r"\b(gre0|gretap0|erspan0)\b", script), script
    nodes, _edges = build_graph([state.ns_state(lab.backend, None)])
    rows = [seg for n in nodes.values() for row in n.rows for seg, _style in row.segs]
    assert "g0" in " ".join(rows) and "gre0" not in " ".join(rows), rows
    r = lab.run("ip link del gre0")           # the kernel answers yes and keeps it (ip_tunnel_dellink)
    rc, _o, err = twin("ip link del gre0")
    assert r.ok == (rc == 0), (r.error, err)
    assert "gre0" in kernel(None, "ip", "-br", "link") and "gre0" in kernel(twin.ns, "ip", "-br", "link")


QDISC_CASES = {
    "netem": ("netem", "tc qdisc add dev v0 root netem delay 10ms 2ms loss 1% duplicate 2% corrupt 0.5% rate 10mbit"),
    "netem reorder": ("netem", "tc qdisc add dev v0 root netem delay 5ms reorder 25% 50% limit 500"),
    "fq_codel": ("fq_codel", "tc qdisc add dev v0 root fq_codel limit 1000 target 10ms interval 200ms noecn"),
    "sfq": ("sfq", "tc qdisc add dev v0 root sfq perturb 10"),
    "prio": ("prio", "tc qdisc add dev v0 root handle 1: prio bands 4"),
    "netem correlations": ("netem", "tc qdisc add dev v0 root netem delay 20ms 5ms 25% loss 3% 30% duplicate 1% 10%"),
    "netem lone duplicate correlation": ("netem", "tc qdisc add dev v0 root netem delay 1.5ms duplicate 2% 5%"),
    "netem loss random": ("netem", "tc qdisc add dev v0 root netem loss random 2% limit 2000"),
    "netem jitter": ("netem", "tc qdisc add dev v0 root netem delay 100ms 10ms corrupt 1% 20%"),
    "fq_codel ecn": ("fq_codel", "tc qdisc add dev v0 root fq_codel ecn ce_threshold 1ms"),
    "fq_codel default": ("fq_codel", "tc qdisc add dev v0 root fq_codel"),
    "sfq limit": ("sfq", "tc qdisc add dev v0 root sfq limit 50 quantum 3000 perturb 5"),
    "prio default": ("prio", "tc qdisc add dev v0 root prio"),
    "pfifo_fast": ("pfifo_fast", "tc qdisc add dev v0 root pfifo_fast"),   # tc prints it with prio's print_opt
}


@pytest.mark.parametrize("case", list(QDISC_CASES))
def test_qdisc_as_tc_makes_and_shows_it(lab, twin, case):
    kind, line = QDISC_CASES[case]
    setup = "ip link add v0 type veth peer name v1"
    assert lab.run(setup).ok and twin(setup)[0] == 0
    r = lab.run(line)
    rc, _o, err = twin(line)
    if not r.ok and "this kernel has no" in r.error:
        assert not IN_VM, r.error
        assert kind in r.error and rc != 0, (r.error, err)
        assert kind not in kernel(None, "tc", "qdisc", "show", "dev", "v0"), "nothing half-made"
        return
    assert r.ok and rc == 0, (r.error, err)
    for opts in ("", "-s", "-j", "-s -j"):
        mine = lab.run(f"tc {opts} qdisc show dev v0".replace("  ", " "))
        assert mine.ok, mine.error
        real = kernel(None, "tc", *opts.split(), "qdisc", "show", "dev", "v0")
        assert norm(mine.output) == norm(real), opts
        theirs = norm(twin(f"tc {opts} qdisc show dev v0")[1]).replace(twin.ns, "")
        # the handle the kernel picks for a qdisc added without one comes from one counter for all namespaces
        auto = lambda out: re.sub(r'(qdisc \S+ |"handle":")[0-9a-f]+:', r"\1H:", out)  # noqa: E731
        assert auto(norm(real)) == auto(theirs), opts


@pytest.mark.parametrize("line", ["tc qdisc add dev v0 root sfq limit 50 quantum 3000 perturb 5",
                                  "tc qdisc add dev v0 root handle 1: prio bands 5",
                                  "tc qdisc add dev v0 root netem delay 20ms 5ms loss 3% duplicate 1% corrupt 1%"])
def test_export_replays_these_qdiscs(lab, line):
    """lab export writes a qdisc so that replaying the script makes the same qdisc (tc prints words, such as sfq's
    depth or prio's priomap, that tc does not take back)."""
    from lab.scenario.export import export_sh

    assert lab.run("ip link add v0 type veth peer name v1").ok
    r = lab.run(line)
    if not r.ok and "this kernel has no" in r.error:
        assert not IN_VM, r.error
        return
    assert r.ok, r.error
    before = kernel(None, "tc", "qdisc", "show", "dev", "v0")
    script = export_sh(lab.backend)
    assert lab.run("ip link del v0").ok
    bad = [x for x in lab.run_lines(script.splitlines()) if not x.ok]
    assert not bad, (bad[0].line, bad[0].error)
    auto = lambda out: re.sub(r"qdisc (\S+) [0-9a-f]+:", r"qdisc \1 H:", out)  # noqa: E731
    assert auto(kernel(None, "tc", "qdisc", "show", "dev", "v0")) == auto(before)


def test_stock_kernel_is_what_the_vm_runs():
    """In the VM the kernel is Debian's stock one (the VM's other tests rely on it); elsewhere nothing to check."""
    if not IN_VM:
        pytest.skip("not in the stock-kernel VM (tests/vm/run)")
    assert os.uname().release.endswith("-amd64"), os.uname().release
    with open(f"/lib/modules/{os.uname().release}/modules.builtin") as f:
        builtin = {os.path.basename(line.strip())[:-3].replace("-", "_") for line in f}
    for mod in ("8021q", "ip_gre", "geneve", "dummy", "ipvlan", "wireguard", "ip_vs", "sch_netem", "sch_fq_codel",
                "sch_sfq", "sch_prio"):
        assert mod in builtin or os.path.isdir(f"/sys/module/{mod}"), f"{mod}: not loaded (tests/vm/guest.sh loads it)"


def test_a_vrf_needs_a_table_and_vrf_names_one_as_iproute2_says(lab, twin):
    """`type vrf` without `table` is the kernel's refusal, printed as ip prints it; `ip link set DEV vrf NAME`
    takes only a VRF (iproute2 checks before it sends anything)."""
    r = lab.run("ip link add vrf0 type vrf")
    rc, _o, err = twin("ip link add vrf0 type vrf")
    assert not r.ok and rc != 0, (r.error, err)
    if "this kernel has no vrf" in r.error:
        assert not IN_VM, r.error
        assert "Unknown device type" in err, err
        return
    assert r.error.splitlines()[0] == err.strip().splitlines()[0], (r.error, err)
    assert made(lab, twin, ["ip link add vrf1 type vrf table 7", "ip link add br0 type bridge",
                            "ip link add v0 type veth peer name v1"], "vrf")
    for line in ("ip link set v0 vrf nosuch", "ip link set v0 vrf br0"):
        r = lab.run(line)
        rc, _o, err = twin(line)
        assert not r.ok and rc != 0, (line, r.error, err)
        assert r.error.splitlines()[0] == err.strip().splitlines()[0], (line, r.error, err)


def test_a_bond_slave_is_taken_as_the_kernel_takes_it(lab, twin):
    """Enslaving a device that is up: lab does and says what ip does (the kernel decides)."""
    if not made(lab, twin, ["ip link add bond0 type bond mode active-backup", "ip link add d0 type dummy",
                            "ip link set d0 up"], "bonding"):
        return
    line = "ip link set d0 master bond0"
    r = lab.run(line)
    rc, _o, err = twin(line)
    assert r.ok == (rc == 0), (r.error, err)
    if rc != 0:
        assert r.error.splitlines()[0] == err.strip().splitlines()[0], (r.error, err)


TUNNEL_CASES = {
    "gre": ("ip tunnel add t1 mode gre remote 10.0.0.2 local 10.0.0.1 ttl 64", ""),
    "gre keys nopmtudisc": ("ip tunnel add t1 mode gre remote 10.0.0.2 ikey 3 okey 4 nopmtudisc", ""),
    "ipip": ("ip tunnel add t1 mode ipip remote 10.0.0.2 local 10.0.0.1 ttl 64", ""),
    "sit": ("ip tunnel add t1 mode sit remote 10.0.0.2 local 10.0.0.1 ttl 64", ""),
    "vti": ("ip tunnel add t1 mode vti remote 10.0.0.2 local 10.0.0.1 key 5", ""),
    "ip6gre": ("ip tunnel add t1 mode ip6gre remote 2001:db8::2 local 2001:db8::1 ttl 64", "-6 "),
    "ip6ip6": ("ip tunnel add t1 mode ip6ip6 remote 2001:db8::2 local 2001:db8::1", "-6 "),
}


@pytest.mark.parametrize("case", list(TUNNEL_CASES))
def test_ip_tunnel_as_iproute2_makes_shows_and_deletes_it(lab, twin, case):
    """`ip tunnel add` by lab (rtnetlink) and by the real ip (the tunnel ioctls) leave the same kernel state;
    `ip tunnel show` and `ip -d link show` print the same; `ip tunnel del` removes it. Without the mode's module
    lab says the kernel lacks it, after iproute2's own error."""
    line, fam = TUNNEL_CASES[case]
    r = lab.run(line)
    rc, _o, err = twin(line)
    if not r.ok and "this kernel has no" in r.error:
        assert not IN_VM, r.error
        assert rc != 0 and r.error.splitlines()[0] == err.strip().splitlines()[0], (r.error, err)
        assert "t1" not in kernel(None, "ip", "-br", "link")
        return
    assert r.ok and rc == 0, (r.error, err)
    end = time.monotonic() + 15
    while links_state(None) != links_state(twin.ns) and time.monotonic() < end:
        time.sleep(0.1)
    assert links_state(None) == links_state(twin.ns)
    for cmd in (f"ip {fam}tunnel show", f"ip {fam}tunnel show t1", "ip -d link show t1", "ip -d -j link show t1",
                "ip link"):
        mine = lab.run(cmd)
        assert mine.ok, (cmd, mine.error)
        assert norm(mine.output) == norm(kernel(None, *cmd.split())), cmd
    r = lab.run(f"ip {fam}tunnel del t1")
    rc, _o, err = twin(f"ip {fam}tunnel del t1")
    assert r.ok and rc == 0, (r.error, err)
    assert "t1" not in kernel(None, "ip", "-br", "link") and "t1" not in kernel(twin.ns, "ip", "-br", "link")


@pytest.mark.parametrize("lines", [
    ["ip tunnel add t1 mode gre remote 10.0.0.2 local 10.0.0.1 ttl 64", "ip tunnel change t1 ttl 32 key 9"],
    ["ip tunnel add t1 mode ip6ip6 remote 2001:db8::2 local 2001:db8::1", "ip -6 tunnel change t1 hoplimit 9"],
])
def test_ip_tunnel_change_keeps_what_it_is_not_told_as_iproute2(lab, twin, lines):
    """`ip tunnel change NAME ...` starts from NAME's own parameters (iproute2 reads them first)."""
    for line in lines:
        r = lab.run(line)
        rc, _o, err = twin(line)
        if not r.ok and "this kernel has no" in r.error:
            assert not IN_VM, r.error
            return
        assert r.ok and rc == 0, (line, r.error, err)
    assert links_state(None) == links_state(twin.ns)


def test_a_plain_trace_claims_nothing_invalid_on_any_kernel(lab, uniq):
    """Kernels before 6.3 (Debian 12's 6.1) send no conntrack data in trace events: the tracer must not read
    that silence as INVALID (it did, at every hop, in the VM)."""
    from lab.tracer import run_trace
    from lab.tracer.path import kernel_reports_ct

    a, b = f"ta{uniq}", f"tb{uniq}"
    for line in (f"ip netns add {a}", f"ip netns add {b}", "ip link add va type veth peer name vb",
                 f"ip link set va netns {a}", f"ip link set vb netns {b}", f"ip -n {a} addr add 10.61.0.1/24 dev va",
                 f"ip -n {b} addr add 10.61.0.2/24 dev vb", f"ip -n {a} link set va up", f"ip -n {b} link set vb up"):
        assert lab.run(line).ok, line
    if IN_VM:
        assert not kernel_reports_ct(), "the VM's stock kernel (6.1) is the case this test is for"
    for spec in (f"{a} icmp 10.61.0.2", f"{a} tcp 10.61.0.2:80"):
        path = run_trace(lab.backend, spec)
        assert path.outcome == "answered", path.summary
        assert not [h for h in path.hops if h.ct_state == "invalid" and "RST" not in h.explanation], \
            [h.explanation for h in path.hops if h.ct_state == "invalid"]
