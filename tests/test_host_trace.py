"""--host traces through the machine's own namespace. The "machine" is a private network namespace this test
makes (unshare --net --mount), holding the fox/bear lab built with `lab --host run`: a trace crosses the
machine's bridge, DNAT and MASQUERADE and stops at a FORWARD drop there, agreeing with the rule counters; a
ClusterIP-style DNAT to an address on no interface traces to its backend; a destination that leaves the
machine (here through a tun device) is stopped by lab's guard with nothing sent; a trace killed with SIGKILL
leaves its table journaled, and `lab clean` removes it."""
from __future__ import annotations

import json
import subprocess
import sys

from tests import labproc

FOX_BEAR = """
ip netns add bear
ip netns add fox
ip link add vnet-animals type bridge
ip link add veth-fox-br type veth peer name veth-fox netns fox
ip link add veth-bear-br type veth peer name veth-bear netns bear
ip link set veth-fox-br master vnet-animals
ip link set veth-bear-br master vnet-animals
ip addr add 192.168.202.1/24 dev vnet-animals
ip -n bear addr add 192.168.202.12/24 dev veth-bear
ip -n fox addr add 192.168.202.11/24 dev veth-fox
ip link set vnet-animals up
ip link set veth-fox-br up
ip link set veth-bear-br up
ip -n bear link set lo up
ip -n bear link set veth-bear up
ip -n fox link set lo up
ip -n fox link set veth-fox up
ip -n bear route add default via 192.168.202.1 dev veth-bear
ip -n fox route add default via 192.168.202.1 dev veth-fox
sysctl -w net.ipv4.ip_forward=1
iptables -t nat -A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 192.168.202.11:80
iptables -t nat -A POSTROUTING -s 192.168.202.0/24 ! -o vnet-animals -j MASQUERADE
"""

# runs inside `unshare --net --mount`: the machine is this namespace
DRIVER = r'''
import json, os, subprocess, sys
lab = sys.argv[1:]
out = {}
def sh(*argv, check=True):
    r = subprocess.run(list(argv), capture_output=True, text=True)
    if check and r.returncode:
        raise SystemExit(f"{argv}: {r.stderr}")
    return r.stdout
def trace(*args):
    r = subprocess.run(lab + ["--host", "trace", "--json", *args], capture_output=True, text=True)
    if not r.stdout.strip().startswith("{"):
        raise SystemExit(f"trace {args}: {r.stdout} {r.stderr}")
    return json.loads(r.stdout)
def counters(table, chain):
    rows = sh("iptables", "-t", table, "-L", chain, "-v", "-x", "-n").splitlines()[2:]
    return [int(r.split()[0]) for r in rows if r.strip()]
sh("mount", "-t", "tmpfs", "lab-host-trace", "/run/netns")
sh("ip", "link", "set", "lo", "up")
sh(*lab, "--host", "run", os.environ["BUILD"])
out["dnat0"] = counters("nat", "PREROUTING")
out["tcp"] = trace("bear", "tcp", "192.168.202.1:80")
out["dnat1"] = counters("nat", "PREROUTING")
sh("iptables", "-I", "FORWARD", "-p", "icmp", "-j", "DROP")
out["icmp"] = trace("fox", "icmp", "192.168.202.12")
out["fwd"] = counters("filter", "FORWARD")
sh("iptables", "-t", "nat", "-A", "PREROUTING", "-d", "10.96.0.10/32", "-p", "tcp", "--dport", "8080",
   "-j", "DNAT", "--to-destination", "192.168.202.11:80")
out["vip"] = trace("bear", "tcp", "10.96.0.10:8080")
sh("ip", "tuntap", "add", "dev", "vpn0", "mode", "tun")
sh("ip", "link", "set", "vpn0", "up")
sh("ip", "route", "add", "10.200.0.0/24", "dev", "vpn0")
out["away"] = trace("bear", "udp", "10.200.0.5:53")
# a VXLAN tunnel whose remote end is reached through the tun: what goes into it leaves the machine too
sh("ip", "link", "add", "vx9", "type", "vxlan", "id", "9", "remote", "10.200.0.7", "dstport", "4789")
sh("ip", "addr", "add", "10.201.0.1/24", "dev", "vx9")
sh("ip", "link", "set", "vx9", "up")
out["tunnel"] = trace("bear", "udp", "10.201.0.5:53")
out["vpn0_tx"] = json.loads(sh("ip", "-s", "-j", "link", "show", "vpn0"))[0]["stats64"]["tx"]["packets"]
out["tables_after"] = sh("nft", "list", "tables")
# a trace killed (SIGKILL) after its tables went in, before it could remove them
kill = ("import os, sys; from lab.tracer import probe; "
        "probe.send = lambda *a, **k: os.kill(os.getpid(), 9); "
        "from lab.cli import main; sys.exit(main(['--host', 'trace', 'bear', 'icmp', '192.168.202.11']))")
r = subprocess.run([lab[0], "-c", kill], capture_output=True, text=True)
out["killed_rc"] = r.returncode
out["tables_killed"] = sh("nft", "list", "tables") + sh("ip", "netns", "exec", "fox", "nft", "list", "tables")
out["clean"] = sh(*lab, "clean", check=False)
out["tables_cleaned"] = sh("nft", "list", "tables")
print(json.dumps(out))
'''


