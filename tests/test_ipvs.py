"""ipvsadm (IP Virtual Server) through lab's engine, against the real ipvsadm.

IPVS needs the ip_vs module (missing on this machine's kernel: lab says so as ipvsadm does) and, for its netlink
commands, CAP_NET_ADMIN in the machine's initial user namespace (lab's rootless sandbox is a user namespace:
lab says that too, with the way out). tests/vm/run's second pass runs these as the stock-kernel VM's own root
without a user namespace (LAB_TEST_ROOT_SANDBOX=1): there lab and the real ipvsadm build the same services
in twin namespaces, list them byte for byte alike and refuse the same mistakes with the same words.
"""
from __future__ import annotations

import os
import socket
import subprocess

import pytest

from lab.backend import nsutil
from tests.conftest import kernel, run_ok

pytestmark = [pytest.mark.vm, pytest.mark.vm_root]
IN_VM = os.environ.get("LAB_VM") == "1"
AS_ROOT = IN_VM and os.environ.get("LAB_TEST_ROOT_SANDBOX") == "1"


@pytest.fixture
def twin(fresh_top, uniq):
    ns = f"ipvs-{uniq}"
    nsutil.create_netns(ns)
    kernel(ns, "ip", "link", "set", "lo", "up")

    def run(line: str) -> tuple[int, str, str]:
        with nsutil.in_netns(ns):
            r = subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=30)
        return r.returncode, r.stdout, r.stderr

    return run


def test_where_ipvs_cannot_work_lab_says_why(lab):
    """No ip_vs in the kernel, or a user namespace (lab's rootless sandbox): ipvsadm's own words, and why."""
    if AS_ROOT:
        pytest.skip("here IPVS works: the tests below run")
    for line in ("ipvsadm -A -t 10.0.0.1:80 -s rr", "ipvsadm -Ln"):
        r = lab.run(line)
        assert not r.ok
        assert r.error.startswith("Can't initialize ipvs: "), r.error
        assert "Are you sure that IP Virtual Server is built in the kernel or as module?" in r.error
        if IN_VM:          # the stock kernel has ip_vs: the user namespace is what stops it
            assert "Permission denied (you must be root)" in r.error and "initial user namespace" in r.error, r.error
            assert r.error.endswith("sudo lab --privileged"), r.error
        else:
            assert "this kernel has no IP Virtual Server (IPVS) support" in r.error, r.error


BUILD = ["ipvsadm -A -t 10.0.0.1:80 -s rr",
         "ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.2:8080 -m -w 2",
         "ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.3:8080 -m",
         "ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.1 -g -w 0",
         "ipvsadm -A -u 10.0.0.1:53 -s wrr -p 60 -M 255.255.255.0",
         "ipvsadm -a -u 10.0.0.1:53 -r 10.0.1.9:5353 -m -x 100 -y 10",
         "ipvsadm -A -f 7 -s sh",
         "ipvsadm -a -f 7 -r 10.0.2.1 -i",
         "ipvsadm -A -t [2001:db8::1]:443 -s lc",
         "ipvsadm -a -t [2001:db8::1]:443 -r [2001:db8::20]:8443 -m",
         "ipvsadm -E -t 10.0.0.1:80 -s wlc -p",
         "ipvsadm -e -t 10.0.0.1:80 -r 10.0.1.3:8080 -m -w 5"]
SHOW = ["ipvsadm -Ln", "ipvsadm -L -n", "ipvsadm -S -n", "ipvsadm -Sn", "ipvsadm -Ln --stats", "ipvsadm -Ln --rate",
        "ipvsadm -Ln --thresholds", "ipvsadm -Ln --persistent-conn", "ipvsadm -Ln --exact --stats",
        "ipvsadm -Ln -t 10.0.0.1:80", "ipvsadm -L -n -u 10.0.0.1:53", "ipvsadm -l -n --nosort"]


