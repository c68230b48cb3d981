"""`lab --host play NAME --check` end to end, on a "machine" that is a private network namespace this
test made (unshare --net --mount, inside the suite's sandbox): the scenario builds on the machine's
namespaces, its checks run, `lab clean` then removes exactly what it built; a check that would probe
an address of the machine itself is refused with the reason, and clean still undoes the build."""
from __future__ import annotations

import subprocess
import sys

from tests import labproc
from tests.test_host import DUMP, sections

DRIVER = r"""
mount -t tmpfs lab-host-play /run/netns
ip link set lo up
ip link add pre0 type veth peer name pre1
__DUMP__dump before
echo "== play"
"$@" --host play "$SCENARIO" --check
echo "== rc $?"
dump built
"$@" clean > /dev/null
dump cleaned
""".replace("__DUMP__", DUMP)


def run_driver(tmp_path, scenario: str) -> tuple[dict[str, set[str]], str]:
    driver = tmp_path / "driver.sh"
    driver.write_text(DRIVER)
    env = labproc.env(LAB_STATE_DIR=str(tmp_path / "state"), SCENARIO=scenario)
    r = subprocess.run(["unshare", "--net", "--mount", "bash", str(driver), sys.executable, "-m", "lab"],
                       capture_output=True, text=True, timeout=180, cwd=labproc.ROOT, env=env)
    return sections(r.stdout), r.stdout + r.stderr


def test_host_play_checks_pass_and_clean_restores(tmp_path):
    s, out = run_driver(tmp_path, "01-veth-basics")
    assert "rc 0" in s, out
    assert "✓" in out and "FAILED" not in out
    assert any(line.startswith("netns ") for line in s["built"]), out
    assert s["built"] != s["before"]
    assert s["cleaned"] == s["before"], f"left: {s['cleaned'] - s['before']}\nremoved: {s['before'] - s['cleaned']}"


def test_host_play_refuses_to_probe_the_machine_and_clean_restores(tmp_path):
    s, out = run_driver(tmp_path, "03-fox-bear")
    assert "rc 0" not in s
    assert "Refusing to probe 192.168.202.1" in out and "without --host" in out
    assert s["cleaned"] == s["before"], f"left: {s['cleaned'] - s['before']}\nremoved: {s['before'] - s['cleaned']}"
