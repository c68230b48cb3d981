"""tc on the real kernel: every change made through lab is read back independently with the real `tc`,
in throwaway namespaces. Traffic flows only between namespaces the test creates."""
from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from lab.backend import nsutil
from tests.conftest import kernel, kernel_json, run_ok

RED, BLUE = "10.77.0.1", "10.77.0.2"


def tcj(ns, *argv: str):
    return json.loads(kernel(ns, "tc", "-j", *argv) or "[]")


def root_qdisc(ns, dev: str) -> dict:
    return next(q for q in tcj(ns, "qdisc", "show", "dev", dev) if q.get("root"))


def veth(lab) -> None:
    """veth0 <-> veth1 in the top namespace, both up."""
    run_ok(lab, "ip link add veth0 type veth peer name veth1", "ip link set veth0 up", "ip link set veth1 up")


def two_namespaces(lab) -> None:
    """red (veth-red, 10.77.0.1) <-> blue (veth-blue, 10.77.0.2)."""
    run_ok(lab, "ip netns add red", "ip netns add blue",
           "ip link add veth-red type veth peer name veth-blue",
           "ip link set veth-red netns red", "ip link set veth-blue netns blue",
           f"ip -n red addr add {RED}/24 dev veth-red", f"ip -n blue addr add {BLUE}/24 dev veth-blue",
           "ip -n red link set veth-red up", "ip -n blue link set veth-blue up",
           "ip -n red link set lo up", "ip -n blue link set lo up")


def test_tbf_on_a_veth_changes_the_qdisc(lab):
    veth(lab)
    assert root_qdisc(None, "veth0")["kind"] == "noqueue"
    run_ok(lab, "tc qdisc add dev veth0 root tbf rate 1mbit burst 32kbit latency 400ms")
    q = root_qdisc(None, "veth0")
    assert q["kind"] == "tbf"
    assert q["options"]["rate"] == 125000 and q["options"]["burst"] == 4096 and q["options"]["lat"] == 400000
    out = run_ok(lab, "tc qdisc show dev veth0")[0]
    assert out.startswith("qdisc tbf ") and " root refcnt " in out
    assert "rate 1Mbit burst 4Kb lat 400ms" in out
    # and our text equals the real tool's
    assert out.strip() == kernel(None, "tc", "qdisc", "show", "dev", "veth0").strip()


def test_tbf_with_limit_and_peakrate_reads_back(lab):
    veth(lab)
    run_ok(lab, "tc qdisc add dev veth0 root tbf rate 1500kbit burst 10kb limit 3000 peakrate 2mbit mtu 1600")
    real = kernel(None, "tc", "qdisc", "show", "dev", "veth0").strip()
    assert "rate 1500Kbit burst 10Kb peakrate 2Mbit minburst 1600b lat 5.6ms" in real
    assert run_ok(lab, "tc qd sh dev veth0")[0].strip() == real


def test_replace_change_and_del(lab):
    veth(lab)
    run_ok(lab, "tc qdisc add dev veth0 root tbf rate 1mbit burst 32k latency 50ms")
    r = lab.run("tc qdisc add dev veth0 root tbf rate 2mbit burst 32k latency 50ms")   # the same kind again
    assert not r.ok and "Exclusivity flag on" in r.error and "replace" in r.error
    run_ok(lab, "tc qdisc replace dev veth0 root handle 1: pfifo limit 10")
    q = root_qdisc(None, "veth0")
    assert (q["kind"], q["handle"], q["options"]["limit"]) == ("pfifo", "1:", 10)
    run_ok(lab, "tc qdisc change dev veth0 root pfifo limit 20")
    assert root_qdisc(None, "veth0")["options"]["limit"] == 20
    r = lab.run("tc qdisc change dev veth0 root bfifo limit 20")
    assert not r.ok and "Invalid qdisc name" in r.error
    run_ok(lab, "tc qdisc del dev veth0 root")
    assert root_qdisc(None, "veth0")["kind"] == "noqueue"
    r = lab.run("tc qdisc del dev veth0 root")
    assert not r.ok and "Cannot delete qdisc with handle of zero" in r.error
    r = lab.run("tc qdisc change dev veth0 root pfifo limit 5")
    assert not r.ok and "Qdisc not found" in r.error