def test_ipvsadm_as_the_real_one_builds_lists_and_deletes(lab, twin):
    if not AS_ROOT:
        pytest.skip("needs the stock-kernel VM's own root (tests/vm/run, second pass)")
    for line in BUILD:
        r = lab.run(line)
        rc, _o, err = twin(line)
        assert r.ok and rc == 0, (line, r.error, err)
    for line in SHOW:       # the real ipvsadm in the same namespace (with --nosort: the kernel's hash order,
        r = lab.run(line)   # which mixes in the namespace's own address)
        real = kernel(None, *line.split())
        assert r.ok, (line, r.error)
        assert r.output.rstrip("\n") == real.rstrip("\n"), line
    assert lab.run("ipvsadm -Sn").output.rstrip("\n") == twin("ipvsadm -Sn")[1].rstrip("\n"), "the same services"
    for line in ("ipvsadm -d -t 10.0.0.1:80 -r 10.0.1.1", "ipvsadm -D -u 10.0.0.1:53", "ipvsadm -Z", "ipvsadm -Ln",
                 "ipvsadm -C", "ipvsadm -Ln"):
        r = lab.run(line)
        rc, out, err = twin(line)
        assert r.ok and rc == 0, (line, r.error, err)
        assert r.output.rstrip("\n") == out.rstrip("\n"), line


MISTAKES = ["ipvsadm -A -t 10.0.0.1:80 -s rr",          # exists
            "ipvsadm -A -t 10.0.0.1:80 -s nosuch",      # scheduler
            "ipvsadm -D -t 10.9.9.9:80",                # no such service
            "ipvsadm -a -t 10.9.9.9:80 -r 10.0.1.2",    # service not defined
            "ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.2",    # destination exists
            "ipvsadm -d -t 10.0.0.1:80 -r 10.0.1.77",   # no such destination
            "ipvsadm -A -t 10.0.0.2 -s rr",             # zero port, not persistent
            "ipvsadm -A -t nohost.invalid:80",          # illegal address
            "ipvsadm -a -t 10.0.0.1:80",                # needs -r
            "ipvsadm -A -t 10.0.0.3:80 -r 10.0.1.2",    # -r with -A
            "ipvsadm -A -D -t 10.0.0.3:80",             # two commands
            "ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.4 -w x",
            "ipvsadm -A -t 10.0.0.4:80 -p 0",
            "ipvsadm -A -f 0"]


def test_ipvsadm_refuses_what_the_real_one_refuses_in_its_words(lab, twin):
    if not AS_ROOT:
        pytest.skip("needs the stock-kernel VM's own root (tests/vm/run, second pass)")
    for line in ("ipvsadm -A -t 10.0.0.1:80 -s rr", "ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.2 -m"):
        assert lab.run(line).ok and twin(line)[0] == 0
    for line in MISTAKES:
        r = lab.run(line)
        rc, _o, err = twin(line)
        assert not r.ok and rc != 0, (line, r.output)
        assert r.error.splitlines()[0] == err.strip().splitlines()[0], line
    assert lab.run("ipvsadm -Ln").output.rstrip("\n") == twin("ipvsadm -Ln")[1].rstrip("\n"), "nothing half-made"


def test_export_writes_the_ipvs_table_and_replays_it(lab, twin):
    """lab export writes the virtual services as ipvsadm commands; replaying the script rebuilds them."""
    from lab.scenario.export import export_sh

    if not AS_ROOT:
        assert "ipvsadm" not in export_sh(lab.backend), "no IPVS here: nothing to write"
        return
    for line in BUILD:
        assert lab.run(line).ok, line
    before = lab.run("ipvsadm -Sn").output
    script = export_sh(lab.backend)
    assert "ipvsadm -A -t 10.0.0.1:80 -s wlc -p 360" in script, script
    assert lab.run("ipvsadm -C").ok
    bad = [x for x in lab.run_lines([ln for ln in script.splitlines() if ln.startswith("ipvsadm ")]) if not x.ok]
    assert not bad, (bad[0].line, bad[0].error)
    assert lab.run("ipvsadm -Sn").output == before


def test_the_ipvs_pane_shows_services_and_real_servers_as_they_change(lab, monkeypatch, tmp_path):
    """The dashboard's IPVS tab: typed ipvsadm commands appear as a service with its real servers; where IPVS
    cannot be read it says what IPVS needs."""
    from tests.test_ui_support import pane_rows, pane_text, run_ui, type_command, wait_for

    monkeypatch.setenv("LAB_HISTORY", str(tmp_path / "h"))

    async def body(app, pilot):
        app.show_tab("tab-ipvs")
        if not AS_ROOT:
            await wait_for(pilot, lambda: "IPVS needs ip_vs and the machine's own root" in pane_text(app, "ipvs"),
                           what="the empty pane's words")
            return
        await type_command(pilot, "ipvsadm -A -t 10.0.0.1:80 -s rr")
        await type_command(pilot, "ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.2:8080 -m -w 2")
        await wait_for(pilot, lambda: any("TCP  10.0.0.1:80" in r[1] and "10.0.1.2:8080" in r[4]
                                          for r in pane_rows(app, "ipvs")), what="the service and its server")
        await type_command(pilot, "ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.3:8080 -m")
        await wait_for(pilot, lambda: "10.0.1.3:8080" in pane_text(app, "ipvs"), what="the second real server")
        rows = pane_rows(app, "ipvs")
        assert [r[4:7] for r in rows] == [["10.0.1.2:8080", "Masq", "2"], ["10.0.1.3:8080", "Masq", "1"]], rows
        await type_command(pilot, "ipvsadm -C")
        await wait_for(pilot, lambda: "10.0.1.2" not in pane_text(app, "ipvs"), what="the table cleared")
    run_ui(lab, body)


