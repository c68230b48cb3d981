"""lab: a terminal network lab for Linux networking on the real kernel.

Sub-packages: model (plain data), commands (text -> Op), backend (the kernel),
tracer (scapy + nft trace), scenario (guided labs), ui (Textual).
"""
__version__ = "0.1.0"
