"""--host on a "machine" that is a private network namespace this test made (unshare --net --mount),
so even --host never touches the real root namespace: lab builds there, journals what it created,
and `lab clean` removes exactly that, leaving pre-existing namespaces, links and addresses alone."""
from __future__ import annotations

import subprocess
import sys

from tests import labproc

BUILD = """
ip netns add red
ip link add veth-host type veth peer name veth-red netns red
ip addr add 10.50.0.1/24 dev veth-host
ip link set veth-host up
ip -n red addr add 10.50.0.2/24 dev veth-red
ip -n red link set veth-red up
ip addr add 10.99.0.7/24 dev pre0
ip route add 10.60.0.0/16 via 10.50.0.2
ip neigh add 10.99.0.9 lladdr 02:00:00:00:00:09 dev pre0
ip rule add from 10.50.0.0/24 table 100 priority 1234
ip link add br-lab type bridge
ip link set br-lab name br-lab2
ip link add vmove type veth peer name vmove-peer
ip link set vmove netns red
sysctl -w net.ipv4.ip_forward=1
iptables -t nat -A POSTROUTING -s 10.50.0.0/24 -j MASQUERADE
iptables -N LAB-CHAIN
iptables -P FORWARD DROP
ip6tables -A INPUT -s fd00::/64 -j ACCEPT
ip6tables -P FORWARD DROP
bridge fdb add 02:00:00:00:00:42 dev pre1 master static
tc qdisc add dev pre0 root tbf rate 1mbit burst 32kb latency 50ms
"""

DUMP = r"""
dump() {
  echo "== $1"
  ip netns list | awk '{print "netns", $1}'
  ip -o link | awk -F': ' '{print "link", $2}' | sed 's/@.*//'
  ip -o -4 addr | awk '{print "addr", $2, $4}'
  ip route | sed 's/^/route /'
  ip neigh show | sed 's/^/neigh /'
  ip rule | sed 's/^/rule /'
  echo "forward $(cat /proc/sys/net/ipv4/ip_forward)"
  iptables-save | grep -E '^(-A|:LAB|:FORWARD)' | sed 's/^/ipt /' || true
  ip6tables-save | grep -E '^(-A|:LAB|:FORWARD)' | sed 's/^/ip6t /' || true
  bridge fdb show dev pre1 | grep 02:00:00:00:00:42 | sed 's/^/fdb /' || true
  tc qdisc show dev pre0
  nft list tables | sed 's/^/nft /'
  nft list ruleset | grep -E '^\s*(table|chain) ' | sed 's/^ */nftc /'
}
"""

DRIVER = r"""
set -e
mount -t tmpfs lab-host-test /run/netns
ip link set lo up
ip netns add unrelated
ip link add pre0 type veth peer name pre1
ip addr add 10.99.0.1/24 dev pre0
ip link add prebr type bridge
ip link set pre1 master prebr
echo 0 > /proc/sys/net/ipv4/ip_forward
iptables -A INPUT -s 10.123.0.0/16 -j ACCEPT
__DUMP__dump before
"$@" --host run "$BUILD" > /dev/null
dump built
"$@" clean
dump cleaned
echo "== again"
"$@" clean
""".replace("__DUMP__", DUMP)


def sections(out: str) -> dict[str, set[str]]:
    res: dict[str, set[str]] = {}
    cur = None
    for line in out.splitlines():
        if line.startswith("== "):
            cur = line[3:]
            res[cur] = set()
        elif cur:
            res[cur].add(line.strip())
    return res


def test_host_build_then_clean_removes_exactly_what_lab_made(tmp_path):
    build = tmp_path / "build.lab"
    build.write_text(BUILD)
    driver = tmp_path / "driver.sh"
    driver.write_text(DRIVER)
    env = labproc.env(LAB_STATE_DIR=str(tmp_path / "state"), BUILD=str(build))
    r = subprocess.run(["unshare", "--net", "--mount", "bash", str(driver), sys.executable, "-m", "lab"],
                       capture_output=True, text=True, timeout=120, cwd=labproc.ROOT, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    s = sections(r.stdout)
    before, built, cleaned = s["before"], s["built"], s["cleaned"]
    # built: everything is there
    assert any("MASQUERADE" in line for line in built) and "ipt :FORWARD DROP [0:0]" in built
    assert "ip6t -A INPUT -s fd00::/64 -j ACCEPT" in built and "ip6t :FORWARD DROP [0:0]" in built
    # the nf_tables tables the lab's first rules created go too; the one that was there stays
    assert {"nft table ip6 filter", "nft table ip nat"} <= built and "nft table ip filter" in before
    assert not {"nft table ip6 filter", "nft table ip nat"} & s["cleaned"]
    assert any(line.startswith("fdb 02:00:00:00:00:42") for line in built)
    assert any(line.startswith("qdisc tbf") for line in built)
    for want in ("netns red", "netns unrelated", "link veth-host", "addr pre0 10.99.0.7/24", "forward 1",
                 "link br-lab2"):
        assert want in built, (want, built)
    assert any(line.startswith("route 10.60.0.0/16 via 10.50.0.2") for line in built)
    assert any("10.99.0.9" in line for line in built if line.startswith("neigh"))
    assert any("1234:" in line for line in built)
    assert not any(line.startswith("link vmove") and line != "link vmove-peer" for line in built)
    # cleaned: exactly as before
    assert cleaned == before, f"left: {cleaned - before}\nremoved too much: {before - cleaned}"
    assert "Nothing to clean" in "\n".join(s["again"])
    assert "deleted namespace red" in r.stdout
