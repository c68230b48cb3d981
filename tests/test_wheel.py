"""What users install is the wheel: it must carry the shipped scenarios, themes and the dashboard's
stylesheet (lab._scenarios, lab._themes, lab/ui/app.tcss), which the checkout keeps at the top level."""
from __future__ import annotations

import subprocess
import sys
import zipfile

from tests import labproc


def test_the_wheel_carries_scenarios_themes_and_styles(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                        str(tmp_path), labproc.ROOT], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    wheel = next(tmp_path.glob("lab-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "lab/ui/app.tcss" in names
    assert {"lab/_themes/dark.toml", "lab/_themes/projector.toml"} <= names
    shipped = {n for n in names if n.startswith("lab/_scenarios/") and n.endswith(".yaml")}
    assert len(shipped) >= 14 and "lab/_scenarios/03-fox-bear.yaml" in shipped