def test_htb_classes_and_u32_filter(lab):
    veth(lab)
    run_ok(lab, "tc qdisc add dev veth0 root handle 1: htb default 20",
           "tc class add dev veth0 parent 1: classid 1:1 htb rate 10mbit",
           "tc class add dev veth0 parent 1:1 classid 1:10 htb rate 1mbit ceil 2mbit prio 1",
           "tc class add dev veth0 parent 1:1 classid 1:20 htb rate 5mbit",
           "tc qdisc add dev veth0 parent 1:10 handle 10: bfifo limit 10000",
           "tc filter add dev veth0 parent 1: protocol ip prio 1 u32 match ip dst 10.0.0.2/32 "
           "match ip dport 80 0xffff match ip protocol 6 0xff flowid 1:10")
    qs = {q["handle"]: q for q in tcj(None, "qdisc", "show", "dev", "veth0")}
    assert qs["1:"]["kind"] == "htb" and qs["1:"]["options"]["default"] == "0x20"
    assert qs["10:"]["kind"] == "bfifo" and qs["10:"]["parent"] == "1:10" and qs["10:"]["options"]["limit"] == 10000
    classes = kernel(None, "tc", "class", "show", "dev", "veth0")
    assert "class htb 1:10 parent 1:1 leaf 10: prio 1 rate 1Mbit ceil 2Mbit" in classes
    assert "class htb 1:20 parent 1:1 prio 0 rate 5Mbit ceil 5Mbit" in classes
    assert "class htb 1:1 root rate 10Mbit ceil 10Mbit" in classes
    filters = tcj(None, "filter", "show", "dev", "veth0")
    leaf = next(f for f in filters if f.get("options", {}).get("flowid"))
    assert leaf["protocol"] == "ip" and leaf["pref"] == 1 and leaf["kind"] == "u32"
    assert leaf["options"]["flowid"] == "1:10"
    real_text = kernel(None, "tc", "filter", "show", "dev", "veth0")
    for m in ("match 0a000002/ffffffff at 16", "match 00000050/0000ffff at 20", "match 00060000/00ff0000 at 8"):
        assert m in real_text
    # lab prints the same as tc
    assert run_ok(lab, "tc filter show dev veth0")[0].strip() == real_text.strip()
    assert run_ok(lab, "tc class show dev veth0")[0].strip() == classes.strip()
    # delete the filter, then a class
    run_ok(lab, "tc filter del dev veth0 parent 1: prio 1")
    assert kernel(None, "tc", "filter", "show", "dev", "veth0").strip() == ""
    run_ok(lab, "tc class del dev veth0 classid 1:20")
    assert "1:20" not in kernel(None, "tc", "class", "show", "dev", "veth0")


def test_class_and_filter_need_their_parents(lab):
    veth(lab)
    r = lab.run("tc class add dev veth0 parent 1: classid 1:10 htb rate 1mbit")
    assert not r.ok and "Parent Qdisc doesn't exists" in r.error and "htb" in r.error
    run_ok(lab, "tc qdisc add dev veth0 root handle 1: htb")
    r = lab.run("tc qdisc add dev veth0 parent 1:30 handle 30: pfifo")
    assert not r.ok and "no class 1:30" in r.error
    r = lab.run("tc filter add dev veth0 parent 2: protocol ip prio 1 u32 match ip src 1.2.3.4 flowid 1:1")
    assert not r.ok and "no qdisc 2:" in r.error
    r = lab.run("tc qdisc add dev nosuch root pfifo")
    assert not r.ok and 'Cannot find device "nosuch"' in r.error
    # nothing was applied by the failures
    assert [q["kind"] for q in tcj(None, "qdisc", "show", "dev", "veth0")] == ["htb"]


def test_ingress_qdisc_and_filter(lab):
    veth(lab)
    run_ok(lab, "tc qdisc add dev veth0 ingress")
    ing = [q for q in tcj(None, "qdisc", "show", "dev", "veth0") if q["kind"] == "ingress"]
    assert ing and ing[0]["handle"] == "ffff:" and ing[0]["parent"] == "ffff:fff1"
    assert "qdisc ingress ffff: parent ffff:fff1 ----------------" in run_ok(lab, "tc qdisc show dev veth0")[0]
    run_ok(lab, "tc filter add dev veth0 parent ffff: protocol ip prio 1 u32 match ip sport 22 0xffff flowid 1:1")
    assert "match 00160000/ffff0000 at 20" in kernel(None, "tc", "filter", "show", "dev", "veth0", "ingress")
    r = lab.run("tc qdisc add dev veth0 ingress")
    assert not r.ok and "Exclusivity" in r.error
    run_ok(lab, "tc qdisc del dev veth0 ingress")
    assert not [q for q in tcj(None, "qdisc", "show", "dev", "veth0") if q["kind"] == "ingress"]


