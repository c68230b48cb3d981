"""iptables and sysctl on the real kernel: rules read back with the real iptables-nft-save / nft,
malformed rules change nothing, and a DROP rule really drops traffic between test namespaces."""
from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.commands import parse
from lab.commands.base import Context, ParseError
from lab.errors import LabError
from tests.conftest import kernel, run_ok


def rules(ns=None, table="filter"):
    return [line for line in kernel(ns, "iptables-nft-save", "-t", table).splitlines() if line.startswith(("-A", ":"))]


def two_namespaces(lab):
    run_ok(lab, "ip netns add red", "ip netns add blue",
           "ip link add veth-red netns red type veth peer name veth-blue netns blue",
           "red ip addr add 192.168.15.1/24 dev veth-red", "blue ip addr add 192.168.15.2/24 dev veth-blue",
           "red ip link set veth-red up", "blue ip link set veth-blue up")


def test_nat_rules_masquerade_and_dnat(lab):
    run_ok(lab, "iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE",
           "iptables -t nat -A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 192.168.15.2:8080")
    got = rules(None, "nat")
    assert "-A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE" in got
    assert "-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 192.168.15.2:8080" in got
    assert "masquerade" in kernel(None, "nft", "list", "ruleset")


@pytest.mark.parametrize("bad,words", [
    ("iptables -A INPUT --dport 80 -j ACCEPT", ["--dport", "-p tcp"]),
    ("iptables -A INPUT -p tcp –dport 80 -j ACCEPT", ["long dash", "--dport"]),
    ("iptables -A FORWARD -j DNAT --to-destination 10.0.0.1", ["nat table"]),
    ("iptables -t nat -A POSTROUTING -j DNAT --to-destination 10.0.0.1", ["not valid in the POSTROUTING"]),
    ("iptables -t nat -A PREROUTING -j DNAT --to-destination 10.0.0.1:80", ["Need TCP", "-p tcp"]),
    ("iptables -t nat -A PREROUTING -p tcp -j DNAT", ["--to-destination"]),
    ("iptables -t nat -A PREROUTING -j DROP", ["not intended for filtering"]),
    ("iptables -P FORWARD REJECT", ["Bad policy"]),
    ("iptables -t nat -P KUBE-X ACCEPT", ["built-in"]),
    ("iptables -t bogus -L", ["Table does not exist"]),
    ("iptables -A INPUT -m statistic --mode random --probability 2 -j ACCEPT", ["between 0 and 1"]),
    ("iptables -A INPUT -m conntrack --ctstate NEWW -j ACCEPT", ["ctstate"]),
    ("iptables -A INPUT --ctstate NEW -j ACCEPT", ["-m conntrack"]),
    ("iptables -A INPUT -p tcp --dport 99999 -j ACCEPT", ["port"]),
    ("iptables -A INPUT -s 10.0.0.300 -j ACCEPT", ["not found"]),
    ("iptables -A OUTPUT -i eth0 -j ACCEPT", ["-o"]),
    ("iptables -N fwd", ["nft keyword"]),
    ("iptables -t nat -A POSTROUTING -j MASQUERADE --or-mark 1", ["MARK"]),
])
def test_malformed_rules_are_rejected_and_change_nothing(lab, bad, words):
    before = rules(None, "filter") + rules(None, "nat")
    r = lab.run(bad)
    assert not r.ok
    for w in words:
        assert w in r.error, r.error
    assert rules(None, "filter") + rules(None, "nat") == before