def on_a_machine(tmp_path, driver: str, own_pids: bool = False) -> dict:
    """Run a driver (Python, printing JSON) as root of a "machine" of its own: a private network and mount
    namespace (and with own_pids, a PID namespace with its own /proc); what it printed, parsed."""
    path = tmp_path / "driver.py"
    path.write_text(driver)
    pid = ["--pid", "--fork", "--mount-proc"] if own_pids else []
    r = subprocess.run(["unshare", "--net", "--mount", *pid, sys.executable, str(path), *labproc.lab_argv()],
                       capture_output=True, text=True, timeout=300, cwd=labproc.ROOT,
                       env=labproc.env(LAB_STATE_DIR=str(tmp_path / "state"), BUILD=str(tmp_path / "fox-bear.lab")))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return json.loads(r.stdout)


def test_host_trace_crosses_the_machines_own_namespace(tmp_path):
    (tmp_path / "fox-bear.lab").write_text(FOX_BEAR)
    out = on_a_machine(tmp_path, DRIVER)

    def said(t: dict) -> str:
        return "\n".join(h["explanation"] for h in t["hops"])

    # bear -> the machine's own address: the machine's DNAT sends it to fox, and the answer comes back
    tcp = out["tcp"]
    assert tcp["outcome"] == "answered", tcp["summary"]
    dnat = [h for h in tcp["hops"] if h["ns"] == "" and h["verdict"] == "dnat"]
    assert dnat and "--to-destination 192.168.202.11:80" in dnat[0]["rule"], said(tcp)
    assert "It arrives in fox" in said(tcp) and "bridge vnet-animals" in said(tcp)
    assert out["dnat1"][0] - out["dnat0"][0] == 1, "the DNAT rule the trace names counted the probe"
    # a FORWARD drop in the machine's namespace: named, and its counter moved
    icmp = out["icmp"]
    assert icmp["outcome"] == "dropped" and "-A FORWARD -p icmp -j DROP" in icmp["summary"], icmp["summary"]
    assert out["fwd"][0] == 1
    # a ClusterIP: an address on no interface, DNATed by the machine to its backend
    vip = out["vip"]
    assert vip["outcome"] == "answered" and "Delivered to fox" in vip["summary"], vip["summary"]
    assert "10.96.0.10:8080 -> 192.168.202.11:80" in said(vip)
    # off the machine (a tun hands it to a program): stopped by the guard, nothing went out
    away = out["away"]
    assert away["outcome"] == "stopped" and "vpn0" in away["summary"], away["summary"]
    assert "tun/tap" in said(away)
    tunnel = out["tunnel"]
    assert tunnel["outcome"] == "stopped" and "vx9" in tunnel["summary"], tunnel["summary"]
    assert "encapsulated, to 10.200.0.7" in said(tunnel) and "through vpn0" in said(tunnel), said(tunnel)
    assert out["vpn0_tx"] == 0, "nothing went out of the machine, encapsulated or not"
    assert "lab_trace" not in out["tables_after"], "every trace removed its table"
    # SIGKILL: the tables stay, journaled; lab clean removes the machine's (fox's went with lab's namespace)
    assert out["killed_rc"] == -9
    assert "table ip lab_trace" in out["tables_killed"]
    assert "the tracer's nft table lab_trace in the machine's own namespace" in out["clean"], out["clean"]
    assert "lab_trace" not in out["tables_cleaned"]