def test_u32_mirred_redirect_action(lab):
    veth(lab)
    run_ok(lab, "ip link add veth2 type veth peer name veth3", "tc qdisc add dev veth0 ingress",
           "tc filter add dev veth0 parent ffff: protocol ip prio 1 u32 match ip dst 10.0.0.0/8 "
           "action mirred egress redirect dev veth2")
    f = next(f for f in tcj(None, "filter", "show", "dev", "veth0", "ingress") if "actions" in f.get("options", {}))
    act = f["options"]["actions"][0]
    assert (act["kind"], act["mirred_action"], act["direction"], act["to_dev"]) == ("mirred", "redirect", "egress", "veth2")
    assert "mirred (Egress Redirect to device veth2) stolen" in run_ok(lab, "tc filter show dev veth0 ingress")[0]


def test_stats_move_after_traffic(lab):
    two_namespaces(lab)
    run_ok(lab, "tc -n red qdisc add dev veth-red root tbf rate 10mbit burst 32k latency 50ms")
    before = root_qdisc("red", "veth-red")
    assert lab.run(f"red ping -c 3 -i 0.2 -W 2 {BLUE}").ok
    after = json.loads(kernel("red", "tc", "-s", "-j", "qdisc", "show", "dev", "veth-red"))
    tbf = next(q for q in after if q["kind"] == "tbf")
    assert tbf["packets"] >= 3 and tbf["bytes"] >= 3 * 98
    assert before["handle"] == tbf["handle"]
    out = run_ok(lab, "red tc -s qdisc show dev veth-red")[0]
    sent = [line for line in out.splitlines() if line.startswith(" Sent ")]
    assert sent and int(sent[0].split()[1]) >= 3 * 98 and "backlog" in out
    # the snapshot extra carries the same statistics
    st = next(n for n in lab.backend.snapshot(["red"]).namespaces if n.name == "red")
    q = next(q for q in st.qdiscs if q.kind == "tbf")
    assert q.dev == "veth-red" and q.parent == "root" and q.sent_packets >= 3 and "rate 10Mbit" in q.params


