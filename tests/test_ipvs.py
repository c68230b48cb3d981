"""ipvsadm (IP Virtual Server) through lab's engine, against the real ipvsadm.

IPVS needs the ip_vs module (missing on this machine's kernel: lab says so as ipvsadm does) and, for its netlink
commands, CAP_NET_ADMIN in the machine's initial user namespace (lab's rootless sandbox is a user namespace:
lab says that too, with the way out). tests/vm/run's second pass runs these as the stock-kernel VM's own root
without a user namespace (LAB_TEST_ROOT_SANDBOX=1): there lab and the real ipvsadm build the same services
in twin namespaces, list them byte for byte alike and refuse the same mistakes with the same words.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from lab.backend import nsutil
from tests.conftest import kernel

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