# ---- the tracer through an IPVS director (scenario 13's topology, built here) ---------------------------------
VIP = "192.168.50.10"
DR_VIP = "192.168.50.11"
SERVERS = {"10.10.0.11": "web1", "10.10.0.12": "web2"}


def _director(lab) -> None:
    """The host directs: clients on veth-client (192.168.50.0/24), real servers web1/web2 on bridge rs-net."""
    lines = ["ip netns add client", "ip link add rs-net type bridge", "ip addr add 10.10.0.1/24 dev rs-net",
             "ip link set rs-net up", "ip link add veth-client type veth peer name eth0 netns client",
             "ip addr add 192.168.50.1/24 dev veth-client", "ip link set veth-client up",
             "ip -n client addr add 192.168.50.100/24 dev eth0", "ip -n client link set eth0 up",
             "ip -n client route add default via 192.168.50.1", "sysctl -w net.ipv4.ip_forward=1",
             f"ip addr add {VIP}/32 dev veth-client", f"ip addr add {DR_VIP}/32 dev veth-client"]
    for addr, ns in SERVERS.items():
        lines += [f"ip netns add {ns}", f"ip link add veth-{ns} type veth peer name eth0 netns {ns}",
                  f"ip link set veth-{ns} master rs-net", f"ip link set veth-{ns} up",
                  f"ip -n {ns} addr add {addr}/24 dev eth0", f"ip -n {ns} link set eth0 up",
                  f"ip -n {ns} link set lo up", f"ip -n {ns} route add default via 10.10.0.1"]
    run_ok(lab, *lines)


def _conns(lab, vip: str, port: int) -> dict[str, int]:
    """Conns per real server of one virtual service, as the kernel counts them (ipvsadm -Ln --stats)."""
    out = lab.run(f"ipvsadm -Ln --stats -t {vip}:{port}").output
    return {w[1].rsplit(":", 1)[0]: int(w[2]) for w in (ln.split() for ln in out.splitlines()) if w[:1] == ["->"]
            and w[1][0].isdigit()}


