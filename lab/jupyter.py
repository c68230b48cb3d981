"""The jupyter-server-proxy entry point: on JupyterHub (Zero to JupyterHub on Kubernetes included, where
KubeSpawner gives each user a pod), every user gets a "Network lab" launcher that starts their own
`lab serve` with one seat, proxied under /user/NAME/network-lab/ (jupyter's own login protects it; lab serve
listens on localhost only). Registered in pyproject.toml under [project.entry-points.jupyter_serverproxy_servers].
"""
from __future__ import annotations

import sys


def setup_network_lab() -> dict:
    return {
        "command": [sys.executable, "-m", "lab", "serve", "--port", "{port}", "--seats", "1"],
        "timeout": 60,
        "absolute_url": False,
        "new_browser_tab": True,
        "launcher_entry": {"enabled": True, "title": "Network lab"},
    }
