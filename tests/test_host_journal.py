"""--host never removes what it did not create (issue 9), on a "machine" that is a private network
namespace each test makes (unshare --net --mount, its own /run/netns), so even --host never touches the
real root namespace:

- a command the kernel refuses is not journaled as a creation: the machine's object of every kind
  survives the failed command plus `lab clean`;
- what lab deleted itself is retired: an object someone else makes later under that name survives;
- an object lab made but someone else replaced (same name, new identity) survives;
- a journal with unreadable lines is cleaned as far as it can be, with a report and a non-zero exit;
- a journal that is a symlink, has loose permissions, or lives in a directory not ours is refused;
  hostile fields (namespace names that are paths, sysctl keys outside net.) are never acted on;
- state directories are 0700 and /run/netns 0755 even under umask 000.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests import labproc

DUMP = r"""
dump() {
  echo "== $1"
  for n in $(ls /run/netns); do echo "netns $n $(stat -c %i /run/netns/$n)"; done
  ip -o link | awk '{print "link", $1, $2}' | sed 's/@[^ ]*//'
  ip -o addr | awk '{print "addr", $2, $4}' | grep -v ' fe80::'
  ip route show table all | grep -v '^local\|^broadcast\|^multicast\|^fe80\|^ff00' | sed 's/^/route /'
  ip neigh show | sed 's/^/neigh /'
  ip rule | sed 's/^/rule /'
  bridge fdb show | grep -E 'static|permanent' | grep -v -E '^(33:33|01:00:5e):' | sed 's/^/fdb /'  # not learned or multicast entries: traffic makes those
  tc qdisc show | sed 's/^/qdisc /'
  echo "forward $(cat /proc/sys/net/ipv4/ip_forward)"
  nft list ruleset | sed 's/^/nft /'
}
"""

PRELUDE = r"""
set -e
mount -t tmpfs lab-host-test /run/netns
ip link set lo up
lab() { "$PY" -m lab "$@"; }
""" + DUMP


def machine(tmp_path, script: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `script` (bash) on a private "machine": its own network and mount namespaces and /run/netns;
    `lab` is this checkout, its state directory under tmp_path."""
    driver = tmp_path / "driver.sh"
    driver.write_text(PRELUDE + script)
    env = labproc.env(LAB_STATE_DIR=str(tmp_path / "state"), PY=sys.executable)
    return subprocess.run(["unshare", "--net", "--mount", "bash", str(driver)], capture_output=True, text=True,
                          timeout=timeout, cwd=labproc.ROOT, env=env)


def sections(out: str) -> dict[str, list[str]]:
    res: dict[str, list[str]] = {}
    cur = None
    for line in out.splitlines():
        if line.startswith("== "):
            cur = line[3:]
            res[cur] = []
        elif cur:
            res[cur].append(line.rstrip())
    return res


MACHINE = r"""
ip netns add unrelated
ip link add pre0 type veth peer name pre1
ip link add prebr type bridge
ip link set pre1 master prebr
ip link set pre0 up; ip link set pre1 up; ip link set prebr up
ip addr add 198.51.100.1/24 dev pre0
ip addr add 10.99.0.1/24 dev pre0
ip route add default via 198.51.100.254
ip route add 10.60.0.0/16 via 198.51.100.2 table 100
ip neigh add 10.99.0.9 lladdr 02:00:00:00:00:09 dev pre0
ip rule add from 10.1.0.0/24 table 100 priority 1234
ip rule add fwmark 7 table 100
bridge fdb add 02:00:00:00:00:42 dev pre1 master static
tc qdisc add dev pre0 root tbf rate 1mbit burst 32kb latency 50ms
iptables -N EXISTING
iptables -A EXISTING -s 10.123.0.0/16 -j ACCEPT
iptables -A INPUT -j EXISTING
"""

FAILING = """\
ip route add default via 198.51.100.254
ip route add 10.60.0.0/16 via 198.51.100.2 table 100
ip link add pre0 type veth peer name newpeer
ip link add newv type veth peer name pre1
ip link add prebr type bridge
brctl addbr prebr
ip addr add 10.99.0.1/24 dev pre0
ip neigh add 10.99.0.9 lladdr 02:00:00:00:00:09 dev pre0
ip rule add from 10.1.0.0/24 table 100 priority 1234
bridge fdb add 02:00:00:00:00:42 dev pre1 master static
tc qdisc add dev pre0 root tbf rate 2mbit burst 32kb latency 50ms
iptables -N EXISTING
ip netns add unrelated
"""