def test_user_chains_jumps_delete_by_spec_and_number(lab):
    r = lab.run("iptables -t nat -A KUBE-SERVICES -j RETURN")
    assert not r.ok and "Create it first: iptables -t nat -N KUBE-SERVICES" in r.error
    r = lab.run("iptables -t nat -A PREROUTING -j KUBE-SERVICES")
    assert not r.ok and "KUBE-SERVICES" in r.error
    run_ok(lab, "iptables -t nat -N KUBE-SERVICES", "iptables -t nat -N KUBE-SVC-A",
           "iptables -t nat -A PREROUTING -j KUBE-SERVICES",
           "iptables -t nat -A KUBE-SERVICES -d 10.96.0.10/32 -p tcp --dport 80 -j KUBE-SVC-A",
           "iptables -t nat -A KUBE-SVC-A -m statistic --mode random --probability 0.33333 -j RETURN",
           "iptables -A INPUT -p icmp -j ACCEPT", "iptables -I INPUT 1 -p udp --dport 53 -j ACCEPT",
           "iptables -A INPUT -m comment --comment 'hello world' -j ACCEPT")
    got = rules(None, "filter")
    assert got.index("-A INPUT -p udp -m udp --dport 53 -j ACCEPT") < got.index("-A INPUT -p icmp -j ACCEPT")
    assert '-A INPUT -m comment --comment "hello world" -j ACCEPT' in got
    nat = rules(None, "nat")
    assert ":KUBE-SVC-A - [0:0]" in nat and any("--probability 0.3333" in link for link in nat)
    run_ok(lab, "iptables -D INPUT -p icmp -j ACCEPT", "iptables -D INPUT 1")
    assert rules(None, "filter") == [":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
                                     '-A INPUT -m comment --comment "hello world" -j ACCEPT']
    r = lab.run("iptables -t nat -X KUBE-SVC-A")
    assert not r.ok and "-F" in r.error
    run_ok(lab, "iptables -t nat -F KUBE-SERVICES", "iptables -t nat -F KUBE-SVC-A", "iptables -t nat -X KUBE-SVC-A")
    assert not any("KUBE-SVC-A" in link for link in rules(None, "nat"))


def test_policy_list_and_line_numbers(lab):
    run_ok(lab, "iptables -P FORWARD DROP", "iptables -A FORWARD -s 10.1.0.0/16 -j ACCEPT")
    assert ":FORWARD DROP [0:0]" in rules()
    out = lab.run("iptables -L FORWARD -n -v --line-numbers").output
    assert "Chain FORWARD (policy DROP" in out and "\n1 " in out and "10.1.0.0/16" in out
    assert "-P FORWARD DROP" in lab.run("iptables -S").output
    assert lab.run("iptables -nvL").ok


def test_save_restore_roundtrip_in_a_namespace(lab, tmp_path):
    run_ok(lab, "ip netns add red", "red iptables -A INPUT -p tcp --dport 22 -j ACCEPT",
           "red iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE")
    saved = lab.run("ip netns exec red iptables-save").output
    f = tmp_path / "rules.v4"
    f.write_text(saved + "\n")
    run_ok(lab, "red iptables -F", "red iptables -t nat -F")
    assert not [line for line in rules("red") if line.startswith("-A")]
    run_ok(lab, f"red iptables-restore {f}")
    assert "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT" in rules("red")
    assert "-A POSTROUTING -o eth0 -j MASQUERADE" in rules("red", "nat")
    assert rules(None) == [":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"] or not \
        [line for line in rules(None) if line.startswith("-A")]


def test_drop_rule_really_drops_and_delete_restores(lab):
    two_namespaces(lab)
    assert lab.run("red ping -c1 -W2 192.168.15.2").ok
    run_ok(lab, "blue iptables -A INPUT -p icmp -j DROP")
    assert not lab.run("red ping -c1 -W1 192.168.15.2").ok
    counters = kernel("blue", "iptables-nft", "-L", "INPUT", "-v", "-x", "-n")
    assert " DROP " in counters and not counters.split("\n")[2].strip().startswith("0 ")
    run_ok(lab, "blue iptables -D INPUT -p icmp -j DROP")
    assert lab.run("red ping -c1 -W2 192.168.15.2").ok


def test_chains_snapshot_has_policies_and_counters(lab):
    two_namespaces(lab)
    run_ok(lab, "blue iptables -A INPUT -p icmp -j ACCEPT", "red ping -c2 -i0.2 -W2 192.168.15.2")
    st = lab.backend.snapshot(["blue"])
    chains = {(c.table, c.name): c for c in st.namespaces[0].chains}
    inp = chains[("filter", "INPUT")]
    assert inp.policy == "ACCEPT" and inp.rules[0].target == "ACCEPT" and inp.rules[0].packets >= 2


# ---- sysctl ------------------------------------------------------------------------------------------
def test_sysctl_is_per_namespace(lab):
    run_ok(lab, "ip netns add red")
    assert lab.run("red sysctl -w net.ipv4.ip_forward=1").output == "net.ipv4.ip_forward = 1"
    assert kernel("red", "cat", "/proc/sys/net/ipv4/ip_forward").strip() == "1"
    assert kernel(None, "cat", "/proc/sys/net/ipv4/ip_forward").strip() == "0"
    assert lab.run("sysctl -n net.ipv4.ip_forward").output == "0"
    run_ok(lab, "ip netns exec red sysctl -w net.ipv4.conf.all.rp_filter=2 net/ipv4/conf/all/send_redirects=0")
    assert kernel("red", "cat", "/proc/sys/net/ipv4/conf/all/rp_filter").strip() == "2"
    assert "net.bridge.bridge-nf-call-iptables = 1" in lab.run("red sysctl net.bridge.bridge-nf-call-iptables").output


