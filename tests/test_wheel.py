"""What users install is the wheel: it must carry the shipped scenarios, themes and the dashboard's
stylesheet (lab._scenarios, lab._themes, lab/ui/app.tcss), which the checkout keeps at the top level."""
from __future__ import annotations

import os
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


INSTALLED_PILOT = r'''
import asyncio
import sys

import lab
assert lab.__file__.startswith(sys.argv[1]), lab.__file__
from lab.ui.themes import available_themes, load_theme
assert set(available_themes()) >= {"dark", "light", "projector"}, available_themes()
for name in available_themes():
    load_theme(name)
from lab.backend import sandbox
sandbox.enter_sandbox()
from lab.backend.core import Backend
from lab.engine import Engine
from lab.ui.app import make_app

async def main():
    app = make_app(Engine(Backend()), period=3600)
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(200):
            await pilot.pause(0.05)
            if getattr(app, "view", None) is not None and app.view.loaded:
                break
        assert app.view.loaded
        await pilot.press("f3")
        await pilot.pause(0.2)
        print("PILOT-OK", type(app).__name__)

asyncio.run(main())
'''


def test_the_installed_wheel_runs_outside_the_checkout(tmp_path):
    """pip install of the wheel (not editable) into a directory outside the checkout, then, from another
    directory: lab play --list, lab play fox-bear --check, every theme, and the dashboard under Pilot."""
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "w"),
                        labproc.ROOT], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    wheel = next((tmp_path / "w").glob("lab-*.whl"))
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}    # the installed lab first; its dependencies from this venv

    def lab(*argv, timeout=300):
        return subprocess.run([sys.executable, "-m", "lab", *argv], cwd=elsewhere, env=env, capture_output=True,
                              text=True, timeout=timeout)

    where = subprocess.run([sys.executable, "-c", "import lab; print(lab.__file__)"], cwd=elsewhere, env=env,
                           capture_output=True, text=True)
    assert where.stdout.startswith(str(target)), where.stdout            # not the checkout
    r = lab("play", "--list")
    assert r.returncode == 0 and "fox-bear" in r.stdout, r.stdout + r.stderr
    r = lab("play", "fox-bear", "--check")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    r = subprocess.run([sys.executable, "-c", INSTALLED_PILOT, str(target)], cwd=elsewhere, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "PILOT-OK" in r.stdout, r.stdout[-2000:] + r.stderr[-3000:]
