"""pyroute2's package __init__ imports all of pyroute2 (NDB, IPDB, conntrack, wireless, plan9...): about a
quarter of a second, paid by every `lab` command that merely catches its NetlinkError. Installed from
lab/__init__.py before anything imports pyroute2: `pyroute2` is registered as the real package (same spec,
same __path__) whose body runs only when one of its own names is first asked for (`from pyroute2 import
IPRoute`, `pyroute2.NDB`). Its submodules (`pyroute2.netlink.exceptions`, `pyroute2.netlink.rtnl...`) import as
usual meanwhile, since the import system needs only the package's __path__. Nothing else changes: once a name
is asked for, the package is exactly what `import pyroute2` makes.
"""
from __future__ import annotations

import importlib.util
import sys
import threading


def install(name: str = "pyroute2") -> None:
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or spec.loader is None:
        return
    loader = spec.loader
    module = importlib.util.module_from_spec(spec)
    lock = threading.RLock()
    state = {"loading": False, "done": False}

    def __getattr__(attr: str):
        if attr == "__wrapped__":      # probed by inspect and pytest: not a reason to load all of pyroute2
            raise AttributeError(attr)
        if not state["done"] and importlib.util.find_spec(f"{name}.{attr}") is not None:
            # `from pyroute2 import protocols` inside a pyroute2 submodule: that submodule, as an import would
            # give it (running the package body here would re-enter the submodule being imported)
            return importlib.import_module(f"{name}.{attr}")
        with lock:
            if not state["done"] and not state["loading"]:
                state["loading"] = True
                try:
                    del module.__dict__["__getattr__"]
                    loader.exec_module(module)      # the package's own body, in its own module object
                    state["done"] = True
                finally:
                    state["loading"] = False
        try:
            return module.__dict__[attr]
        except KeyError:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}") from None

    setattr(module, "__getattr__", __getattr__)   # noqa: B010 - a module-level __getattr__ (PEP 562)
    sys.modules[name] = module
