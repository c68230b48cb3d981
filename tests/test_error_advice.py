"""Error advice names the fix: the tool the user typed, the target/kind/object they meant. Each refusal keeps
the real tool's first line, adds lab's advice under it, and changes nothing in the kernel."""
from __future__ import annotations

from lab.commands import ip as ip_cmd
from lab.errors import did_you_mean
from tests.conftest import kernel, run_ok

def rules(ns=None) -> list[str]:
    """iptables-nft-save without its timestamped comments."""
    return [x for x in kernel(ns, "iptables-nft-save").splitlines() if not x.startswith("#")]


TBF = "root tbf rate 1mbit burst 32kbit latency 400ms"
ALL_KINDS = "Link types: " + ", ".join(ip_cmd.LINK_KINDS)


def test_device_in_other_namespace_names_the_tool_typed(lab):
    run_ok(lab, "ip netns add red", "ip link add veth-red netns red type veth peer name veth-blue")
    r = lab.run(f"tc qdisc add dev veth-red {TBF}")
    assert r.error == ('Cannot find device "veth-red"\n'
                       '"veth-red" is in namespace "red": use tc -n red ... (or red tc ...)')
    assert "tbf" not in kernel("red", "tc", "qdisc", "show", "dev", "veth-red")
    assert "tbf" not in kernel(None, "tc", "qdisc", "show")
    r = lab.run("bridge fdb add 00:11:22:33:44:55 dev veth-red")
    assert r.error == ('Cannot find device "veth-red"\n'
                       '"veth-red" is in namespace "red": use bridge -n red ... (or red bridge ...)')
    assert "00:11:22:33:44:55" not in kernel("red", "bridge", "fdb", "show")
    r = lab.run("ip addr add 10.0.0.1/24 dev veth-red")
    assert r.error == ('Cannot find device "veth-red"\n'
                       '"veth-red" is in namespace "red": use ip -n red ... (or red ip ...)')
    assert "10.0.0.1" not in kernel("red", "ip", "addr")
    # both suggested forms are accepted by lab's parsers and work
    run_ok(lab, f"tc -n red qdisc add dev veth-red {TBF}", "red tc qdisc del dev veth-red root",
           f"red tc qdisc add dev veth-red {TBF}", "bridge -n red fdb show dev veth-red")
    assert "tbf" in kernel("red", "tc", "qdisc", "show", "dev", "veth-red")
    # a look-alike device here is not offered when the very name lives elsewhere; a plain typo still is
    r = lab.run(f"tc qdisc add dev veth-bleu {TBF}")
    assert r.error == 'Cannot find device "veth-bleu" — did you mean "veth-blue"?\nDevices here: lo, veth-blue'


def test_iptables_target_typo_suggests_the_target(lab):
    before = rules()
    r = lab.run("iptables -A INPUT -j DROPP")
    assert r.error == ("iptables v1.8.9 (nf_tables): Chain 'DROPP' does not exist\n"
                       'Target "DROPP" is neither a target nor a chain of table filter — did you mean "DROP"?')
    r = lab.run("iptables -A INPUT -j drop")
    assert r.error == ("iptables v1.8.9 (nf_tables): Chain 'drop' does not exist\n"
                       'Target "drop" is neither a target nor a chain of table filter — did you mean "DROP"?')
    r = lab.run("iptables -A INPUT -p tcp -j REJECTT --reject-with tcp-reset")
    assert r.error == ('iptables v1.8.9 (nf_tables): unknown option "--reject-with"\n'
                       '--reject-with is an option of REJECT, not of REJECTT — did you mean "REJECT"?')
    run_ok(lab, "iptables -N DROPPED")
    r = lab.run("iptables -A INPUT -j DROPPE")   # an existing chain is nearer than a builtin target
    assert r.error.endswith('did you mean "DROPPED"?')
    assert [x for x in rules() if x.startswith("-A")] == [x for x in before if x.startswith("-A")] == []


def test_link_kind_typo_keeps_iproute2_line_and_lists_every_kind(lab):
    r = lab.run("ip link add x type brige")
    assert r.error == 'Error: Unknown device type.\nLink type "brige" — did you mean "bridge"?\n' + ALL_KINDS
    r = lab.run("ip link add x type Bridge")
    assert r.error == 'Error: Unknown device type.\nLink type "Bridge" — did you mean "bridge"?\n' + ALL_KINDS
    r = lab.run("ip link add x type foo")
    assert r.error == "Error: Unknown device type.\n" + ALL_KINDS
    assert "TYPE := { " + " | ".join(ip_cmd.LINK_KINDS) + " }" in lab.run("ip link help").output
    assert "x" not in [line.split(":")[1].strip().split("@")[0] for line in kernel(None, "ip", "-o", "link").splitlines()]
    run_ok(lab, "ip link add y type veth peer name z")
    r = lab.run("ip link set y type brige")
    assert r.error == ('lab does not support "ip link set ... type brige" yet — did you mean "bridge"?\n'
                       "Supported: type bridge OPTIONS, type bridge_slave OPTIONS.")


def test_ip_object_typo_and_tool_in_two_words(lab):
    before = rules()
    r = lab.run("ip tables -A INPUT -j DROP")
    assert r.error == ('Object "tables" is unknown, try "ip help".\n'
                       '"ip tables" — did you mean "iptables"?\nTry: iptables -A INPUT -j DROP')
    r = lab.run("ip6 tables -L -n")
    assert r.error == 'Unknown command "ip6 tables" — did you mean "ip6tables"?\nTry: ip6tables -L -n'
    run_ok(lab, "ip netns add red")
    r = lab.run("red ip tables -S")
    assert r.error.endswith('"ip tables" — did you mean "iptables"?\nTry: red iptables -S')
    r = lab.run("ip lnik show")
    assert r.error == ('Object "lnik" is unknown, try "ip help".\n"ip lnik" — did you mean "ip link"?\n'
                       "Objects: address (a), link (l), route (r), neighbour (n), rule (ru), netns, tunnel")
    assert rules() == before


def test_did_you_mean_ignores_case_last():
    assert did_you_mean("drop", ["ACCEPT", "DROP"]) == ' — did you mean "DROP"?'
    assert did_you_mean("DROPP", ["ACCEPT", "DROP"]) == ' — did you mean "DROP"?'
    assert did_you_mean("iplnk", ["ip", "iptables"], cutoff=0.85, prefixes=False) == ""
    assert did_you_mean("lnik", ["link"], shown="ip {}") == ' — did you mean "ip link"?'


def test_a_full_bridge_says_how_many_ports_a_bridge_takes(lab):
    """The 1024th port: the kernel's EXFULL, as ip prints it, and why (BR_MAX_PORTS), with the way on."""
    lines = ["ip link add br0 type bridge"]
    for i in range(1024):
        lines += [f"ip link add p{i} type veth peer name q{i}", f"ip link set p{i} master br0"]
    rs = lab.run_lines(lines)
    bad = [r for r in rs if not r.ok]
    assert [r.line for r in bad] == ["ip link set p1023 master br0"], [(r.line, r.error) for r in bad[:3]]
    assert bad[0].error.startswith("RTNETLINK answers: Exchange full\n"), bad[0].error
    assert "1023 ports, the most a Linux bridge takes" in bad[0].error
    assert "master br0" not in kernel(None, "ip", "-o", "link", "show", "p1023")