def test_failed_commands_are_not_journaled_and_clean_leaves_the_machine_alone(tmp_path):
    (tmp_path / "failing.lab").write_text(FAILING)
    r = machine(tmp_path, MACHINE + f"""
dump before
lab --host run --keep-going {tmp_path}/failing.lab > {tmp_path}/run.out 2>&1 || true
lab clean > {tmp_path}/clean.out 2>&1 && echo 0 > {tmp_path}/clean.rc || echo $? > {tmp_path}/clean.rc
dump after
""")
    assert r.returncode == 0, r.stdout + r.stderr
    s = sections(r.stdout)
    run_out = (tmp_path / "run.out").read_text()
    assert run_out.count("File exists") + run_out.count("already exists") + run_out.count("Exclusivity") >= 10, run_out
    assert s["before"] == s["after"], "\n".join(sorted(set(s["before"]) ^ set(s["after"])))
    assert (tmp_path / "clean.rc").read_text().strip() == "0", (tmp_path / "clean.out").read_text()
    # the journal says why: every entry failed, none confirmed
    journal = tmp_path / "state" / "host-journal.jsonl"
    assert not journal.exists()   # clean cleared it


def test_what_lab_deleted_itself_is_retired_and_recreations_by_others_survive(tmp_path):
    build = tmp_path / "build.lab"
    build.write_text("""\
ip netns add labns
ip netns del labns
ip link add lablink type veth peer name lablink-p
ip link del lablink
ip addr add 10.98.0.1/24 dev pre0
ip addr del 10.98.0.1/24 dev pre0
ip route add 10.77.0.0/16 via 198.51.100.9
ip route del 10.77.0.0/16
ip neigh add 10.99.0.50 lladdr 02:00:00:00:00:50 dev pre0
ip neigh del 10.99.0.50 dev pre0
ip rule add from 10.2.0.0/24 table 100
ip rule del from 10.2.0.0/24 table 100
iptables -A INPUT -s 10.5.0.0/16 -j ACCEPT
iptables -D INPUT -s 10.5.0.0/16 -j ACCEPT
iptables -N LABCHAIN
iptables -X LABCHAIN
tc qdisc add dev pre1 root tbf rate 1mbit burst 32kb latency 50ms
tc qdisc del dev pre1 root
ip netns add stolen
ip link add stolenlink type veth peer name stolenlink-p
""")
    r = machine(tmp_path, MACHINE + f"""
lab --host run {build}
# someone else, afterwards: the same names, their own objects
ip netns add labns
ip link add lablink type veth peer name lablink-p
ip addr add 10.98.0.1/24 dev pre0
ip route add 10.77.0.0/16 via 198.51.100.9
ip neigh add 10.99.0.50 lladdr 02:00:00:00:00:50 dev pre0
ip rule add from 10.2.0.0/24 table 100
iptables -A INPUT -s 10.5.0.0/16 -j ACCEPT
iptables -N LABCHAIN
tc qdisc add dev pre1 root tbf rate 1mbit burst 32kb latency 50ms
# and they replace two of lab's objects with their own (same names, new identity)
ip netns del stolen; ip netns add stolen
ip link del stolenlink; ip link add stolenlink type veth peer name stolenlink-p
dump before
lab clean > {tmp_path}/clean.out 2>&1 && echo 0 > {tmp_path}/clean.rc || echo $? > {tmp_path}/clean.rc
dump after
""")
    assert r.returncode == 0, r.stdout + r.stderr
    s = sections(r.stdout)
    after = s["after"]
    assert s["before"] == after, "\n".join(sorted(set(s["before"]) ^ set(after)))
    assert (tmp_path / "clean.rc").read_text().strip() == "0", (tmp_path / "clean.out").read_text()
    assert any(line.startswith("netns labns") for line in after) and any(line.startswith("netns stolen") for line in after)
    assert any(" stolenlink" in line for line in after) and any(" lablink" in line for line in after)


def _ok_entry(eid: str, **fields) -> str:
    return json.dumps({"id": eid, **fields}) + "\n" + json.dumps({"ok": eid}) + "\n"