def _wait(cond, what: str, timeout: float = 60.0):
    """IPVS's counters are read by its estimator (every 2 s): wait for them, not for a time."""
    import time

    end = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_the_trace_follows_ipvs_to_the_real_server_the_kernel_chose(lab):
    """A client's SYN to the virtual service: the director takes it in INPUT, IPVS hands it to the next real
    server (rr) and rewrites its destination, it leaves again through OUTPUT, and the answer is rewritten back
    at FORWARD. The server the trace names is the one the kernel's IPVS counters and connection table name;
    rr alternates between the two. Direct routing (-g) keeps the addresses and is said so."""
    if not AS_ROOT:
        pytest.skip("needs the stock-kernel VM's own root (tests/vm/run, second pass)")
    from lab.tracer import run_trace

    _director(lab)
    run_ok(lab, f"ipvsadm -A -t {VIP}:80 -s rr", f"ipvsadm -a -t {VIP}:80 -r 10.10.0.11:8080 -m",
           f"ipvsadm -a -t {VIP}:80 -r 10.10.0.12:8080 -m")
    chosen: list[str] = []
    for n in (1, 2):
        path = run_trace(lab.backend, f"client tcp {VIP}:80")
        assert path.outcome == "answered", path.summary
        host_req = [h for h in path.hops if h.ns == "" and h.direction == "request"]
        ipvs = [h for h in host_req if h.table == "ipvs"]
        assert len(ipvs) == 1, [h.explanation for h in host_req]
        h = ipvs[0]
        server = h.after.dst
        assert server in SERVERS and h.after.dport == 8080 and h.before.dst == VIP and h.before.dport == 80, h
        assert h.hook == "input" and h.verdict == "ipvs Masq" and h.rule == f"TCP {VIP}:80 -> {server}:8080", h
        assert "virtual service TCP 192.168.50.10:80 (scheduler rr, 2 real servers)" in h.explanation, h.explanation
        assert "route 10.10.0.0/24 dev rs-net" in h.explanation, h.explanation
        # the director's steps in the kernel's order: in on veth-client, PREROUTING, the local route, IPVS in
        # INPUT, then OUTPUT and POSTROUTING with the new destination, out through the real server's port
        steps = [(x.kind, x.hook) for x in host_req]
        assert steps[:4] == [("note", "prerouting"), ("hook", "prerouting"), ("route", ""), ("nat", "input")], steps
        assert ("hook", "output") in steps[4:] and ("hook", "postrouting") in steps[4:], steps
        assert host_req[0].iif == "veth-client" and host_req[2].verdict == "local", host_req[:3]
        assert host_req[-1].kind == "qdisc" and host_req[-1].oif == f"veth-{SERVERS[server]}", host_req[-1]
        deliver = next(x for x in path.hops if x.kind == "deliver" and x.direction == "request")
        assert deliver.ns == SERVERS[server] and deliver.before.dst == server, deliver
        back = [x for x in path.hops if x.ns == "" and x.direction == "reply" and x.table == "ipvs"]
        assert len(back) == 1 and back[0].hook == "forward", back
        assert (back[0].before.src, back[0].before.sport, back[0].after.src, back[0].after.sport) == (
            server, 8080, VIP, 80), back[0]
        got = next(x for x in path.hops if x.kind == "deliver" and x.direction == "reply")
        assert got.ns == "client" and got.before.src == VIP and got.before.sport == 80, got
        assert f"IPVS in host gave the connection to real server {server}:8080" in path.summary, path.summary
        # the kernel's own evidence: its connection table (read directly) and its per-server counters
        sport = path.hops[0].before.sport
        table = kernel(None, "cat", "/proc/net/ip_vs_conn")
        row = next(w for w in (ln.split() for ln in table.splitlines()) if w[0] == "TCP" and int(w[2], 16) == sport)
        assert socket.inet_ntoa(bytes.fromhex(row[5])) == server, row
        chosen.append(server)
        _wait(lambda: _conns(lab, VIP, 80) == {s: chosen.count(s) for s in SERVERS},
              f"IPVS counting {chosen} (now {_conns(lab, VIP, 80)})")
    assert sorted(chosen) == sorted(SERVERS), chosen       # round robin: one each
    # a client on the director itself: IPVS takes its packet in OUTPUT and sends it through OUTPUT again
    path = run_trace(lab.backend, f"host tcp {VIP}:80")
    (h,) = [x for x in path.hops if x.table == "ipvs" and x.direction == "request"]
    assert h.ns == "" and h.hook == "output" and h.verdict == "ipvs Masq" and h.after.dst in SERVERS, h
    assert "IPVS takes it in OUTPUT, as a local client sent it" in h.explanation, h.explanation
    deliver = next(x for x in path.hops if x.kind == "deliver" and x.direction == "request")
    assert deliver.ns == SERVERS[h.after.dst], deliver
    (back,) = [x for x in path.hops if x.table == "ipvs" and x.direction == "reply"]
    assert back.hook == "input" and back.after.src == VIP, back       # ip_vs_reply4 in LOCAL_IN for a local client
    got = next(x for x in path.hops if x.kind == "deliver" and x.direction == "reply")
    assert got.ns == "" and "IPVS" not in got.explanation, got

    # direct routing: web2 holds the second VIP itself (on lo, not answering ARP for it)
    run_ok(lab, f"ip -n web2 addr add {DR_VIP}/32 dev lo", "ip netns exec web2 sysctl -w net.ipv4.conf.all.arp_ignore=1",
           "ip netns exec web2 sysctl -w net.ipv4.conf.all.arp_announce=2",
           f"ipvsadm -A -t {DR_VIP}:80 -s rr", f"ipvsadm -a -t {DR_VIP}:80 -r 10.10.0.12 -g")
    path = run_trace(lab.backend, f"client tcp {DR_VIP}:80")
    (h,) = [x for x in path.hops if x.table == "ipvs"]
    assert h.verdict == "ipvs Route" and h.rule == f"TCP {DR_VIP}:80 -> 10.10.0.12:80" and not h.nat, h
    assert "the addresses stay" in h.explanation, h.explanation
    neigh = next(x for x in path.hops if x.kind == "neigh" and x.ns == "" and x.direction == "request")
    assert neigh.rule.startswith("10.10.0.12 "), neigh        # the next hop is the real server, not the VIP
    deliver = next(x for x in path.hops if x.kind == "deliver" and x.direction == "request")
    assert deliver.ns == "web2" and deliver.before.dst == DR_VIP, deliver
    from lab.tracer import format_text
    print(format_text(path))
    # web2 answers the client itself, from the VIP, through its default route: the director (which owns the VIP)
    assert path.outcome == "delivered", path.summary
    drop = next(x for x in path.hops if x.kind == "drop")
    assert drop.ns == "" and drop.direction == "reply" and "drops it as a martian: its source 192.168.50.11" in \
        drop.explanation and "direct routing (-g)" in drop.explanation, drop.explanation