# what every driver below starts with: `lab` is its argv, `sh` runs a real tool and stops on failure
DRIVER_HEAD = r'''
import json, os, re, subprocess, sys, time
lab = sys.argv[1:]
def sh(*argv):
    r = subprocess.run(list(argv), capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"{argv}: {r.stderr}")
    return r.stdout
'''

READ_ONLY_DRIVER = DRIVER_HEAD + r'''
def state():
    strip = lambda t: re.sub(r"(?m)counter packets \d+ bytes \d+|\[\d+:\d+\]|^#.*$", "", t)
    # (IPv4: IPv6 link-local addresses and their routes come and go on their own timer, DAD)
    return {"links": sh("ip", "-d", "link"), "addrs": sh("ip", "-4", "addr"),
            "routes": sh("ip", "-4", "route", "show", "table", "all"),
            "rules": sh("ip", "rule"), "netns": re.sub(r" \(id: \d+\)", "", sh("ip", "netns", "list")),
            "red": sh("ip", "-n", "red", "-d", "link") + sh("ip", "-n", "red", "-4", "addr")
            + sh("ip", "-n", "red", "-4", "route"),
            "iptables": strip(sh("iptables-save")), "nft": strip(sh("nft", "list", "ruleset")),
            "forward": open("/proc/sys/net/ipv4/ip_forward").read()}
sh("mount", "-t", "tmpfs", "lab-read-only", "/run/netns")
sh("ip", "link", "set", "lo", "up")
sh("ip", "netns", "add", "red")
sh("ip", "link", "add", "veth-m", "type", "veth", "peer", "name", "veth-red", "netns", "red")
sh("ip", "addr", "add", "10.77.0.1/24", "dev", "veth-m")
sh("ip", "link", "set", "veth-m", "up")
sh("ip", "-n", "red", "addr", "add", "10.77.0.2/24", "dev", "veth-red")
sh("ip", "-n", "red", "link", "set", "veth-red", "up")
sh("iptables", "-A", "INPUT", "-s", "10.77.0.0/24", "-j", "ACCEPT")
import time
end = time.monotonic() + 30       # both ends of the veth up and with carrier before the state is taken
while "NO-CARRIER" in sh("ip", "link", "show", "veth-m") + sh("ip", "-n", "red", "link", "show", "veth-red"):
    assert time.monotonic() < end, "the veth never got its carrier"
    time.sleep(0.05)
before = state()
out = {}
r = subprocess.run(lab + ["--host", "--read-only", "run", "--keep-going", "-"], capture_output=True, text=True,
                   input="ip link add x0 type veth peer name x1\nip netns add blue\niptables -F\n"
                         "sysctl -w net.ipv4.ip_forward=1\nip -n red addr\nip netns exec red bash -c true\n"
                         "ip netns exec red ping -c 1 -W 2 10.77.0.1\n")
out["run"] = [r.returncode, r.stdout, r.stderr]
r = subprocess.run(lab + ["--host", "--read-only", "trace", "red", "icmp", "10.77.0.1"], capture_output=True, text=True)
out["trace"] = [r.returncode, r.stdout, r.stderr]
r = subprocess.run(lab + ["--host", "--read-only", "clean"], capture_output=True, text=True)
out["clean"] = [r.returncode, r.stderr]
r = subprocess.run(lab + ["--read-only", "run", "-"], capture_output=True, text=True, input="ip link\n")
out["sandbox"] = [r.returncode, r.stderr]
after = state()
out["same"] = {k: (v == after[k]) for k, v in before.items()}
import difflib
out["diff"] = {k: list(difflib.unified_diff(v.splitlines(), after[k].splitlines(), lineterm="", n=0))
               for k, v in before.items() if v != after[k]}
out["nsids"] = sh("ip", "netns", "list-id")
print(json.dumps(out))
'''


