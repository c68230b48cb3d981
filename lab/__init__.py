"""lab: a terminal network lab for Linux networking on the real kernel.

Sub-packages: model (plain data), commands (text -> Op), backend (the kernel),
tracer (scapy + nft trace), scenario (guided labs), ui (Textual).
"""
__version__ = "0.1.0"

import logging as _logging

from lab import _lazy

_lazy.install()      # pyroute2's own __init__ (all of pyroute2) runs only when one of its names is asked for

# internal errors are logged, never printed as tracebacks (set LAB_DEBUG=1 to see them on stderr)
_logging.getLogger("lab").addHandler(_logging.NullHandler())
if __import__("os").environ.get("LAB_DEBUG"):
    _logging.basicConfig(level=_logging.DEBUG)