def _throughput(seconds: float = 1.2) -> int:
    """Bytes blue received from red over TCP in `seconds` (both namespaces made by the test)."""
    with nsutil.in_netns("blue"):
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((BLUE, 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    got = [0]

    def serve():
        conn, _ = srv.accept()
        conn.settimeout(0.1)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data = conn.recv(1 << 16)
            except socket.timeout:
                continue
            if not data:
                break
            got[0] += len(data)
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    with nsutil.in_netns("red"):
        cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    cli.settimeout(10)            # the handshake waits for ARP: generous on a busy machine
    cli.connect((BLUE, port))
    cli.settimeout(0.2)
    buf = b"x" * 65536
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            cli.send(buf)
        except socket.timeout:
            continue
        except OSError:
            break
    t.join(5)
    cli.close()
    srv.close()
    return got[0]


def test_tbf_rate_measurably_limits_throughput(lab):
    two_namespaces(lab)
    free = _throughput()
    run_ok(lab, "red tc qdisc add dev veth-red root tbf rate 1mbit burst 32k latency 50ms")
    shaped = _throughput()
    # 1 Mbit/s for ~1.2 s is ~150 KB (+ a 32 KB burst); unshaped veth moves far more
    print("throughput bytes free/shaped:", free, shaped)
    assert 30_000 < shaped < 400_000, shaped
    assert free > 10 * shaped, (free, shaped)


def _lab_error_or_skip_if_supported(lab, line: str, kind: str) -> str:
    r = lab.run(line)
    if r.ok:
        pytest.skip(f"this kernel has {kind}: the missing-kernel message cannot be shown here")
    return r.error


def test_missing_netem_is_explained(lab):
    veth(lab)
    err = _lab_error_or_skip_if_supported(lab, "tc qdisc add dev veth0 root netem delay 10ms", "netem")
    assert err.startswith("Error: Specified qdisc kind is unknown. (this kernel has no netem support: "
                          "sch_netem is not built)")
    assert "CONFIG_NET_SCH_NETEM" in err and "tbf, htb" in err
    assert root_qdisc(None, "veth0")["kind"] == "noqueue"


def test_missing_fq_codel_and_flower_are_explained(lab):
    veth(lab)
    err = _lab_error_or_skip_if_supported(lab, "tc qdisc replace dev veth0 root fq_codel", "fq_codel")
    assert "this kernel has no fq_codel support: sch_fq_codel is not built" in err
    run_ok(lab, "tc qdisc add dev veth0 root handle 1: htb")
    err = _lab_error_or_skip_if_supported(
        lab, "tc filter add dev veth0 parent 1: protocol ip prio 1 flower ip_proto tcp dst_port 80 classid 1:1", "flower")
    assert "TC classifier not found. (this kernel has no flower support: cls_flower is not built)" in err


def _kernel_has(ns, dev: str, kind: str) -> bool:
    with nsutil.in_netns(ns):
        import subprocess

        r = subprocess.run(["tc", "qdisc", "replace", "dev", dev, "root", kind], capture_output=True, text=True)
        subprocess.run(["tc", "qdisc", "del", "dev", dev, "root"], capture_output=True, text=True)
    return r.returncode == 0


def test_netem_delay_when_the_kernel_has_it(lab):
    two_namespaces(lab)
    if not _kernel_has("red", "veth-red", "netem"):
        pytest.skip("this kernel has no netem (sch_netem is not built); see test_missing_netem_is_explained")
    run_ok(lab, "red tc qdisc add dev veth-red root netem delay 100ms")
    q = root_qdisc("red", "veth-red")
    assert q["kind"] == "netem"
    start = time.monotonic()
    assert lab.run(f"red ping -c 1 -W 3 {BLUE}").ok
    assert time.monotonic() - start >= 0.1


def test_qdiscs_in_snapshot_and_undo(lab):
    from lab.backend import tc as tcb

    veth(lab)
    run_ok(lab, "tc qdisc add dev veth0 root handle 5: htb default 1")
    st = lab.backend.snapshot([None]).namespaces[0]
    q = next(q for q in st.qdiscs if q.dev == "veth0")
    assert (q.kind, q.handle, q.parent) == ("htb", "5:", "root") and "default 0x1" in q.params
    tcb.undo_qdisc(lab.backend, {"ns": "", "dev": "veth0", "parent": "root", "handle": "5:"})
    assert root_qdisc(None, "veth0")["kind"] == "noqueue"


def test_json_output_matches_the_real_tool(lab):
    veth(lab)
    run_ok(lab, "tc qdisc add dev veth0 root tbf rate 2mbit burst 16k latency 20ms")
    mine = json.loads(run_ok(lab, "tc -j qdisc show dev veth0")[0])
    real = tcj(None, "qdisc", "show", "dev", "veth0")
    assert [(q["kind"], q["handle"], q["options"]) for q in mine] == [(q["kind"], q["handle"], q["options"]) for q in real]


def test_host_mode_journals_qdiscs_and_clean_removes_them(fresh_top, tmp_path):
    """--host on the test's own (sandboxed) top namespace: the qdisc is journaled before it is added and
    `lab clean` removes exactly it, leaving the pre-existing device alone."""
    from lab.backend.clean import clean
    from lab.backend.core import Backend
    from lab.backend.journal import Journal
    from lab.engine import Engine

    kernel(None, "ip", "link", "add", "pre0", "type", "veth", "peer", "name", "pre1")
    journal = Journal(str(tmp_path / "journal.jsonl"))
    b = Backend(host=True, journal=journal)
    try:
        run_ok(Engine(b), "tc qdisc add dev pre0 root handle 1: htb default 10",
               "tc qdisc add dev pre1 ingress")
    finally:
        b.close()
    entries = [e for _, e in journal.live("qdisc")]
    assert {(e["dev"], e["parent"], e["handle"]) for e in entries} == {("pre0", "root", "1:"),
                                                                       ("pre1", "ingress", "ffff:")}
    assert "removed qdisc on pre0" in str(clean(journal))
    assert not [q for q in tcj(None, "qdisc", "show", "dev", "pre0") if q["kind"] == "htb"]
    assert not [q for q in tcj(None, "qdisc", "show", "dev", "pre1") if q["kind"] == "ingress"]
    assert kernel_json(None, "link", "show", "pre0")