def test_sysctl_device_names_with_dots_both_spellings_like_procps(lab):
    """A dot inside a device name (eth0.100): '/' stands for it in the dotted spelling, and the slash
    spelling keeps it, as procps sysctl does; -a prints the dotted spelling, as sysctl -a does."""
    run_ok(lab, "ip netns add red", "ip -n red link add v.1 type veth peer name v.2")
    assert lab.run("red sysctl -w net.ipv4.conf.v/1.rp_filter=2").output == "net.ipv4.conf.v/1.rp_filter = 2"
    assert kernel("red", "cat", "/proc/sys/net/ipv4/conf/v.1/rp_filter").strip() == "2"
    run_ok(lab, "red sysctl -w net/ipv4/conf/v.2/rp_filter=1")
    assert kernel("red", "cat", "/proc/sys/net/ipv4/conf/v.2/rp_filter").strip() == "1"
    assert lab.run("red sysctl -n net/ipv4/conf/v.1/rp_filter").output == "2"
    ours = lab.run("red sysctl -a v/1.rp_filter").output
    assert ours == "net.ipv4.conf.v/1.rp_filter = 2"
    assert ours in kernel("red", "sysctl", "-a").splitlines()   # procps spells it the same way


def test_sysctl_errors_change_nothing(lab):
    r = lab.run("sysctl -w net.ipv4.ip_forward=1 net.ipv4.ip_forwrd=1")
    assert not r.ok and "cannot stat" in r.error and 'did you mean "ip_forward"' in r.error
    assert kernel(None, "cat", "/proc/sys/net/ipv4/ip_forward").strip() == "0"
    r = lab.run("sysctl -w kernel.hostname=x")
    assert not r.ok and "outside net.*" in r.error
    r = lab.run("sysctl -w net.ipv4.ip_forward")
    assert not r.ok and "name=value" in r.error


CTX = Context(namespaces=("red",))
WORDS = ["-t", "nat", "filter", "raw", "-A", "-I", "-D", "-N", "-X", "-P", "-L", "-S", "-F", "INPUT", "FORWARD",
         "PREROUTING", "POSTROUTING", "KUBE-SVC", "-p", "tcp", "udp", "icmp", "--dport", "--sport", "80", "1:2",
         "-s", "10.0.0.0/8", "-d", "1.2.3.4", "-j", "ACCEPT", "DROP", "DNAT", "SNAT", "MASQUERADE", "REJECT",
         "--to-destination", "10.0.0.1:80", "--to-source", "-m", "conntrack", "--ctstate", "NEW,ESTABLISHED",
         "statistic", "--mode", "random", "--probability", "0.5", "multiport", "--dports", "80,443", "comment",
         "--comment", "x", "!", "-i", "-o", "eth0", "-n", "-v", "--line-numbers", "1", "-nvL", "--reject-with",
         "tcp-reset", "LOG", "--log-prefix", "", "-", "--", "icmpv6", "--icmpv6-type", "--icmp-type", "128",
         "fd00::/64", "[fd00::2]:8080", "[fd00::2", "icmp6-adm-prohibited", "icmp6"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=12))
def test_iptables_parser_is_total(words):
    for head in ("iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore",
                 "sysctl"):
        try:
            parse(head + " " + " ".join(w if w else "''" for w in words), CTX)
        except (ParseError, LabError):
            pass


