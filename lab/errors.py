"""The one error type a user sees. Its message reads like iproute2's and names the fix."""
from __future__ import annotations


class LabError(Exception):
    """A user-facing error: printed as is, never with a traceback."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


def kernel_says(e) -> str | None:
    """The kernel's extended-ack text of a netlink error, as iproute2 prints it ("Error: TEXT."), or None
    when the kernel gave only an errno."""
    import os

    args: tuple = getattr(e, "args", ())
    msg = args[1] if len(args) > 1 and isinstance(args[1], str) else None
    if not msg or msg == os.strerror(getattr(e, "code", 0) or 0):
        return None
    return f"Error: {msg}" + ("" if msg.endswith(".") else ".")


def closest(word: str, choices, cutoff: float = 0.6, prefixes: bool = True) -> str | None:
    """The choice nearest `word`, or None when nothing is close.

    `cutoff` is difflib's similarity floor; `prefixes` also accepts a choice that `word` starts, or that
    starts `word` (off where a short choice would match too much, e.g. "ip" against "iplnk"). Last, case
    is ignored, so `-j drop` finds "DROP" and `type Bridge` finds "bridge"."""
    import difflib

    choices = sorted(set(choices))
    close = difflib.get_close_matches(word, choices, n=1, cutoff=cutoff)
    if not close and prefixes:
        # prefix / substring heuristics catch veth-animals vs vnet-animals style typos
        close = [c for c in choices if c.startswith(word) or word.startswith(c)][:1]
    if not close and word:
        lower = {c.lower(): c for c in reversed(choices)}
        near = difflib.get_close_matches(word.lower(), list(lower), n=1, cutoff=cutoff)
        close = [lower[near[0]]] if near else []
    return close[0] if close else None


def did_you_mean(word: str, choices, cutoff: float = 0.6, prefixes: bool = True, shown: str = "{}") -> str:
    """A ` — did you mean "x"?` suffix, or '' when nothing is close (see closest). `shown` places the
    choice in what is suggested: "ip {}" says `did you mean "ip link"?`."""
    near = closest(word, choices, cutoff, prefixes)
    return f' — did you mean "{shown.format(near)}"?' if near else ""
