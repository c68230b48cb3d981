"""Where the shipped scenarios are (stdlib only, so any layer may ask: the completer offers their names)."""
from __future__ import annotations

import os
from pathlib import Path


def scenarios_dir() -> Path:
    """$LAB_SCENARIOS, the checkout's scenarios/, or the copy an installed wheel carries (lab/_scenarios)."""
    env = os.environ.get("LAB_SCENARIOS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    checkout = here.parent / "scenarios"
    return checkout if checkout.is_dir() else here / "_scenarios"


def shipped() -> list[Path]:
    d = scenarios_dir()
    return sorted(p for p in d.glob("*.yaml") if p.is_file()) if d.is_dir() else []