def test_read_only_refuses_every_change_and_leaves_the_machine_as_it_was(tmp_path):
    """lab --host --read-only (what lab attach opens): changes are refused with the command named and nothing
    changed; show commands, ping and the tracer work (the tracer says what it changed: its own table, removed
    after, and nsids); afterwards links, addresses, routes, rules, iptables, nft and sysctls are as before."""
    out = on_a_machine(tmp_path, READ_ONLY_DRIVER)
    rc, stdout, stderr = out["run"]
    assert rc == 1
    for line in ("ip link add x0 type veth peer name x1", "ip netns add blue", "iptables -F",
                 "sysctl -w net.ipv4.ip_forward=1"):
        assert f'read-only session: "{line}" would change the machine, so it is refused' in stderr, stderr
    assert '"bash" is not run here' in stderr
    assert "inet 10.77.0.2/24" in stdout, "show commands work"
    assert "1 received" in stdout, "ping runs (it only sends test traffic)"
    rc, stdout, stderr = out["trace"]
    assert rc == 0 and "result: answered" in stdout, stdout + stderr
    assert "read-only session: this trace's one change was its own nft table lab_trace" in stdout + stderr
    assert out["clean"][0] == 1 and "read-only" in out["clean"][1]
    assert out["sandbox"][0] == 1 and "use it with --host (or: lab attach)" in out["sandbox"][1]
    assert all(out["same"].values()), {k: v for k, v in out["diff"].items()}


DISCOVER_DRIVER = DRIVER_HEAD + r'''
# this "machine": its own /run (netns, docker's netns) and /var/lib (Docker's metadata), all private
sh("mount", "-t", "tmpfs", "lab-run", "/run")
sh("mount", "-t", "tmpfs", "lab-varlib", "/var/lib")
os.makedirs("/run/netns")
os.makedirs("/run/docker/netns")
sh("ip", "link", "set", "lo", "up")
sh("ip", "netns", "add", "plain")
# a Docker container: its namespace bind-mounted in /run/docker/netns, its name in Docker's metadata
open("/run/docker/netns/1f2e3d4c5b6a", "w").close()
sh("unshare", "--net=/run/docker/netns/1f2e3d4c5b6a", "true")
cid = "ab" * 32
os.makedirs(f"/var/lib/docker/containers/{cid}")
with open(f"/var/lib/docker/containers/{cid}/config.v2.json", "w") as f:
    json.dump({"ID": cid, "Name": "/web-1", "NetworkSettings": {"SandboxKey": "/var/run/docker/netns/1f2e3d4c5b6a"}}, f)
# a Kubernetes pod's, made by containerd/CRI-O through CNI: /run/netns/cni-UUID, the pod named in CNI's result cache
sh("ip", "netns", "add", "cni-5e6f7a8b-0c1d-2e3f-4a5b-6c7d8e9f0a1b")
os.makedirs("/var/lib/cni/results")
with open("/var/lib/cni/results/cbr0-" + "cd" * 32 + "-eth0", "w") as f:
    json.dump({"kind": "cniCacheV1", "containerId": "cd" * 32, "config": "e30=", "ifName": "eth0",
               "networkName": "cbr0", "netns": "/var/run/netns/cni-5e6f7a8b-0c1d-2e3f-4a5b-6c7d8e9f0a1b",
               "cniArgs": [["K8S_POD_NAMESPACE", "kube-system"], ["K8S_POD_NAME", "coredns-7db6d8ff4d-x2x9k"],
                           ["K8S_POD_INFRA_CONTAINER_ID", "cd" * 32]], "result": {"cniVersion": "1.0.0"}}, f)
# rootless podman's, in its user's runtime directory
os.makedirs("/run/user/1000/netns")
open("/run/user/1000/netns/rootless-netns-9a8b", "w").close()
sh("unshare", "--net=/run/user/1000/netns/rootless-netns-9a8b", "true")
# a namespace held only by a process, with a veth to the machine
holder = subprocess.Popen(["unshare", "--net", "sleep", "600"])
end = time.monotonic() + 30
while os.stat(f"/proc/{holder.pid}/ns/net").st_ino == os.stat("/proc/self/ns/net").st_ino:
    assert time.monotonic() < end
    time.sleep(0.02)
pid = holder.pid      # (unshare execs sleep: the same process)
sh("ip", "link", "add", "vh", "type", "veth", "peer", "name", "vc")
sh("ip", "link", "set", "vc", "netns", str(pid))
sh("ip", "addr", "add", "10.88.0.1/24", "dev", "vh")
sh("ip", "link", "set", "vh", "up")
sh("nsenter", "-t", str(pid), "-n", "ip", "addr", "add", "10.88.0.2/24", "dev", "vc")
sh("nsenter", "-t", str(pid), "-n", "ip", "link", "set", "vc", "up")
sh("nsenter", "-t", str(pid), "-n", "ip", "link", "set", "lo", "up")
out = {"pid": pid}
r = subprocess.run(lab + ["--host", "run", "--keep-going", "-"], capture_output=True, text=True,
                   input=f"ip -n sleep-{pid} -br addr\nip -n web-1 -br link\nsleep-{pid} ping -c 1 -W 5 10.88.0.1\n"
                         "ip -n coredns-7db6d8ff4d-x2x9k -br link\nip -n cni-5e6f7a8b-0c1d-2e3f-4a5b-6c7d8e9f0a1b -br link\n"
                         "ip netns del web-1\nip netns list\n")
out["run"] = [r.returncode, r.stdout, r.stderr]
r = subprocess.run(lab + ["--host", "trace", f"sleep-{pid}", "icmp", "10.88.0.1"], capture_output=True, text=True)
out["trace"] = [r.returncode, r.stdout, r.stderr]
code = ("import json, os, sys, time\nfrom lab.engine import setup\ne = setup(True)\n"
        "seen = [e.backend.namespaces()]\nprint(json.dumps(seen[0]), flush=True)\nsys.stdin.readline()\n"
        "end = time.monotonic() + 30\n"
        "while time.monotonic() < end and e.backend.namespaces() == seen[0]:\n    time.sleep(0.05)\n"
        "print(json.dumps(e.backend.namespaces()), flush=True)\n")
p = subprocess.Popen([lab[0], "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
out["listed"] = json.loads(p.stdout.readline())
holder.kill()
holder.wait()
p.stdin.write("go\n")
p.stdin.flush()
out["after"] = json.loads(p.stdout.readline())
p.wait()
print(json.dumps(out))
'''