def test_journal_with_bad_lines_is_cleaned_as_far_as_possible_with_a_report(tmp_path):
    state = tmp_path / "state"
    r = machine(tmp_path, f"""
echo "ip netns add first" | lab --host run -
echo "ip link add firstlink type veth peer name firstlink-p" | lab --host run -
J={state}/host-journal.jsonl
printf '["an", "array"]\\n' >> $J
printf '{{"id": "noname", "kind": "netns"}}\\n{{"ok": "noname"}}\\n' >> $J
printf '\\xff\\xfe not utf-8\\n' >> $J
printf '{{"id": "cut", "kind": "link", "na' >> $J
printf '\\n' >> $J
printf '{{"kind": "netns", "name": "old-format"}}\\n' >> $J
echo "ip netns add second" | lab --host run -
echo "ip link add secondlink type veth peer name secondlink-p" | lab --host run -
dump built
lab clean > {tmp_path}/clean.out 2>&1 && echo 0 > {tmp_path}/clean.rc || echo $? > {tmp_path}/clean.rc
dump cleaned
""")
    assert r.returncode == 0, r.stdout + r.stderr
    out = (tmp_path / "clean.out").read_text()
    s = sections(r.stdout)
    built = "\n".join(s["built"])
    assert "netns first" in built and "netns second" in built and " secondlink" in built
    cleaned = "\n".join(s["cleaned"])
    for gone in ("netns first", "netns second", " firstlink", " secondlink"):
        assert gone not in cleaned, (gone, cleaned, out)
    assert (tmp_path / "clean.rc").read_text().strip() == "1", out
    assert "Traceback" not in out
    for bad in ("a JSON list", "bad namespace name", "not UTF-8", "cut short", "without an id"):
        assert bad in out, (bad, out)
    assert "deleted namespace first" in out and "deleted namespace second" in out