def test_the_trace_says_why_ipvs_refuses_or_leaves_a_packet(lab):
    """A virtual service without a real server: IPVS drops the SYN and answers port-unreachable (said, with the
    fix). A protocol the address has no service for: the local stack gets it, and the trace says so."""
    if not AS_ROOT:
        pytest.skip("needs the stock-kernel VM's own root (tests/vm/run, second pass)")
    from lab.tracer import run_trace

    _director(lab)
    run_ok(lab, f"ipvsadm -A -t {VIP}:80 -s rr")
    path = run_trace(lab.backend, f"client tcp {VIP}:80")
    drop = next(h for h in path.hops if h.kind == "drop")
    assert drop.ns == "" and "virtual service TCP 192.168.50.10:80 (scheduler rr), which has no real server" \
        in drop.explanation, drop.explanation
    assert f"ipvsadm -a -t {VIP}:80 -r SERVER -m" in drop.explanation
    got = next(h for h in path.hops if h.kind == "deliver" and h.direction == "reply")
    assert got.ns == "client" and got.before.icmp_type == 3, got      # ip_vs_leave's port-unreachable
    # a tunnelled real server: the packet leaves inside an IPIP header the trace rules do not follow; the step
    # still says where IPVS sent it, as its connection table does
    run_ok(lab, f"ipvsadm -a -t {VIP}:80 -r 10.10.0.11 -i")
    path = run_trace(lab.backend, f"client tcp {VIP}:80")
    (h,) = [x for x in path.hops if x.table == "ipvs"]
    assert h.ns == "" and h.verdict == "ipvs Tunnel" and h.rule == f"TCP {VIP}:80 -> 10.10.0.11:80", h
    assert "wraps the packet in a new IP header to 10.10.0.11" in h.explanation, h.explanation
    assert path.outcome == "lost" and "IPVS in host gave the connection to real server 10.10.0.11:80" in path.summary
    run_ok(lab, f"ipvsadm -d -t {VIP}:80 -r 10.10.0.11")
    path = run_trace(lab.backend, f"client udp {VIP}:80")
    deliver = next(h for h in path.hops if h.kind == "deliver" and h.direction == "request")
    assert deliver.ns == "" and "IPVS has virtual service TCP 192.168.50.10:80 on this address, but not UDP port 80" \
        in deliver.explanation, deliver.explanation


def test_sudo_lab_privileged_plays_the_ipvs_scenario_and_keeps_to_its_namespace(fresh_top):
    """The way out the messages name, as a user types it: `sudo lab --privileged play 13-ipvs-round-robin
    --check` plays green (IPVS works in that sandbox); a setting outside its network namespace is refused."""
    if not AS_ROOT:
        pytest.skip("needs the stock-kernel VM's own root (tests/vm/run, second pass)")
    from tests import labproc

    r = labproc.run(labproc.lab_argv() + ["--privileged", "play", "13-ipvs-round-robin", "--check"], env=labproc.env(),
                    timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    with open("/proc/sys/kernel/domainname") as f:
        before = f.read()
    r = labproc.run(labproc.lab_argv() + ["--privileged", "run", "-"], env=labproc.env(),
                    input="sysctl -w net.ipv4.ip_forward=1\nsysctl -w kernel.domainname=lab-was-here\n")
    assert r.returncode == 1 and "net.ipv4.ip_forward = 1" in r.stdout, r.stdout + r.stderr
    assert 'sysctl: "kernel.domainname" is outside net.*: the lab only changes network settings' in r.stderr, r.stderr
    with open("/proc/sys/kernel/domainname") as f:
        assert f.read() == before