def test_host_finds_every_namespace_and_names_it_as_its_users_know_it(tmp_path):
    """A "machine" (unshare --net --mount --pid: its own /proc, /run and /var/lib) with a namespace in /run/netns,
    a Docker container's (its file in /run/docker/netns, its name in Docker's metadata), a Kubernetes pod's made
    through CNI (/run/netns/cni-UUID, the pod's name in CNI's result cache) and one held only by a
    sleeping process: lab --host lists them all, by the names plain, web-1, the pod's and sleep-PID; commands and the
    tracer address them by those names; ip netns del leaves the container's alone, saying why; when the process
    ends, its namespace goes from the list."""
    out = on_a_machine(tmp_path, DISCOVER_DRIVER, own_pids=True)
    pid = out["pid"]
    assert set(out["listed"]) == {"plain", "web-1", "rootless-netns-9a8b", f"sleep-{pid}",
                                  "coredns-7db6d8ff4d-x2x9k"}, out["listed"]
    assert f"sleep-{pid}" not in out["after"] and {"plain", "web-1"} <= set(out["after"]), out["after"]
    rc, stdout, stderr = out["run"]
    assert "10.88.0.2/24" in stdout and "lo " in stdout and "1 received" in stdout, stdout + stderr
    assert "web-1 is Docker container web-1's namespace, not a namespace in /run/netns" in stderr, stderr
    assert stdout.count("lo ") == 4, stdout + stderr        # web-1's, the pod's under both of its names, (and sleep's)
    assert stdout.rstrip().splitlines()[-2:] == ["plain", "cni-5e6f7a8b-0c1d-2e3f-4a5b-6c7d8e9f0a1b"], \
        "ip netns list shows /run/netns, as iproute2 does (newest first)"
    rc, stdout, stderr = out["trace"]
    assert rc == 0 and "result: answered" in stdout, stdout + stderr
    assert f"[sleep-{pid}]" in stdout