def test_ip6tables_rules_apply_and_wrong_family_is_refused(lab):
    """ip6tables: the same validation before anything applies, with IPv6 addresses, ICMPv6 and its reject
    types, [addr]:port NAT targets; the IPv4 spellings are refused with the fix, and nothing changes."""
    run_ok(lab, "ip6tables -A INPUT -p icmpv6 --icmpv6-type echo-request -j ACCEPT",
           "ip6tables -A INPUT -s fd00::/64 -p tcp --dport 22 -j REJECT --reject-with icmp6-adm-prohibited",
           "ip6tables -t nat -A PREROUTING -p tcp --dport 80 -j DNAT --to-destination [fd00::2]:8080",
           "ip6tables -P FORWARD DROP")
    v6 = kernel(None, "ip6tables-nft", "-S")
    assert "-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT" in v6 and "-P FORWARD DROP" in v6
    assert "--to-destination [fd00::2]:8080" in kernel(None, "ip6tables-nft", "-t", "nat", "-S")
    assert "-A INPUT" not in kernel(None, "iptables-nft", "-S")            # IPv4 untouched
    assert "icmp6-adm-prohibited" in lab.run("ip6tables-save").output
    before = [kernel(None, "ip6tables-nft", "-t", t, "-S") for t in ("filter", "nat")]
    for line, words in (("ip6tables -A INPUT -s 10.0.0.0/8 -j DROP", "use iptables for it"),
                        ("ip6tables -A INPUT -p icmp --icmp-type 8 -j DROP", "--icmpv6-type"),
                        ("iptables -A INPUT -p icmpv6 --icmpv6-type 128 -j DROP", "--icmp-type"),
                        ("ip6tables -A INPUT -p tcp -j REJECT --reject-with icmp-port-unreachable", "icmp6-port-unreachable"),
                        ("ip6tables -t nat -A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80", "[fd00::2]:8080"),
                        ("iptables -A INPUT -d fd00::1 -j DROP", "use ip6tables")):
        r = lab.run(line)
        assert not r.ok and words in r.error, (line, r.error)
        assert r.error.startswith("ip6tables v1.8" if line.startswith("ip6") else "iptables v1.8")
    assert [kernel(None, "ip6tables-nft", "-t", t, "-S") for t in ("filter", "nat")] == before   # nothing applied
    r = lab.run("ip6tables -A NOPE -j ACCEPT")       # the kernel-side errors name the IPv6 tool in the fix
    assert not r.ok and "Create it first: ip6tables -N NOPE" in r.error


def test_kube_proxy_mark_forms(lab):
    run_ok(lab, "iptables -t nat -N KUBE-MARK-MASQ", "iptables -t nat -A KUBE-MARK-MASQ -j MARK --or-mark 0x4000")
    assert "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000" in rules(None, "nat")


@pytest.mark.parametrize("line", ["iptables -h", "iptables -m tcp --help", "iptables -p udp -j DNAT -h",
                                  "ip6tables -m hl -h", "iptables -V"])
def test_help_is_iptables_own_text(lab, line):
    """Help is not refused ("no command specified"): iptables-nft prints it, with the extensions' options."""
    r = lab.run(line)
    assert r.ok, r.error
    real = subprocess.run([line.split()[0] + "-nft", *line.split()[1:]], capture_output=True, text=True, timeout=30)
    assert r.output == real.stdout.rstrip("\n") and r.output


def test_sysctl_options_as_procps_and_live_keys_completed(lab):
    """Every option completion offers parses; -N prints names as procps does; completion offers the
    namespace's own keys (its devices' conf.* entries), not only a fixed list."""
    from lab.commands import sysctl
    from lab.commands.complete import LabCompleter

    run_ok(lab, "ip netns add red", "ip -n red link add vk0 type veth peer name vk1")
    for o in sysctl.OPTIONS:
        r = lab.run(f"red sysctl {o} net.ipv4.ip_forward" + ("=0" if o == "-w" else ""))
        assert r.ok, (o, r.error)
    assert lab.run("red sysctl -N net.ipv4.ip_forward").output == kernel("red", "sysctl", "-N", "net.ipv4.ip_forward").strip()
    got = LabCompleter(lab).candidates("red sysctl net.ipv4.conf.vk")[1]
    assert "net.ipv4.conf.vk0.rp_filter" in got and "net.ipv4.conf.vk1.forwarding=" in got


def test_chain_names_completed_from_the_kernel(lab):
    """Completion offers the table's builtin chains and the namespace's own user chains (read through the
    backend's iptables reader), not another namespace's."""
    from lab.commands.complete import LabCompleter

    run_ok(lab, "ip netns add red", "ip netns add blue", "ip netns exec red iptables -t nat -N KUBE-SVC-X",
           "ip netns exec blue iptables -t nat -N ONLY-BLUE")
    got = LabCompleter(lab).candidates("red iptables -t nat -A ")[1]
    assert "KUBE-SVC-X" in got and "PREROUTING" in got and "ONLY-BLUE" not in got
