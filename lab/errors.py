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


def did_you_mean(word: str, choices) -> str:
    """A ` — did you mean "x"?` suffix, or '' when nothing is close."""
    import difflib

    choices = sorted(set(choices))
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        # prefix / substring heuristics catch veth-animals vs vnet-animals style typos
        close = [c for c in choices if c.startswith(word) or word.startswith(c)][:1]
    return f' — did you mean "{close[0]}"?' if close else ""