def test_hostile_fields_and_files_are_never_acted_on(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    j = state / "host-journal.jsonl"
    entries = (_ok_entry("a", kind="netns", name=str(victim), ns="", ino=1)
               + _ok_entry("b", kind="netns", name="../../" + str(victim).lstrip("/"), ns="")
               + _ok_entry("c", kind="sysctl", ns="", nsino="TOP", key="../../../" + str(victim).lstrip("/"),
                           old="pwned", new="0")
               + _ok_entry("d", kind="sysctl", ns="", nsino="TOP", key="kernel.hostname", old="pwned", new="x")
               + _ok_entry("e", kind="link", ns="../x", name="pre0", ifindex=1)
               + _ok_entry("f", kind="netns", name="plainfile", ns="", ino="PLAIN")
               + _ok_entry("g", kind="iptables", ns="", nsino="TOP", table="filter; rm -rf /", chain="INPUT", spec=[]))
    j.write_text(entries.replace('"TOP"', "__TOP__").replace('"PLAIN"', "__PLAIN__"))
    os.chmod(j, 0o600)
    r = machine(tmp_path, f"""
echo plain > /run/netns/plainfile
sed -i "s/__TOP__/$(stat -L -c %i /proc/self/ns/net)/; s/__PLAIN__/$(stat -c %i /run/netns/plainfile)/" {j}
lab clean > {tmp_path}/clean.out 2>&1 && echo 0 > {tmp_path}/clean.rc || echo $? > {tmp_path}/clean.rc
cat /run/netns/plainfile
""")
    assert r.returncode == 0, r.stdout + r.stderr
    out = (tmp_path / "clean.out").read_text()
    assert victim.read_text() == "keep me\n"
    assert (tmp_path / "clean.rc").read_text().strip() == "1" and "plain" in r.stdout.splitlines()[-1]
    assert out.count("bad namespace name") >= 2 and out.count("bad sysctl key") == 2, out
    assert "bad iptables table" in out and "Traceback" not in out


def test_untrusted_journal_files_and_directories_are_refused(tmp_path):
    target = tmp_path / "target"
    target.write_text("")
    state = tmp_path / "state"
    r = machine(tmp_path, f"""
mount -t tmpfs lab-run /run     # no /run/netns yet: lab makes it
umask 000
echo "ip netns add um" | lab --host run -
stat -c "state %a" {state}
stat -c "netnsdir %a" /run/netns
stat -c "journal %a" {state}/host-journal.jsonl
lab clean > /dev/null
# a symlink at the journal path: refused, the target untouched
ln -s {target} {state}/host-journal.jsonl
echo "ip netns add viasym" | lab --host run - 2>&1 | sed 's/^/symlink-run: /' || true
lab clean 2>&1 | sed 's/^/symlink-clean: /' || true
rm {state}/host-journal.jsonl
# loose permissions
echo "ip netns add loose" | lab --host run -
chmod 666 {state}/host-journal.jsonl
lab clean 2>&1 | sed 's/^/loose-clean: /' || true
echo "ip link add x1 type veth peer name x2" | lab --host run - 2>&1 | sed 's/^/loose-run: /' || true
chmod 600 {state}/host-journal.jsonl
lab clean > /dev/null
# a state directory owned by someone else
chown 65534 {state}
echo "ip netns add other" | lab --host run - 2>&1 | sed 's/^/owner-run: /' || true
ls /run/netns | sed 's/^/left: /'
ip -o link | grep -c ' x1@' | sed 's/^/x1count: /' || true
""")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "state 700" in out and "netnsdir 755" in out and "journal 600" in out, out
    assert target.read_text() == ""
    for tag in ("symlink-run", "symlink-clean"):
        assert any(line.startswith(tag) and "symlink" in line for line in out.splitlines()), (tag, out)
    assert any(line.startswith("loose-clean") and "loose permissions" in line for line in out.splitlines()), out
    assert any(line.startswith("loose-run") and "loose permissions" in line for line in out.splitlines()), out
    assert any(line.startswith("owner-run") and "owned by uid 65534" in line for line in out.splitlines()), out
    left = {line.split()[1] for line in out.splitlines() if line.startswith("left: ")}
    assert "viasym" not in left and "other" not in left, out   # refused before anything was made
    assert "x1count: 0" in out


def test_nf_tables_is_left_exactly_as_before(tmp_path):
    """iptables-nft makes base chains on the way (FORWARD for -P FORWARD, a whole table for the first
    rule): clean removes those too, and only while they are empty and lab's."""
    build = tmp_path / "build.lab"
    build.write_text("""\
iptables -P FORWARD DROP
iptables -A OUTPUT -d 10.9.0.0/16 -j ACCEPT
iptables -t nat -A POSTROUTING -s 10.50.0.0/24 -j MASQUERADE
ip6tables -P FORWARD DROP
iptables -t mangle -N LABM
""")
    r = machine(tmp_path, f"""
iptables -A INPUT -s 10.123.0.0/16 -j ACCEPT
nft list ruleset > {tmp_path}/before.nft
lab --host run {build}
nft list ruleset > {tmp_path}/built.nft
lab clean > {tmp_path}/clean.out 2>&1 && echo 0 > {tmp_path}/clean.rc || echo $? > {tmp_path}/clean.rc
nft list ruleset > {tmp_path}/after.nft
""")
    assert r.returncode == 0, r.stdout + r.stderr
    built = (tmp_path / "built.nft").read_text()
    assert "chain FORWARD" in built and "table ip nat" in built and "table ip6 filter" in built
    assert (tmp_path / "after.nft").read_text() == (tmp_path / "before.nft").read_text(), \
        (tmp_path / "clean.out").read_text()
    assert (tmp_path / "clean.rc").read_text().strip() == "0"


def test_unconfirmed_entries_are_reported_never_guessed(tmp_path):
    """A crash between the journal line and the kernel call leaves a pending entry: clean cannot tell
    lab's object from the machine's by name, so it leaves it, says so, and exits non-zero."""
    state = tmp_path / "state"
    r = machine(tmp_path, f"""
echo "ip netns add labmade" | lab --host run -
ip netns add machines
ip link add machlink type veth peer name machlink-p
printf '{{"id": "p1", "kind": "netns", "name": "machines", "ns": ""}}\\n' >> {state}/host-journal.jsonl
printf '{{"id": "p2", "kind": "link", "name": "machlink", "ns": ""}}\\n' >> {state}/host-journal.jsonl
lab clean > {tmp_path}/clean.out 2>&1 && echo 0 > {tmp_path}/clean.rc || echo $? > {tmp_path}/clean.rc
ls /run/netns | sed 's/^/netns /'
ip -o link | grep -c ' machlink@' | sed 's/^/machlink /'
""")
    assert r.returncode == 0, r.stdout + r.stderr
    out = (tmp_path / "clean.out").read_text()
    assert "netns machines" in r.stdout and "netns labmade" not in r.stdout and "machlink 1" in r.stdout
    assert "deleted namespace labmade" in out
    assert "namespace machines: lab stopped before the kernel confirmed" in out and "link machlink" in out, out
    assert (tmp_path / "clean.rc").read_text().strip() == "1"
